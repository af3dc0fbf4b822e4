/**
 * Edges of src/service/app.ts that endpoints.test.ts and trust.test.ts leave open: the anchors
 * of every id, cursor and counter-key pattern (junk before or after a valid value is refused),
 * counter keys for caveat indexes ≥ 10, the approval status across several blocks' caveats,
 * the reason a statement carries, the resume check only for resumes, the push channel's
 * cursor across a full page, the long-poll of one approval request. In-process app, in-memory
 * SQLite store, an injected clock, fixed keys.
 */
import type { Hono } from 'hono'
import pino from 'pino'
import { beforeEach, describe, expect, it } from 'vitest'
import type { Caveat } from '../../src/caveats/types.js'
import {
  approve,
  createRevocation,
  formatApproval,
  formatInvocation,
  formatMandate,
  formatRevocation,
  invoke,
  type UnverifiedMandate,
} from '../../src/index.js'
import { FEED_PAGE_MAX, verifyFeedPage } from '../../src/revocation/feed.js'
import type { AppOptions } from '../../src/service/app.js'
import { openSqliteStore } from '../../src/service/sqlite-store.js'
import type { Store } from '../../src/service/store.js'
import { type Answer, appRequest, type Send } from '../helpers/app-request.js'
import { assistant, bearerChild, rootGrant } from '../helpers/chains.js'
import { fixedDid, fixedKey, T0, thrownAs } from '../helpers/fixtures.js'
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
const MALFORMED = (message: string) => [400, 'ERR_REQUEST_MALFORMED', message]
const consume = (body: Record<string, unknown>) => send('POST', '/v1/usage/consume', { body, key: fixedKey('verifier') })
const post = (m: UnverifiedMandate, o: Partial<Parameters<typeof createRevocation>[0]> = {}) =>
  send('POST', '/v1/revocations', {
    body: { revocation: formatRevocation(createRevocation({ mandate: m, key: fixedKey('alice'), now, ...o })) },
  })
const child = (name: string) => bearerChild([{ type: 'actions', patterns: [`${name}:*`] }])

describe('numeric options are checked when the service is made', () => {
  // Each bounds something a stranger can fill (pending approvals, statements, bodies) or paces
  // something (pages, streams): a NaN there would pass every `n >= max` as false, unbounded.
  const cases: [keyof AppOptions, number, number, Partial<AppOptions>?][] = [
    ['pageTtl', 2, 86_400, { pageGranularity: 1 }],
    ['pageGranularity', 1, 10, { pageTtl: 20 }],
    ['requestSkew', 0, 3600],
    ['streamPollMs', 1, 60_000],
    ['heartbeatSeconds', 0, 5],
    ['maxBody', 1, 64 * 1024 * 1024],
    ['maxPendingPerRequester', 1, 100_000],
    ['maxEntriesPerBlock', 1, 100_000],
    ['invocationMaxAge', 1, 86_400],
    ['skew', 0, 300],
    ['signatureMaxAge', 1, 86_400],
  ]
  const thrown = (extra: Partial<AppOptions>) => thrownAs(() => build(extra))
  for (const [name, min, max, beside = {}] of cases) {
    it(`${name}: a whole number from ${min} to ${max}`, () => {
      const range = (v: number) => ['RangeError', `"${name}" expected a whole number from ${min} to ${max}, got ${v}`]
      for (const bad of [min - 1, max + 1, Number.NaN, min + 0.5]) {
        expect(thrown({ ...beside, [name]: bad }), String(bad)).toEqual(range(bad))
      }
      expect(thrown({ ...beside, [name]: String(min) as never })).toEqual(['TypeError', `"${name}" expected a whole number, got string`])
      expect([thrown({ ...beside, [name]: min }), thrown({ ...beside, [name]: max })]).toEqual(['nothing', 'nothing'])
    })
  }

  it("the service key: a pair whose public key is its secret key's (feed pages name it)", () => {
    expect(thrown({ key: { ...fixedKey('service'), publicKey: fixedKey('alice').publicKey } })).toEqual([
      'RangeError',
      '"key" publicKey does not match its secretKey',
    ])
    expect(thrown({ key: undefined as never })).toEqual(['TypeError', '"key" expected the service\'s key pair'])
  })

  it('a page lives at least twice the granularity its issue time is rounded to (else it arrives frozen)', () => {
    expect(thrown({ pageTtl: 3, pageGranularity: 2 })).toEqual(['RangeError', '"pageTtl" (3) must be at least twice "pageGranularity" (2)'])
    expect(thrown({ pageTtl: 2 })).toEqual(['RangeError', '"pageTtl" (2) must be at least twice "pageGranularity" (2)'])
    expect([thrown({ pageTtl: 4 }), thrown({ pageTtl: 20, pageGranularity: 10 })]).toEqual(['nothing', 'nothing'])
  })
})

