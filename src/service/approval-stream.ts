/**
 * The approver's push channel (spec/service-v1.md §7.2): `GET /v1/approvals/stream`, signed by
 * the approver exactly as its listing is, answers server-sent events about its inbox — a
 * snapshot, then each request filed, changed or closed (approved, denied, expired) — so that the
 * approval page shows them as they happen.
 *
 * The stream learns of changes the way the long poll of `GET /v1/approvals/{id}?wait=S` does: by
 * reading the store. It reads the approver's newest pending requests once a second, and at once
 * when a write to the inbox succeeds on this instance (a filing, an approval, a denial: the
 * middleware below wakes every open stream), so that a change made here shows without delay and
 * one made by another instance on the same database within a second. The store needs nothing
 * new, and an instance that restarts loses nothing: a reconnecting client gets a fresh snapshot.
 *
 * The browser's EventSource cannot sign a request; the page reads this stream with `fetch` and a
 * signed GET instead (src/page/inbox.ts), so the stream needs no credential of its own.
 *
 * @module
 */
import type { Context, Hono } from 'hono'
import { streamSSE } from 'hono/streaming'
import type { Logger } from 'pino'
import { keyInQuery, ServiceError, stored } from './errors.js'
import type { ApprovalRecord, Store } from './store.js'

/** The stream's limits and pace (spec/service-v1.md §7.2). */
export const APPROVAL_STREAM_DEFAULTS = {
  /** How many of the approver's newest pending requests the stream watches. */
  window: 100,
  /** How often the store is read when no write on this instance woke the stream (ms). */
  pollMs: 1000,
  /** A `heartbeat` event after this many seconds without any other. */
  heartbeatSeconds: 15,
  /** The stream ends (`end`, reason `renew`) after this many seconds: the client signs a new request. */
  lifetimeSeconds: 300,
  /** Open streams per approver key, per instance. */
  maxPerApprover: 4,
  /** Open streams per instance. */
  maxStreams: 256,
} as const

/** What the stream needs from the app. */
export interface ApprovalStreamOptions {
  readonly store: Store
  /** The service clock, Unix seconds. */
  readonly clock: () => number
  /** The signed caller (401 otherwise), as the listing checks it. */
  readonly caller: (c: Context) => Promise<{ readonly did: string }>
  /** A request as `GET /v1/approvals/{id}` answers it. */
  readonly summary: (record: ApprovalRecord) => Promise<{ readonly status: string }>
  /** Aborted when the service shuts down: every stream ends at once (`end`, reason `shutdown`). */
  readonly closing?: AbortSignal | undefined
  readonly logger?: Logger | undefined
  readonly window?: number
  readonly pollMs?: number
  readonly heartbeatSeconds?: number
  readonly lifetimeSeconds?: number
  readonly maxPerApprover?: number
  readonly maxStreams?: number
  /** Called too after each write to the inbox that answered 2xx (the notifications look at once). */
  readonly inboxWritten?: (() => void) | undefined
}

/** Why a request left the approver's inbox (`closed` events). */
export type ClosedReason = 'approved' | 'denied' | 'expired' | 'gone' | 'closed'

const isInboxWrite = (c: Context) => c.req.method === 'POST' && (c.req.path === '/v1/approvals' || c.req.path.startsWith('/v1/approvals/'))

/**
 * Add `GET /v1/approvals/stream` to `app`, and the middleware that wakes open streams after each
 * successful write to the inbox. Mount it before the inbox's own routes: the middleware must wrap
 * them, and `stream` is not a request id.
 *
 * @example
 * ```ts
 * mountApprovalStream(app, { store, clock, caller: (c) => trust.caller(c, new Uint8Array(0)), summary })
 * ```
 */
