/**
 * Differential tests: our codec against the one it replaced (strict validator + cbor-x, kept
 * verbatim in ./reference.ts). Same value or same error — constructor, code, offset and
 * message — for random valid encodings, mutations of them, random bytes, random limits and
 * random (also invalid) values to encode. One deliberate difference, tested on its own: a
 * lone surrogate in a text of 64 UTF-16 units or more, which cbor-x replaced by U+FFFD.
 */
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { type CborValue, decodeCbor, encodeCbor } from '../../src/cbor/codec.js'
import { CBOR_LIMITS, type CborLimits } from '../../src/cbor/limits.js'
import { validateCbor } from '../../src/cbor/validate.js'
import { MandateError } from '../../src/errors.js'
import { referenceDecodeCbor, referenceEncodeCbor, referenceValidateCbor } from './reference.js'

type Outcome = { value: unknown } | { error: unknown }

/** What a call did, in a form `toEqual` compares exactly (byte strings must be plain Uint8Arrays). */
function outcome(f: () => unknown): Outcome {
  try {
    return { value: exact(f()) }
  } catch (e) {
    if (e instanceof MandateError) return { error: ['MandateError', e.code, e.offset, e.message] }
    if (e instanceof TypeError || e instanceof RangeError) return { error: [e.constructor.name, e.message] }
    throw e
  }
}

function exact(v: unknown): unknown {
  if (v === undefined) return 'undefined'
  if (v instanceof Uint8Array) return ['bytes', v.constructor.name, Array.from(v)]
  if (Array.isArray(v)) return ['array', v.length, v.map(exact)]
  if (v instanceof Map) return ['map', [...v.entries()].map(([k, x]) => [typeof k, k, exact(x)])]
  if (typeof v === 'number') return ['number', Object.is(v, -0) ? '-0' : v]
  return [typeof v, v]
}

const interestingInt = fc.constantFrom(
  0,
  1,
  23,
  24,
  255,
  256,
  65535,
  65536,
  2 ** 32 - 1,
  2 ** 32,
  2 ** 53 - 1,
  -1,
  -24,
  -25,
  -256,
  -257,
  -65536,
  -65537,
  -(2 ** 32),
  -(2 ** 32) - 1,
  -(2 ** 53 - 1),
)
const integer = fc.oneof(fc.maxSafeInteger(), interestingInt, fc.integer({ min: -300, max: 300 }))
/** Any text: full Unicode with BOMs, at lengths around the 23/24, 64/65 and 255/256 boundaries. */
const text = fc.oneof(
  fc.string({ unit: 'grapheme', maxLength: 30 }),
  fc.string({ unit: fc.constantFrom('a', 'é', '€', '𝄞', '\ufeff', '\u0000', '\u07ff', '\u0800', '\uffff'), maxLength: 90 }),
  fc.string({ maxLength: 300 }),
)
const key = fc.oneof(
  fc.nat({ max: 30 }),
  fc.nat({ max: 2 ** 40 }),
  interestingInt.filter((n) => n >= 0),
)

function weighted(arbitrary: fc.Arbitrary<CborValue>, weight: number): fc.WeightedArbitrary<CborValue> {
  return { arbitrary, weight }
}

const valid: fc.Memo<CborValue> = fc.memo((n) =>
  n <= 1
    ? fc.oneof<fc.Arbitrary<CborValue>[]>(integer, fc.boolean(), text, fc.uint8Array({ maxLength: 40 }))
    : fc.oneof(
        weighted(integer, 1),
        weighted(text, 1),
        weighted(fc.uint8Array({ maxLength: 30 }), 1),
        weighted(fc.array(valid(n - 1), { maxLength: 6 }), 2),
        weighted(
          fc.uniqueArray(fc.tuple(key, valid(n - 1)), { selector: (t) => t[0], maxLength: 6 }).map((entries) => new Map(entries)),
          2,
        ),
      ),
)

