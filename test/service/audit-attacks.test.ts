/**
 * Attacks on the audit trail (spec/service-v1.md §8, trust model §3), against the real service
 * in this process: what each party — a stranger, a holder and its sub-agent, another principal,
 * a registered verifier that lies or is compromised, an auditor, whoever holds an exported file
 * or can write the database — can make the log say, read from it, or change in an export
 * without `verifyAuditExport` noticing.
 *
 * The attacks that once passed unnoticed are found now; their tests say so in a comment
 * starting `Once,`. Comments starting `DESIGN:` pin down behaviour that is as specified but
 * worth knowing (the test asserts what happens now).
 */
import { join } from 'node:path'
import Database from 'better-sqlite3'
import pino from 'pino'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { signRequest } from '../../src/crypto/http-signature.js'
import { parsePublicKey } from '../../src/crypto/keys.js'
import {
  approve,
  attenuate,
  createRevocation,
  formatApproval,
  formatInvocation,
  formatMandate,
  formatRevocation,
  generateKeyPair,
  invoke,
  type KeyPair,
  mint,
  parseApproval,
  toDidKey,
  type UnverifiedInvocation,
  type UnverifiedMandate,
} from '../../src/index.js'
import { toHex } from '../../src/internal/bytes.js'
import { createApp } from '../../src/service/app.js'
import {
  type AuditCheckpoint,
  type AuditEntry,
  type AuditVerification,
  auditDigest,
  auditHash,
  auditLink,
  checkpointSigned,
  redact,
  verifyAuditExport,
} from '../../src/service/audit.js'
import { type RunningService, startService } from '../../src/service/server.js'
import { openSqliteStore } from '../../src/service/sqlite-store.js'
import { toText } from '../../src/token/text.js'
import { scratch } from '../helpers/cli.js'
import { http } from '../helpers/service.js'

const alice = generateKeyPair()
const bob = generateKeyPair()
const assistant = generateKeyPair()
const subAgent = generateKeyPair()
const mailA = generateKeyPair()
const mailB = generateKeyPair()
const calendar = generateKeyPair()
const auditor = generateKeyPair()
const stranger = generateKeyPair()
const ALICE = toDidKey(alice.publicKey)
const BOB = toDidKey(bob.publicKey)
const did = (k: KeyPair) => toDidKey(k.publicKey)
const now = () => Math.floor(Date.now() / 1000)

const grantOf = (principal: KeyPair, extra: readonly Record<string, unknown>[] = []): UnverifiedMandate =>
  mint({
    principal,
    to: did(assistant),
    name: 'assistant',
    purpose: 'run my inbox',
    caveats: [
      { type: 'actions', patterns: ['email:*'] },
      { type: 'approval', actions: ['email:send'], approvers: [did(principal)], quorum: 1 },
      { type: 'window', expires: now() + 3600 },
      ...(extra as never[]),
    ],
  })
const aliceGrant = grantOf(alice)
const bobGrant = grantOf(bob)
// Alice's assistant hands reading on to a sub-agent (block 1).
const subGrant = attenuate(aliceGrant, {
  key: assistant,
  to: did(subAgent),
  name: 'sub-agent',
  purpose: 'triage',
  caveats: [{ type: 'actions', patterns: ['email:read'] }],
})
const send = (grant = aliceGrant, to = 'carol@example.com', more: { intent?: string; now?: number; audience?: string } = {}) =>
  invoke(grant, {
    key: assistant,
    action: 'email:send',
    resource: 'outbox',
    args: { to, body: 'hi' },
    audience: more.audience ?? 'mail',
    intent: more.intent ?? 'reply',
    ...(more.now === undefined ? {} : { now: more.now }),
  })

const serviceConfig = (dir: string) => ({
  host: '127.0.0.1',
  port: 0,
  db: join(dir, 'm.db'),
  keyFile: join(dir, 'service.pem'),
  logLevel: 'silent',
  logger: pino({ level: 'silent' }),
  trust: {
    roots: [
      { name: 'alice', key: ALICE },
      { name: 'bob', key: BOB },
    ],
    verifiers: [
      { name: 'mail', key: did(mailA) },
      { name: 'mail', key: did(mailB) },
      { name: 'calendar', key: did(calendar) },
    ],
  },
  auditors: [{ name: 'audit', key: did(auditor) }],
})

type Answer = { status: number; json: Record<string, unknown> }
const code = (r: Answer) => [r.status, (r.json['error'] as { code?: string } | undefined)?.code]

/** The whole log as `mandate audit export` writes it: records, then the last page's checkpoint. */
async function exportAll(url: string, key = auditor, query = '') {
  const records: AuditEntry[] = []
  let since = 0
  let checkpoint: AuditCheckpoint | undefined
  for (;;) {
    const page = await http(`${url}/v1/audit?since=${since}&limit=4${query}`, { key })
    expect(page.status, page.text).toBe(200)
    records.push(...(page.json['records'] as AuditEntry[]))
    checkpoint = page.json['checkpoint'] as AuditCheckpoint
    if (page.json['next'] === undefined) break
    since = page.json['next'] as number
  }
  return {
    lines: [...records.map((r) => JSON.stringify(r)), JSON.stringify(checkpoint)],
    records,
    checkpoint: checkpoint as AuditCheckpoint,
  }
}

/** A checkpoint the service signs now of its log at record `count` (the page that ends there). */
async function checkpointOf(url: string, count: number): Promise<AuditCheckpoint> {
  const page = await http(`${url}/v1/audit?since=${count - 1}&limit=1`, { key: auditor })
  const cp = page.json['checkpoint'] as AuditCheckpoint
  expect(cp.count).toBe(count)
  return cp
}

/** Rebuild a record with `change` applied, its digest and hash recomputed (what a forger does). */
const rehash = (r: Record<string, unknown>, change: Record<string, unknown>) => {
  const { hash: _h, digest: _d, ...rest } = { ...r, ...change }
  const digest = auditDigest(rest)
  const rebuilt = { ...rest, digest, hash: auditLink(rest['seq'] as number, rest['prev'] as string, digest) }
  expect(auditHash(rebuilt)).toBe(rebuilt.hash)
  return rebuilt
}
const parse = (line: string) => JSON.parse(line) as Record<string, unknown>
/** A record as a principal who may not see it gets it (what the service sends). */
const stub = (r: Record<string, unknown>) => redact(r as AuditEntry)
/** A stub relinked after `prev`, its hash recomputed from its place and the digest it keeps. */
const relink = (r: Record<string, unknown>, prev: string) => {
  const s = stub(r)
  return { ...s, prev, hash: auditLink(s.seq, prev, s.digest) }
}
/** Where the verifier says the export went wrong: exactly its kind, line and seq (if any). */
const found = (result: AuditVerification) =>
  result.problem && { kind: result.problem.kind, line: result.problem.line, seq: result.problem.seq }

let service: RunningService
let url: string
let a: UnverifiedInvocation
let c: UnverifiedInvocation
let sub: UnverifiedInvocation
let approvalA: string
/** Exports taken right after the story, before any attack adds records. */
let full: Awaited<ReturnType<typeof exportAll>>
let alices: Awaited<ReturnType<typeof exportAll>>
let bobs: Awaited<ReturnType<typeof exportAll>>

const report = (inv: UnverifiedInvocation | string, decision: string, more: Record<string, unknown> = {}, key = mailA) =>
  http(`${url}/v1/audit/decisions`, {
    body: { invocation: typeof inv === 'string' ? inv : formatInvocation(inv), decision, decidedAt: now(), ...more },
    key,
  })
/** How many records the log holds (a checkpoint on demand, which adds none). */
const count = async () => {
  const r = await http(`${url}/v1/audit/checkpoints`, { body: {}, key: auditor })
  expect(r.status, r.text).toBe(201)
  return r.json['count'] as number
}
/** The record at `seq`, whole. */
const recordAt = async (seq: number) => {
  const page = await http(`${url}/v1/audit?since=${seq - 1}&limit=1`, { key: auditor })
  return (page.json['records'] as AuditEntry[])[0] as AuditEntry
}

