/**
 * Caveats in plain words (inspect output, CLI trees, hints): the exact line for each type,
 * singular and plural, and the optional parts.
 */
import { describe, expect, it } from 'vitest'
import { decodeCaveat } from '../../src/caveats/codec.js'
import { describeCaveat } from '../../src/caveats/describe.js'

describe('describeCaveat', () => {
  it('lists actions, denials, resources and audiences', () => {
    expect(describeCaveat({ type: 'actions', patterns: ['email:*', 'calendar:read'] })).toBe('may do email:*, calendar:read')
    expect(describeCaveat({ type: 'deny', patterns: ['email:send'] })).toBe('never email:send')
    expect(describeCaveat({ type: 'resources', globs: ['inbox/**', 'drafts/*'] })).toBe('only on inbox/**, drafts/*')
    expect(describeCaveat({ type: 'audience', names: ['svc', 'api'] })).toBe('only at svc, api')
  })

  it('writes a window with either bound or both, as ISO times', () => {
    expect(describeCaveat({ type: 'window', notBefore: 0, expires: 3600 })).toBe('from 1970-01-01T00:00:00Z until 1970-01-01T01:00:00Z')
    expect(describeCaveat({ type: 'window', notBefore: 60 })).toBe('from 1970-01-01T00:01:00Z')
    expect(describeCaveat({ type: 'window', expires: 0 })).toBe('until 1970-01-01T00:00:00Z')
  })

  it('counts uses in total or per period, singular and plural', () => {
    expect(describeCaveat({ type: 'uses', max: 1 })).toBe('at most 1 use in total')
    expect(describeCaveat({ type: 'uses', max: 3, per: 3600 })).toBe('at most 3 uses per 3600s')
    expect(describeCaveat({ type: 'uses', max: 1, per: 60 })).toBe('at most 1 use per 60s')
  })

  it('states an approval quorum, singular and plural', () => {
    expect(describeCaveat({ type: 'approval', actions: ['pay:*'], approvers: ['did:key:a', 'did:key:b'], quorum: 1 })).toBe(
      'pay:* needs approval by 1 of did:key:a, did:key:b',
    )
    expect(describeCaveat({ type: 'approval', actions: ['pay:*', 'refund'], approvers: ['did:key:a', 'did:key:b'], quorum: 2 })).toBe(
      'pay:*, refund need approval by 2 of did:key:a, did:key:b',
    )
  })

  it('joins where rules with "and", scoped to actions when it has them', () => {
    const rules = [
      { path: 'amount', op: 'le', value: 100 },
      { path: 'to', op: 'prefix', value: 'acct/' },
    ] as const
    expect(describeCaveat({ type: 'where', rules })).toBe('arguments must satisfy amount le 100 and to prefix "acct/"')
    expect(describeCaveat({ type: 'where', actions: ['pay:*', 'x'], rules: [rules[0]] })).toBe(
      'for pay:*, x: arguments must satisfy amount le 100',
    )
  })

  it('counts further delegations, singular and plural', () => {
    expect(describeCaveat({ type: 'depth', max: 0 })).toBe('at most 0 further delegations')
    expect(describeCaveat({ type: 'depth', max: 1 })).toBe('at most 1 further delegation')
    expect(describeCaveat({ type: 'depth', max: 2 })).toBe('at most 2 further delegations')
  })

  it('explains bound, extension, unknown and malformed caveats', () => {
    expect(describeCaveat({ type: 'bound' })).toBe('holders below must be bound keys that sign invocations (no bearer use)')
    expect(describeCaveat({ type: 'extension', code: 70000 })).toBe('extension caveat 70000 (checked by the application)')
    expect(describeCaveat(decodeCaveat([11]))).toBe('unknown caveat type 11 (any verifier that does not know it denies)')
    expect(describeCaveat(decodeCaveat([9, 99]))).toBe('malformed caveat 9: max must be an integer in 0..15 (denies)')
  })
})
