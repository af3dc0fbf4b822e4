/**
 * Notifications (spec/service-v1.md §7, §7.3) under attack: what a stranger, a holder, a
 * sub-agent, another principal's agent, a verifier and a compromised or malicious webhook
 * receiver can do with the new doors, and what they get. Real receivers on loopback
 * (node:http), real SQLite stores on scratch files, the real service started in this process.
 *
 * - The receiver's check (`verifyWebhook`): forged, re-serialized, re-labelled and re-dated
 *   deliveries, the 8-signature limit, huge and odd headers, odd bodies, Node-style header
 *   records.
 * - The sender (the dispatcher): slow, redirecting, endless and hanging receivers, hostile
 *   `Retry-After`, and the endpoint's secret URL in logs on every kind of failure.
 * - Agent-controlled strings in a delivery stay data; a delivery carries nothing an agent could
 *   present; the quota is read by the request's parties only and reading it spends nothing.
 * - Events: refused writes notify nothing; one event per change, also under races and across
 *   two instances on one database.
 */
import { createHmac } from 'node:crypto'
import { createServer, request as httpRequest, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import pino from 'pino'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { getBackend } from '../../src/crypto/ed25519.js'
import { sha256 } from '../../src/crypto/hash.js'
import { formatWebhookSignature, webhookSigningInput } from '../../src/inbox/webhook.js'
import {
  type Args,
  approve,
  attenuate,
  formatApproval,
  formatInvocation,
  generateKeyPair,
  invoke,
  type KeyPair,
  MandateError,
  mint,
  toDidKey,
  type UnverifiedInvocation,
  type UnverifiedMandate,
  type VerifyWebhookOptions,
  verifyWebhook,
} from '../../src/index.js'
import { toHex, utf8 } from '../../src/internal/bytes.js'
import type { RunningService } from '../../src/service/server.js'
import { openSqliteStore } from '../../src/service/sqlite-store.js'
import type { Store } from '../../src/service/store.js'
import { startWebhooks } from '../../src/service/webhooks.js'
import { scratch } from '../helpers/cli.js'
import { http, startServiceIn } from '../helpers/service.js'

// ---- shared helpers ------------------------------------------------------------------------

interface Delivery {
  readonly headers: IncomingMessage['headers']
  readonly body: Buffer
  readonly url: string
  readonly at: number
}
type Handler = (req: IncomingMessage, res: ServerResponse, n: number) => void

const cleanups: (() => Promise<unknown>)[] = []
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c()
})

/** A receiver on loopback: records each delivery (once its body is in), then lets `handler` answer (default 204). */
async function receiver(handler: Handler = (_req, res) => res.writeHead(204).end(), path = '/hooks/T0SECRET-path?token=T0SECRET-query') {
  const deliveries: Delivery[] = []
  let n = 0
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      deliveries.push({ headers: req.headers, body: Buffer.concat(chunks), url: req.url ?? '', at: Date.now() })
      handler(req, res, n++)
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const port = (server.address() as AddressInfo).port
  const close = () =>
    new Promise<void>((resolve) => {
      server.closeAllConnections()
      server.close(() => resolve())
    })
  return { url: `http://127.0.0.1:${port}${path}`, deliveries, close }
}

async function until<T>(read: () => T, ok: (v: T) => boolean, ms = 15_000): Promise<T> {
  const end = Date.now() + ms
  for (;;) {
    const v = read()
    if (ok(v)) return v
    if (Date.now() > end) throw new Error(`timed out; last: ${JSON.stringify(v)}`)
    await new Promise((r) => setTimeout(r, 20))
  }
}
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))
const nowS = () => Math.floor(Date.now() / 1000)
const did = (k: KeyPair) => toDidKey(k.publicKey)
const parsed = (d: Delivery) => JSON.parse(d.body.toString('utf8')) as Record<string, unknown> & { type: string; data: EventData }
interface EventData {
  id: string
  by?: string
  request: Record<string, unknown> & { status: string; approvedBy: string[] }
}
const logLines = (lines: string[]) => lines.map((l) => JSON.parse(l) as Record<string, unknown>)

/** The code a promise settles with: 'accepted', a MandateError's code, or the other error's text. */
async function code(p: Promise<unknown>): Promise<string> {
  try {
    await p
    return 'accepted'
  } catch (e) {
    return e instanceof MandateError ? e.code : `${(e as Error).name}: ${(e as Error).message}`
  }
}

// Principal, approvers, agents and outsiders.
const alice = generateKeyPair() // the served principal
const bob = generateKeyPair() // approver
const carol = generateKeyPair() // approver
const assistant = generateKeyPair() // Alice's agent
const sub = generateKeyPair() // the assistant's sub-agent
const stranger = generateKeyPair()
const mallory = generateKeyPair() // another principal (not served)
const malloryAgent = generateKeyPair()
const mailVerifier = generateKeyPair() // the registered verifier "mail"

/** Alice → assistant: email; sending needs Bob and Carol (quorum 2); at most 5 uses. */
const grant = mint({
  principal: alice,
  to: did(assistant),
  name: 'assistant',
  caveats: [
    { type: 'actions', patterns: ['email:*'] },
    { type: 'approval', actions: ['email:send'], approvers: [did(bob), did(carol)], quorum: 2 },
    { type: 'uses', max: 5 },
    { type: 'window', expires: nowS() + 3600 },
  ],
})
/** The assistant hands sending on to a sub-agent, under a name and purpose it chooses. */
const subGrant = (name = 'sub-agent', purpose = 'send the weekly digest') =>
  attenuate(grant, { key: assistant, to: did(sub), name, purpose, caveats: [{ type: 'actions', patterns: ['email:send'] }] })
const subMandate = subGrant()
const subSend = (to: string, extra: { intent?: string; args?: Args; mandate?: UnverifiedMandate } = {}) =>
  invoke(extra.mandate ?? subMandate, {
    key: sub,
    action: 'email:send',
    resource: 'outbox',
    args: extra.args ?? { to },
    audience: 'mail',
    ...(extra.intent === undefined ? {} : { intent: extra.intent }),
  })

// ---- the receiver's check ------------------------------------------------------------------