describe('counter keys', () => {
  it('junk before or after a valid key is refused 403 and spends nothing', async () => {
    const m = bearerChild([
      { type: 'uses', max: 3 },
      { type: 'uses', max: 7 },
    ])
    const p = formatMandate(m)
    const id = m.blocks[1]?.idHex as string
    const keys = [`x${id}/0`, `a${id}/0`, `${id}/0x`, `${id}/00`, `${id}/01`, `${id}/1x`, `${id}/1 `, `${id}/-1`, 'nonsense']
    for (const [i, key] of keys.entries()) {
      expect([key, ...err(await consume({ requestId: `r${i}`, presentation: p, counters: [key] }))]).toEqual([
        key,
        403,
        'ERR_NOT_AUTHORIZED',
        `counter ${key} is not a uses caveat of the presented chain`,
      ])
    }
    // nothing was spent by the refused keys: both budgets are whole
    const ok = await consume({ requestId: 'ok', presentation: p, counters: [`${id}/0`, `${id}/1`] })
    expect([ok.status, ok.json]).toEqual([
      200,
      {
        granted: true,
        remaining: [
          { key: `${id}/0`, remaining: 2 },
          { key: `${id}/1`, remaining: 6 },
        ],
      },
    ])
  })

  it('a key longer than 80 characters is cut to 80 in the message', async () => {
    const m = bearerChild([{ type: 'uses', max: 3 }])
    const key = `${'f'.repeat(64)}/0${'z'.repeat(40)}`
    const a = await consume({ requestId: 'r', presentation: formatMandate(m), counters: [key] })
    expect(err(a)).toEqual([403, 'ERR_NOT_AUTHORIZED', `counter ${key.slice(0, 80)} is not a uses caveat of the presented chain`])
  })

  it('a caveat index of two digits names that caveat (caveats 10 and 11 of one block)', async () => {
    const caveats: Caveat[] = Array.from({ length: 12 }, (_, i) => ({ type: 'uses', max: i + 1 }) as Caveat)
    const m = bearerChild(caveats)
    const p = formatMandate(m)
    const id = m.blocks[1]?.idHex as string
    const ten = await consume({ requestId: 'a', presentation: p, counters: [`${id}/10`, `${id}/11`] })
    expect([ten.status, ten.json]).toEqual([
      200,
      {
        granted: true,
        remaining: [
          { key: `${id}/10`, remaining: 10 },
          { key: `${id}/11`, remaining: 11 },
        ],
      },
    ])
    // a windowed counter with a two-digit index keeps its window
    const windowed = bearerChild([...caveats.slice(0, 10), { type: 'uses', max: 1, per: 60 }])
    const wid = windowed.blocks[1]?.idHex as string
    const wp = formatMandate(windowed)
    expect((await consume({ requestId: 'w1', presentation: wp, counters: [`${wid}/10`] })).json['granted']).toBe(true)
    now += 5
    expect((await consume({ requestId: 'w2', presentation: wp, counters: [`${wid}/10`] })).json).toEqual({
      granted: false,
      exhausted: `${wid}/10`,
      resetAt: NOW + 60,
    })
    now += 60
    expect((await consume({ requestId: 'w3', presentation: wp, counters: [`${wid}/10`] })).json['granted']).toBe(true)
  })

  it('"counters" with a non-string member is malformed, whatever else it holds', async () => {
    const m = bearerChild([{ type: 'uses', max: 3 }])
    const key = `${m.blocks[1]?.idHex}/0`
    for (const counters of [
      [key, 5],
      [5, key],
      [key, null],
    ]) {
      expect(err(await consume({ requestId: 'r', presentation: formatMandate(m), counters }))).toEqual(
        MALFORMED('"counters" must be a list of 1–64 counter keys'),
      )
    }
    expect((await consume({ requestId: 'r', presentation: formatMandate(m), counters: [key] })).json).toEqual({
      granted: true,
      remaining: [{ key, remaining: 2 }],
    })
  })
})

