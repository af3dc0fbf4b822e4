/**
 * Operations (#7): the push channel does not leak listeners on the closing signal, `limit` and
 * `since` are validated (never clamped), pages carry the true head, close() has a deadline
 * even with hanging clients, and a key file open to others is reported at start.
 */

import { getEventListeners, setMaxListeners } from 'node:events'
import { chmodSync, mkdtempSync, readFileSync, statSync } from 'node:fs'
import { connect } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import pino from 'pino'
import { describe, expect, it } from 'vitest'
import { generateKeyPair, toDidKey, verifyFeedPage } from '../../src/index.js'
import { createApp } from '../../src/service/app.js'
import { loadOrCreateKey, startService } from '../../src/service/server.js'
import { openSqliteStore } from '../../src/service/sqlite-store.js'

const alice = generateKeyPair()
const roots = [{ key: toDidKey(alice.publicKey), name: 'alice' }]

function capture() {
  const lines: Record<string, unknown>[] = []
  const logger = pino({ level: 'info' }, { write: (line: string) => lines.push(JSON.parse(line) as Record<string, unknown>) })
  return { logger, lines, warnings: () => lines.filter((l) => l['level'] === 40) }
}

const code = async (res: Response) => ((await res.json()) as { error?: { code: string } }).error?.code

describe('feed endpoints', () => {
  const key = generateKeyPair()

  it('the push channel removes its listener from the closing signal when a stream ends (50 streams)', async () => {
    const closing = new AbortController()
    setMaxListeners(100, closing.signal)
    const app = createApp({ store: openSqliteStore(':memory:'), key, roots, closing: closing.signal, streamPollMs: 10 })
    const listeners = () => getEventListeners(closing.signal, 'abort').length
    const baseline = listeners()
    const readers = await Promise.all(
      Array.from({ length: 50 }, async () => {
        const res = await app.request('/v1/revocations/stream?since=0')
        const reader = (res.body as ReadableStream<Uint8Array>).getReader()
        const first = await reader.read()
        expect(new TextDecoder().decode(first.value)).toContain('event: page')
        return reader
      }),
    )
    expect(listeners()).toBe(baseline + 50)
    for (const r of readers) await r.cancel()
    const until = Date.now() + 5000
    while (listeners() > baseline && Date.now() < until) await new Promise((r) => setTimeout(r, 20))
    expect(listeners()).toBe(baseline)
    // Streams ended by the closing signal clean up too.
    const more = await Promise.all(
      Array.from({ length: 5 }, async () => {
        const res = await app.request('/v1/revocations/stream?since=0')
        const reader = (res.body as ReadableStream<Uint8Array>).getReader()
        await reader.read()
        return reader
      }),
    )
    closing.abort()
    for (const r of more) while (!(await r.read()).done);
    expect(listeners()).toBe(0)
  })

  it('revocation streams are capped (each looks at the store every 200 ms, and anyone may open one): 429 past it', async () => {
    expect(() => createApp({ store: openSqliteStore(':memory:'), key, roots, maxFeedStreams: 0 })).toThrow(
      new RangeError('"maxFeedStreams" expected a whole number from 1 to 100000, got 0'),
    )
    const app = createApp({ store: openSqliteStore(':memory:'), key, roots, maxFeedStreams: 2, streamPollMs: 10 })
    const open = async () => {
      const res = await app.request('/v1/revocations/stream?since=0')
      expect(res.status).toBe(200)
      const reader = (res.body as ReadableStream<Uint8Array>).getReader()
      await reader.read()
      return reader
    }
    const [a, b] = [await open(), await open()]
    const full = await app.request('/v1/revocations/stream?since=0')
    expect([full.status, ((await full.json()) as { error: unknown }).error]).toEqual([
      429,
      { code: 'ERR_LIMIT_RATE', message: 'this service already has 2 open revocation streams; read GET /v1/revocations meanwhile' },
    ])
    // Polling stays open to everyone.
    expect((await app.request('/v1/revocations?since=0')).status).toBe(200)
    await a.cancel()
    const until = Date.now() + 5000
    let again: Response | undefined
    while (Date.now() < until) {
      again = await app.request('/v1/revocations/stream?since=0')
      if (again.status === 200) break
      await new Promise((r) => setTimeout(r, 20))
    }
    expect(again?.status).toBe(200)
    await again?.body?.cancel()
    await b.cancel()
  })

  it('limit is an integer 1..500, since a sequence number: anything else is 400 ERR_REQUEST_MALFORMED', async () => {
    const app = createApp({ store: openSqliteStore(':memory:'), key, roots })
    for (const limit of ['0', '-1', '1.5', 'abc', '501', '1e3', '99999999999999999999', '', ' 5', '0x10']) {
      const res = await app.request(`/v1/revocations?since=0&limit=${encodeURIComponent(limit)}`)
      expect([limit, res.status, await code(res)]).toEqual([limit, 400, 'ERR_REQUEST_MALFORMED'])
    }
    for (const since of ['-1', 'abc', '1.5', '9999999999999999']) {
      const res = await app.request(`/v1/revocations?since=${since}`)
      expect([since, res.status, await code(res)]).toEqual([since, 400, 'ERR_REQUEST_MALFORMED'])
      const stream = await app.request(`/v1/revocations/stream?since=${since}`)
      expect(stream.status).toBe(400)
    }
    for (const limit of ['1', '500', '42']) expect((await app.request(`/v1/revocations?since=0&limit=${limit}`)).status).toBe(200)
    expect((await app.request('/v1/revocations')).status).toBe(200)
  })

  it('a page from above the head carries the true head and the feed id', async () => {
    const store = openSqliteStore(':memory:')
    const app = createApp({ store, key, roots })
    const page = verifyFeedPage(await (await app.request('/v1/revocations?since=7')).json(), key.publicKey)
    expect([page.since, page.head, page.entries, page.more]).toEqual([7, 0, [], false])
    expect(page.feedId).toBe(await store.feedId())
  })
})

