/**
 * Step 7 of spec §7: the holder proof. An invocation: its signature by the last holder, its
 * audience, its freshness (fresh, waiting for approvals, or stale), and that its id was not used. A bare mandate: the bearer secret
 * or the seal; a bound mandate presented bare has no proof.
 *
 * @module
 */
import { fail } from '../errors.js'
import { iso } from '../internal/clock.js'
import type { UnverifiedBlock } from '../token/block.js'
import { checkInvocationSignature, checkMandateProof } from '../token/integrity.js'
import type { Settings } from './options.js'
import type { Presented } from './presentation.js'
import { dependency, isBoolean, REPLAY_STORE } from './stores.js'

/**
 * Check the holder proof of what was presented, at `now`. Throws the first failure; returns
 * whether the invocation is _waiting_: older than its max age, within the approval wait, so
 * that step 10 decides it (spec §7 steps 7 and 10).
 *
 * @example
 * ```ts
 * await verifyHolder(settings, now, readPresentation({ invocation: 'mni1_…' }))
 * ```
 */
export async function verifyHolder(settings: Settings, now: number, presented: Presented): Promise<boolean> {
  const { chain, presentation, invocation, proof } = presented
  const last = chain[chain.length - 1] as UnverifiedBlock
  const at = { block: last.index }
  if (presentation === 'invocation' && invocation) {
    checkInvocationSignature(invocation, settings.backend)
    if (invocation.audience !== settings.audience) {
      fail('ERR_AUDIENCE', `the invocation is for ${JSON.stringify(invocation.audience)}, not ${JSON.stringify(settings.audience)}`, {
        hint: `sign the invocation with --audience ${settings.audience}`,
      })
    }
    if (invocation.issuedAt > now + settings.skew)
      fail('ERR_PROOF', `the invocation is dated in the future (${iso(invocation.issuedAt)})`, { hint: 'check the agent clock' })
    // Older than its max age but within the approval wait: waiting, decided at step 10.
    const waiting = invocation.issuedAt < now - settings.invocationMaxAge - settings.skew
    if (waiting && invocation.issuedAt < now - settings.approvalWait - settings.skew) staleInvocation(settings, invocation.issuedAt)
    const seen = await dependency(() => settings.replay.has(invocation.idHex, now), isBoolean, REPLAY_STORE)
    if (seen) fail('ERR_REPLAY', 'this invocation was already used', { hint: 'sign a new invocation for each request' })
    return waiting
  }
  if (proof === undefined) fail('ERR_PROOF', 'no holder proof was presented', at)
  checkMandateProof(chain, proof, settings.backend, settings.cache)
  return false
}

/**
 * Deny a stale invocation (`ERR_PROOF`, spec §7): at step 7 one older than both its max age and
 * the approval wait; at step 10 a waiting one that needs no approval (`needsNoApproval`).
 */
export function staleInvocation(settings: Settings, issuedAt: number, needsNoApproval = false): never {
  const age = needsNoApproval ? settings.invocationMaxAge : Math.max(settings.invocationMaxAge, settings.approvalWait)
  fail(
    'ERR_PROOF',
    `the invocation is stale (signed ${iso(issuedAt)}, older than ${age}s${needsNoApproval ? '; it needs no approval, so it cannot wait for one' : ''})`,
    { hint: 'sign a fresh invocation' },
  )
}
