/**
 * Caveats on the wire (spec §6.1): what `encodeCaveat` writes and refuses (with which code,
 * message and attribution), and what `decodeCaveat` makes of every malformed frame or body
 * (an `invalid` caveat with the exact reason, never an exception).
 */
import { describe, expect, it } from 'vitest'
import { decodeArgs } from '../../src/caveats/args.js'
import { caveatName, decodeCaveat, encodeCaveat } from '../../src/caveats/codec.js'
import type { Caveat } from '../../src/caveats/types.js'
import type { CborValue } from '../../src/cbor/codec.js'
import { MandateError } from '../../src/errors.js'
import { fixedDid, fixedKey, thrownCode } from '../helpers/fixtures.js'

const MAX_TIME = 2 ** 53 - 1

/** The MandateError `encodeCaveat` throws for `c` (fails the test if it does not throw one). */
function encodeError(c: Caveat): MandateError {
  try {
    encodeCaveat(c)
  } catch (e) {
    if (e instanceof MandateError) return e
    throw e
  }
  throw new Error('expected encodeCaveat to throw')
}

/** The reason `decodeCaveat` gives for an invalid caveat, or its type if it is valid. */
function reason(raw: CborValue): string {
  const c = decodeCaveat(raw)
  return c.type === 'invalid' ? c.reason : `valid ${c.type}`
}

