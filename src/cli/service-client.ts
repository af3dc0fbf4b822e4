/**
 * The CLI's view of a service: URL and pinned key from flags or the environment, and small
 * JSON requests that turn every failure into a readable error.
 *
 * @module
 */
import { type KeyPair, parsePublicKey, toDidKey } from '../crypto/keys.js'
import { signRequest } from '../internal/http-signature.js'
import { CliError, usage } from './errors.js'
import type { Io } from './io.js'

/** The service URL from `--service` or MANDATE_SERVICE, if any. */
export function serviceUrl(io: Io, flag: string | undefined): string | undefined {
  const url = flag ?? io.env['MANDATE_SERVICE']
  if (url === undefined || url === '') return undefined
  if (!/^https?:\/\/[^\s/]+/.test(url)) usage(`--service: not an http(s) URL: ${JSON.stringify(url)}`)
  return url.replace(/\/+$/, '')
}

/**
 * JSON request to the service; network failures exit 3, error answers carry the service's code.
 * With `key`, the request is signed (RFC 9421) so that the service knows who asks: an approver
 * reading its inbox or answering, a verifier spending a use.
 */
export async function call<T>(
  url: string,
  path: string,
  init: { method?: string; body?: unknown; key?: KeyPair } = {},
): Promise<{ status: number; body: T }> {
  const method = init.method ?? 'GET'
  const target = `${url}${path}`
  const bytes = init.body === undefined ? undefined : new TextEncoder().encode(JSON.stringify(init.body))
  const headers: Record<string, string> = {
    ...(bytes === undefined ? {} : { 'content-type': 'application/json' }),
    ...(init.key ? signRequest({ method, url: target, ...(bytes === undefined ? {} : { body: bytes }) }, init.key) : {}),
  }
  let res: Response
  try {
    res = await fetch(target, {
      method,
      headers,
      ...(bytes === undefined ? {} : { body: bytes }),
      signal: AbortSignal.timeout(35_000),
    })
  } catch (e) {
    throw new CliError(
      'ERR_IO',
      `the service at ${url} cannot be reached (${e instanceof Error ? e.message : 'failed'})`,
      'is `mandate serve` running there?',
    )
  }
  const body = (await res.json().catch(() => ({}))) as T & { error?: { code: string; message: string } }
  if (!res.ok) throw new ServiceAnswer(res.status, body.error?.code ?? 'ERR_SERVICE', body.error?.message ?? `HTTP ${res.status}`)
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
}

/** The service key to pin: `--service-key`, MANDATE_SERVICE_KEY, else learned from the service (said on stderr). */
export async function serviceKey(io: Io, url: string, flag: string | undefined): Promise<string> {
  const given = flag ?? io.env['MANDATE_SERVICE_KEY']
  if (given) return toDidKey(parsePublicKey(given))
  const { body } = await call<{ key: string }>(url, '/v1/service')
  const key = toDidKey(parsePublicKey(body.key))
  io.err(`mandate: note: trusting the service key ${key} as announced; pin it with --service-key\n`)
  return key
}
