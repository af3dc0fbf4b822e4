/**
 * A revocation view kept current from a service's signed feed (spec/service-v1.md §4.3).
 *
 * It pins the service key and the feed id, applies only pages that verify, never goes
 * backwards (a replayed page, issued before the one it holds, is rejected; a fresh page whose
 * head is below its mark, or under another feed id, or whose entry at its mark is not the one it
 * remembers, means the service's database was restored or replaced: the view then fails closed
 * until an explicit `resync()`), rejects pages past
 * their `next_update` (freeze), persists its state before using it, and reports its freshness
 * so that the verifier fails closed once it is stale. Push (server-sent events) when the
 * service offers it; polling otherwise.
 *
 * Every request has a deadline (`timeoutMs`), and the push channel is reconnected when it
 * stalls (`streamIdleMs`): a server that accepts and never answers fails a sync with
 * `ERR_REVOCATION_STALE`, it never hangs it. A page signed by another key than the pinned one
 * is reported as such (`ERR_REVOCATION_LIST_INVALID`), not as an outage. Background syncing
 * (`start()`) never keeps a process alive by itself: its timers are unref'd, and in Node its
 * connections too; `stop()` ends it at once.
 *
 * @module
 */
import { parsePublicKey, toDidKey } from '../crypto/keys.js'
import { MandateError } from '../errors.js'
import { fromHex } from '../internal/bytes.js'
import { deadline, pause, timeoutOption } from '../internal/deadline.js'
import {
  describeFailure,
  describeUrl,
  type Fetcher,
  fetchWithin,
  jsonUpTo,
  PAGE_MAX_BYTES,
  serviceBase,
  timedOut,
  tooLong,
} from '../internal/http.js'
import { unrefFetch } from '../internal/unref-fetch.js'
import { type FeedEntry, type FeedPage, verifyFeedPage } from './feed.js'
import { foreignFeedKey } from './feed-key.js'
import type { RevocationEntry, RevocationView } from './view.js'

/** What a feed view remembers; persisted through {@link FeedStateStore}. */
export interface FeedState {
  readonly seq: number
  readonly issuedAt: number
  readonly entries: readonly FeedEntry[]
  /**
   * The feed id the view first synced (32 hex digits), pinned: a page under another one is a
   * replaced database. Absent in state saved before feed ids existed; pinned at the next sync.
   */
  readonly feedId?: string
  /**
   * The statement id (64 hex digits) of the entry at seq `seq`, as the page that set the mark
   * named it (its `head entry`): a later page from this mark naming another one (`since entry`)
   * means the history was rewritten. Absent when unknown (state saved before it existed, a row
   * already compacted, a mark set in the middle of a multi-page walk).
   */
  readonly markEntry?: string
  /**
   * Set when the view detected a reset or a rollback: it stays failed, across restarts, until
   * {@link FeedRevocationView.resync}.
   */
  readonly failed?: { readonly code: FeedFailureCode; readonly message: string }
}

/** Why a view stopped following its feed until a full resync. */
export type FeedFailureCode = 'ERR_REVOCATION_FEED_RESET' | 'ERR_REVOCATION_ROLLBACK'

/** Where the state survives restarts (e.g. a file; see `fileFeedState`). */
export interface FeedStateStore {
  load(): FeedState | undefined
  save(state: FeedState): void
}

/** Options of {@link createFeedRevocationView}. */
export interface FeedViewOptions {
  /** The service base URL, e.g. `http://127.0.0.1:8787`. */
  readonly url: string
  /** The service's feed key (did:key or any public key form), pinned. */
  readonly serviceKey: string
  readonly fetch?: typeof fetch
  readonly clock?: () => number
  readonly state?: FeedStateStore
  /** Poll interval in ms when push is off or down: positive, at most 2,147,483,647 (default 5,000). */
  readonly pollMs?: number
  /** Use the push channel (default true). */
  readonly push?: boolean
  /**
   * Each request must be answered, body included, within this many ms (default 10,000); for
   * the push channel, its answer to the connection. A server that accepts and never answers
   * then fails the sync with `ERR_REVOCATION_STALE` ("did not answer within …") instead of
   * hanging it.
   */
  readonly timeoutMs?: number
  /**
   * Reconnect the push channel when it sends no whole event, not even its heartbeat page (at
   * least every 5 s, spec/service-v1.md §4.2), for this many ms (default 30,000).
   */
  readonly streamIdleMs?: number
  /**
   * Report the view as always fresh, even when the service is unreachable. Off by default:
   * revocation must fail closed. Turning it on is logged through `onWarning` on each lapse.
   */
  readonly failOpen?: boolean
  readonly onWarning?: (message: string) => void
}

