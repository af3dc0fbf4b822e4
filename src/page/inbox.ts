/**
 * The approval page's calls to the service (spec/service-v1.md §7), every one signed in the
 * browser by the approver's key (RFC 9421, src/crypto/http-signature.ts), and its push stream
 * (§7.2) read with `fetch` and a signed GET: EventSource cannot sign. The service is the one
 * that served the page: URLs resolve against the page's own (`../v1/…` from `/approvals/`), so
 * a proxy that serves the service under a path prefix keeps working.
 *
 * @module
 */
import type { UnverifiedApproval } from '../token/approval.js'
import { formatApproval } from '../token/approval.js'
import { createServiceClock } from './clock.js'
import type { ApproverKey } from './keys.js'
import { createSseParser, type ServerSentEvent } from './sse.js'

/** An answer of the service: its status and JSON body (`{}` when there was none). */
export interface Answer {
  readonly status: number
  readonly body: Record<string, unknown>
}

/** The error an answer carries (`{"error": {"code", "message"}}`), if any. */
export function errorOf(answer: Answer): { code: string; message: string } | undefined {
  const e = answer.body['error'] as { code?: unknown; message?: unknown } | undefined
  return typeof e?.code === 'string' && typeof e.message === 'string' ? { code: e.code, message: e.message } : undefined
}

/** The service clock, learned from each answer's `Date` (src/page/clock.ts). */
const clock = createServiceClock()

/** The service clock, as well as this page knows it (Unix seconds). */
export function serviceNow(): number {
  return clock.now()
}

/** The absolute URL of an API path, against the page's location. */
export function apiUrl(path: string): string {
  return new URL(`..${path}`, document.baseURI).href
}

/**
 * One signed request; the body, when given, is JSON. A request refused as stale
 * (`ERR_REQUEST_STALE`: this browser's clock is off) is signed again, once, on the service
 * clock its answer gave.
 */
export async function call(key: ApproverKey, method: 'GET' | 'POST', path: string, body?: unknown, signal?: AbortSignal): Promise<Answer> {
  const first = await send(key, method, path, body, signal)
  if (first.status === 401 && errorOf(first)?.code === 'ERR_REQUEST_STALE') return send(key, method, path, body, signal)
  return first
}

async function send(key: ApproverKey, method: 'GET' | 'POST', path: string, body?: unknown, signal?: AbortSignal): Promise<Answer> {
  const url = apiUrl(path)
  const bytes = body === undefined ? undefined : new TextEncoder().encode(JSON.stringify(body))
  const headers: Record<string, string> = {
    accept: 'application/json',
    ...(bytes === undefined ? {} : { 'content-type': 'application/json' }),
    // Signed anew for each request: the service accepts a (keyid, nonce) once.
    ...(await key.sign({ method, url, ...(bytes === undefined ? {} : { body: bytes }) }, serviceNow())),
  }
  const res = await fetch(url, {
    method,
    headers,
    ...(bytes === undefined ? {} : { body: bytes }),
    credentials: 'omit',
    cache: 'no-store',
    redirect: 'error',
    ...(signal ? { signal } : {}),
  })
  clock.learn(res.headers.get('date'))
  const text = await res.text()
  let parsed: unknown = {}
  try {
    parsed = text === '' ? {} : JSON.parse(text)
  } catch {
    parsed = {}
  }
  const record = typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed) ? (parsed as Record<string, unknown>) : {}
  return { status: res.status, body: record }
}

/** One page of the approver's pending requests, newest first (`GET /v1/approvals`). */
export function listPending(key: ApproverKey, before?: string): Promise<Answer> {
  const query = new URLSearchParams({ approver: key.did, limit: '20', ...(before === undefined ? {} : { before }) })
  return call(key, 'GET', `/v1/approvals?${query}`)
}

/** Post an approval (`POST /v1/approvals/{id}`). */
export function postApproval(key: ApproverKey, id: string, approval: UnverifiedApproval): Promise<Answer> {
  return call(key, 'POST', `/v1/approvals/${id}`, { approval: formatApproval(approval) })
}

/** Deny with a reason (`POST /v1/approvals/{id}/deny`). */
export function postDenial(key: ApproverKey, id: string, reason: string): Promise<Answer> {
  return call(key, 'POST', `/v1/approvals/${id}/deny`, { reason })
}

