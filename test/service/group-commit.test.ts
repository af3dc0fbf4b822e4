/**
 * The SQLite store's group commit (src/service/sqlite-store.ts): writes arriving together share
 * one transaction and one fsync, each in a savepoint of its own. What callers rely on: a write
 * resolves only once it is committed and durable (another connection, as after a crash, sees
 * it; test/service/sqlite-durability.test.ts holds the fsync), one
 * failing write takes no other with it, a failed commit acknowledges nothing, and nothing
 * queued is lost at close.
 */
import { fsync } from 'node:fs'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import { afterEach, describe, expect, it } from 'vitest'
import { openSqliteStore } from '../../src/service/sqlite-store.js'
import type { NewRevocation, Store } from '../../src/service/store.js'
import { scratch } from '../helpers/cli.js'
import { T0 } from '../helpers/fixtures.js'
import { committed, storeConsume, storeCounter } from '../helpers/service-app.js'

const open: Store[] = []
const store = (path: string) => {
  const s = openSqliteStore(path)
  open.push(s)
  return s
}
afterEach(async () => {
  await Promise.all(open.splice(0).map((s) => s.close().catch(() => {})))
})

const statement = (n: number): NewRevocation => ({
  statementId: `st${n}`,
  blockId: String(n).padStart(64, '0'),
  kind: 'revoke',
  at: T0,
  by: 'aa'.repeat(32),
  expires: T0 + 3600,
  statement: new Uint8Array([n]),
})

