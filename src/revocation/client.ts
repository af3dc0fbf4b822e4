/**
 * A revocation view kept current from a service's signed feed (spec/service-v1.md §4.3).
 *
 * It pins the service key, applies only pages that verify, never goes backwards (a page whose
 * head or issue time is older than what it holds is a rollback and is rejected), rejects
 * pages past their `next_update` (freeze), persists its state before using it, and reports
 * its freshness so that the verifier fails closed once it is stale. Push (server-sent
 * events) when the service offers it; polling otherwise.
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
}

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
  /** Fetch and apply everything new; throws `ERR_REVOCATION_LIST_INVALID` on a bad page. */
  sync(): Promise<void>
  /** Keep syncing in the background (push, else polling) until {@link stop}. */
  start(): void
  stop(): Promise<void>
  /** The highest sequence number applied. */
  readonly seq: number
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

  /** Check a page against what we hold, persist, then apply. */
  const apply = (page: FeedPage): void => {
    const now = clock()
    if (page.since !== state.seq) throw invalid(`the page starts at ${page.since}, not at ${state.seq}`)
    if (page.head < state.seq) throw invalid(`rollback: the page's head ${page.head} is below ${state.seq}`)
    if (page.issuedAt < state.issuedAt) throw invalid(`rollback: the page was issued before the one already held`)
    if (now >= page.nextUpdate) throw invalid('the page is past its next_update (frozen feed)')
    const last = page.entries[page.entries.length - 1]
    const next: FeedState = {
      seq: page.more ? (last?.seq ?? state.seq) : page.head,
      issuedAt: page.more ? state.issuedAt : page.issuedAt,
      entries: [...state.entries, ...page.entries].filter((e) => e.expires >= now),
    }
    // Persist before use, so that a restart can never fall back to an older view.
    options.state?.save(next)
    state = next
    byBlock = index(state.entries)
  }

  const sync = async (): Promise<void> => {
    for (let guard = 0; guard < 10_000; guard++) {
      const res = await doFetch(`${base}/v1/revocations?since=${state.seq}`, { headers: etag ? { 'if-none-match': etag } : {} })
      if (res.status === 304) return
      if (!res.ok) throw new MandateError('ERR_REVOCATION_STALE', `the revocation service answered ${res.status}`)
      const page = verifyFeedPage(await res.json(), key)
      apply(page)
      etag = page.more ? undefined : (res.headers.get('etag') ?? undefined)
      if (!page.more) return
    }
  }

  const listen = async (signal: AbortSignal): Promise<void> => {
    const res = await doFetch(`${base}/v1/revocations/stream?since=${state.seq}`, { headers: { accept: 'text/event-stream' }, signal })
    if (!res.ok || !res.body) throw new Error(`push channel answered ${res.status}`)
    const decoder = new TextDecoder()
    let buffer = ''
    for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
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
        options.onWarning?.(`revocation feed: ${e instanceof Error ? e.message : String(e)}`)
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
      return state.issuedAt
    },
    entries: (blockId) => byBlock.get(blockId),
    sync,
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
