/**
 * An amendment's caveat list as bytes (spec/mandate-v1.md §9.1, spec/service-v1.md §4.1): the
 * CBOR of 1 to 32 caveats, each well-formed as a library would sign it, of a core type or an
 * extension. One reading for the feed, the view's state file and the service's store, so that
 * none of them accepts what another refuses.
 *
 * @module
 */
import { decodeCbor, encodeCbor } from '../cbor/codec.js'
import { TOKEN_LIMITS } from '../cbor/limits.js'
import { decodeCaveat, encodeCaveat } from './codec.js'
import type { Caveat } from './types.js'

/**
 * The CBOR of a caveat list. Throws `ERR_CAVEAT_INVALID` for a malformed caveat, and a
 * RangeError for an empty list or one over 32.
 *
 * @example
 * ```ts
 * encodeCaveatList([{ type: 'uses', max: 3 }]) // Uint8Array [0x81, 0x82, 0x05, …]
 * ```
 */
export function encodeCaveatList(caveats: readonly Caveat[]): Uint8Array {
  if (caveats.length === 0 || caveats.length > TOKEN_LIMITS.maxCaveats) {
    throw new RangeError(`an amendment adds 1 to ${TOKEN_LIMITS.maxCaveats} caveats, got ${caveats.length}`)
  }
  return encodeCbor(caveats.map(encodeCaveat))
}

/**
 * A caveat list read back from its bytes; undefined when they are CBOR but not one: not a list of
 * 1 to 32, or holding a caveat that is unknown, malformed, or that does not encode again (a window
 * that ends before it starts decodes, but no library signs it). Bytes that are not strict CBOR
 * throw the profile's code (`ERR_CBOR_*`), as anywhere else.
 *
 * @example
 * ```ts
 * decodeCaveatList(encodeCaveatList([{ type: 'uses', max: 3 }])) // [{ type: 'uses', max: 3 }]
 * ```
 */
export function decodeCaveatList(bytes: Uint8Array): Caveat[] | undefined {
  const list = decodeCbor(bytes)
  if (!Array.isArray(list) || list.length === 0 || list.length > TOKEN_LIMITS.maxCaveats) return undefined
  const caveats = list.map(decodeCaveat)
  try {
    for (const c of caveats) {
      if (c.type === 'invalid' || c.type === 'unknown') return undefined
      encodeCaveat(c)
    }
  } catch {
    return undefined
  }
  return caveats as Caveat[]
}
