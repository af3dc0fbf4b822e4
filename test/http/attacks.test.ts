/**
 * Attacks on the guard (spec/http-v1.md §8), each over real HTTP on loopback against the four
 * adapters, with requests written byte by byte (two `Authorization` fields, chunked bodies, a
 * fragment, an aborted body): a stranger, a captor of a request, the holder, a sub-agent, and
 * malformed credentials. Each asserts the status and `code` an agent relies on, that a refused
 * request never reaches the handler, spends nothing, and never repeats the token.
 */
import { connect } from 'node:net'
import { gzipSync } from 'node:zlib'
import Fastify from 'fastify'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { decisionOf, mandate as fastifyGuard } from '../../src/http/fastify.js'
import { bindArgs, createHttpGuard, type HttpGuard, httpBinding } from '../../src/http.js'
import {
  approve,
  attenuate,
  createMemoryReplayCache,
  createMemoryRevocationView,
  createMemoryUsageStore,
  createVerifier,
  formatApproval,
  formatInvocation,
  formatMandate,
  generateKeyPair,
  invoke,
  type KeyPair,
  mint,
  parseInvocation,
  type RevocationView,
  toDidKey,
  type UnverifiedMandate,
} from '../../src/index.js'
import { alice, assistant, grant, MAX_BODY, newGuard, reader, routes, type Start } from './fixture.js'
import { startExpress, startFastify, startFetch, startHono } from './servers.js'

type Name = 'Fetch' | 'Hono' | 'Express' | 'Fastify'
const frameworks: [Name, Start][] = [
  ['Fetch', startFetch],
  ['Hono', startHono],
  ['Express', startExpress],
  ['Fastify', startFastify],
]

const utf8 = (s: string) => new TextEncoder().encode(s)
const CHALLENGE = 'Mandate realm="mail"'
const INVALID = 'Mandate realm="mail", error="invalid_token"'
const READ = { action: 'email:read', resource: 'mailbox/alice' }
const SEND = { action: 'email:send', resource: 'mailbox/alice', args: { to: 'bob@example.com' } }
const MAIL = '{"to":"bob@example.com"}'

/** An invocation (text form) for exactly this request, as the agent of spec §7 signs it. */
function sign(
  method: string,
  target: string,
  body: string | Uint8Array = '',
  what: { action: string; resource?: string; args?: Record<string, string> } = READ,
  by: { mandate?: UnverifiedMandate; key?: KeyPair; audience?: string } = {},
): string {
  const bytes = typeof body === 'string' ? utf8(body) : body
  return formatInvocation(
    invoke(by.mandate ?? grant, {
      key: by.key ?? assistant,
      action: what.action,
      ...(what.resource === undefined ? {} : { resource: what.resource }),
      args: bindArgs(what.args, httpBinding(method, target, bytes)),
      audience: by.audience ?? 'mail',
    }),
  )
}

interface RawAnswer {
  readonly status: number
  readonly headers: Readonly<Record<string, string>>
  readonly text: string
}

/** Send `bytes` as they are on a fresh connection and read the answer to its end. */
function raw(base: string, bytes: string | Uint8Array, options: { abort?: boolean } = {}): Promise<RawAnswer> {
  const { port, hostname } = new URL(base)
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname)
    const chunks: Buffer[] = []
    socket.on('data', (d) => chunks.push(d))
    socket.on('error', reject)
    socket.setTimeout(5000, () => {
      socket.destroy()
      reject(new Error('no answer within 5 s'))
    })
    socket.on('close', () => resolve(parse(Buffer.concat(chunks))))
    socket.write(typeof bytes === 'string' ? Buffer.from(bytes, 'latin1') : bytes)
    if (options.abort) socket.destroy()
  })
}

function parse(all: Buffer): RawAnswer {
  const end = all.indexOf('\r\n\r\n')
  if (end < 0) return { status: 0, headers: {}, text: all.toString('latin1') }
  const [line, ...fields] = all.subarray(0, end).toString('latin1').split('\r\n')
  const headers: Record<string, string> = {}
  for (const f of fields) {
    const i = f.indexOf(':')
    const name = f.slice(0, i).toLowerCase()
    const value = f.slice(i + 1).trim()
    headers[name] = headers[name] === undefined ? value : `${headers[name]}, ${value}`
  }
  let body = all.subarray(end + 4)
  if (/chunked/i.test(headers['transfer-encoding'] ?? '')) {
    const parts: Buffer[] = []
    for (let at = 0; ; ) {
      const eol = body.indexOf('\r\n', at)
      const size = Number.parseInt(body.subarray(at, eol).toString('latin1'), 16)
      if (!(size > 0)) break
      parts.push(body.subarray(eol + 2, eol + 2 + size))
      at = eol + 2 + size + 2
    }
    body = Buffer.concat(parts)
  }
  return { status: Number((line as string).split(' ')[1]), headers, text: body.toString('utf8') }
}

