/**
 * Edges of key handling and the signature cache as a caller meets them: the TypeError or
 * RangeError (with the argument's name) for misuse, ERR_KEY_FORMAT for every malformed
 * did:key / SPKI / PKCS#8 input, PEM read as written by people (leading blank lines), and a
 * cache that never answers "seen" for another (signer, signature, message).
 */
import { base58 } from '@scure/base'
import { describe, expect, it } from 'vitest'
import {
  exportPublicKeyPem,
  exportSecretKeyPem,
  importSecretKeyPem,
  keyPairFromSecret,
  parsePublicKey,
  toDidKey,
} from '../../src/crypto/keys.js'
import { SignatureCache } from '../../src/crypto/signature-cache.js'
import { concatBytes, toHex } from '../../src/internal/bytes.js'
import { caught, fixedKey, thrownCode } from '../helpers/fixtures.js'

const pemOf = (label: string, der: Uint8Array) =>
  `-----BEGIN ${label}-----\n${Buffer.from(der).toString('base64')}\n-----END ${label}-----\n`

describe('keys: argument misuse names the argument', () => {
  it('secret keys of the wrong length are a RangeError naming "secretKey", on both sides of 32', () => {
    for (const length of [31, 33]) {
      const wrong = new Uint8Array(length)
      expect(() => keyPairFromSecret(wrong)).toThrow(new RangeError(`"secretKey" expected 32 bytes, got ${length}`))
      expect(() => exportSecretKeyPem(wrong)).toThrow(new RangeError(`"secretKey" expected 32 bytes, got ${length}`))
    }
    expect(toHex(keyPairFromSecret(fixedKey('alice').secretKey).publicKey)).toBe(toHex(fixedKey('alice').publicKey))
  })

  it('public keys of the wrong length are a RangeError naming "publicKey", on both sides of 32', () => {
    for (const length of [31, 33]) {
      const wrong = new Uint8Array(length)
      expect(() => toDidKey(wrong)).toThrow(new RangeError(`"publicKey" expected 32 bytes, got ${length}`))
      expect(() => exportPublicKeyPem(wrong)).toThrow(new RangeError(`"publicKey" expected 32 bytes, got ${length}`))
    }
  })

  it('non-string text is a TypeError naming "publicKey" or "pem"', () => {
    expect(() => parsePublicKey(42 as unknown as string)).toThrow(new TypeError('"publicKey" expected string, got number'))
    expect(() => importSecretKeyPem(null as unknown as string)).toThrow(new TypeError('"pem" expected string, got null'))
  })
})

describe('keys: malformed public keys are ERR_KEY_FORMAT with the format message', () => {
  it('text in no known format, and a did:key with a non-base58 body', () => {
    for (const text of ['not a key', '', 'did:key:z', 'did:key:z0OIl', 'did:web:example.com']) {
      const e = caught(() => parsePublicKey(text))
      expect(e.code).toBe('ERR_KEY_FORMAT')
      expect(e.message).toBe('not a public key: expected did:key, SPKI PEM, 64 hex digits or 43 base64url characters')
    }
  })

  it('did:key: a 34-byte body with another multicodec is refused, not read as a key', () => {
    const pub = fixedKey('alice').publicKey
    const did = (codec: number[], key: Uint8Array) => `did:key:z${base58.encode(concatBytes(new Uint8Array(codec), key))}`
    expect(toHex(parsePublicKey(did([0xed, 0x01], pub)))).toBe(toHex(pub))
    expect(thrownCode(() => parsePublicKey(did([0xec, 0x01], pub)))).toBe('ERR_KEY_FORMAT')
    expect(thrownCode(() => parsePublicKey(did([0x01, 0xed], pub)))).toBe('ERR_KEY_FORMAT')
    expect(thrownCode(() => parsePublicKey(did([0xed, 0x00], pub)))).toBe('ERR_KEY_FORMAT')
    // 33 and 35 bytes of body around the 34 the multicodec key needs
    expect(thrownCode(() => parsePublicKey(did([0xed], pub)))).toBe('ERR_KEY_FORMAT')
    expect(thrownCode(() => parsePublicKey(did([0xed, 0x01, 0x00], pub)))).toBe('ERR_KEY_FORMAT')
  })

  it('SPKI PEM: 44 bytes with another algorithm prefix are refused, not read as a key', () => {
    const pub = fixedKey('alice').publicKey
    const spki = (prefix: string, key: Uint8Array) => pemOf('PUBLIC KEY', concatBytes(Buffer.from(prefix, 'hex'), key))
    expect(toHex(parsePublicKey(spki('302a300506032b6570032100', pub)))).toBe(toHex(pub))
    // X25519 OID, and the right OID with the BIT STRING's unused-bits byte set
    expect(thrownCode(() => parsePublicKey(spki('302a300506032b656e032100', pub)))).toBe('ERR_KEY_FORMAT')
    expect(thrownCode(() => parsePublicKey(spki('302a300506032b6570032101', pub)))).toBe('ERR_KEY_FORMAT')
    // one byte short of 44
    expect(thrownCode(() => parsePublicKey(spki('302a300506032b6570032100', pub.subarray(1))))).toBe('ERR_KEY_FORMAT')
    // a PRIVATE KEY label where a PUBLIC KEY is expected
    expect(thrownCode(() => parsePublicKey(exportSecretKeyPem(fixedKey('alice').secretKey)))).toBe('ERR_KEY_FORMAT')
  })
})

