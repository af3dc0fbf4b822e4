/**
 * Approvals that wait (spec §7 steps 7 and 10, replay-cache retention; issue 11): every
 * boundary, on both sides, with its exact code, message and hint.
 */
import { describe, expect, it } from 'vitest'
import {
  approve,
  createMemoryRevocationView,
  createVerifier,
  type Decision,
  formatApproval,
  invoke,
  mint,
  type UnverifiedInvocation,
  type UnverifiedMandate,
  type VerifierOptions,
} from '../../src/index.js'
import { iso } from '../../src/internal/clock.js'
import { checkApprovals } from '../../src/verify/approvals.js'
import { verifyHolder } from '../../src/verify/holder.js'
import { readOptions } from '../../src/verify/options.js'
import type { ReplayCache } from '../../src/verify/replay.js'
import { aliceDid, alice as aliceKey, assistant } from '../helpers/chains.js'
import { fixedDid, fixedKey, seededRandom, T0 } from '../helpers/fixtures.js'

const NOW = T0 + 60
const DAY = 86_400
const bob = fixedKey('bob')
const carol = fixedKey('carol')

/** Alice → assistant, issued two days before NOW: email:read free, email:send needing `quorum` of Bob and Carol. */
function grant(quorum = 1): UnverifiedMandate {
  return mint({
    principal: aliceKey,
    to: fixedDid('assistant'),
    name: 'assistant',
    caveats: [
      { type: 'actions', patterns: ['email:read', 'email:send'] },
      { type: 'approval', actions: ['email:send'], approvers: [fixedDid('bob'), fixedDid('carol')], quorum },
      { type: 'window', expires: T0 + 8 * 3600 },
    ],
    now: T0 - 2 * DAY,
    random: seededRandom(`wait:grant:${quorum}`),
  })
}
let n = 0
/** The assistant's invocation of `action`, signed at `at` (each one new). */
const signed = (at: number, action = 'email:send', quorum = 1) =>
  invoke(grant(quorum), { key: assistant, action, audience: 'svc', now: at, random: seededRandom(`wait:inv:${n++}`) })
const ok = (who: typeof bob, inv: UnverifiedInvocation, at = NOW, ttl = 2 * DAY) =>
  formatApproval(approve({ approver: who, invocation: inv, now: at, ttl }))
const verifier = (options: Partial<VerifierOptions> = {}) =>
  createVerifier({ roots: [{ key: aliceDid, name: 'alice' }], audience: 'svc', clock: () => NOW, revocations: 'none', ...options })
const decide = (inv: UnverifiedInvocation, approvals: string[] = [], options: Partial<VerifierOptions> = {}) =>
  verifier(options).authorize({ invocation: inv, approvals })
const outcome = (d: Decision) => (d.allowed ? ['allowed'] : [d.code, d.message, d.hint, d.block, d.caveat])
const codeOf = (d: Decision) => (d.allowed ? 'allowed' : d.code)

describe('the approvalWait setting', () => {
  it('is whole seconds from 0 to 30 days, a day by default', () => {
    const of = (approvalWait?: unknown) =>
      readOptions({
        roots: [aliceDid],
        audience: 'svc',
        revocations: 'none',
        ...(approvalWait === undefined ? {} : { approvalWait }),
      } as never).approvalWait
    expect([of(), of(0), of(30 * DAY)]).toEqual([DAY, 0, 30 * DAY])
    expect(() => of(30 * DAY + 1)).toThrow(new RangeError('"approvalWait" expected a whole number from 0 to 2592000, got 2592001'))
    expect(() => of(-1)).toThrow(new RangeError('"approvalWait" expected a whole number from 0 to 2592000, got -1'))
    expect(() => of(1.5)).toThrow(new RangeError('"approvalWait" expected a whole number from 0 to 2592000, got 1.5'))
    expect(() => of('60')).toThrow(new TypeError('"approvalWait" expected a whole number, got string'))
  })
})