describe('SQLite group commit', () => {
  it('concurrent consumes each resolve only once committed, and share the budget exactly', async () => {
    const path = join(scratch(), 'g.db')
    const s = store(path)
    const counter = storeCounter(25)
    const seenAtAnswer: boolean[] = []
    const answers = await Promise.all(
      Array.from({ length: 40 }, (_, i) =>
        s.consume(storeConsume(`inv:${i}`, [counter], `b${i}`), T0).then((r) => {
          // The answer goes out only when another connection can already read it.
          seenAtAnswer.push(committed(path, 'SELECT result FROM usage_answers WHERE key = ?', `inv:${i}`).length === 1)
          return r
        }),
      ),
    )
    expect(seenAtAnswer).toEqual(Array(40).fill(true))
    expect(answers.filter((a) => a !== 'conflict' && a.granted)).toHaveLength(25)
    expect(answers.slice(25).every((a) => a !== 'conflict' && !a.granted)).toBe(true)
    expect(committed(path, 'SELECT used FROM usage_totals WHERE counter_key = ?', counter.key)).toEqual([25])
  })

  it('nothing is visible before the group commits, and a write queued alone still commits', async () => {
    const path = join(scratch(), 'g.db')
    const s = store(path)
    const pending = s.useNonce('did:key:zA', 'n'.repeat(16), T0 + 600, T0)
    expect(committed(path, 'SELECT nonce FROM request_nonces')).toEqual([])
    expect(await pending).toBe(true)
    expect(committed(path, 'SELECT nonce FROM request_nonces')).toEqual(['n'.repeat(16)])
  })

  it('a write that throws rolls back alone; the others in its group commit', async () => {
    const path = join(scratch(), 'g.db')
    const s = store(path)
    const refused = new Error('refused by the guard')
    const outcomes = await Promise.allSettled([
      s.addRevocation(statement(1)),
      // Throws after the guard read (inside its savepoint): nothing of it may remain.
      s.addRevocation(statement(2), {
        above: [],
        admit: () => {
          throw refused
        },
      }),
      s.consume(storeConsume('inv:a', [storeCounter(5)]), T0),
      s.useNonce('did:key:zA', 'm'.repeat(16), T0 + 600, T0),
    ])
    expect(outcomes.map((o) => o.status)).toEqual(['fulfilled', 'rejected', 'fulfilled', 'fulfilled'])
    expect((outcomes[1] as PromiseRejectedResult).reason).toBe(refused)
    expect(committed(path, 'SELECT statement_id FROM revocations ORDER BY seq')).toEqual(['st1'])
    expect(committed(path, 'SELECT key FROM usage_answers')).toEqual(['inv:a'])
    expect(committed(path, 'SELECT nonce FROM request_nonces')).toEqual(['m'.repeat(16)])
  })

  it('writes in one group see each other in order: a nonce used twice is refused the second time', async () => {
    const s = store(join(scratch(), 'g.db'))
    const firsts = await Promise.all(
      Array.from({ length: 600 }, (_, i) => s.useNonce('did:key:zA', `nonce-${String(i % 300).padStart(10, '0')}`, T0 + 600, T0)),
    )
    // 600 writes exceed one group (256): the groups follow one another in arrival order.
    expect(firsts.slice(0, 300)).toEqual(Array(300).fill(true))
    expect(firsts.slice(300)).toEqual(Array(300).fill(false))
  })

  it('at most 256 writes share a commit: the first 256 are answered by one fsync, the rest by the next', async () => {
    const path = join(scratch(), 'g.db')
    const syncs: (() => void)[] = []
    const s = openSqliteStore(path, { fsync: (fd, done) => syncs.push(() => fsync(fd, done)) })
    open.push(s)
    let answered = 0
    const writes = Array.from({ length: 300 }, (_, i) =>
      s.useNonce('did:key:zA', `cap-${String(i).padStart(12, '0')}`, T0 + 600, T0).then((ok) => {
        answered++
        return ok
      }),
    )
    const turns = async () => {
      for (let i = 0; i < 4; i++) await new Promise((r) => setTimeout(r, 5))
    }
    await turns()
    // Both groups are committed; the first fsync covers only the first, and runs alone.
    expect(committed(path, 'SELECT COUNT(*) FROM request_nonces')).toEqual([300])
    expect([answered, syncs.length]).toEqual([0, 1])
    syncs[0]?.()
    await turns()
    expect([answered, syncs.length]).toEqual([256, 2])
    syncs[1]?.()
    expect(await Promise.all(writes)).toEqual(Array(300).fill(true))
    expect(answered).toBe(300)
  })

  it('an error that ends the whole transaction (as a full disk or an I/O error does) answers none of the group and writes none of it', async () => {
    const path = join(scratch(), 'g.db')
    const s = store(path)
    // RAISE(ROLLBACK) ends the transaction from inside one write, as SQLITE_FULL or SQLITE_IOERR can.
    const admin = new Database(path)
    admin.exec(
      "CREATE TRIGGER ends_all BEFORE INSERT ON request_nonces WHEN NEW.nonce = 'ends-the-transaction' BEGIN SELECT RAISE(ROLLBACK, 'the transaction ended'); END",
    )
    admin.close()
    const outcomes = await Promise.allSettled([
      s.consume(storeConsume('inv:before', [storeCounter(5)]), T0),
      s.useNonce('did:key:zA', 'ends-the-transaction', T0 + 600, T0),
      s.consume(storeConsume('inv:after', [storeCounter(5, undefined, 'cd')]), T0),
      s.claimReplay('ef'.repeat(32), 'did:key:zV', T0 + 600, T0),
    ])
    expect(outcomes.map((o) => o.status)).toEqual(['rejected', 'rejected', 'rejected', 'rejected'])
    expect(String((outcomes[0] as PromiseRejectedResult).reason)).toContain('the transaction ended')
    // Nothing after the failing write ran outside the transaction, nothing before it stayed.
    expect(committed(path, 'SELECT key FROM usage_answers')).toEqual([])
    expect(committed(path, 'SELECT id FROM replay_claims_v2')).toEqual([])
    expect(await s.useNonce('did:key:zA', 'after-the-failure', T0 + 600, T0)).toBe(true)
  })

  it('a commit that fails rejects every write of the group, and none of them was written', async () => {
    const path = join(scratch(), 'g.db')
    const s = store(path)
    await s.useNonce('did:key:zA', 'before'.padEnd(16, '-'), T0 + 600, T0)
    const holder = new Database(path)
    holder.exec('BEGIN IMMEDIATE')
    try {
      const outcomes = await Promise.allSettled([
        s.consume(storeConsume('inv:b', [storeCounter(5)]), T0),
        s.useNonce('did:key:zA', 'during'.padEnd(16, '-'), T0 + 600, T0),
        s.claimReplay('ab'.repeat(32), 'did:key:zV', T0 + 600, T0),
      ])
      expect(outcomes.map((o) => o.status)).toEqual(['rejected', 'rejected', 'rejected'])
      expect(outcomes.map((o) => ((o as PromiseRejectedResult).reason as { code?: string }).code)).toEqual(Array(3).fill('SQLITE_BUSY'))
    } finally {
      holder.exec('ROLLBACK')
      holder.close()
    }
    expect(committed(path, 'SELECT nonce FROM request_nonces')).toEqual(['before'.padEnd(16, '-')])
    expect(committed(path, 'SELECT key FROM usage_answers')).toEqual([])
    expect(committed(path, 'SELECT id FROM replay_claims_v2')).toEqual([])
    // The store goes on: the same writes succeed once the lock is free.
    expect(await s.useNonce('did:key:zA', 'during'.padEnd(16, '-'), T0 + 600, T0)).toBe(true)
  }, 15_000)

  it('close commits what is still queued', async () => {
    const path = join(scratch(), 'g.db')
    const s = openSqliteStore(path)
    const queued = [s.addRevocation(statement(7)), s.useNonce('did:key:zA', 'q'.repeat(16), T0 + 600, T0)]
    await s.close()
    expect(await Promise.all(queued)).toEqual([{ seq: 1, created: true }, true])
    expect(committed(path, 'SELECT statement_id FROM revocations')).toEqual(['st7'])
    expect(committed(path, 'SELECT nonce FROM request_nonces')).toEqual(['q'.repeat(16)])
  })
})