describe("verifyWebhook: a forger's and a confused receiver's deliveries", () => {
  const key = generateKeyPair()
  const serviceKey = did(key)
  const T = 1_800_000_000
  const opts = { serviceKey, now: T }
  const event = {
    type: 'approval.pending',
    timestamp: '2027-01-15T08:00:00Z',
    data: { id: 'ab'.repeat(32), request: { status: 'pending', approvedBy: [] } },
  }
  const body = utf8(JSON.stringify(event))
  const sign = (id: string, ts: string | number, bytes: Uint8Array, signer: KeyPair = key) =>
    getBackend().sign(signer.secretKey, webhookSigningInput(id, Number(ts), bytes), signer.publicKey)
  const ID = 'mnw_7_abababababababab'
  const signed = (bytes: Uint8Array = body, id = ID, ts: string | number = T, signer: KeyPair = key) => ({
    'webhook-id': id,
    'webhook-timestamp': String(ts),
    'webhook-signature': formatWebhookSignature(sign(id, ts, bytes, signer)),
  })
  const check = (
    headers: Parameters<typeof verifyWebhook>[0]['headers'],
    bytes: Uint8Array | string = body,
    o: VerifyWebhookOptions = opts,
  ) => code(verifyWebhook({ headers, body: bytes }, o))

  it('a signature by another key — another service, the receiver itself, a holder — is ERR_SIG_INVALID under either key form', async () => {
    const whpk = `whpk_${Buffer.from(key.publicKey).toString('base64')}`
    for (const other of [generateKeyPair(), alice, assistant]) {
      expect(await check(signed(body, ID, T, other))).toBe('ERR_SIG_INVALID')
      expect(await check(signed(body, ID, T, other), body, { ...opts, serviceKey: whpk })).toBe('ERR_SIG_INVALID')
    }
    // Both signatures side by side: the one by the pinned key is what counts.
    const mixed = `${signed(body, ID, T, alice)['webhook-signature']} ${signed()['webhook-signature']}`
    expect(await check({ ...signed(), 'webhook-signature': mixed })).toBe('accepted')
  })

  it('a body re-serialized (white space, key order, escapes) no longer verifies: the exact bytes are signed', async () => {
    const headers = signed()
    const variants = [
      JSON.stringify(event, null, 2),
      `${JSON.stringify(event)}\n`,
      ` ${JSON.stringify(event)}`,
      JSON.stringify({ data: event.data, timestamp: event.timestamp, type: event.type }),
      JSON.stringify(event).replace('"type"', '"\\u0074ype"'),
      // The same text with a byte order mark added in transit.
      `\ufeff${JSON.stringify(event)}`,
    ]
    for (const v of variants) {
      expect(JSON.parse(v.replace(/^\ufeff/, ''))).toEqual(event) // the same event to a JSON reader
      expect(await check(headers, utf8(v))).toBe('ERR_SIG_INVALID')
      expect(await check(headers, v)).toBe('ERR_SIG_INVALID') // as a string too
    }
    expect(await check(headers, JSON.stringify(event))).toBe('accepted')
  })

  it('a v1 (HMAC) signature, even keyed with the public service key, or a v1a one under another label, is ERR_SIG_INVALID', async () => {
    const input = webhookSigningInput(ID, T, body)
    const hmac = (secret: Uint8Array) => `v1,${createHmac('sha256', secret).update(input).digest('base64')}`
    const good = signed()['webhook-signature'].slice(4)
    for (const signature of [
      hmac(key.publicKey), // the classic confusion: the "secret" everybody knows
      hmac(utf8('whsec_anything')),
      `v1,${good}`, // the right bytes under the symmetric label
      `V1A,${good}`,
      `v1a ${good}`,
      `v1b,${good}`,
      `v2a,${good}`,
      good,
    ]) {
      expect([signature.slice(0, 4), await check({ ...signed(), 'webhook-signature': signature })]).toEqual([
        signature.slice(0, 4),
        'ERR_SIG_INVALID',
      ])
    }
  })

  it('the right signature replayed under another id or time, or with id and time swapped around the dots, is ERR_SIG_INVALID', async () => {
    const s = signed()['webhook-signature']
    expect(await check({ 'webhook-id': 'mnw_8_abababababababab', 'webhook-timestamp': String(T), 'webhook-signature': s })).toBe(
      'ERR_SIG_INVALID',
    )
    expect(await check({ 'webhook-id': ID, 'webhook-timestamp': String(T + 1), 'webhook-signature': s })).toBe('ERR_SIG_INVALID')
    // Signed as id "mnw_1", time T, body B: the signing input "mnw_1.T.B" cannot be re-split
    // into another valid (id, time, body): an id holds no ".", a time is digits only.
    const sig = formatWebhookSignature(sign('mnw_1', T, body))
    const digits = String(T)
    expect(
      await check(
        { 'webhook-id': 'mnw_1', 'webhook-timestamp': digits.slice(0, 5), 'webhook-signature': sig },
        utf8(`${digits.slice(5)}.`),
      ),
    ).toBe('ERR_TIME_EXPIRED')
    expect(await check({ 'webhook-id': `mnw_1.${digits}`, 'webhook-timestamp': digits, 'webhook-signature': sig })).toBe(
      'ERR_REQUEST_INVALID',
    )
    // A malleated Ed25519 signature (S + L) of the genuine delivery is refused too.
    const L = 2n ** 252n + 27742317777372353535851937790883648493n
    const raw = sign(ID, T, body)
    let s2 = 0n
    for (let i = 31; i >= 0; i--) s2 = (s2 << 8n) + BigInt(raw[32 + i] as number)
    s2 += L
    const malleated = new Uint8Array(raw)
    for (let i = 0; i < 32; i++) {
      malleated[32 + i] = Number(s2 & 0xffn)
      s2 >>= 8n
    }
    expect(await check({ ...signed(), 'webhook-signature': formatWebhookSignature(malleated) })).toBe('ERR_SIG_INVALID')
  })

  it('at most 8 v1a signatures are tried: the valid one 9th is ERR_SIG_INVALID, 8th is accepted; v1 entries do not count', async () => {
    const good = signed()['webhook-signature']
    const junk = (n: number, seed: string) =>
      Array.from({ length: n }, (_, i) => formatWebhookSignature(sign(ID, T, utf8(`${seed}${i}`), generateKeyPair())))
    const junk8 = junk(8, 'x')
    expect(await check({ ...signed(), 'webhook-signature': [...junk8, good].join(' ') })).toBe('ERR_SIG_INVALID')
    expect(await check({ ...signed(), 'webhook-signature': [...junk8.slice(1), good].join(' ') })).toBe('accepted')
    // Symmetric ones, and anything that is not v1a, are not tried and do not use up the 8.
    const v1s = Array.from({ length: 50 }, (_, i) => `v1,${Buffer.from(utf8(`h${i}`)).toString('base64')}`)
    expect(await check({ ...signed(), 'webhook-signature': [...v1s, ...junk8.slice(1), good].join(' ') })).toBe('accepted')
    // Empty entries (several spaces) are not signatures either.
    expect(await check({ ...signed(), 'webhook-signature': `   ${junk8.slice(1).join('  ')}   ${good}  ` })).toBe('accepted')
  })

  it('huge header values are refused quickly, with the typed code', async () => {
    const good = signed()['webhook-signature']
    const started = performance.now()
    // 1 MB of candidate signatures before the good one: only the first 8 are tried.
    const flood = `${'v1a,AAAA '.repeat(120_000)}${good}`
    expect(await check({ ...signed(), 'webhook-signature': flood })).toBe('ERR_SIG_INVALID')
    // One giant base64 "signature", 4 MB: decoded, not 64 bytes, refused.
    expect(await check({ ...signed(), 'webhook-signature': `v1a,${'A'.repeat(4_000_000)}` })).toBe('ERR_SIG_INVALID')
    // 1 MB of v1 entries then the good one: accepted (only v1a entries are tried).
    expect(await check({ ...signed(), 'webhook-signature': `${'v1,AAAA '.repeat(120_000)}${good}` })).toBe('accepted')
    expect(await check({ ...signed(), 'webhook-id': 'a'.repeat(129) })).toBe('ERR_REQUEST_INVALID')
    expect(await check({ ...signed(), 'webhook-id': 'a'.repeat(1_000_000) })).toBe('ERR_REQUEST_INVALID')
    expect(await check({ ...signed(), 'webhook-timestamp': '1'.repeat(1_000_000) })).toBe('ERR_REQUEST_INVALID')
    expect(performance.now() - started).toBeLessThan(5000)
    // The longest id allowed is still checked against the signature.
    const id128 = 'a'.repeat(128)
    expect(await check(signed(body, id128))).toBe('accepted')
  })

  it('a body that is not the UTF-8 JSON of an event, even signed by the service key, is ERR_REQUEST_INVALID', async () => {
    const bodies: [string, Uint8Array][] = [
      ['latin-1', Uint8Array.from([...utf8('{"type":"approval.pending","x":"'), 0xe9, ...utf8('"}')])],
      ['an encoded lone surrogate', Uint8Array.from([...utf8('{"type":"'), 0xed, 0xa0, 0x80, ...utf8('"}')])],
      ['an overlong "/"', Uint8Array.from([...utf8('{"type":"'), 0xc0, 0xaf, ...utf8('"}')])],
      ['UTF-16', Uint8Array.from(Buffer.from(JSON.stringify(event), 'utf16le'))],
      ['an array', utf8(JSON.stringify([event]))],
      ['null', utf8('null')],
      ['a string', utf8(JSON.stringify(JSON.stringify(event)))],
      ['a number', utf8('1')],
      ['empty', new Uint8Array(0)],
      ['an unknown type', utf8(JSON.stringify({ ...event, type: 'approval.expired' }))],
      ['a type in capitals', utf8(JSON.stringify({ ...event, type: 'Approval.pending' }))],
      ['a type with padding', utf8(JSON.stringify({ ...event, type: 'approval.pending ' }))],
      ['a type as an array', utf8(JSON.stringify({ ...event, type: ['approval.pending'] }))],
      ['no timestamp', utf8(JSON.stringify({ type: event.type, data: event.data }))],
      ['no data', utf8(JSON.stringify({ type: event.type, timestamp: event.timestamp }))],
      ['data null', utf8(JSON.stringify({ ...event, data: null }))],
      ['a numeric id', utf8(JSON.stringify({ ...event, data: { ...event.data, id: 1 } }))],
      ['request null', utf8(JSON.stringify({ ...event, data: { id: event.data.id, request: null } }))],
      ['request a string', utf8(JSON.stringify({ ...event, data: { id: event.data.id, request: 'pending' } }))],
      ['trailing garbage', utf8(`${JSON.stringify(event)}x`)],
    ]
    for (const [what, bytes] of bodies) {
      expect([what, await check(signed(bytes), bytes)]).toEqual([what, 'ERR_REQUEST_INVALID'])
    }
    // A byte order mark that the service signed is part of the exact bytes: the event reads.
    const bom = Uint8Array.from([0xef, 0xbb, 0xbf, ...body])
    expect(await verifyWebhook({ headers: signed(bom), body: bom }, opts)).toEqual(event)
    // Unsigned, the shape is never looked at: the signature comes first.
    expect(await check(signed(body), utf8('[]'))).toBe('ERR_SIG_INVALID')
  })

  it('timestamps: only plain digits; leading zeros name the same second; out of tolerance refused before the signature', async () => {
    for (const ts of ['+1800000000', '-1800000000', ' 1800000000', '1800000000 ', '1800000000.0', '1.8e9', '0x6B49D200', '', '１８００']) {
      expect([ts, await check({ ...signed(), 'webhook-timestamp': ts })]).toEqual([ts, 'ERR_REQUEST_INVALID'])
    }
    // 13 digits, even with leading zeros: malformed.
    expect(await check({ ...signed(), 'webhook-timestamp': `000${T}` })).toBe('ERR_REQUEST_INVALID')
    // Leading zeros within 12 digits are the same number: the signature binds the second it
    // names (as Standard Webhooks' own libraries read it), so neither the time nor the body moves.
    expect(await check({ ...signed(), 'webhook-timestamp': `0${T}` })).toBe('accepted')
    expect(await check({ ...signed(), 'webhook-timestamp': `00${T + 1}` })).toBe('ERR_SIG_INVALID')
    // Far away either way: refused on time, whatever the signature.
    expect(await check({ ...signed(), 'webhook-timestamp': '999999999999' })).toBe('ERR_TIME_NOT_YET')
    expect(await check({ ...signed(), 'webhook-timestamp': '0' })).toBe('ERR_TIME_EXPIRED')
    expect(await check(signed(body, ID, T - 301))).toBe('ERR_TIME_EXPIRED')
    expect(await check(signed(body, ID, T + 301))).toBe('ERR_TIME_NOT_YET')
    expect(await check(signed(body, ID, T - 300))).toBe('accepted')
    expect(await check(signed(body, ID, T + 300))).toBe('accepted')
  })

  // A NaN tolerance or clock (e.g. `Number(process.env.TOLERANCE)` unset) would make both time
  // comparisons false and open the replay window: refused as a bad option instead (a bug found here).
  it('a receiver whose tolerance or clock is NaN does not accept a delivery signed years ago', async () => {
    const old = signed(body, ID, T - 10 * 365 * 86_400)
    expect(await check(old, body, { ...opts, tolerance: Number.NaN })).not.toBe('accepted')
    expect(await check(old, body, { ...opts, now: Number.NaN })).not.toBe('accepted')
  })

  it('Node-style header records: array values, missing or odd names are ERR_REQUEST_INVALID, never a TypeError', async () => {
    const h = signed()
    const records: [string, Record<string, unknown>][] = [
      ['two ids', { ...h, 'webhook-id': ['a', 'b'] }],
      ['one id in an array', { ...h, 'webhook-id': [h['webhook-id']] }],
      ['two timestamps', { ...h, 'webhook-timestamp': [String(T), String(T + 1)] }],
      ['signatures as an array', { ...h, 'webhook-signature': [h['webhook-signature']] }],
      ['an empty array', { ...h, 'webhook-signature': [] }],
      ['a number', { ...h, 'webhook-timestamp': T }],
      ['null', { ...h, 'webhook-id': null }],
      ['an object', { ...h, 'webhook-signature': { toString: () => h['webhook-signature'] } }],
      ['empty strings', { ...h, 'webhook-id': '' }],
      [
        'capitalized names (not as Node gives them)',
        { 'Webhook-Id': h['webhook-id'], 'Webhook-Timestamp': String(T), 'Webhook-Signature': h['webhook-signature'] },
      ],
      ['nothing', {}],
    ]
    for (const [what, headers] of records) {
      expect([what, await check(headers as Record<string, string>)]).toEqual([what, 'ERR_REQUEST_INVALID'])
    }
    // Node's `headersDistinct` gives every header as an array: refused the same, typed.
    const distinct = Object.fromEntries(Object.entries(h).map(([k, v]) => [k, [v]]))
    expect(await check(distinct)).toBe('ERR_REQUEST_INVALID')
    // A Fetch Headers object is read case-insensitively.
    expect(await check(new Headers(Object.entries(h).map(([k, v]) => [k.toUpperCase(), v])))).toBe('accepted')
  })

  it('a whpk_ service key of the wrong size is ERR_KEY_FORMAT; a weak (small-order) pinned key verifies nothing', async () => {
    expect(await check(signed(), body, { ...opts, serviceKey: `whpk_${Buffer.alloc(33, 1).toString('base64')}` })).toBe('ERR_KEY_FORMAT')
    expect(await check(signed(), body, { ...opts, serviceKey: 'whpk_!!!!' })).toBe('ERR_KEY_FORMAT')
    expect(await check(signed(), body, { ...opts, serviceKey: 'not a key' })).toBe('ERR_KEY_FORMAT')
    // The identity point and a signature (R = identity, S = 0) that a lax verifier accepts for any message.
    const weak = new Uint8Array(32)
    weak[0] = 1
    const forged = new Uint8Array(64)
    forged[0] = 1
    const headers = { ...signed(), 'webhook-signature': formatWebhookSignature(forged) }
    expect(await check(headers, body, { ...opts, serviceKey: `whpk_${Buffer.from(weak).toString('base64')}` })).toBe('ERR_KEY_WEAK')
    expect(await check(headers, body, { ...opts, serviceKey: toDidKey(weak) })).toBe('ERR_KEY_WEAK')
  })

  /** Deliver `headers` (a header given as an array goes out as several lines) to a node:http server that runs verifyWebhook. */
  async function overTheWire(headers: Record<string, string | string[]>): Promise<{ merged: string; distinct: string; combined: string }> {
    let result: { merged: string; distinct: string; combined: string } | undefined
    const server = createServer((req, res) => {
      const chunks: Buffer[] = []
      req.on('data', (c: Buffer) => chunks.push(c))
      req.on('end', async () => {
        const bytes = new Uint8Array(Buffer.concat(chunks))
        result = {
          merged: await check(req.headers as Record<string, string>, bytes),
          distinct: await check(req.headersDistinct as Record<string, string[]>, bytes),
          combined: String(req.headers['webhook-signature']),
        }
        res.writeHead(204).end()
      })
    })
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    cleanups.push(() => new Promise<void>((resolve) => server.close(() => resolve())))
    const { port } = server.address() as AddressInfo
    await new Promise<void>((resolve, reject) => {
      const req = httpRequest({ host: '127.0.0.1', port, method: 'POST', path: '/' }, (res) => {
        res.resume()
        res.on('end', resolve)
      })
      req.on('error', reject)
      for (const [k, v] of Object.entries(headers)) req.setHeader(k, v)
      req.end(Buffer.from(body))
    })
    return result as { merged: string; distinct: string; combined: string }
  }

  it('over the wire: a genuine delivery checks from req.headers; headersDistinct (arrays) is ERR_REQUEST_INVALID', async () => {
    expect(await overTheWire(signed())).toEqual({
      merged: 'accepted',
      distinct: 'ERR_REQUEST_INVALID',
      combined: signed()['webhook-signature'],
    })
    // Two webhook-id lines: Node joins them with ", " — no valid id.
    const twoIds = await overTheWire({ ...signed(), 'webhook-id': [ID, ID] })
    expect([twoIds.merged, twoIds.distinct]).toEqual(['ERR_REQUEST_INVALID', 'ERR_REQUEST_INVALID'])
  })

  // Two `webhook-signature` lines reach a Node or Fetch receiver joined by ", " (RFC 9110 §5.3):
  // the genuine signature counts whichever line it is on (a bug found here: it counted only last).
  it('duplicate webhook-signature lines: the outcome does not depend on their order', async () => {
    const other = formatWebhookSignature(sign(ID, T, body, generateKeyPair()))
    const good = signed()['webhook-signature']
    const last = await overTheWire({ ...signed(), 'webhook-signature': [other, good] })
    const first = await overTheWire({ ...signed(), 'webhook-signature': [good, other] })
    expect(last.combined).toBe(`${other}, ${good}`)
    expect(last.merged).toBe('accepted')
    expect(first.merged).toBe(last.merged)
    // The same through a Fetch Headers object, which joins duplicates the same way.
    const h = new Headers(signed())
    h.set('webhook-signature', good)
    h.append('webhook-signature', other)
    expect(await check(h)).toBe('accepted')
  })
})

