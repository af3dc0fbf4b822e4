/**
 * The verifier (spec §7). `createVerifier(options).authorize(input)` decides one request.
 * It never throws on bad input: every problem becomes a {@link Denied} with a stable code,
 * the block and caveat at fault, a message and a hint.
 *
 * Every injected dependency (clock, revocation view, usage store, replay cache, extension
 * checkers) that throws or answers out of shape denies with a typed code, never an allow.
 *
 * Order (spec §7, and §7.3 for which failure wins when several apply): clock → text form →
 * size → strict CBOR → version → structure, outside in → approvals counted (at most 16) → root →
 * signatures (cached by exact bytes) → the request (one given beside an invocation must be the
 * one it signs) → holder proof (bearer secret, seal, or invocation signature with audience,
 * freshness — an invocation past its max age may still be waiting for approvals — and replay) → revocation (fail closed when stale; skipped only by the explicit
 * `revocations: 'none'`) → caveats → approvals (and a waiting invocation's last approval) → replay
 * claim → usage counters, last, so that a denied request consumes nothing.
 *
 * `authorize()` below reads as the steps of spec §7, one phase per file: options.ts (the
 * settings), clock.ts, presentation.ts (1–2), chain.ts (3–5), request.ts (6), holder.ts (7),
 * revocations.ts (8), evaluate.ts (9), approvals.ts (10), usage.ts (11), outcome.ts (§7.1–7.2);
 * stores.ts calls the injected stores so that their failures deny.
 *
 * @module
 */
import type { RevocationView } from '../revocation/view.js'
import type { UnverifiedInvocation } from '../token/invocation.js'
import type { UsageStore } from '../usage/store.js'
import { checkApprovals } from './approvals.js'
import { verifyChain } from './chain.js'
import { readClock } from './clock.js'
import type { Decision } from './decision.js'
import { evaluateCaveats, type Presentation } from './evaluate.js'
import { verifyHolder } from './holder.js'
import { readOptions, type Settings, type VerifierOptions } from './options.js'
import { allowed, denied, type Progress } from './outcome.js'
import { type AuthorizeInput, presentedApprovals, readPresentation } from './presentation.js'
import { resolveRequest } from './request.js'
import { checkRevocations } from './revocations.js'
import { claimReplay, consumeUsage, releaseClaim } from './usage.js'

export type { Root, VerifierLimits, VerifierOptions } from './options.js'
export type { AuthorizeInput } from './presentation.js'

/** A configured verifier. */
export interface Verifier {
  /** Decide one request. Never throws for bad input; see {@link Decision}. */
  authorize(input: AuthorizeInput): Promise<Decision>
  readonly audience: string
  /** The revocation view in use, or `'none'` if this verifier does not check revocations. */
  readonly revocations: RevocationView | 'none'
  /** The usage store in use. */
  readonly usage: UsageStore
}

/**
 * Create a verifier.
 *
 * @example
 * ```ts
 * const verifier = createVerifier({
 *   roots: [{ key: toDidKey(alice.publicKey), name: 'alice' }],
 *   audience: 'mail',
 *   revocations: createMemoryRevocationView(), // or a feed view; 'none' opts out explicitly
 * })
 * const decision = await verifier.authorize({ invocation: 'mni1_…' })
 * if (!decision.allowed) console.log(decision.code, decision.hint)
 * ```
 */
export function createVerifier(options: VerifierOptions): Verifier {
  const settings = readOptions(options)
  return {
    audience: settings.audience,
    revocations: settings.revocations,
    usage: settings.usage,
    authorize: (input) => authorize(settings, input),
  }
}

/** Spec §7, steps 1–11, stopping at the first failure; a failure is a denial, never a throw. */
async function authorize(settings: Settings, input: AuthorizeInput): Promise<Decision> {
  // Stryker disable next-line ObjectLiteral: equivalent — readClock, the first step, sets progress.now on every path
  const progress: Progress = { now: 0 }
  let claimed: UnverifiedInvocation | undefined
  try {
    readClock(settings.clock, progress)
    const now = progress.now
    const presented = readPresentation(input, settings.chains) // 1–2: text, size, structure
    const { chain, presentation, invocation } = presented
    progress.chain = chain
    progress.presentation = presentation
    if (invocation) progress.invocation = invocation
    const approvals = presentedApprovals(input.approvals) // 2: the approvals list, counted
    progress.root = verifyChain(settings, chain) // 3–5: root, links, signatures
    const request = resolveRequest(input.request, invocation, presented.request) // 6: request
    progress.request = request
    const waiting = await verifyHolder(settings, now, presented) // 7: holder proof (fresh, or waiting for approvals)
    const amendments = checkRevocations(settings, now, chain, request.action) // 8: revocation, and the amendments in force
    // 9: caveats, the chain's then the request's
    const evaluation = evaluateCaveats({
      now,
      skew: settings.skew,
      maxLifetime: settings.maxLifetime,
      audience: settings.audience,
      request,
      presentation: presentation as Presentation,
      chain,
      extensions: settings.extensions,
      amendments,
    })
    const approvers = checkApprovals(settings, now, evaluation.approvals, approvals, invocation, waiting) // 10: approvals
    claimed = await claimReplay(settings, now, invocation, evaluation.approvals.length > 0) // 11: replay claim, then usage
    const usage = await consumeUsage(settings, now, evaluation, input.requestId, request, invocation, presented.bytes)
    return allowed(settings, progress, request, evaluation, approvers, usage)
  } catch (e) {
    if (claimed !== undefined) await releaseClaim(settings, claimed)
    return denied(settings, progress, e)
  }
}
