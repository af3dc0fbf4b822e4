/**
 * The guard as Express 5 middleware: `app.post('/send', mandate(guard, route), handler)`.
 *
 * The guard hashes the exact content, so it reads the body itself: mount it **before**
 * `express.json()` (which then finds the body read and leaves it), or after
 * `express.raw({ inflate: false })`. It leaves `req.body` as `express.json()` would for a JSON
 * body, a `Buffer` otherwise; a body some other parser already consumed, or one `express.raw()`
 * decoded from its `Content-Encoding`, cannot be hashed as received, and the request fails
 * (500) rather than pass unbound. The decision is `res.locals.mandate`.
 *
 * @example
 * ```ts
 * import express from 'express'
 * import { mandate } from 'mandate/http/express'
 *
 * const app = express()
 * app.get('/inbox', mandate(guard, () => ({ action: 'email:read' })), (_req, res) => {
 *   res.json({ for: res.locals['mandate'].chain[0]?.name })
 * })
 * ```
 *
 * @module
 */
import type { NextFunction, Request, RequestHandler, Response } from 'express'
import { BodyTooLarge, bodyLimit, declaredTooLarge, readAll } from './body.js'
import type { HttpGuard, RouteRequest } from './guard.js'
import { rawFieldValues } from './headers.js'

/** True for `application/json` and `…+json`, parameters aside. */
function isJson(type: string | undefined): boolean {
  if (type === undefined) return false
  const essence = (type.split(';')[0] as string).trim().toLowerCase()
  return essence === 'application/json' || essence.endsWith('+json')
}

async function contentOf(req: Request, limit: number): Promise<Uint8Array> {
  if (Buffer.isBuffer(req.body)) {
    // express.raw() inflates by default: its Buffer is then not the content received, which
    // is what the invocation signs (spec/http-v1.md §3: no adapter decodes a Content-Encoding).
    // (One it cannot decode, it refuses itself, 415, before this.)
    const encoding = (req.headers['content-encoding'] ?? 'identity').toLowerCase()
    if (encoding !== 'identity') {
      throw new Error(
        `mandate(): express.raw() decoded this request's Content-Encoding (${encoding}), so the content as received cannot be hashed; mount it with { inflate: false }, or mount mandate() before it`,
      )
    }
    if (req.body.length > limit) throw new BodyTooLarge(limit)
    return req.body
  }
  if (req.readableEnded || req.body !== undefined) {
    throw new Error(
      'mandate(): the request body was already consumed by another parser; mount mandate() before express.json(), or after express.raw({ inflate: false })',
    )
  }
  if (declaredTooLarge(req.headers['content-length'], limit)) throw new BodyTooLarge(limit)
  const bytes = await readAll(req, limit)
  const buffer = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  let body: unknown = buffer
  if (isJson(req.headers['content-type'])) {
    try {
      // TextDecoder drops a leading BOM, as express.json() and Fetch's json() do. Empty content
      // is no JSON: it is left as (empty) bytes.
      body = JSON.parse(new TextDecoder().decode(buffer))
    } catch {
      // Left as bytes: the route decides what an unreadable body means.
    }
  }
  req.body = body
  return bytes
}

/**
 * Express 5 middleware guarding a route (spec/http-v1.md). `route` says what the request is,
 * from `req` (params, query) and the content bytes.
 *
 * @example
 * ```ts
 * import express from 'express'
 * import { mandate } from 'mandate/http/express'
 *
 * const app = express()
 * app.post('/mailboxes/:user/send', mandate(guard, (req, body) => ({
 *   action: 'email:send', resource: `mailbox/${req.params['user']}`, args: { to: JSON.parse(Buffer.from(body).toString()).to },
 * })), (_req, res) => {
 *   res.json({ by: res.locals['mandate'].chain.at(-1)?.name })
 * })
 * ```
 */
export function mandate(
  guard: HttpGuard,
  route: (req: Request, body: Uint8Array) => RouteRequest | Promise<RouteRequest>,
  options: { readonly maxBody?: number } = {},
): RequestHandler {
  const limit = bodyLimit(options.maxBody)
  return (req: Request, res: Response, next: NextFunction) => {
    // Every field as received: `req.headers` keeps one `Authorization` of several.
    const values = (name: string): string[] => rawFieldValues(req.rawHeaders, name)
    guard
      .check({ method: req.method, url: req.originalUrl, header: values, body: () => contentOf(req, limit) }, (body) => route(req, body))
      .then((outcome) => {
        if (!outcome.allowed) {
          res.status(outcome.refusal.status).set(outcome.refusal.headers).send(JSON.stringify(outcome.refusal.body))
          return
        }
        res.locals['mandate'] = outcome.decision
        next()
      }, next)
  }
}
