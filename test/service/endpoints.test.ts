/**
 * The HTTP endpoints of src/service/app.ts, beyond who may call them (trust.test.ts): request
 * guards and body limits, each endpoint's answers, statuses, error codes and messages, the
 * revocation rules (skew, expiry, finality, the cap, resumes), the feed pages, the block
 * status, usage validation, replay claims and the approval inbox. In-process app, in-memory
 * SQLite store, an injected clock, fixed keys.
 */
import type { Hono } from 'hono'
import pino from 'pino'
import { beforeEach, describe, expect, it } from 'vitest'
import {
  approve,
  attenuate,
  createRevocation,
  formatApproval,
  formatInvocation,
  formatMandate,
  formatRevocation,
  invoke,
  type RevocationKind,
  seal,
  type UnverifiedMandate,
} from '../../src/index.js'
import { FEED_PAGE_MAX, verifyFeedPage } from '../../src/revocation/feed.js'
import type { AppOptions } from '../../src/service/app.js'
import { createMetrics, type ServiceMetrics } from '../../src/service/metrics.js'
import { openSqliteStore } from '../../src/service/sqlite-store.js'
import type { Store } from '../../src/service/store.js'
import { type Answer, appRequest, type Send } from '../helpers/app-request.js'
import { assistant, bearerChild, rootGrant } from '../helpers/chains.js'
import { fixedDid, fixedKey, T0 } from '../helpers/fixtures.js'
import { serviceApp } from '../helpers/service-app.js'

const NOW = T0 + 600
const SKEW = 10
/** rootGrant's window. */
const EXPIRY = T0 + 8 * 3600

let store: Store
let app: Hono
let now: number

const build = (extra: Partial<AppOptions> = {}): Hono => serviceApp(store, () => now, { skew: SKEW, ...extra })

beforeEach(() => {
  now = NOW
  store = openSqliteStore(':memory:')
  app = build()
})

const send = (method: string, path: string, o: Send = {}, on: Hono = app): Promise<Answer> => appRequest(on, now, method, path, o)
const err = (a: Answer) => [a.status, a.code, a.message]
const postStatement = (
  m: UnverifiedMandate,
  o: Parameters<typeof createRevocation>[0] extends infer R ? Partial<R> : never = {},
  on = app,
) =>
  send(
    'POST',
    '/v1/revocations',
    { body: { revocation: formatRevocation(createRevocation({ mandate: m, key: fixedKey('alice'), now, ...o })) } },
    on,
  )
const kind = (k: RevocationKind, key = fixedKey('alice')) => ({ kind: k, key })
const child = (name: string) => bearerChild([{ type: 'actions', patterns: [`${name}:*`] }])

