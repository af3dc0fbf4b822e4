/**
 * A replay cache shared through the service (`POST /v1/replay/claim`), so that an invocation
 * is accepted once across every verifier of a deployment, not once per process. The service
 * lets only a registered verifier of the invocation's audience claim its id, and only the
 * verifier holding a claim release it. A claim is never retried: a late first answer would
 * make the retry look like a replay. A failure to get an answer
 * throws `ERR_REPLAY_UNAVAILABLE`, and the verifier then denies (fail closed).
 *
 * @module
 */

import { signRequest } from '../crypto/http-signature.js'
import { assertKeyPair, type KeyPair } from '../crypto/keys.js'
import { MandateError } from '../errors.js'
import { timeoutOption } from '../internal/deadline.js'
import { postJson, serviceBase } from '../internal/http.js'
import { toText } from '../token/text.js'
import type { ReplayCache } from './replay.js'

/**
 * Create a service-backed replay cache.
 *
 * @example
 * ```ts
 * const replay = createRemoteReplayCache({ url: 'http://127.0.0.1:8787', key: mailVerifierKey, timeoutMs: 2000 })
 * const verifier = createVerifier({ roots, audience: 'mail', replay, revocations })
 * ```
 */
export function createRemoteReplayCache(options: {
  readonly url: string
  /** This verifier's key, registered with the service under its audience. */
  readonly key: KeyPair
  readonly fetch?: typeof fetch
  /**
   * The claim, its answer's body included, must end within this many ms (default 5,000); one
   * that does not denies with `ERR_REPLAY_UNAVAILABLE` ("did not answer within …").
   */
  readonly timeoutMs?: number
}): ReplayCache {
  assertKeyPair(options?.key, "the verifier's key pair (registered with the service)")
  const timeoutMs = timeoutOption(options.timeoutMs, 5000, 'timeoutMs')
  // Looked up at each call, not captured: a fetch installed later (a test, a polyfill) is used.
  const doFetch = options.fetch ?? ((input: string, init: RequestInit) => fetch(input, init))
  const base = serviceBase(options.url)
  const post = (path: string, invocation: Uint8Array) =>
    postJson(
      `${base}${path}`,
      { invocation: toText('invocation', invocation) },
      {
        fetch: doFetch,
        sign: (request) => signRequest(request, options.key),
        timeoutMs,
        code: 'ERR_REPLAY_UNAVAILABLE',
        what: 'replay service',
        hint: 'replay protection needs its store; denied until it answers (fail closed)',
      },
    )
  return {
    // The claim is authoritative; skipping the early check saves a round trip.
    has: () => false,
    async claim(id, _expiresAt, _now, invocation) {
      const body = await post('/v1/replay/claim', invocation)
      if (typeof body['claimed'] !== 'boolean') throw new MandateError('ERR_REPLAY_UNAVAILABLE', 'the replay service gave no answer')
      // An answer is about the invocation asked, or about nothing this verifier asked.
      if (body['id'] !== id) throw new MandateError('ERR_REPLAY_UNAVAILABLE', 'the replay service answered for another invocation')
      return body['claimed']
    },
    async release(_id, invocation) {
      await post('/v1/replay/release', invocation)
    },
  }
}
