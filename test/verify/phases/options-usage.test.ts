/**
 * What a person reads when a verifier is misconfigured or a store lets it down: each option's
 * TypeError/RangeError and both sides of its bounds (src/verify/options.ts), the store errors
 * (src/verify/stores.ts), and the replay and usage denials (src/verify/usage.ts).
 */
import { describe, expect, it } from 'vitest'
import type { DecodedCaveat } from '../../../src/caveats/types.js'
import { invoke } from '../../../src/index.js'
import { iso } from '../../../src/internal/clock.js'
import type { UnverifiedBlock } from '../../../src/token/block.js'
import type { UsageCounter } from '../../../src/usage/store.js'
import { type EvaluationContext, evaluateCaveats } from '../../../src/verify/evaluate.js'
import { readOptions } from '../../../src/verify/options.js'
import { dependency, isBoolean, isCount, REPLAY_STORE, USAGE_STORE } from '../../../src/verify/stores.js'
import { claimReplay, consumeUsage, isConsumeResult } from '../../../src/verify/usage.js'
import { aliceDid, assistant, rootGrant } from '../../helpers/chains.js'
import { caught, seededRandom, T0, thrownAs, thrownCode } from '../../helpers/fixtures.js'
import { rejection } from '../../helpers/scripted-fetch.js'

const NOW = T0 + 60
const base = () => ({ roots: [aliceDid], audience: 'svc', revocations: 'none' as const })
const inv = () => invoke(rootGrant(), { key: assistant, action: 'a', audience: 'svc', now: NOW, random: seededRandom('ou') })

describe('readOptions: refusals', () => {
  it('refuses options that are not an object', () => {
    const expected = ['TypeError', '"options" expected an object']
    expect(thrownAs(() => readOptions(undefined as never))).toEqual(expected)
    expect(thrownAs(() => readOptions(null as never))).toEqual(expected)
    expect(thrownAs(() => readOptions('svc' as never))).toEqual(expected)
  })

  it('refuses an audience that is not a non-empty string', () => {
    const expected = ['TypeError', '"audience" expected a non-empty string']
    expect(thrownAs(() => readOptions({ ...base(), audience: 5 as never }))).toEqual(expected)
    expect(thrownAs(() => readOptions({ ...base(), audience: '' }))).toEqual(expected)
    expect(readOptions({ ...base(), audience: 'x' }).audience).toBe('x')
  })

  it('holds each time option to its bounds, both sides, naming it', () => {
    const cases: [string, number, number][] = [
      ['skew', 0, 300],
      ['limits.maxLifetime', 1, 10 * 365 * 86400],
      ['limits.invocationMaxAge', 1, 86400],
      ['revocationMaxAge', 1, 86400],
    ]
    const at = (title: string, value: unknown) =>
      title === 'limits.maxLifetime'
        ? { limits: { maxLifetime: value } }
        : title === 'limits.invocationMaxAge'
          ? { limits: { invocationMaxAge: value } }
          : { [title]: value }
    for (const [title, min, max] of cases) {
      const options = (value: unknown) => ({ ...base(), ...at(title, value) }) as never
      expect(thrownAs(() => readOptions(options(min)))).toBe('nothing')
      expect(thrownAs(() => readOptions(options(max)))).toBe('nothing')
      const range = (v: number) => ['RangeError', `"${title}" expected a whole number from ${min} to ${max}, got ${v}`]
      expect(thrownAs(() => readOptions(options(min - 1)))).toEqual(range(min - 1))
      expect(thrownAs(() => readOptions(options(max + 1)))).toEqual(range(max + 1))
      expect(thrownAs(() => readOptions(options('5')))).toEqual(['TypeError', `"${title}" expected a whole number, got string`])
      expect(thrownAs(() => readOptions(options(1.5)))).toEqual(range(1.5))
      expect(thrownAs(() => readOptions(options(Number.NaN)))).toEqual(range(Number.NaN))
    }
    const s = readOptions({ ...base(), skew: 0, limits: { maxLifetime: 7, invocationMaxAge: 8 }, revocationMaxAge: 9 })
    expect([s.skew, s.maxLifetime, s.invocationMaxAge, s.revocationMaxAge]).toEqual([0, 7, 8, 9])
  })

  it('refuses an injected store without its methods, listing them; accepts an object or a function that has them', () => {
    const replayMessage = ['TypeError', '"replay" expected an object with has(), claim(), release()']
    expect(thrownAs(() => readOptions({ ...base(), replay: null as never }))).toEqual(replayMessage)
    expect(thrownAs(() => readOptions({ ...base(), replay: 'memory' as never }))).toEqual(replayMessage)
    expect(thrownAs(() => readOptions({ ...base(), replay: { has: () => false, claim: () => true } as never }))).toEqual(replayMessage)
    expect(thrownAs(() => readOptions({ ...base(), revocations: {} as never }))).toEqual([
      'TypeError',
      '"revocations" expected an object with freshAt(), entries()',
    ])
    const replay = { has: () => false, claim: () => true, release: () => {} }
    expect(readOptions({ ...base(), replay }).replay).toBe(replay)
    const usage = Object.assign(() => {}, { consume: () => ({ granted: true as const, remaining: [] }) })
    expect(readOptions({ ...base(), usage }).usage).toBe(usage)
  })

  it('the default signature cache holds 4096 signatures, evicting the oldest', () => {
    const { cache } = readOptions(base())
    for (let i = 0; i <= 4096; i++) cache.add(`k${i}`)
    expect([cache.has('k0'), cache.has('k1'), cache.has('k4096')]).toEqual([false, true, true])
  })
})

