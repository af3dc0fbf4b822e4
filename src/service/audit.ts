/**
 * The audit trail (spec/service-v1.md §8): an append-only log of what happened — the decisions
 * verifiers report, and the service's own events (revocations, approval requests, approvals,
 * denials) — each record chained to the one before by its SHA-256, with checkpoints the service
 * signs (count and head hash), so that an exported log can be checked offline, later, by
 * someone who trusts nothing but the service's key: any edited, deleted, reordered, truncated or
 * spliced record is found, and named.
 *
 * Records are JSON objects; a record's hash is SHA-256 over a domain tag and its RFC 8785 (JCS)
 * canonical form, so that any implementation reproduces it from the exported line alone.
 *
 * This file is pure: the stores chain records as they append them, `mandate audit verify`
 * checks an export, and both use the functions below.
 *
 * @module
 */
import canonicalize from 'canonicalize'
import { getBackend } from '../crypto/ed25519.js'
import { sha256 } from '../crypto/hash.js'
import { type KeyPair, parsePublicKey, toDidKey } from '../crypto/keys.js'
import { fromHex, toHex, utf8 } from '../internal/bytes.js'

/** What every record carries, besides its own fields. */
export interface AuditEntryBase {
  /** 1, 2, 3 …: the record's place in the log. */
  readonly seq: number
  /** When the service appended it (Unix seconds, service clock). */
  readonly at: number
  readonly type: AuditEntryType
  /** The previous record's hash (64 hex digits); {@link GENESIS} for the first. */
  readonly prev: string
  /** SHA-256 of the record's content (every field but `prev`, `digest` and `hash`), 64 hex digits. */
  readonly digest: string
}

/** The kinds of record. */
export type AuditEntryType =
  | 'decision'
  | 'revocation'
  | 'amendment'
  | 'amendment.lifted'
  | 'approval.requested'
  | 'approval.approved'
  | 'approval.denied'

/** A record as stored and exported: its fields, and its hash. */
export type AuditEntry = AuditEntryBase & Readonly<Record<string, unknown>> & { readonly hash: string }

/** A record before the store gives it its place: `seq`, `prev`, `digest` and `hash` are the store's. */
export type NewAuditEntry = { readonly at: number; readonly type: AuditEntryType } & Readonly<Record<string, unknown>>

/** The `prev` of the first record. */
export const GENESIS = '0'.repeat(64)

const RECORD_TAG = 'mandate-audit-record-v1\n'
const LINK_TAG = 'mandate-audit-link-v1\n'
const CHECKPOINT_TAG = 'mandate-audit-checkpoint-v1\n'

/** RFC 8785 canonical JSON of a value made of strings, safe integers, booleans, arrays and objects. */
export function canonicalJson(value: unknown): string {
  const text = canonicalize(value)
  if (text === undefined) throw new TypeError('not a JSON value')
  return text
}

/** A record's digest: SHA-256 of the record tag and the canonical JSON of its content (every field but `prev`, `digest`, `hash`). */
export function auditDigest(record: Readonly<Record<string, unknown>>): string {
  const { prev: _prev, digest: _digest, hash: _hash, ...content } = record
  return toHex(sha256(utf8(RECORD_TAG + canonicalJson(content))))
}

/**
 * A record's hash, from its place and its digest: SHA-256 of the link tag and
 * `<seq>.<prev>.<digest>`. A redacted record keeps its digest, so that its hash is still checked,
 * and every hash after it depends on it.
 */
export function auditLink(seq: number, prev: string, digest: string): string {
  return toHex(sha256(utf8(`${LINK_TAG}${seq}.${prev}.${digest}`)))
}

/**
 * The hash a record should have: its place (`seq`, `prev`) and the digest of its content.
 *
 * @example
 * ```ts
 * declare const line: string // one record of an export
 * const record = JSON.parse(line) as AuditEntry
 * if (auditHash(record) !== record.hash) console.log(`record ${record.seq} was altered`)
 * ```
 */
export function auditHash(record: Readonly<Record<string, unknown>>): string {
  return auditLink(record['seq'] as number, record['prev'] as string, auditDigest(record))
}

