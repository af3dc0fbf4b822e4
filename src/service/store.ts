/**
 * What the service keeps, behind one interface with two implementations: embedded SQLite
 * (one process) and PostgreSQL (several instances on one database). Every write resolves
 * only after a durable commit; a rejected promise means nothing was acknowledged.
 *
 * @module
 */
import type { FeedEntry } from '../revocation/feed.js'
import type { ConsumeResult, UsageCounter } from '../usage/store.js'

/** A revocation statement the service accepted, before it has a sequence number. */
export interface NewRevocation extends Omit<FeedEntry, 'seq'> {
  /** SHA-256 of the statement's signature: a retry with the same statement is a no-op. */
  readonly statementId: string
  /** The signed statement, kept for audit. */
  readonly statement: Uint8Array
}

/** A pending or answered approval request. */
export interface ApprovalRecord {
  /** The invocation id (hex). */
  readonly id: string
  /** The invocation's text form. */
  readonly invocation: string
  /** did:keys that may approve it. */
  readonly approvers: readonly string[]
  readonly createdAt: number
  /** Approvals received so far (text forms), by approver did:key. */
  readonly approvals: Readonly<Record<string, string>>
}

/** The service's storage. */
export interface Store {
  /** Append a revocation unless the same statement is already there; the entry's seq either way. */
  addRevocation(entry: NewRevocation): Promise<{ seq: number; created: boolean }>
  /** The sequence number of an accepted statement, by statement id. */
  revocationSeq(statementId: string): Promise<number | undefined>
  /**
   * One consistent read: the head (highest sequence number committed, never decreasing, even
   * when compaction removes the newest entry) and the entries with since < seq ≤ head, in
   * order, at most `limit`. Bounding by the head read in the same snapshot is what lets a
   * client set its mark to the head without ever skipping an entry committed later.
   */
  revocationsSince(since: number, limit: number): Promise<{ head: number; entries: FeedEntry[] }>
  /** The head alone (see {@link Store.revocationsSince}). */
  head(): Promise<number>
  /** Entries against one block. */
  revocationsFor(blockId: string): Promise<FeedEntry[]>
  /**
   * Housekeeping at service time `now`: drop revocation entries whose block expired before
   * `now` (they can no longer matter), idempotency answers older than a day, expired replay
   * claims.
   * Returns how many revocation entries went.
   */
  compact(now: number): Promise<number>
  /**
   * Consume one use from every counter, all or nothing, idempotently by `requestId`, with
   * exact sliding windows on the service clock `now`.
   */
  consume(requestId: string, counters: readonly UsageCounter[], now: number): Promise<ConsumeResult>
  /** Claim an invocation id until `expiresAt`; false if a live claim exists. Atomic. */
  claimReplay(id: string, expiresAt: number, now: number): Promise<boolean>
  /** Drop a claim (its request was denied after all). */
  releaseReplay(id: string): Promise<void>
  /** Create an approval request (idempotent by invocation id). */
  putApprovalRequest(record: Omit<ApprovalRecord, 'approvals'>): Promise<ApprovalRecord>
  getApprovalRequest(id: string): Promise<ApprovalRecord | undefined>
  /** Requests naming `approver` that it has not yet approved, oldest first. */
  pendingApprovals(approver: string, limit: number): Promise<ApprovalRecord[]>
  addApproval(id: string, approver: string, approval: string): Promise<ApprovalRecord>
  /** Readiness: the database answers. */
  ping(): Promise<void>
  /** Storage settings, for the durability assertions of the tests and /readyz. */
  settings(): Promise<Record<string, string>>
  close(): Promise<void>
}

/** Idempotency answers are kept this long (longer than any retry, and than one window of a day). */
export const ANSWER_TTL = 86_400

/** A revocation row as both stores read it (PostgreSQL returns BIGINTs as strings). */
export interface RevocationRow {
  readonly seq: number | string
  readonly block_id: string
  readonly kind: string
  readonly actions: string | null
  readonly at: number | string
  readonly by_key: string
  readonly reason: string | null
  readonly expires: number | string
}

/** The columns of {@link RevocationRow}, in order. */
export const REVOCATION_COLUMNS = 'seq, block_id, kind, actions, at, by_key, reason, expires'

/** A stored row as a feed entry. */
export function rowToEntry(r: RevocationRow): FeedEntry {
  return {
    seq: Number(r.seq),
    blockId: r.block_id,
    kind: r.kind as FeedEntry['kind'],
    ...(r.actions === null ? {} : { actions: JSON.parse(r.actions) as string[] }),
    at: Number(r.at),
    by: r.by_key,
    ...(r.reason === null ? {} : { reason: r.reason }),
    expires: Number(r.expires),
  }
}

/** The values inserted for a new revocation, in the order of the INSERT statements. */
export function revocationValues(e: NewRevocation): unknown[] {
  return [
    e.statementId,
    e.blockId,
    e.kind,
    e.actions?.length ? JSON.stringify(e.actions) : null,
    e.at,
    e.by,
    e.reason ?? null,
    e.expires,
    Buffer.from(e.statement),
  ]
}
