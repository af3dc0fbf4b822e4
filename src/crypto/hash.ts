/**
 * Hashes used by the format: SHA-256 for ids, SHA-512 inside Ed25519.
 *
 * @module
 */
import { sha256 as nobleSha256, sha512 as nobleSha512 } from '@noble/hashes/sha2.js'

let sha256Impl: (bytes: Uint8Array) => Uint8Array = nobleSha256

/** SHA-256 of `bytes`. */
export function sha256(bytes: Uint8Array): Uint8Array {
  return sha256Impl(bytes)
}

/**
 * Use the platform's SHA-256 (OpenSSL on Node: the ids of a chain's blocks and of an invocation
 * cost about half as much). Called once by the Node entry points; not part of the public API.
 */
export function installSha256(platform: (bytes: Uint8Array) => Uint8Array): void {
  sha256Impl = platform
}

/** SHA-512 of `bytes`. */
export function sha512(bytes: Uint8Array): Uint8Array {
  return nobleSha512(bytes)
}

/**
 * Bytes drawn from the platform at once and handed out in order. A call into the platform's
 * generator costs ~4 µs on Node (a crypto job per call) however few bytes it returns: a tenth of
 * an attenuation, which draws a bearer secret. Small enough that few keys' worth wait in memory.
 */
const POOL_BYTES = 1024
/** Larger requests go to the platform directly. */
const MAX_POOLED = 64
let pool = new Uint8Array(0)
let drawn = 0

/**
 * Cryptographically secure random bytes from the platform (WebCrypto `getRandomValues`), small
 * ones from a pool of them. Bytes leave the pool once: they are copied out and zeroed there.
 *
 * @example
 * ```ts
 * const secret = randomBytes(32) // Uint8Array(32)
 * ```
 */
export function randomBytes(length: number): Uint8Array {
  if (length > MAX_POOLED) return globalThis.crypto.getRandomValues(new Uint8Array(length))
  if (drawn + length > pool.length) {
    pool = globalThis.crypto.getRandomValues(new Uint8Array(POOL_BYTES))
    drawn = 0
  }
  const out = pool.slice(drawn, drawn + length)
  pool.fill(0, drawn, drawn + length)
  drawn += length
  return out
}

/**
 * Forget the bytes still waiting in the pool: the next draw comes from the platform. For a
 * process image that will run more than once (a Node startup snapshot), where they would be
 * handed out again in every copy. Internal.
 */
export function discardRandomPool(): void {
  pool.fill(0)
  drawn = pool.length
}