/** Heads and bytes that sit on a rule: widths, indefinite, reserved, tags, simple, floats, UTF-8 leads. */
const interestingByte = fc.constantFrom(
  0x00,
  0x17,
  0x18,
  0x19,
  0x1a,
  0x1b,
  0x1c,
  0x1f,
  0x20,
  0x37,
  0x38,
  0x3b,
  0x3f,
  0x40,
  0x41,
  0x57,
  0x58,
  0x5b,
  0x5f,
  0x60,
  0x61,
  0x78,
  0x7b,
  0x7f,
  0x80,
  0x81,
  0x98,
  0x9b,
  0x9f,
  0xa0,
  0xa1,
  0xb8,
  0xbb,
  0xbf,
  0xc0,
  0xc2,
  0xd8,
  0xdb,
  0xdf,
  0xe0,
  0xed,
  0xef,
  0xf0,
  0xf4,
  0xf5,
  0xf6,
  0xf7,
  0xf8,
  0xf9,
  0xfa,
  0xfb,
  0xfc,
  0xff,
)
const anyByte = fc.oneof(interestingByte, fc.integer({ min: 0, max: 255 }))

type Edit = [kind: 'set' | 'insert' | 'delete' | 'truncate' | 'xor', at: number, byte: number]
const edit = fc.tuple(fc.constantFrom('set', 'insert', 'delete', 'truncate', 'xor'), fc.nat(), anyByte) as fc.Arbitrary<Edit>

function mutate(bytes: Uint8Array, edits: readonly Edit[]): Uint8Array {
  let out = Array.from(bytes)
  for (const [kind, at, byte] of edits) {
    const i = out.length === 0 ? 0 : at % (out.length + (kind === 'insert' ? 1 : 0))
    if (kind === 'set' && out.length > 0) out[i] = byte
    if (kind === 'xor' && out.length > 0) out[i] = (out[i] as number) ^ (1 << (byte & 7))
    if (kind === 'insert') out.splice(i, 0, byte)
    if (kind === 'delete') out.splice(i, 1)
    if (kind === 'truncate') out = out.slice(0, i)
  }
  return new Uint8Array(out)
}

/** Small limits, so that every limit rule is reached, or the profile's own. */
const limits: fc.Arbitrary<CborLimits> = fc.oneof(
  fc.constant(CBOR_LIMITS),
  fc.record({
    maxDepth: fc.integer({ min: 0, max: 5 }),
    maxEntries: fc.integer({ min: 0, max: 6 }),
    maxTextBytes: fc.integer({ min: 0, max: 70 }),
    maxByteString: fc.integer({ min: 0, max: 40 }),
  }),
)

/** A head of `major` with `arg` in the given width: minimal, or forced (then often non-minimal). */
function rawHead(major: number, arg: number, width: 0 | 1 | 2 | 4 | 8): number[] {
  const m = major << 5
  const w = width === 0 ? (arg < 24 ? 0 : arg < 0x100 ? 1 : arg < 0x10000 ? 2 : arg < 2 ** 32 ? 4 : 8) : width
  if (w === 0) return [m | arg]
  const out = [m | (24 + Math.log2(w))]
  for (let i = w - 1; i >= 0; i--) out.push(Math.floor(arg / 2 ** (8 * i)) % 256)
  return out
}
const width: fc.Arbitrary<0 | 1 | 2 | 4 | 8> = fc.oneof(
  { arbitrary: fc.constant(0 as const), weight: 40 },
  { arbitrary: fc.constantFrom<(1 | 2 | 4 | 8)[]>(1, 2, 4, 8), weight: 1 },
)
/** How far a declared count or length is from the real one: mostly not at all. */
const skew = fc.oneof({ arbitrary: fc.constant(0), weight: 8 }, { arbitrary: fc.constantFrom(-1, 1), weight: 1 })
const rawArg = fc.oneof(fc.nat({ max: 30 }), fc.nat({ max: 300 }), interestingInt.map(Math.abs), fc.constantFrom(2 ** 53, 2 ** 53 + 2))

/**
 * Raw CBOR built from heads, canonical or not: any key type, keys drawn from 0–4 (so repeats
 * and disorder are common), counts that may not match, tags, simple values, floats.
 */
