/**
 * The feed revocation view against a scripted service (an injected fetch, an injected clock):
 * the exact reason for every page it refuses, what it keeps and hands to its store, its
 * requests, the push channel and the background loop. No real network, no timing assertions:
 * where a wait matters, timers are faked and advanced by hand.
 */
import { afterEach, describe, expect, it, vi } from 'vitest'
import {
  createFeedRevocationView,
  type FeedEntry,
  type FeedPage,
  type FeedRevocationView,
  type FeedState,
  type FeedStateStore,
  type FeedViewOptions,
  signFeedPage,
} from '../../src/index.js'
import { FIXED_KEYS, fixedKey, T0 } from '../helpers/fixtures.js'

const A = 'aa'.repeat(16)
const B = 'bb'.repeat(16)
const SERVICE = FIXED_KEYS.service[2]
const FEED_URL = 'http://svc/v1/revocations'
const STREAM_URL = 'http://svc/v1/revocations/stream'
const STALE_HINT = 'the view keeps what it has; the verifier denies with ERR_REVOCATION_STALE once it is older than revocationMaxAge'
const STICKY = ' (the view stays stale until resync())'

const blockId = (n: number) => n.toString(16).padStart(64, '0')
const digest = (n: number) => n.toString(16).padStart(2, '0').repeat(32)
const entry = (seq: number, extra: Partial<FeedEntry> = {}): FeedEntry => ({
  seq,
  blockId: blockId(seq),
  kind: 'revoke',
  at: T0,
  by: FIXED_KEYS.alice[1],
  expires: T0 + 86400,
  ...extra,
})

/** A page signed by the service key: feed A, issued at T0, next_update a minute after issue. */
function page(p: Partial<FeedPage> & Pick<FeedPage, 'since' | 'head'>) {
  const service = fixedKey('service')
  const issuedAt = p.issuedAt ?? T0
  return signFeedPage(
    { serviceKey: service.publicKey, feedId: A, issuedAt, nextUpdate: issuedAt + 60, entries: [], more: false, ...p },
    service.secretKey,
  )
}

interface Sent {
  readonly url: string
  readonly headers: Headers
  readonly signal: AbortSignal | undefined
}

/** A fetch answering from `answer`, recording what was asked. */
function fakeFetch(answer: (url: URL, sent: Sent) => Response | Promise<Response>) {
  const sent: Sent[] = []
  const fetcher = (async (input: string | URL, init: RequestInit = {}) => {
    const s: Sent = { url: String(input), headers: new Headers(init.headers), signal: init.signal ?? undefined }
    sent.push(s)
    return answer(new URL(String(input)), s)
  }) as typeof fetch
  return {
    fetcher,
    sent,
    polls: () => sent.filter((s) => !s.url.includes('/stream')),
    streams: () => sent.filter((s) => s.url.includes('/stream')),
  }
}
const json = (body: unknown, init: ResponseInit = {}) => new Response(JSON.stringify(body), { status: 200, ...init })
const sinceOf = (url: URL) => Number(url.searchParams.get('since'))

/** A store in memory that starts from `initial` and keeps every state it is handed. */
function memory(initial?: FeedState) {
  const saved: FeedState[] = []
  const store: FeedStateStore = {
    load: () => initial,
    save: (s) => {
      saved.push(s)
    },
  }
  return { store, saved, last: () => saved[saved.length - 1] }
}

/** A view on the scripted service at T0 + 1, polling only unless told otherwise. */
const viewOn = (fetcher: typeof fetch, extra: Partial<FeedViewOptions> = {}): FeedRevocationView =>
  createFeedRevocationView({ url: 'http://svc', serviceKey: SERVICE, fetch: fetcher, clock: () => T0 + 1, push: false, ...extra })

/** The error `p` rejects with (undefined when it resolves). */
const failure = (p: Promise<unknown>) =>
  p.then(
    () => undefined,
    (e: Error & { code?: string; hint?: string }) => e,
  )

/** Let every pending promise and in-memory stream step run (no timer is involved). */
async function settle(rounds = 20): Promise<void> {
  for (let i = 0; i < rounds; i++) await new Promise((r) => setImmediate(r))
}

/** A fetch's answer that never comes, unless released; rejects with the signal's reason on abort when `honor`. */
function pending(sent: Sent, honor = true) {
  let release: (res: Response) => void = () => {}
  const promise = new Promise<Response>((resolve, reject) => {
    release = resolve
    if (honor) sent.signal?.addEventListener('abort', () => reject(sent.signal?.reason), { once: true })
  })
  return { promise, release: (res: Response) => release(res) }
}

/** A server-sent-event body the test writes to; it errors on abort when `honor` is given the signal. */
function eventStream(signal?: AbortSignal) {
  let controller: ReadableStreamDefaultController<Uint8Array> | undefined
  let cancelled = false
  const body = new ReadableStream<Uint8Array>({
    start(c) {
      controller = c
    },
    cancel() {
      cancelled = true
    },
  })
  signal?.addEventListener('abort', () => controller?.error(signal.reason), { once: true })
  const encoder = new TextEncoder()
  return {
    body,
    send: (text: string) => controller?.enqueue(encoder.encode(text)),
    sendBytes: (bytes: Uint8Array) => controller?.enqueue(bytes),
    close: () => controller?.close(),
    fail: (e: Error) => controller?.error(e),
    get cancelled() {
      return cancelled
    },
  }
}
const event = (body: unknown) => `event: page\ndata: ${JSON.stringify(body)}\n\n`
const sse = (body: ReadableStream<Uint8Array>) => new Response(body, { status: 200, headers: { 'content-type': 'text/event-stream' } })

