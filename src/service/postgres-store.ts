/**
 * The PostgreSQL store, for several service instances on one database. Every write is one
 * transaction with `synchronous_commit = on`; counters take transaction-level advisory
 * locks in key order, so concurrent consumes serialize per counter without deadlocks.
 *
 * @module
 */
import { randomBytes } from 'node:crypto'
import pg from 'pg'
import type { FeedEntry } from '../revocation/feed.js'
import type { ConsumeResult } from '../usage/store.js'
import { type AuditCheckpoint, type AuditEntry, chainRecord, GENESIS, type NewAuditEntry } from './audit.js'
import {
  AMENDMENT_COLUMNS,
  ANSWER_TTL,
  type ApprovalRecord,
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
} from './store.js'

const SCHEMA = `
CREATE TABLE IF NOT EXISTS revocations (
  seq BIGSERIAL PRIMARY KEY,
  statement_id TEXT NOT NULL UNIQUE,
  block_id TEXT NOT NULL,
  kind TEXT NOT NULL,
  actions TEXT,
  at BIGINT NOT NULL,
  by_key TEXT NOT NULL,
  reason TEXT,
  expires BIGINT NOT NULL,
  statement BYTEA NOT NULL,
  caveats TEXT,
  lifts TEXT
);
CREATE INDEX IF NOT EXISTS revocations_block ON revocations(block_id);
CREATE TABLE IF NOT EXISTS feed_head (one BOOLEAN PRIMARY KEY DEFAULT TRUE CHECK (one), head BIGINT NOT NULL);
INSERT INTO feed_head (one, head) VALUES (TRUE, 0) ON CONFLICT DO NOTHING;
CREATE TABLE IF NOT EXISTS usage_events (counter_key TEXT NOT NULL, at BIGINT NOT NULL);
CREATE INDEX IF NOT EXISTS usage_events_key ON usage_events(counter_key, at);
CREATE TABLE IF NOT EXISTS usage_totals (counter_key TEXT PRIMARY KEY, used BIGINT NOT NULL);
CREATE TABLE IF NOT EXISTS usage_answers (key TEXT PRIMARY KEY, binding TEXT NOT NULL, result TEXT NOT NULL, at BIGINT NOT NULL);
CREATE INDEX IF NOT EXISTS usage_answers_at ON usage_answers(at);
CREATE TABLE IF NOT EXISTS replay_claims_v2 (id TEXT PRIMARY KEY, claimer TEXT NOT NULL, expires BIGINT NOT NULL);
CREATE INDEX IF NOT EXISTS replay_claims_v2_expires ON replay_claims_v2(expires);
CREATE TABLE IF NOT EXISTS request_nonces (keyid TEXT NOT NULL, nonce TEXT NOT NULL, expires BIGINT NOT NULL, PRIMARY KEY (keyid, nonce));
CREATE INDEX IF NOT EXISTS request_nonces_expires ON request_nonces(expires);
CREATE TABLE IF NOT EXISTS approval_requests_v2 (
  id TEXT PRIMARY KEY, invocation TEXT NOT NULL, approvers TEXT NOT NULL, requester TEXT NOT NULL,
  created_at BIGINT NOT NULL, expires_at BIGINT NOT NULL, denied_by TEXT, denial_reason TEXT, denied_at BIGINT
);
CREATE INDEX IF NOT EXISTS approval_requests_v2_requester ON approval_requests_v2(requester, expires_at);
CREATE INDEX IF NOT EXISTS approval_requests_v2_expires ON approval_requests_v2(expires_at);
CREATE TABLE IF NOT EXISTS health (one BOOLEAN PRIMARY KEY DEFAULT TRUE CHECK (one), at BIGINT NOT NULL);
CREATE TABLE IF NOT EXISTS approvals (request_id TEXT NOT NULL, approver TEXT NOT NULL, approval TEXT NOT NULL, PRIMARY KEY (request_id, approver));
CREATE TABLE IF NOT EXISTS approval_approvers (request_id TEXT NOT NULL, approver TEXT NOT NULL, PRIMARY KEY (approver, request_id));
CREATE TABLE IF NOT EXISTS inbox_events (seq BIGSERIAL PRIMARY KEY, request_id TEXT NOT NULL, kind TEXT NOT NULL, by_key TEXT, at BIGINT NOT NULL);
CREATE INDEX IF NOT EXISTS inbox_events_at ON inbox_events(at);
CREATE TABLE IF NOT EXISTS audit_log (seq BIGINT PRIMARY KEY, at BIGINT NOT NULL, type TEXT NOT NULL, principal TEXT, ref TEXT UNIQUE, hash TEXT NOT NULL, record TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS audit_checkpoints (count BIGINT PRIMARY KEY, checkpoint TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS webhook_cursors (endpoint TEXT PRIMARY KEY, seq BIGINT NOT NULL, holder TEXT NOT NULL, lease_until BIGINT NOT NULL);
`

