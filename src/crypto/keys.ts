/**
 * Keys: generation, PKCS#8 PEM (interoperable with `openssl genpkey -algorithm ed25519`),
 * SPKI PEM, `did:key`, hex and base64url public keys.
 *
 * The public key is always derived from the secret, never taken from input alongside it
 * (RUSTSEC-2022-0093: a mismatched pair leaks the secret when signing).
 *
 * @module
 */
import { base58, base64, base64urlnopad } from '@scure/base'
import { fail } from '../errors.js'
import { abytes, astring, concatBytes, equalBytes, fromHex, toHex } from '../internal/bytes.js'
import { getBackend } from './ed25519.js'
import { randomBytes } from './hash.js'
import { cachedKeyCheck } from './key-check-cache.js'

/** An Ed25519 key pair. `secretKey` is the 32-byte RFC 8032 seed. */
export interface KeyPair {
  readonly publicKey: Uint8Array
  readonly secretKey: Uint8Array
}

const PKCS8_V1 = new Uint8Array([0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20])
// RFC 8410 OneAsymmetricKey v2: the seed followed by [1] publicKey.
const PKCS8_V2 = new Uint8Array([0x30, 0x51, 0x02, 0x01, 0x01, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20])
const PKCS8_V2_PUB = new Uint8Array([0x81, 0x21, 0x00])
const SPKI_PREFIX = new Uint8Array([0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00])
const DID_KEY_PREFIX = 'did:key:z'
const ED25519_MULTICODEC = new Uint8Array([0xed, 0x01])

/**
 * A fresh key pair from the platform's CSPRNG.
 *
 * @example
 * ```ts
 * const alice = generateKeyPair()
 * console.log(toDidKey(alice.publicKey)) // did:key:z6Mk…
 * ```
 */
export function generateKeyPair(): KeyPair {
  return keyPairFromSecret(randomBytes(32))
}

/**
 * The key pair of a 32-byte secret key (seed).
 *
 * @example
 * ```ts
 * const pair = keyPairFromSecret(new Uint8Array(32).fill(7))
 * ```
 */
export function keyPairFromSecret(secretKey: Uint8Array): KeyPair {
  abytes(secretKey, 32, 'secretKey')
  const backend = getBackend()
  if (backend.keyPair) return backend.keyPair(secretKey)
  // Read once: the pair's public key is of the bytes it holds, whatever the caller writes later.
  const own = new Uint8Array(secretKey)
  return { secretKey: own, publicKey: backend.publicKey(own) }
}

/**
 * The `did:key` form of a public key (multicodec `0xed01`, base58btc).
 *
 * @example
 * ```ts
 * toDidKey(generateKeyPair().publicKey) // 'did:key:z6Mk…'
 * ```
 */
export function toDidKey(publicKey: Uint8Array): string {
  abytes(publicKey, 32, 'publicKey')
  // base58 is quadratic in the input; decisions name the same few keys again and again.
  const id = toHex(publicKey)
  let did = didCache.get(id)
  // Stryker disable next-line ConditionalExpression: equivalent — recomputing gives the same string; the cache is private
  if (did === undefined) {
    did = DID_KEY_PREFIX + base58.encode(concatBytes(ED25519_MULTICODEC, publicKey))
    // Stryker disable next-line ConditionalExpression,EqualityOperator: equivalent — the bound only caps memory; every answer is recomputed or cached identically
    if (didCache.size >= 4096) didCache.delete(didCache.keys().next().value as string)
    didCache.set(id, did)
  }
  return did
}

const didCache = new Map<string, string>()

/**
 * Check that `key` is a key pair that can sign as its public key: its 32-byte secret key and
 * the public key that secret key makes. Returns the public key. The service's clients, the
 * service (whose public key its feed pages name) and the MCP guard check their key once, when
 * they are made, so that a wrong key is a mistake at start-up rather than every signature
 * failing later. Throws `TypeError` for something that is not a key pair ("expected" then
 * says what was), `RangeError` for wrong lengths or a public key that is not the secret key's.
 *
 * @example
 * ```ts
 * assertKeyPair(generateKeyPair()) // its publicKey
 * assertKeyPair({ publicKey: generateKeyPair().publicKey, secretKey: generateKeyPair().secretKey }) // throws RangeError
 * ```
 */
export function assertKeyPair(key: KeyPair, expected = 'a key pair'): Uint8Array {
  if (key === null || typeof key !== 'object' || !(key.secretKey instanceof Uint8Array) || !(key.publicKey instanceof Uint8Array)) {
    throw new TypeError(`"key" expected ${expected}`)
  }
  abytes(key.secretKey, 32, 'secretKey')
  const publicKey = getBackend().publicKey(key.secretKey)
  if (!equalBytes(publicKey, abytes(key.publicKey, 32, 'publicKey'))) {
    throw new RangeError('"key" publicKey does not match its secretKey')
  }
  return publicKey
}

/**
 * Parse a public key given as `did:key`, SPKI PEM, 64 hex digits or 43 base64url characters.
 * The key must be a canonical encoding of a point that is not of small order.
 *
 * @example
 * ```ts
 * const key = parsePublicKey('did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK')
 * ```
 */
