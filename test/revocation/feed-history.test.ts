/**
 * A rewritten feed history (#7): the service's whole data directory (database AND its feed mark)
 * restored from a backup, then the head pushed back past a verifier's mark before it syncs, so
 * that sequence numbers it already passed are reissued with other entries. Pages carry the
 * statement ids at `since` and at `head` (fields 9 and 10); a view remembers the one at its
 * mark and fails closed (ERR_REVOCATION_ROLLBACK) when a page names another one there.
 */
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { base64urlnopad } from '@scure/base'
import { describe, expect, it } from 'vitest'
import { type CborMap, type CborValue, decodeCbor, encodeCbor } from '../../src/cbor/codec.js'
import {
  createFeedRevocationView,
  createRevocation,
  createVerifier,
  type FeedEntry,
  type FeedPage,
  type FeedState,
  type FeedStateStore,
  parsePublicKey,
  signFeedPage,
  toDidKey,
  type UnverifiedMandate,
  type UnverifiedRevocation,
  verifyFeedPage,
} from '../../src/index.js'
import { fileFeedState } from '../../src/node.js'
import type { Store } from '../../src/service/store.js'
import { alice, blockOf, child, now, revokeStatement, serveIn } from '../helpers/feed-service.js'
import { fixedKey, keyFor, T0 } from '../helpers/fixtures.js'
import { postgresBin, useAdmin, useCluster } from '../helpers/postgres.js'

/** Add `n` entries straight to the store (faster than HTTP, and not capped). */
async function addDirect(store: Store, n: number, prefix: string): Promise<string[]> {
  const at = now()
  const ids: string[] = []
  for (let i = 0; i < n; i++) {
    const s = createRevocation({ mandate: child(`${prefix}-${i}`), key: alice })
    await store.addRevocation({
      statementId: s.id,
      blockId: s.target.idHex,
      kind: 'revoke',
      at,
      by: Buffer.from(alice.publicKey).toString('hex'),
      expires: at + 3600,
      statement: s.bytes,
    })
    ids.push(s.id)
  }
  return ids
}

