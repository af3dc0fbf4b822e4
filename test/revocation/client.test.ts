/**
 * The feed-backed revocation view: it applies only pages that verify under
 * the pinned key, never goes backwards, rejects frozen feeds, persists before use, and lets
 * the verifier fail closed once it is stale.
 */
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { createFeedRevocationView, createVerifier, type FeedEntry, type FeedPage, signFeedPage, toDidKey } from '../../src/index.js'
import { fileFeedState } from '../../src/node.js'
import { aliceDid, bearerChild } from '../helpers/chains.js'
import { fixedDid, fixedKey, keyFor, T0 } from '../helpers/fixtures.js'

const service = fixedKey('service')
const entry = (seq: number, blockId: string, kind: FeedEntry['kind'] = 'revoke'): FeedEntry => ({
  seq,
  blockId,
  kind,
  at: T0,
  by: Buffer.from(keyFor('alice').publicKey).toString('hex'),
  expires: T0 + 86400,
})

/** A fake service answering with the pages we script. */
function fakeFeed(pages: (since: number) => unknown) {
  const calls: string[] = []
  const fetcher = (async (url: string | URL) => {
    calls.push(String(url))
    const since = Number(new URL(String(url)).searchParams.get('since'))
    return new Response(JSON.stringify(pages(since)), { status: 200, headers: { 'content-type': 'application/json' } })
  }) as typeof fetch
  return { fetcher, calls }
}

/** A view on a fake service, at a fixed clock. */
const viewOn = (fetcher: typeof fetch, now: () => number, extra: Partial<Parameters<typeof createFeedRevocationView>[0]> = {}) =>
  createFeedRevocationView({ url: 'http://svc', serviceKey: toDidKey(service.publicKey), fetch: fetcher, clock: now, ...extra })

const FEED_ID = '0123456789abcdef0123456789abcdef'
const signed = (page: Partial<FeedPage> & Pick<FeedPage, 'since' | 'head' | 'issuedAt'>, key = service) =>
  signFeedPage(
    { serviceKey: service.publicKey, feedId: FEED_ID, nextUpdate: page.issuedAt + 60, entries: [], more: false, ...page },
    key.secretKey,
  )

