/**
 * The two replay caches: the in-memory one (src/verify/replay.ts: a claim lives until its
 * expiry, then the id can be claimed again) and the service-backed one
 * (src/verify/remote-replay.ts, spec/service-v1.md §6.2): the signed request it sends, how it
 * reads the answer, and how every failure to get one denies with `ERR_REPLAY_UNAVAILABLE`.
 */
import { afterEach, describe, expect, it, vi } from 'vitest'
import { verifyRequestSignature } from '../../src/crypto/http-signature.js'
import { toText } from '../../src/token/text.js'
import { createRemoteReplayCache } from '../../src/verify/remote-replay.js'
import { createMemoryReplayCache } from '../../src/verify/replay.js'
import { fixedDid, fixedKey } from '../helpers/fixtures.js'
import { json, rejection, type Sent, scripted } from '../helpers/scripted-fetch.js'

const HINT = 'replay protection needs its store; denied until it answers (fail closed)'

/** An invocation's bytes stand in for one (CBOR tag byte 0x43): the cache only encodes them. */
const INVOCATION = () => new Uint8Array([0x43, 1, 2, 3])

function cache(fetcher: typeof fetch, url = 'http://svc') {
  return createRemoteReplayCache({ url, key: fixedKey('verifier'), fetch: fetcher })
}

describe('createMemoryReplayCache', () => {
  it('refuses a second claim while the first lives, and allows it again from its expiry on', () => {
    const replay = createMemoryReplayCache()
    expect(replay.has('id', 100)).toBe(false)
    expect(replay.claim('id', 200, 100, INVOCATION())).toBe(true)
    expect(replay.has('id', 100)).toBe(true)
    expect(replay.has('id', 199)).toBe(true)
    expect(replay.claim('id', 300, 199, INVOCATION())).toBe(false)
    // The claim lives until its expiry, exclusive.
    expect(replay.has('id', 200)).toBe(false)
    expect(replay.claim('id', 300, 200, INVOCATION())).toBe(true)
    expect(replay.claim('id', 400, 299, INVOCATION())).toBe(false)
  })

  it('keeps ids apart, and a released id can be claimed again at once', () => {
    const replay = createMemoryReplayCache()
    expect(replay.claim('a', 200, 100, INVOCATION())).toBe(true)
    expect(replay.claim('b', 200, 100, INVOCATION())).toBe(true)
    replay.release('a', INVOCATION())
    expect(replay.has('a', 100)).toBe(false)
    expect(replay.has('b', 100)).toBe(true)
    expect(replay.claim('a', 200, 100, INVOCATION())).toBe(true)
    expect(replay.claim('b', 200, 100, INVOCATION())).toBe(false)
  })

  it('a sweep of expired ids never drops a live claim', () => {
    const replay = createMemoryReplayCache()
    expect(replay.claim('old', 150, 100, INVOCATION())).toBe(true)
    expect(replay.claim('live', 10_000, 100, INVOCATION())).toBe(true)
    // Far enough on for a sweep: the expired id goes, the live one stays claimed.
    expect(replay.claim('other', 10_000, 1000, INVOCATION())).toBe(true)
    expect(replay.claim('live', 10_000, 1000, INVOCATION())).toBe(false)
    expect(replay.claim('old', 2000, 1000, INVOCATION())).toBe(true)
    expect(replay.claim('old', 2000, 1001, INVOCATION())).toBe(false)
  })
  it('drops expired ids (so memory stays bounded) once a minute at most, and no sooner', () => {
    const ids = new Set(['old', 'edge', 'a', 'b', 'c'])
    const dropped: unknown[] = []
    const spy = vi.spyOn(Map.prototype, 'delete')
    try {
      const replay = createMemoryReplayCache()
      expect(replay.claim('old', 150, 100, INVOCATION())).toBe(true)
      expect(replay.claim('edge', 160, 100, INVOCATION())).toBe(true)
      const seen = () => {
        for (const [id] of spy.mock.calls) if (ids.has(id as string)) dropped.push(id)
        spy.mockClear()
        return dropped.splice(0)
      }
      expect(seen()).toEqual([])
      // 'old' has expired, but the last sweep was less than a minute ago.
      expect(replay.claim('a', 1000, 155, INVOCATION())).toBe(true)
      expect(replay.claim('b', 1000, 159, INVOCATION())).toBe(true)
      expect(seen()).toEqual([])
      // A minute after the first sweep: every id expired by now goes, the live ones stay.
      expect(replay.claim('c', 1000, 160, INVOCATION())).toBe(true)
      expect(seen()).toEqual(['old', 'edge'])
      expect(replay.has('a', 160)).toBe(true)
    } finally {
      spy.mockRestore()
    }
  })
})

