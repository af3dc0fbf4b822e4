/**
 * Which service the CLI talks to and how long it waits for an answer: `--service`, `--timeout`
 * and their environment variables. Kept apart from the requests (service-client.ts), which load
 * the HTTP-signature code that a command run without a service never needs.
 *
 * @module
 */
import { usage } from './errors.js'
import type { Io } from './io.js'

/** How long the CLI waits for a service's answer, body included, unless told otherwise. */
export const DEFAULT_TIMEOUT_SECONDS = 15

/** A service the CLI talks to. */
export interface Service {
  /** The base URL, without a trailing slash. */
  readonly url: string
  /** Each request, its answer's body included, ends within this many ms. */
  readonly timeoutMs: number
}

/** `--timeout SECONDS` or MANDATE_TIMEOUT, in ms (decimals allowed: 0.5 is half a second). */
export function timeoutMs(io: Io, flag: string | undefined): number {
  const raw = (flag ?? io.env['MANDATE_TIMEOUT'] ?? '').trim()
  if (raw === '') return DEFAULT_TIMEOUT_SECONDS * 1000
  const seconds = /^\d{1,4}(\.\d{1,3})?$/.test(raw) ? Number(raw) : Number.NaN
  if (!(seconds > 0 && seconds <= 3600)) {
    usage(
      `--timeout: expected seconds, more than 0 and at most 3600, got ${JSON.stringify(raw)}`,
      'e.g. --timeout 30 or MANDATE_TIMEOUT=30',
    )
  }
  return Math.round(seconds * 1000)
}

/** The service URL from `--service` or MANDATE_SERVICE, if any. */
export function serviceUrl(io: Io, flag: string | undefined): string | undefined {
  const url = flag ?? io.env['MANDATE_SERVICE']
  if (url === undefined || url === '') return undefined
  if (!/^https?:\/\/[^\s/]+/.test(url)) {
    usage(`--service: not an http(s) URL: ${JSON.stringify(url)}`, 'e.g. --service http://127.0.0.1:8787 or MANDATE_SERVICE=…')
  }
  if (/^https?:\/\/[^/]*@/.test(url)) {
    // Never echoed: the part before @ may be a password.
    usage(
      '--service: the URL carries credentials (user@ or user:password@)',
      'give it without them, e.g. http://127.0.0.1:8787: the service knows callers by their signatures',
    )
  }
  return url.replace(/\/+$/, '')
}

/** The service of `--service`/MANDATE_SERVICE with the deadline of `--timeout`/MANDATE_TIMEOUT. */
export function serviceFrom(io: Io, flag: string | undefined, timeout: string | undefined): Service | undefined {
  const url = serviceUrl(io, flag)
  return url === undefined ? undefined : { url, timeoutMs: timeoutMs(io, timeout) }
}

/**
 * A URL for messages: never a `user:password@`, nor its query or fragment, which may carry
 * credentials too (libpq reads `password=`, `sslpassword=`): shown as `?…`.
 */
export function shownUrl(url: string): string {
  return url.replace(/^([a-z][a-z0-9+.-]*:\/\/)[^@/]*@/i, '$1').replace(/[?#][\s\S]*$/, '?…')
}
