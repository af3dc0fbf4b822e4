/**
 * The fast backend: OpenSSL through `node:crypto`, with the strict profile around it.
 *
 * Plain `node:crypto` is not the profile: on Node 20 it accepts small-order A and R, and
 * what it accepts changed in later Node releases (nodejs/node#64026). So A is checked once
 * per key (cached) and R against the eight small-order encodings. OpenSSL computes
 * R' = [S]B − [k]A and compares its canonical encoding with the received R, so an accepted
 * R is canonical and the equation is the cofactorless one. Rejections are explained by the
 * shared {@link precheck}, so both backends report the same rule.
 *
 * Keys are imported through JWK, not SPKI DER (about 10 µs against 100 µs here), and cached.
 *
 * @module
 */
import { createPrivateKey, createPublicKey, hash, type KeyObject, sign as nodeSign, verify as nodeVerify } from 'node:crypto'
import { base64urlnopad } from '@scure/base'
import { abytes, concatBytes, toHex } from '../internal/bytes.js'
import type { Ed25519Backend } from './backend.js'
import { cachedKeyCheck } from './key-check-cache.js'
import { isReducedScalar, isSmallOrderEncoding, passesKeyBytes, precheck, type SignatureOutcome } from './profile.js'

const PKCS8_PREFIX = new Uint8Array([0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20])

const keyObjects = new Map<string, KeyObject>()
const KEY_OBJECTS_MAX = 4096

function publicKeyObject(publicKey: Uint8Array): KeyObject {
  const id = toHex(publicKey)
  let key = keyObjects.get(id)
  // Stryker disable next-line ConditionalExpression: equivalent — re-importing a cached key gives an equal key object; only the speed differs
  if (!key) {
    key = createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: base64urlnopad.encode(publicKey) }, format: 'jwk' })
    // Stryker disable next-line ConditionalExpression,EqualityOperator: equivalent — how many key objects stay cached changes no outcome, only how often a key is re-imported
    if (keyObjects.size >= KEY_OBJECTS_MAX) keyObjects.delete(keyObjects.keys().next().value as string)
    keyObjects.set(id, key)
  }
  return key
}

// An all-zero x is not a valid public key, so OpenSSL cannot have taken it from the input.
const PLACEHOLDER_X = base64urlnopad.encode(new Uint8Array(32))

function fromDer(secretKey: Uint8Array): KeyObject {
  return createPrivateKey({ key: Buffer.from(concatBytes(PKCS8_PREFIX, secretKey)), format: 'der', type: 'pkcs8' })
}

/** A secret imported once: its key object, the digest of the bytes imported, its public key. */
interface Imported {
  readonly key: KeyObject
  readonly digest: string
  readonly publicKey: Uint8Array
}

/**
 * The secrets already imported, by the caller's own array: an agent signs with one key again
 * and again (mint, attenuate, invoke, signed requests), and each of those first derives the
 * key's public half to check the pair; importing a secret and deriving its public key cost
 * OpenSSL a scalar multiplication, as much as the signature itself. Held weakly: an entry lives
 * exactly as long as the array it was made from, and is used only while the array still holds
 * the bytes it was imported from (a wiped or reused array is imported anew). The check is by
 * digest, so that no copy of the secret is kept on the JavaScript heap.
 */
const imports = new WeakMap<Uint8Array, Imported>()

// Stryker disable next-line StringLiteral: equivalent — without an encoding the digests are Buffers, never equal: every import is made anew (only slower)
const digestOf = (secretKey: Uint8Array): string => hash('sha256', secretKey, 'base64')

/**
 * The import of what `secretKey` holds now. Its bytes are read once, into a copy that is
 * digested and imported and then wiped: read twice, an array another thread writes (a
 * `SharedArrayBuffer`) could be imported as one key and remembered under the digest of another.
 */
function importOf(secretKey: Uint8Array): Imported {
  const seed = Uint8Array.from(secretKey)
  try {
    return importFor(secretKey, seed)
    // Stryker disable next-line BlockStatement: equivalent to observe — the wipe changes no answer; it keeps a copy of the secret from lingering on the heap
  } finally {
    seed.fill(0)
  }
}

/** The import of `seed` (a copy of what `owner` held, that nobody else writes), remembered for `owner`. */
function importFor(owner: Uint8Array, seed: Uint8Array): Imported {
  const digest = digestOf(seed)
  const known = imports.get(owner)
  // Stryker disable next-line ConditionalExpression: equivalent when false (imported again: only slower); when true, every test of an array written into fails
  if (known !== undefined && known.digest === digest) return known
  const fresh = { ...importSeed(seed), digest }
  imports.set(owner, fresh)
  return fresh
}

