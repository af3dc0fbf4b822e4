/**
 * The strict CBOR validator (spec §5.1). Every input is read by it: `decodeCbor`
 * validates as it decodes, and the encoder checks the same rules on its output as it writes.
 *
 * Accepted: unsigned and negative integers within ±(2^53−1), byte strings, valid UTF-8 text
 * strings, arrays, maps whose keys are unsigned integers in strictly ascending order, and
 * `true`/`false`. Everything in shortest form with definite lengths, exactly one item,
 * nothing after it. Rejected: tags, floats, null, undefined, simple values, indefinite
 * lengths, non-minimal heads, duplicate or unsorted or non-integer map keys, invalid UTF-8.
 *
 * @module
 */
import { readCbor } from './decode.js'
import { CBOR_LIMITS, type CborLimits } from './limits.js'

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
  readCbor(bytes, limits, false)
}
