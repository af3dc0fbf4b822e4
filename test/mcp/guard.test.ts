/**
 * The tool guard engine, in process: how tools become actions, which tools a mandate can ever
 * allow, arguments a mandate cannot carry, what a denial tells the model, the audit record and
 * its file, and that no secret (key, token, argument) ever leaves in any of them. The library
 * form runs a real SDK server and client over the SDK's in-memory transport.
 */
import { createHash } from 'node:crypto'
import { mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Client } from '@modelcontextprotocol/sdk/client/index.js'
import { InMemoryTransport } from '@modelcontextprotocol/sdk/inMemory.js'
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js'
import { base64urlnopad } from '@scure/base'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { z } from 'zod'
import {
  attenuate,
  type Caveat,
  createMemoryRevocationView,
  createMemoryUsageStore,
  denyApprovalRequest,
  exportSecretKeyPem,
  formatMandate,
  generateKeyPair,
  type KeyPair,
  listApprovalRequests,
  MandateError,
  mint,
  toDidKey,
  type UnverifiedMandate,
} from '../../src/index.js'
import { toHex } from '../../src/internal/bytes.js'
import {
  auditToFile,
  canEverAllow,
  createToolGuard,
  denialDocument,
  denialResult,
  guardTool,
  type ToolAuditRecord,
  type ToolCallOutcome,
  type ToolGuardOptions,
  toolAction,
} from '../../src/mcp.js'
import { type ServiceUnderTest, startInProcess } from '../helpers/service.js'

const alice = generateKeyPair()
const assistant = generateKeyPair()
const sub = generateKeyPair()
const roots = [{ name: 'alice', key: toDidKey(alice.publicKey) }]
const hour = () => Math.floor(Date.now() / 1000) + 3600

function grant(caveats: Caveat[], to: KeyPair = assistant): UnverifiedMandate {
  return mint({
    principal: alice,
    to: toDidKey(to.publicKey),
    name: 'assistant',
    caveats: [...caveats, { type: 'window', expires: hour() }],
  })
}

const ECHO_AND_SUM: Caveat[] = [{ type: 'actions', patterns: ['mcp:everything:echo', 'mcp:everything:get-sum'] }]

/** A guard over a fresh verifier (audience `everything`), its audit records collected. */
function guardOf(mandate: UnverifiedMandate, extra: Partial<ToolGuardOptions> = {}, key: KeyPair = assistant) {
  const records: ToolAuditRecord[] = []
  const guard = createToolGuard({
    mandate,
    key,
    verifier: { roots, audience: 'everything', revocations: createMemoryRevocationView() },
    audit: (r) => void records.push(r),
    ...extra,
  })
  return { guard, records }
}

function denied(outcome: ToolCallOutcome) {
  if (outcome.allowed) throw new Error(`expected a denial, got an allowed ${outcome.action}`)
  return outcome
}

