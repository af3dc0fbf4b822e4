/**
 * Every caveat of spec §6, with its exact denial codes, plus revocation views, usage stores
 * and the verifier's promise never to throw. Labels such as K6 in test names are rows of the project's security checklist, an external
 * document not in this repository: informative (spec/mandate-v1.md §10.1).
 */
import { describe, expect, it } from 'vitest'
import { matchAction, patternCovers } from '../../src/caveats/action.js'
import { matchResource } from '../../src/caveats/resource.js'
import type { Caveat } from '../../src/caveats/types.js'
import {
  approve,
  attenuate,
  attenuationWarnings,
  createMemoryRevocationView,
  createMemoryUsageStore,
  createVerifier,
  invoke,
  MandateError,
  mint,
  type Request,
  type RevocationView,
  toDidKey,
  type UnverifiedMandate,
} from '../../src/index.js'
import { alice, aliceDid, assistant, bearerChild, codeOf, denial, rootGrant, verifierFor } from '../helpers/chains.js'
import { didFor, fixedDid, fixedKey, keyFor, seededRandom, T0 } from '../helpers/fixtures.js'

async function decide(caveats: Caveat[], request: Request, options: Parameters<typeof verifierFor>[0] = {}) {
  return verifierFor(options).authorize({ mandate: bearerChild(caveats), request })
}

describe('action patterns', () => {
  it('match segment-wise, with * for one segment and a final * for the rest', () => {
    expect(matchAction('email:read', 'email:read')).toBe(true)
    expect(matchAction('email:read', 'email:readall')).toBe(false)
    expect(matchAction('email:*', 'email:draft')).toBe(true)
    expect(matchAction('email:*', 'email:drafts:new')).toBe(true)
    expect(matchAction('email:*', 'email')).toBe(false)
    expect(matchAction('*:read', 'slack:read')).toBe(true)
    expect(matchAction('*:read', 'slack:read:all')).toBe(false)
    expect(matchAction('*', 'anything:at:all')).toBe(true)
    expect(matchAction('a:*:c', 'a:b:c')).toBe(true)
    expect(matchAction('a:*:c', 'a:b:d')).toBe(false)
  })

  it('coverage is exact for warnings', () => {
    expect(patternCovers('email:*', 'email:read')).toBe(true)
    expect(patternCovers('email:read', 'email:*')).toBe(false)
    expect(patternCovers('*', 'email:*')).toBe(true)
    expect(patternCovers('*:read', 'slack:read')).toBe(true)
    expect(patternCovers('slack:read', '*:read')).toBe(false)
    // a trailing * needs a segment after the prefix, and a name covers only itself
    expect(patternCovers('a:*', 'a')).toBe(false)
    expect(patternCovers('a', 'a:b')).toBe(false)
    // a * in the middle of both covers exactly
    expect(patternCovers('a:*:c', 'a:*:c')).toBe(true)
    expect(patternCovers('a:*:c', 'a:*:d')).toBe(false)
  })
})

