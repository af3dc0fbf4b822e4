/**
 * Who may call what (src/service/trust.ts, spec/service-v1.md §3) and the authorization
 * decisions of the app that use it: each limit on both sides of its boundary, each refusal
 * with its HTTP status, error code and, where a person reads it, its message. In-process app,
 * in-memory SQLite store, an injected clock, fixed keys.
 */
import type { Hono } from 'hono'
import { beforeEach, describe, expect, it } from 'vitest'
import { sha256 } from '../../src/crypto/hash.js'
import { acceptSignature } from '../../src/crypto/http-signature.js'
import type { KeyPair } from '../../src/crypto/keys.js'
import {
  approve,
  attenuate,
  type Caveat,
  createRevocation,
  formatApproval,
  formatInvocation,
  formatMandate,
  formatRevocation,
  invoke,
  mint,
  type UnverifiedMandate,
} from '../../src/index.js'
import { toHex, utf8 } from '../../src/internal/bytes.js'
import { iso } from '../../src/internal/clock.js'
import type { AppOptions } from '../../src/service/app.js'
import { openSqliteStore } from '../../src/service/sqlite-store.js'
import type { Store } from '../../src/service/store.js'
import { consumeBinding, createTrust } from '../../src/service/trust.js'
import { chainExpiry } from '../../src/token/block.js'
import { type Answer, appRequest, type Send } from '../helpers/app-request.js'
import { bearerChild, rootGrant } from '../helpers/chains.js'
import { fixedDid, fixedKey, hex, T0 } from '../helpers/fixtures.js'
import { serviceApp } from '../helpers/service-app.js'

const NOW = T0 + 600
/** The settings most tests use: small, distinct numbers, so that each one shows. */
const SKEW = 10
const SIG_MAX_AGE = 100
const INV_MAX_AGE = 200

let store: Store
let app: Hono
let now: number

/** `defaults`: leave skew and the maximum ages unset. */
function build(extra: Partial<AppOptions> = {}, defaults = false): Hono {
  return serviceApp(store, () => now, {
    verifiers: [
      { name: 'mail', key: fixedDid('verifier') },
      { name: 'slack', key: fixedDid('bob') },
    ],
    ...(defaults ? {} : { skew: SKEW, signatureMaxAge: SIG_MAX_AGE, invocationMaxAge: INV_MAX_AGE }),
    ...extra,
  })
}

beforeEach(() => {
  now = NOW
  store = openSqliteStore(':memory:')
  app = build()
})

const send = (method: string, path: string, o: Send = {}, on: Hono = app): Promise<Answer> => appRequest(on, now, method, path, o)
const verifierKey = () => fixedKey('verifier')
/** A bearer child with one `uses` caveat (counter `<block 1>/0`). */
const limited = (max = 5, extra: Parameters<typeof bearerChild>[0] = []) => bearerChild([{ type: 'uses', max }, ...extra])
const counterOf = (m: UnverifiedMandate) => `${m.blocks[1]?.idHex}/0`
const consumeBare = (m: UnverifiedMandate, requestId: string, key = verifierKey(), counters = [counterOf(m)]) =>
  send('POST', '/v1/usage/consume', { body: { requestId, presentation: formatMandate(m), counters }, key })
const claim = (inv: string, key = verifierKey()) => send('POST', '/v1/replay/claim', { body: { invocation: inv }, key })
const inv = (m: UnverifiedMandate, at: number, audience = 'mail', action = 'email:read') =>
  formatInvocation(invoke(m, { action, audience, now: at }))
const status = (a: Answer) => [a.status, a.code]
/** Alice → assistant → sub-agent (bound), whose email:send needs Carol's approval. */
const approvalChild = (more: Caveat[] = []) =>
  attenuate(rootGrant(), {
    key: fixedKey('assistant'),
    to: fixedDid('subagent'),
    caveats: [{ type: 'approval', actions: ['email:send'], approvers: [fixedDid('carol')], quorum: 1 }, ...more],
    now: T0,
  })