describe('tools as actions', () => {
  it('a tool is mcp:<server>:<tool>, the server from the audience made one segment', () => {
    expect(toolAction('echo', 'mcp:everything')).toBe('mcp:everything:echo')
    const guard = createToolGuard({
      mandate: grant(ECHO_AND_SUM),
      key: assistant,
      verifier: { roots, audience: 'mcp-servers/Everything', revocations: 'none' },
    })
    expect(guard.actionPrefix).toBe('mcp:mcp-servers-everything')
    expect(guard.actionOf('get-sum')).toBe('mcp:mcp-servers-everything:get-sum')
  })

  it('a tool name that is not an action segment has no action: hidden, and denied ERR_REQUEST_INVALID', async () => {
    const { guard, records } = guardOf(grant([{ type: 'actions', patterns: ['mcp:everything:*'] }]))
    expect(guard.actionOf('getWeather')).toBeUndefined()
    expect(guard.actionOf('a/b')).toBeUndefined()
    expect(guard.filterTools([{ name: 'getWeather' }, { name: 'echo' }])).toEqual([{ name: 'echo' }])
    const outcome = denied(await guard.authorizeCall('getWeather', {}))
    expect(outcome.code).toBe('ERR_REQUEST_INVALID')
    expect(outcome.hint).toContain('--map TOOL=ACTION')
    expect(records[0]).toMatchObject({ tool: 'getWeather', decision: 'deny', code: 'ERR_REQUEST_INVALID' })
    expect(records[0]?.action).toBeUndefined()
  })

  it('a record maps single tools (the rest keep the default), a function maps all, a bad answer maps none', async () => {
    const mandate = grant([{ type: 'actions', patterns: ['weather:read', 'mcp:everything:echo'] }])
    const byRecord = guardOf(mandate, { actions: { getWeather: 'weather:read', broken: 'Not An Action' } }).guard
    expect(byRecord.actionOf('getWeather')).toBe('weather:read')
    expect(byRecord.actionOf('echo')).toBe('mcp:everything:echo')
    expect(byRecord.actionOf('broken')).toBeUndefined()
    expect((await byRecord.authorizeCall('getWeather', { city: 'Paris' })).allowed).toBe(true)
    const byFunction = guardOf(mandate, { actions: (tool) => (tool === 'forecast' ? 'weather:read' : undefined) }).guard
    expect(byFunction.actionOf('forecast')).toBe('weather:read')
    expect(byFunction.actionOf('echo')).toBeUndefined()
    expect(guardOf(mandate, { actionPrefix: 'tools:x' }).guard.actionOf('echo')).toBe('tools:x:echo')
    expect(() => guardOf(mandate, { actionPrefix: 'Tools' })).toThrow(TypeError)
    expect(() => guardOf(mandate, { actionPrefix: 'mcp:*' })).toThrow(TypeError)
  })
})

describe('which tools a mandate can ever allow', () => {
  const tools = ['echo', 'get-sum', 'get-env', 'add'].map((name) => ({ name }))

  it('every block must allow the action; a deny covering it hides it; other caveats hide nothing', () => {
    const root = grant([
      { type: 'actions', patterns: ['mcp:everything:*'] },
      { type: 'uses', max: 1 },
    ])
    const child = attenuate(root, {
      key: assistant,
      to: toDidKey(sub.publicKey),
      caveats: [
        { type: 'actions', patterns: ['mcp:everything:echo', 'mcp:everything:get-env', 'mcp:other:add'] },
        { type: 'deny', patterns: ['mcp:everything:get-env'] },
        { type: 'where', rules: [{ path: 'message', op: 'prefix', value: 'x' }] },
      ],
    })
    expect(
      guardOf(root)
        .guard.filterTools(tools)
        .map((t) => t.name),
    ).toEqual(['echo', 'get-sum', 'get-env', 'add'])
    expect(
      guardOf(child, {}, sub)
        .guard.filterTools(tools)
        .map((t) => t.name),
    ).toEqual(['echo'])
    expect(canEverAllow(child, 'mcp:everything:get-env:x')).toBe(false) // deny covers children
    expect(canEverAllow(child, 'mcp:other:add')).toBe(false) // the root's actions do not match it
  })

  it('a resources caveat hides every tool from a guard that names no resource, which it would refuse every call of', async () => {
    const scoped = grant([...ECHO_AND_SUM, { type: 'resources', globs: ['repo/**'] }])
    const blind = guardOf(scoped).guard
    expect([blind.filterTools(tools), blind.canEverAllow('echo')]).toEqual([[], false])
    const call = denied(await blind.authorizeCall('echo', { message: 'hi' }))
    expect(call.code).toBe('ERR_RESOURCE_DENIED')
    expect(canEverAllow(scoped, 'mcp:everything:echo', 'everything', false)).toBe(false)
    expect(canEverAllow(scoped, 'mcp:everything:echo', 'everything')).toBe(true)
    // A guard that computes a resource per call lists them: the call decides.
    const naming = guardOf(scoped, { resource: () => 'repo/a' }).guard
    expect(naming.filterTools(tools).map((t) => t.name)).toEqual(['echo', 'get-sum'])
    expect((await naming.authorizeCall('echo', { message: 'hi' })).allowed).toBe(true)
  })

  it('an audience caveat that leaves the server out, or a malformed caveat, hides every tool', () => {
    const elsewhere = grant([...ECHO_AND_SUM, { type: 'audience', names: ['github'] }])
    expect(guardOf(elsewhere).guard.filterTools(tools)).toEqual([])
    expect(canEverAllow(elsewhere, 'mcp:everything:echo', 'github')).toBe(true)
    const here = grant([...ECHO_AND_SUM, { type: 'audience', names: ['everything'] }])
    expect(
      guardOf(here)
        .guard.filterTools(tools)
        .map((t) => t.name),
    ).toEqual(['echo', 'get-sum'])
    const unknown = grant([...ECHO_AND_SUM, { type: 'extension', code: 70_000, body: 1 }])
    expect(
      guardOf(unknown)
        .guard.filterTools(tools)
        .map((t) => t.name),
    ).toEqual(['echo', 'get-sum'])
  })
})

