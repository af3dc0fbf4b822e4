/**
 * The codec as it was before our own (validate.ts + cbor-x, verbatim but for the names), kept
 * only as the reference of the differential tests (cbor-x is a devDependency). Not for use
 * anywhere else.
 */
import { Decoder, Encoder } from 'cbor-x'
import type { CborValue } from '../../src/cbor/codec.js'
import { CBOR_LIMITS, type CborLimits } from '../../src/cbor/limits.js'
import { fail, type MandateErrorCode } from '../../src/errors.js'

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
export function referenceValidateCbor(bytes: Uint8Array, limits: CborLimits = CBOR_LIMITS): void {
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

const encoder = new Encoder({
  useRecords: false,
  mapsAsObjects: false,
  variableMapSize: true,
  tagUint8Array: false,
  // With mapsAsObjects off, cbor-x writes Maps without tag 259; the validator checks it.
  pack: false,
})
const decoder = new Decoder({ useRecords: false, mapsAsObjects: false })

/**
 * Encode `value` deterministically (RFC 8949 §4.2.1 restricted to our profile).
 * Throws `TypeError` for values outside the data model: that is a bug in the caller.
 *
 * @example
 * ```ts
 * encodeCbor(new Map([[2, 'b'], [1, true]])) // a2 01 f5 02 61 62
 * ```
 */
export function referenceEncodeCbor(value: CborValue, limits: CborLimits = CBOR_LIMITS): Uint8Array {
  const bytes = new Uint8Array(encoder.encode(prepare(value, 0)))
  referenceValidateCbor(bytes, { ...limits, maxByteString: Number.MAX_SAFE_INTEGER })
  return bytes
}

/**
 * Validate then decode.
 *
 * @example
 * ```ts
 * decodeCbor(new Uint8Array([0x82, 0x01, 0x02])) // [1, 2]
 * ```
 */
export function referenceDecodeCbor(bytes: Uint8Array, limits: CborLimits = CBOR_LIMITS): CborValue {
  referenceValidateCbor(bytes, limits)
  let raw: unknown
  try {
    // cbor-x attaches a `dataView` property to the buffer it reads: give it a private copy so
    // that the caller's bytes are never mutated (byte strings come back as views of the copy).
    raw = decoder.decode(new Uint8Array(bytes))
  } catch (cause) {
    // Unreachable for validated input; kept so that a decoder bug still yields a typed error.
    fail('ERR_CBOR_MALFORMED', 'CBOR decoder rejected validated input', { cause })
  }
  return normalize(raw)
}

function prepare(value: CborValue, depth: number): unknown {
  if (depth > 64) throw new RangeError('"value" nests too deeply for CBOR encoding')
  if (typeof value === 'number') {
    if (!Number.isSafeInteger(value)) throw new TypeError(`"value" expected safe integer, got ${value}`)
    // cbor-x writes integers beyond 32 bits as float64 unless they are bigints.
    return value > 0xffffffff || value < -0x100000000 ? BigInt(value) : value
  }
  if (typeof value === 'boolean' || typeof value === 'string') return value
  if (value instanceof Uint8Array) return value
  if (Array.isArray(value)) return value.map((v: CborValue) => prepare(v, depth + 1))
  if (value instanceof Map) {
    const keys = [...value.keys()].sort((a, b) => a - b)
    const out = new Map<number | bigint, unknown>()
    for (const k of keys) {
      if (!Number.isSafeInteger(k) || k < 0) throw new TypeError(`"map key" expected unsigned integer, got ${k}`)
      out.set(k > 0xffffffff ? BigInt(k) : k, prepare(value.get(k) as CborValue, depth + 1))
    }
    return out
  }
  throw new TypeError(`"value" is outside the CBOR profile: ${typeof value}`)
}

function normalize(raw: unknown): CborValue {
  if (typeof raw === 'bigint') return Number(raw) // validator bounded it to ±(2^53−1)
  if (typeof raw === 'number' || typeof raw === 'boolean' || typeof raw === 'string') return raw
  if (raw instanceof Uint8Array) return raw
  if (Array.isArray(raw)) return raw.map(normalize)
  if (raw instanceof Map) {
    const out = new Map<number, CborValue>()
    for (const [k, v] of raw) out.set(typeof k === 'bigint' ? Number(k) : (k as number), normalize(v))
    return out
  }
  fail('ERR_CBOR_TYPE', 'CBOR decoder produced a value outside the profile')
}