describe('createTrust: the settings', () => {
  it('needs at least one served root', () => {
    expect(() => createTrust({ roots: [] }, store, () => NOW)).toThrow('"roots" expected at least one served principal')
    expect(() => createTrust({ roots: undefined as never }, store, () => NOW)).toThrow(TypeError)
  })

  it('verifier names are 1–128 printable ASCII characters', () => {
    const key = fixedDid('verifier')
    const make = (name: string) => () => createTrust({ roots: [{ key: fixedDid('alice') }], verifiers: [{ name, key }] }, store, () => NOW)
    expect(make('')).toThrow('verifier name "": expected 1–128 printable ASCII characters')
    expect(make('a b')).toThrow(TypeError)
    expect(make('x'.repeat(129))).toThrow(TypeError)
    expect(make('x'.repeat(128))).not.toThrow()
    expect(make('!~')).not.toThrow()
    expect(make(' mail')).toThrow(TypeError)
    expect(make('mail\n')).toThrow(TypeError)
    expect(() => createTrust({ roots: [{ key: fixedDid('alice') }], verifiers: [{ name: 7 as never, key }] }, store, () => NOW)).toThrow(
      'verifier name 7: expected',
    )
  })

  it('one key is one verifier: registered under two names it is refused; twice under one name it is fine', () => {
    const key = fixedDid('verifier')
    const roots = [{ key: fixedDid('alice') }]
    expect(() =>
      createTrust(
        {
          roots,
          verifiers: [
            { name: 'mail', key },
            { name: 'slack', key },
          ],
        },
        store,
        () => NOW,
      ),
    ).toThrow(`the key ${key} is registered as both mail and slack`)
    expect(() =>
      createTrust(
        {
          roots,
          verifiers: [
            { name: 'mail', key },
            { name: 'mail', key: fixedKey('verifier').publicKey },
          ],
        },
        store,
        () => NOW,
      ),
    ).not.toThrow()
  })

  it('roots and verifiers may be given as raw public keys', async () => {
    app = build({
      roots: [{ key: fixedKey('alice').publicKey }],
      verifiers: [{ name: 'mail', key: fixedKey('verifier').publicKey }],
    })
    const m = limited()
    const ok = await consumeBare(m, 'raw-1')
    expect([ok.status, ok.json]).toEqual([200, { granted: true, remaining: [{ key: counterOf(m), remaining: 4 }] }])
  })
})

describe('signed requests', () => {
  it('created is accepted within [now − signatureMaxAge − skew, now + skew], refused outside it', async () => {
    const at = async (created: number) => status(await send('GET', '/v1/approvals', { key: fixedKey('carol'), created }))
    expect(await at(NOW - SIG_MAX_AGE - SKEW)).toEqual([200, undefined])
    expect(await at(NOW - SIG_MAX_AGE - SKEW - 1)).toEqual([401, 'ERR_REQUEST_STALE'])
    expect(await at(NOW + SKEW)).toEqual([200, undefined])
    expect(await at(NOW + SKEW + 1)).toEqual([401, 'ERR_REQUEST_STALE'])
  })

  it('the defaults: 300 s old, 60 s skew', async () => {
    app = build({}, true)
    const at = async (created: number) => status(await send('GET', '/v1/approvals', { key: fixedKey('carol'), created }))
    expect(await at(NOW - 360)).toEqual([200, undefined])
    expect(await at(NOW - 361)).toEqual([401, 'ERR_REQUEST_STALE'])
    expect(await at(NOW + 60)).toEqual([200, undefined])
    expect(await at(NOW + 61)).toEqual([401, 'ERR_REQUEST_STALE'])
  })

  it('a refused signature tells the caller how to sign: without a body for GET, with one for POST', async () => {
    const unsigned = await send('GET', '/v1/approvals')
    expect(status(unsigned)).toEqual([401, 'ERR_AUTH_REQUIRED'])
    expect(unsigned.headers.get('accept-signature')).toBe(acceptSignature(false))
    const stale = await send('GET', '/v1/approvals', { key: fixedKey('carol'), created: NOW - 1000 })
    expect(stale.headers.get('accept-signature')).toBe(acceptSignature(false))
    const post = await send('POST', '/v1/replay/claim', { body: { invocation: 'x' } })
    expect(status(post)).toEqual([401, 'ERR_AUTH_REQUIRED'])
    expect(post.headers.get('accept-signature')).toBe(acceptSignature(true))
  })

  it('a nonce is refused again for as long as its request could be accepted, compaction notwithstanding', async () => {
    const first = await send('GET', '/v1/approvals', { key: fixedKey('carol'), nonce: 'nonce-used-once-0001', created: NOW })
    expect(first.status).toBe(200)
    // the last second at which a request created at NOW is still fresh
    now = NOW + SIG_MAX_AGE + SKEW
    await store.compact(now)
    const again = await send('GET', '/v1/approvals', { key: fixedKey('carol'), nonce: 'nonce-used-once-0001', created: NOW })
    expect([again.status, again.code, again.message]).toEqual([
      401,
      'ERR_AUTH_REPLAY',
      'this signed request was already used; sign each request anew',
    ])
    // the same nonce from another key is another request
    expect((await send('GET', '/v1/approvals', { key: fixedKey('bob'), nonce: 'nonce-used-once-0001', created: now })).status).toBe(200)
  })

  it('a request for another authority is refused before its signature is read', async () => {
    app = build({ authorities: () => ['svc.test', 'svc.test:8443'] })
    expect((await send('GET', '/v1/approvals', { key: fixedKey('carol') })).status).toBe(200)
    expect((await send('GET', '/v1/approvals', { key: fixedKey('carol'), host: 'svc.test:8443' })).status).toBe(200)
    const elsewhere = await send('GET', '/v1/approvals', { key: fixedKey('carol'), host: 'other.test' })
    expect([elsewhere.status, elsewhere.code, elsewhere.message]).toEqual([
      401,
      'ERR_AUTH_INVALID',
      'this service is not reached as "other.test": a request signed for another service is refused (the operator sets the names with --public-url)',
    ])
    // a 401 of the signature's checks, with what to sign (spec §3.2)
    expect(elsewhere.headers.get('accept-signature')).toBe(acceptSignature(false))
    // even unsigned: it is the name, not the signature, that is wrong
    expect(status(await send('GET', '/v1/approvals', { host: 'other.test' }))).toEqual([401, 'ERR_AUTH_INVALID'])
    // a port is part of the name
    expect(status(await send('GET', '/v1/approvals', { key: fixedKey('carol'), host: 'svc.test:8444' }))).toEqual([401, 'ERR_AUTH_INVALID'])
    // without configured names any authority is taken, but the signature must cover the one used
    app = build()
    expect((await send('GET', '/v1/approvals', { key: fixedKey('carol'), host: 'other.test' })).status).toBe(200)
    expect(status(await send('GET', '/v1/approvals', { key: fixedKey('carol'), host: 'other.test', signedHost: 'svc.test' }))).toEqual([
      401,
      'ERR_AUTH_INVALID',
    ])
  })
})