export function mountApprovalStream(app: Hono, options: ApprovalStreamOptions): void {
  const { store, clock, summary } = options
  const d = APPROVAL_STREAM_DEFAULTS
  const window = options.window ?? d.window
  const pollMs = options.pollMs ?? d.pollMs
  const heartbeatMs = (options.heartbeatSeconds ?? d.heartbeatSeconds) * 1000
  const lifetimeMs = (options.lifetimeSeconds ?? d.lifetimeSeconds) * 1000
  const maxPerApprover = options.maxPerApprover ?? d.maxPerApprover
  const maxStreams = options.maxStreams ?? d.maxStreams
  const log = options.logger

  /** Each open stream's wake-up. */
  const streams = new Set<() => void>()
  const perApprover = new Map<string, number>()

  app.use('*', async (c, next) => {
    await next()
    if (!isInboxWrite(c) || c.res.status < 200 || c.res.status >= 300) return
    for (const wake of streams) wake()
    options.inboxWritten?.()
  })

  app.get('/v1/approvals/stream', async (c) => {
    const caller = await options.caller(c)
    const asked = c.req.query('approver')
    if (asked !== undefined && keyInQuery(asked, 'approver') !== caller.did) {
      throw new ServiceError(403, 'ERR_NOT_AUTHORIZED', 'an approver reads only its own inbox')
    }
    const did = caller.did
    if (streams.size >= maxStreams) throw new ServiceError(429, 'ERR_LIMIT_RATE', `this service already has ${maxStreams} open streams`)
    if ((perApprover.get(did) ?? 0) >= maxPerApprover) {
      throw new ServiceError(429, 'ERR_LIMIT_RATE', `this approver already has ${maxPerApprover} open streams; close one`)
    }
    // Read before the answer starts, so that a storage failure is an honest 503.
    const first = await stored(() => store.pendingApprovals(did, window, clock()))

    let open = true
    let dirty = false
    let wakeUp: (() => void) | undefined
    const wake = () => {
      dirty = true
      wakeUp?.()
    }
    const end = () => {
      open = false
      wake()
    }
    streams.add(wake)
    perApprover.set(did, (perApprover.get(did) ?? 0) + 1)
    const release = () => {
      if (!streams.delete(wake)) return
      const left = (perApprover.get(did) ?? 1) - 1
      if (left > 0) perApprover.set(did, left)
      else perApprover.delete(did)
      options.closing?.removeEventListener('abort', end)
    }
    options.closing?.addEventListener('abort', end, { once: true })
    /** Sleep up to `ms`, or less when woken (at once when a wake-up came meanwhile). */
    const nap = (ms: number) =>
      new Promise<void>((resolve) => {
        if (dirty || !open) return resolve()
        const timer = setTimeout(done, Math.max(0, ms))
        function done() {
          clearTimeout(timer)
          wakeUp = undefined
          resolve()
        }
        wakeUp = done
      })

    return streamSSE(c, async (stream) => {
      stream.onAbort(end)
      const started = performance.now()
      let lastSent = performance.now()
      const send = async (event: string, data: unknown) => {
        await stream.writeSSE({ event, data: JSON.stringify(data) })
        lastSent = performance.now()
      }
      /** Each watched request by id, with what it looked like when last sent. */
      let known = new Map(first.map((r) => [r.id, fingerprint(r)]))
      try {
        await send('ready', {
          approver: did,
          pending: await Promise.all(first.map(summary)),
          heartbeatSeconds: heartbeatMs / 1000,
          renewAt: clock() + Math.ceil(lifetimeMs / 1000),
        })
        while (open && !options.closing?.aborted) {
          const now = performance.now()
          const untilBeat = heartbeatMs - (now - lastSent)
          const untilRenew = lifetimeMs - (now - started)
          await nap(Math.min(pollMs, untilBeat, untilRenew))
          if (!open || options.closing?.aborted) break
          if (performance.now() - started >= lifetimeMs) {
            await send('end', { reason: 'renew' })
            return
          }
          dirty = false
          const at = clock()
          const current = await stored(() => store.pendingApprovals(did, window, at))
          const next = new Map(current.map((r) => [r.id, fingerprint(r)]))
          // Oldest first, so that a client inserting each at its place keeps newest-first order.
          for (const r of [...current].reverse()) if (known.get(r.id) !== next.get(r.id)) await send('request', await summary(r))
          for (const id of known.keys()) {
            if (next.has(id)) continue
            const closed = await closing(id, did, at, current.length >= window)
            if (closed) await send('closed', closed)
          }
          known = next
          if (performance.now() - lastSent >= heartbeatMs) await send('heartbeat', { at })
        }
        if (options.closing?.aborted) await send('end', { reason: 'shutdown' })
      } catch (e) {
        // Storage failed (or the client went away mid-write): end; the client reconnects.
        log?.warn({ error: e instanceof Error ? e.message : String(e) }, 'approval stream ended')
        if (open && !options.closing?.aborted) await send('end', { reason: 'unavailable' }).catch(() => {})
      } finally {
        release()
      }
    })
  })

  /**
   * Why a watched request left the inbox, or nothing when it only left the watched window (a
   * full window, and still pending for this approver).
   */
  async function closing(
    id: string,
    did: string,
    now: number,
    full: boolean,
  ): Promise<{ id: string; reason: ClosedReason; request?: unknown } | undefined> {
    const record = await stored(() => store.getApprovalRequest(id))
    if (!record) return { id, reason: 'gone' }
    const request = await summary(record)
    const reason: ClosedReason | undefined =
      record.approvals[did] !== undefined
        ? 'approved'
        : request.status === 'denied'
          ? 'denied'
          : record.expiresAt <= now
            ? 'expired'
            : full
              ? undefined
              : 'closed'
    return reason === undefined ? undefined : { id, reason, request }
  }
}

/** What a stored request looks like, but for its (unchanging) invocation: a change shows as another string. */
function fingerprint(record: ApprovalRecord): string {
  const { invocation: _invocation, approvals, ...rest } = record
  const sorted = Object.fromEntries(Object.entries(approvals).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
  return JSON.stringify({ ...rest, approvals: sorted })
}
