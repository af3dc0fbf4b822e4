/**
 * Edges of the SQLite store (src/service/sqlite-store.ts) and of the trust checks
 * (src/service/trust.ts) that the shared suites leave open: what a total counter stores, when
 * opening a database writes (and so needs the write lock), partial and repeated upgrades from
 * version 0.1, the approver index under compaction, the probe's write; an empty chain, scoped
 * entries after a whole-block suspension, the signature hint per method, foreign errors.
 * Scratch databases, explicit times, a stub store and request context for the trust checks.
 */
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import type { Context } from 'hono'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { acceptSignature } from '../../src/crypto/http-signature.js'
import { openSqliteStore, seedUsage } from '../../src/service/sqlite-store.js'
import type { Store } from '../../src/service/store.js'
import { createTrust } from '../../src/service/trust.js'
import { bearerChild } from '../helpers/chains.js'
import { scratch } from '../helpers/cli.js'
import { fixedDid, T0 } from '../helpers/fixtures.js'
import { storeConsume, storeCounter } from '../helpers/service-app.js'

const counter = storeCounter
const ask = storeConsume

type RevocationEntry = Awaited<ReturnType<Store['revocationsFor']>>[number]

/** Raw read-only SQL on a database file, as an operator's shell would. */
const raw = <T>(path: string, sql: string, ...params: unknown[]): T[] => {
  const db = new Database(path, { readonly: true })
  try {
    return db.prepare(sql).all(...params) as T[]
  } finally {
    db.close()
  }
}
const tables = (path: string) =>
  raw<{ name: string }>(path, "SELECT name FROM sqlite_master WHERE type = 'table' AND name <> 'sqlite_sequence' ORDER BY name").map(
    (r) => r.name,
  )

const CURRENT_TABLES = [
  'approval_approvers',
  'approval_requests_v2',
  'approvals',
  'audit_checkpoints',
  'audit_log',
  'health',
  'inbox_events',
  'meta',
  'replay_claims_v2',
  'request_nonces',
  'revocations',
  'usage_answers',
  'usage_events',
  'usage_totals',
  'webhook_cursors',
]

/** Version 0.1's changed tables, with three uses of a total counter `ab…/0` and a claim. */
const LEGACY = `
CREATE TABLE usage_events (counter_key TEXT NOT NULL, at INTEGER NOT NULL);
CREATE TABLE usage_requests (request_id TEXT PRIMARY KEY, result TEXT NOT NULL, at INTEGER NOT NULL);
CREATE TABLE replay_claims (id TEXT PRIMARY KEY, expires INTEGER NOT NULL);
CREATE TABLE approval_requests (id TEXT PRIMARY KEY, invocation TEXT NOT NULL, approvers TEXT NOT NULL, created_at INTEGER NOT NULL);
INSERT INTO usage_events VALUES ('${'ab'.repeat(32)}/0', 1), ('${'ab'.repeat(32)}/0', 2), ('${'ab'.repeat(32)}/0', 3);
INSERT INTO replay_claims VALUES ('claimed', 2000);
INSERT INTO approval_requests VALUES ('old', 'mni1_old', '["did:a"]', 900);
`
const exec = (path: string, sql: string) => {
  const db = new Database(path)
  db.exec(sql)
  db.close()
}

const opened: Store[] = []
const open = (path = ':memory:') => {
  const s = openSqliteStore(path)
  opened.push(s)
  return s
}
afterEach(async () => {
  vi.useRealTimers()
  for (const s of opened.splice(0)) await s.close().catch(() => {})
})

/** Run `work` while another connection (a backup, a shell) holds the write lock of `path`. */
async function whileLocked<T>(path: string, work: () => Promise<T> | T): Promise<T> {
  const other = new Database(path)
  other.exec('BEGIN IMMEDIATE')
  try {
    return await work()
  } finally {
    other.exec('ROLLBACK')
    other.close()
  }
}

describe('SQLite store: what a counter keeps', () => {
  it('a total counter keeps only its running total, no event per use; a windowed one keeps one per live use', async () => {
    const path = join(scratch(), 'events.db')
    const s = open(path)
    const total = counter(5)
    const windowed = counter(5, 100, 'cd')
    for (const [i, at] of [10, 20, 30].entries()) {
      expect(await s.consume(ask(`t${i}`, [total, windowed]), at)).toMatchObject({ granted: true })
    }
    // seeded past grants follow the same rule
    seedUsage(path, counter(5, undefined, 'ef').key, [1, 2], false)
    seedUsage(path, counter(5, 100, '01').key, [1, 2], true)
    const events = raw<{ counter_key: string; n: number }>(
      path,
      'SELECT counter_key, COUNT(*) AS n FROM usage_events GROUP BY counter_key ORDER BY counter_key',
    )
    expect(events).toEqual([
      { counter_key: counter(5, 100, '01').key, n: 2 },
      { counter_key: windowed.key, n: 3 },
    ])
    expect(raw(path, 'SELECT counter_key, used FROM usage_totals ORDER BY counter_key')).toEqual([
      { counter_key: counter(5, 100, '01').key, used: 2 },
      { counter_key: total.key, used: 3 },
      { counter_key: windowed.key, used: 3 },
      { counter_key: counter(5, undefined, 'ef').key, used: 2 },
    ])
  })

  it('seedUsage closes the database behind it: the last connection to close leaves no write-ahead log', async () => {
    const path = join(scratch(), 'seeded.db')
    await openSqliteStore(path).close() // a WAL database
    seedUsage(path, counter(3, 100).key, [10], true)
    expect(existsSync(`${path}-wal`)).toBe(false)
    const s = open(path)
    expect(await s.consume(ask('w', [counter(3, 100)]), 50)).toEqual({ granted: true, remaining: [{ key: counter(3).key, remaining: 1 }] })
  })
})