describe('resource globs (K12)', () => {
  it('* stays within a segment, ** crosses segments', () => {
    expect(matchResource('mail/inbox/*', 'mail/inbox/42')).toBe(true)
    expect(matchResource('mail/inbox/*', 'mail/inbox/42/att')).toBe(false)
    expect(matchResource('mail/**', 'mail/inbox/42/att')).toBe(true)
    expect(matchResource('mail/**', 'mail')).toBe(true)
    expect(matchResource('mail/**/att', 'mail/x/y/att')).toBe(true)
    expect(matchResource('mail/**/att', 'mail/x/y/other')).toBe(false)
    expect(matchResource('**/secret/**', 'a/b/secret/c')).toBe(true)
    expect(matchResource('doc-*.txt', 'doc-12.txt')).toBe(true)
    expect(matchResource('doc-*.txt', 'doc-12.pdf')).toBe(false)
    expect(matchResource('*a*b', 'xxaxxb')).toBe(true)
  })

  it('K12: a pathological pattern is decided in linear time', () => {
    const pattern = `${'a*'.repeat(500)}b`
    const text = 'a'.repeat(1000)
    const start = performance.now()
    for (let i = 0; i < 10; i++) expect(matchResource(pattern, text)).toBe(false)
    const perCall = (performance.now() - start) / 10
    // a guard against super-linear blowup (which would take seconds), not a benchmark
    expect(perCall).toBeLessThan(25)
    const deep = `${'**/a/'.repeat(100)}b`
    const path = Array(500).fill('a').join('/')
    const t2 = performance.now()
    expect(matchResource(deep, path)).toBe(false)
    expect(performance.now() - t2).toBeLessThan(50)
  })

  it('resources caveat: allowed, other resource, and no resource named', async () => {
    const c: Caveat[] = [{ type: 'resources', globs: ['channels/team', 'channels/team-*'] }]
    expect(codeOf(await decide(c, { action: 'slack:read', resource: 'channels/team-eng' }))).toBe('allowed')
    const d = denial(await decide(c, { action: 'slack:read', resource: 'channels/random' }))
    expect([d.code, d.block, d.caveat]).toEqual(['ERR_RESOURCE_DENIED', 1, 'resources'])
    expect(d.hint).toContain('channels/team')
    expect(codeOf(await decide(c, { action: 'slack:read' }))).toBe('ERR_RESOURCE_DENIED')
  })

  it('K6: a broader child resource is still bounded by the parent', async () => {
    const m = bearerChild([{ type: 'resources', globs: ['**'] }], [{ type: 'resources', globs: ['mail/**'] }])
    const v = verifierFor()
    expect(codeOf(await v.authorize({ mandate: m, request: { action: 'x', resource: 'mail/1' } }))).toBe('allowed')
    const d = denial(await v.authorize({ mandate: m, request: { action: 'x', resource: 'calendar/1' } }))
    expect([d.code, d.block]).toEqual(['ERR_RESOURCE_DENIED', 0])
  })
})

describe('actions and deny', () => {
  it('K6: a child cannot add an action its parent lacks', async () => {
    const m = bearerChild([{ type: 'actions', patterns: ['email:read', 'email:send'] }], [{ type: 'actions', patterns: ['email:read'] }])
    const v = verifierFor()
    expect(codeOf(await v.authorize({ mandate: m, request: { action: 'email:read' } }))).toBe('allowed')
    const d = denial(await v.authorize({ mandate: m, request: { action: 'email:send' } }))
    expect([d.code, d.block, d.caveat]).toEqual(['ERR_ACTION_DENIED', 0, 'actions'])
  })

  it('deny wins over any allow, and says so', async () => {
    const d = denial(await decide([{ type: 'deny', patterns: ['email:send'] }], { action: 'email:send' }))
    expect([d.code, d.caveat]).toEqual(['ERR_ACTION_DENIED', 'deny'])
    expect(d.message).toContain('never')
  })
})