describe('request guards', () => {
  it('credentials in the URL: 400 before anything is read', async () => {
    // what a server hands over for an absolute-form target with credentials (no Request allows them)
    const raw = async (url: string) => {
      const res = await app.fetch({ url, method: 'GET', headers: new Headers() } as unknown as Request)
      return [res.status, ((await res.json()) as { error?: { code?: string; message?: string } }).error]
    }
    const refused = [400, { code: 'ERR_REQUEST_MALFORMED', message: 'the request names no valid host or URL' }]
    expect(await raw('http://user@svc.test/healthz')).toEqual(refused)
    expect(await raw('http://:pw@svc.test/healthz')).toEqual(refused)
    expect(await raw('http://svc.test/healthz')).toEqual([200, undefined])
    expect((await send('GET', '/healthz')).json).toEqual({ status: 'ok' })
  })

  it('an unknown route: 404 naming method and path', async () => {
    expect(err(await send('GET', '/nope'))).toEqual([404, 'ERR_NOT_FOUND', 'no route GET /nope'])
  })

  it('a body up to maxBody is read; one byte more is 413 with the limit', async () => {
    app = build({ maxBody: 100 })
    const at = (n: number) => send('POST', '/v1/approvals', { raw: new TextEncoder().encode(`{"invocation":"${'x'.repeat(n - 17)}"}`) })
    const fits = await at(100)
    expect(fits.status).toBe(400)
    expect(err(await at(101))).toEqual([413, 'ERR_LIMIT_SIZE', 'request body exceeds 100 bytes'])
  })

  it('outside node:http (here app.request), a declared length proves nothing: a longer body is counted and refused', async () => {
    app = build({ maxBody: 100 })
    const body = new TextEncoder().encode(`{"invocation":"${'x'.repeat(200)}"}`)
    expect(err(await send('POST', '/v1/approvals', { raw: body, headers: { 'content-length': '10' } }))).toEqual([
      413,
      'ERR_LIMIT_SIZE',
      'request body exceeds 100 bytes',
    ])
  })

  it('the default body limit is 64 KiB', async () => {
    const at = (n: number) => send('POST', '/v1/approvals', { raw: new TextEncoder().encode(`{"invocation":"${'x'.repeat(n - 17)}"}`) })
    expect((await at(65_536)).status).toBe(400)
    expect(err(await at(65_537))).toEqual([413, 'ERR_LIMIT_SIZE', 'request body exceeds 65536 bytes'])
  })

  it('POST bodies are JSON (any case, with parameters); statements may also be CBOR; anything else is 415', async () => {
    const empty = { raw: new TextEncoder().encode('{"invocation":""}') }
    const ok = await send('POST', '/v1/approvals', { ...empty, type: 'Application/JSON; charset=utf-8' })
    expect(err(ok)).toEqual([400, 'ERR_REQUEST_MALFORMED', '"invocation" must be a non-empty string'])
    expect(err(await send('POST', '/v1/approvals', { ...empty, type: 'text/plain' }))).toEqual([
      415,
      'ERR_MEDIA_TYPE',
      'content-type must be application/json',
    ])
    expect((await send('POST', '/v1/approvals', { ...empty, type: 'application/cbor' })).status).toBe(415)
    expect(err(await send('POST', '/v1/revocations', { ...empty, type: 'text/plain' }))).toEqual([
      415,
      'ERR_MEDIA_TYPE',
      'content-type must be application/json or application/cbor',
    ])
    const statement = createRevocation({ mandate: child('cbor'), key: fixedKey('alice'), now })
    const cbor = await send('POST', '/v1/revocations', { raw: statement.bytes, type: 'Application/CBOR; x=y' })
    expect([cbor.status, cbor.json['created']]).toEqual([201, true])
    const noType = await app.request('http://svc.test/v1/approvals', { method: 'POST', body: '{}' })
    expect(noType.status).toBe(415)
  })

  it('a body that is not a JSON object, or not UTF-8, is 400', async () => {
    for (const raw of ['[]', 'null', '"s"', '7', '{nope']) {
      const a = await send('POST', '/v1/approvals', { raw: new TextEncoder().encode(raw) })
      expect([raw, ...err(a)]).toEqual([raw, 400, 'ERR_REQUEST_MALFORMED', 'the body must be a JSON object'])
    }
    const latin1 = await send('POST', '/v1/approvals', { raw: new Uint8Array([0x7b, 0x22, 0xe9, 0x22, 0x3a, 0x31, 0x7d]) })
    expect(err(latin1)).toEqual([400, 'ERR_REQUEST_MALFORMED', 'the body must be a JSON object'])
    const notText = await send('POST', '/v1/revocations', { body: { revocation: 5 } })
    expect(err(notText)).toEqual([400, 'ERR_REQUEST_MALFORMED', '"revocation" must be a non-empty string'])
  })
})

describe('operations', () => {
  it('service info, readiness, metrics', async () => {
    app = build({ pageTtl: 30 })
    expect((await send('GET', '/v1/service')).json).toEqual({ key: fixedDid('service'), feed: { pageTtl: 30, pageMax: FEED_PAGE_MAX } })
    expect((await send('GET', '/v1/service', {}, build())).json['feed']).toEqual({ pageTtl: 60, pageMax: 500 })
    const ready = await send('GET', '/readyz')
    expect([ready.status, ready.json['status'], (ready.json['storage'] as Record<string, unknown>)['backend']]).toEqual([
      200,
      'ready',
      'sqlite',
    ])
    await postStatement(child('m'))
    const metrics = await send('GET', '/metrics')
    expect(metrics.status).toBe(200)
    expect(metrics.text).toMatch(/^mandate_feed_seq 1$/m)
    await store.close()
    expect(err(await send('GET', '/readyz'))).toEqual([503, 'ERR_STORAGE_UNAVAILABLE', 'storage does not answer'])
    store = openSqliteStore(':memory:')
  })
})

