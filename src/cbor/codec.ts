/**
 * Deterministic encoding and strict decoding of the CBOR profile (spec §5.1).
 *
 * Our own codec, no CBOR library: the profile is small (integers within ±(2^53−1), byte and
 * text strings, arrays, maps with unsigned-integer keys, `true`/`false`) and libraries are
 * neither strict on decode nor deterministic on encode (cbor-x, for one: duplicate keys,
 * tags 27/28/29, lossy UTF-8, map16 heads, tag 64 on Uint8Array, floats for integers ≥ 2^32).
 * Decoding validates and builds in one pass ({@link validateCbor} is the same reader); the
 * encoder checks as it writes what that reader would check on its output.
 *
 * @module
 */

import { readCbor } from './decode.js'
import { writeCbor } from './encode.js'
import { CBOR_LIMITS, type CborLimits } from './limits.js'

/** The data model of the profile. Maps are keyed by unsigned integers. */
export type CborValue = number | boolean | string | Uint8Array | readonly CborValue[] | CborMap
/** A map of the profile: unsigned-integer keys. */
export type CborMap = ReadonlyMap<number, CborValue>

/**
 * Encode `value` deterministically (RFC 8949 §4.2.1 restricted to our profile): shortest
 * heads, definite lengths, map keys sorted ascending whatever the insertion order, `-0` as 0.
 * Throws `TypeError` for values outside the data model (and `RangeError` beyond 64 levels):
 * that is a bug in the caller. Throws the validator's `MandateError` (`ERR_LIMIT_*`, or
 * `ERR_CBOR_UTF8` for a lone surrogate, never replaced) when the output would break `limits`
 * (byte strings excepted).
 *
 * @example
 * ```ts
 * encodeCbor(new Map<number, CborValue>([[2, 'b'], [1, true]])) // a2 01 f5 02 61 62
 * ```
 */
export function encodeCbor(value: CborValue, limits: CborLimits = CBOR_LIMITS): Uint8Array {
  return writeCbor(value, limits)
}

/**
 * Validate and decode, in one pass. Byte strings in the result are views of a private copy
 * of `bytes`: the caller's buffer is never aliased.
 *
 * @example
 * ```ts
 * decodeCbor(new Uint8Array([0x82, 0x01, 0x02])) // [1, 2]
 * ```
 */
export function decodeCbor(bytes: Uint8Array, limits: CborLimits = CBOR_LIMITS): CborValue {
  return readCbor(bytes, limits, true)
}

/**
 * {@link decodeCbor} of bytes this library already owns: a byte string {@link decodeCbor}
 * returned (a view of its private copy), such as a token's payload or a block inside a chain.
 * They are not copied a second time: a `Uint8Array` above 64 bytes costs V8 about 4 µs, and a
 * chain's payloads were each copied again, a tenth of a cold verify. Never for a caller's bytes.
 *
 * @example
 * ```ts
 * const outer = decodeCbor(bytes) as Uint8Array // a byte string: a view of decodeCbor's copy
 * decodeOwnedCbor(outer.subarray(64)) // the payload inside it, decoded in place
 * ```
 */
export function decodeOwnedCbor(bytes: Uint8Array, limits: CborLimits = CBOR_LIMITS): CborValue {
  return readCbor(bytes, limits, false)
}