describe('encodeCaveat: the wire form of each type', () => {
  it('writes every core type as [type, body] and decodes back to the same caveat', () => {
    const alice = fixedKey('alice').publicKey
    const bob = fixedKey('bob').publicKey
    const cases: [Caveat, CborValue][] = [
      [{ type: 'actions', patterns: ['email:*', 'calendar:read'] }, [1, ['email:*', 'calendar:read']]],
      [{ type: 'deny', patterns: ['email:send'] }, [2, ['email:send']]],
      [{ type: 'resources', globs: ['inbox/**'] }, [3, ['inbox/**']]],
      [
        { type: 'window', notBefore: 10, expires: 20 },
        [
          4,
          new Map([
            [0, 10],
            [1, 20],
          ]),
        ],
      ],
      [{ type: 'window', expires: 20 }, [4, new Map([[1, 20]])]],
      [{ type: 'window', notBefore: 10 }, [4, new Map([[0, 10]])]],
      [{ type: 'uses', max: 3 }, [5, new Map([[0, 3]])]],
      [
        { type: 'uses', max: 3, per: 60 },
        [
          5,
          new Map([
            [0, 3],
            [1, 60],
          ]),
        ],
      ],
      [
        { type: 'approval', actions: ['pay:*'], approvers: [fixedDid('alice'), fixedDid('bob')], quorum: 2 },
        [
          6,
          new Map<number, CborValue>([
            [0, ['pay:*']],
            [1, [alice, bob]],
            [2, 2],
          ]),
        ],
      ],
      [{ type: 'where', rules: [{ path: 'amount', op: 'le', value: 100 }] }, [7, new Map<number, CborValue>([[1, [['amount', 3, 100]]]])]],
      [
        { type: 'where', actions: ['pay:*'], rules: [{ path: 'to', op: 'glob', value: 'acct/*' }] },
        [
          7,
          new Map<number, CborValue>([
            [0, ['pay:*']],
            [1, [['to', 9, 'acct/*']]],
          ]),
        ],
      ],
      [{ type: 'audience', names: ['svc'] }, [8, ['svc']]],
      [{ type: 'depth', max: 0 }, [9, 0]],
      [{ type: 'bound' }, [10]],
      [{ type: 'extension', code: 65536 }, [65536]],
      [{ type: 'extension', code: 70000, body: 'x' }, [70000, 'x']],
    ]
    for (const [caveat, wire] of cases) {
      expect(encodeCaveat(caveat)).toStrictEqual(wire)
      expect(decodeCaveat(wire)).toStrictEqual(caveat)
    }
  })

  it('numbers every where operator in the order of the spec', () => {
    const ops = ['eq', 'ne', 'lt', 'le', 'gt', 'ge', 'in', 'not_in', 'prefix', 'glob'] as const
    const values = { eq: 1, ne: 1, lt: 1, le: 1, gt: 1, ge: 1, in: [1], not_in: [1], prefix: 'a', glob: 'a/*' }
    ops.forEach((op, i) => {
      const wire = encodeCaveat({ type: 'where', rules: [{ path: 'a', op, value: values[op] }] }) as [number, Map<number, CborValue>]
      expect(wire[1].get(1)).toStrictEqual([['a', i, values[op]]])
    })
  })

  it('attributes a malformed caveat to its type, with the reason in the message', () => {
    const e = encodeError({ type: 'uses', max: 0 })
    expect(e.code).toBe('ERR_CAVEAT_INVALID')
    expect(e.message).toBe('uses caveat: max must be an integer in 1..4294967295')
    expect(e.caveat).toBe('uses')
  })

  it('refuses a window whose not-before is not earlier than its expiry with ERR_TIME_INVALID', () => {
    for (const [notBefore, expires] of [
      [20, 20],
      [21, 20],
    ] as const) {
      const e = encodeError({ type: 'window', notBefore, expires })
      expect(e.code).toBe('ERR_TIME_INVALID')
      expect(e.message).toBe('window caveat: not-before must be earlier than expiry')
    }
    expect(thrownCode(() => encodeCaveat({ type: 'window', notBefore: 19, expires: 20 }))).toBe('ok')
  })

  it('refuses a window with neither bound', () => {
    expect(encodeError({ type: 'window' }).message).toBe('window caveat: needs not-before or expires')
  })

  it('wraps a bad approver key as ERR_CAVEAT_INVALID, keeping the key error as its cause', () => {
    const e = encodeError({ type: 'approval', actions: ['pay:*'], approvers: ['nope'], quorum: 1 })
    expect(e.code).toBe('ERR_CAVEAT_INVALID')
    expect(e.caveat).toBe('approval')
    expect(e.message).toMatch(/^approval caveat: not a public key/)
    expect(e.cause).toBeInstanceOf(MandateError)
    expect((e.cause as MandateError).code).toBe('ERR_KEY_FORMAT')
  })

  it('refuses duplicate approvers and a quorum outside 1..approvers', () => {
    const a = fixedDid('alice')
    const b = fixedDid('bob')
    expect(encodeError({ type: 'approval', actions: ['x'], approvers: [a, a], quorum: 1 }).message).toBe(
      'approval caveat: approvers must be distinct',
    )
    expect(encodeError({ type: 'approval', actions: ['x'], approvers: [a, b], quorum: 3 }).message).toBe(
      'approval caveat: quorum must be an integer in 1..2',
    )
    expect(encodeError({ type: 'approval', actions: ['x'], approvers: [a, b], quorum: 0 }).message).toBe(
      'approval caveat: quorum must be an integer in 1..2',
    )
    expect(thrownCode(() => encodeCaveat({ type: 'approval', actions: ['x'], approvers: [a, b], quorum: 2 }))).toBe('ok')
  })

  it('refuses an unknown where operator and an operand that is not an argument value', () => {
    const bad = encodeError({ type: 'where', rules: [{ path: 'a', op: 'like' as never, value: 1 }] })
    expect([bad.code, bad.message]).toEqual(['ERR_CAVEAT_INVALID', 'where caveat: unknown operator "like"'])
    const float = encodeError({ type: 'where', rules: [{ path: 'a', op: 'eq', value: 1.5 }] })
    expect([float.code, float.message]).toEqual([
      'ERR_CAVEAT_INVALID',
      'where caveat: operand: "args" values must be safe integers, got 1.5',
    ])
  })

  it('a caveat of another shape is a TypeError naming what is wrong, never one from reading it', () => {
    const typeError = (c: unknown) => {
      try {
        encodeCaveat(c as Caveat)
      } catch (e) {
        return e instanceof TypeError ? e.message : `not a TypeError: ${String(e)}`
      }
      return 'no error'
    }
    const noType = 'a caveat expected an object with a "type" (actions, resources, window, uses, …)'
    expect([null, undefined, 5, 'actions', {}, { type: 3 }].map(typeError)).toEqual(Array(6).fill(noType))
    expect(
      [
        { type: 'actions' },
        { type: 'deny', patterns: 'mail:*' },
        { type: 'resources', patterns: ['room/*'] },
        { type: 'audience', names: 'mail' },
        { type: 'approval', actions: 'a:b', approvers: [fixedDid('alice')], quorum: 1 },
        { type: 'approval', actions: ['a:b'], approvers: fixedDid('alice'), quorum: 1 },
        { type: 'where', rules: { path: 'a', op: 'eq', value: 1 } },
        { type: 'where', actions: 'a:b', rules: [] },
        { type: 'approval', actions: ['a:b'], approvers: [5], quorum: 1 },
        { type: 'where', rules: [null] },
      ].map(typeError),
    ).toEqual([
      'actions caveat: "patterns" expected a list',
      'deny caveat: "patterns" expected a list',
      'resources caveat: "globs" expected a list',
      'audience caveat: "names" expected a list',
      'approval caveat: "actions" expected a list',
      'approval caveat: "approvers" expected a list',
      'where caveat: "rules" expected a list',
      'where caveat: "actions" expected a list',
      'approval caveat: an approver expected a did:key or a hex public key',
      'where caveat: a rule expected { path, op, value }',
    ])
  })

  it('takes extension codes from 65536 on, as safe integers', () => {
    expect(encodeError({ type: 'extension', code: 65535 }).message).toBe('extension caveat: extension codes start at 65536')
    expect(encodeError({ type: 'extension', code: 65536.5 }).message).toBe('extension caveat: extension codes start at 65536')
    expect(encodeError({ type: 'extension', code: 2 ** 53 }).message).toBe('extension caveat: extension codes start at 65536')
  })
})

