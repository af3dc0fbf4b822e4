/**
 * Error paths of the service clients and of the verifier's injected stores: every failure to
 * get an answer denies with its own code, and a store's own explanation is kept.
 */
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import {
  createDecisionReporter,
  createFeedRevocationView,
  createRemoteReplayCache,
  createRemoteUsageStore,
  invoke,
  MandateError,
  toDidKey,
} from '../../src/index.js'
import { fileFeedState } from '../../src/node.js'
import { toServiceError } from '../../src/service/errors.js'
import { bareRequestId } from '../../src/verify/request-id.js'
import { assistant, bearerChild, codeOf, rootGrant, verifierFor } from '../helpers/chains.js'
import { fixedKey, seededRandom, T0, thrownAs, thrownCode } from '../helpers/fixtures.js'

const refused = (async () => {
  throw new TypeError('fetch failed')
}) as unknown as typeof fetch
const answering = (status: number, body: unknown) => (async () => new Response(JSON.stringify(body), { status })) as unknown as typeof fetch
/** The verifier's own key, which signs every request it sends the service. */
const verifierKey = fixedKey('verifier')

/** A fetch that records what it was sent and answers from a script (a throw is a lost answer). */
function scripted(script: (() => Response)[]) {
  const sent: { body: Record<string, unknown>; headers: Headers }[] = []
  const fetcher = (async (_url: string, init: RequestInit) => {
    sent.push({ body: JSON.parse(new TextDecoder().decode(init.body as Uint8Array)), headers: new Headers(init.headers) })
    const next = script.shift()
    if (!next) throw new TypeError('no more answers')
    return next()
  }) as unknown as typeof fetch
  return { sent, fetcher }
}

describe('remote usage store', () => {
  const limited = () => bearerChild([{ type: 'uses', max: 3 }])

  it('an unreachable service denies with ERR_COUNTER_UNAVAILABLE', async () => {
    const d = await verifierFor({ usage: createRemoteUsageStore({ url: 'http://svc', key: verifierKey, fetch: refused }) }).authorize({
      mandate: limited(),
      request: { action: 'x' },
    })
    expect(codeOf(d)).toBe('ERR_COUNTER_UNAVAILABLE')
    if (!d.allowed) expect(d.message).toContain('cannot be reached')
  })

  it('an error answer or a body without a decision denies too, naming the status', async () => {
    const error = await verifierFor({
      usage: createRemoteUsageStore({
        url: 'http://svc',
        key: verifierKey,
        fetch: answering(503, { error: { code: 'ERR_STORAGE_UNAVAILABLE', message: 'disk' } }),
      }),
    }).authorize({ mandate: limited(), request: { action: 'x' } })
    expect(codeOf(error)).toBe('ERR_COUNTER_UNAVAILABLE')
    if (!error.allowed) expect(error.message).toContain('503: ERR_STORAGE_UNAVAILABLE')
    const odd = await verifierFor({
      usage: createRemoteUsageStore({ url: 'http://svc', key: verifierKey, fetch: answering(200, { hello: 1 }) }),
    }).authorize({
      mandate: limited(),
      request: { action: 'x' },
    })
    expect(codeOf(odd)).toBe('ERR_COUNTER_UNAVAILABLE')
  })
})