/** Whether `view.stop()` has resolved once pending work has run (no timer advanced). */
async function stopsAtOnce(view: FeedRevocationView): Promise<boolean> {
  let stopped = false
  void view.stop().then(() => {
    stopped = true
  })
  await settle()
  return stopped
}

/**
 * The timers set from now on, to ask each whether it holds the process (`hasRef()`: not
 * unref'd). Node's own timers, passed through.
 */
function trackTimers(): { hasRef(): boolean }[] {
  const made: { hasRef(): boolean }[] = []
  const real = globalThis.setTimeout
  vi.spyOn(globalThis, 'setTimeout').mockImplementation(((...args: Parameters<typeof setTimeout>) => {
    const timer = real(...args)
    made.push(timer)
    return timer
  }) as unknown as typeof setTimeout)
  return made
}
/** Whether each timer holds the process, deduplicated: `[false]` says there were some and none does. */
const holding = (timers: readonly { hasRef(): boolean }[]) => [...new Set(timers.map((t) => t.hasRef()))]

afterEach(() => {
  vi.restoreAllMocks()
  vi.useRealTimers()
  vi.unstubAllGlobals()
})

describe('pages a view refuses, and why', () => {
  /** A view already at seq 3 of feed A, issued at T0, remembering the entry at its mark. */
  const held = (): FeedState => ({ seq: 3, issuedAt: T0, entries: [entry(3)], feedId: A, markEntry: digest(3) })

  it('a page that does not start at the mark: rejected, not sticky (even with its head below the mark)', async () => {
    const mem = memory(held())
    let answer = () => page({ since: 5, head: 1 })
    const view = viewOn(fakeFetch(() => json(answer())).fetcher, { state: mem.store })
    const error = await failure(view.sync())
    expect([error?.code, error?.message]).toEqual([
      'ERR_REVOCATION_LIST_INVALID',
      'revocation feed page rejected: the page starts at 5, not at 3',
    ])
    expect([view.seq, view.lastError, mem.saved]).toEqual([3, error, []])
    answer = () => page({ since: 3, head: 3 })
    await view.sync()
    expect([view.seq, view.lastError, view.freshAt()]).toEqual([3, undefined, T0])
  })

  it('a replayed page (issued before the one held) whose head is below the mark: a rollback attempt, rejected, not sticky', async () => {
    const mem = memory(held())
    const view = viewOn(fakeFetch(() => json(page({ since: 3, head: 1, issuedAt: T0 - 10 }))).fetcher, { state: mem.store })
    const error = await failure(view.sync())
    expect([error?.code, error?.message]).toEqual([
      'ERR_REVOCATION_LIST_INVALID',
      "revocation feed page rejected: rollback: the page's head 1 is below 3",
    ])
    expect([view.seq, view.freshAt(), mem.saved]).toEqual([3, T0, []])
  })

  it('a replayed page issued before the one held, head not below: rejected as such', async () => {
    const mem = memory(held())
    const view = viewOn(fakeFetch(() => json(page({ since: 3, head: 4, issuedAt: T0 - 1, entries: [entry(4)] }))).fetcher, {
      state: mem.store,
    })
    const error = await failure(view.sync())
    expect([error?.code, error?.message]).toEqual([
      'ERR_REVOCATION_LIST_INVALID',
      'revocation feed page rejected: rollback: the page was issued before the one already held',
    ])
    expect([view.seq, view.entries(blockId(4)), mem.saved]).toEqual([3, undefined, []])
  })

  it('a frozen page: rejected at its next_update, accepted a second before', async () => {
    let now = T0 + 60
    const view = viewOn(fakeFetch(() => json(page({ since: 0, head: 0 }))).fetcher, { clock: () => now })
    const error = await failure(view.sync())
    expect([error?.code, error?.message]).toEqual([
      'ERR_REVOCATION_LIST_INVALID',
      'revocation feed page rejected: the page is past its next_update (frozen feed)',
    ])
    expect(view.freshAt()).toBe(0)
    now = T0 + 59
    await view.sync()
    expect([view.freshAt(), view.feedId]).toEqual([T0, A])
  })

  it('a fresh page whose head is below the mark: ROLLBACK, persisted, then sticky with the reason until resync()', async () => {
    const mem = memory(held())
    let answer = (since: number) => page({ since, head: 2 })
    const view = viewOn(fakeFetch((url) => json(answer(sinceOf(url)))).fetcher, { state: mem.store })
    const message =
      "the revocation feed's head 2 is below this view's mark 3: the service's database went back (restored); a full resync is needed"
    const error = await failure(view.sync())
    expect([error?.code, error?.message]).toEqual(['ERR_REVOCATION_ROLLBACK', message])
    expect(mem.saved).toEqual([{ ...held(), failed: { code: 'ERR_REVOCATION_ROLLBACK', message } }])
    expect([view.seq, view.entries(blockId(3))?.length]).toEqual([3, 1])
    // Every further sync says the same, even against a page that would now agree.
    answer = (since) => page({ since, head: 3 })
    const again = await failure(view.sync())
    expect([again?.code, again?.message]).toEqual(['ERR_REVOCATION_ROLLBACK', `${message}${STICKY}`])
    expect(view.lastError).toBe(again)
    // The verifier is denied at once, with the reason and what to do.
    let denied: (Error & { code?: string; hint?: string }) | undefined
    try {
      view.freshAt()
    } catch (e) {
      denied = e as typeof denied
    }
    expect([denied?.code, denied?.message, denied?.hint]).toEqual([
      'ERR_REVOCATION_ROLLBACK',
      `${message}${STICKY}`,
      'the revocation service lost or replaced its history; an operator must call resync() on the feed view',
    ])
    // A restarted view loads the failure and reports it before any sync.
    const restarted = viewOn(fakeFetch(() => json(answer(3))).fetcher, { state: memory(mem.last()).store })
    expect([restarted.lastError?.message, (restarted.lastError as { code?: string }).code]).toEqual([message, 'ERR_REVOCATION_ROLLBACK'])
  })

  it('a page under another feed id: FEED_RESET with both ids, persisted, sticky', async () => {
    const mem = memory(held())
    const view = viewOn(fakeFetch((url) => json(page({ since: sinceOf(url), head: 9, feedId: B }))).fetcher, { state: mem.store })
    const message = `the revocation feed id changed from ${A} to ${B}: the service's database is new or was replaced; a full resync is needed`
    const error = await failure(view.sync())
    expect([error?.code, error?.message]).toEqual(['ERR_REVOCATION_FEED_RESET', message])
    expect(mem.saved).toEqual([{ ...held(), failed: { code: 'ERR_REVOCATION_FEED_RESET', message } }])
    const again = await failure(view.sync())
    expect([again?.code, again?.message]).toEqual(['ERR_REVOCATION_FEED_RESET', `${message}${STICKY}`])
    expect([view.seq, view.feedId]).toEqual([3, A])
  })
})

