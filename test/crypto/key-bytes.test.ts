import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { getBackend } from '../../src/crypto/ed25519.js'
import { checkKey, passesKeyBytes, smallOrderEncodings } from '../../src/crypto/profile.js'
import { fromHex, toHex } from '../../src/internal/bytes.js'

/** y as 32 little-endian bytes, with the sign bit set when `negative`. */
const encode = (y: bigint, negative = false): Uint8Array => {
  const out = new Uint8Array(32)
  for (let i = 0; i < 32; i++) out[i] = Number((y >> BigInt(8 * i)) & 0xffn)
  if (negative) out[31] = (out[31] as number) | 0x80
  return out
}
const P = 2n ** 255n - 19n

describe('the byte-level key rules (passesKeyBytes)', () => {
  it('y < p exactly: p − 2 passes the bytes (p − 1 is −1, of small order), p and above fail, with either sign bit', () => {
    for (const negative of [false, true]) {
      expect(passesKeyBytes(encode(P - 1n, negative))).toBe(false)
      expect(passesKeyBytes(encode(P - 2n, negative))).toBe(true)
      // p − 19: the same top bytes as p, byte 0 0xda below p's 0xed.
      expect(passesKeyBytes(encode(P - 19n, negative))).toBe(true)
      expect(passesKeyBytes(encode(P, negative))).toBe(false)
      expect(passesKeyBytes(encode(P + 1n, negative))).toBe(false)
      expect(passesKeyBytes(encode(2n ** 255n - 1n, negative))).toBe(false)
      // Top bytes at their maximum but a lower byte below 0xff, the lowest of them (byte 1) too: y < p.
      for (const at of [1, 15, 30]) {
        const below = encode(2n ** 255n - 1n, negative)
        below[at] = 0xfe
        expect(passesKeyBytes(below), `byte ${at}`).toBe(true)
      }
      // Bytes 1–30 and byte 0 at their maximum but byte 31 below 0x7f: y < p.
      const low = encode(2n ** 255n - 1n, negative)
      low[31] = negative ? 0xfe : 0x7e
      expect(passesKeyBytes(low)).toBe(true)
    }
  })

  it('every point of small order fails, encoded with either sign bit; a wrong length fails', () => {
    for (const hex of smallOrderEncodings()) {
      const bytes = fromHex(hex) as Uint8Array
      expect(passesKeyBytes(bytes), hex).toBe(false)
      const flipped = Uint8Array.from(bytes)
      flipped[31] = (flipped[31] as number) ^ 0x80
      expect(passesKeyBytes(flipped), `${hex} with the sign bit flipped`).toBe(false)
    }
    // Equal to a small-order y in bytes 0–30 only: another y.
    for (const hex of smallOrderEncodings()) {
      const near = fromHex(hex) as Uint8Array
      near[31] = (near[31] as number) ^ 0x01
      expect(passesKeyBytes(near), `${hex} with byte 31 changed`).toBe(true)
    }
    expect(passesKeyBytes(new Uint8Array(31))).toBe(false)
    expect(passesKeyBytes(new Uint8Array(33).fill(3))).toBe(false)
  })

  it('property: a key the full check accepts passes the bytes; a key failing the bytes fails the full check', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 32, maxLength: 32 }), (bytes) => {
        const full = checkKey(bytes).ok
        if (full) expect(passesKeyBytes(bytes)).toBe(true)
        if (!passesKeyBytes(bytes)) expect(full).toBe(false)
      }),
      { seed: 9, numRuns: 2000 },
    )
    const node = getBackend('node')
    for (let i = 0; i < 50; i++) {
      const seed = Uint8Array.from({ length: 32 }, (_, j) => (i * 37 + j * 11) & 0xff)
      const key = node.publicKey(seed)
      expect([toHex(key), passesKeyBytes(key)]).toEqual([toHex(key), true])
    }
  })

  it('an off-curve key that passes the bytes is refused by the node backend as noncanonical_A, as by noble', () => {
    // y = 2 has no x on the curve (2 is not a valid y of edwards25519).
    const offCurve = encode(2n)
    expect(passesKeyBytes(offCurve)).toBe(true)
    expect(checkKey(offCurve)).toEqual({ ok: false, rule: 'noncanonical_A' })
    const signature = new Uint8Array(64).fill(1)
    signature[63] = 0
    expect(getBackend('node').verify(signature, new Uint8Array(3), offCurve)).toBe('noncanonical_A')
    expect(getBackend('noble').verify(signature, new Uint8Array(3), offCurve)).toBe('noncanonical_A')
  })
})

describe('signing with the public key given', () => {
  it('the node backend signs with the key of the secret, whatever public key it is handed', () => {
    const node = getBackend('node')
    const secret = Uint8Array.from({ length: 32 }, (_, i) => i + 1)
    const other = Uint8Array.from({ length: 32 }, (_, i) => 200 - i)
    const message = new TextEncoder().encode('block')
    const plain = node.sign(secret, message)
    for (const given of [node.publicKey(secret), node.publicKey(other), new Uint8Array(32), new Uint8Array(5)]) {
      const signed = node.sign(secret, message, given)
      expect(toHex(signed)).toBe(toHex(plain))
      expect(node.verify(signed, message, node.publicKey(secret))).toBe('accept')
    }
    expect(toHex(getBackend('noble').sign(secret, message, node.publicKey(other)))).toBe(toHex(plain))
  })
})