beforeAll(async () => {
  service = await startService(serviceConfig(scratch()))
  url = service.url
  // The story (9 records): Alice's assistant asks for a send, Bob's too; Alice approves hers;
  // both mail instances report; Bob denies his; the sub-agent reads; the last record is Bob's.
  a = send()
  c = send(bobGrant, 'dave@example.com', { intent: 'bob-secret-intent' })
  sub = invoke(subGrant, { key: subAgent, action: 'email:read', resource: 'inbox', audience: 'mail', intent: 'triage' })
  approvalA = formatApproval(approve({ approver: alice, invocation: a }))
  for (const inv of [a, c]) expect((await http(`${url}/v1/approvals`, { body: { invocation: formatInvocation(inv) } })).status).toBe(201)
  expect((await http(`${url}/v1/approvals/${a.idHex}`, { body: { approval: approvalA }, key: alice })).status).toBe(200)
  expect((await report(a, 'allow', { approvals: [approvalA] })).status).toBe(201)
  expect((await report(c, 'deny', { code: 'ERR_APPROVAL_REQUIRED' })).status).toBe(201)
  expect((await report(a, 'deny', { code: 'ERR_REPLAY' }, mailB)).status).toBe(201)
  expect((await http(`${url}/v1/approvals/${c.idHex}/deny`, { body: { reason: 'bob-secret-reason' }, key: bob })).status).toBe(200)
  expect((await report(sub, 'allow')).status).toBe(201)
  expect((await report(c, 'deny', { code: 'ERR_APPROVAL_REQUIRED' }, mailB)).status).toBe(201)
  full = await exportAll(url)
  alices = await exportAll(url, alice)
  bobs = await exportAll(url, bob)
  expect(full.records.map((r) => [r.seq, r.type, r['principal']])).toEqual([
    [1, 'approval.requested', ALICE],
    [2, 'approval.requested', BOB],
    [3, 'approval.approved', ALICE],
    [4, 'decision', ALICE],
    [5, 'decision', BOB],
    [6, 'decision', ALICE],
    [7, 'approval.denied', BOB],
    [8, 'decision', ALICE],
    [9, 'decision', BOB],
  ])
}, 30_000)
afterAll(async () => {
  await service?.close()
})

