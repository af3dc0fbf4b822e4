/**
 * The two backend objects, imported directly (not through `getBackend`), so that their own
 * code is what these tests hold to the strict profile: RFC 8032 keys and signatures, every
 * rule on both sides, and the node:crypto backend's fallbacks when OpenSSL behaves otherwise
 * than on this Node (JWK import refused, a JWK `x` taken from the input, `verify` throwing).
 */
import type * as NodeCrypto from 'node:crypto'
import { Point } from '@noble/ed25519'
import { afterEach, describe, expect, it, vi } from 'vitest'
import type { Ed25519Backend } from '../../src/crypto/backend.js'
import { nobleBackend } from '../../src/crypto/backend-noble.js'
import { nodeBackend } from '../../src/crypto/backend-node.js'
import { bytesToNumberLE, L } from '../../src/crypto/profile.js'
import { concatBytes, toHex, utf8 } from '../../src/internal/bytes.js'
import { IDENTITY, identityRSignature, le32 } from '../helpers/ed25519-forge.js'
import { loadEd25519Cases } from '../helpers/ed25519-vectors.js'
import { fixedKey, hex } from '../helpers/fixtures.js'

const ORDER_2 = `ec${'ff'.repeat(30)}7f`
const Y_EQUALS_P = `ed${'ff'.repeat(30)}7f`

/** RFC 8032 §7.1 tests 1 and 2: seed, public key, message, signature. */
const RFC8032 = [
  [
    '9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60',
    'd75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a',
    '',
    'e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b',
  ],
  [
    '4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb',
    '3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c',
    '72',
    '92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00',
  ],
] as const

describe.each([
  ['node', nodeBackend],
  ['noble', nobleBackend],
] as const)('%s backend object', (name, backend: Ed25519Backend) => {
  it('carries its own name', () => {
    expect(backend.name).toBe(name)
  })

  it('derives, signs and accepts the RFC 8032 test vectors exactly', () => {
    for (const [seed, pub, msg, sig] of RFC8032) {
      expect(toHex(backend.publicKey(hex(seed)))).toBe(pub)
      expect(toHex(backend.sign(hex(seed), hex(msg)))).toBe(sig)
      expect(backend.verify(hex(sig), hex(msg), hex(pub))).toBe('accept')
    }
  })

  it('agrees with the other backend on keys and signatures of the fixed keys', () => {
    const other = name === 'node' ? nobleBackend : nodeBackend
    for (const who of ['alice', 'bob', 'service'] as const) {
      const { secretKey, publicKey } = fixedKey(who)
      expect(toHex(backend.publicKey(secretKey))).toBe(toHex(publicKey))
      const msg = utf8(`message for ${who}`)
      const sig = backend.sign(secretKey, msg)
      expect(toHex(sig)).toBe(toHex(other.sign(secretKey, msg)))
      expect(backend.verify(sig, msg, publicKey)).toBe('accept')
      expect(other.verify(sig, msg, publicKey)).toBe('accept')
    }
  })

  it('length: exactly 64-byte signatures and 32-byte keys, on both sides', () => {
    const alice = fixedKey('alice')
    const msg = utf8('lengths')
    const sig = backend.sign(alice.secretKey, msg)
    expect(backend.verify(sig, msg, alice.publicKey)).toBe('accept')
    expect(backend.verify(sig.subarray(0, 63), msg, alice.publicKey)).toBe('length')
    expect(backend.verify(concatBytes(sig, new Uint8Array(1)), msg, alice.publicKey)).toBe('length')
    expect(backend.verify(sig, msg, alice.publicKey.subarray(0, 31))).toBe('length')
    expect(backend.verify(sig, msg, concatBytes(alice.publicKey, new Uint8Array(1)))).toBe('length')
    expect(backend.verify(new Uint8Array(0), msg, new Uint8Array(0))).toBe('length')
  })

  it('S_not_reduced: S = L and S + L (which satisfies the equation mod L) are refused; L - 1 is only an equation failure', () => {
    const alice = fixedKey('alice')
    const msg = utf8('scalar')
    const sig = backend.sign(alice.secretKey, msg)
    const R = sig.subarray(0, 32)
    const S = bytesToNumberLE(sig.subarray(32))
    expect(backend.verify(concatBytes(R, le32(L)), msg, alice.publicKey)).toBe('S_not_reduced')
    expect(backend.verify(concatBytes(R, le32(S + L)), msg, alice.publicKey)).toBe('S_not_reduced')
    expect(backend.verify(concatBytes(R, le32(L - 1n)), msg, alice.publicKey)).toBe('equation')
  })

  it('small-order and non-canonical A and R: the exact rule, even where the equation holds', () => {
    const alice = fixedKey('alice')
    const msg = utf8('small order')
    // A = identity, R = 5B, S = 5: [S]B = R + [k]A holds for every message
    const sig5 = concatBytes(Point.BASE.multiply(5n).toBytes(), le32(5n))
    expect(backend.verify(sig5, msg, hex(IDENTITY))).toBe('small_order_A')
    expect(backend.verify(sig5, new Uint8Array(0), hex(ORDER_2))).toBe('small_order_A')
    expect(backend.verify(sig5, msg, hex(Y_EQUALS_P))).toBe('noncanonical_A')
    // R = identity with the matching S
    const sigR = identityRSignature(alice.secretKey, alice.publicKey, msg)
    expect(backend.verify(sigR, msg, alice.publicKey)).toBe('small_order_R')
    const good = backend.sign(alice.secretKey, msg)
    expect(backend.verify(concatBytes(hex(Y_EQUALS_P), good.subarray(32)), msg, alice.publicKey)).toBe('noncanonical_R')
  })

  it('equation: a valid signature over another message, key, or with a flipped bit', () => {
    const alice = fixedKey('alice')
    const msg = utf8('equation')
    const sig = backend.sign(alice.secretKey, msg)
    expect(backend.verify(sig, msg, alice.publicKey)).toBe('accept')
    expect(backend.verify(sig, utf8('equatioN'), alice.publicKey)).toBe('equation')
    expect(backend.verify(sig, msg, fixedKey('bob').publicKey)).toBe('equation')
    const flipped = sig.slice()
    flipped[33] = (flipped[33] as number) ^ 1
    expect(backend.verify(flipped, msg, alice.publicKey)).toBe('equation')
  })

  it('gives exactly the expected outcome on every external vector', () => {
    const mismatches = loadEd25519Cases()
      .map((c) => ({ c, got: backend.verify(c.signature, c.message, c.publicKey) }))
      .filter(({ c, got }) => got !== c.expected)
      .map(({ c, got }) => `${c.file}#${c.id}: expected ${c.expected}, got ${got}`)
    expect(mismatches).toEqual([])
  })
})

