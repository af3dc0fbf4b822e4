/**
 * Decisions reach the audit trail (spec/service-v1.md §8.2): the HTTP guard, the MCP guard and
 * `mandate verify` report theirs through `createDecisionReporter`, as a registered verifier; the
 * log then holds the chain Alice → assistant, the action, the decision and the approvals that
 * counted. A report that cannot be delivered never changes a decision: it is
 * `ERR_AUDIT_UNAVAILABLE` to the reporter's error handler.
 */
import { writeFileSync } from 'node:fs'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createHttpGuard, createMandateFetch } from '../../src/http.js'
import {
  approve,
  createDecisionReporter,
  createMemoryReplayCache,
  createMemoryUsageStore,
  createVerifier,
  exportSecretKeyPem,
  formatApproval,
  formatInvocation,
  formatMandate,
  generateKeyPair,
  invoke,
  MandateError,
  mint,
  toDidKey,
} from '../../src/index.js'
import { createToolGuard } from '../../src/mcp/guard.js'
import type { AuditEntry } from '../../src/service/audit.js'
import type { RunningService } from '../../src/service/server.js'
import { mandate, scratch } from '../helpers/cli.js'
import { http, startServer, startServiceIn } from '../helpers/service.js'
import { alice, assistant, grant } from '../http/fixture.js'
import { startHono } from '../http/servers.js'

const mailVerifier = generateKeyPair()
const toolsVerifier = generateKeyPair()
const auditor = generateKeyPair()
const ALICE = toDidKey(alice.publicKey)

let service: RunningService
beforeAll(async () => {
  const dir = scratch()
  service = await startServiceIn(dir, {
    trust: {
      roots: [{ name: 'alice', key: ALICE }],
      verifiers: [
        { name: 'mail', key: toDidKey(mailVerifier.publicKey) },
        { name: 'tools', key: toDidKey(toolsVerifier.publicKey) },
      ],
    },
    auditors: [{ name: 'audit', key: toDidKey(auditor.publicKey) }],
  })
})
afterAll(() => service?.close())

/** The decision records of the log after record `since`. */
async function decisions(since = 0): Promise<AuditEntry[]> {
  const page = await http(`${service.url}/v1/audit?since=${since}&limit=1000`, { key: auditor })
  expect(page.status).toBe(200)
  return (page.json['records'] as AuditEntry[]).filter((r) => r.type === 'decision')
}
const head = async () => ((await http(`${service.url}/v1/audit?limit=1000`, { key: auditor })).json['records'] as AuditEntry[]).length

const verifierOf = (audience: string) =>
  createVerifier({
    roots: [{ key: ALICE, name: 'alice' }],
    audience,
    revocations: 'none',
    usage: createMemoryUsageStore(),
    replay: createMemoryReplayCache(),
  })

describe('the HTTP guard reports its decisions', () => {
  it('approval required, then allowed with Alice’s approval: both in the log, with the chain and the approval', async () => {
    const since = await head()
    const errors: MandateError[] = []
    const reporter = createDecisionReporter({ url: service.url, key: mailVerifier, onError: (e) => errors.push(e) })
    const guard = createHttpGuard({ verifier: verifierOf('mail'), reporter })
    const api = await startHono(guard, [])
    try {
      const call = createMandateFetch({ mandate: formatMandate(grant), key: assistant, audience: 'mail' })
      const first = await call(`${api.url}/mailboxes/alice/messages/7`, {
        method: 'DELETE',
        mandate: { action: 'email:delete', resource: 'mailbox/alice/7', intent: 'delete the phishing mail' },
      })
      expect(first.status).toBe(403)
      await reporter.flush()
      const [denied] = await decisions(since)
      expect(denied).toMatchObject({
        decision: 'deny',
        code: 'ERR_APPROVAL_REQUIRED',
        verifier: { name: 'mail', key: toDidKey(mailVerifier.publicKey) },
        principal: ALICE,
        chain: [{ block: 0, key: toDidKey(assistant.publicKey), name: 'assistant' }],
        action: 'email:delete',
        resource: 'mailbox/alice/7',
        intent: 'delete the phishing mail',
        approvals: [],
      })
      // A read it may do: allowed, and in the log after the denial.
      const read = await call(`${api.url}/mailboxes/alice/messages`, {
        method: 'GET',
        mandate: { action: 'email:read', resource: 'mailbox/alice' },
      })
      expect(read.status).toBe(200)
      await reporter.flush()
      const both = await decisions(since)
      expect(both.map((r) => [r['decision'], r['action'], r['code'] ?? null])).toEqual([
        ['deny', 'email:delete', 'ERR_APPROVAL_REQUIRED'],
        ['allow', 'email:read', null],
      ])
      expect(errors).toEqual([])
    } finally {
      await api.close()
    }
  })
})