describe('resync()', () => {
  it('walks from 0 under one feed id: a walk whose feed id changes between pages is rejected and changes nothing', async () => {
    const mem = memory({ seq: 1, issuedAt: T0, entries: [entry(1)], feedId: A })
    const answer = (since: number) =>
      since === 0
        ? page({ since, head: 3, feedId: B, entries: [entry(1), entry(2)], more: true })
        : page({ since, head: 3, feedId: A, entries: [entry(3)] })
    const view = viewOn(fakeFetch((url) => json(answer(sinceOf(url)))).fetcher, { state: mem.store })
    const error = await failure(view.resync())
    expect([error?.code, error?.message]).toEqual([
      'ERR_REVOCATION_LIST_INVALID',
      'revocation feed page rejected: the feed id changed between pages',
    ])
    expect([view.seq, view.feedId, view.lastError, mem.saved]).toEqual([1, A, error, []])
  })

  it('a walk whose next page has its head below the walk so far is rejected', async () => {
    const view = viewOn(
      fakeFetch((url) =>
        json(sinceOf(url) === 0 ? page({ since: 0, head: 3, entries: [entry(1), entry(2)], more: true }) : page({ since: 2, head: 1 })),
      ).fetcher,
    )
    const error = await failure(view.resync())
    expect(error?.message).toBe("revocation feed page rejected: rollback: the page's head 1 is below 2")
    expect(view.seq).toBe(0)
  })

  it('a service that answers 304 to a full resync (it was sent no tag) is refused', async () => {
    const mem = memory({ seq: 1, issuedAt: T0, entries: [], feedId: A })
    const { fetcher, sent } = fakeFetch(() => new Response(null, { status: 304 }))
    const view = viewOn(fetcher, { state: mem.store })
    const error = await failure(view.resync())
    expect([error?.code, error?.message]).toEqual([
      'ERR_REVOCATION_LIST_INVALID',
      'revocation feed page rejected: the service answered 304 to a full resync',
    ])
    expect([view.seq, mem.saved, sent[0]?.headers.get('if-none-match')]).toEqual([1, [], null])
  })

  it('says what it did, persists the new state and clears the failure', async () => {
    const warnings: string[] = []
    const mem = memory({
      seq: 1,
      issuedAt: T0,
      entries: [entry(1)],
      feedId: A,
      failed: { code: 'ERR_REVOCATION_FEED_RESET', message: 'm' },
    })
    const view = viewOn(fakeFetch((url) => json(page({ since: sinceOf(url), head: 5, feedId: B, entries: [entry(5)] }))).fetcher, {
      state: mem.store,
      onWarning: (w) => warnings.push(w),
    })
    await view.resync()
    expect(warnings).toEqual([`revocation feed: resynced in full from feed ${B} at 5`])
    expect(mem.saved).toEqual([{ seq: 5, issuedAt: T0, entries: [entry(5)], feedId: B }])
    expect([view.seq, view.feedId, view.lastError, view.freshAt()]).toEqual([5, B, undefined, T0])
    expect([view.entries(blockId(1)), view.entries(blockId(5))?.length]).toEqual([undefined, 1])
  })

  it('a sync in flight when a resync completes does not touch the new state', async () => {
    const mem = memory({ seq: 1, issuedAt: T0, entries: [], feedId: A })
    let held: ReturnType<typeof pending> | undefined
    const { fetcher } = fakeFetch((url, sent) => {
      if (sinceOf(url) === 0) return json(page({ since: 0, head: 4, feedId: B, entries: [entry(4)] }))
      held = pending(sent, false)
      return held.promise
    })
    const view = viewOn(fetcher, { state: mem.store })
    const stale = view.sync()
    await settle()
    await view.resync()
    // The old request's answer, for the old feed, arrives after the resync.
    held?.release(json(page({ since: 1, head: 2, feedId: A, entries: [entry(2)] })))
    await stale
    expect([view.seq, view.feedId, view.lastError, view.freshAt()]).toEqual([4, B, undefined, T0])
    expect(mem.saved.map((s) => [s.seq, s.feedId, s.failed])).toEqual([[4, B, undefined]])
  })
})