describe('revocation statements', () => {
  it('accepted: 201 with seq, blockId and kind; a retry gets the seq back', async () => {
    const m = child('a')
    const statement = createRevocation({ mandate: m, key: fixedKey('alice'), now, kind: 'suspend' })
    const body = { revocation: formatRevocation(statement) }
    const first = await send('POST', '/v1/revocations', { body })
    expect([first.status, first.json]).toEqual([201, { seq: 1, created: true, blockId: m.blocks[1]?.idHex, kind: 'suspend' }])
    now += 1000
    const again = await send('POST', '/v1/revocations', { body })
    expect([again.status, again.json]).toEqual([200, { seq: 1, created: false, blockId: m.blocks[1]?.idHex, kind: 'suspend' }])
  })

  it('the audience must be this service: the message names both, or only the statement when the service has none', async () => {
    const m = child('a')
    const other = await postStatement(m, { audience: 'other' }, build({ audience: 'svc' }))
    expect(err(other)).toEqual([403, 'ERR_AUDIENCE', 'the statement is addressed to "other", not to this service ("svc")'])
    const none = await postStatement(m, { audience: 'other' })
    expect(err(none)).toEqual([403, 'ERR_AUDIENCE', 'the statement is addressed to "other", not to this service'])
    expect((await postStatement(m, { audience: 'svc' }, build({ audience: 'svc' }))).status).toBe(201)
    expect((await postStatement(child('b'))).status).toBe(201)
  })

  it('created within requestSkew of the clock, both sides', async () => {
    app = build({ requestSkew: 50 })
    const m = child('a')
    for (const d of [-50, 50]) expect((await postStatement(m, { now: NOW + d, kind: d < 0 ? 'suspend' : 'resume' })).status).toBe(201)
    for (const d of [-51, 51]) {
      expect(err(await postStatement(m, { now: NOW + d, kind: 'suspend' }))).toEqual([
        401,
        'ERR_REQUEST_STALE',
        `the statement was created ${NOW + d}, more than 50s from the service clock ${NOW}`,
      ])
    }
  })

  it('accepted until the chain expiry plus skew; kept until its expiry plus requestSkew', async () => {
    app = build({ requestSkew: 50 })
    now = EXPIRY + SKEW - 1
    expect((await postStatement(child('a'))).status).toBe(201)
    now = EXPIRY + SKEW
    expect(err(await postStatement(child('b')))).toEqual([
      403,
      'ERR_TIME_EXPIRED',
      'the chain has expired: no mandate with this block can verify any more',
    ])
    expect(await store.compact(EXPIRY + 50)).toBe(0)
    expect(await store.compact(EXPIRY + 51)).toBe(1)
  })

  it('a whole-block revoke is final: said once (the same seq), and nothing more is accepted for the block or below', async () => {
    const m = child('a')
    const first = await postStatement(m)
    expect(first.status).toBe(201)
    const second = await postStatement(m)
    expect([second.status, second.json['seq'], second.json['created']]).toEqual([200, first.json['seq'], false])
    expect(err(await postStatement(m, kind('suspend')))).toEqual([
      403,
      'ERR_REVOKED',
      'this block is revoked: nothing more can be said about it',
    ])
    const root = child('r')
    expect((await postStatement(root, { block: 0 })).status).toBe(201)
    expect(err(await postStatement(root, kind('suspend')))).toEqual([
      403,
      'ERR_REVOKED',
      'a block above this one is revoked: nothing below it can verify any more',
    ])
  })

  it('a scoped revoke is not final, on the block or above it', async () => {
    const m = child('s')
    expect((await postStatement(m, { block: 0, actions: ['email:*'] })).status).toBe(201)
    expect((await postStatement(m, { actions: ['email:send'] })).status).toBe(201)
    expect((await postStatement(m, kind('suspend'))).status).toBe(201)
    const block = await send('GET', `/v1/revocations/${m.blocks[1]?.idHex}`)
    expect([block.json['revoked'], block.json['suspended']]).toEqual([false, true])
  })

  it('the cap counts each signer apart, both sides of it', async () => {
    app = build({ maxEntriesPerBlock: 2 })
    const m = child('c')
    expect((await postStatement(m, kind('suspend'))).status).toBe(201)
    expect((await postStatement(m, kind('resume'))).status).toBe(201)
    expect(err(await postStatement(m, kind('suspend')))).toEqual([
      429,
      'ERR_LIMIT_RATE',
      `this signer already has 2 statements against block ${m.blocks[1]?.idHex}`,
    ])
    expect((await postStatement(m, kind('suspend', assistant))).status).toBe(201)
  })

  it('a suspension is lifted by its signer or a key above; earlier resumed suspensions do not count', async () => {
    const m = child('r')
    // a scoped revoke by the principal is no suspension to lift
    expect((await postStatement(m, { actions: ['r:x'] })).status).toBe(201)
    expect((await postStatement(m, kind('suspend', assistant))).status).toBe(201)
    expect((await postStatement(m, kind('resume', assistant))).status).toBe(201)
    expect((await postStatement(m, kind('suspend', assistant))).status).toBe(201)
    expect((await postStatement(m, kind('resume'))).status).toBe(201)
    expect((await postStatement(m, kind('suspend'))).status).toBe(201)
    expect(err(await postStatement(m, kind('resume', assistant)))).toEqual([
      403,
      'ERR_NOT_AUTHORIZED',
      'a suspension can only be lifted by the key that placed it or one above it in the chain',
    ])
    expect((await postStatement(m, kind('resume'))).status).toBe(201)
    // the principal's suspension is lifted; the holder's own is lifted by the holder
    expect((await postStatement(m, kind('suspend', assistant))).status).toBe(201)
    expect((await postStatement(m, kind('resume', assistant))).status).toBe(201)
  })
})

