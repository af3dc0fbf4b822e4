/**
 * Requests to a service: small JSON ones under a deadline, signed when a key is given, every
 * failure a readable error naming the URL; and the service key to pin.
 *
 * @module
 */

import { signRequest } from '../crypto/http-signature.js'
import { type KeyPair, parsePublicKey, toDidKey } from '../crypto/keys.js'
import { bodyUpTo, PAGE_MAX_BYTES, parseJsonBytes } from '../internal/http.js'
import { CliError } from './errors.js'
import type { Io } from './io.js'
import { type Service, shownUrl } from './service-flags.js'

const REASONS: Record<string, string> = {
  ECONNREFUSED: 'connection refused',
  ECONNRESET: 'the connection was reset',
  ENOTFOUND: 'no such host',
  EAI_AGAIN: 'the host name cannot be resolved now',
  EHOSTUNREACH: 'no route to the host',
  ENETUNREACH: 'the network is unreachable',
  ETIMEDOUT: 'the connection timed out',
  UND_ERR_SOCKET: 'the connection closed before an answer',
}

/** The network reason under a failed fetch, in words. */
function networkReason(e: unknown): string {
  const cause = (e as { cause?: unknown }).cause ?? e
  const inner = cause instanceof AggregateError ? cause.errors[0] : cause
  const code = (inner as NodeJS.ErrnoException | undefined)?.code ?? (cause as NodeJS.ErrnoException | undefined)?.code
  if (code && REASONS[code]) return REASONS[code]
  return inner instanceof Error ? inner.message : e instanceof Error ? e.message : 'failed'
}

/** The error for a request that got no usable answer: timed out, or could not connect. */
export function noAnswer(service: Service, ms: number, e: unknown, timedOut: boolean): CliError {
  const url = shownUrl(service.url)
  if (timedOut) {
    return new CliError(
      'ERR_IO',
      `the service at ${url} did not answer within ${ms / 1000}s`,
      'is it the mandate service, and is it up? wait longer with --timeout SECONDS (or MANDATE_TIMEOUT)',
    )
  }
  return new CliError(
    'ERR_IO',
    `cannot reach the service at ${url}: ${networkReason(e)}`,
    'is `mandate serve` running there? check --service (or MANDATE_SERVICE)',
  )
}

/**
 * JSON request to the service under its deadline (headers and body); network failures and
 * timeouts exit 3 naming the URL, error answers carry the service's code. With `key`, the
 * request is signed (RFC 9421) so that the service knows who asks: an approver reading its
 * inbox or answering, a verifier spending a use. `extraMs` lengthens the deadline for a request
 * the service holds on purpose (a long poll).
 */
export async function call<T>(
  service: Service,
  path: string,
  init: { method?: string; body?: unknown; key?: KeyPair; extraMs?: number } = {},
): Promise<{ status: number; body: T }> {
  const method = init.method ?? 'GET'
  const target = `${service.url}${path}`
  const bytes = init.body === undefined ? undefined : new TextEncoder().encode(JSON.stringify(init.body))
  const headers: Record<string, string> = {
    ...(bytes === undefined ? {} : { 'content-type': 'application/json' }),
    ...(init.key ? signRequest({ method, url: target, ...(bytes === undefined ? {} : { body: bytes }) }, init.key) : {}),
  }
  const ms = service.timeoutMs + (init.extraMs ?? 0)
  const signal = AbortSignal.timeout(ms)
  const shown = `${method} ${path.replace(/\?.*$/, '')}`
  const tooLong = new CliError(
    'ERR_IO',
    `the service at ${shownUrl(service.url)} answered ${shown} with more than ${PAGE_MAX_BYTES} bytes`,
    'is --service (or MANDATE_SERVICE) the mandate service?',
  )
  let res: Response
  let received: Uint8Array
  try {
    // Never followed: a signed request goes to the service named, and nowhere it points.
    res = await fetch(target, { method, headers, redirect: 'manual', ...(bytes === undefined ? {} : { body: bytes }), signal })
    // Up to the largest page (an audit page, an inbox): whoever answers cannot fill the memory.
    received = await bodyUpTo(res, PAGE_MAX_BYTES, () => tooLong)
  } catch (e) {
    if (e === tooLong) throw e
    throw noAnswer(service, ms, e, signal.aborted)
  }
  if (res.status >= 300 && res.status < 400) {
    throw new CliError(
      'ERR_IO',
      `the service at ${shownUrl(service.url)} answered ${shown} with a redirect (HTTP ${res.status}), which a signed request does not follow`,
      'point --service (or MANDATE_SERVICE) at the service itself',
    )
  }
  const body = parseJsonBytes(received) as (T & { error?: { code?: unknown; message?: unknown } }) | undefined
  if (!res.ok) {
    const code = typeof body?.error?.code === 'string' ? body.error.code : 'ERR_SERVICE'
    const message = typeof body?.error?.message === 'string' ? body.error.message : `HTTP ${res.status}`
    throw new ServiceAnswer(res.status, code, message)
  }
  if (body === undefined) {
    throw new CliError(
      'ERR_IO',
      `the service at ${shownUrl(service.url)} answered ${shown} with something that is not JSON`,
      'is --service (or MANDATE_SERVICE) the mandate service?',
    )
  }
  return { status: res.status, body }
}

/** An error answer from the service: 4xx are the caller's problem (exit 1/2), 5xx operational (3). */
export class ServiceAnswer extends CliError {
  constructor(
    readonly status: number,
    readonly serviceCode: string,
    message: string,
  ) {
    super(status >= 500 ? 'ERR_IO' : 'ERR_USAGE', `${message} (${serviceCode}, HTTP ${status})`)
  }
  /** 401/403: rejected (1); other 4xx: malformed (2); 5xx: operational (3). */
  override get exit(): 1 | 2 | 3 {
    return this.status >= 500 ? 3 : this.status === 401 || this.status === 403 ? 1 : 2
  }
  /** The service's own code (ERR_CONFLICT, ERR_NOT_AUTHORIZED, …): what a script acts on. */
  override get shownCode(): string {
    return /^ERR_[A-Z0-9_]{1,60}$/.test(this.serviceCode) ? this.serviceCode : this.code
  }
}

/** The service key to pin: `--service-key`, MANDATE_SERVICE_KEY, else learned from the service (said on stderr). */
export async function serviceKey(io: Io, service: Service, flag: string | undefined): Promise<string> {
  const given = flag ?? io.env['MANDATE_SERVICE_KEY']
  if (given) return toDidKey(parsePublicKey(given))
  const { body } = await call<{ key?: unknown }>(service, '/v1/service')
  if (typeof body.key !== 'string') {
    throw new CliError('ERR_IO', `the service at ${shownUrl(service.url)} announced no key`, 'is --service the mandate service?')
  }
  const key = toDidKey(parsePublicKey(body.key))
  io.err(`mandate: note: trusting the service key ${key} as announced; pin it with --service-key\n`)
  return key
}
