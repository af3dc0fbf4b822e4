/**
 * One JSON POST to the mandate service, for the library's service clients. Any failure to get
 * a usable answer (unreachable, timed out, an error status, a body that is not JSON) becomes a
 * MandateError with the caller's code, so that the verifier denies with it (fail closed).
 *
 * @module
 */
import type { KeyPair } from '../crypto/keys.js'
import { MandateError, type MandateErrorCode } from '../errors.js'
import { signRequest } from './http-signature.js'

/** Where to post, and how a failure is reported. */
export interface PostOptions {
  readonly fetch: typeof fetch
  readonly timeoutMs: number
  readonly code: MandateErrorCode
  readonly what: string
  readonly hint: string
  /** Sign the request (RFC 9421) as this key: the service only lets known verifiers write. */
  readonly key?: KeyPair
  /**
   * Send again, signed anew, when no answer came (unreachable, timed out, 503): only for
   * idempotent requests, where a late first answer and the retry's are the same answer.
   */
  readonly retries?: number
}

/** The error answer of the service, when it gave one. */
interface ErrorAnswer {
  readonly code?: string
  readonly message?: string
}

/** POST `body` as JSON to `url`; the parsed JSON answer of a 2xx. */
export async function postJson(url: string, body: unknown, o: PostOptions): Promise<Record<string, unknown>> {
  const bytes = new TextEncoder().encode(JSON.stringify(body))
  let last: MandateError | undefined
  for (let attempt = 0; attempt <= (o.retries ?? 0); attempt++) {
    if (attempt > 0) await new Promise((r) => setTimeout(r, 100 * 3 ** (attempt - 1)))
    const headers: Record<string, string> = {
      'content-type': 'application/json',
      ...(o.key ? signRequest({ method: 'POST', url, body: bytes }, o.key) : {}),
    }
    let res: Response
    try {
      res = await o.fetch(url, { method: 'POST', headers, body: bytes, signal: AbortSignal.timeout(o.timeoutMs) })
    } catch (cause) {
      last = new MandateError(o.code, `the ${o.what} at ${new URL(url).origin} cannot be reached`, { cause, hint: o.hint })
      continue
    }
    const answer = (await res.json().catch(() => undefined)) as Record<string, unknown> | undefined
    if (res.ok && typeof answer === 'object' && answer !== null) return answer
    const error = answer?.['error'] as ErrorAnswer | undefined
    last = new MandateError(o.code, `the ${o.what} answered ${res.status}${error ? `: ${error.code} ${error.message}` : ''}`, {
      hint: o.hint,
    })
    if (res.status !== 503) break
  }
  throw last as MandateError
}
