/**
 * The verified-signature cache and the key-check cache: what they remember, what they refuse
 * to remember, and which entry goes first when full. Also the hash helpers they rest on.
 */
import { sha256 as nobleSha256 } from '@noble/hashes/sha2.js'
import fc from 'fast-check'
import { describe, expect, it, vi } from 'vitest'
import { discardRandomPool, randomBytes, sha256, sha512 } from '../../src/crypto/hash.js'
import { SignatureCache } from '../../src/crypto/signature-cache.js'
import { concatBytes, toHex, utf8 } from '../../src/internal/bytes.js'
import { fixedKey } from '../helpers/fixtures.js'

const KEY_CACHE_MAX = 4096

function keyBytes(i: number): Uint8Array {
  const out = new Uint8Array(32)
  out[0] = i & 0xff
  out[1] = (i >> 8) & 0xff
  out[2] = 0x5a
  return out
}

describe('hash', () => {
  it('sha256 and sha512 of "abc" (FIPS 180-2 examples)', () => {
    expect(toHex(sha256(utf8('abc')))).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad')
    expect(toHex(sha512(utf8('abc')))).toBe(
      'ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f',
    )
  })

  it('sha256 on Node (OpenSSL, read back as latin1) is a plain 32-byte array equal to the pure-JS hash, for any input', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 600 }), (bytes) => {
        const digest = sha256(bytes)
        expect(digest).toBeInstanceOf(Uint8Array)
        expect(Buffer.isBuffer(digest)).toBe(false)
        expect([digest.length, digest.byteOffset, digest.buffer.byteLength]).toEqual([32, 0, 32])
        expect(toHex(digest)).toBe(toHex(nobleSha256(bytes)))
      }),
      { numRuns: 500 },
    )
    // Every byte value, in every position of the digest, comes back as itself.
    const all = Uint8Array.from({ length: 256 }, (_, i) => i)
    expect(toHex(sha256(all))).toBe(toHex(nobleSha256(all)))
  })

  it('randomBytes fills exactly the requested length with fresh bytes', () => {
    const a = randomBytes(32)
    const b = randomBytes(32)
    expect(a).toHaveLength(32)
    expect(randomBytes(0)).toHaveLength(0)
    expect(randomBytes(5)).toHaveLength(5)
    expect(a.some((x) => x !== 0)).toBe(true)
    expect(toHex(a)).not.toBe(toHex(b))
  })

  it("discardRandomPool: the bytes waiting in the pool are never handed out; the next draw is the platform's", () => {
    randomBytes(16) // a pool with bytes waiting
    const pools: Uint8Array[] = []
    const spy = vi.spyOn(globalThis.crypto, 'getRandomValues').mockImplementation(<T extends ArrayBufferView | null>(array: T): T => {
      const bytes = array as unknown as Uint8Array
      bytes.fill(0xab)
      pools.push(bytes)
      return array
    })
    try {
      discardRandomPool()
      expect(toHex(randomBytes(16))).toBe('ab'.repeat(16))
      expect(pools).toHaveLength(1)
    } finally {
      spy.mockRestore()
      discardRandomPool() // what the mock drew is not random: never hand it out
    }
  })

  it('randomBytes: every array has a buffer of its own (no other draw is reachable through .buffer)', () => {
    for (const n of [1, 16, 32, 64, 65, 1000, 5000]) {
      const r = randomBytes(n)
      expect([r.length, r.byteOffset, r.buffer.byteLength]).toEqual([n, 0, n])
    }
    const draws = Array.from({ length: 200 }, () => randomBytes(32))
    expect(new Set(draws.map(toHex)).size).toBe(200)
  })

  it('randomBytes: small draws are consecutive slices of one platform draw, each byte handed out once and zeroed in the pool', () => {
    const fills: Uint8Array[] = []
    const pools: Uint8Array[] = []
    const spy = vi.spyOn(globalThis.crypto, 'getRandomValues').mockImplementation(<T extends ArrayBufferView | null>(array: T): T => {
      const bytes = array as unknown as Uint8Array
      for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 7 + fills.length * 13 + 1) & 0xff
      fills.push(Uint8Array.from(bytes))
      pools.push(bytes)
      return array
    })
    try {
      // Drain what earlier tests left in the pool: the draw that refills it is its first bytes.
      let first = randomBytes(32)
      while (fills.length === 0) first = randomBytes(32)
      const pool = fills[0] as Uint8Array
      expect(pool.length).toBeGreaterThanOrEqual(256)
      const drawn = [first]
      for (let at = 32; at + 16 <= pool.length; at += 16) drawn.push(randomBytes(16))
      expect(fills).toHaveLength(1)
      expect(toHex(concatBytes(...drawn))).toBe(toHex(pool.subarray(0, 32 + 16 * (drawn.length - 1))))
      // Handed-out bytes do not stay in the pool.
      expect((pools[0] as Uint8Array).subarray(0, 32 + 16 * (drawn.length - 1)).every((x) => x === 0)).toBe(true)
      // A draw the rest of the pool cannot cover comes from a fresh platform draw, whole.
      const next = randomBytes(64)
      expect(fills).toHaveLength(2)
      expect(toHex(next)).toBe(toHex((fills[1] as Uint8Array).subarray(0, 64)))
      // A large draw goes to the platform directly, and leaves the pool as it was.
      const large = randomBytes(65)
      expect(fills).toHaveLength(3)
      expect(toHex(large)).toBe(toHex(fills[2] as Uint8Array))
      expect(toHex(randomBytes(8))).toBe(toHex((fills[1] as Uint8Array).subarray(64, 72)))
    } finally {
      spy.mockRestore()
      discardRandomPool() // what the mock drew is not random: never hand it out
    }
  })
})

