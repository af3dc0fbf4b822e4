/**
 * A replay cache shared through the service (`POST /v1/replay/claim`), so that an invocation
 * is accepted once across every verifier of a deployment, not once per process. The service
 * only lets the holder of an intact invocation claim its id. A failure to get an answer
 * throws `ERR_REPLAY_UNAVAILABLE`, and the verifier then denies (fail closed).
 *
 * @module
 */
import { MandateError } from '../errors.js'
import { postJson } from '../internal/http.js'
import { toText } from '../token/text.js'
import type { ReplayCache } from './replay.js'

/**
 * Create a service-backed replay cache.
 *
 * @example
 * ```ts
 * const verifier = createVerifier({ roots, audience: 'mail', replay: createRemoteReplayCache({ url: 'http://127.0.0.1:8787' }) })
 * ```
 */
export function createRemoteReplayCache(options: {
  readonly url: string
  readonly fetch?: typeof fetch
  readonly timeoutMs?: number
}): ReplayCache {
  const doFetch = options.fetch ?? fetch
  const base = options.url.replace(/\/+$/, '')
  const post = (path: string, invocation: Uint8Array) =>
    postJson(
      `${base}${path}`,
      { invocation: toText('invocation', invocation) },
      {
        fetch: doFetch,
        timeoutMs: options.timeoutMs ?? 5000,
        code: 'ERR_REPLAY_UNAVAILABLE',
        what: 'replay service',
        hint: 'replay protection needs its store; denied until it answers (fail closed)',
      },
    )
  return {
    // The claim is authoritative; skipping the early check saves a round trip.
    has: () => false,
    async claim(_id, _expiresAt, _now, invocation) {
      const body = await post('/v1/replay/claim', invocation)
      if (typeof body['claimed'] !== 'boolean') throw new MandateError('ERR_REPLAY_UNAVAILABLE', 'the replay service gave no answer')
      return body['claimed']
    },
    async release(_id, invocation) {
      await post('/v1/replay/release', invocation)
    },
  }
}
