/**
 * A usage store backed by the service (`POST /v1/usage/consume`). The service re-checks the
 * presentation, derives each counter's limit from the chain itself, counts on its own clock,
 * and answers idempotently by request id. Any failure to get an answer denies
 * (`ERR_COUNTER_UNAVAILABLE`): a usage limit needs a live counter.
 *
 * @module
 */
import { MandateError } from '../errors.js'
import { toText } from '../token/text.js'
import type { ConsumeRequest, ConsumeResult, UsageStore } from './store.js'

/** Options of {@link createRemoteUsageStore}. */
export interface RemoteUsageOptions {
  readonly url: string
  readonly fetch?: typeof fetch
  /** Give up after this many ms (default 5,000). */
  readonly timeoutMs?: number
}

/**
 * Create a remote usage store.
 *
 * @example
 * ```ts
 * const verifier = createVerifier({ roots, audience: 'mail', usage: createRemoteUsageStore({ url: 'http://127.0.0.1:8787' }) })
 * ```
 */
export function createRemoteUsageStore(options: RemoteUsageOptions): UsageStore {
  const doFetch = options.fetch ?? fetch
  const base = options.url.replace(/\/+$/, '')
  return {
    async consume(request: ConsumeRequest): Promise<ConsumeResult> {
      // An invocation is [payload, signature] (0x82); a mandate is a map.
      const presentation = toText(request.presentation[0] === 0x82 ? 'invocation' : 'mandate', request.presentation)
      let res: Response
      try {
        res = await doFetch(`${base}/v1/usage/consume`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ request_id: request.requestId, presentation, counters: request.counters.map((c) => c.key) }),
          signal: AbortSignal.timeout(options.timeoutMs ?? 5000),
        })
      } catch (cause) {
        throw new MandateError('ERR_COUNTER_UNAVAILABLE', `the usage service at ${base} cannot be reached`, {
          cause,
          hint: 'usage limits need a live counter; the request is denied until it answers (fail closed)',
        })
      }
      const body = (await res.json().catch(() => undefined)) as (ConsumeResult & { error?: { code: string; message: string } }) | undefined
      if (!res.ok || !body || typeof body.granted !== 'boolean') {
        throw new MandateError(
          'ERR_COUNTER_UNAVAILABLE',
          `the usage service answered ${res.status}${body?.error ? `: ${body.error.code} ${body.error.message}` : ''}`,
        )
      }
      return body
    },
  }
}