describe('where (argument rules)', () => {
  const rules = (op: string, value: unknown, path = 'n'): Caveat[] => [{ type: 'where', rules: [{ path, op, value } as never] }]
  const table: [string, unknown, unknown, boolean][] = [
    ['eq', 5, 5, true],
    ['eq', 5, '5', false],
    ['ne', 5, 6, true],
    ['ne', 5, 5, false],
    ['lt', 10, 9, true],
    ['lt', 10, 10, false],
    ['le', 10, 10, true],
    ['gt', 10, 11, true],
    ['gt', 10, 10, false],
    ['ge', 10, 10, true],
    ['ge', 10, 'x', false],
    ['in', ['a', 'b'], 'b', true],
    ['in', ['a', 'b'], 'c', false],
    ['not_in', ['a', 'b'], 'c', true],
    ['not_in', ['a', 'b'], 'a', false],
    ['prefix', 'team-', 'team-eng', true],
    ['prefix', 'team-', 'random', false],
    ['glob', '*@example.com', 'bob@example.com', true],
    ['glob', '*@example.com', 'bob@evil.com', false],
  ]
  for (const [op, value, arg, ok] of table) {
    it(`${op} ${JSON.stringify(value)} against ${JSON.stringify(arg)} → ${ok ? 'allowed' : 'ERR_ARGS_DENIED'}`, async () => {
      const d = await decide(rules(op, value), { action: 'x:y', args: { n: arg as never } })
      expect(codeOf(d)).toBe(ok ? 'allowed' : 'ERR_ARGS_DENIED')
    })
  }

  it('a missing argument fails every rule, even ne and not_in', async () => {
    for (const op of ['eq', 'ne', 'not_in']) {
      expect(codeOf(await decide(rules(op, op === 'not_in' ? ['a'] : 'a'), { action: 'x:y' }))).toBe('ERR_ARGS_DENIED')
    }
  })

  it('applies only to its actions, and reads nested paths', async () => {
    const c: Caveat[] = [{ type: 'where', actions: ['email:send'], rules: [{ path: 'to.domain', op: 'eq', value: 'example.com' }] }]
    expect(codeOf(await decide(c, { action: 'email:read' }))).toBe('allowed')
    expect(codeOf(await decide(c, { action: 'email:send', args: { to: { domain: 'example.com' } } }))).toBe('allowed')
    const d = denial(await decide(c, { action: 'email:send', args: { to: { domain: 'evil.com' } } }))
    expect(d.hint).toContain('to.domain eq "example.com"')
  })

  it('malformed rules are refused when minting', () => {
    expect(() => bearerChild(rules('lt', 'x'))).toThrow(MandateError)
    expect(() => bearerChild(rules('in', 'x'))).toThrow(MandateError)
    expect(() => bearerChild(rules('nope', 1))).toThrow(MandateError)
  })
})

