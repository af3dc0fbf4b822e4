/**
 * Phase: step 9 of spec §7, caveat evaluation (src/verify/evaluate.ts), called directly on
 * hand-made blocks so that every boundary, message, hint and location can be pinned.
 */
import { describe, expect, it } from 'vitest'
import type { DecodedCaveat } from '../../../src/caveats/types.js'
import type { MandateError } from '../../../src/errors.js'
import { approve, invoke } from '../../../src/index.js'
import type { UnverifiedBlock } from '../../../src/token/block.js'
import { checkApprovals } from '../../../src/verify/approvals.js'
import { readClock } from '../../../src/verify/clock.js'
import { type ApprovalRequirement, type EvaluationContext, type ExtensionChecker, evaluateCaveats } from '../../../src/verify/evaluate.js'
import { readOptions } from '../../../src/verify/options.js'
import { aliceDid, assistant, rootGrant } from '../../helpers/chains.js'
import { caught, fixedDid, fixedKey, seededRandom, T0, thrownCode } from '../../helpers/fixtures.js'

interface BlockOptions {
  readonly bearer?: boolean
  readonly issuedAt?: number
}

/** The fields of a block evaluation reads. */
function block(index: number, caveats: DecodedCaveat[], options: BlockOptions = {}): UnverifiedBlock {
  return {
    index,
    caveats,
    bearer: options.bearer ?? false,
    issuedAt: options.issuedAt ?? T0,
    idHex: `b${index}`,
  } as unknown as UnverifiedBlock
}

function expiring(expires = T0 + 3600): DecodedCaveat {
  return { type: 'window', expires }
}

function ctx(chain: UnverifiedBlock[], over: Partial<EvaluationContext> = {}): EvaluationContext {
  return {
    now: T0 + 60,
    skew: 0,
    maxLifetime: 86_400,
    audience: 'svc',
    request: { action: 'email:read', resource: 'inbox/1', args: {} },
    presentation: 'invocation',
    chain,
    extensions: new Map(),
    ...over,
  }
}

function where(e: MandateError) {
  return { code: e.code, block: e.block, caveat: e.caveat, caveatIndex: e.caveatIndex }
}