describe('what a view keeps and reports', () => {
  it('entries are dropped once past their expiry (kept at the expiry second), also from what it held', async () => {
    let now = T0 + 100
    const mem = memory()
    const entries = [entry(1, { expires: T0 + 99 }), entry(2, { expires: T0 + 100 }), entry(3, { expires: T0 + 101 })]
    let answer = (since: number) => page({ since, head: 3, issuedAt: T0 + 100, entries })
    const view = viewOn(fakeFetch((url) => json(answer(sinceOf(url)))).fetcher, { state: mem.store, clock: () => now })
    await view.sync()
    expect([1, 2, 3].map((n) => view.entries(blockId(n))?.length)).toEqual([undefined, 1, 1])
    expect(mem.last()?.entries.map((e) => e.seq)).toEqual([2, 3])
    now = T0 + 101
    answer = (since) => page({ since, head: 3, issuedAt: T0 + 101 })
    await view.sync()
    expect([1, 2, 3].map((n) => view.entries(blockId(n))?.length)).toEqual([undefined, undefined, 1])
    expect(mem.last()?.entries.map((e) => e.seq)).toEqual([3])
  })

  it('the store is handed exactly the state: no mark entry when the page names none', async () => {
    const mem = memory()
    let answer = (since: number) => page({ since, head: 1, entries: [entry(1)] })
    const view = viewOn(fakeFetch((url) => json(answer(sinceOf(url)))).fetcher, { state: mem.store })
    await view.sync()
    expect(mem.last()).toStrictEqual({ seq: 1, issuedAt: T0, entries: [entry(1)], feedId: A })
    answer = (since) => page({ since, head: 2, entries: [entry(2)], sinceEntry: digest(1), headEntry: digest(2) })
    await view.sync()
    expect(mem.last()).toStrictEqual({ seq: 2, issuedAt: T0, entries: [entry(1), entry(2)], feedId: A, markEntry: digest(2) })
  })

  it('entries as the verifier reads them: the signer as a did:key, a reason and actions only when there are', async () => {
    const answer = page({
      since: 0,
      head: 2,
      entries: [entry(1, { reason: 'leaked', actions: ['mail:send'] }), entry(2, { kind: 'suspend' })],
    })
    const view = viewOn(fakeFetch(() => json(answer)).fetcher)
    await view.sync()
    expect(view.entries(blockId(1))).toStrictEqual([
      { kind: 'revoke', at: T0, by: FIXED_KEYS.alice[2], actions: ['mail:send'], reason: 'leaked' },
    ])
    expect(view.entries(blockId(2))).toStrictEqual([{ kind: 'suspend', at: T0, by: FIXED_KEYS.alice[2] }])
  })

  it('lag() is the seconds since the last page was issued', async () => {
    let now = T0 + 7
    const view = viewOn(fakeFetch(() => json(page({ since: 0, head: 0 }))).fetcher, { clock: () => now })
    expect(view.lag()).toBe(T0 + 7)
    await view.sync()
    expect(view.lag()).toBe(7)
    now = T0 + 40
    expect(view.lag()).toBe(40)
  })

  it('freshAt(): 0 before any sync, and 0 (stale, not "another key") once a later failure replaced the key mismatch', async () => {
    const mallory = fixedKey('mallory')
    let answer: () => Response = () =>
      json(
        signFeedPage(
          { serviceKey: mallory.publicKey, feedId: A, since: 0, head: 0, issuedAt: T0, nextUpdate: T0 + 60, entries: [], more: false },
          mallory.secretKey,
        ),
      )
    const view = viewOn(fakeFetch(() => answer()).fetcher)
    expect([view.freshAt(), view.lastError]).toEqual([0, undefined])
    expect((await failure(view.sync()))?.message).toContain('not by the pinned service key')
    expect(() => view.freshAt()).toThrow(/not by the pinned service key/)
    answer = () => new Response('busy', { status: 503 })
    expect((await failure(view.sync()))?.code).toBe('ERR_REVOCATION_STALE')
    expect(view.freshAt()).toBe(0)
  })

  it('fail-open: fresh whatever happens, with a warning once the view is more than a minute old; no warning hook is fine', async () => {
    let now = T0 + 60
    const warnings: string[] = []
    const { fetcher } = fakeFetch(() => json(page({ since: 0, head: 0, nextUpdate: T0 + 3600 })))
    const view = viewOn(fetcher, { clock: () => now, failOpen: true, onWarning: (w) => warnings.push(w) })
    await view.sync()
    expect([view.freshAt(), warnings]).toEqual([T0 + 60, []])
    now = T0 + 61
    expect([view.freshAt(), warnings]).toEqual([T0 + 61, ['revocation feed is stale; failing OPEN by configuration']])
    const silent = viewOn(fetcher, { clock: () => T0 + 3600, failOpen: true })
    expect(silent.freshAt()).toBe(T0 + 3600)
  })
})