/** A request as bytes: `Content-Length` from the body unless a field gives the framing. */
function request(method: string, target: string, fields: [string, string][] = [], body: string | Uint8Array = ''): Uint8Array {
  const bytes = typeof body === 'string' ? utf8(body) : body
  const framed = fields.some(([n]) => /^(content-length|transfer-encoding)$/i.test(n))
  const all: [string, string][] = [['Host', 'api.test'], ['Connection', 'close'], ...fields]
  if (!framed && (bytes.length > 0 || method === 'POST')) all.push(['Content-Length', String(bytes.length)])
  const head = `${method} ${target} HTTP/1.1\r\n${all.map(([n, v]) => `${n}: ${v}\r\n`).join('')}\r\n`
  return Buffer.concat([Buffer.from(head, 'latin1'), bytes])
}

const auth = (invocation: string): [string, string] => ['Authorization', `Mandate ${invocation}`]
const json: [string, string] = ['Content-Type', 'application/json']

/**
 * The answer is the guard's refusal: `status`, problem+json with `code` (none: absent), the
 * challenge a 401 carries, and none of `tokens` repeated.
 */
function refused(res: RawAnswer, status: number, code: string | undefined, tokens: readonly string[] = []): void {
  expect({ status: res.status, type: res.headers['content-type'] }).toEqual({
    status,
    type: expect.stringMatching(/^application\/problem\+json/),
  })
  const body = JSON.parse(res.text) as { status: number; code?: string; title: string }
  expect(body.status).toBe(status)
  expect(body.code).toBe(code)
  if (status === 401) expect(res.headers['www-authenticate']).toBe(code === undefined ? CHALLENGE : INVALID)
  else expect(res.headers['www-authenticate']).toBeUndefined()
  for (const t of tokens) expect(res.text).not.toContain(t)
}

/** Fastify's own answer to content its parser refuses (it decides after parsing: spec §5). */
function refusedByFastify(res: RawAnswer, status: number, code: string): void {
  expect([res.status, (JSON.parse(res.text) as { code?: string }).code]).toEqual([status, code])
  expect(res.headers['www-authenticate']).toBeUndefined()
}

function allowed(res: RawAnswer, by = 'assistant'): unknown {
  expect(res.status, res.text).toBe(200)
  const body = JSON.parse(res.text) as { by: string; body?: unknown }
  expect(body.by).toBe(by)
  return body.body
}

/** Counts unhandled rejections while a test runs: each is a crash in production (Node's default). */
let unhandled: unknown[] = []
const onUnhandled = (e: unknown) => unhandled.push(e)
beforeEach(() => {
  unhandled = []
  process.on('unhandledRejection', onUnhandled)
})
afterEach(async () => {
  await new Promise((r) => setTimeout(r, 20))
  process.off('unhandledRejection', onUnhandled)
  expect(unhandled).toEqual([])
})

