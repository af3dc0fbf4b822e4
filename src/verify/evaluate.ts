/**
 * Caveat evaluation (spec §7.6): every caveat of every block must hold. Phases, each over
 * the blocks from the root down, so that the reported failure is deterministic:
 *
 * 1. the chain itself: unknown (unregistered extensions included) and invalid caveats, time
 *    windows, then one pass for depth, bound and audience;
 * 2. the request: deny first (so that "never" is the reason given), then actions,
 *    resources, where, extensions;
 * then (in the verifier) approvals, and usage counters last.
 *
 * The amendments in force on a block (spec §9.2) are caveats of that block, checked right after
 * its own in every phase: only the root lifetime rule reads the root's signed caveats alone.
 * A failure they cause names the amendment (who, when, why).
 *
 * @module
 */
import { firstCover, firstMatch } from '../caveats/action.js'
import { caveatName } from '../caveats/codec.js'
import { matchResource } from '../caveats/resource.js'
import type { DecodedCaveat } from '../caveats/types.js'
import { describeRule, ruleHolds } from '../caveats/where.js'
import { type AmendmentRef, fail } from '../errors.js'
import { iso } from '../internal/clock.js'
import type { AmendmentEntry } from '../revocation/view.js'
import type { UnverifiedBlock } from '../token/block.js'
import type { UsageCounter } from '../usage/store.js'
import type { DecidedRequest, MatchedRight } from './decision.js'
import type { Amendments } from './revocations.js'

/** How a request was presented. */
export type Presentation = 'invocation' | 'bearer' | 'sealed'

/** An application's checker for an extension caveat. Return true to let the request pass. */
export type ExtensionChecker = (body: unknown, context: ExtensionContext) => boolean

/** What an extension checker sees. */
export interface ExtensionContext {
  readonly now: number
  readonly audience: string
  readonly request: DecidedRequest
  readonly block: number
}

/** An approval caveat that applies to this request. */
export interface ApprovalRequirement {
  readonly block: number
  readonly caveatIndex: number
  /** The caveat came from this amendment of the block. */
  readonly amendment?: AmendmentRef
  readonly approvers: readonly string[]
  readonly quorum: number
}

/** Inputs of {@link evaluateCaveats}. */
export interface EvaluationContext {
  readonly now: number
  readonly skew: number
  readonly maxLifetime: number
  readonly audience: string
  readonly request: DecidedRequest
  readonly presentation: Presentation
  readonly chain: readonly UnverifiedBlock[]
  readonly extensions: ReadonlyMap<number, ExtensionChecker>
  /** The amendments in force, by block index (spec §9.2); none when absent. */
  readonly amendments?: Amendments
}

/** What passing evaluation leaves for the verifier's last steps. */
export interface EvaluationResult {
  readonly matched: MatchedRight[]
  readonly counters: UsageCounter[]
  readonly approvals: ApprovalRequirement[]
}

type Located = { block: number; caveat: string; caveatIndex: number; amendment?: AmendmentRef }

/**
 * `at` is a cursor, moved on to the next caveat after the call returns: a visitor that keeps a
 * location copies it (a failure throws, which ends the walk).
 */
type Visit = (c: DecodedCaveat, at: Readonly<Located>, b: UnverifiedBlock) => void

/** Every caveat of the chain, block by block: the block's own, then those of its amendments in force. */
function each(ctx: Pick<EvaluationContext, 'chain' | 'amendments'>, f: Visit): void {
  // One cursor a walk, not one object per caveat and pass: five passes run on each request.
  // Stryker disable next-line ObjectLiteral,StringLiteral: equivalent — visit() sets every field before a visitor reads one; these only fix the cursor's shape
  const at: Located = { block: 0, caveat: '', caveatIndex: 0 }
  for (const b of ctx.chain) {
    visit(b.caveats, b, at, f)
    const amended = ctx.amendments?.get(b.index)
    if (amended) for (const a of amended) visit(a.caveats, b, { ...at, amendment: amendmentRef(a) }, f)
  }
}

/** `caveats` of block `b` (its own, or an amendment's), by index (entries() allocates a pair per step). */
function visit(caveats: readonly DecodedCaveat[], b: UnverifiedBlock, at: Located, f: Visit): void {
  for (let i = 0; i < caveats.length; i++) {
    const c = caveats[i] as DecodedCaveat
    at.block = b.index
    at.caveat = caveatName(c)
    at.caveatIndex = i
    f(c, at, b)
  }
}