describe('chain caveats', () => {
  it('denies an unknown caveat type, located, with the fail-closed hint', () => {
    const e = caught(() => evaluateCaveats(ctx([block(0, [expiring(), { type: 'unknown', code: 99 }])])))
    expect(where(e)).toEqual({ code: 'ERR_CAVEAT_UNKNOWN', block: 0, caveat: 'unknown', caveatIndex: 1 })
    expect(e.message).toBe('block 0: unknown caveat type 99')
    expect(e.hint).toBe('this verifier does not understand the caveat, so it denies (fail closed); upgrade it or remove the caveat')
  })

  it('denies a malformed caveat with its reason', () => {
    const e = caught(() => evaluateCaveats(ctx([block(0, [expiring()]), block(1, [{ type: 'invalid', code: 1, reason: 'bad list' }])])))
    expect(where(e)).toEqual({ code: 'ERR_CAVEAT_INVALID', block: 1, caveat: 'actions', caveatIndex: 0 })
    expect(e.message).toBe('block 1: malformed caveat: bad list')
  })

  it('denies an extension without a registered checker in the chain phase, before time', () => {
    const chain = [
      block(0, [
        { type: 'window', expires: T0 + 10 },
        { type: 'extension', code: 0x10001, body: 1 },
      ]),
    ]
    const e = caught(() => evaluateCaveats(ctx(chain, { now: T0 + 100 })))
    expect(where(e)).toEqual({ code: 'ERR_CAVEAT_UNKNOWN', block: 0, caveat: 'extension', caveatIndex: 1 })
    expect(e.message).toBe(`block 0: extension caveat ${0x10001} has no registered checker`)
    expect(e.hint).toBe(`register a checker for ${0x10001} in createVerifier({ extensions })`)
  })

  it('depth: allows exactly max further blocks, not one more, counted from its own block', () => {
    const depth = (max: number): DecodedCaveat => ({ type: 'depth', max })
    const two = [block(0, [expiring(), depth(1)]), block(1, [])]
    expect(evaluateCaveats(ctx(two)).matched).toEqual([])
    const three = [block(0, [expiring(), depth(1)]), block(1, []), block(2, [])]
    const e = caught(() => evaluateCaveats(ctx(three)))
    expect(where(e)).toEqual({ code: 'ERR_CHAIN_DEPTH', block: 0, caveat: 'depth', caveatIndex: 1 })
    expect(e.message).toBe('block 0 allows 1 further block(s); the chain has 2')
    // On block 1, max 1 leaves room for block 2.
    expect(thrownCode(() => evaluateCaveats(ctx([block(0, [expiring()]), block(1, [depth(1)]), block(2, [])])))).toBe('ok')
    const child = caught(() => evaluateCaveats(ctx([block(0, [expiring()]), block(1, [depth(0)]), block(2, [])])))
    expect(where(child)).toEqual({ code: 'ERR_CHAIN_DEPTH', block: 1, caveat: 'depth', caveatIndex: 0 })
    expect(child.message).toBe('block 1 allows 0 further block(s); the chain has 1')
  })

  it('bound: a bearer at or below its block is refused; one above it is not', () => {
    const bound: DecodedCaveat = { type: 'bound' }
    const below = caught(() => evaluateCaveats(ctx([block(0, [expiring(), bound]), block(1, []), block(2, [], { bearer: true })])))
    expect(where(below)).toEqual({ code: 'ERR_BOUND_REQUIRED', block: 0, caveat: 'bound', caveatIndex: 1 })
    expect(below.message).toBe('block 0 requires bound holders, but block 2 names a bearer')
    const own = caught(() => evaluateCaveats(ctx([block(0, [expiring()]), block(1, [bound], { bearer: true })])))
    expect(own.message).toBe('block 1 requires bound holders, but block 1 names a bearer')
    // A bearer root above a bound block is not the bound block's concern.
    expect(thrownCode(() => evaluateCaveats(ctx([block(0, [expiring()], { bearer: true }), block(1, [bound])])))).toBe('ok')
  })

  it('bound: requires an invocation, not a bare sealed or bearer presentation', () => {
    const chain = [block(0, [expiring()]), block(1, [{ type: 'bound' }])]
    expect(thrownCode(() => evaluateCaveats(ctx(chain)))).toBe('ok')
    for (const presentation of ['sealed', 'bearer'] as const) {
      const e = caught(() => evaluateCaveats(ctx(chain, { presentation })))
      expect(where(e)).toEqual({ code: 'ERR_BOUND_REQUIRED', block: 1, caveat: 'bound', caveatIndex: 0 })
      expect(e.message).toBe('block 1 requires an invocation signed by the holder')
      expect(e.hint).toBe('sign an invocation with the holder key (CLI: mandate invoke --key FILE)')
    }
  })

  it('audience: passes for a listed name, else names every listed audience', () => {
    const chain = [block(0, [expiring(), { type: 'audience', names: ['a', 'svc'] }])]
    expect(thrownCode(() => evaluateCaveats(ctx(chain)))).toBe('ok')
    const e = caught(() => evaluateCaveats(ctx(chain, { audience: 'other' })))
    expect(where(e)).toEqual({ code: 'ERR_AUDIENCE', block: 0, caveat: 'audience', caveatIndex: 1 })
    expect(e.message).toBe('block 0 is for "a", "svc", not "other"')
  })
})