const raw: fc.Memo<number[]> = fc.memo((n) => {
  const leaf = fc.oneof(
    fc.tuple(fc.constantFrom(0, 1), rawArg, width).map(([m, a, w]) => rawHead(m, a, w)),
    fc
      .tuple(
        fc.constantFrom(2, 3),
        fc.array(fc.oneof(fc.integer({ min: 0x20, max: 0x7e }), fc.integer({ min: 0, max: 255 })), { maxLength: 30 }),
        width,
        skew,
      )
      .map(([m, body, w, skew]) => [...rawHead(m, Math.max(0, body.length + skew), w), ...body]),
    fc
      .constantFrom(
        [0xf4],
        [0xf5],
        [0xf6],
        [0xf7],
        [0xf0],
        [0xf8, 0x15],
        [0xf8],
        [0xf9, 0x3c, 0x00],
        [0xfa, 0, 0, 0, 0],
        [0xfb, 0, 0, 0, 0, 0, 0, 0, 0],
        [0xff],
        [0x1c],
        [0x9f, 0xff],
        [0x5f, 0xff],
      )
      .map((b) => [...b]),
  )
  if (n <= 1) return leaf
  const key = fc.oneof(
    { arbitrary: fc.tuple(fc.nat({ max: 4 }), width).map(([k, w]) => rawHead(0, k, w)), weight: 8 },
    { arbitrary: raw(n - 1), weight: 1 },
  )
  return fc.oneof(
    { arbitrary: leaf, weight: 3 },
    {
      arbitrary: fc
        .tuple(fc.array(raw(n - 1), { maxLength: 5 }), width, skew)
        .map(([items, w, skew]) => [...rawHead(4, Math.max(0, items.length + skew), w), ...items.flat()]),
      weight: 2,
    },
    {
      arbitrary: fc
        .tuple(fc.array(fc.tuple(key, raw(n - 1)), { maxLength: 5 }), width, skew)
        .map(([pairs, w, skew]) => [...rawHead(5, Math.max(0, pairs.length + skew), w), ...pairs.flat(2)]),
      weight: 3,
    },
    { arbitrary: fc.tuple(rawArg, width, raw(n - 1)).map(([t, w, item]) => [...rawHead(6, t, w), ...item]), weight: 1 },
  )
})

/** 'value', or the error's code (or constructor name): what the outcome counts of a run are keyed by. */
function kind(o: Outcome): string {
  if ('value' in o) return 'value'
  const [name, code] = o.error as [string, string]
  return name === 'MandateError' ? code : name
}

/** The outcomes of a property run, counted: an agreement that only ever saw one side proves little. */
class Tally {
  readonly counts = new Map<string, number>()
  add(key: string): void {
    this.counts.set(key, (this.counts.get(key) ?? 0) + 1)
  }
  /** Exactly these outcomes were reached, each more often than its lower bound. */
  expectReached(atLeast: Record<string, number>): void {
    expect([...this.counts.keys()].sort()).toEqual(Object.keys(atLeast).sort())
    for (const [key, min] of Object.entries(atLeast)) expect(this.counts.get(key), key).toBeGreaterThan(min)
  }
}

/** Decodes (and validates) with ours and the reference; the same outcome, and the input untouched. */
function sameDecode(bytes: Uint8Array, l: CborLimits | undefined): string {
  const before = Array.from(bytes)
  const ours = outcome(() => decodeCbor(bytes, l))
  expect(ours).toEqual(outcome(() => referenceDecodeCbor(bytes, l)))
  expect(outcome(() => validateCbor(bytes, l))).toEqual(outcome(() => referenceValidateCbor(bytes, l)))
  // and neither call touched the input
  expect(Array.from(bytes)).toEqual(before)
  return kind(ours)
}

