/**
 * Telling a feed signed by another key from a broken one. A page that fails under the pinned
 * key but verifies under the key it names is a configuration mistake (the wrong key pinned, the
 * wrong URL, a service whose key changed), not an outage: the operator needs to hear that,
 * not "cannot reach".
 *
 * @module
 */
import { base64urlnopad } from '@scure/base'
import { decodeCbor } from '../cbor/codec.js'
import { equalBytes } from '../internal/bytes.js'
import { FEED_LIMITS, verifyFeedPage } from './feed.js'

/**
 * The key that validly signed `signed` when it is not `pinned`; undefined for a page that is
 * simply bad (unreadable, badly signed under the key it names, or naming the pinned key).
 *
 * @example
 * ```ts
 * const other = foreignFeedKey(await res.json(), pinnedKey)
 * if (other) console.error(`the feed is signed by ${toDidKey(other)}, not the pinned key`)
 * ```
 */
export function foreignFeedKey(signed: unknown, pinned: Uint8Array): Uint8Array | undefined {
  try {
    // Not trusted yet: only read for the key it names, to try that key.
    const top = decodeCbor(base64urlnopad.decode((signed as { page: string }).page), FEED_LIMITS)
    const named = top instanceof Map ? top.get(1) : undefined
    if (named instanceof Uint8Array && !equalBytes(named, pinned)) {
      // Only a page that really is that key's says so: a forgery naming a key proves nothing.
      verifyFeedPage(signed, named)
      return named
    }
  } catch {
    // not a page (no object, no text, no CBOR), or not validly signed by the key it names
  }
  return undefined
}