describe('audience, depth, bound, extensions', () => {
  it('audience: the verifier must be named', async () => {
    expect(codeOf(await decide([{ type: 'audience', names: ['svc', 'other'] }], { action: 'a' }))).toBe('allowed')
    const d = denial(await decide([{ type: 'audience', names: ['other'] }], { action: 'a' }))
    expect([d.code, d.caveat]).toEqual(['ERR_AUDIENCE', 'audience'])
  })

  it('depth: limits further blocks; attenuate refuses early', async () => {
    const m = bearerChild([{ type: 'depth', max: 0 }])
    expect(codeOf(await verifierFor().authorize({ mandate: m, request: { action: 'a' } }))).toBe('allowed')
    expect(() => attenuate(m, {})).toThrow(expect.objectContaining({ code: 'ERR_CHAIN_DEPTH' }))
    const one = bearerChild([{ type: 'depth', max: 1 }])
    const two = attenuate(one, { now: T0, random: seededRandom('d2') })
    expect(codeOf(await verifierFor().authorize({ mandate: two, request: { action: 'a' } }))).toBe('allowed')
    expect(() => attenuate(two, {})).toThrow(expect.objectContaining({ code: 'ERR_CHAIN_DEPTH' }))
  })

  it('depth is read from depth caveats only: a uses limit smaller than the blocks below it is no depth', async () => {
    // `uses` carries a `max` too; the depth check must not read it as one.
    const m = bearerChild(
      [{ type: 'actions', patterns: ['*'] }],
      [
        { type: 'actions', patterns: ['*'] },
        { type: 'uses', max: 1 },
      ],
    )
    const deeper = attenuate(m, { now: T0, random: seededRandom('u2') })
    expect(deeper.blocks).toHaveLength(3)
    expect(codeOf(await verifierFor().authorize({ mandate: deeper, request: { action: 'a' } }))).toBe('allowed')
  })

  it('bound: no bearer below it, and only invocations', async () => {
    const grant = rootGrant([{ type: 'actions', patterns: ['*'] }, { type: 'bound' }])
    const v = verifierFor()
    const inv = invoke(grant, { key: assistant, action: 'a', audience: 'svc', now: T0 + 60 })
    expect(codeOf(await v.authorize({ invocation: inv }))).toBe('allowed')
    expect(() => attenuate(grant, { key: assistant })).toThrow(expect.objectContaining({ code: 'ERR_BOUND_REQUIRED' }))
    const sub = keyFor('sub')
    const bound = attenuate(grant, { key: assistant, to: toDidKey(sub.publicKey), now: T0, random: seededRandom('b') })
    expect(codeOf(await v.authorize({ invocation: invoke(bound, { key: sub, action: 'a', audience: 'svc', now: T0 + 60 }) }))).toBe(
      'allowed',
    )
    // a bound caveat covers its own block: a bearer root carrying one is refused when built
    // (the verifier's side, with hand-signed blocks, is in holder-state.test.ts)
    expect(() => mint({ principal: alice, caveats: [{ type: 'bound' }, { type: 'window', expires: T0 + 3600 }], now: T0 })).toThrow(
      expect.objectContaining({ code: 'ERR_BOUND_REQUIRED' }),
    )
  })

  it('extensions deny unless a checker is registered, and follow its answer', async () => {
    const c: Caveat[] = [{ type: 'extension', code: 70000, body: 'eu-only' }]
    const d = denial(await decide(c, { action: 'a' }))
    expect([d.code, d.caveat]).toEqual(['ERR_CAVEAT_UNKNOWN', 'extension'])
    const seen: unknown[] = []
    const record = (body: unknown) => {
      seen.push(body)
      return true
    }
    const yes = await decide(c, { action: 'a' }, { extensions: { 70000: record } })
    expect(codeOf(yes)).toBe('allowed')
    expect(seen).toEqual(['eu-only'])
    expect(codeOf(await decide(c, { action: 'a' }, { extensions: { 70000: () => false } }))).toBe('ERR_CAVEAT_DENIED')
    const throwing = () => {
      throw new Error('boom')
    }
    expect(codeOf(await decide(c, { action: 'a' }, { extensions: { 70000: throwing } }))).toBe('ERR_CAVEAT_DENIED')
    expect(() => bearerChild([{ type: 'extension', code: 5 }])).toThrow(MandateError)
  })
})

