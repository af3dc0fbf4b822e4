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

/** Cryptographically secure random bytes from the platform (WebCrypto). */
export function randomBytes(length: number): Uint8Array {
  const out = new Uint8Array(length)
  globalThis.crypto.getRandomValues(out)
  return out
}
