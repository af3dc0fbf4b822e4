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
}

/** The kinds of record. */
export type AuditEntryType = 'decision' | 'revocation' | 'approval.requested' | 'approval.approved' | 'approval.denied'

/** A record as stored and exported: its fields, and its hash. */
export type AuditEntry = AuditEntryBase & Readonly<Record<string, unknown>> & { readonly hash: string }

/** A record before the store gives it its place: `seq`, `prev` and `hash` are the store's. */
export type NewAuditEntry = { readonly at: number; readonly type: AuditEntryType } & Readonly<Record<string, unknown>>

/** The `prev` of the first record. */
export const GENESIS = '0'.repeat(64)

const RECORD_TAG = 'mandate-audit-record-v1\n'
const CHECKPOINT_TAG = 'mandate-audit-checkpoint-v1\n'

/** RFC 8785 canonical JSON of a value made of strings, safe integers, booleans, arrays and objects. */
export function canonicalJson(value: unknown): string {
  const text = canonicalize(value)
  if (text === undefined) throw new TypeError('not a JSON value')
  return text
}

/**
 * A record's hash: SHA-256 of the tag and the canonical JSON of every field but `hash`.
 *
 * @example
 * ```ts
 * declare const line: string // one record of an export
 * const record = JSON.parse(line) as AuditEntry
 * if (auditHash(record) !== record.hash) console.log(`record ${record.seq} was altered`)
 * ```
 */
export function auditHash(record: Readonly<Record<string, unknown>>): string {
  const { hash: _hash, ...fields } = record
  return toHex(sha256(utf8(RECORD_TAG + canonicalJson(fields))))
}

/** Give `record` its place after `prev` (seq `seq`): the stored record, hash included. */
export function chainRecord(record: NewAuditEntry, seq: number, prev: string): AuditEntry {
  const placed = { ...record, seq, prev }
  return { ...placed, hash: auditHash(placed) } as AuditEntry
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
  /** Ed25519 over the tag and the canonical JSON of `{at, count, head, log}`, 128 hex digits. */
  readonly signature: string
}

const checkpointInput = (c: Pick<AuditCheckpoint, 'log' | 'count' | 'head' | 'at'>) =>
  utf8(CHECKPOINT_TAG + canonicalJson({ at: c.at, count: c.count, head: c.head, log: c.log }))

/** Sign a checkpoint with the service's key. */
export function signCheckpoint(c: Pick<AuditCheckpoint, 'log' | 'count' | 'head' | 'at'>, key: KeyPair): AuditCheckpoint {
  const signature = getBackend().sign(key.secretKey, checkpointInput(c), key.publicKey)
  return {
    type: 'checkpoint',
    log: c.log,
    count: c.count,
    head: c.head,
    at: c.at,
    key: toDidKey(key.publicKey),
    signature: toHex(signature),
  }
}

/** Whether `c` is signed by `serviceKey` (any key form). */
export function checkpointSigned(c: AuditCheckpoint, serviceKey: Uint8Array): boolean {
  const signature = typeof c.signature === 'string' ? fromHex(c.signature) : undefined
  if (signature?.length !== 64) return false
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

/**
 * Check an exported log (JSON Lines: records in order, redacted records `{seq, prev, hash,
 * redacted: true}`, and checkpoints) against the service's key: each record's hash is
 * recomputed, each links to the one before, seqs follow each other, every checkpoint is signed
 * by `serviceKey` and agrees with the records it covers, and one covers the last record. The first
 * thing wrong is named: an edited record (`altered`), a gap (`missing`), a record out of order
 * (`reordered`), records past the last checkpoint or a checkpoint past the last record
 * (`truncated`), a checkpoint not signed by the key (`signature`), a checkpoint of another log or
 * a chain that does not start where the export says (`foreign`).
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
  /** A checkpoint before any record: where an export that starts later is anchored. */
  let anchor: AuditCheckpoint | undefined
  /** Hashes by seq, for checkpoints that come after their records. */
  const hashes = new Map<number, string>()
  const fail = (problem: AuditProblem): AuditVerification => ({
    ok: false,
    records,
    ...(first === undefined ? {} : { first }),
    ...(last === undefined ? {} : { last }),
    redacted,
    ...(covered ? { checkpoint: covered } : {}),
    problem,
  })
  const lines = text.split('\n')
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
    if (entry['type'] === 'checkpoint') {
      const c = entry as unknown as AuditCheckpoint
      const shaped =
        typeof c.log === 'string' &&
        Number.isSafeInteger(c.count) &&
        c.count >= 0 &&
        typeof c.head === 'string' &&
        HEX64.test(c.head) &&
        Number.isSafeInteger(c.at)
      if (!shaped) return fail({ kind: 'malformed', line, message: `line ${line} is not a checkpoint` })
      if (!checkpointSigned(c, key)) {
        return fail({ kind: 'signature', line, message: `the checkpoint on line ${line} is not signed by ${serviceKey}` })
      }
      if (log !== undefined && c.log !== log) {
        return fail({ kind: 'foreign', line, message: `the checkpoint on line ${line} is of another log (${c.log}, not ${log})` })
      }
      log = c.log
      if (last !== undefined && c.count > last) {
        return fail({
          kind: 'truncated',
          line,
          message: `the checkpoint on line ${line} counts ${c.count} records, the export ends at record ${last}: records ${last + 1}–${c.count} are missing`,
        })
      }
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
      if (last === undefined) anchor = c
      continue
    }
    // A record, or a redacted one.
    const seq = entry['seq']
    const prev = entry['prev']
    const hash = entry['hash']
    if (
      !Number.isSafeInteger(seq) ||
      (seq as number) < 1 ||
      typeof prev !== 'string' ||
      !HEX64.test(prev) ||
      typeof hash !== 'string' ||
      !HEX64.test(hash)
    ) {
      return fail({ kind: 'malformed', line, message: `line ${line} is not an audit record (seq, prev, hash)` })
    }
    const n = seq as number
    if (last !== undefined && n <= last) {
      return fail({
        kind: 'reordered',
        line,
        seq: n,
        message: `record ${n} on line ${line} comes after record ${last}: records are out of order or repeated`,
      })
    }
    if (last !== undefined && n > last + 1) {
      return fail({ kind: 'missing', line, seq: last + 1, message: `records ${last + 1}–${n - 1} are missing before line ${line}` })
    }
    if (entry['redacted'] === true) redacted += 1
    else if (auditHash(entry) !== hash) {
      return fail({
        kind: 'altered',
        line,
        seq: n,
        message: `record ${n} on line ${line} was altered: its content does not hash to its hash`,
      })
    }
    if (lastHash === undefined) {
      if (n === 1 && prev !== GENESIS) {
        return fail({ kind: 'foreign', line, seq: n, message: `record 1 on line ${line} does not start a log` })
      }
      if (anchor !== undefined && anchor.count === n - 1 && prev !== anchor.head) {
        return fail({
          kind: 'foreign',
          line,
          seq: n,
          message: `record ${n} on line ${line} does not follow the signed checkpoint of record ${n - 1} before it`,
        })
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
    first ??= n
    last = n
    lastHash = hash
    lastLine = line
    hashes.set(n, hash)
    records += 1
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