describe('the MCP guard reports its decisions', () => {
  it('allowed and denied tool calls, as the registered verifier of the guarded server', async () => {
    const since = await head()
    const tools = mint({
      principal: alice,
      to: toDidKey(assistant.publicKey),
      name: 'assistant',
      caveats: [
        { type: 'actions', patterns: ['mcp:tools:echo'] },
        { type: 'window', expires: Math.floor(Date.now() / 1000) + 600 },
      ],
    })
    const reporter = createDecisionReporter({ url: service.url, key: toolsVerifier })
    const guard = createToolGuard({ mandate: tools, key: assistant, verifier: verifierOf('tools'), reporter })
    expect((await guard.authorizeCall('echo', { message: 'hi' })).allowed).toBe(true)
    expect((await guard.authorizeCall('delete_everything', {})).allowed).toBe(false)
    await reporter.flush()
    const records = await decisions(since)
    expect(records.map((r) => [r['action'], r['decision'], r['code'] ?? null, (r['verifier'] as { name: string }).name])).toEqual([
      ['mcp:tools:echo', 'allow', null, 'tools'],
      ['mcp:tools:delete_everything', 'deny', 'ERR_ACTION_DENIED', 'tools'],
    ])
    expect(records[0]?.['argsDigest']).toMatch(/^sha-256:[0-9a-f]{64}$/)
  })
})