/** Give `record` its place after `prev` (seq `seq`): the stored record, digest and hash included. */
export function chainRecord(record: NewAuditEntry, seq: number, prev: string): AuditEntry {
  const placed = { ...record, seq }
  const digest = auditDigest(placed)
  return { ...placed, prev, digest, hash: auditLink(seq, prev, digest) } as AuditEntry
}

/** A record as a reader who may not see it gets it: its place in the chain, without its content. */
export function redact(record: AuditEntry): { seq: number; prev: string; digest: string; hash: string; redacted: true } {
  return { seq: record.seq, prev: record.prev, digest: record.digest, hash: record.hash, redacted: true }
}

/** A signed checkpoint: the log named `log` had `count` records, the last one hashing to `head`. */
export interface AuditCheckpoint {
  readonly type: 'checkpoint'
  /** The log's id: 32 hex digits, made with the database. */
  readonly log: string
  readonly count: number
  /** The hash of record `count` ({@link GENESIS} when the log is empty). */
  readonly head: string
  /** When it was signed (service clock). */
  readonly at: number
  /** The service key (did:key). */
  readonly key: string
  /** Ed25519 over the tag and the canonical JSON of `{at, count, head, key, log}`, 128 hex digits. */
  readonly signature: string
}

const CHECKPOINT_FIELDS = ['at', 'count', 'head', 'key', 'log', 'signature', 'type']

const checkpointInput = (c: Pick<AuditCheckpoint, 'log' | 'count' | 'head' | 'at' | 'key'>) =>
  utf8(CHECKPOINT_TAG + canonicalJson({ at: c.at, count: c.count, head: c.head, key: c.key, log: c.log }))

/** Sign a checkpoint with the service's key. */
export function signCheckpoint(c: Pick<AuditCheckpoint, 'log' | 'count' | 'head' | 'at'>, key: KeyPair): AuditCheckpoint {
  const unsigned = { log: c.log, count: c.count, head: c.head, at: c.at, key: toDidKey(key.publicKey) }
  const signature = getBackend().sign(key.secretKey, checkpointInput(unsigned), key.publicKey)
  return { type: 'checkpoint', ...unsigned, signature: toHex(signature) }
}

/** Whether `c` is signed by `serviceKey`. */
export function checkpointSigned(c: AuditCheckpoint, serviceKey: Uint8Array): boolean {
  const signature = typeof c.signature === 'string' ? fromHex(c.signature) : undefined
  if (signature?.length !== 64 || typeof c.key !== 'string') return false
  return getBackend().verify(signature, checkpointInput(c), serviceKey) === 'accept'
}

/** What {@link verifyAuditExport} found wrong, at the first place it went wrong. */
export interface AuditProblem {
  readonly kind: 'malformed' | 'altered' | 'missing' | 'reordered' | 'truncated' | 'signature' | 'foreign'
  /** The 1-based line of the export where it shows. */
  readonly line: number
  /** The record's seq, when the problem is a record's. */
  readonly seq?: number
  readonly message: string
}

/** What an export holds, once checked. */
export interface AuditVerification {
  readonly ok: boolean
  /** Records checked (redacted ones included), their first and last seq. */
  readonly records: number
  readonly first?: number
  readonly last?: number
  readonly redacted: number
  /** The newest valid checkpoint, which the last record is covered by. */
  readonly checkpoint?: AuditCheckpoint
  readonly problem?: AuditProblem
}

const HEX64 = /^[0-9a-f]{64}$/
const REDACTED_FIELDS = ['digest', 'hash', 'prev', 'redacted', 'seq']

/**
 * Whether a JSON text repeats a member name in one of its objects (RFC 8785 forbids it; JSON.parse
 * keeps the last one silently). The text is known to be valid JSON.
 */
