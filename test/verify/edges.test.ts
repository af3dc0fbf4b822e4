/**
 * Library edges (issue 7): a request given beside an invocation must be the one it signs; at
 * most 16 approvals; a failing or lying clock, revocation view, usage store, replay cache or
 * extension checker becomes a typed denial (never an exception, never an allow); the
 * in-memory usage store binds a request id to what it asked. Every denial consumes nothing.
 */
import { describe, expect, it } from 'vitest'
import type { Caveat } from '../../src/caveats/types.js'
import {
  approve,
  createMemoryUsageStore,
  createVerifier,
  type Decision,
  invoke,
  MandateError,
  type Request,
  type RevocationView,
  type UnverifiedInvocation,
} from '../../src/index.js'
import type { ConsumeRequest, UsageCounter, UsageStore } from '../../src/usage/store.js'
import { createMemoryReplayCache, type ReplayCache } from '../../src/verify/replay.js'
import { aliceDid, assistant, bearerChild, codeOf, denial, rootGrant, verifierFor } from '../helpers/chains.js'
import { keyFor, seededRandom, T0 } from '../helpers/fixtures.js'

const NOW = T0 + 60

/** The grant (bound to the assistant) with a uses counter, and an invocation of it. */
function limited(max = 5) {
  const grant = () =>
    rootGrant([
      { type: 'actions', patterns: ['*'] },
      { type: 'uses', max },
    ])
  const counter = () => `${grant().blocks[0]?.idHex}/1`
  const inv = (options: Partial<Parameters<typeof invoke>[1]> = {}, seed = 'inv') =>
    invoke(grant(), {
      key: assistant,
      action: 'mail:send',
      audience: 'svc',
      now: NOW,
      random: seededRandom(seed),
      ...options,
    } as Parameters<typeof invoke>[1])
  return { grant, counter, inv }
}

/** Never throws: a rejected promise fails the test here. */
async function decide(v: { authorize: (i: never) => Promise<Decision> }, input: unknown): Promise<Decision> {
  return v.authorize(input as never)
}

