import { base64urlnopad } from '@scure/base'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { Base64urlError, decodeBase64url, encodeBase64url } from '../../src/internal/base64url.js'

/** @scure/base's answer: the bytes, or undefined when it refuses the text. */
function scure(text: string): Uint8Array | undefined {
  try {
    return base64urlnopad.decode(text)
  } catch {
    return undefined
  }
}
function ours(text: string): Uint8Array | undefined {
  try {
    return decodeBase64url(text)
  } catch (e) {
    expect(e).toBeInstanceOf(Base64urlError)
    return undefined
  }
}

describe('base64url', () => {
  it('round-trips every byte string, spelled as @scure/base spells it', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
        const text = encodeBase64url(bytes)
        expect(text).toBe(base64urlnopad.encode(bytes))
        expect(decodeBase64url(text)).toEqual(bytes)
      }),
      { numRuns: 2000 },
    )
  })

  it('writes a prefix before the letters, in the one string', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 100 }), fc.constantFrom('', 'mnd1_', 'mni1_', 'mna1_', 'mnr1_'), (bytes, prefix) => {
        expect(encodeBase64url(bytes, prefix)).toBe(prefix + base64urlnopad.encode(bytes))
      }),
      { numRuns: 500 },
    )
  })

  it('accepts and refuses exactly what @scure/base does, on near-misses of valid text', () => {
    const letters = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'
    const noise = fc.constantFrom(...'+/=. \n\tÿé€\u0000', ...letters.slice(0, 4), ...letters.slice(60))
    const text = fc.oneof(
      fc.string({ maxLength: 40 }),
      fc.string({ unit: fc.constantFrom(...letters), maxLength: 40 }),
      fc.tuple(fc.uint8Array({ maxLength: 40 }), fc.nat(), noise).map(([b, at, c]) => {
        const t = encodeBase64url(b)
        const i = t.length === 0 ? 0 : at % t.length
        return t.slice(0, i) + c + t.slice(i + 1)
      }),
    )
    fc.assert(
      fc.property(text, (t) => {
        expect(ours(t)).toEqual(scure(t))
      }),
      { numRuns: 5000 },
    )
  })

  it('refuses non-zero unused bits, a length of 1 mod 4, padding and foreign letters', () => {
    expect(decodeBase64url('aGk')).toEqual(new Uint8Array([104, 105]))
    expect(decodeBase64url('')).toEqual(new Uint8Array(0))
    for (const bad of ['aGl', 'aR', 'a', 'aGk=', 'aG+k', 'aG/k', 'aGk ', 'aGé', 'aGk\u0000', 'AAAAA']) {
      expect(() => decodeBase64url(bad), bad).toThrow(Base64urlError)
    }
    expect(() => decodeBase64url('aGl')).toThrow('non-zero unused bits in the last letter')
    expect(() => decodeBase64url('aR')).toThrow('non-zero unused bits in the last letter')
    expect(() => decodeBase64url('AAAAA')).toThrow('a length of 5 is not base64url')
    expect(() => decodeBase64url('aG+k')).toThrow('not a base64url letter at 2')
  })
})