describe('signed, retried consumes', () => {
  const limited = () => bearerChild([{ type: 'uses', max: 3 }])
  // The answer to what is asked: the sub-agent's uses caveat (block 1, caveat 0).
  const granted = () =>
    new Response(JSON.stringify({ granted: true, remaining: [{ key: `${limited().blocks[1]?.idHex}/0`, remaining: 2 }] }), { status: 200 })
  const timedOut = () => {
    throw new DOMException('The operation was aborted due to timeout', 'TimeoutError')
  }

  it('a consume whose answer was lost is asked again with the same request id, signed anew, and allowed', async () => {
    const { sent, fetcher } = scripted([timedOut, granted])
    const d = await verifierFor({ usage: createRemoteUsageStore({ url: 'http://svc', key: verifierKey, fetch: fetcher }) }).authorize({
      mandate: limited(),
      request: { action: 'x' },
      requestId: 'r-1',
    })
    expect(d.allowed).toBe(true)
    // the id counted names the request (spec §6 uses): derived from the caller's id and the request
    const counted = bareRequestId('r-1', { action: 'x', args: Object.create(null) })
    expect(sent.map((r) => r.body['requestId'])).toEqual([counted, counted])
    const inputs = sent.map((r) => r.headers.get('signature-input') as string)
    expect(inputs[0]).toContain(`keyid="${toDidKey(verifierKey.publicKey)}"`)
    expect(inputs[0]).toContain('alg="ed25519"')
    expect(inputs[0]).not.toBe(inputs[1]) // a fresh nonce: a signed request is good once
  })

  it('gives up after its retries and denies; a 4xx answer is not retried', async () => {
    const lost = scripted([timedOut, timedOut, timedOut])
    const d = await verifierFor({ usage: createRemoteUsageStore({ url: 'http://svc', key: verifierKey, fetch: lost.fetcher }) }).authorize({
      mandate: limited(),
      request: { action: 'x' },
    })
    expect(codeOf(d)).toBe('ERR_COUNTER_UNAVAILABLE')
    expect(lost.sent.length).toBe(3)
    const conflict = () => new Response(JSON.stringify({ error: { code: 'ERR_CONFLICT', message: 'other' } }), { status: 409 })
    const refusedOnce = scripted([conflict, granted])
    const c = await verifierFor({
      usage: createRemoteUsageStore({ url: 'http://svc', key: verifierKey, fetch: refusedOnce.fetcher }),
    }).authorize({ mandate: limited(), request: { action: 'x' } })
    expect(codeOf(c)).toBe('ERR_COUNTER_UNAVAILABLE')
    expect(refusedOnce.sent.length).toBe(1)
  })

  it('a refusal is reported as a configuration mistake, not an outage: denied, with a hint that says what to fix', async () => {
    const refusal = (status: number, code: string) => () =>
      new Response(JSON.stringify({ error: { code, message: 'refused' } }), { status, headers: { 'content-type': 'application/json' } })
    for (const [status, code, hint] of [
      [403, 'ERR_AUDIENCE', /registered this verifier's key under another name/],
      [401, 'ERR_AUTH_INVALID', /is its key registered there/],
      [403, 'ERR_NOT_AUTHORIZED', /retrying will not help/],
    ] as const) {
      const { fetcher, sent } = scripted([refusal(status, code)])
      const d = await verifierFor({ usage: createRemoteUsageStore({ url: 'http://svc', key: verifierKey, fetch: fetcher }) }).authorize({
        mandate: limited(),
        request: { action: 'x' },
      })
      expect(codeOf(d)).toBe('ERR_COUNTER_UNAVAILABLE')
      expect(d.allowed ? '' : d.hint).toMatch(hint)
      expect(sent.length).toBe(1)
    }
  })

  it('a client without a key is a programming error', () => {
    expect(() => createRemoteUsageStore({ url: 'http://svc' } as never)).toThrow(TypeError)
    expect(() => createRemoteReplayCache({ url: 'http://svc' } as never)).toThrow(TypeError)
  })
})

describe('the service clients check their key and URL when they are made', () => {
  // Each of them would otherwise fail at every request, later: a denial or a lost report
  // where the mistake was in the configuration.
  const clients = {
    'usage store': (o: { url?: unknown; key?: unknown }) => createRemoteUsageStore(o as never),
    'replay cache': (o: { url?: unknown; key?: unknown }) => createRemoteReplayCache(o as never),
    'decision reporter': (o: { url?: unknown; key?: unknown }) => createDecisionReporter(o as never),
  }
  const other = fixedKey('mallory')
  const KEY = '"key" expected the verifier\'s key pair (registered with the service)'
  const URL_ = '"url" expected the service\'s http(s) base URL'

  for (const [name, make] of Object.entries(clients)) {
    it(`${name}: a key that is not the verifier's key pair → TypeError or RangeError saying what is wrong`, () => {
      expect(thrownAs(() => make(undefined as never))).toEqual(['TypeError', KEY])
      expect(thrownAs(() => make({ url: 'http://svc', key: null }))).toEqual(['TypeError', KEY])
      expect(thrownAs(() => make({ url: 'http://svc', key: { secretKey: verifierKey.secretKey } }))).toEqual(['TypeError', KEY])
      expect(thrownAs(() => make({ url: 'http://svc', key: { publicKey: verifierKey.publicKey, secretKey: 'secret' } }))).toEqual([
        'TypeError',
        KEY,
      ])
      expect(thrownAs(() => make({ url: 'http://svc', key: { ...verifierKey, secretKey: verifierKey.secretKey.slice(1) } }))).toEqual([
        'RangeError',
        '"secretKey" expected 32 bytes, got 31',
      ])
      expect(thrownAs(() => make({ url: 'http://svc', key: { ...verifierKey, publicKey: verifierKey.publicKey.slice(1) } }))).toEqual([
        'RangeError',
        '"publicKey" expected 32 bytes, got 31',
      ])
      // Another key's public half: every signed request would be refused as someone else's.
      expect(thrownAs(() => make({ url: 'http://svc', key: { ...verifierKey, publicKey: other.publicKey } }))).toEqual([
        'RangeError',
        '"key" publicKey does not match its secretKey',
      ])
      expect(thrownAs(() => make({ url: 'http://svc', key: verifierKey }))).toBe('nothing')
    })

    it(`${name}: a URL that is not http(s) with a host → TypeError, the URL not echoed`, () => {
      for (const url of [
        undefined,
        42,
        '',
        '127.0.0.1:8787',
        'ftp://svc',
        'http://',
        'http:///v1',
        'http:// svc',
        'http://a b',
        'http://[::1',
      ]) {
        expect(thrownAs(() => make({ url, key: verifierKey }))).toEqual(['TypeError', URL_])
      }
      for (const url of ['http://svc', 'HTTPS://svc.example:8443/base/', 'http://127.0.0.1:8787///', 'http://[::1]:8787']) {
        expect(thrownAs(() => make({ url, key: verifierKey }))).toBe('nothing')
      }
      // Credentials: fetch would refuse them at every request, quoting the password; never echoed.
      for (const url of ['http://user:secret@svc', 'http://user@svc/', 'https://:secret@svc']) {
        expect(thrownAs(() => make({ url, key: verifierKey }))).toEqual([
          'TypeError',
          '"url" carries credentials (user@ or user:password@): give the service\'s URL without them',
        ])
      }
      for (const url of ['http://svc/?k=1', 'http://svc#top', 'http://svc/base?']) {
        expect(thrownAs(() => make({ url, key: verifierKey }))).toEqual([
          'TypeError',
          '"url" expected a base URL without a query or a fragment',
        ])
      }
    })
  }

  it('the revocation feed view: the same URL check', () => {
    const serviceKey = toDidKey(other.publicKey)
    for (const url of [undefined, 'svc:8787', 'file:///feed']) {
      expect(thrownAs(() => createFeedRevocationView({ url, serviceKey, push: false } as never))).toEqual(['TypeError', URL_])
    }
    const view = createFeedRevocationView({ url: 'http://svc//', serviceKey, push: false })
    expect(view.freshAt()).toBe(0)
  })
})

describe('replay store failures', () => {
  const inv = () =>
    invoke(rootGrant(), { key: assistant, action: 'a', audience: 'svc', now: T0 + 60, random: seededRandom(String(Math.random())) })

  it('an unreachable shared replay store denies with ERR_REPLAY_UNAVAILABLE', async () => {
    const d = await verifierFor({ replay: createRemoteReplayCache({ url: 'http://svc', key: verifierKey, fetch: refused }) }).authorize({
      invocation: inv(),
    })
    expect(codeOf(d)).toBe('ERR_REPLAY_UNAVAILABLE')
    const error = await verifierFor({
      replay: createRemoteReplayCache({ url: 'http://svc', key: verifierKey, fetch: answering(500, {}) }),
    }).authorize({
      invocation: inv(),
    })
    expect(codeOf(error)).toBe('ERR_REPLAY_UNAVAILABLE')
  })

  it('a claim whose answer was lost is not retried (a retry would look like a replay): denied', async () => {
    const claimed = () => new Response(JSON.stringify({ id: 'x', claimed: true }), { status: 200 })
    const { sent, fetcher } = scripted([
      () => {
        throw new TypeError('fetch failed')
      },
      claimed,
    ])
    const d = await verifierFor({ replay: createRemoteReplayCache({ url: 'http://svc', key: verifierKey, fetch: fetcher }) }).authorize({
      invocation: inv(),
    })
    expect(codeOf(d)).toBe('ERR_REPLAY_UNAVAILABLE')
    expect(sent.length).toBe(1)
  })

  it('a store that explains itself with a MandateError keeps its code and hint', async () => {
    const replay = {
      has: () => {
        throw new MandateError('ERR_REVOCATION_STALE', 'region offline', { hint: 'try the other region' })
      },
      claim: () => true,
      release: () => {},
    }
    const d = await verifierFor({ replay }).authorize({ invocation: inv() })
    expect(d.allowed ? 'allowed' : [d.code, d.hint]).toEqual(['ERR_REVOCATION_STALE', 'try the other region'])
  })
})

describe('feed state file and service errors', () => {
  it('an unreadable state file is refused, not taken as an empty view', () => {
    const path = join(mkdtempSync(join(tmpdir(), 'mandate-state-')), 'state.json')
    expect(fileFeedState(path).load()).toBeUndefined()
    writeFileSync(path, JSON.stringify({ seq: 'x', entries: [] }))
    expect(thrownCode(() => fileFeedState(path).load())).toBe('ERR_REVOCATION_LIST_INVALID')
    writeFileSync(path, '{"seq": 3, "iss')
    expect(thrownCode(() => fileFeedState(path).load())).toBe('ERR_REVOCATION_LIST_INVALID')
  })

  it('an unexpected failure answers 500 ERR_INTERNAL without its message', () => {
    const e = toServiceError(new Error('secret detail'))
    expect([e.status, e.code, e.message]).toEqual([500, 'ERR_INTERNAL', 'internal error'])
    expect(toServiceError(new MandateError('ERR_HOLDER_MISMATCH', 'no')).status).toBe(403)
  })
})
