/**
 * inspect (decode-only views), attenuation warnings and the text forms (spec §5.5, §6.12).
 */
import { describe, expect, it } from 'vitest'
import type { Caveat } from '../../src/caveats/types.js'
import { toDidKey } from '../../src/crypto/keys.js'
import {
  approve,
  attenuate,
  attenuationWarnings,
  createAmendment,
  createLift,
  createRevocation,
  formatApproval,
  formatInvocation,
  formatMandate,
  formatRevocation,
  inspect,
  invoke,
  mint,
  parseApproval,
  parseInvocation,
  parseMandate,
  parseRevocation,
  type UnverifiedMandate,
} from '../../src/index.js'
import { fromText, kindOf, toText } from '../../src/token/text.js'
import { aliceDid, alice as aliceKey, assistant, bearerChild, rawMandate, rawPayload, rootGrant, signRaw } from '../helpers/chains.js'
import { caught, fixedDid, seededRandom, T0 } from '../helpers/fixtures.js'

const NOTICE = 'UNVERIFIED: decoded only; signatures, trusted roots, revocations and caveats were not checked'

function thrown(f: () => unknown): Error {
  try {
    f()
  } catch (e) {
    if (e instanceof Error) return e
  }
  throw new Error('expected an error')
}

describe('inspect: fields of each kind', () => {
  it('a revocation statement, from text and from the parsed object, shows every field', () => {
    const m = bearerChild([{ type: 'actions', patterns: ['email:*'] }])
    const r = createRevocation({
      mandate: m,
      block: 1,
      key: aliceKey,
      kind: 'suspend',
      actions: ['email:send'],
      reason: 'paused',
      audience: 'svc',
      now: T0 + 5,
      random: seededRandom('rev:full'),
    })
    const view = inspect(formatRevocation(r))
    expect(view).toMatchObject({
      kind: 'revocation',
      verified: false,
      notice: NOTICE,
      id: r.id,
      effect: 'suspend',
      target: { block: 1, id: m.blocks[1]?.idHex },
      actions: ['email:send'],
      signer: aliceDid,
      created: T0 + 5,
      reason: 'paused',
      audience: 'svc',
      principal: aliceDid,
    })
    expect(view.kind === 'revocation' && view.blocks.map((b) => [b.index, b.signedBy, b.holder])).toEqual([
      [0, aliceDid, fixedDid('assistant')],
      [1, fixedDid('assistant'), m.blocks[1] ? toDidKey(m.blocks[1].holder) : ''],
    ])
    expect(inspect(parseRevocation(formatRevocation(r)))).toStrictEqual(view)
  })

  it('a revocation without scope, reason or audience has none of those keys', () => {
    const r = createRevocation({ mandate: rootGrant(), key: aliceKey, now: T0, random: seededRandom('rev:bare') })
    const view = inspect(r)
    expect(view.kind).toBe('revocation')
    expect(view.verified).toBe(false)
    expect(Object.keys(view).sort()).toEqual([
      'blocks',
      'created',
      'effect',
      'id',
      'kind',
      'notice',
      'principal',
      'signer',
      'target',
      'verified',
    ])
    expect(view.kind === 'revocation' && [view.effect, view.target.block]).toEqual(['revoke', 0])
  })

  it('an amendment shows the caveats it adds, each with its text; a lift the amendment it lifts; neither shows the other', () => {
    const m = rootGrant()
    const amendment = createAmendment({
      mandate: m,
      key: aliceKey,
      caveats: [{ type: 'actions', patterns: ['email:read'] }],
      now: T0,
      random: seededRandom('amend:inspect'),
    })
    const amended = inspect(formatRevocation(amendment))
    expect(amended).toMatchObject({ kind: 'revocation', effect: 'amend' })
    expect(amended.kind === 'revocation' && [amended.caveats, 'lifts' in amended]).toEqual([
      [{ type: 'actions', patterns: ['email:read'], text: 'may do email:read' }],
      false,
    ])
    const lifted = inspect(
      createLift({ mandate: m, key: aliceKey, amendment: amendment.id, now: T0, random: seededRandom('lift:inspect') }),
    )
    expect(lifted.kind === 'revocation' && [lifted.effect, lifted.lifts, 'caveats' in lifted]).toEqual(['lift', amendment.id, false])
  })

  it('an approval shows exactly its fields, with the note only when there is one', () => {
    const inv = invoke(rootGrant(), { key: assistant, action: 'a:b', audience: 'svc', now: T0, random: seededRandom('inv:a') })
    const withNote = approve({ approver: aliceKey, invocation: inv, ttl: 300, note: 'fine', now: T0 })
    expect(inspect(formatApproval(withNote))).toStrictEqual({
      kind: 'approval',
      verified: false,
      notice: NOTICE,
      invocationId: inv.idHex,
      approver: aliceDid,
      issuedAt: T0,
      expires: T0 + 300,
      note: 'fine',
    })
    const bare = approve({ approver: aliceKey, invocation: inv, ttl: 300, now: T0 })
    expect(inspect(parseApproval(formatApproval(bare)))).toStrictEqual({
      kind: 'approval',
      verified: false,
      notice: NOTICE,
      invocationId: inv.idHex,
      approver: aliceDid,
      issuedAt: T0,
      expires: T0 + 300,
    })
  })

  it('an invocation shows resource and args when given, and omits resource and intent when not', () => {
    const grant = rootGrant()
    const inv = invoke(grant, {
      key: assistant,
      action: 'email:read',
      resource: 'mail/inbox/1',
      args: { n: 1 },
      audience: 'svc',
      now: T0 + 1,
      random: seededRandom('inv:r'),
    })
    const view = inspect(formatInvocation(inv))
    expect(view).toMatchObject({
      kind: 'invocation',
      verified: false,
      notice: NOTICE,
      id: inv.idHex,
      principal: aliceDid,
      action: 'email:read',
      resource: 'mail/inbox/1',
      args: { n: 1 },
      audience: 'svc',
      issuedAt: T0 + 1,
      expires: T0 + 8 * 3600,
    })
    expect(Object.keys(view)).not.toContain('intent')
    expect(inspect(parseInvocation(formatInvocation(inv)))).toStrictEqual(view)

    const plain = inspect(invoke(grant, { key: assistant, action: 'email:read', audience: 'svc', now: T0, random: seededRandom('inv:p') }))
    expect(plain.kind).toBe('invocation')
    expect(Object.keys(plain)).not.toContain('resource')
    expect(Object.keys(plain)).not.toContain('intent')
  })

  it('a bound mandate carries no bearer warning; a bearer one carries the exact warning', () => {
    const bound = inspect(formatMandate(rootGrant()))
    expect(bound.kind === 'mandate' && bound.proof).toBe('bound')
    expect(Object.keys(bound)).not.toContain('warning')
    const bearer = inspect(bearerChild([]))
    expect(bearer.kind === 'mandate' && bearer.warning).toBe(
      'bearer mandate: whoever holds this text can use it; keep it as secret as a password',
    )
    expect(bearer.notice).toBe(NOTICE)
  })

  it('a mandate shows a purpose and name only when set, and no expiry when no window limits it', () => {
    const m = mint({
      principal: aliceKey,
      to: fixedDid('assistant'),
      purpose: 'triage the inbox',
      caveats: [{ type: 'window', expires: T0 + 60 }],
      now: T0,
      random: seededRandom('mint:purpose'),
    })
    const view = inspect(formatMandate(m))
    if (view.kind !== 'mandate') throw new Error('unreachable')
    expect([view.version, view.expires, view.blocks[0]?.purpose]).toEqual([1, T0 + 60, 'triage the inbox'])
    expect(Object.keys(view.blocks[0] ?? {})).not.toContain('name')
    const named = inspect(rootGrant())
    if (named.kind !== 'mandate') throw new Error('unreachable')
    expect(named.blocks[0]?.name).toBe('assistant')
    expect(Object.keys(named.blocks[0] ?? {})).not.toContain('purpose')
    const unlimited = inspect(parseMandate(rawMandate([signRaw(rawPayload([], assistant.publicKey), aliceKey)], { kind: 'bound' })))
    expect(unlimited.kind).toBe('mandate')
    expect(Object.keys(unlimited)).not.toContain('expires')
  })

  it('refuses a text of no known kind with the exact message', () => {
    const e = caught(() => inspect('mnx1_AAAA'))
    expect(e.code).toBe('ERR_TEXT_FORMAT')
    expect(e.message).toBe('not a mandate (mnd1_), invocation (mni1_), approval (mna1_) or revocation (mnr1_)')
  })
})

