import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { TOKEN_LIMITS } from '../../src/cbor/limits.js'
import { SCRATCH_LIFETIME, scratch } from '../../src/internal/pool.js'
import { pae, signedMessage, signingInput } from '../../src/token/signing.js'

describe('scratch', () => {
  it('hands out arrays of the length asked, each intact until SCRATCH_LIFETIME more bytes have been cut after it', () => {
    fc.assert(
      // size 'max': fast-check's default would keep the lists short, and the ring would rarely wrap.
      fc.property(fc.array(fc.integer({ min: 0, max: 9000 }), { minLength: 1, maxLength: 80, size: 'max' }), (lengths) => {
        const held: { array: Uint8Array; mark: number; cutAfter: number }[] = []
        for (const [i, n] of lengths.entries()) {
          const array = scratch(n)
          expect(array.length).toBe(n)
          const mark = (i % 255) + 1
          array.fill(mark)
          // An array of its own is not cut from the ring.
          const cut = n > 8192 ? 0 : n
          for (const h of held) h.cutAfter += cut
          held.push({ array, mark, cutAfter: 0 })
          for (const h of held) {
            if (h.cutAfter <= SCRATCH_LIFETIME) expect(h.array.every((b) => b === h.mark)).toBe(true)
          }
        }
      }),
      { numRuns: 100 },
    )
  })

  it('reuses one ring: no new memory for arrays up to 8 KiB, an array of its own above', () => {
    const a = scratch(100)
    const b = scratch(8192)
    expect(b.buffer).toBe(a.buffer)
    expect(a.buffer.byteLength).toBe(65536)
    // Once the ring has gone round, what was cut before is written over.
    a.fill(1)
    for (let cut = 0; cut <= 65536; cut += 4096) scratch(4096).fill(2)
    expect(a.every((x) => x === 1)).toBe(false)
    const big = scratch(8193)
    expect(big.byteOffset).toBe(0)
    expect(big.buffer.byteLength).toBe(8193)
  })

  it('leaves a whole presentation of the largest token intact: its signing inputs fit the lifetime', () => {
    // Its blocks' payloads are signed once each, and an invocation's payload (the whole chain
    // again) once more: at most twice the token, plus each signed object's PAE framing (count,
    // the block domain, a parent id, the payload's length).
    const framing = 8 + 8 + 16 + 8 + 32 + 8
    expect(2 * TOKEN_LIMITS.maxTokenBytes + (TOKEN_LIMITS.maxBlocks + 1) * framing).toBeLessThan(SCRATCH_LIFETIME)
  })
})

describe('signing inputs', () => {
  const payload = Uint8Array.from({ length: 300 }, (_, i) => i & 0xff)

  it('PAE spells the count and each length as 8 little-endian bytes, every byte written', () => {
    // The ring holds whatever was cut before: fill it so that a byte PAE did not write would show.
    for (let i = 0; i < 32; i++) scratch(4096).fill(0xee)
    const out = pae([new Uint8Array([7, 8, 9]), new Uint8Array(0)])
    expect([...out]).toEqual([2, 0, 0, 0, 0, 0, 0, 0, 3, 0, 0, 0, 0, 0, 0, 0, 7, 8, 9, 0, 0, 0, 0, 0, 0, 0, 0])
  })

  it('the public signingInput owns its buffer; the internal one has the same bytes', () => {
    signedMessage('approval', payload) // leaves a neighbour in the ring
    const mine = signingInput('invocation', payload)
    expect(mine.byteOffset).toBe(0)
    expect(mine.buffer.byteLength).toBe(mine.length)
    expect(mine).toEqual(signedMessage('invocation', payload))
    // Later signing inputs do not touch it.
    for (let i = 0; i < 64; i++) signedMessage('approval', new Uint8Array(2000).fill(i))
    expect(mine).toEqual(Uint8Array.from(signedMessage('invocation', payload)))
  })
})
