/** Phase: step 11, replay claim then usage (src/verify/usage.ts), and the store calls (stores.ts). */
import { describe, expect, it } from 'vitest'
import { invoke, MandateError } from '../../../src/index.js'
import { readOptions } from '../../../src/verify/options.js'
import { dependency, REPLAY_STORE } from '../../../src/verify/stores.js'
import { claimReplay, consumeUsage, isConsumeResult, releaseClaim } from '../../../src/verify/usage.js'
import { aliceDid, assistant, rootGrant } from '../../helpers/chains.js'
import { seededRandom, T0 } from '../../helpers/fixtures.js'

const NOW = T0 + 60
const settings = () => readOptions({ roots: [aliceDid], audience: 'svc', revocations: 'none' })
const inv = () => invoke(rootGrant(), { key: assistant, action: 'a', audience: 'svc', now: NOW, random: seededRandom('u') })
const codeOf = (p: Promise<unknown>) =>
  p.then(
    () => 'ok',
    (e: unknown) => (e instanceof MandateError ? e.code : Promise.reject(e)),
  )

describe('claimReplay', () => {
  it('claims an invocation once, releases it, and has nothing to claim for a bare mandate', async () => {
    const s = readOptions({ roots: [aliceDid], audience: 'svc', revocations: 'none' })
    expect(await claimReplay(s, NOW, undefined)).toBeUndefined()
    const i = inv()
    expect(await claimReplay(s, NOW, i)).toBe(i)
    expect(await codeOf(claimReplay(s, NOW, inv()))).toBe('ERR_REPLAY')
    await releaseClaim(s, i)
    expect(await claimReplay(s, NOW, i)).toBe(i)
  })

  it('keeps the id through issued_at + max_age + skew', async () => {
    let until = 0
    const replay = {
      has: () => false,
      claim: (_id: string, u: number) => {
        until = u
        return true
      },
      release: () => {},
    }
    await claimReplay(readOptions({ roots: [aliceDid], audience: 'svc', revocations: 'none', replay }), NOW, inv())
    expect(until).toBe(inv().issuedAt + 300 + 60 + 1)
  })
})

describe('consumeUsage', () => {
  const evaluation = { matched: [], approvals: [], counters: [{ key: 'b/1', blockId: 'b', block: 0, caveatIndex: 1, max: 2 }] }
  it('consumes nothing when no caveat counts', async () => {
    const none = { matched: [], approvals: [], counters: [] }
    expect(await consumeUsage(settings(), NOW, none, undefined, { action: 'a', args: {} }, inv(), inv().bytes)).toEqual([])
  })

  it('counts by the invocation id, or a request id derived from the caller’s', async () => {
    const ids: string[] = []
    const usage = {
      consume: (r: { requestId: string }) => {
        ids.push(r.requestId)
        return { granted: true as const, remaining: [{ key: 'b/1', remaining: 1 }] }
      },
    }
    const s = readOptions({ roots: [aliceDid], audience: 'svc', revocations: 'none', usage: usage as never })
    expect(await consumeUsage(s, NOW, evaluation, undefined, { action: 'a', args: {} }, inv(), inv().bytes)).toEqual([
      { key: 'b/1', remaining: 1 },
    ])
    await consumeUsage(s, NOW, evaluation, 'r1', { action: 'a', args: {} }, undefined, inv().bytes)
    await consumeUsage(s, NOW, evaluation, 'r1', { action: 'a', args: {} }, undefined, inv().bytes)
    expect(ids[0]).toBe(inv().idHex)
    expect(ids[1]).toBe(ids[2])
    expect(ids[1]).not.toBe('r1')
  })

  it('denies a spent counter at its caveat, a garbled answer as the counter being unavailable', async () => {
    const spent = readOptions({
      roots: [aliceDid],
      audience: 'svc',
      revocations: 'none',
      usage: { consume: () => ({ granted: false, exhausted: 'b/1', resetAt: NOW + 5 }) },
    })
    const e = (await consumeUsage(spent, NOW, evaluation, undefined, { action: 'a', args: {} }, inv(), inv().bytes).then(
      () => undefined,
      (x: unknown) => x,
    )) as MandateError
    expect([e.code, e.block, e.caveat, e.caveatIndex, e.details]).toEqual([
      'ERR_USAGE_EXHAUSTED',
      0,
      'uses',
      1,
      { key: 'b/1', resetAt: NOW + 5, max: 2 },
    ])
    const garbled = readOptions({
      roots: [aliceDid],
      audience: 'svc',
      revocations: 'none',
      usage: { consume: () => ({ granted: 'yes' }) as never },
    })
    expect(await codeOf(consumeUsage(garbled, NOW, evaluation, undefined, { action: 'a', args: {} }, inv(), inv().bytes))).toBe(
      'ERR_COUNTER_UNAVAILABLE',
    )
  })

  it('isConsumeResult accepts exactly the two shapes', () => {
    expect(isConsumeResult({ granted: true, remaining: [{ key: 'k', remaining: 0 }] })).toBe(true)
    expect(isConsumeResult({ granted: false, exhausted: 'k' })).toBe(true)
    expect(isConsumeResult({ granted: false, exhausted: 'k', resetAt: null })).toBe(true)
    expect(isConsumeResult({ granted: true, remaining: [{ key: 'k', remaining: -1 }] })).toBe(false)
    expect(isConsumeResult({ granted: false, exhausted: 'k', resetAt: 1.5 })).toBe(false)
    expect(isConsumeResult({ granted: 1 })).toBe(false)
  })
})

describe('dependency', () => {
  it('lets a MandateError through, turns anything else into the store’s code', async () => {
    const isTrue = (v: unknown): v is true => v === true
    expect(await dependency(() => true, isTrue, REPLAY_STORE)).toBe(true)
    expect(await codeOf(dependency(() => 'yes', isTrue, REPLAY_STORE))).toBe('ERR_REPLAY_UNAVAILABLE')
    expect(await codeOf(dependency(() => Promise.reject(new Error('down')), isTrue, REPLAY_STORE))).toBe('ERR_REPLAY_UNAVAILABLE')
    const own = new MandateError('ERR_COUNTER_UNAVAILABLE', 'no service configured')
    expect(await codeOf(dependency(() => Promise.reject(own), isTrue, REPLAY_STORE))).toBe('ERR_COUNTER_UNAVAILABLE')
  })
})