/**
 * Import a seed and read back the public key OpenSSL derived from it. Importing the seed as
 * JWK costs about a tenth of PKCS#8 DER here (OpenSSL 3's decoder is slow), but JWK wants `x`
 * too: OpenSSL derives the key from `d` and ignores `x`, which we check (a placeholder must not
 * come back) rather than assume; any surprise falls back to DER.
 */
function importSeed(seed: Uint8Array): { key: KeyObject; publicKey: Uint8Array } {
  try {
    const key = createPrivateKey({ key: { kty: 'OKP', crv: 'Ed25519', d: base64urlnopad.encode(seed), x: PLACEHOLDER_X }, format: 'jwk' })
    // The private key's JWK carries x, derived from d: no public key object is made for it.
    const x = key.export({ format: 'jwk' }).x
    if (typeof x === 'string' && x !== PLACEHOLDER_X) return { key, publicKey: base64urlnopad.decode(x) }
  } catch {
    // fall through to the slow, unambiguous path
  }
  const key = fromDer(seed)
  return { key, publicKey: base64urlnopad.decode(createPublicKey(key).export({ format: 'jwk' }).x as string) }
}

/** The `node:crypto` backend. */
export const nodeBackend: Ed25519Backend = {
  name: 'node',
  // A seed is 32 bytes: OpenSSL's DER fallback would take the first 32 of a longer one (noble refuses it too).
  publicKey(secretKey) {
    // A copy: the caller may write into what it is given.
    return importOf(abytes(secretKey, 32, 'secretKey')).publicKey.slice()
  },
  keyPair(secretKey) {
    // The pair's own copy is remembered with the import it shares, so that signing with it
    // imports nothing: read once, the copy and the public key are of the same bytes.
    const own = Uint8Array.from(abytes(secretKey, 32, 'secretKey'))
    const imported = importFor(secretKey, own)
    imports.set(own, imported)
    return { secretKey: own, publicKey: imported.publicKey.slice() }
  },
  // OpenSSL signs with the key it derives from d: the public key the caller holds is not needed.
  sign(secretKey, message) {
    return new Uint8Array(nodeSign(null, message, importOf(abytes(secretKey, 32, 'secretKey')).key))
  },
  verify(signature, message, publicKey): SignatureOutcome {
    if (!openSslMayAccept(signature, publicKey)) return explain(signature, publicKey)
    // Stryker disable next-line BooleanLiteral: equivalent — overwritten on both paths: by nodeVerify's result, or by the catch
    let valid = false
    try {
      valid = nodeVerify(null, message, publicKeyObject(publicKey), signature)
      // Stryker disable next-line BlockStatement: equivalent — when nodeVerify throws, valid still holds its initial false
    } catch {
      valid = false
    }
    return valid ? acceptedR(signature) : explain(signature, publicKey)
  },
  verifyAsync(signature, message, publicKey) {
    if (!openSslMayAccept(signature, publicKey)) return Promise.resolve(explain(signature, publicKey))
    return new Promise<SignatureOutcome>((resolve) => {
      try {
        // With a callback, node:crypto verifies on libuv's thread pool.
        nodeVerify(null, message, publicKeyObject(publicKey), signature, (error, valid) =>
          resolve(!error && valid ? acceptedR(signature) : explain(signature, publicKey)),
        )
      } catch {
        resolve(explain(signature, publicKey))
      }
    })
  },
}

/**
 * The byte-level rules before OpenSSL (lengths, the key's encoding and the small-order list,
 * a reduced S); the point decoding is left to OpenSSL: a key it cannot decode fails the
 * signature, and {@link explain} then names the rule (never-seen holder keys are the common
 * case, and decompressing with BigInt cost a third of a cold verify).
 */
function openSslMayAccept(signature: Uint8Array, publicKey: Uint8Array): boolean {
  return signature.length === 64 && publicKey.length === 32 && passesKeyBytes(publicKey) && isReducedScalar(signature.subarray(32, 64))
}

/** An equation OpenSSL accepted: R must still not be of small order. */
function acceptedR(signature: Uint8Array): SignatureOutcome {
  return isSmallOrderEncoding(signature.subarray(0, 32)) ? 'small_order_R' : 'accept'
}

/** Why a signature was not accepted, by the shared precheck (same rule as the other backend). */
function explain(signature: Uint8Array, publicKey: Uint8Array): SignatureOutcome {
  // Before the key check, which expects 32 bytes.
  if (signature.length !== 64 || publicKey.length !== 32) return 'length'
  const pre = precheck(signature, publicKey, cachedKeyCheck(publicKey))
  return 'rule' in pre ? pre.rule : 'equation'
}
