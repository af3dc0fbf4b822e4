/**
 * Limits and arguments (issue #8, spec §5.4, §5.6, §5.7, §6 where): how argument depth is
 * counted, how a `where` path addresses keys and indexes, which operand each operator takes
 * and which arguments it applies to, and what empty arguments are.
 */
import { describe, expect, it } from 'vitest'
import { decodeArgs, encodeArgs, MAX_ARG_DEPTH } from '../../src/caveats/args.js'
import { decodeCaveat, encodeCaveat } from '../../src/caveats/codec.js'
import type { ArgValue, Caveat, WhereOp } from '../../src/caveats/types.js'
import { type CborValue, decodeCbor, encodeCbor } from '../../src/cbor/codec.js'
import { getBackend } from '../../src/crypto/ed25519.js'
import { invoke, type Request } from '../../src/index.js'
import { signingInput } from '../../src/token/signing.js'
import {
  alice,
  assistant,
  bearerChild,
  codeOf,
  denial,
  rawMandate,
  rawPayload,
  rawSigned,
  rootGrant,
  signRaw,
  verifierFor,
} from '../helpers/chains.js'
import { seededRandom, T0, thrownCode } from '../helpers/fixtures.js'

const NOW = T0 + 60
const WINDOW: CborValue = [4, new Map([[1, T0 + 8 * 3600]])]

/** A value nested `n` lists deep around 1 (n = 0: the scalar). */
const lists = (n: number): ArgValue => (n === 0 ? 1 : [lists(n - 1)])
/** A value nested `n` objects deep around 1, each under key k. */
const objects = (n: number): ArgValue => (n === 0 ? 1 : { k: objects(n - 1) })
/** The same values on the wire. */
const wireLists = (n: number): CborValue => (n === 0 ? 1 : [wireLists(n - 1)])
const wireObjects = (n: number): CborValue => (n === 0 ? 1 : new Map([[0, [['k', wireObjects(n - 1)]]]]))

async function bare(caveats: Caveat[], request: Request) {
  return verifierFor().authorize({ mandate: bearerChild(caveats), request })
}

/** An invocation over rootGrant(caveats) whose payload key 4 is `args` exactly (absent: undefined). */
function signedInvocation(args: CborValue | undefined, caveats: Caveat[] = []): Uint8Array {
  const inv = invoke(rootGrant(caveats), { key: assistant, action: 'x:y', audience: 'svc', now: NOW, random: seededRandom('args-limits') })
  const payload = new Map(decodeCbor(inv.payload) as Map<number, CborValue>)
  if (args === undefined) payload.delete(4)
  else payload.set(4, args)
  const bytes = encodeCbor(payload)
  return rawSigned(bytes, getBackend().sign(assistant.secretKey, signingInput('invocation', bytes)))
}

async function invoked(args: CborValue | undefined, caveats: Caveat[] = []) {
  return verifierFor().authorize({ invocation: signedInvocation(args, caveats) })
}

/** A bearer root whose caveats are written by hand (the library refuses malformed ones). */
async function rawWhere(rules: CborValue[], request: Request) {
  const pair = signRaw(rawPayload([[7, new Map([[1, rules]])], WINDOW], assistant.publicKey, { bearer: true }), alice)
  return verifierFor().authorize({ mandate: rawMandate([pair], { kind: 'bearer', secret: assistant.secretKey }), request })
}

