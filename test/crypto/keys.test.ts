import { execFileSync } from 'node:child_process'
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { availableBackends, getBackend } from '../../src/crypto/ed25519.js'
import {
  exportPublicKeyPem,
  exportSecretKeyPem,
  generateKeyPair,
  importSecretKeyPem,
  keyPairFromSecret,
  parsePublicKey,
  toDidKey,
} from '../../src/crypto/keys.js'
import { toHex } from '../../src/internal/bytes.js'
import { didFor, FIXED_KEYS, type FixedKeyName, fixedDid, fixedKey, hex, keyFor, thrownCode } from '../helpers/fixtures.js'

const hasOpenssl = (() => {
  try {
    execFileSync('openssl', ['version'])
    return true
  } catch {
    return false
  }
})()

describe('keys', () => {
  it('did:key matches the W3C test vector (RFC 8032 test 1 key)', () => {
    // did:key spec example for the RFC 8032 §7.1 TEST 1 public key
    const pub = hex('d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a')
    expect(toDidKey(pub)).toBe('did:key:z6MktwupdmLXVVqTzCw4i46r4uGyosGXRnR3XjN4Zq7oMMsw')
    expect(toHex(parsePublicKey(toDidKey(pub)))).toBe(toHex(pub))
  })

  it('derives the RFC 8032 test 1 public key from its seed on every backend (both installed under Node)', () => {
    expect(availableBackends()).toEqual(['node', 'noble'])
    const seed = hex('9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60')
    for (const name of availableBackends()) {
      expect(toHex(getBackend(name).publicKey(seed))).toBe('d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a')
      const sig = getBackend(name).sign(seed, new Uint8Array(0))
      expect(toHex(sig)).toBe(
        'e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b',
      )
    }
  })

  it('accepts public keys as did:key, SPKI PEM, hex and base64url', () => {
    const pair = generateKeyPair()
    const forms = [
      toDidKey(pair.publicKey),
      exportPublicKeyPem(pair.publicKey),
      toHex(pair.publicKey),
      Buffer.from(pair.publicKey).toString('base64url'),
    ]
    for (const f of forms) expect(toHex(parsePublicKey(f))).toBe(toHex(pair.publicKey))
  })

  it('rejects malformed and weak public keys with exact codes', () => {
    expect(thrownCode(() => parsePublicKey('did:key:z6Mk'))).toBe('ERR_KEY_FORMAT')
    expect(thrownCode(() => parsePublicKey('did:key:zQ3shokFTS3brHcDQrn82RUDfCZESWL1ZdCEJwekUDPQiYBme'))).toBe('ERR_KEY_FORMAT') // secp256k1
    expect(thrownCode(() => parsePublicKey('abcd'))).toBe('ERR_KEY_FORMAT')
    expect(thrownCode(() => parsePublicKey('zz'.repeat(32)))).toBe('ERR_KEY_FORMAT')
    expect(thrownCode(() => parsePublicKey(`0100${'00'.repeat(30)}`))).toBe('ERR_KEY_WEAK') // identity
    expect(thrownCode(() => parsePublicKey(`ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f`))).toBe('ERR_KEY_WEAK') // order 2
    expect(thrownCode(() => parsePublicKey(`edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f`))).toBe('ERR_SIG_ENCODING') // y = p
  })

  it('PKCS#8 PEM round-trips', () => {
    const pair = generateKeyPair()
    const pem = exportSecretKeyPem(pair.secretKey)
    expect(pem).toMatch(/^-----BEGIN PRIVATE KEY-----\n[A-Za-z0-9+/=]{64}\n-----END PRIVATE KEY-----\n$/)
    const back = importSecretKeyPem(pem)
    expect(toHex(back.secretKey)).toBe(toHex(pair.secretKey))
    expect(toHex(back.publicKey)).toBe(toHex(pair.publicKey))
  })

  it('rejects bad PEM, wrong algorithms and mismatched v2 public keys', () => {
    expect(thrownCode(() => importSecretKeyPem('not a pem'))).toBe('ERR_KEY_FORMAT')
    const pem = exportSecretKeyPem(generateKeyPair().secretKey)
    expect(thrownCode(() => importSecretKeyPem(pem.replace('BEGIN PRIVATE KEY', 'BEGIN PUBLIC KEY')))).toBe('ERR_KEY_FORMAT')
    expect(thrownCode(() => importSecretKeyPem(pem.replace(/\n[A-Za-z0-9+/=]{10}/, '\n!!!!!!!!!!')))).toBe('ERR_KEY_FORMAT')
    // a v2 (RFC 8410 OneAsymmetricKey) key whose embedded public key is someone else's
    const a = generateKeyPair()
    const b = generateKeyPair()
    const der = Buffer.concat([
      Buffer.from('3051020101300506032b657004220420', 'hex'),
      a.secretKey,
      Buffer.from('812100', 'hex'),
      b.publicKey,
    ])
    const v2 = `-----BEGIN PRIVATE KEY-----\n${der.toString('base64')}\n-----END PRIVATE KEY-----\n`
    expect(thrownCode(() => importSecretKeyPem(v2))).toBe('ERR_KEY_FORMAT')
    const good = Buffer.concat([der.subarray(0, 51), a.publicKey])
    expect(
      toHex(importSecretKeyPem(`-----BEGIN PRIVATE KEY-----\n${good.toString('base64')}\n-----END PRIVATE KEY-----\n`).publicKey),
    ).toBe(toHex(a.publicKey))
  })

  it.skipIf(!hasOpenssl)('interoperates with `openssl genpkey -algorithm ed25519` both ways', () => {
    const dir = mkdtempSync(join(tmpdir(), 'mandate-keys-'))
    const theirs = join(dir, 'openssl.pem')
    execFileSync('openssl', ['genpkey', '-algorithm', 'ed25519', '-out', theirs])
    const imported = importSecretKeyPem(readFileSync(theirs, 'utf8'))
    const theirPub = execFileSync('openssl', ['pkey', '-in', theirs, '-pubout'], { encoding: 'utf8' })
    expect(toHex(parsePublicKey(theirPub))).toBe(toHex(imported.publicKey))
    // ours, read by openssl: the same public key comes out, and the PEM is byte-identical on re-export
    const ours = join(dir, 'ours.pem')
    const pair = keyPairFromSecret(imported.secretKey)
    writeFileSync(ours, exportSecretKeyPem(pair.secretKey))
    expect(readFileSync(ours, 'utf8')).toBe(readFileSync(theirs, 'utf8'))
    const mine = generateKeyPair()
    writeFileSync(ours, exportSecretKeyPem(mine.secretKey))
    const pub = execFileSync('openssl', ['pkey', '-in', ours, '-pubout'], { encoding: 'utf8' })
    expect(pub).toBe(exportPublicKeyPem(mine.publicKey))
  })
})

describe('test fixtures', () => {
  it('each fixed test key is exactly keyFor(name), with its did:key', () => {
    for (const name of Object.keys(FIXED_KEYS) as FixedKeyName[]) {
      expect(fixedKey(name)).toEqual(keyFor(name))
      expect(fixedDid(name)).toBe(didFor(name))
    }
  })
})
