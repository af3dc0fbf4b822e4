/** Phase: step 6, the request (src/verify/request.ts). */
import { describe, expect, it } from 'vitest'
import { attenuate, formatInvocation, invoke, seal } from '../../../src/index.js'
import type { UnverifiedInvocation } from '../../../src/token/invocation.js'
import { verifyHolder } from '../../../src/verify/holder.js'
import { readOptions } from '../../../src/verify/options.js'
import { presentedApprovals, readPresentation } from '../../../src/verify/presentation.js'
import { requestDifference, resolveRequest } from '../../../src/verify/request.js'
import { aliceDid, assistant, bearerChild, codeOf, denial, rootGrant, verifierFor } from '../../helpers/chains.js'
import { caught, fixedDid, seededRandom, T0, thrownCode } from '../../helpers/fixtures.js'

const signed = { action: 'email:send', resource: 'inbox/1', args: { to: 'bob' }, intent: 'reply' }

describe('resolveRequest', () => {
  it('takes a bare mandate request, absent args as {}', () => {
    expect(resolveRequest({ action: 'email:read' }, undefined, undefined)).toEqual({ action: 'email:read', args: {} })
  })

  it('refuses a bare request that is missing or malformed', () => {
    expect(thrownCode(() => resolveRequest(undefined, undefined, undefined))).toBe('ERR_REQUEST_INVALID')
    expect(thrownCode(() => resolveRequest({ action: 'Email:Read' }, undefined, undefined))).toBe('ERR_REQUEST_INVALID')
    expect(thrownCode(() => resolveRequest({ action: 'a', resource: '../x' }, undefined, undefined))).toBe('ERR_REQUEST_INVALID')
    expect(thrownCode(() => resolveRequest({ action: 'a', args: null as never }, undefined, undefined))).toBe('ERR_REQUEST_INVALID')
    expect(thrownCode(() => resolveRequest({ action: 'a', args: [] as never }, undefined, undefined))).toBe('ERR_REQUEST_INVALID')
  })
})

describe('requestDifference', () => {
  it('names the first field that differs from what the invocation signs', () => {
    expect(requestDifference({ ...signed }, signed)).toBeUndefined()
    expect(requestDifference({ action: 'email:send', resource: 'inbox/1', args: { to: 'bob' } }, signed)).toBeUndefined()
    expect(requestDifference({ ...signed, action: 'email:read' }, signed)).toBe('action')
    expect(requestDifference({ ...signed, resource: undefined }, signed)).toBe('resource')
    expect(requestDifference({ ...signed, args: { to: 'eve' } }, signed)).toBe('args')
    expect(requestDifference({ ...signed, intent: 'spam' }, signed)).toBe('intent')
    expect(requestDifference(null, signed)).toBe('request (not an object)')
  })

  it('counts absent args as the empty object', () => {
    const bare = { action: 'a', args: {} }
    expect(requestDifference({ action: 'a' }, bare)).toBeUndefined()
    expect(requestDifference({ action: 'a', args: {} }, bare)).toBeUndefined()
    expect(requestDifference({ action: 'a', args: { x: 1n } }, bare)).toBe('args')
  })
})

/** Only its presence matters to resolveRequest. */
const anInvocation = (): UnverifiedInvocation => ({}) as UnverifiedInvocation

describe('resolveRequest with an invocation', () => {
  it('returns what the invocation signs, with no request given or an equal one', () => {
    expect(resolveRequest(undefined, anInvocation(), signed)).toBe(signed)
    expect(resolveRequest({ action: 'email:send', resource: 'inbox/1', args: { to: 'bob' } }, anInvocation(), signed)).toBe(signed)
  })

  it('refuses a given request that differs, naming the field', () => {
    const e = caught(() => resolveRequest({ action: 'email:send', resource: 'inbox/2', args: { to: 'bob' } }, anInvocation(), signed))
    expect(e.code).toBe('ERR_REQUEST_INVALID')
    expect(e.message).toBe('the request differs from what the invocation signs: resource')
    expect(e.hint).toBe('an invocation carries its own request; pass none, or exactly the one it signs')
  })

  it('still checks the signed action', () => {
    expect(thrownCode(() => resolveRequest(undefined, anInvocation(), { ...signed, action: 'Email' }))).toBe('ERR_REQUEST_INVALID')
  })

  it('without the decoded request, decides on the given one as for a bare mandate', () => {
    expect(resolveRequest({ action: 'email:read' }, anInvocation(), undefined)).toEqual({ action: 'email:read', args: {} })
    expect(resolveRequest({ action: 'email:read' }, undefined, signed)).toEqual({ action: 'email:read', args: {} })
  })
})

