/**
 * The floor for `npm run bench:service`: the service's own HTTP stack (Hono on
 * @hono/node-server) answering POST /v1/usage/consume with a constant JSON body after reading
 * the request's body, and nothing else. Prints `listening <url>` on stdout.
 */
import { serve } from '@hono/node-server'
import { Hono } from 'hono'

const app = new Hono()
app.post('/v1/usage/consume', async (c) => {
  await c.req.arrayBuffer()
  return c.json({ granted: true, remaining: [] })
})
const server = serve({ fetch: app.fetch, hostname: '127.0.0.1', port: 0 }, (info) => {
  process.stdout.write(`listening http://127.0.0.1:${info.port}\n`)
})
process.on('SIGTERM', () => server.close(() => process.exit(0)))
