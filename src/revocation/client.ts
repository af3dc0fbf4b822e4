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
 * @module
 */
import { parsePublicKey, toDidKey } from '../crypto/keys.js'
import { MandateError } from '../errors.js'
import { fromHex } from '../internal/bytes.js'
import { type FeedEntry, type FeedPage, verifyFeedPage } from './feed.js'
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
  /** Poll interval in ms when push is off or down (default 5,000). */
  readonly pollMs?: number
  /** Use the push channel (default true). */
  readonly push?: boolean
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
  /** Keep syncing in the background (push, else polling) until {@link stop}. */
  start(): void
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

/**
 * Create a feed-backed revocation view.
 *
 * @example
 * ```ts
 * const revocations = createFeedRevocationView({ url: 'http://127.0.0.1:8787', serviceKey: 'did:key:z6Mk…' })
 * await revocations.sync()
 * revocations.start()
 * const verifier = createVerifier({ roots, audience: 'mail', revocations })
 * // If sync() or revocations.lastError reports ERR_REVOCATION_FEED_RESET or ERR_REVOCATION_ROLLBACK,
 * // the service's database was replaced or restored: find out why, then `await revocations.resync()`.
 * ```
 */
export function createFeedRevocationView(options: FeedViewOptions): FeedRevocationView {
  const key = parsePublicKey(options.serviceKey)
  const doFetch = options.fetch ?? fetch
  const clock = options.clock ?? (() => Math.floor(Date.now() / 1000))
  const base = options.url.replace(/\/+$/, '')
  let state: FeedState = options.state?.load() ?? { seq: 0, issuedAt: 0, entries: [] }
  let byBlock = index(state.entries)
  let etag: string | undefined
  let running = false
  let stream: AbortController | undefined
  let loop: Promise<void> | undefined
  let lastError: Error | undefined = state.failed ? new MandateError(state.failed.code, state.failed.message) : undefined
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

  /** Fetch one page from `since`; undefined when unchanged (304). */
  const fetchPage = async (since: number, tag?: string): Promise<{ page: FeedPage; etag?: string } | undefined> => {
    const res = await doFetch(`${base}/v1/revocations?since=${since}`, { headers: tag ? { 'if-none-match': tag } : {} })
    if (res.status === 304) return undefined
    if (!res.ok) throw new MandateError('ERR_REVOCATION_STALE', `the revocation service answered ${res.status}`)
    const page = verifyFeedPage(await res.json(), key)
    const got = res.headers.get('etag')
    return got ? { page, etag: got } : { page }
  }

  const syncOnce = async (): Promise<void> => {
    throwIfFailed()
    const started = generation
    for (let guard = 0; guard < 10_000; guard++) {
      const got = await fetchPage(state.seq, etag)
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
  const sync = async (): Promise<void> => {
    try {
      await syncOnce()
    } catch (e) {
      lastError = e instanceof Error ? e : new Error(String(e))
      throw e
    }
  }

  const resync = async (): Promise<void> => {
    try {
      let fresh: FeedState = { seq: 0, issuedAt: 0, entries: [] }
      let tag: string | undefined
      for (let guard = 0; ; guard++) {
        if (guard >= 10_000) throw invalid('the feed does not end')
        const got = await fetchPage(fresh.seq)
        if (!got) throw invalid('the service answered 304 to a full resync')
        fresh = advance(fresh, got.page)
        tag = got.etag
        if (!got.page.more) break
      }
      options.state?.save(fresh)
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

  const listen = async (signal: AbortSignal): Promise<void> => {
    const started = generation
    const res = await doFetch(`${base}/v1/revocations/stream?since=${state.seq}`, { headers: { accept: 'text/event-stream' }, signal })
    if (!res.ok || !res.body) throw new Error(`push channel answered ${res.status}`)
    const decoder = new TextDecoder()
    let buffer = ''
    for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
      if (generation !== started) return
      buffer += decoder.decode(chunk, { stream: true })
      let cut = buffer.indexOf('\n\n')
      while (cut >= 0) {
        const event = buffer.slice(0, cut)
        buffer = buffer.slice(cut + 2)
        const data = event
          .split('\n')
          .filter((l) => l.startsWith('data:'))
          .map((l) => l.slice(5).trimStart())
          .join('\n')
        if (data) {
          const page = verifyFeedPage(JSON.parse(data), key)
          if (generation !== started) return
          checkFeed(page)
          // A push page may overlap what polling already applied; catch up by polling then.
          if (page.since === state.seq) apply(page)
          else if (page.head > state.seq) await sync()
        }
        cut = buffer.indexOf('\n\n')
      }
    }
  }

  const run = async (): Promise<void> => {
    let backoff = 250
    while (running) {
      try {
        if (options.push !== false) {
          stream = new AbortController()
          await sync()
          await listen(stream.signal)
        } else {
          await sync()
          await sleep(options.pollMs ?? 5000)
        }
        backoff = 250
      } catch (e) {
        if (!running) return
        // Recorded for the operator; a reset or a rollback is never repaired here (no auto-resync).
        if (!(e instanceof Error && e.name === 'AbortError')) {
          lastError = e instanceof Error ? e : new Error(String(e))
          options.onWarning?.(`revocation feed: ${lastError.message}`)
        }
        await sleep(backoff)
        backoff = Math.min(backoff * 2, options.pollMs ?? 5000)
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
      return state.issuedAt
    },
    entries: (blockId) => byBlock.get(blockId),
    sync,
    resync,
    start() {
      if (running) return
      running = true
      loop = run()
    },
    async stop() {
      running = false
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

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms))
}

/** Entries by block, with resumes applied: a resume lifts every earlier suspension. */
function index(entries: readonly FeedEntry[]): Map<string, RevocationEntry[]> {
  const out = new Map<string, RevocationEntry[]>()
  for (const e of entries) {
    const list = out.get(e.blockId) ?? []
    if (e.kind === 'resume') {
      out.set(
        e.blockId,
        list.filter((x) => x.kind === 'revoke'),
      )
      continue
    }
    list.push({
      kind: e.kind,
      at: e.at,
      by: toDidKey(fromHex(e.by) ?? new Uint8Array(32)),
      ...(e.actions ? { actions: e.actions } : {}),
      ...(e.reason === undefined ? {} : { reason: e.reason }),
    })
    out.set(e.blockId, list)
  }
  return out
}