describe('a lying or compromised verifier: forged evidence', () => {
  it("another audience's invocation, or a chain whose audience caveat excludes it: 403 ERR_AUDIENCE, nothing written", async () => {
    const before = await count()
    // The calendar verifier reports what the mail service decided.
    expect(code(await report(send(), 'allow', {}, calendar))).toEqual([403, 'ERR_AUDIENCE'])
    // A mail instance reports an invocation addressed to the calendar.
    expect(code(await report(send(aliceGrant, 'x@example.com', { audience: 'calendar' }), 'allow'))).toEqual([403, 'ERR_AUDIENCE'])
    // Addressed to mail, but the chain admits only the calendar.
    const calendarOnly = grantOf(alice, [{ type: 'audience', names: ['calendar'] }])
    expect(code(await report(send(calendarOnly), 'allow'))).toEqual([403, 'ERR_AUDIENCE'])
    expect(await count()).toBe(before)
  })

  it('an invocation of a principal the service does not serve: 403 ERR_ROOT_UNTRUSTED, even named like a served one', async () => {
    const before = await count()
    const selfMinted = mint({
      principal: stranger,
      to: did(assistant),
      name: 'alice',
      caveats: [
        { type: 'actions', patterns: ['email:*'] },
        { type: 'window', expires: now() + 60 },
      ],
    })
    expect(code(await report(send(selfMinted), 'allow'))).toEqual([403, 'ERR_ROOT_UNTRUSTED'])
    expect(await count()).toBe(before)
  })

  it('a tampered invocation (what the agent asked, changed): 401 ERR_SIG_INVALID; not an invocation: 400', async () => {
    const before = await count()
    const inv = send()
    const bytes = new Uint8Array(inv.bytes)
    const at = Buffer.from(bytes).indexOf('email:send')
    expect(at).toBeGreaterThan(0)
    bytes.set(new TextEncoder().encode('email:drop'), at)
    expect(code(await report(toText('invocation', bytes), 'allow'))).toEqual([401, 'ERR_SIG_INVALID'])
    // A mandate is checked as presented first: bound and bare, it lacks its proof (401).
    expect(code(await report(formatMandate(aliceGrant), 'allow'))).toEqual([401, 'ERR_PROOF'])
    const bearer = mint({ principal: alice, caveats: [{ type: 'window', expires: now() + 60 }] })
    expect(code(await report(formatMandate(bearer), 'allow'))).toEqual([400, 'ERR_REQUEST_MALFORMED'])
    expect(code(await report('mni1_!!!', 'allow'))).toEqual([400, 'ERR_TEXT_FORMAT'])
    expect(code(await http(`${url}/v1/audit/decisions`, { body: { decision: 'allow', decidedAt: now() }, key: mailA }))).toEqual([
      400,
      'ERR_REQUEST_MALFORMED',
    ])
    expect(await count()).toBe(before)
  })

  it('approvals that do not verify (401), name another invocation (400), are not approvals (400), too many (400)', async () => {
    const before = await count()
    const inv = send()
    const good = approve({ approver: alice, invocation: inv })
    // The invocation id inside the signed payload, changed: the approver never signed that.
    const tampered = new Uint8Array(good.bytes)
    const at = Buffer.from(tampered).indexOf(Buffer.from(inv.id))
    expect(at).toBeGreaterThan(0)
    tampered[at + 31] = (tampered[at + 31] as number) ^ 1
    expect(parseApproval(tampered).approver).toEqual(alice.publicKey)
    expect(code(await report(inv, 'allow', { approvals: [toText('approval', tampered)] }))).toEqual([401, 'ERR_APPROVAL_INVALID'])
    const forOther = formatApproval(approve({ approver: alice, invocation: a }))
    expect(code(await report(inv, 'allow', { approvals: [forOther] }))).toEqual([400, 'ERR_APPROVAL_INVALID'])
    expect(code(await report(inv, 'allow', { approvals: ['mna1_AAAA'] }))[0]).toBe(400)
    expect(code(await report(inv, 'allow', { approvals: [formatInvocation(inv)] }))).toEqual([400, 'ERR_TEXT_FORMAT'])
    const ok = formatApproval(good)
    expect(code(await report(inv, 'allow', { approvals: Array(17).fill(ok) }))).toEqual([400, 'ERR_REQUEST_MALFORMED'])
    expect(code(await report(inv, 'allow', { approvals: ok }))).toEqual([400, 'ERR_REQUEST_MALFORMED'])
    expect(code(await report(inv, 'allow', { approvals: [1] }))).toEqual([400, 'ERR_REQUEST_MALFORMED'])
    expect(code(await report(inv, 'allow', { approvals: null }))).toEqual([400, 'ERR_REQUEST_MALFORMED'])
    expect(code(await report(inv, 'allow', { approvals: {} }))).toEqual([400, 'ERR_REQUEST_MALFORMED'])
    expect(await count()).toBe(before)
  })

  it('approvals by a key no approval caveat of the chain lists for the action: 400 ERR_APPROVAL_INVALID, nothing written', async () => {
    const before = await count()
    const inv = send(aliceGrant, 'x1@example.com')
    const byStranger = formatApproval(approve({ approver: stranger, invocation: inv }))
    expect(code(await report(inv, 'allow', { approvals: [byStranger] }))).toEqual([400, 'ERR_APPROVAL_INVALID'])
    // Bob approves for his own chain only; an approver of another action counts for nothing.
    const byBob = formatApproval(approve({ approver: bob, invocation: inv }))
    expect(code(await report(inv, 'allow', { approvals: [byBob] }))).toEqual([400, 'ERR_APPROVAL_INVALID'])
    const read = invoke(aliceGrant, { key: assistant, action: 'email:read', audience: 'mail' })
    const forRead = formatApproval(approve({ approver: alice, invocation: read }))
    expect(code(await report(read, 'allow', { approvals: [forRead] }))).toEqual([400, 'ERR_APPROVAL_INVALID'])
    // One bad approval among good ones spoils the report.
    const good = formatApproval(approve({ approver: alice, invocation: inv }))
    expect(code(await report(inv, 'allow', { approvals: [good, byStranger] }))).toEqual([400, 'ERR_APPROVAL_INVALID'])
    expect(await count()).toBe(before)
  })

  // Once, an approval expired an hour before the decision, or issued a day after it, was
  // recorded as evidence: a record could read "allowed with Alice's approval" on an approval
  // no verifier could have accepted then. It must have been valid at decidedAt (± 60 s skew).
  it('an approval not valid at decidedAt (expired, or issued after it, beyond the skew): 400 ERR_APPROVAL_INVALID, nothing written', async () => {
    const before = await count()
    const inv = send(aliceGrant, 'x2@example.com', { now: now() - 3000 })
    const decidedAt = now() - 1000
    const issued = (at: number, ttl = 600) => formatApproval(approve({ approver: alice, invocation: inv, now: at, ttl }))
    const stale = issued(decidedAt - 7200, 60)
    const future = issued(now() + 86_400)
    const expiredAtSkew = issued(decidedAt - 660) // expires = decidedAt − 60
    const issuedPastSkew = issued(decidedAt + 61)
    for (const [name, approval] of Object.entries({ stale, future, expiredAtSkew, issuedPastSkew })) {
      expect(code(await report(inv, 'allow', { decidedAt, approvals: [approval] })), name).toEqual([400, 'ERR_APPROVAL_INVALID'])
    }
    // One stale approval among valid ones spoils the report.
    const valid = issued(decidedAt - 100)
    expect(code(await report(inv, 'allow', { decidedAt, approvals: [valid, stale] }))).toEqual([400, 'ERR_APPROVAL_INVALID'])
    expect(await count()).toBe(before)
    // Valid within the skew, at both ends; repeats are recorded once.
    const expiringInSkew = issued(decidedAt - 659) // expires = decidedAt − 59
    const issuedInSkew = issued(decidedAt + 60)
    const r = await report(inv, 'allow', { decidedAt, approvals: [expiringInSkew, issuedInSkew, ...Array(14).fill(valid)] })
    expect(r.status, r.text).toBe(201)
    expect(await count()).toBe(before + 1)
    expect(await recordAt(r.json['seq'] as number)).toMatchObject({ decidedAt, approvals: [ALICE] })
    // DESIGN: decidedAt is the verifier's word, anywhere from the invocation's issue on: dated
    // inside its window, an approval that expired most of an hour before the report still counts.
    const early = issued(inv.issuedAt + 10, 60)
    const dated = await report(inv, 'allow', { decidedAt: inv.issuedAt + 30, approvals: [early] }, mailB)
    expect(dated.status, dated.text).toBe(201)
    expect(await recordAt(dated.json['seq'] as number)).toMatchObject({ decidedAt: inv.issuedAt + 30, approvals: [ALICE] })
    // As the inbox refuses an expired approval of a pending request.
    const fresh = send(aliceGrant, 'x3@example.com')
    expect((await http(`${url}/v1/approvals`, { body: { invocation: formatInvocation(fresh) } })).status).toBe(201)
    const expired = formatApproval(approve({ approver: alice, invocation: fresh, now: now() - 7200, ttl: 60 }))
    expect(code(await http(`${url}/v1/approvals/${fresh.idHex}`, { body: { approval: expired }, key: alice }))).toEqual([
      403,
      'ERR_APPROVAL_INVALID',
    ])
  })

  it('decidedAt: whole Unix seconds, not before issued_at − 60, not after now + 60 (400); an old invocation is still reportable', async () => {
    const before = await count()
    const old = send(aliceGrant, 'old@example.com', { now: now() - 365 * 86_400 })
    for (const decidedAt of [old.issuedAt - 61, 0, -1, now() + 120, 1.5, '1767225600', null, undefined]) {
      const body: Record<string, unknown> = { invocation: formatInvocation(old), decision: 'allow' }
      if (decidedAt !== undefined) body['decidedAt'] = decidedAt
      expect(code(await http(`${url}/v1/audit/decisions`, { body, key: mailA })), String(decidedAt)).toEqual([400, 'ERR_REQUEST_MALFORMED'])
    }
    expect(await count()).toBe(before)
    // DESIGN: no freshness check — a verifier may report, a year later, on any invocation it
    // once saw, dated as early as the invocation allows.
    expect((await report(old, 'allow', { decidedAt: old.issuedAt - 60 })).status).toBe(201)
    expect(await count()).toBe(before + 1)
  })

  it('a body over the limit (413 ERR_LIMIT_SIZE) or not JSON (415 ERR_MEDIA_TYPE, 400 ERR_REQUEST_MALFORMED), nothing written', async () => {
    const before = await count()
    const huge = await report(send(), 'allow', { padding: 'x'.repeat(70 * 1024) })
    expect(code(huge)).toEqual([413, 'ERR_LIMIT_SIZE'])
    const body = { invocation: formatInvocation(send()), decision: 'allow', decidedAt: now() }
    expect(code(await http(`${url}/v1/audit/decisions`, { body, key: mailA, headers: { 'content-type': 'text/plain' } }))).toEqual([
      415,
      'ERR_MEDIA_TYPE',
    ])
    expect(code(await http(`${url}/v1/audit/decisions`, { body: '{"decision":', key: mailA }))).toEqual([400, 'ERR_REQUEST_MALFORMED'])
    expect(await count()).toBe(before)
  })

  it('nobody but a registered verifier reports (403; unsigned 401), and a captured signed report is worth nothing twice', async () => {
    const before = await count()
    for (const key of [stranger, assistant, subAgent, alice, bob, auditor]) {
      expect(code(await report(send(), 'allow', {}, key)), did(key)).toEqual([403, 'ERR_NOT_AUTHORIZED'])
    }
    const body = JSON.stringify({ invocation: formatInvocation(send()), decision: 'allow', decidedAt: now() })
    expect(code(await http(`${url}/v1/audit/decisions`, { body }))).toEqual([401, 'ERR_AUTH_REQUIRED'])
    expect(await count()).toBe(before)
    const target = `${url}/v1/audit/decisions`
    const bytes = new TextEncoder().encode(body)
    const headers = { 'content-type': 'application/json', ...signRequest({ method: 'POST', url: target, body: bytes }, mailA) }
    const first = await fetch(target, { method: 'POST', headers, body: bytes })
    expect(first.status).toBe(201)
    const again = await fetch(target, { method: 'POST', headers, body: bytes })
    expect([again.status, ((await again.json()) as { error: { code: string } }).error.code]).toEqual([401, 'ERR_AUTH_REPLAY'])
    expect(await count()).toBe(before + 1)
  })
})