describe('SQLite store: opening writes only what is missing', () => {
  it('an up-to-date database opens, and answers, while another connection holds the write lock', async () => {
    const path = join(scratch(), 'locked.db')
    const first = openSqliteStore(path)
    await first.addRevocation({
      statementId: 's1',
      blockId: '11'.repeat(32),
      kind: 'suspend',
      at: 100,
      by: 'ee'.repeat(32),
      expires: 1_000_000,
      statement: new Uint8Array([1]),
    })
    const feed = await first.feedId()
    await first.close()
    const again = await whileLocked(path, async () => {
      const s = open(path)
      expect([await s.head(), await s.feedId()]).toEqual([1, feed])
      return s
    })
    expect(await again.feedId()).toBe(feed)
  })

  it('a version 0.1 database is upgraded once: no 0.1 table is left, and the next open needs no write lock', async () => {
    const path = join(scratch(), 'legacy.db')
    exec(path, LEGACY)
    const first = openSqliteStore(path)
    expect(await first.consume(ask('n1', [counter(5)]), 1000)).toEqual({
      granted: true,
      remaining: [{ key: counter(5).key, remaining: 1 }],
    })
    await first.close()
    expect(tables(path)).toEqual(CURRENT_TABLES)
    const again = await whileLocked(path, () => open(path))
    expect(await again.consume(ask('n2', [counter(5)]), 1001)).toEqual({
      granted: true,
      remaining: [{ key: counter(5).key, remaining: 0 }],
    })
  })

  it('a 0.1 database that already has some of the new tables is still upgraded: its past uses count', async () => {
    const path = join(scratch(), 'partial.db')
    // no idempotency answers, and the health table already there
    exec(path, `${LEGACY}DROP TABLE usage_requests; CREATE TABLE health (one INTEGER PRIMARY KEY CHECK (one = 1), at INTEGER NOT NULL);`)
    const s = open(path)
    expect(await s.consume(ask('n1', [counter(4)]), 1000)).toEqual({ granted: true, remaining: [{ key: counter(4).key, remaining: 0 }] })
    expect(await s.consume(ask('n2', [counter(4)]), 1000)).toEqual({ granted: false, exhausted: counter(4).key })
    expect(await s.claimReplay('claimed', 'did:v', 3000, 1000)).toBe(false)
  })

  it('0.1 tables recreated after the upgrade (0.1 run again) are dropped without counting uses twice', async () => {
    const path = join(scratch(), 'rerun.db')
    const first = openSqliteStore(path)
    const w = counter(3, 100)
    expect(await first.consume(ask('w1', [w]), 10)).toMatchObject({ granted: true })
    expect(await first.claimReplay('live', 'did:v', 5000, 10)).toBe(true)
    await first.close()
    // what version 0.1 creates when it opens the file again
    exec(
      path,
      `CREATE TABLE usage_requests (request_id TEXT PRIMARY KEY, result TEXT NOT NULL, at INTEGER NOT NULL);
       CREATE TABLE replay_claims (id TEXT PRIMARY KEY, expires INTEGER NOT NULL);
       INSERT INTO replay_claims VALUES ('live', 5000);`,
    )
    const s = open(path)
    // one use in the window, not two
    expect(await s.consume(ask('w2', [w]), 20)).toEqual({ granted: true, remaining: [{ key: w.key, remaining: 1 }] })
    expect(await s.releaseReplay('live', 'did:v', 20)).toBe('released')
    expect(tables(path)).toEqual([...CURRENT_TABLES, 'replay_claims'].sort())
  })

  it('a database with a meta table but no feed id is given one when opened, and keeps it', async () => {
    const path = join(scratch(), 'meta.db')
    exec(path, "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL); INSERT INTO meta VALUES ('other', 'x')")
    const s = openSqliteStore(path)
    const feed = await s.feedId()
    expect(feed).toMatch(/^[0-9a-f]{32}$/)
    await s.close()
    expect(await open(path).feedId()).toBe(feed)
  })

  it('a path the file system refuses is reported as such, not as a database error', () => {
    const path = join(scratch(), `${'x'.repeat(300)}.db`)
    expect(() => openSqliteStore(path)).toThrow(expect.objectContaining({ code: 'ENAMETOOLONG' }))
  })
})

