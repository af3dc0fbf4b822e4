/**
 * Notifications (spec/service-v1.md §7.3): each change of an approval request — filed,
 * approved by one approver, denied — is POSTed to every endpoint the operator configured, signed
 * with the service's key in the Standard Webhooks format (src/inbox/webhook.ts).
 *
 * Delivery is at least once and in order, per endpoint. The store records each change as an
 * inbox event in the transaction that makes it, so that no acknowledged change goes unnotified,
 * even across a crash; each endpoint has a durable cursor (the last event it acknowledged with
 * a 2xx), moved only after that answer. Instances on one database share the cursors: an
 * endpoint is leased to one instance at a time, and a lease that is not renewed lapses, so that
 * another instance takes over when one dies. A failed delivery is retried with a growing delay
 * (5 s doubling to an hour, with jitter, or the endpoint's `Retry-After`), and later events wait
 * behind it; an event that still fails after {@link WEBHOOK_GIVE_UP} seconds is dropped, and
 * logged, so that one refused event cannot hold an endpoint back for good. `410 Gone` stops
 * deliveries to that endpoint until the service restarts.
 *
 * An endpoint's URL may carry a secret (chat services put one in the path): it is never logged;
 * logs name the endpoint by its origin and the first 8 hex digits of the URL's SHA-256.
 *
 * @module
 */
import type { Logger } from 'pino'
import { getBackend } from '../crypto/ed25519.js'
import { randomBytes, sha256 } from '../crypto/hash.js'
import { assertKeyPair, type KeyPair } from '../crypto/keys.js'
import { type ApprovalEvent, formatWebhookSignature, WEBHOOK_HEADERS, webhookSigningInput } from '../inbox/webhook.js'
import { toHex, utf8 } from '../internal/bytes.js'
import { countOption } from '../internal/count.js'
import { timeoutOption } from '../internal/deadline.js'
import { summary } from './approval-summary.js'
import { INBOX_EVENT_TTL, type InboxEvent, type Store } from './store.js'

/** An event still refused this long after it happened (s) is dropped: the store keeps events no longer. */
export const WEBHOOK_GIVE_UP = INBOX_EVENT_TTL

/** Pace and limits of the deliveries. */
export const WEBHOOK_DEFAULTS = {
  /** How often an idle endpoint looks for new events when no write on this instance woke it (ms). */
  pollMs: 1000,
  /** Each delivery's deadline (ms), the answer's body included. */
  timeoutMs: 15_000,
  /** The first retry's delay (ms); each failure doubles it. */
  firstRetryMs: 5000,
  /** The longest delay between retries (ms). */
  maxRetryMs: 3_600_000,
  /** How long an endpoint's lease lasts without renewal (s). */
  leaseSeconds: 60,
  /** Events read per round. */
  batch: 20,
  /** Endpoints per service. */
  maxEndpoints: 8,
} as const

/** What the dispatcher needs. */
export interface WebhookOptions {
  readonly store: Store
  /** The service's key: it signs each delivery. */
  readonly key: KeyPair
  /** The endpoints (http or https URLs). */
  readonly urls: readonly string[]
  /** The service clock, Unix seconds. */
  readonly clock: () => number
  readonly logger?: Logger | undefined
  readonly fetch?: typeof fetch
  readonly pollMs?: number
  readonly timeoutMs?: number
  readonly firstRetryMs?: number
  readonly maxRetryMs?: number
  readonly leaseSeconds?: number
}

/** The running dispatcher. */
export interface WebhookDispatcher {
  /**
   * Settled once every endpoint has its cursor (a new one at the newest event): the events of
   * changes made after it are delivered. Await it before taking requests; it rejects when the
   * store cannot be written.
   */
  readonly ready: Promise<void>
  /** Look for new events now (after a write to the inbox on this instance). */
  wake(): void
  /** Stop: no new delivery starts; resolves when those in flight have ended. */
  stop(): Promise<void>
}

