/**
 * Notifications (spec/service-v1.md §7.3): a real receiver on loopback, the service's own
 * dispatcher, and the receiver's check (`verifyWebhook`). What the operator, a receiver and a
 * stranger who can reach the receiver rely on: every change once and in order, signed by the
 * service key over the exact bytes; retries under the same id; nothing acknowledged is lost
 * when a dispatcher stops; the endpoint's secret URL never in a log.
 */
import { createServer, type IncomingMessage, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import pino from 'pino'
import { afterEach, describe, expect, it } from 'vitest'
import { getBackend } from '../../src/crypto/ed25519.js'
import { sha256 } from '../../src/crypto/hash.js'
import { formatWebhookSignature, webhookSigningInput } from '../../src/inbox/webhook.js'
import {
  approve,
  formatApproval,
  formatInvocation,
  generateKeyPair,
  invoke,
  MandateError,
  mint,
  parsePublicKey,
  toDidKey,
  verifyWebhook,
} from '../../src/index.js'
import { utf8 } from '../../src/internal/bytes.js'
import { openSqliteStore } from '../../src/service/sqlite-store.js'
import type { Store } from '../../src/service/store.js'
import { startWebhooks } from '../../src/service/webhooks.js'
import { scratch } from '../helpers/cli.js'
import { http, startServiceIn } from '../helpers/service.js'

interface Delivery {
  readonly headers: IncomingMessage['headers']
  readonly body: Buffer
  readonly url: string
}

/** A receiver on loopback: records each delivery; answers what `answer` says (default 204). */
async function receiver(
  answer: (n: number, body: string) => { status: number; headers?: Record<string, string> } = () => ({ status: 204 }),
) {
  const deliveries: Delivery[] = []
  let n = 0
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      deliveries.push({ headers: req.headers, body: Buffer.concat(chunks), url: req.url ?? '' })
      const a = answer(n++, Buffer.concat(chunks).toString())
      res.writeHead(a.status, a.headers ?? {}).end()
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const port = (server.address() as AddressInfo).port
  cleanups.push(() => new Promise<void>((resolve) => server.close(() => resolve())))
  return { url: `http://127.0.0.1:${port}/hooks/T0SECRET-token`, deliveries }
}

const cleanups: (() => Promise<unknown>)[] = []
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c()
})

const alice = generateKeyPair()
const bob = generateKeyPair()
const assistant = generateKeyPair()
const ALICE = toDidKey(alice.publicKey)
const BOB = toDidKey(bob.publicKey)
const nowS = () => Math.floor(Date.now() / 1000)

/** Alice grants email; sending needs Alice and Bob (quorum 2). */
const grant = mint({
  principal: alice,
  to: toDidKey(assistant.publicKey),
  name: 'assistant',
  caveats: [
    { type: 'actions', patterns: ['email:*'] },
    { type: 'approval', actions: ['email:send'], approvers: [ALICE, BOB], quorum: 2 },
    { type: 'window', expires: nowS() + 3600 },
  ],
})
const send = (to: string) => invoke(grant, { key: assistant, action: 'email:send', resource: 'outbox', args: { to }, audience: 'mail' })

async function until<T>(read: () => T, ok: (v: T) => boolean, ms = 10_000): Promise<T> {
  const end = Date.now() + ms
  for (;;) {
    const v = read()
    if (ok(v)) return v
    if (Date.now() > end) throw new Error(`timed out; last: ${JSON.stringify(v)}`)
    await new Promise((r) => setTimeout(r, 20))
  }
}

