/**
 * An honest feed (#7): pages carry the true head and the feed id; the service notices a
 * restored database (its durable mark is above the database head) and rotates the feed id; a
 * view that sees another feed id (ERR_REVOCATION_FEED_RESET) or a head below its mark
 * (ERR_REVOCATION_ROLLBACK) fails closed, stays so (across restarts), and recovers only by
 * `resync()`.
 */
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import {
  createFeedRevocationView,
  createRevocation,
  createVerifier,
  type FeedEntry,
  type FeedPage,
  type FeedRevocationView,
  generateKeyPair,
  parsePublicKey,
  signFeedPage,
  toDidKey,
  type UnverifiedMandate,
  verifyFeedPage,
} from '../../src/index.js'
import { fileFeedState } from '../../src/node.js'
import { createApp } from '../../src/service/app.js'
import { fileFeedMark } from '../../src/service/feed-mark.js'
import { openSqliteStore } from '../../src/service/sqlite-store.js'
import type { Store } from '../../src/service/store.js'
import { alice, blockOf, capture, child, now, revoke, serveIn } from '../helpers/feed-service.js'
import { fixedKey, keyFor, T0 } from '../helpers/fixtures.js'
import { postgresBin, useAdmin, useCluster } from '../helpers/postgres.js'

/** The service lives on `url`, which moves between restarts: the view follows it. */
function viewOf(url: () => string, serviceKey: string, statePath?: string, extra: { push?: boolean; pollMs?: number } = {}) {
  return createFeedRevocationView({
    url: 'http://feed',
    serviceKey,
    push: false,
    ...extra,
    fetch: ((input: string | URL, init?: RequestInit) => fetch(String(input).replace('http://feed', url()), init)) as typeof fetch,
    ...(statePath ? { state: fileFeedState(statePath) } : {}),
  })
}

const copyDb = (from: string, to: string) => {
  for (const suffix of ['', '-wal', '-shm']) {
    rmSync(`${to}${suffix}`, { force: true })
    if (existsSync(`${from}${suffix}`)) copyFileSync(`${from}${suffix}`, `${to}${suffix}`)
  }
}

const errorCode = async (p: Promise<unknown>) =>
  p.then(
    () => 'resolved',
    (e: { code?: string }) => e.code,
  )