/**
 * A consume in one round trip. Each statement the service sends costs it a write to its socket,
 * a wake-up of the server and an answer to read: as ten statements, a consume took its event
 * loop 1.1 ms of CPU under load; as this one function (one statement, its own transaction),
 * 0.65–0.93 ms (`npm run bench:service`). The steps are exactly those the SQLite store takes (see `consume` there): the
 * chain's standing kept, the idempotency key's lock, a stored answer returned (or `"conflict"`
 * for another binding), the counters' locks in key order (byte order: every instance takes
 * them alike, so no deadlock), then each counter in the request's order — its total, its
 * window's expired events pruned — and either every use granted (events, totals, remaining) or
 * the first exhausted counter named with the time its window frees. The answer is stored with
 * the key.
 *
 * Standing (spec §3): with `p_blocks`, the chain's blocks, it spends only when no statement
 * names any of them, looked for under lock 7217002 held shared — statements are written holding
 * it exclusively (addRevocation), so one that committed before is seen (each statement of a
 * READ COMMITTED function reads what committed before it began) and one written after waits
 * for this spend. When one does, it answers `"statements"`, spending and storing nothing, and
 * the caller reads and checks them in a transaction of its own holding that lock, and spends
 * there (`p_blocks` null). A chain without statements (the common case) costs one round trip.
 *
 * All of this, and every "lock, then read" in this store, rests on READ COMMITTED: under
 * REPEATABLE READ or SERIALIZABLE a statement reads the transaction's first snapshot, taken
 * before its lock waits. Each connection sets it for its session (a database or role default,
 * or an `options` parameter in the URL, could say otherwise), and the function refuses to run
 * under any other level.
 *
 * Versioned by name, so that instances of another version keep calling their own: a change of
 * the body needs a new name. Created only when missing or different, so that a restart changes
 * nothing in the catalog. Variables are prefixed (`v_`, `p_`) so that none shadows a column.
 * The lock functions are named with their schema and exact argument types, and the call casts
 * its arguments: an overload another role made on the search path (`hashtextextended(text,
 * integer)`, `mandate_consume_v2(text, text, json, text, text[])`) is not a better match than ours.
 * Being one statement, a consume has the 5 s statement timeout in all (each lock wait still
 * gives up after 3 s).
 */
const CONSUME_BODY = `
DECLARE
  v_prior RECORD;
  v_counter JSON;
  v_key TEXT;
  v_max BIGINT;
  v_per BIGINT;
  v_n BIGINT;
  v_pruned BIGINT;
  v_reset BIGINT;
  v_seen JSONB := '{}';
  v_used BIGINT[] := '{}';
  v_remaining JSON[] := '{}';
  v_answer JSON;
  v_i INT := 0;
BEGIN
  IF pg_catalog.current_setting('transaction_isolation') <> 'read committed' THEN
    RAISE EXCEPTION 'mandate_consume_v2 runs only under READ COMMITTED, not %', pg_catalog.current_setting('transaction_isolation');
  END IF;
  IF p_blocks IS NOT NULL THEN
    PERFORM pg_catalog.pg_advisory_xact_lock_shared(7217002::BIGINT);
    IF EXISTS (SELECT 1 FROM revocations WHERE block_id = ANY(p_blocks)) THEN
      RETURN '"statements"'::JSON;
    END IF;
  END IF;
  PERFORM pg_catalog.pg_advisory_xact_lock(pg_catalog.hashtextextended(p_key, 1::BIGINT));
  SELECT binding, result INTO v_prior FROM usage_answers WHERE key = p_key;
  IF FOUND THEN
    IF v_prior.binding = p_binding THEN
      RETURN v_prior.result::JSON;
    END IF;
    RETURN '"conflict"'::JSON;
  END IF;
  FOR v_key IN SELECT k FROM (SELECT DISTINCT (e->>'key') COLLATE "C" AS k FROM json_array_elements(p_counters) e) s ORDER BY k LOOP
    PERFORM pg_catalog.pg_advisory_xact_lock(pg_catalog.hashtextextended(v_key, 2::BIGINT));
  END LOOP;
  FOR v_counter IN SELECT e FROM json_array_elements(p_counters) WITH ORDINALITY AS t(e, i) ORDER BY i LOOP
    v_key := v_counter->>'key';
    v_max := (v_counter->>'max')::BIGINT;
    v_per := (v_counter->>'per')::BIGINT;
    IF v_seen ? v_key THEN
      v_n := (v_seen->>v_key)::BIGINT + 1;
    ELSE
      SELECT used INTO v_n FROM usage_totals WHERE counter_key = v_key;
      IF NOT FOUND THEN
        v_n := 0;
      END IF;
      IF v_per IS NOT NULL THEN
        DELETE FROM usage_events WHERE counter_key = v_key AND at <= p_now - v_per;
        GET DIAGNOSTICS v_pruned = ROW_COUNT;
        IF v_pruned > 0 THEN
          INSERT INTO usage_totals (counter_key, used) VALUES (v_key, -v_pruned)
            ON CONFLICT (counter_key) DO UPDATE SET used = usage_totals.used + EXCLUDED.used;
          v_n := v_n - v_pruned;
        END IF;
      END IF;
    END IF;
    v_seen := v_seen || jsonb_build_object(v_key, v_n);
    v_used := v_used || v_n;
    IF v_n >= v_max THEN
      IF v_per IS NULL THEN
        v_answer := json_build_object('granted', false, 'exhausted', v_key);
      ELSE
        -- The window frees when the (n - max + 1)-th oldest live grant leaves it.
        SELECT at INTO v_reset FROM usage_events WHERE counter_key = v_key AND at > p_now - v_per ORDER BY at LIMIT 1 OFFSET v_n - v_max;
        IF FOUND THEN
          v_answer := json_build_object('granted', false, 'exhausted', v_key, 'resetAt', v_reset + v_per);
        ELSE
          v_answer := json_build_object('granted', false, 'exhausted', v_key);
        END IF;
      END IF;
      EXIT;
    END IF;
  END LOOP;
  IF v_answer IS NULL THEN
    FOR v_counter IN SELECT e FROM json_array_elements(p_counters) WITH ORDINALITY AS t(e, i) ORDER BY i LOOP
      v_i := v_i + 1;
      v_key := v_counter->>'key';
      IF v_counter->>'per' IS NOT NULL THEN
        INSERT INTO usage_events (counter_key, at) VALUES (v_key, p_now);
      END IF;
      INSERT INTO usage_totals (counter_key, used) VALUES (v_key, 1)
        ON CONFLICT (counter_key) DO UPDATE SET used = usage_totals.used + EXCLUDED.used;
      v_remaining := v_remaining || json_build_object('key', v_key, 'remaining', (v_counter->>'max')::BIGINT - (v_used[v_i] + 1));
    END LOOP;
    v_answer := json_build_object('granted', true, 'remaining', array_to_json(v_remaining));
  END IF;
  INSERT INTO usage_answers (key, binding, result, at) VALUES (p_key, p_binding, v_answer::TEXT, p_now);
  RETURN v_answer;
END
`
const CONSUME_FUNCTION = `CREATE OR REPLACE FUNCTION mandate_consume_v2(p_key TEXT, p_binding TEXT, p_counters JSON, p_now BIGINT, p_blocks TEXT[]) RETURNS JSON
LANGUAGE plpgsql AS $fn$${CONSUME_BODY}$fn$`

