/**
 * The embedded store: better-sqlite3 in WAL mode with `synchronous=FULL`, so that a commit
 * is on disk before the service acknowledges it (kill -9 cannot tell FULL from NORMAL; a
 * power loss can, hence FULL, and a test asserts the pragmas).
 *
 * better-sqlite3 is synchronous: each operation is one transaction on the event loop, which
 * makes every multi-step write (the all-or-nothing consume) atomic by construction.
 *
 * @module
 */
import { mkdirSync } from 'node:fs'
import { dirname } from 'node:path'
import Database from 'better-sqlite3'
import type { ConsumeResult, UsageCounter } from '../usage/store.js'
import {
  ANSWER_TTL,
  type ApprovalRecord,
  type NewRevocation,
  REVOCATION_COLUMNS,
  type RevocationRow,
  revocationValues,
  rowToEntry,
  type Store,
} from './store.js'

const SCHEMA = `
CREATE TABLE IF NOT EXISTS revocations (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  statement_id TEXT NOT NULL UNIQUE,
  block_id TEXT NOT NULL,
  kind TEXT NOT NULL,
  actions TEXT,
  at INTEGER NOT NULL,
  by_key TEXT NOT NULL,
  reason TEXT,
  expires INTEGER NOT NULL,
  statement BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS revocations_block ON revocations(block_id);
CREATE INDEX IF NOT EXISTS revocations_expires ON revocations(expires);
CREATE TABLE IF NOT EXISTS usage_events (
  counter_key TEXT NOT NULL,
  at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS usage_events_key ON usage_events(counter_key, at);
CREATE TABLE IF NOT EXISTS usage_requests (
  request_id TEXT PRIMARY KEY,
  result TEXT NOT NULL,
  at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS replay_claims (
  id TEXT PRIMARY KEY,
  expires INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS approval_requests (
  id TEXT PRIMARY KEY,
  invocation TEXT NOT NULL,
  approvers TEXT NOT NULL,
  created_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS approvals (
  request_id TEXT NOT NULL,
  approver TEXT NOT NULL,
  approval TEXT NOT NULL,
  PRIMARY KEY (request_id, approver)
);
CREATE TABLE IF NOT EXISTS approval_approvers (
  request_id TEXT NOT NULL,
  approver TEXT NOT NULL,
  PRIMARY KEY (approver, request_id)
);
`

