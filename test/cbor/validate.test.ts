/**
 * The strict CBOR profile (spec §5.1): every construct it forbids is rejected with its code,
 * and the encoder's output always passes the validator. Labels such as C1 in test names are rows of the project's security checklist, an external
 * document not in this repository: informative (spec/mandate-v1.md §10.1).
 */
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { type CborValue, decodeCbor, encodeCbor } from '../../src/cbor/codec.js'
import { validateCbor } from '../../src/cbor/validate.js'
import { MandateError } from '../../src/errors.js'
import { hex } from '../helpers/fixtures.js'

function codeOf(bytes: Uint8Array): string {
  try {
    validateCbor(bytes)
    return 'ok'
  } catch (e) {
    if (e instanceof MandateError) return e.code
    throw e
  }
}

const cases: [string, string, string][] = [
  // C1 non-minimal integers and lengths, unsorted keys
  ['C1', '1801', 'ERR_CBOR_NONCANONICAL'],
  ['C1', '190001', 'ERR_CBOR_NONCANONICAL'],
  ['C1', '1b0000000000000001', 'ERR_CBOR_NONCANONICAL'],
  ['C1', 'b9000101f5', 'ERR_CBOR_NONCANONICAL'],
  ['C1', '580101', 'ERR_CBOR_NONCANONICAL'],
  ['C1', 'a20201 0101', 'ERR_CBOR_NONCANONICAL'],
  // C2 duplicate keys, detected before anything is built
  ['C2', 'a2 01 01 01 02', 'ERR_CBOR_DUP_KEY'],
  ['C2', 'a2 6161 01 6161 02', 'ERR_CBOR_TYPE'],
  // C3 key types outside the profile (text, negative, byte string, mixed)
  ['C3', 'a1 6131 01', 'ERR_CBOR_TYPE'],
  ['C3', 'a2 01 01 6131 02', 'ERR_CBOR_TYPE'],
  ['C3', 'a1 20 01', 'ERR_CBOR_TYPE'],
  ['C3', 'a1 4101 01', 'ERR_CBOR_TYPE'],
  // C4 indefinite lengths
  ['C4', '9f0102ff', 'ERR_CBOR_NONCANONICAL'],
  ['C4', 'bf0101ff', 'ERR_CBOR_NONCANONICAL'],
  ['C4', '5f4101ff', 'ERR_CBOR_NONCANONICAL'],
  ['C4', '7f6161ff', 'ERR_CBOR_NONCANONICAL'],
  ['C4', 'ff', 'ERR_CBOR_NONCANONICAL'],
  // C5 every tag
  ['C5', 'c074323031332d30332d32315432303a30343a30305a', 'ERR_CBOR_TAG'],
  ['C5', 'c11a514b67b0', 'ERR_CBOR_TAG'],
  ['C5', 'c249010000000000000000', 'ERR_CBOR_TAG'],
  ['C5', 'c349010000000000000000', 'ERR_CBOR_TAG'],
  ['C5', 'd81b8263466f6f6362617a', 'ERR_CBOR_TAG'],
  ['C5', 'd81c8181d81d00', 'ERR_CBOR_TAG'],
  ['C5', '81d81c8181d81d00', 'ERR_CBOR_TAG'],
  ['C5', 'c68101', 'ERR_CBOR_TAG'],
  ['C1', 'd8068101', 'ERR_CBOR_NONCANONICAL'],
  ['C5', 'd83301', 'ERR_CBOR_TAG'],
  ['C5', 'd86901', 'ERR_CBOR_TAG'],
  ['C5', 'd9dfff8101', 'ERR_CBOR_TAG'],
  ['C5', 'd9d9f701', 'ERR_CBOR_TAG'],
  ['C5', 'da0001869f01', 'ERR_CBOR_TAG'],
  ['C5', 'd84042 0102', 'ERR_CBOR_TAG'],
  ['C5', 'd9010380', 'ERR_CBOR_TAG'],
  // C6 floats, NaN, infinities, -0, undefined, null, simple values
  ['C6', 'f93c00', 'ERR_CBOR_TYPE'],
  ['C6', 'f97e00', 'ERR_CBOR_TYPE'],
  ['C6', 'f97c00', 'ERR_CBOR_TYPE'],
  ['C6', 'f98000', 'ERR_CBOR_TYPE'],
  ['C6', 'fa47c35000', 'ERR_CBOR_TYPE'],
  ['C6', 'fb7ff8000000000001', 'ERR_CBOR_TYPE'],
  ['C6', 'f7', 'ERR_CBOR_TYPE'],
  ['C6', 'f6', 'ERR_CBOR_TYPE'],
  ['C6', 'f0', 'ERR_CBOR_TYPE'],
  ['C6', 'f820', 'ERR_CBOR_TYPE'],
  // C7 invalid UTF-8: truncated, overlong, surrogate, out of range
  ['C7', '62c328', 'ERR_CBOR_UTF8'],
  ['C7', '62c0af', 'ERR_CBOR_UTF8'],
  ['C7', '63eda080', 'ERR_CBOR_UTF8'],
  ['C7', '64f4908080', 'ERR_CBOR_UTF8'],
  ['C7', '61ff', 'ERR_CBOR_UTF8'],
  // C8 trailing bytes, truncation
  ['C8', '0102', 'ERR_CBOR_MALFORMED'],
  ['C8', '', 'ERR_CBOR_MALFORMED'],
  ['C8', '8201', 'ERR_CBOR_MALFORMED'],
  ['C8', '1a0001', 'ERR_CBOR_MALFORMED'],
  ['C8', '6461', 'ERR_CBOR_MALFORMED'],
  ['C8', '1c', 'ERR_CBOR_MALFORMED'],
  // C9 huge declared lengths in tiny inputs
  ['C9', '9a05f5e100', 'ERR_LIMIT_COUNT'],
  ['C9', '5affffffff00', 'ERR_CBOR_MALFORMED'],
  ['C9', '5bffffffffffffffff00', 'ERR_CBOR_MALFORMED'],
  ['C9', 'bbffffffffffffffff', 'ERR_CBOR_MALFORMED'],
  ['C9', '8a01', 'ERR_CBOR_MALFORMED'],
  // K9 integers beyond ±(2^53 − 1)
  ['K9', '1b0020000000000000', 'ERR_CBOR_TYPE'],
  ['K9', '3b001fffffffffffff', 'ERR_CBOR_TYPE'],
  ['K9', '1bffffffffffffffff', 'ERR_CBOR_TYPE'],
]