describe('metrics', () => {
  it('metrics count statements, usage decisions and requests by route and status', async () => {
    app = build({ maxEntriesPerBlock: 1, requestSkew: 5 })
    const m = child('x')
    const statement = { revocation: formatRevocation(createRevocation({ mandate: m, key: fixedKey('alice'), now, kind: 'suspend' })) }
    expect((await send('POST', '/v1/revocations', { body: statement })).status).toBe(201)
    expect((await send('POST', '/v1/revocations', { body: statement })).status).toBe(200)
    expect((await postStatement(m, kind('resume'))).status).toBe(429)
    expect((await postStatement(child('y'), { now: NOW - 6, kind: 'suspend' })).status).toBe(401)
    // a second whole-block revoke (another statement) adds nothing: a retry
    const z = child('z')
    expect((await postStatement(z)).status).toBe(201)
    expect((await postStatement(z)).status).toBe(200)
    const u = bearerChild([{ type: 'uses', max: 1 }])
    const counters = [`${u.blocks[1]?.idHex}/0`]
    for (const requestId of ['a', 'b']) {
      await send('POST', '/v1/usage/consume', { body: { requestId, presentation: formatMandate(u), counters }, key: fixedKey('verifier') })
    }
    const lines = (await send('GET', '/metrics')).text.split('\n')
    for (const line of [
      'mandate_revocations_total{kind="suspend",result="accepted"} 1',
      'mandate_revocations_total{kind="suspend",result="retry"} 1',
      'mandate_revocations_total{kind="resume",result="refused"} 1',
      'mandate_revocations_total{kind="suspend",result="stale"} 1',
      'mandate_revocations_total{kind="revoke",result="accepted"} 1',
      'mandate_revocations_total{kind="revoke",result="retry"} 1',
      'mandate_usage_decisions_total{result="granted"} 1',
      'mandate_usage_decisions_total{result="exhausted"} 1',
      'mandate_http_requests_total{method="POST",route="/v1/revocations",status="201"} 2',
      'mandate_http_requests_total{method="POST",route="/v1/usage/consume",status="200"} 2',
      'mandate_feed_seq 2',
    ]) {
      expect(lines, line).toContain(line)
    }
  })
})

describe('logs', () => {
  it('each request is logged with its route and escaped path; storage failures as errors, caller errors not', async () => {
    const lines: Record<string, unknown>[] = []
    const logger = pino({ level: 'info' }, { write: (s: string) => lines.push(JSON.parse(s) as Record<string, unknown>) })
    app = build({ logger })
    await send('GET', '/nope%0A')
    expect(lines.at(-1)).toMatchObject({ msg: 'request', method: 'GET', path: '/nope\\n', status: 404 })
    await send('GET', '/v1/revocations?limit=0')
    expect(lines.filter((l) => l['msg'] === 'request failed')).toEqual([])
    await store.close()
    expect((await send('GET', '/v1/revocations')).status).toBe(503)
    expect(lines.filter((l) => l['msg'] === 'request failed')).toMatchObject([
      { level: 50, code: 'ERR_STORAGE_UNAVAILABLE', route: '/v1/revocations' },
    ])
    store = openSqliteStore(':memory:')
    // an unexpected failure: 500 without details for the caller, logged as an error
    const real = createMetrics()
    const broken = {
      ...real,
      registry: {
        contentType: 'text/plain',
        metrics: () => {
          throw new Error('boom')
        },
      },
    } as unknown as ServiceMetrics
    app = build({ logger, metrics: broken })
    expect(err(await send('GET', '/metrics'))).toEqual([500, 'ERR_INTERNAL', 'internal error'])
    expect(lines.at(-2)).toMatchObject({ level: 50, msg: 'request failed', code: 'ERR_INTERNAL', route: '/metrics' })
  })
})