describe('requests to the service', () => {
  it('the base URL may end in slashes; each request asks from the mark', async () => {
    const { fetcher, sent } = fakeFetch((url) =>
      json(page({ since: sinceOf(url), head: 2, entries: sinceOf(url) === 0 ? [entry(1), entry(2)] : [] })),
    )
    const view = viewOn(fetcher, { url: 'http://svc///' })
    await view.sync()
    await view.sync()
    expect(sent.map((s) => s.url)).toEqual([`${FEED_URL}?since=0`, `${FEED_URL}?since=2`])
  })

  it("the page's ETag is sent back as If-None-Match; a 304 keeps the state and clears the last error", async () => {
    let answer = (): Response => json(page({ since: 0, head: 1, entries: [entry(1)] }), { headers: { etag: '"v1"' } })
    const { fetcher, sent } = fakeFetch(() => answer())
    const view = viewOn(fetcher)
    await view.sync()
    expect(sent[0]?.headers.get('if-none-match')).toBeNull()
    answer = () => new Response('down', { status: 500 })
    const error = await failure(view.sync())
    expect([error?.code, error?.message, error?.hint]).toEqual([
      'ERR_REVOCATION_STALE',
      `the revocation feed at ${FEED_URL} answered 500`,
      STALE_HINT,
    ])
    expect(view.lastError).toBe(error)
    answer = () => new Response(null, { status: 304 })
    await view.sync()
    expect(sent.map((s) => s.headers.get('if-none-match'))).toEqual([null, '"v1"', '"v1"'])
    expect([view.seq, view.lastError, view.entries(blockId(1))?.length]).toEqual([1, undefined, 1])
  })

  it('a body that is not JSON is a bad page, not an outage', async () => {
    const view = viewOn(fakeFetch(() => new Response('<html>oops</html>', { status: 200 })).fetcher)
    const error = await failure(view.sync())
    expect(error?.code).toBe('ERR_REVOCATION_LIST_INVALID')
    expect(error?.message).toMatch(/^revocation feed page rejected \(/)
  })

  it('a body cut off by the deadline is a timeout, not a bad page', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] })
    const view = viewOn(fakeFetch((_url, sent) => new Response(eventStream(sent.signal).body, { status: 200 })).fetcher, { timeoutMs: 500 })
    const result = failure(view.sync())
    await settle()
    await vi.advanceTimersByTimeAsync(500)
    const error = await result
    expect([error?.code, error?.message, error?.hint]).toEqual([
      'ERR_REVOCATION_STALE',
      `the revocation feed at ${FEED_URL} did not answer within 500 ms (timed out)`,
      STALE_HINT,
    ])
  })

  it("without a fetch option, the runtime's fetch at the time of the request is used", async () => {
    const view = createFeedRevocationView({ url: 'http://svc', serviceKey: SERVICE, clock: () => T0 + 1, push: false })
    const { fetcher, sent } = fakeFetch(() => json(page({ since: 0, head: 0 })))
    vi.stubGlobal('fetch', fetcher)
    await view.sync()
    expect([sent.map((s) => s.url), view.feedId]).toEqual([[`${FEED_URL}?since=0`], A])
  })

  it('timeoutMs and streamIdleMs are checked, and the error names the option', () => {
    expect(() => viewOn(fakeFetch(() => json({})).fetcher, { timeoutMs: 0 })).toThrow(
      '"timeoutMs" expected a positive number of milliseconds (at most 2147483647), got 0',
    )
    expect(() => viewOn(fakeFetch(() => json({})).fetcher, { streamIdleMs: -1 })).toThrow(
      '"streamIdleMs" expected a positive number of milliseconds (at most 2147483647), got -1',
    )
  })

  it("an awaited sync's deadline holds the process; background work never does", async () => {
    const holds: ReturnType<typeof pending>[] = []
    const { fetcher } = fakeFetch((_url, sent) => {
      const p = pending(sent)
      holds.push(p)
      return p.promise
    })
    const timers = trackTimers()
    const view = viewOn(fetcher, { pollMs: 60_000 })
    const awaited = view.sync()
    await settle()
    expect(holding(timers)).toEqual([true])
    holds[0]?.release(json(page({ since: 0, head: 0 })))
    await awaited
    // In the background: the request's deadline, then the wait for the next poll.
    timers.length = 0
    view.start()
    await settle()
    expect([holds.length, holding(timers)]).toEqual([2, [false]])
    holds[1]?.release(json(page({ since: 0, head: 0 })))
    await settle()
    expect([holds.length, view.lastError, holding(timers)]).toEqual([2, undefined, [false]])
    await view.stop()
  })
})

