/**
 * The PostgreSQL store, for several service instances on one database. Every write is one
 * transaction with `synchronous_commit = on`; counters take transaction-level advisory
 * locks in key order, so concurrent consumes serialize per counter without deadlocks.
 *
 * @module
 */
import pg from 'pg'
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
  seq BIGSERIAL PRIMARY KEY,
  statement_id TEXT NOT NULL UNIQUE,
  block_id TEXT NOT NULL,
  kind TEXT NOT NULL,
  actions TEXT,
  at BIGINT NOT NULL,
  by_key TEXT NOT NULL,
  reason TEXT,
  expires BIGINT NOT NULL,
  statement BYTEA NOT NULL
);
CREATE INDEX IF NOT EXISTS revocations_block ON revocations(block_id);
CREATE TABLE IF NOT EXISTS feed_head (one BOOLEAN PRIMARY KEY DEFAULT TRUE CHECK (one), head BIGINT NOT NULL);
INSERT INTO feed_head (one, head) VALUES (TRUE, 0) ON CONFLICT DO NOTHING;
CREATE TABLE IF NOT EXISTS usage_events (counter_key TEXT NOT NULL, at BIGINT NOT NULL);
CREATE INDEX IF NOT EXISTS usage_events_key ON usage_events(counter_key, at);
CREATE TABLE IF NOT EXISTS usage_requests (request_id TEXT PRIMARY KEY, result TEXT NOT NULL, at BIGINT NOT NULL);
CREATE TABLE IF NOT EXISTS replay_claims (id TEXT PRIMARY KEY, expires BIGINT NOT NULL);
CREATE TABLE IF NOT EXISTS approval_requests (id TEXT PRIMARY KEY, invocation TEXT NOT NULL, approvers TEXT NOT NULL, created_at BIGINT NOT NULL);
CREATE TABLE IF NOT EXISTS approvals (request_id TEXT NOT NULL, approver TEXT NOT NULL, approval TEXT NOT NULL, PRIMARY KEY (request_id, approver));
CREATE TABLE IF NOT EXISTS approval_approvers (request_id TEXT NOT NULL, approver TEXT NOT NULL, PRIMARY KEY (approver, request_id));
`

/** Connect to PostgreSQL at `url` and create the schema if needed. */
export async function openPostgresStore(url: string): Promise<Store> {
  const pool = new pg.Pool({ connectionString: url, max: 8 })
  pool.on('error', () => {
    // An idle client died; the next query reconnects or fails with 503.
  })
  pool.on('connect', (client) => {
    client.query('SET synchronous_commit = on').catch(() => {})
  })
  // Several instances may start at once: serialize schema creation.
  const setup = await pool.connect()
  try {
    await setup.query('SELECT pg_advisory_lock(7217001)')
    await setup.query(SCHEMA)
    await setup.query('SELECT pg_advisory_unlock(7217001)')
  } finally {
    setup.release()
  }

  const tx = async <T>(work: (c: pg.PoolClient) => Promise<T>): Promise<T> => {
    const client = await pool.connect()
    try {
      await client.query('BEGIN')
      const result = await work(client)
      await client.query('COMMIT')
      return result
    } catch (e) {
      await client.query('ROLLBACK').catch(() => {})
      throw e
    } finally {
      client.release()
    }
  }

  const load = async (q: pg.Pool | pg.PoolClient, id: string): Promise<ApprovalRecord | undefined> => {
    const r = await q.query('SELECT id, invocation, approvers, created_at FROM approval_requests WHERE id = $1', [id])
    const row = r.rows[0] as { id: string; invocation: string; approvers: string; created_at: string } | undefined
    if (!row) return undefined
    const a = await q.query('SELECT approver, approval FROM approvals WHERE request_id = $1', [id])
    const approvals: Record<string, string> = {}
    for (const x of a.rows as { approver: string; approval: string }[]) approvals[x.approver] = x.approval
    return {
      id: row.id,
      invocation: row.invocation,
      approvers: JSON.parse(row.approvers) as string[],
      createdAt: Number(row.created_at),
      approvals,
    }
  }

  return {
    async addRevocation(e: NewRevocation) {
      return tx(async (c) => {
        // Serialize revocation writes across instances, so that sequence numbers commit in
        // order: a reader that has seen seq n can never later miss a seq below n.
        await c.query('SELECT pg_advisory_xact_lock(7217002)')
        const inserted = await c.query(
          `INSERT INTO revocations (statement_id, block_id, kind, actions, at, by_key, reason, expires, statement)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (statement_id) DO NOTHING RETURNING seq`,
          revocationValues(e),
        )
        if (inserted.rows[0]) {
          const seq = Number((inserted.rows[0] as { seq: string }).seq)
          // The head is transactional (a sequence's last_value is not) and never goes down.
          await c.query('UPDATE feed_head SET head = GREATEST(head, $1)', [seq])
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
      const client = await pool.connect()
      try {
        // One snapshot for both reads.
        await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY')
        const h = await client.query('SELECT head FROM feed_head')
        const head = Number((h.rows[0] as { head: string }).head)
        const r = await client.query(`SELECT ${REVOCATION_COLUMNS} FROM revocations WHERE seq > $1 AND seq <= $2 ORDER BY seq LIMIT $3`, [
          after,
          head,
          limit,
        ])
        await client.query('COMMIT')
        return { head, entries: (r.rows as RevocationRow[]).map(rowToEntry) }
      } catch (e) {
        await client.query('ROLLBACK').catch(() => {})
        throw e
      } finally {
        client.release()
      }
    },
    async head() {
      const r = await pool.query('SELECT head FROM feed_head')
      return Number((r.rows[0] as { head: string }).head)
    },
    async revocationsFor(blockId) {
      const r = await pool.query(`SELECT ${REVOCATION_COLUMNS} FROM revocations WHERE block_id = $1 ORDER BY seq`, [blockId])
      return (r.rows as RevocationRow[]).map(rowToEntry)
    },
    async compact(now) {
      return tx(async (c) => {
        await c.query('DELETE FROM usage_requests WHERE at < $1', [now - ANSWER_TTL])
        await c.query('DELETE FROM replay_claims WHERE expires <= $1', [now])
        const r = await c.query('DELETE FROM revocations WHERE expires < $1', [now])
        return r.rowCount ?? 0
      })
    },
    async consume(requestId, counters: readonly UsageCounter[], now) {
      return tx(async (c) => {
        // One lock per request id first, so that a retry waits for the original's answer.
        await c.query('SELECT pg_advisory_xact_lock(hashtextextended($1, 1))', [requestId])
        const prior = await c.query('SELECT result FROM usage_requests WHERE request_id = $1', [requestId])
        if (prior.rows[0]) return JSON.parse((prior.rows[0] as { result: string }).result) as ConsumeResult
        for (const key of [...new Set(counters.map((x) => x.key))].sort()) {
          await c.query('SELECT pg_advisory_xact_lock(hashtextextended($1, 2))', [key])
        }
        let answer: ConsumeResult | undefined
        const used = async (x: UsageCounter) => {
          const r =
            x.per === undefined
              ? await c.query('SELECT COUNT(*) AS n FROM usage_events WHERE counter_key = $1', [x.key])
              : await c.query('SELECT COUNT(*) AS n FROM usage_events WHERE counter_key = $1 AND at > $2', [x.key, now - x.per])
          return Number((r.rows[0] as { n: string }).n)
        }
        for (const x of counters) {
          if (x.per !== undefined) await c.query('DELETE FROM usage_events WHERE counter_key = $1 AND at <= $2', [x.key, now - x.per])
          if ((await used(x)) >= x.max) {
            if (x.per === undefined) answer = { granted: false, exhausted: x.key }
            else {
              const r = await c.query('SELECT at FROM usage_events WHERE counter_key = $1 AND at > $2 ORDER BY at DESC LIMIT 1 OFFSET $3', [
                x.key,
                now - x.per,
                x.max - 1,
              ])
              const at = r.rows[0] ? Number((r.rows[0] as { at: string }).at) : undefined
              answer = { granted: false, exhausted: x.key, ...(at === undefined ? {} : { resetAt: at + x.per }) }
            }
            break
          }
        }
        if (!answer) {
          const remaining: { key: string; remaining: number }[] = []
          for (const x of counters) {
            await c.query('INSERT INTO usage_events (counter_key, at) VALUES ($1, $2)', [x.key, now])
            remaining.push({ key: x.key, remaining: x.max - (await used(x)) })
          }
          answer = { granted: true, remaining }
        }
        await c.query('INSERT INTO usage_requests (request_id, result, at) VALUES ($1, $2, $3)', [requestId, JSON.stringify(answer), now])
        return answer
      })
    },
    async claimReplay(id, expiresAt, now) {
      const r = await pool.query(
        `INSERT INTO replay_claims (id, expires) VALUES ($1, $2)
         ON CONFLICT (id) DO UPDATE SET expires = EXCLUDED.expires WHERE replay_claims.expires <= $3`,
        [id, expiresAt, now],
      )
      return r.rowCount === 1
    },
    async releaseReplay(id) {
      await pool.query('DELETE FROM replay_claims WHERE id = $1', [id])
    },
    async putApprovalRequest(r) {
      await tx(async (c) => {
        await c.query(
          'INSERT INTO approval_requests (id, invocation, approvers, created_at) VALUES ($1, $2, $3, $4) ON CONFLICT (id) DO NOTHING',
          [r.id, r.invocation, JSON.stringify(r.approvers), r.createdAt],
        )
        for (const a of r.approvers)
          await c.query('INSERT INTO approval_approvers (request_id, approver) VALUES ($1, $2) ON CONFLICT DO NOTHING', [r.id, a])
      })
      return (await load(pool, r.id)) as ApprovalRecord
    },
    async getApprovalRequest(id) {
      return load(pool, id)
    },
    async pendingApprovals(approver, limit) {
      const r = await pool.query(
        `SELECT r.id FROM approval_approvers a JOIN approval_requests r ON r.id = a.request_id
         WHERE a.approver = $1 AND NOT EXISTS (SELECT 1 FROM approvals p WHERE p.request_id = r.id AND p.approver = a.approver)
         ORDER BY r.created_at, r.id LIMIT $2`,
        [approver, limit],
      )
      const out: ApprovalRecord[] = []
      for (const row of r.rows as { id: string }[]) out.push((await load(pool, row.id)) as ApprovalRecord)
      return out
    },
    async addApproval(id, approver, approval) {
      await pool.query('INSERT INTO approvals (request_id, approver, approval) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING', [
        id,
        approver,
        approval,
      ])
      return (await load(pool, id)) as ApprovalRecord
    },
    async ping() {
      await pool.query('SELECT 1')
    },
    async settings() {
      const r = await pool.query("SELECT current_setting('synchronous_commit') AS sc, current_setting('fsync') AS fsync")
      const row = r.rows[0] as { sc: string; fsync: string }
      return { backend: 'postgres', synchronous_commit: row.sc, fsync: row.fsync }
    },
    async close() {
      await pool.end()
    },
  }
}
