/**
 * Step 10 of spec §7: approvals. Every presented approval in list order (`ERR_APPROVAL_INVALID`:
 * unreadable, a bad signature, for another invocation, expired, dated in the future, from
 * someone not listed), then every quorum the caveats asked for (`ERR_APPROVAL_REQUIRED`).
 *
 * @module
 */
import { toDidKey } from '../crypto/keys.js'
import { fail } from '../errors.js'
import { equalBytes } from '../internal/bytes.js'
import { iso } from '../internal/clock.js'
import { parseApproval, type UnverifiedApproval } from '../token/approval.js'
import type { UnverifiedInvocation } from '../token/invocation.js'
import { signingInput } from '../token/signing.js'
import type { ApprovalRequirement } from './evaluate.js'
import type { Settings } from './options.js'

/**
 * The did:keys of the approvers whose approvals counted, once every quorum is met.
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
): string[] {
  const valid = new Set<string>()
  const listed = new Set(requirements.flatMap((r) => r.approvers))
  for (const [i, raw] of presented.entries()) {
    let a: UnverifiedApproval
    try {
      a = typeof raw === 'string' || raw instanceof Uint8Array ? parseApproval(raw) : parseApproval(raw.bytes)
    } catch (e) {
      fail('ERR_APPROVAL_INVALID', `approval ${i}: ${e instanceof Error ? e.message : 'unreadable'}`)
    }
    const outcome = settings.backend.verify(a.signature, signingInput('approval', a.payload), a.approver)
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
  }
  for (const r of requirements) {
    const have = r.approvers.filter((k) => valid.has(k)).length
    if (have < r.quorum) {
      const missing = r.approvers.filter((k) => !valid.has(k))
      const how = invocation
        ? `submit invocation ${invocation.idHex} for approval`
        : 'approvals bind to an invocation: present one signed by the holder (mni1_…)'
      fail('ERR_APPROVAL_REQUIRED', `block ${r.block} needs ${r.quorum} approval(s) for this action; ${have} given`, {
        block: r.block,
        caveat: 'approval',
        caveatIndex: r.caveatIndex,
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
  return [...valid]
}