/** A revocation view backed by the feed. */
export interface FeedRevocationView extends RevocationView {
  /**
   * Fetch and apply everything new. Throws `ERR_REVOCATION_LIST_INVALID` on a bad page,
   * `ERR_REVOCATION_FEED_RESET` when the service's feed id is not the pinned one (a new or
   * replaced database), `ERR_REVOCATION_ROLLBACK` when its head is below the view's mark or its
   * entry at the mark is not the one the view remembers (a restored database). After either of the last two the view keeps what it had, stops
   * advancing (so the verifier denies with `ERR_REVOCATION_STALE` once `revocationMaxAge`
   * passes), and every further `sync()` throws the same until {@link resync}.
   */
  sync(): Promise<void>
  /**
   * The only recovery from a reset or a rollback, for an operator who has looked at why:
   * drop the state (entries, mark, feed id), fetch everything from `since=0`, pin the feed id
   * it now has, persist, and become fresh. The current state stays in use until the new one
   * is complete; a failed resync changes nothing. Background syncing never calls this.
   */
  resync(): Promise<void>
  /**
   * Keep syncing in the background (push, else polling) until {@link stop}. It never keeps the
   * process alive by itself (timers unref'd; in Node its connections too, unless `fetch` is
   * given): a script whose work is done exits; a server keeps it running as long as it runs.
   */
  start(): void
  /** End background syncing: the request or stream in flight is aborted; resolves once it has stopped. */
  stop(): Promise<void>
  /** The highest sequence number applied. */
  readonly seq: number
  /** The pinned feed id, once synced. */
  readonly feedId: string | undefined
  /** Why the last sync failed (cleared by a successful one): what an operator needs to see. */
  readonly lastError: Error | undefined
  /** Seconds since the last verified page was issued (the sync lag). */
  lag(): number
}

/** How a request is sent: one the caller awaits, or background work that must not hold the process. */
interface Via {
  readonly fetch: Fetcher
  readonly unref: boolean
  /** Aborted by stop() (and, for the push channel, by a resync). */
  readonly signal?: AbortSignal
}

/** The shortest wait before the background loop asks again. */
const MIN_BACKOFF_MS = 250
const KEY_HINT =
  "pin the key the service announces (GET /v1/service; the CLI's --service-key or MANDATE_SERVICE_KEY), or point the view at the service whose key is pinned"
const STALE_HINT = 'the view keeps what it has; the verifier denies with ERR_REVOCATION_STALE once it is older than revocationMaxAge'

/**
 * Create a feed-backed revocation view.
 *
 * @example
 * ```ts
 * const revocations = createFeedRevocationView({ url: 'http://127.0.0.1:8787', serviceKey: 'did:key:z6Mk…', timeoutMs: 5000 })
 * await revocations.sync()
 * revocations.start()
 * const verifier = createVerifier({ roots, audience: 'mail', revocations })
 * // If sync() or revocations.lastError reports ERR_REVOCATION_FEED_RESET or ERR_REVOCATION_ROLLBACK,
 * // the service's database was replaced or restored: find out why, then `await revocations.resync()`.
 * // On shutdown:
 * await revocations.stop()
 * ```
 */