describe('ids, cursors and integers: anchored both ends', () => {
  it('a block id with one character more before or after is 400', async () => {
    const m = child('b')
    expect((await post(m, { kind: 'suspend' })).status).toBe(201)
    const id = m.blocks[1]?.idHex as string
    expect((await send('GET', `/v1/revocations/${id}`)).json['suspended']).toBe(true)
    for (const bad of [`0${id}`, `${id}0`, `${id.slice(1)}`]) {
      expect(err(await send('GET', `/v1/revocations/${bad}`))).toEqual(MALFORMED('a block id is 64 lower-case hex digits'))
    }
  })

  it('a request id with one character more before or after is 400, when reading and when answering', async () => {
    const m = rootGrant([
      { type: 'actions', patterns: ['*'] },
      { type: 'approval', actions: ['email:send'], approvers: [fixedDid('carol')], quorum: 1 },
    ])
    const inv = invoke(m, { action: 'email:send', audience: 'mail', now, key: assistant })
    expect((await send('POST', '/v1/approvals', { body: { invocation: formatInvocation(inv) } })).status).toBe(201)
    const approval = formatApproval(approve({ approver: fixedKey('carol'), invocation: inv, now, ttl: 60 }))
    for (const bad of [`0${inv.idHex}`, `${inv.idHex}0`]) {
      expect(err(await send('GET', `/v1/approvals/${bad}`, { key: fixedKey('carol') }))).toEqual(
        MALFORMED('a request id is 64 lower-case hex digits'),
      )
      expect(err(await send('POST', `/v1/approvals/${bad}`, { body: { approval }, key: fixedKey('carol') }))).toEqual(
        MALFORMED('a request id is 64 lower-case hex digits'),
      )
    }
    const ok = await send('POST', `/v1/approvals/${inv.idHex}`, { body: { approval }, key: fixedKey('carol') })
    expect([ok.status, ok.json['status']]).toEqual([200, 'approved'])
  })

  it('the inbox cursor and limit with junk before or after are 400', async () => {
    const list = (q: string) => send('GET', `/v1/approvals${q}`, { key: fixedKey('carol') })
    const id = 'ab'.repeat(32)
    expect((await list(`?before=${NOW}.${id}`)).status).toBe(200)
    for (const q of [`?before=x${NOW}.${id}`, `?before=${NOW}.${id}0`, `?before=${NOW}.x${id}`]) {
      expect([q, ...err(await list(q))]).toEqual([q, ...MALFORMED('"before" is the "next" cursor of a previous page')])
    }
    expect((await list('?limit=5')).status).toBe(200)
    for (const q of ['?limit=x5', '?limit=5x', '?limit=+5', '?limit=5.0']) {
      expect([q, ...err(await list(q))]).toEqual([q, ...MALFORMED('"limit" must be a whole number in 1..100')])
    }
  })
})