describe('approvals (K11)', () => {
  const bob = fixedKey('bob')
  const carol = fixedKey('carol')
  const grant = () =>
    rootGrant([
      { type: 'actions', patterns: ['email:*'] },
      { type: 'approval', actions: ['email:send'], approvers: [aliceDid, fixedDid('bob'), fixedDid('carol')], quorum: 2 },
    ])
  const send = (now = T0 + 60) =>
    invoke(grant(), { key: assistant, action: 'email:send', audience: 'svc', now, random: seededRandom(`send${now}`) })

  it('actions outside the approval caveat need none', async () => {
    expect(
      codeOf(
        await verifierFor().authorize({
          invocation: invoke(grant(), { key: assistant, action: 'email:read', audience: 'svc', now: T0 + 60 }),
        }),
      ),
    ).toBe('allowed')
  })

  it('no approval → ERR_APPROVAL_REQUIRED naming who can approve', async () => {
    const d = denial(await verifierFor().authorize({ invocation: send() }))
    expect([d.code, d.block, d.caveat]).toEqual(['ERR_APPROVAL_REQUIRED', 0, 'approval'])
    expect(d.hint).toContain('needs 2 more')
    expect(d.hint).toContain(didFor('bob'))
  })

  it('quorum counts distinct approvers', async () => {
    const inv = send()
    const a1 = approve({ approver: alice, invocation: inv, now: T0 + 60 })
    const a1again = approve({ approver: alice, invocation: inv, now: T0 + 61 })
    expect(codeOf(await verifierFor().authorize({ invocation: inv, approvals: [a1, a1again] }))).toBe('ERR_APPROVAL_REQUIRED')
    const b1 = approve({ approver: bob, invocation: inv, now: T0 + 60 })
    const ok = await verifierFor().authorize({ invocation: inv, approvals: [a1, b1] })
    expect(codeOf(ok)).toBe('allowed')
    if (ok.allowed) expect([...ok.approvals].sort()).toEqual([aliceDid, didFor('bob')].sort())
  })

  it('an approval by a non-approver → ERR_APPROVAL_INVALID', async () => {
    const inv = send()
    const m = approve({ approver: keyFor('mallory'), invocation: inv, now: T0 + 60 })
    const b = approve({ approver: bob, invocation: inv, now: T0 + 60 })
    expect(codeOf(await verifierFor().authorize({ invocation: inv, approvals: [b, m] }))).toBe('ERR_APPROVAL_INVALID')
  })

  it('an approval for another invocation → ERR_APPROVAL_INVALID', async () => {
    const other = approve({ approver: bob, invocation: send(T0 + 50), now: T0 + 60 })
    const c = approve({ approver: carol, invocation: send(), now: T0 + 60 })
    expect(codeOf(await verifierFor().authorize({ invocation: send(), approvals: [c, other] }))).toBe('ERR_APPROVAL_INVALID')
  })

  it('an expired approval → ERR_APPROVAL_INVALID', async () => {
    const inv = send(T0 + 200)
    const late = [
      approve({ approver: bob, invocation: inv, now: T0, ttl: 100 }),
      approve({ approver: carol, invocation: inv, now: T0 + 200 }),
    ]
    const v = verifierFor({ skew: 0 })
    v.at(T0 + 200)
    expect(codeOf(await v.authorize({ invocation: inv, approvals: late }))).toBe('ERR_APPROVAL_INVALID')
  })

  it('a tampered approval → ERR_APPROVAL_INVALID; garbage → ERR_APPROVAL_INVALID', async () => {
    const inv = send()
    const b = approve({ approver: bob, invocation: inv, now: T0 + 60 })
    // one byte string, signature ‖ payload: a bit of the payload (its last byte), then of the signature
    const bytes = new Uint8Array(b.bytes)
    bytes[bytes.length - 1] = (bytes[bytes.length - 1] as number) ^ 1
    expect(codeOf(await verifierFor().authorize({ invocation: inv, approvals: [bytes] }))).toBe('ERR_APPROVAL_INVALID')
    const badSignature = new Uint8Array(b.bytes)
    const sigAt = badSignature.length - b.payload.length - 64
    badSignature[sigAt + 61] = (badSignature[sigAt + 61] as number) ^ 1
    expect(codeOf(await verifierFor().authorize({ invocation: inv, approvals: [badSignature] }))).toBe('ERR_APPROVAL_INVALID')
    // the untampered one is valid (it counts, though one approval is not enough here)
    expect(codeOf(await verifierFor().authorize({ invocation: inv, approvals: [b] }))).toBe('ERR_APPROVAL_REQUIRED')
    expect(codeOf(await verifierFor().authorize({ invocation: inv, approvals: ['mna1_garbage'] }))).toBe('ERR_APPROVAL_INVALID')
  })

  it('a replayed invocation with its approvals → ERR_REPLAY', async () => {
    const inv = send()
    const approvals = [
      approve({ approver: bob, invocation: inv, now: T0 + 60 }),
      approve({ approver: carol, invocation: inv, now: T0 + 60 }),
    ]
    const v = verifierFor()
    expect(codeOf(await v.authorize({ invocation: inv, approvals }))).toBe('allowed')
    expect(codeOf(await v.authorize({ invocation: inv, approvals }))).toBe('ERR_REPLAY')
  })

  it('a bare bearer mandate cannot satisfy an approval caveat', async () => {
    const d = denial(await decide([{ type: 'approval', actions: ['*'], approvers: [aliceDid], quorum: 1 }], { action: 'a' }))
    expect(d.code).toBe('ERR_APPROVAL_REQUIRED')
    expect(d.hint).toContain('invocation')
  })
})

