/**
 * Building blocks for hand-made Ed25519 signatures that only one strict rule should reject,
 * computed here (not through a backend) so that the backends under test stay untouched.
 */
import { sha512 } from '@noble/hashes/sha2.js'
import { bytesToNumberLE, L } from '../../src/crypto/profile.js'
import { concatBytes } from '../../src/internal/bytes.js'
import { hex } from './fixtures.js'

/** The encoding of the identity point (y = 1): small order. */
export const IDENTITY = `01${'00'.repeat(31)}`

/** n as 32 little-endian bytes. */
export function le32(n: bigint): Uint8Array {
  const out = new Uint8Array(32)
  for (let i = 0; i < 32; i++) out[i] = Number((n >> BigInt(8 * i)) & 0xffn)
  return out
}

/** The RFC 8032 secret scalar of a seed. */
export function secretScalar(seed: Uint8Array): bigint {
  const h = sha512(seed).slice(0, 32)
  h[0] = (h[0] as number) & 248
  h[31] = ((h[31] as number) & 127) | 64
  return bytesToNumberLE(h)
}

/** A signature with R = identity that satisfies the cofactorless equation: only the small-order rule rejects it. */
export function identityRSignature(seed: Uint8Array, publicKey: Uint8Array, message: Uint8Array): Uint8Array {
  const R = hex(IDENTITY)
  const k = bytesToNumberLE(sha512(concatBytes(R, publicKey, message))) % L
  return concatBytes(R, le32((k * secretScalar(seed)) % L))
}