describe('idempotency: the report ref', () => {
  it("two instances of one audience report the same invocation: two records; neither suppresses the other's", async () => {
    const inv = send(aliceGrant, 'twice@example.com')
    const fromA = await report(inv, 'allow')
    const fromB = await report(inv, 'allow', {}, mailB)
    expect([fromA.status, fromB.status]).toEqual([201, 201])
    expect(fromB.json['seq']).toBe((fromA.json['seq'] as number) + 1)
    expect((await recordAt(fromA.json['seq'] as number))['verifier']).toEqual({ name: 'mail', key: did(mailA) })
    expect((await recordAt(fromB.json['seq'] as number))['verifier']).toEqual({ name: 'mail', key: did(mailB) })
    // Each retry answers its own record.
    expect((await report(inv, 'allow', {}, mailB)).json).toEqual(fromB.json)
    expect((await report(inv, 'allow')).json).toEqual(fromA.json)
  })

  it('DESIGN: a retry with another decidedAt or other approvals answers the first record; the new details are dropped silently', async () => {
    const inv = send(aliceGrant, 'retry@example.com')
    const decidedAt = now() - 10
    const first = await report(inv, 'allow', { decidedAt })
    expect(first.status).toBe(201)
    const withApproval = formatApproval(approve({ approver: alice, invocation: inv }))
    const second = await report(inv, 'allow', { approvals: [withApproval] })
    expect([second.status, second.json]).toEqual([201, first.json])
    const record = await recordAt(first.json['seq'] as number)
    expect(record).toMatchObject({ decision: 'allow', approvals: [], decidedAt })
    // Another decision, or a denial with another code, is another report: another record.
    const deny = await report(inv, 'deny', { code: 'ERR_REVOKED' })
    const deny2 = await report(inv, 'deny', { code: 'ERR_APPROVAL_DENIED' })
    expect([deny.status, deny2.status]).toEqual([201, 201])
    expect(new Set([first.json['seq'], deny.json['seq'], deny2.json['seq']]).size).toBe(3)
  })
})

describe('reading the log', () => {
  it('only an auditor or a served principal reads; a principal only its own records', async () => {
    const read = async (key: KeyPair | undefined, query = '') => code(await http(`${url}/v1/audit${query}`, key ? { key } : {}))
    for (const key of [stranger, assistant, subAgent, mailA, mailB, calendar])
      expect(await read(key), did(key)).toEqual([403, 'ERR_NOT_AUTHORIZED'])
    expect(await read(undefined)).toEqual([401, 'ERR_AUTH_REQUIRED'])
    expect(await read(alice, `?principal=${BOB}`)).toEqual([403, 'ERR_NOT_AUTHORIZED'])
    expect(await read(bob, `?principal=${ALICE}`)).toEqual([403, 'ERR_NOT_AUTHORIZED'])
    // The principal's own key in another form is its own key.
    expect((await http(`${url}/v1/audit?principal=${toHex(alice.publicKey)}`, { key: alice })).status).toBe(200)
    // Authorization comes before the principal parameter is read.
    expect(await read(stranger, '?principal=nonsense')).toEqual([403, 'ERR_NOT_AUTHORIZED'])
    expect(await read(auditor, '?principal=nonsense')).toEqual([400, 'ERR_KEY_FORMAT'])
    expect(await read(alice, '?principal=nonsense')).toEqual([400, 'ERR_KEY_FORMAT'])
    expect(await read(auditor, '?principal=')).toEqual([400, 'ERR_KEY_FORMAT'])
    // A key that reads but is no usable key (small order, non-canonical) is a bad parameter too,
    // not a failed authentication: the request's own signature was good.
    const smallOrder = `01${'00'.repeat(31)}`
    for (const key of [smallOrder, 'ff'.repeat(32)]) {
      expect(await read(auditor, `?principal=${key}`), key).toEqual([400, 'ERR_KEY_FORMAT'])
      const listed = await http(`${url}/v1/approvals?approver=${key}`, { key: alice })
      expect(code(listed), key).toEqual([400, 'ERR_KEY_FORMAT'])
    }
  })

  it('a captured signed GET is refused the second time: 401 ERR_AUTH_REPLAY', async () => {
    const target = `${url}/v1/audit?since=0&limit=1`
    const headers = signRequest({ method: 'GET', url: target }, auditor)
    expect((await fetch(target, { headers })).status).toBe(200)
    const again = await fetch(target, { headers })
    expect([again.status, ((await again.json()) as { error: { code: string } }).error.code]).toEqual([401, 'ERR_AUTH_REPLAY'])
    // Nor is it worth anything with another query (the signature covers @query).
    const moved = await fetch(`${url}/v1/audit?since=0&limit=2`, { headers: signRequest({ method: 'GET', url: target }, auditor) })
    expect(moved.status).toBe(401)
  })

  it('since and limit out of range or not whole numbers: 400 ERR_REQUEST_MALFORMED', async () => {
    const bad = [
      'since=-1',
      'since=abc',
      'since=1.5',
      'since=1e3',
      'since=0x10',
      'since=',
      'since=1000000000000000',
      'limit=0',
      'limit=1001',
      'limit=-5',
      'limit=2.0',
      'limit=',
    ]
    for (const q of bad) expect(code(await http(`${url}/v1/audit?${q}`, { key: auditor })), q).toEqual([400, 'ERR_REQUEST_MALFORMED'])
    // The signature comes before the parameters (once, unsigned and malformed was 400): a
    // caller who may not read learns nothing, not even which parameter is wrong.
    expect(code(await http(`${url}/v1/audit?since=abc`))).toEqual([401, 'ERR_AUTH_REQUIRED'])
    expect(code(await http(`${url}/v1/audit?limit=0`))).toEqual([401, 'ERR_AUTH_REQUIRED'])
    expect(code(await http(`${url}/v1/audit?since=abc`, { key: stranger }))).toEqual([403, 'ERR_NOT_AUTHORIZED'])
    expect(code(await http(`${url}/v1/audit?since=abc`, { key: alice }))).toEqual([400, 'ERR_REQUEST_MALFORMED'])
    // Past the end: no records, and a checkpoint of the whole log.
    const past = await http(`${url}/v1/audit?since=999999999999999`, { key: auditor })
    expect([past.status, past.json['records'], (past.json['checkpoint'] as AuditCheckpoint).count]).toEqual([200, [], await count()])
    expect(past.json).not.toHaveProperty('anchor')
    expect(past.json).not.toHaveProperty('next')
  })

  it('a page after since > 0 carries the signed checkpoint of record since (its anchor); next exactly when the page is full', async () => {
    const n = await count()
    const page = async (query: string) => {
      const r = await http(`${url}/v1/audit?${query}`, { key: auditor })
      expect(r.status, r.text).toBe(200)
      return r.json
    }
    const first = await page('since=0&limit=3')
    expect(first).not.toHaveProperty('anchor')
    expect(first['next']).toBe(3)
    const middle = await page('since=3&limit=2')
    const anchor = middle['anchor'] as AuditCheckpoint
    expect(anchor).toMatchObject({ type: 'checkpoint', count: 3, head: full.records[2]?.hash, key: service.serviceKey })
    expect(checkpointSigned(anchor, parsePublicKey(service.serviceKey))).toBe(true)
    expect((middle['records'] as AuditEntry[]).map((r) => r.seq)).toEqual([4, 5])
    expect(middle['next']).toBe(5)
    // The page that ends at the last record, full: next (the log may grow meanwhile); then an empty page.
    const end = await page(`since=${n - 2}&limit=2`)
    expect([(end['records'] as AuditEntry[]).map((r) => r.seq), end['next'], (end['checkpoint'] as AuditCheckpoint).count]).toEqual([
      [n - 1, n],
      n,
      n,
    ])
    const after = await page(`since=${n}&limit=2`)
    expect([after['records'], after['next'], (after['anchor'] as AuditCheckpoint).count]).toEqual([[], undefined, n])
    const short = await page(`since=${n - 1}&limit=2`)
    expect([(short['records'] as AuditEntry[]).length, short['next']]).toEqual([1, undefined])
    // The anchor and the page verify as an export that starts later.
    const text = [
      JSON.stringify(anchor),
      ...(middle['records'] as AuditEntry[]).map((r) => JSON.stringify(r)),
      JSON.stringify(middle['checkpoint']),
    ]
    expect(verifyAuditExport(text.join('\n'), service.serviceKey)).toMatchObject({ ok: true, records: 2, first: 4, last: 5 })
    // A principal's page is anchored the same way, whosever record the anchor counts.
    const bobsPage = await http(`${url}/v1/audit?since=3&limit=2`, { key: bob })
    expect(bobsPage.json['anchor']).toMatchObject({ count: 3, head: full.records[2]?.hash })
    expect(bobsPage.json['records']).toEqual([stub(full.records[3] as AuditEntry), full.records[4]])
  })

  it("a principal's export holds nothing of another principal's: each other record is exactly {seq, prev, digest, hash, redacted}", () => {
    for (const [mine, self, other, secrets] of [
      [alices, ALICE, BOB, ['bob-secret-reason', 'bob-secret-intent', c.idHex, BOB]],
      [bobs, BOB, ALICE, [a.idHex, sub.idHex, ALICE, 'triage', 'sub-agent']],
    ] as const) {
      expect(mine.records.map((r) => r.seq)).toEqual(full.records.map((r) => r.seq))
      for (const [i, r] of mine.records.entries()) {
        const whole = full.records[i] as AuditEntry
        if (whole['principal'] === self) expect(r).toEqual(whole)
        else {
          expect(whole['principal']).toBe(other)
          expect(r).toEqual({ seq: whole.seq, prev: whole.prev, digest: whole.digest, hash: whole.hash, redacted: true })
        }
      }
      const text = mine.lines.join('\n')
      for (const s of secrets) expect(text).not.toContain(s)
      expect(verifyAuditExport(text, service.serviceKey)).toMatchObject({ ok: true, records: 9 })
    }
    // The sub-agent's invocation is Alice's: she sees who did it, through whom.
    expect(alices.records[7]).toMatchObject({
      type: 'decision',
      chain: [
        { block: 0, key: did(assistant), name: 'assistant' },
        { block: 1, key: did(subAgent), name: 'sub-agent', purpose: 'triage' },
      ],
    })
  })

  it('an auditor narrowing to a key the service does not serve sees every record redacted', async () => {
    const page = await http(`${url}/v1/audit?limit=9&principal=${did(stranger)}`, { key: auditor })
    expect((page.json['records'] as Record<string, unknown>[]).every((r) => r['redacted'] === true)).toBe(true)
  })

  it('a holder cannot break an export into lines: its intent stays in its record', async () => {
    const intent = 'ok\n{"type":"checkpoint","count":0}\r\n\u2028\u2029"}'
    const inv = send(aliceGrant, 'lines@example.com', { intent })
    expect((await http(`${url}/v1/approvals`, { body: { invocation: formatInvocation(inv) } })).status).toBe(201)
    const { lines, records } = await exportAll(url)
    const text = `${lines.join('\n')}\n`
    expect(text.split('\n').filter((l) => l !== '')).toHaveLength(records.length + 1)
    expect(records.find((r) => r['invocation'] === inv.idHex)?.['intent']).toBe(intent)
    expect(verifyAuditExport(text, service.serviceKey).ok).toBe(true)
  })
})

