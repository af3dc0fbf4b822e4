/**
 * Differential test: the node:crypto and noble backends must give the same outcome (not just
 * the same verdict) on random and mutated signatures and keys — at least 10,000 of them.
 */
import * as ed from '@noble/ed25519'
import { sha512 } from '@noble/hashes/sha2.js'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { getBackend } from '../../src/crypto/ed25519.js'
import { bytesToNumberLE, L } from '../../src/crypto/profile.js'
import { concatBytes } from '../../src/internal/bytes.js'

/** A point of order 8, in its encoding (decoded inside the test, not while the module loads). */
const T8_HEX = 'c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a'
const P = 2n ** 255n - 19n

function le32(n: bigint): Uint8Array {
  const out = new Uint8Array(32)
  for (let i = 0; i < 32; i++) out[i] = Number((n >> BigInt(8 * i)) & 0xffn)
  return out
}

/** A signature whose R carries an order-8 component, valid under the cofactored equation only. */
function torsionR(secret: Uint8Array, message: Uint8Array, nonce: bigint): { sig: Uint8Array; pub: Uint8Array } {
  ed.hashes.sha512 = sha512
  const { scalar, pointBytes } = ed.utils.getExtendedPublicKey(secret)
  const r = (nonce % (L - 1n)) + 1n
  const R = ed.Point.BASE.multiply(r).add(ed.Point.fromHex(T8_HEX)).toBytes()
  const k = bytesToNumberLE(sha512(concatBytes(R, pointBytes, message))) % L
  const S = (r + k * scalar) % L
  return { sig: concatBytes(R, le32(S)), pub: pointBytes }
}

type Mutation =
  | 'none'
  | 'flipSig'
  | 'flipKey'
  | 'flipMsg'
  | 'sPlusL'
  | 'torsionR'
  | 'randomSig'
  | 'noncanonicalKey'
  | 'smallKey'
  | 'truncate'

describe('differential: node:crypto vs noble backends', () => {
  it('both refuse a secret key (seed) that is not 32 bytes, with a RangeError, to derive or to sign', () => {
    for (const backend of [getBackend('node'), getBackend('noble')]) {
      for (const n of [0, 31, 33, 64]) {
        const seed = new Uint8Array(n).fill(1)
        expect(() => backend.publicKey(seed), `${backend.name} ${n}`).toThrow(RangeError)
        expect(() => backend.sign(seed, new Uint8Array(3)), `${backend.name} ${n}`).toThrow(RangeError)
      }
    }
  })

  it('10,000 random and mutated signatures: both backends give the same outcome, and node also off the event loop', async () => {
    const node = getBackend('node')
    const noble = getBackend('noble')
    // the small-order keys: the multiples of the order-8 point
    const T8 = ed.Point.fromHex(T8_HEX)
    const SMALL = [...Array(8).keys()].map((i) => T8.multiply(BigInt(i + 1)).toBytes())
    const mutations: Mutation[] = [
      'none',
      'flipSig',
      'flipKey',
      'flipMsg',
      'sPlusL',
      'torsionR',
      'randomSig',
      'noncanonicalKey',
      'smallKey',
      'truncate',
    ]
    const seen = new Map<string, number>()
    const offLoop: { sig: Uint8Array; msg: Uint8Array; pub: Uint8Array; outcome: string }[] = []
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 32, maxLength: 32 }),
        fc.uint8Array({ maxLength: 64 }),
        fc.constantFrom(...mutations),
        fc.nat({ max: 1023 }),
        fc.bigInt({ min: 1n, max: 2n ** 252n }),
        (secret, message, mutation, bit, nonce) => {
          ed.hashes.sha512 = sha512
          let pub: Uint8Array = ed.getPublicKey(secret)
          let sig: Uint8Array = ed.sign(message, secret)
          let msg: Uint8Array = message
          switch (mutation) {
            case 'flipSig':
              sig = flip(sig, bit % 512)
              break
            case 'flipKey':
              pub = flip(pub, bit % 256)
              break
            case 'flipMsg':
              msg = message.length === 0 ? new Uint8Array([1]) : flip(message, bit % (message.length * 8))
              break
            case 'sPlusL':
              sig = concatBytes(sig.subarray(0, 32), le32(bytesToNumberLE(sig.subarray(32)) + L))
              break
            case 'torsionR':
              ;({ sig, pub } = torsionR(secret, message, nonce))
              break
            case 'randomSig':
              sig = concatBytes(secret, secret)
              break
            case 'noncanonicalKey': {
              // y + p still fits in 255 bits only for y < 19: use the small-y encodings
              const y = BigInt(bit % 19)
              pub = le32(y + P)
              break
            }
            case 'smallKey':
              pub = SMALL[bit % 8] as Uint8Array
              break
            case 'truncate':
              sig = sig.subarray(0, bit % 64)
              break
            default:
          }
          const a = node.verify(sig, msg, pub)
          const b = noble.verify(sig, msg, pub)
          offLoop.push({ sig, msg, pub, outcome: a })
          seen.set(`${mutation}:${a}`, (seen.get(`${mutation}:${a}`) ?? 0) + 1)
          expect(a).toBe(b)
          if (mutation === 'none') expect(a).toBe('accept')
          if (mutation === 'torsionR') expect(a).toBe('equation')
          if (mutation === 'sPlusL') expect(a).toBe('S_not_reduced')
          if (mutation === 'smallKey') expect(['small_order_A', 'noncanonical_R', 'S_not_reduced', 'small_order_R']).toContain(a)
        },
      ),
      { numRuns: 10_000, seed: 20261130 },
    )
    // node:crypto on libuv's thread pool (the service's path): the same outcome on every case.
    const verifyAsync = node.verifyAsync as NonNullable<typeof node.verifyAsync>
    const async = await Promise.all(offLoop.map((c) => verifyAsync(c.sig, c.msg, c.pub)))
    expect(offLoop.filter((c, i) => async[i] !== c.outcome)).toEqual([])
    // every mutation kind was exercised, so the agreement is not vacuous
    for (const m of mutations) expect([...seen.keys()].some((k) => k.startsWith(`${m}:`))).toBe(true)
    expect(seen.get('none:accept')).toBeGreaterThan(500)
    // Both sides are reached, only unmutated signatures are accepted, and the rejections carry the
    // expected codes (seeded run: 1,026 accepted; rejected 3,267 equation, 1,506 S_not_reduced,
    // 1,494 noncanonical_A, 1,009 length, 938 small_order_A, 760 noncanonical_R).
    const byCode = new Map<string, number>()
    for (const [k, n] of seen) {
      const code = k.slice(k.indexOf(':') + 1)
      byCode.set(code, (byCode.get(code) ?? 0) + n)
    }
    expect(byCode.get('accept')).toBe(seen.get('none:accept'))
    expect([...byCode.keys()].sort()).toEqual(
      ['S_not_reduced', 'accept', 'equation', 'length', 'noncanonical_A', 'noncanonical_R', 'small_order_A'].sort(),
    )
    for (const [code, n] of byCode) expect(n, code).toBeGreaterThan(300)
  })
})

function flip(bytes: Uint8Array, bit: number): Uint8Array {
  const out = new Uint8Array(bytes)
  out[bit >> 3] = (out[bit >> 3] as number) ^ (1 << (bit & 7))
  return out
}
