/**
 * What the service keeps, behind one interface with two implementations: embedded SQLite
 * (one process) and PostgreSQL (several instances on one database). Every write resolves
 * only after a durable commit; a rejected promise means nothing was acknowledged.
 *
 * @module
 */
import { decodeCaveatList, encodeCaveatList } from '../caveats/list.js'
import type { Caveat } from '../caveats/types.js'
import { fromHex, toHex } from '../internal/bytes.js'
import type { FeedEntry } from '../revocation/feed.js'
import type { ConsumeResult, UsageCounter } from '../usage/store.js'
import type { AuditCheckpoint, AuditEntry, NewAuditEntry } from './audit.js'

/** A revocation statement the service accepted, before it has a sequence number. */
export interface NewRevocation extends Omit<FeedEntry, 'seq'> {
  /** SHA-256 of the statement's signature: a retry with the same statement is a no-op. */
  readonly statementId: string
  /** The signed statement, kept for audit. */
  readonly statement: Uint8Array
}

/** What {@link Store.addRevocation} checks, atomically with the insert. (#7) */
export interface RevocationGuard {
  /** Block ids above the target, in chain order. */
  readonly above: readonly string[]
  /** Synchronous: throw to refuse, return a seq to answer with it, or nothing to insert. */
  admit(target: readonly FeedEntry[], above: readonly (readonly FeedEntry[])[]): number | undefined
}

/** Who refused an approval request, why, and when (spec/service-v1.md §7). */
export interface ApprovalDenial {
  /** did:key of the approver (or principal) who denied it. */
  readonly by: string
  /** The note the agent is told: 1–500 characters. */
  readonly reason: string
  /** When (Unix seconds, service clock). */
  readonly at: number
}

/** A pending or answered approval request. */
export interface ApprovalRecord {
  /** The invocation id (hex). */
  readonly id: string
  /** The invocation's text form. */
  readonly invocation: string
  /** did:keys that may approve it. */
  readonly approvers: readonly string[]
  /** did:key of the invocation's signer (the last holder), for the per-requester cap. (#7) */
  readonly requester: string
  readonly createdAt: number
  /** After this, the invocation can no longer be accepted: the request stops counting as pending. (#7) */
  readonly expiresAt: number
  /** Approvals received so far (text forms), by approver did:key. */
  readonly approvals: Readonly<Record<string, string>>
  /** Present once the request is denied: it is closed, and takes no more approvals. */
  readonly denial?: ApprovalDenial
}

/** Where a newest-first listing resumes: the last entry of the previous page. (#7) */
export interface ApprovalCursor {
  readonly createdAt: number
  readonly id: string
}

/**
 * A change of an approval request, recorded in the same transaction as the change, for the
 * notifications (spec/service-v1.md §7.3). Sequence numbers commit in order: a reader that has
 * seen `seq` n never later finds one below n.
 */
export interface InboxEvent {
  readonly seq: number
  /** The request id. */
  readonly requestId: string
  /** Filed, approved by one approver, or denied. */
  readonly kind: 'pending' | 'approved' | 'denied'
  /** The approver (or the principal) who approved or denied; absent for `pending`. */
  readonly by?: string
  /** When, Unix seconds (service clock). */
  readonly at: number
}

/** One consume, as the service stores it. (#7) */
export interface StoredConsume {
  /**
   * The idempotency key: `inv:<invocation id>` for an invocation, `req:<name length>:<verifier name>:<request id>`
   * for a bare mandate, so that nobody can answer for another's request.
   */
  readonly key: string
  /** SHA-256 (hex) of what was asked: the chain's block ids and the sorted counter keys. */
  readonly binding: string
  readonly counters: readonly UsageCounter[]
  /**
   * The chain's standing, checked again inside the transaction that spends, against what no
   * statement written meanwhile can change (spec §3, Standing): `check` gets each block's
   * entries in feed order, as {@link Store.revocationsFor} would, and throws when the chain is
   * revoked or suspended; then nothing is spent or stored.
   */
  readonly standing?: StandingCheck
}

/** A chain's blocks (ids, in chain order), and the check of their statements (see {@link StoredConsume.standing}). */
export interface StandingCheck {
  readonly blockIds: readonly string[]
  check(entries: readonly (readonly FeedEntry[])[]): void
}