describe('text forms: messages and hints', () => {
  it('a wrong prefix names the expected kind with its article, and the kind the text looks like', () => {
    const e1 = caught(() => fromText('invocation', 'mnd1_AAAA'))
    expect([e1.code, e1.message, e1.hint]).toEqual([
      'ERR_TEXT_FORMAT',
      'not an invocation: expected the prefix mni1_',
      'this looks like a mandate (mnd1_)',
    ])
    const e2 = caught(() => fromText('mandate', 'mna1_AAAA'))
    expect([e2.message, e2.hint]).toEqual(['not a mandate: expected the prefix mnd1_', 'this looks like an approval (mna1_)'])
    const e3 = caught(() => fromText('revocation', ' mni1_AAAA'))
    expect([e3.message, e3.hint]).toEqual(['not a revocation: expected the prefix mnr1_', 'this looks like an invocation (mni1_)'])
    const e4 = caught(() => fromText('approval', 'mnr1_AAAA'))
    expect([e4.message, e4.hint]).toEqual(['not an approval: expected the prefix mna1_', 'this looks like a revocation (mnr1_)'])
  })

  it('a text of no kind gets a hint with the expected prefix', () => {
    expect(caught(() => fromText('approval', 'hello')).hint).toBe('approval texts start with mna1_')
    expect(caught(() => fromText('mandate', 'hello')).hint).toBe('mandate texts start with mnd1_')
    expect(caught(() => fromText('invocation', '')).hint).toBe('invocation texts start with mni1_')
    expect(caught(() => fromText('revocation', 'MNR1_AAAA')).hint).toBe('revocation texts start with mnr1_')
  })

  it('bad base64url and oversize bodies have exact messages', () => {
    const b = caught(() => fromText('revocation', 'mnr1_AA=A'))
    expect([b.code, b.message, b.hint]).toEqual([
      'ERR_TEXT_FORMAT',
      'revocation is not strict unpadded base64url',
      'was the token truncated or wrapped when copied?',
    ])
    expect(caught(() => fromText('invocation', 'mni1_AB')).message).toBe('invocation is not strict unpadded base64url')
    const s = caught(() => fromText('approval', `mna1_${'A'.repeat(21847)}`))
    expect([s.code, s.message]).toEqual(['ERR_LIMIT_SIZE', 'approval exceeds 16384 bytes'])
  })

  it('trims only ASCII whitespace at both ends and round-trips', () => {
    const bytes = new Uint8Array([1, 2, 3, 250])
    const text = toText('approval', bytes)
    expect(text).toBe('mna1_AQID-g')
    expect(fromText('approval', ` \t\r\n${text}\n\r\t `)).toEqual(bytes)
    expect(kindOf(`${text}\u00a0`)).toBe('approval')
    expect(caught(() => fromText('approval', `${text}\u00a0`)).code).toBe('ERR_TEXT_FORMAT')
    expect(fromText('mandate', ' \n mnd1_ \t')).toEqual(new Uint8Array(0))
    expect(kindOf(' \t\r\n ')).toBeUndefined()
  })

  it('a non-string is a TypeError naming the kind and the type', () => {
    const e = thrown(() => fromText('mandate', 42 as unknown as string))
    expect(e).toBeInstanceOf(TypeError)
    expect(e.message).toBe('"mandate" expected string, got number')
  })
})

