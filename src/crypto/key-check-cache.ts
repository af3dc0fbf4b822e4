/**
 * The strict-profile key check (spec §4.1), cached by the key's bytes: keys recur across
 * tokens, and decompressing a point is the costly part of a check. Shared by both backends.
 *
 * @module
 */
import { toHex } from '../internal/bytes.js'
import { checkKey, type KeyCheck } from './profile.js'

const keyCache = new Map<string, KeyCheck>()
const KEY_CACHE_MAX = 4096

/**
 * Strict-profile key check, cached by the key's bytes (oldest evicted first beyond 4096 keys).
 *
 * @example
 * ```ts
 * const check = cachedKeyCheck(publicKey)
 * if (!check.ok) console.log(check.rule) // why the key fails the profile
 * ```
 */
export function cachedKeyCheck(publicKey: Uint8Array): KeyCheck {
  const id = toHex(publicKey)
  let check = keyCache.get(id)
  if (!check) {
    check = checkKey(publicKey)
    if (keyCache.size >= KEY_CACHE_MAX) keyCache.delete(keyCache.keys().next().value as string)
    keyCache.set(id, check)
  }
  return check
}
