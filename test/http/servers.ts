/** The fixture's API on each framework, listening on loopback. */
import type { AddressInfo } from 'node:net'
import { serve } from '@hono/node-server'
import express from 'express'
import Fastify from 'fastify'
import { Hono } from 'hono'
import { mandate as expressGuard } from '../../src/http/express.js'
import { decisionOf, mandate as fastifyGuard } from '../../src/http/fastify.js'
import { mandate as honoGuard, type MandateVariables } from '../../src/http/hono.js'
import { protect } from '../../src/http.js'
import type { Allowed } from '../../src/verify/decision.js'
import { MAX_BODY, routes, type Start } from './fixture.js'

const answer = (d: Allowed, body?: unknown) => ({
  by: d.chain.at(-1)?.name,
  action: d.request.action,
  ...(body === undefined ? {} : { body }),
})

function nodeServer(fetchHandler: (r: Request) => Promise<Response> | Response): Promise<{ url: string; close(): Promise<void> }> {
  return new Promise((resolve) => {
    const server = serve({ fetch: fetchHandler, hostname: '127.0.0.1', port: 0 }, (info) =>
      resolve({
        url: `http://127.0.0.1:${info.port}`,
        close: () => new Promise<void>((done) => server.close(() => done())),
      }),
    )
  })
}

export const startFetch: Start = (guard, handled) => {
  const limit = { maxBody: MAX_BODY }
  const record = (r: Request) => handled.push(`${r.method} ${new URL(r.url).pathname}`)
  const send = protect(
    guard,
    ({ request, body }) =>
      routes.send(
        (/\/mailboxes\/([^/]+)\//.exec(new URL(request.url).pathname) as string[])[1] as string,
        body,
        request.headers.get('content-type'),
      ),
    async (request, d) => {
      record(request)
      return Response.json(answer(d, await request.json()))
    },
    limit,
  )
  const read = protect(
    guard,
    ({ request }) => routes.read(new URL(request.url).pathname.split('/')[2] as string),
    (request, d) => {
      record(request)
      return Response.json(answer(d))
    },
    limit,
  )
  const remove = protect(
    guard,
    ({ request }) => {
      const [, , user, , id] = new URL(request.url).pathname.split('/')
      return routes.remove(user as string, id as string)
    },
    (request, d) => {
      record(request)
      return Response.json(answer(d))
    },
    limit,
  )
  return nodeServer((request) => {
    const path = new URL(request.url).pathname
    if (request.method === 'POST' && /^\/mailboxes\/[^/]+\/send$/.test(path)) return send(request)
    if (request.method === 'GET' && /^\/mailboxes\/[^/]+\/messages$/.test(path)) return read(request)
    if (request.method === 'DELETE' && /^\/mailboxes\/[^/]+\/messages\/[^/]+$/.test(path)) return remove(request)
    return new Response('not found', { status: 404 })
  })
}

export const startHono: Start = (guard, handled) => {
  const app = new Hono<{ Variables: MandateVariables }>()
  const limit = { maxBody: MAX_BODY }
  app.post(
    '/mailboxes/:user/send',
    honoGuard(guard, (c, body) => routes.send(c.req.param('user') as string, body, c.req.header('content-type')), limit),
    async (c) => {
      handled.push(`POST ${c.req.path}`)
      return c.json(answer(c.get('mandate'), await c.req.json()))
    },
  )
  app.get(
    '/mailboxes/:user/messages',
    honoGuard(guard, (c) => routes.read(c.req.param('user') as string), limit),
    (c) => {
      handled.push(`GET ${c.req.path}`)
      return c.json(answer(c.get('mandate')))
    },
  )
  app.delete(
    '/mailboxes/:user/messages/:id',
    honoGuard(guard, (c) => routes.remove(c.req.param('user') as string, c.req.param('id') as string), limit),
    (c) => {
      handled.push(`DELETE ${c.req.path}`)
      return c.json(answer(c.get('mandate')))
    },
  )
  return nodeServer(app.fetch)
}

export const startExpress: Start = (guard, handled) => {
  const app = express()
  const limit = { maxBody: MAX_BODY }
  // Mounted after the guard: it finds the body read and leaves req.body as the guard set it.
  const json = express.json()
  app.post(
    '/mailboxes/:user/send',
    expressGuard(guard, (req, body) => routes.send(req.params['user'] as string, body, req.headers['content-type']), limit),
    json,
    (req, res) => {
      handled.push(`POST ${req.path}`)
      res.json(answer(res.locals['mandate'] as Allowed, req.body))
    },
  )
  app.get(
    '/mailboxes/:user/messages',
    expressGuard(guard, (req) => routes.read(req.params['user'] as string), limit),
    (req, res) => {
      handled.push(`GET ${req.path}`)
      res.json(answer(res.locals['mandate'] as Allowed))
    },
  )
  app.delete(
    '/mailboxes/:user/messages/:id',
    expressGuard(guard, (req) => routes.remove(req.params['user'] as string, req.params['id'] as string), limit),
    (req, res) => {
      handled.push(`DELETE ${req.path}`)
      res.json(answer(res.locals['mandate'] as Allowed))
    },
  )
  return new Promise((resolve) => {
    const server = app.listen(0, '127.0.0.1', () =>
      resolve({
        url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
        close: () => new Promise<void>((done) => server.close(() => done())),
      }),
    )
  })
}

export const startFastify: Start = async (guard, handled) => {
  const app = Fastify()
  const limit = { maxBody: MAX_BODY }
  const path = (url: string) => new URL(url, 'http://x').pathname
  app.post(
    '/mailboxes/:user/send',
    fastifyGuard(guard, (r, body) => routes.send((r.params as { user: string }).user, body, r.headers['content-type']), limit),
    async (r) => {
      handled.push(`POST ${path(r.url)}`)
      return answer(decisionOf(r), r.body)
    },
  )
  app.get(
    '/mailboxes/:user/messages',
    fastifyGuard(guard, (r) => routes.read((r.params as { user: string }).user), limit),
    async (r) => {
      handled.push(`GET ${path(r.url)}`)
      return answer(decisionOf(r))
    },
  )
  app.delete(
    '/mailboxes/:user/messages/:id',
    fastifyGuard(guard, (r) => routes.remove((r.params as { user: string }).user, (r.params as { id: string }).id), limit),
    async (r) => {
      handled.push(`DELETE ${path(r.url)}`)
      return answer(decisionOf(r))
    },
  )
  const url = await app.listen({ port: 0, host: '127.0.0.1' })
  return { url, close: () => app.close() }
}
