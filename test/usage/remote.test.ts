/**
 * The remote usage store (src/usage/remote.ts) against a scripted service: the request it sends
 * (URL, body, signature), the answers it passes on, and how each failure to get a decision is
 * reported (code, message, hint) and retried.
 */
import { afterEach, describe, expect, it, vi } from 'vitest'
import { verifyRequestSignature } from '../../src/crypto/http-signature.js'
import { createRemoteUsageStore, type RemoteUsageOptions } from '../../src/usage/remote.js'
import type { ConsumeRequest, UsageCounter } from '../../src/usage/store.js'
import { fixedDid, fixedKey } from '../helpers/fixtures.js'
import { json, rejection, type Sent, scripted } from '../helpers/scripted-fetch.js'

const HINT = 'usage limits need a live counter; the request is denied until it answers (fail closed)'

function counter(key: string, max: number, per?: number): UsageCounter {
  return { key, blockId: key.split('/')[0] as string, block: 0, caveatIndex: 0, max, ...(per === undefined ? {} : { per }) }
}

/** A bearer mandate's bytes stand in for a presentation (CBOR array: `mnd1_`); the store only encodes them. */
function ask(counters: UsageCounter[] = [counter('a/0', 3)], presentation = new Uint8Array([1, 2, 3])): ConsumeRequest {
  return { requestId: 'req-1', counters, now: 100, presentation }
}

const refused = () => {
  throw new TypeError('fetch failed', { cause: { code: 'ECONNREFUSED' } })
}

function store(fetcher: typeof fetch, options: Partial<RemoteUsageOptions> = {}) {
  return createRemoteUsageStore({ url: 'http://svc', key: fixedKey('verifier'), fetch: fetcher, ...options })
}

/** The MandateError a promise rejects with; fails the test when it resolves or rejects otherwise. */
function thrownError(f: () => unknown): Error {
  try {
    f()
  } catch (e) {
    if (e instanceof Error) return e
  }
  throw new Error('expected an Error')
}

describe('remote usage store: the request', () => {
  it('posts the request id, the presentation as text and the counter keys to <url>/v1/usage/consume, signed by the verifier', async () => {
    const { sent, fetcher } = scripted([json(200, { granted: true, remaining: [] })])
    await store(fetcher).consume(ask([counter('a/0', 3), counter('b/1', 5, 60)]))
    expect(sent.length).toBe(1)
    const [r] = sent as [Sent]
    expect(r.url).toBe('http://svc/v1/usage/consume')
    expect(r.method).toBe('POST')
    expect(r.headers.get('content-type')).toBe('application/json')
    expect(r.body).toEqual({ requestId: 'req-1', presentation: 'mnd1_AQID', counters: ['a/0', 'b/1'] })
    const signed = verifyRequestSignature(
      { method: 'POST', url: r.url, header: (name) => r.headers.get(name) ?? undefined, body: r.bytes },
      { now: Math.floor(Date.now() / 1000) },
    )
    expect(signed.keyid).toBe(fixedDid('verifier'))
  })

  it('an invocation is sent in its own text form (mni1_)', async () => {
    const { sent, fetcher } = scripted([json(200, { granted: true, remaining: [] })])
    await store(fetcher).consume(ask(undefined, new Uint8Array([0x43, 1, 2, 3])))
    expect(sent[0]?.body['presentation']).toBe('mni1_QwECAw')
  })

  it('trailing slashes of the url are dropped; a base path is kept', async () => {
    for (const [url, expected] of [
      ['http://svc/', 'http://svc/v1/usage/consume'],
      ['http://svc///', 'http://svc/v1/usage/consume'],
      ['https://svc.example:8443/mandate//', 'https://svc.example:8443/mandate/v1/usage/consume'],
    ] as const) {
      const { sent, fetcher } = scripted([json(200, { granted: true, remaining: [] })])
      await store(fetcher, { url }).consume(ask())
      expect(sent[0]?.url).toBe(expected)
    }
  })

  it('uses the global fetch of the time of the call when none is given', async () => {
    const store = createRemoteUsageStore({ url: 'http://svc', key: fixedKey('verifier') })
    const { sent, fetcher } = scripted([json(200, { granted: true, remaining: [{ key: 'a/0', remaining: 2 }] })])
    vi.stubGlobal('fetch', fetcher)
    expect(await store.consume(ask())).toEqual({ granted: true, remaining: [{ key: 'a/0', remaining: 2 }] })
    expect(sent.map((r) => r.url)).toEqual(['http://svc/v1/usage/consume'])
  })

  afterEach(() => {
    vi.unstubAllGlobals()
  })
})

