/**
 * A usage store backed by the service (`POST /v1/usage/consume`). The service re-checks the
 * presentation, derives each counter's limit from the chain itself, counts on its own clock,
 * and answers idempotently by request id. Any failure to get an answer denies
 * (`ERR_COUNTER_UNAVAILABLE`): a usage limit needs a live counter.
 *
 * @module
 */

import { signRequest } from '../crypto/http-signature.js'
import { assertKeyPair, type KeyPair } from '../crypto/keys.js'
import { MandateError } from '../errors.js'
import { countOption } from '../internal/count.js'
import { timeoutOption } from '../internal/deadline.js'
import { postJson, serviceBase } from '../internal/http.js'
import { presentedKind } from '../token/integrity.js'
import { toText } from '../token/text.js'
import type { ConsumeRequest, ConsumeResult, UsageStore } from './store.js'

/** Options of {@link createRemoteUsageStore}. */
export interface RemoteUsageOptions {
  readonly url: string
  /**
   * This verifier's key, registered with the service (`mandate serve --verifier NAME=KEY`,
   * NAME being this verifier's audience): the service lets only registered verifiers spend uses.
   */
  readonly key: KeyPair
  /** Retries, signed anew and with the same request id, when no answer came or it was a 503: 0 to 4 (default 2; the waits between tries are 0.1, 0.3, 0.9 and 2.7 s). */
  readonly retries?: number
  readonly fetch?: typeof fetch
  /**
   * Each attempt, the answer's body included, must end within this many ms (default 5,000);
   * one that does not is a lost answer (retried, then `ERR_COUNTER_UNAVAILABLE`: "did not
   * answer within …"). The worst case is about `(retries + 1) × timeoutMs`.
   */
  readonly timeoutMs?: number
}

/**
 * Create a remote usage store.
 *
 * @example
 * ```ts
 * const usage = createRemoteUsageStore({ url: 'http://127.0.0.1:8787', key: mailVerifierKey, timeoutMs: 2000 })
 * const verifier = createVerifier({ roots, audience: 'mail', usage, revocations })
 * ```
 */
export function createRemoteUsageStore(options: RemoteUsageOptions): UsageStore {
  assertKeyPair(options?.key, "the verifier's key pair (registered with the service)")
  const timeoutMs = timeoutOption(options.timeoutMs, 5000, 'timeoutMs')
  const retries = countOption(options.retries, 2, 0, 4, 'retries')
  // Looked up at each call, not captured: a fetch installed later (a test, a polyfill) is used.
  const doFetch = options.fetch ?? ((input: string, init: RequestInit) => fetch(input, init))
  const base = serviceBase(options.url)
  return {
    async consume(request: ConsumeRequest): Promise<ConsumeResult> {
      const presentation = toText(presentedKind(request.presentation), request.presentation)
      const answer = await postJson(
        `${base}/v1/usage/consume`,
        { requestId: request.requestId, presentation, counters: request.counters.map((c) => c.key) },
        {
          fetch: doFetch,
          sign: (request) => signRequest(request, options.key),
          // A consume that timed out may have been counted: asking again with the same request
          // id gets that answer instead of denying a request whose use is already spent.
          retries,
          timeoutMs,
          code: 'ERR_COUNTER_UNAVAILABLE',
          what: 'usage service',
          hint: 'usage limits need a live counter; the request is denied until it answers (fail closed)',
        },
      )
      if (typeof answer['granted'] !== 'boolean') throw new MandateError('ERR_COUNTER_UNAVAILABLE', 'the usage service gave no decision')
      return answer as unknown as ConsumeResult
    },
  }
}
