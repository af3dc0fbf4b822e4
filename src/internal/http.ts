/**
 * HTTP for the library's service clients. Every request runs under a deadline that covers the
 * answer's body too (a server that sends headers and then stalls times out like one that
 * never answers), and any failure to get a usable answer (unreachable, timed out, an error
 * status, a body that is not JSON) becomes a MandateError with the caller's code, so that the
 * verifier denies with it (fail closed). Messages name the URL without its query or any
 * credentials.
 *
 * @module
 */
import { MandateError, type MandateErrorCode } from '../errors.js'
import { joinBytes } from './bytes.js'
import { deadline, pause } from './deadline.js'
import { printable } from './printable.js'

/** The part of `fetch` the clients use; `typeof fetch` fits. */
export type Fetcher = (input: string, init: RequestInit) => Promise<Response>

/** How a request is made and, when no answer comes, reported. */
export interface RequestOptions<T> {
  readonly fetch: Fetcher
  /** The whole exchange, headers and body, must end within this many ms. */
  readonly timeoutMs: number
  readonly code: MandateErrorCode
  /** What is asked, for messages: `revocation feed`, `usage service`. */
  readonly what: string
  readonly hint: string
  /** An outer abort (a `stop()`): its error is thrown as is, never reported as a failure. */
  readonly signal?: AbortSignal | undefined
  /** Background work: the deadline's timer must not keep the process alive. */
  readonly unref?: boolean | undefined
  /** Read the answer, under the same deadline; `signal` tells a timed-out read from a bad body. */
  readonly read: (res: Response, signal: AbortSignal) => Promise<T>
}

/**
 * Fetch `url` and read the answer within `timeoutMs`. Throws the caller's code when no answer
 * came: "did not answer within N ms" on a timeout, "cannot be reached" otherwise. An error
 * `read` throws as a MandateError (a bad page, an error status) passes through.
 *
 * @example
 * ```ts
 * const page = await fetchWithin(`${base}/v1/revocations?since=0`, {}, {
 *   fetch, timeoutMs: 10_000, code: 'ERR_REVOCATION_STALE', what: 'revocation feed', hint: '…',
 *   read: (res) => res.json(),
 * })
 * ```
 */
export async function fetchWithin<T>(url: string, init: RequestInit, o: RequestOptions<T>): Promise<T> {
  const d = deadline(o.timeoutMs, { parent: o.signal, unref: o.unref })
  // Called as a plain function: browsers and workers reject a fetch called as another object's method.
  const doFetch = o.fetch
  let res: Response | undefined
  try {
    res = await doFetch(url, { ...init, signal: d.signal })
    return await o.read(res, d.signal)
  } catch (cause) {
    if (o.signal?.aborted) throw cause
    if (d.expired) throw timedOut(url, o)
    if (cause instanceof MandateError) throw cause
    const how = res === undefined ? 'cannot be reached' : 'broke off its answer'
    throw new MandateError(o.code, `the ${o.what} at ${describeUrl(url)} ${how} (${describeFailure(cause)})`, { cause, hint: o.hint })
  } finally {
    d.clear()
    // An answer left unread holds its connection until collected: let it go now.
    if (res?.body && !res.bodyUsed) res.body.cancel().catch(() => {})
  }
}

/** The most a service answer to a write (a consume, a claim, a report) may hold: they are small. */
export const ANSWER_MAX_BYTES = 1 << 20

/**
 * The most a page may hold: a feed page of 500 entries, each with a statement of up to 16,384
 * bytes (spec/service-v1.md §4.3, §5.1), or an inbox page of 100 requests, is under 12 MiB.
 */
export const PAGE_MAX_BYTES = 16 << 20

/**
 * The body of an answer, read up to `max` bytes: `tooLarge()` is thrown as soon as it is known
 * to be longer — from its Content-Length, or as it streams (decoded: a compressed body counts
 * what it inflates to) — and the rest is never read, so that whoever answers cannot make the
 * reader hold gigabytes before its deadline. A failure to read (the connection broke, the
 * deadline cut it) is thrown as it came.
 *
 * @example
 * ```ts
 * const bytes = await bodyUpTo(res, PAGE_MAX_BYTES, () => new CliError('ERR_IO', 'the answer is too long'))
 * ```
 */