describe('approval status', () => {
  it('approved only when every block’s approval caveat over the action has its quorum', async () => {
    const m = bearerChild(
      [{ type: 'approval', actions: ['email:*'], approvers: [fixedDid('bob')], quorum: 1 }],
      [
        { type: 'actions', patterns: ['*'] },
        { type: 'approval', actions: ['email:send'], approvers: [fixedDid('carol')], quorum: 1 },
      ],
    )
    const inv = invoke(m, { action: 'email:send', audience: 'mail', now, intent: 'send the weekly report' })
    const filed = await send('POST', '/v1/approvals', { body: { invocation: formatInvocation(inv) } })
    expect([filed.status, filed.json['status'], filed.json['approvers'], filed.json['intent'], 'resource' in filed.json]).toEqual([
      201,
      'pending',
      [fixedDid('carol'), fixedDid('bob')],
      'send the weekly report',
      false,
    ])
    const by = (who: 'carol' | 'bob') =>
      send('POST', `/v1/approvals/${inv.idHex}`, {
        body: { approval: formatApproval(approve({ approver: fixedKey(who), invocation: inv, now, ttl: 60 })) },
        key: fixedKey(who),
      })
    const carol = await by('carol')
    expect([carol.status, carol.json['status']]).toEqual([200, 'pending'])
    const read = await send('GET', `/v1/approvals/${inv.idHex}`, { key: fixedKey('bob') })
    expect(read.json['status']).toBe('pending')
    expect((await by('bob')).json['status']).toBe('approved')
  })

  it('the same the other way round: only the lower block satisfied is still pending', async () => {
    const m = bearerChild(
      [{ type: 'approval', actions: ['email:*'], approvers: [fixedDid('bob')], quorum: 1 }],
      [
        { type: 'actions', patterns: ['*'] },
        { type: 'approval', actions: ['email:send'], approvers: [fixedDid('carol')], quorum: 1 },
      ],
    )
    const inv = invoke(m, { action: 'email:send', audience: 'mail', now, resource: 'mail/7' })
    const filed = await send('POST', '/v1/approvals', { body: { invocation: formatInvocation(inv) } })
    expect([filed.json['resource'], 'intent' in filed.json]).toEqual(['mail/7', false])
    const bob = await send('POST', `/v1/approvals/${inv.idHex}`, {
      body: { approval: formatApproval(approve({ approver: fixedKey('bob'), invocation: inv, now, ttl: 60 })) },
      key: fixedKey('bob'),
    })
    expect([bob.status, bob.json['status']]).toEqual([200, 'pending'])
  })

  it('an approval whose signature does not verify: 401 naming the failed rule', async () => {
    const m = rootGrant([
      { type: 'actions', patterns: ['*'] },
      { type: 'approval', actions: ['email:send'], approvers: [fixedDid('carol')], quorum: 1 },
    ])
    const inv = invoke(m, { action: 'email:send', audience: 'mail', now, key: assistant })
    expect((await send('POST', '/v1/approvals', { body: { invocation: formatInvocation(inv) } })).status).toBe(201)
    const good = approve({ approver: fixedKey('carol'), invocation: inv, now, ttl: 60 })
    const bytes = good.bytes.slice()
    // the signature's S half (bytes 32..63 of the signature, after the 2-byte bstr header)
    bytes[2 + 40] = (bytes[2 + 40] as number) ^ 1
    const bad = await send('POST', `/v1/approvals/${inv.idHex}`, {
      body: { approval: formatApproval({ ...good, bytes }) },
      key: fixedKey('carol'),
    })
    expect(err(bad)).toEqual([401, 'ERR_APPROVAL_INVALID', 'approval signature rejected (equation)'])
  })

  it('a long poll answers when an approval arrives; a request gone while waited on is 404', async () => {
    const m = rootGrant([
      { type: 'actions', patterns: ['*'] },
      { type: 'approval', actions: ['email:send'], approvers: [fixedDid('carol')], quorum: 1 },
    ])
    const inv = invoke(m, { action: 'email:send', audience: 'mail', now, key: assistant })
    expect((await send('POST', '/v1/approvals', { body: { invocation: formatInvocation(inv) } })).status).toBe(201)
    // the approval arrives only after the reader has read the request twice (once, then one poll)
    let gets = 0
    let polledOnce: () => void = () => undefined
    const secondRead = new Promise<void>((resolve) => {
      polledOnce = resolve
    })
    const watched = new Proxy(store, {
      get(target, prop, receiver) {
        if (prop === 'getApprovalRequest') {
          return async (id: string) => {
            const record = await target.getApprovalRequest(id)
            if (++gets === 2) polledOnce()
            return record
          }
        }
        const v = Reflect.get(target, prop, receiver)
        return typeof v === 'function' ? v.bind(target) : v
      },
    })
    const waiting = send('GET', `/v1/approvals/${inv.idHex}?wait=30`, { key: fixedKey('carol') }, build({ store: watched }))
    expect(await Promise.race([secondRead.then(() => 'polled'), waiting.then(() => 'answered early')])).toBe('polled')
    const posted = await send('POST', `/v1/approvals/${inv.idHex}`, {
      body: { approval: formatApproval(approve({ approver: fixedKey('carol'), invocation: inv, now, ttl: 60 })) },
      key: fixedKey('carol'),
    })
    expect(posted.json['status']).toBe('approved')
    const answered = await waiting
    expect([answered.status, answered.json['status'], Object.keys(answered.json['approvals'] as object)]).toEqual([
      200,
      'approved',
      [fixedDid('carol')],
    ])
    // the store loses the request after the first read: the waiting reader gets 404
    let reads = 0
    const real = store
    const vanishing = new Proxy(real, {
      get(target, prop, receiver) {
        if (prop === 'getApprovalRequest') {
          return (id: string) => (++reads === 1 ? target.getApprovalRequest(id) : Promise.resolve(undefined))
        }
        const v = Reflect.get(target, prop, receiver)
        return typeof v === 'function' ? v.bind(target) : v
      },
    })
    const other = invoke(m, { action: 'email:send', audience: 'mail', now: now + 1, key: assistant })
    expect((await send('POST', '/v1/approvals', { body: { invocation: formatInvocation(other) } })).status).toBe(201)
    const gone = await send('GET', `/v1/approvals/${other.idHex}?wait=30`, { key: fixedKey('carol') }, build({ store: vanishing }))
    expect([reads, ...err(gone)]).toEqual([2, 404, 'ERR_NOT_FOUND', `no approval request ${other.idHex}`])
  })
})

