/**
 * Binding an invocation to one HTTP request (spec/http-v1.md §4): the `@http` argument, which
 * the agent signs and the guard recomputes from what it received, so that a captured
 * invocation is worth nothing with another method, path, query or body.
 *
 * @module
 */
import type { Args, ArgValue } from '../caveats/types.js'
import { contentDigest } from '../crypto/http-signature.js'
import { fail } from '../errors.js'

/** The reserved argument that binds an invocation to its HTTP request. */
export const HTTP_BINDING = '@http'

const BASE = 'http://binding.invalid'

/** What `@http` holds (spec/http-v1.md §4). */
export interface HttpBinding {
  /** Upper case, as sent. */
  readonly method: string
  /** WHATWG `pathname` then `search`: `/v1/mail/send?draft=1`. */
  readonly target: string
  /** RFC 9530 `Content-Digest` (sha-256) of the content as sent; an absent body is empty content. */
  readonly digest: string
}

/**
 * The `@http` binding of a request: its method, its URL's path and query as the WHATWG URL
 * parser serializes them, and the digest of its body bytes.
 *
 * @example
 * ```ts
 * httpBinding('post', 'https://mail.example/v1/send?draft=1', new TextEncoder().encode('{}'))
 * // { method: 'POST', target: '/v1/send?draft=1', digest: 'sha-256=:RBNvo1WzZ4oRRq0W9+hknpT7T8If536DEMBg9hyq/4o=:' }
 * ```
 */
export function httpBinding(method: string, url: string | URL, body: Uint8Array): HttpBinding {
  const u = typeof url === 'string' ? targetUrl(url) : url
  return { method: method.toUpperCase(), target: `${u.pathname}${u.search}`, digest: contentDigest(body) }
}

/** The `scheme://authority` of an absolute URL; a `\` ends it, as the URL parser and Node's `url.parse` read it. */
const ORIGIN = /^[A-Za-z][A-Za-z0-9+.-]*:\/\/[^/\\?#]*/

/**
 * A target as received, or a whole URL, parsed for its path and query. The authority is not
 * bound, so it is not parsed: the URL parser refuses hosts that Express routes by (`999.1.1.1`,
 * a port over 65535), and reads `http:///p` as the host `p` where Express routes the path `/p`.
 * What follows it is a path as received (origin-form, RFC 9112 §3.2.1), appended to an origin:
 * resolved against one, `//x/p` would name the host `x` and bind `/p`.
 */
function targetUrl(url: string): URL {
  const origin = ORIGIN.exec(url)
  const path = origin ? url.slice(origin[0].length) : url
  try {
    // After an authority come "/", "\", "?", "#" or nothing: appended to BASE, each is read as a path.
    if (origin) return new URL(`${BASE}${path}`)
    return path.startsWith('/') ? new URL(`${BASE}${path}`) : new URL(path, BASE)
  } catch {
    return fail('ERR_REQUEST_INVALID', 'the request target cannot be read as a URL')
  }
}

/**
 * A route's arguments with `@http` added. A route's own key starting with `@` is refused
 * (`ERR_REQUEST_INVALID`): those keys are reserved for bindings, and letting a route supply
 * one would let a request body forge its own binding.
 *
 * @example
 * ```ts
 * bindArgs({ to: 'bob@example.com' }, httpBinding('POST', '/send', new Uint8Array()))
 * // { to: 'bob@example.com', '@http': { method: 'POST', target: '/send', digest: 'sha-256=:…:' } }
 * ```
 */
export function bindArgs(args: Args | undefined, binding: HttpBinding): Args {
  const out: Record<string, ArgValue> = Object.create(null)
  if (args !== undefined) {
    if (args === null || typeof args !== 'object' || Array.isArray(args)) {
      fail('ERR_REQUEST_INVALID', 'the arguments must be an object', { hint: 'a route returns args as a plain object of argument values' })
    }
    for (const [key, value] of Object.entries(args)) {
      if (key.startsWith('@')) {
        fail('ERR_REQUEST_INVALID', `argument names starting with "@" are reserved for bindings: ${JSON.stringify(key)}`, {
          hint: 'rename the argument; @http is added by the guard and the agent',
        })
      }
      out[key] = value
    }
  }
  out[HTTP_BINDING] = { method: binding.method, target: binding.target, digest: binding.digest }
  return out
}
