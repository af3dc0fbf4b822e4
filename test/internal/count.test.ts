/**
 * Whole-number options are checked where they are given (src/internal/count.ts), by every
 * public constructor that takes one: a NaN, a string or a fraction must be refused with the
 * option's name, never taken as a size that every `size >= max` comparison treats as false
 * (an unbounded cache, an unbounded queue, retries that never happen or never end).
 */
import { describe, expect, it } from 'vitest'
import {
  createDecisionReporter,
  createFeedRevocationView,
  createMemoryRevocationView,
  createMemoryUsageStore,
  createRemoteUsageStore,
  createVerifier,
} from '../../src/index.js'
import { countOption } from '../../src/internal/count.js'
import { aliceDid } from '../helpers/chains.js'
import { fixedDid, fixedKey, thrownAs } from '../helpers/fixtures.js'

describe('countOption', () => {
  it('the fallback when absent; the value when a whole number in range, both ends included', () => {
    expect(countOption(undefined, 7, 0, 10, 'n')).toBe(7)
    expect([0, 1, 10].map((v) => countOption(v, 7, 0, 10, 'n'))).toEqual([0, 1, 10])
  })

  it('refuses anything else, naming the option and the range', () => {
    const range = (v: string) => ['RangeError', `"n" expected a whole number from 1 to 10, got ${v}`]
    expect(thrownAs(() => countOption(0, 7, 1, 10, 'n'))).toEqual(range('0'))
    expect(thrownAs(() => countOption(11, 7, 1, 10, 'n'))).toEqual(range('11'))
    expect(thrownAs(() => countOption(2.5, 7, 1, 10, 'n'))).toEqual(range('2.5'))
    expect(thrownAs(() => countOption(Number.NaN, 7, 1, 10, 'n'))).toEqual(range('NaN'))
    expect(thrownAs(() => countOption(Number.POSITIVE_INFINITY, 7, 1, 10, 'n'))).toEqual(range('Infinity'))
    expect(thrownAs(() => countOption(2 ** 53, 7, 1, 2 ** 60, 'n'))).toEqual([
      'RangeError',
      `"n" expected a whole number from 1 to ${2 ** 60}, got ${2 ** 53}`,
    ])
    for (const [v, type] of [
      ['5', 'string'],
      [null, 'object'],
      [5n, 'bigint'],
      [true, 'boolean'],
    ] as const) {
      expect(thrownAs(() => countOption(v, 7, 1, 10, 'n'))).toEqual(['TypeError', `"n" expected a whole number, got ${type}`])
    }
  })
})

describe('the constructors check theirs', () => {
  const key = fixedKey('verifier')
  const verifier = (cacheSize: unknown) => () =>
    createVerifier({ roots: [aliceDid], audience: 'svc', revocations: createMemoryRevocationView(), cacheSize: cacheSize as number })

  it('createVerifier cacheSize: 0 to 1,000,000', () => {
    expect(thrownAs(verifier(Number.NaN))).toEqual(['RangeError', '"cacheSize" expected a whole number from 0 to 1000000, got NaN'])
    expect(thrownAs(verifier(-1))).toEqual(['RangeError', '"cacheSize" expected a whole number from 0 to 1000000, got -1'])
    expect(thrownAs(verifier(1_000_001))).toEqual(['RangeError', '"cacheSize" expected a whole number from 0 to 1000000, got 1000001'])
    expect(thrownAs(verifier('4096'))).toEqual(['TypeError', '"cacheSize" expected a whole number, got string'])
    expect([thrownAs(verifier(undefined)), thrownAs(verifier(0)), thrownAs(verifier(1_000_000))]).toEqual(['nothing', 'nothing', 'nothing'])
  })

  it('retries of the remote usage store and of the decision reporter: 0 to 4 (the waits grow threefold)', () => {
    for (const make of [
      (retries: unknown) => () => createRemoteUsageStore({ url: 'http://svc', key, retries: retries as number }),
      (retries: unknown) => () => createDecisionReporter({ url: 'http://svc', key, retries: retries as number }),
    ]) {
      expect(thrownAs(make(-1))).toEqual(['RangeError', '"retries" expected a whole number from 0 to 4, got -1'])
      expect(thrownAs(make(5))).toEqual(['RangeError', '"retries" expected a whole number from 0 to 4, got 5'])
      expect(thrownAs(make(Number.NaN))).toEqual(['RangeError', '"retries" expected a whole number from 0 to 4, got NaN'])
      expect([thrownAs(make(0)), thrownAs(make(4))]).toEqual(['nothing', 'nothing'])
    }
  })

  it('rememberAnswers of the memory usage store: 1 to 10,000,000 (none remembered would count a retry twice)', () => {
    const make = (rememberAnswers: unknown) => () => createMemoryUsageStore({ rememberAnswers: rememberAnswers as number })
    expect(thrownAs(make(0))).toEqual(['RangeError', '"rememberAnswers" expected a whole number from 1 to 10000000, got 0'])
    expect(thrownAs(make(Number.NaN))).toEqual(['RangeError', '"rememberAnswers" expected a whole number from 1 to 10000000, got NaN'])
    expect(thrownAs(make(1))).toBe('nothing')
  })

  it('pollMs of the feed view: a timer’s positive milliseconds', () => {
    const make = (pollMs: unknown) => () =>
      createFeedRevocationView({ url: 'http://svc', serviceKey: fixedDid('service'), push: false, pollMs: pollMs as number })
    for (const bad of [0, -5, Number.NaN, 2 ** 31]) {
      expect(thrownAs(make(bad))).toEqual([
        'RangeError',
        `"pollMs" expected a positive number of milliseconds (at most 2147483647), got ${String(bad)}`,
      ])
    }
    expect(thrownAs(make(250))).toBe('nothing')
  })
})