describe('the feed and block status', () => {
  it('limit 1..500 and since are checked, never clamped', async () => {
    for (const q of ['limit=1', 'limit=0500', `limit=${FEED_PAGE_MAX}`, 'since=999999999999999'])
      expect([q, (await send('GET', `/v1/revocations?${q}`)).status]).toEqual([q, 200])
    for (const q of ['limit=0', `limit=${FEED_PAGE_MAX + 1}`, 'limit=00001', 'limit=1a', 'limit=']) {
      expect([q, ...err(await send('GET', `/v1/revocations?${q}`))]).toEqual([
        q,
        400,
        'ERR_REQUEST_MALFORMED',
        '"limit" must be an integer from 1 to 500',
      ])
    }
    for (const q of ['since=1000000000000000', 'since=-1', 'since=a']) {
      expect([q, ...err(await send('GET', `/v1/revocations?${q}`))]).toEqual([
        q,
        400,
        'ERR_REQUEST_MALFORMED',
        '"since" must be a sequence number',
      ])
    }
  })

  it('pages: more while entries remain, issued at the granularity, valid for pageTtl; ETag and no-cache', async () => {
    app = build({ pageTtl: 30, pageGranularity: 10 })
    now = NOW + 7
    for (const n of ['a', 'b', 'c']) await postStatement(child(n), { now })
    const first = await send('GET', '/v1/revocations?limit=2')
    const page = verifyFeedPage(first.json, fixedKey('service').publicKey)
    expect([page.since, page.head, page.more, page.entries.map((e) => e.seq), page.issuedAt, page.nextUpdate]).toEqual([
      0,
      3,
      true,
      [1, 2],
      NOW,
      NOW + 30,
    ])
    expect(first.headers.get('cache-control')).toBe('no-cache')
    expect(first.headers.get('etag')).toMatch(/^"[0-9a-f]{32}"$/)
    const rest = verifyFeedPage((await send('GET', '/v1/revocations?since=2&limit=2')).json, fixedKey('service').publicKey)
    expect([rest.more, rest.entries.map((e) => e.seq)]).toEqual([false, [3]])
    const exact = verifyFeedPage((await send('GET', '/v1/revocations?since=1&limit=2')).json, fixedKey('service').publicKey)
    expect([exact.more, exact.entries.map((e) => e.seq)]).toEqual([false, [2, 3]])
    const etag = first.headers.get('etag') as string
    const other = await send('GET', '/v1/revocations?limit=2', { headers: { 'if-none-match': '"0"' } })
    expect(other.status).toBe(200)
    expect((await send('GET', '/v1/revocations?limit=2', { headers: { 'if-none-match': etag } })).status).toBe(304)
  })

  const openStream = async (heartbeatSeconds: number) => {
    const closing = new AbortController()
    app = build({ streamPollMs: 5, heartbeatSeconds, closing: closing.signal })
    for (const n of ['a', 'b']) await postStatement(child(n))
    const res = await app.request('http://svc.test/v1/revocations/stream?since=0')
    const reader = (res.body as ReadableStream<Uint8Array>).getReader()
    let buffer = ''
    const nextPage = async () => {
      for (;;) {
        const end = buffer.indexOf('\n\n')
        if (end >= 0) {
          const event = buffer.slice(0, end).split('\n')
          buffer = buffer.slice(end + 2)
          const data = event.find((l) => l.startsWith('data:'))
          if (event.includes('event: page') && data) return verifyFeedPage(JSON.parse(data.slice(5)), fixedKey('service').publicKey)
          continue
        }
        const { value, done } = await reader.read()
        if (done) throw new Error('the stream ended')
        buffer += new TextDecoder().decode(value)
      }
    }
    const first = await nextPage()
    expect([first.since, first.head, first.entries.map((e) => e.seq)]).toEqual([0, 2, [1, 2]])
    const close = async () => {
      closing.abort()
      await reader.cancel()
    }
    return { nextPage, close }
  }

  it('the push channel: the first page at once, then, when the head moves, a page from where the last one ended', async () => {
    const { nextPage, close } = await openStream(5)
    await postStatement(child('c'))
    const second = await nextPage()
    expect([second.since, second.head, second.entries.map((e) => e.seq)]).toEqual([2, 3, [3]])
    await close()
  })

  it('the push channel sends a heartbeat page when nothing is new', async () => {
    const { nextPage, close } = await openStream(0)
    const beat = await nextPage()
    expect([beat.since, beat.head, beat.entries]).toEqual([2, 2, []])
    await close()
  })

  it('a block: suspended until resumed, scoped statements do not change the whole-block state', async () => {
    const m = child('b')
    const id = m.blocks[1]?.idHex as string
    const state = async () => {
      const a = await send('GET', `/v1/revocations/${id}`)
      return [a.json['revoked'], a.json['suspended'], (a.json['entries'] as unknown[]).length]
    }
    expect(await state()).toEqual([false, false, 0])
    await postStatement(m, { kind: 'suspend', actions: ['b:x'] })
    expect(await state()).toEqual([false, false, 1])
    await postStatement(m, kind('suspend'))
    expect(await state()).toEqual([false, true, 2])
    await postStatement(m, kind('resume'))
    expect(await state()).toEqual([false, false, 3])
    await postStatement(m, { actions: ['b:y'] })
    expect(await state()).toEqual([false, false, 4])
    await postStatement(m)
    expect(await state()).toEqual([true, false, 5])
    expect(err(await send('GET', `/v1/revocations/${id.toUpperCase()}`))).toEqual([
      400,
      'ERR_REQUEST_MALFORMED',
      'a block id is 64 lower-case hex digits',
    ])
  })
})