describe('registered verifiers', () => {
  it('an unregistered key spends nothing, is told why, and its nonce is not stored', async () => {
    const m = limited(1)
    const stranger = await send('POST', '/v1/usage/consume', {
      body: { requestId: 'x1', presentation: formatMandate(m), counters: [counterOf(m)] },
      key: fixedKey('carol'),
      nonce: 'stranger-nonce-0001',
    })
    expect([stranger.status, stranger.code, stranger.message]).toEqual([
      403,
      'ERR_NOT_AUTHORIZED',
      `${fixedDid('carol')} is not a registered verifier of this service`,
    ])
    // strangers write nothing: the nonce is still unused
    expect(await store.useNonce(fixedDid('carol'), 'stranger-nonce-0001', NOW + 1000, NOW)).toBe(true)
    const claimed = await claim(inv(m, NOW), fixedKey('carol'))
    expect(status(claimed)).toEqual([403, 'ERR_NOT_AUTHORIZED'])
    // the one use is still there for a registered verifier
    expect((await consumeBare(m, 'x1')).json).toEqual({ granted: true, remaining: [{ key: counterOf(m), remaining: 0 }] })
  })

  it('a verifier consumes under its own name: bare request ids are per verifier', async () => {
    const m = limited(2)
    expect((await consumeBare(m, 'same')).json['granted']).toBe(true)
    // the same id from slack is another request, and spends the second use
    expect((await consumeBare(m, 'same', fixedKey('bob'))).json).toEqual({
      granted: true,
      remaining: [{ key: counterOf(m), remaining: 0 }],
    })
    // a retry from mail gets its own answer back
    expect((await consumeBare(m, 'same')).json).toEqual({ granted: true, remaining: [{ key: counterOf(m), remaining: 1 }] })
  })

  it('an invocation for another audience is refused, naming both', async () => {
    const m = limited()
    const forSlack = await send('POST', '/v1/usage/consume', {
      body: { presentation: inv(m, NOW, 'slack'), counters: [counterOf(m)] },
      key: verifierKey(),
    })
    expect([forSlack.status, forSlack.code, forSlack.message]).toEqual([403, 'ERR_AUDIENCE', 'the invocation is for "slack", not "mail"'])
    const bySlack = await send('POST', '/v1/usage/consume', {
      body: { presentation: inv(m, NOW, 'slack'), counters: [counterOf(m)] },
      key: fixedKey('bob'),
    })
    expect(bySlack.json).toEqual({ granted: true, remaining: [{ key: counterOf(m), remaining: 4 }] })
  })

  it('a chain whose audience caveat leaves the verifier out is refused, naming the block', async () => {
    const m = limited(5, [{ type: 'audience', names: ['slack', 'chat'] }])
    const mail = await consumeBare(m, 'aud-1')
    expect([mail.status, mail.code, mail.message]).toEqual([403, 'ERR_AUDIENCE', 'block 1 is not for "mail"'])
    expect((await consumeBare(m, 'aud-1', fixedKey('bob'))).json['granted']).toBe(true)
    const claimed = await claim(inv(m, NOW, 'mail'))
    expect([claimed.status, claimed.message]).toEqual([403, 'block 1 is not for "mail"'])
  })
})

