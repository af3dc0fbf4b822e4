import { describe, expect, it } from 'vitest'
import { attenuate, mint, parseMandate, seal, type UnverifiedMandate } from '../../src/index.js'
import { fixedDid, fixedKey, seededRandom, T0 } from '../helpers/fixtures.js'

/** What a reader of the bytes sees, for comparison with the object a function returned. */
const reading = (m: UnverifiedMandate) => {
  const again = parseMandate(m.bytes)
  return { blocks: again.blocks, proof: again.proof, version: again.version }
}
const fields = (m: UnverifiedMandate) => ({ blocks: m.blocks, proof: m.proof, version: m.version })

describe('a mandate made here is exactly the reading of its bytes', () => {
  it('mint, attenuate (bearer and bound), seal: the object returned equals parseMandate(bytes)', () => {
    const root = mint({
      principal: fixedKey('alice'),
      caveats: [
        { type: 'actions', patterns: ['email:*'] },
        { type: 'window', expires: T0 + 3600 },
      ],
      name: 'assistant',
      now: T0,
      random: seededRandom('assemble:root'),
    })
    expect(fields(root)).toEqual(reading(root))
    const bound = attenuate(root, {
      caveats: [{ type: 'actions', patterns: ['email:read'] }],
      to: fixedDid('assistant'),
      purpose: 'triage',
      now: T0,
      random: seededRandom('assemble:bound'),
    })
    expect(fields(bound)).toEqual(reading(bound))
    const bearer = attenuate(bound, { key: fixedKey('assistant'), name: 'sub', now: T0, random: seededRandom('assemble:bearer') })
    expect(fields(bearer)).toEqual(reading(bearer))
    const deeper = attenuate(bearer, { caveats: [{ type: 'uses', max: 3 }], now: T0, random: seededRandom('assemble:deeper') })
    expect(fields(deeper)).toEqual(reading(deeper))
    expect(deeper.blocks.slice(0, 3)).toEqual(bearer.blocks)
    const sealed = seal(deeper)
    expect(fields(sealed)).toEqual(reading(sealed))
    expect(sealed.proof.kind).toBe('sealed')
  })

  it('a mandate object built by hand is read again from its bytes: a forged field does not survive attenuation', () => {
    const root = mint({
      principal: fixedKey('alice'),
      caveats: [
        { type: 'actions', patterns: ['email:read'] },
        { type: 'window', expires: T0 + 3600 },
      ],
      now: T0,
      random: seededRandom('assemble:forged'),
    })
    const [first] = root.blocks
    // The same bytes, but a hand-made block claiming a wider action list than its payload says.
    const forged: UnverifiedMandate = {
      ...root,
      blocks: [{ ...(first as NonNullable<typeof first>), caveats: [{ type: 'actions', patterns: ['*'] }] }],
    }
    const child = attenuate(forged, { now: T0, random: seededRandom('assemble:child') })
    expect(child.blocks[0]?.caveats).toEqual(root.blocks[0]?.caveats)
    expect(fields(child)).toEqual(reading(child))
  })
})