describe('SQLite store: approvals, ping and probe', () => {
  it('compaction keeps a live request in its approvers\u2019 inboxes (its approver index is dropped a day after expiry only)', async () => {
    const s = open()
    const r = { id: 'r1', invocation: 'mni1_r1', approvers: ['did:a'], requester: 'did:q', createdAt: 100, expiresAt: 1000 }
    await s.putApprovalRequest(r, 5, 100)
    await s.compact(500)
    expect((await s.pendingApprovals('did:a', 10, 500)).map((x) => x.id)).toEqual(['r1'])
    await s.compact(1000 + 86_400)
    expect(await s.getApprovalRequest('r1')).toMatchObject({ id: 'r1' })
    await s.compact(1000 + 86_401)
    expect(await s.getApprovalRequest('r1')).toBeUndefined()
  })

  it('ping answers through the database: a closed store fails it', async () => {
    const s = openSqliteStore(':memory:')
    await expect(s.ping()).resolves.toBeUndefined()
    await s.close()
    await expect(s.ping()).rejects.toThrow(/not open/)
  })

  it('the probe commits its time (in seconds) where another connection sees it', async () => {
    const path = join(scratch(), 'probe.db')
    const s = open(path)
    vi.useFakeTimers({ toFake: ['Date'] })
    vi.setSystemTime(T0 * 1000 + 999)
    await s.probe()
    expect(raw(path, 'SELECT one, at FROM health')).toEqual([{ one: 1, at: T0 }])
    vi.setSystemTime((T0 + 5) * 1000)
    await s.probe()
    expect(raw(path, 'SELECT one, at FROM health')).toEqual([{ one: 1, at: T0 + 5 }])
  })
})

describe('trust: edges', () => {
  const noStore = { revocationsFor: async () => [] } as unknown as Store
  const trustWith = (store: Store = noStore) => createTrust({ roots: [{ key: fixedDid('alice') }] }, store, () => T0)

  it('an empty chain names no principal: 403, not a crash', () => {
    let caught: unknown
    try {
      trustWith().served([])
    } catch (e) {
      caught = e
    }
    expect(caught).toMatchObject({ status: 403, code: 'ERR_ROOT_UNTRUSTED', message: "the chain's principal (none) is not served here" })
  })

  it('a whole-block suspension is not lifted by later entries scoped to other actions; a resume lifts it', async () => {
    const m = bearerChild([{ type: 'uses', max: 5 }])
    const id = m.blocks[1]?.idHex
    const entry = (seq: number, kind: string, actions?: string[]): RevocationEntry =>
      ({ seq, blockId: id, kind, at: T0, by: '00'.repeat(32), ...(actions ? { actions } : {}) }) as unknown as RevocationEntry
    let entries: RevocationEntry[] = []
    const store = { revocationsFor: async (b: string) => (b === id ? entries : []) } as unknown as Store
    const trust = trustWith(store)
    entries = [entry(1, 'suspend'), entry(2, 'suspend', ['calendar'])]
    await expect(trust.standing(m.blocks, 'email:read', T0)).rejects.toMatchObject({
      code: 'ERR_SUSPENDED',
      message: 'block 1 is suspended',
    })
    entries = [entry(1, 'suspend'), entry(2, 'revoke', ['calendar'])]
    await expect(trust.standing(m.blocks, 'email:read', T0)).rejects.toMatchObject({ code: 'ERR_SUSPENDED' })
    entries = [entry(1, 'suspend'), entry(2, 'resume'), entry(3, 'suspend', ['calendar'])]
    await expect(trust.standing(m.blocks, 'email:read', T0)).resolves.toBeUndefined()
    await expect(trust.standing(m.blocks, 'calendar:read', T0)).rejects.toMatchObject({ code: 'ERR_SUSPENDED' })
  })

  const context = (method: string, header: (name: string) => string | undefined = () => undefined) =>
    ({ req: { method, url: 'http://mandate.test/v1/x', header } }) as unknown as Context

  it('an unsigned request is told which components to sign: no body for GET, HEAD and DELETE; a body otherwise', async () => {
    const hint = async (method: string) => {
      const e = await trustWith()
        .caller(context(method), new Uint8Array())
        .then(
          () => undefined,
          (x: unknown) => x as { status: number; code: string; headers: Record<string, string> },
        )
      return [e?.status, e?.code, e?.headers['accept-signature']]
    }
    for (const method of ['GET', 'HEAD', 'DELETE']) expect(await hint(method)).toEqual([401, 'ERR_AUTH_REQUIRED', acceptSignature(false)])
    for (const method of ['POST', 'PUT', 'PATCH']) expect(await hint(method)).toEqual([401, 'ERR_AUTH_REQUIRED', acceptSignature(true)])
  })

  it('a failure that is not a signature error is passed on as it is, not turned into a 401', async () => {
    const broken = new Error('header store unavailable')
    const c = context('POST', () => {
      throw broken
    })
    await expect(trustWith().caller(c, new Uint8Array())).rejects.toBe(broken)
  })
})