describe.each(frameworks)('%s', (name, start) => {
  const serve = async (guard: HttpGuard = newGuard()) => {
    const handled: string[] = []
    const s = await start(guard, handled)
    return { ...s, handled }
  }
  /** Content the route cannot read: the route's 400, or, on Fastify, its parser's answer (spec §5). */
  const unreadable = (res: RawAnswer, tokens: readonly string[], fastify: [number, string]) =>
    name === 'Fastify' ? refusedByFastify(res, ...fastify) : refused(res, 400, 'ERR_REQUEST_INVALID', tokens)

  describe('a stranger', () => {
    it('without an invocation gets 401 and a challenge, no code, before its body is read', async () => {
      const s = await serve()
      try {
        refused(await raw(s.url, request('GET', '/mailboxes/alice/messages')), 401, undefined)
        for (const other of ['Bearer abc', 'Basic YTpi', 'Mandatex mni1_A', 'Mandate-Approval mna1_A']) {
          refused(await raw(s.url, request('GET', '/mailboxes/alice/messages', [['Authorization', other]])), 401, undefined)
        }
        // A token anywhere else is never looked at (spec §2).
        const inv = sign('GET', '/mailboxes/alice/messages')
        const elsewhere = request('GET', `/mailboxes/alice/messages?authorization=${inv}`, [
          ['Cookie', `authorization=Mandate ${inv}`],
          ['Proxy-Authorization', `Mandate ${inv}`],
        ])
        refused(await raw(s.url, elsewhere), 401, undefined, [inv])
        // 100 bytes announced, none sent: answered at once, so the body was not waited for.
        const unsent = request('POST', '/mailboxes/alice/send', [json, ['Content-Length', '100']])
        refused(await raw(s.url, unsent), 401, undefined)
        expect(s.handled).toEqual([])
      } finally {
        await s.close()
      }
    })

    it('with a chain of its own gets 403 ERR_ROOT_UNTRUSTED; what it chose is answered as JSON, its token never', async () => {
      const s = await serve()
      try {
        const eve = generateKeyPair()
        const own = mint({
          principal: eve,
          to: toDidKey(eve.publicKey),
          name: '<script>alert(1)</script>',
          caveats: [{ type: 'window', expires: Math.floor(Date.now() / 1000) + 600 }],
        })
        const inv = sign('GET', '/mailboxes/alice/messages', '', READ, { mandate: own, key: eve })
        const res = await raw(s.url, request('GET', '/mailboxes/alice/messages', [auth(inv)]))
        refused(res, 403, 'ERR_ROOT_UNTRUSTED', [inv, '<script>'])
        expect(s.handled).toEqual([])
      } finally {
        await s.close()
      }
    })
  })

  describe('malformed credentials', () => {
    it('two credentials, none, or one that is not an invocation: 401 ERR_TEXT_FORMAT, and nothing is claimed', async () => {
      const s = await serve()
      try {
        const inv = sign('GET', '/mailboxes/alice/messages')
        const get = (...fields: [string, string][]) => raw(s.url, request('GET', '/mailboxes/alice/messages', fields))
        // Node keeps only the first of several Authorization fields in req.headers; the guard sees all.
        refused(await get(auth(inv), auth('mni1_AAAA')), 401, 'ERR_TEXT_FORMAT', [inv])
        refused(await get(auth('mni1_AAAA'), auth(inv)), 401, 'ERR_TEXT_FORMAT', [inv])
        refused(await get(auth(inv), auth(inv)), 401, 'ERR_TEXT_FORMAT', [inv])
        refused(await get(['Authorization', `Mandate ${inv}, Mandate ${inv}`]), 401, 'ERR_TEXT_FORMAT', [inv])
        refused(await get(['Authorization', 'Mandate']), 401, 'ERR_TEXT_FORMAT')
        refused(await get(['Authorization', 'Mandate    ']), 401, 'ERR_TEXT_FORMAT')
        refused(await get(['Authorization', `Mandate ${inv} ${inv}`]), 401, 'ERR_TEXT_FORMAT', [inv])
        refused(await get(auth('mni1_!!!!')), 401, 'ERR_TEXT_FORMAT')
        refused(await get(auth(`${inv}=`)), 401, 'ERR_TEXT_FORMAT', [inv])
        // Cut to whole groups of 4 characters: still base64url, but not a whole token.
        const cut = inv.slice(0, 'mni1_'.length + 4 * Math.floor((inv.length - 'mni1_'.length) / 4) - 8)
        refused(await get(auth(cut)), 401, 'ERR_CBOR_MALFORMED', [cut])
        refused(await get(auth('mni1_<img src=x onerror=alert(1)>')), 401, 'ERR_TEXT_FORMAT', ['<img'])
        // A mandate is not an invocation: it cannot be bound to one request (spec §2).
        const m = formatMandate(grant)
        refused(await get(auth(m)), 401, 'ERR_TEXT_FORMAT', [m])
        // A tab is not the space the syntax asks for: no Mandate credential at all.
        refused(await get(['Authorization', `Mandate\t${inv}`]), 401, undefined, [inv])
        expect(s.handled).toEqual([])
        // None of these claimed the invocation: alone, it goes through once.
        allowed(await get(auth(inv)))
        refused(await get(auth(inv)), 401, 'ERR_REPLAY', [inv])
      } finally {
        await s.close()
      }
    })

    it('reads one credential whatever the case of the scheme, the spaces, or other schemes beside it', async () => {
      const s = await serve()
      try {
        const get = (...fields: [string, string][]) => raw(s.url, request('GET', '/mailboxes/alice/messages', fields))
        const fresh = () => sign('GET', '/mailboxes/alice/messages')
        allowed(await get(['Authorization', `mandate ${fresh()}`]))
        allowed(await get(['Authorization', `MANDATE     ${fresh()}   `]))
        allowed(await get(['Authorization', `Bearer abc, Mandate ${fresh()}`]))
        // In two fields: Node would have kept the Bearer one only.
        allowed(await get(['Authorization', 'Bearer abc'], auth(fresh())))
        expect(s.handled).toHaveLength(4)
      } finally {
        await s.close()
      }
    })

    it('over 16 approvals, or one that is not an approval: refused, the invocation not claimed', async () => {
      const s = await serve()
      try {
        const inv = sign('GET', '/mailboxes/alice/messages')
        const get = (...fields: [string, string][]) => raw(s.url, request('GET', '/mailboxes/alice/messages', [auth(inv), ...fields]))
        const many = Array.from({ length: 100 }, (): [string, string] => ['Mandate-Approval', 'mna1_AAAA'])
        refused(await get(...many), 401, 'ERR_LIMIT_COUNT', [inv])
        refused(await get(['Mandate-Approval', Array(17).fill('mna1_AAAA').join(', ')]), 401, 'ERR_LIMIT_COUNT', [inv])
        refused(await get(['Mandate-Approval', 'mna1_<b>x</b>']), 403, 'ERR_APPROVAL_INVALID', [inv, '<b>'])
        // Empty list elements are nothing (spec §2).
        allowed(await get(['Mandate-Approval', ' , ,, ']))
        expect(s.handled).toEqual(['GET /mailboxes/alice/messages'])
      } finally {
        await s.close()
      }
    })

    it('a header over the server limit is refused by Node (431); the server keeps serving', async () => {
      const s = await serve()
      try {
        const big = await raw(s.url, request('GET', '/mailboxes/alice/messages', [auth(`mni1_${'A'.repeat(20_000)}`)]))
        expect(big.status).toBe(431)
        refused(await raw(s.url, request('GET', '/mailboxes/alice/messages')), 401, undefined)
        expect(s.handled).toEqual([])
      } finally {
        await s.close()
      }
    })
  })

  describe('a captor of a request', () => {
    it('cannot move a GET to another method, path or query, nor hide a query behind a fragment', async () => {
      const s = await serve()
      try {
        const target = '/mailboxes/alice/messages?folder=inbox&page=2'
        const inv = sign('GET', target)
        const moved = async (method: string, t: string) => raw(s.url, request(method, t, [auth(inv)]))
        const notSigned = async (method: string, t: string) => refused(await moved(method, t), 401, 'ERR_REQUEST_INVALID', [inv])
        await notSigned('GET', '/mailboxes/alice/messages?page=2&folder=inbox')
        await notSigned('GET', '/mailboxes/alice/messages?folder=inbox&page=2&folder=spam')
        await notSigned('GET', '/mailboxes/alice/messages?folder=inbox')
        await notSigned('GET', '/mailboxes/alice/messages')
        await notSigned('GET', '/mailboxes/bob/messages?folder=inbox&page=2')
        await notSigned('GET', '/mailboxes/%61lice/messages?folder=inbox&page=2')
        await notSigned('DELETE', '/mailboxes/alice/messages/1')
        // Another route: the read invocation at the send route (the route computes another action).
        refused(await raw(s.url, request('POST', '/mailboxes/alice/send', [json, auth(inv)], MAIL)), 401, 'ERR_REQUEST_INVALID')
        // HTTP sends no fragment; Fastify would read "&folder=spam" into the query the
        // binding (WHATWG) leaves out. Refused before verification on every adapter.
        for (const hidden of [`${target}#&folder=spam`, '/mailboxes/alice/messages#?folder=inbox&page=2', `${target}#`]) {
          refused(await moved('GET', hidden), 400, 'ERR_REQUEST_INVALID', [inv])
        }
        // HEAD is not GET (its answer has no body: the challenge says it).
        const head = await moved('HEAD', target)
        if (name === 'Fetch') expect(head.status).toBe(404)
        else expect([head.status, head.headers['www-authenticate']]).toEqual([401, INVALID])
        // Where the framework routes case and a trailing slash loosely, the binding does not.
        for (const loose of ['/mailboxes/alice/messages/?folder=inbox&page=2', '/MAILBOXES/alice/messages?folder=inbox&page=2']) {
          if (name === 'Express') await notSigned('GET', loose)
          else expect((await moved('GET', loose)).status).toBe(404)
        }
        // An encoded slash: the Fetch route reads "alice%2Fx" (not a resource: 400), the others "alice/x".
        const slash = await moved('GET', '/mailboxes/alice%2Fx/messages?folder=inbox&page=2')
        if (name === 'Fetch') refused(slash, 400, 'ERR_REQUEST_INVALID', [inv])
        else refused(slash, 401, 'ERR_REQUEST_INVALID', [inv])
        // Paths the URL parser rewrites: Fetch and Hono see the rewritten one; Express and Fastify route none of them.
        for (const odd of ['//mailboxes/alice/messages?folder=inbox&page=2', '/mailboxes/alice/messages/..?folder=inbox&page=2']) {
          expect((await moved('GET', odd)).status).toBe(404)
        }
        const backslash = await moved('GET', '/mailboxes\\alice/messages?folder=inbox&page=2')
        expect(backslash.status).toBe(name === 'Fetch' || name === 'Hono' ? 400 : 404)
        expect(s.handled).toEqual([])
        // Untouched, it goes through once; again, it is a replay.
        allowed(await moved('GET', target))
        refused(await moved('GET', target), 401, 'ERR_REPLAY', [inv])
        expect(s.handled).toEqual(['GET /mailboxes/alice/messages'])
      } finally {
        await s.close()
      }
    })

    it('an absolute-form target is bound by the path after its authority, the one Express routes', async () => {
      const s = await serve()
      try {
        const inv = sign('GET', '/mailboxes/alice/messages')
        // An authority the URL parser refuses (it made Express answer 500) is not bound, so no matter.
        const odd = await raw(s.url, request('GET', 'http://999.1.1.1/mailboxes/alice/messages', [auth(inv)]))
        if (name === 'Express') allowed(odd)
        else expect(odd.status).toBe(400) // refused by @hono/node-server, or Fastify's FST_ERR_BAD_URL
        // Express routes "http:///mailboxes/…" as /mailboxes/…; the URL parser read the host
        // "mailboxes" and the path /alice/messages, so an invocation signed for that got through.
        const elsewhere = sign('GET', '/alice/messages')
        const empty = await raw(s.url, request('GET', 'http:///mailboxes/alice/messages', [auth(elsewhere)]))
        if (name === 'Express') refused(empty, 401, 'ERR_REQUEST_INVALID', [elsewhere])
        else expect(empty.status).toBe(name === 'Fastify' ? 400 : 404)
        expect(s.handled).toEqual(name === 'Express' ? ['GET /mailboxes/alice/messages'] : [])
      } finally {
        await s.close()
      }
    })

    it('a path with dot segments is the path it names: Fetch and Hono route it there, Express and Fastify nowhere', async () => {
      const s = await serve()
      try {
        const inv = sign('GET', '/mailboxes/alice/messages')
        const first = await raw(s.url, request('GET', '/mailboxes/bob/../alice/messages', [auth(inv)]))
        const again = await raw(s.url, request('GET', '/mailboxes/bob/%2e%2E/alice/./messages', [auth(inv)]))
        if (name === 'Express' || name === 'Fastify') expect([first.status, again.status]).toEqual([404, 404])
        else {
          allowed(first)
          refused(again, 401, 'ERR_REPLAY', [inv])
        }
        expect(s.handled).toEqual(name === 'Express' || name === 'Fastify' ? [] : ['GET /mailboxes/alice/messages'])
      } finally {
        await s.close()
      }
    })

    it('cannot change the body, its type or its length; re-framing the same bytes (chunked) is the same request', async () => {
      const s = await serve()
      try {
        const inv = sign('POST', '/mailboxes/alice/send', MAIL, SEND)
        const post = (fields: [string, string][], body: string | Uint8Array) =>
          raw(s.url, request('POST', '/mailboxes/alice/send', [auth(inv), ...fields], body))
        refused(await post([json], '{"to": "bob@example.com"}'), 401, 'ERR_REQUEST_INVALID', [inv])
        refused(await post([json], '{"to":"bob@example.com","cc":"eve@evil.test"}'), 401, 'ERR_REQUEST_INVALID', [inv])
        // Content-Type is not bound: the route refuses a type it does not read (spec §3).
        // (Fastify parses text/plain itself, and has no parser for forms: its 415.)
        refused(await post([['Content-Type', 'text/plain']], MAIL), 400, 'ERR_REQUEST_INVALID', [inv])
        unreadable(
          await post([['Content-Type', 'application/x-www-form-urlencoded']], MAIL),
          [inv],
          [415, 'FST_ERR_CTP_INVALID_MEDIA_TYPE'],
        )
        unreadable(await post([], MAIL), [inv], [415, 'FST_ERR_CTP_INVALID_MEDIA_TYPE'])
        // Cut short (Content-Length and bytes): no longer JSON, so the route cannot state it.
        unreadable(await post([json], MAIL.slice(0, 10)), [inv], [400, 'FST_ERR_CTP_INVALID_JSON_BODY'])
        // Both framings at once: Node refuses the request before any framework (request smuggling).
        const both = request('POST', '/mailboxes/alice/send', [auth(inv), json, ['Content-Length', '3'], ['Transfer-Encoding', 'chunked']])
        expect((await raw(s.url, Buffer.concat([both, utf8(`18\r\n${MAIL}\r\n0\r\n\r\n`)]))).status).toBe(400)
        expect(s.handled).toEqual([])
        const chunked = Buffer.concat([
          request('POST', '/mailboxes/alice/send', [auth(inv), json, ['Transfer-Encoding', 'chunked']]),
          utf8(`5\r\n${MAIL.slice(0, 5)}\r\n${(MAIL.length - 5).toString(16)}\r\n${MAIL.slice(5)}\r\n0\r\n\r\n`),
        ])
        expect(allowed(await raw(s.url, chunked))).toEqual({ to: 'bob@example.com' })
        refused(await post([json], MAIL), 401, 'ERR_REPLAY', [inv])
        expect(s.handled).toEqual(['POST /mailboxes/alice/send'])
      } finally {
        await s.close()
      }
    })

    it('a compressed body is hashed as received: no adapter inflates it before the route, which cannot read it (400)', async () => {
      const s = await serve()
      try {
        const gz = gzipSync(MAIL)
        const inv = sign('POST', '/mailboxes/alice/send', gz, SEND)
        const res = await raw(s.url, request('POST', '/mailboxes/alice/send', [auth(inv), json, ['Content-Encoding', 'gzip']], gz))
        unreadable(res, [inv], [400, 'FST_ERR_CTP_INVALID_JSON_BODY'])
        expect(s.handled).toEqual([])
      } finally {
        await s.close()
      }
    })
  })

  describe('the bytes the handler reads', () => {
    it('are the bytes the digest covers: JSON after a byte-order mark reaches the handler as the route read it', async () => {
      const s = await serve()
      try {
        const bom = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(MAIL)])
        const inv = sign('POST', '/mailboxes/alice/send', bom, SEND)
        const res = await raw(s.url, request('POST', '/mailboxes/alice/send', [auth(inv), json], bom))
        // Express used to leave req.body a Buffer here (its JSON.parse kept the BOM).
        expect(allowed(res)).toEqual({ to: 'bob@example.com' })
      } finally {
        await s.close()
      }
    })
  })

  describe('size', () => {
    it('refuses content over the limit with 413 whether declared or chunked, and a target over 1024 bytes with 400', async () => {
      const s = await serve()
      try {
        const inv = sign('POST', '/mailboxes/alice/send', MAIL, SEND)
        // Declared: answered unread (nothing more is sent).
        const declared = request('POST', '/mailboxes/alice/send', [auth(inv), json, ['Content-Length', String(10 * MAX_BODY)]])
        refused(await raw(s.url, declared), 413, 'ERR_LIMIT_SIZE', [inv])
        const chunk = `${(32 * 1024).toString(16)}\r\n${'a'.repeat(32 * 1024)}\r\n`
        const streamed = Buffer.concat([
          request('POST', '/mailboxes/alice/send', [auth(inv), json, ['Transfer-Encoding', 'chunked']]),
          utf8(`${chunk.repeat(3)}0\r\n\r\n`),
        ])
        refused(await raw(s.url, streamed), 413, 'ERR_LIMIT_SIZE', [inv])
        // Such a target cannot be signed (M§5.4): refused before verification.
        const long = await raw(s.url, request('GET', `/mailboxes/alice/messages?q=${'a'.repeat(1100)}`, [auth(inv)]))
        refused(long, 400, 'ERR_REQUEST_INVALID', [inv])
        expect(s.handled).toEqual([])
        // None of it claimed the invocation.
        allowed(await raw(s.url, request('POST', '/mailboxes/alice/send', [auth(inv), json], MAIL)))
      } finally {
        await s.close()
      }
    })

    it('takes content of exactly the limit, declared or chunked, and refuses one byte more', async () => {
      const s = await serve()
      try {
        const head = '{"to":"bob@example.com","pad":"'
        const exactly = `${head}${'x'.repeat(MAX_BODY - head.length - 2)}"}`
        expect(exactly).toHaveLength(MAX_BODY)
        const chunked = (body: string, inv: string) =>
          Buffer.concat([
            request('POST', '/mailboxes/alice/send', [auth(inv), json, ['Transfer-Encoding', 'chunked']]),
            utf8(`${body.length.toString(16)}\r\n${body}\r\n0\r\n\r\n`),
          ])
        const declared = sign('POST', '/mailboxes/alice/send', exactly, SEND)
        expect(allowed(await raw(s.url, request('POST', '/mailboxes/alice/send', [auth(declared), json], exactly)))).toMatchObject({
          to: 'bob@example.com',
        })
        allowed(await raw(s.url, chunked(exactly, sign('POST', '/mailboxes/alice/send', exactly, SEND))))
        const more = `${exactly} `
        const inv = sign('POST', '/mailboxes/alice/send', more, SEND)
        refused(await raw(s.url, request('POST', '/mailboxes/alice/send', [auth(inv), json], more)), 413, 'ERR_LIMIT_SIZE', [inv])
        refused(await raw(s.url, chunked(more, inv)), 413, 'ERR_LIMIT_SIZE', [inv])
        expect(s.handled).toHaveLength(2)
      } finally {
        await s.close()
      }
    })

    it('survives a client that aborts in the middle of its body', async () => {
      const s = await serve()
      try {
        const inv = sign('POST', '/mailboxes/alice/send', MAIL, SEND)
        const half = Buffer.concat([
          request('POST', '/mailboxes/alice/send', [auth(inv), json, ['Content-Length', '24']]),
          utf8(MAIL.slice(0, 9)),
        ])
        await raw(s.url, half, { abort: true })
        await new Promise((r) => setTimeout(r, 50))
        allowed(await raw(s.url, request('POST', '/mailboxes/alice/send', [auth(inv), json], MAIL)))
        expect(s.handled).toEqual(['POST /mailboxes/alice/send'])
      } finally {
        await s.close()
      }
    })
  })

  describe('the holder', () => {
    it('cannot send to another audience (403), outside its rules (403), nor past a revocation; a suspension lifts', async () => {
      const revocations = createMemoryRevocationView()
      const verifier = createVerifier({
        roots: [{ key: toDidKey(alice.publicKey), name: 'alice' }],
        audience: 'mail',
        revocations,
        usage: createMemoryUsageStore(),
        replay: createMemoryReplayCache(),
      })
      const s = await serve(createHttpGuard({ verifier }))
      try {
        const get = (inv: string) => raw(s.url, request('GET', '/mailboxes/alice/messages', [auth(inv)]))
        const other = sign('GET', '/mailboxes/alice/messages', '', READ, { audience: 'calendar' })
        refused(await get(other), 403, 'ERR_AUDIENCE', [other])
        const eve = sign('POST', '/mailboxes/alice/send', '{"to":"eve@evil.test"}', { ...SEND, args: { to: 'eve@evil.test' } })
        const denied = await raw(s.url, request('POST', '/mailboxes/alice/send', [auth(eve), json], '{"to":"eve@evil.test"}'))
        refused(denied, 403, 'ERR_ARGS_DENIED', [eve])
        const block = (grant.blocks[0] as { idHex: string }).idHex
        const inv = sign('GET', '/mailboxes/alice/messages')
        revocations.suspend(block)
        refused(await get(inv), 403, 'ERR_SUSPENDED', [inv])
        revocations.resume(block)
        allowed(await get(inv))
        revocations.revoke(block)
        const after = sign('GET', '/mailboxes/alice/messages')
        refused(await get(after), 403, 'ERR_REVOKED', [after])
        expect(s.handled).toEqual(['GET /mailboxes/alice/messages'])
      } finally {
        await s.close()
      }
    })

    it('fails closed with 503 when the revocation view is stale', async () => {
      const stale: RevocationView = createMemoryRevocationView(() => 0)
      const verifier = createVerifier({ roots: [{ key: toDidKey(alice.publicKey), name: 'alice' }], audience: 'mail', revocations: stale })
      const s = await serve(createHttpGuard({ verifier }))
      try {
        const inv = sign('GET', '/mailboxes/alice/messages')
        refused(await raw(s.url, request('GET', '/mailboxes/alice/messages', [auth(inv)])), 503, 'ERR_REVOCATION_STALE', [inv])
        expect(s.handled).toEqual([])
      } finally {
        await s.close()
      }
    })

    it('spends no use on a denial: two reads an hour are still two after every kind of refusal', async () => {
      const s = await serve()
      try {
        const as = { mandate: reader }
        const path = '/mailboxes/alice/messages'
        const get = (inv: string, ...fields: [string, string][]) => raw(s.url, request('GET', path, [auth(inv), ...fields]))
        refused(await get(sign('GET', path, '', READ, { ...as, audience: 'calendar' })), 403, 'ERR_AUDIENCE')
        refused(await get(sign('GET', `${path}?x=1`, '', READ, as)), 401, 'ERR_REQUEST_INVALID')
        refused(await get(sign('GET', path, '', { action: 'email:read', resource: 'mailbox/bob' }, as)), 401, 'ERR_REQUEST_INVALID')
        refused(await get(sign('GET', path, '', READ, as), ['Mandate-Approval', 'mna1_AAAA']), 403, 'ERR_APPROVAL_INVALID')
        const first = sign('GET', path, '', READ, as)
        refused(await raw(s.url, request('GET', `${path}#x`, [auth(first)])), 400, 'ERR_REQUEST_INVALID')
        allowed(await get(first), 'reader')
        refused(await get(first), 401, 'ERR_REPLAY')
        allowed(await get(sign('GET', path, '', READ, as)), 'reader')
        const third = await get(sign('GET', path, '', READ, as))
        refused(third, 429, 'ERR_USAGE_EXHAUSTED')
        expect(Number(third.headers['retry-after'])).toBeGreaterThan(3500)
        expect(s.handled).toHaveLength(2)
      } finally {
        await s.close()
      }
    })

    it("cannot lend one invocation's approval to another", async () => {
      const s = await serve()
      try {
        const path = '/mailboxes/alice/messages/9'
        const what = { action: 'email:delete', resource: 'mailbox/alice/9' }
        const first = sign('DELETE', path, '', what)
        const second = sign('DELETE', path, '', what)
        const approval = formatApproval(approve({ approver: alice, invocation: parseInvocation(first) }))
        const del = (inv: string) => raw(s.url, request('DELETE', path, [auth(inv), ['Mandate-Approval', approval]]))
        refused(await del(second), 403, 'ERR_APPROVAL_INVALID', [second, approval])
        allowed(await del(first))
        expect(s.handled).toEqual([`DELETE ${path}`])
      } finally {
        await s.close()
      }
    })
  })

  describe('a sub-agent', () => {
    it('acts within its own narrower block as well as every block above it', async () => {
      const s = await serve()
      try {
        const helper = generateKeyPair()
        const sub = attenuate(grant, {
          key: assistant,
          to: toDidKey(helper.publicKey),
          name: 'helper',
          caveats: [
            { type: 'actions', patterns: ['email:send'] },
            { type: 'where', actions: ['email:send'], rules: [{ path: 'to', op: 'eq', value: 'bob@example.com' }] },
          ],
        })
        const as = { mandate: sub, key: helper }
        const send = (to: string) => {
          const body = JSON.stringify({ to })
          const inv = sign('POST', '/mailboxes/alice/send', body, { ...SEND, args: { to } }, as)
          return raw(s.url, request('POST', '/mailboxes/alice/send', [auth(inv), json], body))
        }
        expect(allowed(await send('bob@example.com'), 'helper')).toEqual({ to: 'bob@example.com' })
        // Allowed by the assistant's block (*@example.com), not by the helper's.
        const carol = await send('carol@example.com')
        refused(carol, 403, 'ERR_ARGS_DENIED')
        expect(JSON.parse(carol.text)).toMatchObject({ block: 1, caveat: 'where' })
        // Allowed by neither.
        refused(await send('eve@evil.test'), 403, 'ERR_ARGS_DENIED')
        const read = sign('GET', '/mailboxes/alice/messages', '', READ, as)
        const denied = await raw(s.url, request('GET', '/mailboxes/alice/messages', [auth(read)]))
        refused(denied, 403, 'ERR_ACTION_DENIED')
        expect(JSON.parse(denied.text)).toMatchObject({ block: 1, caveat: 'actions' })
        expect(s.handled).toEqual(['POST /mailboxes/alice/send'])
      } finally {
        await s.close()
      }
    })
  })

  it('an audit sink that rejects changes no answer and crashes nothing', async () => {
    const verifier = createVerifier({ roots: [{ key: toDidKey(alice.publicKey), name: 'alice' }], audience: 'mail', revocations: 'none' })
    const s = await serve(
      createHttpGuard({
        verifier,
        onDecision: async () => {
          throw new Error('audit store down')
        },
      }),
    )
    try {
      const inv = sign('GET', '/mailboxes/alice/messages')
      allowed(await raw(s.url, request('GET', '/mailboxes/alice/messages', [auth(inv)])))
      refused(await raw(s.url, request('GET', '/mailboxes/alice/messages', [auth(inv)])), 401, 'ERR_REPLAY')
    } finally {
      await s.close()
    }
  })
})