export function createFeedRevocationView(options: FeedViewOptions): FeedRevocationView {
  const key = parsePublicKey(options.serviceKey)
  const timeoutMs = timeoutOption(options.timeoutMs, 10_000, 'timeoutMs')
  const streamIdleMs = timeoutOption(options.streamIdleMs, 30_000, 'streamIdleMs')
  const pollMs = timeoutOption(options.pollMs, 5000, 'pollMs')
  // Looked up at each call, not captured: a fetch installed later (a test, a polyfill) is used.
  const runtimeFetch: Fetcher = (input, init) => fetch(input, init)
  const awaited: Via = { fetch: options.fetch ?? runtimeFetch, unref: false }
  const clock = options.clock ?? (() => Math.floor(Date.now() / 1000))
  const base = serviceBase(options.url)
  const feedUrl = describeUrl(`${base}/v1/revocations`)
  let state: FeedState = options.state?.load() ?? { seq: 0, issuedAt: 0, entries: [] }
  let byBlock = index(state.entries)
  let etag: string | undefined
  /** Aborted by stop(): ends the background loop's waits. */
  let halt: AbortController | undefined
  /** The background loop's current round: stop() and resync() abort its request or stream. */
  let stream: AbortController | undefined
  let loop: Promise<void> | undefined
  let lastError: Error | undefined = state.failed ? new MandateError(state.failed.code, state.failed.message) : undefined
  /** Set when the last page was signed by another key than the pinned one: freshAt() says so. */
  let keyMismatch: MandateError | undefined
  /** Bumped by a resync: work started before it must not touch the new state. */
  let generation = 0

  /** The view stops here until resync(); the failure is persisted, so a restart does not forget it. */
  const failFeed = (code: FeedFailureCode, message: string): never => {
    const next: FeedState = { ...state, failed: { code, message } }
    options.state?.save(next)
    state = next
    throw new MandateError(code, message)
  }
  const throwIfFailed = (): void => {
    if (state.failed) {
      throw new MandateError(state.failed.code, `${state.failed.message} (the view stays stale until resync())`)
    }
  }
  /** The checks against a pinned feed id and mark that no later page can undo. */
  const checkFeed = (page: FeedPage): void => {
    throwIfFailed()
    if (state.feedId !== undefined && page.feedId !== state.feedId) {
      failFeed(
        'ERR_REVOCATION_FEED_RESET',
        `the revocation feed id changed from ${state.feedId} to ${page.feedId}: the service's database is new or was replaced; a full resync is needed`,
      )
    }
  }

  /** Next state after `page`, checked against `from` (which it does not change). */
  const advance = (from: FeedState, page: FeedPage): FeedState => {
    const now = clock()
    if (page.since !== from.seq) throw invalid(`the page starts at ${page.since}, not at ${from.seq}`)
    if (page.head < from.seq) throw invalid(`rollback: the page's head ${page.head} is below ${from.seq}`)
    if (page.issuedAt < from.issuedAt) throw invalid(`rollback: the page was issued before the one already held`)
    if (now >= page.nextUpdate) throw invalid('the page is past its next_update (frozen feed)')
    if (from.feedId !== undefined && page.feedId !== from.feedId) throw invalid('the feed id changed between pages')
    const last = page.entries[page.entries.length - 1]
    const seq = page.more ? (last?.seq ?? from.seq) : page.head
    // The statement id at the new mark: the page's head entry when the mark is the head; the
    // one already held while the mark does not move (its row may have been compacted since).
    const markEntry = seq === page.head && page.headEntry !== undefined ? page.headEntry : seq === from.seq ? from.markEntry : undefined
    return {
      seq,
      issuedAt: page.more ? from.issuedAt : page.issuedAt,
      entries: [...from.entries, ...page.entries].filter((e) => e.expires >= now),
      feedId: page.feedId,
      ...(markEntry === undefined ? {} : { markEntry }),
    }
  }

  /** Check a page against what we hold, persist, then apply. */
  const apply = (page: FeedPage): void => {
    checkFeed(page)
    if (page.since === state.seq && page.head < state.seq && page.issuedAt >= state.issuedAt) {
      failFeed(
        'ERR_REVOCATION_ROLLBACK',
        `the revocation feed's head ${page.head} is below this view's mark ${state.seq}: the service's database went back (restored); a full resync is needed`,
      )
    }
    // The head may have climbed back past the mark: the entry at the mark tells (absent when
    // its row was compacted, which a restored history cannot be told from: spec §4.4).
    if (
      page.since === state.seq &&
      page.issuedAt >= state.issuedAt &&
      state.markEntry !== undefined &&
      page.sinceEntry !== undefined &&
      page.sinceEntry !== state.markEntry
    ) {
      failFeed(
        'ERR_REVOCATION_ROLLBACK',
        `the revocation feed's history at seq ${state.seq} was rewritten (another entry holds that sequence number): the service's database was restored; a full resync is needed`,
      )
    }
    const next = advance(state, page)
    // Persist before use, so that a restart can never fall back to an older view.
    options.state?.save(next)
    state = next
    byBlock = index(state.entries)
    lastError = undefined
  }

  /** Verify a page under the pinned key; one validly signed by another key says exactly that. */
  const checkPage = (body: unknown): FeedPage => {
    try {
      return verifyFeedPage(body, key)
    } catch (e) {
      const other = foreignFeedKey(body, key)
      if (!other) throw e
      keyMismatch = new MandateError(
        'ERR_REVOCATION_LIST_INVALID',
        `the revocation feed at ${feedUrl} is signed by ${toDidKey(other)}, not by the pinned service key ${toDidKey(key)}`,
        { cause: e, hint: KEY_HINT },
      )
      throw keyMismatch
    }
  }

  /** Fetch one page from `since`; undefined when unchanged (304). */
  const fetchPage = (since: number, tag: string | undefined, via: Via): Promise<{ page: FeedPage; etag?: string } | undefined> =>
    fetchWithin(
      `${base}/v1/revocations?since=${since}`,
      { headers: tag ? { 'if-none-match': tag } : {} },
      {
        ...via,
        timeoutMs,
        code: 'ERR_REVOCATION_STALE',
        what: 'revocation feed',
        hint: STALE_HINT,
        read: async (res) => {
          if (res.status === 304) return undefined
          if (!res.ok)
            throw new MandateError('ERR_REVOCATION_STALE', `the revocation feed at ${feedUrl} answered ${res.status}`, { hint: STALE_HINT })
          // A body that is not JSON is a bad page; one cut by the deadline is a timeout, one that
          // breaks off no answer; one past the largest page is refused as it streams, before it
          // fills the verifier's memory.
          const body = await jsonUpTo(res, PAGE_MAX_BYTES, () =>
            tooLong(feedUrl, { code: 'ERR_REVOCATION_STALE', what: 'revocation feed', hint: STALE_HINT }, PAGE_MAX_BYTES),
          )
          const page = checkPage(body)
          const got = res.headers.get('etag')
          return got ? { page, etag: got } : { page }
        },
      },
    )

  const syncOnce = async (via: Via): Promise<void> => {
    throwIfFailed()
    const started = generation
    for (let guard = 0; guard < 10_000; guard++) {
      const got = await fetchPage(state.seq, etag, via)
      if (generation !== started) return
      if (!got) {
        lastError = undefined
        return
      }
      apply(got.page)
      etag = got.page.more ? undefined : got.etag
      if (!got.page.more) return
    }
  }
  /** Sync, recording why it failed; an abort (stop, resync) is not a failure. */
  const syncVia = async (via: Via): Promise<void> => {
    try {
      await syncOnce(via)
    } catch (e) {
      if (!via.signal?.aborted) lastError = e instanceof Error ? e : new Error(String(e))
      throw e
    }
  }
  const sync = (): Promise<void> => syncVia(awaited)

  const resync = async (): Promise<void> => {
    try {
      // Stryker disable next-line ArrayDeclaration: equivalent — every resync passes `fresh` through advance(), which keeps only entries whose `expires` is at least now; anything else put here is dropped
      let fresh: FeedState = { seq: 0, issuedAt: 0, entries: [] }
      let tag: string | undefined
      for (let guard = 0; ; guard++) {
        if (guard >= 10_000) throw invalid('the feed does not end')
        const got = await fetchPage(fresh.seq, undefined, awaited)
        if (!got) throw invalid('the service answered 304 to a full resync')
        fresh = advance(fresh, got.page)
        tag = got.etag
        if (!got.page.more) break
      }
      options.state?.save(fresh)
      // Stryker disable next-line UpdateOperator: equivalent — the generation is only compared for inequality, and decrementing never returns to an earlier value
      generation++
      state = fresh
      byBlock = index(state.entries)
      etag = tag
      lastError = undefined
      options.onWarning?.(`revocation feed: resynced in full from feed ${fresh.feedId} at ${fresh.seq}`)
      // A push stream opened before the resync follows the old state: reopen it.
      stream?.abort()
    } catch (e) {
      lastError = e instanceof Error ? e : new Error(String(e))
      throw e
    }
  }

  /**
   * Follow the push channel until it ends. The connection must be answered within `timeoutMs`;
   * then each whole event (a page, a comment) restarts a stall timer of `streamIdleMs`, whose
   * expiry ends the stream with ERR_REVOCATION_STALE (the loop reconnects). Bytes that end no
   * event are no sign of life, and an event longer than a page ({@link PAGE_MAX_BYTES}) ends the
   * stream: a server trickling one endless event would otherwise hold the stream open for ever
   * and grow its buffer without bound.
   */
  const listen = async (via: Via): Promise<void> => {
    const started = generation
    const url = `${base}/v1/revocations/stream?since=${state.seq}`
    const what = { code: 'ERR_REVOCATION_STALE', what: 'revocation push channel', hint: STALE_HINT } as const
    const d = deadline(timeoutMs, { parent: via.signal, unref: via.unref })
    let reader: ReadableStreamDefaultReader<Uint8Array> | undefined
    // A fetch that ignores its signal still stops: cancelling the reader ends the pending read.
    const onAbort = () => reader?.cancel().catch(() => {})
    // Stryker disable next-line ObjectLiteral,BooleanLiteral: equivalent — a signal aborts at most once, and the listener is removed in `finally`
    d.signal.addEventListener('abort', onAbort, { once: true })
    try {
      const doFetch = via.fetch
      const res = await doFetch(url, { headers: { accept: 'text/event-stream' }, signal: d.signal })
      if (!res.ok || !res.body) {
        res.body?.cancel().catch(() => {})
        throw new MandateError(what.code, `the revocation push channel at ${describeUrl(url)} answered ${res.status}`, { hint: STALE_HINT })
      }
      reader = res.body.getReader()
      d.restart(streamIdleMs)
      const decoder = new TextDecoder()
      /**
       * What came after the last whole event, as it came: kept in pieces, joined only when an
       * event ends, so that an event arriving in many small chunks costs its length once (a
       * string grown chunk by chunk is copied whole at each chunk).
       */
      let pieces: string[] = []
      let pending = 0
      while (!d.signal.aborted) {
        const { done, value } = await reader.read()
        if (done || generation !== started) break
        // Stryker disable next-line ObjectLiteral,BooleanLiteral: equivalent — the feed's events are ASCII (base64url pages in JSON): no character spans two chunks
        const text = decoder.decode(value, { stream: true })
        // Nothing decoded yet (a character's first bytes): no piece, so that the last one ends the text.
        if (text === '') continue
        // A "\n\n" may straddle the chunks by one character.
        const before = pending > 0 ? (pieces[pieces.length - 1] as string).slice(-1) : ''
        if (`${before}${text}`.indexOf('\n\n') < 0) {
          pieces.push(text)
          pending += text.length
        } else {
          const buffer = pieces.join('') + text
          let start = 0
          let cut = buffer.indexOf('\n\n', Math.max(0, pending - 1))
          while (cut >= 0) {
            const data = eventData(buffer.slice(start, cut))
            start = cut + 2
            d.restart(streamIdleMs)
            if (data) {
              const page = checkPage(parseJson(data))
              if (generation !== started) return
              checkFeed(page)
              // A push page may overlap what polling already applied; catch up by polling then.
              if (page.since === state.seq) apply(page)
              else if (page.head > state.seq) await syncVia(via)
              // The catch-up had its own deadline: the stream's stall timer starts over from here.
              d.restart(streamIdleMs)
            }
            cut = buffer.indexOf('\n\n', start)
          }
          const rest = buffer.slice(start)
          pieces = rest === '' ? [] : [rest]
          pending = rest.length
        }
        if (pending > PAGE_MAX_BYTES) {
          throw new MandateError(
            what.code,
            `the revocation push channel at ${describeUrl(url)} sent an event longer than a page (${PAGE_MAX_BYTES} bytes); reconnecting`,
            { hint: STALE_HINT },
          )
        }
      }
      if (d.signal.aborted) throw d.signal.reason
    } catch (e) {
      // Stryker disable next-line OptionalChaining: equivalent — listen() is only called by the background loop, whose Via always has a signal
      if (via.signal?.aborted) throw e
      if (d.expired) {
        if (!reader) throw timedOut(url, { ...what, timeoutMs })
        const stall = `the revocation push channel at ${describeUrl(url)} sent no whole event for ${streamIdleMs} ms (stalled); reconnecting`
        throw new MandateError(what.code, stall, { hint: STALE_HINT })
      }
      if (e instanceof MandateError) throw e
      const how = reader ? 'broke off' : 'cannot be reached'
      throw new MandateError(what.code, `the revocation push channel at ${describeUrl(url)} ${how} (${describeFailure(e)})`, {
        cause: e,
        hint: STALE_HINT,
      })
    } finally {
      // Stryker disable next-line StringLiteral: equivalent — after d.clear() the deadline has no timer and no parent, so its signal never aborts again
      d.signal.removeEventListener('abort', onAbort)
      d.clear()
      // Ended here (a resync, a bad page): let the connection go now, not when collected.
      reader?.cancel().catch(() => {})
    }
  }

  /** One round: catch up, then follow the push channel (or wait for the next poll). */
  const round = async (via: Via, stop: AbortSignal): Promise<void> => {
    await syncVia(via)
    if (options.push === false) return pause(pollMs, { parent: stop, unref: true })
    await listen(via)
    // The service ended the stream (it does when it shuts down): reconnect, never in a tight loop.
    await pause(MIN_BACKOFF_MS, { parent: stop, unref: true })
  }

  const run = async (stop: AbortSignal, background: Fetcher): Promise<void> => {
    let backoff = MIN_BACKOFF_MS
    while (!stop.aborted) {
      const current = new AbortController()
      stream = current
      try {
        await round({ fetch: background, unref: true, signal: current.signal }, stop)
        backoff = MIN_BACKOFF_MS
      } catch (e) {
        if (stop.aborted) return
        // Recorded for the operator; a reset or a rollback is never repaired here (no auto-resync).
        // An abort is a resync reopening the stream, not a failure.
        if (!current.signal.aborted) {
          lastError = e instanceof Error ? e : new Error(String(e))
          options.onWarning?.(`revocation feed: ${lastError.message}`)
        }
        await pause(backoff, { parent: stop, unref: true })
        backoff = Math.min(backoff * 2, pollMs)
      }
    }
  }

  return {
    freshAt() {
      if (options.failOpen) {
        if (clock() - state.issuedAt > 60) options.onWarning?.('revocation feed is stale; failing OPEN by configuration')
        return clock()
      }
      // A feed known to be reset or rewritten is not stale-but-usable: every decision is denied
      // at once, with the reason, until an operator resyncs.
      if (state.failed) {
        throw new MandateError(state.failed.code, `${state.failed.message} (the view stays stale until resync())`, {
          hint: 'the revocation service lost or replaced its history; an operator must call resync() on the feed view',
        })
      }
      // Never synced because the feed is another key's: say that, not "stale" (which reads as an outage).
      if (state.issuedAt === 0 && keyMismatch !== undefined && lastError === keyMismatch) throw keyMismatch
      return state.issuedAt
    },
    entries: (blockId) => byBlock.get(blockId),
    sync,
    resync,
    start() {
      if (halt && !halt.signal.aborted) return
      halt = new AbortController()
      // Background requests must not hold the process: in Node, a fetch whose sockets are unref'd.
      loop = run(halt.signal, options.fetch ?? unrefFetch() ?? runtimeFetch)
    },
    async stop() {
      halt?.abort()
      stream?.abort()
      await loop
    },
    get seq() {
      return state.seq
    },
    get feedId() {
      return state.feedId
    },
    get lastError() {
      return lastError
    },
    lag: () => clock() - state.issuedAt,
  }
}