// ---- the sender ----------------------------------------------------------------------------

describe('the dispatcher against slow, redirecting, endless, hanging and hostile receivers', () => {
  const serviceKey = generateKeyPair()
  const T = 1_800_000_000
  const openStore = () => {
    const store = openSqliteStore(join(scratch(), 'm.db'))
    cleanups.push(() => store.close())
    return store
  }
  const dispatch = (store: Store, urls: string[], extra: Partial<Parameters<typeof startWebhooks>[0]> = {}) => {
    const lines: string[] = []
    const d = startWebhooks({
      store,
      key: serviceKey,
      urls,
      clock: () => T,
      pollMs: 20,
      firstRetryMs: 30,
      maxRetryMs: 200,
      logger: pino({ level: 'info' }, { write: (l: string) => lines.push(l) }),
      ...extra,
    })
    cleanups.push(() => d.stop())
    return { d, lines }
  }
  /** File a request for a real invocation: its `approval.pending` event follows. */
  const file = async (store: Store, to: string) => {
    const inv = subSend(to)
    await store.putApprovalRequest(
      { id: inv.idHex, invocation: formatInvocation(inv), approvers: [did(bob)], requester: did(sub), createdAt: T, expiresAt: T + 1000 },
      99,
      T,
    )
    return inv.idHex
  }
  const idOf = (d: Delivery) => parsed(d).data.id
  const failures = (lines: string[]) => logLines(lines).filter((l) => l['msg'] === 'webhook delivery failed')

  it('a 200 that comes after the deadline is a failure: the event is sent again under its id, and only then is the next one sent', async () => {
    const hook = await receiver((_req, res, n) => {
      if (n === 0) setTimeout(() => res.writeHead(200).end(), 1500)
      else res.writeHead(204).end()
    })
    cleanups.push(hook.close)
    const store = openStore()
    const { d, lines } = dispatch(store, [hook.url], { timeoutMs: 300 })
    await d.ready
    const one = await file(store, 'one@example.com')
    const two = await file(store, 'two@example.com')
    await until(
      () => hook.deliveries.length,
      (n) => n >= 3,
    )
    await sleep(200)
    expect(hook.deliveries.map(idOf)).toEqual([one, one, two])
    const ids = hook.deliveries.map((x) => x.headers['webhook-id'])
    expect(ids[0]).toBe(ids[1])
    expect(ids[2]).not.toBe(ids[0])
    expect(failures(lines).map((f) => f['why'])).toEqual(['no answer within 300 ms'])
  })

  it('redirects (301, 302, 303, 307, 308) are failures and never followed: the target receives nothing', async () => {
    const target = await receiver()
    cleanups.push(target.close)
    const codes = [301, 302, 303, 307, 308]
    const hook = await receiver((_req, res, n) => {
      const status = codes[n]
      if (status === undefined) res.writeHead(204).end()
      else res.writeHead(status, { location: target.url }).end()
    })
    cleanups.push(hook.close)
    const store = openStore()
    const { d, lines } = dispatch(store, [hook.url])
    await d.ready
    const id = await file(store, 'redirect@example.com')
    await until(
      () => hook.deliveries.length,
      (n) => n >= 6,
    )
    await sleep(200)
    expect(hook.deliveries.map(idOf)).toEqual(Array(6).fill(id))
    expect(new Set(hook.deliveries.map((x) => x.headers['webhook-id'])).size).toBe(1)
    expect(target.deliveries).toEqual([])
    expect(failures(lines).map((f) => f['why'])).toEqual(codes.map((c) => `answered ${c}`))
    expect(lines.join('\n')).not.toContain('T0SECRET')
  })

  it('an endless answer body does not hold the dispatcher: it is cancelled; a 2xx counts, a 5xx is retried', async () => {
    const closed: number[] = []
    const hook = await receiver((_req, res, n) => {
      if (n >= 2) return void res.writeHead(204).end()
      res.writeHead(n === 0 ? 500 : 200, { 'content-type': 'text/plain' })
      const timer = setInterval(() => res.write('x'.repeat(4096)), 2)
      res.on('close', () => {
        clearInterval(timer)
        closed.push(n)
      })
    })
    cleanups.push(hook.close)
    const store = openStore()
    const started = Date.now()
    const { d, lines } = dispatch(store, [hook.url], { timeoutMs: 10_000 })
    await d.ready
    const one = await file(store, 'endless@example.com')
    const two = await file(store, 'after@example.com')
    await until(
      () => hook.deliveries.length,
      (n) => n >= 3,
    )
    // Well within the 10 s deadline: the dispatcher hung up on each endless body at once.
    expect(Date.now() - started).toBeLessThan(5000)
    await until(
      () => closed.length,
      (n) => n >= 2,
    )
    await sleep(100)
    expect(hook.deliveries.map(idOf)).toEqual([one, one, two])
    expect(failures(lines).map((f) => f['why'])).toEqual(['answered 500'])
  })

  it('a receiver that never answers cannot hold a stop; the event stays unacknowledged and is delivered by the next holder', async () => {
    let answering = false
    const held: ServerResponse[] = []
    const hook = await receiver((_req, res) => {
      if (answering) res.writeHead(204).end()
      else held.push(res)
    })
    cleanups.push(hook.close)
    const store = openStore()
    let clock = T
    const first = dispatch(store, [hook.url], { timeoutMs: 15_000, clock: () => clock })
    await first.d.ready
    const id = await file(store, 'hang@example.com')
    await until(
      () => held.length,
      (n) => n >= 1,
    )
    const stopping = Date.now()
    await first.d.stop()
    expect(Date.now() - stopping).toBeLessThan(2000)
    // Restarted (another holder) once the first one's lease has lapsed: the same event again.
    answering = true
    clock += 61
    const second = dispatch(store, [hook.url], { clock: () => clock })
    await second.d.ready
    await until(
      () => hook.deliveries.length,
      (n) => n >= 2,
    )
    expect(hook.deliveries.map(idOf)).toEqual([id, id])
    expect(hook.deliveries[1]?.headers['webhook-id']).toBe(hook.deliveries[0]?.headers['webhook-id'])
  })

  it('a hostile Retry-After (an HTTP date, huge, Infinity, 1e400, negative, junk) never stalls deliveries past maxRetryMs', async () => {
    const afters = ['Wed, 21 Oct 2099 07:28:00 GMT', '99999999999999', 'Infinity', '1e400', '-5', '86400', '0x7fffffff', 'soon']
    const hook = await receiver((_req, res, n) => {
      const after = afters[n]
      if (after === undefined) res.writeHead(204).end()
      else res.writeHead(n % 2 ? 429 : 503, { 'retry-after': after }).end()
    })
    cleanups.push(hook.close)
    const store = openStore()
    const { d, lines } = dispatch(store, [hook.url], { maxRetryMs: 200 })
    await d.ready
    await file(store, 'retry@example.com')
    await until(
      () => hook.deliveries.length,
      (n) => n >= afters.length + 1,
    )
    const waits = failures(lines).map((f) => f['retryInMs'] as number)
    expect(waits).toHaveLength(afters.length)
    for (const w of waits) expect(w).toBeLessThanOrEqual(200)
    const gaps = hook.deliveries.slice(1).map((x, i) => x.at - (hook.deliveries[i] as Delivery).at)
    for (const g of gaps) expect(g).toBeLessThan(2000)
  })

  it("the endpoint's secret (path and query) is in no log line, whatever the failure: refused, DNS, timeout, 500, redirect", async () => {
    const hanging = await receiver(() => {}) // never answers
    cleanups.push(hanging.close)
    // A malicious receiver puts the URL it was called at in its answer and its redirect.
    const echo = await receiver((req, res) => res.writeHead(500, { 'x-echo': req.url ?? '' }).end(`you called ${req.url}`))
    cleanups.push(echo.close)
    const redirect = await receiver((req, res) => res.writeHead(307, { location: `http://127.0.0.1:1${req.url}` }).end())
    cleanups.push(redirect.close)
    const urls = [
      'http://127.0.0.1:1/hooks/T0SECRET-path?token=T0SECRET-query', // refused
      'http://nonexistent.invalid/hooks/T0SECRET-path?token=T0SECRET-query', // no such host
      hanging.url,
      echo.url,
      redirect.url,
    ]
    const store = openStore()
    const { d, lines } = dispatch(store, urls, { timeoutMs: 300 })
    await d.ready
    await file(store, 'secret@example.com')
    const shown = (u: string) => `${new URL(u).origin} (${toHex(sha256Of(new URL(u).href)).slice(0, 8)})`
    const whys = await until(
      () => {
        const by = new Map<string, string>()
        for (const f of failures(lines)) if (!by.has(f['endpoint'] as string)) by.set(f['endpoint'] as string, f['why'] as string)
        return by
      },
      (by) => urls.every((u) => by.has(shown(u))),
    )
    expect(whys.get(shown(urls[0] as string))).toBe('unreachable')
    expect(['unreachable', 'no answer within 300 ms']).toContain(whys.get(shown(urls[1] as string)))
    expect(whys.get(shown(hanging.url))).toBe('no answer within 300 ms')
    expect(whys.get(shown(echo.url))).toBe('answered 500')
    expect(whys.get(shown(redirect.url))).toBe('answered 307')
    await d.stop()
    expect(lines.length).toBeGreaterThan(0)
    expect(lines.join('\n')).not.toContain('T0SECRET')
    expect(lines.join('\n')).not.toContain('/hooks/')
  })

  // One endpoint named twice (`--webhook` repeated, or two spellings of one URL) is one endpoint:
  // one loop, one cursor, each event once and in order (a bug found here: two loops raced).
  it('one endpoint named twice (two spellings of one URL): each event is delivered once, in order', async () => {
    // A receiver that takes 50 ms to answer, as real ones do: the two loops' deliveries overlap.
    const hook = await receiver((_req, res) => void setTimeout(() => res.writeHead(204).end(), 50))
    cleanups.push(hook.close)
    const store = openStore()
    let started: ReturnType<typeof dispatch>
    try {
      started = dispatch(store, [hook.url, hook.url.replace('http://', 'HTTP://')])
    } catch (e) {
      // Refusing the repetition at start is as good.
      expect((e as Error).message).toMatch(/twice|duplicate|same|repeat/i)
      return
    }
    await started.d.ready
    const ids: string[] = []
    for (let i = 0; i < 5; i++) ids.push(await file(store, `twice${i}@example.com`))
    await until(
      () => new Set(hook.deliveries.map(idOf)).size,
      (n) => n >= 5,
    )
    await sleep(300)
    expect(hook.deliveries.map(idOf)).toEqual(ids)
  })

  it('a bad endpoint URL is refused at start without its secret in the message; more than 8 endpoints are refused', () => {
    const store = {} as Store
    const start = (urls: string[]) => {
      try {
        startWebhooks({ store, key: serviceKey, urls, clock: () => T })
        return 'started'
      } catch (e) {
        return (e as Error).message
      }
    }
    const refusals: [string, string][] = [
      ['ftp://example.com/T0SECRET', 'a webhook URL must be http:// or https://, not ftp:'],
      ['javascript:alert("T0SECRET")', 'a webhook URL must be http:// or https://, not javascript:'],
      ['file:///etc/T0SECRET', 'a webhook URL must be http:// or https://, not file:'],
      ['http://user:T0SECRET@example.com/', 'a webhook URL carries no user name or password (put a token in its path or query)'],
      ['http://T0SECRET@example.com/', 'a webhook URL carries no user name or password (put a token in its path or query)'],
      ['https://example.com/hook#T0SECRET', 'a webhook URL has no fragment (#…)'],
      ['/relative/T0SECRET', 'a webhook URL must be an absolute http:// or https:// URL'],
      ['http://exa mple.com/T0SECRET', 'a webhook URL must be an absolute http:// or https:// URL'],
    ]
    for (const [url, message] of refusals) expect([url, start([url])]).toEqual([url, message])
    expect(start(Array.from({ length: 9 }, (_, i) => `https://example.com/${i}`))).toBe('at most 8 webhook endpoints')
  })
})