describe('usage', () => {
  const limited = () =>
    bearerChild([
      { type: 'uses', max: 2 },
      { type: 'uses', max: 5, per: 60 },
    ])
  const consume = (body: Record<string, unknown>) => send('POST', '/v1/usage/consume', { body, key: fixedKey('verifier') })

  it('counters: a list of 1–64 distinct strings, each naming a uses caveat in one spelling', async () => {
    const m = limited()
    const p = formatMandate(m)
    const id = m.blocks[1]?.idHex as string
    const list = 'a list of 1–64 counter keys'
    for (const counters of [[], 'x', [1], Array.from({ length: 65 }, (_, i) => `${id}/${i}`)]) {
      expect(err(await consume({ requestId: 'r', presentation: p, counters }))).toEqual([
        400,
        'ERR_REQUEST_MALFORMED',
        `"counters" must be ${list}`,
      ])
    }
    const sixtyFour = Array.from({ length: 64 }, (_, i) => `${id}/${i}`)
    expect((await consume({ requestId: 'r', presentation: p, counters: sixtyFour })).status).toBe(403)
    expect(err(await consume({ requestId: 'r', presentation: p, counters: [`${id}/0`, `${id}/0`] }))).toEqual([
      400,
      'ERR_REQUEST_MALFORMED',
      '"counters" names a counter twice',
    ])
    for (const key of [`${id}/00`, `${id}/2`, `${m.blocks[0]?.idHex}/0`, `${'0'.repeat(64)}/0`]) {
      expect(err(await consume({ requestId: 'r', presentation: p, counters: [key] }))).toEqual([
        403,
        'ERR_NOT_AUTHORIZED',
        `counter ${key} is not a uses caveat of the presented chain`,
      ])
    }
    const granted = await consume({ requestId: 'r', presentation: p, counters: [`${id}/0`, `${id}/1`] })
    expect([granted.status, granted.json]).toEqual([
      200,
      {
        granted: true,
        remaining: [
          { key: `${id}/0`, remaining: 1 },
          { key: `${id}/1`, remaining: 4 },
        ],
      },
    ])
  })

  it('a windowed counter tells when it frees; a total one does not', async () => {
    const m = bearerChild([
      { type: 'uses', max: 1 },
      { type: 'uses', max: 1, per: 60 },
    ])
    const p = formatMandate(m)
    const id = m.blocks[1]?.idHex as string
    expect((await consume({ requestId: 'a', presentation: p, counters: [`${id}/0`] })).json['granted']).toBe(true)
    expect((await consume({ requestId: 'b', presentation: p, counters: [`${id}/0`] })).json).toEqual({
      granted: false,
      exhausted: `${id}/0`,
    })
    expect((await consume({ requestId: 'c', presentation: p, counters: [`${id}/1`] })).json['granted']).toBe(true)
    now += 5
    expect((await consume({ requestId: 'd', presentation: p, counters: [`${id}/1`] })).json).toEqual({
      granted: false,
      exhausted: `${id}/1`,
      resetAt: NOW + 60,
    })
  })

  it('a bare request id is 1–128 printable ASCII characters; an invocation carries its own id or none', async () => {
    const m = limited()
    const p = formatMandate(m)
    const counters = [`${m.blocks[1]?.idHex}/0`]
    expect((await consume({ requestId: 'x'.repeat(128), presentation: p, counters })).status).toBe(200)
    expect((await consume({ requestId: '!~', presentation: p, counters })).status).toBe(200)
    for (const requestId of ['x'.repeat(129), 'a b', 'é', 'a\u007f']) {
      expect(err(await consume({ requestId, presentation: p, counters }))).toEqual([
        400,
        'ERR_REQUEST_MALFORMED',
        '"requestId" is 1–128 printable ASCII characters',
      ])
    }
    const inv = invoke(m, { action: 'email:read', audience: 'mail', now })
    const bad = await consume({ requestId: 'other', presentation: formatInvocation(inv), counters })
    expect(err(bad)).toEqual([400, 'ERR_REQUEST_MALFORMED', 'for an invocation, "requestId" is its id (or absent)'])
    const fresh = [`${m.blocks[1]?.idHex}/1`]
    const own = await consume({ requestId: inv.idHex, presentation: formatInvocation(inv), counters: fresh })
    expect([own.status, own.json['granted']]).toEqual([200, true])
    // the same invocation again: the stored answer, nothing spent
    const again = await consume({ presentation: formatInvocation(inv), counters: fresh })
    // another invocation is another request; a bare request id spelled like an invocation id too
    const next = invoke(m, { action: 'email:read', audience: 'mail', now: now + 1 })
    expect((await consume({ presentation: formatInvocation(next), counters: fresh })).json).toEqual({
      granted: true,
      remaining: [{ key: fresh[0], remaining: 3 }],
    })
    expect((await consume({ requestId: inv.idHex, presentation: p, counters: fresh })).json).toEqual({
      granted: true,
      remaining: [{ key: fresh[0], remaining: 2 }],
    })
    expect(err(await consume({ presentation: formatInvocation(inv), counters }))).toEqual([
      409,
      'ERR_CONFLICT',
      'this request id was used for another chain or other counters',
    ])
    expect(own.json).toEqual({ granted: true, remaining: [{ key: fresh[0], remaining: 4 }] })
    expect(again.json).toEqual(own.json)
  })
})