describe('createDecisionReporter', () => {
  const grantOf = () =>
    mint({
      principal: alice,
      to: toDidKey(assistant.publicKey),
      caveats: [
        { type: 'actions', patterns: ['email:*'] },
        { type: 'approval', actions: ['email:send'], approvers: [ALICE], quorum: 1 },
        { type: 'window', expires: Math.floor(Date.now() / 1000) + 600 },
      ],
    })

  it('sends only the approvals that counted, one per approver; a bearer decision is not reported', async () => {
    const since = await head()
    const m = grantOf()
    const inv = invoke(m, { key: assistant, action: 'email:send', audience: 'mail' })
    const ok = formatApproval(approve({ approver: alice, invocation: inv }))
    const stray = formatApproval(approve({ approver: generateKeyPair(), invocation: inv }))
    const verifier = verifierOf('mail')
    const decision = await verifier.authorize({ invocation: inv, approvals: [ok] })
    expect(decision.allowed).toBe(true)
    const reporter = createDecisionReporter({ url: service.url, key: mailVerifier })
    reporter.report(decision, { invocation: inv, approvals: [ok, stray, ok, 'mna1_garbage'] })
    const bearer = mint({
      principal: alice,
      caveats: [
        { type: 'actions', patterns: ['email:read'] },
        { type: 'window', expires: Math.floor(Date.now() / 1000) + 600 },
      ],
    })
    const bare = await verifierOf('mail').authorize({ token: formatMandate(bearer), request: { action: 'email:read' } })
    reporter.report(bare, { invocation: inv })
    await reporter.flush()
    // Given with an invocation of its own, never reported: still not reported.
    reporter.report(bare, { invocation: invoke(grantOf(), { key: assistant, action: 'email:read', audience: 'mail' }) })
    await reporter.flush()
    const records = await decisions(since)
    expect(records).toHaveLength(1)
    expect(records[0]).toMatchObject({ decision: 'allow', invocation: inv.idHex, approvals: [ALICE] })
  })

  it('approvals given parsed count as their texts do; a base URL with trailing slashes is the same service', async () => {
    const since = await head()
    const inv = invoke(grantOf(), { key: assistant, action: 'email:send', audience: 'mail' })
    const approval = approve({ approver: alice, invocation: inv })
    const decision = await verifierOf('mail').authorize({ invocation: inv, approvals: [approval] })
    expect(decision.allowed).toBe(true)
    const errors: MandateError[] = []
    const reporter = createDecisionReporter({ url: `${service.url}//`, key: mailVerifier, onError: (e) => errors.push(e) })
    reporter.report(decision, { invocation: formatInvocation(inv), approvals: [approval] })
    await reporter.flush()
    expect(errors).toEqual([])
    const records = await decisions(since)
    expect(records.map((r) => [r['invocation'], r['decision'], r['approvals']])).toEqual([[inv.idHex, 'allow', [ALICE]]])
  })

  it('a service answering 503 is asked three times in all by default, then ERR_AUDIT_UNAVAILABLE with the reason and the hint', async () => {
    let asked = 0
    const busy = createServer((req, res) => {
      asked++
      req.resume()
      res.writeHead(503, { 'content-type': 'application/json' })
      res.end(JSON.stringify({ error: { code: 'ERR_STORAGE_UNAVAILABLE', message: 'disk full' } }))
    })
    await new Promise<void>((done) => busy.listen(0, '127.0.0.1', done))
    try {
      const inv = invoke(grantOf(), { key: assistant, action: 'email:read', audience: 'mail' })
      const decision = await verifierOf('mail').authorize({ invocation: inv })
      const errors: MandateError[] = []
      const url = `http://127.0.0.1:${(busy.address() as AddressInfo).port}`
      const reporter = createDecisionReporter({ url, key: mailVerifier, onError: (e) => errors.push(e) })
      reporter.report(decision, { invocation: inv })
      await reporter.flush()
      expect(asked).toBe(3)
      expect(errors.map((e) => [e.code, e.message, e.hint])).toEqual([
        [
          'ERR_AUDIT_UNAVAILABLE',
          'the audit trail answered 503: ERR_STORAGE_UNAVAILABLE disk full',
          'the decision stands; its report is missing from the service’s audit trail',
        ],
      ])
    } finally {
      await new Promise((done) => busy.close(done))
    }
  })

  it('a key pair spoiled after the reporter was made: the report is lost to onError as ERR_AUDIT_UNAVAILABLE, never thrown', async () => {
    const inv = invoke(grantOf(), { key: assistant, action: 'email:read', audience: 'mail' })
    const decision = await verifierOf('mail').authorize({ invocation: inv })
    const key = { ...mailVerifier }
    const errors: MandateError[] = []
    const reporter = createDecisionReporter({ url: service.url, key, onError: (e) => errors.push(e) })
    key.publicKey = generateKeyPair().publicKey
    expect(() => reporter.report(decision, { invocation: inv })).not.toThrow()
    await reporter.flush()
    expect(errors.map((e) => [e instanceof MandateError, e.code, e.message, (e.cause as Error).message])).toEqual([
      [true, 'ERR_AUDIT_UNAVAILABLE', 'the audit trail failed', '"key" publicKey does not match its secretKey'],
    ])
  })

  it('refuses options it cannot work with, naming them', () => {
    const make = (o: Record<string, unknown>) => () => createDecisionReporter({ url: service.url, key: mailVerifier, ...o })
    expect(make({ maxQueue: 0 })).toThrow(new RangeError('"maxQueue" expected a whole number from 1 to 1000000, got 0'))
    expect(make({ maxQueue: 1.5 })).toThrow(new RangeError('"maxQueue" expected a whole number from 1 to 1000000, got 1.5'))
    expect(make({ maxQueue: '10' })).toThrow(new TypeError('"maxQueue" expected a whole number, got string'))
    expect(make({ retries: -1 })).toThrow(new RangeError('"retries" expected a whole number from 0 to 4, got -1'))
    expect(make({ retries: Number.NaN })).toThrow(new RangeError('"retries" expected a whole number from 0 to 4, got NaN'))
    expect(make({ timeoutMs: -1 })).toThrow(
      new RangeError('"timeoutMs" expected a positive number of milliseconds (at most 2147483647), got -1'),
    )
    expect(() => createDecisionReporter({ url: service.url } as never)).toThrow(
      new TypeError('"key" expected the verifier\'s key pair (registered with the service)'),
    )
    expect(make({ retries: 0, maxQueue: 1_000_000 })).not.toThrow()
  })

  it('an unreachable or refusing service, or a full queue: ERR_AUDIT_UNAVAILABLE to onError, the decision untouched', async () => {
    const m = grantOf()
    const inv = invoke(m, { key: assistant, action: 'email:read', audience: 'mail' })
    const decision = await verifierOf('mail').authorize({ invocation: inv })
    const errors: MandateError[] = []
    const down = createDecisionReporter({ url: 'http://127.0.0.1:1', key: mailVerifier, retries: 0, onError: (e) => errors.push(e) })
    down.report(decision, { invocation: inv })
    await down.flush()
    expect(errors.map((e) => e.code)).toEqual(['ERR_AUDIT_UNAVAILABLE'])
    expect(errors[0]?.message).toContain('127.0.0.1:1')
    // A key the service does not know: refused, told.
    const stranger = createDecisionReporter({ url: service.url, key: generateKeyPair(), onError: (e) => errors.push(e) })
    stranger.report(decision, { invocation: inv })
    await stranger.flush()
    expect(errors[1]).toMatchObject({ code: 'ERR_AUDIT_UNAVAILABLE', message: expect.stringContaining('403') })
    // A full queue drops the newest report, and says so.
    const small = createDecisionReporter({
      url: 'http://127.0.0.1:1',
      key: mailVerifier,
      retries: 0,
      maxQueue: 1,
      onError: (e) => errors.push(e),
    })
    small.report(decision, { invocation: inv })
    small.report(decision, { invocation: inv })
    small.report(decision, { invocation: inv })
    await small.flush()
    expect(errors.slice(2).map((e) => [e.code, e.message])).toContainEqual([
      'ERR_AUDIT_UNAVAILABLE',
      "the report queue is full (1): a decision's report was dropped",
    ])
  })
})

