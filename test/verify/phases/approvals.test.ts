/** Phase: step 10, approvals (src/verify/approvals.ts). */
import { describe, expect, it } from 'vitest'
import { approve, formatApproval, invoke, MandateError } from '../../../src/index.js'
import { checkApprovals } from '../../../src/verify/approvals.js'
import { readOptions } from '../../../src/verify/options.js'
import { aliceDid, assistant, rootGrant } from '../../helpers/chains.js'
import { fixedDid, fixedKey, keyFor, seededRandom, T0 } from '../../helpers/fixtures.js'

const NOW = T0 + 60
const settings = () => readOptions({ roots: [aliceDid], audience: 'svc', revocations: 'none' })
const bob = fixedKey('bob')
const carol = fixedKey('carol')
const [bobDid, carolDid] = [fixedDid('bob'), fixedDid('carol')]
const inv = () => invoke(rootGrant(), { key: assistant, action: 'email:send', audience: 'svc', now: NOW, random: seededRandom('ap') })
const other = () => invoke(rootGrant(), { key: assistant, action: 'email:send', audience: 'svc', now: NOW, random: seededRandom('ap2') })
const need = (quorum: number) => [{ block: 0, caveatIndex: 1, approvers: [bobDid, carolDid], quorum }]
const failure = (f: () => unknown) => {
  try {
    f()
  } catch (e) {
    if (e instanceof MandateError) return e
  }
  throw new Error('expected a MandateError')
}

describe('checkApprovals', () => {
  it('returns the approvers that counted once every quorum is met', () => {
    const a = approve({ approver: bob, invocation: inv(), now: NOW })
    expect(checkApprovals(settings(), NOW, need(1), [formatApproval(a)], inv())).toEqual([bobDid])
    expect(checkApprovals(settings(), NOW, [], [], undefined)).toEqual([])
  })

  it('refuses each bad approval in list order', () => {
    const codeOf = (presented: unknown[], at = NOW) =>
      failure(() => checkApprovals(settings(), at, need(1), presented as never, inv())).message
    expect(codeOf(['mna1_junk'])).toMatch(/^approval 0:/)
    expect(codeOf([approve({ approver: bob, invocation: other(), now: NOW })])).toBe('approval 0 is for another request')
    expect(codeOf([approve({ approver: bob, invocation: inv(), now: NOW, ttl: 10 })], NOW + 200)).toMatch(/approval 0 expired/)
    expect(codeOf([approve({ approver: keyFor('eve'), invocation: inv(), now: NOW })])).toMatch(/not a listed approver/)
  })

  it('reports an unmet quorum with the approvers still missing', () => {
    const e = failure(() => checkApprovals(settings(), NOW, need(2), [approve({ approver: carol, invocation: inv(), now: NOW })], inv()))
    expect([e.code, e.block, e.caveat, e.caveatIndex]).toEqual(['ERR_APPROVAL_REQUIRED', 0, 'approval', 1])
    expect(e.details).toEqual({ quorum: 2, given: 1, missing: [bobDid], approvers: [bobDid, carolDid], invocationId: inv().idHex })
    const bare = failure(() => checkApprovals(settings(), NOW, need(1), [], undefined))
    expect(bare.details).toEqual({ quorum: 1, given: 0, missing: [bobDid, carolDid], approvers: [bobDid, carolDid] })
  })
})