/** SHA-256 of a string's UTF-8 (as endpoint names are made). */
const sha256Of = (text: string) => sha256(utf8(text))

// ---- the service end to end ----------------------------------------------------------------

describe('the service: agent-controlled strings, who learns what, which writes notify', () => {
  let service: RunningService
  let hook: Awaited<ReturnType<typeof receiver>>
  const lines: string[] = []
  const url = (path: string) => `${service.url}${path}`

  beforeAll(async () => {
    hook = await receiver()
    const dir = scratch()
    service = await startServiceIn(dir, {
      logLevel: 'info',
      logger: pino({ level: 'info' }, { write: (l: string) => lines.push(l) }),
      trust: { roots: [{ name: 'alice', key: did(alice) }], verifiers: [{ name: 'mail', key: did(mailVerifier) }] },
      webhooks: [hook.url],
    })
  })
  afterAll(async () => {
    await service?.close()
    await hook?.close()
    // No log line of the whole run names the endpoint's path or query.
    expect(lines.join('\n')).not.toContain('T0SECRET')
  })

  const fileIt = (inv: UnverifiedInvocation) => http(url('/v1/approvals'), { body: { invocation: formatInvocation(inv) } })
  const approveIt = (inv: UnverifiedInvocation, approver: KeyPair, signer: KeyPair = approver) =>
    http(url(`/v1/approvals/${inv.idHex}`), { body: { approval: formatApproval(approve({ approver, invocation: inv })) }, key: signer })
  const denyIt = (inv: UnverifiedInvocation, by: KeyPair, reason = 'no') =>
    http(url(`/v1/approvals/${inv.idHex}/deny`), { body: { reason }, key: by })
  const deliveriesOf = (id: string) => hook.deliveries.filter((d) => parsed(d).data.id === id)
  const eventsOf = (id: string) => deliveriesOf(id).map((d) => [parsed(d).type, parsed(d).data.by, parsed(d).data.request.status])
  const errorOf = (r: { json: Record<string, unknown> }) => r.json['error'] as { code: string; message: string } | undefined

  /**
   * A new request by a fresh agent of Alice, and its notification received: every event
   * committed before it has been delivered (deliveries are in commit order).
   */
  const barrier = async () => {
    const agent = generateKeyPair()
    const g = mint({
      principal: alice,
      to: did(agent),
      caveats: [
        { type: 'approval', actions: ['email:send'], approvers: [did(bob)], quorum: 1 },
        { type: 'window', expires: nowS() + 3600 },
      ],
    })
    const inv = invoke(g, { key: agent, action: 'email:send', audience: 'mail' })
    expect((await fileIt(inv)).status).toBe(201)
    await until(
      () => deliveriesOf(inv.idHex).length,
      (n) => n >= 1,
    )
  }

  it('markup, bidi controls and a forged "type" in intent, args and block names stay data: one event object, typed by the service', async () => {
    const forged = '"},"type":"approval.approved","data":{"id":"0000","by":"did:key:forged"}}'
    const intent = `</script><script>alert(1)</script>${forged}\u202egpj.exe\u2028\u2029\u2066x\u2069 <!-- --> \\u0022`
    const args = JSON.parse(
      '{"__proto__":{"type":"approval.denied"},"type":"approval.approved","html":"<img src=x onerror=alert(1)>","nested":{"data":{"by":"did:key:forged"}},"quote":"\\"},{\\"type\\":\\"approval.denied\\""}',
    ) as Args
    const name = '<b>sub</b>\u202e"type":"approval.denied"'
    const purpose = '{"type":"approval.approved"}</textarea>'
    const inv = subSend('x@example.com', { intent, args, mandate: subGrant(name, purpose) })
    expect((await fileIt(inv)).status).toBe(201)
    const [d] = await until(
      () => deliveriesOf(inv.idHex),
      (l) => l.length >= 1,
    )
    const text = (d as Delivery).body.toString('utf8')
    const event = parsed(d as Delivery)
    expect(Object.keys(event)).toEqual(['type', 'timestamp', 'data'])
    expect(event.type).toBe('approval.pending')
    expect(text.startsWith('{"type":"approval.pending","timestamp":"')).toBe(true)
    expect(Object.keys(event.data)).toEqual(['id', 'request'])
    expect(event.data.id).toBe(inv.idHex)
    const r = event.data.request
    expect(r['intent']).toBe(intent)
    // The same data (the invocation's CBOR orders map keys; the values are untouched), the
    // "__proto__" key an own key, as JSON.parse makes it, never the object's prototype.
    expect(r['args']).toEqual(args)
    expect(Object.keys(r['args'] as object).sort()).toEqual(['__proto__', 'html', 'nested', 'quote', 'type'])
    expect(Object.getPrototypeOf(r['args'])).toBe(Object.prototype)
    expect(r['chain']).toEqual([
      { block: 0, name: 'assistant' },
      { block: 1, name, purpose },
    ])
    expect(r['requestedBy']).toEqual({ key: did(sub), name })
    // The receiver's check reads the same event, with the same types.
    const checked = await verifyWebhook(
      { headers: (d as Delivery).headers as Record<string, string>, body: new Uint8Array((d as Delivery).body) },
      { serviceKey: service.serviceKey },
    )
    expect(checked).toEqual(event)
    expect(checked.type).toBe('approval.pending')
    expect(checked.data.by).toBeUndefined()
  })

  it('no delivery carries the invocation, an approval text, approvals or the quota: multi-approver, approved and denied requests', async () => {
    const a = subSend('a@example.com')
    const b = subSend('b@example.com')
    const c = subSend('c@example.com')
    for (const inv of [a, b, c]) expect((await fileIt(inv)).status).toBe(201)
    expect((await approveIt(a, bob)).json['status']).toBe('pending')
    expect((await approveIt(a, carol)).json['status']).toBe('approved')
    expect((await approveIt(b, bob)).status).toBe(200)
    expect((await denyIt(b, alice, 'the principal says no')).json['status']).toBe('denied') // the principal, not listed
    expect((await denyIt(c, carol, 'not c')).status).toBe(200)
    await barrier()
    // (`request.status` is the request as it stands when each is delivered: the last says approved.)
    expect(eventsOf(a.idHex).map((e) => e.slice(0, 2))).toEqual([
      ['approval.pending', undefined],
      ['approval.approved', did(bob)],
      ['approval.approved', did(carol)],
    ])
    expect(eventsOf(a.idHex)[2]?.[2]).toBe('approved')
    expect(eventsOf(b.idHex).map((e) => e.slice(0, 2))).toEqual([
      ['approval.pending', undefined],
      ['approval.approved', did(bob)],
      ['approval.denied', did(alice)],
    ])
    expect(eventsOf(c.idHex).map((e) => e.slice(0, 2))).toEqual([
      ['approval.pending', undefined],
      ['approval.denied', did(carol)],
    ])
    const all = [a, b, c].flatMap((inv) => deliveriesOf(inv.idHex))
    expect(all).toHaveLength(8)
    for (const d of all) {
      const text = d.body.toString('utf8')
      expect(text).not.toContain('mni1_')
      expect(text).not.toContain('mna1_')
      const r = parsed(d).data.request
      expect(Object.keys(r)).not.toContain('invocation')
      expect(Object.keys(r)).not.toContain('approvals')
      expect(Object.keys(r)).not.toContain('quota')
    }
    const last = parsed(deliveriesOf(b.idHex)[2] as Delivery).data.request
    expect(last['approvedBy']).toEqual([did(bob)])
    expect(last['denial']).toMatchObject({ by: did(alice), reason: 'the principal says no' })
  })

  it("the quota is read by the request's parties only: stranger, parent agent, other principal's agent, verifier 403; unsigned 401", async () => {
    const inv = subSend('quota@example.com')
    expect((await fileIt(inv)).status).toBe(201)
    const path = url(`/v1/approvals/${inv.idHex}`)
    const quota = (used: number) => [{ block: 0, caveat: 2, max: 5, used, remaining: 5 - used }]
    for (const party of [sub, bob, carol, alice]) {
      const r = await http(path, { key: party })
      expect([r.status, r.json['quota']]).toEqual([200, quota(0)])
    }
    const refused = {
      error: { code: 'ERR_NOT_AUTHORIZED', message: 'only its approvers, its requester and its principal may read this request' },
    }
    for (const [who, key] of [
      ['stranger', stranger],
      ['the parent agent (delegated to the requester)', assistant],
      ["another principal's agent", malloryAgent],
      ['another principal', mallory],
      ['the registered verifier', mailVerifier],
    ] as const) {
      for (const q of ['', '?wait=0', '?wait=1']) {
        const r = await http(`${path}${q}`, { key })
        expect([who, q, r.status, r.json]).toEqual([who, q, 403, refused])
        expect(r.text).not.toContain('quota')
      }
    }
    const unsigned = await http(path)
    expect([unsigned.status, errorOf(unsigned)?.code]).toEqual([401, 'ERR_AUTH_REQUIRED'])
    expect(unsigned.text).not.toContain('quota')
    // The listing shows a key only its own inbox: nothing of this request for a stranger.
    const list = await http(url('/v1/approvals'), { key: stranger })
    expect([list.status, list.json['pending']]).toEqual([200, []])
    const other = await http(url(`/v1/approvals?approver=${encodeURIComponent(did(bob))}`), { key: stranger })
    expect([other.status, errorOf(other)]).toEqual([403, { code: 'ERR_NOT_AUTHORIZED', message: 'an approver reads only its own inbox' }])
    // A request that does not exist: 404 for any signed caller, nothing more.
    const missing = await http(url(`/v1/approvals/${'0'.repeat(64)}`), { key: stranger })
    expect([missing.status, errorOf(missing)?.code]).toEqual([404, 'ERR_NOT_FOUND'])
  })

  it('reading the quota spends nothing: consumes before and after see the same remaining', async () => {
    const grantB = mint({
      principal: alice,
      to: did(assistant),
      name: 'assistant',
      caveats: [
        { type: 'approval', actions: ['email:send'], approvers: [did(bob)], quorum: 1 },
        { type: 'uses', max: 3 },
        { type: 'window', expires: nowS() + 3600 },
      ],
    })
    const counter = `${grantB.blocks[0]?.idHex}/1`
    const one = invoke(grantB, { key: assistant, action: 'email:send', audience: 'mail' })
    const two = invoke(grantB, { key: assistant, action: 'email:send', audience: 'mail' })
    const consume = (inv: UnverifiedInvocation) =>
      http(url('/v1/usage/consume'), { body: { presentation: formatInvocation(inv), counters: [counter] }, key: mailVerifier })
    expect((await fileIt(one)).json['quota']).toEqual([{ block: 0, caveat: 1, max: 3, used: 0, remaining: 3 }])
    expect((await consume(one)).json).toEqual({ granted: true, remaining: [{ key: counter, remaining: 2 }] })
    for (let i = 0; i < 5; i++) {
      for (const party of [assistant, bob, alice]) {
        const r = await http(url(`/v1/approvals/${one.idHex}${i % 2 ? '?wait=0' : ''}`), { key: party })
        expect(r.json['quota']).toEqual([{ block: 0, caveat: 1, max: 3, used: 1, remaining: 2 }])
      }
      const listed = await http(url('/v1/approvals'), { key: bob })
      const mine = (listed.json['pending'] as { id: string; quota: unknown }[]).find((p) => p.id === one.idHex)
      expect(mine?.quota).toEqual([{ block: 0, caveat: 1, max: 3, used: 1, remaining: 2 }])
    }
    expect((await consume(two)).json).toEqual({ granted: true, remaining: [{ key: counter, remaining: 1 }] })
    // The other grant's counter was never touched by any of these reads either.
    const inv = subSend('untouched@example.com')
    expect((await fileIt(inv)).json['quota']).toEqual([{ block: 0, caveat: 2, max: 5, used: 0, remaining: 5 }])
  })

  // Filing needs no signature and a re-filing answers the request as it stands — but never its
  // approvals (spec §7): whoever holds a copy of the invocation (here the verifier it was
  // presented to, which GET refuses with 403) would otherwise collect them and present the
  // invocation with them before the agent. It still learns the status and the quota.
  it('a copy-holder that re-files learns that the request is approved, never the approvals themselves', async () => {
    const inv = subSend('copy@example.com')
    expect((await fileIt(inv)).status).toBe(201)
    expect((await approveIt(inv, bob)).status).toBe(200)
    expect((await approveIt(inv, carol)).status).toBe(200)
    const read = await http(url(`/v1/approvals/${inv.idHex}`), { key: mailVerifier })
    expect(read.status).toBe(403)
    const again = await fileIt(inv)
    expect([again.status, again.json['status'], again.json['approvals']]).toEqual([201, 'approved', {}])
    expect(again.json['quota']).toEqual([{ block: 0, caveat: 2, max: 5, used: 0, remaining: 5 }])
    expect(JSON.stringify(again.json)).not.toContain('mna1_')
    // The requester reads them, signed.
    const own = await http(url(`/v1/approvals/${inv.idHex}`), { key: sub })
    expect(Object.keys(own.json['approvals'] as object).sort()).toEqual([did(bob), did(carol)].sort())
    // Filing again notified nothing.
    await barrier()
    expect(eventsOf(inv.idHex).map((e) => e[0])).toEqual(['approval.pending', 'approval.approved', 'approval.approved'])
  })

  it('refused writes notify nothing: stale, untrusted, no approval needed, unlisted approver, relayed approval, stranger or requester denial', async () => {
    const stale = invoke(subMandate, { key: sub, action: 'email:send', audience: 'mail', now: nowS() - 3600 })
    const r1 = await fileIt(stale)
    expect([r1.status, errorOf(r1)?.code]).toEqual([401, 'ERR_REQUEST_STALE'])
    const theirs = mint({
      principal: mallory,
      to: did(malloryAgent),
      caveats: [
        { type: 'approval', actions: ['email:send'], approvers: [did(alice)], quorum: 1 },
        { type: 'window', expires: nowS() + 3600 },
      ],
    })
    const foreign = invoke(theirs, { key: malloryAgent, action: 'email:send', audience: 'mail' })
    const r2 = await fileIt(foreign)
    expect([r2.status, errorOf(r2)?.code]).toEqual([403, 'ERR_ROOT_UNTRUSTED'])
    const read = invoke(subGrant(), { key: sub, action: 'email:send', audience: 'mail' }) // needs approval: filed below
    const noApproval = invoke(grant, { key: assistant, action: 'email:read', audience: 'mail' })
    const r3 = await fileIt(noApproval)
    expect([r3.status, errorOf(r3)]).toEqual([
      409,
      { code: 'ERR_CONFLICT', message: 'no approval caveat applies to email:read: it needs no approval' },
    ])
    expect((await fileIt(read)).status).toBe(201)
    await barrier()
    const before = hook.deliveries.length
    // An unlisted key approving; a stranger relaying Bob's approval; deny by a stranger and by the requester.
    const r4 = await approveIt(read, stranger)
    expect([r4.status, errorOf(r4)]).toEqual([
      403,
      { code: 'ERR_NOT_AUTHORIZED', message: `${did(stranger)} is not a listed approver of this request` },
    ])
    const r5 = await approveIt(read, bob, stranger)
    expect([r5.status, errorOf(r5)]).toEqual([403, { code: 'ERR_NOT_AUTHORIZED', message: 'an approver posts only its own approvals' }])
    const r6 = await approveIt(read, assistant) // the parent agent
    expect([r6.status, errorOf(r6)?.code]).toEqual([403, 'ERR_NOT_AUTHORIZED'])
    for (const by of [stranger, sub, assistant, malloryAgent, mailVerifier]) {
      const r = await denyIt(read, by)
      expect([r.status, errorOf(r)]).toEqual([
        403,
        { code: 'ERR_NOT_AUTHORIZED', message: 'only its listed approvers and its principal may deny this request' },
      ])
    }
    const r7 = await http(url(`/v1/approvals/${read.idHex}/deny`), { body: { reason: 'no' } })
    expect([r7.status, errorOf(r7)?.code]).toEqual([401, 'ERR_AUTH_REQUIRED'])
    await barrier()
    expect(hook.deliveries.length).toBe(before + 1) // the barrier's own event only
    expect(deliveriesOf(stale.idHex)).toEqual([])
    expect(deliveriesOf(foreign.idHex)).toEqual([])
    expect(deliveriesOf(noApproval.idHex)).toEqual([])
    expect(eventsOf(read.idHex).map((e) => e[0])).toEqual(['approval.pending'])
  })

  it("a denied request's late approval (409), a second denial and a retried denial notify nothing", async () => {
    const inv = subSend('late@example.com')
    expect((await fileIt(inv)).status).toBe(201)
    const denied = await denyIt(inv, bob, 'too late')
    expect([denied.status, denied.json['status']]).toEqual([200, 'denied'])
    const closed = { code: 'ERR_CONFLICT', message: `the request was denied by ${did(bob)}: it is closed` }
    const late = await approveIt(inv, carol)
    expect([late.status, late.json]).toEqual([409, { error: closed }])
    const lateBob = await approveIt(inv, bob)
    expect([lateBob.status, lateBob.json]).toEqual([409, { error: closed }])
    const second = await denyIt(inv, carol, 'me too')
    expect([second.status, second.json]).toEqual([409, { error: closed }])
    const retry = await denyIt(inv, bob, 'another reason')
    expect([retry.status, (retry.json['denial'] as { reason: string }).reason]).toEqual([200, 'too late'])
    await barrier()
    expect(eventsOf(inv.idHex).map((e) => e.slice(0, 2))).toEqual([
      ['approval.pending', undefined],
      ['approval.denied', did(bob)],
    ])
  })

  it('an approval and a denial racing on one request: one wins, and the events say exactly what the answers said', async () => {
    const agent = generateKeyPair()
    const g = mint({
      principal: alice,
      to: did(agent),
      caveats: [
        { type: 'approval', actions: ['email:send'], approvers: [did(bob)], quorum: 1 },
        { type: 'window', expires: nowS() + 3600 },
      ],
    })
    const invs = Array.from({ length: 6 }, () => invoke(g, { key: agent, action: 'email:send', audience: 'mail' }))
    for (const inv of invs) expect((await fileIt(inv)).status).toBe(201)
    const outcomes = await Promise.all(
      invs.map(async (inv, i) => {
        const [approved, denied] = await Promise.all([approveIt(inv, bob), denyIt(inv, i % 2 ? bob : alice, 'race')])
        return { inv, approved: approved.status, denied: denied.status }
      }),
    )
    await barrier()
    for (const { inv, approved, denied } of outcomes) {
      // Exactly one of the two is answered 200, the other 409.
      expect([approved, denied].sort()).toEqual([200, 409])
      expect(eventsOf(inv.idHex).map((e) => e[0])).toEqual(['approval.pending', approved === 200 ? 'approval.approved' : 'approval.denied'])
    }
  })

  it('the same invocation filed twice, and five times at once, and the same approval posted at once: one event each', async () => {
    const inv = subSend('race@example.com')
    expect((await fileIt(inv)).status).toBe(201)
    expect((await fileIt(inv)).status).toBe(201)
    const other = subSend('race2@example.com')
    const filings = await Promise.all(Array.from({ length: 5 }, () => fileIt(other)))
    expect(filings.map((f) => f.status)).toEqual([201, 201, 201, 201, 201])
    expect(new Set(filings.map((f) => f.json['createdAt'])).size).toBe(1)
    // Bob's approval posted three times at once, then another approval of his: one event.
    const approval = formatApproval(approve({ approver: bob, invocation: other }))
    const posts = await Promise.all(
      Array.from({ length: 3 }, () => http(url(`/v1/approvals/${other.idHex}`), { body: { approval }, key: bob })),
    )
    expect(posts.map((p) => p.status)).toEqual([200, 200, 200])
    expect((await approveIt(other, bob)).json['approvals']).toEqual({ [did(bob)]: approval }) // the first stands
    await barrier()
    expect(eventsOf(inv.idHex).map((e) => e[0])).toEqual(['approval.pending'])
    expect(eventsOf(other.idHex).map((e) => e.slice(0, 2))).toEqual([
      ['approval.pending', undefined],
      ['approval.approved', did(bob)],
    ])
    const ids = [...deliveriesOf(inv.idHex), ...deliveriesOf(other.idHex)].map((d) => d.headers['webhook-id'])
    expect(new Set(ids).size).toBe(ids.length)
  })
})