function hasRepeatedName(text: string): boolean {
  const open: (Set<string> | undefined)[] = []
  for (let i = 0; i < text.length; i++) {
    const c = text[i]
    if (c === '{') open.push(new Set())
    else if (c === '[') open.push(undefined)
    else if (c === '}' || c === ']') open.pop()
    else if (c === '"') {
      let j = i + 1
      while (text[j] !== '"') j += text[j] === '\\' ? 2 : 1
      const names = open[open.length - 1]
      let k = j + 1
      // White space before the colon (one line: no line feed can be there).
      while (text[k] === ' ' || text[k] === '\t' || text[k] === '\r') k++
      if (names !== undefined && text[k] === ':') {
        const name = JSON.parse(text.slice(i, j + 1)) as string
        if (names.has(name)) return true
        names.add(name)
      }
      i = j
    }
  }
  return false
}

/** The next line after index `i` that parses as a JSON object, if any. */
function nextEntry(lines: readonly string[], i: number): Record<string, unknown> | undefined {
  for (const raw of lines.slice(i + 1)) {
    if (raw.trim() === '') continue
    try {
      const v = JSON.parse(raw) as unknown
      return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined
    } catch {
      return undefined
    }
  }
  return undefined
}

/** The line (1-based) of the first record numbered `seq` among `lines` from index `from`, if any. */
function lineOfSeq(lines: readonly string[], from: number, seq: number): number | undefined {
  for (let i = from; i < lines.length; i++) {
    const raw = lines[i] as string
    // Cheap before parsing: a record's text holds its number.
    if (!raw.includes(`${seq}`)) continue
    try {
      const v = JSON.parse(raw) as unknown
      if (typeof v === 'object' && v !== null && (v as { seq?: unknown }).seq === seq) return i + 1
    } catch {
      // Not JSON: the main loop names it when it gets there.
    }
  }
  return undefined
}

/**
 * Check an exported log (JSON Lines: an anchor checkpoint when it does not start at record 1,
 * then records in order — redacted ones as `{seq, prev, digest, hash, redacted: true}` — and
 * checkpoints) against the service's key: each record's digest (when it is not redacted) and
 * hash are recomputed, each links to the one before, seqs follow each other, every checkpoint is
 * signed by `serviceKey` and agrees with the record it counts wherever it stands, and one covers
 * the last record. The first thing wrong is named: a line that is not a record or a checkpoint,
 * or has a repeated member name (`malformed`); an edited record (`altered`); a gap (`missing`);
 * a record out of order (`reordered`); records past the last checkpoint, a checkpoint past the
 * last record, or a beginning cut (`truncated`); a checkpoint not signed by the key
 * (`signature`); a checkpoint of another log or a chain that does not start where it says
 * (`foreign`).
 *
 * An export proves the log up to its checkpoint: to know nothing was cut from its end, compare
 * the checkpoint with a fresh one from the service.
 *
 * @example
 * ```ts
 * import { readFileSync } from 'node:fs'
 * const result = verifyAuditExport(readFileSync('audit.jsonl', 'utf8'), serviceKey)
 * if (!result.ok) console.log(`${result.problem?.kind} at line ${result.problem?.line}: ${result.problem?.message}`)
 * ```
 */
