/**
 * The approver's push stream (`GET /v1/approvals/stream`, spec/service-v1.md §7.2), mounted on
 * a bare Hono app over a real SQLite store, read with the page's own SSE reader
 * (src/page/sse.ts): the snapshot; a write to the inbox wakes the stream at once (a failed one
 * does not); requests closed as approved, denied, expired or gone; changes; heartbeats; the end of a
 * stream's lifetime and of the service; the per-approver cap. The signed path and the answers'
 * conformance are in test/service/openapi.test.ts, the page over it in approval-page.test.ts.
 */
import { Hono } from 'hono'
import { afterEach, describe, expect, it } from 'vitest'
import { signRequest } from '../../src/crypto/http-signature.js'
import { generateKeyPair, toDidKey } from '../../src/crypto/keys.js'
import { createSseParser, type ServerSentEvent } from '../../src/page/sse.js'
import { type ApprovalStreamOptions, mountApprovalStream } from '../../src/service/approval-stream.js'
import { toServiceError } from '../../src/service/errors.js'
import { openSqliteStore } from '../../src/service/sqlite-store.js'
import type { ApprovalRecord, Store } from '../../src/service/store.js'
import { startInProcess } from '../helpers/service.js'

const ALICE = 'did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK'
const BOB = 'did:key:z6MkjchhfUsD6mmvni8mCdXHw216Xrm9bQe2mBH1P5RDjVJG'
const id = (n: number) => n.toString(16).padStart(64, '0')

let t = 1_800_000_000
const stores: Store[] = []
const closers: (() => Promise<void>)[] = []
afterEach(async () => {
  for (const close of closers.splice(0)) await close()
  for (const s of stores.splice(0)) await s.close()
})

/** A bare app with the stream; the caller is whoever the `x-who` header names (signing is tested elsewhere). */
function setup(options: Partial<ApprovalStreamOptions> = {}) {
  const store = openSqliteStore(':memory:')
  stores.push(store)
  const app = new Hono()
  app.onError((e, c) => {
    const err = toServiceError(e)
    return c.json({ error: { code: err.code, message: err.message } }, err.status as 400)
  })
  const summary = async (r: ApprovalRecord) => ({
    id: r.id,
    status: r.denial ? 'denied' : Object.keys(r.approvals).length >= r.approvers.length ? 'approved' : 'pending',
    approvals: r.approvals,
    ...(r.denial ? { denial: r.denial } : {}),
  })
  mountApprovalStream(app, {
    store,
    clock: () => t,
    caller: async (c) => ({ did: c.req.header('x-who') ?? ALICE }),
    summary,
    pollMs: 60_000,
    ...options,
  })
  // The inbox's writes, as far as the stream cares: a filing, an approval and a denial.
  app.post('/v1/approvals', async (c) => {
    const n = Number(c.req.query('n'))
    if (!(n > 0)) return c.json({ error: { code: 'ERR_REQUEST_MALFORMED', message: 'n' } }, 400)
    await file(store, n, c.req.query('approvers')?.split(',') ?? [ALICE])
    return c.json({}, 201)
  })
  app.post('/v1/approvals/:id', async (c) => {
    await store.addApproval(c.req.param('id'), c.req.header('x-who') ?? ALICE, 'mna1_x', t)
    return c.json({})
  })
  app.post('/v1/approvals/:id/deny', async (c) => {
    await store.denyApprovalRequest(c.req.param('id'), { by: c.req.header('x-who') ?? ALICE, reason: 'not this one', at: t }, () => true)
    return c.json({})
  })
  return { app, store }
}

function file(store: Store, n: number, approvers = [ALICE], expiresAt = t + 600) {
  return store.putApprovalRequest(
    { id: id(n), invocation: `mni1_${n}`, approvers, requester: `did:key:requester${n}`, createdAt: t, expiresAt },
    16,
    t,
  )
}