describe('usage (uses caveat)', () => {
  it('counts per block, splitting a quota across siblings exactly', async () => {
    const parent = bearerChild([{ type: 'uses', max: 5 }])
    const a = attenuate(parent, { caveats: [{ type: 'uses', max: 3 }], now: T0, random: seededRandom('sib-a') })
    const b = attenuate(parent, { caveats: [{ type: 'uses', max: 3 }], now: T0, random: seededRandom('sib-b') })
    const v = verifierFor()
    const use = async (m: typeof a) => codeOf(await v.authorize({ mandate: m, request: { action: 'x' } }))
    expect([await use(a), await use(a), await use(a), await use(a)]).toEqual(['allowed', 'allowed', 'allowed', 'ERR_USAGE_EXHAUSTED'])
    expect([await use(b), await use(b), await use(b)]).toEqual(['allowed', 'allowed', 'ERR_USAGE_EXHAUSTED'])
    const d = denial(await v.authorize({ mandate: b, request: { action: 'x' } }))
    expect([d.block, d.caveat]).toEqual([1, 'uses'])
  })

  it('appending a fresh block does not reset the budget', async () => {
    const m = bearerChild([{ type: 'uses', max: 2 }])
    const v = verifierFor()
    expect(codeOf(await v.authorize({ mandate: m, request: { action: 'x' } }))).toBe('allowed')
    expect(codeOf(await v.authorize({ mandate: m, request: { action: 'x' } }))).toBe('allowed')
    const fresh = attenuate(m, { caveats: [{ type: 'uses', max: 10 }], now: T0, random: seededRandom('reset') })
    expect(codeOf(await v.authorize({ mandate: fresh, request: { action: 'x' } }))).toBe('ERR_USAGE_EXHAUSTED')
  })

  it('exact sliding window (N at 12:59:59, N more at 13:00:00 are refused)', async () => {
    const m = bearerChild([{ type: 'uses', max: 2, per: 3600 }])
    const v = verifierFor()
    v.at(T0 + 3599)
    expect(codeOf(await v.authorize({ mandate: m, request: { action: 'x' } }))).toBe('allowed')
    expect(codeOf(await v.authorize({ mandate: m, request: { action: 'x' } }))).toBe('allowed')
    v.at(T0 + 3600)
    const d = denial(await v.authorize({ mandate: m, request: { action: 'x' } }))
    expect(d.code).toBe('ERR_USAGE_EXHAUSTED')
    expect(d.hint).toContain('next use allowed at')
    v.at(T0 + 3599 + 3600)
    expect(codeOf(await v.authorize({ mandate: m, request: { action: 'x' } }))).toBe('allowed')
  })

  it('a retried request id gets its original answer and consumes nothing', async () => {
    const m = bearerChild([{ type: 'uses', max: 1 }])
    const v = verifierFor()
    expect(codeOf(await v.authorize({ mandate: m, request: { action: 'x' }, requestId: 'r1' }))).toBe('allowed')
    expect(codeOf(await v.authorize({ mandate: m, request: { action: 'x' }, requestId: 'r1' }))).toBe('allowed')
    expect(codeOf(await v.authorize({ mandate: m, request: { action: 'x' }, requestId: 'r2' }))).toBe('ERR_USAGE_EXHAUSTED')
  })

  it('a request id reused for another request is counted as another request, never served the first answer', async () => {
    const m = bearerChild([{ type: 'uses', max: 1 }])
    const v = verifierFor()
    expect(codeOf(await v.authorize({ mandate: m, request: { action: 'x' }, requestId: 'k' }))).toBe('allowed')
    for (const other of [{ action: 'y' }, { action: 'x', resource: 'r/1' }, { action: 'x', args: { n: 1 } }]) {
      const d = denial(await v.authorize({ mandate: m, request: other, requestId: 'k' }))
      expect(d.code).toBe('ERR_USAGE_EXHAUSTED')
    }
    expect(codeOf(await v.authorize({ mandate: m, request: { action: 'x', args: {} }, requestId: 'k' }))).toBe('allowed')
  })

  it('an unreachable counter denies (ERR_COUNTER_UNAVAILABLE) and a failed consume frees the replay claim', async () => {
    let up = false
    const memory = createMemoryUsageStore()
    const usage = {
      consume: (r: Parameters<typeof memory.consume>[0]) => {
        if (!up) throw new Error('connection refused')
        return memory.consume(r)
      },
    }
    const grant = rootGrant([{ type: 'uses', max: 5 }])
    const inv = invoke(grant, { key: assistant, action: 'a', audience: 'svc', now: T0 + 60 })
    const v = verifierFor({ usage })
    const d = denial(await v.authorize({ invocation: inv }))
    expect(d.code).toBe('ERR_COUNTER_UNAVAILABLE')
    up = true
    expect(codeOf(await v.authorize({ invocation: inv }))).toBe('allowed')
  })

  it('a denied request consumes nothing', async () => {
    const usage = createMemoryUsageStore()
    const m = bearerChild([
      { type: 'uses', max: 1 },
      { type: 'actions', patterns: ['ok'] },
    ])
    const v = verifierFor({ usage })
    for (let i = 0; i < 5; i++) expect(codeOf(await v.authorize({ mandate: m, request: { action: 'no' } }))).toBe('ERR_ACTION_DENIED')
    expect(usage.used(`${m.blocks[1]?.idHex}/0`, T0 + 60)).toBe(0)
    expect(codeOf(await v.authorize({ mandate: m, request: { action: 'ok' } }))).toBe('allowed')
  })
})

