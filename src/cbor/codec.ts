/**
 * Deterministic encoding and strict decoding of the CBOR profile, over cbor-x.
 *
 * cbor-x is fast but neither strict on decode nor deterministic on encode by default
 * (research: duplicate keys, tags 27/28/29, lossy UTF-8, map16 heads, tag 64 on
 * Uint8Array, floats for integers ≥ 2^32). So: decode only after {@link validateCbor}
 * accepted the bytes; encode with a fixed option set, keys sorted here, large integers as
 * `bigint`, and validate the output before it is ever signed.
 *
 * @module
 */
import { Decoder, Encoder } from 'cbor-x'
import { fail } from '../errors.js'
import { CBOR_LIMITS, type CborLimits } from './limits.js'
import { validateCbor } from './validate.js'

/** The data model of the profile. Maps are keyed by unsigned integers. */
export type CborValue = number | boolean | string | Uint8Array | readonly CborValue[] | CborMap
/** A map of the profile: unsigned-integer keys. */
export type CborMap = ReadonlyMap<number, CborValue>

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
export function encodeCbor(value: CborValue, limits: CborLimits = CBOR_LIMITS): Uint8Array {
  const bytes = new Uint8Array(encoder.encode(prepare(value, 0)))
  validateCbor(bytes, { ...limits, maxByteString: Number.MAX_SAFE_INTEGER })
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
export function decodeCbor(bytes: Uint8Array, limits: CborLimits = CBOR_LIMITS): CborValue {
  validateCbor(bytes, limits)
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
