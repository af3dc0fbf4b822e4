/**
 * Signers whose secret stays where it is: a non-extractable WebCrypto key (the approval page
 * keeps one in the browser's IndexedDB), a hardware token, a remote signing service. The
 * library asks them for a signature and checks what they give back under the strict profile
 * against their public key, so that a signer holding another key (or not signing Ed25519 at
 * all) is refused before its signature goes anywhere.
 *
 * @module
 */
import { abytes } from '../internal/bytes.js'
import type { Ed25519Backend } from './backend.js'
import { getBackend, verifyWith } from './ed25519.js'

/**
 * An Ed25519 key that signs without showing its secret.
 *
 * @example
 * ```ts
 * const pair = await crypto.subtle.generateKey({ name: 'Ed25519' }, false, ['sign', 'verify'])
 * const signer: Ed25519Signer = {
 *   publicKey: new Uint8Array(await crypto.subtle.exportKey('raw', pair.publicKey)),
 *   sign: async (message) => new Uint8Array(await crypto.subtle.sign('Ed25519', pair.privateKey, message)),
 * }
 * ```
 */
export interface Ed25519Signer {
  /** Its 32-byte Ed25519 public key. */
  readonly publicKey: Uint8Array
  /** A pure Ed25519 signature (RFC 8032, 64 bytes) of `message` by the matching secret key. */
  sign(message: Uint8Array): Promise<Uint8Array> | Uint8Array
}

/**
 * `signer`'s signature of `message`, checked under the strict profile against `signer.publicKey`:
 * a signature that does not verify (another key, another algorithm, a broken signer) throws
 * `RangeError`, as a key pair whose halves do not match does.
 *
 * @example
 * ```ts
 * const signature = await signWith(signer, utf8('hello'))
 * ```
 */
export async function signWith(signer: Ed25519Signer, message: Uint8Array, backend: Ed25519Backend = getBackend()): Promise<Uint8Array> {
  if (typeof signer !== 'object' || signer === null || typeof signer.sign !== 'function') {
    throw new TypeError('"signer" expected an object with publicKey and sign()')
  }
  const publicKey = abytes(signer.publicKey, 32, 'signer publicKey')
  // The signer gets a copy: whatever it does with it, the bytes checked are the ones meant.
  const signature = await signer.sign(new Uint8Array(message))
  if (!(signature instanceof Uint8Array) || signature.length !== 64) {
    throw new RangeError('"signer" returned no 64-byte Ed25519 signature')
  }
  const outcome = verifyWith(backend, signature, message, publicKey)
  if (outcome !== 'accept') {
    throw new RangeError(`"signer" signature does not verify under its publicKey (${outcome.replaceAll('_', ' ')})`)
  }
  return new Uint8Array(signature)
}