describe('the service notifies each change of a request (spec §7.3)', () => {
  it('pending, approved (one per approval), denied: signed by the service key over the exact bytes, without bearer parts', async () => {
    const hook = await receiver()
    const dir = scratch()
    const lines: string[] = []
    const logger = pino({ level: 'info' }, { write: (l: string) => lines.push(l) })
    const service = await startServiceIn(dir, {
      logLevel: 'info',
      logger,
      trust: { roots: [{ name: 'alice', key: ALICE }] },
      webhooks: [hook.url],
    })
    cleanups.push(() => service.close())
    const a = send('bob@example.com')
    const b = send('eve@example.com')
    // Each step waits for its notification, so that the request each one describes is known.
    const step = async (call: Promise<{ status: number }>, status: number, deliveries: number) => {
      expect((await call).status).toBe(status)
      await until(
        () => hook.deliveries.length,
        (n) => n >= deliveries,
      )
    }
    await step(http(`${service.url}/v1/approvals`, { body: { invocation: formatInvocation(a) } }), 201, 1)
    await step(http(`${service.url}/v1/approvals`, { body: { invocation: formatInvocation(a) } }), 201, 1) // again: no event
    await step(http(`${service.url}/v1/approvals`, { body: { invocation: formatInvocation(b) } }), 201, 2)
    const approval = (key: typeof alice) => ({ approval: formatApproval(approve({ approver: key, invocation: a })) })
    await step(http(`${service.url}/v1/approvals/${a.idHex}`, { body: approval(alice), key: alice }), 200, 3)
    await step(http(`${service.url}/v1/approvals/${a.idHex}`, { body: approval(alice), key: alice }), 200, 3) // again: no event
    await step(http(`${service.url}/v1/approvals/${a.idHex}`, { body: approval(bob), key: bob }), 200, 4)
    await step(http(`${service.url}/v1/approvals/${b.idHex}/deny`, { body: { reason: 'not Eve' }, key: bob }), 200, 5)
    await new Promise((r) => setTimeout(r, 300))
    expect(hook.deliveries).toHaveLength(5)
    const events = []
    for (const d of hook.deliveries) {
      expect(d.url).toBe('/hooks/T0SECRET-token')
      expect(d.headers['content-type']).toBe('application/json')
      expect(d.headers['user-agent']).toBe('mandate-service')
      expect(d.headers['webhook-id']).toMatch(/^mnw_\d+_[0-9a-f]{16}$/)
      expect(Number(d.headers['webhook-timestamp'])).toBeGreaterThanOrEqual(nowS() - 30)
      expect(d.headers['webhook-signature']).toMatch(/^v1a,[A-Za-z0-9+/]{86}==$/)
      const headers = d.headers as Record<string, string>
      // Checked by the receiver's one call, under the did:key and the whpk_ form alike.
      const event = await verifyWebhook({ headers, body: new Uint8Array(d.body) }, { serviceKey: service.serviceKey })
      const whpk = `whpk_${Buffer.from(parseDid(service.serviceKey)).toString('base64')}`
      expect(await verifyWebhook({ headers, body: d.body.toString('utf8') }, { serviceKey: whpk })).toEqual(event)
      events.push(event)
    }
    expect(events.map((e) => [e.type, e.data.id, e.data.by, e.data.request.status, e.data.request.approvedBy])).toEqual([
      ['approval.pending', a.idHex, undefined, 'pending', []],
      ['approval.pending', b.idHex, undefined, 'pending', []],
      ['approval.approved', a.idHex, ALICE, 'pending', [ALICE]],
      ['approval.approved', a.idHex, BOB, 'approved', [ALICE, BOB]],
      ['approval.denied', b.idHex, BOB, 'denied', []],
    ])
    const first = events[0]
    expect(first?.timestamp).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/)
    expect(first?.data.request).toMatchObject({
      id: a.idHex,
      requestedBy: { key: toDidKey(assistant.publicKey), name: 'assistant' },
      onBehalfOf: ALICE,
      action: 'email:send',
      resource: 'outbox',
      args: { to: 'bob@example.com' },
      approvers: [ALICE, BOB],
    })
    expect(events[4]?.data.request['denial']).toMatchObject({ by: BOB, reason: 'not Eve' })
    // Nothing an agent could present: no invocation, no approval text, anywhere in a body.
    for (const d of hook.deliveries) {
      expect(d.body.toString()).not.toContain('mni1_')
      expect(d.body.toString()).not.toContain('mna1_')
    }
    // Ids are distinct per event.
    expect(new Set(hook.deliveries.map((d) => d.headers['webhook-id'])).size).toBe(5)
    // The start line names the key in the form Standard Webhooks libraries read; no log names the URL's path.
    const listening = lines.map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => l['msg'] === 'listening')
    expect(listening?.['webhookKey']).toBe(`whpk_${Buffer.from(parseDid(service.serviceKey)).toString('base64')}`)
    expect(lines.join('\n')).not.toContain('T0SECRET')
  })
})