describe('served roots', () => {
  it("a chain rooted at another principal is refused with the principal's key", async () => {
    const foreign = mint({
      principal: fixedKey('mallory'),
      caveats: [
        { type: 'uses', max: 3 },
        { type: 'window', expires: T0 + 3600 },
      ],
      now: T0,
    })
    const m = attenuate(foreign, { caveats: [{ type: 'uses', max: 2 }], now: T0 })
    const refused = await consumeBare(m, 'f1')
    expect([refused.status, refused.code, refused.message]).toEqual([
      403,
      'ERR_ROOT_UNTRUSTED',
      `the chain's principal ${fixedDid('mallory')} is not served here`,
    ])
    expect(status(await claim(inv(m, NOW)))).toEqual([403, 'ERR_ROOT_UNTRUSTED'])
    // served when mallory is a root too
    app = build({ roots: [{ key: fixedDid('alice') }, { key: fixedDid('mallory') }] })
    expect((await consumeBare(m, 'f1')).json['granted']).toBe(true)
  })
})

describe('fresh invocations', () => {
  it('issued within [now − invocationMaxAge − skew, now + skew]: claimed; outside: 401 with the date', async () => {
    const m = limited()
    expect((await claim(inv(m, NOW - INV_MAX_AGE - SKEW))).json['claimed']).toBe(true)
    const old = await claim(inv(m, NOW - INV_MAX_AGE - SKEW - 1))
    expect([old.status, old.code, old.message]).toEqual([
      401,
      'ERR_REQUEST_STALE',
      `the invocation was signed at ${iso(NOW - INV_MAX_AGE - SKEW - 1)}, more than ${INV_MAX_AGE}s ago; sign a fresh one`,
    ])
    expect((await claim(inv(m, NOW + SKEW))).json['claimed']).toBe(true)
    const future = await claim(inv(m, NOW + SKEW + 1))
    expect([future.status, future.code, future.message]).toEqual([
      401,
      'ERR_REQUEST_STALE',
      `the invocation is dated in the future (${iso(NOW + SKEW + 1)})`,
    ])
  })

  it('the defaults: 300 s old, 60 s skew', async () => {
    app = build({}, true)
    const m = limited()
    expect((await claim(inv(m, NOW - 360))).json['claimed']).toBe(true)
    expect(status(await claim(inv(m, NOW - 361)))).toEqual([401, 'ERR_REQUEST_STALE'])
    expect((await claim(inv(m, NOW + 60))).json['claimed']).toBe(true)
    expect(status(await claim(inv(m, NOW + 61)))).toEqual([401, 'ERR_REQUEST_STALE'])
  })

  it('consume checks freshness too', async () => {
    const m = limited()
    const body = (at: number) => ({ presentation: inv(m, at), counters: [counterOf(m)] })
    expect((await send('POST', '/v1/usage/consume', { body: body(NOW - INV_MAX_AGE - SKEW), key: verifierKey() })).json['granted']).toBe(
      true,
    )
    const late = await send('POST', '/v1/usage/consume', { body: body(NOW - INV_MAX_AGE - SKEW - 1), key: verifierKey() })
    expect(status(late)).toEqual([401, 'ERR_REQUEST_STALE'])
  })

  it('a claim is held until the last second any verifier could accept the invocation, plus skew', async () => {
    const m = limited()
    const text = inv(m, NOW)
    expect((await claim(text)).json['claimed']).toBe(true)
    // deadline = issuedAt + maxAge + skew; the claim is kept one skew longer
    now = NOW + INV_MAX_AGE + 2 * SKEW - 1
    const held = await send('POST', '/v1/replay/release', { body: { invocation: text }, key: verifierKey() })
    expect(held.json['released']).toBe(true)
    now = NOW
    expect((await claim(text)).json['claimed']).toBe(true)
    now = NOW + INV_MAX_AGE + 2 * SKEW
    const gone = await send('POST', '/v1/replay/release', { body: { invocation: text }, key: verifierKey() })
    expect(gone.json['released']).toBe(false)
  })

  it("an approval request lives until issued_at + its wait (default and at most the approval wait) + skew, or the chain's expiry + skew if sooner", async () => {
    const grant = approvalChild()
    const file = (at: number, wait?: unknown) =>
      send('POST', '/v1/approvals', {
        body: {
          invocation: formatInvocation(invoke(grant, { key: fixedKey('subagent'), action: 'email:send', audience: 'mail', now: at })),
          ...(wait === undefined ? {} : { wait }),
        },
      })
    // The chain expires 8 hours after T0: a day's wait is cut there, when no verifier accepts it any more.
    const chainEnds = T0 + 8 * 3600
    expect(chainExpiry(grant.blocks)).toBe(chainEnds)
    const filed = await file(NOW - 5)
    expect([filed.status, filed.json['expiresAt'], filed.json['createdAt']]).toEqual([201, chainEnds + SKEW, NOW])
    expect((await file(NOW - 6, 3600)).json['expiresAt']).toBe(NOW - 6 + 3600 + SKEW)
    // a wait shorter than the max age: as long as the invocation is fresh
    expect((await file(NOW - 7, 0)).json['expiresAt']).toBe(NOW - 7 + INV_MAX_AGE + SKEW)
    expect((await file(NOW - 8, 86_400)).json['expiresAt']).toBe(chainEnds + SKEW)
    expect((await file(NOW - 9, chainEnds - NOW)).json['expiresAt']).toBe(chainEnds + SKEW - 9)
    for (const bad of [86_401, -1, 1.5, '60', null]) {
      const refused = await file(NOW - 10, bad)
      expect([bad, refused.status, refused.code, refused.message]).toEqual([
        bad,
        400,
        'ERR_REQUEST_MALFORMED',
        '"wait" must be a whole number of seconds in 0..86400',
      ])
    }
    // the service's setting bounds it
    app = build({ approvalWait: 600 })
    expect((await file(NOW - 10)).json['expiresAt']).toBe(NOW - 10 + 600 + SKEW)
    expect(status(await file(NOW - 11, 601))).toEqual([400, 'ERR_REQUEST_MALFORMED'])
  })
})

