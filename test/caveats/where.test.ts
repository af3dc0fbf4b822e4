/**
 * `where` rules (spec §6.8): each operator on both sides of its comparison, on the wrong kind
 * of argument or operand, and on a missing argument (a rule can only narrow); structural,
 * type-strict equality of argument values; the readable form hints show.
 */
import { describe, expect, it } from 'vitest'
import type { Args, ArgValue, WhereOp } from '../../src/caveats/types.js'
import { describeRule, ruleHolds, sameValue } from '../../src/caveats/where.js'

const holds = (op: WhereOp, value: ArgValue, arg: ArgValue): boolean => ruleHolds({ path: 'a', op, value }, { a: arg })

describe('ruleHolds', () => {
  it('fails on a missing argument for every operator, including ne and not_in', () => {
    const operands: Record<WhereOp, ArgValue> = { eq: 1, ne: 1, lt: 1, le: 1, gt: 1, ge: 1, in: [1], not_in: [1], prefix: 'a', glob: '*' }
    for (const op of Object.keys(operands) as WhereOp[]) {
      expect(ruleHolds({ path: 'b', op, value: operands[op] }, { a: 1 })).toBe(false)
      expect(ruleHolds({ path: 'a.b', op, value: operands[op] }, { a: 1 })).toBe(false)
    }
  })

  it('reads a nested argument by its dotted path', () => {
    const args: Args = { to: { account: 'acct/1', tags: ['x', 'y'] } }
    expect(ruleHolds({ path: 'to.account', op: 'eq', value: 'acct/1' }, args)).toBe(true)
    expect(ruleHolds({ path: 'to.tags.1', op: 'eq', value: 'y' }, args)).toBe(true)
    expect(ruleHolds({ path: 'to.tags.1', op: 'eq', value: 'x' }, args)).toBe(false)
  })

  it('eq and ne are type-strict structural (in)equality', () => {
    expect(holds('eq', 1, 1)).toBe(true)
    expect(holds('eq', '1', 1)).toBe(false)
    expect(holds('eq', [1, { b: true }], [1, { b: true }])).toBe(true)
    expect(holds('ne', 1, 1)).toBe(false)
    expect(holds('ne', '1', 1)).toBe(true)
    expect(holds('ne', [1], [1, 2])).toBe(true)
  })

  it('lt, le, gt, ge on both sides of the operand', () => {
    const table: [WhereOp, boolean, boolean, boolean][] = [
      // op, arg = 9, arg = 10, arg = 11 (operand 10)
      ['lt', true, false, false],
      ['le', true, true, false],
      ['gt', false, false, true],
      ['ge', false, true, true],
    ]
    for (const [op, below, at, above] of table) {
      expect([holds(op, 10, 9), holds(op, 10, 10), holds(op, 10, 11)]).toEqual([below, at, above])
    }
  })

  it('lt, le, gt, ge compare integers only (no string coercion)', () => {
    for (const op of ['lt', 'le', 'gt', 'ge'] as const) {
      // '10' would coerce to 10 and satisfy every one of the comparisons against 10 or 9/11
      const operand = op === 'lt' ? 11 : op === 'gt' ? 9 : 10
      expect(holds(op, operand, '10')).toBe(false)
      expect(holds(op, String(operand), 10)).toBe(false)
      expect(holds(op, operand, 10)).toBe(true)
    }
  })

  it('in and not_in look the argument up in the operand list', () => {
    expect(holds('in', [1, 'x', [2]], 'x')).toBe(true)
    expect(holds('in', [1, 'x', [2]], [2])).toBe(true)
    expect(holds('in', [1, 'x'], 2)).toBe(false)
    expect(holds('in', [1, 'x'], '1')).toBe(false)
    expect(holds('not_in', [1, 'x'], 2)).toBe(true)
    expect(holds('not_in', [1, 'x'], 'x')).toBe(false)
    expect(holds('not_in', [1, 'x', 3], 3)).toBe(false)
  })

  it('in and not_in with an operand that is not a list never hold', () => {
    expect(holds('in', 'abc', 'a')).toBe(false)
    expect(holds('not_in', 'abc', 'z')).toBe(false)
  })

  it('prefix holds on a string argument that starts with the operand', () => {
    expect(holds('prefix', 'ab', 'abc')).toBe(true)
    expect(holds('prefix', 'ab', 'ab')).toBe(true)
    expect(holds('prefix', 'ab', 'xab')).toBe(false)
    expect(holds('prefix', '1', 12)).toBe(false)
    expect(holds('prefix', 1, '1a')).toBe(false)
  })

  it('glob holds on a string argument the resource glob matches', () => {
    expect(holds('glob', 'acct/*', 'acct/1')).toBe(true)
    expect(holds('glob', 'acct/*', 'acct/1/2')).toBe(false)
    expect(holds('glob', 'acct/**', 'acct/1/2')).toBe(true)
    expect(holds('glob', '*', 5)).toBe(false)
    expect(holds('glob', ['*'], 'a')).toBe(false)
  })
})