/** Open a stream; `next()` is its next event (or throws after `ms`). */
async function open(app: Hono, who = ALICE) {
  const controller = new AbortController()
  const res = await app.request('http://localhost/v1/approvals/stream', { headers: { 'x-who': who }, signal: controller.signal })
  if (res.status !== 200) return { res, next: async () => ({ event: 'none', data: '' }) as ServerSentEvent, close: async () => {} }
  const queue: ServerSentEvent[] = []
  const parser = createSseParser((e) => queue.push(e))
  const reader = (res.body as ReadableStream<Uint8Array>).getReader()
  const decoder = new TextDecoder()
  let ended = false
  const close = async () => {
    if (!ended) await reader.cancel().catch(() => {})
    ended = true
  }
  closers.push(close)
  const next = async (ms = 3000): Promise<ServerSentEvent> => {
    const deadline = Date.now() + ms
    while (queue.length === 0) {
      if (ended) throw new Error('the stream ended')
      const left = deadline - Date.now()
      if (left <= 0) throw new Error('no event in time')
      const chunk = await Promise.race([reader.read(), new Promise<'late'>((r) => setTimeout(() => r('late'), left))])
      if (chunk === 'late') throw new Error('no event in time')
      if (chunk.done) ended = true
      else parser.push(decoder.decode(chunk.value, { stream: true }))
    }
    return queue.shift() as ServerSentEvent
  }
  return { res, next, close }
}
const json = (e: ServerSentEvent) => JSON.parse(e.data) as Record<string, unknown>