describe('invocations waiting for approval (spec/mandate-v1.md §7 step 7)', () => {
  const WAIT = 3600
  let m: UnverifiedMandate
  const waiting = (at: number, action = 'email:send') =>
    formatInvocation(invoke(m, { key: fixedKey('subagent'), action, audience: 'mail', now: at }))
  beforeEach(() => {
    m = approvalChild([{ type: 'uses', max: 5 }])
    app = build({ approvalWait: WAIT })
  })

  it('one that needs an approval is claimed through issued_at + the approval wait + skew; one that does not, only while fresh', async () => {
    expect((await claim(waiting(NOW - WAIT - SKEW))).json['claimed']).toBe(true)
    const old = await claim(waiting(NOW - WAIT - SKEW - 1))
    expect([old.status, old.code, old.message]).toEqual([
      401,
      'ERR_REQUEST_STALE',
      `the invocation was signed at ${iso(NOW - WAIT - SKEW - 1)}, more than ${WAIT}s ago; sign a fresh one`,
    ])
    // email:read needs no approval: it cannot wait
    expect((await claim(waiting(NOW - INV_MAX_AGE - SKEW, 'email:read'))).json['claimed']).toBe(true)
    expect(status(await claim(waiting(NOW - INV_MAX_AGE - SKEW - 1, 'email:read')))).toEqual([401, 'ERR_REQUEST_STALE'])
  })

  it('its claim is held through the approval wait, plus skew twice', async () => {
    const text = waiting(NOW)
    const release = async () =>
      (await send('POST', '/v1/replay/release', { body: { invocation: text }, key: verifierKey() })).json['released']
    expect((await claim(text)).json['claimed']).toBe(true)
    now = NOW + WAIT + SKEW
    expect((await claim(text)).json['claimed']).toBe(false)
    now = NOW + WAIT + 2 * SKEW - 1
    expect(await release()).toBe(true)
    now = NOW
    expect((await claim(text)).json['claimed']).toBe(true)
    now = NOW + WAIT + 2 * SKEW
    expect(await release()).toBe(false)
  })

  it('it is spent through the approval wait too, and its answer is kept as long as asked', async () => {
    const consume = (text: string) =>
      send('POST', '/v1/usage/consume', { body: { presentation: text, counters: [`${m.blocks[1]?.idHex}/1`] }, key: verifierKey() })
    const text = waiting(NOW - WAIT - SKEW)
    const first = await consume(text)
    expect([first.status, first.json['granted'], first.json['remaining']]).toEqual([
      200,
      true,
      [{ key: `${m.blocks[1]?.idHex}/1`, remaining: 4 }],
    ])
    expect(status(await consume(waiting(NOW - WAIT - SKEW - 1)))).toEqual([401, 'ERR_REQUEST_STALE'])
    const left = async () => ((await consume(text)).json['remaining'] as { remaining: number }[])[0]?.remaining
    // compaction keeps answers a day, or longer when asked (the service asks for its approval
    // wait plus skew both ways): the retry gets the stored answer, and spends nothing
    await store.compact(NOW + 86_401, 2 * 86_400)
    expect(await left()).toBe(4)
    await store.compact(NOW + 86_400)
    expect(await left()).toBe(4)
    await store.compact(NOW + 86_401)
    expect(await left()).toBe(3)
  })

  it('the setting is whole seconds from 0 to 30 days', () => {
    for (const bad of [-1, 30 * 86_400 + 1, 1.5]) {
      expect(() => createTrust({ roots: [{ key: fixedDid('alice') }], approvalWait: bad }, store, () => NOW)).toThrow(
        new RangeError(`"approvalWait" expected a whole number from 0 to 2592000, got ${bad}`),
      )
    }
    expect(createTrust({ roots: [{ key: fixedDid('alice') }], approvalWait: 0 }, store, () => NOW).approvalWait).toBe(0)
    expect(createTrust({ roots: [{ key: fixedDid('alice') }] }, store, () => NOW).approvalWait).toBe(86_400)
  })
})

