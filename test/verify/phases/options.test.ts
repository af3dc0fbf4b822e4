/** Phase: the settings (src/verify/options.ts). Bad options throw at creation, defaults fill in. */
import { describe, expect, it } from 'vitest'
import { toDidKey } from '../../../src/crypto/keys.js'
import { readOptions } from '../../../src/verify/options.js'
import { alice, aliceDid } from '../../helpers/chains.js'

const base = { roots: [aliceDid], audience: 'svc', revocations: 'none' as const }

describe('readOptions', () => {
  it('fills in the defaults', () => {
    const s = readOptions(base)
    expect([s.skew, s.invocationMaxAge, s.revocationMaxAge, s.maxLifetime]).toEqual([60, 300, 30, 90 * 86400])
    expect(s.revocations).toBe('none')
    expect(typeof s.usage.consume).toBe('function')
    expect(typeof s.replay.claim).toBe('function')
  })

  it('keeps roots by key bytes, whichever way they are given, with their names', () => {
    const s = readOptions({ ...base, roots: [alice.publicKey, { key: toDidKey(alice.publicKey), name: 'alice' }] })
    expect([...s.roots.values()]).toEqual([{ key: alice.publicKey, name: 'alice' }])
  })

  it('refuses what it cannot use, naming the option', () => {
    expect(() => readOptions({ ...base, roots: [] })).toThrow(/"roots"/)
    expect(() => readOptions({ ...base, audience: '' })).toThrow(/"audience"/)
    expect(() => readOptions({ ...base, skew: 301 })).toThrow(RangeError)
    expect(() => readOptions({ ...base, skew: 1.5 })).toThrow(new RangeError('"skew" expected a whole number from 0 to 300, got 1.5'))
    expect(() => readOptions({ ...base, limits: { invocationMaxAge: 0 } })).toThrow(/limits.invocationMaxAge/)
    expect(() => readOptions({ roots: [aliceDid], audience: 'svc' } as never)).toThrow(/explicit opt-out/)
    expect(() => readOptions({ ...base, usage: {} as never })).toThrow(/"usage" expected an object with consume\(\)/)
    expect(() => readOptions({ ...base, clock: 5 as never })).toThrow(/"clock" expected a function/)
    expect(() => readOptions({ ...base, extensions: { 70000: 'x' as never } })).toThrow(/extensions\[70000\]/)
  })
})