describe('resolveRequest for a bare mandate', () => {
  it('keeps the resource and args given, and adds no resource when none is', () => {
    const r = resolveRequest({ action: 'email:read', resource: 'inbox/7', args: { n: 1 } }, undefined, undefined)
    expect(r).toEqual({ action: 'email:read', resource: 'inbox/7', args: { n: 1 } })
    expect(Object.keys(resolveRequest({ action: 'email:read' }, undefined, undefined))).toEqual(['action', 'args'])
  })

  it('explains a missing request', () => {
    for (const given of [undefined, 'email:read' as never]) {
      const e = caught(() => resolveRequest(given, undefined, undefined))
      expect(e.code).toBe('ERR_REQUEST_INVALID')
      expect(e.message).toBe('a bare mandate needs a request (action, resource, args)')
      expect(e.hint).toBe('pass { request: { action, resource } }')
    }
  })

  it('explains a bad action, including one that is not a string', () => {
    const hint = 'actions are :-separated lowercase segments of a-z 0-9 _ . - like email:read'
    const bad = caught(() => resolveRequest({ action: 'Email:Read' }, undefined, undefined))
    expect([bad.code, bad.message, bad.hint]).toEqual(['ERR_REQUEST_INVALID', 'not an action name: "Email:Read"', hint])
    const number = caught(() => resolveRequest({ action: 5 as never }, undefined, undefined))
    expect([number.code, number.message]).toEqual(['ERR_REQUEST_INVALID', 'not an action name: 5'])
  })

  it('explains a bad resource, including one that is not a string', () => {
    for (const resource of ['a/../b', 5 as never]) {
      const e = caught(() => resolveRequest({ action: 'a', resource }, undefined, undefined))
      expect(e.code).toBe('ERR_REQUEST_INVALID')
      expect(e.message).toBe('the resource is not a valid resource string')
      expect(e.hint).toBe(
        'a resource is /-separated non-empty segments, none "." or "..", without control characters, "\\" or %2f/%5c/%2e, at most 1024 bytes',
      )
    }
  })

  it('explains args that are not an object, or that cannot be encoded', () => {
    for (const args of [null, [], 'x'] as never[]) {
      const e = caught(() => resolveRequest({ action: 'a', args }, undefined, undefined))
      expect([e.code, e.message]).toEqual(['ERR_REQUEST_INVALID', 'args must be an object of named arguments'])
    }
    const e = caught(() => resolveRequest({ action: 'a', args: { x: 1.5 } }, undefined, undefined))
    expect([e.code, e.message]).toEqual(['ERR_REQUEST_INVALID', 'args: "args" values must be safe integers, got 1.5'])
  })
})

describe('requestDifference edge cases', () => {
  it('calls an array or a string no request', () => {
    expect(requestDifference([], signed)).toBe('request (not an object)')
    expect(requestDifference('email:send', signed)).toBe('request (not an object)')
  })

  it('finds args that differ, are absent against non-empty, are not an object, or cannot be encoded', () => {
    const base = { action: 'email:send', resource: 'inbox/1', intent: 'reply' }
    expect(requestDifference(base, signed)).toBe('args')
    expect(requestDifference({ ...base, args: ['bob'] }, signed)).toBe('args')
    expect(requestDifference({ ...base, args: null }, signed)).toBe('args')
    expect(requestDifference({ ...base, args: { to: () => 'bob' } }, signed)).toBe('args')
    expect(requestDifference({ ...base, args: { to: 'bob', cc: 'eve' } }, signed)).toBe('args')
    // An empty list is not the empty object the invocation signs.
    expect(requestDifference({ action: 'a', args: [] }, { action: 'a', args: {} })).toBe('args')
  })
})

