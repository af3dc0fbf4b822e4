/**
 * How each adapter meets the rest of an app (spec/http-v1.md §5): the body parsers around the
 * Express guard and what `req.body` the handler gets, a body read before the guard (a failure
 * that says why, never a request let through unbound), `decisionOf` on an unguarded Fastify
 * route, and the default limit of `protect`.
 */

import { gzipSync } from 'node:zlib'
import express, { type Request as ExpressRequest, type Response as ExpressResponse, type NextFunction } from 'express'
import Fastify from 'fastify'
import { Hono } from 'hono'
import { describe, expect, it } from 'vitest'
import { mandate as expressGuard } from '../../src/http/express.js'
import { decisionOf, mandate as fastifyGuard } from '../../src/http/fastify.js'
import { mandate as honoGuard } from '../../src/http/hono.js'
import { createMandateFetch, protect } from '../../src/http.js'
import { assistant, grant, newGuard } from './fixture.js'

const READ = { action: 'email:read' }
const route = () => READ
const utf8 = (s: string) => new TextEncoder().encode(s)

/** An Express app: `before` mounted ahead of the guard on POST /x, whose handler answers what req.body is. */
async function expressApp(before: express.RequestHandler[], maxBody = 64) {
  const app = express()
  app.post('/x', ...before, expressGuard(newGuard(), route, { maxBody }), (req, res) => {
    const body: unknown = req.body
    res.json(Buffer.isBuffer(body) ? { bytes: body.toString('latin1') } : { parsed: body })
  })
  app.use((e: Error, _req: ExpressRequest, res: ExpressResponse, _next: NextFunction) => {
    res.status(500).json({ error: e.message })
  })
  const server = await new Promise<import('node:http').Server>((resolve) => {
    const s = app.listen(0, '127.0.0.1', () => resolve(s))
  })
  const url = `http://127.0.0.1:${(server.address() as { port: number }).port}/x`
  const call = createMandateFetch({ mandate: grant, key: assistant, audience: 'mail' })
  const post = async (body: string | Uint8Array, type?: string) => {
    const res = await call(url, { method: 'POST', body, headers: type === undefined ? {} : { 'content-type': type }, mandate: READ })
    return { status: res.status, json: (await res.json()) as Record<string, unknown> }
  }
  return { url, post, close: () => new Promise<void>((done) => server.close(() => done())) }
}

describe('Express', () => {
  it('hands the handler JSON content parsed (any +json type, parameters and case aside), anything else as bytes', async () => {
    const app = await expressApp([])
    try {
      const doc = '{"to":"bob@example.com"}'
      for (const type of ['application/json', 'Application/JSON ; charset=utf-8', 'application/problem+json']) {
        expect(await app.post(doc, type), type).toEqual({ status: 200, json: { parsed: { to: 'bob@example.com' } } })
      }
      for (const type of ['text/plain', 'application/json-seq', 'application/x+jsonx']) {
        expect(await app.post(doc, type), type).toEqual({ status: 200, json: { bytes: doc } })
      }
      // Bytes sent without a type (fetch sets none for them).
      expect(await app.post(new TextEncoder().encode(doc))).toEqual({ status: 200, json: { bytes: doc } })
      // Empty, or not JSON after all: left as bytes for the handler to judge.
      expect(await app.post('', 'application/json')).toEqual({ status: 200, json: { bytes: '' } })
      expect(await app.post('{"to":', 'application/json')).toEqual({ status: 200, json: { bytes: '{"to":' } })
    } finally {
      await app.close()
    }
  })

  it('after express.raw(), hashes the bytes it read, under the guard limit', async () => {
    const app = await expressApp([express.raw({ type: () => true, limit: 1024 })], 16)
    try {
      expect(await app.post('a'.repeat(16), 'text/plain')).toEqual({ status: 200, json: { bytes: 'a'.repeat(16) } })
      const big = await app.post('a'.repeat(17), 'text/plain')
      expect([big.status, big.json['code'], big.json['detail']]).toEqual([
        413,
        'ERR_LIMIT_SIZE',
        'the request content is larger than 16 bytes',
      ])
    } finally {
      await app.close()
    }
  })

  it('after express.raw() that inflated a Content-Encoding: fails the request (500), never hashes the decoded bytes', async () => {
    const app = await expressApp([express.raw({ type: () => true, limit: 1024 })])
    const url = app.url
    const call = createMandateFetch({ mandate: grant, key: assistant, audience: 'mail' })
    const send = async (body: Uint8Array, encoding: string) => {
      const res = await call(url, {
        method: 'POST',
        body,
        headers: { 'content-type': 'text/plain', 'content-encoding': encoding },
        mandate: READ,
      })
      return { status: res.status, json: (await res.json()) as Record<string, unknown> }
    }
    try {
      for (const encoding of ['gzip', ' GZIP ']) {
        expect(await send(gzipSync('hello'), encoding)).toEqual({
          status: 500,
          json: {
            error: `mandate(): express.raw() decoded this request's Content-Encoding (gzip), so the content as received cannot be hashed; mount it with { inflate: false }, or mount mandate() before it`,
          },
        })
      }
      // Identity is no encoding: the bytes are the ones received.
      expect(await send(utf8('hello'), 'identity')).toEqual({ status: 200, json: { bytes: 'hello' } })
    } finally {
      await app.close()
    }
  })

  it('reads content another middleware decoded to text as the bytes received', async () => {
    const app = await expressApp([
      (req, _res, next) => {
        req.setEncoding('utf8')
        next()
      },
    ])
    try {
      expect(await app.post('héllo wörld', 'text/plain')).toEqual({
        status: 200,
        json: { bytes: Buffer.from('héllo wörld').toString('latin1') },
      })
    } finally {
      await app.close()
    }
  })

  it('fails the request (500) when a parser before it consumed the body or set req.body, rather than pass it unbound', async () => {
    const consumed =
      'mandate(): the request body was already consumed by another parser; mount mandate() before express.json(), or after express.raw({ inflate: false })'
    const parsed = await expressApp([express.json()])
    const forged = await expressApp([
      (req, _res, next) => {
        req.body = { to: 'eve@evil.test' }
        next()
      },
    ])
    try {
      expect(await parsed.post('{"to":"bob@example.com"}', 'application/json')).toEqual({ status: 500, json: { error: consumed } })
      expect(await forged.post('{"to":"bob@example.com"}', 'application/json')).toEqual({ status: 500, json: { error: consumed } })
    } finally {
      await parsed.close()
      await forged.close()
    }
  })
})