// Spawns the built CLI: skipped under mutation testing (mutation/vitest.config.ts sets
// MANDATE_MUTATION), where its sandbox has no build and no mutant could reach that process anyway.
describe.skipIf(process.env['MANDATE_MUTATION'] === '1')('mandate verify --service reports too', () => {
  it('a decision on an invocation joins the log, as the registered verifier', async () => {
    // A service in another process: the CLI runs synchronously here, and would block one in this one.
    const dir = scratch()
    const keyFile = join(dir, 'mail.pem')
    writeFileSync(keyFile, exportSecretKeyPem(mailVerifier.secretKey), { mode: 0o600 })
    const server = await startServer({
      roots: [`alice=${ALICE}`],
      verifiers: [`mail=${toDidKey(mailVerifier.publicKey)}`],
      args: ['--auditor', `audit=${toDidKey(auditor.publicKey)}`],
    })
    try {
      const m = mint({
        principal: alice,
        to: toDidKey(assistant.publicKey),
        caveats: [
          { type: 'actions', patterns: ['email:read'] },
          { type: 'window', expires: Math.floor(Date.now() / 1000) + 600 },
        ],
      })
      const inv = formatInvocation(invoke(m, { key: assistant, action: 'email:read', audience: 'mail' }))
      const args = ['verify', '--root', ALICE, '--audience', 'mail', '--service', server.url, '--service-key', server.serviceKey]
      const r = mandate([...args, '--verifier-key', keyFile], { input: inv })
      expect([r.code, r.stderr]).toEqual([0, ''])
      const page = await http(`${server.url}/v1/audit`, { key: auditor })
      const records = page.json['records'] as AuditEntry[]
      expect(records.map((x) => [x.type, x['decision'], x['action'], (x['verifier'] as { name: string }).name])).toEqual([
        ['decision', 'allow', 'email:read', 'mail'],
      ])
    } finally {
      await server.stop()
    }
  })
})
