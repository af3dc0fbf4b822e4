/**
 * The in-process usage store (src/usage/memory.ts), called directly: what a caller sees when it
 * counts uses, when a window frees a use, how long answers are remembered for retries, and the
 * errors (code, message, hint) for a request it refuses.
 */
import { describe, expect, it } from 'vitest'
import { createMemoryUsageStore } from '../../src/usage/memory.js'
import type { ConsumeRequest, UsageCounter } from '../../src/usage/store.js'
import { caught, thrownCode } from '../helpers/fixtures.js'

function counter(key: string, max: number, per?: number): UsageCounter {
  return { key, blockId: key, block: 0, caveatIndex: 0, max, ...(per === undefined ? {} : { per }) }
}

function ask(requestId: string, counters: UsageCounter[], now = 100, presentation = new Uint8Array([1, 2, 3])): ConsumeRequest {
  return { requestId, counters, now, presentation }
}

describe('memory usage store: limits and windows', () => {
  it('a total limit grants exactly max uses, then denies without a reset time', () => {
    const s = createMemoryUsageStore()
    const c = counter('t/0', 2)
    expect(s.consume(ask('r1', [c]))).toEqual({ granted: true, remaining: [{ key: 't/0', remaining: 1 }] })
    expect(s.consume(ask('r2', [c], 1_000_000))).toEqual({ granted: true, remaining: [{ key: 't/0', remaining: 0 }] })
    expect(s.consume(ask('r3', [c], 9_000_000))).toEqual({ granted: false, exhausted: 't/0' })
    expect(s.used('t/0', 9_000_000)).toBe(2)
    expect(s.used('never/0', 100)).toBe(0)
    expect(s.used('never/0', 100, 10)).toBe(0)
  })

  it('a grant counts for exactly per seconds: denied one second before, granted at t + per', () => {
    const s = createMemoryUsageStore()
    const w = counter('w/0', 1, 10)
    expect(s.consume(ask('r1', [w], 100)).granted).toBe(true)
    expect(s.consume(ask('r2', [w], 109))).toEqual({ granted: false, exhausted: 'w/0', resetAt: 110 })
    expect(s.used('w/0', 109, 10)).toBe(1)
    expect(s.used('w/0', 110, 10)).toBe(0)
    expect(s.consume(ask('r3', [w], 110))).toEqual({ granted: true, remaining: [{ key: 'w/0', remaining: 0 }] })
  })

  it('resetAt names when the oldest of the max counted grants leaves the window', () => {
    const s = createMemoryUsageStore()
    const w = counter('w/0', 3, 60)
    for (const [id, t] of [
      ['a', 10],
      ['b', 20],
      ['c', 30],
    ] as const)
      s.consume(ask(id, [w], t))
    expect(s.consume(ask('d', [w], 50))).toEqual({ granted: false, exhausted: 'w/0', resetAt: 70 })
    expect(s.consume(ask('e', [w], 70))).toEqual({ granted: true, remaining: [{ key: 'w/0', remaining: 0 }] })
    expect(s.consume(ask('f', [w], 75))).toEqual({ granted: false, exhausted: 'w/0', resetAt: 80 })
  })

  it('a clock that steps back past an expired grant does not bring that grant back', () => {
    const s = createMemoryUsageStore()
    const w = counter('w/0', 2, 10)
    expect(s.consume(ask('a', [w], 100)).granted).toBe(true)
    expect(s.consume(ask('b', [w], 120)).granted).toBe(true) // the grant at 100 left the window
    // the clock steps back to 95: the grants at 120 and 95 count, the one at 100 stays gone
    expect(s.consume(ask('c', [w], 95))).toEqual({ granted: true, remaining: [{ key: 'w/0', remaining: 0 }] })
    expect(s.used('w/0', 104, 10)).toBe(2)
    expect(s.used('w/0', 105, 10)).toBe(1) // 95 ≤ 105 − 10: only 120 is left
    expect(s.consume(ask('d', [w], 106))).toEqual({ granted: true, remaining: [{ key: 'w/0', remaining: 0 }] })
    expect(s.consume(ask('e', [w], 107))).toEqual({ granted: false, exhausted: 'w/0', resetAt: 116 })
  })

  it('all or nothing: the first exhausted counter is named and the others are not charged', () => {
    const s = createMemoryUsageStore()
    const a = counter('a/0', 5)
    const one = counter('one/0', 1, 100)
    const two = counter('two/0', 1)
    s.consume(ask('r1', [one, two]))
    expect(s.consume(ask('r2', [a, one, two], 150))).toEqual({ granted: false, exhausted: 'one/0', resetAt: 200 })
    expect(s.consume(ask('r3', [a, two, one], 150))).toEqual({ granted: false, exhausted: 'two/0' })
    expect(s.used('a/0', 150)).toBe(0)
    expect(s.consume(ask('r4', [a], 150))).toEqual({ granted: true, remaining: [{ key: 'a/0', remaining: 4 }] })
  })
})