describe('strict CBOR validator', () => {
  for (const [row, input, expected] of cases) {
    it(`${row}: ${input || '(empty)'} → ${expected}`, () => {
      expect(codeOf(hex(input))).toBe(expected)
    })
  }

  it('accepts the whole data model in canonical form', () => {
    for (const ok of [
      '00',
      '17',
      '1818',
      '1b001fffffffffffff',
      '3b001ffffffffffffe',
      '20',
      '40',
      '60',
      '6161',
      '80',
      'a0',
      'f4',
      'f5',
      'a3 00 80 01 a0 18 ff 4101',
    ]) {
      expect(codeOf(hex(ok))).toBe('ok')
    }
  })

  it('C5: a shared-reference bomb (tags 28/29, 2^30 logical leaves in cbor-x) is rejected at once', () => {
    // x0 = 28([]); x(i+1) = 28([29(i), 29(i)]): each level doubles the leaves cbor-x would build
    const ref = (i: number) => `d81d18${i.toString(16).padStart(2, '0')}`
    const parts = ['981f', 'd81c80']
    for (let i = 0; i < 30; i++) parts.push(`d81c82${ref(i)}${ref(i)}`)
    const bomb = hex(parts.join(''))
    expect(bomb.length).toBeLessThan(400)
    const start = performance.now()
    expect(codeOf(bomb)).toBe('ERR_CBOR_TAG')
    expect(performance.now() - start).toBeLessThan(50)
  })

  it('C10: 100,000 nested arrays give ERR_LIMIT_DEPTH, not a stack overflow', () => {
    const deep = new Uint8Array(100_001).fill(0x81)
    deep[100_000] = 0x00
    expect(codeOf(deep)).toBe('ERR_LIMIT_DEPTH')
  })

  it('C10: depth 16 passes, depth 17 fails', () => {
    expect(codeOf(hex(`${'81'.repeat(16)}00`))).toBe('ok')
    expect(codeOf(hex(`${'81'.repeat(17)}00`))).toBe('ERR_LIMIT_DEPTH')
  })

  it('C11: entry and string limits', () => {
    expect(codeOf(hex(`9840${'00'.repeat(64)}`))).toBe('ok')
    expect(codeOf(hex(`9841${'00'.repeat(65)}`))).toBe('ERR_LIMIT_COUNT')
    const text = (n: number) => hex(`79${n.toString(16).padStart(4, '0')}${'61'.repeat(n)}`)
    expect(codeOf(text(1024))).toBe('ok')
    expect(codeOf(text(1025))).toBe('ERR_LIMIT_SIZE')
  })

  it('C8: a valid item truncated at every offset is malformed', () => {
    const bytes = encodeCbor(
      new Map<number, CborValue>([
        [0, 1],
        [1, [new Uint8Array(40), 'héllo', true]],
        [7, 1_790_000_000],
      ]),
    )
    for (let cut = 0; cut < bytes.length; cut++) expect(codeOf(bytes.subarray(0, cut))).toBe('ERR_CBOR_MALFORMED')
  })
})