describe('a request given beside an invocation must match it in every field', () => {
  const { inv, counter } = limited()
  const signed = () =>
    inv({ resource: 'mail/42', args: { to: 'bob@example.com', cc: ['carol'], opts: { urgent: true, n: 2 } }, intent: 'reply to Bob' })
  const exact: Request & { intent?: string } = {
    action: 'mail:send',
    resource: 'mail/42',
    args: { to: 'bob@example.com', cc: ['carol'], opts: { urgent: true, n: 2 } },
    intent: 'reply to Bob',
  }

  it('the exact request (keys in any order, intent given or not) is allowed', async () => {
    expect(codeOf(await verifierFor().authorize({ invocation: signed(), request: exact }))).toBe('allowed')
    const reordered = {
      action: 'mail:send',
      resource: 'mail/42',
      args: { opts: { n: 2, urgent: true }, cc: ['carol'], to: 'bob@example.com' },
    }
    expect(codeOf(await verifierFor().authorize({ invocation: signed(), request: reordered }))).toBe('allowed')
    // no args given and none signed; an empty args object equals none
    expect(codeOf(await verifierFor().authorize({ invocation: inv(), request: { action: 'mail:send' } }))).toBe('allowed')
    expect(codeOf(await verifierFor().authorize({ invocation: inv(), request: { action: 'mail:send', args: {} } }))).toBe('allowed')
  })

  const cases: [string, Record<string, unknown>, string][] = [
    ['another action', { ...exact, action: 'mail:read' }, 'action'],
    ['no resource', { ...exact, resource: undefined }, 'resource'],
    ['another resource', { ...exact, resource: 'mail/43' }, 'resource'],
    ['no args', { ...exact, args: undefined }, 'args'],
    ['a changed top-level arg', { ...exact, args: { ...exact.args, to: 'eve@example.com' } }, 'args'],
    ['an extra arg', { ...exact, args: { ...exact.args, bcc: 'eve' } }, 'args'],
    ['a missing arg', { ...exact, args: { to: 'bob@example.com', cc: ['carol'] } }, 'args'],
    ['a nested difference', { ...exact, args: { ...exact.args, opts: { urgent: false, n: 2 } } }, 'args'],
    ['a list difference', { ...exact, args: { ...exact.args, cc: ['carol', 'eve'] } }, 'args'],
    ['a type difference (2 vs "2")', { ...exact, args: { ...exact.args, opts: { urgent: true, n: '2' } } }, 'args'],
    ['args as a list', { ...exact, args: [['to', 'bob@example.com']] }, 'args'],
    ['args that cannot be encoded', { ...exact, args: { ...exact.args, n: 1.5 } }, 'args'],
    ['another intent', { ...exact, intent: 'spam everyone' }, 'intent'],
  ]
  for (const [title, request, field] of cases) {
    it(`${title} → ERR_REQUEST_INVALID naming ${field}`, async () => {
      const d = denial(await decide(verifierFor(), { invocation: signed(), request }))
      expect(d.code).toBe('ERR_REQUEST_INVALID')
      expect(d.message).toBe(`the request differs from what the invocation signs: ${field}`)
    })
  }

  it('a resource given where the invocation signs none, or args where it signs none → ERR_REQUEST_INVALID', async () => {
    const bare = inv()
    const withResource = denial(await verifierFor().authorize({ invocation: bare, request: { action: 'mail:send', resource: 'x' } }))
    expect(withResource.message).toContain(': resource')
    const withArgs = denial(await verifierFor().authorize({ invocation: bare, request: { action: 'mail:send', args: { a: 1 } } }))
    expect(withArgs.message).toContain(': args')
  })

  it('a request that is not an object → ERR_REQUEST_INVALID', async () => {
    for (const request of [null, 42, 'mail:send', ['mail:send']]) {
      expect(codeOf(await decide(verifierFor(), { invocation: signed(), request }))).toBe('ERR_REQUEST_INVALID')
    }
  })

  it('a mismatch consumes nothing and leaves the invocation usable', async () => {
    const usage = createMemoryUsageStore()
    const v = verifierFor({ usage })
    const i = signed()
    expect(codeOf(await v.authorize({ invocation: i, request: { ...exact, action: 'mail:read' } }))).toBe('ERR_REQUEST_INVALID')
    expect(usage.used(counter(), NOW)).toBe(0)
    const ok = await v.authorize({ invocation: i, request: exact })
    expect(codeOf(ok)).toBe('allowed')
    if (ok.allowed) expect(ok.usage).toEqual([{ key: counter(), remaining: 4 }])
  })

  it('a bare mandate: args must be an object', async () => {
    const m = bearerChild([])
    expect(codeOf(await decide(verifierFor(), { mandate: m, request: { action: 'a', args: ['x'] } }))).toBe('ERR_REQUEST_INVALID')
    expect(codeOf(await decide(verifierFor(), { mandate: m, request: { action: 'a', args: 'abc' } }))).toBe('ERR_REQUEST_INVALID')
    expect(codeOf(await decide(verifierFor(), { mandate: m, request: { action: 'a', args: { x: [1, 'y'] } } }))).toBe('allowed')
  })
})