describe('restored or lost database (SQLite, service in-process)', () => {
  it('restored backup: the service rotates the feed id; the view fails closed (FEED_RESET) until resync(), which sees what came after', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mandate-rollback-'))
    const backup = join(dir, 'backup.db')
    let { service } = await serveIn(dir)
    const serviceKey = service.serviceKey
    const statePath = join(dir, 'view.json')
    const view = viewOf(() => service.url, serviceKey, statePath)
    const first = child('first')
    await revoke(service, first)
    await view.sync()
    expect(view.seq).toBe(1)
    const pinned = view.feedId
    expect(pinned).toMatch(/^[0-9a-f]{32}$/)

    // Backup at head 1, then two more revocations the view sees.
    await service.close()
    copyDb(join(dir, 'mandate.db'), backup)
    ;({ service } = await serveIn(dir))
    const lost = [child('lost-1'), child('lost-2')]
    for (const m of lost) await revoke(service, m)
    await view.sync()
    expect(view.seq).toBe(3)
    const freshBefore = view.freshAt()
    const markFile = join(dir, 'service.pem.feed')
    expect(JSON.parse(readFileSync(markFile, 'utf8'))).toEqual({ feedId: pinned, head: 3 })
    expect(statSync(markFile).mode & 0o777).toBe(0o600)

    // Restore the backup (the mark file beside the key stays): the service notices at start.
    await service.close()
    copyDb(backup, join(dir, 'mandate.db'))
    const restarted = await serveIn(dir)
    service = restarted.service
    const log = restarted.log
    expect(log.warnings().join('\n')).toContain('rotated the feed id')
    const rotated = await service.store.feedId()
    expect(rotated).not.toBe(pinned)

    // The view fails closed, keeps what it had, and does not get fresher.
    expect(await errorCode(view.sync())).toBe('ERR_REVOCATION_FEED_RESET')
    expect(view.lastError).toMatchObject({ code: 'ERR_REVOCATION_FEED_RESET' })
    expect(view.seq).toBe(3)
    expect(view.feedId).toBe(pinned)
    expect(() => view.freshAt()).toThrow(/resync/)
    for (const m of lost) expect(view.entries(blockOf(m))?.[0]?.kind).toBe('revoke')
    const verifier = createVerifier({
      roots: [toDidKey(alice.publicKey)],
      audience: 'svc',
      clock: () => freshBefore,
      revocations: view,
      revocationMaxAge: 30,
    })
    // Denied at once (not only once the view has aged), with the reason.
    const denied = await verifier.authorize({ mandate: child('innocent'), request: { action: 'x' } })
    expect(denied.allowed ? 'allowed' : denied.code).toBe('ERR_REVOCATION_FEED_RESET')
    // Sticky: again, and after a restart of the verifier (the failure is persisted).
    expect(await errorCode(view.sync())).toBe('ERR_REVOCATION_FEED_RESET')
    const restartedView = viewOf(() => service.url, serviceKey, statePath)
    expect(restartedView.lastError).toMatchObject({ code: 'ERR_REVOCATION_FEED_RESET' })
    expect(await errorCode(restartedView.sync())).toBe('ERR_REVOCATION_FEED_RESET')

    // A revocation after the restore reuses seq 2: only a full resync can see it.
    const after = child('after-restore')
    expect(await revoke(service, after)).toBe(2)
    await view.resync()
    expect([view.seq, view.feedId, view.lastError]).toEqual([2, rotated, undefined])
    expect(view.entries(blockOf(after))?.[0]?.kind).toBe('revoke')
    expect(view.entries(blockOf(first))?.[0]?.kind).toBe('revoke')
    // What the restore lost is lost: the principal must revoke again.
    expect(view.entries(blockOf(lost[0] as UnverifiedMandate))).toBeUndefined()
    expect(view.freshAt()).toBeGreaterThanOrEqual(freshBefore)
    await view.sync()
    // The resynced state is what a restarted verifier loads.
    const reloaded = viewOf(() => service.url, serviceKey, statePath)
    expect([reloaded.seq, reloaded.feedId, reloaded.lastError]).toEqual([2, rotated, undefined])
    await service.close()
  }, 30_000)

  it('whole directory restored (the mark too): the view sees the head below its mark (ROLLBACK), then resync() recovers', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mandate-rollback-'))
    const saved = mkdtempSync(join(tmpdir(), 'mandate-saved-'))
    let { service } = await serveIn(dir)
    const serviceKey = service.serviceKey
    const view = viewOf(() => service.url, serviceKey)
    await revoke(service, child('a'))
    await view.sync()
    await service.close()
    copyDb(join(dir, 'mandate.db'), join(saved, 'mandate.db'))
    copyFileSync(join(dir, 'service.pem.feed'), join(saved, 'service.pem.feed'))
    ;({ service } = await serveIn(dir))
    await revoke(service, child('b'))
    await revoke(service, child('c'))
    await view.sync()
    expect(view.seq).toBe(3)
    expect(view.freshAt()).toBeGreaterThan(0)
    await service.close()
    copyDb(join(saved, 'mandate.db'), join(dir, 'mandate.db'))
    copyFileSync(join(saved, 'service.pem.feed'), join(dir, 'service.pem.feed'))
    const restarted = await serveIn(dir)
    service = restarted.service
    const log = restarted.log
    expect(log.warnings().join('\n')).not.toContain('rotated')
    // The page from the view's mark carries the true head (1), not max(head, since).
    const page = verifyFeedPage(await (await fetch(`${service.url}/v1/revocations?since=3`)).json(), parsePublicKey(serviceKey))
    expect([page.since, page.head, page.entries.length]).toEqual([3, 1, 0])
    expect(await errorCode(view.sync())).toBe('ERR_REVOCATION_ROLLBACK')
    expect(view.seq).toBe(3)
    expect(() => view.freshAt()).toThrow(/resync/)
    // Even once the head passes the mark again, the view stays failed: seqs 2 and 3 were reused.
    for (const n of ['d', 'e', 'f']) await revoke(service, child(n))
    expect(await errorCode(view.sync())).toBe('ERR_REVOCATION_ROLLBACK')
    await view.resync()
    expect([view.seq, view.lastError]).toEqual([4, undefined])
    await service.close()
  }, 30_000)

  it('deleted database: a new feed id (FEED_RESET), resync() works', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mandate-rollback-'))
    let { service } = await serveIn(dir)
    const view = viewOf(() => service.url, service.serviceKey)
    await revoke(service, child('a'))
    await view.sync()
    const pinned = view.feedId
    await service.close()
    for (const suffix of ['', '-wal', '-shm']) rmSync(join(dir, `mandate.db${suffix}`), { force: true })
    const restarted = await serveIn(dir)
    service = restarted.service
    const log = restarted.log
    // A new database has a new feed id of its own: nothing to rotate.
    expect(log.warnings()).toEqual([])
    expect(await service.store.feedId()).not.toBe(pinned)
    expect(await errorCode(view.sync())).toBe('ERR_REVOCATION_FEED_RESET')
    const b = child('b')
    await revoke(service, b)
    await view.resync()
    expect([view.seq, view.feedId]).toEqual([1, await service.store.feedId()])
    expect(view.entries(blockOf(b))?.[0]?.kind).toBe('revoke')
    await service.close()
  }, 30_000)

  it('background sync (poll and push) records the failure and never resyncs by itself', async () => {
    for (const push of [false, true]) {
      const dir = mkdtempSync(join(tmpdir(), 'mandate-rollback-'))
      let { service } = await serveIn(dir)
      const view = viewOf(() => service.url, service.serviceKey, undefined, { push, pollMs: 50 })
      await revoke(service, child('a'))
      await view.sync()
      view.start()
      await service.close()
      for (const suffix of ['', '-wal', '-shm']) rmSync(join(dir, `mandate.db${suffix}`), { force: true })
      ;({ service } = await serveIn(dir))
      await revoke(service, child('b'))
      await revoke(service, child('c'))
      const until = Date.now() + 5000
      while (view.lastError?.name !== 'MandateError' && Date.now() < until) await new Promise((r) => setTimeout(r, 50))
      await new Promise((r) => setTimeout(r, 300))
      expect(view.lastError).toMatchObject({ code: 'ERR_REVOCATION_FEED_RESET' })
      expect(view.seq).toBe(1)
      await view.resync()
      expect(view.seq).toBe(2)
      // After the resync, background sync goes on from the new state.
      const d = child('d')
      await revoke(service, d)
      const until2 = Date.now() + 5000
      while (view.seq < 3 && Date.now() < until2) await new Promise((r) => setTimeout(r, 50))
      expect(view.entries(blockOf(d))?.[0]?.kind).toBe('revoke')
      expect(view.lastError).toBeUndefined()
      await view.stop()
      await service.close()
    }
  }, 30_000)

  it('a page read that finds the database below the mark rotates the feed id (no restart needed)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mandate-rollback-'))
    const key = generateKeyPair()
    let target: Store = openSqliteStore(join(dir, 'a.db'))
    // A store whose database can be swapped under the app (a restore behind its back).
    const swappable = new Proxy({} as Store, { get: (_, p) => (target as unknown as Record<string | symbol, unknown>)[p] })
    const log = capture()
    const app = createApp({
      store: swappable,
      key,
      roots: [{ key: toDidKey(alice.publicKey) }],
      logger: log.logger,
      feedMark: fileFeedMark(join(dir, 'mark')),
    })
    const at = now()
    for (const n of ['a', 'b', 'c']) {
      const s = createRevocation({ mandate: child(n), key: alice })
      await target.addRevocation({
        statementId: s.id,
        blockId: s.target.idHex,
        kind: 'revoke',
        at,
        by: Buffer.from(alice.publicKey).toString('hex'),
        expires: at + 3600,
        statement: s.bytes,
      })
      if (n === 'a') {
        // the backup, at head 1
        await target.close()
        copyDb(join(dir, 'a.db'), join(dir, 'b.db'))
        target = openSqliteStore(join(dir, 'a.db'))
      }
    }
    const read = async (since: number) => verifyFeedPage(await (await app.request(`/v1/revocations?since=${since}`)).json(), key.publicKey)
    const before = await read(0)
    expect(before.head).toBe(3)
    await target.close()
    target = openSqliteStore(join(dir, 'b.db'))
    const after = await read(3)
    expect([after.head, after.since, after.entries.length]).toEqual([1, 3, 0])
    expect(after.feedId).not.toBe(before.feedId)
    expect(log.warnings().join()).toContain('rotated the feed id')
    // Once rotated, reads go on under the new id without rotating again.
    expect((await read(0)).feedId).toBe(after.feedId)
    expect(log.warnings().length).toBe(1)
    await target.close()
  })
})

