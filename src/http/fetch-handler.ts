/**
 * The guard for Fetch-API handlers (`Request → Response`): Node, Deno, Bun, Cloudflare Workers.
 *
 * @module
 */
import type { Allowed } from '../verify/decision.js'
import { toResponse } from './answer.js'
import { bodyLimit, requestContent } from './body.js'
import type { HttpGuard, RouteRequest } from './guard.js'

/** What a route of a Fetch handler is given. */
export interface FetchRouteInput {
  readonly request: Request
  /** The content as received (empty without one). */
  readonly body: Uint8Array
}

/** Options of {@link protect}. */
export interface ProtectOptions {
  /** The most content the guard reads (bytes); more is a 413. Default 1 MiB. */
  readonly maxBody?: number
}

/**
 * Put `guard` in front of a Fetch handler: a refused request is answered by the guard (spec/
 * http-v1.md §6) and never reaches `handler`; an allowed one does, with the decision and the
 * content the guard read (the request's own body is still unread).
 *
 * @example
 * ```ts
 * const handler = protect(guard, ({ body }) => ({ action: 'email:send', args: JSON.parse(new TextDecoder().decode(body)) }),
 *   (request, decision) => Response.json({ sentFor: decision.chain[0]?.key }))
 * export default { fetch: handler } // Workers, Deno, Bun; or serve(handler) on Node
 * ```
 */
export function protect(
  guard: HttpGuard,
  route: (input: FetchRouteInput) => RouteRequest | Promise<RouteRequest>,
  handler: (request: Request, decision: Allowed, body: Uint8Array) => Response | Promise<Response>,
  options: ProtectOptions = {},
): (request: Request) => Promise<Response> {
  const limit = bodyLimit(options.maxBody)
  return async (request) => {
    let read: Uint8Array = new Uint8Array(0)
    const body = async (): Promise<Uint8Array> => {
      read = await requestContent(request, limit, 'protect(): the request body was already read; the guard must see it first')
      return read
    }
    const outcome = await guard.check(
      { method: request.method, url: request.url, header: (name) => fieldValues(request.headers, name), body },
      (bytes) => route({ request, body: bytes }),
    )
    if (!outcome.allowed) return toResponse(outcome.refusal)
    return handler(request, outcome.decision, read)
  }
}

/** The values of a field: Fetch `Headers` joins repeated fields with ", " (one value). */
export function fieldValues(headers: Headers, name: string): string[] {
  const v = headers.get(name)
  return v === null ? [] : [v]
}