describe('encodeCaveat: limits, on both sides', () => {
  it('uses: max in 1..2^32-1, per in 1..366 days', () => {
    const ok = (c: Caveat) => thrownCode(() => encodeCaveat(c))
    expect(ok({ type: 'uses', max: 1 })).toBe('ok')
    expect(ok({ type: 'uses', max: 2 ** 32 - 1 })).toBe('ok')
    expect(ok({ type: 'uses', max: 2 ** 32 })).toBe('ERR_CAVEAT_INVALID')
    expect(ok({ type: 'uses', max: 1.5 })).toBe('ERR_CAVEAT_INVALID')
    expect(ok({ type: 'uses', max: 1, per: 1 })).toBe('ok')
    expect(ok({ type: 'uses', max: 1, per: 366 * 86400 })).toBe('ok')
    expect(encodeError({ type: 'uses', max: 1, per: 366 * 86400 + 1 }).message).toBe('uses caveat: per must be an integer in 1..31622400')
    expect(encodeError({ type: 'uses', max: 1, per: 0 }).message).toBe('uses caveat: per must be an integer in 1..31622400')
  })

  it('window: times in 0..2^53-1', () => {
    expect(thrownCode(() => encodeCaveat({ type: 'window', notBefore: 0 }))).toBe('ok')
    expect(thrownCode(() => encodeCaveat({ type: 'window', expires: MAX_TIME }))).toBe('ok')
    expect(encodeError({ type: 'window', notBefore: -1 }).message).toBe(
      'window caveat: not-before must be an integer in 0..9007199254740991',
    )
    expect(encodeError({ type: 'window', expires: -1 }).message).toBe('window caveat: expires must be an integer in 0..9007199254740991')
  })

  it('depth: max in 0..15', () => {
    expect(thrownCode(() => encodeCaveat({ type: 'depth', max: 15 }))).toBe('ok')
    expect(encodeError({ type: 'depth', max: 16 }).message).toBe('depth caveat: max must be an integer in 0..15')
    expect(encodeError({ type: 'depth', max: -1 }).message).toBe('depth caveat: max must be an integer in 0..15')
  })

  it('lists: 1..64 items', () => {
    const names = (n: number) => Array.from({ length: n }, (_, i) => `s${i}`)
    expect(thrownCode(() => encodeCaveat({ type: 'audience', names: names(64) }))).toBe('ok')
    expect(encodeError({ type: 'audience', names: names(65) }).message).toBe('audience caveat: names: at most 64')
    expect(encodeError({ type: 'audience', names: [] }).message).toBe('audience caveat: names must be a non-empty list')
    expect(encodeError({ type: 'actions', patterns: [] }).message).toBe('actions caveat: patterns must be a non-empty list')
    expect(encodeError({ type: 'resources', globs: [] }).message).toBe('resources caveat: globs must be a non-empty list')
  })

  it('text: non-empty, at most 1024 UTF-8 bytes', () => {
    expect(thrownCode(() => encodeCaveat({ type: 'audience', names: ['é'.repeat(512)] }))).toBe('ok')
    expect(encodeError({ type: 'audience', names: ['é'.repeat(513)] }).message).toBe('audience caveat: audience name is too long')
    expect(encodeError({ type: 'audience', names: [''] }).message).toBe('audience caveat: audience name must be a non-empty string')
  })

  it('patterns and globs must be well formed', () => {
    expect(encodeError({ type: 'actions', patterns: ['a::b'] }).message).toBe('actions caveat: bad action pattern "a::b"')
    expect(encodeError({ type: 'deny', patterns: ['A'] }).message).toBe('deny caveat: bad action pattern "A"')
    expect(encodeError({ type: 'resources', globs: ['a**'] }).message).toBe('resources caveat: bad resource glob "a**"')
  })
})