describe('step 7: fresh, waiting or stale (σ 60, max_age 300, wait 86,400)', () => {
  it('now − 360 is fresh; now − 361 waits: without its approval ERR_APPROVAL_REQUIRED, with it allowed', async () => {
    expect(codeOf(await decide(signed(NOW - 360, 'email:read')))).toBe('allowed')
    const inv = signed(NOW - 361)
    expect(outcome(await decide(inv))).toEqual([
      'ERR_APPROVAL_REQUIRED',
      'block 0 needs 1 approval(s) for this action; 0 given',
      `needs 1 more from: ${fixedDid('bob')}, ${fixedDid('carol')}; submit invocation ${inv.idHex} for approval (it can wait for it until ${iso(NOW - 361 + DAY + 60)})`,
      0,
      'approval',
    ])
    const allowed = await decide(inv, [ok(bob, inv)])
    expect([codeOf(allowed), allowed.allowed && allowed.approvals]).toEqual(['allowed', [fixedDid('bob')]])
    // a fresh invocation's hint says nothing of waiting
    const fresh = signed(NOW - 360)
    expect(outcome(await decide(fresh))[2]).toBe(
      `needs 1 more from: ${fixedDid('bob')}, ${fixedDid('carol')}; submit invocation ${fresh.idHex} for approval`,
    )
  })

  it('a waiting invocation that needs no approval is stale at step 10', async () => {
    expect(outcome(await decide(signed(NOW - 361, 'email:read')))).toEqual([
      'ERR_PROOF',
      `the invocation is stale (signed ${iso(NOW - 361)}, older than 300s; it needs no approval, so it cannot wait for one)`,
      'sign a fresh invocation',
      undefined,
      undefined,
    ])
  })

  it('now − 86,460 still waits; now − 86,461 is stale at step 7, approved or not', async () => {
    const last = signed(NOW - DAY - 60)
    expect(codeOf(await decide(last, [ok(bob, last)]))).toBe('allowed')
    const stale = signed(NOW - DAY - 61)
    const expected = [
      'ERR_PROOF',
      `the invocation is stale (signed ${iso(NOW - DAY - 61)}, older than 86400s)`,
      'sign a fresh invocation',
      undefined,
      undefined,
    ]
    expect(outcome(await decide(stale, [ok(bob, stale)]))).toEqual(expected)
    expect(outcome(await decide(stale))).toEqual(expected)
  })

  it('approvalWait 0 (or no longer than max_age) is the rule without waiting: stale at now − 361', async () => {
    const inv = signed(NOW - 361)
    for (const approvalWait of [0, 100, 300]) {
      expect(outcome(await decide(inv, [ok(bob, inv)], { approvalWait }))).toEqual([
        'ERR_PROOF',
        `the invocation is stale (signed ${iso(NOW - 361)}, older than 300s)`,
        'sign a fresh invocation',
        undefined,
        undefined,
      ])
      expect(codeOf(await decide(inv, [], { approvalWait }))).toBe('ERR_PROOF')
      const fresh = signed(NOW - 360)
      expect(codeOf(await decide(fresh, [ok(bob, fresh)], { approvalWait }))).toBe('allowed')
    }
    // 301: the one second past max_age waits
    expect(codeOf(await decide(inv, [ok(bob, inv)], { approvalWait: 301 }))).toBe('allowed')
    expect(codeOf(await decide(signed(NOW - 362), [], { approvalWait: 301 }))).toBe('ERR_PROOF')
  })

  it('with its own max_age and skew: fresh to now − max_age − σ, waiting to now − wait − σ', async () => {
    const options = { limits: { invocationMaxAge: 100 }, skew: 10, approvalWait: 1000 }
    expect(codeOf(await decide(signed(NOW - 110, 'email:read'), [], options))).toBe('allowed')
    expect(codeOf(await decide(signed(NOW - 111, 'email:read'), [], options))).toBe('ERR_PROOF')
    expect(codeOf(await decide(signed(NOW - 111), [], options))).toBe('ERR_APPROVAL_REQUIRED')
    const last = signed(NOW - 1010)
    expect(codeOf(await decide(last, [ok(bob, last, NOW - 110)], options))).toBe('allowed')
    const late = signed(NOW - 1010)
    expect(codeOf(await decide(late, [ok(bob, late, NOW - 111)], options))).toBe('ERR_PROOF')
    const stale = signed(NOW - 1011)
    expect(codeOf(await decide(stale, [ok(bob, stale)], options))).toBe('ERR_PROOF')
  })

  it('the future stays the future: now + 60 is fresh, now + 61 ERR_PROOF', async () => {
    expect(codeOf(await decide(signed(NOW + 60, 'email:read')))).toBe('allowed')
    expect(outcome(await decide(signed(NOW + 61, 'email:read')))).toEqual([
      'ERR_PROOF',
      `the invocation is dated in the future (${iso(NOW + 61)})`,
      'check the agent clock',
      undefined,
      undefined,
    ])
  })
})