describe('differential: decoder against validate + cbor-x', () => {
  it('valid encodings decode to exactly the same values', () => {
    const wide = new Tally()
    const profile = new Tally()
    fc.assert(
      fc.property(valid(6), (v) => {
        const bytes = referenceEncodeCbor(v, { ...CBOR_LIMITS, maxDepth: 64, maxTextBytes: 4096 })
        wide.add(sameDecode(bytes, { ...CBOR_LIMITS, maxDepth: 64, maxTextBytes: 4096 }))
        profile.add(sameDecode(bytes, undefined))
      }),
      { numRuns: 1500, seed: 1 },
    )
    // every valid encoding decodes, under wide limits and under the profile's (seeded run: 1,500 of 1,500)
    wide.expectReached({ value: 1499 })
    profile.expectReached({ value: 1499 })
  })

  it('mutated encodings, under random limits: the same value or the same error', () => {
    const t = new Tally()
    fc.assert(
      fc.property(valid(5), fc.array(edit, { minLength: 1, maxLength: 4 }), limits, (v, edits, l) => {
        const bytes = referenceEncodeCbor(v, { ...CBOR_LIMITS, maxDepth: 64, maxTextBytes: 4096 })
        t.add(sameDecode(mutate(bytes, edits), l))
      }),
      { numRuns: 5000, seed: 2 },
    )
    // Seeded run: 423 values; 2,434 MALFORMED, 636 LIMIT_COUNT, 436 TYPE, 359 UTF8, 305 LIMIT_DEPTH,
    // 175 NONCANONICAL, 116 LIMIT_SIZE, 113 TAG, 3 DUP_KEY.
    t.expectReached({
      value: 200,
      ERR_CBOR_MALFORMED: 1000,
      ERR_LIMIT_COUNT: 300,
      ERR_CBOR_TYPE: 200,
      ERR_CBOR_UTF8: 150,
      ERR_LIMIT_DEPTH: 150,
      ERR_CBOR_NONCANONICAL: 80,
      ERR_LIMIT_SIZE: 50,
      ERR_CBOR_TAG: 50,
      ERR_CBOR_DUP_KEY: 0,
    })
  })

  it('valid encodings under random limits: the same value or the same error', () => {
    const t = new Tally()
    fc.assert(
      fc.property(valid(5), limits, (v, l) => {
        t.add(sameDecode(referenceEncodeCbor(v, { ...CBOR_LIMITS, maxDepth: 64, maxTextBytes: 4096 }), l))
      }),
      { numRuns: 1500, seed: 3 },
    )
    // a valid encoding fails on a limit only (seeded run: 1,115 values; 192 LIMIT_COUNT, 122 LIMIT_DEPTH, 71 LIMIT_SIZE)
    t.expectReached({ value: 500, ERR_LIMIT_COUNT: 90, ERR_LIMIT_DEPTH: 60, ERR_LIMIT_SIZE: 30 })
  })

  it('random bytes (mostly heads on a rule), under random limits: the same value or the same error', () => {
    const t = new Tally()
    fc.assert(
      fc.property(fc.array(anyByte, { maxLength: 24 }), limits, (bytes, l) => {
        t.add(sameDecode(new Uint8Array(bytes), l))
      }),
      { numRuns: 8000, seed: 4 },
    )
    // Seeded run: 240 values; 5,002 MALFORMED, 1,124 TYPE, 570 TAG, 475 NONCANONICAL, 399 LIMIT_COUNT,
    // 92 LIMIT_DEPTH, 89 UTF8, 9 LIMIT_SIZE.
    t.expectReached({
      value: 100,
      ERR_CBOR_MALFORMED: 2500,
      ERR_CBOR_TYPE: 500,
      ERR_CBOR_TAG: 250,
      ERR_CBOR_NONCANONICAL: 200,
      ERR_LIMIT_COUNT: 200,
      ERR_LIMIT_DEPTH: 40,
      ERR_CBOR_UTF8: 40,
      ERR_LIMIT_SIZE: 0,
    })
  })

  it('raw items from heads (non-minimal, any key type, repeated or unsorted keys, wrong counts): the same value or the same error', () => {
    const t = new Tally()
    fc.assert(
      fc.property(raw(5), limits, (bytes, l) => {
        t.add(sameDecode(new Uint8Array(bytes), l))
      }),
      { numRuns: 8000, seed: 5 },
    )
    // Seeded run: 1,986 values; 1,599 TYPE, 1,060 TAG, 878 NONCANONICAL, 688 MALFORMED, 672 LIMIT_COUNT,
    // 529 LIMIT_DEPTH, 410 UTF8, 93 LIMIT_SIZE, 85 DUP_KEY.
    t.expectReached({
      value: 1000,
      ERR_CBOR_TYPE: 800,
      ERR_CBOR_TAG: 500,
      ERR_CBOR_NONCANONICAL: 400,
      ERR_CBOR_MALFORMED: 300,
      ERR_LIMIT_COUNT: 300,
      ERR_LIMIT_DEPTH: 250,
      ERR_CBOR_UTF8: 200,
      ERR_LIMIT_SIZE: 40,
      ERR_CBOR_DUP_KEY: 40,
    })
  })

  it('text strings of random bytes: the same value or the same error (strict UTF-8 as the fatal TextDecoder), both paths', () => {
    const t = new Tally()
    const utf8ish = fc.oneof(
      fc.integer({ min: 0x00, max: 0x7f }),
      fc.integer({ min: 0x80, max: 0xbf }),
      fc.integer({ min: 0xc0, max: 0xff }),
      fc.constantFrom(0xc2, 0xdf, 0xe0, 0xed, 0xee, 0xef, 0xf0, 0xf4, 0xf5, 0x80, 0x8f, 0x90, 0x9f, 0xa0, 0xbf),
    )
    fc.assert(
      fc.property(fc.array(utf8ish, { maxLength: 80 }), fc.nat({ max: 80 }), (body, pad) => {
        // ASCII padding moves the string across the 64-byte boundary of the JS path
        const content = [...body, ...new Array(pad % 70).fill(0x61)]
        const n = content.length
        const head = n < 24 ? [0x60 | n] : [0x78, n]
        const path = n < 64 ? 'short' : 'long'
        t.add(`${path} ${sameDecode(new Uint8Array([...head, ...content]), undefined)}`)
        t.add(`${path} ${sameDecode(new Uint8Array([0x82, ...head, ...content, 0x01]), undefined)}`)
      }),
      { numRuns: 8000, seed: 6 },
    )
    // both verdicts on both paths (seeded run, alone and in an array: short 2,206 values and 12,026
    // UTF8 errors, long 160 values and 1,608 UTF8 errors)
    t.expectReached({ 'short value': 1000, 'short ERR_CBOR_UTF8': 6000, 'long value': 80, 'long ERR_CBOR_UTF8': 800 })
  })

  it('decoded byte strings never alias the input (a Buffer input included)', () => {
    const input = new Uint8Array([0x82, 0x43, 1, 2, 3, 0x41, 9])
    for (const bytes of [input.slice(), Buffer.from(input)]) {
      const [a, b] = decodeCbor(bytes) as Uint8Array[]
      bytes.fill(0)
      expect(a).toEqual(new Uint8Array([1, 2, 3]))
      expect(b).toEqual(new Uint8Array([9]))
      expect(a?.constructor).toBe(Uint8Array)
      ;(a as Uint8Array)[0] = 7
      expect(bytes[2]).toBe(0)
    }
  })
})