describe('feed view against scripted pages', () => {
  const service = fixedKey('service')
  const A = 'aa'.repeat(16)
  const B = 'bb'.repeat(16)
  const entry = (seq: number): FeedEntry => ({
    seq,
    blockId: seq.toString(16).padStart(64, '0'),
    kind: 'revoke',
    at: T0,
    by: Buffer.from(keyFor('alice').publicKey).toString('hex'),
    expires: T0 + 86400,
  })
  const page = (p: Partial<FeedPage> & Pick<FeedPage, 'since' | 'head' | 'issuedAt' | 'feedId'>) =>
    signFeedPage({ serviceKey: service.publicKey, nextUpdate: p.issuedAt + 60, entries: [], more: false, ...p }, service.secretKey)
  /** Serves `script(since)`; the test changes what it answers. */
  const scripted = (script: (since: number) => unknown, clock: () => number, state?: string): FeedRevocationView =>
    createFeedRevocationView({
      url: 'http://svc',
      serviceKey: toDidKey(service.publicKey),
      push: false,
      clock,
      ...(state ? { state: fileFeedState(state) } : {}),
      fetch: (async (url: string) =>
        new Response(JSON.stringify(script(Number(new URL(url).searchParams.get('since')))), { status: 200 })) as typeof fetch,
    })

  it('a replayed old page stays ERR_REVOCATION_LIST_INVALID and does not stick; a fresh page below the mark is a ROLLBACK', async () => {
    let answer = (since: number) => page({ since, head: 2, issuedAt: T0, feedId: A, entries: since === 0 ? [entry(1), entry(2)] : [] })
    const view = scripted(
      (s) => answer(s),
      () => T0 + 1,
    )
    await view.sync()
    answer = (since) => page({ since, head: 1, issuedAt: T0 - 10, feedId: A })
    expect(await errorCode(view.sync())).toBe('ERR_REVOCATION_LIST_INVALID')
    answer = (since) => page({ since, head: 2, issuedAt: T0, feedId: A })
    await view.sync()
    expect(view.lastError).toBeUndefined()
    answer = (since) => page({ since, head: 1, issuedAt: T0, feedId: A })
    expect(await errorCode(view.sync())).toBe('ERR_REVOCATION_ROLLBACK')
    answer = (since) => page({ since, head: 2, issuedAt: T0, feedId: A })
    expect(await errorCode(view.sync())).toBe('ERR_REVOCATION_ROLLBACK')
  })

  it('another feed id is a reset; resync() starts from 0 and pins the new id; a failed resync changes nothing', async () => {
    let answer = (since: number) => page({ since, head: 1, issuedAt: T0, feedId: A, entries: since === 0 ? [entry(1)] : [] })
    const view = scripted(
      (s) => answer(s),
      () => T0 + 1,
    )
    await view.sync()
    answer = (since) => page({ since, head: 5, issuedAt: T0, feedId: B, entries: since === 0 ? [entry(5)] : [] })
    expect(await errorCode(view.sync())).toBe('ERR_REVOCATION_FEED_RESET')
    const bad = keyFor('mallory')
    const good = answer
    answer = (since) =>
      signFeedPage(
        { serviceKey: service.publicKey, since, head: 5, issuedAt: T0, nextUpdate: T0 + 60, entries: [], more: false, feedId: B },
        bad.secretKey,
      )
    expect(await errorCode(view.resync())).toBe('ERR_REVOCATION_LIST_INVALID')
    expect([view.seq, view.feedId]).toEqual([1, A])
    expect(await errorCode(view.sync())).toBe('ERR_REVOCATION_FEED_RESET')
    answer = good
    await view.resync()
    expect([view.seq, view.feedId, view.lastError]).toEqual([5, B, undefined])
    expect(view.entries(entry(1).blockId)).toBeUndefined()
    expect(view.entries(entry(5).blockId)?.length).toBe(1)
  })

  it('a state file saved before feed ids loads; the next sync pins the id', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mandate-state-'))
    const path = join(dir, 'state.json')
    const { writeFileSync } = await import('node:fs')
    writeFileSync(path, JSON.stringify({ seq: 1, issuedAt: T0, entries: [entry(1)] }))
    const view = scripted(
      (since) => page({ since, head: 1, issuedAt: T0 + 2, feedId: A }),
      () => T0 + 3,
      path,
    )
    expect([view.seq, view.feedId]).toEqual([1, undefined])
    await view.sync()
    expect(view.feedId).toBe(A)
    expect(JSON.parse(readFileSync(path, 'utf8'))).toMatchObject({ seq: 1, feedId: A })
  })

  it('pages carry the feed id; one without it (or malformed) is rejected', () => {
    const signed = page({ since: 0, head: 0, issuedAt: T0, feedId: A })
    expect(verifyFeedPage(signed, service.publicKey).feedId).toBe(A)
    expect(() => page({ since: 0, head: 0, issuedAt: T0, feedId: 'abc' })).toThrow(/feed id/)
  })
})