describe('step 10: a waiting invocation is accepted for max_age + σ after its last approval', () => {
  it('an approval issued at now − 360 passes, at now − 361 it is ERR_PROOF', async () => {
    const inv = signed(NOW - 3600)
    expect(codeOf(await decide(inv, [ok(bob, inv, NOW - 360)]))).toBe('allowed')
    expect(outcome(await decide(inv, [ok(bob, inv, NOW - 361)]))).toEqual([
      'ERR_PROOF',
      `the invocation is stale (signed ${iso(NOW - 3600)}), and its last approval (${iso(NOW - 361)}) is older than 300s`,
      'a waiting invocation is accepted only soon after its last approval: sign a new invocation and ask again',
      undefined,
      undefined,
    ])
  })

  it('a quorum of 2: the latest approval decides, whatever the order', async () => {
    const inv = signed(NOW - 7200, 'email:send', 2)
    const [old, recent] = [ok(bob, inv, NOW - 3600), ok(carol, inv, NOW - 10)]
    for (const approvals of [
      [old, recent],
      [recent, old],
    ]) {
      const d = await decide(inv, approvals)
      expect([codeOf(d), d.allowed && [...d.approvals].sort()]).toEqual(['allowed', [fixedDid('bob'), fixedDid('carol')].sort()])
    }
    expect(codeOf(await decide(inv, [old, ok(carol, inv, NOW - 361)]))).toBe('ERR_PROOF')
    // the same approver again, later: its latest approval counts
    const one = signed(NOW - 7200)
    expect(codeOf(await decide(one, [ok(bob, one, NOW - 3600), ok(bob, one, NOW - 5)]))).toBe('allowed')
  })

  it('precedence: quorum (c) before the last approval (d); no approval needed (a) before the approvals (b); steps 8–9 first', async () => {
    const two = signed(NOW - 7200, 'email:send', 2)
    const unmet = await decide(two, [ok(bob, two, NOW - 3600)])
    expect([codeOf(unmet), unmet.allowed ? undefined : unmet.block, unmet.allowed ? undefined : unmet.caveat]).toEqual([
      'ERR_APPROVAL_REQUIRED',
      0,
      'approval',
    ])
    const read = signed(NOW - 361, 'email:read')
    const send = signed(NOW - 361)
    expect(codeOf(await decide(read, [ok(bob, send)]))).toBe('ERR_PROOF')
    // an invalid approval of one that does need approval is reported as for a fresh invocation
    expect(codeOf(await decide(send, [ok(bob, send), ok(fixedKey('mallory'), send)]))).toBe('ERR_APPROVAL_INVALID')
    const revocations = createMemoryRevocationView(() => NOW)
    revocations.revoke(read.chain[0]?.idHex as string, { at: NOW - 1 })
    const revoked = await decide(read, [], { revocations })
    expect([codeOf(revoked), revoked.allowed ? undefined : revoked.block]).toEqual(['ERR_REVOKED', 0])
  })
})