describe('stores: what a failing store reads as', () => {
  it('an unreachable store, and an unusable answer, each with the store’s code, words and hint', async () => {
    const down = new Error('connection reset')
    const r = await rejection(dependency(() => Promise.reject(down), isBoolean, REPLAY_STORE))
    expect([r.code, r.message, r.hint, r.cause]).toEqual([
      'ERR_REPLAY_UNAVAILABLE',
      'the replay store could not be reached',
      'replay protection needs its store; denied until it answers (fail closed)',
      down,
    ])
    const u = await rejection(dependency(() => 'lots', isCount, USAGE_STORE))
    expect([u.code, u.message, u.hint]).toEqual([
      'ERR_COUNTER_UNAVAILABLE',
      'the usage counter gave an unusable answer',
      'usage limits need a live counter; the request is denied until it is reachable (fail closed)',
    ])
    const g = await rejection(dependency(() => 'yes', isBoolean, REPLAY_STORE))
    expect(g.message).toBe('the replay store gave an unusable answer')
    const c = await rejection(dependency(() => Promise.reject(down), isCount, USAGE_STORE))
    expect(c.message).toBe('the usage counter could not be reached')
  })

  it('isBoolean takes exactly true and false; isCount whole safe numbers ≥ 0', async () => {
    expect([true, false, 'true', 1, null].map(isBoolean)).toEqual([true, true, false, false, false])
    expect([0, 7, Number.MAX_SAFE_INTEGER, -1, 1.5, 2 ** 53, '3', Number.NaN].map(isCount)).toEqual([
      true,
      true,
      true,
      false,
      false,
      false,
      false,
      false,
    ])
    expect(await dependency(() => false, isBoolean, REPLAY_STORE)).toBe(false)
    expect(await dependency(() => 0, isCount, USAGE_STORE)).toBe(0)
  })
})