describe('at most 16 approvals per request', () => {
  const { inv, counter } = limited()
  const approvals = (invocation: UnverifiedInvocation, n: number) =>
    Array.from({ length: n }, (_, k) => approve({ approver: keyFor(`approver ${k}`), invocation, now: NOW }))

  it('16 are read (allowed); 17 → ERR_LIMIT_COUNT, consuming nothing', async () => {
    const usage = createMemoryUsageStore()
    const v = verifierFor({ usage })
    const i = inv()
    const d = denial(await v.authorize({ invocation: i, approvals: approvals(i, 17) }))
    expect(d.code).toBe('ERR_LIMIT_COUNT')
    expect(d.message).toContain('at most 16 approvals')
    expect(usage.used(counter(), NOW)).toBe(0)
    const ok = await v.authorize({ invocation: i, approvals: approvals(i, 16) })
    expect(codeOf(ok)).toBe('allowed')
    if (ok.allowed) expect(ok.approvals).toHaveLength(16)
  })

  it('10,000 junk approvals are refused unread, before any signature work', async () => {
    let touched = 0
    const junk = Array.from({ length: 10_000 }, () => ({
      get bytes() {
        touched++
        return new Uint8Array(10)
      },
    }))
    // a forged invocation (one bit of its signature, the first 64 bytes of its byte string):
    // were signatures checked first, the code would be a signature code
    const i = inv()
    const forged = new Uint8Array(i.bytes)
    const sigAt = forged.length - i.payload.length - 64
    forged[sigAt + 10] = (forged[sigAt + 10] as number) ^ 1
    expect(codeOf(await decide(verifierFor(), { invocation: forged }))).toBe('ERR_SIG_INVALID')
    const started = performance.now()
    const d = denial(await decide(verifierFor(), { invocation: forged, approvals: junk }))
    expect(d.code).toBe('ERR_LIMIT_COUNT')
    expect(touched).toBe(0)
    expect(performance.now() - started).toBeLessThan(500)
  })

  it('approvals that are not a list → ERR_REQUEST_INVALID', async () => {
    const i = inv()
    const one = approve({ approver: keyFor('bob'), invocation: i, now: NOW })
    for (const bad of [one, 'mna1_x', { length: 1, 0: one }, null, 42]) {
      expect(codeOf(await decide(verifierFor(), { invocation: i, approvals: bad }))).toBe('ERR_REQUEST_INVALID')
    }
    expect(codeOf(await decide(verifierFor(), { invocation: i, approvals: [] }))).toBe('allowed')
  })
})

describe('a throwing or lying clock → ERR_CLOCK_UNAVAILABLE', () => {
  const { inv, counter } = limited()
  const clocks: [string, () => unknown][] = [
    [
      'throws',
      () => {
        throw new Error('no time')
      },
    ],
    [
      'throws a MandateError',
      () => {
        throw new MandateError('ERR_INTERNAL', 'x')
      },
    ],
    ['NaN', () => Number.NaN],
    ['a fraction', () => NOW + 0.5],
    ['negative', () => -1],
    ['Infinity', () => Number.POSITIVE_INFINITY],
    ['beyond safe integers', () => 2 ** 53],
    ['a string', () => String(NOW)],
    ['undefined', () => undefined],
    ['a promise', () => Promise.resolve(NOW)],
    ['a bigint', () => BigInt(NOW)],
  ]
  for (const [title, clock] of clocks) {
    it(`${title}: denied, typed, nothing consumed`, async () => {
      const usage = createMemoryUsageStore()
      const v = createVerifier({ roots: [aliceDid], audience: 'svc', clock: clock as () => number, usage, revocations: 'none' })
      const d = denial(await v.authorize({ invocation: inv() }))
      expect(d.code).toBe('ERR_CLOCK_UNAVAILABLE')
      expect(Number.isSafeInteger(d.audit.at)).toBe(true)
      expect(usage.used(counter(), NOW)).toBe(0)
    })
  }

  it('0 is a whole number: the clock is read, and the token decides', async () => {
    const v = createVerifier({ roots: [aliceDid], audience: 'svc', clock: () => 0, revocations: 'none' })
    // Not ERR_CLOCK_UNAVAILABLE: at 1970 the token's blocks are issued in the future (§6 window).
    const d = denial(await v.authorize({ mandate: bearerChild([]), request: { action: 'a' } }))
    expect(d.code).toBe('ERR_TIME_INVALID')
    expect(d.block).toBe(0)
  })
})

