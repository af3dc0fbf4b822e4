/** Phase: steps 1–2, what was presented (src/verify/presentation.ts). */
import { describe, expect, it } from 'vitest'
import { formatInvocation, formatMandate, invoke } from '../../../src/index.js'
import { MAX_APPROVALS, presentedApprovals, readPresentation } from '../../../src/verify/presentation.js'
import { assistant, bearerChild, rootGrant } from '../../helpers/chains.js'
import { seededRandom, T0, thrownCode } from '../../helpers/fixtures.js'

describe('readPresentation', () => {
  it('reads an invocation with the request it signs', () => {
    const inv = invoke(rootGrant(), {
      key: assistant,
      action: 'email:read',
      resource: 'inbox/1',
      audience: 'svc',
      now: T0,
      random: seededRandom('p'),
    })
    const p = readPresentation({ token: formatInvocation(inv) })
    expect(p.presentation).toBe('invocation')
    expect(p.invocation?.idHex).toBe(inv.idHex)
    expect(p.request).toEqual({ action: 'email:read', resource: 'inbox/1', args: {} })
    expect(p.chain.length).toBe(1)
    expect(readPresentation({ invocation: inv }).bytes).toEqual(inv.bytes)
  })

  it('tells the holder mode of a bare mandate', () => {
    expect(readPresentation({ mandate: rootGrant() }).presentation).toBe('bound')
    const bearer = bearerChild([])
    const p = readPresentation({ token: formatMandate(bearer) })
    expect(p.presentation).toBe('bearer')
    expect(p.proof?.kind).toBe('bearer')
    expect(p.request).toBeUndefined()
  })

  it('wants exactly one presentation, of a known kind, re-read from its bytes', () => {
    expect(thrownCode(() => readPresentation({}))).toBe('ERR_REQUEST_INVALID')
    expect(thrownCode(() => readPresentation({ mandate: rootGrant(), token: 'mnd1_x' }))).toBe('ERR_REQUEST_INVALID')
    expect(thrownCode(() => readPresentation({ token: 'mna1_abc' }))).toBe('ERR_TEXT_FORMAT')
    expect(thrownCode(() => readPresentation({ mandate: { ...rootGrant(), bytes: 'no' } as never }))).toBe('ERR_REQUEST_INVALID')
  })
})

describe('presentedApprovals', () => {
  it('counts the list before reading any', () => {
    expect(presentedApprovals(undefined)).toEqual([])
    expect(presentedApprovals(Array(MAX_APPROVALS).fill('junk'))).toHaveLength(16)
    expect(thrownCode(() => presentedApprovals(Array(MAX_APPROVALS + 1).fill('junk')))).toBe('ERR_LIMIT_COUNT')
    expect(thrownCode(() => presentedApprovals('mna1_x'))).toBe('ERR_REQUEST_INVALID')
  })
})