/** The states of the push stream, for the page to show. */
export type StreamState =
  | { readonly state: 'connecting' }
  | { readonly state: 'open' }
  | { readonly state: 'waiting'; readonly seconds: number; readonly why: string }
  | { readonly state: 'stopped'; readonly why: string }

/** How the page follows its stream. */
export interface StreamOptions {
  readonly key: ApproverKey
  readonly onEvent: (event: ServerSentEvent) => void
  readonly onState: (state: StreamState) => void
  /** Reconnect when nothing (not even a heartbeat) arrived for this long (default 45 s: three heartbeats). */
  readonly idleMs?: number
}

/**
 * Follow `GET /v1/approvals/stream` until `close()`: each connection signed anew; on an `end`
 * event, a failure or silence, connect again (at once after `renew`, else after 1, 2, 4… up to
 * 30 s). A refusal that will not change by itself (401, 403, 404) stops it.
 */
export function followStream(options: StreamOptions): { close(): void } {
  const idleMs = options.idleMs ?? 45_000
  let closed = false
  let current: AbortController | undefined
  let wakeUp: (() => void) | undefined
  const pause = (ms: number) =>
    new Promise<void>((resolve) => {
      const timer = setTimeout(done, ms)
      function done() {
        clearTimeout(timer)
        wakeUp = undefined
        resolve()
      }
      wakeUp = done
    })

  /** One connection; resolves with the delay before the next, or undefined to stop. */
  let opened = false
  const connect = async (): Promise<{ delay: 'now' | 'backoff'; why: string } | { stop: string }> => {
    const controller = new AbortController()
    current = controller
    let idle: ReturnType<typeof setTimeout> | undefined
    const arm = () => {
      clearTimeout(idle)
      idle = setTimeout(() => controller.abort(new Error('the stream went silent')), idleMs)
    }
    try {
      options.onState({ state: 'connecting' })
      const url = apiUrl(`/v1/approvals/stream?${new URLSearchParams({ approver: options.key.did })}`)
      const headers = { accept: 'text/event-stream', ...(await options.key.sign({ method: 'GET', url }, serviceNow())) }
      arm()
      const res = await fetch(url, { headers, credentials: 'omit', cache: 'no-store', redirect: 'error', signal: controller.signal })
      clock.learn(res.headers.get('date'))
      if (!res.ok || !res.body) {
        const why = `the service answered ${res.status}`
        const code = ((await res.json().catch(() => undefined)) as { error?: { code?: unknown } } | undefined)?.error?.code
        // Stale: this browser's clock is off; the answer's Date has set it right for the next try.
        if (code === 'ERR_REQUEST_STALE') return { delay: 'backoff', why: "this browser's clock differs from the service's" }
        if (res.status === 401 || res.status === 403 || res.status === 404) return { stop: why }
        return { delay: 'backoff', why }
      }
      let ended: string | undefined
      const parser = createSseParser((event) => {
        if (event.event === 'ready') {
          opened = true
          options.onState({ state: 'open' })
        }
        if (event.event === 'end') {
          try {
            ended = String((JSON.parse(event.data) as { reason?: unknown }).reason ?? 'end')
          } catch {
            ended = 'end'
          }
        }
        options.onEvent(event)
      })
      const reader = res.body.pipeThrough(new TextDecoderStream()).getReader()
      for (;;) {
        const { value, done } = await reader.read()
        if (done) break
        arm()
        parser.push(value)
      }
      if (ended === 'renew') return { delay: 'now', why: 'renewed' }
      return { delay: 'backoff', why: ended === undefined ? 'the stream ended' : `the stream ended (${ended})` }
    } catch (e) {
      return { delay: 'backoff', why: e instanceof Error ? e.message : 'the stream failed' }
    } finally {
      clearTimeout(idle)
      controller.abort()
    }
  }

  void (async () => {
    let backoff = 1
    while (!closed) {
      opened = false
      const outcome = await connect()
      if (closed) break
      // A stream that was open starts its retries afresh.
      if (opened) backoff = 1
      if ('stop' in outcome) {
        options.onState({ state: 'stopped', why: outcome.stop })
        return
      }
      if (outcome.delay === 'now') {
        backoff = 1
        continue
      }
      options.onState({ state: 'waiting', seconds: backoff, why: outcome.why })
      await pause(backoff * 1000)
      backoff = Math.min(30, backoff * 2)
    }
  })()

  return {
    close() {
      closed = true
      current?.abort()
      wakeUp?.()
    },
  }
}