const pgAvailable = postgresBin() !== undefined
describe.skipIf(!pgAvailable)('deleted database (PostgreSQL)', () => {
  const url = useCluster()
  const admin = useAdmin(url)

  it('a dropped and recreated database gets a new feed id: FEED_RESET, then resync() works', async () => {
    await admin().query('CREATE DATABASE rollback_test')
    const db = url().replace(/\/postgres$/, '/rollback_test')
    const dir = mkdtempSync(join(tmpdir(), 'mandate-rollback-pg-'))
    let { service } = await serveIn(dir, db)
    const view = viewOf(() => service.url, service.serviceKey)
    await revoke(service, child('a'))
    await revoke(service, child('b'))
    await view.sync()
    const pinned = view.feedId
    await service.close()
    await admin().query('DROP DATABASE rollback_test WITH (FORCE)')
    await admin().query('CREATE DATABASE rollback_test')
    ;({ service } = await serveIn(dir, db))
    expect(await service.store.feedId()).not.toBe(pinned)
    expect(await errorCode(view.sync())).toBe('ERR_REVOCATION_FEED_RESET')
    await revoke(service, child('c'))
    await view.resync()
    expect([view.seq, view.feedId]).toEqual([1, await service.store.feedId()])
    // rotateFeedId: a new id, and the same one in the next snapshot.
    const rotated = await service.store.rotateFeedId()
    expect(rotated).not.toBe(view.feedId)
    expect((await service.store.revocationsSince(0, 10)).feedId).toBe(rotated)
    await service.close()
  }, 60_000)
})