export function parsePublicKey(text: string): Uint8Array {
  astring(text, 'publicKey')
  const value = text.trim()
  let key: Uint8Array | undefined
  if (value.startsWith('did:key:')) key = decodeDidKey(value)
  else if (value.startsWith('-----BEGIN PUBLIC KEY-----')) key = decodeSpkiPem(value)
  else if (/^[0-9a-fA-F]{64}$/.test(value)) key = fromHex(value)
  else if (/^[A-Za-z0-9_-]{43}$/.test(value)) key = tryDecode(() => base64urlnopad.decode(value))
  if (!key || key.length !== 32) {
    fail('ERR_KEY_FORMAT', 'not a public key: expected did:key, SPKI PEM, 64 hex digits or 43 base64url characters', {
      hint: 'run `mandate pubkey KEYFILE` to print a key as did:key',
    })
  }
  assertStrongKey(key)
  return key
}

/** Throw ERR_SIG_ENCODING / ERR_KEY_WEAK unless `key` is a usable strict-profile key. */
export function assertStrongKey(key: Uint8Array): void {
  // Cached: a service parses the same registered keys on every request.
  const check = cachedKeyCheck(key)
  if (check.ok) return
  if (check.rule === 'noncanonical_A') fail('ERR_SIG_ENCODING', 'public key is not a canonical point encoding')
  fail('ERR_KEY_WEAK', 'public key is a point of small order')
}

function decodeDidKey(value: string): Uint8Array | undefined {
  if (!value.startsWith(DID_KEY_PREFIX)) return undefined
  const raw = tryDecode(() => base58.decode(value.slice(DID_KEY_PREFIX.length)))
  if (!raw || raw.length !== 34 || raw[0] !== 0xed || raw[1] !== 0x01) return undefined
  return raw.subarray(2)
}

function decodeSpkiPem(value: string): Uint8Array | undefined {
  const der = pemBody(value, 'PUBLIC KEY')
  if (!der || der.length !== 44 || !equalBytes(der.subarray(0, 12), SPKI_PREFIX)) return undefined
  return der.subarray(12)
}

function tryDecode(f: () => Uint8Array): Uint8Array | undefined {
  try {
    return f()
  } catch {
    return undefined
  }
}

function pemBody(text: string, label: string): Uint8Array | undefined {
  const match = new RegExp(`^-----BEGIN ${label}-----\\r?\\n([A-Za-z0-9+/=\\r\\n]+?)\\r?\\n?-----END ${label}-----\\s*$`).exec(text.trim())
  const body = match?.[1]
  if (!body) return undefined
  return tryDecode(() => base64.decode(body.replace(/\r?\n/g, '')))
}

function pem(label: string, der: Uint8Array): string {
  const b64 = base64.encode(der)
  // Stryker disable next-line ArrayDeclaration: equivalent — DER is never empty, so the match is never null
  const lines = b64.match(/.{1,64}/g) ?? []
  return `-----BEGIN ${label}-----\n${lines.join('\n')}\n-----END ${label}-----\n`
}

/**
 * PKCS#8 PEM of a secret key, byte-identical to what `openssl genpkey -algorithm ed25519`
 * writes. The result is a secret: write it with mode 0600.
 *
 * @example
 * ```ts
 * const text = exportSecretKeyPem(generateKeyPair().secretKey) // '-----BEGIN PRIVATE KEY-----…'
 * ```
 */
export function exportSecretKeyPem(secretKey: Uint8Array): string {
  abytes(secretKey, 32, 'secretKey')
  return pem('PRIVATE KEY', concatBytes(PKCS8_V1, secretKey))
}

/**
 * Import a PKCS#8 PEM Ed25519 private key (RFC 8410 v1, or v2 with the public key, which
 * must match the one derived from the seed).
 *
 * @example
 * ```ts
 * const pair = importSecretKeyPem(exportSecretKeyPem(generateKeyPair().secretKey))
 * ```
 */
export function importSecretKeyPem(text: string): KeyPair {
  astring(text, 'pem')
  const der = pemBody(text, 'PRIVATE KEY')
  let seed: Uint8Array | undefined
  if (der?.length === 48 && equalBytes(der.subarray(0, 16), PKCS8_V1)) seed = der.subarray(16)
  if (der?.length === 83 && equalBytes(der.subarray(0, 16), PKCS8_V2) && equalBytes(der.subarray(48, 51), PKCS8_V2_PUB)) {
    seed = der.subarray(16, 48)
    const pair = keyPairFromSecret(seed)
    if (!equalBytes(pair.publicKey, der.subarray(51))) {
      fail('ERR_KEY_FORMAT', 'PKCS#8 key: the embedded public key does not match the private key')
    }
    return pair
  }
  if (!seed) {
    fail('ERR_KEY_FORMAT', 'not an Ed25519 PKCS#8 private key', {
      hint: 'create one with `mandate keygen -o key.pem` or `openssl genpkey -algorithm ed25519`',
    })
  }
  return keyPairFromSecret(seed)
}

/**
 * SPKI PEM of a public key (as `openssl pkey -pubout` writes it).
 *
 * @example
 * ```ts
 * exportPublicKeyPem(generateKeyPair().publicKey) // '-----BEGIN PUBLIC KEY-----…'
 * ```
 */
export function exportPublicKeyPem(publicKey: Uint8Array): string {
  abytes(publicKey, 32, 'publicKey')
  return pem('PUBLIC KEY', concatBytes(SPKI_PREFIX, publicKey))
}