describe('two instances on one database, both up', () => {
  it('each event is delivered once (the endpoint is leased to one of them), whichever instance took the write', async () => {
    const hook = await receiver()
    cleanups.push(hook.close)
    const dir = scratch()
    const start = () =>
      startServiceIn(dir, {
        trust: { roots: [{ name: 'alice', key: did(alice) }] },
        webhooks: [hook.url],
      })
    const [one, two] = await Promise.all([start(), start()])
    cleanups.push(() => (one as RunningService).close())
    cleanups.push(() => (two as RunningService).close())
    expect(one.serviceKey).toBe(two.serviceKey)
    const a = subSend('a@example.com')
    const b = subSend('b@example.com')
    const post = (s: RunningService, path: string, body: unknown, key?: KeyPair) =>
      http(`${s.url}${path}`, { body, ...(key ? { key } : {}) })
    expect((await post(one, '/v1/approvals', { invocation: formatInvocation(a) })).status).toBe(201)
    expect((await post(two, '/v1/approvals', { invocation: formatInvocation(a) })).status).toBe(201) // the same: no event
    expect((await post(two, '/v1/approvals', { invocation: formatInvocation(b) })).status).toBe(201)
    const approval = (k: KeyPair, inv: UnverifiedInvocation) => ({ approval: formatApproval(approve({ approver: k, invocation: inv })) })
    expect((await post(two, `/v1/approvals/${a.idHex}`, approval(bob, a), bob)).status).toBe(200)
    expect((await post(one, `/v1/approvals/${a.idHex}`, approval(carol, a), carol)).status).toBe(200)
    expect((await post(one, `/v1/approvals/${b.idHex}/deny`, { reason: 'no' }, carol)).status).toBe(200)
    await until(
      () => hook.deliveries.length,
      (n) => n >= 5,
    )
    // Both instances look every second: give each a few rounds to deliver anything twice.
    await sleep(2500)
    const events = hook.deliveries.map((d) => [parsed(d).type, parsed(d).data.id, parsed(d).data.by])
    expect(events).toEqual([
      ['approval.pending', a.idHex, undefined],
      ['approval.pending', b.idHex, undefined],
      ['approval.approved', a.idHex, did(bob)],
      ['approval.approved', a.idHex, did(carol)],
      ['approval.denied', b.idHex, did(carol)],
    ])
    expect(new Set(hook.deliveries.map((d) => d.headers['webhook-id'])).size).toBe(5)
    for (const d of hook.deliveries) {
      await verifyWebhook({ headers: d.headers as Record<string, string>, body: new Uint8Array(d.body) }, { serviceKey: one.serviceKey })
    }
  })

  it('a receiver that never answers cannot hold the service shutdown', async () => {
    const hook = await receiver(() => {})
    cleanups.push(hook.close)
    const dir = scratch()
    const service = await startServiceIn(dir, {
      trust: { roots: [{ name: 'alice', key: did(alice) }] },
      webhooks: [hook.url],
    })
    const inv = subSend('shutdown@example.com')
    expect((await http(`${service.url}/v1/approvals`, { body: { invocation: formatInvocation(inv) } })).status).toBe(201)
    await until(
      () => hook.deliveries.length,
      (n) => n >= 1,
    )
    const t = Date.now()
    await service.close()
    // Far below the delivery's 15 s deadline.
    expect(Date.now() - t).toBeLessThan(3000)
  })
})