describe('decodeCaveat: frames', () => {
  it('reports a frame without an unsigned integer type with code -1', () => {
    const expected = { type: 'invalid', code: -1, reason: 'a caveat is [type, body?] with an unsigned integer type' }
    for (const raw of [5, [], ['1'], [-1], new Map()] as CborValue[]) expect(decodeCaveat(raw)).toStrictEqual(expected)
  })

  it('accepts type 0 as an (unknown) type, and a one-element frame', () => {
    expect(decodeCaveat([0])).toStrictEqual({ type: 'unknown', code: 0 })
    expect(decodeCaveat([11])).toStrictEqual({ type: 'unknown', code: 11 })
    expect(decodeCaveat([65535, 'x'])).toStrictEqual({ type: 'unknown', code: 65535 })
  })

  it('reports three elements as invalid, keeping the type number', () => {
    expect(decodeCaveat([11, 1, 2])).toStrictEqual({ type: 'invalid', code: 11, reason: 'a caveat is [type, body?]' })
  })

  it('keeps an extension body only when there is one', () => {
    expect(decodeCaveat([65536])).toStrictEqual({ type: 'extension', code: 65536 })
    expect(decodeCaveat([65536, 0])).toStrictEqual({ type: 'extension', code: 65536, body: 0 })
  })

  it('bound takes no body; every other core type needs one', () => {
    expect(decodeCaveat([10])).toStrictEqual({ type: 'bound' })
    expect(decodeCaveat([10, 0])).toStrictEqual({ type: 'invalid', code: 10, reason: 'bound takes no body' })
    for (const code of [1, 2, 3, 4, 5, 6, 7, 8, 9]) {
      expect(decodeCaveat([code])).toStrictEqual({ type: 'invalid', code, reason: 'expected [type, body]' })
    }
  })

  it('names a caveat by its type, extension from 65536, unknown otherwise', () => {
    expect(caveatName(decodeCaveat([65536, 1, 2]))).toBe('extension')
    expect(caveatName(decodeCaveat([65535, 1, 2]))).toBe('unknown')
    expect(caveatName(decodeCaveat([65535]))).toBe('unknown')
    expect(caveatName(decodeCaveat([4, 'x']))).toBe('window')
    expect(caveatName(decodeCaveat([10]))).toBe('bound')
  })
})