/** The store operations a consume or a replay claim takes on its way to its answer. */
export type RequestSteps = Pick<Store, 'useNonce' | 'revocationsFor' | 'consume' | 'claimReplay'>

/**
 * {@link RequestSteps} that do not wait for durability, with the one wait that covers them (see
 * {@link Store.atCommit}).
 */
export interface AtCommit extends RequestSteps {
  /**
   * Resolves once every commit made so far, by this store or by another connection to its
   * database, is durable; rejects when one could not be made durable (then nothing may be
   * acknowledged).
   */
  durable(): Promise<void>
}

/** The service's storage. */
export interface Store {
  /**
   * The same operations, except that a write resolves once committed and a read answers at
   * once, neither waiting for the commits before it to be durable. Only for a caller that awaits
   * {@link AtCommit.durable} before anything it learned is shown, a refusal included: one wait
   * then covers every commit the answer rests on (a WAL is replayed as a prefix of its commits),
   * where each operation would otherwise wait for an fsync of its own. A store whose commits are
   * durable when made (PostgreSQL) leaves it out: its own operations are used.
   */
  readonly atCommit?: AtCommit
  /**
   * Set by a store whose {@link Store.consume} runs `StoredConsume.standing` inside the
   * transaction that spends (both stores here): the service then leaves the statements to it
   * and reads none before. Without it, the service reads them first too, the only check a store
   * that ignores `standing` has.
   */
  readonly checksStanding?: boolean
  /**
   * Append a revocation unless the same statement is already there; the entry's seq either way.
   * With `guard`, the entries of the target block and of `guard.above` (the blocks above it, in
   * chain order) are read in the same serialized transaction as the insert and handed to
   * `guard.admit`, which throws to refuse (nothing written), returns an existing entry's seq to
   * answer with instead (nothing written), or nothing to insert. Rules about what is already
   * there (authority to resume, a final revoke said once, per-signer caps) hold under any
   * concurrency, across instances. (#7)
   */
  addRevocation(entry: NewRevocation, guard?: RevocationGuard, audit?: NewAuditEntry): Promise<{ seq: number; created: boolean }>
  /** The sequence number of an accepted statement, by statement id. */
  revocationSeq(statementId: string): Promise<number | undefined>
  /**
   * One consistent read: the head (highest sequence number committed, never decreasing, even
   * when compaction removes the newest entry) and the entries with since < seq ≤ head, in
   * order, at most `limit`. Bounding by the head read in the same snapshot is what lets a
   * client set its mark to the head without ever skipping an entry committed later.
   * `sinceEntry` and `headEntry` are the statement ids (hex) of the rows at seq `since` and at
   * seq `head`, from the same snapshot, when those rows exist: a client that remembers the one
   * at its mark notices a rewritten history (spec/service-v1.md §4.4).
   */
  revocationsSince(
    since: number,
    limit: number,
  ): Promise<{ head: number; feedId: string; entries: FeedEntry[]; sinceEntry?: string; headEntry?: string }>
  /** The head alone (see {@link Store.revocationsSince}). */
  head(): Promise<number>
  /** Entries against one block. */
  revocationsFor(blockId: string): Promise<FeedEntry[]>
  /**
   * Housekeeping at service time `now`: drop revocation entries whose block expired before
   * `now` (they can no longer matter), idempotency answers older than a day (or than
   * `answerTtl` seconds, when longer: the service keeps an invocation's answer while it can
   * still be spent, its approval wait included), expired replay claims and nonces, and
   * approval requests expired for a day, and inbox events older than 3 days (`INBOX_EVENT_TTL`).
   * Returns how many revocation entries went.
   */
  compact(now: number, answerTtl?: number): Promise<number>
  /**
   * Consume one use from every counter, all or nothing, idempotently by `c.key`, with exact
   * sliding windows on the service clock `now`. A stored answer is returned only when its
   * binding is `c.binding`; another binding under the same key answers `'conflict'` and
   * changes nothing. (#7) The cost does not grow with past uses (running totals). With
   * `c.standing`, its check runs first, inside the same transaction, on the statements as they
   * stand there (ordered against statement writes): when it throws, nothing is spent or stored
   * and the error is the answer. A store that does this says so ({@link Store.checksStanding});
   * one that cannot leaves the service's earlier reading of standing as the only check
   * (spec/service-v1.md §3, Standing).
   */
  consume(c: StoredConsume, now: number): Promise<ConsumeResult | 'conflict'>
  /**
   * Uses spent so far, per counter, at `now`, changing nothing: a total counter's grants, a
   * windowed one's grants in (now − per, now]. For showing what is left, never for deciding:
   * only {@link Store.consume} decides.
   */
  usageOf(counters: readonly { readonly key: string; readonly per?: number }[], now: number): Promise<number[]>
  /**
   * Claim an invocation id for `claimer` (a verifier's did:key) until `expiresAt`; false if a
   * live claim exists, whoever holds it. Atomic. (#7)
   */
  claimReplay(id: string, claimer: string, expiresAt: number, now: number): Promise<boolean>
  /**
   * Drop a claim, only if `claimer` holds it: `'released'`, `'absent'` (no live claim) or
   * `'not-yours'` (another verifier holds it; nothing changes). (#7)
   */
  releaseReplay(id: string, claimer: string, now: number): Promise<'released' | 'absent' | 'not-yours'>
  /**
   * Accept a signed request's (keyid, nonce) once: false if it was seen before. Kept until
   * `expiresAt`, then compacted. (#7)
   */
  useNonce(keyid: string, nonce: string, expiresAt: number, now: number): Promise<boolean>
  /**
   * Create an approval request (idempotent by invocation id: an existing one is returned as
   * it is). Refused with `'full'` when `record.requester` already has `maxPending` pending
   * requests (not expired at `now`, not denied, and not answered by any approver yet),
   * atomically with the insert. (#7)
   */
  putApprovalRequest(
    record: Omit<ApprovalRecord, 'approvals'>,
    maxPending: number,
    now: number,
    audit?: NewAuditEntry,
  ): Promise<ApprovalRecord | 'full'>
  // Each write that changes something (a new revocation, a new request, a new approval, a
  // denial) appends, in the same transaction, its `audit` record to the audit log and, for the
  // inbox, its {@link InboxEvent}; a retry or a refusal that changes nothing appends neither.
  getApprovalRequest(id: string): Promise<ApprovalRecord | undefined>
  /**
   * Requests naming `approver` that it has not yet approved, that are not denied and that have
   * not expired at `now`, newest first (created_at desc, id desc), strictly after `before` when
   * given. (#7)
   */
  pendingApprovals(approver: string, limit: number, now: number, before?: ApprovalCursor): Promise<ApprovalRecord[]>
  /**
   * Store `approver`'s approval of request `id` (a second one from the same approver leaves the
   * first in place), unless the request is denied: then nothing is stored. Returns the request
   * as it stands; serialized with {@link Store.denyApprovalRequest} on the same request, so that
   * an approval and a denial never both land on one open request.
   */
  addApproval(id: string, approver: string, approval: string, now: number, audit?: NewAuditEntry): Promise<ApprovalRecord>
  /**
   * Deny request `id`: in one serialized step with the approvals of that request, read it and
   * hand it to `admit`, which throws to refuse (nothing written), returns false to answer with
   * the request unchanged (a retry), or true to record `denial`. Returns the request as it then
   * stands, or `undefined` when there is no such request.
   */
  denyApprovalRequest(
    id: string,
    denial: ApprovalDenial,
    admit: (record: ApprovalRecord) => boolean,
    audit?: NewAuditEntry,
  ): Promise<ApprovalRecord | undefined>
  /**
   * Append records to the audit log, in order, in one transaction: each gets the next seq and
   * the previous record's hash. Appends serialize across instances, so that there is one chain.
   */
  appendAudit(records: readonly NewAuditEntry[]): Promise<AuditEntry[]>
  /** Audit records with `seq > since`, in order, at most `limit`. */
  auditRecords(since: number, limit: number): Promise<AuditEntry[]>
  /** The log's id (32 hex digits, made with the database), its record count and head hash, in one snapshot. */
  auditHead(): Promise<{ log: string; count: number; head: string }>
  /** The newest record appended before `cutoff` that is not the newest of the log (retention keeps the tip). */
  auditPrunable(cutoff: number): Promise<AuditEntry | undefined>
  /**
   * Delete the records with `seq ≤ upTo` (never the newest). The caller first keeps a signed
   * checkpoint of record `upTo`: it anchors every export that starts after the pruned records.
   * Returns how many went.
   */
  pruneAudit(upTo: number): Promise<number>
  /** The kept checkpoint of exactly `count` records, if any. */
  checkpointAt(count: number): Promise<AuditCheckpoint | undefined>
  /** Keep a signed checkpoint (a second one of the same count is ignored). */
  putCheckpoint(checkpoint: AuditCheckpoint): Promise<void>
  /** The checkpoint of the highest count, if any. */
  latestCheckpoint(): Promise<AuditCheckpoint | undefined>
  /** Inbox events with `seq > after`, in order, at most `limit`. */
  inboxEvents(after: number, limit: number): Promise<InboxEvent[]>
  /**
   * Lease notification endpoint `endpoint` (an opaque id) to `holder` until `until`, unless
   * another holder's lease is live at `now`: then `undefined`. Returns the endpoint's cursor
   * (the last event delivered there), created at the newest event when the endpoint is new, so
   * that a new endpoint is not sent the past.
   */
  leaseWebhook(endpoint: string, holder: string, now: number, until: number): Promise<number | undefined>
  /** Move the endpoint's cursor to `seq` while `holder` holds its lease (and only forward); false otherwise. */
  advanceWebhook(endpoint: string, holder: string, seq: number): Promise<boolean>
  /** Readiness: the database answers. */
  ping(): Promise<void>
  /**
   * Readiness for writes: a small write is committed (fails on a read-only file, a full disk,
   * a held lock, a timeout). (#7)
   */
  probe(): Promise<void>
  /**
   * The feed id: 16 random bytes (hex) created with the database, so that a verifier notices a
   * new or replaced database. (#7)
   */
  feedId(): Promise<string>
  /** Replace the feed id with a new random one (after a detected rollback); returns it. (#7) */
  rotateFeedId(): Promise<string>
  /** Storage settings, for the durability assertions of the tests and /readyz. */
  settings(): Promise<Record<string, string>>
  close(): Promise<void>
}