describe('memory usage store: remembered answers', () => {
  it('a retry gets the first answer even after the window moved, and counts nothing', () => {
    const s = createMemoryUsageStore()
    const w = counter('w/0', 1, 10)
    s.consume(ask('r1', [w], 100))
    const denied = s.consume(ask('r2', [w], 105))
    expect(denied).toEqual({ granted: false, exhausted: 'w/0', resetAt: 110 })
    expect(s.consume(ask('r2', [w], 500))).toBe(denied)
    expect(s.used('w/0', 500, 10)).toBe(0)
  })

  it('rememberAnswers: the last N answers are kept for retries; the one before is forgotten and counts anew', () => {
    const s = createMemoryUsageStore({ rememberAnswers: 2 })
    const c = counter('c/0', 10)
    const first = s.consume(ask('r1', [c]))
    const second = s.consume(ask('r2', [c]))
    expect(s.consume(ask('r1', [c]))).toBe(first) // two answers: both remembered
    expect(s.used('c/0', 100)).toBe(2)
    s.consume(ask('r3', [c])) // a third answer pushes out the oldest, r1
    expect(s.consume(ask('r2', [c]))).toBe(second)
    expect(s.used('c/0', 100)).toBe(3)
    const again = s.consume(ask('r1', [c]))
    expect(again).not.toBe(first)
    expect(again).toEqual({ granted: true, remaining: [{ key: 'c/0', remaining: 6 }] })
    expect(s.used('c/0', 100)).toBe(4)
  })

  it('a forgotten id is free again: another request under it is counted, not refused', () => {
    const s = createMemoryUsageStore({ rememberAnswers: 1 })
    const c = counter('c/0', 10)
    s.consume(ask('r1', [c]))
    expect(thrownCode(() => s.consume(ask('r1', [c], 100, new Uint8Array([9]))))).toBe('ERR_COUNTER_UNAVAILABLE')
    s.consume(ask('r2', [c]))
    expect(s.consume(ask('r1', [c], 100, new Uint8Array([9])))).toEqual({ granted: true, remaining: [{ key: 'c/0', remaining: 7 }] })
  })

  it('by default the last 10,000 answers are remembered', () => {
    const s = createMemoryUsageStore()
    const c = counter('c/0', 20_000)
    const first = s.consume(ask('r0', [c]))
    const second = s.consume(ask('r1', [c]))
    for (let i = 2; i < 10_000; i++) s.consume(ask(`r${i}`, [c]))
    expect(s.consume(ask('r0', [c]))).toBe(first) // exactly 10,000 answers: all remembered
    s.consume(ask('r10000', [c]))
    expect(s.used('c/0', 100)).toBe(10_001)
    expect(s.consume(ask('r1', [c]))).toBe(second)
    expect(s.consume(ask('r0', [c]))).toEqual({ granted: true, remaining: [{ key: 'c/0', remaining: 20_000 - 10_002 }] })
  })
})

describe('memory usage store: refused requests', () => {
  it('another request under a used id: ERR_COUNTER_UNAVAILABLE with a message and a hint that say what to do', () => {
    const s = createMemoryUsageStore()
    const c = counter('c/0', 3)
    s.consume(ask('job-1', [c]))
    const e = caught(() => s.consume(ask('job-1', [c], 100, new Uint8Array([7]))))
    expect(e.code).toBe('ERR_COUNTER_UNAVAILABLE')
    expect(e.message).toBe('request id "job-1" was used for another request')
    expect(e.hint).toBe('use a fresh request id for each request; a retry must present the same token for the same counters')
    expect(s.used('c/0', 100)).toBe(1)
  })

  it('the request id is quoted in the message, escaped, and cut to 80 characters', () => {
    const s = createMemoryUsageStore()
    const c = counter('c/0', 9)
    const reuse = (id: string) => {
      s.consume(ask(id, [c]))
      return caught(() => s.consume(ask(id, [c], 100, new Uint8Array([7])))).message
    }
    const fits = 'x'.repeat(78) // quoted: exactly 80 characters
    expect(reuse(fits)).toBe(`request id "${fits}" was used for another request`)
    const long = `${'y'.repeat(76)}zzz` // quoted: 81 characters
    expect(reuse(long)).toBe(`request id "${'y'.repeat(76)}…" was used for another request`)
    expect(reuse('a"b\nc')).toBe('request id "a\\"b\\nc" was used for another request')
  })

  it('a request without the presented bytes → ERR_REQUEST_INVALID, nothing counted', () => {
    const s = createMemoryUsageStore()
    const c = counter('c/0', 3)
    for (const presentation of [undefined, 'mnd1_AQID', [1, 2, 3]]) {
      const e = caught(() => s.consume({ requestId: 'r', counters: [c], now: 1, presentation } as unknown as ConsumeRequest))
      expect(e.code).toBe('ERR_REQUEST_INVALID')
      expect(e.message).toBe('a consume request needs the presented token bytes')
    }
    expect(s.used('c/0', 1)).toBe(0)
    expect(s.consume(ask('r', [c], 1)).granted).toBe(true) // the id was not spent
  })
})