const parseDid = (did: string): Uint8Array => parsePublicKey(did)

describe('delivery: retries, order, failover, give-up (the dispatcher on a store)', () => {
  const service = generateKeyPair()
  let clock = 1_800_000_000
  const openStore = (path: string) => {
    const store = openSqliteStore(path)
    cleanups.push(() => store.close())
    return store
  }
  const dispatch = (store: Store, url: string, extra: Partial<Parameters<typeof startWebhooks>[0]> = {}) => {
    const lines: string[] = []
    const d = startWebhooks({
      store,
      key: service,
      urls: [url],
      clock: () => clock,
      pollMs: 20,
      firstRetryMs: 30,
      maxRetryMs: 200,
      logger: pino({ level: 'info' }, { write: (l: string) => lines.push(l) }),
      ...extra,
    })
    cleanups.push(() => d.stop())
    return { d, lines }
  }
  const file = (store: Store, id: string) =>
    store.putApprovalRequest(
      { id, invocation: formatInvocation(send(id)), approvers: [ALICE], requester: 'did:q', createdAt: clock, expiresAt: clock + 1000 },
      99,
      clock,
    )

  it('a failing endpoint gets the same event again (same id, new timestamp), and later events wait behind it', async () => {
    const hook = await receiver((n) =>
      n < 2 ? { status: n === 0 ? 500 : 302, headers: { location: 'http://127.0.0.1:1/' } } : { status: 200 },
    )
    const store = openStore(join(scratch(), 'm.db'))
    const { lines } = dispatch(store, hook.url)
    await new Promise((r) => setTimeout(r, 100)) // the endpoint's cursor is made at the (empty) head
    const one = send('one@example.com')
    const two = send('two@example.com')
    await store.putApprovalRequest(
      {
        id: one.idHex,
        invocation: formatInvocation(one),
        approvers: [ALICE],
        requester: 'did:q',
        createdAt: clock,
        expiresAt: clock + 1000,
      },
      99,
      clock,
    )
    await store.putApprovalRequest(
      {
        id: two.idHex,
        invocation: formatInvocation(two),
        approvers: [ALICE],
        requester: 'did:q',
        createdAt: clock,
        expiresAt: clock + 1000,
      },
      99,
      clock,
    )
    await until(
      () => hook.deliveries.length,
      (n) => n >= 4,
    )
    const ids = hook.deliveries.map((d) => d.headers['webhook-id'])
    // 500, then a redirect (not followed), then delivered; then the second event.
    expect(ids[0]).toBe(ids[1])
    expect(ids[1]).toBe(ids[2])
    expect(ids[3]).not.toBe(ids[0])
    const ev = await Promise.all(
      hook.deliveries.map((d) =>
        verifyWebhook(
          { headers: d.headers as Record<string, string>, body: d.body },
          { serviceKey: toDidKey(service.publicKey), now: clock },
        ),
      ),
    )
    expect(ev.map((e) => e.data.id)).toEqual([one.idHex, one.idHex, one.idHex, two.idHex])
    const failures = lines.map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l['msg'] === 'webhook delivery failed')
    expect(failures.map((f) => f['why'])).toEqual(['answered 500', 'answered 302'])
    expect(lines.join('\n')).not.toContain('T0SECRET')
    expect(failures[0]?.['endpoint']).toMatch(/^http:\/\/127\.0\.0\.1:\d+ \([0-9a-f]{8}\)$/)
  })

  it('storage failing for a while: the round is retried, nothing is skipped, the event goes out once it answers', async () => {
    const hook = await receiver()
    const real = openStore(join(scratch(), 'm.db'))
    let failing = false
    // The same store, whose event reads fail while `failing`: as a database that stops answering.
    const store = new Proxy(real, {
      get(target, prop) {
        const value = Reflect.get(target, prop)
        if (prop !== 'inboxEvents' || typeof value !== 'function') return typeof value === 'function' ? value.bind(target) : value
        return async (...args: unknown[]) => {
          if (failing) throw new Error('disk I/O error')
          return value.apply(target, args)
        }
      },
    })
    const { lines } = dispatch(store, hook.url)
    await new Promise((r) => setTimeout(r, 100))
    failing = true
    await file(real, '2'.repeat(64))
    await until(
      () => lines.filter((l) => l.includes('webhook round failed')).length,
      (n) => n >= 2,
    )
    expect(hook.deliveries).toHaveLength(0)
    expect(JSON.parse(lines.find((l) => l.includes('webhook round failed')) as string)).toMatchObject({ error: 'disk I/O error' })
    failing = false
    await until(
      () => hook.deliveries.length,
      (n) => n >= 1,
    )
    await new Promise((r) => setTimeout(r, 150))
    expect(hook.deliveries.map((d) => (JSON.parse(d.body.toString()) as { data: { id: string } }).data.id)).toEqual(['2'.repeat(64)])
  })

  it('410 Gone stops deliveries to that endpoint; an unreachable one is retried', async () => {
    const gone = await receiver(() => ({ status: 410 }))
    const store = openStore(join(scratch(), 'm.db'))
    const { lines } = dispatch(store, gone.url)
    await new Promise((r) => setTimeout(r, 100))
    await file(store, 'a'.repeat(64))
    await file(store, 'b'.repeat(64))
    await until(() => lines.some((l) => l.includes('410 Gone')), Boolean)
    await new Promise((r) => setTimeout(r, 200))
    expect(gone.deliveries).toHaveLength(1)

    const store2 = openStore(join(scratch(), 'm2.db'))
    const down = dispatch(store2, 'http://127.0.0.1:1/hooks/T0SECRET')
    await new Promise((r) => setTimeout(r, 100))
    await file(store2, 'c'.repeat(64))
    await until(
      () => down.lines.filter((l) => l.includes('webhook delivery failed')).length,
      (n) => n >= 2,
    )
    expect(JSON.parse(down.lines.find((l) => l.includes('webhook delivery failed')) as string)).toMatchObject({ why: 'unreachable' })
    expect(down.lines.join('\n')).not.toContain('T0SECRET')
  })

  it('an event refused for 3 days is dropped, and the next one is delivered', async () => {
    // The receiver refuses every delivery of the first request's event.
    const hook = await receiver((_n, text) => ({ status: text.includes('d'.repeat(64)) ? 400 : 204 }))
    const store = openStore(join(scratch(), 'm.db'))
    const { lines } = dispatch(store, hook.url)
    await new Promise((r) => setTimeout(r, 100))
    await file(store, 'd'.repeat(64))
    await until(
      () => hook.deliveries.length,
      (n) => n >= 1,
    )
    await file(store, 'e'.repeat(64))
    await new Promise((r) => setTimeout(r, 150))
    // Later events wait behind it.
    expect(hook.deliveries.every((d) => d.body.toString().includes('d'.repeat(64)))).toBe(true)
    clock += 3 * 86_400 + 1
    await until(() => hook.deliveries.some((d) => d.body.toString().includes('e'.repeat(64))), Boolean)
    const ev = hook.deliveries.map((d) => (JSON.parse(d.body.toString()) as { data: { id: string } }).data.id[0])
    // Refused again after 3 days, it is dropped; then the next one.
    expect(ev.at(-1)).toBe('e')
    expect(new Set(ev.slice(0, -1))).toEqual(new Set(['d']))
    expect(lines.some((l) => l.includes('webhook event dropped: refused for too long'))).toBe(true)
  })

  it('a stopped dispatcher loses nothing: another (a restarted or second instance) delivers once its lease lapses', async () => {
    const path = join(scratch(), 'm.db')
    let up = false
    const hook = await receiver(() => ({ status: up ? 204 : 503 }))
    const first = openStore(path)
    const one = dispatch(first, hook.url, { leaseSeconds: 5 })
    await new Promise((r) => setTimeout(r, 100))
    await file(first, 'f'.repeat(64))
    await until(
      () => hook.deliveries.length,
      (n) => n >= 1,
    )
    await one.d.stop() // as if killed: the event stays unacknowledged
    await file(first, '1'.repeat(64)) // a change while no dispatcher runs
    const second = openStore(path)
    up = true
    const two = dispatch(second, hook.url, { leaseSeconds: 5 })
    await new Promise((r) => setTimeout(r, 200))
    // Within the first holder's lease, the second waits.
    expect(hook.deliveries).toHaveLength(1)
    clock += 6
    two.d.wake()
    await until(
      () => new Set(hook.deliveries.slice(1).map((d) => d.headers['webhook-id'])).size,
      (n) => n >= 2,
    )
    const delivered = hook.deliveries.slice(1).map((d) => (JSON.parse(d.body.toString()) as { data: { id: string } }).data.id[0])
    expect(delivered.filter((x, i) => delivered.indexOf(x) === i)).toEqual(['f', '1'])
  })
})