describe('a call', () => {
  it('allowed: the verifier decision, its chain, and the invocation it signed', async () => {
    const { guard, records } = guardOf(grant(ECHO_AND_SUM))
    const outcome = await guard.authorizeCall('echo', { message: 'hello' })
    if (!outcome.allowed) throw new Error(`${outcome.code}: ${outcome.message}`)
    expect(outcome.action).toBe('mcp:everything:echo')
    expect(outcome.decision.request.args).toEqual({ message: 'hello' })
    expect(outcome.decision.chain.map((l) => l.name)).toEqual(['alice', 'assistant'])
    expect(outcome.invocationId).toMatch(/^[0-9a-f]{64}$/)
    expect(records).toHaveLength(1)
  })

  it('a tool outside the mandate: ERR_ACTION_DENIED, with what the mandate allows', async () => {
    const outcome = denied(await guardOf(grant(ECHO_AND_SUM)).guard.authorizeCall('get-env', {}))
    expect(outcome.code).toBe('ERR_ACTION_DENIED')
    expect(outcome.hint).toContain('mcp:everything:echo')
  })

  it('a where caveat on an argument: ERR_ARGS_DENIED; the same tool with a fitting argument passes', async () => {
    const mandate = grant([
      ...ECHO_AND_SUM,
      { type: 'where', actions: ['mcp:everything:echo'], rules: [{ path: 'message', op: 'prefix', value: 'hello' }] },
    ])
    const { guard } = guardOf(mandate)
    expect(denied(await guard.authorizeCall('echo', { message: 'goodbye' })).code).toBe('ERR_ARGS_DENIED')
    expect((await guard.authorizeCall('echo', { message: 'hello there' })).allowed).toBe(true)
    expect((await guard.authorizeCall('get-sum', { a: 1, b: 2 })).allowed).toBe(true)
  })

  it('uses counted: the third call is ERR_USAGE_EXHAUSTED, and the model is told it never resets', async () => {
    const { guard } = guardOf(grant([...ECHO_AND_SUM, { type: 'uses', max: 2 }]), {
      verifier: { roots, audience: 'everything', revocations: 'none', usage: createMemoryUsageStore() },
    })
    expect((await guard.authorizeCall('echo', { message: 'a' })).allowed).toBe(true)
    expect((await guard.authorizeCall('echo', { message: 'a' })).allowed).toBe(true)
    const third = denied(await guard.authorizeCall('echo', { message: 'a' }))
    expect(third.code).toBe('ERR_USAGE_EXHAUSTED')
    expect(denialDocument(third)['usage']).toEqual({ resetsAt: 'never: the quota is spent', max: 2 })
  })

  it('a revoked block: ERR_REVOKED, with who revoked and why', async () => {
    const revocations = createMemoryRevocationView()
    const mandate = grant(ECHO_AND_SUM)
    const { guard } = guardOf(mandate, { verifier: { roots, audience: 'everything', revocations } })
    expect((await guard.authorizeCall('echo', { message: 'a' })).allowed).toBe(true)
    revocations.revoke(mandate.blocks[0]?.idHex as string, { reason: 'project over', by: toDidKey(alice.publicKey) })
    const outcome = denied(await guard.authorizeCall('echo', { message: 'a' }))
    expect(outcome.code).toBe('ERR_REVOKED')
    expect(denialDocument(outcome)['revoked']).toMatchObject({ reason: 'project over', by: toDidKey(alice.publicKey) })
  })

  it('an amendment mid-session: a where rule added to the live grant denies, and the document names who added it, when and why', async () => {
    const revocations = createMemoryRevocationView()
    const mandate = grant(ECHO_AND_SUM)
    const { guard } = guardOf(mandate, { verifier: { roots, audience: 'everything', revocations } })
    expect((await guard.authorizeCall('echo', { message: 'long message' })).allowed).toBe(true)
    const id = revocations.amend(mandate.blocks[0]?.idHex as string, {
      caveats: [{ type: 'where', actions: ['mcp:everything:echo'], rules: [{ path: 'message', op: 'eq', value: 'short' }] }],
      at: 1_790_000_000,
      by: toDidKey(alice.publicKey),
      reason: 'only "short" from now on',
    })
    const outcome = denied(await guard.authorizeCall('echo', { message: 'long message' }))
    expect(outcome.code).toBe('ERR_ARGS_DENIED')
    expect(denialDocument(outcome)['amendment']).toStrictEqual({
      id,
      by: toDidKey(alice.publicKey),
      at: '2026-09-21T14:13:20Z',
      reason: 'only "short" from now on',
    })
    expect((await guard.authorizeCall('echo', { message: 'short' })).allowed).toBe(true)
    expect(revocations.lift(mandate.blocks[0]?.idHex as string, id)).toBe(true)
    expect((await guard.authorizeCall('echo', { message: 'long message' })).allowed).toBe(true)
  })

  it('approval required without a service: denied, naming who must approve and that there is no inbox', async () => {
    const mandate = grant([
      ...ECHO_AND_SUM,
      { type: 'approval', actions: ['mcp:everything:get-sum'], approvers: [toDidKey(alice.publicKey)], quorum: 1 },
    ])
    const outcome = denied(await guardOf(mandate).guard.authorizeCall('get-sum', { a: 1, b: 2 }))
    expect(outcome.code).toBe('ERR_APPROVAL_REQUIRED')
    expect(outcome.approval).toEqual({ missing: [toDidKey(alice.publicKey)], quorum: 1, given: 0 })
    expect(outcome.hint).toContain('no approval inbox')
  })

  it('an inbox that cannot be reached: ERR_APPROVAL_UNAVAILABLE, naming its URL and who must approve', async () => {
    const mandate = grant([
      ...ECHO_AND_SUM,
      { type: 'approval', actions: ['mcp:everything:get-sum'], approvers: [toDidKey(alice.publicKey)], quorum: 1 },
    ])
    const { guard, records } = guardOf(mandate, { service: { url: 'http://127.0.0.1:9', timeoutMs: 2000 } })
    const outcome = denied(await guard.authorizeCall('get-sum', { a: 1, b: 2 }))
    expect(outcome.code).toBe('ERR_APPROVAL_UNAVAILABLE')
    expect(outcome.message).toContain('http://127.0.0.1:9/v1/approvals')
    expect(outcome.hint).toContain(toDidKey(alice.publicKey))
    expect(records[0]).toMatchObject({ decision: 'deny', code: 'ERR_APPROVAL_UNAVAILABLE' })
  })
})