describe('checkpoints', () => {
  it('only an auditor asks for one (403; unsigned 401); what it posts is ignored; a checkpoint is no record', async () => {
    for (const key of [alice, bob, mailA, calendar, assistant, subAgent, stranger]) {
      expect(code(await http(`${url}/v1/audit/checkpoints`, { body: {}, key })), did(key)).toEqual([403, 'ERR_NOT_AUTHORIZED'])
    }
    expect(code(await http(`${url}/v1/audit/checkpoints`, { body: {} }))).toEqual([401, 'ERR_AUTH_REQUIRED'])
    const n = await count()
    const forged = await http(`${url}/v1/audit/checkpoints`, {
      body: { count: 1, head: 'f'.repeat(64), log: 'f'.repeat(32), at: 0 },
      key: auditor,
    })
    expect(forged.status).toBe(201)
    expect(forged.json).toMatchObject({ count: n, key: service.serviceKey })
    expect(forged.json['head']).toBe((await recordAt(n)).hash)
    expect(await count()).toBe(n)
    // The body is {}: anything but a JSON object is malformed (after the signature, as elsewhere).
    for (const body of ['', 'not json', '[1]', 'null', '"{}"']) {
      expect(code(await http(`${url}/v1/audit/checkpoints`, { body, key: auditor })), body).toEqual([400, 'ERR_REQUEST_MALFORMED'])
      expect(code(await http(`${url}/v1/audit/checkpoints`, { body, key: stranger })), body).toEqual([403, 'ERR_NOT_AUTHORIZED'])
    }
  })

  it('a checkpoint verifies under the service key only, and only as signed: at, log, count, head, key', () => {
    const cp = full.checkpoint
    const key = parsePublicKey(service.serviceKey)
    expect(checkpointSigned(cp, key)).toBe(true)
    expect(checkpointSigned(cp, alice.publicKey)).toBe(false)
    const records = full.lines.slice(0, -1)
    expect(verifyAuditExport(full.lines.join('\n'), did(alice)).problem).toMatchObject({ kind: 'signature', line: 10 })
    for (const change of [
      { at: cp.at + 1 },
      { log: 'a'.repeat(32) },
      { count: 8 },
      { head: '0'.repeat(64) },
      { key: did(stranger) },
      { key: toHex(parsePublicKey(service.serviceKey)) },
      { signature: '0'.repeat(128) },
    ]) {
      const changed = { ...cp, ...change }
      expect(checkpointSigned(changed, key), JSON.stringify(change)).toBe(false)
      expect(
        verifyAuditExport([...records, JSON.stringify(changed)].join('\n'), service.serviceKey).problem,
        JSON.stringify(change),
      ).toMatchObject({
        kind: 'signature',
        line: 10,
      })
    }
    for (const change of [{ count: '9' }, { at: 1.5 }, { head: 'F'.repeat(64) }]) {
      expect(verifyAuditExport([...records, JSON.stringify({ ...cp, ...change })].join('\n'), service.serviceKey).problem).toMatchObject({
        kind: 'malformed',
        line: 10,
      })
    }
  })

  // Once, `key` was outside the signature and extra fields were carried along: a checkpoint
  // could be shown as signed by another key, or with a note of anyone's making, and verify.
  it("a checkpoint's `key` is signed (another: signature); a field beyond its own (a note, a second log), or one left out: malformed", () => {
    const records = full.lines.slice(0, -1)
    const check = (cp: Record<string, unknown>) => verifyAuditExport([...records, JSON.stringify(cp)].join('\n'), service.serviceKey)
    expect(found(check({ ...full.checkpoint, key: did(stranger) }))).toEqual({ kind: 'signature', line: 10 })
    const { key: _key, ...keyless } = full.checkpoint
    // Exactly the members of spec §8.3: without its key it is no checkpoint (as it is without a head).
    expect(found(check(keyless))).toEqual({ kind: 'malformed', line: 10 })
    for (const extra of [{ note: 'verified by the auditor, all fine' }, { seq: 9 }, { redacted: true }, { logs: 'a'.repeat(32) }]) {
      expect(found(check({ ...full.checkpoint, ...extra })), JSON.stringify(extra)).toEqual({ kind: 'malformed', line: 10 })
    }
    // A repeated member: which `head` a reader keeps is not a question the file leaves open.
    const cp = full.lines[9] as string
    const twice = `{"head":"${'0'.repeat(64)}",${cp.slice(1)}`
    expect(found(verifyAuditExport([...records, twice].join('\n'), service.serviceKey))).toEqual({ kind: 'malformed', line: 10 })
  })
})

