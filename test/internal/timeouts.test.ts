/**
 * Every network call of the library's clients has a deadline (issue #13): against real loopback
 * servers that accept and never answer, send headers and stall, or answer slowly but in time.
 * Each call must fail closed with its own code, say it timed out and where (never a secret), and
 * return within a bound loose enough for a busy machine: this is a behaviour test, not a benchmark.
 * Background syncing (`start()`) must not keep a process alive; `stop()` ends everything.
 */
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { createServer as createHttpServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { createServer, type Socket } from 'node:net'
import { fileURLToPath } from 'node:url'
import { afterEach, describe, expect, it } from 'vitest'
import {
  createFeedRevocationView,
  createRemoteReplayCache,
  createRemoteUsageStore,
  generateKeyPair,
  invoke,
  listApprovalRequests,
  readApprovalRequest,
  signFeedPage,
  toDidKey,
} from '../../src/index.js'
import { deadline, pause, timeoutOption } from '../../src/internal/deadline.js'
import { describeFailure, describeUrl } from '../../src/internal/http.js'
import { unrefFetch } from '../../src/internal/unref-fetch.js'
import { assistant, bearerChild, codeOf, rootGrant, verifierFor } from '../helpers/chains.js'
import { keyFor, seededRandom, T0 } from '../helpers/fixtures.js'

/** The deadline the tests give, and the bound a call must return within (loose: a noisy 2-core machine). */
const TIMEOUT = 200
const BOUND = 3000
const service = keyFor('service')
const serviceKey = toDidKey(service.publicKey)
const verifierKey = generateKeyPair()
const FEED_ID = '0123456789abcdef0123456789abcdef'

/** How a loopback server treats a request, given its socket and its request line and headers. */
type Behaviour = (socket: Socket, head: string) => void

/** A raw loopback HTTP server: full control over when (and whether) bytes go out. */
async function loopback(behave: Behaviour) {
  const sockets = new Set<Socket>()
  const requests: string[] = []
  const server = createServer((socket) => {
    sockets.add(socket)
    socket.on('close', () => sockets.delete(socket))
    socket.on('error', () => {})
    let head = ''
    socket.on('data', (chunk) => {
      if (head.includes('\r\n\r\n')) return
      head += chunk.toString('latin1')
      if (!head.includes('\r\n\r\n')) return
      requests.push(head.slice(0, head.indexOf('\r\n')))
      behave(socket, head)
    })
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  const close = async () => {
    for (const s of sockets) s.destroy()
    await new Promise((r) => server.close(r))
  }
  servers.push(close)
  return { url, requests, sockets, close }
}
const servers: (() => Promise<void>)[] = []
afterEach(async () => {
  await Promise.all(servers.splice(0).map((close) => close()))
})

/** A whole answer, connection closed after it. */
const answer = (status: number, body: string, type = 'application/json') =>
  `HTTP/1.1 ${status} X\r\ncontent-type: ${type}\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`
/** Accepts, reads the request, never writes a byte. */
const silent: Behaviour = () => {}
/** Sends the status line, headers and a few body bytes, then nothing. */
const stalled: Behaviour = (socket) => socket.write('HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 200\r\n\r\n{"gra')
/** Answers `body` after `ms`. */
const slow =
  (ms: number, body: () => string): Behaviour =>
  (socket) => {
    setTimeout(() => socket.end(answer(200, body())), ms)
  }
/** Event stream headers (read until close), then whatever the caller writes. */
const SSE_HEAD = 'HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ncache-control: no-cache\r\nconnection: close\r\n\r\n'

const now = () => Math.floor(Date.now() / 1000)
/** A fresh, empty, correctly signed page from `since`. */
const page = (since = 0) =>
  JSON.stringify(
    signFeedPage(
      { serviceKey: service.publicKey, feedId: FEED_ID, since, head: 0, issuedAt: now(), nextUpdate: now() + 60, entries: [], more: false },
      service.secretKey,
    ),
  )
/** The feed: pages on GET /v1/revocations, `stream` for the push channel. */
const feed =
  (stream: Behaviour): Behaviour =>
  (socket, head) => {
    if (head.startsWith('GET /v1/revocations/stream')) stream(socket, head)
    else socket.end(answer(200, page()))
  }

/** Run `call`; its outcome and how long it took. */
async function timed<T>(call: () => Promise<T>): Promise<{ ms: number; value?: T; error?: { code?: string; message?: string } }> {
  const started = performance.now()
  try {
    const value = await call()
    return { ms: performance.now() - started, value }
  } catch (e) {
    return { ms: performance.now() - started, error: e as { code?: string; message?: string } }
  }
}

/** Wait until `check` holds (or `ms` passed); whether it held. */
async function until(check: () => boolean, ms = BOUND): Promise<boolean> {
  const end = Date.now() + ms
  while (!check() && Date.now() < end) await pause(20)
  return check()
}

describe('feed sync has a deadline', () => {
  for (const [name, behave] of [
    ['accepts and never answers', silent],
    ['sends headers, then stalls', stalled],
  ] as const) {
    it(`a server that ${name}: ERR_REVOCATION_STALE, "did not answer within", the URL, within the bound`, async () => {
      const server = await loopback(behave)
      const view = createFeedRevocationView({ url: server.url, serviceKey, timeoutMs: TIMEOUT })
      const { ms, error } = await timed(() => view.sync())
      expect(error?.code).toBe('ERR_REVOCATION_STALE')
      expect(error?.message).toBe(`the revocation feed at ${server.url}/v1/revocations did not answer within ${TIMEOUT} ms (timed out)`)
      expect(ms).toBeLessThan(BOUND)
      expect(view.lastError).toBe(error)
    })
  }

  it('a slow answer within the deadline is applied', async () => {
    const server = await loopback(slow(100, () => page()))
    const view = createFeedRevocationView({ url: server.url, serviceKey, timeoutMs: 2000 })
    await view.sync()
    expect([view.lastError, view.feedId]).toEqual([undefined, FEED_ID])
    expect(view.lag()).toBeLessThan(5)
  })

  it('a refused connection is "cannot be reached", with the same code', async () => {
    const server = await loopback(silent)
    await server.close()
    const { error } = await timed(() => createFeedRevocationView({ url: server.url, serviceKey, timeoutMs: TIMEOUT }).sync())
    expect(error?.code).toBe('ERR_REVOCATION_STALE')
    expect(error?.message).toContain(`the revocation feed at ${server.url}/v1/revocations cannot be reached (fetch failed: ECONNREFUSED)`)
  })
})

describe('usage counters and replay claims have a deadline', () => {
  const limited = bearerChild([{ type: 'uses', max: 3 }])
  const inv = () =>
    invoke(rootGrant(), { key: assistant, action: 'a', audience: 'svc', now: T0 + 60, random: seededRandom(String(Math.random())) })

  for (const [name, behave] of [
    ['accepts and never answers', silent],
    ['sends headers, then stalls', stalled],
  ] as const) {
    it(`a usage service that ${name}: ERR_COUNTER_UNAVAILABLE, timed out, retried, within the bound`, async () => {
      const server = await loopback(behave)
      const usage = createRemoteUsageStore({ url: server.url, key: verifierKey, timeoutMs: TIMEOUT, retries: 1 })
      const { ms, value: d } = await timed(() => verifierFor({ usage }).authorize({ mandate: limited, request: { action: 'x' } }))
      expect(d && codeOf(d)).toBe('ERR_COUNTER_UNAVAILABLE')
      if (d && !d.allowed)
        expect(d.message).toBe(`the usage service at ${server.url}/v1/usage/consume did not answer within ${TIMEOUT} ms (timed out)`)
      expect(server.requests).toEqual(['POST /v1/usage/consume HTTP/1.1', 'POST /v1/usage/consume HTTP/1.1'])
      expect(ms).toBeLessThan(BOUND)
    })

    it(`a replay service that ${name}: ERR_REPLAY_UNAVAILABLE, timed out, never retried, within the bound`, async () => {
      const server = await loopback(behave)
      const replay = createRemoteReplayCache({ url: server.url, key: verifierKey, timeoutMs: TIMEOUT })
      const { ms, value: d } = await timed(() => verifierFor({ replay }).authorize({ invocation: inv() }))
      expect(d && codeOf(d)).toBe('ERR_REPLAY_UNAVAILABLE')
      if (d && !d.allowed)
        expect(d.message).toBe(`the replay service at ${server.url}/v1/replay/claim did not answer within ${TIMEOUT} ms (timed out)`)
      expect(server.requests).toHaveLength(1)
      expect(ms).toBeLessThan(BOUND)
    })
  }

  it('slow answers within the deadline are used', async () => {
    // The answers to the questions asked: the counter of the sub-agent's uses caveat, the invocation's id.
    const counter = `${limited.blocks[1]?.idHex}/0`
    const usageServer = await loopback(slow(100, () => JSON.stringify({ granted: true, remaining: [{ key: counter, remaining: 2 }] })))
    const usage = createRemoteUsageStore({ url: usageServer.url, key: verifierKey, timeoutMs: 2000 })
    expect((await verifierFor({ usage }).authorize({ mandate: limited, request: { action: 'x' } })).allowed).toBe(true)
    const invocation = inv()
    const replayServer = await loopback(slow(100, () => JSON.stringify({ id: invocation.idHex, claimed: true })))
    const replay = createRemoteReplayCache({ url: replayServer.url, key: verifierKey, timeoutMs: 2000 })
    expect((await verifierFor({ replay }).authorize({ invocation })).allowed).toBe(true)
  })

  it('a timeoutMs that is not a positive number of milliseconds is a RangeError', () => {
    for (const timeoutMs of [0, -1, Number.NaN, Number.POSITIVE_INFINITY, 2 ** 31]) {
      expect(() => createRemoteUsageStore({ url: 'http://svc', key: verifierKey, timeoutMs })).toThrow(RangeError)
      expect(() => createRemoteReplayCache({ url: 'http://svc', key: verifierKey, timeoutMs })).toThrow(RangeError)
      expect(() => createFeedRevocationView({ url: 'http://svc', serviceKey, timeoutMs })).toThrow(RangeError)
      expect(() => createFeedRevocationView({ url: 'http://svc', serviceKey, streamIdleMs: timeoutMs })).toThrow(RangeError)
    }
    expect(timeoutOption(undefined, 10_000, 'timeoutMs')).toBe(10_000)
  })
})

describe('answers are read up to a bound, and a signed request is never redirected', () => {
  const limited = bearerChild([{ type: 'uses', max: 3 }])
  /** Headers announcing `length` bytes, and the first two of them. */
  const announced =
    (length: number): Behaviour =>
    (socket) =>
      socket.write(`HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: ${length}\r\n\r\n{"`)
  /** A chunked body that never ends (until the client lets go, or 64 MiB): `sent` counts it, `closed` says the client let go. */
  const endless =
    (counter: { sent: number; closed?: boolean }): Behaviour =>
    (socket) => {
      socket.on('close', () => {
        counter.closed = true
      })
      socket.write('HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n')
      const chunk = `10000\r\n${' '.repeat(0x10000)}\r\n`
      const more = () => {
        while (!socket.destroyed && counter.sent < 64 << 20) {
          counter.sent += 0x10000
          if (!socket.write(chunk)) return void socket.once('drain', more)
        }
      }
      more()
    }
  const consume = async (url: string) => {
    const usage = createRemoteUsageStore({ url, key: verifierKey, timeoutMs: 10_000, retries: 0 })
    return verifierFor({ usage }).authorize({ mandate: limited, request: { action: 'x' } })
  }
  const refusal = (d: { allowed: boolean; code?: string; message?: string }) => [d.allowed, d.code, d.message]

  it('a usage answer over 1 MiB is refused, whether announced or streamed: ERR_COUNTER_UNAVAILABLE', async () => {
    const big = await loopback(announced((1 << 20) + 1))
    expect(refusal(await consume(big.url))).toEqual([
      false,
      'ERR_COUNTER_UNAVAILABLE',
      `the usage service at ${big.url}/v1/usage/consume answered with more than 1048576 bytes`,
    ])
    const counter = { sent: 0, closed: false }
    const streamed = await loopback(endless(counter))
    expect(refusal(await consume(streamed.url))).toEqual([
      false,
      'ERR_COUNTER_UNAVAILABLE',
      `the usage service at ${streamed.url}/v1/usage/consume answered with more than 1048576 bytes`,
    ])
    // The verifier let go: the server did not get to send all it would.
    expect(await until(() => counter.closed)).toBe(true)
    expect(counter.sent).toBeLessThan(64 << 20)
  })

  it('a usage answer that breaks off is no answer: asked again, and the retry’s answer is taken (spec §6.1: the stored answer of a spent use)', async () => {
    const key = `${limited.blocks[1]?.idHex}/0`
    let n = 0
    const server = await loopback((socket) => {
      n++
      if (n === 1) {
        // A 200 whose body stops after two of its announced bytes: the connection is gone.
        announced(200)(socket, '')
        socket.destroy()
      } else socket.end(answer(200, JSON.stringify({ granted: true, remaining: [{ key, remaining: 2 }] })))
    })
    const usage = createRemoteUsageStore({ url: server.url, key: verifierKey, timeoutMs: 10_000, retries: 1 })
    const d = await verifierFor({ usage }).authorize({ mandate: limited, request: { action: 'x' } })
    expect(d.allowed).toBe(true)
    expect(server.requests).toEqual(['POST /v1/usage/consume HTTP/1.1', 'POST /v1/usage/consume HTTP/1.1'])
  })

  it('a usage answer over 1 MiB is an answer: final, not asked again', async () => {
    const big = await loopback(announced((1 << 20) + 1))
    const usage = createRemoteUsageStore({ url: big.url, key: verifierKey, timeoutMs: 10_000, retries: 2 })
    const d = await verifierFor({ usage }).authorize({ mandate: limited, request: { action: 'x' } })
    expect(refusal(d)).toEqual([
      false,
      'ERR_COUNTER_UNAVAILABLE',
      `the usage service at ${big.url}/v1/usage/consume answered with more than 1048576 bytes`,
    ])
    expect(big.requests).toEqual(['POST /v1/usage/consume HTTP/1.1'])
  })

  it('a feed page that breaks off is no answer, said as such (not a page out of shape)', async () => {
    const broken = await loopback((socket) => {
      announced(200)(socket, '')
      socket.destroy()
    })
    const view = createFeedRevocationView({ url: broken.url, serviceKey, timeoutMs: 10_000 })
    const { error } = await timed(() => view.sync())
    expect(error?.code).toBe('ERR_REVOCATION_STALE')
    expect(error?.message).toMatch(new RegExp(`^the revocation feed at ${broken.url}/v1/revocations\\S* broke off its answer \\(`))
  })

  it('a feed page over 16 MiB is refused as it streams: ERR_REVOCATION_STALE', async () => {
    const counter = { sent: 0 }
    const server = await loopback(endless(counter))
    const view = createFeedRevocationView({ url: server.url, serviceKey, timeoutMs: 10_000 })
    const { error } = await timed(() => view.sync())
    expect([error?.code, error?.message]).toEqual([
      'ERR_REVOCATION_STALE',
      `the revocation feed at ${server.url}/v1/revocations answered with more than 16777216 bytes`,
    ])
    expect(counter.sent).toBeLessThan(64 << 20)
  })

  it('an inbox answer over 16 MiB is refused: ERR_APPROVAL_UNAVAILABLE', async () => {
    const server = await loopback(announced((16 << 20) + 1))
    const { error } = await timed(() => listApprovalRequests(verifierKey, { url: server.url, timeoutMs: 10_000 }))
    expect([error?.code, error?.message]).toEqual([
      'ERR_APPROVAL_UNAVAILABLE',
      `the approval inbox at ${server.url}/v1/approvals answered with more than 16777216 bytes`,
    ])
  })

  it('a redirect is refused, never followed: the signed request goes nowhere else', async () => {
    const elsewhere = await loopback((socket) => socket.end(answer(200, JSON.stringify({ granted: true, remaining: [] }))))
    const redirect: Behaviour = (socket) =>
      socket.end(`HTTP/1.1 303 See Other\r\nlocation: ${elsewhere.url}/granted\r\ncontent-length: 0\r\nconnection: close\r\n\r\n`)
    const server = await loopback(redirect)
    expect(refusal(await consume(server.url))).toEqual([false, 'ERR_COUNTER_UNAVAILABLE', 'the usage service answered 303'])
    const { error } = await timed(() => listApprovalRequests(verifierKey, { url: server.url, timeoutMs: 10_000 }))
    expect([error?.code, error?.message]).toEqual([
      'ERR_APPROVAL_UNAVAILABLE',
      `the approval inbox at ${server.url}/v1/approvals answered 303 (not the mandate service?)`,
    ])
    expect(elsewhere.requests).toEqual([])
  })
})

describe('an answer is about what was asked, and its words reach messages escaped', () => {
  const limited = bearerChild([{ type: 'uses', max: 3 }])
  /** A node:http server answering each POST's JSON body with `reply(body)`. */
  async function answering(reply: (body: Record<string, unknown>) => { status?: number; body: unknown }) {
    const server = createHttpServer((req, res) => {
      let text = ''
      req.on('data', (d) => {
        text += String(d)
      })
      req.on('end', () => {
        const out = reply(text ? (JSON.parse(text) as Record<string, unknown>) : {})
        res.writeHead(out.status ?? 200, { 'content-type': 'application/json', connection: 'close' }).end(JSON.stringify(out.body))
      })
    })
    server.listen(0, '127.0.0.1')
    await once(server, 'listening')
    servers.push(() => new Promise((r) => server.close(() => r())))
    return `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  }
  const consume = async (url: string) => {
    const usage = createRemoteUsageStore({ url, key: verifierKey, timeoutMs: 10_000, retries: 0 })
    const d = await verifierFor({ usage }).authorize({ mandate: limited, request: { action: 'x' } })
    return [d.allowed, d.allowed ? undefined : d.code, d.allowed ? undefined : d.message]
  }
  const asked = (body: Record<string, unknown>) => (body['counters'] as string[])[0] as string

  it('a grant for other counters, or past the limit, or a refusal of a counter not asked, denies: ERR_COUNTER_UNAVAILABLE', async () => {
    const unusable = [false, 'ERR_COUNTER_UNAVAILABLE', 'the usage counter gave an unusable answer']
    expect(
      await consume(await answering(() => ({ body: { granted: true, remaining: [{ key: 'some/other-counter', remaining: 999 }] } }))),
    ).toEqual(unusable)
    expect(await consume(await answering(() => ({ body: { granted: true, remaining: [] } })))).toEqual(unusable)
    expect(await consume(await answering((b) => ({ body: { granted: true, remaining: [{ key: asked(b), remaining: 3 }] } })))).toEqual(
      unusable,
    )
    expect(await consume(await answering(() => ({ body: { granted: false, exhausted: 'some/other-counter' } })))).toEqual(unusable)
    // The answer to the question asked is used.
    expect(await consume(await answering((b) => ({ body: { granted: true, remaining: [{ key: asked(b), remaining: 2 }] } })))).toEqual([
      true,
      undefined,
      undefined,
    ])
  })

  it('a claim answered for another invocation denies: ERR_REPLAY_UNAVAILABLE', async () => {
    const inv = invoke(rootGrant(), { key: assistant, action: 'a', audience: 'svc', now: T0 + 60, random: seededRandom('claim') })
    const url = await answering(() => ({ body: { id: 'f'.repeat(64), claimed: true } }))
    const replay = createRemoteReplayCache({ url, key: verifierKey, timeoutMs: 10_000 })
    const d = await verifierFor({ replay }).authorize({ invocation: inv })
    expect([d.allowed, !d.allowed && d.code, !d.allowed && d.message]).toEqual([
      false,
      'ERR_REPLAY_UNAVAILABLE',
      'the replay service answered for another invocation',
    ])
  })

  it("a denial whose `by` is not a key is out of shape: nobody's words pass for who denied", async () => {
    const id = 'a'.repeat(64)
    const state = (by: string) => ({
      body: { id, status: 'denied', approvers: [], approvals: {}, createdAt: 1, expiresAt: 2, denial: { by, reason: 'no', at: 1 } },
    })
    const forged = await answering(() => state('\u001b[2K\r\u001b[32mmandate: approval GRANTED by alice'))
    const { error } = await timed(() => readApprovalRequest(id, verifierKey, { url: forged, timeoutMs: 10_000 }))
    expect([error?.code, error?.message]).toEqual([
      'ERR_APPROVAL_UNAVAILABLE',
      `the approval inbox at ${forged}/v1/approvals/${id} answered out of shape`,
    ])
    // A key, but not as the service spells it (upper case): refused too.
    const loud = await answering(() => state(serviceKey.toUpperCase()))
    expect((await timed(() => readApprovalRequest(id, verifierKey, { url: loud, timeoutMs: 10_000 }))).error?.code).toBe(
      'ERR_APPROVAL_UNAVAILABLE',
    )
    const fine = await answering(() => state(serviceKey))
    expect((await readApprovalRequest(id, verifierKey, { url: fine, timeoutMs: 10_000 })).denial?.by).toBe(serviceKey)
  })

  it("the service's error words are escaped and cut before they reach a decision's message", async () => {
    const message = `\u001b[31m \u001b]0;pwned\u0007\r\n2026-01-01T00:00:00Z INFO decision=allow${'x'.repeat(200_000)}`
    const url = await answering(() => ({ status: 403, body: { error: { code: 'ERR_NOT_AUTHORIZED\n', message } } }))
    const [, code, said] = await consume(url)
    expect(code).toBe('ERR_COUNTER_UNAVAILABLE')
    expect(said).toMatch(/^the usage service answered 403: ERR_NOT_AUTHORIZED\\n \\x1b\[31m \\x1b\]0;pwned\\x07\\r\\n2026/)
    // biome-ignore lint/suspicious/noControlCharactersInRegex: the point of the test
    expect(said).not.toMatch(/[\u0000-\u001f\u007f]/)
    expect((said as string).length).toBeLessThan(500)
    // A code that is not text is no code at all.
    const odd = await answering(() => ({ status: 403, body: { error: { code: { toString: 1 }, message: 'm' } } }))
    expect((await consume(odd))[2]).toBe('the usage service answered 403')
  })
})

describe('messages name the URL without secrets', () => {
  it('origin and path only: no user:password, no query', () => {
    expect(describeUrl('https://u:secret@svc.example:8443/v1/usage/consume?token=secret')).toBe('https://svc.example:8443/v1/usage/consume')
    // Node's fetch quotes a URL with credentials whole when it refuses it.
    const refused = new TypeError('Request cannot be constructed from a URL that includes credentials: http://u:secret@svc/x?k=secret')
    expect(describeFailure(refused)).toBe('Request cannot be constructed from a URL that includes credentials: http://svc/x')
  })

  it('a URL with credentials is refused when the client is made, without repeating them', () => {
    expect(() => createRemoteUsageStore({ url: 'http://u:secret@127.0.0.1:9', key: verifierKey, timeoutMs: TIMEOUT, retries: 0 })).toThrow(
      new TypeError('"url" carries credentials (user@ or user:password@): give the service\'s URL without them'),
    )
  })
})

describe('deadline and pause', () => {
  it('a deadline says whether it expired or its parent aborted; restart pushes it back', async () => {
    const expiring = deadline(50)
    await once(expiring.signal, 'abort')
    expect(expiring.expired).toBe(true)
    const parent = new AbortController()
    const child = deadline(10_000, { parent: parent.signal })
    parent.abort()
    expect([child.signal.aborted, child.expired]).toEqual([true, false])
    const pushed = deadline(100)
    await pause(60)
    pushed.restart(300)
    await pause(100)
    expect(pushed.signal.aborted).toBe(false)
    pushed.clear()
  })

  it('a pause ends early when its parent aborts', async () => {
    const parent = new AbortController()
    const { ms } = await timed(async () => {
      setTimeout(() => parent.abort(), 20)
      await pause(10_000, { parent: parent.signal, unref: true })
    })
    expect(ms).toBeLessThan(BOUND)
  })
})

describe("start()'s transport in Node (sockets unref'd)", () => {
  const background = unrefFetch()

  it('exists in Node, follows a GET redirect, gives no body for 304, keeps headers', async () => {
    expect(background).toBeDefined()
    const server = await loopback((socket, head) => {
      if (head.startsWith('GET /old')) socket.end('HTTP/1.1 302 Found\r\nlocation: /new\r\ncontent-length: 0\r\nconnection: close\r\n\r\n')
      else if (head.startsWith('GET /same')) socket.end('HTTP/1.1 304 Not Modified\r\netag: "x"\r\nconnection: close\r\n\r\n')
      else socket.end(answer(200, '{"here":true}'))
    })
    const moved = await background?.(`${server.url}/old`, {})
    expect([moved?.status, await moved?.json()]).toEqual([200, { here: true }])
    const same = await background?.(`${server.url}/same`, { headers: { 'if-none-match': '"x"' } })
    expect([same?.status, same?.body, same?.headers.get('etag')]).toEqual([304, null, '"x"'])
  })

  it('an abort ends a body that stalls', async () => {
    const server = await loopback(stalled)
    const controller = new AbortController()
    const res = await background?.(server.url, { signal: controller.signal })
    setTimeout(() => controller.abort(), 50)
    const { ms, error } = await timed(async () => res?.text())
    expect(error).toBeDefined()
    expect(ms).toBeLessThan(BOUND)
  })
})

describe('the push channel has a connect deadline and a stall detector', () => {
  /** A started view on `server`, collecting its warnings. */
  const started = (url: string, extra: { streamIdleMs?: number } = {}) => {
    const warnings: string[] = []
    const view = createFeedRevocationView({ url, serviceKey, timeoutMs: TIMEOUT, onWarning: (w) => warnings.push(w), ...extra })
    view.start()
    return { view, warnings }
  }
  const streams = (requests: readonly string[]) => requests.filter((r) => r.startsWith('GET /v1/revocations/stream')).length

  it('a stream that is never answered times out and is tried again', async () => {
    const server = await loopback(feed(silent))
    const { view, warnings } = started(server.url)
    expect(await until(() => streams(server.requests) >= 2)).toBe(true)
    expect(warnings[0]).toMatch(
      /^revocation feed: the revocation push channel at http:\/\/127\.0\.0\.1:\d+\/v1\/revocations\/stream did not answer within 200 ms/,
    )
    // Pages still come by polling between attempts: the view stays fresh.
    expect(view.feedId).toBe(FEED_ID)
    await view.stop()
  })

  it('a stream that sends headers and then nothing is dropped after streamIdleMs and reconnected', async () => {
    const server = await loopback(feed((socket) => socket.write(SSE_HEAD)))
    const { view, warnings } = started(server.url, { streamIdleMs: 300 })
    expect(await until(() => streams(server.requests) >= 2)).toBe(true)
    expect(warnings[0]).toMatch(/push channel at .*\/v1\/revocations\/stream sent no whole event for 300 ms \(stalled\); reconnecting/)
    await view.stop()
  })

  it('bytes that end no event are no sign of life: a stream trickling one endless event is dropped after streamIdleMs', async () => {
    const server = await loopback(
      feed((socket) => {
        socket.write(`${SSE_HEAD}event: page\ndata: `)
        const drip = setInterval(() => socket.write('a'), 50)
        socket.on('close', () => clearInterval(drip))
      }),
    )
    const { view, warnings } = started(server.url, { streamIdleMs: 300 })
    expect(await until(() => streams(server.requests) >= 2)).toBe(true)
    expect(warnings[0]).toMatch(/push channel at .*\/v1\/revocations\/stream sent no whole event for 300 ms \(stalled\); reconnecting/)
    await view.stop()
  })

  it('an event that comes in many small pieces, its blank line split between two, is one page', async () => {
    // Polling answers a page issued 10 s ago; the stream, one issued now, in pieces.
    const at = (issuedAt: number) =>
      JSON.stringify(
        signFeedPage(
          { serviceKey: service.publicKey, feedId: FEED_ID, since: 0, head: 0, issuedAt, nextUpdate: now() + 60, entries: [], more: false },
          service.secretKey,
        ),
      )
    const fresh = now()
    const server = await loopback((socket, head) => {
      if (!head.startsWith('GET /v1/revocations/stream')) return void socket.end(answer(200, at(fresh - 10)))
      socket.write(SSE_HEAD)
      const pieces = [...(`event: page\ndata: ${at(fresh)}\n`.match(/[\s\S]{1,7}/g) as string[]), '\n']
      const next = () => {
        const piece = pieces.shift()
        if (piece !== undefined && !socket.destroyed) {
          socket.write(piece)
          setTimeout(next, 1)
        }
      }
      next()
    })
    const { view, warnings } = started(server.url, { streamIdleMs: 5000 })
    expect(await until(() => view.freshAt() === fresh)).toBe(true)
    expect([warnings, view.lastError, streams(server.requests)]).toEqual([[], undefined, 1])
    await view.stop()
  })

  it('an event longer than a page (16 MiB) ends the stream, which is reconnected', async () => {
    const server = await loopback(
      feed((socket) => {
        socket.write(`${SSE_HEAD}event: page\ndata: `)
        const chunk = 'a'.repeat(1 << 20)
        let sent = 0
        const more = () => {
          while (!socket.destroyed && sent < 20) {
            sent++
            if (!socket.write(chunk)) return void socket.once('drain', more)
          }
        }
        more()
      }),
    )
    const { view, warnings } = started(server.url)
    expect(await until(() => streams(server.requests) >= 2, 10_000)).toBe(true)
    expect(warnings[0]).toMatch(
      /push channel at .*\/v1\/revocations\/stream sent an event longer than a page \(16777216 bytes\); reconnecting/,
    )
    await view.stop()
  })

  it('pages and keep-alive comments keep a quiet stream open: no reconnection, no warning', async () => {
    const server = await loopback(
      feed((socket) => {
        socket.write(`${SSE_HEAD}event: page\ndata: ${page()}\n\n`)
        const beat = setInterval(() => socket.write(':\n\n'), 100)
        socket.on('close', () => clearInterval(beat))
      }),
    )
    const { view, warnings } = started(server.url, { streamIdleMs: 400 })
    await pause(1500)
    expect([streams(server.requests), warnings, view.lastError]).toEqual([1, [], undefined])
    expect(view.feedId).toBe(FEED_ID)
    await view.stop()
  })

  it('stop() ends the stream, the loop and every connection', async () => {
    const server = await loopback(feed((socket) => socket.write(SSE_HEAD)))
    const { view } = started(server.url)
    expect(await until(() => streams(server.requests) === 1)).toBe(true)
    const { ms } = await timed(() => view.stop())
    expect(ms).toBeLessThan(BOUND)
    expect(await until(() => server.sockets.size === 0)).toBe(true)
    const seen = server.requests.length
    await pause(600)
    expect(server.requests.length).toBe(seen)
  })
})

describe('start() does not keep a process alive', () => {
  // The child imports the built library, as a user does: `npm run build` first (`npm test` does).
  const dist = fileURLToPath(new URL('../../dist/index.js', import.meta.url))

  /** Run a module script in a child node; its exit code, output and time to exit on its own. */
  async function child(script: string, limitMs = 15_000) {
    const started = performance.now()
    const proc = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'pipe'] })
    let out = ''
    proc.stdout.on('data', (c) => {
      out += c
    })
    proc.stderr.on('data', (c) => {
      out += c
    })
    const kill = setTimeout(() => proc.kill('SIGKILL'), limitMs)
    const [code, signal] = (await once(proc, 'exit')) as [number | null, string | null]
    clearTimeout(kill)
    return { code, signal, out, ms: performance.now() - started }
  }
  const startOnly = (url: string, options: string) => `
    import { createFeedRevocationView } from ${JSON.stringify(dist)}
    createFeedRevocationView({ url: ${JSON.stringify(url)}, serviceKey: ${JSON.stringify(serviceKey)}${options} }).start()
  `

  for (const [name, behave, options] of [
    ['push, against a server that never answers', feed(silent), ''],
    ['polling, against a server that never answers', silent, ', push: false'],
    [
      'push, following a live stream',
      feed((socket) => {
        socket.write(`${SSE_HEAD}event: page\ndata: ${page()}\n\n`)
        const beat = setInterval(() => socket.write(':\n\n'), 100)
        socket.on('close', () => clearInterval(beat))
      }),
      '',
    ],
  ] as const) {
    it(`${name}: the script exits by itself`, async () => {
      const server = await loopback(behave)
      const run = await child(startOnly(server.url, options))
      expect({ code: run.code, signal: run.signal, out: run.out }).toEqual({ code: 0, signal: null, out: '' })
      expect(server.requests.length).toBeGreaterThan(0)
      expect(run.ms).toBeLessThan(8000)
    })
  }

  it('an awaited sync() still holds the process until its answer or its deadline', async () => {
    const server = await loopback(silent)
    const run = await child(`
      import { createFeedRevocationView } from ${JSON.stringify(dist)}
      const view = createFeedRevocationView({ url: ${JSON.stringify(server.url)}, serviceKey: ${JSON.stringify(serviceKey)}, timeoutMs: 300 })
      await view.sync().catch((e) => console.log(e.code))
    `)
    expect({ code: run.code, out: run.out.trim() }).toEqual({ code: 0, out: 'ERR_REVOCATION_STALE' })
  })
})
