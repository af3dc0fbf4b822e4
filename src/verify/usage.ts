/**
 * Step 11 of spec §7: the replay claim of the invocation id, then usage: one atomic,
 * idempotent consume of every counter, keyed by the invocation id (or the caller's request
 * id). It comes last, so that a denied request consumes nothing; a request denied after its
 * claim releases it.
 *
 * @module
 */
import { randomBytes } from '../crypto/hash.js'
import { fail } from '../errors.js'
import { toHex } from '../internal/bytes.js'
import { iso } from '../internal/clock.js'
import type { UnverifiedInvocation } from '../token/invocation.js'
import type { ConsumeResult, UsageCounter } from '../usage/store.js'
import type { DecidedRequest } from './decision.js'
import type { EvaluationResult } from './evaluate.js'
import type { Settings } from './options.js'
import { bareRequestId } from './request-id.js'
import { dependency, isBoolean, isCount, REPLAY_STORE, USAGE_STORE } from './stores.js'

/**
 * Claim the invocation's id in the replay store (atomic): the invocation claimed, or
 * undefined for a bare mandate. `needsApproval`: an approval caveat applies to it, so that it
 * may be accepted while waiting, and its claim must last through the approval wait. Throws `ERR_REPLAY` when another request won the claim.
 *
 * @example
 * ```ts
 * const claimed = await claimReplay(settings, now, invocation)
 * ```
 */
export async function claimReplay(
  settings: Settings,
  now: number,
  invocation: UnverifiedInvocation | undefined,
  needsApproval = false,
): Promise<UnverifiedInvocation | undefined> {
  if (!invocation) return undefined
  // Remembered while step 7 could still let it through: only an invocation that needs an
  // approval can wait for one (spec §7, replay-cache retention).
  const wait = needsApproval ? Math.max(settings.invocationMaxAge, settings.approvalWait) : settings.invocationMaxAge
  const until = invocation.issuedAt + wait + settings.skew + 1
  // A claim that answers anything but true or false is not known to be ours: deny, and do
  // not release it (it may be another verifier's).
  const won = await dependency(() => settings.replay.claim(invocation.idHex, until, now, invocation.bytes), isBoolean, REPLAY_STORE)
  if (!won) fail('ERR_REPLAY', 'this invocation was already used', { hint: 'sign a new invocation for each request' })
  return invocation
}

/**
 * Give back a claim for a request denied after it (best effort).
 *
 * @example
 * ```ts
 * await releaseClaim(settings, claimed)
 * ```
 */
export async function releaseClaim(settings: Settings, claimed: UnverifiedInvocation): Promise<void> {
  try {
    await settings.replay.release(claimed.idHex, claimed.bytes)
  } catch {
    // The claim then simply expires; the request is denied either way.
  }
}

/**
 * Consume one use of every counter the caveats collected; what remains of each. Throws
 * `ERR_USAGE_EXHAUSTED`, or `ERR_COUNTER_UNAVAILABLE` when the store fails.
 *
 * @example
 * ```ts
 * const usage = await consumeUsage(settings, now, evaluation, undefined, request, invocation, bytes)
 * ```
 */
export async function consumeUsage(
  settings: Settings,
  now: number,
  evaluation: EvaluationResult,
  requestId: string | undefined,
  request: DecidedRequest,
  invocation: UnverifiedInvocation | undefined,
  presentation: Uint8Array,
): Promise<{ key: string; remaining: number }[]> {
  if (evaluation.counters.length === 0) return []
  const id = invocation?.idHex ?? bareRequestId(requestId ?? toHex(randomBytes(16)), request)
  const result = await dependency(
    () => settings.usage.consume({ requestId: id, counters: evaluation.counters, now, presentation }),
    (v: unknown): v is ConsumeResult => isConsumeResult(v) && answers(v, evaluation.counters),
    USAGE_STORE,
  )
  if (!result.granted) {
    // One of those asked (see `answers`).
    const c = evaluation.counters.find((x) => x.key === result.exhausted) as UsageCounter
    const when = typeof result.resetAt === 'number' ? `; next use allowed at ${iso(result.resetAt)}` : '; the quota does not reset'
    fail('ERR_USAGE_EXHAUSTED', `usage limit of ${c.max}${c.per ? ` per ${c.per}s` : ''} reached`, {
      block: c.block,
      caveat: 'uses',
      caveatIndex: c.caveatIndex,
      ...(c.amendment ? { amendment: c.amendment } : {}),
      hint: `quota spent${when}`,
      details: {
        key: result.exhausted,
        ...(typeof result.resetAt === 'number' ? { resetAt: result.resetAt } : {}),
        max: c.max,
        ...(c.per ? { per: c.per } : {}),
      },
    })
  }
  return result.remaining.map(({ key, remaining }) => ({ key, remaining }))
}

/**
 * Whether `result` answers for `counters`: a grant names what remains of each, in order, below
 * its limit; a refusal names one of them. A store (a remote one above all, whose answer crosses
 * a network) that answers for other counters has not counted these: the request is denied.
 */
function answers(result: ConsumeResult, counters: readonly UsageCounter[]): boolean {
  if (!result.granted) return counters.some((c) => c.key === result.exhausted)
  return (
    result.remaining.length === counters.length &&
    // Stryker disable next-line OptionalChaining: equivalent — the lengths are equal, so counters[i] is always there
    result.remaining.every((r, i) => r.key === counters[i]?.key && r.remaining < (counters[i]?.max ?? 0))
  )
}

/** A well-formed {@link ConsumeResult}: `granted` exactly true or false, and the fields that go with it. */
export function isConsumeResult(v: unknown): v is ConsumeResult {
  if (v === null || typeof v !== 'object') return false
  const r = v as Record<string, unknown>
  if (r['granted'] === true) {
    const remaining = r['remaining']
    return (
      Array.isArray(remaining) &&
      remaining.every(
        (x: unknown) =>
          x !== null &&
          typeof x === 'object' &&
          typeof (x as Record<string, unknown>)['key'] === 'string' &&
          isCount((x as Record<string, unknown>)['remaining']),
      )
    )
  }
  if (r['granted'] === false) {
    const resetAt = r['resetAt']
    return typeof r['exhausted'] === 'string' && (resetAt === undefined || resetAt === null || isCount(resetAt))
  }
  return false
}