describe('arguments a mandate cannot carry are a denial with a readable hint, never a crash', () => {
  const cases: [string, unknown, RegExp][] = [
    ['null', { to: null }, /argument to is null/],
    ['a float', { a: 1.5, b: 2 }, /argument a is a number with a fraction/],
    ['an unsafe integer', { a: 2 ** 60 }, /argument a is an integer beyond/],
    ['too deep', { a: { b: { c: { d: { e: 1 } } } } }, /argument a\.b\.c\.d nests deeper than 4/],
    ['a deep list', { a: [[[['x']]]] }, /argument a\[0\]\[0\]\[0\] nests deeper/],
    ['too many entries', { list: Array.from({ length: 65 }, (_, i) => i) }, /argument list has 65 entries/],
    ['a long text', { message: 'x'.repeat(1025) }, /argument message is 1025 bytes/],
    ['an unpaired surrogate', { message: 'a\ud800b' }, /argument message is not valid Unicode/],
    ['a list as the arguments', ['a'], /the arguments are not an object/],
    ['a key with spaces', { 'odd key': null }, /argument \["odd key"\] is null/],
  ]
  for (const [what, args, message] of cases) {
    it(`${what}: ERR_REQUEST_INVALID`, async () => {
      const { guard, records } = guardOf(grant([{ type: 'actions', patterns: ['mcp:everything:*'] }]))
      const outcome = denied(await guard.authorizeCall('echo', args))
      expect(outcome.code).toBe('ERR_REQUEST_INVALID')
      expect(outcome.message).toMatch(message)
      expect(outcome.hint).toBeTruthy()
      expect(records[0]).toMatchObject({ decision: 'deny', code: 'ERR_REQUEST_INVALID' })
      expect(records[0]?.argsDigest).toBeUndefined()
    })
  }

  it('no arguments at all are the empty object', async () => {
    const { guard, records } = guardOf(grant([{ type: 'actions', patterns: ['mcp:everything:*'] }]))
    expect((await guard.authorizeCall('get-env', undefined)).allowed).toBe(true)
    expect(records[0]?.argsDigest).toBe(
      `sha-256:${createHash('sha256')
        .update(Buffer.from([0x80]))
        .digest('hex')}`,
    )
  })
})