describe('feed revocation view', () => {
  const m = () => bearerChild([])
  const target = () => m().blocks[1]?.idHex as string

  it('applies a verified page; the verifier denies the revoked block', async () => {
    const { fetcher } = fakeFeed((since) => signed({ since, head: 1, issuedAt: T0, entries: since === 0 ? [entry(1, target())] : [] }))
    const view = viewOn(fetcher, () => T0 + 1)
    await view.sync()
    expect(view.seq).toBe(1)
    const verifier = createVerifier({ roots: [aliceDid], audience: 'svc', clock: () => T0 + 10, revocations: view })
    const d = await verifier.authorize({ mandate: m(), request: { action: 'x' } })
    expect(d.allowed ? 'allowed' : d.code).toBe('ERR_REVOKED')
  })

  it('a badly signed page is rejected and the newer state kept', async () => {
    let bad = false
    const { fetcher } = fakeFeed((since) =>
      bad
        ? signed({ since, head: 5, issuedAt: T0 + 5, entries: [] }, keyFor('mallory'))
        : signed({ since, head: 1, issuedAt: T0, entries: [entry(1, target())] }),
    )
    const view = viewOn(fetcher, () => T0 + 1)
    await view.sync()
    bad = true
    await expect(view.sync()).rejects.toMatchObject({ code: 'ERR_REVOCATION_LIST_INVALID' })
    expect(view.seq).toBe(1)
    expect(view.entries(target())?.[0]?.kind).toBe('revoke')
  })

  it('a rolled-back page (lower head, older issue time) is rejected', async () => {
    let rollback = false
    const { fetcher } = fakeFeed((since) =>
      rollback
        ? signed({ since, head: 0, issuedAt: T0 - 100 })
        : signed({ since, head: 3, issuedAt: T0, entries: since === 0 ? [entry(3, target())] : [] }),
    )
    const view = viewOn(fetcher, () => T0 + 1)
    await view.sync()
    rollback = true
    await expect(view.sync()).rejects.toMatchObject({ code: 'ERR_REVOCATION_LIST_INVALID' })
    expect(view.seq).toBe(3)
    expect(view.freshAt()).toBe(T0)
  })

  it('a frozen page (past its next_update) is rejected', async () => {
    const { fetcher } = fakeFeed((since) => signed({ since, head: 0, issuedAt: T0 - 120 }))
    const view = viewOn(fetcher, () => T0)
    await expect(view.sync()).rejects.toMatchObject({ code: 'ERR_REVOCATION_LIST_INVALID' })
  })

  it('a view older than the bound makes the verifier deny everything; fail-open only by choice, with a warning', async () => {
    let now = T0
    const { fetcher } = fakeFeed((since) => signed({ since, head: 0, issuedAt: T0 }))
    const view = viewOn(fetcher, () => now)
    await view.sync()
    const verifier = createVerifier({ roots: [aliceDid], audience: 'svc', clock: () => now, revocations: view, revocationMaxAge: 30 })
    expect((await verifier.authorize({ mandate: m(), request: { action: 'x' } })).allowed).toBe(true)
    now = T0 + 31
    const d = await verifier.authorize({ mandate: m(), request: { action: 'x' } })
    expect(d.allowed ? 'allowed' : d.code).toBe('ERR_REVOCATION_STALE')
    const warnings: string[] = []
    const open = viewOn(fetcher, () => now, { failOpen: true, onWarning: (w) => warnings.push(w) })
    now = T0 + 3600
    const lenient = createVerifier({ roots: [aliceDid], audience: 'svc', clock: () => now - 3590, revocations: open })
    expect((await lenient.authorize({ mandate: m(), request: { action: 'x' } })).allowed).toBe(true)
    expect(warnings.join()).toContain('failing OPEN')
  })

  it('persists its state before use and never restarts below it', async () => {
    const path = join(mkdtempSync(join(tmpdir(), 'mandate-feed-')), 'state.json')
    const { fetcher } = fakeFeed((since) => signed({ since, head: 2, issuedAt: T0, entries: since === 0 ? [entry(2, target())] : [] }))
    const first = viewOn(fetcher, () => T0 + 1, { state: fileFeedState(path) })
    await first.sync()
    const restarted = viewOn(fetcher, () => T0 + 1, { state: fileFeedState(path) })
    expect(restarted.seq).toBe(2)
    expect(restarted.entries(target())?.length).toBe(1)
    const { fetcher: rollbackFetch } = fakeFeed((since) => signed({ since, head: 0, issuedAt: T0 - 10 }))
    const fooled = viewOn(rollbackFetch, () => T0 + 1, { state: fileFeedState(path) })
    await expect(fooled.sync()).rejects.toMatchObject({ code: 'ERR_REVOCATION_LIST_INVALID' })
    expect(fooled.seq).toBe(2)
  })

  it('suspend then resume through the feed', async () => {
    let entries: FeedEntry[] = [entry(1, target(), 'suspend')]
    let head = 1
    const { fetcher } = fakeFeed((since) => signed({ since, head, issuedAt: T0, entries: entries.filter((e) => e.seq > since) }))
    const view = viewOn(fetcher, () => T0 + 1)
    await view.sync()
    expect(view.entries(target())?.map((e) => e.kind)).toEqual(['suspend'])
    entries = [...entries, entry(2, target(), 'resume')]
    head = 2
    await view.sync()
    expect(view.entries(target())).toEqual([])
  })
})