export async function bodyUpTo(res: Response, max: number, tooLarge: () => Error, signal?: AbortSignal): Promise<Uint8Array> {
  const announced = res.headers.get('content-length')
  if (announced !== null && Number(announced) > max) throw tooLarge()
  if (res.body === null) return new Uint8Array(0)
  signal?.throwIfAborted()
  const reader = res.body.getReader()
  // A signal of the caller's own (not the fetch's) ends a body that trickles: the pending read ends.
  const stop = () => reader.cancel().catch(() => {})
  signal?.addEventListener('abort', stop, { once: true })
  const chunks: Uint8Array[] = []
  let size = 0
  try {
    for (;;) {
      const { done, value } = await reader.read()
      signal?.throwIfAborted()
      if (done) break
      size += value.byteLength
      if (size > max) {
        reader.cancel().catch(() => {})
        throw tooLarge()
      }
      chunks.push(value)
    }
  } finally {
    signal?.removeEventListener('abort', stop)
  }
  return joinBytes(chunks)
}

/**
 * The JSON of an answer, read up to `max` bytes ({@link bodyUpTo}): `undefined` when the body is
 * not JSON (or not UTF-8), as `Response.json()` would fail. A body that breaks off, or is cut by
 * the deadline, is no answer: thrown as it came (a timeout, or "broke off", by fetchWithin).
 *
 * @example
 * ```ts
 * const body = await jsonUpTo(res, ANSWER_MAX_BYTES, () => new MandateError(code, 'the answer is too long'))
 * ```
 */
export async function jsonUpTo(res: Response, max: number, tooLarge: () => Error): Promise<unknown> {
  return parseJsonBytes(await bodyUpTo(res, max, tooLarge))
}

/** UTF-8 JSON, or undefined. */
export function parseJsonBytes(bytes: Uint8Array): unknown {
  try {
    return JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes))
  } catch {
    return undefined
  }
}

/** The error for an answer longer than `max` bytes. */
export function tooLong(url: string, o: Pick<RequestOptions<unknown>, 'code' | 'what' | 'hint'>, max: number): MandateError {
  return new MandateError(o.code, `the ${o.what} at ${describeUrl(url)} answered with more than ${max} bytes`, { hint: o.hint })
}

/** The error for a request that ran out of time. */
export function timedOut(url: string, o: Pick<RequestOptions<unknown>, 'code' | 'what' | 'hint' | 'timeoutMs'>): MandateError {
  return new MandateError(o.code, `the ${o.what} at ${describeUrl(url)} did not answer within ${o.timeoutMs} ms (timed out)`, {
    hint: o.hint,
  })
}

/**
 * A URL for messages and logs: origin and path, never the query or `user:password@`.
 *
 * @example
 * ```ts
 * describeUrl('https://u:secret@svc.example/v1/usage/consume?k=1') // 'https://svc.example/v1/usage/consume'
 * ```
 */
export function describeUrl(url: string): string {
  try {
    const u = new URL(url)
    return `${u.origin}${u.pathname}`
  } catch {
    return 'an unreadable URL'
  }
}

/**
 * The base URL of a service client (`url`, or `title` for an option nested elsewhere), without
 * trailing slashes: an absolute http(s) URL with a host, and nothing after its path. Checked
 * when the client is made, so that a mistyped one is an error at start-up, not a denial at
 * every request. One with credentials (`user:password@`) is refused: fetch refuses it at every
 * request anyway, quoting it whole, password included, in an error a logger may print; the
 * service knows its callers by their signatures. No message echoes the URL.
 *
 * @example
 * ```ts
 * serviceBase('http://127.0.0.1:8787//') // 'http://127.0.0.1:8787'
 * serviceBase('127.0.0.1:8787')          // throws TypeError
 * ```
 */