describe('revocation statements', () => {
  it('the stored entry carries the reason exactly when the statement had one', async () => {
    const m = child('r')
    expect((await post(m, { kind: 'suspend', reason: 'under review' })).status).toBe(201)
    expect((await post(m, { kind: 'resume' })).status).toBe(201)
    const entries = (await send('GET', `/v1/revocations/${m.blocks[1]?.idHex}`)).json['entries'] as Record<string, unknown>[]
    expect(entries.map((e) => [e['kind'], e['reason'], 'reason' in e])).toEqual([
      ['suspend', 'under review', true],
      ['resume', undefined, false],
    ])
    const page = verifyFeedPage((await send('GET', '/v1/revocations')).json, fixedKey('service').publicKey)
    expect(page.entries.map((e) => e.reason)).toEqual(['under review', undefined])
  })

  it('accepted one second before the chain expiry plus skew', async () => {
    now = EXPIRY + SKEW - 1
    expect((await post(child('a'))).status).toBe(201)
    now = EXPIRY + SKEW
    expect(err(await post(child('b')))).toEqual([
      403,
      'ERR_TIME_EXPIRED',
      'the chain has expired: no mandate with this block can verify any more',
    ])
  })

  it('only a resume is checked against active suspensions: a holder may add its own suspension or scoped revoke', async () => {
    const m = child('s')
    expect((await post(m, { kind: 'suspend' })).status).toBe(201)
    expect((await post(m, { kind: 'suspend', key: assistant })).status).toBe(201)
    expect((await post(m, { kind: 'revoke', actions: ['s:x'], key: assistant })).status).toBe(201)
    expect(err(await post(m, { kind: 'resume', key: assistant }))).toEqual([
      403,
      'ERR_NOT_AUTHORIZED',
      'a suspension can only be lifted by the key that placed it or one above it in the chain',
    ])
  })

  it('block state: suspended after suspend, not after resume; a scoped suspension alone is not', async () => {
    const m = child('t')
    const id = m.blocks[1]?.idHex as string
    const state = async () => {
      const a = await send('GET', `/v1/revocations/${id}`)
      return [a.json['blockId'], a.json['revoked'], a.json['suspended']]
    }
    await post(m, { kind: 'suspend', actions: ['t:x'] })
    expect(await state()).toEqual([id, false, false])
    await post(m, { kind: 'revoke', actions: ['t:y'] })
    expect(await state()).toEqual([id, false, false])
    await post(m, { kind: 'suspend' })
    expect(await state()).toEqual([id, false, true])
    await post(m, { kind: 'suspend', actions: ['t:z'] })
    expect(await state()).toEqual([id, false, true])
    await post(m, { kind: 'resume' })
    expect(await state()).toEqual([id, false, false])
  })
})