describe('a failing or lying revocation view → ERR_REVOCATION_STALE', () => {
  const m = () => bearerChild([{ type: 'uses', max: 3 }])
  const counter = () => `${m().blocks[1]?.idHex}/0`
  const view = (freshAt: () => unknown, entries: (id: string) => unknown = () => undefined) =>
    ({ freshAt, entries }) as unknown as RevocationView
  const thrower = () => {
    throw new Error('down')
  }
  const mandateError = () => {
    throw new MandateError('ERR_REVOCATION_ROLLBACK', 'rewritten')
  }
  const fresh = () => NOW

  const stale: [string, RevocationView][] = [
    ['freshAt throws', view(thrower)],
    ['freshAt is a numeric string', view(() => '99999999999')],
    ['freshAt is NaN', view(() => Number.NaN)],
    ['freshAt is Infinity', view(() => Number.POSITIVE_INFINITY)],
    ['freshAt is a promise', view(() => Promise.resolve(NOW))],
    ['freshAt is undefined', view(() => undefined)],
    ['entries throws', view(fresh, thrower)],
    ['entries is a string', view(fresh, () => 'revoked')],
    ['entries is a number', view(fresh, () => 42)],
    ['entries is null', view(fresh, () => null)],
    ['entries is a promise', view(fresh, () => Promise.resolve([]))],
    ['an entry is null', view(fresh, () => [null])],
    ['an entry has an unknown kind', view(fresh, () => [{ kind: 'maybe', at: T0 }])],
    ['scoped actions are not a list', view(fresh, () => [{ kind: 'revoke', actions: 'a', at: T0 }])],
    ['scoped actions hold a non-string', view(fresh, () => [{ kind: 'revoke', actions: [7], at: T0 }])],
  ]
  for (const [title, revocations] of stale) {
    it(`${title}: denied, typed, nothing consumed`, async () => {
      const usage = createMemoryUsageStore()
      const d = denial(await verifierFor({ revocations, usage }).authorize({ mandate: m(), request: { action: 'a' } }))
      expect(d.code).toBe('ERR_REVOCATION_STALE')
      expect(usage.used(counter(), NOW)).toBe(0)
    })
  }

  it('a view that explains itself (a rewritten feed) denies with its own code, nothing consumed', async () => {
    const usage = createMemoryUsageStore()
    const d = denial(await verifierFor({ revocations: view(mandateError), usage }).authorize({ mandate: m(), request: { action: 'a' } }))
    expect(d.code).toBe('ERR_REVOCATION_ROLLBACK')
    expect(usage.used(counter(), NOW)).toBe(0)
  })

  it('well-formed answers still decide: none, an empty list, a revocation with odd extras', async () => {
    expect(codeOf(await verifierFor({ revocations: view(fresh) }).authorize({ mandate: m(), request: { action: 'a' } }))).toBe('allowed')
    expect(codeOf(await verifierFor({ revocations: view(fresh, () => []) }).authorize({ mandate: m(), request: { action: 'a' } }))).toBe(
      'allowed',
    )
    const odd = view(fresh, (id) => (id === m().blocks[1]?.idHex ? [{ kind: 'revoke', at: 'yesterday', by: 42, reason: {} }] : undefined))
    const d = denial(await verifierFor({ revocations: odd }).authorize({ mandate: m(), request: { action: 'a' } }))
    expect([d.code, d.block]).toEqual(['ERR_REVOKED', 1])
    const scoped = view(fresh, () => [{ kind: 'suspend', actions: ['b'], at: T0 }])
    expect(codeOf(await verifierFor({ revocations: scoped }).authorize({ mandate: m(), request: { action: 'a' } }))).toBe('allowed')
    expect(codeOf(await verifierFor({ revocations: scoped }).authorize({ mandate: m(), request: { action: 'b' } }))).toBe('ERR_SUSPENDED')
  })
})