export function serviceBase(url: unknown, title = 'url'): string {
  let parsed: URL | undefined
  // http(s)://, then a host: at least one character that is neither a space nor a slash.
  if (typeof url === 'string' && /^https?:\/\/[^\s/]/i.test(url)) {
    try {
      parsed = new URL(url)
    } catch {
      parsed = undefined
    }
  }
  if (typeof url !== 'string' || parsed === undefined) throw new TypeError(`"${title}" expected the service's http(s) base URL`)
  if (parsed.username !== '' || parsed.password !== '') {
    throw new TypeError(`"${title}" carries credentials (user@ or user:password@): give the service's URL without them`)
  }
  // The paths of the protocol are appended to it: after a query or a fragment they would be neither.
  if (/[?#]/.test(url)) throw new TypeError(`"${title}" expected a base URL without a query or a fragment`)
  return url.replace(/\/+$/, '')
}

/**
 * Why a request failed, in a few words: the system's code when fetch wraps one ("fetch failed:
 * ECONNREFUSED"). A URL the runtime quotes is cut to origin and path: Node's fetch quotes it
 * whole, credentials included, when it refuses one.
 *
 * @example
 * ```ts
 * describeFailure(new TypeError('fetch failed', { cause: { code: 'ECONNREFUSED' } })) // 'fetch failed: ECONNREFUSED'
 * ```
 */
export function describeFailure(cause: unknown): string {
  if (!(cause instanceof Error)) return 'failed'
  const inner = (cause as { cause?: { code?: unknown } }).cause
  const message = cause.message.replace(/\b[a-z][a-z0-9+.-]*:\/\/[^\s]+/gi, (url) => describeUrl(url))
  return typeof inner?.code === 'string' ? `${message}: ${inner.code}` : message
}

/** Where to post, and how a failure is reported. */
export interface PostOptions {
  readonly fetch: Fetcher
  /** Each attempt, headers and body, ends within this many ms. */
  readonly timeoutMs: number
  readonly code: MandateErrorCode
  readonly what: string
  readonly hint: string
  /**
   * The headers that sign the request (RFC 9421), made anew for each attempt: the service only
   * lets known verifiers write. The caller brings the signature (`signRequest` with its key),
   * so that this transport knows nothing of keys.
   */
  readonly sign?: (request: { readonly method: string; readonly url: string; readonly body: Uint8Array }) => Record<string, string>
  /**
   * Send again, signed anew, when no answer came (unreachable, timed out, 503): only for
   * idempotent requests, where a late first answer and the retry's are the same answer.
   */
  readonly retries?: number
}

/** The error answer of the service, when it gave one. */
interface ErrorAnswer {
  readonly code?: unknown
  readonly message?: unknown
}

/** What came back: the status and the JSON body, if it was JSON. */
interface Answer {
  readonly status: number
  readonly ok: boolean
  readonly body: Record<string, unknown> | undefined
}

/** POST `body` as JSON to `url`; the parsed JSON answer of a 2xx. */
export async function postJson(url: string, body: unknown, o: PostOptions): Promise<Record<string, unknown>> {
  const bytes = new TextEncoder().encode(JSON.stringify(body))
  let last: MandateError | undefined
  for (let attempt = 0; attempt <= (o.retries ?? 0); attempt++) {
    if (attempt > 0) await pause(100 * 3 ** (attempt - 1))
    const headers: Record<string, string> = {
      'content-type': 'application/json',
      ...(o.sign ? o.sign({ method: 'POST', url, body: bytes }) : {}),
    }
    let answer: Answer
    let refused: MandateError | undefined
    try {
      // An answer is small: past ANSWER_MAX_BYTES it is refused as it streams (an answer all
      // the same: final). A body that breaks off is no answer (retried, spec §6.1), as is one
      // cut by the deadline.
      const read = async (res: Response): Promise<Answer> => {
        const json = await jsonUpTo(res, ANSWER_MAX_BYTES, () => {
          refused = tooLong(url, o, ANSWER_MAX_BYTES)
          return refused
        })
        return { status: res.status, ok: res.ok, body: json as Record<string, unknown> | undefined }
      }
      // A redirect is an answer like any other (not 2xx: refused), never followed: the signed
      // request would go, headers and all, wherever the answer points, and a 303 would turn it
      // into a GET whose answer was taken for the service's.
      answer = await fetchWithin(url, { method: 'POST', headers, body: bytes, redirect: 'manual' }, { ...o, read })
    } catch (e) {
      if (e === refused) {
        last = refused
        break
      }
      // No answer (unreachable, timed out, broken off): a retry may get one.
      last = e instanceof MandateError ? e : new MandateError(o.code, `the ${o.what} failed`, { cause: e, hint: o.hint })
      continue
    }
    if (answer.ok && typeof answer.body === 'object' && answer.body !== null) return answer.body
    const error = answer.body?.['error'] as ErrorAnswer | undefined
    // The service's own words, as text, escaped and cut: a decision's message reaches logs and terminals.
    const code = typeof error?.code === 'string' ? error.code : undefined
    const said = code !== undefined && typeof error?.message === 'string' ? `: ${printable(code, 64)} ${printable(error.message, 300)}` : ''
    last = new MandateError(o.code, `the ${o.what} answered ${answer.status}${said}`, {
      hint: refusalHint(answer.status, code) ?? o.hint,
    })
    if (answer.status !== 503) break
  }
  throw last as MandateError
}

/**
 * A service that answered 401 or 403 is up and refused this verifier: a configuration mistake
 * to fix, not an outage to wait out (the request is still denied, fail closed).
 */
function refusalHint(status: number, code: string | undefined): string | undefined {
  if (status === 401) {
    return "the service does not accept this verifier's signed request: is its key registered there (mandate serve --verifier NAME=KEY), and do the clocks agree?"
  }
  if (status !== 403) return undefined
  if (code === 'ERR_AUDIENCE') {
    return "the service registered this verifier's key under another name than the audience of this request: use the key registered for this audience"
  }
  return 'the service refused this verifier for this request (see the code above); fix the configuration, retrying will not help'
}
