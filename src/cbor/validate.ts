/**
 * The strict CBOR validator (spec §5.1). It runs over every input before any decoder sees
 * a byte, and over our own encoder's output before anything is signed.
 *
 * Accepted: unsigned and negative integers within ±(2^53−1), byte strings, valid UTF-8 text
 * strings, arrays, maps whose keys are unsigned integers in strictly ascending order, and
 * `true`/`false`. Everything in shortest form with definite lengths, exactly one item,
 * nothing after it. Rejected: tags, floats, null, undefined, simple values, indefinite
 * lengths, non-minimal heads, duplicate or unsorted or non-integer map keys, invalid UTF-8.
 *
 * Why not a decoder option: cbor-x has no strict mode (duplicate keys, tag-driven object
 * graphs and lossy UTF-8 are all accepted), and cborg cannot check key order on decode.
 *
 * @module
 */
import { fail, type MandateErrorCode } from '../errors.js'
import { CBOR_LIMITS, type CborLimits } from './limits.js'

const MAX_SAFE = 2 ** 53 - 1
const utf8Decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true })

/**
 * Check that `bytes` is exactly one item of the strict profile. Throws a `MandateError`
 * whose `offset` names the first offending byte.
 *
 * @example
 * ```ts
 * validateCbor(new Uint8Array([0xa1, 0x01, 0xf5])) // {1: true}: ok
 * validateCbor(new Uint8Array([0x18, 0x01]))       // throws ERR_CBOR_NONCANONICAL
 * ```
 */
export function validateCbor(bytes: Uint8Array, limits: CborLimits = CBOR_LIMITS): void {
  const state = { bytes, at: 0, limits }
  item(state, 1)
  if (state.at !== bytes.length) bad('ERR_CBOR_MALFORMED', `trailing bytes after the item`, state.at)
}

interface State {
  readonly bytes: Uint8Array
  at: number
  readonly limits: CborLimits
}

function bad(code: MandateErrorCode, message: string, offset: number): never {
  fail(code, `CBOR at byte ${offset}: ${message}`, { offset })
}

/** Reads one head; returns [major, argument]. Indefinite lengths and reserved info fail. */
function head(s: State): [major: number, arg: number] {
  const start = s.at
  const first = s.bytes[s.at]
  if (first === undefined) bad('ERR_CBOR_MALFORMED', 'unexpected end of input', start)
  s.at++
  const major = first >> 5
  const info = first & 0x1f
  if (info < 24) return [major, info]
  if (info === 31) {
    if (major >= 2 && major <= 5) bad('ERR_CBOR_NONCANONICAL', 'indefinite length', start)
    if (major === 7) bad('ERR_CBOR_NONCANONICAL', 'unexpected break', start)
    bad('ERR_CBOR_MALFORMED', 'indefinite length on a type that has none', start)
  }
  if (info > 27) bad('ERR_CBOR_MALFORMED', `reserved additional information ${info}`, start)
  // Floats and simple values share major 7 with these widths; let the caller reject them by type.
  if (major === 7) return [7, info + 0x100]
  const width = 1 << (info - 24)
  if (s.at + width > s.bytes.length) bad('ERR_CBOR_MALFORMED', 'unexpected end of input', start)
  let value = 0
  if (width === 8) {
    const hi = readUint(s.bytes, s.at, 4)
    const lo = readUint(s.bytes, s.at + 4, 4)
    if (hi > 0x1fffff) {
      // Above 2^53 − 1: outside the data model for integers, absurd for lengths.
      if (major === 0 || major === 1) bad('ERR_CBOR_TYPE', 'integer outside ±(2^53−1)', start)
      bad('ERR_CBOR_MALFORMED', 'length exceeds the input', start)
    }
    value = hi * 0x100000000 + lo
  } else {
    value = readUint(s.bytes, s.at, width)
  }
  s.at += width
  const min = width === 1 ? 24 : width === 2 ? 0x100 : width === 4 ? 0x10000 : 0x100000000
  if (value < min) bad('ERR_CBOR_NONCANONICAL', 'non-minimal head', start)
  return [major, value]
}

function readUint(b: Uint8Array, at: number, width: number): number {
  let v = 0
  for (let i = 0; i < width; i++) v = v * 256 + (b[at + i] as number)
  return v
}

function item(s: State, depth: number): void {
  const start = s.at
  const [major, arg] = head(s)
  switch (major) {
    case 0:
      return
    case 1:
      // -1 - arg must stay ≥ -(2^53 − 1)
      if (arg > MAX_SAFE - 1) bad('ERR_CBOR_TYPE', 'integer outside ±(2^53−1)', start)
      return
    case 2:
    case 3: {
      if (arg > s.bytes.length - s.at) bad('ERR_CBOR_MALFORMED', 'length exceeds the input', start)
      const limit = major === 2 ? s.limits.maxByteString : s.limits.maxTextBytes
      if (arg > limit) bad('ERR_LIMIT_SIZE', `string of ${arg} bytes exceeds ${limit}`, start)
      if (major === 3) {
        try {
          utf8Decoder.decode(s.bytes.subarray(s.at, s.at + arg))
        } catch {
          bad('ERR_CBOR_UTF8', 'invalid UTF-8 in text string', start)
        }
      }
      s.at += arg
      return
    }
    case 4:
    case 5: {
      if (depth > s.limits.maxDepth) bad('ERR_LIMIT_DEPTH', `nesting deeper than ${s.limits.maxDepth}`, start)
      if (arg > s.limits.maxEntries) bad('ERR_LIMIT_COUNT', `${arg} entries exceed ${s.limits.maxEntries}`, start)
      // Every entry takes at least one byte (two for a map), so this bounds work by input size.
      if (arg * (major === 5 ? 2 : 1) > s.bytes.length - s.at) {
        bad('ERR_CBOR_MALFORMED', 'length exceeds the input', start)
      }
      if (major === 4) {
        for (let i = 0; i < arg; i++) item(s, depth + 1)
        return
      }
      let previous = -1
      for (let i = 0; i < arg; i++) {
        const keyAt = s.at
        const [keyMajor, key] = head(s)
        if (keyMajor !== 0) bad('ERR_CBOR_TYPE', 'map key is not an unsigned integer', keyAt)
        if (key === previous) bad('ERR_CBOR_DUP_KEY', `duplicate map key ${key}`, keyAt)
        if (key < previous) bad('ERR_CBOR_NONCANONICAL', 'map keys not in ascending order', keyAt)
        previous = key
        item(s, depth + 1)
      }
      return
    }
    case 6: {
      bad('ERR_CBOR_TAG', `tag ${arg} not allowed`, start)
      break
    }
    default: {
      // major 7: arg < 24 is a simple value; arg ≥ 0x100 encodes the width (floats, simple8)
      if (arg === 20 || arg === 21) return
      if (arg === 0x100 + 25 || arg === 0x100 + 26 || arg === 0x100 + 27) {
        bad('ERR_CBOR_TYPE', 'floating-point values are not allowed', start)
      }
      bad(
        'ERR_CBOR_TYPE',
        arg === 22 ? 'null is not allowed' : arg === 23 ? 'undefined is not allowed' : 'simple values are not allowed',
        start,
      )
    }
  }
}