describe('server', () => {
  const start = (dir: string, extra: { shutdownMs?: number } = {}) => {
    const log = capture()
    return startService({
      host: '127.0.0.1',
      port: 0,
      db: join(dir, 'mandate.db'),
      keyFile: join(dir, 'service.pem'),
      logLevel: 'info',
      logger: log.logger,
      trust: { roots },
      ...extra,
    }).then((service) => ({ service, log }))
  }

  it('close() ends push streams at once, and waits for a hanging request at most the deadline', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mandate-ops-'))
    // Push streams only (one never read by its client): close() does not wait for the deadline.
    {
      const { service } = await start(dir, { shutdownMs: 3000 })
      const reading = await fetch(`${service.url}/v1/revocations/stream?since=0`)
      const reader = (reading.body as ReadableStream<Uint8Array>).getReader()
      await reader.read()
      const ignored = await fetch(`${service.url}/v1/revocations/stream?since=0`)
      // A raw client that asks for the stream and never reads a byte.
      const raw = connect(Number(new URL(service.url).port), '127.0.0.1')
      raw.on('error', () => {})
      raw.pause()
      await new Promise<void>((resolve) => raw.once('connect', () => resolve()))
      raw.write('GET /v1/revocations/stream?since=0 HTTP/1.1\r\nhost: x\r\naccept: text/event-stream\r\n\r\n')
      await new Promise((r) => setTimeout(r, 100))
      const t0 = performance.now()
      await service.close()
      expect(performance.now() - t0).toBeLessThan(2000)
      while (!(await reader.read()).done);
      void ignored.body?.cancel().catch(() => {})
      raw.destroy()
    }
    // A request whose body never finishes: close() force-closes it at the deadline.
    {
      const { service, log } = await start(dir, { shutdownMs: 400 })
      const { port } = new URL(service.url)
      const socket = connect(Number(port), '127.0.0.1')
      socket.on('error', () => {})
      const ended = new Promise<void>((resolve) => socket.once('close', () => resolve()))
      await new Promise<void>((resolve) => socket.once('connect', () => resolve()))
      socket.write('POST /v1/revocations HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 1000\r\n\r\n{"revo')
      await new Promise((r) => setTimeout(r, 100))
      const t0 = performance.now()
      await service.close()
      const took = performance.now() - t0
      expect(took).toBeGreaterThanOrEqual(350)
      expect(took).toBeLessThan(2500)
      await ended
      expect(log.warnings().map((l) => l['msg'])).toContain('shutdown deadline passed: closing the remaining connections')
      // close() twice is one shutdown.
      await service.close()
    }
  }, 20_000)

  it('a client that goes away before its whole body came is answered 400, never logged or counted as a failure', async () => {
    const { service, log } = await start(mkdtempSync(join(tmpdir(), 'mandate-ops-')))
    const port = Number(new URL(service.url).port)
    /** Sends `head` and part of a body, then drops the connection. */
    const drop = (head: string) =>
      new Promise<void>((resolve) => {
        const socket = connect(port, '127.0.0.1', () => socket.write(`${head}\r\n\r\n{"a`))
        socket.on('error', () => {})
        socket.on('close', () => resolve())
        setTimeout(() => socket.destroy(), 100)
      })
    const json = 'Host: x\r\nContent-Type: application/json'
    for (const route of ['/v1/approvals', '/v1/usage/consume', '/v1/revocations', '/v1/audit/decisions']) {
      await drop(`POST ${route} HTTP/1.1\r\n${json}\r\nContent-Length: 100`)
      await drop(`POST ${route} HTTP/1.1\r\n${json}\r\nTransfer-Encoding: chunked\r\n\r\n4`)
    }
    const until = Date.now() + 5000
    while (log.lines.filter((l) => l['msg'] === 'request').length < 8 && Date.now() < until) await new Promise((r) => setTimeout(r, 20))
    const requests = log.lines.filter((l) => l['msg'] === 'request')
    expect(requests.map((l) => l['status'])).toEqual(Array(8).fill(400))
    expect(log.lines.filter((l) => (l['level'] as number) >= 50)).toEqual([])
    const metrics = await (await fetch(`${service.url}/metrics`)).text()
    expect(metrics).not.toMatch(/status="5\d\d"/)
    await service.close()
  })

  it('warns once at start when the key file is open to group or others, naming the file and the fix, never the key', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mandate-ops-'))
    const keyFile = join(dir, 'service.pem')
    loadOrCreateKey(keyFile)
    expect(statSync(keyFile).mode & 0o777).toBe(0o600)
    {
      const { service, log } = await start(dir)
      expect(log.warnings()).toEqual([])
      await service.close()
    }
    chmodSync(keyFile, 0o644)
    const { service, log } = await start(dir)
    const warnings = log.warnings()
    expect(warnings.length).toBe(1)
    const text = JSON.stringify(warnings[0])
    expect(text).toContain(keyFile)
    expect(text).toContain('chmod 600')
    const pem = readFileSync(keyFile, 'utf8')
    const body = pem.split('\n').filter((l) => l && !l.startsWith('-----'))
    for (const line of body) expect(JSON.stringify(log.lines)).not.toContain(line)
    await service.close()
  })
})