describe('argument depth (spec §5.6): the arguments object is 1, each list or object adds 1, at most 4', () => {
  it('is 4', () => expect(MAX_ARG_DEPTH).toBe(4))

  for (const [shape, nest, wire] of [
    ['lists', lists, wireLists],
    ['objects', objects, wireObjects],
  ] as const) {
    it(`${shape}: depth 4 encodes and decodes, depth 5 does not`, () => {
      // {a: v} where v nests n containers: depth 1 + n
      expect(decodeArgs(encodeArgs({ a: nest(3) }))).toEqual({ a: nest(3) })
      expect(() => encodeArgs({ a: nest(4) })).toThrow(RangeError)
      expect(thrownCode(() => decodeArgs([['a', wire(3)]]))).toBe('ok')
      expect(thrownCode(() => decodeArgs([['a', wire(4)]]))).toBe('ERR_LIMIT_DEPTH')
    })

    it(`${shape}: a bare request allows depth 4 and refuses depth 5 (ERR_REQUEST_INVALID)`, async () => {
      expect(codeOf(await bare([], { action: 'x:y', args: { a: nest(3) as never } }))).toBe('allowed')
      expect(codeOf(await bare([], { action: 'x:y', args: { a: nest(4) as never } }))).toBe('ERR_REQUEST_INVALID')
    })

    it(`${shape}: an invocation allows depth 4 and refuses depth 5 (ERR_LIMIT_DEPTH)`, async () => {
      expect(codeOf(await invoked([['a', wire(3)]]))).toBe('allowed')
      expect(codeOf(await invoked([['a', wire(4)]]))).toBe('ERR_LIMIT_DEPTH')
    })
  }

  it('the CBOR nesting limit never decides for arguments within the argument limit', async () => {
    // four objects are CBOR levels 2..12 of the payload; 16 is the profile's limit
    expect(codeOf(await invoked([['a', wireObjects(3)]]))).toBe('allowed')
    expect(
      codeOf(
        await invoked([
          [
            'a',
            new Map([
              [
                0,
                [
                  ['k', wireObjects(2)],
                  ['l', wireLists(2)],
                ],
              ],
            ]),
          ],
        ]),
      ),
    ).toBe('allowed')
  })

  it('a where operand that is a list or object has depth 2 (a top-level argument value)', async () => {
    expect(thrownCode(() => encodeCaveat({ type: 'where', rules: [{ path: 'a', op: 'eq', value: lists(3) }] }))).toBe('ok')
    expect(thrownCode(() => encodeCaveat({ type: 'where', rules: [{ path: 'a', op: 'eq', value: lists(4) }] }))).toBe('ERR_CAVEAT_INVALID')
    expect(thrownCode(() => encodeCaveat({ type: 'where', rules: [{ path: 'a', op: 'in', value: [objects(2)] }] }))).toBe('ok')
    expect(decodeCaveat([7, new Map([[1, [['a', 0, wireObjects(4)]]]])]).type).toBe('invalid')
    // lists stay within the CBOR limit (levels 7..10 of the block payload): the caveat decides
    const deep = denial(await rawWhere([['a', 0, wireLists(4)]], { action: 'x:y', args: { a: 1 as never } }))
    expect([deep.code, deep.block]).toEqual(['ERR_CAVEAT_INVALID', 0])
    // four objects need levels 7..18: the CBOR profile refuses the block first (§7 step 2)
    const tooDeep = rawPayload([[7, new Map([[1, [['a', 0, wireObjects(4)]]]])]], assistant.publicKey)
    expect(thrownCode(() => signRaw(tooDeep, alice))).toBe('ERR_LIMIT_DEPTH')
    // an object operand compares structurally with an object argument
    const c: Caveat[] = [{ type: 'where', rules: [{ path: 'a', op: 'eq', value: objects(3) }] }]
    expect(codeOf(await bare(c, { action: 'x:y', args: { a: objects(3) as never } }))).toBe('allowed')
  })
})

describe('where paths (spec §6 where)', () => {
  const rule = (path: string, value: ArgValue = 1): Caveat[] => [{ type: 'where', rules: [{ path, op: 'eq', value }] }]
  const args = {
    list: [10, 11],
    obj: { '01': 1, '-1': 1, 'a.b': 2, '': 3 },
    'x.y': 1,
    s: 'text',
  } as never

  for (const [path, value, ok] of [
    ['list.0', 10, true],
    ['list.1', 11, true],
    ['list.2', 1, false], // past the end: missing
    ['list.01', 11, false], // leading zero: no element
    ['list.-1', 11, false], // sign: no element
    ['list.+1', 11, false],
    ['list.1.0', 1, false], // into a scalar: missing
    ['obj.01', 1, true], // on an object a segment is the key, verbatim
    ['obj.-1', 1, true],
    ['x.y', 1, false], // a key containing "." cannot be named: this names x, then y
    ['obj.a.b', 2, false],
    ['s.0', 't', false], // text is not a list
    ['s.length', 4, false],
    ['list.length', 2, false],
    ['nope', 1, false],
  ] as const) {
    it(`${path} eq ${JSON.stringify(value)} → ${ok ? 'allowed' : 'ERR_ARGS_DENIED'}`, async () => {
      const d = await bare(rule(path, value), { action: 'x:y', args })
      if (ok) expect(codeOf(d)).toBe('allowed')
      else expect([codeOf(d), denial(d).block, denial(d).caveat]).toEqual(['ERR_ARGS_DENIED', 1, 'where'])
    })
  }

  for (const path of ['', '.', 'a.', '.a', 'a..b']) {
    it(`the path ${JSON.stringify(path)} is malformed: ERR_CAVEAT_INVALID`, async () => {
      expect(thrownCode(() => encodeCaveat(rule(path)[0] as Caveat))).toBe('ERR_CAVEAT_INVALID')
      const d = denial(await rawWhere([[path, 0, 1]], { action: 'x:y', args: { a: 1 as never } }))
      expect([d.code, d.block]).toEqual(['ERR_CAVEAT_INVALID', 0])
    })
  }

  it('any other characters are allowed in a segment', () => {
    for (const path of ['a b', '-1', '__proto__', 'ü.0', 'a/b']) expect(thrownCode(() => encodeCaveat(rule(path)[0] as Caveat))).toBe('ok')
  })

  it('__proto__ and inherited names are never found', async () => {
    expect(codeOf(await bare(rule('constructor', 1), { action: 'x:y', args: {} }))).toBe('ERR_ARGS_DENIED')
    expect(codeOf(await bare(rule('__proto__', 1), { action: 'x:y', args: {} }))).toBe('ERR_ARGS_DENIED')
  })
})