describe('ruleHolds: glob on arguments', () => {
  it('places the chunks of a segment wildcard left to right, without overlap', () => {
    expect(holds('glob', 'a*b*c', 'axbyc')).toBe(true)
    expect(holds('glob', 'ab*ba', 'aba')).toBe(false)
    expect(holds('glob', '*ab*ab*', 'xaby')).toBe(false)
    expect(holds('glob', '*ab*ab*', 'abab')).toBe(true)
    expect(holds('glob', 'a**b', 'ab')).toBe(true)
    expect(holds('glob', 'a**b', 'a')).toBe(false)
  })

  it('places the runs between ** segments left to right, without overlap', () => {
    expect(holds('glob', '**/x/**/x/**', 'x')).toBe(false)
    expect(holds('glob', '**/x/**/x/**', 'x/x')).toBe(true)
    expect(holds('glob', '**/x/y/**/y/**', 'x/y')).toBe(false)
    expect(holds('glob', '**/x/y/**/y/**', 'x/y/y')).toBe(true)
  })

  it('refuses an argument longer than 1024 UTF-8 bytes, counting 3 bytes from U+0800 and 4 per astral character', () => {
    expect(holds('glob', '*', '\u0800'.repeat(341))).toBe(true)
    expect(holds('glob', '*', '\u0800'.repeat(342))).toBe(false)
    expect(holds('glob', '*', '\u07ff'.repeat(512))).toBe(true)
    expect(holds('glob', '*', `${'\u07ff'.repeat(512)}a`)).toBe(false)
    expect(holds('glob', '*', '\u{10000}'.repeat(256))).toBe(true)
    expect(holds('glob', '*', `${'\u{10000}'.repeat(256)}a`)).toBe(false)
    expect(holds('glob', '*', '\u{10ffff}'.repeat(256))).toBe(true)
    expect(holds('glob', '*', `${'\u{10ffff}'.repeat(256)}a`)).toBe(false)
  })
})

describe('ruleHolds: paths', () => {
  it('finds only own properties of the arguments, never inherited ones', () => {
    expect(ruleHolds({ path: 'toString', op: 'ne', value: 1 }, { a: 1 })).toBe(false)
    expect(ruleHolds({ path: 'constructor.name', op: 'eq', value: 'Object' }, { a: 1 })).toBe(false)
    expect(ruleHolds({ path: 'a.length', op: 'eq', value: 2 }, { a: 'xy' })).toBe(false)
  })

  it('indexes a list by at most six decimal digits', () => {
    const big: ArgValue[] = new Array(1_000_001).fill(0)
    big[999_999] = 6
    big[1_000_000] = 7
    expect(ruleHolds({ path: 'a.999999', op: 'eq', value: 6 }, { a: big })).toBe(true)
    expect(ruleHolds({ path: 'a.1000000', op: 'eq', value: 7 }, { a: big })).toBe(false)
    expect(ruleHolds({ path: 'a.01', op: 'eq', value: 0 }, { a: big })).toBe(false)
  })
})

describe('sameValue', () => {
  it('compares primitives strictly', () => {
    expect(sameValue(1, 1)).toBe(true)
    expect(sameValue(1, '1')).toBe(false)
    expect(sameValue(true, true)).toBe(true)
    expect(sameValue(true, 1)).toBe(false)
    expect(sameValue('a', 'b')).toBe(false)
  })

  it('never equates an object or list with a primitive', () => {
    expect(sameValue({}, 1)).toBe(false)
    expect(sameValue(1, {})).toBe(false)
    expect(sameValue([], 'x')).toBe(false)
    expect(sameValue('', [])).toBe(false)
  })

  it('never equates a list with an object', () => {
    expect(sameValue([], {})).toBe(false)
    expect(sameValue({}, [])).toBe(false)
    expect(sameValue(['x'], { 0: 'x' })).toBe(false)
    expect(sameValue({ 0: 'x' }, ['x'])).toBe(false)
  })

  it('compares lists element by element, in order and length', () => {
    expect(sameValue([1, [2, 'x']], [1, [2, 'x']])).toBe(true)
    expect(sameValue([], [])).toBe(true)
    expect(sameValue([1, 2], [2, 1])).toBe(false)
    expect(sameValue([1], [1, 2])).toBe(false)
    expect(sameValue([1, 2], [1])).toBe(false)
    expect(sameValue([1, 2], [1, 3])).toBe(false)
  })

  it('compares objects key by key, whatever their order', () => {
    expect(sameValue({ a: 1, b: { c: [1] } }, { b: { c: [1] }, a: 1 })).toBe(true)
    expect(sameValue({}, {})).toBe(true)
    expect(sameValue({ a: 1 }, { a: 2 })).toBe(false)
    expect(sameValue({ a: 1 }, { b: 1 })).toBe(false)
    expect(sameValue({ a: 1 }, { a: 1, b: 2 })).toBe(false)
    expect(sameValue({ a: 1, b: 2 }, { a: 1 })).toBe(false)
    expect(sameValue({ a: { c: 1 } }, { a: { c: 2 } })).toBe(false)
    expect(sameValue({ a: 1, b: 2 }, { a: 1, b: 3 })).toBe(false)
  })

  it('ignores inherited properties', () => {
    const inherited = Object.assign(Object.create({ a: 1 }) as Record<string, ArgValue>, { b: 1 })
    expect(sameValue({ a: 1 }, inherited)).toBe(false)
  })
})

describe('describeRule', () => {
  it('writes path, operator and the JSON operand', () => {
    expect(describeRule({ path: 'amount', op: 'le', value: 100 })).toBe('amount le 100')
    expect(describeRule({ path: 'to.account', op: 'glob', value: 'acct/*' })).toBe('to.account glob "acct/*"')
    expect(describeRule({ path: 'tag', op: 'not_in', value: ['a', 1] })).toBe('tag not_in ["a",1]')
  })
})