/** A day: approval requests are kept this long after they expire. */
const DAY = 86_400

/** Columns added to `approval_requests_v2` after it first shipped (denials), with their types. */
const DENIAL_COLUMNS = [
  ['denied_by', 'TEXT'],
  ['denial_reason', 'TEXT'],
  ['denied_at', 'BIGINT'],
] as const

/** An approval request with its approvals, as one row (`r` is the request). */
const RECORD_COLUMNS = `r.id, r.invocation, r.approvers, r.requester, r.created_at, r.expires_at, r.denied_by, r.denial_reason, r.denied_at,
  COALESCE((SELECT json_object_agg(p.approver, p.approval) FROM approvals p WHERE p.request_id = r.id), '{}') AS approvals`

interface RecordRow {
  readonly id: string
  readonly invocation: string
  readonly approvers: string
  readonly requester: string
  readonly created_at: string
  readonly expires_at: string
  readonly denied_by: string | null
  readonly denial_reason: string | null
  readonly denied_at: string | null
  readonly approvals: Record<string, string>
}

function toRecord(row: RecordRow): ApprovalRecord {
  return {
    id: row.id,
    invocation: row.invocation,
    approvers: JSON.parse(row.approvers) as string[],
    requester: row.requester,
    createdAt: Number(row.created_at),
    expiresAt: Number(row.expires_at),
    approvals: { ...row.approvals },
    ...(row.denied_at === null ? {} : { denial: { by: row.denied_by ?? '', reason: row.denial_reason ?? '', at: Number(row.denied_at) } }),
  }
}

/** Server-side limits, in ms: a statement, a lock wait, an idle open transaction. */
const STATEMENT_TIMEOUT_MS = 5000
const LOCK_TIMEOUT_MS = 3000
const IDLE_IN_TRANSACTION_MS = 10_000
/** Client-side backstop for a server that no longer answers at all (network gone). */
const QUERY_TIMEOUT_MS = 8000
/** Compaction (housekeeping, possibly with a backlog) gets longer statements. */
const COMPACT_TIMEOUT_MS = 60_000
/** The schema upgrade of a large 0.1 database may take a while: it alone gets this long. */
const MIGRATION_TIMEOUT_MS = 600_000

/**
 * Create the schema, upgrading a version 0.1 database, in one transaction (the caller holds
 * the setup lock). From 0.1: the running totals start as the count of the stored use events
 * (0.1 kept every event of a total counter, and the unpruned events of a windowed one, so
 * nothing is lost); live replay claims move over with an unknown claimer (`''`: nobody can
 * release them, they expire as before); approval requests move over with an unknown
 * requester (`''`, counted against nobody's cap) and, having no recorded expiry, expire a day
 * after their creation. The 0.1 idempotency answers (`usage_requests`) are dropped: they have
 * no binding to check a retry against, and 0.1 keys (bare request ids) cannot collide with the
 * new `inv:`/`req:` keys. Stop 0.1 instances before starting this version on their database.
 *
 * A database made before denials existed gains the denial columns of `approval_requests_v2`
 * (nullable, without a default: a change of the catalog only, and every existing request stays
 * as it was, not denied). They are added only when missing, so that a start on an up-to-date
 * database takes no table lock. Instances of the previous version keep working on it meanwhile
 * (they name their columns), but know nothing of denials: upgrade them all.
 */
