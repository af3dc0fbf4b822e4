/**
 * The audit trail's pure core (spec/service-v1.md §8.1, §8.3, §8.4) without a service: a log
 * built with `chainRecord` and `signCheckpoint`, its bytes checked against the spec's formulas
 * computed here independently (node:crypto), and `verifyAuditExport`'s exact answer for each way
 * an export can be wrong.
 */
import { createHash, createPublicKey, verify as nodeVerify } from 'node:crypto'
import canonicalize from 'canonicalize'
import { describe, expect, it } from 'vitest'
import { generateKeyPair, parsePublicKey, toDidKey } from '../../src/index.js'
import {
  type AuditEntry,
  canonicalJson,
  chainRecord,
  checkpointSigned,
  GENESIS,
  redact,
  signCheckpoint,
  verifyAuditExport,
} from '../../src/service/audit.js'

const key = generateKeyPair()
const SERVICE = toDidKey(key.publicKey)
const LOG = 'ab'.repeat(16)
const sha = (text: string) => createHash('sha256').update(text, 'utf8').digest('hex')

/** A log of `n` records, as the store chains them. */
function logOf(n: number): AuditEntry[] {
  const out: AuditEntry[] = []
  for (let seq = 1; seq <= n; seq++) {
    out.push(
      chainRecord({ at: 1000 + seq, type: 'decision', principal: seq % 2 ? 'did:p' : 'did:q', n: seq }, seq, out[seq - 2]?.hash ?? GENESIS),
    )
  }
  return out
}
const cp = (r: AuditEntry | undefined, count = r?.seq ?? 0, at = 5000) =>
  signCheckpoint({ log: LOG, count, head: r?.hash ?? GENESIS, at }, key)
const line = (v: unknown) => JSON.stringify(v)
const check = (ls: readonly unknown[]) => verifyAuditExport(ls.map((l) => (typeof l === 'string' ? l : line(l))).join('\n'), SERVICE)

describe('the formulas of spec §8.1 and §8.3, computed independently', () => {
  it('digest, hash and the checkpoint signature', () => {
    const [r1, r2] = logOf(2) as [AuditEntry, AuditEntry]
    const content = { at: 1001, n: 1, principal: 'did:p', seq: 1, type: 'decision' }
    expect(r1.digest).toBe(sha(`mandate-audit-record-v1\n${canonicalize(content)}`))
    expect(r1.hash).toBe(sha(`mandate-audit-link-v1\n1.${GENESIS}.${r1.digest}`))
    expect(r2.prev).toBe(r1.hash)
    expect(r2.hash).toBe(sha(`mandate-audit-link-v1\n2.${r1.hash}.${r2.digest}`))
    const c = cp(r2)
    expect(c).toEqual({
      type: 'checkpoint',
      log: LOG,
      count: 2,
      head: r2.hash,
      at: 5000,
      key: SERVICE,
      signature: expect.stringMatching(/^[0-9a-f]{128}$/),
    })
    const signed = `mandate-audit-checkpoint-v1\n${canonicalize({ at: 5000, count: 2, head: r2.hash, key: SERVICE, log: LOG })}`
    const spki = Buffer.concat([Buffer.from('302a300506032b6570032100', 'hex'), Buffer.from(parsePublicKey(SERVICE))])
    const publicKey = createPublicKey({ key: spki, format: 'der', type: 'spki' })
    expect(nodeVerify(null, Buffer.from(signed, 'utf8'), publicKey, Buffer.from(c.signature, 'hex'))).toBe(true)
    expect(redact(r2)).toEqual({ seq: 2, prev: r1.hash, digest: r2.digest, hash: r2.hash, redacted: true })
    expect(canonicalJson({ b: 1, a: [true, 'x'] })).toBe('{"a":[true,"x"],"b":1}')
    expect(() => canonicalJson(undefined)).toThrow(TypeError)
  })

  it('checkpointSigned: another key, a short or non-hex signature, a missing key field', () => {
    const c = cp(logOf(1)[0])
    const pub = parsePublicKey(SERVICE)
    expect(checkpointSigned(c, pub)).toBe(true)
    expect(checkpointSigned(c, generateKeyPair().publicKey)).toBe(false)
    expect(checkpointSigned({ ...c, signature: c.signature.slice(0, 126) }, pub)).toBe(false)
    expect(checkpointSigned({ ...c, signature: `zz${c.signature.slice(2)}` }, pub)).toBe(false)
    expect(checkpointSigned({ ...c, signature: 7 as unknown as string }, pub)).toBe(false)
    expect(checkpointSigned({ ...c, key: 7 as unknown as string }, pub)).toBe(false)
  })
})