describe('standing', () => {
  it('a chain in use until its expiry plus skew, refused from then on with the time', async () => {
    const m = bearerChild([{ type: 'uses', max: 5 }], [{ type: 'actions', patterns: ['*'] }])
    const expires = T0 + 8 * 3600
    now = expires + SKEW - 1
    expect((await consumeBare(m, 'e1')).json['granted']).toBe(true)
    now = expires + SKEW
    const late = await consumeBare(m, 'e2')
    expect([late.status, late.code, late.message]).toEqual([403, 'ERR_TIME_EXPIRED', `the chain expired at ${iso(expires)}`])
  })

  async function state(m: UnverifiedMandate, kind: 'revoke' | 'suspend' | 'resume', actions?: string[], block?: number) {
    const s = createRevocation({
      mandate: m,
      key: fixedKey('alice'),
      kind,
      now,
      ...(actions ? { actions } : {}),
      ...(block === undefined ? {} : { block }),
    })
    const posted = await send('POST', '/v1/revocations', { body: { revocation: formatRevocation(s) } })
    expect(posted.status).toBe(201)
  }
  const consumeFor = (m: UnverifiedMandate, action: string) =>
    send('POST', '/v1/usage/consume', { body: { presentation: inv(m, now, 'mail', action), counters: [counterOf(m)] }, key: verifierKey() })

  it('a revoked or suspended block is named; a scoped statement covers its actions and those below only', async () => {
    const m = limited(10)
    await state(m, 'suspend', ['email:send'])
    const sent = await consumeFor(m, 'email:send:draft')
    // named as the verifier names it: the action, under the block
    expect([sent.status, sent.code, sent.message]).toEqual([403, 'ERR_SUSPENDED', 'email:send:draft under block 1 is suspended'])
    expect((await consumeFor(m, 'email:read')).json['granted']).toBe(true)
    // a bare request names no action: only whole-block entries count
    expect((await consumeBare(m, 'b1')).json['granted']).toBe(true)
    await state(m, 'revoke', ['email:read'])
    const read = await consumeFor(m, 'email:read')
    expect([read.status, read.code, read.message]).toEqual([403, 'ERR_REVOKED', 'email:read under block 1 is revoked'])
    expect((await consumeFor(m, 'calendar:read')).json['granted']).toBe(true)
    expect((await consumeBare(m, 'b2')).json['granted']).toBe(true)
  })

  it('a whole-block suspension holds until a resume, and again after the next suspension; the root block is named 0', async () => {
    const m = limited(10)
    await state(m, 'suspend')
    expect([(await consumeBare(m, 's1')).message]).toEqual(['block 1 is suspended'])
    await state(m, 'resume')
    expect((await consumeBare(m, 's2')).json['granted']).toBe(true)
    now += 1
    await state(m, 'suspend')
    expect(status(await consumeBare(m, 's3'))).toEqual([403, 'ERR_SUSPENDED'])
    const other = limited(7)
    await state(other, 'suspend', undefined, 0)
    const root = await consumeBare(other, 's4')
    expect([root.status, root.code, root.message]).toEqual([403, 'ERR_SUSPENDED', 'block 0 is suspended'])
  })

  it('a statement over several actions covers an action below any one of them', async () => {
    const m = limited(10)
    await state(m, 'suspend', ['calendar', 'email:send'])
    expect(status(await consumeFor(m, 'email:send'))).toEqual([403, 'ERR_SUSPENDED'])
    expect(status(await consumeFor(m, 'calendar:write'))).toEqual([403, 'ERR_SUSPENDED'])
    expect((await consumeFor(m, 'email:read')).json['granted']).toBe(true)
  })

  it('an entry with an empty action list (from any store) counts for the whole block', async () => {
    const m = limited()
    const entry = { seq: 1, blockId: m.blocks[1]?.idHex, kind: 'suspend', actions: [], at: NOW, by: '00'.repeat(32) }
    const stub = { revocationsFor: async (id: string) => (id === m.blocks[1]?.idHex ? [entry] : []) } as unknown as Store
    const trust = createTrust({ roots: [{ key: fixedDid('alice') }] }, stub, () => NOW)
    await expect(trust.standing(m.blocks, 'email:read', NOW)).rejects.toMatchObject({
      status: 403,
      code: 'ERR_SUSPENDED',
      message: 'block 1 is suspended',
    })
    await expect(trust.standing(m.blocks, undefined, NOW)).rejects.toMatchObject({ code: 'ERR_SUSPENDED' })
    await expect(trust.standing(m.blocks.slice(0, 1), 'email:read', NOW)).resolves.toBeUndefined()
  })

  it('a whole-block revocation refuses a bare request too', async () => {
    const m = limited(10)
    await state(m, 'revoke')
    const r = await consumeBare(m, 'r1')
    expect([r.status, r.code, r.message]).toEqual([403, 'ERR_REVOKED', 'block 1 is revoked'])
  })
})