describe('revocation view', () => {
  it('revoking block i denies it and every descendant; siblings and ancestors keep working', async () => {
    const revocations = createMemoryRevocationView()
    const parent = bearerChild([])
    const a = attenuate(parent, { now: T0, random: seededRandom('ra') })
    const b = attenuate(parent, { now: T0, random: seededRandom('rb') })
    const v = verifierFor({ revocations })
    revocations.revoke(a.blocks[2]?.idHex as string, { at: T0, by: aliceDid, reason: 'lost laptop' })
    const d = denial(await v.authorize({ mandate: a, request: { action: 'x' } }))
    expect([d.code, d.block]).toEqual(['ERR_REVOKED', 2])
    expect(d.message).toContain('lost laptop')
    expect(codeOf(await v.authorize({ mandate: b, request: { action: 'x' } }))).toBe('allowed')
    expect(codeOf(await v.authorize({ mandate: parent, request: { action: 'x' } }))).toBe('allowed')
    revocations.revoke(parent.blocks[0]?.idHex as string, { at: T0 })
    expect(codeOf(await v.authorize({ mandate: b, request: { action: 'x' } }))).toBe('ERR_REVOKED')
  })

  it('a scoped revocation denies only the listed actions', async () => {
    const revocations = createMemoryRevocationView()
    const m = bearerChild([])
    revocations.revoke(m.blocks[0]?.idHex as string, { actions: ['slack:send'], at: T0 })
    const v = verifierFor({ revocations })
    expect(codeOf(await v.authorize({ mandate: m, request: { action: 'slack:send' } }))).toBe('ERR_REVOKED')
    expect(codeOf(await v.authorize({ mandate: m, request: { action: 'slack:read' } }))).toBe('allowed')
  })

  it('a stale view denies everything (ERR_REVOCATION_STALE); a failing view too', async () => {
    let fresh = T0
    const revocations: RevocationView = { freshAt: () => fresh, entries: () => undefined }
    const v = verifierFor({ revocations, revocationMaxAge: 30 })
    v.at(T0 + 30)
    expect(codeOf(await v.authorize({ mandate: bearerChild([]), request: { action: 'x' } }))).toBe('allowed')
    v.at(T0 + 31)
    expect(codeOf(await v.authorize({ mandate: bearerChild([]), request: { action: 'x' } }))).toBe('ERR_REVOCATION_STALE')
    fresh = T0 + 31
    expect(codeOf(await v.authorize({ mandate: bearerChild([]), request: { action: 'x' } }))).toBe('allowed')
    const broken: RevocationView = {
      freshAt: () => {
        throw new Error('down')
      },
      entries: () => undefined,
    }
    expect(codeOf(await verifierFor({ revocations: broken }).authorize({ mandate: bearerChild([]), request: { action: 'x' } }))).toBe(
      'ERR_REVOCATION_STALE',
    )
  })
})