describe('Fastify', () => {
  it('binds the path it was sent, "//" included, where the app routes "//" as "/"', async () => {
    const app = Fastify({ routerOptions: { ignoreDuplicateSlashes: true } })
    app.get(
      '/mailboxes/:user/messages',
      fastifyGuard(newGuard(), (r) => routes.read((r.params as { user: string }).user)),
      async (r) => ({
        by: decisionOf(r).chain.at(-1)?.name,
      }),
    )
    const url = await app.listen({ port: 0, host: '127.0.0.1' })
    try {
      // Resolved against a base, "//mailboxes/…" bound "/alice/messages": the agent's own request was refused.
      const inv = sign('GET', '//mailboxes/alice/messages')
      allowed(await raw(url, request('GET', '//mailboxes/alice/messages', [auth(inv)])))
      const elsewhere = sign('GET', '/alice/messages')
      refused(await raw(url, request('GET', '//mailboxes/alice/messages', [auth(elsewhere)])), 401, 'ERR_REQUEST_INVALID', [elsewhere])
    } finally {
      await app.close()
    }
  })

  it('decides after Fastify parsed the content: a body its parser refuses is answered by Fastify and spends nothing (spec §5)', async () => {
    const handled: string[] = []
    const s = await startFastify(newGuard(), handled)
    try {
      const body = '{"to":"bob@example.com","__proto__":{"admin":true}}'
      const inv = sign('POST', '/mailboxes/alice/send', body, SEND)
      const post = (b = body) => raw(s.url, request('POST', '/mailboxes/alice/send', [auth(inv), json], b))
      const parsed = await post()
      expect([parsed.status, (JSON.parse(parsed.text) as { code: string }).code]).toEqual([400, 'FST_ERR_CTP_INVALID_JSON_BODY'])
      // Not spent: the parser refuses it again (no ERR_REPLAY), and the guard never decided it.
      const again = await post()
      expect([again.status, (JSON.parse(again.text) as { code: string }).code]).toEqual([400, 'FST_ERR_CTP_INVALID_JSON_BODY'])
      // Content over the limit is still the guard's 413, and content other than the signed one its 401.
      refused(await post('{"to":"eve@example.com"}'), 401, 'ERR_REQUEST_INVALID', [inv])
      expect(handled).toEqual([])
    } finally {
      await s.close()
    }
  })
})