describe('keys: PEM text', () => {
  it('exports exactly the OpenSSL text: label lines, base64 body, trailing newline', () => {
    const alice = fixedKey('alice')
    const spki = concatBytes(Buffer.from('302a300506032b6570032100', 'hex'), alice.publicKey)
    expect(exportPublicKeyPem(alice.publicKey)).toBe(pemOf('PUBLIC KEY', spki))
    const pkcs8 = concatBytes(Buffer.from('302e020100300506032b657004220420', 'hex'), alice.secretKey)
    expect(exportSecretKeyPem(alice.secretKey)).toBe(pemOf('PRIVATE KEY', pkcs8))
  })

  it('a private key PEM with blank lines or spaces around it still imports', () => {
    const alice = fixedKey('alice')
    const pem = exportSecretKeyPem(alice.secretKey)
    for (const text of [`\n\n${pem}`, `  ${pem}  \n`, `\r\n${pem.replaceAll('\n', '\r\n')}`]) {
      const pair = importSecretKeyPem(text)
      expect(toHex(pair.secretKey)).toBe(toHex(alice.secretKey))
      expect(toHex(pair.publicKey)).toBe(toHex(alice.publicKey))
    }
  })

  it('a PUBLIC KEY PEM, a wrong label or an undecodable body is not a private key', () => {
    const alice = fixedKey('alice')
    const pkcs8 = concatBytes(Buffer.from('302e020100300506032b657004220420', 'hex'), alice.secretKey)
    for (const text of [
      exportPublicKeyPem(alice.publicKey),
      pemOf('EC PRIVATE KEY', pkcs8),
      '-----BEGIN PRIVATE KEY-----\nA===\n-----END PRIVATE KEY-----\n',
      '-----BEGIN PRIVATE KEY-----\n-----END PRIVATE KEY-----\n',
    ]) {
      const e = caught(() => importSecretKeyPem(text))
      expect(e.code).toBe('ERR_KEY_FORMAT')
      expect(e.message).toBe('not an Ed25519 PKCS#8 private key')
    }
    // one byte short of the 48-byte v1 structure
    expect(thrownCode(() => importSecretKeyPem(pemOf('PRIVATE KEY', pkcs8.subarray(0, 47))))).toBe('ERR_KEY_FORMAT')
  })
})

describe('SignatureCache: a hit only for the exact (signer, signature, message)', () => {
  it('answers "seen" for what was added and never for a change in any part', () => {
    const cache = new SignatureCache(8)
    const signer = fixedKey('alice').publicKey
    const sig = new Uint8Array(64).fill(7)
    const msg = new Uint8Array([1, 2, 3])
    const key = cache.key(signer, sig, msg)
    expect(cache.has(key)).toBe(false)
    cache.add(key)
    expect(cache.has(key)).toBe(true)
    expect(cache.has(cache.key(signer, sig, msg))).toBe(true)
    const otherSig = sig.slice()
    otherSig[63] = 8
    expect(cache.has(cache.key(fixedKey('bob').publicKey, sig, msg))).toBe(false)
    expect(cache.has(cache.key(signer, otherSig, msg))).toBe(false)
    expect(cache.has(cache.key(signer, sig, new Uint8Array([1, 2, 4])))).toBe(false)
    expect(cache.has(cache.key(signer, sig, new Uint8Array([1, 2, 3, 0])))).toBe(false)
    expect(cache.has(undefined)).toBe(false)
  })

  it('when off (size 0) nothing is ever seen, even after adding', () => {
    const cache = new SignatureCache(0)
    const key = cache.key(fixedKey('alice').publicKey, new Uint8Array(64), new Uint8Array(0))
    expect(key).toBeUndefined()
    cache.add(key)
    expect(cache.has(key)).toBe(false)
  })
})
