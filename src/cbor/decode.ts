/**
 * The strict reader of the CBOR profile (spec §5.1): validation and decoding in one pass.
 *
 * It reads the bytes once, in order, and throws at the first offending byte with the code of
 * spec §5.1's precedence list; an item is built only from bytes already checked, so nothing
 * outside the profile is ever turned into a value. `validateCbor` and `decodeCbor` are both
 * this reader (the first discards the value).
 *
 * Internal to `src/cbor`: the public entry points are `validate.ts` and `codec.ts`.
 *
 * @module
 */
import { fail, type MandateErrorCode } from '../errors.js'
import type { CborMap, CborValue } from './codec.js'
import type { CborLimits } from './limits.js'

const MAX_SAFE = 2 ** 53 - 1
const utf8Decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true })
/** Text strings up to this many bytes are decoded in JS; longer ones by `TextDecoder`. */
const SHORT_TEXT = 64

/** Throw the profile's error: `CBOR at byte N: …`, with `offset` N. */
export function cborError(code: MandateErrorCode, message: string, offset: number): never {
  fail(code, `CBOR at byte ${offset}: ${message}`, { offset })
}

const EMPTY = new Uint8Array(0)

// Reader state. Once it is set, the reader calls no user code (the limits are read before),
// so one module-level state is safe and keeps the hot path free of loads from a state object.
let src: Uint8Array = EMPTY
let at = 0
let maxDepth = 0
let maxEntries = 0
let maxTextBytes = 0
let maxByteString = 0
/** Whether byte strings must be views of a private copy (decode) or may alias `src` (validate). */
let copyBytes = false
let copy: Uint8Array | undefined
/** Major type of the last head read by {@link head}. */
let major = 0

/**
 * Read exactly one item of the profile from `bytes`, and nothing after it.
 *
 * With `copyByteStrings`, byte strings are views of one private copy of `bytes`, made on the first
 * byte string: the caller may reuse or change its buffer, and a decoded value never changes
 * with it (nor the other way round). Without, they are views of `bytes` (for validation,
 * where the value is discarded).
 */
export function readCbor(bytes: Uint8Array, limits: CborLimits, copyByteStrings: boolean): CborValue {
  const { maxDepth: depth, maxEntries: entries, maxTextBytes: text, maxByteString: byteString } = limits
  src = bytes
  at = 0
  maxDepth = depth
  maxEntries = entries
  maxTextBytes = text
  maxByteString = byteString
  copyBytes = copyByteStrings
  copy = undefined
  try {
    const value = item(1)
    if (at !== bytes.length) cborError('ERR_CBOR_MALFORMED', `trailing bytes after the item`, at)
    return value
  } finally {
    // Hold no reference to the caller's bytes between calls.
    src = EMPTY
    copy = undefined
  }
}

/**
 * Read one head (rules 1–4 of spec §5.1); set {@link major} and return the argument.
 * Major type 7 with additional information 24–27 returns `0x100 + info` without reading the
 * argument bytes: floats and simple values are refused by type (rule 2) before rule 3.
 */