describe('a failing or lying usage store → ERR_COUNTER_UNAVAILABLE', () => {
  const { inv, counter } = limited()
  const store = (consume: (r: ConsumeRequest) => unknown) => ({ consume }) as unknown as UsageStore
  const garbage: [string, UsageStore][] = [
    [
      'throws',
      store(() => {
        throw new Error('refused')
      }),
    ],
    ['rejects', store(() => Promise.reject(new Error('refused')))],
    ['returns undefined', store(() => undefined)],
    ['returns null', store(() => null)],
    ['returns a string', store(() => 'granted')],
    ['says granted: "yes"', store(() => ({ granted: 'yes' }))],
    ['says granted: "yes" with remaining', store(() => ({ granted: 'yes', remaining: [] }))],
    ['says granted: 1', store(() => ({ granted: 1, remaining: [] }))],
    ['grants without remaining', store(() => ({ granted: true }))],
    ['grants with remaining not a list', store(() => ({ granted: true, remaining: 'lots' }))],
    ['grants with a malformed remaining entry', store((r) => ({ granted: true, remaining: [{ key: r.counters[0]?.key }] }))],
    ['grants with a negative remaining', store((r) => ({ granted: true, remaining: [{ key: r.counters[0]?.key, remaining: -1 }] }))],
    ['grants with a null entry', store(() => ({ granted: true, remaining: [null] }))],
    ['refuses without naming the counter()', store(() => ({ granted: false }))],
    ['refuses with a bad resetAt', store((r) => ({ granted: false, exhausted: r.counters[0]?.key, resetAt: 'soon' }))],
    ['resolves to garbage', store(() => Promise.resolve({ granted: 'true', remaining: [] }))],
  ]
  for (const [title, usage] of garbage) {
    it(`${title}: denied, typed, and the replay claim released`, async () => {
      const replay = createMemoryReplayCache()
      const i = inv()
      const d = denial(await decide(verifierFor({ usage, replay }), { invocation: i }))
      expect(d.code).toBe('ERR_COUNTER_UNAVAILABLE')
      expect(d.hint).toContain('fail closed')
      expect(await replay.has(i.idHex, NOW)).toBe(false)
      // the same invocation then passes with a working store
      expect(codeOf(await verifierFor({ replay }).authorize({ invocation: i }))).toBe('allowed')
    })
  }

  it('a MandateError a store throws stands', async () => {
    const usage = store(() => {
      throw new MandateError('ERR_COUNTER_UNAVAILABLE', 'no usage counter() is configured', { hint: 'pass --service' })
    })
    const d = denial(await decide(verifierFor({ usage }), { invocation: inv() }))
    expect([d.code, d.message, d.hint]).toEqual(['ERR_COUNTER_UNAVAILABLE', 'no usage counter() is configured', 'pass --service'])
  })

  it('well-formed answers decide; only key and remaining reach the decision', async () => {
    const granted = store((r) => ({ granted: true, remaining: r.counters.map((c) => ({ key: c.key, remaining: 4, secret: 'x' })) }))
    const ok = await decide(verifierFor({ usage: granted }), { invocation: inv() })
    expect(ok.allowed && ok.usage).toEqual([{ key: counter(), remaining: 4 }])
    // What remains must be below the limit (5): an answer past it counted nothing asked.
    const past = store((r) => ({ granted: true, remaining: r.counters.map((c) => ({ key: c.key, remaining: 5 })) }))
    expect(denial(await decide(verifierFor({ usage: past }), { invocation: inv() })).code).toBe('ERR_COUNTER_UNAVAILABLE')
    const refused = store((r) => ({ granted: false, exhausted: r.counters[0]?.key, resetAt: null }))
    const d = denial(await decide(verifierFor({ usage: refused }), { invocation: inv() }))
    expect(d.code).toBe('ERR_USAGE_EXHAUSTED')
    expect(d.hint).toContain('does not reset')
  })
})

