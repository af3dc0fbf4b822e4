/**
 * mandate over HTTP (spec/http-v1.md): the guard in front of an API, its answers, and the
 * agent's `fetch`. Runs wherever the Fetch API does (Node, Deno, Bun, Workers); the framework
 * adapters are `mandate/http/hono`, `mandate/http/express` and `mandate/http/fastify`.
 *
 * @example
 * ```ts
 * import { createVerifier, toDidKey } from 'mandate'
 * import { createHttpGuard, protect } from 'mandate/http'
 * const verifier = createVerifier({ roots: [{ key: toDidKey(alice.publicKey), name: 'alice' }], audience: 'mail', revocations: 'none' })
 * const guard = createHttpGuard({ verifier })
 * const handler = protect(guard, () => ({ action: 'email:read' }), () => new Response('inbox'))
 * ```
 *
 * @module mandate/http
 */
export { createMandateFetch, type MandateFetchOptions, type MandateRequest, type MandateRequestInit } from './http/agent.js'
export {
  missingCredentials,
  type Problem,
  type Refusal,
  type RefusalContext,
  refusal,
  tooLarge,
  toResponse,
  unmappable,
  unreadable,
} from './http/answer.js'
export { bindArgs, HTTP_BINDING, type HttpBinding, httpBinding } from './http/binding.js'
export { BodyTooLarge, DEFAULT_MAX_BODY } from './http/body.js'
export { type FetchRouteInput, type ProtectOptions, protect } from './http/fetch-handler.js'
export {
  createHttpGuard,
  type GuardOutcome,
  type HttpGuard,
  type HttpGuardOptions,
  type ReceivedHttpRequest,
  type RouteRequest,
} from './http/guard.js'
export {
  APPROVAL_FIELD,
  APPROVAL_REQUEST_FIELD,
  type Credentials,
  challenge,
  readApprovals,
  readCredentials,
  SCHEME,
} from './http/headers.js'
