/**
 * The guard as Hono middleware: `app.post('/send', mandate(guard, route), handler)`. The
 * decision is `c.get('mandate')` in the handler; the body is still readable (`c.req.json()`).
 * Hono runs on Node, Workers, Deno and Bun, and so does this.
 *
 * @example
 * ```ts
 * import { Hono } from 'hono'
 * import { mandate, type MandateVariables } from 'mandate/http/hono'
 *
 * const app = new Hono<{ Variables: MandateVariables }>()
 * app.get('/inbox', mandate(guard, () => ({ action: 'email:read' })), (c) => c.json({ for: c.get('mandate').chain[0]?.name }))
 * ```
 *
 * @module
 */
import type { Context, MiddlewareHandler } from 'hono'
import type { Allowed } from '../verify/decision.js'
import { toResponse } from './answer.js'
import { bodyLimit, requestContent } from './body.js'
import { fieldValues } from './fetch-handler.js'
import type { HttpGuard, RouteRequest } from './guard.js'

const USED = 'mandate(): the request body was already read; put the guard before any middleware that reads it'

/** The context variables the middleware sets. */
export interface MandateVariables {
  /** The allowed decision: accountability chain, matched rights, audit record. */
  readonly mandate: Allowed
}

/**
 * Hono middleware guarding a route (spec/http-v1.md). `route` says what the request is, from
 * the context (path parameters, query) and the content bytes.
 *
 * @example
 * ```ts
 * import { Hono } from 'hono'
 * import { mandate, type MandateVariables } from 'mandate/http/hono'
 *
 * const app = new Hono<{ Variables: MandateVariables }>()
 * app.post('/mailboxes/:user/send', mandate(guard, (c, body) => ({
 *   action: 'email:send', resource: `mailbox/${c.req.param('user')}`, args: { to: JSON.parse(new TextDecoder().decode(body)).to },
 * })), (c) => c.json({ by: c.get('mandate').chain.at(-1)?.name }))
 * ```
 */
export function mandate(
  guard: HttpGuard,
  route: (c: Context, body: Uint8Array) => RouteRequest | Promise<RouteRequest>,
  options: { readonly maxBody?: number } = {},
): MiddlewareHandler<{ Variables: MandateVariables }> {
  const limit = bodyLimit(options.maxBody)
  return async (c, next) => {
    const raw = c.req.raw
    const outcome = await guard.check(
      {
        method: raw.method,
        url: raw.url,
        header: (name) => fieldValues(raw.headers, name),
        body: () => requestContent(raw, limit, USED),
      },
      (body) => route(c, body),
    )
    if (!outcome.allowed) return toResponse(outcome.refusal)
    c.set('mandate', outcome.decision)
    await next()
    return undefined
  }
}