describe('the denial the model reads', () => {
  it('is an MCP error result: one text block of JSON with the code, message, hint, tool and action', async () => {
    const result = denialResult(denied(await guardOf(grant(ECHO_AND_SUM)).guard.authorizeCall('get-env', {})))
    expect(result.isError).toBe(true)
    expect(result.content).toHaveLength(1)
    const doc = JSON.parse(result.content[0]?.text as string)
    expect(doc).toMatchObject({ code: 'ERR_ACTION_DENIED', tool: 'get-env', action: 'mcp:everything:get-env' })
    expect(doc.message).toBeTruthy()
    expect(doc.hint).toBeTruthy()
  })

  it('escapes what a tool name or a token carries: no control, bidi or invisible character raw', async () => {
    const hostile = 'echo\u202e\u001b[2J\u0007'
    const mandate = mint({
      principal: alice,
      to: toDidKey(assistant.publicKey),
      name: 'assist\u202eant\u0000',
      caveats: [
        { type: 'actions', patterns: ['mcp:x:*'] },
        { type: 'window', expires: hour() },
      ],
    })
    const { guard, records } = guardOf(mandate)
    const text = denialResult(denied(await guard.authorizeCall(hostile, {}))).content[0]?.text as string
    // biome-ignore lint/suspicious/noControlCharactersInRegex: the point of the test
    expect(text).not.toMatch(/[\u0000-\u001f\u007f\u202e]/)
    expect(JSON.parse(text).tool).toBe(hostile)
    const { auditLine } = await import('../../src/mcp.js')
    const line = auditLine(records[0] as ToolAuditRecord)
    // biome-ignore lint/suspicious/noControlCharactersInRegex: the point of the test
    expect(line).not.toMatch(/[\u0000-\u001f\u007f\u202e]/)
    expect(JSON.parse(line).chain[1].name).toBe('assist\u202eant\u0000')
  })
})