describe('time', () => {
  it('issued_at may be up to now + skew, not later', () => {
    const chain = (issuedAt: number) => [block(0, [expiring(T0 + 7200)]), block(1, [], { issuedAt })]
    expect(thrownCode(() => evaluateCaveats(ctx(chain(T0 + 90), { now: T0 + 60, skew: 30 })))).toBe('ok')
    const e = caught(() => evaluateCaveats(ctx(chain(T0 + 91), { now: T0 + 60, skew: 30 })))
    expect(where(e)).toEqual({ code: 'ERR_TIME_INVALID', block: 1, caveat: undefined, caveatIndex: undefined })
    expect(e.message).toBe(
      `block 1 is issued in the future (${new Date((T0 + 91) * 1000).toISOString().replace('.000Z', 'Z')}, beyond now + 30s skew)`,
    )
    expect(e.hint).toBe("check the issuer's clock; a block issued later than now + skew is never accepted")
  })

  it('refuses a window that starts at or after it ends; one second less passes', () => {
    const ok = [block(0, [{ type: 'window', notBefore: T0, expires: T0 + 1 }])]
    expect(thrownCode(() => evaluateCaveats(ctx(ok, { now: T0 })))).toBe('ok')
    const e = caught(() => evaluateCaveats(ctx([block(0, [expiring(), { type: 'window', notBefore: T0 + 5, expires: T0 + 5 }])])))
    expect(where(e)).toEqual({ code: 'ERR_TIME_INVALID', block: 0, caveat: 'window', caveatIndex: 1 })
    expect(e.message).toBe('block 0: window starts at or after it ends')
  })

  it('requires an expiry on the root; a child expiry or a root not-before is not one', () => {
    const e = caught(() => evaluateCaveats(ctx([block(0, [{ type: 'window', notBefore: T0 }]), block(1, [expiring()])])))
    expect(where(e)).toEqual({ code: 'ERR_TIME_INVALID', block: 0, caveat: undefined, caveatIndex: undefined })
    expect(e.message).toBe('the root block carries no expiry')
    expect(e.hint).toBe('mint the root with a window caveat that expires')
  })

  it('root lifetime: min root expiry minus max(issued_at, root not-befores), at most the maximum', () => {
    const root = (...caveats: DecodedCaveat[]) => [block(0, caveats), block(1, [expiring(T0 + 50)])]
    const two = root({ type: 'window', expires: T0 + 1000 }, { type: 'window', expires: T0 + 2000 })
    expect(thrownCode(() => evaluateCaveats(ctx(two, { now: T0, maxLifetime: 1000 })))).toBe('ok')
    const e = caught(() => evaluateCaveats(ctx(two, { now: T0, maxLifetime: 999 })))
    expect(where(e)).toEqual({ code: 'ERR_TIME_INVALID', block: 0, caveat: 'window', caveatIndex: 0 })
    expect(e.message).toBe("root lifetime 1000s exceeds this verifier's maximum of 999s")
    // A root not-before after issued_at shortens the lifetime; a child's does not.
    const late = [block(0, [{ type: 'window', notBefore: T0 + 400, expires: T0 + 1400 }])]
    expect(thrownCode(() => evaluateCaveats(ctx(late, { now: T0 + 400, maxLifetime: 1000 })))).toBe('ok')
    const childNbf = [block(0, [expiring(T0 + 1400)]), block(1, [{ type: 'window', notBefore: T0 + 400 }])]
    expect(caught(() => evaluateCaveats(ctx(childNbf, { now: T0 + 400, maxLifetime: 1000 }))).message).toBe(
      "root lifetime 1400s exceeds this verifier's maximum of 1000s",
    )
  })

  it('refuses windows that never overlap, at the window that empties the intersection', () => {
    const chain = [block(0, [expiring(T0 + 100)]), block(1, [expiring(T0 + 90)]), block(2, [{ type: 'window', notBefore: T0 + 100 }])]
    const e = caught(() => evaluateCaveats(ctx(chain)))
    expect(where(e)).toEqual({ code: 'ERR_TIME_INVALID', block: 2, caveat: 'window', caveatIndex: 0 })
    expect(e.message).toBe('block 2: the windows of the chain do not overlap: it can never be used')
    const touching = [block(0, [expiring(T0 + 100)]), block(1, [{ type: 'window', notBefore: T0 + 99 }])]
    expect(thrownCode(() => evaluateCaveats(ctx(touching, { now: T0 + 99 })))).toBe('ok')
    const meeting = [block(0, [expiring(T0 + 100)]), block(1, [{ type: 'window', notBefore: T0 + 100 }])]
    expect(where(caught(() => evaluateCaveats(ctx(meeting, { now: T0 + 99 }))))).toEqual({
      code: 'ERR_TIME_INVALID',
      block: 1,
      caveat: 'window',
      caveatIndex: 0,
    })
  })

  it('not yet: the latest not-before decides, whichever block carries it, within the skew', () => {
    const chain = [
      block(0, [{ type: 'window', notBefore: T0 + 1000, expires: T0 + 5000 }]),
      block(1, [{ type: 'window', notBefore: T0 + 500 }]),
    ]
    expect(thrownCode(() => evaluateCaveats(ctx(chain, { now: T0 + 990, skew: 10 })))).toBe('ok')
    const e = caught(() => evaluateCaveats(ctx(chain, { now: T0 + 989, skew: 10 })))
    expect(where(e)).toEqual({ code: 'ERR_TIME_NOT_YET', block: 0, caveat: 'window', caveatIndex: 0 })
    const at = new Date((T0 + 1000) * 1000).toISOString().replace('.000Z', 'Z')
    expect(e.message).toBe(`not valid before ${at}`)
    expect(e.hint).toBe(`retry after ${at}`)
    const childLater = [
      block(0, [{ type: 'window', notBefore: T0 + 500, expires: T0 + 5000 }]),
      block(1, [{ type: 'window', notBefore: T0 + 1000 }]),
    ]
    expect(where(caught(() => evaluateCaveats(ctx(childLater, { now: T0 + 700 }))))).toEqual({
      code: 'ERR_TIME_NOT_YET',
      block: 1,
      caveat: 'window',
      caveatIndex: 0,
    })
  })

  it('expired: at the earliest expiry (first in chain order on ties), within the skew', () => {
    const chain = [block(0, [expiring(T0 + 1000)]), block(1, [expiring(T0 + 800)]), block(2, [expiring(T0 + 800)])]
    expect(thrownCode(() => evaluateCaveats(ctx(chain, { now: T0 + 809, skew: 10 })))).toBe('ok')
    const e = caught(() => evaluateCaveats(ctx(chain, { now: T0 + 810, skew: 10 })))
    expect(where(e)).toEqual({ code: 'ERR_TIME_EXPIRED', block: 1, caveat: 'window', caveatIndex: 0 })
    expect(e.message).toBe(`expired at ${new Date((T0 + 800) * 1000).toISOString().replace('.000Z', 'Z')}`)
    expect(e.hint).toBe('ask the delegator for a fresh mandate')
  })
})

