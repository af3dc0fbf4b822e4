/**
 * The floors for `npm run bench:service`: the service's own HTTP stack (Hono on
 * @hono/node-server) answering POST /v1/usage/consume with a constant JSON body after reading
 * the request's body. Prints `listening <url>` on stdout.
 *
 * With `--signatures N`, each request also checks N Ed25519 signatures the way the service
 * does (node:crypto with a callback, so on libuv's thread pool; key objects imported once):
 * the first alone, as the service checks the request's signature before reading the rest, then
 * the others at once. The service checks three (the request's, the root block's, the
 * invocation's), so with N = 3 this is what any service of this stack that checks them can
 * serve at best: the signature floor.
 */
import { generateKeyPairSync, randomBytes, sign, verify } from 'node:crypto'
import { serve } from '@hono/node-server'
import { Hono } from 'hono'

const at = process.argv.indexOf('--signatures')
const count = at === -1 ? 0 : Number(process.argv[at + 1])
const work = Array.from({ length: count }, () => {
  const { publicKey, privateKey } = generateKeyPairSync('ed25519')
  // About the size of what the service's signatures cover (a block, an invocation, a request's signature base).
  const message = randomBytes(300)
  return { publicKey, message, signature: sign(null, message, privateKey) }
})
const check = (w) =>
  new Promise((resolve, reject) =>
    verify(null, w.message, w.publicKey, w.signature, (error, valid) =>
      error || !valid ? reject(error ?? new Error('invalid')) : resolve(),
    ),
  )

const app = new Hono()
app.post('/v1/usage/consume', async (c) => {
  await c.req.arrayBuffer()
  if (count > 0) {
    await check(work[0])
    await Promise.all(work.slice(1).map(check))
  }
  return c.json({ granted: true, remaining: [] })
})
const server = serve({ fetch: app.fetch, hostname: '127.0.0.1', port: 0 }, (info) => {
  process.stdout.write(`listening http://127.0.0.1:${info.port}\n`)
})
process.on('SIGTERM', () => server.close(() => process.exit(0)))
