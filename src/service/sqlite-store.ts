/**
 * The embedded store: better-sqlite3 in WAL mode, and nothing acknowledged before it is on disk.
 *
 * better-sqlite3 is synchronous: each operation runs whole on the event loop, which makes
 * every multi-step write (the all-or-nothing consume) atomic by construction.
 *
 * Writes are committed in groups: a write is queued, and once the event loop has taken in what
 * else arrived (`setImmediate`), every queued write runs in one IMMEDIATE transaction, each in
 * a savepoint of its own; a write that fails rolls back its own savepoint and rejects alone; a
 * commit that fails rejects them all.
 *
 * Durability is the WAL's fsync, run on a thread of the store's own (src/service/fsync-thread.ts)
 * rather than inside the commit (`synchronous=NORMAL`: SQLite writes the WAL and leaves syncing
 * it to us), nor on libuv's pool, where signature checks queue. One fsync at a
 * time: the commits that land while one runs are made durable together by the next, and the
 * event loop goes on with other requests meanwhile (inside the commit, `synchronous=FULL` held
 * the loop for each fsync, so that nothing could join a group while it waited). A write
 * resolves, and a read answers, only once every commit made before it is durable: nothing is
 * acknowledged, or shown to anyone, that a power loss could take back. (The operations of
 * `atCommit` resolve sooner, for a request that waits once, with `durable()`, before it answers.)
 * An fsync that fails leaves the store refusing everything (the pages it covered may be lost:
 * PostgreSQL's rule); a restart reads the database as the disk has it. SQLite still syncs the
 * WAL before a checkpoint and the database after it.
 *
 * @module
 */