describe('the audit record', () => {
  it('says who, on whose behalf, what, a digest of the arguments (never them), the decision and the ids', async () => {
    const { guard, records } = guardOf(grant(ECHO_AND_SUM))
    const allowed = await guard.authorizeCall('echo', { message: 'top-secret-value' })
    const deniedCall = await guard.authorizeCall('get-env', {})
    expect(records).toHaveLength(2)
    const [first, second] = records as [ToolAuditRecord, ToolAuditRecord]
    expect(first).toEqual({
      at: expect.any(Number),
      audience: 'everything',
      tool: 'echo',
      action: 'mcp:everything:echo',
      chain: [
        { role: 'principal', key: toDidKey(alice.publicKey), name: 'alice' },
        { role: 'holder', key: toDidKey(assistant.publicKey), name: 'assistant' },
      ],
      // CBOR of [["message", "top-secret-value"]], by hand: 81 82 67 "message" 70 "top-secret-value"
      argsDigest: `sha-256:${createHash('sha256')
        .update(
          Buffer.concat([Buffer.from([0x81, 0x82, 0x67]), Buffer.from('message'), Buffer.from([0x70]), Buffer.from('top-secret-value')]),
        )
        .digest('hex')}`,
      decision: 'allow',
      invocationId: allowed.allowed ? allowed.invocationId : 'none',
    })
    expect(second).toMatchObject({
      tool: 'get-env',
      decision: 'deny',
      code: 'ERR_ACTION_DENIED',
      invocationId: expect.stringMatching(/^[0-9a-f]{64}$/),
    })
    expect(deniedCall.audit).toBe(second)
    expect(JSON.stringify(records)).not.toContain('top-secret-value')
  })

  it('the same arguments in another key order have the same digest', async () => {
    const { guard, records } = guardOf(grant(ECHO_AND_SUM))
    await guard.authorizeCall('get-sum', { a: 1, b: 2 })
    await guard.authorizeCall('get-sum', { b: 2, a: 1 })
    await guard.authorizeCall('get-sum', { a: 2, b: 1 })
    expect(records[0]?.argsDigest).toBe(records[1]?.argsDigest)
    expect(records[2]?.argsDigest).not.toBe(records[0]?.argsDigest)
  })

  it('auditToFile creates the file 0600 and appends one JSON line per call', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mandate-mcp-audit-'))
    const file = join(dir, 'audit.jsonl')
    const audit = auditToFile(file)
    expect(statSync(file).mode & 0o777).toBe(0o600)
    const { guard } = guardOf(grant(ECHO_AND_SUM), { audit })
    await guard.authorizeCall('echo', { message: 'one' })
    await guard.authorizeCall('get-env', {})
    const lines = readFileSync(file, 'utf8').split('\n')
    expect(lines).toHaveLength(3)
    expect(lines[2]).toBe('')
    expect(lines.slice(0, 2).map((l) => JSON.parse(l).decision)).toEqual(['allow', 'deny'])
    const existing = join(dir, 'existing.jsonl')
    writeFileSync(existing, 'earlier\n', { mode: 0o640 })
    guardOf(grant(ECHO_AND_SUM), { audit: auditToFile(existing) })
    expect(readFileSync(existing, 'utf8')).toBe('earlier\n')
    expect(() => auditToFile(join(dir, 'no', 'such', 'dir.jsonl'))).toThrow()
  })

  it('a sink that cannot write denies the call: no record, no call', async () => {
    const { guard } = guardOf(grant(ECHO_AND_SUM), {
      audit: () => {
        throw new Error('disk full')
      },
    })
    const outcome = denied(await guard.authorizeCall('echo', { message: 'a' }))
    expect(outcome.code).toBe('ERR_INTERNAL')
    expect(outcome.message).toContain('disk full')
  })
})

describe('no secret in any output', () => {
  it('neither the holder key, nor the mandate text, nor an argument appears in outcomes, denials or audit lines', async () => {
    const mandate = grant([
      ...ECHO_AND_SUM,
      { type: 'where', actions: ['mcp:everything:echo'], rules: [{ path: 'message', op: 'eq', value: 'allowed' }] },
    ])
    const { guard, records } = guardOf(mandate)
    const secretArg = 'password=hunter2-do-not-log'
    const outcomes = [
      await guard.authorizeCall('echo', { message: secretArg }),
      await guard.authorizeCall('get-env', { token: secretArg }),
      await guard.authorizeCall('echo', { message: secretArg, extra: null }),
      await guard.authorizeCall('echo', { message: 'allowed' }),
    ]
    const shown = [
      ...outcomes.map((o) => (o.allowed ? JSON.stringify(o.audit) : denialResult(o).content[0]?.text)),
      ...records.map((r) => JSON.stringify(r)),
    ].join('\n')
    const secrets = [
      toHex(assistant.secretKey),
      base64urlnopad.encode(assistant.secretKey),
      Buffer.from(assistant.secretKey).toString('base64'),
      exportSecretKeyPem(assistant.secretKey).split('\n')[1] as string,
      formatMandate(mandate).slice(5, 60),
      'hunter2',
    ]
    for (const s of secrets) expect(shown).not.toContain(s)
    expect(outcomes.map((o) => (o.allowed ? 'allowed' : o.code))).toEqual([
      'ERR_ARGS_DENIED',
      'ERR_ACTION_DENIED',
      'ERR_REQUEST_INVALID',
      'allowed',
    ])
  })
})