describe('request caveats', () => {
  it('deny wins over actions, with the pattern and an approval-proof hint', () => {
    const chain = [
      block(0, [expiring(), { type: 'actions', patterns: ['calendar:*'] }]),
      block(1, [{ type: 'deny', patterns: ['x:y', 'email'] }]),
    ]
    const e = caught(() => evaluateCaveats(ctx(chain)))
    expect(where(e)).toEqual({ code: 'ERR_ACTION_DENIED', block: 1, caveat: 'deny', caveatIndex: 0 })
    expect(e.message).toBe('block 1 never allows email:read (deny email)')
    expect(e.hint).toBe('this action is denied outright; no approval can unlock it')
  })

  it('actions: records the matching pattern per block, or lists what the block allows', () => {
    const chain = [
      block(0, [expiring(), { type: 'actions', patterns: ['*'] }]),
      block(1, [{ type: 'actions', patterns: ['slack:*', 'email:read'] }]),
    ]
    expect(evaluateCaveats(ctx(chain)).matched).toEqual([
      { block: 0, caveat: 'actions', value: '*' },
      { block: 1, caveat: 'actions', value: 'email:read' },
    ])
    const e = caught(() => evaluateCaveats(ctx(chain, { request: { action: 'email:send', args: {} } })))
    expect(where(e)).toEqual({ code: 'ERR_ACTION_DENIED', block: 1, caveat: 'actions', caveatIndex: 0 })
    expect(e.message).toBe('block 1 does not allow email:send')
    expect(e.hint).toBe('block 1 allows: slack:*, email:read')
  })

  it('resources: records the glob, and denies a missing or unmatched resource', () => {
    const chain = [block(0, [expiring(), { type: 'resources', globs: ['mail/*', 'inbox/*'] }])]
    expect(evaluateCaveats(ctx(chain)).matched).toEqual([{ block: 0, caveat: 'resources', value: 'inbox/*' }])
    const none = caught(() => evaluateCaveats(ctx(chain, { request: { action: 'email:read', args: {} } })))
    expect(where(none)).toEqual({ code: 'ERR_RESOURCE_DENIED', block: 0, caveat: 'resources', caveatIndex: 1 })
    expect(none.message).toBe('block 0 restricts resources, and none was named')
    expect(none.hint).toBe('block 0 allows: mail/*, inbox/*')
    const other = caught(() => evaluateCaveats(ctx(chain, { request: { action: 'email:read', resource: 'drive/1', args: {} } })))
    expect(other.message).toBe('block 0 does not allow resource drive/1')
  })

  it('where: applies to the actions it names (all when none), every rule must hold', () => {
    const rules = [
      { path: 'to', op: 'eq' as const, value: 'bob' },
      { path: 'n', op: 'lt' as const, value: 5 },
    ]
    const chain = (actions?: string[]) => [block(0, [expiring(), { type: 'where', ...(actions ? { actions } : {}), rules }])]
    const req = (args: Record<string, string | number>) => ({ request: { action: 'email:read', args } })
    expect(thrownCode(() => evaluateCaveats(ctx(chain(), req({ to: 'bob', n: 4 }))))).toBe('ok')
    const e = caught(() => evaluateCaveats(ctx(chain(), req({ to: 'bob', n: 5 }))))
    expect(where(e)).toEqual({ code: 'ERR_ARGS_DENIED', block: 0, caveat: 'where', caveatIndex: 1 })
    expect(e.message).toBe('block 0: argument rule failed: n lt 5')
    expect(e.hint).toBe('requires n lt 5')
    expect(thrownCode(() => evaluateCaveats(ctx(chain(['slack:*']), req({ to: 'eve', n: 9 }))))).toBe('ok')
    expect(thrownCode(() => evaluateCaveats(ctx(chain(['slack:*', 'email']), req({ to: 'eve', n: 1 }))))).toBe('ERR_ARGS_DENIED')
  })

  it('extensions: only a checker answering exactly true passes; it sees the context', () => {
    const seen: unknown[] = []
    const make = (answer: unknown): Map<number, ExtensionChecker> =>
      new Map([
        [
          0x10002,
          (body, context) => {
            seen.push(body, context)
            return answer as boolean
          },
        ],
      ])
    const chain = [block(0, [expiring()]), block(1, [{ type: 'extension', code: 0x10002, body: 'b' }])]
    const request = { action: 'email:read', args: {} }
    expect(thrownCode(() => evaluateCaveats(ctx(chain, { request, extensions: make(true) })))).toBe('ok')
    expect(seen).toEqual(['b', { now: T0 + 60, audience: 'svc', request, block: 1 }])
    const denied = caught(() => evaluateCaveats(ctx(chain, { extensions: make(1) })))
    expect(where(denied)).toEqual({ code: 'ERR_CAVEAT_DENIED', block: 1, caveat: 'extension', caveatIndex: 0 })
    expect(denied.message).toBe(`block 1: extension caveat ${0x10002} denied the request`)
    const boom = new Error('boom')
    const throwing = new Map<number, ExtensionChecker>([
      [
        0x10002,
        () => {
          throw boom
        },
      ],
    ])
    const failed = caught(() => evaluateCaveats(ctx(chain, { extensions: throwing })))
    expect(where(failed)).toEqual({ code: 'ERR_CAVEAT_DENIED', block: 1, caveat: 'extension', caveatIndex: 0 })
    expect(failed.message).toBe(`block 1: extension caveat ${0x10002} checker failed`)
    expect(failed.cause).toBe(boom)
  })

  it('approval: required when any of its actions covers the request', () => {
    const approval: DecodedCaveat = {
      type: 'approval',
      actions: ['calendar:write', 'email'],
      approvers: ['did:key:a', 'did:key:b'],
      quorum: 2,
    }
    const chain = [block(0, [expiring()]), block(1, [{ type: 'uses', max: 1 }, approval])]
    expect(evaluateCaveats(ctx(chain)).approvals).toEqual([{ block: 1, caveatIndex: 1, approvers: ['did:key:a', 'did:key:b'], quorum: 2 }])
    expect(evaluateCaveats(ctx(chain, { request: { action: 'slack:read', args: {} } })).approvals).toEqual([])
  })

  it('uses: one counter per caveat, keyed by block id and index, per only when set', () => {
    const chain = [block(0, [expiring(), { type: 'uses', max: 3 }]), block(1, [{ type: 'uses', max: 2, per: 60 }])]
    expect(evaluateCaveats(ctx(chain)).counters).toStrictEqual([
      { key: 'b0/1', blockId: 'b0', block: 0, caveatIndex: 1, max: 3 },
      { key: 'b1/0', blockId: 'b1', block: 1, caveatIndex: 0, max: 2, per: 60 },
    ])
  })
})

