/**
 * One interface over two Ed25519 implementations (spec §4.1): `node` (OpenSSL through
 * `node:crypto`, about 10× faster here) and `noble` (@noble/ed25519, pure JS, runs in
 * browsers and edge runtimes). Both implement the strict profile and give the same outcome
 * on every input; `test/crypto/differential.test.ts` holds them to it.
 *
 * @module
 */
import type { SignatureOutcome } from './profile.js'

/** Names of the available backends. */
export type BackendName = 'node' | 'noble'

/**
 * An Ed25519 implementation constrained to the strict profile. The library's own are those
 * `getBackend()` returns; one passed in by a caller is handed arrays of its own, which it may keep.
 */
export interface Ed25519Backend {
  readonly name: BackendName
  /** The 32-byte public key of a 32-byte secret key (seed). */
  publicKey(secretKey: Uint8Array): Uint8Array
  /**
   * A copy of `secretKey`, read once, with its public key. Where a backend keeps what it
   * derived (`node`: the imported key, for as long as the array lives), the copy shares it, so
   * that signing with the pair derives nothing again. Without it, the library copies and calls
   * {@link Ed25519Backend.publicKey}.
   */
  keyPair?(secretKey: Uint8Array): { secretKey: Uint8Array; publicKey: Uint8Array }
  /**
   * A pure Ed25519 signature (64 bytes). `publicKey`, the secret's own public key when the
   * caller already has it, saves deriving it; a wrong one is never used in its place.
   */
  sign(secretKey: Uint8Array, message: Uint8Array, publicKey?: Uint8Array): Uint8Array
  /** Strict-profile verification: `accept` or the first failing rule. Never throws. */
  verify(signature: Uint8Array, message: Uint8Array, publicKey: Uint8Array): SignatureOutcome
  /**
   * {@link Ed25519Backend.verify} off the calling thread, where the runtime has one to spare
   * (`node`: libuv's thread pool), so that a server checks several signatures at once and its
   * event loop goes on meanwhile. Same outcome for every input. Never rejects.
   */
  verifyAsync?(signature: Uint8Array, message: Uint8Array, publicKey: Uint8Array): Promise<SignatureOutcome>
}