describe('SignatureCache', () => {
  it('keys by SHA-256 of signer ‖ signature ‖ message, its 32 bytes as a one-byte string', () => {
    const cache = new SignatureCache(4)
    const signer = fixedKey('alice').publicKey
    const sig = new Uint8Array(64).fill(7)
    const msg = utf8('message')
    const key = cache.key(signer, sig, msg) as string
    expect(key.length).toBe(32)
    expect(toHex(Uint8Array.from(key, (c) => c.charCodeAt(0)))).toBe(toHex(sha256(concatBytes(signer, sig, msg))))
    expect(cache.key(signer, sig, utf8('other'))).not.toBe(cache.key(signer, sig, msg))
    expect(cache.key(fixedKey('bob').publicKey, sig, msg)).not.toBe(cache.key(signer, sig, msg))
  })

  it('size 0 is off: no key, nothing remembered', () => {
    const cache = new SignatureCache(0)
    const key = cache.key(fixedKey('alice').publicKey, new Uint8Array(64), utf8('m'))
    expect(key).toBeUndefined()
    cache.add(key)
    expect(cache.has(key)).toBe(false)
    expect(cache.has(undefined)).toBe(false)
  })

  it('remembers what was added, and only that', () => {
    const cache = new SignatureCache(3)
    expect(cache.has('a')).toBe(false)
    cache.add('a')
    expect(cache.has('a')).toBe(true)
    expect(cache.has('b')).toBe(false)
    expect(cache.has(undefined)).toBe(false)
  })

  it('holds exactly `size` entries, evicting the oldest first', () => {
    const cache = new SignatureCache(2)
    cache.add('a')
    cache.add('b')
    expect(cache.has('a')).toBe(true)
    expect(cache.has('b')).toBe(true)
    cache.add('c')
    expect(cache.has('a')).toBe(false)
    expect(cache.has('b')).toBe(true)
    expect(cache.has('c')).toBe(true)
    cache.add('d')
    expect(cache.has('b')).toBe(false)
    expect(cache.has('c')).toBe(true)
    expect(cache.has('d')).toBe(true)
  })

  it('adding "no key" (caching off) neither stores nor evicts anything', () => {
    const cache = new SignatureCache(1)
    cache.add('a')
    cache.add(undefined)
    expect(cache.has('a')).toBe(true)
    expect(cache.has(undefined)).toBe(false)
  })
})

describe('cachedKeyCheck', () => {
  it('returns the cached check for a key seen before, the same verdict as checkKey', async () => {
    vi.resetModules()
    const { cachedKeyCheck } = await import('../../src/crypto/key-check-cache.js')
    const alice = fixedKey('alice').publicKey
    const first = cachedKeyCheck(alice)
    expect(first.ok).toBe(true)
    expect(cachedKeyCheck(new Uint8Array(alice))).toBe(first)
    const identity = new Uint8Array(32)
    identity[0] = 1
    const weak = cachedKeyCheck(identity)
    expect(weak).toEqual({ ok: false, rule: 'small_order_A' })
    expect(cachedKeyCheck(identity)).toBe(weak)
    const noncanonical = new Uint8Array(32).fill(0xff)
    noncanonical[0] = 0xed
    noncanonical[31] = 0x7f
    expect(cachedKeyCheck(noncanonical)).toEqual({ ok: false, rule: 'noncanonical_A' })
  })

  it('holds 4096 keys and evicts the oldest when a 4097th arrives', async () => {
    vi.resetModules()
    const { cachedKeyCheck } = await import('../../src/crypto/key-check-cache.js')
    const checks = []
    for (let i = 0; i < KEY_CACHE_MAX; i++) checks.push(cachedKeyCheck(keyBytes(i)))
    expect(cachedKeyCheck(keyBytes(0))).toBe(checks[0])
    expect(cachedKeyCheck(keyBytes(KEY_CACHE_MAX - 1))).toBe(checks[KEY_CACHE_MAX - 1])
    cachedKeyCheck(keyBytes(KEY_CACHE_MAX))
    expect(cachedKeyCheck(keyBytes(1))).toBe(checks[1])
    const again = cachedKeyCheck(keyBytes(0))
    expect(again).not.toBe(checks[0])
    expect(again).toEqual(checks[0])
  })
})