describe('replay claims', () => {
  it('claim once, release by the holder, then claim again; a mandate is not a claim', async () => {
    const m = bearerChild([])
    const inv = invoke(m, { action: 'email:read', audience: 'mail', now })
    const body = { invocation: formatInvocation(inv) }
    const key = fixedKey('verifier')
    expect((await send('POST', '/v1/replay/claim', { body, key })).json).toEqual({ id: inv.idHex, claimed: true })
    expect((await send('POST', '/v1/replay/claim', { body, key })).json).toEqual({ id: inv.idHex, claimed: false })
    expect((await send('POST', '/v1/replay/release', { body, key })).json).toEqual({ id: inv.idHex, released: true })
    expect((await send('POST', '/v1/replay/release', { body, key })).json).toEqual({ id: inv.idHex, released: false })
    expect((await send('POST', '/v1/replay/claim', { body, key })).json).toEqual({ id: inv.idHex, claimed: true })
    // A mandate of any holder: bearer, sealed, bound (which alone would fail its proof, 401).
    for (const given of [m, seal(m), rootGrant([])]) {
      const mandate = await send('POST', '/v1/replay/claim', { body: { invocation: formatMandate(given) }, key })
      expect(err(mandate)).toEqual([400, 'ERR_REQUEST_MALFORMED', 'a replay claim carries an invocation (mni1_…), not a mandate'])
    }
  })
})