describe('the push channel', () => {
  const reader = (res: Response) => {
    const r = (res.body as ReadableStream<Uint8Array>).getReader()
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
        const { value, done } = await r.read()
        if (done) return undefined
        buffer += new TextDecoder().decode(value)
      }
    }
    return { nextPage, cancel: () => r.cancel() }
  }

  it('after a full page, the next page starts at its last entry', async () => {
    const closing = new AbortController()
    app = build({ streamPollMs: 5, heartbeatSeconds: 5, closing: closing.signal })
    const by = '11'.repeat(32)
    for (let i = 1; i <= FEED_PAGE_MAX + 1; i++) {
      await store.addRevocation({
        statementId: `f${i.toString(16).padStart(63, '0')}`,
        blockId: i.toString(16).padStart(64, '0'),
        kind: 'suspend',
        at: NOW,
        by,
        expires: EXPIRY,
        statement: new Uint8Array([i & 0xff]),
      })
    }
    const stream = reader(await app.request('http://svc.test/v1/revocations/stream?since=0'))
    const first = await stream.nextPage()
    expect([first?.since, first?.head, first?.more, first?.entries.length, first?.entries.at(-1)?.seq]).toEqual([
      0,
      FEED_PAGE_MAX + 1,
      true,
      FEED_PAGE_MAX,
      FEED_PAGE_MAX,
    ])
    const second = await stream.nextPage()
    expect([second?.since, second?.more, second?.entries.map((e) => e.seq)]).toEqual([FEED_PAGE_MAX, false, [FEED_PAGE_MAX + 1]])
    closing.abort()
    await stream.cancel()
  })

  it('no page while the head stays put (before the heartbeat); the next page comes when it moves', async () => {
    const closing = new AbortController()
    let heads = 0
    let polled: () => void = () => undefined
    const twice = new Promise<void>((resolve) => {
      polled = resolve
    })
    const counting = new Proxy(store, {
      get(target, prop, receiver) {
        if (prop === 'head') {
          return async () => {
            const h = await target.head()
            if (++heads === 3) polled()
            return h
          }
        }
        const v = Reflect.get(target, prop, receiver)
        return typeof v === 'function' ? v.bind(target) : v
      },
    })
    app = build({ store: counting, streamPollMs: 1, heartbeatSeconds: 5, closing: closing.signal })
    expect((await post(child('a'))).status).toBe(201)
    const stream = reader(await app.request('http://svc.test/v1/revocations/stream?since=0'))
    const first = await stream.nextPage()
    expect([first?.since, first?.head]).toEqual([0, 1])
    // two more polls have seen the same head: neither sent a page
    await twice
    expect((await post(child('b'))).status).toBe(201)
    const second = await stream.nextPage()
    expect([second?.since, second?.head, second?.entries.map((e) => e.seq)]).toEqual([1, 2, [2]])
    closing.abort()
    await stream.cancel()
  })

  it('a storage failure ends the stream and is logged as a warning', async () => {
    const lines: Record<string, unknown>[] = []
    const logger = pino({ level: 'info' }, { write: (s: string) => lines.push(JSON.parse(s) as Record<string, unknown>) })
    app = build({ streamPollMs: 5, heartbeatSeconds: 5, logger })
    const stream = reader(await app.request('http://svc.test/v1/revocations/stream?since=0'))
    const first = await stream.nextPage()
    expect([first?.since, first?.head]).toEqual([0, 0])
    await store.close()
    expect(await stream.nextPage()).toBeUndefined()
    expect(lines.filter((l) => l['msg'] === 'revocation stream ended')).toMatchObject([{ level: 40, error: expect.any(String) }])
    store = openSqliteStore(':memory:')
  })
})

