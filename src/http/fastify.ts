/**
 * The guard as Fastify 5 route hooks: `fastify.post('/send', { ...mandate(guard, route) }, handler)`.
 * The decision is `decisionOf(request)`.
 *
 * @example
 * ```ts
 * import Fastify from 'fastify'
 * import { decisionOf, mandate } from 'mandate/http/fastify'
 *
 * const fastify = Fastify()
 * fastify.get('/inbox', { ...mandate(guard, () => ({ action: 'email:read' })) }, async (request) => ({
 *   for: decisionOf(request).chain[0]?.name,
 * }))
 * ```
 *
 * @module
 */
import { Readable } from 'node:stream'
import type { FastifyReply, FastifyRequest, preParsingAsyncHookHandler, preValidationAsyncHookHandler } from 'fastify'
import type { Allowed } from '../verify/decision.js'
import { BodyTooLarge, bodyLimit, declaredTooLarge, readAll } from './body.js'
import type { HttpGuard, RouteRequest } from './guard.js'
import { rawFieldValues, readCredentials } from './headers.js'

const decisions = new WeakMap<FastifyRequest, Allowed>()

/**
 * The allowed decision of a guarded request (accountability chain, audit record).
 *
 * @example
 * ```ts
 * import Fastify from 'fastify'
 * import { decisionOf, mandate } from 'mandate/http/fastify'
 *
 * const fastify = Fastify()
 * fastify.post('/send', { ...mandate(guard, () => ({ action: 'email:send' })) }, async (request) => ({
 *   by: decisionOf(request).chain.at(-1)?.name,
 * }))
 * ```
 */
export function decisionOf(request: FastifyRequest): Allowed {
  const d = decisions.get(request)
  if (!d) throw new Error('decisionOf(): this request did not pass a mandate guard')
  return d
}

/** The hooks of a guarded route: spread them into its options. */
export interface MandateHooks {
  /** Reads the content (up to the limit) and hands Fastify the same bytes to parse. */
  readonly preParsing: preParsingAsyncHookHandler
  /** Decides, once Fastify has parsed the content: a body its parser refuses spends nothing. */
  readonly preValidation: preValidationAsyncHookHandler
}

/** What the preParsing hook read, for the preValidation hook to decide on. */
const contents = new WeakMap<FastifyRequest, Uint8Array>()

/** The content of a request the guard refuses before reading it: never called. */
// Stryker disable next-line ArrowFunction,StringLiteral: unreachable by design — the guard reads no content without exactly one credential
const unread = (): Promise<Uint8Array> => Promise.reject(new Error('mandate(): the content was read for a request without one credential'))

/**
 * Hooks guarding a Fastify route (spec/http-v1.md): `preParsing` reads the content whole (up
 * to the limit) and hands Fastify the same bytes to parse as usual; `preValidation` decides,
 * after Fastify parsed them, so that content the framework refuses (415, a JSON body its parser
 * rejects) is answered by Fastify and spends nothing. `route` says what the request is, from
 * `request` (params, query) and the content bytes.
 *
 * @example
 * ```ts
 * import Fastify from 'fastify'
 * import { decisionOf, mandate } from 'mandate/http/fastify'
 *
 * const fastify = Fastify()
 * fastify.post('/mailboxes/:user/send', {
 *   ...mandate(guard, (request, body) => ({ action: 'email:send', resource: `mailbox/${(request.params as { user: string }).user}` })),
 * }, async (request) => ({ by: decisionOf(request).chain.at(-1)?.name }))
 * ```
 */
export function mandate(
  guard: HttpGuard,
  route: (request: FastifyRequest, body: Uint8Array) => RouteRequest | Promise<RouteRequest>,
  options: { readonly maxBody?: number } = {},
): MandateHooks {
  const limit = bodyLimit(options.maxBody)
  // Every field as received: `request.headers` keeps one `Authorization` of several.
  const header = (request: FastifyRequest) => (name: string) => rawFieldValues(request.raw.rawHeaders, name)
  /** Decide with this content; answer a refusal, or put the decision on the request. */
  const decide = async (request: FastifyRequest, reply: FastifyReply, body: () => Promise<Uint8Array>): Promise<void> => {
    const outcome = await guard.check({ method: request.method, url: request.originalUrl, header: header(request), body }, (bytes) =>
      route(request, bytes),
    )
    if (!outcome.allowed) {
      // A sent reply ends the request's lifecycle here: no parsing, no handler.
      await reply.code(outcome.refusal.status).headers(outcome.refusal.headers).send(JSON.stringify(outcome.refusal.body))
      return
    }
    decisions.set(request, outcome.decision)
  }
  return {
    preParsing: async (request, reply, payload) => {
      // No credential, or several: the guard answers 401 before the content (spec §5 step 1), unread.
      if (readCredentials(header(request)('authorization')).kind !== 'invocation') {
        await decide(request, reply, unread)
        return payload
      }
      let bytes: Uint8Array
      try {
        if (declaredTooLarge(request.headers['content-length'], limit)) throw new BodyTooLarge(limit)
        bytes = await readAll(payload, limit)
      } catch (e) {
        // Stryker disable next-line ConditionalExpression: equivalent — the guard rethrows any error of the content but BodyTooLarge, so deciding with it throws the same error
        if (!(e instanceof BodyTooLarge)) throw e
        // Over the limit: the guard's 413, before Fastify would parse what is left.
        await decide(request, reply, () => Promise.reject(e))
        return payload
      }
      contents.set(request, bytes)
      // Stryker disable next-line ObjectLiteral: equivalent — without the field Fastify counts the bytes of this one-Buffer stream itself: the same number
      return Object.assign(Readable.from([Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)]), {
        receivedEncodedLength: bytes.length,
      })
    },
    preValidation: async (request, reply) => {
      // Stryker disable next-line ConditionalExpression: equivalent — Fastify runs no later hook once preParsing has sent a reply (hooks.js preParsingHookRunner); kept in case it ever does
      if (reply.sent) return
      const bytes = contents.get(request) ?? new Uint8Array(0)
      await decide(request, reply, async () => bytes)
    },
  }
}
