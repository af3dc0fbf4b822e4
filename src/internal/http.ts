/**
 * One JSON POST to the mandate service, for the library's service clients. Any failure to get
 * a usable answer (unreachable, timed out, an error status, a body that is not JSON) becomes a
 * MandateError with the caller's code, so that the verifier denies with it (fail closed).
 *
 * @module
 */
import { MandateError, type MandateErrorCode } from '../errors.js'

/** Where to post, and how a failure is reported. */
export interface PostOptions {
  readonly fetch: typeof fetch
  readonly timeoutMs: number
  readonly code: MandateErrorCode
  readonly what: string
  readonly hint: string
}

/** POST `body` as JSON to `url`; the parsed JSON answer of a 2xx. */
export async function postJson(url: string, body: unknown, o: PostOptions): Promise<Record<string, unknown>> {
  let res: Response
  try {
    res = await o.fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(o.timeoutMs),
    })
  } catch (cause) {
    throw new MandateError(o.code, `the ${o.what} at ${new URL(url).origin} cannot be reached`, { cause, hint: o.hint })
  }
  const answer = (await res.json().catch(() => undefined)) as Record<string, unknown> | undefined
  if (!res.ok || typeof answer !== 'object' || answer === null) {
    const error = answer?.['error'] as { code?: string; message?: string } | undefined
    throw new MandateError(o.code, `the ${o.what} answered ${res.status}${error ? `: ${error.code} ${error.message}` : ''}`, {
      hint: o.hint,
    })
  }
  return answer
}