async function createSchema(c: pg.PoolClient): Promise<void> {
  // pg honours a per-query query_timeout; its typings do not list it.
  const q = (text: string) => c.query({ text, query_timeout: MIGRATION_TIMEOUT_MS } as pg.QueryConfig)
  await q('BEGIN')
  try {
    await q(`SET LOCAL statement_timeout = ${MIGRATION_TIMEOUT_MS}`)
    const r = await q(`SELECT to_regclass('usage_totals') IS NULL AS totals, to_regclass('replay_claims_v2') IS NULL AS claims,
      to_regclass('approval_requests_v2') IS NULL AS approvals, to_regclass('replay_claims') IS NOT NULL AS old_claims,
      to_regclass('approval_requests') IS NOT NULL AS old_approvals`)
    const fresh = r.rows[0] as { totals: boolean; claims: boolean; approvals: boolean; old_claims: boolean; old_approvals: boolean }
    await q(SCHEMA)
    // Ours exactly (body, invoker's rights, no settings of its own), or replaced; one that
    // differs and belongs to another role cannot be, and then the start fails rather than run it.
    const consumeFunction = await q(`SELECT prosrc, prosecdef, proconfig
      FROM pg_proc WHERE proname = 'mandate_consume_v2' AND pronamespace = (SELECT oid FROM pg_namespace WHERE nspname = current_schema())
      AND pg_get_function_identity_arguments(oid) = 'p_key text, p_binding text, p_counters json, p_now bigint, p_blocks text[]'`)
    const found = consumeFunction.rows[0] as { prosrc: string; prosecdef: boolean; proconfig: string[] | null } | undefined
    if (!found || found.prosrc !== CONSUME_BODY || found.prosecdef || found.proconfig !== null) await q(CONSUME_FUNCTION)
    const present = await q(
      "SELECT column_name FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = 'approval_requests_v2'",
    )
    const have = new Set((present.rows as { column_name: string }[]).map((r) => r.column_name))
    for (const [name, type] of DENIAL_COLUMNS) {
      if (!have.has(name)) await q(`ALTER TABLE approval_requests_v2 ADD COLUMN ${name} ${type}`)
    }
    const revocationColumns = await q(
      "SELECT column_name FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = 'revocations'",
    )
    const amended = new Set((revocationColumns.rows as { column_name: string }[]).map((r) => r.column_name))
    for (const [name, type] of AMENDMENT_COLUMNS) {
      if (!amended.has(name)) await q(`ALTER TABLE revocations ADD COLUMN ${name} ${type}`)
    }
    if (fresh.totals)
      await q('INSERT INTO usage_totals (counter_key, used) SELECT counter_key, COUNT(*) FROM usage_events GROUP BY counter_key')
    if (fresh.claims && fresh.old_claims) {
      await q("INSERT INTO replay_claims_v2 (id, claimer, expires) SELECT id, '', expires FROM replay_claims")
      await q('DROP TABLE replay_claims')
    }
    if (fresh.approvals && fresh.old_approvals) {
      await q(`INSERT INTO approval_requests_v2 (id, invocation, approvers, requester, created_at, expires_at)
               SELECT id, invocation, approvers, '', created_at, created_at + ${DAY} FROM approval_requests`)
      await q('DROP TABLE approval_requests')
    }
    await q('DROP TABLE IF EXISTS usage_requests')
    await q('COMMIT')
  } catch (e) {
    await c.query('ROLLBACK').catch(() => {})
    throw e
  }
}

/**
 * Connect to PostgreSQL at `url` and create the schema if needed.
 *
 * Nothing waits forever (#7): a connection attempt gives up after 5 s, a statement after 5 s,
 * a lock wait (row or advisory) after 3 s, a transaction left idle is ended after 10 s by the
 * server, and a query whose answer never comes is abandoned after 8 s by the client. Each
 * rejects, which the service answers with 503. The server-side settings and
 * `synchronous_commit = on` are startup parameters of every connection, so no connection can
 * run without them (parameters given in `url` take precedence).
 */