describe('the dispatcher checks its pace options when it starts', () => {
  it('timers in positive milliseconds, the lease in whole seconds 1 to 86,400: each named', () => {
    const store = openSqliteStore(':memory:')
    const start = (extra: Record<string, unknown>) => () =>
      startWebhooks({ store, key: generateKeyPair(), urls: ['http://127.0.0.1:9/hook'], clock: () => 0, ...extra })
    for (const name of ['pollMs', 'timeoutMs', 'firstRetryMs', 'maxRetryMs']) {
      for (const bad of [0, Number.NaN, 2 ** 31]) {
        expect(start({ [name]: bad })).toThrow(
          new RangeError(`"${name}" expected a positive number of milliseconds (at most 2147483647), got ${String(bad)}`),
        )
      }
    }
    expect(start({ key: { ...generateKeyPair(), publicKey: generateKeyPair().publicKey } })).toThrow(
      new RangeError('"key" publicKey does not match its secretKey'),
    )
    for (const bad of [0, 86_401, 1.5]) {
      expect(start({ leaseSeconds: bad })).toThrow(new RangeError(`"leaseSeconds" expected a whole number from 1 to 86400, got ${bad}`))
    }
    store.close()
  })
})

describe('verifyWebhook: what a receiver refuses', () => {
  const key = generateKeyPair()
  const serviceKey = toDidKey(key.publicKey)
  const body = utf8(
    JSON.stringify({
      type: 'approval.pending',
      timestamp: '2026-12-01T00:00:00Z',
      data: { id: 'ab'.repeat(32), request: { status: 'pending', approvedBy: [] } },
    }),
  )
  const signed = (id = 'mnw_1_abababababababab', ts = 1_800_000_000, bytes = body, signer = key) => ({
    'webhook-id': id,
    'webhook-timestamp': String(ts),
    'webhook-signature': formatWebhookSignature(getBackend().sign(signer.secretKey, webhookSigningInput(id, ts, bytes), signer.publicKey)),
  })
  const opts = { serviceKey, now: 1_800_000_000 }
  const code = async (p: Promise<unknown>) => {
    try {
      await p
      return 'accepted'
    } catch (e) {
      return e instanceof MandateError ? e.code : String(e)
    }
  }

  it('accepts the delivery as signed, among other signatures, from a Headers object too', async () => {
    expect(await code(verifyWebhook({ headers: signed(), body }, opts))).toBe('accepted')
    const h = signed()
    const withOthers = { ...h, 'webhook-signature': `v1,${Buffer.from(sha256(body)).toString('base64')} ${h['webhook-signature']}` }
    expect(await code(verifyWebhook({ headers: new Headers(withOthers), body }, opts))).toBe('accepted')
    expect(await code(verifyWebhook({ headers: signed(), body }, { ...opts, now: opts.now + 300 }))).toBe('accepted')
  })

  it('refuses with the exact code: altered body, id or time, another key, stale or early, missing or malformed', async () => {
    const other = generateKeyPair()
    const altered = utf8(new TextDecoder().decode(body).replace('pending', 'denied'))
    expect(await code(verifyWebhook({ headers: signed(), body: altered }, opts))).toBe('ERR_SIG_INVALID')
    expect(await code(verifyWebhook({ headers: { ...signed(), 'webhook-id': 'mnw_2_abababababababab' }, body }, opts))).toBe(
      'ERR_SIG_INVALID',
    )
    expect(await code(verifyWebhook({ headers: { ...signed(), 'webhook-timestamp': '1800000001' }, body }, opts))).toBe('ERR_SIG_INVALID')
    expect(await code(verifyWebhook({ headers: signed(undefined, undefined, undefined, other), body }, opts))).toBe('ERR_SIG_INVALID')
    expect(await code(verifyWebhook({ headers: { ...signed(), 'webhook-signature': 'v1a,!!!' }, body }, opts))).toBe('ERR_SIG_INVALID')
    expect(await code(verifyWebhook({ headers: signed(), body }, { ...opts, now: opts.now + 301 }))).toBe('ERR_TIME_EXPIRED')
    expect(await code(verifyWebhook({ headers: signed(), body }, { ...opts, now: opts.now - 301 }))).toBe('ERR_TIME_NOT_YET')
    const { 'webhook-id': _id, ...noId } = signed()
    expect(await code(verifyWebhook({ headers: noId, body }, opts))).toBe('ERR_REQUEST_INVALID')
    expect(await code(verifyWebhook({ headers: { ...signed(), 'webhook-id': 'a.b' }, body }, opts))).toBe('ERR_REQUEST_INVALID')
    expect(await code(verifyWebhook({ headers: { ...signed(), 'webhook-timestamp': '1.8e9' }, body }, opts))).toBe('ERR_REQUEST_INVALID')
    expect(
      await code(verifyWebhook({ headers: signed(undefined, undefined, utf8('{"type":"x"}')), body: utf8('{"type":"x"}') }, opts)),
    ).toBe('ERR_REQUEST_INVALID')
    expect(await code(verifyWebhook({ headers: signed(), body }, { ...opts, serviceKey: 'whpk_AAAA' }))).toBe('ERR_KEY_FORMAT')
  })

  it('says which header or option is wrong, and how', async () => {
    const why = async (p: Promise<unknown>) => {
      try {
        await p
        return 'accepted'
      } catch (e) {
        return `${e instanceof MandateError ? e.code : (e as Error).name}: ${(e as Error).message}`
      }
    }
    const { 'webhook-id': _id, ...noId } = signed()
    const missing = 'ERR_REQUEST_INVALID: the "webhook-id" header is missing'
    expect(await why(verifyWebhook({ headers: noId, body }, opts))).toBe(missing)
    expect(await why(verifyWebhook({ headers: { ...signed(), 'webhook-id': '' }, body }, opts))).toBe(missing)
    // Headers.get answers null for a header that is not there.
    expect(await why(verifyWebhook({ headers: new Headers(noId), body }, opts))).toBe(missing)
    expect(await why(verifyWebhook({ headers: { ...signed(), 'webhook-timestamp': null } as never, body }, opts))).toBe(
      'ERR_REQUEST_INVALID: the "webhook-timestamp" header is missing',
    )
    // node:http gives a header sent twice as a list.
    expect(await why(verifyWebhook({ headers: { ...signed(), 'webhook-id': ['a', 'b'] } as never, body }, opts))).toBe(
      'ERR_REQUEST_INVALID: the "webhook-id" header must be one text value (not a list)',
    )
    expect(await why(verifyWebhook({ headers: { ...signed(), 'webhook-timestamp': 1_800_000_000 } as never, body }, opts))).toBe(
      'ERR_REQUEST_INVALID: the "webhook-timestamp" header must be one text value (not number)',
    )
    expect(await why(verifyWebhook({ headers: { ...signed(), 'webhook-id': 'a.b' }, body }, opts))).toBe(
      'ERR_REQUEST_INVALID: "webhook-id" must be 1–128 characters of A–Z, a–z, 0–9, "_" and "-"',
    )
    expect(await why(verifyWebhook({ headers: { ...signed(), 'webhook-timestamp': '-1' }, body }, opts))).toBe(
      'ERR_REQUEST_INVALID: "webhook-timestamp" must be whole Unix seconds',
    )
    expect(await why(verifyWebhook({ headers: signed(), body }, { ...opts, now: opts.now + 301 }))).toBe(
      'ERR_TIME_EXPIRED: the delivery was signed at 1800000000, more than 300 s before now (1800000301)',
    )
    expect(await why(verifyWebhook({ headers: signed(), body }, { ...opts, now: opts.now - 61, tolerance: 60 }))).toBe(
      'ERR_TIME_NOT_YET: the delivery is dated 1800000000, more than 60 s after now (1799999939)',
    )
    expect(await why(verifyWebhook({ headers: signed(), body: utf8('{}') }, opts))).toBe(
      "ERR_SIG_INVALID: no v1a signature of the delivery verifies under the service's key",
    )
    expect(await why(verifyWebhook({ headers: signed(), body }, { ...opts, serviceKey: 'whpk_AAAA' }))).toBe(
      'ERR_KEY_FORMAT: a whpk_ key is the base64 of 32 bytes',
    )
    // The options are the receiver's own code: a NaN would make both time checks false.
    expect(await why(verifyWebhook({ headers: signed(), body }, { ...opts, now: Number.NaN }))).toBe(
      'TypeError: "now" expected Unix seconds, got NaN',
    )
    for (const tolerance of [-1, Number.NaN]) {
      expect(await why(verifyWebhook({ headers: signed(), body }, { ...opts, tolerance }))).toBe(
        `RangeError: "tolerance" expected seconds ≥ 0, got ${tolerance}`,
      )
    }
    // A tolerance of 0 takes the delivery signed this very second, and no other.
    expect(await why(verifyWebhook({ headers: signed(), body }, { ...opts, tolerance: 0 }))).toBe('accepted')
    expect(await code(verifyWebhook({ headers: signed(), body }, { ...opts, now: opts.now + 1, tolerance: 0 }))).toBe('ERR_TIME_EXPIRED')
  })

  it('skips v1a entries that are not 64 bytes of base64, and still finds the one that verifies', async () => {
    const h = signed()
    const short = Buffer.alloc(63, 7).toString('base64')
    for (const junk of ['v1a,abc', `v1a,${short}`]) {
      expect(await code(verifyWebhook({ headers: { ...h, 'webhook-signature': `${junk} ${h['webhook-signature']}` }, body }, opts))).toBe(
        'accepted',
      )
      expect(await code(verifyWebhook({ headers: { ...h, 'webhook-signature': junk }, body }, opts))).toBe('ERR_SIG_INVALID')
    }
  })

  it('reads the body as strict UTF-8: a signed body with a byte that is not UTF-8 is refused, not repaired', async () => {
    const text = new TextDecoder().decode(body)
    const bad = Uint8Array.from([...utf8(text.slice(0, -1)), ...utf8(',"note":"'), 0xff, ...utf8('"}')])
    // The same bytes read leniently would be an event (the byte turned into U+FFFD).
    expect(JSON.parse(new TextDecoder().decode(bad))).toMatchObject({ type: 'approval.pending' })
    const h = signed(undefined, undefined, bad)
    let thrown: unknown
    try {
      await verifyWebhook({ headers: h, body: bad }, opts)
    } catch (e) {
      thrown = e
    }
    expect(thrown).toBeInstanceOf(MandateError)
    expect(thrown).toMatchObject({ code: 'ERR_REQUEST_INVALID', message: 'the body is not JSON' })
    const json = (value: unknown) => utf8(JSON.stringify(value))
    const event = JSON.parse(new TextDecoder().decode(body)) as { data: object }
    for (const notEvent of [
      json({ type: 'x' }),
      json(null),
      json('approval.pending'),
      json(7),
      json([event]),
      json({ ...event, timestamp: 7 }),
      json({ ...event, data: null }),
      json({ ...event, data: 'x' }),
      json({ ...event, data: { ...event.data, id: 7 } }),
      json({ ...event, data: { ...event.data, request: null } }),
      json({ ...event, data: { ...event.data, request: 'pending' } }),
    ]) {
      await expect(verifyWebhook({ headers: signed(undefined, undefined, notEvent), body: notEvent }, opts)).rejects.toMatchObject({
        code: 'ERR_REQUEST_INVALID',
        message: 'the body is not an approval event',
      })
    }
    for (const type of ['approval.pending', 'approval.approved', 'approval.denied']) {
      const ok = json({ ...event, type })
      expect(await verifyWebhook({ headers: signed(undefined, undefined, ok), body: ok }, opts)).toMatchObject({ type })
    }
  })
})
