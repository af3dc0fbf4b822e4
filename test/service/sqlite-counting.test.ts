/**
 * How the SQLite store counts uses and keeps its feed (src/service/sqlite-store.ts), beyond the
 * shared store suite (store.test.ts): a counter named twice in one consume, several exhausted
 * counters, a window that can never free, refusals answered from memory, the revocation guard,
 * the feed snapshot's statement ids, and `seedUsage`. In-memory or scratch databases, explicit
 * times.
 */
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { openSqliteStore, seedUsage } from '../../src/service/sqlite-store.js'
import type { NewRevocation, Store } from '../../src/service/store.js'
import { scratch } from '../helpers/cli.js'
import { storeConsume, storeCounter } from '../helpers/service-app.js'

const counter = storeCounter
const ask = storeConsume
const entry = (n: number, blockId = `${n}`.padStart(64, '0')): NewRevocation => ({
  statementId: `s${n}`,
  blockId,
  kind: 'suspend',
  at: 100,
  by: 'ee'.repeat(32),
  expires: 1_000_000,
  statement: new Uint8Array([n]),
})

let store: Store | undefined
afterEach(async () => {
  await store?.close()
  store = undefined
})
const open = (path = ':memory:') => {
  store = openSqliteStore(path)
  return store
}

describe('counting uses', () => {
  it('a counter named twice in one consume counts both uses: granted while both fit, refused when only one does', async () => {
    const s = open()
    const a = counter(3)
    expect(await s.consume(ask('twice', [a, a]), 10)).toEqual({
      granted: true,
      remaining: [
        { key: a.key, remaining: 2 },
        { key: a.key, remaining: 1 },
      ],
    })
    // one use left: a request for two is refused whole and spends nothing
    expect(await s.consume(ask('twice-again', [a, a]), 11)).toEqual({ granted: false, exhausted: a.key })
    expect(await s.consume(ask('once', [a]), 12)).toEqual({ granted: true, remaining: [{ key: a.key, remaining: 0 }] })
  })

  it('a windowed counter named twice counts both uses in the window', async () => {
    const s = open()
    const w = counter(2, 10)
    expect(await s.consume(ask('twice', [w, w]), 5)).toEqual({
      granted: true,
      remaining: [
        { key: w.key, remaining: 1 },
        { key: w.key, remaining: 0 },
      ],
    })
    // both uses at 5 are live in (5 − 10, 14]: the window frees at 5 + 10
    expect(await s.consume(ask('r', [w]), 14)).toEqual({ granted: false, exhausted: w.key, resetAt: 15 })
    expect(await s.consume(ask('u', [w]), 15)).toEqual({ granted: true, remaining: [{ key: w.key, remaining: 1 }] })
  })

  it('with several counters exhausted, the refusal names the first one in request order', async () => {
    const s = open()
    const a = counter(1)
    const b = counter(1, 100, 'cd')
    expect(await s.consume(ask('fill', [a, b]), 1)).toMatchObject({ granted: true })
    expect(await s.consume(ask('ab', [a, b]), 2)).toEqual({ granted: false, exhausted: a.key })
    expect(await s.consume(ask('ba', [b, a]), 2)).toEqual({ granted: false, exhausted: b.key, resetAt: 101 })
  })

  it('a windowed counter with max 0 is refused without a reset time (it never frees)', async () => {
    const s = open()
    const w = counter(0, 60)
    expect(await s.consume(ask('z', [w]), 1000)).toStrictEqual({ granted: false, exhausted: w.key })
  })

  it('a refusal is answered from memory: a retry after the window frees is still refused, a new request is granted', async () => {
    const s = open()
    const w = counter(1, 10)
    expect(await s.consume(ask('g', [w]), 0)).toMatchObject({ granted: true })
    const refused = { granted: false, exhausted: w.key, resetAt: 10 }
    expect(await s.consume(ask('r', [w]), 5)).toEqual(refused)
    expect(await s.consume(ask('r', [w]), 20)).toEqual(refused)
    expect(await s.consume(ask('r', [w], 'other'), 20)).toBe('conflict')
    expect(await s.consume(ask('n', [w]), 20)).toEqual({ granted: true, remaining: [{ key: w.key, remaining: 0 }] })
  })

  it('seedUsage records past grants: windowed ones as events that leave the window, total ones for good', async () => {
    const path = join(scratch(), 'seed.db')
    const w = counter(3, 100)
    const a = counter(3, undefined, 'cd')
    seedUsage(path, w.key, [10, 20], true)
    seedUsage(path, a.key, [10, 20], false)
    const s = open(path)
    expect(await s.consume(ask('w1', [w]), 50)).toEqual({ granted: true, remaining: [{ key: w.key, remaining: 0 }] })
    expect(await s.consume(ask('w2', [w]), 50)).toEqual({ granted: false, exhausted: w.key, resetAt: 110 })
    // at 110 the use at 10 has left (10 ≤ 110 − 100): one fits
    expect(await s.consume(ask('w3', [w]), 110)).toEqual({ granted: true, remaining: [{ key: w.key, remaining: 0 }] })
    expect(await s.consume(ask('a1', [a]), 1_000_000)).toEqual({ granted: true, remaining: [{ key: a.key, remaining: 0 }] })
    expect(await s.consume(ask('a2', [a]), 1_000_000)).toEqual({ granted: false, exhausted: a.key })
  })
})