describe('an exported file, changed by whoever holds it', () => {
  const check = (ls: readonly string[]) => verifyAuditExport(ls.join('\n'), service.serviceKey)
  const replace = (ls: readonly string[], i: number, value: unknown) => ls.map((l, j) => (j === i ? JSON.stringify(value) : l))

  // Once, a redacted record's `hash` was taken on trust, so nothing tied it to the `prev` it
  // showed: whoever held a full export edited record 4 (allow → deny), rehashed it, and turned
  // record 5 into a stub whose `prev` was the new hash — the export verified, "1 redacted".
  // Now a stub keeps its digest and its hash is recomputed from seq, prev and digest.
  it('an edited, rehashed record followed by a record turned into a redacted stub is found', () => {
    const forged = rehash(parse(full.lines[3] as string), { decision: 'deny', code: 'ERR_APPROVAL_DENIED', approvals: [] })
    const edited = replace(full.lines, 3, forged)
    // The stub's prev changed, its hash kept: the stub's hash does not follow.
    expect(found(check(replace(edited, 4, { ...stub(parse(full.lines[4] as string)), prev: forged.hash })))).toEqual({
      kind: 'altered',
      line: 5,
      seq: 5,
    })
    // The stub relinked (hash recomputed): record 6 does not follow it.
    const five = relink(parse(full.lines[4] as string), forged.hash)
    let rewritten = replace(edited, 4, five)
    expect(found(check(rewritten))).toEqual({ kind: 'altered', line: 5, seq: 5 })
    // Every record after it rehashed too: only the signed checkpoint is left, and it does not match.
    let prev = five.hash
    for (let i = 5; i < 9; i++) {
      const next = rehash(parse(full.lines[i] as string), { prev })
      rewritten = replace(rewritten, i, next)
      prev = next.hash
    }
    expect(found(check(rewritten))).toEqual({ kind: 'altered', line: 10, seq: 9 })
  })

  // Once, nothing had to be turned: in a principal's export every record of another principal
  // is a stub already, so each of Alice's own records followed by one of Bob's could be
  // rewritten at will (here record 8, the sub-agent's allowed read, becomes a denial).
  it("a principal's own record, rewritten, before another principal's redacted record is found", () => {
    expect(parse(alices.lines[8] as string)['redacted']).toBe(true)
    const forged = rehash(parse(alices.lines[7] as string), { decision: 'deny', code: 'ERR_ACTION_DENIED' })
    const edited = replace(alices.lines, 7, forged)
    expect(found(check(replace(edited, 8, { ...parse(alices.lines[8] as string), prev: forged.hash })))).toEqual({
      kind: 'altered',
      line: 9,
      seq: 9,
    })
    // The stub relinked: only the checkpoint is left to tell, and it does.
    expect(found(check(replace(edited, 8, relink(parse(alices.lines[8] as string), forged.hash))))).toEqual({
      kind: 'altered',
      line: 10,
      seq: 9,
    })
    // Without the record's digest recomputed, its content does not match it.
    const lazy = { ...parse(alices.lines[7] as string), decision: 'deny', code: 'ERR_ACTION_DENIED' }
    expect(found(check(replace(alices.lines, 7, lazy)))).toEqual({ kind: 'altered', line: 8, seq: 8 })
  })

  // Once, a line with `"redacted": true` was not hashed whatever else it held: a record could be
  // replaced by a "redacted" line carrying any content, and the file showed the forged decision.
  it("a 'redacted' line that still carries (forged, or its own) content is malformed", () => {
    const original = parse(full.lines[3] as string)
    const forged = { ...original, decision: 'deny', code: 'ERR_APPROVAL_DENIED', redacted: true }
    expect(found(check(replace(full.lines, 3, forged)))).toEqual({ kind: 'malformed', line: 4, seq: 4 })
    expect(found(check(replace(full.lines, 3, { ...original, redacted: true })))).toEqual({ kind: 'malformed', line: 4, seq: 4 })
    expect(found(check(replace(full.lines, 3, { ...stub(original), note: 'x' })))).toEqual({ kind: 'malformed', line: 4, seq: 4 })
    // And a stub without its digest is no record at all.
    const { digest: _d, ...bare } = stub(original)
    expect(found(check(replace(full.lines, 3, bare)))).toEqual({ kind: 'malformed', line: 4 })
  })

  it('DESIGN: any record of a full export can be turned into its redacted stub (its content hidden); only the count tells', () => {
    // The stub keeps the record's digest, so its hash, and every one after it, still holds.
    expect(check(replace(full.lines, 3, stub(parse(full.lines[3] as string))))).toMatchObject({ ok: true, records: 9, redacted: 1 })
    // A stub with another digest (the record swapped for another, hidden) does not.
    const other = { ...stub(parse(full.lines[3] as string)), digest: parse(full.lines[4] as string)['digest'] }
    expect(found(check(replace(full.lines, 3, other)))).toEqual({ kind: 'altered', line: 4, seq: 4 })
  })

  it("DESIGN: a redacted record's digest is unsalted: whoever can guess the whole record confirms the guess", () => {
    // Alice sees Bob's denial (record 7) as a stub. Had she every other field of it (who
    // denied which request, when), she could try reasons until one matches its digest.
    const hidden = parse(alices.lines[6] as string)
    expect(hidden).toEqual(stub(full.records[6] as AuditEntry))
    const { prev: _p, digest: _d, hash: _h, ...known } = full.records[6] as AuditEntry
    const matches = ['no', 'not now', 'bob-secret-reason'].filter((reason) => auditDigest({ ...known, reason }) === hidden['digest'])
    expect(matches).toEqual(['bob-secret-reason'])
  })

  it("a redacted record's hash or digest changed: altered, at that record (in the middle, or the last)", () => {
    for (const change of [{ hash: 'e'.repeat(64) }, { digest: 'e'.repeat(64) }]) {
      const mid = replace(alices.lines, 1, { ...parse(alices.lines[1] as string), ...change })
      expect(found(check(mid)), JSON.stringify(change)).toEqual({ kind: 'altered', line: 2, seq: 2 })
      const last = replace(alices.lines, 8, { ...parse(alices.lines[8] as string), ...change })
      expect(found(check(last)), JSON.stringify(change)).toEqual({ kind: 'altered', line: 9, seq: 9 })
    }
  })

  it('a fabricated stub inserted between records (reordered) or after the last (truncated); content in place of a stub (altered)', () => {
    const r1 = parse(full.lines[0] as string)
    const digest = 'd'.repeat(64)
    const fake = { seq: 2, prev: r1['hash'], digest, hash: auditLink(2, r1['hash'] as string, digest), redacted: true }
    expect(found(check([full.lines[0] as string, JSON.stringify(fake), ...full.lines.slice(1)]))).toEqual({
      kind: 'reordered',
      line: 3,
      seq: 2,
    })
    // In place of record 2: record 3 does not follow it.
    expect(found(check(replace(full.lines, 1, fake)))).toEqual({ kind: 'altered', line: 2, seq: 2 })
    const r9 = parse(full.lines[8] as string)
    const tail = { seq: 10, prev: r9['hash'], digest, hash: auditLink(10, r9['hash'] as string, digest), redacted: true }
    expect(found(check([...full.lines.slice(0, 9), JSON.stringify(tail), full.lines[9] as string]))).toEqual({
      kind: 'truncated',
      line: 10,
      seq: 10,
    })
    // Alice "fills in" Bob's record 2 with something of her own making.
    const filled = { ...stub(parse(alices.lines[1] as string)), redacted: undefined, type: 'approval.requested', principal: ALICE }
    expect(found(check(replace(alices.lines, 1, filled)))).toEqual({ kind: 'altered', line: 2, seq: 2 })
  })

  it('a checkpoint is checked against the record it counts wherever it stands: twice, first, in the middle, swapped', async () => {
    const cp = full.lines[9] as string
    const records = full.lines.slice(0, 9)
    const c4 = JSON.stringify(await checkpointOf(url, 4))
    expect(check([...records, cp, cp])).toMatchObject({ ok: true, checkpoint: { count: 9 } })
    // Once, a checkpoint before the records it counts was never compared with them (truncated).
    expect(check([cp, ...records])).toMatchObject({ ok: true, records: 9, checkpoint: { count: 9 } })
    expect(check([...records.slice(0, 4), c4, ...records.slice(4), cp])).toMatchObject({ ok: true, checkpoint: { count: 9 } })
    expect(check([...records.slice(0, 4), cp, ...records.slice(4), c4])).toMatchObject({ ok: true, checkpoint: { count: 9 } })
    expect(check([...records, cp, c4])).toMatchObject({ ok: true, checkpoint: { count: 9 } })
    expect(found(check([...records, c4]))).toEqual({ kind: 'truncated', line: 9, seq: 9 })
    // A checkpoint counting past the last record: the records after it were cut.
    expect(found(check([...records.slice(0, 4), cp]))).toEqual({ kind: 'truncated', line: 5 })
    expect(found(check([cp, ...records.slice(0, 4), c4]))).toEqual({ kind: 'truncated', line: 1 })
    // A checkpoint in the middle that does not match its record, wherever it stands: altered, on its line.
    const edited = replace(records, 3, rehash(parse(records[3] as string), { decision: 'deny', code: 'ERR_REPLAY' }))
    expect(found(check([c4, ...edited, cp]))).toEqual({ kind: 'altered', line: 1, seq: 4 })
    expect(found(check([...edited.slice(0, 2), c4, ...edited.slice(2), cp]))).toEqual({ kind: 'altered', line: 3, seq: 4 })
  })

  it('CRLF line endings and blank lines are read; a trailing garbage line or {} is malformed', () => {
    expect(check([full.lines.join('\r\n')])).toMatchObject({ ok: true, records: 9 })
    expect(check(['', ...full.lines, '', ''])).toMatchObject({ ok: true, records: 9 })
    expect(check([...full.lines, 'garbage']).problem).toMatchObject({ kind: 'malformed', line: 11 })
    expect(check([...full.lines, '{}']).problem).toMatchObject({ kind: 'malformed', line: 11 })
    expect(check([...full.lines, 'null']).problem).toMatchObject({ kind: 'malformed', line: 11 })
  })

  it('an added field is altered; seq as a string or a fraction is malformed; 3.0 and 1e0 are the same numbers', () => {
    expect(check(replace(full.lines, 2, { ...parse(full.lines[2] as string), note: 'x' })).problem).toMatchObject({
      kind: 'altered',
      seq: 3,
      line: 3,
    })
    expect(check(replace(full.lines, 2, { ...parse(full.lines[2] as string), seq: '3' })).problem).toMatchObject({
      kind: 'malformed',
      line: 3,
    })
    expect(check(replace(full.lines, 2, { ...parse(full.lines[2] as string), seq: 3.5 })).problem).toMatchObject({
      kind: 'malformed',
      line: 3,
    })
    const spelled = full.lines.map((l, i) =>
      i === 2 ? l.replace(/"seq":3([,}])/, '"seq":3.0$1') : i === 0 ? l.replace(/"seq":1([,}])/, '"seq":1e0$1') : l,
    )
    expect(spelled[2]).toContain('"seq":3.0')
    expect(spelled[0]).toContain('"seq":1e0')
    expect(check(spelled)).toMatchObject({ ok: true, records: 9 })
  })

  // Once, JSON.parse kept the last of duplicate member names and the line verified: it could
  // show one value to a reader that keeps the first (or to a human reading it) and hash as
  // another. RFC 8785 hashes I-JSON, which has no duplicate names.
  it('a record with a duplicate member name is malformed, however the name is spelled, at any depth', () => {
    const line = full.lines[3] as string
    expect(parse(line)['decision']).toBe('allow')
    const lines = (l: string) => full.lines.map((x, i) => (i === 3 ? l : x))
    expect(found(check(lines(`{"decision":"deny",${line.slice(1)}`)))).toEqual({ kind: 'malformed', line: 4 })
    expect(found(check(lines(`{"\\u0064ecision":"deny",${line.slice(1)}`)))).toEqual({ kind: 'malformed', line: 4 })
    expect(found(check(lines(line.replace('"verifier":{', '"verifier":{"key":"x",'))))).toEqual({ kind: 'malformed', line: 4 })
    // A redacted record too.
    const stubbed = JSON.stringify(stub(parse(line)))
    expect(found(check(lines(`{"seq":5,${stubbed.slice(1)}`)))).toEqual({ kind: 'malformed', line: 4 })
    // The same name in two objects is no repeat.
    expect(line).toContain('"key":')
    expect(check(full.lines)).toMatchObject({ ok: true })
  })

  // Once, an export without its first records verified as one from `export --since` would:
  // only `first` told. Now an export that starts at n > 1 needs the signed checkpoint of n − 1.
  it('a full export without its first records is truncated; with the anchor the service signs (export --since), it verifies', async () => {
    expect(found(check(full.lines.slice(1)))).toEqual({ kind: 'truncated', line: 1, seq: 2 })
    expect(found(check(full.lines.slice(5)))).toEqual({ kind: 'truncated', line: 1, seq: 6 })
    expect(parse(full.lines[1] as string)['prev']).not.toBe('0'.repeat(64))
    const page = await http(`${url}/v1/audit?since=5&limit=4`, { key: auditor })
    const anchor = JSON.stringify(page.json['anchor'])
    expect(page.json['anchor']).toMatchObject({ count: 5, head: full.records[4]?.hash })
    expect(check([anchor, ...full.lines.slice(5)])).toMatchObject({ ok: true, records: 4, first: 6, last: 9 })
    // An anchor after the first record anchors nothing.
    expect(found(check([full.lines[5] as string, anchor, ...full.lines.slice(6)]))).toEqual({ kind: 'truncated', line: 1, seq: 6 })
  })

  it('record 1 that does not start a log, a record that does not follow its anchor: foreign; a cut after the anchor: truncated', async () => {
    expect(found(check(replace(full.lines, 0, rehash(parse(full.lines[0] as string), { prev: '1'.repeat(64) }))))).toEqual({
      kind: 'foreign',
      line: 1,
      seq: 1,
    })
    const c3 = JSON.stringify(await checkpointOf(url, 3))
    expect(check([c3, ...full.lines.slice(3)])).toMatchObject({ ok: true, first: 4 })
    const moved = rehash(parse(full.lines[3] as string), { prev: '1'.repeat(64) })
    expect(found(check([c3, JSON.stringify(moved), ...full.lines.slice(4)]))).toEqual({ kind: 'foreign', line: 2, seq: 4 })
    // Once, an anchor pinned the start only when the next record was exactly count + 1: records
    // cut right after it (here record 4) went unnoticed, as did cutting the anchor itself.
    expect(found(check([c3, ...full.lines.slice(4)]))).toEqual({ kind: 'truncated', line: 2, seq: 5 })
    expect(found(check(full.lines.slice(3)))).toEqual({ kind: 'truncated', line: 1, seq: 4 })
  })

  // Any checkpoint of record n − 1 before the first record anchors it (spec §8.4 step 2), not
  // only the last one (once a false alarm: another checkpoint in between failed a sound export).
  it('an anchor followed by another checkpoint before the first record still anchors it', async () => {
    const c3 = JSON.stringify(await checkpointOf(url, 3))
    expect(check([c3, full.lines[9] as string, ...full.lines.slice(3, 9)])).toMatchObject({ ok: true, first: 4, last: 9 })
  })
})

