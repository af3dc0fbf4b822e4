/**
 * The SQLite store's durability (src/service/sqlite-store.ts): a commit is written with
 * synchronous=NORMAL and made durable by an fsync of the WAL on the thread pool, one at a time.
 * Nothing may be acknowledged, or read back by anyone, before the fsync that covers it has
 * returned; an fsync that fails leaves the store refusing everything. The fsync is injected
 * here, held and released by the test, on a real database file. The service's consume and
 * replay claim use the store's operations that resolve at commit (Store.atCommit) and wait
 * once, before their answer: no answer, a refusal included, leaves before the fsync that
 * covers what it rests on.
 */
import { existsSync, fsync, symlinkSync } from 'node:fs'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import { afterEach, describe, expect, it } from 'vitest'
import { formatInvocation, formatMandate, invoke } from '../../src/index.js'
import { FsyncThreadStopped } from '../../src/service/fsync-thread.js'
import { createMetrics } from '../../src/service/metrics.js'
import { type Fsync, openSqliteStore } from '../../src/service/sqlite-store.js'
import type { Store } from '../../src/service/store.js'
import { type Answer, appRequest } from '../helpers/app-request.js'
import { bearerChild } from '../helpers/chains.js'
import { scratch } from '../helpers/cli.js'
import { fixedKey, T0 } from '../helpers/fixtures.js'
import { storeConsume as ask, committed, storeCounter as counter, serviceApp } from '../helpers/service-app.js'

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

/** Resolves once `cond()` holds (the fsync thread's calls arrive as the store gets to them). */
async function until(cond: () => boolean): Promise<void> {
  for (let i = 0; i < 200 && !cond(); i++) await new Promise((r) => setTimeout(r, 5))
  expect(cond()).toBe(true)
}

describe('SQLite store: the operations of a request that waits once (Store.atCommit)', () => {
  it('a write resolves once committed and a read at once, while the fsync is held; durable() waits for it', async () => {
    const f = heldFsync()
    const path = join(scratch(), 'm.db')
    const s = openSqliteStore(path, { fsync: f.fn })
    store = s
    const c = counter(2)
    // Nothing committed: nothing to wait for, and no fsync.
    await s.atCommit.durable()
    expect(f.calls).toHaveLength(0)
    expect(await s.atCommit.useNonce('did:k', 'n1', 100, 1)).toBe(true)
    expect(f.calls).toHaveLength(1)
    expect(committed(path, 'SELECT nonce FROM request_nonces')).toEqual(['n1'])
    // The same decisions as the waiting operations: a nonce once, a claim once, uses counted.
    expect(await s.atCommit.useNonce('did:k', 'n1', 100, 1)).toBe(false)
    expect(await s.atCommit.claimReplay('inv1', 'did:v', 100, 1)).toBe(true)
    expect(await s.atCommit.claimReplay('inv1', 'did:w', 100, 1)).toBe(false)
    expect(await s.atCommit.consume(ask('a', [c]), 1)).toEqual({ granted: true, remaining: [{ key: c.key, remaining: 1 }] })
    expect(await s.atCommit.consume(ask('b', [c]), 1)).toEqual({ granted: true, remaining: [{ key: c.key, remaining: 0 }] })
    expect(await s.atCommit.consume(ask('c', [c]), 1)).toEqual({ granted: false, exhausted: c.key })
    expect(await s.atCommit.consume(ask('a', [c], 'other'), 1)).toBe('conflict')
    expect(await s.atCommit.revocationsFor('ab'.repeat(32))).toEqual([])
    expect(f.calls).toHaveLength(1)
    // A write that waits, in the same store meanwhile, still waits.
    const waiting = s.useNonce('did:k', 'n2', 100, 1)
    const done = s.atCommit.durable()
    expect(await settled(waiting)).toBe(false)
    expect(await settled(done)).toBe(false)
    f.release(0)
    expect(await settled(done)).toBe(false)
    await until(() => f.calls.length === 2)
    f.release(1)
    await expect(done).resolves.toBeUndefined()
    await expect(waiting).resolves.toBe(true)
  })

  it('durable() covers a commit another connection made', async () => {
    const f = heldFsync()
    const path = join(scratch(), 'm.db')
    const s = openSqliteStore(path, { fsync: f.fn })
    store = s
    await s.atCommit.durable()
    const shell = new Database(path)
    shell.prepare("INSERT INTO request_nonces (keyid, nonce, expires) VALUES ('did:k', 'n', 100)").run()
    shell.close()
    const done = s.atCommit.durable()
    expect(await settled(done)).toBe(false)
    f.release(0)
    await expect(done).resolves.toBeUndefined()
  })

  it('an fsync that fails: durable() refuses, and so does every operation after it', async () => {
    const f = heldFsync()
    const s = openSqliteStore(join(scratch(), 'm.db'), { fsync: f.fn })
    store = s
    expect(await s.atCommit.useNonce('did:k', 'n1', 100, 1)).toBe(true)
    const done = s.atCommit.durable()
    f.release(0, Object.assign(new Error('EIO: i/o error, fsync'), { code: 'EIO' }))
    const refused = /^the database could not be made durable \(EIO: i\/o error, fsync\)/
    await expect(done).rejects.toThrow(refused)
    await expect(s.atCommit.durable()).rejects.toThrow(refused)
    await expect(s.atCommit.useNonce('did:k', 'n2', 100, 1)).rejects.toThrow(refused)
    await expect(s.atCommit.revocationsFor('ab'.repeat(32))).rejects.toThrow(refused)
    await expect(s.atCommit.consume(ask('a', [counter(2)]), 1)).rejects.toThrow(refused)
  })
})