describe('the consume binding', () => {
  it('is the SHA-256 of the block ids and the sorted counter keys; counter order does not matter', () => {
    const m = limited()
    const ids = m.blocks.map((b) => b.idHex)
    const expected = toHex(sha256(utf8(`${ids.join('.')}\na\nb`)))
    expect(consumeBinding(m.blocks, ['b', 'a'])).toBe(expected)
    expect(consumeBinding(m.blocks, ['a', 'b'])).toBe(expected)
    expect(consumeBinding(m.blocks, ['a'])).not.toBe(expected)
    expect(consumeBinding(m.blocks.slice(0, 1), ['a', 'b'])).not.toBe(expected)
    expect(consumeBinding(m.blocks, ['a', 'b'])).toMatch(/^[0-9a-f]{64}$/)
  })

  it('a retry with the counters reordered gets its answer; other counters or another chain conflict', async () => {
    const m = bearerChild([
      { type: 'uses', max: 3 },
      { type: 'uses', max: 4 },
    ])
    const c0 = `${m.blocks[1]?.idHex}/0`
    const c1 = `${m.blocks[1]?.idHex}/1`
    const first = await consumeBare(m, 'k', verifierKey(), [c0, c1])
    expect(first.json['granted']).toBe(true)
    expect((await consumeBare(m, 'k', verifierKey(), [c1, c0])).json).toEqual(first.json)
    const fewer = await consumeBare(m, 'k', verifierKey(), [c0])
    expect([fewer.status, fewer.code, fewer.message]).toEqual([
      409,
      'ERR_CONFLICT',
      'this request id was used for another chain or other counters',
    ])
    const other = limited(9)
    expect(status(await consumeBare(other, 'k'))).toEqual([409, 'ERR_CONFLICT'])
  })
})

