import { describe, expect, it } from 'vitest'
import {
  approve,
  formatApproval,
  formatInvocation,
  formatMandate,
  inspect,
  invoke,
  parseApproval,
  parseInvocation,
  parseMandate,
  seal,
  toDidKey,
} from '../../src/index.js'
import { alice, aliceDid, assistant, bearerChild, rootGrant } from '../helpers/chains.js'
import { seededRandom, T0, thrownCode } from '../helpers/fixtures.js'

describe('building tokens', () => {
  it('is deterministic given the clock and randomness', () => {
    expect(formatMandate(bearerChild([{ type: 'uses', max: 3 }]))).toBe(formatMandate(bearerChild([{ type: 'uses', max: 3 }])))
  })

  it('invocations and approvals round-trip through their text forms', () => {
    const grant = rootGrant()
    const inv = invoke(grant, {
      key: assistant,
      action: 'email:draft',
      resource: 'drafts/1',
      args: { to: 'bob@example.com', cc: ['a', 'b'], meta: { urgent: true, n: 3 } },
      audience: 'mail',
      intent: 'reply to Bob',
      now: T0,
      random: seededRandom('inv'),
    })
    const back = parseInvocation(formatInvocation(inv))
    expect(back.idHex).toBe(inv.idHex)
    expect(back.args).toEqual({ to: 'bob@example.com', cc: ['a', 'b'], meta: { urgent: true, n: 3 } })
    expect([back.action, back.resource, back.audience, back.intent, back.issuedAt]).toEqual([
      'email:draft',
      'drafts/1',
      'mail',
      'reply to Bob',
      T0,
    ])
    const ok = approve({ approver: alice, invocation: inv, ttl: 300, note: 'fine', now: T0 })
    const a = parseApproval(formatApproval(ok))
    expect([a.expires - a.issuedAt, a.note, toDidKey(a.approver)]).toEqual([300, 'fine', aliceDid])
  })

  it('rejects bad invocation input with typed errors', () => {
    const grant = rootGrant()
    expect(thrownCode(() => invoke(grant, { key: assistant, action: 'email:*', audience: 'x' }))).toBe('ERR_REQUEST_INVALID')
    expect(thrownCode(() => invoke(grant, { action: 'email:read', audience: 'x' }))).toBe('ERR_HOLDER_MISMATCH')
    expect(thrownCode(() => parseInvocation('mni1_AAAA'))).not.toBe('ok')
    expect(thrownCode(() => parseInvocation(formatMandate(grant)))).toBe('ERR_TEXT_FORMAT')
    expect(thrownCode(() => parseApproval('mna1_'))).toBe('ERR_CBOR_MALFORMED')
  })
})

describe('inspect', () => {
  it('shows every block, holder, caveat and purpose, marked unverified, without secrets', () => {
    const m = bearerChild([
      { type: 'actions', patterns: ['slack:read'] },
      { type: 'uses', max: 3, per: 3600 },
    ])
    const view = inspect(formatMandate(m))
    expect(view.kind).toBe('mandate')
    expect(view.verified).toBe(false)
    expect(view.notice).toMatch(/UNVERIFIED/)
    if (view.kind !== 'mandate') throw new Error('unreachable')
    expect(view.principal).toBe(aliceDid)
    expect(view.blocks.map((b) => b.name)).toEqual(['assistant', 'sub-agent'])
    expect(view.blocks[1]?.signedBy).toBe(toDidKey(assistant.publicKey))
    expect(view.blocks[1]?.caveats.map((c) => c.text)).toEqual(['may do slack:read', 'at most 3 uses per 3600s'])
    expect(view.proof).toBe('bearer')
    expect(view.warning).toMatch(/secret/)
    expect(view.expires).toBe(T0 + 8 * 3600)
    const json = JSON.stringify(view)
    if (m.proof.kind !== 'bearer') throw new Error('unreachable')
    expect(json).not.toContain(Buffer.from(m.proof.secret).toString('hex'))
    expect(json).not.toContain(Buffer.from(m.proof.secret).toString('base64'))
    expect(inspect(formatMandate(seal(m))).kind).toBe('mandate')
  })

  it('reads invocations and approvals too, and refuses garbage', () => {
    const inv = invoke(rootGrant(), { key: assistant, action: 'a:b', audience: 'svc', now: T0, intent: 'why not' })
    const v = inspect(formatInvocation(inv))
    expect(v.kind === 'invocation' && [v.action, v.intent, v.id]).toEqual(['a:b', 'why not', inv.idHex])
    const a = inspect(formatApproval(approve({ approver: alice, invocation: inv, now: T0 })))
    expect(a.kind === 'approval' && a.invocationId).toBe(inv.idHex)
    expect(thrownCode(() => inspect('hello'))).toBe('ERR_TEXT_FORMAT')
    expect(thrownCode(() => inspect(parseMandate(formatMandate(rootGrant()))))).toBe('ok')
  })
})