describe('approvals', () => {
  const gated = (quorum = 1) =>
    rootGrant([
      { type: 'actions', patterns: ['*'] },
      { type: 'approval', actions: ['email:send', 'slack:post'], approvers: [fixedDid('carol'), fixedDid('bob')], quorum },
    ])
  const file = (m: UnverifiedMandate, action = 'email:send', at = now) => {
    const inv = invoke(m, { action, audience: 'mail', now: at, key: assistant })
    return { inv, res: send('POST', '/v1/approvals', { body: { invocation: formatInvocation(inv) } }) }
  }

  it('filed: 201 with what an approver needs; pending until the quorum is met', async () => {
    const m = gated(2)
    const { inv, res } = file(m, 'slack:post')
    const filed = await res
    expect(filed.status).toBe(201)
    expect(filed.json).toMatchObject({
      id: inv.idHex,
      status: 'pending',
      requestedBy: { key: fixedDid('assistant'), name: 'assistant' },
      onBehalfOf: fixedDid('alice'),
      action: 'slack:post',
      audience: 'mail',
      approvers: [fixedDid('carol'), fixedDid('bob')],
      approvals: {},
      createdAt: NOW,
      invocation: formatInvocation(inv),
    })
    const by = async (who: 'carol' | 'bob') =>
      send('POST', `/v1/approvals/${inv.idHex}`, {
        body: { approval: formatApproval(approve({ approver: fixedKey(who), invocation: inv, now, ttl: 60 })) },
        key: fixedKey(who),
      })
    const one = await by('carol')
    expect([one.status, one.json['status'], Object.keys(one.json['approvals'] as object)]).toEqual([200, 'pending', [fixedDid('carol')]])
    expect((await by('bob')).json['status']).toBe('approved')
    const lines = (await send('GET', '/metrics')).text.split('\n')
    expect(lines).toContain('mandate_approvals_total{event="requested"} 1')
    expect(lines).toContain('mandate_approvals_total{event="approved"} 2')
  })

  it('a request needs an invocation and an approval caveat over its action; the cap is per requester', async () => {
    app = build({ maxPendingPerRequester: 1 })
    const m = gated()
    const bearer = bearerChild([{ type: 'approval', actions: ['*'], approvers: [fixedDid('carol')], quorum: 1 }])
    for (const given of [bearer, seal(bearer), m]) {
      const mandate = await send('POST', '/v1/approvals', { body: { invocation: formatMandate(given) } })
      expect(err(mandate)).toEqual([400, 'ERR_REQUEST_MALFORMED', 'an approval request carries an invocation (mni1_…), not a mandate'])
    }
    expect(err(await file(m, 'email:read').res)).toEqual([
      409,
      'ERR_CONFLICT',
      'no approval caveat applies to email:read: it needs no approval',
    ])
    expect((await file(m).res).status).toBe(201)
    expect(err(await file(m, 'slack:post').res)).toEqual([429, 'ERR_LIMIT_RATE', 'this requester already has 1 pending approval requests'])
  })

  it('the approvers are those of every caveat over the action, once each; caveats over other actions do not count', async () => {
    const m = bearerChild(
      [{ type: 'approval', actions: ['email:send'], approvers: [fixedDid('carol')], quorum: 1 }],
      [
        { type: 'actions', patterns: ['*'] },
        { type: 'approval', actions: ['email:*'], approvers: [fixedDid('carol'), fixedDid('bob')], quorum: 1 },
        { type: 'approval', actions: ['slack:post'], approvers: [fixedDid('mallory')], quorum: 1 },
      ],
    )
    const inv = invoke(m, { action: 'email:send', audience: 'mail', resource: 'mail/1', now })
    const filed = await send('POST', '/v1/approvals', { body: { invocation: formatInvocation(inv) } })
    expect([filed.status, filed.json['approvers'], filed.json['chain'], filed.json['resource']]).toEqual([
      201,
      [fixedDid('carol'), fixedDid('bob')],
      [
        { block: 0, name: 'assistant' },
        { block: 1, name: 'sub-agent' },
      ],
      'mail/1',
    ])
    const approved = await send('POST', `/v1/approvals/${inv.idHex}`, {
      body: { approval: formatApproval(approve({ approver: fixedKey('carol'), invocation: inv, now, ttl: 60 })) },
      key: fixedKey('carol'),
    })
    expect([approved.status, approved.json['status']]).toEqual([200, 'approved'])
    const why = attenuate(m, { caveats: [], name: 'task', purpose: 'weekly report', now: T0 })
    const purposeful = invoke(why, { action: 'email:send', audience: 'mail', now })
    const withPurpose = await send('POST', '/v1/approvals', { body: { invocation: formatInvocation(purposeful) } })
    expect(withPurpose.json['chain']).toEqual([
      { block: 0, name: 'assistant' },
      { block: 1, name: 'sub-agent' },
      { block: 2, name: 'task', purpose: 'weekly report' },
    ])
    const plain = invoke(m, { action: 'email:send', audience: 'mail', now: now + 1 })
    const noResource = await send('POST', '/v1/approvals', { body: { invocation: formatInvocation(plain) } })
    expect([noResource.status, 'resource' in noResource.json, 'intent' in noResource.json]).toEqual([201, false, false])
  })

  it('the inbox: limit 1..100, newest first, a next cursor only on a full page, before follows it', async () => {
    const m = gated()
    const a = file(m, 'email:send', NOW - 2)
    expect((await a.res).status).toBe(201)
    now = NOW + 1
    const b = file(m, 'slack:post', NOW - 1)
    expect((await b.res).status).toBe(201)
    const list = (q: string) => send('GET', `/v1/approvals${q}`, { key: fixedKey('carol') })
    const ids = (x: Answer) => (x.json['pending'] as { id: string }[]).map((p) => p.id)
    const first = await list('?limit=1')
    expect([ids(first), first.json['next']]).toEqual([[b.inv.idHex], `${NOW + 1}.${b.inv.idHex}`])
    const second = await list(`?limit=1&before=${first.json['next']}`)
    expect(ids(second)).toEqual([a.inv.idHex])
    const full = await list('?limit=2')
    expect([ids(full), full.json['next']]).toEqual([[b.inv.idHex, a.inv.idHex], `${NOW}.${a.inv.idHex}`])
    const all = await list('')
    expect([ids(all).length, 'next' in all.json]).toEqual([2, false])
    expect((await list('?limit=100')).status).toBe(200)
    for (const q of ['?limit=0', '?limit=101', '?limit=x']) {
      expect([q, ...err(await list(q))]).toEqual([q, 400, 'ERR_REQUEST_MALFORMED', '"limit" must be a whole number in 1..100'])
    }
    for (const q of ['?before=1', `?before=x.${a.inv.idHex}`]) {
      expect([q, ...err(await list(q))]).toEqual([q, 400, 'ERR_REQUEST_MALFORMED', '"before" is the "next" cursor of a previous page'])
    }
  })

  it('reading one: a 64-hex id, wait 0..30, 404 for none', async () => {
    const { inv, res } = file(gated())
    expect((await res).status).toBe(201)
    const read = (path: string) => send('GET', path, { key: fixedKey('carol') })
    expect((await read(`/v1/approvals/${inv.idHex}?wait=0`)).json['id']).toBe(inv.idHex)
    expect(err(await read(`/v1/approvals/${inv.idHex}?wait=31`))).toEqual([
      400,
      'ERR_REQUEST_MALFORMED',
      '"wait" must be a whole number in 0..30',
    ])
    expect(err(await read(`/v1/approvals/${inv.idHex.toUpperCase()}`))).toEqual([
      400,
      'ERR_REQUEST_MALFORMED',
      'a request id is 64 lower-case hex digits',
    ])
    const none = 'ab'.repeat(32)
    expect(err(await read(`/v1/approvals/${none}`))).toEqual([404, 'ERR_NOT_FOUND', `no approval request ${none}`])
    const post = await send('POST', `/v1/approvals/${none}`, {
      body: { approval: formatApproval(approve({ approver: fixedKey('carol'), invocation: inv, now, ttl: 60 })) },
      key: fixedKey('carol'),
    })
    expect(err(post)).toEqual([404, 'ERR_NOT_FOUND', `no approval request ${none}`])
    const badId = await send('POST', '/v1/approvals/xyz', { body: {}, key: fixedKey('carol') })
    expect(err(badId)).toEqual([400, 'ERR_REQUEST_MALFORMED', 'a request id is 64 lower-case hex digits'])
  })
})