describe('the service: one wait for durability per request, before any answer', () => {
  const NOW = T0 + 600
  const m = bearerChild([{ type: 'uses', max: 2 }])
  const key = `${m.blocks[1]?.idHex}/0`
  const setUp = () => {
    const f = heldFsync()
    const path = join(scratch(), 'm.db')
    store = openSqliteStore(path, { fsync: f.fn })
    const metrics = createMetrics()
    const app = serviceApp(store, () => NOW, { metrics })
    /** The consumes the metrics have counted, by result. */
    const counted = async () => Object.fromEntries((await metrics.usage.get()).values.map((v) => [String(v.labels['result']), v.value]))
    const post = (path: string, body: Record<string, unknown>, nonce?: string): Promise<Answer> =>
      appRequest(app, NOW, 'POST', path, { body, key: fixedKey('verifier'), ...(nonce === undefined ? {} : { nonce }) })
    const consume = (requestId: string, nonce?: string) =>
      post('/v1/usage/consume', { requestId, presentation: formatMandate(m), counters: [key] }, nonce)
    const used = () => committed(path, 'SELECT used FROM usage_totals')
    return { f, path, post, consume, used, counted }
  }

  it('a granted consume: its nonce and its use are committed without waiting, and the answer waits for both to be durable', async () => {
    const { f, consume, used, counted } = setUp()
    const answer = consume('r1')
    await until(() => f.calls.length === 1)
    // The nonce's fsync is held, yet the use is committed: nothing waited for it but the answer.
    await until(() => used().length === 1)
    expect(used()).toEqual([1])
    expect(await settled(answer)).toBe(false)
    f.release(0)
    await until(() => f.calls.length === 2)
    expect(await settled(answer)).toBe(false)
    // Nor do the metrics count it yet.
    expect(await counted()).toEqual({})
    f.release(1)
    expect((await answer).json).toEqual({ granted: true, remaining: [{ key, remaining: 1 }] })
    expect(await counted()).toEqual({ granted: 1 })
  })

  it('a replayed request is refused only once the nonce it collides with is durable', async () => {
    const { f, consume } = setUp()
    const first = consume('r1', 'the-same-nonce-twice')
    await until(() => f.calls.length === 1)
    const replayed = consume('r1', 'the-same-nonce-twice')
    expect(await settled(replayed)).toBe(false)
    f.release(0)
    await until(() => f.calls.length === 2)
    f.release(1)
    const [a, b] = await Promise.all([first, replayed])
    expect([a.status, b.status, b.code]).toEqual([200, 401, 'ERR_AUTH_REPLAY'])
  })

  it('a revocation committed but not yet durable refuses a consume, and the refusal waits for it', async () => {
    const { f, consume, used } = setUp()
    const revoking = (store as Store).addRevocation({
      statementId: 'st1',
      blockId: m.blocks[1]?.idHex as string,
      kind: 'revoke',
      at: NOW,
      by: 'aa'.repeat(32),
      expires: T0 + 8 * 3600,
      statement: new Uint8Array([1]),
    })
    await until(() => f.calls.length === 1)
    const refused = consume('r1')
    expect(await settled(refused)).toBe(false)
    f.release(0)
    await revoking
    await until(() => f.calls.length === 2)
    f.release(1)
    const a = await refused
    expect([a.status, a.code, a.message]).toEqual([403, 'ERR_REVOKED', 'block 1 is revoked'])
    expect(used()).toEqual([])
  })

  it('an fsync that fails turns the answer into a 503, never the grant, and the metrics do not count it', async () => {
    const { f, consume, used, counted } = setUp()
    const answer = consume('r1')
    await until(() => f.calls.length === 1)
    await until(() => used().length === 1)
    f.release(0, Object.assign(new Error('EIO: i/o error, fsync'), { code: 'EIO' }))
    const a = await answer
    expect([a.status, a.code]).toEqual([503, 'ERR_STORAGE_UNAVAILABLE'])
    expect(a.message).toMatch(/^storage unavailable: the database could not be made durable \(EIO: i\/o error, fsync\)/)
    expect(a.json).not.toHaveProperty('granted')
    expect(await counted()).toEqual({})
  })

  it('a replay claim: claimed once committed, answered once durable', async () => {
    const { f, path, post } = setUp()
    const inv = invoke(m, { action: 'email:read', audience: 'mail', now: NOW })
    const answer = post('/v1/replay/claim', { invocation: formatInvocation(inv) })
    await until(() => committed(path, 'SELECT id FROM replay_claims_v2').length === 1)
    expect(f.calls).toHaveLength(1)
    expect(await settled(answer)).toBe(false)
    f.release(0)
    await until(() => f.calls.length === 2)
    f.release(1)
    expect((await answer).json).toEqual({ id: inv.idHex, claimed: true })
  })
})
