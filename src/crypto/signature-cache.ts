/**
 * Signatures already verified, keyed by a hash of (signer, signature, signing input), so a
 * chain seen before costs a hash per block instead of a verification.
 *
 * @module
 */

import { concatBytes } from '../internal/bytes.js'
import { sha256 } from './hash.js'

/** A bounded set of verified signatures (oldest evicted first). Size 0 turns it off. */
export class SignatureCache {
  private readonly seen = new Map<string, true>()
  constructor(private readonly size: number) {}
  /** undefined when caching is off, so that the hash is not computed for nothing. */
  key(signer: Uint8Array, signature: Uint8Array, message: Uint8Array): string | undefined {
    // The digest's bytes as a flat one-byte string: ~60 bytes held per entry (hex built byte by byte is a rope of ~900).
    return this.size === 0
      ? undefined
      : String.fromCharCode.apply(null, sha256(concatBytes(signer, signature, message)) as unknown as number[])
  }
  has(key: string | undefined): boolean {
    return key !== undefined && this.seen.has(key)
  }
  add(key: string | undefined): void {
    if (key === undefined) return
    if (this.seen.size >= this.size) this.seen.delete(this.seen.keys().next().value as string)
    // Stryker disable next-line BooleanLiteral: equivalent — only the key's presence is read, never the value
    this.seen.set(key, true)
  }
}