function invalid(message: string): MandateError {
  return new MandateError('ERR_REVOCATION_LIST_INVALID', `revocation feed page rejected: ${message}`)
}

/** The `data:` lines of one server-sent event, joined. */
function eventData(event: string): string {
  return event
    .split('\n')
    .filter((l) => l.startsWith('data:'))
    .map((l) => l.slice(5).trimStart())
    .join('\n')
}

/** JSON, or undefined (which the page check then rejects as not a page). */
function parseJson(text: string): unknown {
  try {
    return JSON.parse(text)
  } catch {
    return undefined
  }
}

/**
 * Entries by block, in feed order, with resumes and lifts applied: a resume lifts every earlier
 * suspension of its block, a lift the amendment it names.
 */
function index(entries: readonly FeedEntry[]): Map<string, RevocationEntry[]> {
  const out = new Map<string, RevocationEntry[]>()
  for (const e of entries) {
    const list = out.get(e.blockId) ?? []
    if (e.kind === 'resume') {
      out.set(
        e.blockId,
        list.filter((x) => x.kind !== 'suspend'),
      )
      continue
    }
    if (e.kind === 'lift') {
      out.set(
        e.blockId,
        list.filter((x) => !(x.kind === 'amend' && x.id === e.lifts)),
      )
      continue
    }
    const common = {
      at: e.at,
      by: toDidKey(fromHex(e.by) ?? new Uint8Array(32)),
      ...(e.reason === undefined ? {} : { reason: e.reason }),
    }
    list.push(
      e.kind === 'amend'
        ? { kind: 'amend', id: e.id ?? '', caveats: e.caveats ?? [], ...common }
        : { kind: e.kind, ...common, ...(e.actions ? { actions: e.actions } : {}) },
    )
    out.set(e.blockId, list)
  }
  return out
}