describe('decodeCaveat: bodies', () => {
  it('maps: only the known fields', () => {
    expect(reason([4, 5])).toBe('body must be a map')
    expect(reason([4, new Map([[2, 1]])])).toBe('unknown field 2')
    expect(
      reason([
        5,
        new Map([
          [0, 1],
          [2, 1],
        ]),
      ]),
    ).toBe('unknown field 2')
    expect(reason([6, new Map([[3, 1]])])).toBe('unknown field 3')
    expect(reason([7, new Map([[2, 1]])])).toBe('unknown field 2')
    expect(reason([4, new Map()])).toBe('needs not-before or expires')
  })

  it('window: integers in 0..2^53-1, either bound optional', () => {
    expect(decodeCaveat([4, new Map([[0, 0]])])).toStrictEqual({ type: 'window', notBefore: 0 })
    expect(decodeCaveat([4, new Map([[1, MAX_TIME]])])).toStrictEqual({ type: 'window', expires: MAX_TIME })
    expect(reason([4, new Map([[1, 2 ** 53]])])).toBe('expires must be an integer in 0..9007199254740991')
    expect(reason([4, new Map([[0, 'x']])])).toBe('not-before must be an integer in 0..9007199254740991')
  })

  it('uses: per is kept only when present', () => {
    expect(decodeCaveat([5, new Map([[0, 2]])])).toStrictEqual({ type: 'uses', max: 2 })
    expect(reason([5, new Map([[1, 2]])])).toBe('max must be an integer in 1..4294967295')
  })

  it('approval: 32-byte keys', () => {
    const body = (key: CborValue) =>
      new Map<number, CborValue>([
        [0, ['x']],
        [1, [key]],
        [2, 1],
      ])
    expect(reason([6, body(new Uint8Array(31))])).toBe('approver keys are 32 bytes')
    expect(reason([6, body(new Uint8Array(33))])).toBe('approver keys are 32 bytes')
    expect(reason([6, body('k'.repeat(32))])).toBe('approver keys are 32 bytes')
    expect(
      reason([
        6,
        new Map<number, CborValue>([
          [1, [fixedKey('alice').publicKey]],
          [2, 1],
        ]),
      ]),
    ).toBe('actions must be a non-empty list')
  })

  it('where: rules are [path, op, value] with a dotted path', () => {
    const where = (rule: CborValue) => [7, new Map([[1, [rule]]])] as CborValue
    expect(reason(where('a'))).toBe('a rule is [path, op, value]')
    expect(reason(where(['a', 0]))).toBe('a rule is [path, op, value]')
    expect(reason(where(['a', 0, 1, 2]))).toBe('a rule is [path, op, value]')
    for (const p of ['a..b', '.a', 'a.', '.']) expect(reason(where([p, 0, 1]))).toBe(`bad path ${JSON.stringify(p)}`)
    expect(reason(where(['a.b.c', 0, 1]))).toBe('valid where')
    expect(reason(where(['', 0, 1]))).toBe('path must be a non-empty string')
    expect(reason(where(['a', 10, 1]))).toBe('unknown operator')
    expect(reason(where(['a', '0', 1]))).toBe('unknown operator')
    expect(reason(where(['a', 0, new Uint8Array(1)]))).toBe('where value: byte strings are not argument values')
  })

  it('where: each operator takes its kind of operand', () => {
    const where = (op: number, value: CborValue) => reason([7, new Map([[1, [['a', op, value]]]])])
    for (const [op, name] of [
      [2, 'lt'],
      [3, 'le'],
      [4, 'gt'],
      [5, 'ge'],
    ] as const) {
      expect(where(op, 'x')).toBe(`${name} compares integers`)
      expect(where(op, 1)).toBe('valid where')
    }
    for (const [op, name] of [
      [6, 'in'],
      [7, 'not_in'],
    ] as const) {
      expect(where(op, 1)).toBe(`${name} needs a list`)
      expect(where(op, [1])).toBe('valid where')
    }
    for (const [op, name] of [
      [8, 'prefix'],
      [9, 'glob'],
    ] as const) {
      expect(where(op, 1)).toBe(`${name} needs a string`)
      expect(where(op, 'a')).toBe('valid where')
    }
    expect(where(9, 'a**')).toBe('bad glob')
    expect(where(8, 'a**')).toBe('valid where')
    expect(where(0, 'x')).toBe('valid where')
    expect(where(1, [1])).toBe('valid where')
  })

  it('where: actions are optional and kept only when present', () => {
    const rules = [['a', 0, 1]] as CborValue
    expect(decodeCaveat([7, new Map([[1, rules]])])).toStrictEqual({ type: 'where', rules: [{ path: 'a', op: 'eq', value: 1 }] })
    expect(
      reason([
        7,
        new Map<number, CborValue>([
          [0, []],
          [1, rules],
        ]),
      ]),
    ).toBe('actions must be a non-empty list')
    expect(reason([7, new Map<number, CborValue>([[0, ['a']]])])).toBe('rules must be a non-empty list')
  })

  it('depth: 0..15; audience names are text', () => {
    expect(decodeCaveat([9, 15])).toStrictEqual({ type: 'depth', max: 15 })
    expect(reason([9, 16])).toBe('max must be an integer in 0..15')
    expect(reason([8, [1]])).toBe('audience name must be a non-empty string')
    expect(reason([1, ['a', 2]])).toBe('action pattern must be a non-empty string')
    expect(reason([3, [2]])).toBe('resource glob must be a non-empty string')
  })
})

