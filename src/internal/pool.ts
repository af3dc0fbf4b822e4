/**
 * Scratch byte arrays for signing inputs, cut in turn from one ring of 64 KiB that is used over
 * and over. A `Uint8Array` above 64 bytes gets a backing store of its own outside the
 * JavaScript heap (about 4 µs in V8 here, 5 % of a signature check), and fresh memory costs a
 * page fault per 4 KiB the first time it is written: slabs made anew cost a warm verify of a
 * 10-block chain 2 µs of faults (its signing input is 1.5 KB), one reused costs an add.
 *
 * So an array is scratch: it stays intact only until {@link SCRATCH_LIFETIME} more bytes have
 * been cut after it, and its `buffer` holds other arrays. That is enough for what a caller
 * holds at once: every signing input of one presentation (at most twice the token, which is at
 * most 16 KiB: an invocation's payload holds its chain's again), handed
 * straight to a signer or verifier, which reads it before returning (Node's asynchronous
 * verify copies its input when called). Nothing cut from the ring reaches a caller of the
 * library: `signingInput` hands out a copy, and so does a backend object a caller passes in
 * (`messageFor` in src/crypto/ed25519.ts, behind its `verifyWith`, `verifyAsync` and `signWithBackend`).
 *
 * @module
 */

const RING_BYTES = 65536
/** Larger arrays get their own backing store: they would use up the ring. */
const MAX_SCRATCH = 8192
/**
 * Bytes that may be cut after an array before it can be overwritten: the ring, less the array
 * itself and the end of the ring a wrap skips (each at most {@link MAX_SCRATCH}).
 */
export const SCRATCH_LIFETIME = RING_BYTES - 2 * MAX_SCRATCH

const ring = new Uint8Array(RING_BYTES)
let used = 0

/**
 * An array of `length` bytes whose content is undefined: the caller writes every byte. It is
 * overwritten once {@link SCRATCH_LIFETIME} more bytes have been cut after it; one above 8 KiB is
 * an array of its own.
 *
 * @example
 * ```ts
 * const out = scratch(100) // Uint8Array(100): write it whole, use it at once
 * ```
 */
export function scratch(length: number): Uint8Array {
  if (length > MAX_SCRATCH) return new Uint8Array(length)
  if (used + length > RING_BYTES) used = 0
  const out = ring.subarray(used, used + length)
  used += length
  return out
}
