/** Phase: step 8, revocations (src/verify/revocations.ts). */
import { describe, expect, it } from 'vitest'
import { createMemoryRevocationView, type RevocationView } from '../../../src/index.js'
import { readOptions } from '../../../src/verify/options.js'
import { checkRevocations, isRevocationEntry, revocationDetails } from '../../../src/verify/revocations.js'
import { aliceDid, bearerChild } from '../../helpers/chains.js'
import { T0, thrownCode } from '../../helpers/fixtures.js'

const NOW = T0 + 60
const chain = () => bearerChild([]).blocks
const b0 = () => chain()[0]?.idHex as string
const b1 = () => chain()[1]?.idHex as string
const check = (revocations: RevocationView | 'none', action = 'email:read') =>
  thrownCode(() => checkRevocations(readOptions({ roots: [aliceDid], audience: 'svc', revocations }), NOW, chain(), action))
const view = (now = NOW) => {
  const v = createMemoryRevocationView()
  return Object.assign(v, { freshAt: () => now })
}

describe('checkRevocations', () => {
  it('passes a fresh view without entries, and skips the step for an explicit none', () => {
    expect(check(view())).toBe('ok')
    expect(check('none')).toBe('ok')
  })

  it('fails closed on a stale or broken view', () => {
    expect(check(view(NOW - 31))).toBe('ERR_REVOCATION_STALE')
    expect(check({ freshAt: () => Number.NaN, entries: () => undefined })).toBe('ERR_REVOCATION_STALE')
    expect(check({ freshAt: () => NOW, entries: () => [{ kind: 'delete' }] as never })).toBe('ERR_REVOCATION_STALE')
    expect(
      check({
        freshAt: () => NOW,
        entries: () => {
          throw new Error('down')
        },
      }),
    ).toBe('ERR_REVOCATION_STALE')
  })

  it('reports a revocation before a suspension in one block, and block 0 before block 1', () => {
    const v = view()
    v.suspend(b0())
    v.revoke(b0())
    v.revoke(b1())
    expect(check(v)).toBe('ERR_REVOKED')
    const s = view()
    s.suspend(b0())
    s.revoke(b1())
    expect(check(s)).toBe('ERR_SUSPENDED')
  })

  it('applies a scoped entry to the actions it covers only', () => {
    const v = view()
    v.revoke(b1(), { actions: ['email:send'] })
    expect(check(v, 'email:read')).toBe('ok')
    expect(check(v, 'email:send:draft')).toBe('ERR_REVOKED')
  })
})

describe('revocationDetails', () => {
  it('keeps what the view knows, and nothing malformed', () => {
    expect(revocationDetails(b0(), { kind: 'revoke', at: T0, by: aliceDid, reason: 'r', actions: ['a'] })).toEqual({
      blockId: b0(),
      at: T0,
      by: aliceDid,
      reason: 'r',
      actions: ['a'],
    })
    expect(revocationDetails(b0(), { kind: 'suspend', at: 'soon' as never, by: '', reason: '', actions: [] })).toEqual({ blockId: b0() })
  })

  it('isRevocationEntry accepts only known kinds with pattern lists', () => {
    expect(isRevocationEntry({ kind: 'revoke', at: 1 })).toBe(true)
    expect(isRevocationEntry({ kind: 'suspend', actions: ['a:b'] })).toBe(true)
    expect(isRevocationEntry({ kind: 'revoke', actions: [1] })).toBe(false)
    expect(isRevocationEntry(null)).toBe(false)
  })
})
