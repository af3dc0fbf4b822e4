/**
 * The SQLite store's durability (src/service/sqlite-store.ts): a commit is written with
 * synchronous=NORMAL and made durable by an fsync of the WAL on the thread pool, one at a time.
 * Nothing may be acknowledged, or read back by anyone, before the fsync that covers it has
 * returned; an fsync that fails leaves the store refusing everything. The fsync is injected
 * here, held and released by the test, on a real database file.
 */
import { existsSync, fsync, symlinkSync } from 'node:fs'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import { afterEach, describe, expect, it } from 'vitest'
import { FsyncThreadStopped } from '../../src/service/fsync-thread.js'
import { type Fsync, openSqliteStore } from '../../src/service/sqlite-store.js'
import type { Store } from '../../src/service/store.js'
import { scratch } from '../helpers/cli.js'
import { storeConsume as ask, storeCounter as counter } from '../helpers/service-app.js'

/** An fsync that waits for the test: `release(i)` lets the i-th call through (really syncing). */
function heldFsync() {
  const calls: { fd: number; done: (error: Error | null) => void }[] = []
  const fn: Fsync = (fd, done) => {
    calls.push({ fd, done })
  }
  const release = (i: number, error: Error | null = null) => {
    const call = calls[i]
    if (!call) throw new Error(`no fsync call ${i}`)
    if (error) call.done(error)
    else fsync(call.fd, (e) => call.done(e))
  }
  return { fn, calls, release }
}

/** Whether `p` has settled, after the event loop has had a few turns (a real fsync included). */
async function settled(p: Promise<unknown>): Promise<boolean> {
  let done = false
  p.then(
    () => {
      done = true
    },
    () => {
      done = true
    },
  )
  for (let i = 0; i < 5; i++) await new Promise((r) => setTimeout(r, 5))
  return done
}

let store: Store | undefined
afterEach(async () => {
  await store?.close()
  store = undefined
})

describe('SQLite store durability', () => {
  it('a write is answered only after the fsync that covers it; commits made meanwhile wait for the next fsync', async () => {
    const f = heldFsync()
    store = openSqliteStore(join(scratch(), 'm.db'), { fsync: f.fn })
    const c = counter(10)
    const first = store.consume(ask('a', [c]), 1)
    expect(await settled(first)).toBe(false)
    expect(f.calls).toHaveLength(1)
    // Committed while the first fsync runs: not answered by it, and no second fsync at once.
    const second = store.consume(ask('b', [c]), 1)
    expect(await settled(second)).toBe(false)
    expect(f.calls).toHaveLength(1)
    f.release(0)
    expect(await first).toEqual({ granted: true, remaining: [{ key: c.key, remaining: 9 }] })
    expect(await settled(second)).toBe(false)
    expect(f.calls).toHaveLength(2)
    f.release(1)
    expect(await second).toEqual({ granted: true, remaining: [{ key: c.key, remaining: 8 }] })
  })

  it('a read that may have seen a commit not yet durable waits for it; one with nothing pending does not', async () => {
    const f = heldFsync()
    store = openSqliteStore(join(scratch(), 'm.db'), { fsync: f.fn })
    const c = counter(10)
    expect(await store.usageOf([c], 1)).toEqual([0])
    expect(f.calls).toHaveLength(0)
    const spent = store.consume(ask('a', [c]), 1)
    await new Promise((r) => setImmediate(r)) // committed, not yet durable
    const seen = store.usageOf([c], 1)
    const head = store.head()
    expect(await settled(seen)).toBe(false)
    expect(await settled(head)).toBe(false)
    f.release(0)
    expect(await seen).toEqual([1])
    expect(await head).toBe(0)
    await spent
    expect(await store.usageOf([c], 1)).toEqual([1])
    expect(f.calls).toHaveLength(1)
  })

  it('readiness is a durable write', async () => {
    const f = heldFsync()
    store = openSqliteStore(join(scratch(), 'm.db'), { fsync: f.fn })
    const probe = store.probe()
    expect(await settled(probe)).toBe(false)
    f.release(0)
    await expect(probe).resolves.toBeUndefined()
  })

  it('an fsync that fails: what it covered is refused, and so is everything after, reads included', async () => {
    const f = heldFsync()
    store = openSqliteStore(join(scratch(), 'm.db'), { fsync: f.fn })
    const c = counter(10)
    const lost = store.consume(ask('a', [c]), 1)
    await new Promise((r) => setImmediate(r))
    const seen = store.usageOf([c], 1)
    f.release(0, Object.assign(new Error('EIO: i/o error, fsync'), { code: 'EIO' }))
    const refused =
      /the database could not be made durable \(EIO: i\/o error, fsync\); check the disk and reboot before restarting the service/
    await expect(lost).rejects.toThrow(refused)
    await expect(seen).rejects.toThrow(refused)
    await expect(store.consume(ask('b', [c]), 1)).rejects.toThrow(refused)
    await expect(store.usageOf([c], 1)).rejects.toThrow(refused)
    await expect(store.probe()).rejects.toThrow(refused)
    expect(f.calls).toHaveLength(1)
  })

  it('acknowledged writes are in the file: the WAL synced for real, read back by a new store', async () => {
    const path = join(scratch(), 'm.db')
    store = openSqliteStore(path)
    const c = counter(10)
    for (const k of ['a', 'b', 'c']) await store.consume(ask(k, [c]), 1)
    expect(await store.settings()).toMatchObject({ journal_mode: 'wal', synchronous: '1', wal_fsync: 'before answering' })
    await store.close()
    store = openSqliteStore(path)
    expect(await store.usageOf([c], 1)).toEqual([3])
  })
})