/** The service lives on `url`, which moves between restarts: the view follows it. */
function viewOf(
  url: () => string,
  serviceKey: string,
  state?: FeedStateStore,
  extra: { push?: boolean; pollMs?: number; fetch?: typeof fetch } = {},
) {
  const base = extra.fetch ?? fetch
  return createFeedRevocationView({
    url: 'http://feed',
    serviceKey,
    push: extra.push ?? false,
    ...(extra.pollMs === undefined ? {} : { pollMs: extra.pollMs }),
    fetch: ((input: string | URL, init?: RequestInit) => base(String(input).replace('http://feed', url()), init)) as typeof fetch,
    ...(state ? { state } : {}),
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

const readState = (path: string) => JSON.parse(readFileSync(path, 'utf8')) as FeedState

/** Where the service keeps its data, and how the whole of it is backed up and restored. */
interface Backend {
  /** The `db` option: a SQLite file or a PostgreSQL URL. */
  readonly db: string
  /** The service's directory (key file and feed mark). */
  readonly dir: string
  /** Copy the database and the feed mark aside (the service is stopped). */
  backup(): Promise<void>
  /** Put both back (the service is stopped). */
  restore(): Promise<void>
}

function sqliteBackend(): Backend {
  const dir = mkdtempSync(join(tmpdir(), 'mandate-history-'))
  const saved = mkdtempSync(join(tmpdir(), 'mandate-history-saved-'))
  const db = join(dir, 'mandate.db')
  return {
    db,
    dir,
    async backup() {
      copyDb(db, join(saved, 'mandate.db'))
      copyFileSync(join(dir, 'service.pem.feed'), join(saved, 'service.pem.feed'))
    },
    async restore() {
      copyDb(join(saved, 'mandate.db'), db)
      copyFileSync(join(saved, 'service.pem.feed'), join(dir, 'service.pem.feed'))
    },
  }
}

/**
 * The attack: the verifier holds a mark above the backup's head; after the whole directory is
 * restored, a revocation lands at a sequence number the verifier already passed, and cheap
 * statements push the head to (or past) its mark before it syncs again.
 */
async function restoredAndPushedPast(backend: Backend, pastMark: number) {
  const statePath = join(backend.dir, `view-${pastMark}.json`)
  let { service } = await serveIn(backend.dir, backend.db)
  const serviceKey = service.serviceKey
  const view = viewOf(() => service.url, serviceKey, fileFeedState(statePath))
  for (const n of ['a', 'b']) await revokeStatement(service, child(`${n}-${pastMark}`))
  await view.sync()
  expect(view.seq).toBe(2)
  await service.close()
  await backend.backup()

  ;({ service } = await serveIn(backend.dir, backend.db))
  let last: UnverifiedRevocation | undefined
  for (const n of ['c', 'd', 'e']) last = (await revokeStatement(service, child(`${n}-${pastMark}`))).statement
  await view.sync()
  expect(view.seq).toBe(5)
  // The view remembers which statement holds its mark, persisted with its state.
  expect(readState(statePath).markEntry).toBe(last?.id)
  const pinned = view.feedId
  const freshBefore = view.freshAt()
  await service.close()

  await backend.restore()
  const restarted = await serveIn(backend.dir, backend.db)
  service = restarted.service
  // The service's mark came back with the database: it cannot tell.
  expect(restarted.log.warnings().join('\n')).not.toContain('rotated')
  expect(await service.store.feedId()).toBe(pinned)
  const victim = child(`victim-${pastMark}`)
  expect((await revokeStatement(service, victim)).seq).toBe(3)
  for (let i = 0; i < 2 + pastMark; i++) await revokeStatement(service, child(`junk-${pastMark}-${i}`))
  expect(await service.store.head()).toBe(5 + pastMark)

  // The head is not below the mark, but the entry at the mark is another one: fail closed.
  const page = verifyFeedPage(await (await fetch(`${service.url}/v1/revocations?since=5`)).json(), parsePublicKey(serviceKey))
  expect(page.sinceEntry).toMatch(/^[0-9a-f]{64}$/)
  expect(page.sinceEntry).not.toBe(last?.id)
  const failure = await view.sync().then(
    () => undefined,
    (e: Error & { code?: string }) => e,
  )
  expect(failure?.code).toBe('ERR_REVOCATION_ROLLBACK')
  expect(failure?.message).toMatch(/history at seq 5 was rewritten/)
  expect([view.seq, view.feedId]).toEqual([5, pinned])
  expect(() => view.freshAt()).toThrow(/history at seq 5 was rewritten/)
  expect(view.entries(blockOf(victim))).toBeUndefined()
  // Fail closed means: at once, every request is denied, with the reason.
  const verifier = createVerifier({
    roots: [toDidKey(alice.publicKey)],
    audience: 'svc',
    clock: () => freshBefore,
    revocations: view,
    revocationMaxAge: 30,
  })
  const denied = await verifier.authorize({ mandate: victim, request: { action: 'x' } })
  expect(denied.allowed ? 'allowed' : denied.code).toBe('ERR_REVOCATION_ROLLBACK')
  // Sticky: again, and in a restarted verifier (the failure is persisted).
  expect(await errorCode(view.sync())).toBe('ERR_REVOCATION_ROLLBACK')
  const restartedView = viewOf(() => service.url, serviceKey, fileFeedState(statePath))
  expect(restartedView.lastError).toMatchObject({ code: 'ERR_REVOCATION_ROLLBACK' })
  expect(await errorCode(restartedView.sync())).toBe('ERR_REVOCATION_ROLLBACK')

  // resync() is the way out, and sees the revocation at the reused seq.
  await view.resync()
  expect([view.seq, view.lastError]).toEqual([5 + pastMark, undefined])
  expect(view.entries(blockOf(victim))?.[0]?.kind).toBe('revoke')
  const allowed = createVerifier({ roots: [toDidKey(alice.publicKey)], audience: 'svc', revocations: view })
  const decision = await allowed.authorize({ mandate: victim, request: { action: 'x' } })
  expect(decision.allowed ? 'allowed' : decision.code).toBe('ERR_REVOKED')
  // And then syncs on from the new history.
  await revokeStatement(service, child(`after-${pastMark}`))
  await view.sync()
  expect([view.seq, view.lastError]).toEqual([6 + pastMark, undefined])
  const reloaded = viewOf(() => service.url, serviceKey, fileFeedState(statePath))
  expect([reloaded.seq, reloaded.lastError]).toEqual([6 + pastMark, undefined])
  await service.close()
}

describe('rewritten history (SQLite, service in-process)', () => {
  it('whole directory restored, head pushed to or past the mark, a revoke reissued at an old seq: ROLLBACK (sticky), resync() sees it', async () => {
    for (const pastMark of [0, 1]) await restoredAndPushedPast(sqliteBackend(), pastMark)
  }, 60_000)

  it('ordinary syncs never trip it: interleaved writes, polling, multi-page walks, restarts of the service and of the view', async () => {
    const backend = sqliteBackend()
    const statePath = join(backend.dir, 'view.json')
    let { service } = await serveIn(backend.dir, backend.db)
    const serviceKey = service.serviceKey
    let view = viewOf(() => service.url, serviceKey, fileFeedState(statePath))
    await view.sync() // an empty feed: no entry to remember
    expect(readState(statePath).markEntry).toBeUndefined()
    const revoked: UnverifiedMandate[] = []
    for (let round = 0; round < 12; round++) {
      for (let i = 0; i < round % 3; i++) {
        const m = child(`round-${round}-${i}`)
        await revokeStatement(service, m)
        revoked.push(m)
      }
      await view.sync()
      await view.sync() // nothing new: the same mark, checked against itself
      if (round % 4 === 3) {
        await service.close()
        ;({ service } = await serveIn(backend.dir, backend.db))
      }
      if (round % 5 === 4) view = viewOf(() => service.url, serviceKey, fileFeedState(statePath))
      expect(view.lastError).toBeUndefined()
    }
    const head = await service.store.head()
    expect(view.seq).toBe(head)
    for (const m of revoked) expect(view.entries(blockOf(m))?.[0]?.kind).toBe('revoke')
    // More than one page (500 entries each): the view remembers the final page's head entry.
    const ids = await addDirect(service.store, 620, 'bulk')
    await view.sync()
    expect([view.seq, view.lastError]).toEqual([head + 620, undefined])
    expect(readState(statePath).markEntry).toBe(ids[ids.length - 1])
    await revokeStatement(service, child('after-bulk'))
    await view.sync()
    expect(view.lastError).toBeUndefined()
    // A resync from scratch ends on the same mark and entry.
    const before = readState(statePath).markEntry
    await view.resync()
    expect(readState(statePath).markEntry).toBe(before)
    await view.sync()
    await service.close()
  }, 60_000)

  it('push: pages from the stream are checked too, and ordinary traffic never trips it', async () => {
    const backend = sqliteBackend()
    const { service } = await serveIn(backend.dir, backend.db)
    let saved: FeedState | undefined
    const state: FeedStateStore = {
      load: () => saved,
      save: (s) => {
        saved = s
      },
    }
    const view = viewOf(() => service.url, service.serviceKey, state, { push: true, pollMs: 50 })
    await view.sync()
    view.start()
    let last: UnverifiedRevocation | undefined
    for (let i = 0; i < 6; i++) {
      last = (await revokeStatement(service, child(`push-${i}`))).statement
      await new Promise((r) => setTimeout(r, 30))
    }
    const until = Date.now() + 5000
    while (view.seq < 6 && Date.now() < until) await new Promise((r) => setTimeout(r, 50))
    await new Promise((r) => setTimeout(r, 300))
    expect([view.seq, view.lastError, saved?.markEntry]).toEqual([6, undefined, last?.id])
    await view.stop()
    await service.close()
  }, 30_000)

  it('a compacted entry at the mark is accepted (the residual case), and the digest is kept while the mark does not move', async () => {
    const backend = sqliteBackend()
    const { service } = await serveIn(backend.dir, backend.db)
    let saved: FeedState | undefined
    const state: FeedStateStore = {
      load: () => saved,
      save: (s) => {
        saved = s
      },
    }
    const view = viewOf(() => service.url, service.serviceKey, state)
    await revokeStatement(service, child('long'))
    // The newest entry's chain expires soon: compaction may drop it while it is the view's mark.
    const { statement: short } = await revokeStatement(service, child('short', now() + 120))
    await view.sync()
    expect([view.seq, saved?.markEntry]).toEqual([2, short.id])
    expect(await service.store.compact(now() + 1000)).toBe(1)
    // A page from the mark now names no entry there: accepted, and the digest held is kept.
    const page = verifyFeedPage(await (await fetch(`${service.url}/v1/revocations?since=2`)).json(), parsePublicKey(service.serviceKey))
    expect([page.head, page.sinceEntry, page.headEntry]).toEqual([2, undefined, undefined])
    await view.sync()
    expect([view.seq, view.lastError, saved?.markEntry]).toEqual([2, undefined, short.id])
    // New entries: the page from the mark still names none there (compacted), and is accepted.
    const { statement: next } = await revokeStatement(service, child('next'))
    await view.sync()
    expect([view.seq, view.lastError, saved?.markEntry]).toEqual([3, undefined, next.id])
    await service.close()
  }, 30_000)

  it('a page whose since entry is forged fails its signature; the view rejects it without sticking', async () => {
    const backend = sqliteBackend()
    const { service } = await serveIn(backend.dir, backend.db)
    const key = parsePublicKey(service.serviceKey)
    for (const n of ['a', 'b']) await revokeStatement(service, child(n))
    const genuine = (await (await fetch(`${service.url}/v1/revocations?since=1`)).json()) as { page: string; signature: string }
    const decoded = verifyFeedPage(genuine, key)
    expect(decoded.sinceEntry).toMatch(/^[0-9a-f]{64}$/)
    expect(decoded.headEntry).toMatch(/^[0-9a-f]{64}$/)
    const forge = (change: (m: Map<number, CborValue>) => void) => {
      const m = new Map(decodeCbor(base64urlnopad.decode(genuine.page)) as CborMap)
      change(m)
      return { page: base64urlnopad.encode(encodeCbor(m)), signature: genuine.signature }
    }
    const forgedSince = forge((m) => m.set(9, new Uint8Array(32).fill(7)))
    const strippedSince = forge((m) => m.delete(9))
    for (const forged of [forgedSince, strippedSince]) {
      expect(() => verifyFeedPage(forged, key)).toThrow(expect.objectContaining({ code: 'ERR_REVOCATION_LIST_INVALID' }))
      expect(() => verifyFeedPage(forged, key)).toThrow(/signature/)
    }
    // A page cut short by `limit` still names the head entry.
    const first = verifyFeedPage(await (await fetch(`${service.url}/v1/revocations?since=0&limit=1`)).json(), key)
    expect([first.more, first.sinceEntry, first.headEntry]).toEqual([true, undefined, decoded.headEntry])
    // A view that walks to mark 1 (the first page is cut at one entry), then is served the
    // forged page from there: rejected, not sticky.
    let forging = false
    const limited = viewOf(() => service.url, service.serviceKey, undefined, {
      fetch: (async (input: string | URL, init?: RequestInit) => {
        if (String(input).includes('since=0')) return fetch(`${service.url}/v1/revocations?since=0&limit=1`, init)
        if (forging) return new Response(JSON.stringify(forgedSince), { status: 200 })
        return fetch(input, init)
      }) as typeof fetch,
    })
    forging = true
    expect(await errorCode(limited.sync())).toBe('ERR_REVOCATION_LIST_INVALID')
    expect(limited.seq).toBe(1)
    forging = false
    await limited.sync()
    expect([limited.seq, limited.lastError]).toEqual([2, undefined])
    await service.close()
  }, 30_000)
})

describe('feed view against scripted pages (entry digests)', () => {
  const service = fixedKey('service')
  const A = 'aa'.repeat(16)
  const id = (n: number) => n.toString(16).padStart(2, '0').repeat(32)
  const entry = (seq: number): FeedEntry => ({
    seq,
    blockId: seq.toString(16).padStart(64, '0'),
    kind: 'revoke',
    at: T0,
    by: Buffer.from(keyFor('alice').publicKey).toString('hex'),
    expires: T0 + 86400,
  })
  const page = (p: Partial<FeedPage> & Pick<FeedPage, 'since' | 'head'>) =>
    signFeedPage(
      { serviceKey: service.publicKey, issuedAt: T0, feedId: A, nextUpdate: T0 + 60, entries: [], more: false, ...p },
      service.secretKey,
    )
  const memory = () => {
    let saved: FeedState | undefined
    return {
      store: {
        load: () => saved,
        save: (s) => {
          saved = s
        },
      } as FeedStateStore,
      get: () => saved,
    }
  }
  const scripted = (script: (since: number) => unknown, state?: FeedStateStore) =>
    createFeedRevocationView({
      url: 'http://svc',
      serviceKey: toDidKey(service.publicKey),
      push: false,
      clock: () => T0 + 1,
      ...(state ? { state } : {}),
      fetch: (async (url: string) => {
        const answer = script(Number(new URL(url).searchParams.get('since')))
        return answer instanceof Error ? Promise.reject(answer) : new Response(JSON.stringify(answer), { status: 200 })
      }) as typeof fetch,
    })

  it('a multi-page walk remembers the final page head entry; a page from the mark naming another entry is a sticky ROLLBACK', async () => {
    const mem = memory()
    let answer = (since: number): unknown =>
      since === 0
        ? page({ since, head: 3, entries: [entry(1), entry(2)], more: true, headEntry: id(3) })
        : page({ since, head: 3, entries: [entry(3)], sinceEntry: id(2), headEntry: id(3) })
    const view = scripted((s) => answer(s), mem.store)
    await view.sync()
    expect([view.seq, mem.get()?.markEntry]).toEqual([3, id(3)])
    // The same entry at the mark, with more after it: fine, the mark entry moves on.
    answer = (since) => page({ since, head: 4, entries: [entry(4)], sinceEntry: id(3), headEntry: id(4) })
    await view.sync()
    expect([view.seq, mem.get()?.markEntry]).toEqual([4, id(4)])
    // Another entry at the mark: the history was rewritten.
    answer = (since) => page({ since, head: 6, entries: [entry(5), entry(6)], sinceEntry: id(9), headEntry: id(6) })
    expect(await errorCode(view.sync())).toBe('ERR_REVOCATION_ROLLBACK')
    expect([view.seq, mem.get()?.markEntry, mem.get()?.failed?.code]).toEqual([4, id(4), 'ERR_REVOCATION_ROLLBACK'])
    // Sticky, even for a page that would now agree.
    answer = (since) => page({ since, head: 4, sinceEntry: id(4), headEntry: id(4) })
    expect(await errorCode(view.sync())).toBe('ERR_REVOCATION_ROLLBACK')
    // resync() walks from 0 and remembers the new head entry.
    answer = (since) => page({ since, head: 6, entries: since === 0 ? [entry(5), entry(6)] : [], headEntry: id(6) })
    await view.resync()
    expect([view.seq, view.lastError, mem.get()?.markEntry, mem.get()?.failed]).toEqual([6, undefined, id(6), undefined])
  })

  it('a replayed older page naming another entry is rejected but does not stick', async () => {
    const mem = memory()
    let answer = (since: number): unknown => page({ since, head: 2, entries: since === 0 ? [entry(1), entry(2)] : [], headEntry: id(2) })
    const view = scripted((s) => answer(s), mem.store)
    await view.sync()
    answer = (since) => page({ since, head: 3, issuedAt: T0 - 10, entries: [entry(3)], sinceEntry: id(8), headEntry: id(3) })
    expect(await errorCode(view.sync())).toBe('ERR_REVOCATION_LIST_INVALID')
    answer = (since) => page({ since, head: 3, entries: [entry(3)], sinceEntry: id(2), headEntry: id(3) })
    await view.sync()
    expect([view.seq, view.lastError]).toEqual([3, undefined])
  })

  it('no digest is remembered mid-walk; nothing is checked without one (state saved before digests existed, or a compacted row)', async () => {
    const mem = memory()
    let answer = (since: number): unknown =>
      since === 0 ? page({ since, head: 3, entries: [entry(1), entry(2)], more: true, headEntry: id(3) }) : new Error('network down')
    const view = scripted((s) => answer(s), mem.store)
    // The walk breaks off on the network failure, reported as an unreachable feed.
    expect(await errorCode(view.sync())).toBe('ERR_REVOCATION_STALE')
    expect([view.seq, mem.get()?.markEntry]).toEqual([2, undefined])
    answer = (since) => page({ since, head: 3, entries: [entry(3)], sinceEntry: id(7), headEntry: id(3) })
    await view.sync()
    expect([view.seq, mem.get()?.markEntry]).toEqual([3, id(3)])
    // A page without a since entry (its row compacted) is accepted; the digest held stays.
    answer = (since) => page({ since, head: 3 })
    await view.sync()
    expect([view.lastError, mem.get()?.markEntry]).toEqual([undefined, id(3)])
    answer = (since) => page({ since, head: 5, entries: [entry(5)] })
    await view.sync()
    expect([view.seq, mem.get()?.markEntry]).toEqual([5, undefined])
  })

  it('state files: one saved before digests loads and remembers one at the next sync; a malformed one is refused', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mandate-history-state-'))
    const path = join(dir, 'state.json')
    writeFileSync(path, JSON.stringify({ seq: 1, issuedAt: T0, entries: [entry(1)], feedId: A }))
    const view = scripted(
      (since) => page({ since, head: 2, entries: [entry(2)], sinceEntry: id(1), headEntry: id(2) }),
      fileFeedState(path),
    )
    expect(view.seq).toBe(1)
    await view.sync()
    expect(readState(path)).toMatchObject({ seq: 2, feedId: A, markEntry: id(2) })
    writeFileSync(path, JSON.stringify({ seq: 1, issuedAt: T0, entries: [], markEntry: 'abc' }))
    expect(() => fileFeedState(path).load()).toThrow(expect.objectContaining({ code: 'ERR_REVOCATION_LIST_INVALID' }))
  })

  it('page format: digests round-trip; impossible ones are refused', () => {
    const p = verifyFeedPage(page({ since: 1, head: 2, entries: [entry(2)], sinceEntry: id(1), headEntry: id(2) }), service.publicKey)
    expect([p.sinceEntry, p.headEntry]).toEqual([id(1), id(2)])
    const bare = verifyFeedPage(page({ since: 1, head: 2, entries: [entry(2)] }), service.publicKey)
    expect('sinceEntry' in bare || 'headEntry' in bare).toBe(false)
    const refused = (q: Parameters<typeof page>[0]) => () => verifyFeedPage(page(q), service.publicKey)
    expect(refused({ since: 0, head: 2, sinceEntry: id(1) })).toThrow(/cannot hold an entry/)
    expect(refused({ since: 3, head: 2, sinceEntry: id(1) })).toThrow(/cannot hold an entry/)
    expect(refused({ since: 0, head: 0, headEntry: id(1) })).toThrow(/cannot hold an entry/)
    expect(refused({ since: 2, head: 2, sinceEntry: id(1), headEntry: id(2) })).toThrow(/differ/)
    expect(() => page({ since: 1, head: 1, sinceEntry: 'abc' })).toThrow(/64 hex digits/)
  })
})

const pgAvailable = postgresBin() !== undefined
describe.skipIf(!pgAvailable)('rewritten history (PostgreSQL)', () => {
  const url = useCluster()
  const admin = useAdmin(url)

  it('the store reads the statement ids at since and at the head in its snapshot; compaction removes them', async () => {
    await admin().query('CREATE DATABASE history_store')
    const dir = mkdtempSync(join(tmpdir(), 'mandate-history-pg-'))
    const { service } = await serveIn(dir, url().replace(/\/postgres$/, '/history_store'))
    const a = await revokeStatement(service, child('pg-a'))
    const b = await revokeStatement(service, child('pg-b', now() + 120))
    expect(await service.store.revocationsSince(0, 10)).toMatchObject({ head: 2, headEntry: b.statement.id })
    expect((await service.store.revocationsSince(0, 10)).sinceEntry).toBeUndefined()
    expect(await service.store.revocationsSince(1, 10)).toMatchObject({ sinceEntry: a.statement.id, headEntry: b.statement.id })
    expect(await service.store.revocationsSince(2, 10)).toMatchObject({ sinceEntry: b.statement.id, headEntry: b.statement.id })
    expect((await service.store.revocationsSince(7, 10)).sinceEntry).toBeUndefined()
    // Signed into the page.
    const page = verifyFeedPage(await (await fetch(`${service.url}/v1/revocations?since=1`)).json(), parsePublicKey(service.serviceKey))
    expect([page.sinceEntry, page.headEntry]).toEqual([a.statement.id, b.statement.id])
    expect(await service.store.compact(now() + 1000)).toBe(1)
    const after = await service.store.revocationsSince(2, 10)
    expect([after.head, after.sinceEntry, after.headEntry]).toEqual([2, undefined, undefined])
    await service.close()
  }, 60_000)

  it('whole database and mark restored, head pushed past the mark: ROLLBACK, then resync() sees the revoke', async () => {
    await admin().query('CREATE DATABASE history_attack')
    const dir = mkdtempSync(join(tmpdir(), 'mandate-history-pg-'))
    const saved = mkdtempSync(join(tmpdir(), 'mandate-history-pg-saved-'))
    const backend: Backend = {
      db: url().replace(/\/postgres$/, '/history_attack'),
      dir,
      async backup() {
        await admin().query('DROP DATABASE IF EXISTS history_backup')
        await admin().query('CREATE DATABASE history_backup TEMPLATE history_attack')
        copyFileSync(join(dir, 'service.pem.feed'), join(saved, 'service.pem.feed'))
      },
      async restore() {
        await admin().query('DROP DATABASE history_attack WITH (FORCE)')
        await admin().query('CREATE DATABASE history_attack TEMPLATE history_backup')
        copyFileSync(join(saved, 'service.pem.feed'), join(dir, 'service.pem.feed'))
      },
    }
    await restoredAndPushedPast(backend, 1)
  }, 60_000)
})