/** Values to encode, also outside the data model: floats, unsafe integers, holes, bad keys, lone surrogates. */
const anyValue: fc.Memo<unknown> = fc.memo((n) => {
  const leaf = fc.oneof(
    { arbitrary: integer, weight: 6 },
    { arbitrary: fc.constantFrom(-0, 1.5, Number.NaN, Number.POSITIVE_INFINITY, 2 ** 53, -(2 ** 53)), weight: 1 },
    { arbitrary: fc.boolean(), weight: 2 },
    { arbitrary: text, weight: 4 },
    // lone surrogates, only where cbor-x refused them too (fewer than 64 UTF-16 units)
    { arbitrary: fc.string({ unit: 'binary', maxLength: 31 }), weight: 2 },
    { arbitrary: fc.uint8Array({ maxLength: 30 }), weight: 2 },
    { arbitrary: fc.constantFrom(null, undefined, {}, 1n, new Int8Array(2), Symbol.iterator), weight: 1 },
  )
  if (n <= 1) return leaf
  return fc.oneof(
    { arbitrary: leaf, weight: 3 },
    { arbitrary: fc.array(anyValue(n - 1), { maxLength: 6 }), weight: 2 },
    {
      // holes
      arbitrary: fc.sparseArray(anyValue(n - 1), { maxLength: 6 }),
      weight: 1,
    },
    {
      // any key order, and now and then a key outside the profile
      arbitrary: fc
        .array(
          fc.tuple(
            fc.oneof({ arbitrary: key, weight: 8 }, { arbitrary: fc.constantFrom(-1, 1.5, 2 ** 53, 'a', Number.NaN), weight: 1 }),
            anyValue(n - 1),
          ),
          { maxLength: 6 },
        )
        .map((entries) => new Map(entries)),
      weight: 2,
    },
  )
})