/** What a denial says of an amendment: its id, and its signer, time and reason when the view gave them. */
function amendmentRef(a: AmendmentEntry): AmendmentRef {
  return {
    id: a.id,
    ...(typeof a.by === 'string' && a.by ? { by: a.by } : {}),
    ...(Number.isFinite(a.at) ? { at: a.at } : {}),
    ...(typeof a.reason === 'string' && a.reason ? { reason: a.reason } : {}),
  }
}

/**
 * Where a denial's caveat is, in words: "block 1", or "block 1 (amended by did:key:… at …:
 * reason)" for a caveat an amendment added, with what the amendment ref holds of who, when
 * and why. Step 9's denials and the approvals' (step 10) word it alike.
 *
 * @example
 * ```ts
 * place({ block: 1 }) // 'block 1'
 * place({ block: 1, amendment: { id: '0'.repeat(64), by: 'did:key:z6Mk…', at: 1790000000, reason: 'no sends' } })
 * // 'block 1 (amended by did:key:z6Mk… at 2026-09-21T14:13:20Z: no sends)'
 * ```
 */
export function place(at: { readonly block: number; readonly amendment?: AmendmentRef | undefined }): string {
  const a = at.amendment
  if (!a) return `block ${at.block}`
  const who = a.by ? ` by ${a.by}` : ''
  const when = a.at === undefined ? '' : ` at ${iso(a.at)}`
  const why = a.reason ? `: ${a.reason}` : ''
  return `block ${at.block} (amended${who}${when}${why})`
}

/** Evaluate every caveat; throws the first failure as a located `MandateError`. */
export function evaluateCaveats(ctx: EvaluationContext): EvaluationResult {
  checkChainCaveats(ctx)
  return checkRequestCaveats(ctx)
}

function checkChainCaveats(ctx: EvaluationContext): void {
  const { chain } = ctx
  each(ctx, (c, at) => {
    if (c.type === 'unknown') {
      fail('ERR_CAVEAT_UNKNOWN', `${place(at)}: unknown caveat type ${c.code}`, {
        ...at,
        hint: 'this verifier does not understand the caveat, so it denies (fail closed); upgrade it or remove the caveat',
      })
    }
    if (c.type === 'invalid') fail('ERR_CAVEAT_INVALID', `${place(at)}: malformed caveat: ${c.reason}`, at)
    // An extension without a registered checker is a caveat this verifier does not know: it
    // denies here, in the same pass as unknown types (spec §7 step 9a), not among the request checks.
    if (c.type === 'extension' && !ctx.extensions.has(c.code)) {
      fail('ERR_CAVEAT_UNKNOWN', `${place(at)}: extension caveat ${c.code} has no registered checker`, {
        ...at,
        hint: `register a checker for ${c.code} in createVerifier({ extensions })`,
      })
    }
  })
  checkTime(ctx)
  const last = chain.length - 1
  each(ctx, (c, at) => {
    if (c.type === 'depth' && last - at.block > c.max) {
      fail('ERR_CHAIN_DEPTH', `${place(at)} allows ${c.max} further block(s); the chain has ${last - at.block}`, at)
    }
    if (c.type === 'bound') {
      const bearerBelow = chain.slice(at.block).find((b) => b.bearer)
      if (bearerBelow) {
        fail('ERR_BOUND_REQUIRED', `${place(at)} requires bound holders, but block ${bearerBelow.index} names a bearer`, at)
      }
      if (ctx.presentation !== 'invocation') {
        fail('ERR_BOUND_REQUIRED', `${place(at)} requires an invocation signed by the holder`, {
          ...at,
          hint: 'sign an invocation with the holder key (CLI: mandate invoke --key FILE)',
        })
      }
    }
    if (c.type === 'audience' && !c.names.includes(ctx.audience)) {
      fail(
        'ERR_AUDIENCE',
        `${place(at)} is for ${c.names.map((n) => JSON.stringify(n)).join(', ')}, not ${JSON.stringify(ctx.audience)}`,
        at,
      )
    }
  })
}