export async function openPostgresStore(url: string): Promise<Store> {
  const pool = new pg.Pool({
    connectionString: url,
    max: 8,
    connectionTimeoutMillis: 5000,
    statement_timeout: STATEMENT_TIMEOUT_MS,
    lock_timeout: LOCK_TIMEOUT_MS,
    idle_in_transaction_session_timeout: IDLE_IN_TRANSACTION_MS,
    options: '-c synchronous_commit=on',
    query_timeout: QUERY_TIMEOUT_MS,
    keepAlive: true,
    // READ COMMITTED, whatever the database, the role or the URL says (see CONSUME_BODY): set
    // before the connection is first handed out; a connection that cannot is not (503).
    onConnect: async (client) => {
      await client.query('SET SESSION CHARACTERISTICS AS TRANSACTION ISOLATION LEVEL READ COMMITTED')
    },
  })
  pool.on('error', () => {
    // An idle client died; the next query reconnects or fails with 503.
  })
  // Several instances may start at once: serialize schema creation.
  // On failure, nothing is left behind: no pooled connection still holding the setup lock,
  // no pool keeping the process alive.
  const setup = await pool.connect().catch(async (e: unknown) => {
    await pool.end().catch(() => {})
    throw e
  })
  try {
    await setup.query('SELECT pg_catalog.pg_advisory_lock(7217001::bigint)')
    await createSchema(setup)
    // The feed id names this database (#7): created with it, so a new or replaced one has another.
    await setup.query('CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)')
    await setup.query("INSERT INTO meta (key, value) VALUES ('feed_id', $1) ON CONFLICT (key) DO NOTHING", [
      randomBytes(16).toString('hex'),
    ])
    await setup.query("INSERT INTO meta (key, value) VALUES ('audit_log_id', $1) ON CONFLICT (key) DO NOTHING", [
      randomBytes(16).toString('hex'),
    ])
    await setup.query('SELECT pg_catalog.pg_advisory_unlock(7217001::bigint)')
    setup.release()
  } catch (e) {
    setup.release(true)
    await pool.end().catch(() => {})
    throw e
  }

  const tx = async <T>(work: (c: pg.PoolClient) => Promise<T>, begin = 'BEGIN'): Promise<T> => {
    const client = await pool.connect()
    // A connection that dies while checked out emits 'error' besides failing the query:
    // without a listener, that would crash the process.
    let failed: Error | undefined
    const onError = (e: Error) => {
      failed = e
    }
    client.on('error', onError)
    try {
      await client.query(begin)
      const result = await work(client)
      await client.query('COMMIT')
      return result
    } catch (e) {
      failed = e instanceof Error ? e : new Error(String(e))
      await client.query('ROLLBACK').catch(() => {})
      throw e
    } finally {
      // After a failure (a timeout may leave the connection mid-query), drop the connection
      // rather than hand it to the next request.
      client.off('error', onError)
      client.release(failed)
    }
  }

  /**
   * Append an inbox event in transaction `c`. Inbox writes serialize on one advisory lock from
   * here to their commit, so that sequence numbers commit in order (as revocations do): a
   * reader that has seen seq n can never later find one below n. It is the last lock such a
   * transaction takes, so it cannot be part of a deadlock.
   */
  const appendInboxEvent = async (c: pg.PoolClient, id: string, kind: 'pending' | 'approved' | 'denied', by: string | null, at: number) => {
    await c.query('SELECT pg_catalog.pg_advisory_xact_lock(7217003::bigint)')
    await c.query('INSERT INTO inbox_events (request_id, kind, by_key, at) VALUES ($1, $2, $3, $4)', [id, kind, by, at])
  }

  /** The newest record's seq and hash (0 and GENESIS for an empty log), read with `q`. */
  const auditTip = async (q: pg.Pool | pg.PoolClient): Promise<{ count: number; head: string }> => {
    const r = await q.query('SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1')
    const row = r.rows[0] as { seq: string; hash: string } | undefined
    return row ? { count: Number(row.seq), head: row.hash } : { count: 0, head: GENESIS }
  }
  /**
   * Append records in transaction `c`. Appends serialize on one advisory lock from here to their
   * commit, across instances, so that the log is one chain; it is the last lock such a
   * transaction takes (as with inbox events, which come before it), so it cannot be part of a deadlock.
   */
  const appendAuditIn = async (c: pg.PoolClient, records: readonly NewAuditEntry[]): Promise<AuditEntry[]> => {
    if (records.length === 0) return []
    await c.query('SELECT pg_catalog.pg_advisory_xact_lock(7217004::bigint)')
    let tip = await auditTip(c)
    const out: AuditEntry[] = []
    for (const r of records) {
      // A record whose `ref` is in the log already is not appended again: the stored one answers.
      const ref = typeof r['ref'] === 'string' ? r['ref'] : null
      if (ref !== null) {
        const prior = await c.query('SELECT record FROM audit_log WHERE ref = $1', [ref])
        if (prior.rows[0]) {
          out.push(JSON.parse((prior.rows[0] as { record: string }).record) as AuditEntry)
          continue
        }
      }
      const record = chainRecord(r, tip.count + 1, tip.head)
      const principal = typeof r['principal'] === 'string' ? r['principal'] : null
      await c.query('INSERT INTO audit_log (seq, at, type, principal, ref, hash, record) VALUES ($1, $2, $3, $4, $5, $6, $7)', [
        record.seq,
        record.at,
        record.type,
        principal,
        ref,
        record.hash,
        JSON.stringify(record),
      ])
      tip = { count: record.seq, head: record.hash }
      out.push(record)
    }
    return out
  }

  const load = async (q: pg.Pool | pg.PoolClient, id: string): Promise<ApprovalRecord | undefined> => {
    // One statement, so one snapshot: the request and its approvals agree.
    const r = await q.query(`SELECT ${RECORD_COLUMNS} FROM approval_requests_v2 r WHERE r.id = $1`, [id])
    return r.rows[0] ? toRecord(r.rows[0] as RecordRow) : undefined
  }

  // No atCommit or durable(): every commit is durable when it returns (synchronous_commit = on).
  return {
    checksStanding: true,
    async addRevocation(e: NewRevocation, guard?: RevocationGuard, audit?: NewAuditEntry) {
      return tx(async (c) => {
        // Serialize revocation writes across instances, so that sequence numbers commit in
        // order: a reader that has seen seq n can never later miss a seq below n. The guard's
        // reads happen under the same lock, so what it checks still holds at the insert.
        await c.query('SELECT pg_catalog.pg_advisory_xact_lock(7217002::bigint)')
        if (guard) {
          const prior = await c.query('SELECT seq FROM revocations WHERE statement_id = $1', [e.statementId])
          if (prior.rows[0]) return { seq: Number((prior.rows[0] as { seq: string }).seq), created: false }
          const entries = async (id: string) =>
            (
              (await c.query(`SELECT ${REVOCATION_COLUMNS} FROM revocations WHERE block_id = $1 ORDER BY seq`, [id]))
                .rows as RevocationRow[]
            ).map(rowToEntry)
          const above: FeedEntry[][] = []
          for (const id of guard.above) above.push(await entries(id))
          const answer = guard.admit(await entries(e.blockId), above)
          if (answer !== undefined) return { seq: answer, created: false }
        }
        const inserted = await c.query(
          `INSERT INTO revocations (statement_id, block_id, kind, actions, at, by_key, reason, expires, statement, caveats, lifts)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) ON CONFLICT (statement_id) DO NOTHING RETURNING seq`,
          revocationValues(e),
        )
        if (inserted.rows[0]) {
          const seq = Number((inserted.rows[0] as { seq: string }).seq)
          // The head is transactional (a sequence's last_value is not) and never goes down.
          await c.query('UPDATE feed_head SET head = GREATEST(head, $1)', [seq])
          if (audit) await appendAuditIn(c, [{ ...audit, feedSeq: seq }])
          return { seq, created: true }
        }
        const existing = await c.query('SELECT seq FROM revocations WHERE statement_id = $1', [e.statementId])
        return { seq: Number((existing.rows[0] as { seq: string }).seq), created: false }
      })
    },
    async revocationSeq(statementId) {
      const r = await pool.query('SELECT seq FROM revocations WHERE statement_id = $1', [statementId])
      return r.rows[0] ? Number((r.rows[0] as { seq: string }).seq) : undefined
    },
    async revocationsSince(after, limit) {
      // One snapshot for the head, the feed id, the entries and the statement ids at `since` and
      // at the head (they let a client notice a rewritten history, §4.4).
      return tx(async (client) => {
        const h = await client.query('SELECT head FROM feed_head')
        const head = Number((h.rows[0] as { head: string }).head)
        const f = await client.query("SELECT value FROM meta WHERE key = 'feed_id'")
        const feedId = (f.rows[0] as { value: string }).value
        const r = await client.query(`SELECT ${REVOCATION_COLUMNS} FROM revocations WHERE seq > $1 AND seq <= $2 ORDER BY seq LIMIT $3`, [
          after,
          head,
          limit,
        ])
        const ids = await client.query('SELECT seq, statement_id FROM revocations WHERE seq = $1 OR seq = $2', [after, head])
        const at = new Map((ids.rows as { seq: string; statement_id: string }[]).map((x) => [Number(x.seq), x.statement_id]))
        const sinceEntry = at.get(after)
        const headEntry = at.get(head)
        return {
          head,
          feedId,
          entries: (r.rows as RevocationRow[]).map(rowToEntry),
          ...(sinceEntry === undefined ? {} : { sinceEntry }),
          ...(headEntry === undefined ? {} : { headEntry }),
        }
      }, 'BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY')
    },
    async feedId() {
      const r = await pool.query("SELECT value FROM meta WHERE key = 'feed_id'")
      return (r.rows[0] as { value: string }).value
    },
    async rotateFeedId() {
      const id = randomBytes(16).toString('hex')
      await pool.query("UPDATE meta SET value = $1 WHERE key = 'feed_id'", [id])
      return id
    },
    async head() {
      const r = await pool.query('SELECT head FROM feed_head')
      return Number((r.rows[0] as { head: string }).head)
    },
    async revocationsFor(blockId) {
      const r = await pool.query(`SELECT ${REVOCATION_COLUMNS} FROM revocations WHERE block_id = $1 ORDER BY seq`, [blockId])
      return (r.rows as RevocationRow[]).map(rowToEntry)
    },
    async compact(now, answerTtl = ANSWER_TTL) {
      return tx(async (c) => {
        // Housekeeping may have a backlog to delete: it gets more time than a request.
        const q = (text: string, value: number) =>
          c.query({ text, values: [value], query_timeout: COMPACT_TIMEOUT_MS + 5000 } as pg.QueryConfig)
        await q(`SELECT set_config('statement_timeout', $1, true)`, COMPACT_TIMEOUT_MS)
        await q('DELETE FROM usage_answers WHERE at < $1', now - Math.max(ANSWER_TTL, answerTtl))
        await q('DELETE FROM replay_claims_v2 WHERE expires <= $1', now)
        await q('DELETE FROM request_nonces WHERE expires <= $1', now)
        const old = 'SELECT id FROM approval_requests_v2 WHERE expires_at < $1'
        await q(`DELETE FROM approvals WHERE request_id IN (${old})`, now - DAY)
        await q(`DELETE FROM approval_approvers WHERE request_id IN (${old})`, now - DAY)
        await q('DELETE FROM approval_requests_v2 WHERE expires_at < $1', now - DAY)
        await q('DELETE FROM inbox_events WHERE at < $1', now - INBOX_EVENT_TTL)
        const r = await q('DELETE FROM revocations WHERE expires < $1', now)
        return r.rowCount ?? 0
      })
    },
    /**
     * As in the SQLite store: `usage_totals.used` is a counter's stored events (windowed) or
     * grants (total), kept in the same transaction as the events, so nothing counts history.
     */
    async consume(req, now) {
      const counters = JSON.stringify(req.counters.map((x) => ({ key: x.key, max: x.max, ...(x.per === undefined ? {} : { per: x.per }) })))
      const args = [req.key, req.binding, counters, now]
      const spend = 'SELECT mandate_consume_v2($1::text, $2::text, $3::json, $4::bigint, $5::text[]) AS answer'
      type Spent = ConsumeResult | 'conflict'
      const standing = req.standing
      if (standing === undefined) return (await pool.query(spend, [...args, null])).rows[0].answer as Spent
      const blocks = [...standing.blockIds]
      // Spent at once, unless a statement names one of the chain's blocks (see CONSUME_BODY).
      const first = (await pool.query(spend, [...args, blocks])).rows[0].answer as Spent | 'statements'
      if (first !== 'statements') return first
      // Read and checked under the shared lock, with the spend in the same transaction, which
      // no statement write can then change (a retry of the first call could be turned away
      // again and again by statements that refuse nothing).
      return tx(async (c) => {
        const rows = (
          await c.query(`SELECT ${REVOCATION_COLUMNS} FROM revocations WHERE block_id = ANY($1::text[]) ORDER BY seq`, [blocks])
        ).rows as RevocationRow[]
        const entries = rows.map(rowToEntry)
        standing.check(blocks.map((id) => entries.filter((e) => e.blockId === id)))
        return (await c.query(spend, [...args, null])).rows[0].answer as Spent
      }, 'BEGIN ISOLATION LEVEL READ COMMITTED; SELECT pg_catalog.pg_advisory_xact_lock_shared(7217002::bigint)')
    },
    async claimReplay(id, claimer, expiresAt, now) {
      // Inserted, or an expired claim taken over (by anyone): one row. A live claim: none.
      const r = await pool.query(
        `INSERT INTO replay_claims_v2 (id, claimer, expires) VALUES ($1, $2, $3)
         ON CONFLICT (id) DO UPDATE SET claimer = EXCLUDED.claimer, expires = EXCLUDED.expires WHERE replay_claims_v2.expires <= $4`,
        [id, claimer, expiresAt, now],
      )
      return r.rowCount === 1
    },
    async releaseReplay(id, claimer, now) {
      return tx(async (c) => {
        // The row lock makes the check and the delete one step against a concurrent take-over.
        const r = await c.query('SELECT claimer FROM replay_claims_v2 WHERE id = $1 AND expires > $2 FOR UPDATE', [id, now])
        const holder = (r.rows[0] as { claimer: string } | undefined)?.claimer
        if (holder === undefined) return 'absent' as const
        if (holder !== claimer) return 'not-yours' as const
        await c.query('DELETE FROM replay_claims_v2 WHERE id = $1', [id])
        return 'released' as const
      })
    },
    async useNonce(keyid, nonce, expiresAt) {
      // Kept (and refused again) until compaction drops it after `expiresAt`.
      const r = await pool.query(
        'INSERT INTO request_nonces (keyid, nonce, expires) VALUES ($1, $2, $3) ON CONFLICT (keyid, nonce) DO NOTHING',
        [keyid, nonce, expiresAt],
      )
      return r.rowCount === 1
    },
    async putApprovalRequest(r, maxPending, now, audit) {
      return tx(async (c) => {
        // Per requester, the count and the insert are one serialized step, so the cap holds
        // across instances; per id, the primary key makes a concurrent duplicate a no-op.
        await c.query('SELECT pg_catalog.pg_advisory_xact_lock(pg_catalog.hashtextextended($1::text, 3::bigint))', [r.requester])
        const existing = await load(c, r.id)
        if (existing) return existing
        const n = await c.query(
          'SELECT COUNT(*) AS n FROM approval_requests_v2 r WHERE r.requester = $1 AND r.expires_at > $2 AND r.denied_at IS NULL AND NOT EXISTS (SELECT 1 FROM approvals p WHERE p.request_id = r.id)',
          [r.requester, now],
        )
        if (Number((n.rows[0] as { n: string }).n) >= maxPending) return 'full' as const
        await c.query(
          `INSERT INTO approval_requests_v2 (id, invocation, approvers, requester, created_at, expires_at)
           VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (id) DO NOTHING`,
          [r.id, r.invocation, JSON.stringify(r.approvers), r.requester, r.createdAt, r.expiresAt],
        )
        for (const a of r.approvers)
          await c.query('INSERT INTO approval_approvers (request_id, approver) VALUES ($1, $2) ON CONFLICT DO NOTHING', [r.id, a])
        await appendInboxEvent(c, r.id, 'pending', null, now)
        if (audit) await appendAuditIn(c, [audit])
        return (await load(c, r.id)) as ApprovalRecord
      })
    },
    async getApprovalRequest(id) {
      return load(pool, id)
    },
    async pendingApprovals(approver, limit, now, before) {
      // Ids compare bytewise (COLLATE "C"), as in SQLite, whatever the database's collation.
      const after = before ? 'AND (r.created_at < $4 OR (r.created_at = $4 AND r.id COLLATE "C" < $5))' : ''
      const r = await pool.query(
        `SELECT ${RECORD_COLUMNS} FROM approval_approvers a JOIN approval_requests_v2 r ON r.id = a.request_id
         WHERE a.approver = $1 AND r.expires_at > $2 AND r.denied_at IS NULL ${after}
           AND NOT EXISTS (SELECT 1 FROM approvals p WHERE p.request_id = r.id AND p.approver = a.approver)
         ORDER BY r.created_at DESC, r.id COLLATE "C" DESC LIMIT $3`,
        before ? [approver, now, limit, before.createdAt, before.id] : [approver, now, limit],
      )
      return (r.rows as RecordRow[]).map(toRecord)
    },
    async addApproval(id, approver, approval, now, audit) {
      return tx(async (c) => {
        // The request's row lock serializes this with a denial of the same request (across
        // instances): a denied request takes no approval.
        const row = await c.query('SELECT denied_at FROM approval_requests_v2 WHERE id = $1 FOR UPDATE', [id])
        if (row.rows[0] && (row.rows[0] as { denied_at: string | null }).denied_at === null) {
          const added = await c.query('INSERT INTO approvals (request_id, approver, approval) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING', [
            id,
            approver,
            approval,
          ])
          if (added.rowCount === 1) {
            await appendInboxEvent(c, id, 'approved', approver, now)
            if (audit) await appendAuditIn(c, [audit])
          }
        }
        return (await load(c, id)) as ApprovalRecord
      })
    },
    async denyApprovalRequest(id, denial, admit, audit) {
      return tx(async (c) => {
        // Locked first, then read: the approvals `admit` sees are all that can be there.
        const row = await c.query('SELECT id FROM approval_requests_v2 WHERE id = $1 FOR UPDATE', [id])
        if (!row.rows[0]) return undefined
        const record = (await load(c, id)) as ApprovalRecord
        if (!admit(record)) return record
        await c.query('UPDATE approval_requests_v2 SET denied_by = $1, denial_reason = $2, denied_at = $3 WHERE id = $4', [
          denial.by,
          denial.reason,
          denial.at,
          id,
        ])
        await appendInboxEvent(c, id, 'denied', denial.by, denial.at)
        if (audit) await appendAuditIn(c, [audit])
        return (await load(c, id)) as ApprovalRecord
      })
    },
    async appendAudit(records) {
      return tx((c) => appendAuditIn(c, records))
    },
    async auditRecords(since, limit) {
      const r = await pool.query('SELECT record FROM audit_log WHERE seq > $1 ORDER BY seq LIMIT $2', [since, limit])
      return (r.rows as { record: string }[]).map((row) => JSON.parse(row.record) as AuditEntry)
    },
    async auditHead() {
      // One transaction, one snapshot (REPEATABLE READ): the id, the count and the head agree.
      return tx(async (c) => {
        const id = await c.query("SELECT value FROM meta WHERE key = 'audit_log_id'")
        return { log: (id.rows[0] as { value: string }).value, ...(await auditTip(c)) }
      }, 'BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY')
    },
    async auditPrunable(cutoff) {
      const r = await pool.query(
        'SELECT record FROM audit_log WHERE at < $1 AND seq < (SELECT MAX(seq) FROM audit_log) ORDER BY seq DESC LIMIT 1',
        [cutoff],
      )
      const row = r.rows[0] as { record: string } | undefined
      return row ? (JSON.parse(row.record) as AuditEntry) : undefined
    },
    async pruneAudit(upTo) {
      const r = await pool.query('DELETE FROM audit_log WHERE seq <= $1 AND seq < (SELECT MAX(seq) FROM audit_log)', [upTo])
      return r.rowCount ?? 0
    },
    async checkpointAt(count) {
      const r = await pool.query('SELECT checkpoint FROM audit_checkpoints WHERE count = $1', [count])
      const row = r.rows[0] as { checkpoint: string } | undefined
      return row ? (JSON.parse(row.checkpoint) as AuditCheckpoint) : undefined
    },
    async putCheckpoint(cp) {
      await pool.query('INSERT INTO audit_checkpoints (count, checkpoint) VALUES ($1, $2) ON CONFLICT DO NOTHING', [
        cp.count,
        JSON.stringify(cp),
      ])
    },
    async latestCheckpoint() {
      const r = await pool.query('SELECT checkpoint FROM audit_checkpoints ORDER BY count DESC LIMIT 1')
      const row = r.rows[0] as { checkpoint: string } | undefined
      return row ? (JSON.parse(row.checkpoint) as AuditCheckpoint) : undefined
    },
    async usageOf(counters, now) {
      if (counters.length === 0) return []
      // One statement, one snapshot.
      const r = await pool.query(
        `SELECT i, CASE WHEN per IS NULL THEN COALESCE((SELECT used FROM usage_totals t WHERE t.counter_key = k), 0)
                        ELSE (SELECT COUNT(*) FROM usage_events e WHERE e.counter_key = k AND e.at > $3 - per) END AS used
         FROM unnest($1::text[], $2::bigint[]) WITH ORDINALITY AS c(k, per, i) ORDER BY i`,
        [counters.map((x) => x.key), counters.map((x) => x.per ?? null), now],
      )
      return (r.rows as { used: string }[]).map((row) => Number(row.used))
    },
    async inboxEvents(after, limit) {
      const r = await pool.query('SELECT seq, request_id, kind, by_key, at FROM inbox_events WHERE seq > $1 ORDER BY seq LIMIT $2', [
        after,
        limit,
      ])
      return (r.rows as InboxEventRow[]).map(rowToInboxEvent)
    },
    async leaseWebhook(endpoint, holder, now, until) {
      return tx(async (c) => {
        // A new endpoint starts at the newest event; ON CONFLICT keeps an existing cursor.
        await c.query(
          `INSERT INTO webhook_cursors (endpoint, seq, holder, lease_until)
           VALUES ($1, (SELECT COALESCE(MAX(seq), 0) FROM inbox_events), '', 0) ON CONFLICT (endpoint) DO NOTHING`,
          [endpoint],
        )
        const r = await c.query(
          `UPDATE webhook_cursors SET holder = $2, lease_until = $4
           WHERE endpoint = $1 AND (holder = $2 OR lease_until <= $3) RETURNING seq`,
          [endpoint, holder, now, until],
        )
        const row = r.rows[0] as { seq: string } | undefined
        return row ? Number(row.seq) : undefined
      })
    },
    async advanceWebhook(endpoint, holder, seq) {
      const r = await pool.query('UPDATE webhook_cursors SET seq = $3 WHERE endpoint = $1 AND holder = $2 AND seq < $3', [
        endpoint,
        holder,
        seq,
      ])
      return r.rowCount === 1
    },
    async ping() {
      await pool.query('SELECT 1')
    },
    async probe() {
      // A committed write, waiting at most a second for a lock and two for the statement, so
      // that /readyz answers within about two seconds.
      await tx(async (c) => {
        await c.query("SET LOCAL lock_timeout = '1s'")
        await c.query("SET LOCAL statement_timeout = '2s'")
        await c.query(
          `INSERT INTO health (one, at) VALUES (TRUE, EXTRACT(EPOCH FROM now())::BIGINT)
           ON CONFLICT (one) DO UPDATE SET at = EXCLUDED.at`,
        )
      })
    },
    async settings() {
      const r = await pool.query(
        `SELECT current_setting('synchronous_commit') AS sc, current_setting('fsync') AS fsync,
                current_setting('statement_timeout') AS st, current_setting('lock_timeout') AS lt,
                current_setting('idle_in_transaction_session_timeout') AS it`,
      )
      const row = r.rows[0] as { sc: string; fsync: string; st: string; lt: string; it: string }
      return {
        backend: 'postgres',
        synchronous_commit: row.sc,
        fsync: row.fsync,
        statement_timeout: row.st,
        lock_timeout: row.lt,
        idle_in_transaction_session_timeout: row.it,
      }
    },
    async close() {
      await pool.end()
    },
  }
}