describe('approvals: who reads and who answers', () => {
  /** `wait` 0: the request lives as long as the invocation is fresh. */
  const setup = async (wait?: number) => {
    const i = invoke(approvalChild(), { key: fixedKey('subagent'), action: 'email:send', audience: 'mail', now: NOW })
    const filed = await send('POST', '/v1/approvals', {
      body: { invocation: formatInvocation(i), ...(wait === undefined ? {} : { wait }) },
    })
    expect(filed.status).toBe(201)
    return { i, id: i.idHex }
  }

  it('its approvers, its requester and its principal read a request; nobody else', async () => {
    const { id } = await setup()
    for (const who of ['carol', 'subagent', 'alice'] as const) {
      const read = await send('GET', `/v1/approvals/${id}`, { key: fixedKey(who) })
      expect([who, read.status, read.json['id']]).toEqual([who, 200, id])
    }
    for (const who of ['mallory', 'assistant'] as const) {
      const read = await send('GET', `/v1/approvals/${id}`, { key: fixedKey(who) })
      expect([who, read.status, read.code, read.message]).toEqual([
        who,
        403,
        'ERR_NOT_AUTHORIZED',
        'only its approvers, its requester and its principal may read this request',
      ])
    }
  })

  it('an approver reads only its own inbox', async () => {
    await setup()
    const own = await send('GET', `/v1/approvals?approver=${fixedDid('carol')}`, { key: fixedKey('carol') })
    expect([own.status, own.json['approver'], (own.json['pending'] as unknown[]).length]).toEqual([200, fixedDid('carol'), 1])
    const other = await send('GET', `/v1/approvals?approver=${fixedDid('carol')}`, { key: fixedKey('mallory') })
    expect([other.status, other.code, other.message]).toEqual([403, 'ERR_NOT_AUTHORIZED', 'an approver reads only its own inbox'])
    const mine = await send('GET', '/v1/approvals', { key: fixedKey('mallory') })
    expect([mine.status, mine.json['pending']]).toEqual([200, []])
  })

  it('an approval is posted by its own approver, a listed one, while both it and the request are live', async () => {
    const { i, id } = await setup(0)
    const post = (key: KeyPair, approval: string) => send('POST', `/v1/approvals/${id}`, { body: { approval }, key })
    const by = (who: 'carol' | 'mallory', at: number, ttl: number) =>
      formatApproval(approve({ approver: fixedKey(who), invocation: i, now: at, ttl }))

    const relayed = await post(fixedKey('alice'), by('carol', NOW, 60))
    expect([relayed.status, relayed.code, relayed.message]).toEqual([403, 'ERR_NOT_AUTHORIZED', 'an approver posts only its own approvals'])
    const unlisted = await post(fixedKey('mallory'), by('mallory', NOW, 60))
    expect([unlisted.status, unlisted.code, unlisted.message]).toEqual([
      403,
      'ERR_NOT_AUTHORIZED',
      `${fixedDid('mallory')} is not a listed approver of this request`,
    ])
    const expired = await post(fixedKey('carol'), by('carol', NOW - 60, 60))
    expect([expired.status, expired.code, expired.message]).toEqual([403, 'ERR_APPROVAL_INVALID', 'the approval has already expired'])
    const future = await post(fixedKey('carol'), by('carol', NOW + SKEW + 1, 60))
    expect([future.status, future.code, future.message]).toEqual([403, 'ERR_APPROVAL_INVALID', 'the approval is dated in the future'])
    const foreign = await post(
      fixedKey('carol'),
      formatApproval(approve({ approver: fixedKey('carol'), invocation: hex('11'.repeat(32)), now: NOW, ttl: 60 })),
    )
    expect([foreign.status, foreign.code, foreign.message]).toEqual([400, 'ERR_APPROVAL_INVALID', 'the approval names another invocation'])
    // the request's last second (invocation deadline) is past
    now = NOW + INV_MAX_AGE + SKEW
    const late = await post(fixedKey('carol'), by('carol', NOW, 1000))
    expect([late.status, late.code, late.message]).toEqual([409, 'ERR_CONFLICT', 'the request expired; the agent must invoke again'])
    // boundaries that pass: expiring one second from now, dated exactly skew ahead, the request's last second
    now = NOW + INV_MAX_AGE + SKEW - 1
    const edge = await post(fixedKey('carol'), by('carol', now - 59, 60))
    expect([edge.status, edge.json['status']]).toEqual([200, 'approved'])
    const ahead = await post(fixedKey('carol'), by('carol', now + SKEW, 60))
    expect(ahead.status).toBe(200)
  })

  it('a request filed to wait takes approvals until issued_at + its wait + skew, then 409', async () => {
    const { i, id } = await setup(3600)
    const post = () =>
      send('POST', `/v1/approvals/${id}`, {
        body: { approval: formatApproval(approve({ approver: fixedKey('carol'), invocation: i, now, ttl: 600 })) },
        key: fixedKey('carol'),
      })
    now = NOW + 3600 + SKEW
    const late = await post()
    expect([late.status, late.code, late.message]).toEqual([409, 'ERR_CONFLICT', 'the request expired; the agent must invoke again'])
    now = NOW + 3600 + SKEW - 1
    const answered = await post()
    expect([answered.status, answered.json['status'], answered.json['expiresAt']]).toEqual([200, 'approved', NOW + 3600 + SKEW])
  })
})
