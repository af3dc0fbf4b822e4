import { describe, expect, it } from 'vitest'
import { getBackend } from '../../src/crypto/ed25519.js'
import { loadEd25519Cases } from '../helpers/ed25519-vectors.js'

const cases = loadEd25519Cases()

describe('Ed25519 strict profile: external vectors', () => {
  it('loads all 1,272 vectors', () => {
    expect(cases).toHaveLength(914 + 12 + 196 + 150)
  })

  for (const name of ['node', 'noble'] as const) {
    it(`${name} backend gives exactly the expected outcome on every vector`, () => {
      const backend = getBackend(name)
      const mismatches = cases
        .map((c) => ({ c, got: backend.verify(c.signature, c.message, c.publicKey) }))
        .filter(({ c, got }) => got !== c.expected)
        .map(({ c, got }) => `${c.file}#${c.id}: expected ${c.expected}, got ${got}`)
      expect(mismatches).toEqual([])
    })
  }

  it('node backend off the event loop (verifyAsync, what the service uses) gives exactly the expected outcome on every vector', async () => {
    const backend = getBackend('node')
    if (!backend.verifyAsync) throw new Error('the node backend verifies off the event loop')
    const verifyAsync = backend.verifyAsync
    const got = await Promise.all(cases.map((c) => verifyAsync(c.signature, c.message, c.publicKey)))
    const mismatches = cases.flatMap((c, i) => (got[i] === c.expected ? [] : [`${c.file}#${c.id}: expected ${c.expected}, got ${got[i]}`]))
    expect(mismatches).toEqual([])
  })

  it('accepts exactly the documented counts', () => {
    const accepted = (file: string) => cases.filter((c) => c.file === file && c.expected === 'accept').length
    expect(accepted('wycheproof_ed25519.json')).toBe(88)
    expect(accepted('speccheck_cases.json')).toBe(1)
    expect(accepted('zip215.json')).toBe(0)
    expect(accepted('cctv_ed25519.json')).toBe(43)
  })
})
