/**
 * Fresh byte arrays cut from a shared slab, as Node's `Buffer.allocUnsafe` does. A `Uint8Array`
 * above 64 bytes gets a backing store of its own outside the JavaScript heap, which costs V8
 * about 4 µs here: as much as 5 % of a signature check, paid for every signing input. Cutting it
 * from a 64 KiB slab costs an add (a signing input of a 10-block chain is 1.5 KB). Every array handed out is new memory (zeroed with its slab,
 * never handed out twice); a slab lives as long as any array cut from it.
 *
 * @module
 */

const SLAB_BYTES = 65536
/** Larger arrays get their own backing store: a slab would be mostly waste. */
const MAX_POOLED = 8192

let slab = new Uint8Array(SLAB_BYTES)
let used = 0

/**
 * A zero-filled array of `length` bytes, never shared with another caller. Its `buffer` may hold
 * other arrays: read it through the array (or `byteOffset`), never the whole buffer.
 *
 * @example
 * ```ts
 * const out = allocate(100) // Uint8Array(100), zeros
 * ```
 */
export function allocate(length: number): Uint8Array {
  if (length > MAX_POOLED) return new Uint8Array(length)
  if (used + length > SLAB_BYTES) {
    slab = new Uint8Array(SLAB_BYTES)
    used = 0
  }
  const out = slab.subarray(used, used + length)
  // Aligned to 8, so that no two arrays share a word.
  used += (length + 7) & ~7
  return out
}