describe('differential: encoder against prepare + cbor-x + validate', () => {
  it('the same bytes or the same error, under random limits', () => {
    const t = new Tally()
    fc.assert(
      fc.property(anyValue(5), limits, (v, l) => {
        const value = v as CborValue
        const ours = outcome(() => encodeCbor(value, l))
        expect(ours).toEqual(outcome(() => referenceEncodeCbor(value, l)))
        t.add(kind(ours))
      }),
      { numRuns: 5000, seed: 7 },
    )
    // Seeded run: 2,187 encoded; 2,325 TypeError, 184 CBOR_TYPE, 118 LIMIT_DEPTH, 95 LIMIT_COUNT, 91 LIMIT_SIZE.
    t.expectReached({
      value: 1000,
      TypeError: 1000,
      ERR_CBOR_TYPE: 90,
      ERR_LIMIT_DEPTH: 50,
      ERR_LIMIT_COUNT: 40,
      ERR_LIMIT_SIZE: 40,
    })
  })

  it('deep nesting: RangeError beyond 64 levels, before any limit error', () => {
    for (const depth of [15, 16, 17, 63, 64, 65, 66, 80]) {
      for (const leaf of [1, [], new Map(), 1.5] as CborValue[]) {
        let v: CborValue = leaf
        for (let i = 0; i < depth; i++) v = i % 3 === 0 ? new Map([[i, v]]) : [v]
        for (const l of [CBOR_LIMITS, { ...CBOR_LIMITS, maxDepth: 100 }]) {
          expect(outcome(() => encodeCbor(v, l))).toEqual(outcome(() => referenceEncodeCbor(v, l)))
        }
      }
    }
  })

  it('a lone surrogate is refused at every length (cbor-x replaced it from 64 UTF-16 units on)', () => {
    for (const n of [0, 1, 62, 63, 64, 100, 1000]) {
      for (const lone of ['\ud800', '\udfff', '\udc00\ud800']) {
        for (const s of [lone + 'a'.repeat(n), 'a'.repeat(n) + lone, `é${'a'.repeat(n)}${lone}€`]) {
          const l = { ...CBOR_LIMITS, maxTextBytes: 4096 }
          expect(outcome(() => encodeCbor([1, s], l))).toEqual({
            error: ['MandateError', 'ERR_CBOR_UTF8', 2, 'CBOR at byte 2: invalid UTF-8 in text string'],
          })
          // the limit is still checked first, counting 3 bytes per lone surrogate
          const bytes = new TextEncoder().encode(s).length
          expect(outcome(() => encodeCbor([1, s], { ...l, maxTextBytes: bytes - 1 }))).toEqual({
            error: ['MandateError', 'ERR_LIMIT_SIZE', 2, `CBOR at byte 2: string of ${bytes} bytes exceeds ${bytes - 1}`],
          })
        }
      }
    }
    // and a well-formed pair at the very end of a long string is fine
    const s = `${'a'.repeat(100)}𝄞`
    expect(decodeCbor(encodeCbor(s))).toBe(s)
    expect(encodeCbor(s)).toEqual(referenceEncodeCbor(s))
  })

  it('outputs are fresh arrays, and a long output leaves the next one intact', () => {
    const big = encodeCbor(new Uint8Array(15_000).fill(7))
    const small = encodeCbor([1, 2])
    expect(big.byteOffset).toBe(0)
    expect(big.buffer.byteLength).toBe(big.length)
    expect(Array.from(small)).toEqual([0x82, 1, 2])
    expect(decodeCbor(big)).toEqual(new Uint8Array(15_000).fill(7))
  })

  it('a call that fails, however early, leaves the next one intact', () => {
    const throwing = {
      ...CBOR_LIMITS,
      get maxDepth(): number {
        throw new Error('boom')
      },
    }
    expect(() => encodeCbor([1], throwing)).toThrow('boom')
    expect(() => decodeCbor(new Uint8Array([0x01]), throwing)).toThrow('boom')
    expect(() => encodeCbor([1, 'x'.repeat(2000), 1.5])).toThrow(TypeError)
    expect(() => decodeCbor(new Uint8Array([0x82, 0x43, 1]))).toThrow(MandateError)
    const value = [1, new Uint8Array([2, 3]), new Map([[4, 'five']])]
    expect(encodeCbor(value)).toEqual(referenceEncodeCbor(value))
    expect(decodeCbor(encodeCbor(value))).toEqual(value)
  })

  it('a getter that encodes while the encoder runs does not corrupt the outer output', () => {
    const inner = [1, 'x', new Map([[3, true]])]
    const list: CborValue[] = [5, 6]
    Object.defineProperty(list, 1, { get: () => encodeCbor(inner) })
    const out = encodeCbor([list, 'tail'])
    expect(out).toEqual(referenceEncodeCbor([[5, referenceEncodeCbor(inner)], 'tail']))
  })
})