describe('a body read before the guard', () => {
  it('fails the Hono request, saying where the guard goes', async () => {
    const app = new Hono()
    app.onError((e, c) => c.json({ error: e.message }, 500))
    app.post(
      '/x',
      async (c, next) => {
        await c.req.raw.arrayBuffer()
        await next()
      },
      honoGuard(newGuard(), route),
      (c) => c.text('handled'),
    )
    const seen: Request[] = []
    const call = createMandateFetch({
      mandate: grant,
      key: assistant,
      audience: 'mail',
      fetch: (async (u: string | URL | Request, i?: RequestInit) => {
        const request = new Request(u, i)
        seen.push(request)
        return app.request(request)
      }) as typeof fetch,
    })
    const res = await call('http://api.test/x', { method: 'POST', body: '{}', mandate: READ })
    expect([res.status, await res.json()]).toEqual([
      500,
      { error: 'mandate(): the request body was already read; put the guard before any middleware that reads it' },
    ])
  })

  it('rejects in a protect() handler, saying the guard must see it first', async () => {
    const handler = protect(newGuard(), route, () => new Response('handled'))
    const call = createMandateFetch({
      mandate: grant,
      key: assistant,
      audience: 'mail',
      fetch: (async (u: string | URL | Request, i?: RequestInit) => {
        const request = new Request(u, i)
        await request.text()
        return handler(request)
      }) as typeof fetch,
    })
    await expect(call('http://api.test/x', { method: 'POST', body: '{}', mandate: READ })).rejects.toThrow(
      'protect(): the request body was already read; the guard must see it first',
    )
  })
})

describe('protect', () => {
  it('reads at most 1 MiB by default', async () => {
    const handler = protect(newGuard(), route, () => new Response('handled'))
    const call = createMandateFetch({
      mandate: grant,
      key: assistant,
      audience: 'mail',
      fetch: (async (u: string | URL | Request, i?: RequestInit) => handler(new Request(u, i))) as typeof fetch,
    })
    const big = await call('http://api.test/x', { method: 'POST', body: 'a'.repeat(1024 * 1024 + 1), mandate: READ })
    expect([big.status, ((await big.json()) as { detail: string }).detail]).toEqual([
      413,
      'the request content is larger than 1048576 bytes',
    ])
    const most = await call('http://api.test/x', { method: 'POST', body: 'a'.repeat(1024 * 1024), mandate: READ })
    expect([most.status, await most.text()]).toEqual([200, 'handled'])
  })
})

describe('Fastify', () => {
  it('decisionOf on a route without the guard is an error, never a decision', async () => {
    const app = Fastify()
    app.setErrorHandler((e, _request, reply) => reply.code(500).send({ error: (e as Error).message }))
    app.get('/x', async (r) => ({ by: decisionOf(r).chain.at(-1)?.name }))
    try {
      const res = await app.inject({ method: 'GET', url: '/x' })
      expect([res.statusCode, res.json()]).toEqual([500, { error: 'decisionOf(): this request did not pass a mandate guard' }])
    } finally {
      await app.close()
    }
  })
})

describe('maxBody is checked when an adapter is made', () => {
  // A NaN or '1mb' compares false with every length: no body would ever be too large.
  const route = () => ({ action: 'email:read' })
  const adapters = {
    hono: (maxBody: unknown) => honoGuard(newGuard(), route, { maxBody: maxBody as number }),
    express: (maxBody: unknown) => expressGuard(newGuard(), route, { maxBody: maxBody as number }),
    fastify: (maxBody: unknown) => fastifyGuard(newGuard(), route, { maxBody: maxBody as number }),
    fetch: (maxBody: unknown) => protect(newGuard(), route, () => new Response('ok'), { maxBody: maxBody as number }),
  }
  for (const [name, make] of Object.entries(adapters)) {
    it(`${name}: a whole number of bytes from 1 to 64 MiB`, () => {
      expect(() => make('1mb')).toThrow(new TypeError('"maxBody" expected a whole number, got string'))
      for (const bad of [Number.NaN, 0, 0.5, 64 * 1024 * 1024 + 1]) {
        expect(() => make(bad)).toThrow(new RangeError(`"maxBody" expected a whole number from 1 to 67108864, got ${bad}`))
      }
      for (const good of [undefined, 1, 64 * 1024 * 1024]) expect(() => make(good)).not.toThrow()
    })
  }
})
