import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  approve,
  createRevocation,
  formatApproval,
  formatInvocation,
  formatRevocation,
  generateKeyPair,
  invoke,
  type KeyPair,
  mint,
  toDidKey,
  type UnverifiedInvocation,
} from '../../src/index.js'
import {
  type AuditCheckpoint,
  type AuditEntry,
  auditDigest,
  auditHash,
  auditLink,
  signCheckpoint,
  verifyAuditExport,
} from '../../src/service/audit.js'
import type { RunningService } from '../../src/service/server.js'
import { scratch } from '../helpers/cli.js'
import { http, startServiceIn } from '../helpers/service.js'

const alice = generateKeyPair()
const bob = generateKeyPair()
const assistant = generateKeyPair()
const mailVerifier = generateKeyPair()
const auditor = generateKeyPair()
const stranger = generateKeyPair()
const ALICE = toDidKey(alice.publicKey)
const BOB = toDidKey(bob.publicKey)
const now = () => Math.floor(Date.now() / 1000)

const grantOf = (principal: KeyPair) =>
  mint({
    principal,
    to: toDidKey(assistant.publicKey),
    name: 'assistant',
    purpose: 'run my inbox',
    caveats: [
      { type: 'actions', patterns: ['email:*'] },
      { type: 'approval', actions: ['email:send'], approvers: [toDidKey(principal.publicKey)], quorum: 1 },
      { type: 'window', expires: now() + 3600 },
    ],
  })
const aliceGrant = grantOf(alice)
const bobGrant = grantOf(bob)
const send = (grant = aliceGrant, to = 'carol@example.com') =>
  invoke(grant, { key: assistant, action: 'email:send', resource: 'outbox', args: { to, body: 'hi' }, audience: 'mail', intent: 'reply' })

async function serve(extra: { auditArgs?: boolean } = {}): Promise<RunningService> {
  const dir = scratch()
  return startServiceIn(dir, {
    trust: {
      roots: [
        { name: 'alice', key: ALICE },
        { name: 'bob', key: BOB },
      ],
      verifiers: [{ name: 'mail', key: toDidKey(mailVerifier.publicKey) }],
    },
    auditors: [{ name: 'audit', key: toDidKey(auditor.publicKey) }],
    ...extra,
  })
}

const report = (
  url: string,
  inv: UnverifiedInvocation,
  decision: 'allow' | 'deny',
  more: Record<string, unknown> = {},
  key = mailVerifier,
) => http(`${url}/v1/audit/decisions`, { body: { invocation: formatInvocation(inv), decision, decidedAt: now(), ...more }, key })