export function verifyAuditExport(text: string, serviceKey: string): AuditVerification {
  const key = parsePublicKey(serviceKey)
  let records = 0
  let redacted = 0
  let first: number | undefined
  let last: number | undefined
  let lastHash: string | undefined
  let lastLine = 0
  let log: string | undefined
  let covered: AuditCheckpoint | undefined
  /** Checkpoints before any record, by count: where an export that starts later is anchored. */
  const anchors = new Map<number, AuditCheckpoint>()
  /** Hashes by seq, for the checkpoints that come after their records. */
  const hashes = new Map<number, string>()
  /** Checkpoints of records not read yet, by count, with their line: checked when the record comes. */
  const ahead = new Map<number, { checkpoint: AuditCheckpoint; line: number }[]>()
  const fail = (problem: AuditProblem): AuditVerification => ({
    ok: false,
    records,
    ...(first === undefined ? {} : { first }),
    ...(last === undefined ? {} : { last }),
    redacted,
    ...(covered ? { checkpoint: covered } : {}),
    problem,
  })
  const lines = text.split('\n').map((l) => (l.endsWith('\r') ? l.slice(0, -1) : l))
  for (const [i, raw] of lines.entries()) {
    const line = i + 1
    if (raw.trim() === '') continue
    let entry: Record<string, unknown>
    try {
      entry = JSON.parse(raw) as Record<string, unknown>
    } catch {
      return fail({ kind: 'malformed', line, message: `line ${line} is not JSON` })
    }
    if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) {
      return fail({ kind: 'malformed', line, message: `line ${line} is not a JSON object` })
    }
    // JSON.parse keeps the last of repeated names: a reader keeping the first would see another record.
    if (hasRepeatedName(raw)) return fail({ kind: 'malformed', line, message: `line ${line} repeats a member name` })
    if (entry['type'] === 'checkpoint') {
      const c = entry as unknown as AuditCheckpoint
      // Exactly the members of spec §8.3, each of its form: one left out is malformed, not a bad signature.
      const shaped =
        Object.keys(entry).length === CHECKPOINT_FIELDS.length &&
        Object.keys(entry).every((k) => CHECKPOINT_FIELDS.includes(k)) &&
        typeof c.log === 'string' &&
        /^[0-9a-f]{32}$/.test(c.log) &&
        Number.isSafeInteger(c.count) &&
        c.count >= 0 &&
        typeof c.head === 'string' &&
        HEX64.test(c.head) &&
        Number.isSafeInteger(c.at) &&
        typeof c.key === 'string' &&
        typeof c.signature === 'string' &&
        /^[0-9a-f]{128}$/.test(c.signature)
      if (!shaped) return fail({ kind: 'malformed', line, message: `line ${line} is not a checkpoint` })
      if (!checkpointSigned(c, key)) {
        return fail({ kind: 'signature', line, message: `the checkpoint on line ${line} is not signed by ${serviceKey}` })
      }
      if (log !== undefined && c.log !== log) {
        return fail({ kind: 'foreign', line, message: `the checkpoint on line ${line} is of another log (${c.log}, not ${log})` })
      }
      log = c.log
      if (last === undefined && !anchors.has(c.count)) anchors.set(c.count, c)
      if (c.count === 0 || (last !== undefined && c.count <= last)) {
        const at = c.count === 0 ? GENESIS : hashes.get(c.count)
        if (at !== undefined && at !== c.head) {
          return fail({
            kind: 'altered',
            line,
            seq: c.count,
            message: `record ${c.count} does not match the signed checkpoint on line ${line}: it, or one before it, was altered`,
          })
        }
        if (at !== undefined && (covered === undefined || c.count >= covered.count)) covered = c
      } else {
        // Counts a record not read yet: checked when it comes (an anchor, the record before the first, never does).
        ahead.set(c.count, [...(ahead.get(c.count) ?? []), { checkpoint: c, line }])
      }
      continue
    }
    // A record, or a redacted one.
    const seq = entry['seq']
    const prev = entry['prev']
    const digest = entry['digest']
    const hash = entry['hash']
    const hex = (v: unknown): v is string => typeof v === 'string' && HEX64.test(v)
    if (!Number.isSafeInteger(seq) || (seq as number) < 1 || !hex(prev) || !hex(digest) || !hex(hash)) {
      return fail({ kind: 'malformed', line, message: `line ${line} is not an audit record (seq, prev, digest, hash)` })
    }
    const n = seq as number
    const isRedacted = entry['redacted'] === true
    if (isRedacted && Object.keys(entry).some((k) => !REDACTED_FIELDS.includes(k))) {
      return fail({
        kind: 'malformed',
        line,
        seq: n,
        message: `the redacted record on line ${line} carries content: a redacted record is only its place`,
      })
    }
    if (last !== undefined && n <= last) {
      return fail({
        kind: 'reordered',
        line,
        seq: n,
        message: `record ${n} on line ${line} comes after record ${last}: records are out of order or repeated`,
      })
    }
    if (last !== undefined && n > last + 1) {
      // The record expected here further down is a reorder, not a gap.
      const later = lineOfSeq(lines, i + 1, last + 1)
      if (later !== undefined) {
        return fail({
          kind: 'reordered',
          line,
          seq: n,
          message: `record ${n} on line ${line} comes before record ${last + 1} (line ${later}): records are out of order`,
        })
      }
      const gap = n - 1 === last + 1 ? `record ${last + 1} is` : `records ${last + 1}–${n - 1} are`
      return fail({ kind: 'missing', line, seq: last + 1, message: `${gap} missing before line ${line}` })
    }
    if (isRedacted) redacted += 1
    else if (auditDigest(entry) !== digest) {
      return fail({
        kind: 'altered',
        line,
        seq: n,
        message: `record ${n} on line ${line} was altered: its content does not match its digest`,
      })
    }
    if (auditLink(n, prev, digest) !== hash) {
      return fail({
        kind: 'altered',
        line,
        seq: n,
        message: `record ${n} on line ${line} was altered: its hash does not follow from its place and digest`,
      })
    }
    if (lastHash === undefined) {
      if (n === 1 && prev !== GENESIS) {
        return fail({ kind: 'foreign', line, seq: n, message: `record 1 on line ${line} does not start a log` })
      }
      if (n > 1) {
        // An export that starts later must say where: the signed checkpoint of the record before.
        const anchor = anchors.get(n - 1)
        if (anchor === undefined) {
          return fail({
            kind: 'truncated',
            line,
            seq: n,
            message: `the export starts at record ${n} without the signed checkpoint of record ${n - 1} before it: its beginning may have been cut`,
          })
        }
        if (prev !== anchor.head) {
          return fail({
            kind: 'foreign',
            line,
            seq: n,
            message: `record ${n} on line ${line} does not follow the signed checkpoint of record ${n - 1} before it`,
          })
        }
      }
    } else if (prev !== lastHash) {
      // A broken link between n − 1 and n: when n's own link to n + 1 is broken too, n is the
      // stranger (edited, or spliced in from another log); else n − 1 was edited and rehashed.
      const after = nextEntry(lines, i)
      if (after !== undefined && after['prev'] !== hash) {
        return fail({
          kind: 'altered',
          line,
          seq: n,
          message: `record ${n} on line ${line} links to neither record ${n - 1} nor record ${n + 1}: it was altered, or comes from another log`,
        })
      }
      return fail({
        kind: 'altered',
        line: lastLine,
        seq: n - 1,
        message: `record ${n - 1} on line ${lastLine} was altered: record ${n} on line ${line} does not follow it`,
      })
    }
    for (const { checkpoint, line: at } of ahead.get(n) ?? []) {
      if (checkpoint.head !== hash) {
        return fail({
          kind: 'altered',
          line: at,
          seq: n,
          message: `record ${n} does not match the signed checkpoint on line ${at}: it, or one before it, was altered`,
        })
      }
      if (covered === undefined || n >= covered.count) covered = checkpoint
    }
    ahead.delete(n)
    first ??= n
    last = n
    lastHash = hash
    lastLine = line
    hashes.set(n, hash)
    records += 1
  }
  const beyond = [...ahead.entries()].find(([count]) => last === undefined || count > last)
  if (beyond) {
    const [count, [{ line } = { line: 0 }]] = beyond
    return fail({
      kind: 'truncated',
      line,
      message: `the checkpoint on line ${line} counts ${count} records, the export ends at record ${last ?? 0}: records ${(last ?? 0) + 1}–${count} are missing`,
    })
  }
  if (!covered || (last !== undefined && covered.count < last)) {
    return fail({
      kind: 'truncated',
      line: lastLine,
      ...(last === undefined ? {} : { seq: last }),
      message:
        last === undefined
          ? 'the export has no checkpoint signed by the service'
          : `no signed checkpoint covers record ${last}: the export was cut, or records were added after it`,
    })
  }
  return {
    ok: true,
    records,
    ...(first === undefined ? {} : { first }),
    ...(last === undefined ? {} : { last }),
    redacted,
    checkpoint: covered,
  }
}