/** Inbox events are kept this long (s): a notification endpoint that is down longer misses them. */
export const INBOX_EVENT_TTL = 3 * 86_400

/** Idempotency answers are kept this long (longer than any retry, and than one window of a day). */
export const ANSWER_TTL = 86_400

/** A revocation row as both stores read it (PostgreSQL returns BIGINTs as strings). */
export interface RevocationRow {
  readonly seq: number | string
  readonly statement_id: string
  readonly block_id: string
  readonly kind: string
  readonly actions: string | null
  readonly at: number | string
  readonly by_key: string
  readonly reason: string | null
  readonly expires: number | string
  /** An amendment's caveats: the CBOR of the caveat list, in hex. */
  readonly caveats: string | null
  /** A lift: the id of the amendment it lifts. */
  readonly lifts: string | null
}

/** The columns of {@link RevocationRow}, in order. */
export const REVOCATION_COLUMNS = 'seq, statement_id, block_id, kind, actions, at, by_key, reason, expires, caveats, lifts'

/**
 * Columns added to `revocations` after it first shipped (amendments), with their type in both
 * stores: nullable, so that every existing row stays what it was.
 */
export const AMENDMENT_COLUMNS = [
  ['caveats', 'TEXT'],
  ['lifts', 'TEXT'],
] as const

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
    ...(r.kind === 'amend' ? { id: r.statement_id, caveats: storedCaveats(r.caveats) } : {}),
    ...(r.lifts === null ? {} : { lifts: r.lifts }),
  }
}

/** An amendment's caveats as stored; they were checked when it was accepted. */
function storedCaveats(hex: string | null): Caveat[] {
  const caveats = decodeCaveatList(fromHex(hex ?? '') ?? new Uint8Array())
  if (caveats === undefined) throw new Error('a stored amendment has caveats that do not decode')
  return caveats
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
    e.caveats === undefined ? null : toHex(encodeCaveatList(e.caveats)),
    e.lifts ?? null,
  ]
}

/** An inbox event row as both stores read it. */
export interface InboxEventRow {
  readonly seq: number | string
  readonly request_id: string
  readonly kind: string
  readonly by_key: string | null
  readonly at: number | string
}

/** A stored row as an inbox event. */
export function rowToInboxEvent(r: InboxEventRow): InboxEvent {
  return {
    seq: Number(r.seq),
    requestId: r.request_id,
    kind: r.kind as InboxEvent['kind'],
    ...(r.by_key === null ? {} : { by: r.by_key }),
    at: Number(r.at),
  }
}