describe('usage: replay and quota denials', () => {
  it('a lost claim denies ERR_REPLAY, telling the caller to sign a new invocation', async () => {
    const s = readOptions({ ...base(), replay: { has: () => false, claim: () => false, release: () => {} } })
    const e = await rejection(claimReplay(s, NOW, inv()))
    expect([e.code, e.message, e.hint]).toEqual([
      'ERR_REPLAY',
      'this invocation was already used',
      'sign a new invocation for each request',
    ])
  })

  it('does not call the counter when no caveat counts', async () => {
    let calls = 0
    const usage = {
      consume: () => {
        calls++
        return { granted: true as const, remaining: [{ key: 'extra', remaining: 1 }] }
      },
    }
    const s = readOptions({ ...base(), usage })
    expect(
      await consumeUsage(s, NOW, { matched: [], approvals: [], counters: [] }, undefined, { action: 'a', args: {} }, inv(), inv().bytes),
    ).toEqual([])
    expect(calls).toBe(0)
  })

  it('says which limit was reached: its max, its period, and when it resets', async () => {
    const counters: UsageCounter[] = [
      { key: 'b/1', blockId: 'b', block: 1, caveatIndex: 2, max: 5, per: 60 },
      { key: 'b/3', blockId: 'b', block: 1, caveatIndex: 3, max: 2 },
    ]
    const deny = async (answer: Record<string, unknown>) => {
      const s = readOptions({ ...base(), usage: { consume: () => answer as never } })
      return rejection(
        consumeUsage(s, NOW, { matched: [], approvals: [], counters }, undefined, { action: 'a', args: {} }, inv(), inv().bytes),
      )
    }
    const per = await deny({ granted: false, exhausted: 'b/1', resetAt: NOW + 30 })
    expect([per.code, per.message, per.hint, per.block, per.caveat, per.caveatIndex, per.details]).toEqual([
      'ERR_USAGE_EXHAUSTED',
      'usage limit of 5 per 60s reached',
      `quota spent; next use allowed at ${iso(NOW + 30)}`,
      1,
      'uses',
      2,
      { key: 'b/1', resetAt: NOW + 30, max: 5, per: 60 },
    ])
    const total = await deny({ granted: false, exhausted: 'b/3', resetAt: null })
    expect([total.message, total.hint, total.details]).toEqual([
      'usage limit of 2 reached',
      'quota spent; the quota does not reset',
      { key: 'b/3', max: 2 },
    ])
    // A counter nobody asked about: the store answered another question (spec/service-v1.md §6.1).
    const unknown = await deny({ granted: false, exhausted: 'elsewhere' })
    expect([unknown.code, unknown.message]).toEqual(['ERR_COUNTER_UNAVAILABLE', 'the usage counter gave an unusable answer'])
    // A grant names every counter asked, in the order asked, below its max.
    for (const remaining of [
      [
        { key: 'b/3', remaining: 1 },
        { key: 'b/1', remaining: 4 },
      ],
      [{ key: 'b/1', remaining: 4 }],
      [
        { key: 'b/1', remaining: 4 },
        { key: 'b/3', remaining: 2 },
      ],
      // another counter in the place of one asked, with a count that would fit it
      [
        { key: 'b/9', remaining: 4 },
        { key: 'b/3', remaining: 1 },
      ],
    ]) {
      expect((await deny({ granted: true, remaining })).code, JSON.stringify(remaining)).toBe('ERR_COUNTER_UNAVAILABLE')
    }
    const s = readOptions({
      ...base(),
      usage: {
        consume: () =>
          ({
            granted: true,
            remaining: [
              { key: 'b/1', remaining: 4 },
              { key: 'b/3', remaining: 1 },
            ],
          }) as never,
      },
    })
    expect(
      await consumeUsage(s, NOW, { matched: [], approvals: [], counters }, undefined, { action: 'a', args: {} }, inv(), inv().bytes),
    ).toEqual([
      { key: 'b/1', remaining: 4 },
      { key: 'b/3', remaining: 1 },
    ])
  })

  it('isConsumeResult refuses remaining entries out of shape, and a grant that is neither true nor false', () => {
    expect(isConsumeResult({ granted: true, remaining: [] })).toBe(true)
    expect(isConsumeResult({ granted: true, remaining: ['k'] })).toBe(false)
    expect(isConsumeResult({ granted: true, remaining: [null] })).toBe(false)
    expect(isConsumeResult({ granted: true, remaining: [{ key: 1, remaining: 0 }] })).toBe(false)
    expect(isConsumeResult({ granted: true, remaining: [{ remaining: 0 }] })).toBe(false)
    // Not an object, though it carries both fields.
    expect(isConsumeResult({ granted: true, remaining: [Object.assign(() => {}, { key: 'k', remaining: 0 })] })).toBe(false)
    expect(isConsumeResult({ granted: true })).toBe(false)
    expect(isConsumeResult({ granted: 'false', exhausted: 'k' })).toBe(false)
    expect(isConsumeResult({ granted: false })).toBe(false)
    expect(isConsumeResult({ granted: false, exhausted: 'k', resetAt: -1 })).toBe(false)
    expect(isConsumeResult(null)).toBe(false)
    expect(isConsumeResult('granted')).toBe(false)
  })
})

describe('evaluate: the root lifetime is measured to the earliest root expiry', () => {
  const root = (caveats: DecodedCaveat[]) =>
    [{ index: 0, caveats, bearer: false, issuedAt: T0, idHex: 'b0' }] as unknown as UnverifiedBlock[]
  const ctx = (chain: UnverifiedBlock[], maxLifetime: number): EvaluationContext => ({
    now: T0,
    skew: 0,
    maxLifetime,
    audience: 'svc',
    request: { action: 'a', args: {} },
    presentation: 'invocation',
    chain,
    extensions: new Map(),
  })

  it('whichever order the root windows come in', () => {
    const laterFirst = root([
      { type: 'window', expires: T0 + 2000 },
      { type: 'window', expires: T0 + 1000 },
    ])
    expect(thrownCode(() => evaluateCaveats(ctx(laterFirst, 1000)))).toBe('ok')
    const e = caught(() => evaluateCaveats(ctx(laterFirst, 999)))
    expect([e.code, e.message, e.block, e.caveat, e.caveatIndex]).toEqual([
      'ERR_TIME_INVALID',
      "root lifetime 1000s exceeds this verifier's maximum of 999s",
      0,
      'window',
      1,
    ])
  })

  it('two root windows ending together: the first is named', () => {
    const same = root([
      { type: 'window', expires: T0 + 1000 },
      { type: 'window', expires: T0 + 1000 },
    ])
    const e = caught(() => evaluateCaveats(ctx(same, 999)))
    expect([e.code, e.block, e.caveat, e.caveatIndex]).toEqual(['ERR_TIME_INVALID', 0, 'window', 0])
  })
})