describe('the holder proof that follows the request (step 7, src/verify/holder.ts)', () => {
  const grant = () => rootGrant([{ type: 'actions', patterns: ['email:read'] }])
  const signedAt = (now: number, audience = 'svc') =>
    invoke(grant(), { key: assistant, action: 'email:read', audience, now, random: seededRandom(`holder:${now}:${audience}`) })
  const isoOf = (t: number) => new Date(t * 1000).toISOString().replace('.000Z', 'Z')

  it('accepts an invocation dated up to now + skew, and explains one dated later', async () => {
    // verifierFor decides at T0 + 60 with the default 60 s skew.
    expect(codeOf(await verifierFor().authorize({ invocation: signedAt(T0 + 120) }))).toBe('allowed')
    const d = denial(await verifierFor().authorize({ invocation: signedAt(T0 + 121) }))
    expect([d.code, d.message, d.hint]).toEqual([
      'ERR_PROOF',
      `the invocation is dated in the future (${isoOf(T0 + 121)})`,
      'check the agent clock',
    ])
  })

  it('accepts an invocation up to max age + skew old, and explains an older one', async () => {
    const v = (approvalWait?: number) =>
      verifierFor({ limits: { invocationMaxAge: 100 }, ...(approvalWait === undefined ? {} : { approvalWait }) })
    expect(codeOf(await v().authorize({ invocation: signedAt(T0 - 100) }))).toBe('allowed')
    // without an approval wait: stale at step 7
    const d = denial(await v(0).authorize({ invocation: signedAt(T0 - 101) }))
    expect([d.code, d.message, d.hint]).toEqual([
      'ERR_PROOF',
      `the invocation is stale (signed ${isoOf(T0 - 101)}, older than 100s)`,
      'sign a fresh invocation',
    ])
    // with one (a day by default): waiting, and stale at step 10, since email:read needs no approval
    const waited = denial(await v().authorize({ invocation: signedAt(T0 - 101) }))
    expect([waited.code, waited.message, waited.hint]).toEqual([
      'ERR_PROOF',
      `the invocation is stale (signed ${isoOf(T0 - 101)}, older than 100s; it needs no approval, so it cannot wait for one)`,
      'sign a fresh invocation',
    ])
  })

  it('names both audiences and the flag that fixes it', async () => {
    const d = denial(await verifierFor().authorize({ invocation: signedAt(T0 + 60, 'elsewhere') }))
    expect([d.code, d.message, d.hint]).toEqual([
      'ERR_AUDIENCE',
      'the invocation is for "elsewhere", not "svc"',
      'sign the invocation with --audience svc',
    ])
  })

  it('explains a replay', async () => {
    const v = verifierFor()
    const inv = signedAt(T0 + 60)
    expect(codeOf(await v.authorize({ invocation: inv }))).toBe('allowed')
    const d = denial(await v.authorize({ invocation: inv }))
    expect([d.code, d.message, d.hint]).toEqual([
      'ERR_REPLAY',
      'this invocation was already used',
      'sign a new invocation for each request',
    ])
  })

  it('a bound mandate presented bare is refused at its last block', async () => {
    const m = attenuate(grant(), { key: assistant, to: fixedDid('subagent'), now: T0, random: seededRandom('holder:bound') })
    const d = denial(await verifierFor().authorize({ mandate: m, request: { action: 'email:read' } }))
    expect([d.code, d.block]).toEqual(['ERR_PROOF', 1])
  })

  it('verifyHolder: refuses an invocation the replay cache has seen, before anything is claimed', async () => {
    const inv = signedAt(T0 + 60)
    const asked: string[] = []
    const replay = {
      has: async (id: string) => {
        asked.push(id)
        return true
      },
      claim: async () => true,
      release: async () => undefined,
    }
    const settings = readOptions({ roots: [aliceDid], audience: 'svc', revocations: 'none', replay: replay as never })
    await expect(
      verifyHolder(settings, T0 + 60, { chain: inv.chain, presentation: 'invocation', invocation: inv, bytes: inv.bytes }),
    ).rejects.toMatchObject({
      code: 'ERR_REPLAY',
      message: 'this invocation was already used',
      hint: 'sign a new invocation for each request',
    })
    expect(asked).toEqual([inv.idHex])
  })

  it('verifyHolder: a presentation without any proof is refused at the last block', async () => {
    const m = attenuate(grant(), { key: assistant, to: fixedDid('subagent'), now: T0, random: seededRandom('holder:bound') })
    const settings = readOptions({ roots: [aliceDid], audience: 'svc', revocations: 'none' })
    await expect(verifyHolder(settings, T0 + 60, { chain: m.blocks, presentation: 'bound', bytes: m.bytes })).rejects.toMatchObject({
      code: 'ERR_PROOF',
      message: 'no holder proof was presented',
      block: 1,
    })
  })
})