describe('the feed', () => {
  it('a page carries the statement ids at since and at the head; none for seq 0', async () => {
    const s = open()
    for (const n of [1, 2, 3]) await s.addRevocation(entry(n))
    const first = await s.revocationsSince(0, 2)
    expect(first.head).toBe(3)
    expect(first.entries.map((e) => e.seq)).toEqual([1, 2])
    expect(first.headEntry).toBe('s3')
    expect('sinceEntry' in first).toBe(false)
    const later = await s.revocationsSince(1, 10)
    expect([later.sinceEntry, later.headEntry, later.entries.map((e) => e.seq)]).toEqual(['s1', 's3', [2, 3]])
    // an empty feed: neither
    const empty = open()
    const none = await empty.revocationsSince(0, 10)
    expect([none.head, 'headEntry' in none, 'sinceEntry' in none]).toEqual([0, false, false])
    await empty.close()
    store = s
  })

  it('the guard sees the entries of the block and of the blocks above; its answer stores nothing', async () => {
    const s = open()
    const block = 'aa'.repeat(32)
    const above = 'bb'.repeat(32)
    await s.addRevocation(entry(1, above))
    await s.addRevocation(entry(2, block))
    const seen: unknown[] = []
    const kept = await s.addRevocation(entry(3, block), {
      above: [above],
      admit: (entries, aboveEntries) => {
        seen.push(
          entries.map((e) => e.seq),
          aboveEntries.map((l) => l.map((e) => e.seq)),
        )
        return 2
      },
    })
    expect(kept).toEqual({ seq: 2, created: false })
    expect(seen).toEqual([[2], [[1]]])
    expect(await s.head()).toBe(2)
    expect(await s.revocationSeq('s3')).toBeUndefined()
    const added = await s.addRevocation(entry(3, block), { above: [], admit: () => undefined })
    expect(added).toEqual({ seq: 3, created: true })
    // a retry is answered before the guard is asked
    const retry = await s.addRevocation(entry(3, block), {
      above: [],
      admit: () => {
        throw new Error('asked')
      },
    })
    expect(retry).toEqual({ seq: 3, created: false })
    expect((await s.revocationsFor(block)).map((e) => [e.seq, e.kind, e.by])).toEqual([
      [2, 'suspend', 'ee'.repeat(32)],
      [3, 'suspend', 'ee'.repeat(32)],
    ])
  })

  it('an in-memory store creates no file named :memory:', async () => {
    const { existsSync } = await import('node:fs')
    open()
    expect(existsSync(':memory:')).toBe(false)
  })
})

describe('the database file', () => {
  it('reopens an existing file with what it holds', async () => {
    const path = join(scratch(), 'again.db')
    const first = open(path)
    await first.addRevocation(entry(1))
    const feed = await first.feedId()
    await first.close()
    const again = open(path)
    expect([await again.head(), await again.feedId()]).toEqual([1, feed])
  })
})