/**
 * Time (spec §6 window, §7 step 9a), in this order, each over blocks 0..n−1 and caveats in
 * order, stopping at the first failure (all `ERR_TIME_INVALID` unless stated):
 *
 * 1. every block's issued_at ≤ now + σ (located at the block, no caveat); a child issued
 *    before its parent is not an error;
 * 2. no window caveat with not_before ≥ expires;
 * 3. the root carries an expiry, and its lifetime, min(root expires) − max(issued_at, root
 *    not_befores), is at most the maximum;
 * 4. the intersection of all windows is not empty (located at the window caveat after which
 *    the running intersection first becomes empty);
 * 5. `ERR_TIME_NOT_YET` at the latest not_before, then `ERR_TIME_EXPIRED` at the earliest
 *    expires (ties: the first in chain order).
 */
function checkTime(ctx: EvaluationContext): void {
  const { chain, now, skew } = ctx
  for (const b of chain) {
    if (b.issuedAt > now + skew) {
      fail('ERR_TIME_INVALID', `block ${b.index} is issued in the future (${iso(b.issuedAt)}, beyond now + ${skew}s skew)`, {
        block: b.index,
        hint: "check the issuer's clock; a block issued later than now + skew is never accepted",
      })
    }
  }
  // Stryker disable next-line ArrayDeclaration: equivalent — an element without window fields bounds nothing (every comparison with undefined is false)
  const windows: { notBefore: number | undefined; expires: number | undefined; at: Located }[] = []
  each(ctx, (c, at) => {
    if (c.type !== 'window') return
    if (c.notBefore !== undefined && c.expires !== undefined && c.notBefore >= c.expires) {
      fail('ERR_TIME_INVALID', `${place(at)}: window starts at or after it ends`, at)
    }
    windows.push({ notBefore: c.notBefore, expires: c.expires, at: { ...at } })
  })
  const root = chain[0]
  let rootExpires: number | undefined
  let rootExpAt: Located | undefined
  for (const w of windows) {
    // The lifetime is the minted root's: an amendment can only shorten it, and never lends it one.
    if (w.at.block !== 0 || w.at.amendment || w.expires === undefined) continue
    if (rootExpires === undefined || w.expires < rootExpires) {
      rootExpires = w.expires
      rootExpAt = w.at
    }
  }
  if (rootExpires === undefined || !root) {
    fail('ERR_TIME_INVALID', 'the root block carries no expiry', { block: 0, hint: 'mint the root with a window caveat that expires' })
  }
  const rootStart = Math.max(
    root.issuedAt,
    ...windows.flatMap((w) => (w.at.block === 0 && !w.at.amendment && w.notBefore !== undefined ? [w.notBefore] : [])),
  )
  if (rootExpires - rootStart > ctx.maxLifetime) {
    fail(
      'ERR_TIME_INVALID',
      `root lifetime ${rootExpires - rootStart}s exceeds this verifier's maximum of ${ctx.maxLifetime}s`,
      rootExpAt ?? { block: 0, caveat: 'window' },
    )
  }
  let notBefore = Number.NEGATIVE_INFINITY
  let nbfAt: Located | undefined
  let expires = Number.POSITIVE_INFINITY
  let expAt: Located | undefined
  for (const w of windows) {
    if (w.notBefore !== undefined && w.notBefore > notBefore) {
      notBefore = w.notBefore
      nbfAt = w.at
    }
    if (w.expires !== undefined && w.expires < expires) {
      expires = w.expires
      expAt = w.at
    }
    if (notBefore >= expires) {
      // Located where the running intersection empties, unless an amendment set one of its two
      // bounds: then at that amendment's window, so that the denial names what changed.
      // Stryker disable next-line OptionalChaining: equivalent — an empty intersection has both bounds, so both locations are set
      const at = [nbfAt, expAt].find((x) => x?.amendment !== undefined) ?? w.at
      fail('ERR_TIME_INVALID', `${place(at)}: the windows of the chain do not overlap: it can never be used`, at)
    }
  }
  if (now < notBefore - skew) {
    fail('ERR_TIME_NOT_YET', `not valid before ${iso(notBefore)}`, { ...(nbfAt ?? {}), hint: `retry after ${iso(notBefore)}` })
  }
  if (now >= expires + skew) {
    fail('ERR_TIME_EXPIRED', `expired at ${iso(expires)}`, { ...(expAt ?? {}), hint: 'ask the delegator for a fresh mandate' })
  }
}