describe('a feed signed by another key than the pinned one', () => {
  const m = () => bearerChild([])
  const mallory = fixedKey('mallory')
  /** A good page of another service: it names its own key and is signed by it. */
  const foreign = (since: number) =>
    signFeedPage(
      { serviceKey: mallory.publicKey, feedId: FEED_ID, since, head: 0, issuedAt: T0, nextUpdate: T0 + 60, entries: [], more: false },
      mallory.secretKey,
    )
  const pinnedMessage = `the revocation feed at http://svc/v1/revocations is signed by ${fixedDid('mallory')}, not by the pinned service key ${fixedDid('service')}`

  it('says so, with the invalid-feed code, and the verifier denies with that reason (not "stale")', async () => {
    const { fetcher } = fakeFeed(foreign)
    const view = viewOn(fetcher, () => T0 + 1)
    await expect(view.sync()).rejects.toMatchObject({ code: 'ERR_REVOCATION_LIST_INVALID', message: pinnedMessage })
    expect(view.lastError).toMatchObject({ message: pinnedMessage, hint: expect.stringContaining('--service-key') })
    const verifier = createVerifier({ roots: [aliceDid], audience: 'svc', clock: () => T0 + 10, revocations: view })
    const d = await verifier.authorize({ mandate: m(), request: { action: 'x' } })
    expect(d.allowed ? 'allowed' : [d.code, d.message]).toEqual(['ERR_REVOCATION_LIST_INVALID', pinnedMessage])
  })

  it('a view that held good pages keeps them (the usual staleness bound applies); the next good page clears it', async () => {
    let wrong = false
    const { fetcher } = fakeFeed((since) => (wrong ? foreign(since) : signed({ since, head: 0, issuedAt: T0 })))
    const view = viewOn(fetcher, () => T0 + 1)
    await view.sync()
    wrong = true
    await expect(view.sync()).rejects.toMatchObject({ message: pinnedMessage })
    expect(view.freshAt()).toBe(T0)
    wrong = false
    await view.sync()
    expect(view.lastError).toBeUndefined()
  })

  it('a forgery is only "rejected": a page naming the pinned key with a bad signature, or naming another key it is not signed by', async () => {
    const forgedPinned = fakeFeed((since) => signed({ since, head: 0, issuedAt: T0 }, mallory))
    const forgedOther = fakeFeed((since) => {
      const page = foreign(since)
      return { ...page, signature: signed({ since, head: 0, issuedAt: T0 }).signature }
    })
    for (const { fetcher } of [forgedPinned, forgedOther]) {
      const view = viewOn(fetcher, () => T0 + 1)
      const error = await view.sync().then(
        () => undefined,
        (e: Error & { code?: string }) => e,
      )
      expect(error?.code).toBe('ERR_REVOCATION_LIST_INVALID')
      expect(error?.message).toMatch(/^revocation feed page rejected/)
      expect(error?.message).not.toContain('signed by did:key')
    }
  })

  it('a stale denial says why the last sync failed instead of guessing', async () => {
    let fresh = true
    const timedOut = (() => {
      throw new DOMException('The operation was aborted due to timeout', 'TimeoutError')
    }) as unknown as typeof fetch
    const { fetcher: good } = fakeFeed((since) => signed({ since, head: 0, issuedAt: T0 }))
    const view = viewOn(
      ((url: Parameters<typeof fetch>[0], init?: RequestInit) => (fresh ? good(url, init) : timedOut(url, init))) as typeof fetch,
      () => T0 + 1,
    )
    await view.sync()
    fresh = false
    await expect(view.sync()).rejects.toMatchObject({ code: 'ERR_REVOCATION_STALE' })
    const verifier = createVerifier({ roots: [aliceDid], audience: 'svc', clock: () => T0 + 3600, revocations: view })
    const d = await verifier.authorize({ mandate: m(), request: { action: 'x' } })
    expect(d.allowed ? 'allowed' : d.code).toBe('ERR_REVOCATION_STALE')
    expect(d.allowed ? '' : d.hint).toMatch(
      /^the last sync failed: the revocation feed at http:\/\/svc\/\S+ (did not answer|cannot be reached)/,
    )
  })
})

describe('amendments in the feed view', () => {
  it('a lift takes away the one amendment it names, on its own block only', () => {
    const [X, Y, A, B] = ['0a'.repeat(32), '0b'.repeat(32), 'aa'.repeat(32), 'bb'.repeat(32)]
    const amend = (seq: number, blockId: string, id: string): FeedEntry => ({
      ...entry(seq, blockId, 'amend'),
      id,
      caveats: [{ type: 'actions', patterns: ['mail:read'] }],
    })
    const entries = [amend(1, X, A), amend(2, X, B), amend(3, Y, A), entry(4, X, 'suspend'), { ...entry(5, X, 'lift'), lifts: A }]
    const { fetcher, calls } = fakeFeed(() => ({}))
    const view = viewOn(fetcher, () => T0, { state: { load: () => ({ seq: 5, issuedAt: T0, entries }), save: () => {} } })
    const standing = (blockId: string) => view.entries(blockId)?.map((e) => (e.kind === 'amend' ? `amend ${e.id.slice(0, 2)}` : e.kind))
    expect(standing(X)).toEqual(['amend bb', 'suspend'])
    expect(standing(Y)).toEqual(['amend aa'])
    expect(calls).toEqual([])
  })
})