const value: fc.Memo<CborValue> = fc.memo((n) =>
  n <= 1
    ? fc.oneof<fc.Arbitrary<CborValue>[]>(fc.maxSafeInteger(), fc.boolean(), fc.string({ maxLength: 40 }), fc.uint8Array({ maxLength: 40 }))
    : fc.oneof<fc.Arbitrary<CborValue>[]>(
        fc.maxSafeInteger(),
        fc.string({ maxLength: 40 }),
        fc.array(value(n - 1), { maxLength: 6 }),
        fc
          .uniqueArray(fc.tuple(fc.nat({ max: 2 ** 40 }), value(n - 1)), { selector: (t) => t[0], maxLength: 6 })
          .map((entries) => new Map(entries)),
      ),
)

/** Comparable form: byte strings as hex, maps as sorted entry lists. */
function plain(v: CborValue): unknown {
  if (v instanceof Uint8Array) return `bytes:${Buffer.from(v).toString('hex')}`
  if (Array.isArray(v)) return v.map(plain)
  if (v instanceof Map) return [...v.entries()].sort((a, b) => a[0] - b[0]).map(([k, x]) => [k, plain(x)])
  return v
}

describe('deterministic encoder', () => {
  it('C14: encode output always validates, decodes back equal, and re-encodes byte for byte', () => {
    fc.assert(
      fc.property(value(5), (v) => {
        const bytes = encodeCbor(v)
        const back = decodeCbor(bytes)
        expect(plain(back)).toEqual(plain(v))
        expect(encodeCbor(back)).toEqual(bytes)
      }),
      { numRuns: 2000 },
    )
  })

  it('sorts map keys and uses shortest heads whatever the insertion order', () => {
    expect(
      Buffer.from(
        encodeCbor(
          new Map<number, CborValue>([
            [300, 1],
            [2, 'b'],
            [24, true],
          ]),
        ),
      ).toString('hex'),
    ).toBe('a3026162 1818f5 19012c01'.replace(/ /g, ''))
    expect(Buffer.from(encodeCbor(2 ** 40)).toString('hex')).toBe('1b0000010000000000')
    expect(Buffer.from(encodeCbor(-(2 ** 40))).toString('hex')).toBe('3b000000ffffffffff')
    expect(Buffer.from(encodeCbor(new Uint8Array([1, 2]))).toString('hex')).toBe('420102')
  })

  it('refuses values outside the data model', () => {
    expect(() => encodeCbor(1.5)).toThrow(TypeError)
    expect(() => encodeCbor(2 ** 53)).toThrow(TypeError)
    expect(() => encodeCbor(null as unknown as CborValue)).toThrow(TypeError)
    expect(() => encodeCbor(new Map([[-1, 1]]))).toThrow(TypeError)
  })
})