describe('attenuation warnings: each kind, both sides', () => {
  const grantWith = (caveats: Caveat[]): UnverifiedMandate => rootGrant(caveats)

  it('actions: a pattern beyond the parent is "wider" with the exact message; one any parent pattern covers is not', () => {
    const parent = grantWith([{ type: 'actions', patterns: ['email:*', 'slack:read'] }])
    expect(attenuationWarnings(parent, [{ type: 'actions', patterns: ['slack:read'] }])).toEqual([])
    expect(attenuationWarnings(parent, [{ type: 'actions', patterns: ['email:*'] }])).toEqual([])
    expect(attenuationWarnings(parent, [{ type: 'actions', patterns: ['calendar:read'] }])).toEqual([
      { caveatIndex: 0, kind: 'wider', message: 'calendar:read is not (entirely) allowed by block 0; requests beyond it stay denied' },
    ])
  })

  it('actions: "no-op" only when both lists allow exactly the same', () => {
    const one = grantWith([{ type: 'actions', patterns: ['email:*'] }])
    expect(attenuationWarnings(one, [{ type: 'actions', patterns: ['email:*', 'email:read'] }])).toEqual([
      { caveatIndex: 0, kind: 'no-op', message: 'allows exactly what block 0 already allows' },
    ])
    expect(attenuationWarnings(one, [{ type: 'actions', patterns: ['email:*', 'slack:read'] }])).toEqual([
      { caveatIndex: 0, kind: 'wider', message: 'slack:read is not (entirely) allowed by block 0; requests beyond it stay denied' },
    ])
    const two = grantWith([{ type: 'actions', patterns: ['email:*', 'slack:*'] }])
    expect(attenuationWarnings(two, [{ type: 'actions', patterns: ['slack:*', 'email:*'] }])).toEqual([
      { caveatIndex: 0, kind: 'no-op', message: 'allows exactly what block 0 already allows' },
    ])
  })

  it('deny: a pattern any parent deny already covers is a "no-op" with the exact message', () => {
    const parent = grantWith([{ type: 'deny', patterns: ['email:send', 'slack:*'] }])
    expect(attenuationWarnings(parent, [{ type: 'deny', patterns: ['email:send', 'calendar:write'] }])).toEqual([
      { caveatIndex: 0, kind: 'no-op', message: 'email:send is already denied by block 0' },
    ])
  })

  it('window expiry: warns at and after the earliest parent expiry, not before', () => {
    const parent = attenuate(grantWith([{ type: 'window', notBefore: T0 - 10 }]), {
      key: assistant,
      to: fixedDid('subagent'),
      caveats: [{ type: 'window', expires: T0 + 4 * 3600 }],
      now: T0,
      random: seededRandom('win:exp'),
    })
    const msg = 'expires no earlier than the chain already does; the earlier expiry applies'
    expect(attenuationWarnings(parent, [{ type: 'window', expires: T0 + 4 * 3600 }])).toEqual([
      { caveatIndex: 0, kind: 'no-op', message: msg },
    ])
    expect(attenuationWarnings(parent, [{ type: 'window', expires: T0 + 5 * 3600 }])).toEqual([
      { caveatIndex: 0, kind: 'no-op', message: msg },
    ])
    expect(attenuationWarnings(parent, [{ type: 'window', expires: T0 + 4 * 3600 - 1 }])).toEqual([])
    expect(attenuationWarnings(parent, [{ type: 'window', notBefore: T0 }])).toEqual([])
  })

  it('window start: warns at and before the latest parent start, not after', () => {
    const parent = attenuate(grantWith([{ type: 'window', notBefore: T0 + 10 }]), {
      key: assistant,
      to: fixedDid('subagent'),
      caveats: [{ type: 'window', notBefore: T0 + 20 }],
      now: T0,
      random: seededRandom('win:start'),
    })
    const msg = 'starts no later than the chain already does'
    expect(attenuationWarnings(parent, [{ type: 'window', notBefore: T0 + 20 }])).toEqual([{ caveatIndex: 0, kind: 'no-op', message: msg }])
    expect(attenuationWarnings(parent, [{ type: 'window', notBefore: T0 + 15 }])).toEqual([{ caveatIndex: 0, kind: 'no-op', message: msg }])
    expect(attenuationWarnings(parent, [{ type: 'window', notBefore: T0 + 21 }])).toEqual([])
    expect(attenuationWarnings(rootGrant(), [{ type: 'window', notBefore: T0 + 1 }])).toEqual([])
  })

  it('uses: "no-op" when the parent limit is at least as tight in count and period', () => {
    const parent = grantWith([{ type: 'uses', max: 5, per: 3600 }])
    const msg = { caveatIndex: 0, kind: 'no-op', message: 'block 0 already limits use at least as tightly' }
    expect(attenuationWarnings(parent, [{ type: 'uses', max: 5, per: 3600 }])).toEqual([msg])
    expect(attenuationWarnings(parent, [{ type: 'uses', max: 6, per: 1800 }])).toEqual([msg])
    expect(attenuationWarnings(parent, [{ type: 'uses', max: 4, per: 3600 }])).toEqual([])
    expect(attenuationWarnings(parent, [{ type: 'uses', max: 5 }])).toEqual([])
    expect(attenuationWarnings(parent, [{ type: 'uses', max: 10, per: 7200 }])).toEqual([])
    expect(attenuationWarnings(grantWith([{ type: 'uses', max: 5 }]), [{ type: 'uses', max: 5, per: 60 }])).toEqual([msg])
  })

  it('audience: a name the parent does not list is "wider" with the exact message', () => {
    const parent = grantWith([{ type: 'audience', names: ['svc', 'mail'] }])
    expect(attenuationWarnings(parent, [{ type: 'audience', names: ['mail'] }])).toEqual([])
    expect(attenuationWarnings(parent, [{ type: 'audience', names: ['svc', 'other'] }])).toEqual([
      { caveatIndex: 0, kind: 'wider', message: 'other is not an audience of block 0; it will be denied there' },
    ])
    expect(attenuationWarnings(rootGrant(), [{ type: 'audience', names: ['other'] }])).toEqual([])
  })

  it('depth: "no-op" when a parent depth limit already stops delegation as soon', () => {
    const root = grantWith([{ type: 'depth', max: 3 }])
    const msg0 = { caveatIndex: 0, kind: 'no-op', message: 'block 0 already limits delegation at least as tightly' }
    expect(attenuationWarnings(root, [{ type: 'depth', max: 2 }])).toEqual([msg0])
    expect(attenuationWarnings(root, [{ type: 'depth', max: 1 }])).toEqual([])
    const child = bearerChild([{ type: 'depth', max: 2 }])
    const msg1 = { caveatIndex: 0, kind: 'no-op', message: 'block 1 already limits delegation at least as tightly' }
    expect(attenuationWarnings(child, [{ type: 'depth', max: 1 }])).toEqual([msg1])
    expect(attenuationWarnings(child, [{ type: 'depth', max: 0 }])).toEqual([])
  })

  it('other caveat types raise no warning', () => {
    expect(
      attenuationWarnings(grantWith([{ type: 'resources', globs: ['mail/**'] }]), [{ type: 'resources', globs: ['mail/**'] }]),
    ).toEqual([])
  })
})