describe('what was presented (steps 1–2, src/verify/presentation.ts), before the request', () => {
  it('explains each malformed presentation', () => {
    const message = (f: () => unknown) => {
      const e = caught(f)
      return [e.code, e.message]
    }
    expect(message(() => readPresentation(undefined as never))).toEqual([
      'ERR_REQUEST_INVALID',
      'authorize() needs { token } or { mandate } or { invocation }',
    ])
    expect(message(() => readPresentation('mnd1_x' as never))).toEqual([
      'ERR_REQUEST_INVALID',
      'authorize() needs { token } or { mandate } or { invocation }',
    ])
    expect(message(() => readPresentation({}))).toEqual(['ERR_REQUEST_INVALID', 'give exactly one of token, mandate, invocation'])
    expect(message(() => readPresentation({ token: 5 as never }))).toEqual(['ERR_REQUEST_INVALID', 'token must be text'])
    expect(message(() => readPresentation({ token: 'mna1_abc' }))).toEqual([
      'ERR_TEXT_FORMAT',
      'token is neither a mandate (mnd1_) nor an invocation (mni1_)',
    ])
    expect(message(() => readPresentation({ invocation: { bytes: 'x' } as never }))).toEqual([
      'ERR_REQUEST_INVALID',
      'expected a parsed token with its bytes',
    ])
    expect(message(() => presentedApprovals('x'))).toEqual(['ERR_REQUEST_INVALID', 'approvals must be a list'])
    const many = caught(() => presentedApprovals(Array(17).fill('x')))
    expect([many.code, many.message, many.hint]).toEqual([
      'ERR_LIMIT_COUNT',
      'at most 16 approvals per request, got 17',
      'present only the approvals the approval caveats ask for',
    ])
  })

  it('an invocation read from text or bytes carries resource and intent only when it signs them', () => {
    const m = rootGrant()
    const plain = invoke(m, { key: assistant, action: 'email:read', audience: 'svc', now: T0, random: seededRandom('pr:1') })
    expect(Object.keys(readPresentation({ invocation: plain.bytes }).request ?? {})).toEqual(['action', 'args'])
    const full = invoke(m, {
      key: assistant,
      action: 'email:read',
      resource: 'inbox/1',
      intent: 'triage',
      audience: 'svc',
      now: T0,
      random: seededRandom('pr:2'),
    })
    expect(readPresentation({ token: formatInvocation(full) }).request).toEqual({
      action: 'email:read',
      resource: 'inbox/1',
      args: {},
      intent: 'triage',
    })
  })

  it('tells a sealed mandate, read from its bytes', () => {
    const p = readPresentation({ mandate: seal(bearerChild([])).bytes })
    expect([p.presentation, p.proof?.kind, p.chain.length]).toEqual(['sealed', 'sealed', 2])
  })
})