describe('the background loop', () => {
  it('polls every pollMs (5 s by default) when push is off, and never opens the push channel', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] })
    for (const pollMs of [undefined, 1000]) {
      const feed = fakeFetch((url) => json(page({ since: sinceOf(url), head: 0 })))
      const view = viewOn(feed.fetcher, pollMs === undefined ? {} : { pollMs })
      view.start()
      await settle()
      expect(feed.sent.length).toBe(1)
      await vi.advanceTimersByTimeAsync((pollMs ?? 5000) - 1)
      expect(feed.sent.length).toBe(1)
      await vi.advanceTimersByTimeAsync(1)
      expect(feed.sent.length).toBe(2)
      expect(feed.streams()).toEqual([])
      await view.stop()
    }
  })

  it('after a failure it asks again after 250 ms, doubling up to pollMs; each failure is recorded and reported', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] })
    const warnings: string[] = []
    const feed = fakeFetch(() => Promise.reject(Object.assign(new TypeError('fetch failed'), { cause: { code: 'ECONNREFUSED' } })))
    const view = viewOn(feed.fetcher, { pollMs: 1000, onWarning: (w) => warnings.push(w) })
    view.start()
    await settle()
    const message = `the revocation feed at ${FEED_URL} cannot be reached (fetch failed: ECONNREFUSED)`
    expect([feed.sent.length, view.lastError?.message, warnings]).toEqual([1, message, [`revocation feed: ${message}`]])
    for (const wait of [250, 500, 1000, 1000]) {
      const before = feed.sent.length
      await vi.advanceTimersByTimeAsync(wait - 1)
      expect(feed.sent.length).toBe(before)
      await vi.advanceTimersByTimeAsync(1)
      expect(feed.sent.length).toBe(before + 1)
    }
    expect(warnings.length).toBe(5)
    // stop() ends the wait at once.
    expect(await stopsAtOnce(view)).toBe(true)
    await vi.advanceTimersByTimeAsync(5000)
    expect(feed.sent.length).toBe(5)
  })

  it('start() twice runs one loop; stop() before start() is fine; start() after stop() runs again', async () => {
    const feed = fakeFetch((url) => json(page({ since: sinceOf(url), head: 0 })))
    const view = viewOn(feed.fetcher, { pollMs: 60_000 })
    await view.stop()
    view.start()
    view.start()
    await settle()
    expect(feed.sent.length).toBe(1)
    expect(await stopsAtOnce(view)).toBe(true)
    view.start()
    await settle()
    expect(feed.sent.length).toBe(2)
    await view.stop()
  })

  it('stop() during a request aborts it without recording a failure', async () => {
    const feed = fakeFetch((_url, sent) => pending(sent).promise)
    const warnings: string[] = []
    const view = viewOn(feed.fetcher, { onWarning: (w) => warnings.push(w) })
    view.start()
    await settle()
    expect(feed.sent[0]?.signal?.aborted).toBe(false)
    await view.stop()
    expect([feed.sent[0]?.signal?.aborted, view.lastError, warnings]).toEqual([true, undefined, []])
  })
})

