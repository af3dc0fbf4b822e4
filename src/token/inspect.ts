/**
 * Inspect: a JSON-able view of a mandate, invocation, approval or revocation that trusts nothing and
 * says so. It parses strictly (a malformed token throws a `MandateError`) but checks no
 * signature, root, revocation or caveat.
 *
 * @module
 */
import { describeCaveat } from '../caveats/describe.js'
import type { Args, Caveat, DecodedCaveat } from '../caveats/types.js'
import { toDidKey } from '../crypto/keys.js'
import { fail } from '../errors.js'
import { toHex } from '../internal/bytes.js'
import { parseApproval, type UnverifiedApproval } from './approval.js'
import { chainExpiry, type UnverifiedBlock } from './block.js'
import { parseInvocation, type UnverifiedInvocation } from './invocation.js'
import { parseMandate, type UnverifiedMandate } from './mandate.js'
import { parseRevocation, type UnverifiedRevocation } from './revocation.js'
import { kindOf } from './text.js'

/** One block, as inspect shows it. */
export interface InspectedBlock {
  readonly index: number
  readonly id: string
  /** did:key of the key that signed this block (the principal, then each holder). */
  readonly signedBy: string
  readonly holder: string
  readonly bearer: boolean
  readonly name?: string
  readonly purpose?: string
  readonly issuedAt: number
  readonly caveats: readonly (DecodedCaveat & { readonly text: string })[]
}

/** What {@link inspect} returns. */
export type Inspection =
  | {
      readonly kind: 'mandate'
      readonly verified: false
      readonly notice: string
      readonly version: number
      readonly principal: string
      readonly blocks: readonly InspectedBlock[]
      readonly proof: 'bearer' | 'sealed' | 'bound'
      readonly expires?: number
      readonly warning?: string
    }
  | {
      readonly kind: 'invocation'
      readonly verified: false
      readonly notice: string
      readonly id: string
      readonly principal: string
      readonly blocks: readonly InspectedBlock[]
      readonly action: string
      readonly resource?: string
      readonly args: Args
      readonly audience: string
      readonly issuedAt: number
      readonly intent?: string
      readonly expires?: number
    }
  | {
      readonly kind: 'revocation'
      readonly verified: false
      readonly notice: string
      readonly id: string
      readonly effect: 'revoke' | 'suspend' | 'resume' | 'amend' | 'lift'
      readonly target: { readonly block: number; readonly id: string }
      readonly actions?: readonly string[]
      /** An amendment's caveats, each with its description. */
      readonly caveats?: readonly (Caveat & { readonly text: string })[]
      /** A lift: the id of the amendment it lifts. */
      readonly lifts?: string
      readonly signer: string
      readonly created: number
      readonly reason?: string
      readonly audience?: string
      readonly principal: string
      readonly blocks: readonly InspectedBlock[]
    }
  | {
      readonly kind: 'approval'
      readonly verified: false
      readonly notice: string
      readonly invocationId: string
      readonly approver: string
      readonly issuedAt: number
      readonly expires: number
      readonly note?: string
    }

const NOTICE = 'UNVERIFIED: decoded only; signatures, trusted roots, revocations and caveats were not checked'

/**
 * Decode a token for display, trusting nothing.
 *
 * @example
 * ```ts
 * const view = inspect('mnd1_…')
 * console.log(view.kind, view.verified) // 'mandate' false
 * ```
 */
export function inspect(input: string | UnverifiedMandate | UnverifiedInvocation | UnverifiedApproval | UnverifiedRevocation): Inspection {
  if (typeof input === 'string') {
    const kind = kindOf(input)
    if (kind === 'mandate') return inspectMandate(parseMandate(input))
    if (kind === 'invocation') return inspectInvocation(parseInvocation(input))
    if (kind === 'approval') return inspectApproval(parseApproval(input))
    if (kind === 'revocation') return inspectRevocation(parseRevocation(input))
    fail('ERR_TEXT_FORMAT', 'not a mandate (mnd1_), invocation (mni1_), approval (mna1_) or revocation (mnr1_)')
  }
  if ('blocks' in input) return inspectMandate(input)
  if ('target' in input) return inspectRevocation(input)
  if ('chain' in input) return inspectInvocation(input)
  return inspectApproval(input)
}

function blocksView(chain: readonly UnverifiedBlock[]): InspectedBlock[] {
  return chain.map((b, i) => ({
    index: b.index,
    id: b.idHex,
    signedBy: toDidKey(i === 0 ? (b.principal as Uint8Array) : (chain[i - 1] as UnverifiedBlock).holder),
    holder: toDidKey(b.holder),
    bearer: b.bearer,
    ...(b.name === undefined ? {} : { name: b.name }),
    ...(b.purpose === undefined ? {} : { purpose: b.purpose }),
    issuedAt: b.issuedAt,
    caveats: b.caveats.map((c) => ({ ...c, text: describeCaveat(c) })),
  }))
}

function expiry(chain: readonly UnverifiedBlock[]): { expires?: number } {
  const expires = chainExpiry(chain)
  return expires === undefined ? {} : { expires }
}

function inspectMandate(m: UnverifiedMandate): Inspection {
  return {
    kind: 'mandate',
    verified: false,
    notice: NOTICE,
    version: m.version,
    principal: toDidKey(m.blocks[0]?.principal as Uint8Array),
    blocks: blocksView(m.blocks),
    proof: m.proof.kind,
    ...expiry(m.blocks),
    ...(m.proof.kind === 'bound' ? {} : { warning: 'bearer mandate: whoever holds this text can use it; keep it as secret as a password' }),
  }
}

function inspectInvocation(v: UnverifiedInvocation): Inspection {
  return {
    kind: 'invocation',
    verified: false,
    notice: NOTICE,
    id: v.idHex,
    principal: toDidKey(v.chain[0]?.principal as Uint8Array),
    blocks: blocksView(v.chain),
    action: v.action,
    ...(v.resource === undefined ? {} : { resource: v.resource }),
    args: v.args,
    audience: v.audience,
    issuedAt: v.issuedAt,
    ...(v.intent === undefined ? {} : { intent: v.intent }),
    ...expiry(v.chain),
  }
}

function inspectRevocation(r: UnverifiedRevocation): Inspection {
  return {
    kind: 'revocation',
    verified: false,
    notice: NOTICE,
    id: r.id,
    effect: r.kind,
    target: { block: r.target.index, id: r.target.idHex },
    ...(r.actions === undefined ? {} : { actions: r.actions }),
    ...(r.kind === 'amend' ? { caveats: r.caveats.map((c) => ({ ...c, text: describeCaveat(c) })) } : {}),
    ...(r.lifts === undefined ? {} : { lifts: r.lifts }),
    signer: toDidKey(r.signer),
    created: r.created,
    ...(r.reason === undefined ? {} : { reason: r.reason }),
    ...(r.audience === undefined ? {} : { audience: r.audience }),
    principal: toDidKey(r.chain[0]?.principal as Uint8Array),
    blocks: blocksView(r.chain),
  }
}

function inspectApproval(a: UnverifiedApproval): Inspection {
  return {
    kind: 'approval',
    verified: false,
    notice: NOTICE,
    invocationId: toHex(a.invocationId),
    approver: toDidKey(a.approver),
    issuedAt: a.issuedAt,
    expires: a.expires,
    ...(a.note === undefined ? {} : { note: a.note }),
  }
}