/** The whole log as `mandate audit export` writes it: records, then the last page's checkpoint. */
async function exportAll(
  url: string,
  key = auditor,
  query = '',
): Promise<{ lines: string[]; records: AuditEntry[]; checkpoint: AuditCheckpoint }> {
  const records: AuditEntry[] = []
  let since = 0
  let checkpoint: AuditCheckpoint | undefined
  for (;;) {
    const page = await http(`${url}/v1/audit?since=${since}&limit=3${query}`, { key })
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

let service: RunningService
let a: UnverifiedInvocation
let b: UnverifiedInvocation
beforeAll(async () => {
  service = await serve()
  const url = service.url
  // The story: the assistant asks Alice twice, and Bob once; Alice approves one and denies the
  // other; the mail service reports its decisions; Alice revokes the grant.
  a = send()
  b = send(aliceGrant, 'eve@example.com')
  const c = send(bobGrant)
  for (const inv of [a, b, c]) expect((await http(`${url}/v1/approvals`, { body: { invocation: formatInvocation(inv) } })).status).toBe(201)
  const approval = formatApproval(approve({ approver: alice, invocation: a }))
  expect((await http(`${url}/v1/approvals/${a.idHex}`, { body: { approval }, key: alice })).status).toBe(200)
  expect((await http(`${url}/v1/approvals/${b.idHex}/deny`, { body: { reason: 'not Eve' }, key: alice })).status).toBe(200)
  expect((await report(url, a, 'deny', { code: 'ERR_APPROVAL_REQUIRED' })).status).toBe(201)
  expect((await report(url, a, 'allow', { approvals: [approval] })).status).toBe(201)
  expect((await report(url, c, 'deny', { code: 'ERR_APPROVAL_REQUIRED' })).status).toBe(201)
  const revocation = createRevocation({ mandate: aliceGrant, key: alice, reason: 'done' })
  expect((await http(`${url}/v1/revocations`, { body: { revocation: formatRevocation(revocation) } })).status).toBe(201)
}, 30_000)
afterAll(async () => {
  await service?.close()
})

describe('what the log records', () => {
  it("the service's events and the verifier's decisions, in order, chained; arguments as a digest", async () => {
    const { records, checkpoint } = await exportAll(service.url)
    expect(records.map((r) => [r.seq, r.type, r['request'] ?? r['invocation'] ?? r['blockId'], r['decision'] ?? r['by'] ?? null])).toEqual([
      [1, 'approval.requested', a.idHex, null],
      [2, 'approval.requested', b.idHex, null],
      [3, 'approval.requested', expect.any(String), null],
      [4, 'approval.approved', a.idHex, ALICE],
      [5, 'approval.denied', b.idHex, ALICE],
      [6, 'decision', a.idHex, 'deny'],
      [7, 'decision', a.idHex, 'allow'],
      [8, 'decision', expect.any(String), 'deny'],
      [9, 'revocation', aliceGrant.blocks[0]?.idHex, ALICE],
    ])
    for (const [i, r] of records.entries()) {
      expect(r.prev).toBe(i === 0 ? '0'.repeat(64) : records[i - 1]?.hash)
      expect(auditHash(r)).toBe(r.hash)
    }
    // Who, what, why, when, on whose behalf — and by which verifier, with which approvals.
    expect(records[6]).toMatchObject({
      type: 'decision',
      verifier: { name: 'mail', key: toDidKey(mailVerifier.publicKey) },
      decision: 'allow',
      invocation: a.idHex,
      principal: ALICE,
      chain: [{ block: 0, key: toDidKey(assistant.publicKey), name: 'assistant', purpose: 'run my inbox' }],
      action: 'email:send',
      resource: 'outbox',
      audience: 'mail',
      intent: 'reply',
      approvals: [ALICE],
      argsDigest: expect.stringMatching(/^sha-256:[0-9a-f]{64}$/),
    })
    expect(records[5]).toMatchObject({ decision: 'deny', code: 'ERR_APPROVAL_REQUIRED', approvals: [] })
    expect(records[4]).toMatchObject({ type: 'approval.denied', principal: ALICE, by: ALICE, reason: 'not Eve' })
    expect(records[8]).toMatchObject({ type: 'revocation', kind: 'revoke', principal: ALICE, block: 0, by: ALICE, reason: 'done' })
    // Arguments are kept as a digest only (the operator did not opt in).
    for (const r of records) expect(r['args']).toBeUndefined()
    expect(JSON.stringify(records)).not.toContain('carol@example.com')
    expect(checkpoint).toMatchObject({ type: 'checkpoint', count: 9, head: records[8]?.hash, key: service.serviceKey })
  })

  it('a retried report answers the same place, and adds nothing', async () => {
    const before = (await exportAll(service.url)).records.length
    const again = await report(service.url, a, 'deny', { code: 'ERR_APPROVAL_REQUIRED' })
    expect([again.status, again.json['seq']]).toEqual([201, 6])
    expect((await exportAll(service.url)).records).toHaveLength(before)
  })

  it('refuses reports it cannot check, with the exact code', async () => {
    const url = service.url
    const code = (r: { status: number; json: Record<string, unknown> }) => [r.status, (r.json['error'] as { code: string }).code]
    expect(
      code(await http(`${url}/v1/audit/decisions`, { body: { invocation: formatInvocation(a), decision: 'allow', decidedAt: now() } })),
    ).toEqual([401, 'ERR_AUTH_REQUIRED'])
    expect(code(await report(url, a, 'allow', {}, stranger))).toEqual([403, 'ERR_NOT_AUTHORIZED'])
    const elsewhere = invoke(aliceGrant, { key: assistant, action: 'email:read', audience: 'calendar' })
    expect(code(await report(url, elsewhere, 'allow'))).toEqual([403, 'ERR_AUDIENCE'])
    expect(code(await report(url, a, 'deny'))).toEqual([400, 'ERR_REQUEST_MALFORMED'])
    expect(code(await report(url, a, 'deny', { code: 'ERR_MADE_UP' }))).toEqual([400, 'ERR_REQUEST_MALFORMED'])
    expect(code(await report(url, a, 'allow', { code: 'ERR_REVOKED' }))).toEqual([400, 'ERR_REQUEST_MALFORMED'])
    expect(code(await report(url, a, 'maybe' as 'allow'))).toEqual([400, 'ERR_REQUEST_MALFORMED'])
    expect(code(await report(url, a, 'allow', { decidedAt: now() + 3600 }))).toEqual([400, 'ERR_REQUEST_MALFORMED'])
    const forB = formatApproval(approve({ approver: alice, invocation: b }))
    expect(code(await report(url, a, 'allow', { approvals: [forB] }))).toEqual([400, 'ERR_APPROVAL_INVALID'])
    const byStranger = formatApproval(approve({ approver: stranger, invocation: a }))
    expect(code(await report(url, a, 'allow', { approvals: [byStranger] }))).toEqual([400, 'ERR_APPROVAL_INVALID'])
    const foreign = mint({
      principal: stranger,
      caveats: [
        { type: 'actions', patterns: ['x'] },
        { type: 'window', expires: now() + 60 },
      ],
    })
    const strangers = invoke(foreign, { action: 'x', audience: 'mail' })
    expect(code(await report(url, strangers, 'allow'))).toEqual([403, 'ERR_ROOT_UNTRUSTED'])
  })
})

describe('who reads it', () => {
  it('an auditor reads everything; a principal its own records whole and the others as their place; nobody else', async () => {
    const all = await exportAll(service.url)
    const mine = await exportAll(service.url, alice)
    expect(mine.records.map((r) => (r['redacted'] ? 'redacted' : r['principal']))).toEqual(
      all.records.map((r) => (r['principal'] === ALICE ? ALICE : 'redacted')),
    )
    for (const [i, r] of mine.records.entries()) {
      expect([r.seq, r.prev, r.hash]).toEqual([all.records[i]?.seq, all.records[i]?.prev, all.records[i]?.hash])
      if (r['redacted']) expect(Object.keys(r).sort()).toEqual(['digest', 'hash', 'prev', 'redacted', 'seq'])
    }
    const checked = verifyAuditExport(mine.lines.join('\n'), service.serviceKey)
    expect(checked).toMatchObject({ ok: true, records: 9, redacted: 2, first: 1, last: 9 })
    // An auditor may narrow to one principal.
    const bobs = await exportAll(service.url, auditor, `&principal=${BOB}`)
    expect(bobs.records.filter((r) => !r['redacted']).map((r) => r['principal'])).toEqual([BOB, BOB])
    const code = async (key: KeyPair, query = '') => {
      const r = await http(`${service.url}/v1/audit${query}`, { key })
      return [r.status, (r.json['error'] as { code: string } | undefined)?.code]
    }
    expect(await code(stranger)).toEqual([403, 'ERR_NOT_AUTHORIZED'])
    expect(await code(assistant)).toEqual([403, 'ERR_NOT_AUTHORIZED'])
    expect(await code(mailVerifier)).toEqual([403, 'ERR_NOT_AUTHORIZED'])
    expect(await code(alice, `?principal=${BOB}`)).toEqual([403, 'ERR_NOT_AUTHORIZED'])
    expect((await http(`${service.url}/v1/audit`)).status).toBe(401)
    // Checkpoints on demand: auditors only.
    const made = await http(`${service.url}/v1/audit/checkpoints`, { body: {}, key: auditor })
    expect([made.status, made.json['count'], made.json['key']]).toEqual([201, 9, service.serviceKey])
    expect((await http(`${service.url}/v1/audit/checkpoints`, { body: {}, key: alice })).status).toBe(403)
  })

  it('keeps the arguments themselves only when the operator opts in', async () => {
    const kept = await serve({ auditArgs: true })
    try {
      const inv = send()
      expect((await http(`${kept.url}/v1/approvals`, { body: { invocation: formatInvocation(inv) } })).status).toBe(201)
      const { records } = await exportAll(kept.url)
      expect(records[0]?.['args']).toEqual({ to: 'carol@example.com', body: 'hi' })
    } finally {
      await kept.close()
    }
  })
})

describe('verifyAuditExport: every tampering is found, and named', () => {
  let lines: string[]
  let other: string[]
  beforeAll(async () => {
    lines = (await exportAll(service.url)).lines
    const second = await serve()
    try {
      for (const inv of [send(), send(aliceGrant, 'x@example.com'), send(aliceGrant, 'y@example.com')]) {
        await http(`${second.url}/v1/approvals`, { body: { invocation: formatInvocation(inv) } })
      }
      other = (await exportAll(second.url)).lines
    } finally {
      await second.close()
    }
  })
  const check = (ls: readonly string[]) => verifyAuditExport(ls.join('\n'), service.serviceKey)
  const edit = (ls: readonly string[], i: number, change: (r: Record<string, unknown>) => Record<string, unknown>) =>
    ls.map((l, j) => (j === i ? JSON.stringify(change(JSON.parse(l) as Record<string, unknown>)) : l))

  it('accepts the export as it came', () => {
    expect(check(lines)).toMatchObject({ ok: true, records: 9, first: 1, last: 9, redacted: 0 })
  })

  /** The last record edited; its hash recomputed, and its digest too when `digest`. */
  const last = (digest: boolean) =>
    edit(lines, 8, (r) => {
      const changed = { ...r, reason: 'never happened' }
      const d = digest ? auditDigest(changed) : (r['digest'] as string)
      return { ...changed, digest: d, hash: auditLink(r['seq'] as number, r['prev'] as string, d) }
    })

  it('an edited record, with or without its hash recomputed', () => {
    const edited = edit(lines, 3, (r) => ({ ...r, by: BOB }))
    expect(check(edited).problem).toMatchObject({ kind: 'altered', seq: 4, line: 4 })
    const rehashed = edit(lines, 3, (r) => {
      const changed = { ...r, by: BOB }
      return { ...changed, hash: auditHash(changed) }
    })
    expect(check(rehashed).problem).toMatchObject({ kind: 'altered', seq: 4, line: 4 })
    expect(check(last(false)).problem).toMatchObject({ kind: 'altered', seq: 9, line: 9 })
    // The last record with its digest and hash made anew: only the signed checkpoint can tell.
    expect(check(last(true)).problem).toMatchObject({ kind: 'altered', seq: 9, line: 10 })
  })

  it('a deleted record, records out of order, a repeated one', () => {
    expect(check(lines.filter((_, i) => i !== 4)).problem).toMatchObject({ kind: 'missing', seq: 5, line: 5 })
    const swapped = [...lines]
    ;[swapped[2], swapped[3]] = [swapped[3] as string, swapped[2] as string]
    // Named as what it is: record 4 comes first, record 3 is further down.
    expect(check(swapped).problem).toMatchObject({ kind: 'reordered', seq: 4, line: 3 })
    const back = [...lines.slice(0, 4), lines[2] as string, ...lines.slice(4)]
    expect(check(back).problem).toMatchObject({ kind: 'reordered', seq: 3, line: 5 })
  })

  it('a truncated export: records cut after the checkpoint, or the checkpoint cut', () => {
    const cut = [...lines.slice(0, 7), lines[9] as string]
    expect(check(cut).problem).toMatchObject({ kind: 'truncated', line: 8 })
    expect(check(lines.slice(0, 9)).problem).toMatchObject({ kind: 'truncated', seq: 9 })
    expect(check([]).problem).toMatchObject({ kind: 'truncated' })
  })

  it('a splice from another log, and a checkpoint of another log or key', () => {
    const spliced = [...lines.slice(0, 2), other[2] as string, ...lines.slice(3)]
    expect(check(spliced).problem).toMatchObject({ kind: 'altered', seq: 3, line: 3 })
    const whole = check(other)
    expect(whole.problem).toMatchObject({ kind: 'signature', line: 4 })
    const forged = signCheckpoint({ log: 'f'.repeat(32), count: 9, head: JSON.parse(lines[8] as string).hash, at: now() }, stranger)
    expect(check([...lines.slice(0, 9), JSON.stringify(forged)]).problem).toMatchObject({ kind: 'signature', line: 10 })
    const mismatched = JSON.parse(lines[9] as string) as AuditCheckpoint
    const ofAnother = signCheckpoint(
      { log: mismatched.log, count: 5, head: JSON.parse(lines[4] as string).hash, at: now() },
      generateKeyPair(),
    )
    expect(check([...lines, JSON.stringify(ofAnother)]).problem).toMatchObject({ kind: 'signature' })
  })

  it('garbage: a line that is not JSON, not an object, not a record', () => {
    expect(check(['not json', ...lines]).problem).toMatchObject({ kind: 'malformed', line: 1 })
    expect(check(['[1,2]', ...lines]).problem).toMatchObject({ kind: 'malformed', line: 1 })
    expect(check(['{"seq":1}', ...lines]).problem).toMatchObject({ kind: 'malformed', line: 1 })
  })
})

describe('retention (spec §8.5)', () => {
  it('records past it go, but for the newest; what remains is anchored by the checkpoint kept as they went', async () => {
    const dir = scratch()
    const kept = await startServiceIn(dir, {
      trust: { roots: [{ name: 'alice', key: ALICE }] },
      auditors: [{ name: 'audit', key: toDidKey(auditor.publicKey) }],
      auditRetention: 86_400,
    })
    try {
      // Two records from two days ago (as the store appends them), then one now.
      const old = now() - 2 * 86_400
      await kept.store.appendAudit([
        { at: old, type: 'decision', principal: ALICE, n: 1 },
        { at: old + 1, type: 'decision', principal: ALICE, n: 2 },
      ])
      await kept.housekeep()
      // Both past it, but the newest stays: the chain goes on from it.
      expect((await exportAll(kept.url)).records.map((r) => r.seq)).toEqual([2])
      expect((await http(`${kept.url}/v1/approvals`, { body: { invocation: formatInvocation(send()) } })).status).toBe(201)
      await kept.housekeep()
      const after = await exportAll(kept.url)
      expect(after.records.map((r) => r.seq)).toEqual([3])
      // The page carries the checkpoint of record 2, kept when it went: the export verifies from there.
      const page = await http(`${kept.url}/v1/audit`, { key: auditor })
      const anchor = page.json['anchor'] as AuditCheckpoint
      expect(anchor).toMatchObject({ type: 'checkpoint', count: 2, head: after.records[0]?.prev, key: kept.serviceKey })
      expect(verifyAuditExport([JSON.stringify(anchor), ...after.lines].join('\n'), kept.serviceKey)).toMatchObject({
        ok: true,
        first: 3,
        last: 3,
      })
      // Without it, the cut is named.
      expect(verifyAuditExport(after.lines.join('\n'), kept.serviceKey).problem).toMatchObject({ kind: 'truncated', seq: 3 })
      // A young log keeps everything.
      await kept.housekeep()
      expect((await exportAll(kept.url)).records.map((r) => r.seq)).toEqual([3])
    } finally {
      await kept.close()
    }
  })
})