describe('the push channel', () => {
  /** A started view whose stream requests are answered by `stream` (a poll answers from `poll`). */
  function pushed(
    stream: (sent: Sent) => Response | Promise<Response>,
    poll: (since: number) => unknown = (since) => page({ since, head: 0 }),
    extra: Partial<FeedViewOptions> = {},
  ) {
    const warnings: string[] = []
    const feed = fakeFetch((url, sent) => (url.pathname.endsWith('/stream') ? stream(sent) : json(poll(sinceOf(url)))))
    const view = viewOn(feed.fetcher, { push: true, onWarning: (w) => warnings.push(w), ...extra })
    view.start()
    return { view, feed, warnings }
  }

  it('pages pushed are applied as they come, without polling: several in a chunk, one split over chunks, blank lines and comments between', async () => {
    const s = eventStream()
    const { view, feed, warnings } = pushed(() => sse(s.body))
    await settle()
    expect(feed.streams().map((x) => [x.url, x.headers.get('accept'), x.signal instanceof AbortSignal])).toEqual([
      [`${STREAM_URL}?since=0`, 'text/event-stream', true],
    ])
    s.send(event(page({ since: 0, head: 1, entries: [entry(1)] })))
    await settle()
    expect(view.seq).toBe(1)
    s.send(
      `: keep-alive\n\n${event(page({ since: 1, head: 2, entries: [entry(2)] }))}\n\n${event(page({ since: 2, head: 3, entries: [entry(3)] }))}`,
    )
    await settle()
    expect(view.seq).toBe(3)
    const split = event(page({ since: 3, head: 4, entries: [entry(4)] }))
    s.send(split.slice(0, 40))
    await settle()
    expect(view.seq).toBe(3)
    s.send(split.slice(40))
    await settle()
    expect([view.seq, view.entries(blockId(4))?.length]).toEqual([4, 1])
    expect([feed.polls().length, feed.streams().length, warnings, view.lastError]).toEqual([1, 1, [], undefined])
    expect(await stopsAtOnce(view)).toBe(true)
  })

  it('data lines are joined with a newline: a page split inside its text is not a page', async () => {
    const s = eventStream()
    const { view, warnings } = pushed(() => sse(s.body))
    await settle()
    const text = JSON.stringify(page({ since: 0, head: 1, entries: [entry(1)] }))
    s.send(`data: ${text.slice(0, 30)}\ndata: ${text.slice(30)}\n\n`)
    await settle()
    expect(view.seq).toBe(0)
    expect(warnings[0]).toMatch(/^revocation feed: revocation feed page rejected/)
    expect(await stopsAtOnce(view)).toBe(true)
  })

  it('a pushed page that overlaps what polling applied is skipped; one beyond the mark makes it catch up by polling', async () => {
    const s = eventStream()
    let head = 0
    const { view, feed, warnings } = pushed(
      () => sse(s.body),
      (since) => page({ since, head, entries: [1, 2, 3].filter((n) => n > since && n <= head).map((n) => entry(n)) }),
    )
    await settle()
    head = 2
    s.send(event(page({ since: 1, head: 2, entries: [entry(2)] })))
    await settle()
    expect([view.seq, feed.polls().length]).toEqual([2, 2])
    // Already held: nothing to do.
    s.send(event(page({ since: 1, head: 2, entries: [entry(2)] })))
    s.send(event(page({ since: 0, head: 1, entries: [entry(1)] })))
    await settle()
    expect([view.seq, feed.polls().length]).toEqual([2, 2])
    // The next page, from the mark: applied as it is.
    head = 3
    s.send(event(page({ since: 2, head: 3, entries: [entry(3)] })))
    await settle()
    expect([view.seq, feed.polls().length, warnings]).toEqual([3, 2, []])
    expect(await stopsAtOnce(view)).toBe(true)
  })

  it('a bad pushed page ends the stream (cancelled), is reported, and the loop reconnects', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] })
    const streams = [eventStream(), eventStream()]
    const { view, feed, warnings } = pushed(() => sse((streams[feed.streams().length - 1] ?? eventStream()).body))
    await settle()
    streams[0]?.send('data: {"page": "x", "signature": "y"}\n\n')
    await settle()
    expect(streams[0]?.cancelled).toBe(true)
    expect(warnings.length).toBe(1)
    expect(warnings[0]).toMatch(/^revocation feed: revocation feed page rejected \(/)
    expect(view.lastError?.message).toBe(warnings[0]?.slice('revocation feed: '.length))
    await vi.advanceTimersByTimeAsync(250)
    expect(feed.streams().length).toBe(2)
    expect(await stopsAtOnce(view)).toBe(true)
  })

  it('a stream the service ends is reopened after 250 ms, without a warning; stop() ends that wait at once', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] })
    const streams = [eventStream(), eventStream()]
    const { view, feed, warnings } = pushed(
      () => sse((streams[feed.streams().length - 1] ?? eventStream()).body),
      (since) => page({ since, head: since }),
    )
    await settle()
    streams[0]?.send(event(page({ since: 0, head: 1, entries: [entry(1)] })))
    streams[0]?.close()
    await settle()
    expect([view.seq, feed.streams().length]).toEqual([1, 1])
    await vi.advanceTimersByTimeAsync(249)
    expect(feed.streams().length).toBe(1)
    await vi.advanceTimersByTimeAsync(1)
    expect([feed.streams().length, feed.polls().length, warnings, view.lastError]).toEqual([2, 2, [], undefined])
    streams[1]?.close()
    await settle()
    expect(await stopsAtOnce(view)).toBe(true)
  })

  it('an error answer, or one without a body, is reported with its status (the body let go)', async () => {
    for (const [status, withBody] of [
      [503, true],
      [200, false],
    ] as const) {
      const s = eventStream()
      const { view, warnings } = pushed(() => new Response(withBody ? s.body : null, { status }))
      await settle()
      const message = `the revocation push channel at ${STREAM_URL} answered ${status}`
      expect([warnings[0], (view.lastError as { code?: string }).code, (view.lastError as { hint?: string }).hint]).toEqual([
        `revocation feed: ${message}`,
        'ERR_REVOCATION_STALE',
        STALE_HINT,
      ])
      if (withBody) expect(s.cancelled).toBe(true)
      expect(await stopsAtOnce(view)).toBe(true)
    }
  })

  it('a push channel that cannot be reached, or breaks off, says which', async () => {
    const refused = pushed(() => Promise.reject(Object.assign(new TypeError('fetch failed'), { cause: { code: 'ECONNREFUSED' } })))
    await settle()
    expect(refused.warnings[0]).toBe(
      `revocation feed: the revocation push channel at ${STREAM_URL} cannot be reached (fetch failed: ECONNREFUSED)`,
    )
    expect(refused.view.lastError).toMatchObject({ code: 'ERR_REVOCATION_STALE', hint: STALE_HINT })
    expect(await stopsAtOnce(refused.view)).toBe(true)
    const s = eventStream()
    const broken = pushed(() => sse(s.body))
    await settle()
    s.fail(new Error('socket hang up'))
    await settle()
    expect(broken.warnings[0]).toBe(`revocation feed: the revocation push channel at ${STREAM_URL} broke off (socket hang up)`)
    expect(await stopsAtOnce(broken.view)).toBe(true)
  })

  it('a push channel that does not answer within timeoutMs times out', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] })
    const { view, warnings } = pushed((sent) => pending(sent).promise, undefined, { timeoutMs: 500 })
    await settle()
    await vi.advanceTimersByTimeAsync(499)
    expect(warnings).toEqual([])
    await vi.advanceTimersByTimeAsync(1)
    expect(warnings).toEqual([`revocation feed: the revocation push channel at ${STREAM_URL} did not answer within 500 ms (timed out)`])
    expect(await stopsAtOnce(view)).toBe(true)
  })

  it('a stream silent for streamIdleMs is dropped as stalled, even when its fetch ignores the abort', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] })
    const s = eventStream()
    const { view, warnings } = pushed(() => sse(s.body), undefined, { timeoutMs: 500, streamIdleMs: 1000 })
    await settle()
    await vi.advanceTimersByTimeAsync(999)
    expect(warnings).toEqual([])
    await vi.advanceTimersByTimeAsync(1)
    expect(warnings).toEqual([
      `revocation feed: the revocation push channel at ${STREAM_URL} sent no whole event for 1000 ms (stalled); reconnecting`,
    ])
    expect(view.lastError).toMatchObject({ code: 'ERR_REVOCATION_STALE', hint: STALE_HINT })
    expect(s.cancelled).toBe(true)
    expect(await stopsAtOnce(view)).toBe(true)
  })

  it('stop() ends at once an open stream whose fetch ignores its signal, and one still connecting', async () => {
    const s = eventStream()
    const open = pushed(() => sse(s.body))
    await settle()
    expect(await stopsAtOnce(open.view)).toBe(true)
    expect([s.cancelled, open.warnings, open.view.lastError]).toEqual([true, [], undefined])
    const connecting = pushed((sent) => pending(sent).promise)
    await settle()
    expect(connecting.feed.streams().length).toBe(1)
    expect(await stopsAtOnce(connecting.view)).toBe(true)
    expect([connecting.warnings, connecting.view.lastError]).toEqual([[], undefined])
  })

  it('its waits never hold the process: before reopening a stream the service ended, after a failure', async () => {
    const timers = trackTimers()
    const s = eventStream()
    const ended = pushed(() => sse(s.body), undefined, { pollMs: 60_000 })
    await settle()
    s.close()
    await settle()
    // The poll's deadline, the stream's (then its stall timer), the pause before reopening: none holds the process.
    expect([ended.feed.streams().length, ended.warnings, holding(timers)]).toEqual([1, [], [false]])
    expect(await stopsAtOnce(ended.view)).toBe(true)
    timers.length = 0
    const failing = pushed(() => new Response(null, { status: 503 }), undefined, { pollMs: 60_000 })
    await settle()
    expect([failing.feed.streams().length, failing.warnings.length, holding(timers)]).toEqual([1, 1, [false]])
    expect(await stopsAtOnce(failing.view)).toBe(true)
  })

  it('a resync reopens the stream from the new state, and that is no failure', async () => {
    const streams: ReturnType<typeof eventStream>[] = []
    let feedId = A
    const { view, feed, warnings } = pushed(
      (sent) => {
        const s = eventStream(sent.signal)
        streams.push(s)
        return sse(s.body)
      },
      (since) => page({ since, head: 2, feedId, entries: since === 0 ? [entry(1), entry(2)] : [] }),
      { pollMs: 60_000 },
    )
    await settle()
    expect(feed.streams().length).toBe(1)
    feedId = B
    await view.resync()
    await settle()
    expect([view.feedId, view.lastError, warnings]).toEqual([B, undefined, [`revocation feed: resynced in full from feed ${B} at 2`]])
    expect(await stopsAtOnce(view)).toBe(true)
  })

  it('pushed work started before a resync does not touch the new state', async () => {
    const mem = memory({ seq: 1, issuedAt: T0, entries: [], feedId: A })
    const s = eventStream()
    let held: ReturnType<typeof pending> | undefined
    let polls = 0
    const feed = fakeFetch((url, sent) => {
      if (url.pathname.endsWith('/stream')) return sse(s.body)
      polls++
      if (polls === 1) return json(page({ since: 1, head: 1 }))
      if (sinceOf(url) === 0) return json(page({ since: 0, head: 4, feedId: B, entries: [entry(4)] }))
      held = pending(sent, false)
      return held.promise
    })
    const view = viewOn(feed.fetcher, { push: true, state: mem.store, pollMs: 60_000 })
    view.start()
    await settle()
    // A page beyond the mark (a catch-up poll, held), then one from the old feed's mark.
    s.send(`${event(page({ since: 2, head: 3 }))}${event(page({ since: 1, head: 3, entries: [entry(2), entry(3)] }))}`)
    await settle()
    expect(held).toBeDefined()
    await view.resync()
    held?.release(json(page({ since: 1, head: 3, entries: [entry(2), entry(3)] })))
    await settle()
    expect([view.seq, view.feedId, view.lastError, view.freshAt()]).toEqual([4, B, undefined, T0])
    expect(mem.saved.map((x) => [x.seq, x.feedId, x.failed])).toEqual([
      [1, A, undefined],
      [4, B, undefined],
    ])
    expect(await stopsAtOnce(view)).toBe(true)
  })
})

// 10,000 verified pages take seconds: one walk only (resync's, whose refusal a person reads).
describe('a feed that never ends', () => {
  it('resync() gives up after 10,000 pages, and says so', async () => {
    const body = JSON.stringify(page({ since: 0, head: 0, more: true }))
    const feed = fakeFetch(() => new Response(body, { status: 200 }))
    const mem = memory({ seq: 1, issuedAt: T0, entries: [], feedId: A })
    const view = viewOn(feed.fetcher, { state: mem.store })
    const error = await failure(view.resync())
    expect([error?.code, error?.message]).toEqual(['ERR_REVOCATION_LIST_INVALID', 'revocation feed page rejected: the feed does not end'])
    expect([feed.sent.length, view.seq, mem.saved]).toEqual([10_000, 1, []])
  })
})