describe('a failing or lying replay cache → ERR_REPLAY_UNAVAILABLE', () => {
  const { inv, counter } = limited()
  const memory = createMemoryReplayCache()
  const cache = (overrides: Partial<Record<keyof ReplayCache, (...a: never[]) => unknown>>) =>
    ({
      has: () => false,
      claim: () => true,
      release: () => undefined,
      ...overrides,
    }) as unknown as ReplayCache
  const cases: [string, Partial<Record<keyof ReplayCache, (...a: never[]) => unknown>>][] = [
    [
      'has throws',
      {
        has: () => {
          throw new Error('down')
        },
      },
    ],
    ['has rejects', { has: () => Promise.reject(new Error('down')) }],
    ['has says "no"', { has: () => 'no' }],
    ['has says undefined', { has: () => undefined }],
    ['has says 0', { has: () => 0 }],
    [
      'claim throws',
      {
        claim: () => {
          throw new Error('down')
        },
      },
    ],
    ['claim says "true"', { claim: () => 'true' }],
    ['claim says 1', { claim: () => 1 }],
    ['claim says undefined', { claim: () => undefined }],
    ['claim resolves to null', { claim: () => Promise.resolve(null) }],
  ]
  for (const [title, overrides] of cases) {
    it(`${title}: denied, typed, nothing consumed, nothing released`, async () => {
      const usage = createMemoryUsageStore()
      let released = 0
      const replay = cache({
        ...overrides,
        release: () => {
          released++
        },
      })
      const d = denial(await decide(verifierFor({ usage, replay }), { invocation: inv() }))
      expect(d.code).toBe('ERR_REPLAY_UNAVAILABLE')
      expect(usage.used(counter(), NOW)).toBe(0)
      expect(released).toBe(0)
    })
  }

  it('false from claim is a replay', async () => {
    expect(codeOf(await decide(verifierFor({ replay: cache({ claim: () => false }) }), { invocation: inv() }))).toBe('ERR_REPLAY')
  })

  it('a release that throws or rejects after a refused consume: still a typed denial', async () => {
    const usage = { consume: () => ({ granted: false, exhausted: counter() }) } as unknown as UsageStore
    for (const release of [
      () => {
        throw new Error('down')
      },
      () => Promise.reject(new Error('down')),
    ]) {
      const d = denial(await decide(verifierFor({ usage, replay: cache({ release }) }), { invocation: inv() }))
      expect(d.code).toBe('ERR_USAGE_EXHAUSTED')
    }
  })

  it('the memory cache still works', async () => {
    const v = verifierFor({ replay: memory })
    const i = inv({}, 'memory')
    expect(codeOf(await v.authorize({ invocation: i }))).toBe('allowed')
    expect(codeOf(await v.authorize({ invocation: i }))).toBe('ERR_REPLAY')
  })
})

describe('a failing or lying extension checker → ERR_CAVEAT_DENIED', () => {
  const c: Caveat[] = [{ type: 'extension', code: 70000, body: 'eu-only' }]
  const m = () => bearerChild([...c, { type: 'uses', max: 3 }])
  const counter = () => `${m().blocks[1]?.idHex}/1`
  const checkers: [string, (...a: never[]) => unknown][] = [
    [
      'throws',
      () => {
        throw new Error('boom')
      },
    ],
    [
      'throws a MandateError',
      () => {
        throw new MandateError('ERR_INTERNAL', 'boom')
      },
    ],
    ['returns "yes"', () => 'yes'],
    ['returns 1', () => 1],
    ['returns a promise of true', () => Promise.resolve(true)],
    ['returns undefined', () => undefined],
  ]
  for (const [title, checker] of checkers) {
    it(`${title}: denied, typed, nothing consumed`, async () => {
      const usage = createMemoryUsageStore()
      const v = verifierFor({ usage, extensions: { 70000: checker as never } })
      const d = denial(await v.authorize({ mandate: m(), request: { action: 'a' } }))
      expect([d.code, d.caveat]).toEqual(['ERR_CAVEAT_DENIED', 'extension'])
      expect(usage.used(counter(), NOW)).toBe(0)
    })
  }
})