describe('operand types (spec §6 where, table)', () => {
  const invalidOperands: [string, number, CborValue][] = [
    ['lt', 2, 'x'],
    ['le', 3, true],
    ['gt', 4, [1]],
    ['ge', 5, new Map([[0, []]])],
    ['in', 6, 1],
    ['not_in', 7, 'x'],
    ['prefix', 8, 1],
    ['prefix', 8, ['x']],
    ['glob', 9, 1],
    ['glob', 9, 'mail/../x'],
    ['glob', 9, 'a**'],
  ]
  for (const [op, code, operand] of invalidOperands) {
    it(`${op} with operand ${JSON.stringify(operand instanceof Map ? {} : operand)} is ERR_CAVEAT_INVALID`, async () => {
      const d = denial(await rawWhere([['a', code, operand]], { action: 'x:y', args: { a: 1 as never } }))
      expect([d.code, d.block]).toEqual(['ERR_CAVEAT_INVALID', 0])
    })
  }
  for (const [what, rule] of [
    ['operator 10', ['a', 10, 1]],
    ['a negative operator', ['a', -1, 1]],
    ['a text operator', ['a', 'eq', 1]],
    ['a byte-string operand', ['a', 0, new Uint8Array(1)]],
    ['a two-element rule', ['a', 0]],
  ] as [string, CborValue][]) {
    it(`${what} is ERR_CAVEAT_INVALID`, async () => {
      expect(codeOf(await rawWhere([rule], { action: 'x:y', args: { a: 1 as never } }))).toBe('ERR_CAVEAT_INVALID')
    })
  }
  it('eq and ne take any argument value; in and not_in any list, even empty; prefix any text, even empty', async () => {
    for (const [op, value] of [
      ['eq', [1, 'a', true]],
      ['ne', { k: [] }],
      ['in', []],
      ['not_in', []],
      ['prefix', ''],
    ] as [WhereOp, ArgValue][]) {
      expect(thrownCode(() => encodeCaveat({ type: 'where', rules: [{ path: 'a', op, value }] }))).toBe('ok')
    }
  })

  // request-time mismatches: the rule does not hold (ERR_ARGS_DENIED), except ne / not_in,
  // which hold for a value of another type (type-strict inequality)
  const cases: [string, ArgValue, ArgValue, boolean][] = [
    ['lt', 5, '4', false],
    ['lt', 5, true, false],
    ['lt', 5, [4], false],
    ['ge', 5, { n: 5 }, false],
    ['lt', 5, 4, true],
    ['prefix', 'ab', 1, false],
    ['prefix', 'ab', ['abc'], false],
    ['prefix', 'ab', 'abc', true],
    ['prefix', '', 'x', true],
    ['prefix', '', 0, false],
    ['glob', 'mail/**', 7, false],
    ['glob', 'mail/**', ['mail/a'], false],
    ['glob', 'mail/**', 'mail/a', true],
    ['eq', 1, '1', false],
    ['eq', 1, true, false],
    ['eq', [1], 1, false],
    ['eq', [], {}, false],
    ['eq', {}, {}, true],
    ['eq', [], [], true],
    ['ne', 1, '1', true],
    ['ne', [], {}, true],
    ['in', [1, 2], '1', false],
    ['in', [[1]], [1], true],
    ['in', [], 1, false],
    ['not_in', [1, 2], '1', true],
    ['not_in', [], 1, true],
  ]
  for (const [op, value, arg, ok] of cases) {
    it(`${op} ${JSON.stringify(value)} on ${JSON.stringify(arg)} → ${ok ? 'allowed' : 'ERR_ARGS_DENIED'}`, async () => {
      const c: Caveat[] = [{ type: 'where', rules: [{ path: 'a', op: op as WhereOp, value }] }]
      expect(codeOf(await bare(c, { action: 'x:y', args: { a: arg as never } }))).toBe(ok ? 'allowed' : 'ERR_ARGS_DENIED')
    })
  }
})