describe('setup', () => {
  it('refuses a wrong or missing holder key, and a sealed mandate', async () => {
    const mandate = grant(ECHO_AND_SUM)
    const verifier = { roots, audience: 'everything', revocations: 'none' as const }
    const error = (f: () => unknown) => {
      try {
        f()
      } catch (e) {
        return e instanceof MandateError ? e.code : String(e)
      }
      return 'no error'
    }
    expect(error(() => createToolGuard({ mandate, key: sub, verifier }))).toBe('ERR_HOLDER_MISMATCH')
    expect(error(() => createToolGuard({ mandate, verifier }))).toBe('ERR_HOLDER_MISMATCH')
    const { seal } = await import('../../src/index.js')
    const bearer = attenuate(mandate, { key: assistant, caveats: [] })
    expect(error(() => createToolGuard({ mandate: seal(bearer), verifier }))).toBe('ERR_SEALED')
    // A bearer mandate carries its holder's secret: no key is needed, and its text is accepted.
    const guard = createToolGuard({ mandate: formatMandate(bearer), verifier })
    expect((await guard.authorizeCall('echo', { message: 'hi' })).allowed).toBe(true)
    expect(() => createToolGuard({ mandate, key: assistant, verifier, approvalWaitMs: -1 })).toThrow(RangeError)
  })
})

describe('the library form: guardTool around an SDK tool handler', () => {
  it('runs the handler when the mandate allows the call, returns the denial (handler not run) when not', async () => {
    const mandate = grant([
      { type: 'actions', patterns: ['mcp:mail:*'] },
      { type: 'where', actions: ['mcp:mail:send_email'], rules: [{ path: 'to', op: 'glob', value: '*@example.com' }] },
    ])
    const guard = createToolGuard({ mandate, key: assistant, verifier: { roots, audience: 'mail', revocations: 'none' } })
    const sent: string[] = []
    const server = new McpServer({ name: 'mail', version: '1.0.0' })
    server.registerTool(
      'send_email',
      { description: 'Send an email', inputSchema: { to: z.string(), body: z.string() } },
      guardTool(guard, 'send_email', async ({ to }) => {
        sent.push(to)
        return { content: [{ type: 'text', text: `sent to ${to}` }] }
      }),
    )
    const [a, b] = InMemoryTransport.createLinkedPair()
    await server.connect(a)
    const client = new Client({ name: 'test', version: '1.0.0' })
    await client.connect(b)
    try {
      const ok = await client.callTool({ name: 'send_email', arguments: { to: 'bob@example.com', body: 'hi' } })
      expect(ok).toEqual({ content: [{ type: 'text', text: 'sent to bob@example.com' }] })
      const no = await client.callTool({ name: 'send_email', arguments: { to: 'eve@evil.test', body: 'hi' } })
      expect(no.isError).toBe(true)
      expect(JSON.parse((no.content as { text: string }[])[0]?.text as string).code).toBe('ERR_ARGS_DENIED')
      expect(sent).toEqual(['bob@example.com'])
    } finally {
      await client.close()
      await server.close()
    }
  })
})