describe('verifyAuditExport: its exact answers', () => {
  const log = logOf(5)
  const full = [...log, cp(log[4])]

  it('an intact export: every field of the answer', () => {
    expect(check(full)).toEqual({ ok: true, records: 5, first: 1, last: 5, redacted: 0, checkpoint: cp(log[4]) })
    // CR LF line ends and blank lines change nothing; redacted records count apart.
    const crlf = full.map((l) => line(l)).join('\r\n\r\n')
    expect(verifyAuditExport(crlf, SERVICE)).toMatchObject({ ok: true, records: 5 })
    expect(check([log[0], redact(log[1] as AuditEntry), ...log.slice(2), cp(log[4])])).toMatchObject({ ok: true, redacted: 1 })
    // The empty log: one checkpoint of 0 records.
    expect(check([cp(undefined)])).toEqual({ ok: true, records: 0, redacted: 0, checkpoint: cp(undefined) })
  })

  it('the checkpoint that covers: the highest count, the later of two equal ones, one placed before its record', () => {
    const early = cp(log[2], 3, 4000)
    const late = cp(log[4], 5, 6000)
    expect(check([...log, early, cp(log[4]), late]).checkpoint).toEqual(late)
    expect(check([late, ...log]).checkpoint).toEqual(late)
    expect(check([...log.slice(0, 3), cp(log[4]), ...log.slice(3)]).checkpoint).toEqual(cp(log[4]))
  })

  const problem = (ls: readonly unknown[]) => check(ls).problem
  it('malformed lines, named with their line', () => {
    expect(problem(['nope', ...full])).toEqual({ kind: 'malformed', line: 1, message: 'line 1 is not JSON' })
    expect(problem(['[1]', ...full])).toEqual({ kind: 'malformed', line: 1, message: 'line 1 is not a JSON object' })
    expect(problem(['null', ...full])).toEqual({ kind: 'malformed', line: 1, message: 'line 1 is not a JSON object' })
    expect(problem([{ seq: 1 }, ...full])).toEqual({
      kind: 'malformed',
      line: 1,
      message: 'line 1 is not an audit record (seq, prev, digest, hash)',
    })
    const bad = (change: Record<string, unknown>) => problem([{ ...log[0], ...change }, ...full.slice(1)])
    expect(bad({ seq: 0 })?.kind).toBe('malformed')
    expect(bad({ prev: `${GENESIS}0` })?.kind).toBe('malformed')
    expect(bad({ digest: `x${(log[0] as AuditEntry).digest.slice(1)}` })?.kind).toBe('malformed')
    expect(bad({ hash: (log[0] as AuditEntry).hash.slice(1) })?.kind).toBe('malformed')
    expect(bad({ hash: 5 })?.kind).toBe('malformed')
    const c = cp(log[4])
    const badCheckpoint = (change: Record<string, unknown>) => problem([...log, { ...c, ...change }])
    for (const change of [
      { count: -1 },
      { count: 1.5 },
      { head: `${c.head}0` },
      { head: `0${c.head}` },
      { at: 'soon' },
      { log: 1 },
      { log: 'x' },
      { log: `${c.log}0` },
      { log: c.log.toUpperCase() },
      { extra: 1 },
      { key: 5 },
      { signature: c.signature.slice(2) },
      { signature: c.signature.toUpperCase() },
    ]) {
      expect(badCheckpoint(change)).toEqual({ kind: 'malformed', line: 6, message: 'line 6 is not a checkpoint' })
    }
    // Exactly the members of spec §8.3: one left out is malformed, not a signature that fails.
    for (const member of ['log', 'count', 'head', 'at', 'key', 'signature']) {
      const { [member]: _, ...without } = c as unknown as Record<string, unknown>
      expect([member, problem([...log, without])]).toEqual([member, { kind: 'malformed', line: 6, message: 'line 6 is not a checkpoint' }])
    }
    const stub = { ...redact(log[1] as AuditEntry), note: 'x' }
    expect(problem([log[0], stub, ...full.slice(2)])).toEqual({
      kind: 'malformed',
      line: 2,
      seq: 2,
      message: 'the redacted record on line 2 carries content: a redacted record is only its place',
    })
  })

  it('repeated member names: before a colon after any white space, in nested objects and arrays; values and other objects are no repeat', () => {
    const text = line(log[0])
    const repeat = (inner: string) => problem([`${text.slice(0, -1)},${inner}}`, ...full.slice(1)])
    for (const sep of [':', ' :', '\t:', '\r:', ' \t\r :']) {
      expect(repeat(`"n"${sep}1`), JSON.stringify(sep)).toEqual({ kind: 'malformed', line: 1, message: 'line 1 repeats a member name' })
    }
    expect(repeat('"x":[{"a":1,"a":2}]')?.message).toBe('line 1 repeats a member name')
    expect(repeat('"x":{"y":"a\\"b","y":1}')?.message).toBe('line 1 repeats a member name')
    // Not a repeat: the same name in two objects, a value that spells a name, an escaped quote in a value.
    for (const fine of ['"x":[{"a":1},{"a":2}]', '"y":"n"', '"z":["n","n"]', '"w":"a\\"n\\":1"']) {
      const edited = JSON.parse(`${text.slice(0, -1)},${fine}}`) as Record<string, unknown>
      expect(repeat(fine)?.kind, fine).toBe('altered') // parsed, then found edited: no "repeats" problem
      expect(Object.keys(edited).length).toBeGreaterThan(0)
    }
  })

  it('order: a gap, a repeat, a cut beginning, a first record that starts no log', () => {
    expect(problem([log[0], log[2], ...full.slice(3)])).toEqual({
      kind: 'missing',
      line: 2,
      seq: 2,
      message: 'record 2 is missing before line 2',
    })
    // Two records swapped: a reorder, named as such (the record expected there comes later).
    expect(problem([log[0], log[2], log[1], ...full.slice(3)])).toEqual({
      kind: 'reordered',
      line: 2,
      seq: 3,
      message: 'record 3 on line 2 comes before record 2 (line 3): records are out of order',
    })
    // A wider gap is said as a range.
    expect(problem([log[0], log[3], ...full.slice(4)])?.message).toBe('records 2–3 are missing before line 2')
    expect(problem([log[0], log[1], log[1], ...full.slice(2)])).toEqual({
      kind: 'reordered',
      line: 3,
      seq: 2,
      message: 'record 2 on line 3 comes after record 2: records are out of order or repeated',
    })
    expect(problem(full.slice(2))).toEqual({
      kind: 'truncated',
      line: 1,
      seq: 3,
      message: 'the export starts at record 3 without the signed checkpoint of record 2 before it: its beginning may have been cut',
    })
    expect(check([cp(log[1]), ...full.slice(2)])).toMatchObject({ ok: true, first: 3, last: 5 })
    expect(problem([cp(log[0], 2), ...full.slice(2)])).toEqual({
      kind: 'foreign',
      line: 2,
      seq: 3,
      message: 'record 3 on line 2 does not follow the signed checkpoint of record 2 before it',
    })
    const other = chainRecord({ at: 1, type: 'decision' }, 1, 'cd'.repeat(32))
    expect(problem([other])).toEqual({ kind: 'foreign', line: 1, seq: 1, message: 'record 1 on line 1 does not start a log' })
  })

  it('edits: the content, the place, a link; which record is named', () => {
    const edited = { ...log[2], n: 99 }
    expect(problem([...log.slice(0, 2), edited, ...full.slice(3)])).toEqual({
      kind: 'altered',
      line: 3,
      seq: 3,
      message: 'record 3 on line 3 was altered: its content does not match its digest',
    })
    const moved = { ...log[2], prev: (log[0] as AuditEntry).hash }
    expect(problem([...log.slice(0, 2), moved, ...full.slice(3)])).toEqual({
      kind: 'altered',
      line: 3,
      seq: 3,
      message: 'record 3 on line 3 was altered: its hash does not follow from its place and digest',
    })
    // Record 3 replaced by one chained elsewhere: it links to neither neighbour.
    const stranger = chainRecord({ at: 1, type: 'decision', n: 3 }, 3, 'cd'.repeat(32))
    expect(problem([...log.slice(0, 2), stranger, ...full.slice(3)])).toEqual({
      kind: 'altered',
      line: 3,
      seq: 3,
      message: 'record 3 on line 3 links to neither record 2 nor record 4: it was altered, or comes from another log',
    })
    // Record 2 rewritten and rehashed: record 3 does not follow it; the next line may be blank, or not an object.
    const rewritten = chainRecord({ at: 1, type: 'decision', n: 2 }, 2, (log[0] as AuditEntry).hash)
    const named = { kind: 'altered', line: 2, seq: 2, message: 'record 2 on line 2 was altered: record 3 on line 4 does not follow it' }
    expect(problem([log[0], rewritten, '', log[2], log[3], log[4], cp(log[4])])).toEqual(named)
    expect(problem([log[0], rewritten, log[2], '[1]'])).toEqual({
      ...named,
      message: 'record 2 on line 2 was altered: record 3 on line 3 does not follow it',
    })
    expect(problem([log[0], rewritten, log[2]])).toEqual({
      ...named,
      message: 'record 2 on line 2 was altered: record 3 on line 3 does not follow it',
    })
  })

  it('checkpoints: another key or log, one that disagrees wherever it stands, one past the end, none', () => {
    const foreignKey = signCheckpoint({ log: LOG, count: 5, head: (log[4] as AuditEntry).hash, at: 1 }, generateKeyPair())
    expect(problem([...log, foreignKey])).toEqual({
      kind: 'signature',
      line: 6,
      message: `the checkpoint on line 6 is not signed by ${SERVICE}`,
    })
    const otherLog = signCheckpoint({ log: 'cd'.repeat(16), count: 5, head: (log[4] as AuditEntry).hash, at: 1 }, key)
    expect(problem([...full, otherLog])).toEqual({
      kind: 'foreign',
      line: 7,
      message: `the checkpoint on line 7 is of another log (${'cd'.repeat(16)}, not ${LOG})`,
    })
    const wrong = cp(log[3], 3)
    const disagree = {
      kind: 'altered',
      seq: 3,
      message: 'record 3 does not match the signed checkpoint on line 6: it, or one before it, was altered',
    }
    expect(problem([...log, wrong])).toEqual({ ...disagree, line: 6 })
    expect(problem([wrong, ...log])).toEqual({
      ...disagree,
      line: 1,
      message: 'record 3 does not match the signed checkpoint on line 1: it, or one before it, was altered',
    })
    expect(problem([...log, cp(log[3], 0)])).toEqual({
      kind: 'altered',
      line: 6,
      seq: 0,
      message: 'record 0 does not match the signed checkpoint on line 6: it, or one before it, was altered',
    })
    expect(problem([...log.slice(0, 3), cp(log[4])])).toEqual({
      kind: 'truncated',
      line: 4,
      message: 'the checkpoint on line 4 counts 5 records, the export ends at record 3: records 4–5 are missing',
    })
    expect(problem([cp(log[4])])).toEqual({
      kind: 'truncated',
      line: 1,
      message: 'the checkpoint on line 1 counts 5 records, the export ends at record 0: records 1–5 are missing',
    })
    expect(problem(log)).toEqual({
      kind: 'truncated',
      line: 5,
      seq: 5,
      message: 'no signed checkpoint covers record 5: the export was cut, or records were added after it',
    })
    expect(problem([...log.slice(0, 4), cp(log[3]), log[4]])).toMatchObject({ kind: 'truncated', line: 6, seq: 5 })
    expect(problem([])).toEqual({ kind: 'truncated', line: 0, message: 'the export has no checkpoint signed by the service' })
  })

  it('a failed answer keeps what was read before the failure', () => {
    expect(check([...log.slice(0, 3), { ...log[3], n: 0 }, log[4], cp(log[4])])).toEqual({
      ok: false,
      records: 3,
      first: 1,
      last: 3,
      redacted: 0,
      problem: { kind: 'altered', line: 4, seq: 4, message: 'record 4 on line 4 was altered: its content does not match its digest' },
    })
    expect(check([...log.slice(0, 2), cp(log[1]), { ...log[2], n: 0 }]).checkpoint).toEqual(cp(log[1]))
  })
})