describe('createRemoteReplayCache', () => {
  afterEach(() => {
    vi.unstubAllGlobals()
  })

  it('claims with a signed POST /v1/replay/claim carrying the invocation as text, and passes the answer on', async () => {
    const { sent, fetcher } = scripted([json(200, { id: 'x', claimed: true }), json(200, { id: 'x', claimed: false })])
    const replay = cache(fetcher, 'http://svc//')
    expect(replay.has('x', 100)).toBe(false)
    expect(await replay.claim('x', 500, 100, INVOCATION())).toBe(true)
    expect(await replay.claim('x', 500, 100, INVOCATION())).toBe(false)
    const r = sent[0] as Sent
    expect(r.url).toBe('http://svc/v1/replay/claim')
    expect(r.method).toBe('POST')
    expect(r.headers.get('content-type')).toBe('application/json')
    expect(r.body).toEqual({ invocation: toText('invocation', INVOCATION()) })
    expect(r.body['invocation']).toBe('mni1_QwECAw')
    const signed = verifyRequestSignature(
      { method: 'POST', url: r.url, header: (name) => r.headers.get(name) ?? undefined, body: r.bytes },
      { now: Math.floor(Date.now() / 1000) },
    )
    expect(signed.keyid).toBe(fixedDid('verifier'))
  })

  it('keeps a path in the service URL, dropping only trailing slashes', async () => {
    const { sent, fetcher } = scripted([json(200, { id: 'x', claimed: true })])
    await cache(fetcher, 'https://edge.example/mandate/').claim('x', 500, 100, INVOCATION())
    expect(sent[0]?.url).toBe('https://edge.example/mandate/v1/replay/claim')
  })

  it('releases with a signed POST /v1/replay/release carrying the same body', async () => {
    const { sent, fetcher } = scripted([json(200, { id: 'x', released: true })])
    expect(await cache(fetcher).release('x', INVOCATION())).toBeUndefined()
    const r = sent[0] as Sent
    expect([r.url, r.method, r.body]).toEqual(['http://svc/v1/replay/release', 'POST', { invocation: 'mni1_QwECAw' }])
    const signed = verifyRequestSignature(
      { method: 'POST', url: r.url, header: (name) => r.headers.get(name) ?? undefined, body: r.bytes },
      { now: Math.floor(Date.now() / 1000) },
    )
    expect(signed.keyid).toBe(fixedDid('verifier'))
  })

  it('refuses an answer about another invocation, or about none', async () => {
    for (const body of [{ id: 'y', claimed: true }, { claimed: true }, { id: 'X', claimed: false }]) {
      const { fetcher } = scripted([json(200, body)])
      const e = await rejection(cache(fetcher).claim('x', 500, 100, INVOCATION()))
      expect([e.code, e.message]).toEqual(['ERR_REPLAY_UNAVAILABLE', 'the replay service answered for another invocation'])
    }
  })

  it('refuses an answer without a boolean "claimed" as no answer', async () => {
    for (const body of [{ id: 'x' }, { claimed: 'true' }, { claimed: 1 }, { claimed: null }]) {
      const { fetcher } = scripted([json(200, body)])
      const e = await rejection(cache(fetcher).claim('x', 500, 100, INVOCATION()))
      expect([e.code, e.message]).toEqual(['ERR_REPLAY_UNAVAILABLE', 'the replay service gave no answer'])
    }
  })

  it('an unreachable service: ERR_REPLAY_UNAVAILABLE naming the replay service, with the fail-closed hint, never retried', async () => {
    const { sent, fetcher } = scripted([
      () => {
        throw new TypeError('fetch failed', { cause: { code: 'ECONNREFUSED' } })
      },
      json(200, { claimed: true }),
    ])
    const e = await rejection(cache(fetcher).claim('x', 500, 100, INVOCATION()))
    expect([e.code, e.message, e.hint]).toEqual([
      'ERR_REPLAY_UNAVAILABLE',
      'the replay service at http://svc/v1/replay/claim cannot be reached (fetch failed: ECONNREFUSED)',
      HINT,
    ])
    expect(sent.length).toBe(1)
  })

  it('an error status, even 503, is final: the code, the status and the service’s error in the message', async () => {
    const { sent, fetcher } = scripted([json(503, { error: { code: 'ERR_UNAVAILABLE', message: 'busy' } }), json(200, { claimed: true })])
    const e = await rejection(cache(fetcher).claim('x', 500, 100, INVOCATION()))
    expect([e.code, e.message, e.hint]).toEqual(['ERR_REPLAY_UNAVAILABLE', 'the replay service answered 503: ERR_UNAVAILABLE busy', HINT])
    expect(sent.length).toBe(1)
    const release = scripted([json(500, {}), json(200, { released: true })])
    const r = await rejection(cache(release.fetcher).release('x', INVOCATION()))
    expect([r.code, r.message, r.hint]).toEqual(['ERR_REPLAY_UNAVAILABLE', 'the replay service answered 500', HINT])
    expect(release.sent.length).toBe(1)
  })

  it('uses the global fetch of the moment when none is given', async () => {
    const { sent, fetcher } = scripted([json(200, { id: 'x', claimed: true })])
    const replay = createRemoteReplayCache({ url: 'http://svc', key: fixedKey('verifier') })
    vi.stubGlobal('fetch', fetcher)
    expect(await replay.claim('x', 500, 100, INVOCATION())).toBe(true)
    expect(sent.map((s) => s.url)).toEqual(['http://svc/v1/replay/claim'])
  })

  it('refuses options without the verifier’s key pair, and a bad timeout, naming them', () => {
    const message = '"key" expected the verifier\'s key pair (registered with the service)'
    const thrown = (f: () => unknown) => {
      try {
        f()
      } catch (e) {
        return [(e as Error).constructor.name, (e as Error).message]
      }
      return 'no error'
    }
    expect(thrown(() => createRemoteReplayCache(undefined as never))).toEqual(['TypeError', message])
    expect(thrown(() => createRemoteReplayCache({ url: 'http://svc' } as never))).toEqual(['TypeError', message])
    expect(thrown(() => createRemoteReplayCache({ url: 'http://svc', key: {} } as never))).toEqual(['TypeError', message])
    expect(thrown(() => createRemoteReplayCache({ url: 'http://svc', key: fixedKey('verifier'), timeoutMs: 0 }))).toEqual([
      'RangeError',
      '"timeoutMs" expected a positive number of milliseconds (at most 2147483647), got 0',
    ])
  })
})
