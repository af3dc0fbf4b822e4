import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { fromHex, toHex } from '../../src/internal/bytes.js'

const reference = (bytes: Uint8Array) => Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('')

describe('hex', () => {
  it('toHex is lower-case hex of every byte, across the 8 KiB conversion chunks', () => {
    for (const length of [0, 1, 31, 32, 64, 65, 4095, 4096, 4097, 8192, 9000, 70_000]) {
      const bytes = Uint8Array.from({ length }, (_, i) => (i * 131 + length) & 0xff)
      expect(toHex(bytes), `${length} bytes`).toBe(reference(bytes))
    }
    expect(toHex(Uint8Array.from([0x00, 0x0f, 0xa0, 0xff]))).toBe('000fa0ff')
  })

  it('property: fromHex(toHex(x)) is x, and toHex of a view reads only the view', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), fc.nat(8), (bytes, skip) => {
        expect(fromHex(toHex(bytes))).toEqual(bytes)
        const view = bytes.subarray(Math.min(skip, bytes.length))
        expect(toHex(view)).toBe(reference(view))
      }),
      { seed: 15, numRuns: 300 },
    )
  })
})