function head(): number {
  const start = at
  if (start >= src.length) cborError('ERR_CBOR_MALFORMED', 'unexpected end of input', start)
  const first = src[start] as number
  at = start + 1
  major = first >> 5
  const info = first & 0x1f
  if (info < 24) return info
  if (info === 31) {
    if (major >= 2 && major <= 5) cborError('ERR_CBOR_NONCANONICAL', 'indefinite length', start)
    if (major === 7) cborError('ERR_CBOR_NONCANONICAL', 'unexpected break', start)
    cborError('ERR_CBOR_MALFORMED', 'indefinite length on a type that has none', start)
  }
  if (info > 27) cborError('ERR_CBOR_MALFORMED', `reserved additional information ${info}`, start)
  if (major === 7) return info + 0x100
  const b = src
  const p = at
  let value: number
  switch (info) {
    case 24:
      if (p + 1 > b.length) cborError('ERR_CBOR_MALFORMED', 'unexpected end of input', start)
      value = b[p] as number
      at = p + 1
      if (value < 24) cborError('ERR_CBOR_NONCANONICAL', 'non-minimal head', start)
      return value
    case 25:
      if (p + 2 > b.length) cborError('ERR_CBOR_MALFORMED', 'unexpected end of input', start)
      value = ((b[p] as number) << 8) | (b[p + 1] as number)
      at = p + 2
      if (value < 0x100) cborError('ERR_CBOR_NONCANONICAL', 'non-minimal head', start)
      return value
    case 26:
      if (p + 4 > b.length) cborError('ERR_CBOR_MALFORMED', 'unexpected end of input', start)
      value = (b[p] as number) * 0x1000000 + (((b[p + 1] as number) << 16) | ((b[p + 2] as number) << 8) | (b[p + 3] as number))
      at = p + 4
      if (value < 0x10000) cborError('ERR_CBOR_NONCANONICAL', 'non-minimal head', start)
      return value
    default: {
      if (p + 8 > b.length) cborError('ERR_CBOR_MALFORMED', 'unexpected end of input', start)
      const hi = (b[p] as number) * 0x1000000 + (((b[p + 1] as number) << 16) | ((b[p + 2] as number) << 8) | (b[p + 3] as number))
      if (hi > 0x1fffff) {
        // Above 2^53 − 1: outside the data model for integers, absurd for lengths.
        if (major === 0 || major === 1) cborError('ERR_CBOR_TYPE', 'integer outside ±(2^53−1)', start)
        cborError('ERR_CBOR_MALFORMED', 'length exceeds the input', start)
      }
      const lo = (b[p + 4] as number) * 0x1000000 + (((b[p + 5] as number) << 16) | ((b[p + 6] as number) << 8) | (b[p + 7] as number))
      value = hi * 0x100000000 + lo
      at = p + 8
      if (value < 0x100000000) cborError('ERR_CBOR_NONCANONICAL', 'non-minimal head', start)
      return value
    }
  }
}

function item(depth: number): CborValue {
  const start = at
  const arg = head()
  switch (major) {
    case 0:
      return arg
    case 1:
      // -1 - arg must stay ≥ -(2^53 − 1)
      if (arg > MAX_SAFE - 1) cborError('ERR_CBOR_TYPE', 'integer outside ±(2^53−1)', start)
      return -1 - arg
    case 2: {
      if (arg > src.length - at) cborError('ERR_CBOR_MALFORMED', 'length exceeds the input', start)
      if (arg > maxByteString) cborError('ERR_LIMIT_SIZE', `string of ${arg} bytes exceeds ${maxByteString}`, start)
      const from = at
      at = from + arg
      if (!copyBytes) return src.subarray(from, at)
      // new Uint8Array, not slice(): Buffer#slice is a view, not a copy
      if (copy === undefined) copy = new Uint8Array(src)
      return copy.subarray(from, at)
    }
    case 3: {
      if (arg > src.length - at) cborError('ERR_CBOR_MALFORMED', 'length exceeds the input', start)
      if (arg > maxTextBytes) cborError('ERR_LIMIT_SIZE', `string of ${arg} bytes exceeds ${maxTextBytes}`, start)
      const from = at
      const to = from + arg
      let text: string | undefined
      if (arg <= SHORT_TEXT) {
        text = shortText(src, from, to)
      } else {
        try {
          text = utf8Decoder.decode(src.subarray(from, to))
        } catch {
          text = undefined
        }
      }
      if (text === undefined) cborError('ERR_CBOR_UTF8', 'invalid UTF-8 in text string', start)
      at = to
      return text
    }
    case 4:
    case 5: {
      if (depth > maxDepth) cborError('ERR_LIMIT_DEPTH', `nesting deeper than ${maxDepth}`, start)
      if (arg > maxEntries) cborError('ERR_LIMIT_COUNT', `${arg} entries exceed ${maxEntries}`, start)
      // Every entry takes at least one byte (two for a map), so this bounds work by input size.
      if (arg * (major === 5 ? 2 : 1) > src.length - at) {
        cborError('ERR_CBOR_MALFORMED', 'length exceeds the input', start)
      }
      if (major === 4) {
        const list: CborValue[] = []
        for (let i = 0; i < arg; i++) list.push(item(depth + 1))
        return list
      }
      const map = new Map<number, CborValue>()
      let previous = -1
      for (let i = 0; i < arg; i++) {
        const keyAt = at
        const key = head()
        // `as number`: head() has just set `major`, which TypeScript still narrows to 5 here
        if ((major as number) !== 0) cborError('ERR_CBOR_TYPE', 'map key is not an unsigned integer', keyAt)
        if (key === previous) cborError('ERR_CBOR_DUP_KEY', `duplicate map key ${key}`, keyAt)
        if (key < previous) cborError('ERR_CBOR_NONCANONICAL', 'map keys not in ascending order', keyAt)
        previous = key
        map.set(key, item(depth + 1))
      }
      return map as CborMap
    }
    case 6:
      return cborError('ERR_CBOR_TAG', `tag ${arg} not allowed`, start)
    default:
      // major 7: arg < 24 is a simple value; arg ≥ 0x100 encodes the width (floats, simple8)
      if (arg === 20) return false
      if (arg === 21) return true
      if (arg === 0x100 + 25 || arg === 0x100 + 26 || arg === 0x100 + 27) {
        cborError('ERR_CBOR_TYPE', 'floating-point values are not allowed', start)
      }
      return cborError(
        'ERR_CBOR_TYPE',
        arg === 22 ? 'null is not allowed' : arg === 23 ? 'undefined is not allowed' : 'simple values are not allowed',
        start,
      )
  }
}