/** An endpoint's URL, checked: http(s), no credentials, no fragment. Throws a plain Error naming the problem (never the URL's path). */
export function checkWebhookUrl(text: string): URL {
  let url: URL
  try {
    url = new URL(text)
  } catch {
    throw new Error('a webhook URL must be an absolute http:// or https:// URL')
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    throw new Error(`a webhook URL must be http:// or https://, not ${url.protocol}`)
  if (url.username !== '' || url.password !== '')
    throw new Error('a webhook URL carries no user name or password (put a token in its path or query)')
  if (url.hash !== '') throw new Error('a webhook URL has no fragment (#…)')
  return url
}

/** How an endpoint is named in logs and in the store: its origin and a digest of the whole URL. */
export function endpointName(url: URL): { readonly id: string; readonly shown: string } {
  const digest = toHex(sha256(utf8(url.href)))
  return { id: `sha256:${digest}`, shown: `${url.origin} (${digest.slice(0, 8)})` }
}

/**
 * Start delivering inbox events to `options.urls`.
 *
 * @example
 * ```ts
 * declare const store: Store // the service's store
 * declare const key: KeyPair // the service's own key
 * const clock = () => Math.floor(Date.now() / 1000)
 * const hooks = startWebhooks({ store, key, urls: ['https://chat.example/hooks/T0123/secret'], clock })
 * await hooks.ready
 * // after each write to the inbox: hooks.wake()
 * await hooks.stop()
 * ```
 */
export function startWebhooks(options: WebhookOptions): WebhookDispatcher {
  const d = WEBHOOK_DEFAULTS
  if (options.urls.length > d.maxEndpoints) throw new Error(`at most ${d.maxEndpoints} webhook endpoints`)
  // One endpoint however often, or however spelled, it is named: one loop, one cursor, in order.
  const byId = new Map<string, { url: URL; id: string; shown: string }>()
  for (const u of options.urls) {
    const url = checkWebhookUrl(u)
    const named = { url, ...endpointName(url) }
    if (!byId.has(named.id)) byId.set(named.id, named)
  }
  const endpoints = [...byId.values()]
  const { store, key, clock } = options
  assertKeyPair(key, "the service's key pair")
  const log = options.logger
  const doFetch = options.fetch ?? fetch
  const pollMs = timeoutOption(options.pollMs, d.pollMs, 'pollMs')
  const timeoutMs = timeoutOption(options.timeoutMs, d.timeoutMs, 'timeoutMs')
  const firstRetryMs = timeoutOption(options.firstRetryMs, d.firstRetryMs, 'firstRetryMs')
  const maxRetryMs = timeoutOption(options.maxRetryMs, d.maxRetryMs, 'maxRetryMs')
  const leaseSeconds = countOption(options.leaseSeconds, d.leaseSeconds, 1, 86_400, 'leaseSeconds')
  // This instance, as a lease holder: random, so that a restarted instance is another holder.
  const holder = toHex(randomBytes(16))
  const stopping = new AbortController()
  const wakers = new Set<() => void>()

  const ready = (async () => {
    const now = clock()
    for (const endpoint of endpoints) await store.leaseWebhook(endpoint.id, holder, now, now + leaseSeconds)
  })()
  const loops = endpoints.map(async (endpoint) => {
    await ready.catch(() => {})
    let failures = 0
    let delayMs = 0
    let retrying = false
    while (!stopping.signal.aborted) {
      await nap(delayMs, retrying)
      if (stopping.signal.aborted) break
      delayMs = pollMs
      retrying = false
      try {
        const now = clock()
        const cursor = await store.leaseWebhook(endpoint.id, holder, now, now + leaseSeconds)
        if (cursor === undefined) continue // another instance delivers to it
        const events = await store.inboxEvents(cursor, d.batch)
        for (const event of events) {
          if (stopping.signal.aborted) break
          const outcome = await deliver(endpoint, event)
          if (outcome.kind === 'gone') {
            log?.error({ endpoint: endpoint.shown }, 'the webhook endpoint answered 410 Gone: no more deliveries to it until restart')
            return
          }
          if (outcome.kind === 'failed') {
            if (clock() - event.at <= WEBHOOK_GIVE_UP) {
              failures += 1
              const backoff = Math.min(maxRetryMs, firstRetryMs * 2 ** Math.min(failures - 1, 30))
              const jittered = backoff * (0.8 + 0.4 * Math.random())
              delayMs = Math.min(maxRetryMs, Math.max(jittered, outcome.retryAfterMs ?? 0))
              retrying = true
              log?.warn(
                { endpoint: endpoint.shown, event: event.seq, failures, retryInMs: Math.round(delayMs), why: outcome.why },
                'webhook delivery failed',
              )
              break
            }
            log?.error({ endpoint: endpoint.shown, event: event.seq, why: outcome.why }, 'webhook event dropped: refused for too long')
          }
          failures = 0
          // A lease lost meanwhile: the other holder carries on from its own cursor.
          if (!(await store.advanceWebhook(endpoint.id, holder, event.seq))) break
        }
        if (events.length === d.batch && !retrying) delayMs = 0
      } catch (e) {
        // Storage failed: try again later; nothing was acknowledged to the endpoint's cursor.
        log?.warn({ endpoint: endpoint.shown, error: e instanceof Error ? e.message : String(e) }, 'webhook round failed')
        delayMs = Math.min(maxRetryMs, firstRetryMs)
        retrying = true
      }
    }
  })

  /** Sleep `ms`; a wake-up ends an idle sleep early, never a retry's delay. */
  function nap(ms: number, retrying: boolean): Promise<void> {
    if (ms <= 0) return Promise.resolve()
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer)
        wakers.delete(done)
        stopping.signal.removeEventListener('abort', done)
        resolve()
      }
      const timer = setTimeout(done, ms)
      if (!retrying) wakers.add(done)
      stopping.signal.addEventListener('abort', done, { once: true })
    })
  }

  type Outcome = { kind: 'delivered' | 'gone' } | { kind: 'failed'; why: string; retryAfterMs?: number }

  async function deliver(endpoint: (typeof endpoints)[number], event: InboxEvent): Promise<Outcome> {
    const record = await store.getApprovalRequest(event.requestId)
    // Deleted since (a day after it expired): nothing left to say about it.
    if (!record) return { kind: 'delivered' }
    const { invocation: _invocation, approvals, ...described } = summary(record)
    const body: ApprovalEvent = {
      type: `approval.${event.kind}`,
      timestamp: new Date(event.at * 1000).toISOString().replace('.000Z', 'Z'),
      data: {
        id: event.requestId,
        ...(event.by === undefined ? {} : { by: event.by }),
        request: { ...described, approvedBy: record.approvers.filter((a) => approvals[a] !== undefined) },
      },
    }
    const bytes = utf8(JSON.stringify(body))
    // Stable across retries and instances: the receiver's idempotency key.
    const id = `mnw_${event.seq}_${event.requestId.slice(0, 16)}`
    const timestamp = clock()
    const signature = getBackend().sign(key.secretKey, webhookSigningInput(id, timestamp, bytes), key.publicKey)
    const deadline = AbortSignal.any([AbortSignal.timeout(timeoutMs), stopping.signal])
    try {
      const answer = await doFetch(endpoint.url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'user-agent': 'mandate-service',
          [WEBHOOK_HEADERS.id]: id,
          [WEBHOOK_HEADERS.timestamp]: String(timestamp),
          [WEBHOOK_HEADERS.signature]: formatWebhookSignature(signature),
        },
        body: bytes,
        // A redirect is a failure (Standard Webhooks): the operator updates the URL.
        redirect: 'manual',
        signal: deadline,
      })
      await answer.body?.cancel().catch(() => {})
      if (answer.status >= 200 && answer.status < 300) return { kind: 'delivered' }
      if (answer.status === 410) return { kind: 'gone' }
      const retryAfter = Number(answer.headers.get('retry-after'))
      return {
        kind: 'failed',
        why: `answered ${answer.status}`,
        ...(Number.isFinite(retryAfter) && retryAfter > 0 ? { retryAfterMs: retryAfter * 1000 } : {}),
      }
    } catch {
      // The error's message may hold the URL: only what kind of failure it was is kept.
      return { kind: 'failed', why: deadline.aborted && !stopping.signal.aborted ? `no answer within ${timeoutMs} ms` : 'unreachable' }
    }
  }

  return {
    ready,
    wake() {
      for (const wake of [...wakers]) wake()
    },
    async stop() {
      stopping.abort()
      await Promise.all(loops)
    },
  }
}