describe('readClock (the now every check above decides at)', () => {
  it('takes a whole number of seconds ≥ 0, zero included', () => {
    const progress = { now: -1 }
    readClock(() => 0, progress)
    expect(progress.now).toBe(0)
    readClock(() => T0, progress)
    expect(progress.now).toBe(T0)
  })

  it('denies a clock that throws, recording the system time instead', () => {
    const boom = new Error('no time')
    const progress = { now: -1 }
    const e = caught(() =>
      readClock(() => {
        throw boom
      }, progress),
    )
    expect([e.code, e.message, e.hint, e.cause]).toEqual([
      'ERR_CLOCK_UNAVAILABLE',
      'the verifier clock failed',
      'the clock given to createVerifier threw',
      boom,
    ])
    expect(Number.isSafeInteger(progress.now) && progress.now > 0).toBe(true)
  })

  it('denies a clock answering anything but whole non-negative seconds, saying what it got', () => {
    const cases: [unknown, string][] = [
      [-1, 'got -1'],
      [1.5, 'got 1.5'],
      [2 ** 53, `got ${2 ** 53}`],
      ['1', 'got string'],
      [undefined, 'got undefined'],
    ]
    for (const [answer, got] of cases) {
      const progress = { now: -1 }
      const e = caught(() => readClock(() => answer as number, progress))
      expect([e.code, e.message, e.hint]).toEqual([
        'ERR_CLOCK_UNAVAILABLE',
        `the verifier clock gave no whole number of seconds (${got})`,
        'the clock given to createVerifier must return Unix time in whole seconds',
      ])
      expect(progress.now).toBeGreaterThan(0)
    }
  })
})