describe('request plumbing', () => {
  it('the media type is read case-blind, with spaces around it and parameters after it', async () => {
    const body = { raw: new TextEncoder().encode('{"invocation":""}') }
    for (const type of ['APPLICATION/JSON ;charset=utf-8', ' application/json', 'Application/Json;x=y']) {
      expect([type, ...err(await send('POST', '/v1/approvals', { ...body, type }))]).toEqual([
        type,
        ...MALFORMED('"invocation" must be a non-empty string'),
      ])
    }
    const statement = createRevocation({ mandate: child('c'), key: fixedKey('alice'), now })
    const cbor = await send('POST', '/v1/revocations', { raw: statement.bytes, type: 'APPLICATION/CBOR ; charset=x' })
    expect([cbor.status, cbor.json['created']]).toEqual([201, true])
  })

  it('metrics: the exposition content type, and request durations by route', async () => {
    await send('GET', '/healthz')
    const m = await send('GET', '/metrics')
    expect(m.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/)
    expect(m.text).toMatch(/^mandate_http_request_duration_seconds_count\{route="\/healthz"\} 1$/m)
  })

  it('an accepted statement is logged with its seq, kind, block and signer role', async () => {
    const lines: Record<string, unknown>[] = []
    const logger = pino({ level: 'info' }, { write: (s: string) => lines.push(JSON.parse(s) as Record<string, unknown>) })
    app = build({ logger })
    const m = child('l')
    expect((await post(m, { kind: 'suspend' })).status).toBe(201)
    expect(lines.filter((l) => l['msg'] === 'revocation')).toMatchObject([
      { level: 30, seq: 1, kind: 'suspend', block: m.blocks[1]?.idHex, created: true },
    ])
  })

  it('a replay claim is released only by the verifier holding it', async () => {
    app = build({
      verifiers: [
        { name: 'mail', key: fixedDid('verifier') },
        { name: 'mail', key: fixedDid('mallory') },
      ],
    })
    const inv = invoke(bearerChild([]), { action: 'email:read', audience: 'mail', now })
    const body = { invocation: formatInvocation(inv) }
    expect((await send('POST', '/v1/replay/claim', { body, key: fixedKey('verifier') })).json).toEqual({ id: inv.idHex, claimed: true })
    expect(err(await send('POST', '/v1/replay/release', { body, key: fixedKey('mallory') }))).toEqual([
      403,
      'ERR_NOT_AUTHORIZED',
      'another verifier holds this claim; only it may release it',
    ])
    expect((await send('POST', '/v1/replay/release', { body, key: fixedKey('verifier') })).json).toEqual({ id: inv.idHex, released: true })
  })
})

describe('standing, read by the store or by the service', () => {
  /**
   * `inner` behind a store that counts its reads of statements, and, with `ignoring`, one a user
   * might write: it drops `StoredConsume.standing` and does not say it checks standing.
   */
  const wrapped = (inner: Store, ignoring: boolean) => {
    const reads = { n: 0 }
    const counted = (f: (id: string) => Promise<unknown>) => (id: string) => {
      reads.n++
      return f(id)
    }
    const wrapper = new Proxy(inner, {
      get(target, name) {
        if (name === 'revocationsFor') return counted(target.revocationsFor.bind(target))
        if (name === 'atCommit') {
          const at = target.atCommit
          return at === undefined || ignoring ? undefined : { ...at, revocationsFor: counted(at.revocationsFor.bind(at)) }
        }
        if (ignoring && name === 'checksStanding') return undefined
        if (ignoring && name === 'consume') {
          return (c: Parameters<Store['consume']>[0], t: number) =>
            target.consume({ key: c.key, binding: c.binding, counters: c.counters }, t)
        }
        const value = Reflect.get(target, name) as unknown
        return typeof value === 'function' ? value.bind(target) : value
      },
    })
    return { wrapper, reads }
  }
  const spend = async (on: Hono, m: UnverifiedMandate, requestId: string) =>
    send(
      'POST',
      '/v1/usage/consume',
      { body: { requestId, presentation: formatMandate(m), counters: [`${m.blocks[1]?.idHex}/0`] }, key: fixedKey('verifier') },
      on,
    )

  for (const [says, ignoring, readsBefore] of [
    ['a store that says it checks standing is trusted with it: the service reads no statement before the spend', false, 0],
    ['a store that does not say so gets the service’s own reading, even when it ignores standing', true, 2],
  ] as const) {
    it(`${says}; a revoked chain is refused and spends nothing`, async () => {
      const { wrapper, reads } = wrapped(store, ignoring)
      const on = build({ store: wrapper })
      const m = bearerChild([{ type: 'uses', max: 3 }])
      const key = `${m.blocks[1]?.idHex}/0`
      expect((await spend(on, m, 'a')).json).toMatchObject({ granted: true, remaining: [{ remaining: 2 }] })
      expect(reads.n).toBe(readsBefore)
      expect((await post(m)).status).toBe(201)
      expect(err(await spend(on, m, 'b'))).toEqual([403, 'ERR_REVOKED', 'block 1 is revoked'])
      // Nothing was spent by the refusal: the next use (on the store itself) leaves 1.
      const counter = { key, blockId: m.blocks[1]?.idHex as string, block: 1, caveatIndex: 0, max: 3 }
      expect(await store.consume({ key: 'c', binding: 'x', counters: [counter] }, now)).toEqual({
        granted: true,
        remaining: [{ key, remaining: 1 }],
      })
    })
  }
})