describe('the binding of a path as received', () => {
  it('keeps a leading "//" as path (Express and Fastify hand the guard the origin-form target)', () => {
    const empty = new Uint8Array()
    expect(httpBinding('GET', '//mailboxes/alice/messages?x=1', empty).target).toBe('//mailboxes/alice/messages?x=1')
    expect(httpBinding('GET', 'http://api.test//mailboxes/alice/messages', empty).target).toBe('//mailboxes/alice/messages')
    expect(httpBinding('GET', '/a/../b', empty).target).toBe('/b')
  })

  it('binds an absolute-form target by what follows its authority, which it does not parse', () => {
    const empty = new Uint8Array()
    const target = (url: string) => httpBinding('GET', url, empty).target
    expect(target('http:///mailboxes/alice/messages')).toBe('/mailboxes/alice/messages')
    expect(target('http://999.1.1.1/p?q=1')).toBe('/p?q=1')
    expect(target('http://a:99999/p')).toBe('/p')
    expect(target('http://h\\x/p')).toBe('/x/p')
    expect(target('http://h?q=1')).toBe('/?q=1')
    expect(target('http://h')).toBe('/')
    expect(target('https://mail.example/a/./b/../c?x=%2F')).toBe('/a/c?x=%2F')
    expect(() => target('https:')).toThrow(expect.objectContaining({ code: 'ERR_REQUEST_INVALID' }))
  })
})