import { randomBytes } from 'node:crypto'
import { closeSync, fsyncSync, mkdirSync, openSync } from 'node:fs'
import { dirname } from 'node:path'
import Database from 'better-sqlite3'
import type { ConsumeResult } from '../usage/store.js'
import { type AuditCheckpoint, type AuditEntry, chainRecord, GENESIS, type NewAuditEntry } from './audit.js'
import { type Fsync, type FsyncThread, FsyncThreadStopped, startFsyncThread } from './fsync-thread.js'
import {
  AMENDMENT_COLUMNS,
  ANSWER_TTL,
  type ApprovalRecord,
  type AtCommit,
  INBOX_EVENT_TTL,
  type InboxEventRow,
  type NewRevocation,
  REVOCATION_COLUMNS,
  type RevocationGuard,
  type RevocationRow,
  revocationValues,
  rowToEntry,
  rowToInboxEvent,
  type Store,
  type StoredConsume,
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
  statement BLOB NOT NULL,
  caveats TEXT,
  lifts TEXT
);
CREATE INDEX IF NOT EXISTS revocations_block ON revocations(block_id);
CREATE INDEX IF NOT EXISTS revocations_expires ON revocations(expires);
CREATE TABLE IF NOT EXISTS usage_events (
  counter_key TEXT NOT NULL,
  at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS usage_events_key ON usage_events(counter_key, at);
CREATE TABLE IF NOT EXISTS usage_totals (
  counter_key TEXT PRIMARY KEY,
  used INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS usage_answers (
  key TEXT PRIMARY KEY,
  binding TEXT NOT NULL,
  result TEXT NOT NULL,
  at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS usage_answers_at ON usage_answers(at);
CREATE TABLE IF NOT EXISTS replay_claims_v2 (
  id TEXT PRIMARY KEY,
  claimer TEXT NOT NULL,
  expires INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS replay_claims_v2_expires ON replay_claims_v2(expires);
CREATE TABLE IF NOT EXISTS request_nonces (
  keyid TEXT NOT NULL,
  nonce TEXT NOT NULL,
  expires INTEGER NOT NULL,
  PRIMARY KEY (keyid, nonce)
);
CREATE INDEX IF NOT EXISTS request_nonces_expires ON request_nonces(expires);
CREATE TABLE IF NOT EXISTS approval_requests_v2 (
  id TEXT PRIMARY KEY,
  invocation TEXT NOT NULL,
  approvers TEXT NOT NULL,
  requester TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL,
  denied_by TEXT,
  denial_reason TEXT,
  denied_at INTEGER
);
CREATE INDEX IF NOT EXISTS approval_requests_v2_requester ON approval_requests_v2(requester, expires_at);
CREATE INDEX IF NOT EXISTS approval_requests_v2_expires ON approval_requests_v2(expires_at);
CREATE TABLE IF NOT EXISTS health (
  one INTEGER PRIMARY KEY CHECK (one = 1),
  at INTEGER NOT NULL
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
CREATE TABLE IF NOT EXISTS inbox_events (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  request_id TEXT NOT NULL,
  kind TEXT NOT NULL,
  by_key TEXT,
  at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS inbox_events_at ON inbox_events(at);
CREATE TABLE IF NOT EXISTS audit_log (
  seq INTEGER PRIMARY KEY,
  at INTEGER NOT NULL,
  type TEXT NOT NULL,
  principal TEXT,
  ref TEXT UNIQUE,
  hash TEXT NOT NULL,
  record TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS audit_checkpoints (
  count INTEGER PRIMARY KEY,
  checkpoint TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS webhook_cursors (
  endpoint TEXT PRIMARY KEY,
  seq INTEGER NOT NULL,
  holder TEXT NOT NULL,
  lease_until INTEGER NOT NULL
);
`

/** A day: approval requests are kept this long after they expire. */
const DAY = 86_400

/** How long a write waits for another connection's lock (the probe waits {@link PROBE_BUSY_MS}). */
const BUSY_TIMEOUT_MS = 2000
/** The readiness probe waits at most this for a lock, so that /readyz answers within ~2 s. */
const PROBE_BUSY_MS = 1000

/** At most this many writes share a commit; the rest go in the next group, at once. */
const GROUP_MAX = 256

/** Tables of {@link SCHEMA} that version 0.1 did not have. */
const NEW_TABLES = [
  'usage_totals',
  'usage_answers',
  'replay_claims_v2',
  'request_nonces',
  'approval_requests_v2',
  'health',
  'inbox_events',
  'webhook_cursors',
  'audit_log',
  'audit_checkpoints',
]

/** Columns added to `approval_requests_v2` after it first shipped (denials), with their types. */
const DENIAL_COLUMNS = [
  ['denied_by', 'TEXT'],
  ['denial_reason', 'TEXT'],
  ['denied_at', 'INTEGER'],
] as const

/**
 * Create the schema, upgrading a version 0.1 database on the way, in one write transaction —
 * taken only when a table is missing, so that an up-to-date file that has become read-only
 * still opens (and then fails {@link Store.probe}).
 *
 * From 0.1: the running totals start as the count of the stored use events (0.1 kept every
 * event of a total counter, and the unpruned events of a windowed one, so nothing is lost);
 * live replay claims move over with an unknown claimer (`''`: nobody can release them, they
 * expire as before); approval requests move over with an unknown requester (`''`, counted
 * against nobody's cap) and, having no recorded expiry, expire a day after their creation.
 * The 0.1 idempotency answers (`usage_requests`) are dropped: they have no binding to check a
 * retry against, and 0.1 keys (bare request ids) cannot collide with the new `inv:`/`req:` keys.
 *
 * A database made before denials existed gains the denial columns of `approval_requests_v2`
 * (nullable, so every existing request stays as it was: not denied).
 */
function createSchema(db: Database.Database): void {
  const exists = (table: string) => db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?").get(table) !== undefined
  const columns = () =>
    exists('approval_requests_v2')
      ? new Set((db.prepare('PRAGMA table_info(approval_requests_v2)').all() as { name: string }[]).map((c) => c.name))
      : new Set<string>()
  const revocationColumns = () =>
    exists('revocations')
      ? new Set((db.prepare('PRAGMA table_info(revocations)').all() as { name: string }[]).map((c) => c.name))
      : new Set<string>()
  const hasDenials = () => {
    const have = columns()
    const amendments = revocationColumns()
    return DENIAL_COLUMNS.every(([name]) => have.has(name)) && AMENDMENT_COLUMNS.every(([name]) => amendments.has(name))
  }
  if (NEW_TABLES.every(exists) && !exists('usage_requests') && hasDenials()) {
    db.exec(SCHEMA) // nothing to create: reads only
    return
  }
  db.transaction(() => {
    const fresh = new Set(NEW_TABLES.filter((t) => !exists(t)))
    db.exec(SCHEMA)
    const have = columns()
    for (const [name, type] of DENIAL_COLUMNS) {
      if (!have.has(name)) db.exec(`ALTER TABLE approval_requests_v2 ADD COLUMN ${name} ${type}`)
    }
    const amendments = revocationColumns()
    for (const [name, type] of AMENDMENT_COLUMNS) {
      if (!amendments.has(name)) db.exec(`ALTER TABLE revocations ADD COLUMN ${name} ${type}`)
    }
    if (fresh.has('usage_totals')) {
      db.exec('INSERT INTO usage_totals (counter_key, used) SELECT counter_key, COUNT(*) FROM usage_events GROUP BY counter_key')
    }
    if (fresh.has('replay_claims_v2') && exists('replay_claims')) {
      db.exec("INSERT INTO replay_claims_v2 (id, claimer, expires) SELECT id, '', expires FROM replay_claims")
      db.exec('DROP TABLE replay_claims')
    }
    if (fresh.has('approval_requests_v2') && exists('approval_requests')) {
      db.exec(
        `INSERT INTO approval_requests_v2 (id, invocation, approvers, requester, created_at, expires_at)
         SELECT id, invocation, approvers, '', created_at, created_at + ${DAY} FROM approval_requests`,
      )
      db.exec('DROP TABLE approval_requests')
    }
    db.exec('DROP TABLE IF EXISTS usage_requests')
  }).immediate()
}

export type { Fsync } from './fsync-thread.js'

/** Open (creating if needed) a SQLite store at `path`; `fsync` replaces its fsync thread (tests hold it). */
export function openSqliteStore(path: string, options: { readonly fsync?: Fsync } = {}): Store & { readonly atCommit: AtCommit } {
  if (path !== ':memory:') {
    mkdirSync(dirname(path), { recursive: true, mode: 0o700 })
    // The database holds the approval inbox (who asks, for what, and why): readable by its
    // owner only, wherever it is. SQLite gives its -wal and -shm files the same mode.
    try {
      closeSync(openSync(path, 'wx', 0o600))
    } catch (e) {
      if ((e as { code?: unknown }).code !== 'EEXIST') throw e
    }
  }
  const db = new Database(path)
  const mode = String(db.pragma('journal_mode = WAL', { simple: true }))
  // Durability below is an fsync of the WAL: a database that cannot use one is refused.
  if (path !== ':memory:' && mode !== 'wal') {
    db.close()
    throw new Error(`SQLite could not put ${path} in WAL mode (it is in ${mode} mode)`)
  }
  // The WAL is synced by `durable` below, on the store's fsync thread, before anything is answered.
  db.pragma('synchronous = NORMAL')
  // better-sqlite3 waits for a lock on the event loop: every request stalls meanwhile. Only
  // another process (a backup, a shell, a misconfigured second instance) can hold the lock of
  // a one-process store, so wait briefly and answer 503 rather than stall for long.
  db.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`)
  db.pragma('foreign_keys = ON')
  createSchema(db)
  // The feed id names this database (#7): created with it, so a new or replaced file has another.
  // Written only when absent, so that an up-to-date file that has become read-only still opens.
  const hasMeta = db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'meta'").get() !== undefined
  if (!hasMeta || db.prepare("SELECT 1 FROM meta WHERE key = 'feed_id'").get() === undefined) {
    db.exec('CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)')
    db.prepare("INSERT INTO meta (key, value) VALUES ('feed_id', ?) ON CONFLICT(key) DO NOTHING").run(randomBytes(16).toString('hex'))
  }
  const feedIdStmt = db.prepare("SELECT value FROM meta WHERE key = 'feed_id'")
  const setFeedId = db.prepare("UPDATE meta SET value = ? WHERE key = 'feed_id'")

  const insertRevocation = db.prepare(
    'INSERT INTO revocations (statement_id, block_id, kind, actions, at, by_key, reason, expires, statement, caveats, lifts) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(statement_id) DO NOTHING',
  )
  const seqOf = db.prepare('SELECT seq FROM revocations WHERE statement_id = ?')
  const since = db.prepare(`SELECT ${REVOCATION_COLUMNS} FROM revocations WHERE seq > ? AND seq <= ? ORDER BY seq LIMIT ?`)
  const forBlock = db.prepare(`SELECT ${REVOCATION_COLUMNS} FROM revocations WHERE block_id = ? ORDER BY seq`)
  const headStmt = db.prepare("SELECT COALESCE((SELECT seq FROM sqlite_sequence WHERE name = 'revocations'), 0) AS head")
  const compactStmt = db.prepare('DELETE FROM revocations WHERE expires < ?')
  const forgetAnswers = db.prepare('DELETE FROM usage_answers WHERE at < ?')
  const forgetClaims = db.prepare('DELETE FROM replay_claims_v2 WHERE expires <= ?')
  const forgetNonces = db.prepare('DELETE FROM request_nonces WHERE expires <= ?')
  const oldRequests = 'SELECT id FROM approval_requests_v2 WHERE expires_at < ?'
  const forgetApprovals = db.prepare(`DELETE FROM approvals WHERE request_id IN (${oldRequests})`)
  const forgetApprovers = db.prepare(`DELETE FROM approval_approvers WHERE request_id IN (${oldRequests})`)
  const forgetRequests = db.prepare('DELETE FROM approval_requests_v2 WHERE expires_at < ?')
  // Inserted, or an expired claim taken over (by anyone): one change. A live claim: none.
  const claim = db.prepare(
    `INSERT INTO replay_claims_v2 (id, claimer, expires) VALUES (?, ?, ?)
     ON CONFLICT(id) DO UPDATE SET claimer = excluded.claimer, expires = excluded.expires WHERE replay_claims_v2.expires <= ?`,
  )
  const liveClaim = db.prepare('SELECT claimer FROM replay_claims_v2 WHERE id = ? AND expires > ?').pluck()
  const release = db.prepare('DELETE FROM replay_claims_v2 WHERE id = ?')
  const addNonce = db.prepare('INSERT INTO request_nonces (keyid, nonce, expires) VALUES (?, ?, ?) ON CONFLICT DO NOTHING')
  const priorAnswer = db.prepare('SELECT binding, result FROM usage_answers WHERE key = ?')
  const saveAnswer = db.prepare('INSERT INTO usage_answers (key, binding, result, at) VALUES (?, ?, ?, ?)')
  const getTotal = db.prepare('SELECT used FROM usage_totals WHERE counter_key = ?').pluck()
  const addTotal = db.prepare(
    'INSERT INTO usage_totals (counter_key, used) VALUES (?, ?) ON CONFLICT(counter_key) DO UPDATE SET used = used + excluded.used',
  )
  const addEvent = db.prepare('INSERT INTO usage_events (counter_key, at) VALUES (?, ?)')
  // Both walk the (counter_key, at) index from the oldest event: the delete touches only the
  // expired events, the select skips only `used − max` live ones (0 unless a counter's max shrank).
  const pruneEvents = db.prepare('DELETE FROM usage_events WHERE counter_key = ? AND at <= ?')
  const nthOldestLive = db.prepare('SELECT at FROM usage_events WHERE counter_key = ? AND at > ? ORDER BY at LIMIT 1 OFFSET ?').pluck()
  const putRequest = db.prepare(
    `INSERT INTO approval_requests_v2 (id, invocation, approvers, requester, created_at, expires_at)
     VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT(id) DO NOTHING`,
  )
  const livePerRequester = db
    .prepare(
      'SELECT COUNT(*) FROM approval_requests_v2 r WHERE r.requester = ? AND r.expires_at > ? AND r.denied_at IS NULL AND NOT EXISTS (SELECT 1 FROM approvals p WHERE p.request_id = r.id)',
    )
    .pluck()
  const putApprover = db.prepare('INSERT INTO approval_approvers (request_id, approver) VALUES (?, ?) ON CONFLICT DO NOTHING')
  const getRequest = db.prepare(
    'SELECT id, invocation, approvers, requester, created_at, expires_at, denied_by, denial_reason, denied_at FROM approval_requests_v2 WHERE id = ?',
  )
  const putDenial = db.prepare('UPDATE approval_requests_v2 SET denied_by = ?, denial_reason = ?, denied_at = ? WHERE id = ?')
  const getApprovals = db.prepare('SELECT approver, approval FROM approvals WHERE request_id = ?')
  const pendingQuery = (cursor: string) => `
    SELECT r.id FROM approval_approvers a JOIN approval_requests_v2 r ON r.id = a.request_id
    WHERE a.approver = ? AND r.expires_at > ? AND r.denied_at IS NULL ${cursor}
      AND NOT EXISTS (SELECT 1 FROM approvals p WHERE p.request_id = r.id AND p.approver = a.approver)
    ORDER BY r.created_at DESC, r.id DESC LIMIT ?`
  const pendingFirst = db.prepare(pendingQuery('')).pluck()
  const pendingAfter = db.prepare(pendingQuery('AND (r.created_at, r.id) < (?, ?)')).pluck()
  const putApproval = db.prepare(
    `INSERT INTO approvals (request_id, approver, approval)
     SELECT ?, ?, ? WHERE EXISTS (SELECT 1 FROM approval_requests_v2 WHERE id = ?) ON CONFLICT DO NOTHING`,
  )
  const lastAudit = db.prepare('SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1')
  const insertAudit = db.prepare('INSERT INTO audit_log (seq, at, type, principal, ref, hash, record) VALUES (?, ?, ?, ?, ?, ?, ?)')
  const auditByRef = db.prepare('SELECT record FROM audit_log WHERE ref = ?').pluck()
  const auditAfter = db.prepare('SELECT record FROM audit_log WHERE seq > ? ORDER BY seq LIMIT ?').pluck()
  const insertCheckpoint = db.prepare('INSERT INTO audit_checkpoints (count, checkpoint) VALUES (?, ?) ON CONFLICT DO NOTHING')
  const prunable = db
    .prepare('SELECT record FROM audit_log WHERE at < ? AND seq < (SELECT MAX(seq) FROM audit_log) ORDER BY seq DESC LIMIT 1')
    .pluck()
  const prune = db.prepare('DELETE FROM audit_log WHERE seq <= ? AND seq < (SELECT MAX(seq) FROM audit_log)')
  const checkpointOf = db.prepare('SELECT checkpoint FROM audit_checkpoints WHERE count = ?').pluck()
  const newestCheckpoint = db.prepare('SELECT checkpoint FROM audit_checkpoints ORDER BY count DESC LIMIT 1').pluck()
  if (db.prepare("SELECT 1 FROM meta WHERE key = 'audit_log_id'").get() === undefined) {
    db.prepare("INSERT INTO meta (key, value) VALUES ('audit_log_id', ?) ON CONFLICT(key) DO NOTHING").run(randomBytes(16).toString('hex'))
  }
  const auditLogId = db.prepare("SELECT value FROM meta WHERE key = 'audit_log_id'").pluck()
  /** The newest record's seq and hash (0 and GENESIS for an empty log). */
  const auditTip = (): { count: number; head: string } => {
    const row = lastAudit.get() as { seq: number; hash: string } | undefined
    return row ? { count: row.seq, head: row.hash } : { count: 0, head: GENESIS }
  }
  /**
   * Append one record, inside the caller's transaction (the group's write lock makes appends
   * one chain); a record whose `ref` is already in the log is not appended again: the stored one
   * is returned.
   */
  const appendOne = (r: NewAuditEntry): AuditEntry => {
    const ref = typeof r['ref'] === 'string' ? r['ref'] : null
    const prior = ref === null ? undefined : (auditByRef.get(ref) as string | undefined)
    if (prior !== undefined) return JSON.parse(prior) as AuditEntry
    const tip = auditTip()
    const record = chainRecord(r, tip.count + 1, tip.head)
    const principal = typeof r['principal'] === 'string' ? r['principal'] : null
    insertAudit.run(record.seq, record.at, record.type, principal, ref, record.hash, JSON.stringify(record))
    return record
  }
  const liveEvents = db.prepare('SELECT COUNT(*) FROM usage_events WHERE counter_key = ? AND at > ?').pluck()
  const addInboxEvent = db.prepare('INSERT INTO inbox_events (request_id, kind, by_key, at) VALUES (?, ?, ?, ?)')
  const inboxEventsAfter = db.prepare('SELECT seq, request_id, kind, by_key, at FROM inbox_events WHERE seq > ? ORDER BY seq LIMIT ?')
  const inboxHead = db.prepare("SELECT COALESCE((SELECT seq FROM sqlite_sequence WHERE name = 'inbox_events'), 0)").pluck()
  const forgetInboxEvents = db.prepare('DELETE FROM inbox_events WHERE at < ?')
  const getCursor = db.prepare('SELECT seq, holder, lease_until FROM webhook_cursors WHERE endpoint = ?')
  const newCursor = db.prepare('INSERT INTO webhook_cursors (endpoint, seq, holder, lease_until) VALUES (?, ?, ?, ?)')
  const renewLease = db.prepare('UPDATE webhook_cursors SET holder = ?, lease_until = ? WHERE endpoint = ?')
  const moveCursor = db.prepare('UPDATE webhook_cursors SET seq = ? WHERE endpoint = ? AND holder = ? AND seq < ?')
  const touchHealth = db.prepare('INSERT INTO health (one, at) VALUES (1, ?) ON CONFLICT(one) DO UPDATE SET at = excluded.at')

  // ---- durability: an fsync of the WAL after each group, one at a time --------------------
  const memory = path === ':memory:'
  // The WAL sits beside the database file as SQLite resolved it (through symbolic links).
  const file = memory ? '' : String((db.pragma('database_list') as { name: string; file: string }[])[0]?.file)
  /**
   * The WAL, made durable now: what this process committed while opening, and what a process
   * before it committed and died before syncing, are on disk before anything is answered. Its
   * directory entry too, as SQLite does for a file it has just created (not on Windows, where
   * a directory cannot be flushed).
   */
  // Read-only is enough for fsync on POSIX (and lets a read-only database open); Windows flushes only a writable handle.
  const walFd = memory ? undefined : openSync(`${file}-wal`, process.platform === 'win32' ? 'r+' : 'r')
  if (walFd !== undefined) {
    try {
      fsyncSync(walFd)
      if (process.platform !== 'win32') {
        const dir = openSync(dirname(file), 'r')
        try {
          fsyncSync(dir)
        } finally {
          closeSync(dir)
        }
      }
    } catch (e) {
      closeSync(walFd)
      db.close()
      throw e
    }
  }
  // On a thread of its own, not libuv's pool, where it would wait behind the signatures in flight.
  const thread: FsyncThread | undefined = walFd === undefined || options.fsync ? undefined : startFsyncThread()
  // None for a database in memory (no WAL): there is nothing to sync.
  const syncFile: Fsync | undefined = options.fsync ?? thread?.sync
  /** Commits made, and commits known to be on disk (counts). */
  let committed = 0
  let synced = 0
  let syncing = false
  let failed: Error | undefined
  /** Another connection's commits (an operator's shell, a second process) are synced by us too. */
  const dataVersion = memory ? undefined : db.prepare('PRAGMA data_version').pluck()
  let seenVersion = dataVersion?.get()
  const waiting: { readonly upTo: number; readonly resolve: () => void; readonly reject: (e: unknown) => void }[] = []
  const fail = (e: Error): void => {
    // Linux may keep the pages an fsync failed to write in its cache, marked clean: a restart
    // without a reboot could read back what the disk does not have.
    // A thread that stopped lost nothing the system holds: what was written is synced at the
    // next open.
    const advice = e instanceof FsyncThreadStopped ? 'restart the service' : 'check the disk and reboot before restarting the service'
    failed = new Error(`the database could not be made durable (${e.message}); ${advice}`, { cause: e })
    for (const w of waiting.splice(0)) w.reject(failed)
  }
  const sync = (): void => {
    if (syncing || failed || walFd === undefined || syncFile === undefined || synced >= committed) return
    syncing = true
    const upTo = committed
    syncFile(walFd, (error) => {
      syncing = false
      if (error) {
        fail(error)
        return
      }
      synced = upTo
      while (waiting.length > 0 && (waiting[0] as { upTo: number }).upTo <= synced) waiting.shift()?.resolve()
      sync()
    })
  }
  /** Resolves once every commit made so far is on disk; at once when there is none to wait for. */
  const durable = (): Promise<void> => {
    if (failed) return Promise.reject(failed)
    if (memory || synced >= committed) return Promise.resolve()
    return new Promise<void>((resolve, reject) => {
      waiting.push({ upTo: committed, resolve, reject })
      sync()
    })
  }
  /** Another connection's commits since the last look count as one more of ours to sync. */
  const notice = (): void => {
    const version = dataVersion?.get()
    if (version !== seenVersion) {
      seenVersion = version
      committed++
    }
  }
  /** A read's answer, at once: what it may have seen need not be durable (see Store.atCommit). */
  const readAtCommit = async <T>(answer: () => T): Promise<T> => {
    if (failed) throw failed
    const value = answer()
    notice()
    return value
  }
  /** A read's answer, released once what it may have seen is durable. */
  const read = async <T>(answer: () => T): Promise<T> => {
    const value = await readAtCommit(answer)
    await durable()
    return value
  }

  /** A queued write: `run` is called inside the group's transaction, in a savepoint. */
  interface Pending {
    readonly run: () => unknown
    /** Answered once committed (see Store.atCommit), or once durable. */
    readonly settleAt: 'commit' | 'durable'
    readonly resolve: (value: unknown) => void
    readonly reject: (error: unknown) => void
  }
  let queue: Pending[] = []
  let scheduled = false
  let closing: Promise<void> | undefined
  // Called inside the group's transaction, better-sqlite3 makes this a SAVEPOINT: a write that
  // throws is rolled back alone and the others still commit.
  const savepoint = db.transaction((run: () => unknown) => run())
  const flush = (): void => {
    scheduled = false
    if (queue.length === 0) return
    if (failed) {
      for (const p of queue.splice(0)) p.reject(failed)
      return
    }
    const group = queue.length > GROUP_MAX ? queue.splice(0, GROUP_MAX) : queue
    if (group === queue) queue = []
    else schedule()
    const outcomes: { ok: boolean; value: unknown }[] = []
    try {
      db.transaction(() => {
        for (const p of group) {
          try {
            outcomes.push({ ok: true, value: savepoint(p.run) })
          } catch (e) {
            // An I/O or disk-full error can end the whole transaction: then nothing of the
            // group may be written outside it, and the commit below must not happen.
            if (!db.inTransaction) throw e
            outcomes.push({ ok: false, value: e })
          }
        }
      }).immediate()
    } catch (e) {
      for (const p of group) p.reject(e)
      return
    }
    committed++
    const settle = (p: Pending, i: number): void => {
      const o = outcomes[i] as { ok: boolean; value: unknown }
      if (o.ok) p.resolve(o.value)
      else p.reject(o.value)
    }
    group.forEach((p, i) => {
      if (p.settleAt === 'commit') settle(p, i)
    })
    durable().then(
      () =>
        group.forEach((p, i) => {
          if (p.settleAt === 'durable') settle(p, i)
        }),
      (e: unknown) => {
        for (const p of group) if (p.settleAt === 'durable') p.reject(e)
      },
    )
  }
  const schedule = (): void => {
    if (scheduled) return
    scheduled = true
    // At once, even while an fsync runs: the commit then overlaps it. Holding the writes until
    // it ends, to commit them as one group, put the commit between two fsyncs (bench:service,
    // alternating: 1,774–1,941 against 1,951–2,056/s).
    setImmediate(flush)
  }
  /** Run `work` in the next group commit; resolves once that commit is on disk (or, `settleAt` commit, once made). */
  const write = <T>(work: () => T, settleAt: Pending['settleAt'] = 'durable'): Promise<T> =>
    new Promise<T>((resolve, reject) => {
      if (failed) return reject(failed)
      queue.push({ run: work, settleAt, resolve: resolve as (value: unknown) => void, reject })
      schedule()
    })
  const forBlockEntries = (blockId: string) => (forBlock.all(blockId) as RevocationRow[]).map(rowToEntry)
  const claimOnce = (id: string, claimer: string, expiresAt: number, now: number) => () =>
    claim.run(id, claimer, expiresAt, now).changes === 1
  // Kept (and refused again) until compaction drops it after `expiresAt`.
  const nonceOnce = (keyid: string, nonce: string, expiresAt: number) => () => addNonce.run(keyid, nonce, expiresAt).changes === 1

  const loadRequest = (id: string): ApprovalRecord | undefined => {
    const r = getRequest.get(id) as
      | {
          id: string
          invocation: string
          approvers: string
          requester: string
          created_at: number
          expires_at: number
          denied_by: string | null
          denial_reason: string | null
          denied_at: number | null
        }
      | undefined
    if (!r) return undefined
    const approvals: Record<string, string> = {}
    for (const a of getApprovals.all(id) as { approver: string; approval: string }[]) approvals[a.approver] = a.approval
    return {
      id: r.id,
      invocation: r.invocation,
      approvers: JSON.parse(r.approvers) as string[],
      requester: r.requester,
      createdAt: r.created_at,
      expiresAt: r.expires_at,
      approvals,
      ...(r.denied_at === null ? {} : { denial: { by: r.denied_by ?? '', reason: r.denial_reason ?? '', at: r.denied_at } }),
    }
  }

  /**
   * One consume, in its own savepoint of a group commit. `usage_totals.used` is, per counter,
   * the number of its stored events (windowed) or of its grants (total: no events are stored):
   * each grant adds one, each pruned event takes one off, in the same transaction, so that
   * nothing ever counts past events. With the clock not going backwards, a windowed counter's events are
   * exactly those in (now − per, now] after pruning, which makes the window exact.
   */
  const consumeOnce = (c: StoredConsume, now: number): ConsumeResult | 'conflict' => {
    // In the group's transaction, after every statement queued before it: one written meanwhile counts.
    c.standing?.check(c.standing.blockIds.map(forBlockEntries))
    const prior = priorAnswer.get(c.key) as { binding: string; result: string } | undefined
    if (prior) return prior.binding === c.binding ? (JSON.parse(prior.result) as ConsumeResult) : 'conflict'
    // used[i]: uses of counters[i]'s key before this consume (a key repeated in one request
    // counts the earlier occurrence's use too).
    const used: number[] = []
    const seen = new Map<string, number>()
    let answer: ConsumeResult | undefined
    for (const x of c.counters) {
      let n = seen.get(x.key)
      if (n === undefined) {
        n = (getTotal.get(x.key) as number | undefined) ?? 0
        if (x.per !== undefined) {
          const pruned = pruneEvents.run(x.key, now - x.per).changes
          if (pruned > 0) {
            addTotal.run(x.key, -pruned)
            n -= pruned
          }
        }
      } else n += 1
      seen.set(x.key, n)
      used.push(n)
      if (n >= x.max) {
        if (x.per === undefined) answer = { granted: false, exhausted: x.key }
        else {
          // A use at t is granted when fewer than max grants fall in (t − per, t]: the window
          // frees once n − max + 1 of the n live grants have left it, i.e. when the
          // (n − max + 1)-th oldest one does, at its time + per.
          const at = nthOldestLive.get(x.key, now - x.per, n - x.max) as number | undefined
          answer = { granted: false, exhausted: x.key, ...(at === undefined ? {} : { resetAt: at + x.per }) }
        }
        break
      }
    }
    if (!answer) {
      const remaining = c.counters.map((x, i) => {
        if (x.per !== undefined) addEvent.run(x.key, now)
        addTotal.run(x.key, 1)
        return { key: x.key, remaining: x.max - ((used[i] as number) + 1) }
      })
      answer = { granted: true, remaining }
    }
    saveAnswer.run(c.key, c.binding, JSON.stringify(answer), now)
    return answer
  }

  return {
    checksStanding: true,
    atCommit: {
      useNonce: (keyid, nonce, expiresAt) => write(nonceOnce(keyid, nonce, expiresAt), 'commit'),
      revocationsFor: (blockId) => readAtCommit(() => forBlockEntries(blockId)),
      consume: (c, now) => write(() => consumeOnce(c, now), 'commit'),
      claimReplay: (id, claimer, expiresAt, now) => write(claimOnce(id, claimer, expiresAt, now), 'commit'),
      durable: async () => {
        if (failed) throw failed
        notice()
        return durable()
      },
    },
    async addRevocation(e: NewRevocation, guard?: RevocationGuard, audit?: NewAuditEntry) {
      return write(() => {
        const prior = seqOf.get(e.statementId) as { seq: number } | undefined
        if (prior) return { seq: prior.seq, created: false }
        if (guard) {
          const entries = (id: string) => (forBlock.all(id) as RevocationRow[]).map(rowToEntry)
          const answer = guard.admit(entries(e.blockId), guard.above.map(entries))
          if (answer !== undefined) return { seq: answer, created: false }
        }
        const info = insertRevocation.run(...revocationValues(e))
        const row = seqOf.get(e.statementId) as { seq: number }
        if (info.changes === 1 && audit) appendOne({ ...audit, feedSeq: row.seq })
        return { seq: row.seq, created: info.changes === 1 }
      })
    },
    async revocationSeq(statementId) {
      return read(() => (seqOf.get(statementId) as { seq: number } | undefined)?.seq)
    },
    async revocationsSince(after, limit) {
      // sqlite_sequence only grows (compaction never lowers it); one read transaction is one snapshot.
      // The statement ids at `since` and at the head let a client notice a rewritten history (§4.4).
      const ids = db.prepare('SELECT seq, statement_id FROM revocations WHERE seq IN (?, ?)')
      return read(
        db.transaction(() => {
          const head = (headStmt.get() as { head: number }).head
          const feedId = (feedIdStmt.get() as { value: string }).value
          const entries = (since.all(after, head, limit) as RevocationRow[]).map(rowToEntry)
          const at = new Map((ids.all(after, head) as { seq: number; statement_id: string }[]).map((r) => [r.seq, r.statement_id]))
          const sinceEntry = at.get(after)
          const headEntry = at.get(head)
          return {
            head,
            feedId,
            entries,
            ...(sinceEntry === undefined ? {} : { sinceEntry }),
            ...(headEntry === undefined ? {} : { headEntry }),
          }
        }),
      )
    },
    async feedId() {
      return read(() => (feedIdStmt.get() as { value: string }).value)
    },
    async rotateFeedId() {
      const id = randomBytes(16).toString('hex')
      await write(() => setFeedId.run(id))
      return id
    },
    async head() {
      return read(() => (headStmt.get() as { head: number }).head)
    },
    async revocationsFor(blockId) {
      return read(() => forBlockEntries(blockId))
    },
    async compact(now, answerTtl = ANSWER_TTL) {
      return write(() => {
        forgetAnswers.run(now - Math.max(ANSWER_TTL, answerTtl))
        forgetClaims.run(now)
        forgetNonces.run(now)
        forgetApprovals.run(now - DAY)
        forgetApprovers.run(now - DAY)
        forgetRequests.run(now - DAY)
        forgetInboxEvents.run(now - INBOX_EVENT_TTL)
        return compactStmt.run(now).changes
      })
    },
    async consume(c, now) {
      return write(() => consumeOnce(c, now))
    },
    async usageOf(counters, now) {
      return read(
        db.transaction(() =>
          counters.map((x) =>
            x.per === undefined ? ((getTotal.get(x.key) as number | undefined) ?? 0) : (liveEvents.get(x.key, now - x.per) as number),
          ),
        ),
      )
    },
    async claimReplay(id, claimer, expiresAt, now) {
      return write(claimOnce(id, claimer, expiresAt, now))
    },
    async releaseReplay(id, claimer, now) {
      return write((): 'released' | 'absent' | 'not-yours' => {
        const holder = liveClaim.get(id, now) as string | undefined
        if (holder === undefined) return 'absent'
        if (holder !== claimer) return 'not-yours'
        release.run(id)
        return 'released'
      })
    },
    async useNonce(keyid, nonce, expiresAt) {
      return write(nonceOnce(keyid, nonce, expiresAt))
    },
    async putApprovalRequest(r, maxPending, now, audit) {
      // One serialized step (the group's write lock): the count and the insert, so the cap holds.
      return write((): ApprovalRecord | 'full' => {
        const existing = loadRequest(r.id)
        if (existing) return existing
        if ((livePerRequester.get(r.requester, now) as number) >= maxPending) return 'full'
        putRequest.run(r.id, r.invocation, JSON.stringify(r.approvers), r.requester, r.createdAt, r.expiresAt)
        for (const a of r.approvers) putApprover.run(r.id, a)
        addInboxEvent.run(r.id, 'pending', null, now)
        if (audit) appendOne(audit)
        return loadRequest(r.id) as ApprovalRecord
      })
    },
    async getApprovalRequest(id) {
      return read(db.transaction(() => loadRequest(id)))
    },
    async pendingApprovals(approver, limit, now, before) {
      return read(
        db.transaction(() => {
          const ids = (
            before ? pendingAfter.all(approver, now, before.createdAt, before.id, limit) : pendingFirst.all(approver, now, limit)
          ) as string[]
          return ids.map((id) => loadRequest(id) as ApprovalRecord)
        }),
      )
    },
    async addApproval(id, approver, approval, now, audit) {
      // One serialized step (the group's write lock): a denied request takes no approval.
      return write(() => {
        if (loadRequest(id)?.denial === undefined && putApproval.run(id, approver, approval, id).changes === 1) {
          addInboxEvent.run(id, 'approved', approver, now)
          if (audit) appendOne(audit)
        }
        return loadRequest(id) as ApprovalRecord
      })
    },
    async denyApprovalRequest(id, denial, admit, audit) {
      return write(() => {
        const record = loadRequest(id)
        if (!record) return undefined
        if (!admit(record)) return record
        putDenial.run(denial.by, denial.reason, denial.at, id)
        addInboxEvent.run(id, 'denied', denial.by, denial.at)
        if (audit) appendOne(audit)
        return loadRequest(id) as ApprovalRecord
      })
    },
    async appendAudit(records) {
      return write(() => records.map(appendOne))
    },
    async auditRecords(since, limit) {
      return read(() => (auditAfter.all(since, limit) as string[]).map((r) => JSON.parse(r) as AuditEntry))
    },
    async auditHead() {
      return read(db.transaction(() => ({ log: auditLogId.get() as string, ...auditTip() })))
    },
    async auditPrunable(cutoff) {
      const text = await read(() => prunable.get(cutoff) as string | undefined)
      return text === undefined ? undefined : (JSON.parse(text) as AuditEntry)
    },
    async pruneAudit(upTo) {
      return write(() => prune.run(upTo).changes)
    },
    async checkpointAt(count) {
      const text = await read(() => checkpointOf.get(count) as string | undefined)
      return text === undefined ? undefined : (JSON.parse(text) as AuditCheckpoint)
    },
    async putCheckpoint(c) {
      await write(() => insertCheckpoint.run(c.count, JSON.stringify(c)))
    },
    async latestCheckpoint() {
      const text = await read(() => newestCheckpoint.get() as string | undefined)
      return text === undefined ? undefined : (JSON.parse(text) as AuditCheckpoint)
    },
    async inboxEvents(after, limit) {
      return read(() => (inboxEventsAfter.all(after, limit) as InboxEventRow[]).map(rowToInboxEvent))
    },
    async leaseWebhook(endpoint, holder, now, until) {
      return write((): number | undefined => {
        const cursor = getCursor.get(endpoint) as { seq: number; holder: string; lease_until: number } | undefined
        if (!cursor) {
          const head = inboxHead.get() as number
          newCursor.run(endpoint, head, holder, until)
          return head
        }
        if (cursor.holder !== holder && cursor.lease_until > now) return undefined
        renewLease.run(holder, until, endpoint)
        return cursor.seq
      })
    },
    async advanceWebhook(endpoint, holder, seq) {
      return write(() => moveCursor.run(seq, endpoint, holder, seq).changes === 1)
    },
    async ping() {
      await read(() => db.prepare('SELECT 1').get())
    },
    async probe() {
      // A committed and durable write, waiting for a lock only briefly.
      if (failed) throw failed
      db.pragma(`busy_timeout = ${PROBE_BUSY_MS}`)
      try {
        db.transaction(() => touchHealth.run(Math.floor(Date.now() / 1000))).immediate()
      } finally {
        db.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`)
      }
      committed++
      await durable()
    },
    async settings() {
      return {
        backend: 'sqlite',
        journal_mode: String(db.pragma('journal_mode', { simple: true })),
        synchronous: String(db.pragma('synchronous', { simple: true })),
        // With synchronous=NORMAL (1): the WAL's own fsync, before anything is answered.
        wal_fsync: 'before answering',
        busy_timeout: String(db.pragma('busy_timeout', { simple: true })),
      }
    },
    close() {
      // Once: a second close() gets the first's promise, and no descriptor is closed twice (a
      // number closed twice may by then be another file's).
      closing ??= (async () => {
        // Writes still queued are committed (or rejected), and made durable, before the file
        // closes; a write arriving meanwhile is committed and synced too, and no fsync is left
        // running on a closed descriptor.
        while (!failed && (queue.length > 0 || syncing || (!memory && synced < committed))) {
          while (queue.length > 0) flush()
          await durable().catch(() => {})
          if (syncing) await new Promise((r) => setImmediate(r))
        }
        for (const p of queue.splice(0)) p.reject(failed)
        db.close()
        await thread?.stop()
        if (walFd !== undefined) closeSync(walFd)
      })()
      return closing
    },
  }
}

/**
 * Record `times.length` past grants of counter `key` in the database at `path`, in one
 * transaction, as that many consumes would have: the use events (for a windowed counter)
 * and the running total. For the benchmark and tests only.
 *
 * @internal
 */
export function seedUsage(path: string, key: string, times: readonly number[], windowed: boolean): void {
  const db = new Database(path)
  try {
    db.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`)
    createSchema(db)
    db.transaction(() => {
      if (windowed) {
        const addEvent = db.prepare('INSERT INTO usage_events (counter_key, at) VALUES (?, ?)')
        for (const t of times) addEvent.run(key, t)
      }
      db.prepare(
        'INSERT INTO usage_totals (counter_key, used) VALUES (?, ?) ON CONFLICT(counter_key) DO UPDATE SET used = used + excluded.used',
      ).run(key, times.length)
    }).immediate()
  } finally {
    db.close()
  }
}