describe('a history rewritten in the database (by whoever can write it)', () => {
  let rw: RunningService
  let dir: string
  let kept: AuditCheckpoint
  let lines: string[]
  beforeAll(async () => {
    dir = scratch()
    rw = await startService(serviceConfig(dir))
    const invs = [send(), send(aliceGrant, 'x@example.com'), send(aliceGrant, 'y@example.com')]
    for (const inv of invs) expect((await http(`${rw.url}/v1/approvals`, { body: { invocation: formatInvocation(inv) } })).status).toBe(201)
    const approval = formatApproval(approve({ approver: alice, invocation: invs[0] as UnverifiedInvocation }))
    expect((await http(`${rw.url}/v1/approvals/${invs[0]?.idHex}`, { body: { approval }, key: alice })).status).toBe(200)
    // The auditor keeps a checkpoint of 4 records.
    const made = await http(`${rw.url}/v1/audit/checkpoints`, { body: {}, key: auditor })
    kept = made.json as unknown as AuditCheckpoint
    expect(kept.count).toBe(4)
    expect(
      (await http(`${rw.url}/v1/approvals`, { body: { invocation: formatInvocation(send(aliceGrant, 'z@example.com')) } })).status,
    ).toBe(201)
    // Record 2's intent is rewritten, and the chain rehashed from there.
    const db = new Database(join(dir, 'm.db'))
    const rows = db.prepare('SELECT seq, record FROM audit_log ORDER BY seq').all() as { seq: number; record: string }[]
    let prev = '0'.repeat(64)
    const update = db.prepare('UPDATE audit_log SET record = ? WHERE seq = ?')
    for (const row of rows) {
      const r = JSON.parse(row.record) as Record<string, unknown>
      const next = rehash(r, { prev, ...(row.seq === 2 ? { intent: 'forged' } : {}) })
      update.run(JSON.stringify(next), row.seq)
      prev = next.hash
    }
    db.close()
    lines = (await exportAll(rw.url)).lines
    expect(parse(lines[1] as string)['intent']).toBe('forged')
  }, 30_000)
  afterAll(async () => {
    await rw?.close()
  })
  const check = (ls: readonly string[]) => verifyAuditExport(ls.join('\n'), rw.serviceKey)

  it('DESIGN: the service signs a fresh checkpoint over whatever its database holds: the rewritten export verifies alone', () => {
    expect(check(lines)).toMatchObject({ ok: true, records: 5 })
  })

  it('a checkpoint kept from before, placed after the records it counts, finds the rewrite', () => {
    expect(found(check([...lines, JSON.stringify(kept)]))).toEqual({ kind: 'altered', line: 7, seq: 4 })
    expect(found(check([...lines.slice(0, 4), JSON.stringify(kept), ...lines.slice(4)]))).toEqual({ kind: 'altered', line: 5, seq: 4 })
  })

  // Once, a checkpoint's head was compared only with records read before it, so the kept
  // checkpoint placed before the records it counts was never compared with them: ok.
  it('the same kept checkpoint placed before the records, or among them before record 4, finds it too', () => {
    expect(found(check([JSON.stringify(kept), ...lines]))).toEqual({ kind: 'altered', line: 1, seq: 4 })
    expect(found(check([...lines.slice(0, 2), JSON.stringify(kept), ...lines.slice(2)]))).toEqual({ kind: 'altered', line: 3, seq: 4 })
  })
})