describe('createVerifier misuse', () => {
  it('throws TypeError or RangeError with the option named', () => {
    const revocations = 'none'
    expect(() => createVerifier({ roots: [], audience: 'svc', revocations })).toThrow(/"roots"/)
    expect(() => createVerifier({ roots: [aliceDid], audience: '', revocations })).toThrow(/"audience"/)
    expect(() => createVerifier({ roots: ['nope'], audience: 'svc', revocations })).toThrow(MandateError)
    expect(() => createVerifier({ roots: [aliceDid], audience: 'svc', revocations, skew: 301 })).toThrow(RangeError)
    expect(() => createVerifier({ roots: [aliceDid], audience: 'svc', revocations, revocationMaxAge: 0 })).toThrow(
      /"revocationMaxAge" expected a whole number from 1 to 86400, got 0/,
    )
    expect(() => createVerifier({ roots: [aliceDid], audience: 'svc', revocations, limits: { invocationMaxAge: 1.5 } })).toThrow(RangeError)
  })
})

describe('the verifier never throws', () => {
  // A function of the mandate, so that nothing is built while the module loads (see FIXED_KEYS).
  const inputs = (m: UnverifiedMandate): unknown[] => [
    undefined,
    null,
    42,
    {},
    { token: 42 },
    { token: 'hello' },
    { token: 'mnd1_' },
    { token: 'mnd1_AAAA' },
    { mandate: new Uint8Array([0xa0]) },
    { mandate: { bytes: 'nope' } },
    { mandate: m },
    { mandate: m, request: { action: '' } },
    { mandate: m, request: { action: 'a', resource: 'x'.repeat(2000) } },
    { mandate: m, request: { action: 'a', args: { n: 1.5 } } },
    { mandate: m, invocation: 'mni1_x' },
    { invocation: 'mni1_' },
    { mandate: m, request: { action: 'a' }, approvals: [42] },
  ]
  const count = inputs(undefined as never).length
  for (let i = 0; i < count; i++) {
    it(`input ${i} → a typed denial`, async () => {
      const d = await verifierFor().authorize(inputs(bearerChild([]))[i] as never)
      expect(d.allowed).toBe(false)
      if (!d.allowed) {
        expect(d.code).not.toBe('ERR_INTERNAL')
        expect(typeof d.message).toBe('string')
        expect(d.audit.decision).toBe('deny')
      }
    })
  }
})

describe('attenuation warnings', () => {
  it('flag wider and no-op caveats', () => {
    const parent = rootGrant([
      { type: 'actions', patterns: ['email:*'] },
      { type: 'uses', max: 5 },
    ])
    const w = attenuationWarnings(parent, [
      { type: 'actions', patterns: ['email:read', 'slack:read'] },
      { type: 'window', expires: T0 + 100 * 3600 },
      { type: 'uses', max: 10 },
      { type: 'actions', patterns: ['email:*'] },
    ])
    expect(w.map((x) => [x.caveatIndex, x.kind])).toEqual([
      [0, 'wider'],
      [1, 'no-op'],
      [2, 'no-op'],
      [3, 'no-op'],
    ])
    expect(
      attenuationWarnings(parent, [
        { type: 'actions', patterns: ['email:read'] },
        { type: 'uses', max: 2 },
      ]),
    ).toEqual([])
  })
})