describe('checkApprovals (step 10, on the requirements evaluation left)', () => {
  const NOW = T0 + 60
  const settings = () => readOptions({ roots: [aliceDid], audience: 'svc', revocations: 'none', skew: 30 })
  const inv = () => invoke(rootGrant(), { key: assistant, action: 'email:send', audience: 'svc', now: NOW, random: seededRandom('ev-ap') })
  const need = (quorum: number): ApprovalRequirement[] => [
    { block: 1, caveatIndex: 2, approvers: [fixedDid('bob'), fixedDid('carol')], quorum },
  ]

  it('honours an approval until expires + skew, not at it', () => {
    const a = approve({ approver: fixedKey('bob'), invocation: inv(), now: NOW, ttl: 10 })
    expect(checkApprovals(settings(), NOW + 39, need(1), [a], inv())).toEqual([fixedDid('bob')])
    const e = caught(() => checkApprovals(settings(), NOW + 40, need(1), [a], inv()))
    expect([e.code, e.message, e.hint]).toEqual([
      'ERR_APPROVAL_INVALID',
      `approval 0 expired at ${new Date((NOW + 10) * 1000).toISOString().replace('.000Z', 'Z')}`,
      'ask the approver again',
    ])
  })

  it('accepts an approval dated up to now + skew, not later', () => {
    const at = (issued: number) => approve({ approver: fixedKey('bob'), invocation: inv(), now: issued })
    expect(checkApprovals(settings(), NOW, need(1), [at(NOW + 30)], inv())).toEqual([fixedDid('bob')])
    const e = caught(() => checkApprovals(settings(), NOW, need(1), [at(NOW + 31)], inv()))
    expect([e.code, e.message]).toEqual(['ERR_APPROVAL_INVALID', 'approval 0 is dated in the future'])
  })

  it('refuses a tampered signature, and an approval without an invocation', () => {
    const a = approve({ approver: fixedKey('bob'), invocation: inv(), now: NOW })
    const bytes = Uint8Array.from(a.bytes)
    bytes[8] = (bytes[8] as number) ^ 1
    const bad = caught(() => checkApprovals(settings(), NOW, need(1), [bytes], inv()))
    expect(bad.code).toBe('ERR_APPROVAL_INVALID')
    expect(bad.message).toBe('approval 0: signature rejected (equation)')
    // S ≥ L: the outcome's underscores read as spaces.
    const high = Uint8Array.from(a.bytes)
    const head = high[0] === 0x58 ? 2 : 3
    high.fill(0xff, head + 32, head + 64)
    const unreduced = caught(() => checkApprovals(settings(), NOW, need(1), [high], inv()))
    expect([unreduced.code, unreduced.message]).toEqual(['ERR_APPROVAL_INVALID', 'approval 0: signature rejected (S not reduced)'])
    const none = caught(() => checkApprovals(settings(), NOW, need(1), [a], undefined))
    expect([none.code, none.message, none.hint]).toEqual([
      'ERR_APPROVAL_INVALID',
      'approval 0 is for another request',
      'an approval names exactly one invocation id',
    ])
  })

  it('lists the approvers of every requirement; with none required, anyone may approve', () => {
    const eve = approve({ approver: fixedKey('mallory'), invocation: inv(), now: NOW })
    expect(checkApprovals(settings(), NOW, [], [eve], inv())).toEqual([fixedDid('mallory')])
    const e = caught(() => checkApprovals(settings(), NOW, need(1), [eve], inv()))
    expect(e.message).toBe(`approval 0 is from ${fixedDid('mallory')}, who is not a listed approver`)
    expect(e.hint).toBe(`listed: ${fixedDid('bob')}, ${fixedDid('carol')}`)
    const second: ApprovalRequirement = { block: 2, caveatIndex: 0, approvers: [fixedDid('mallory')], quorum: 1 }
    expect(checkApprovals(settings(), NOW, [...need(0), second], [eve], inv())).toEqual([fixedDid('mallory')])
  })

  it('explains an unmet quorum: how many, from whom, and how to ask', () => {
    const carol = approve({ approver: fixedKey('carol'), invocation: inv(), now: NOW })
    const e = caught(() => checkApprovals(settings(), NOW, need(2), [carol], inv()))
    expect([e.code, e.block, e.caveat, e.caveatIndex]).toEqual(['ERR_APPROVAL_REQUIRED', 1, 'approval', 2])
    expect(e.message).toBe('block 1 needs 2 approval(s) for this action; 1 given')
    expect(e.hint).toBe(`needs 1 more from: ${fixedDid('bob')}; submit invocation ${inv().idHex} for approval`)
    const bare = caught(() => checkApprovals(settings(), NOW, need(1), [], undefined))
    expect(bare.message).toBe('block 1 needs 1 approval(s) for this action; 0 given')
    expect(bare.hint).toBe(
      `needs 1 more from: ${fixedDid('bob')}, ${fixedDid('carol')}; approvals bind to an invocation: present one signed by the holder (mni1_…)`,
    )
  })
})