describe('a denied approval request (the inbox of a real service, in process)', () => {
  let service: ServiceUnderTest
  beforeAll(async () => {
    service = await startInProcess({ roots: [`alice=${toDidKey(alice.publicKey)}`] })
  })
  afterAll(() => service?.stop())
  const NEEDS_ALICE: Caveat[] = [
    ...ECHO_AND_SUM,
    { type: 'approval', actions: ['mcp:everything:get-sum'], approvers: [toDidKey(alice.publicKey)], quorum: 1 },
  ]
  /** Alice denies the request naming these arguments once it is in her inbox; returns its id. */
  async function aliceDenies(a: number, reason: string): Promise<string> {
    for (let i = 0; i < 200; i++) {
      const { pending } = await listApprovalRequests(alice, { url: service.url, limit: 100 })
      const mine = pending.find((r) => r.args['a'] === a)
      if (mine) {
        expect((await denyApprovalRequest(mine.id, reason, alice, { url: service.url })).status).toBe('denied')
        return mine.id
      }
      await new Promise((r) => setTimeout(r, 25))
    }
    throw new Error('no request reached the inbox')
  }

  it('ends a waiting call at once: ERR_APPROVAL_DENIED, the document naming who refused and why; the call is forgotten', async () => {
    const { guard, records } = guardOf(grant(NEEDS_ALICE), { service: { url: service.url }, approvalWaitMs: 20_000 })
    const waiting: string[] = []
    const started = Date.now()
    const [outcome, id] = await Promise.all([
      guard.authorizeCall('get-sum', { a: 1, b: 2 }, { onWaiting: (requestId) => void waiting.push(requestId) }),
      aliceDenies(1, 'Not now.\u202e\u200b'),
    ])
    expect(Date.now() - started).toBeLessThan(10_000)
    expect(waiting).toEqual([id])
    const d = denied(outcome)
    expect(d.code).toBe('ERR_APPROVAL_DENIED')
    expect(d.message).toBe(`${toDidKey(alice.publicKey)} denied the approval request ${id} for this call`)
    expect(d.details).toEqual({ by: toDidKey(alice.publicKey), reason: 'Not now.\u202e\u200b', at: expect.any(Number) })
    expect(d.invocationId).toBe(id)
    const doc = denialDocument(d)
    expect(doc['denial']).toEqual({
      requestId: id,
      by: toDidKey(alice.publicKey),
      reason: 'Not now.\u202e\u200b',
      at: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
    })
    expect(doc['approval']).toBeUndefined()
    // what the model reads: the reason escaped, never raw
    const text = denialResult(d).content[0]?.text as string
    expect(text).not.toMatch(/[\u202e\u200b]/)
    expect(text).toContain('"reason":"Not now.\\u202e\\u200b"')
    expect(JSON.parse(text).denial.reason).toBe('Not now.\u202e\u200b')
    expect(records.map((r) => [r.decision, r.code, r.approvalRequestId])).toEqual([['deny', 'ERR_APPROVAL_DENIED', id]])
    // the same call again is a new request (a new invocation), pending
    const again = denied(
      await guardOf(grant(NEEDS_ALICE), { service: { url: service.url } }).guard.authorizeCall('get-sum', { a: 1, b: 2 }),
    )
    expect(again.code).toBe('ERR_APPROVAL_REQUIRED')
    expect(again.approval?.requestId).not.toBe(id)
  })

  it('without waiting: the same call after the denial is told so, once; the next one asks anew', async () => {
    const { guard } = guardOf(grant(NEEDS_ALICE), { service: { url: service.url } })
    const first = denied(await guard.authorizeCall('get-sum', { a: 2, b: 2 }))
    expect(first.code).toBe('ERR_APPROVAL_REQUIRED')
    const id = first.approval?.requestId as string
    expect(await aliceDenies(2, 'use the calculator')).toBe(id)
    const second = denied(await guard.authorizeCall('get-sum', { a: 2, b: 2 }))
    expect([second.code, second.invocationId, denialDocument(second)['denial']]).toEqual([
      'ERR_APPROVAL_DENIED',
      id,
      expect.objectContaining({ requestId: id, reason: 'use the calculator' }),
    ])
    const third = denied(await guard.authorizeCall('get-sum', { a: 2, b: 2 }))
    expect(third.code).toBe('ERR_APPROVAL_REQUIRED')
    expect(third.approval?.requestId).not.toBe(id)
  })
})
