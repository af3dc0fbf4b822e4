import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { allocate } from '../../src/internal/pool.js'
import { pae, signedMessage, signingInput } from '../../src/token/signing.js'

describe('allocate', () => {
  it('hands out zeroed arrays of the length asked, none overlapping another still held', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 9000 }), { minLength: 1, maxLength: 60 }), (lengths) => {
        const held = lengths.map((n) => allocate(n))
        held.forEach((a, i) => {
          expect(a.length).toBe(lengths[i])
          expect(a.every((b) => b === 0)).toBe(true)
        })
        // Fill each with its own mark: were any two to share a byte, a mark would be overwritten.
        for (const [i, a] of held.entries()) a.fill((i % 255) + 1)
        for (const [i, a] of held.entries()) expect(a.every((b) => b === (i % 255) + 1)).toBe(true)
      }),
      { numRuns: 300 },
    )
  })

  it('gives arrays above 8 KiB a buffer of their own', () => {
    const big = allocate(8193)
    expect(big.byteOffset).toBe(0)
    expect(big.buffer.byteLength).toBe(8193)
  })
})

describe('signing inputs', () => {
  const payload = Uint8Array.from({ length: 300 }, (_, i) => i & 0xff)

  it('PAE spells the count and each length as 8 little-endian bytes', () => {
    const out = pae([new Uint8Array([7, 8, 9]), new Uint8Array(0)])
    expect([...out]).toEqual([2, 0, 0, 0, 0, 0, 0, 0, 3, 0, 0, 0, 0, 0, 0, 0, 7, 8, 9, 0, 0, 0, 0, 0, 0, 0, 0])
  })

  it('the public signingInput owns its buffer; the internal one has the same bytes', () => {
    signedMessage('approval', payload) // leaves a neighbour in the slab
    const mine = signingInput('invocation', payload)
    expect(mine.byteOffset).toBe(0)
    expect(mine.buffer.byteLength).toBe(mine.length)
    expect(mine).toEqual(signedMessage('invocation', payload))
  })
})