describe('durability and atomicity: what changes nothing writes nothing', () => {
  it('a refused, repeated or redundant revocation writes no record', async () => {
    const grant = grantOf(alice)
    const below = attenuate(grant, { key: assistant, to: did(subAgent), caveats: [{ type: 'actions', patterns: ['email:read'] }] })
    const post = (revocation: ReturnType<typeof createRevocation>) =>
      http(`${url}/v1/revocations`, { body: { revocation: formatRevocation(revocation) } })
    const n = await count()
    const first = createRevocation({ mandate: grant, key: alice, reason: 'done' })
    expect((await post(first)).status).toBe(201)
    expect(await count()).toBe(n + 1)
    expect((await post(first)).status).toBe(200)
    expect((await post(createRevocation({ mandate: grant, key: alice, reason: 'done, again' }))).status).toBe(200)
    expect(code(await post(createRevocation({ mandate: below, key: assistant, reason: 'below' })))).toEqual([403, 'ERR_REVOKED'])
    const unserved = mint({ principal: stranger, to: did(assistant), caveats: [{ type: 'window', expires: now() + 60 }] })
    expect(code(await post(createRevocation({ mandate: unserved, key: stranger })))).toEqual([403, 'ERR_ROOT_UNTRUSTED'])
    expect(await count()).toBe(n + 1)
  })

  it('a repeated request, approval or denial, or one the request no longer takes, writes no record', async () => {
    const p = send(aliceGrant, 'p@example.com')
    const q = send(aliceGrant, 'q@example.com')
    const file = (inv: UnverifiedInvocation) => http(`${url}/v1/approvals`, { body: { invocation: formatInvocation(inv) } })
    const approveIt = (inv: UnverifiedInvocation, ttl = 600) =>
      http(`${url}/v1/approvals/${inv.idHex}`, {
        body: { approval: formatApproval(approve({ approver: alice, invocation: inv, ttl })) },
        key: alice,
      })
    const deny = (inv: UnverifiedInvocation, reason = 'no') =>
      http(`${url}/v1/approvals/${inv.idHex}/deny`, { body: { reason }, key: alice })
    const n = await count()
    expect((await file(p)).status).toBe(201)
    expect((await file(q)).status).toBe(201)
    expect(await count()).toBe(n + 2)
    // Filed again: the same request, nothing new.
    expect((await file(p)).status).toBe(201)
    expect(await count()).toBe(n + 2)
    expect((await approveIt(p)).status).toBe(200)
    expect(await count()).toBe(n + 3)
    expect((await approveIt(p)).status).toBe(200)
    expect((await approveIt(p, 900)).status).toBe(200)
    expect(code(await deny(p))).toEqual([409, 'ERR_CONFLICT'])
    expect((await deny(q)).status).toBe(200)
    expect(await count()).toBe(n + 4)
    expect((await deny(q, 'no, again')).status).toBe(200)
    expect(code(await approveIt(q))).toEqual([409, 'ERR_CONFLICT'])
    expect(await count()).toBe(n + 4)
  })

  it('two services on one SQLite file: concurrent reports from two verifiers form one chain; one report is one record', async () => {
    const path = join(scratch(), 'shared.db')
    const stores = [openSqliteStore(path), openSqliteStore(path)]
    const key = generateKeyPair()
    const apps = stores.map((store) =>
      createApp({
        store,
        key,
        roots: [{ name: 'alice', key: ALICE }],
        verifiers: [
          { name: 'mail', key: did(mailA) },
          { name: 'mail', key: did(mailB) },
        ],
        auditors: [{ name: 'audit', key: did(auditor) }],
      }),
    )
    const call = async (i: number, path: string, signer: KeyPair, body?: unknown) => {
      const target = `http://audit.test${path}`
      const bytes = body === undefined ? undefined : new TextEncoder().encode(JSON.stringify(body))
      const method = bytes ? 'POST' : 'GET'
      const res = await (apps[i % 2] as ReturnType<typeof createApp>).request(target, {
        method,
        headers: {
          ...(bytes ? { 'content-type': 'application/json' } : {}),
          ...signRequest({ method, url: target, ...(bytes ? { body: bytes } : {}) }, signer),
        },
        ...(bytes ? { body: bytes } : {}),
      })
      return { status: res.status, json: (await res.json()) as Record<string, unknown> }
    }
    try {
      const decide = (inv: UnverifiedInvocation) => ({ invocation: formatInvocation(inv), decision: 'allow', decidedAt: now() })
      const invs = Array.from({ length: 10 }, (_, i) => send(aliceGrant, `n${i}@example.com`))
      const answers = await Promise.all(
        invs.flatMap((inv, i) => [
          call(i, '/v1/audit/decisions', mailA, decide(inv)),
          call(i + 1, '/v1/audit/decisions', mailB, decide(inv)),
        ]),
      )
      expect(answers.map((r) => r.status)).toEqual(Array(20).fill(201))
      expect(answers.map((r) => r.json['seq'] as number).sort((x, y) => x - y)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1))
      // One report sent through both at once: one record, one answer.
      const shared = decide(send(aliceGrant, 'shared@example.com'))
      const [x, y] = await Promise.all([call(0, '/v1/audit/decisions', mailA, shared), call(1, '/v1/audit/decisions', mailA, shared)])
      expect([x?.status, y?.status, x?.json['seq']]).toEqual([201, 201, 21])
      expect(y?.json).toEqual(x?.json)
      const page = await call(1, '/v1/audit?limit=100', auditor)
      const records = page.json['records'] as AuditEntry[]
      expect(records.map((r) => r.seq)).toEqual(Array.from({ length: 21 }, (_, i) => i + 1))
      const text = [...records.map((r) => JSON.stringify(r)), JSON.stringify(page.json['checkpoint'])].join('\n')
      expect(verifyAuditExport(text, did(key))).toMatchObject({ ok: true, records: 21 })
    } finally {
      for (const store of stores) await store.close()
    }
  })
})