/**
 * Strict UTF-8 of `b[from, to)` as a string, or `undefined` if it is not valid UTF-8: the
 * WHATWG decoder with `fatal` (no overlongs, no surrogates, nothing above U+10FFFF, no
 * truncated sequence) and no BOM handling, so exactly what {@link utf8Decoder} accepts and
 * returns. For short strings, where a `TextDecoder` call costs more than the decoding.
 */
function shortText(b: Uint8Array, from: number, to: number): string | undefined {
  const units: number[] = []
  let i = from
  while (i < to) {
    const b0 = b[i++] as number
    if (b0 < 0x80) {
      units.push(b0)
      continue
    }
    if (b0 < 0xc2) return undefined // continuation byte, or overlong lead C0/C1
    if (b0 < 0xe0) {
      if (i >= to) return undefined
      const b1 = b[i++] as number
      if ((b1 & 0xc0) !== 0x80) return undefined
      units.push(((b0 & 0x1f) << 6) | (b1 & 0x3f))
      continue
    }
    if (b0 < 0xf0) {
      if (i + 1 >= to) {
        // truncated: whatever the bytes present, the sequence is incomplete
        return undefined
      }
      const b1 = b[i++] as number
      // E0: no overlongs (A0–BF); ED: no surrogates (80–9F)
      if (b1 < (b0 === 0xe0 ? 0xa0 : 0x80) || b1 > (b0 === 0xed ? 0x9f : 0xbf)) return undefined
      const b2 = b[i++] as number
      if ((b2 & 0xc0) !== 0x80) return undefined
      units.push(((b0 & 0x0f) << 12) | ((b1 & 0x3f) << 6) | (b2 & 0x3f))
      continue
    }
    if (b0 < 0xf5) {
      if (i + 2 >= to) return undefined
      const b1 = b[i++] as number
      // F0: no overlongs (90–BF); F4: nothing above U+10FFFF (80–8F)
      if (b1 < (b0 === 0xf0 ? 0x90 : 0x80) || b1 > (b0 === 0xf4 ? 0x8f : 0xbf)) return undefined
      const b2 = b[i++] as number
      if ((b2 & 0xc0) !== 0x80) return undefined
      const b3 = b[i++] as number
      if ((b3 & 0xc0) !== 0x80) return undefined
      const cp = (((b0 & 0x07) << 18) | ((b1 & 0x3f) << 12) | ((b2 & 0x3f) << 6) | (b3 & 0x3f)) - 0x10000
      units.push(0xd800 | (cp >> 10), 0xdc00 | (cp & 0x3ff))
      continue
    }
    return undefined // F5–FF never appear in UTF-8
  }
  return String.fromCharCode.apply(null, units)
}