describe('remote usage store: answers', () => {
  it("passes the service's decision on as it is: granted with the remaining uses, or exhausted with the reset time", async () => {
    const grant = { granted: true, remaining: [{ key: 'a/0', remaining: 2 }] }
    const denial = { granted: false, exhausted: 'a/0', resetAt: 1_790_000_060 }
    const { fetcher } = scripted([json(200, grant), json(200, denial), json(200, { granted: false, exhausted: 'a/0' })])
    const s = store(fetcher)
    expect(await s.consume(ask())).toEqual(grant)
    expect(await s.consume(ask())).toEqual(denial)
    expect(await s.consume(ask())).toEqual({ granted: false, exhausted: 'a/0' })
  })

  it('a 2xx answer without a boolean "granted" → ERR_COUNTER_UNAVAILABLE "the usage service gave no decision", not retried', async () => {
    for (const body of [{ hello: 1 }, { granted: 'true', remaining: [] }, { granted: 1 }, { granted: null, exhausted: 'a/0' }]) {
      const { sent, fetcher } = scripted([json(200, body), json(200, { granted: true, remaining: [] })])
      const e = await rejection(store(fetcher).consume(ask()))
      expect(e.code).toBe('ERR_COUNTER_UNAVAILABLE')
      expect(e.message).toBe('the usage service gave no decision')
      expect(sent.length).toBe(1)
    }
  })

  it('an unreachable service → ERR_COUNTER_UNAVAILABLE naming the usage service and its URL, with the fail-closed hint', async () => {
    const { sent, fetcher } = scripted([refused])
    const e = await rejection(store(fetcher, { url: 'http://svc/', retries: 0 }).consume(ask()))
    expect(e.code).toBe('ERR_COUNTER_UNAVAILABLE')
    expect(e.message).toBe('the usage service at http://svc/v1/usage/consume cannot be reached (fetch failed: ECONNREFUSED)')
    expect(e.hint).toBe(HINT)
    expect(sent.length).toBe(1)
  })

  it('an error answer → ERR_COUNTER_UNAVAILABLE naming the status and the service error', async () => {
    const { fetcher } = scripted([json(500, { error: { code: 'ERR_INTERNAL', message: 'boom' } })])
    const e = await rejection(store(fetcher).consume(ask()))
    expect(e.code).toBe('ERR_COUNTER_UNAVAILABLE')
    expect(e.message).toBe('the usage service answered 500: ERR_INTERNAL boom')
    expect(e.hint).toBe(HINT)
  })

  it('an attempt that gets no answer within timeoutMs → ERR_COUNTER_UNAVAILABLE "did not answer within N ms"', async () => {
    const hanging = (async (_url: string, init: RequestInit) =>
      new Promise<Response>((_resolve, reject) => {
        init.signal?.addEventListener('abort', () => reject(init.signal?.reason))
      })) as unknown as typeof fetch
    const e = await rejection(store(hanging, { timeoutMs: 20, retries: 0 }).consume(ask()))
    expect(e.code).toBe('ERR_COUNTER_UNAVAILABLE')
    expect(e.message).toBe('the usage service at http://svc/v1/usage/consume did not answer within 20 ms (timed out)')
    expect(e.hint).toBe(HINT)
  })
})

describe('remote usage store: retries', () => {
  const granted = json(200, { granted: true, remaining: [{ key: 'a/0', remaining: 1 }] })
  const unavailable = json(503, { error: { code: 'ERR_STORAGE_UNAVAILABLE', message: 'disk' } })

  it('by default asks twice more when no answer came, with the same body, signed anew', async () => {
    const { sent, fetcher } = scripted([refused, unavailable, granted])
    expect(await store(fetcher).consume(ask())).toEqual({ granted: true, remaining: [{ key: 'a/0', remaining: 1 }] })
    expect(sent.length).toBe(3)
    expect(new Set(sent.map((r) => JSON.stringify(r.body))).size).toBe(1)
    expect(new Set(sent.map((r) => r.headers.get('signature'))).size).toBe(3)
  })

  it('retries: 0 asks once; retries: 1 asks twice, then reports the last failure', async () => {
    const once = scripted([unavailable, granted])
    const e = await rejection(store(once.fetcher, { retries: 0 }).consume(ask()))
    expect(e.message).toBe('the usage service answered 503: ERR_STORAGE_UNAVAILABLE disk')
    expect(once.sent.length).toBe(1)
    const twice = scripted([refused, unavailable, granted])
    const f = await rejection(store(twice.fetcher, { retries: 1 }).consume(ask()))
    expect(f.code).toBe('ERR_COUNTER_UNAVAILABLE')
    expect(f.message).toBe('the usage service answered 503: ERR_STORAGE_UNAVAILABLE disk')
    expect(twice.sent.length).toBe(2)
  })

  it('an answer other than 503 is final', async () => {
    const { sent, fetcher } = scripted([json(409, { error: { code: 'ERR_CONFLICT', message: 'other binding' } }), granted])
    const e = await rejection(store(fetcher).consume(ask()))
    expect(e.message).toBe('the usage service answered 409: ERR_CONFLICT other binding')
    expect(sent.length).toBe(1)
  })
})

describe('remote usage store: options', () => {
  it('without the verifier key pair → TypeError saying which key is needed', () => {
    const message = '"key" expected the verifier\'s key pair (registered with the service)'
    for (const options of [undefined, { url: 'http://svc' }, { url: 'http://svc', key: { publicKey: fixedKey('verifier').publicKey } }]) {
      const e = thrownError(() => createRemoteUsageStore(options as never))
      expect(e).toBeInstanceOf(TypeError)
      expect(e.message).toBe(message)
    }
  })

  it('a timeoutMs that is not a positive number of ms → RangeError naming "timeoutMs"', () => {
    for (const timeoutMs of [0, -1, Number.NaN, 2 ** 31]) {
      const e = thrownError(() => createRemoteUsageStore({ url: 'http://svc', key: fixedKey('verifier'), timeoutMs }))
      expect(e).toBeInstanceOf(RangeError)
      expect(e.message).toBe(`"timeoutMs" expected a positive number of milliseconds (at most 2147483647), got ${String(timeoutMs)}`)
    }
  })
})