describe('where operands: objects on the wire (spec §5.6)', () => {
  const where = (value: CborValue) => reason([7, new Map([[1, [['a', 0, value]]]])])
  const obj = (pairs: CborValue) => new Map([[0, pairs]]) as CborValue

  it('writes object keys in UTF-8 byte order, a shorter prefix first', () => {
    const astral = encodeCaveat({ type: 'where', rules: [{ path: 'a', op: 'eq', value: { '\u{1f600}': 1, '\uff61': 2 } }] }) as [
      number,
      Map<number, CborValue>,
    ]
    expect(astral[1].get(1)).toStrictEqual([
      [
        'a',
        0,
        obj([
          ['\uff61', 2],
          ['\u{1f600}', 1],
        ]),
      ],
    ])
    const wire = encodeCaveat({ type: 'where', rules: [{ path: 'a', op: 'eq', value: { ab: 1, b: 2, a: 3, é: 4, z: 5 } }] }) as [
      number,
      Map<number, CborValue>,
    ]
    expect(wire[1].get(1)).toStrictEqual([
      [
        'a',
        0,
        obj([
          ['a', 3],
          ['ab', 1],
          ['b', 2],
          ['z', 5],
          ['é', 4],
        ]),
      ],
    ])
  })

  it('reads ascending unique keys and refuses duplicates and any other order', () => {
    expect(
      where(
        obj([
          ['a', 1],
          ['ab', 2],
          ['b', 3],
        ]),
      ),
    ).toBe('valid where')
    expect(
      where(
        obj([
          ['z', 1],
          ['é', 2],
        ]),
      ),
    ).toBe('valid where')
    expect(
      where(
        obj([
          ['ab', 1],
          ['a', 2],
        ]),
      ),
    ).toBe('where value: keys must be unique and ascending')
    expect(
      where(
        obj([
          ['b', 1],
          ['a', 2],
        ]),
      ),
    ).toBe('where value: keys must be unique and ascending')
    expect(
      where(
        obj([
          ['a', 1],
          ['a', 2],
        ]),
      ),
    ).toBe('where value: keys must be unique and ascending')
    expect(
      where(
        obj([
          ['é', 1],
          ['z', 2],
        ]),
      ),
    ).toBe('where value: keys must be unique and ascending')
  })

  it('decodes an operand object to its keys and values', () => {
    const c = decodeCaveat([7, new Map([[1, [['a', 0, obj([['k', [1, 'x']]])]]]])])
    expect(c).toStrictEqual({ type: 'where', rules: [{ path: 'a', op: 'eq', value: Object.assign(Object.create(null), { k: [1, 'x'] }) }] })
  })

  it('refuses an object that is not {0: [[key, value], ...]}', () => {
    expect(where(new Map([[1, []]]))).toBe('where value: an object is {0: pairs}')
    expect(
      where(
        new Map<number, CborValue>([
          [0, []],
          [1, []],
        ]),
      ),
    ).toBe('where value: an object is {0: pairs}')
    expect(where(obj('x'))).toBe('where value: expected a list of [key, value] pairs')
    expect(where(obj([['a']]))).toBe('where value: expected a [key, value] pair')
    expect(where(obj([['a', 1, 2]]))).toBe('where value: expected a [key, value] pair')
    expect(where(obj([[1, 1]]))).toBe('where value: expected a [key, value] pair')
    expect(where(obj(['a']))).toBe('where value: expected a [key, value] pair')
  })

  it('refuses an operand value of an unsupported type', () => {
    const e = encodeError({ type: 'where', rules: [{ path: 'a', op: 'eq', value: null as never }] })
    expect([e.code, e.message]).toEqual(['ERR_CAVEAT_INVALID', 'where caveat: operand: "args" value of type object is not supported'])
  })

  it('refuses an approval without approvers', () => {
    expect(
      reason([
        6,
        new Map<number, CborValue>([
          [0, ['x']],
          [2, 1],
        ]),
      ]),
    ).toBe('approvers must be a non-empty list')
  })
})

describe('argument pairs on the wire (spec §5.6)', () => {
  it('tells a duplicate key from keys out of order', () => {
    expect(
      thrownCode(() =>
        decodeArgs([
          ['a', 1],
          ['a', 2],
        ]),
      ),
    ).toBe('ERR_CBOR_DUP_KEY')
    expect(
      thrownCode(() =>
        decodeArgs([
          ['ab', 1],
          ['a', 2],
        ]),
      ),
    ).toBe('ERR_CBOR_NONCANONICAL')
    expect(
      thrownCode(() =>
        decodeArgs([
          ['b', 1],
          ['a', 2],
        ]),
      ),
    ).toBe('ERR_CBOR_NONCANONICAL')
    expect(
      thrownCode(() =>
        decodeArgs([
          ['a', 1],
          ['ab', 2],
        ]),
      ),
    ).toBe('ok')
  })
})