/** Open (creating if needed) a SQLite store at `path`. */
export function openSqliteStore(path: string): Store {
  if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true, mode: 0o700 })
  const db = new Database(path)
  db.pragma('journal_mode = WAL')
  db.pragma('synchronous = FULL')
  db.pragma('busy_timeout = 5000')
  db.pragma('foreign_keys = ON')
  db.exec(SCHEMA)

  const insertRevocation = db.prepare(
    'INSERT INTO revocations (statement_id, block_id, kind, actions, at, by_key, reason, expires, statement) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(statement_id) DO NOTHING',
  )
  const seqOf = db.prepare('SELECT seq FROM revocations WHERE statement_id = ?')
  const since = db.prepare(`SELECT ${REVOCATION_COLUMNS} FROM revocations WHERE seq > ? AND seq <= ? ORDER BY seq LIMIT ?`)
  const forBlock = db.prepare(`SELECT ${REVOCATION_COLUMNS} FROM revocations WHERE block_id = ? ORDER BY seq`)
  const headStmt = db.prepare("SELECT COALESCE((SELECT seq FROM sqlite_sequence WHERE name = 'revocations'), 0) AS head")
  const compactStmt = db.prepare('DELETE FROM revocations WHERE expires < ?')
  const forgetAnswers = db.prepare('DELETE FROM usage_requests WHERE at < ?')
  const forgetClaims = db.prepare('DELETE FROM replay_claims WHERE expires <= ?')
  const claim = db.prepare(
    'INSERT INTO replay_claims (id, expires) VALUES (?, ?) ON CONFLICT(id) DO UPDATE SET expires = excluded.expires WHERE replay_claims.expires <= ?',
  )
  const release = db.prepare('DELETE FROM replay_claims WHERE id = ?')
  const priorAnswer = db.prepare('SELECT result FROM usage_requests WHERE request_id = ?')
  const countSince = db.prepare('SELECT COUNT(*) AS n, MIN(at) AS oldest FROM usage_events WHERE counter_key = ? AND at > ?')
  const countAll = db.prepare('SELECT COUNT(*) AS n FROM usage_events WHERE counter_key = ?')
  const nthNewest = db.prepare('SELECT at FROM usage_events WHERE counter_key = ? AND at > ? ORDER BY at DESC LIMIT 1 OFFSET ?')
  const addEvent = db.prepare('INSERT INTO usage_events (counter_key, at) VALUES (?, ?)')
  const pruneEvents = db.prepare('DELETE FROM usage_events WHERE counter_key = ? AND at <= ?')
  const saveAnswer = db.prepare('INSERT INTO usage_requests (request_id, result, at) VALUES (?, ?, ?)')
  const putRequest = db.prepare(
    'INSERT INTO approval_requests (id, invocation, approvers, created_at) VALUES (?, ?, ?, ?) ON CONFLICT(id) DO NOTHING',
  )
  const putApprover = db.prepare('INSERT INTO approval_approvers (request_id, approver) VALUES (?, ?) ON CONFLICT DO NOTHING')
  const getRequest = db.prepare('SELECT id, invocation, approvers, created_at FROM approval_requests WHERE id = ?')
  const getApprovals = db.prepare('SELECT approver, approval FROM approvals WHERE request_id = ?')
  const pending = db.prepare(
    `SELECT r.id FROM approval_approvers a JOIN approval_requests r ON r.id = a.request_id
     WHERE a.approver = ? AND NOT EXISTS (SELECT 1 FROM approvals p WHERE p.request_id = r.id AND p.approver = a.approver)
     ORDER BY r.created_at, r.id LIMIT ?`,
  )
  const putApproval = db.prepare('INSERT INTO approvals (request_id, approver, approval) VALUES (?, ?, ?) ON CONFLICT DO NOTHING')

  const loadRequest = (id: string): ApprovalRecord | undefined => {
    const r = getRequest.get(id) as { id: string; invocation: string; approvers: string; created_at: number } | undefined
    if (!r) return undefined
    const approvals: Record<string, string> = {}
    for (const a of getApprovals.all(id) as { approver: string; approval: string }[]) approvals[a.approver] = a.approval
    return { id: r.id, invocation: r.invocation, approvers: JSON.parse(r.approvers) as string[], createdAt: r.created_at, approvals }
  }

  const consumeTx = db.transaction((requestId: string, counters: readonly UsageCounter[], now: number): ConsumeResult => {
    const prior = priorAnswer.get(requestId) as { result: string } | undefined
    if (prior) return JSON.parse(prior.result) as ConsumeResult
    let answer: ConsumeResult | undefined
    for (const c of counters) {
      if (c.per !== undefined) pruneEvents.run(c.key, now - c.per)
      const used = c.per === undefined ? (countAll.get(c.key) as { n: number }).n : (countSince.get(c.key, now - c.per) as { n: number }).n
      if (used >= c.max) {
        if (c.per === undefined) answer = { granted: false, exhausted: c.key }
        else {
          // The window frees up when the max-th newest grant leaves it.
          const row = nthNewest.get(c.key, now - c.per, c.max - 1) as { at: number } | undefined
          answer = { granted: false, exhausted: c.key, ...(row ? { resetAt: row.at + c.per } : {}) }
        }
        break
      }
    }
    if (!answer) {
      const remaining = counters.map((c) => {
        addEvent.run(c.key, now)
        const used =
          c.per === undefined ? (countAll.get(c.key) as { n: number }).n : (countSince.get(c.key, now - c.per) as { n: number }).n
        return { key: c.key, remaining: c.max - used }
      })
      answer = { granted: true, remaining }
    }
    saveAnswer.run(requestId, JSON.stringify(answer), now)
    return answer
  })

  return {
    async addRevocation(e: NewRevocation) {
      const tx = db.transaction(() => {
        const info = insertRevocation.run(...revocationValues(e))
        const row = seqOf.get(e.statementId) as { seq: number }
        return { seq: row.seq, created: info.changes === 1 }
      })
      return tx.immediate()
    },
    async revocationSeq(statementId) {
      return (seqOf.get(statementId) as { seq: number } | undefined)?.seq
    },
    async revocationsSince(after, limit) {
      // sqlite_sequence only grows (compaction never lowers it); one read transaction is one snapshot.
      return db.transaction(() => {
        const head = (headStmt.get() as { head: number }).head
        return { head, entries: (since.all(after, head, limit) as RevocationRow[]).map(rowToEntry) }
      })()
    },
    async head() {
      return (headStmt.get() as { head: number }).head
    },
    async revocationsFor(blockId) {
      return (forBlock.all(blockId) as RevocationRow[]).map(rowToEntry)
    },
    async compact(now) {
      return db.transaction(() => {
        forgetAnswers.run(now - ANSWER_TTL)
        forgetClaims.run(now)
        return compactStmt.run(now).changes
      })()
    },
    async consume(requestId, counters, now) {
      return consumeTx.immediate(requestId, counters, now)
    },
    async claimReplay(id, expiresAt, now) {
      // Inserted, or an expired claim taken over: one change. A live claim: none.
      return claim.run(id, expiresAt, now).changes === 1
    },
    async releaseReplay(id) {
      release.run(id)
    },
    async putApprovalRequest(r) {
      db.transaction(() => {
        putRequest.run(r.id, r.invocation, JSON.stringify(r.approvers), r.createdAt)
        for (const a of r.approvers) putApprover.run(r.id, a)
      }).immediate()
      return loadRequest(r.id) as ApprovalRecord
    },
    async getApprovalRequest(id) {
      return loadRequest(id)
    },
    async pendingApprovals(approver, limit) {
      return (pending.all(approver, limit) as { id: string }[]).map((r) => loadRequest(r.id) as ApprovalRecord)
    },
    async addApproval(id, approver, approval) {
      putApproval.run(id, approver, approval)
      return loadRequest(id) as ApprovalRecord
    },
    async ping() {
      db.prepare('SELECT 1').get()
    },
    async settings() {
      return {
        backend: 'sqlite',
        journal_mode: String(db.pragma('journal_mode', { simple: true })),
        synchronous: String(db.pragma('synchronous', { simple: true })),
      }
    },
    async close() {
      db.close()
    },
  }
}