describe('empty arguments (spec §5.6, §5.7)', () => {
  const has = (value: ArgValue): Caveat[] => [{ type: 'where', rules: [{ path: 'a', op: 'ne', value }] }]

  it('bare: absent args and {} are the same; null, a list or text are ERR_REQUEST_INVALID', async () => {
    expect(codeOf(await bare([], { action: 'x:y' }))).toBe('allowed')
    expect(codeOf(await bare([], { action: 'x:y', args: {} }))).toBe('allowed')
    for (const args of [null, [], 'a', 1]) {
      expect(codeOf(await bare([], { action: 'x:y', args: args as never }))).toBe('ERR_REQUEST_INVALID')
    }
    expect(codeOf(await bare(has(0), { action: 'x:y' }))).toBe('ERR_ARGS_DENIED')
    expect(codeOf(await bare(has(0), { action: 'x:y', args: {} }))).toBe('ERR_ARGS_DENIED')
  })

  it('an empty list or object value is present, and they differ', async () => {
    expect(codeOf(await bare(has(0), { action: 'x:y', args: { a: [] } }))).toBe('allowed')
    expect(codeOf(await bare(has(0), { action: 'x:y', args: { a: {} } }))).toBe('allowed')
    expect(codeOf(await bare(has([]), { action: 'x:y', args: { a: {} } }))).toBe('allowed')
    expect(codeOf(await bare(has({}), { action: 'x:y', args: { a: {} } }))).toBe('ERR_ARGS_DENIED')
  })

  it('invocation: empty args are omitted; an empty pair list is ERR_CBOR_NONCANONICAL', async () => {
    const inv = invoke(rootGrant(), { key: assistant, action: 'x:y', audience: 'svc', now: NOW, args: {}, random: seededRandom('empty') })
    expect((decodeCbor(inv.payload) as Map<number, CborValue>).has(4)).toBe(false)
    expect(codeOf(await invoked(undefined))).toBe('allowed')
    expect(codeOf(await invoked([]))).toBe('ERR_CBOR_NONCANONICAL')
    expect(codeOf(await invoked([['a', []]]))).toBe('allowed')
    expect(codeOf(await invoked([['a', new Map([[0, []]])]]))).toBe('allowed')
    // {} is {0: []} and nothing else
    expect(codeOf(await invoked([['a', new Map()]]))).toBe('ERR_FORMAT')
    expect(codeOf(await invoked([['a', new Map([[1, []]])]]))).toBe('ERR_FORMAT')
    expect(codeOf(await invoked(new Map([[0, [['a', 1]]]])))).toBe('ERR_FORMAT')
  })

  it('bare args break no invocation limit: text, entries, surrogates are ERR_REQUEST_INVALID', async () => {
    const many = Object.fromEntries(Array.from({ length: 65 }, (_, i) => [`k${i}`, i]))
    expect(codeOf(await bare([], { action: 'x:y', args: { a: 'x'.repeat(1024) } }))).toBe('allowed')
    expect(codeOf(await bare([], { action: 'x:y', args: { a: 'x'.repeat(1025) } }))).toBe('ERR_REQUEST_INVALID')
    expect(codeOf(await bare([], { action: 'x:y', args: many as never }))).toBe('ERR_REQUEST_INVALID')
    expect(codeOf(await bare([], { action: 'x:y', args: { a: '\ud800' } }))).toBe('ERR_REQUEST_INVALID')
    expect(codeOf(await bare([], { action: 'x:y', args: { a: 1.5 as never } }))).toBe('ERR_REQUEST_INVALID')
  })
})