describe('createVerifier checks the shape of what is injected', () => {
  const base = { roots: [aliceDid], audience: 'svc', revocations: 'none' as const }
  it('throws TypeError naming the option', () => {
    expect(() => createVerifier({ ...base, clock: 5 as never })).toThrow(/"clock"/)
    expect(() => createVerifier({ ...base, usage: {} as never })).toThrow(/"usage" expected an object with consume\(\)/)
    expect(() => createVerifier({ ...base, usage: null as never })).toThrow(TypeError)
    expect(() => createVerifier({ ...base, revocations: { freshAt: () => 0 } as never })).toThrow(/"revocations"/)
    expect(() => createVerifier({ ...base, replay: { has: () => false, claim: () => true } as never })).toThrow(/"replay"/)
    expect(() => createVerifier({ ...base, extensions: { 70000: 'yes' as never } })).toThrow(/"extensions\[70000\]"/)
    expect(() => createVerifier({ ...base, replay: createMemoryReplayCache(), usage: createMemoryUsageStore() })).not.toThrow()
  })
})

describe('the in-memory usage store follows the service rules', () => {
  const counter = (key: string, max: number, per?: number): UsageCounter => ({
    key,
    blockId: key,
    block: 0,
    caveatIndex: 0,
    max,
    ...(per === undefined ? {} : { per }),
  })
  const a = counter('a/0', 3)
  const b = counter('b/0', 3)
  const token = new Uint8Array([1, 2, 3])
  const other = new Uint8Array([1, 2, 4])
  const ask = (requestId: string, counters: UsageCounter[], now = 100, presentation = token): ConsumeRequest => ({
    requestId,
    counters,
    now,
    presentation,
  })
  const code = (f: () => unknown) => {
    try {
      f()
      return 'ok'
    } catch (e) {
      return e instanceof MandateError ? `${e.code}: ${e.message}` : 'other'
    }
  }

  it('a retry (same id, presentation, counters in any order) gets the remembered answer and consumes nothing', () => {
    const s = createMemoryUsageStore()
    const first = s.consume(ask('r1', [a, b]))
    expect(first).toEqual({
      granted: true,
      remaining: [
        { key: 'a/0', remaining: 2 },
        { key: 'b/0', remaining: 2 },
      ],
    })
    expect(s.consume(ask('r1', [a, b]))).toBe(first)
    expect(s.consume(ask('r1', [b, a], 200))).toBe(first)
    expect([s.used('a/0', 100), s.used('b/0', 100)]).toEqual([1, 1])
  })

  it('another presentation under a used id → ERR_COUNTER_UNAVAILABLE, nothing consumed', () => {
    const s = createMemoryUsageStore()
    s.consume(ask('r1', [a]))
    expect(code(() => s.consume(ask('r1', [a], 100, other)))).toBe('ERR_COUNTER_UNAVAILABLE: request id "r1" was used for another request')
    expect(s.used('a/0', 100)).toBe(1)
  })

  it('another counter set under a used id (fewer, more, other) → ERR_COUNTER_UNAVAILABLE, nothing consumed', () => {
    const s = createMemoryUsageStore()
    s.consume(ask('r1', [a, b]))
    for (const counters of [[a], [a, b, counter('c/0', 3)], [counter('c/0', 3)]]) {
      expect(code(() => s.consume(ask('r1', counters)))).toMatch(/^ERR_COUNTER_UNAVAILABLE: request id "r1"/)
    }
    expect([s.used('a/0', 100), s.used('b/0', 100), s.used('c/0', 100)]).toEqual([1, 1, 0])
  })

  it('a remembered denial is bound too', () => {
    const s = createMemoryUsageStore()
    const one = counter('one/0', 1)
    s.consume(ask('r1', [one]))
    const refused = s.consume(ask('r2', [one]))
    expect(refused).toEqual({ granted: false, exhausted: 'one/0' })
    expect(s.consume(ask('r2', [one]))).toBe(refused)
    expect(code(() => s.consume(ask('r2', [a])))).toMatch(/^ERR_COUNTER_UNAVAILABLE/)
    expect(s.used('a/0', 100)).toBe(0)
  })

  it('a counter named twice → ERR_REQUEST_INVALID, nothing consumed, the id not spent', () => {
    const s = createMemoryUsageStore()
    expect(code(() => s.consume(ask('r1', [a, b, a])))).toBe('ERR_REQUEST_INVALID: counter a/0 appears twice in one consume request')
    expect([s.used('a/0', 100), s.used('b/0', 100)]).toEqual([0, 0])
    expect(s.consume(ask('r1', [a, b])).granted).toBe(true)
  })

  it('a request without the presented bytes → ERR_REQUEST_INVALID', () => {
    const s = createMemoryUsageStore()
    expect(code(() => s.consume({ requestId: 'r', counters: [a], now: 1 } as unknown as ConsumeRequest))).toMatch(/^ERR_REQUEST_INVALID/)
    expect(s.used('a/0', 1)).toBe(0)
  })

  it('all or nothing across counters', () => {
    const s = createMemoryUsageStore()
    const one = counter('one/0', 1)
    s.consume(ask('r1', [one]))
    expect(s.consume(ask('r2', [a, one]))).toEqual({ granted: false, exhausted: 'one/0' })
    expect(s.used('a/0', 100)).toBe(0)
  })

  it('exact sliding windows: a grant at t counts while t > now − per; resetAt names the next slot', () => {
    const s = createMemoryUsageStore()
    const w = counter('w/0', 2, 10)
    expect(s.consume(ask('1', [w], 0)).granted).toBe(true)
    expect(s.consume(ask('2', [w], 5)).granted).toBe(true)
    expect(s.consume(ask('3', [w], 9))).toEqual({ granted: false, exhausted: 'w/0', resetAt: 10 })
    expect(s.consume(ask('4', [w], 10)).granted).toBe(true) // the grant at 0 left the window
    expect(s.consume(ask('5', [w], 14))).toEqual({ granted: false, exhausted: 'w/0', resetAt: 15 })
    expect(s.used('w/0', 15, 10)).toBe(1)
  })

  it('a clock that steps back keeps the window exact', () => {
    const s = createMemoryUsageStore()
    const w = counter('w/0', 3, 10)
    s.consume(ask('1', [w], 10))
    s.consume(ask('2', [w], 5))
    expect(s.used('w/0', 15, 10)).toBe(1) // 5 left (5 ≤ 15 − 10), 10 stays
    expect(s.used('w/0', 20, 10)).toBe(0)
  })

  it('many uses: the cost does not grow with past uses', () => {
    const s = createMemoryUsageStore({ rememberAnswers: 10 })
    const w = counter('w/0', 1000, 100)
    const started = performance.now()
    let granted = 0
    for (let t = 0; t < 50_000; t++) if (s.consume(ask(`r${t}`, [w], Math.floor(t / 20))).granted) granted++
    // 20 asks per second against 1000 per 100 s: 10 per second are granted once the window is full
    expect(s.used('w/0', Math.floor(49_999 / 20), 100)).toBe(1000)
    expect(granted).toBe(1000 + (2500 - 100) * 10)
    expect(performance.now() - started).toBeLessThan(10_000)
  })

  it('through the verifier: a request id reused for another mandate → ERR_COUNTER_UNAVAILABLE, nothing consumed', async () => {
    const usage = createMemoryUsageStore()
    const v = verifierFor({ usage })
    const first = bearerChild([{ type: 'uses', max: 3 }])
    const second = bearerChild([{ type: 'uses', max: 4 }])
    expect(codeOf(await v.authorize({ mandate: first, request: { action: 'a' }, requestId: 'job-1' }))).toBe('allowed')
    const d = denial(await v.authorize({ mandate: second, request: { action: 'a' }, requestId: 'job-1' }))
    expect(d.code).toBe('ERR_COUNTER_UNAVAILABLE')
    expect(d.message).toContain('was used for another request')
    expect(usage.used(`${second.blocks[1]?.idHex}/0`, NOW)).toBe(0)
    expect(codeOf(await v.authorize({ mandate: second, request: { action: 'a' }, requestId: 'job-2' }))).toBe('allowed')
  })
})
