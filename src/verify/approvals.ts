/**
 * Step 10 of spec §7: approvals. Every presented approval in list order (`ERR_APPROVAL_INVALID`:
 * unreadable, a bad signature, for another invocation, expired, dated in the future, from
 * someone not listed), then every quorum the caveats asked for (`ERR_APPROVAL_REQUIRED`).
 * A _waiting_ invocation (older than its max age, within the approval wait: step 7) is stale
 * (`ERR_PROOF`) unless an approval caveat applies to it, and, once every quorum is met, unless
 * its latest approval was issued within the max age (+ skew) of now.
 *
 * @module
 */
import { verifyWith } from '../crypto/ed25519.js'
import { toDidKey } from '../crypto/keys.js'
import { fail } from '../errors.js'
import { equalBytes } from '../internal/bytes.js'
import { iso } from '../internal/clock.js'
import { parseApproval, type UnverifiedApproval } from '../token/approval.js'
import type { UnverifiedInvocation } from '../token/invocation.js'
import { signedMessage } from '../token/signing.js'
import { type ApprovalRequirement, place } from './evaluate.js'
import { staleInvocation } from './holder.js'
import type { Settings } from './options.js'

/**
 * The did:keys of the approvers whose approvals counted, once every quorum is met. `waiting`:
 * step 7 found the invocation older than its max age, within the approval wait.
 *
 * @example
 * ```ts
 * const approvers = checkApprovals(settings, now, evaluation.approvals, ['mna1_…'], invocation)
 * ```
 */
export function checkApprovals(
  settings: Settings,
  now: number,
  requirements: readonly ApprovalRequirement[],
  presented: readonly (string | Uint8Array | UnverifiedApproval)[],
  invocation: UnverifiedInvocation | undefined,
  waiting = false,
): string[] {
  // A waiting invocation that needs no approval has nothing to wait for: it is simply stale.
  if (waiting && invocation && requirements.length === 0) staleInvocation(settings, invocation.issuedAt, true)
  const valid = new Set<string>()
  const listed = new Set(requirements.flatMap((r) => r.approvers))
  // The latest issued_at of the approvals accepted (each by a listed approver, so each counts).
  let latest = Number.NEGATIVE_INFINITY
  for (const [i, raw] of presented.entries()) {
    let a: UnverifiedApproval
    try {
      a = typeof raw === 'string' || raw instanceof Uint8Array ? parseApproval(raw) : parseApproval(raw.bytes)
    } catch (e) {
      fail('ERR_APPROVAL_INVALID', `approval ${i}: ${e instanceof Error ? e.message : 'unreadable'}`)
    }
    const outcome = verifyWith(settings.backend, a.signature, signedMessage('approval', a.payload), a.approver)
    if (outcome !== 'accept') fail('ERR_APPROVAL_INVALID', `approval ${i}: signature rejected (${outcome.replaceAll('_', ' ')})`)
    if (!invocation || !equalBytes(a.invocationId, invocation.id)) {
      fail('ERR_APPROVAL_INVALID', `approval ${i} is for another request`, { hint: 'an approval names exactly one invocation id' })
    }
    if (now >= a.expires + settings.skew)
      fail('ERR_APPROVAL_INVALID', `approval ${i} expired at ${iso(a.expires)}`, { hint: 'ask the approver again' })
    if (a.issuedAt > now + settings.skew) fail('ERR_APPROVAL_INVALID', `approval ${i} is dated in the future`)
    const who = toDidKey(a.approver)
    if (requirements.length > 0 && !listed.has(who)) {
      fail('ERR_APPROVAL_INVALID', `approval ${i} is from ${who}, who is not a listed approver`, {
        hint: `listed: ${[...listed].join(', ')}`,
      })
    }
    valid.add(who)
    latest = Math.max(latest, a.issuedAt)
  }
  for (const r of requirements) {
    const have = r.approvers.filter((k) => valid.has(k)).length
    if (have < r.quorum) {
      const missing = r.approvers.filter((k) => !valid.has(k))
      // A waiting invocation can still be approved, until its approval wait is over (step 7).
      const until = (i: UnverifiedInvocation) => i.issuedAt + Math.max(settings.invocationMaxAge, settings.approvalWait) + settings.skew
      const how = invocation
        ? `submit invocation ${invocation.idHex} for approval${waiting ? ` (it can wait for it until ${iso(until(invocation))})` : ''}`
        : 'approvals bind to an invocation: present one signed by the holder (mni1_…)'
      fail('ERR_APPROVAL_REQUIRED', `${place(r)} needs ${r.quorum} approval(s) for this action; ${have} given`, {
        block: r.block,
        caveat: 'approval',
        caveatIndex: r.caveatIndex,
        ...(r.amendment ? { amendment: r.amendment } : {}),
        hint: `needs ${r.quorum - have} more from: ${missing.join(', ')}; ${how}`,
        details: {
          quorum: r.quorum,
          given: have,
          missing,
          approvers: [...r.approvers],
          ...(invocation ? { invocationId: invocation.idHex } : {}),
        },
      })
    }
  }
  // Accepted for a bounded time after the last approval, never for the whole wait.
  if (waiting && invocation && latest < now - settings.invocationMaxAge - settings.skew) {
    fail(
      'ERR_PROOF',
      `the invocation is stale (signed ${iso(invocation.issuedAt)}), and its last approval (${iso(latest)}) is older than ${settings.invocationMaxAge}s`,
      { hint: 'a waiting invocation is accepted only soon after its last approval: sign a new invocation and ask again' },
    )
  }
  return [...valid]
}