describe('node backend when node:crypto behaves differently', () => {
  type Crypto = typeof NodeCrypto
  afterEach(() => {
    vi.doUnmock('node:crypto')
    vi.resetModules()
  })

  async function nodeBackendWith(override: (real: Crypto) => Partial<Crypto>): Promise<Ed25519Backend> {
    vi.resetModules()
    vi.doMock('node:crypto', async () => {
      const real = await vi.importActual<Crypto>('node:crypto')
      return { ...real, ...override(real) }
    })
    return (await import('../../src/crypto/backend-node.js')).nodeBackend
  }

  it('uses the JWK fast path on this Node: PKCS#8 DER is never decoded', async () => {
    const formats: unknown[] = []
    const backend = await nodeBackendWith((real) => ({
      createPrivateKey: ((opts: NodeCrypto.PrivateKeyInput | NodeCrypto.JsonWebKeyInput) => {
        formats.push((opts as { format?: unknown }).format)
        return real.createPrivateKey(opts)
      }) as Crypto['createPrivateKey'],
    }))
    const [seed, pub, msg, sig] = RFC8032[1]
    expect(toHex(backend.publicKey(hex(seed)))).toBe(pub)
    expect(toHex(backend.sign(hex(seed), hex(msg)))).toBe(sig)
    expect(formats.length).toBeGreaterThan(0)
    expect(formats.every((f) => f === 'jwk')).toBe(true)
  })

  it('falls back to PKCS#8 DER when JWK private keys are refused', async () => {
    const backend = await nodeBackendWith((real) => ({
      createPrivateKey: ((opts: NodeCrypto.PrivateKeyInput | NodeCrypto.JsonWebKeyInput) => {
        if ((opts as { format?: unknown }).format === 'jwk') throw new Error('JWK import not supported')
        return real.createPrivateKey(opts)
      }) as Crypto['createPrivateKey'],
    }))
    for (const [seed, pub, msg, sig] of RFC8032) {
      expect(toHex(backend.publicKey(hex(seed)))).toBe(pub)
      expect(toHex(backend.sign(hex(seed), hex(msg)))).toBe(sig)
      expect(backend.verify(hex(sig), hex(msg), hex(pub))).toBe('accept')
    }
  })

  it('does not trust a JWK import that hands back the placeholder x: derives through DER instead', async () => {
    const placeholder = Buffer.alloc(32).toString('base64url')
    const backend = await nodeBackendWith((real) => ({
      createPrivateKey: ((opts: NodeCrypto.PrivateKeyInput | NodeCrypto.JsonWebKeyInput) => {
        const jwk = (opts as { key?: { x?: unknown } }).key
        // an OpenSSL that took x from the input instead of deriving it from d (and whose key, if
        // trusted, would sign with nothing)
        if ((opts as { format?: unknown }).format === 'jwk' && jwk?.x === placeholder) {
          return { export: () => ({ kty: 'OKP', crv: 'Ed25519', x: placeholder }) } as unknown as NodeCrypto.KeyObject
        }
        return real.createPrivateKey(opts)
      }) as Crypto['createPrivateKey'],
    }))
    const [seed, pub, msg, sig] = RFC8032[0]
    expect(toHex(backend.publicKey(hex(seed)))).toBe(pub)
    expect(toHex(backend.sign(hex(seed), hex(msg)))).toBe(sig)
  })

  it('never throws when node:crypto verify throws: the signature is not accepted', async () => {
    const backend = await nodeBackendWith(() => ({
      verify: (() => {
        throw new Error('OpenSSL error')
      }) as unknown as Crypto['verify'],
    }))
    const alice = fixedKey('alice')
    const msg = utf8('throwing verify')
    const sig = nodeBackend.sign(alice.secretKey, msg)
    expect(backend.verify(sig, msg, alice.publicKey)).toBe('equation')
    expect(backend.verify(concatBytes(sig.subarray(0, 32), le32(L)), msg, alice.publicKey)).toBe('S_not_reduced')
  })
})