describe('exactly once: the replay claim and its retention', () => {
  const spy = () => {
    const claims: [string, number][] = []
    const seen = new Map<string, number>()
    const cache: ReplayCache = {
      has: (id, now) => (seen.get(id) ?? 0) > now,
      claim(id, until, now) {
        claims.push([id, until])
        if ((seen.get(id) ?? 0) > now) return false
        seen.set(id, until)
        return true
      },
      release: (id) => {
        seen.delete(id)
      },
    }
    return { cache, claims }
  }

  it('a waiting invocation, approved, is accepted once', async () => {
    const inv = signed(NOW - 3600)
    const v = verifier()
    expect(codeOf(await v.authorize({ invocation: inv, approvals: [ok(bob, inv)] }))).toBe('allowed')
    const again = await v.authorize({ invocation: inv, approvals: [ok(bob, inv)] })
    expect(outcome(again)).toEqual([
      'ERR_REPLAY',
      'this invocation was already used',
      'sign a new invocation for each request',
      undefined,
      undefined,
    ])
  })

  it('an id is claimed through issued_at + max(max_age, wait) + σ when it needs an approval, issued_at + max_age + σ otherwise', async () => {
    const { cache, claims } = spy()
    const send = signed(NOW - 10)
    const read = signed(NOW - 10, 'email:read')
    expect(codeOf(await decide(send, [ok(bob, send)], { replay: cache }))).toBe('allowed')
    expect(codeOf(await decide(read, [], { replay: cache }))).toBe('allowed')
    const waitless = signed(NOW - 10)
    expect(codeOf(await decide(waitless, [ok(bob, waitless)], { replay: cache, approvalWait: 0 }))).toBe('allowed')
    expect(claims).toEqual([
      [send.idHex, NOW - 10 + DAY + 60 + 1],
      [read.idHex, NOW - 10 + 300 + 60 + 1],
      [waitless.idHex, NOW - 10 + 300 + 60 + 1],
    ])
  })

  it('with the in-memory cache: ERR_REPLAY through the whole wait, then stale', async () => {
    let now = NOW
    const v = createVerifier({ roots: [aliceDid], audience: 'svc', clock: () => now, revocations: 'none' })
    const send = signed(NOW)
    const approvals = [ok(bob, send)]
    expect(codeOf(await v.authorize({ invocation: send, approvals }))).toBe('allowed')
    now = NOW + DAY + 60
    expect(codeOf(await v.authorize({ invocation: send, approvals }))).toBe('ERR_REPLAY')
    now = NOW + DAY + 61
    expect(codeOf(await v.authorize({ invocation: send, approvals }))).toBe('ERR_PROOF')
  })
})

describe('the phases', () => {
  const settings = (options: Partial<VerifierOptions> = {}) =>
    readOptions({ roots: [aliceDid], audience: 'svc', revocations: 'none', ...options })

  it('verifyHolder says whether the invocation is waiting', async () => {
    const holder = (inv: UnverifiedInvocation, options: Partial<VerifierOptions> = {}) =>
      verifyHolder(settings(options), NOW, { chain: inv.chain, presentation: 'invocation', invocation: inv, bytes: inv.bytes })
    expect(await holder(signed(NOW - 360))).toBe(false)
    expect(await holder(signed(NOW - 361))).toBe(true)
    expect(await holder(signed(NOW - DAY - 60))).toBe(true)
    await expect(holder(signed(NOW - DAY - 61))).rejects.toMatchObject({ code: 'ERR_PROOF' })
    await expect(holder(signed(NOW - 361), { approvalWait: 0 })).rejects.toMatchObject({
      code: 'ERR_PROOF',
      message: `the invocation is stale (signed ${iso(NOW - 361)}, older than 300s)`,
    })
  })

  it('checkApprovals decides a waiting invocation: (a) needs an approval, (d) a recent last one', () => {
    const inv = signed(NOW - 3600)
    const need = [{ block: 0, caveatIndex: 1, approvers: [fixedDid('bob'), fixedDid('carol')], quorum: 1 }]
    const check = (requirements: typeof need, approvals: string[], waiting: boolean) => {
      try {
        return checkApprovals(settings(), NOW, requirements, approvals, inv, waiting)
      } catch (e) {
        return (e as { code: string }).code
      }
    }
    expect(check([], [], true)).toBe('ERR_PROOF')
    expect(check([], [], false)).toEqual([])
    expect(check([], ['mna1_junk'], true)).toBe('ERR_PROOF')
    expect(check([], ['mna1_junk'], false)).toBe('ERR_APPROVAL_INVALID')
    expect(check(need, [ok(bob, inv, NOW - 361)], true)).toBe('ERR_PROOF')
    expect(check(need, [ok(bob, inv, NOW - 361)], false)).toEqual([fixedDid('bob')])
    expect(check(need, [ok(bob, inv, NOW - 360)], true)).toEqual([fixedDid('bob')])
  })
})