describe('GET /v1/approvals/stream', () => {
  it('starts with the snapshot, newest first; a filing wakes it at once, a refused write does not', async () => {
    const { app, store } = setup()
    await file(store, 1)
    t += 1
    await file(store, 2)
    const s = await open(app)
    expect(s.res.headers.get('content-type')).toBe('text/event-stream')
    const ready = await s.next()
    expect(ready.event).toBe('ready')
    expect(json(ready)).toMatchObject({ approver: ALICE, heartbeatSeconds: 15, renewAt: t + 300 })
    expect((json(ready)['pending'] as { id: string }[]).map((r) => r.id)).toEqual([id(2), id(1)])

    const started = Date.now()
    expect((await app.request('http://localhost/v1/approvals?n=3', { method: 'POST' })).status).toBe(201)
    const filed = await s.next()
    expect([filed.event, json(filed)['id']]).toEqual(['request', id(3)])
    // Woken by the write, not by the (one-minute) poll.
    expect(Date.now() - started).toBeLessThan(2000)

    expect((await app.request('http://localhost/v1/approvals?n=0', { method: 'POST' })).status).toBe(400)
    await expect(s.next(500)).rejects.toThrow('no event in time')
  })

  it('closed: approved by this approver, expired, gone; changed by another approver: request', async () => {
    const { app, store } = setup({ pollMs: 50 })
    await file(store, 1)
    await file(store, 2, [ALICE, BOB])
    await file(store, 3, [ALICE], t + 10)
    const s = await open(app)
    expect((await s.next()).event).toBe('ready')

    await app.request(`http://localhost/v1/approvals/${id(2)}`, { method: 'POST', headers: { 'x-who': BOB } })
    const changed = await s.next()
    expect([changed.event, json(changed)['id'], json(changed)['approvals']]).toEqual(['request', id(2), { [BOB]: 'mna1_x' }])

    await app.request(`http://localhost/v1/approvals/${id(1)}`, { method: 'POST' })
    const approved = await s.next()
    expect(approved.event).toBe('closed')
    expect(json(approved)).toMatchObject({ id: id(1), reason: 'approved', request: { id: id(1), status: 'approved' } })

    t += 11
    const expired = await s.next()
    expect(json(expired)).toMatchObject({ id: id(3), reason: 'expired' })
    t -= 11
  })

  it('closed: denied (by another approver too), at once: the denial wakes every open stream', async () => {
    const { app, store } = setup()
    await file(store, 1, [ALICE, BOB])
    const alice = await open(app)
    const bob = await open(app, BOB)
    expect([(await alice.next()).event, (await bob.next()).event]).toEqual(['ready', 'ready'])
    const started = Date.now()
    await app.request(`http://localhost/v1/approvals/${id(1)}/deny`, { method: 'POST', headers: { 'x-who': BOB } })
    for (const s of [alice, bob]) {
      const closed = await s.next()
      expect([closed.event, json(closed)]).toEqual([
        'closed',
        {
          id: id(1),
          reason: 'denied',
          request: expect.objectContaining({ status: 'denied', denial: { by: BOB, reason: 'not this one', at: t } }),
        },
      ])
    }
    // Woken by the write, not by the (one-minute) poll.
    expect(Date.now() - started).toBeLessThan(2000)
  })

  it('a heartbeat after a quiet spell; the end of its lifetime (renew) and of the service (shutdown)', async () => {
    const closing = new AbortController()
    const { app } = setup({ pollMs: 20, heartbeatSeconds: 0.2, lifetimeSeconds: 0.7, closing: closing.signal })
    const a = await open(app)
    expect((await a.next()).event).toBe('ready')
    const beat = await a.next()
    expect([beat.event, json(beat)]).toEqual(['heartbeat', { at: t }])
    let last = await a.next()
    while (last.event === 'heartbeat') last = await a.next()
    expect([last.event, json(last)]).toEqual(['end', { reason: 'renew' }])

    const b = await open(app)
    expect((await b.next()).event).toBe('ready')
    closing.abort()
    last = await b.next()
    while (last.event === 'heartbeat') last = await b.next()
    expect([last.event, json(last)]).toEqual(['end', { reason: 'shutdown' }])
  })

  it('at most maxPerApprover open streams per approver (429), freed when one closes; others are not counted', async () => {
    const { app } = setup({ maxPerApprover: 2 })
    const a = await open(app)
    const b = await open(app)
    expect([(await a.next()).event, (await b.next()).event]).toEqual(['ready', 'ready'])
    const third = await open(app)
    expect(third.res.status).toBe(429)
    expect(((await third.res.json()) as { error: { code: string } }).error.code).toBe('ERR_LIMIT_RATE')
    const bob = await open(app, BOB)
    expect((await bob.next()).event).toBe('ready')
    await a.close()
    // The cancel reaches the stream on its next turn.
    await expect
      .poll(async () => {
        const again = await open(app)
        await again.close()
        return again.res.status
      })
      .toBe(200)
  })

  it("refuses another approver's stream (403) and a key that does not parse (400)", async () => {
    const { app } = setup()
    const other = await app.request(`http://localhost/v1/approvals/stream?approver=${BOB}`, { headers: { 'x-who': ALICE } })
    expect(other.status).toBe(403)
    const bad = await app.request('http://localhost/v1/approvals/stream?approver=nope', { headers: { 'x-who': ALICE } })
    expect(bad.status).toBe(400)
  })

  it('in the real service: signed with fetch, as the page reads it; shutdown ends it at once with end/shutdown', async () => {
    const approver = generateKeyPair()
    const service = await startInProcess({ roots: [`alice=${toDidKey(generateKeyPair().publicKey)}`] })
    const url = `${service.url}/v1/approvals/stream?approver=${toDidKey(approver.publicKey)}`
    const res = await fetch(url, { headers: signRequest({ method: 'GET', url }, approver) })
    expect(res.status).toBe(200)
    const events: ServerSentEvent[] = []
    const parser = createSseParser((e) => events.push(e))
    const reader = (res.body as ReadableStream<Uint8Array>).pipeThrough(new TextDecoderStream()).getReader()
    const readAll = (async () => {
      for (;;) {
        const { value, done } = await reader.read()
        if (done) return
        parser.push(value)
      }
    })()
    await expect.poll(() => events.map((e) => e.event)).toEqual(['ready'])
    const started = Date.now()
    await service.stop()
    await readAll
    expect(Date.now() - started).toBeLessThan(3000)
    expect(events.map((e) => [e.event, e.data])).toEqual([
      ['ready', expect.stringContaining('"pending":[]')],
      ['end', '{"reason":"shutdown"}'],
    ])
  })
})