describe('SQLite store durability: what the review found', () => {
  it('a commit made by another connection is synced before a read shows it', async () => {
    const f = heldFsync()
    const path = join(scratch(), 'm.db')
    store = openSqliteStore(path, { fsync: f.fn })
    const c = counter(10)
    expect(await store.usageOf([c], 1)).toEqual([0])
    const shell = new Database(path)
    shell.prepare('INSERT INTO usage_totals (counter_key, used) VALUES (?, 4)').run(c.key)
    shell.close()
    const seen = store.usageOf([c], 1)
    expect(await settled(seen)).toBe(false)
    f.release(0)
    expect(await seen).toEqual([4])
  })

  it('close() waits for the fsync in flight, and commits and syncs a write that arrives meanwhile', async () => {
    const f = heldFsync()
    const s = openSqliteStore(join(scratch(), 'm.db'), { fsync: f.fn })
    const c = counter(10)
    const a = s.consume(ask('a', [c]), 1)
    await new Promise((r) => setImmediate(r))
    const closing = s.close()
    const b = s.consume(ask('b', [c]), 1)
    expect(await settled(closing)).toBe(false)
    f.release(0)
    expect(await a).toMatchObject({ granted: true })
    await new Promise((r) => setTimeout(r, 20))
    expect(f.calls).toHaveLength(2)
    f.release(1)
    expect(await b).toMatchObject({ granted: true })
    await expect(closing).resolves.toBeUndefined()
  })

  it('an fsync that failed because its thread stopped (not the disk) says to restart the service', async () => {
    const f = heldFsync()
    store = openSqliteStore(join(scratch(), 'm.db'), { fsync: f.fn })
    const lost = store.consume(ask('a', [counter(10)]), 1)
    await new Promise((r) => setImmediate(r))
    f.release(0, new FsyncThreadStopped('the fsync thread has stopped'))
    await expect(lost).rejects.toThrow(/^the database could not be made durable \(the fsync thread has stopped\); restart the service$/)
    await expect(store.probe()).rejects.toThrow(/restart the service$/)
  })

  it('close() twice: both wait for the one closing, and no descriptor is closed twice', async () => {
    const s = openSqliteStore(join(scratch(), 'm.db'))
    await s.consume(ask('a', [counter(10)]), 1)
    const [first, second] = await Promise.allSettled([s.close(), s.close()])
    expect(first).toEqual({ status: 'fulfilled', value: undefined })
    expect(second).toEqual({ status: 'fulfilled', value: undefined })
    await expect(s.close()).resolves.toBeUndefined()
  })

  it('a database reached through a symbolic link: its WAL is the real file’s', async () => {
    const dir = scratch()
    const real = join(dir, 'real.db')
    openSqliteStore(real).close()
    const link = join(dir, 'link.db')
    symlinkSync(real, link)
    store = openSqliteStore(link)
    const c = counter(10)
    expect(await store.consume(ask('a', [c]), 1)).toMatchObject({ granted: true })
    expect(existsSync(`${link}-wal`)).toBe(false)
    expect(existsSync(`${real}-wal`)).toBe(true)
  })
})