function checkRequestCaveats(ctx: EvaluationContext): EvaluationResult {
  const { request } = ctx
  const matched: MatchedRight[] = []
  const counters: UsageCounter[] = []
  const approvals: ApprovalRequirement[] = []
  each(ctx, (c, at) => {
    if (c.type !== 'deny') return
    // A restricting list covers the named action and every action below it (spec §6.1).
    const hit = firstCover(c.patterns, request.action)
    if (hit !== undefined) {
      fail('ERR_ACTION_DENIED', `${place(at)} never allows ${request.action} (deny ${hit})`, {
        ...at,
        hint: 'this action is denied outright; no approval can unlock it',
      })
    }
  })
  each(ctx, (c, at, b) => {
    switch (c.type) {
      case 'actions': {
        const hit = firstMatch(c.patterns, request.action)
        if (hit === undefined) {
          fail('ERR_ACTION_DENIED', `${place(at)} does not allow ${request.action}`, {
            ...at,
            hint: `${at.amendment ? 'the amendment' : `block ${at.block}`} allows: ${c.patterns.join(', ')}`,
          })
        }
        matched.push({ block: at.block, caveat: 'actions', value: hit })
        return
      }
      case 'resources': {
        // Stryker disable next-line ConditionalExpression: equivalent — matchResource never matches an absent resource, so the guard only narrows the type
        const hit = request.resource === undefined ? undefined : c.globs.find((g) => matchResource(g, request.resource as string))
        if (hit === undefined) {
          fail(
            'ERR_RESOURCE_DENIED',
            request.resource === undefined
              ? `${place(at)} restricts resources, and none was named`
              : `${place(at)} does not allow resource ${request.resource}`,
            {
              ...at,
              hint: `${at.amendment ? 'the amendment' : `block ${at.block}`} allows: ${c.globs.join(', ')}`,
            },
          )
        }
        matched.push({ block: at.block, caveat: 'resources', value: hit })
        return
      }
      case 'where': {
        if (c.actions !== undefined && firstCover(c.actions, request.action) === undefined) return
        for (const rule of c.rules) {
          if (!ruleHolds(rule, request.args)) {
            fail('ERR_ARGS_DENIED', `${place(at)}: argument rule failed: ${describeRule(rule)}`, {
              ...at,
              hint: `requires ${describeRule(rule)}`,
            })
          }
        }
        return
      }
      case 'extension': {
        // Registered: an unregistered one was denied in the chain phase.
        const checker = ctx.extensions.get(c.code) as ExtensionChecker
        // Stryker disable next-line BooleanLiteral: equivalent — a checker that throws denies in the catch; one that returns sets ok
        let ok = false
        try {
          ok = checker(c.body, { now: ctx.now, audience: ctx.audience, request, block: at.block }) === true
        } catch (cause) {
          fail('ERR_CAVEAT_DENIED', `${place(at)}: extension caveat ${c.code} checker failed`, { ...at, cause })
        }
        if (!ok) fail('ERR_CAVEAT_DENIED', `${place(at)}: extension caveat ${c.code} denied the request`, at)
        return
      }
      case 'approval':
        if (firstCover(c.actions, request.action) !== undefined) {
          approvals.push({
            block: at.block,
            caveatIndex: at.caveatIndex,
            approvers: c.approvers,
            quorum: c.quorum,
            ...(at.amendment ? { amendment: at.amendment } : {}),
          })
        }
        return
      case 'uses':
        // An amendment's quota is its own counter, keyed by the amendment: lifting it and
        // amending again starts a new one, and it never shares a count with the block's caveats.
        counters.push({
          key: `${at.amendment?.id ?? b.idHex}/${at.caveatIndex}`,
          blockId: b.idHex,
          block: at.block,
          caveatIndex: at.caveatIndex,
          max: c.max,
          ...(c.per === undefined ? {} : { per: c.per }),
          ...(at.amendment ? { amendment: at.amendment } : {}),
        })
        return
      case 'deny':
      case 'window':
      case 'audience':
      case 'depth':
      case 'bound':
      case 'unknown':
      case 'invalid':
        return // decided without the request, in the chain phase
      default: {
        // Every caveat type is named above: a new one that is not fails to compile here,
        // instead of letting every request through.
        const unhandled: never = c
        throw new TypeError(`no check for caveat ${JSON.stringify(unhandled)}`)
      }
    }
  })
  return { matched, counters, approvals }
}
