/**
 * Steps 1–2 of spec §7: what was presented. Exactly one of a token (text, either kind), a
 * mandate or an invocation, read in full (text form, size, strict CBOR, version, structure),
 * objects handed in re-read from their bytes; then the approvals list, counted before any is
 * read.
 *
 * @module
 */
import { fail } from '../errors.js'
import type { UnverifiedApproval } from '../token/approval.js'
import type { UnverifiedBlock } from '../token/block.js'
import type { KnownChains } from '../token/chain.js'
import { type Request, readInvocation, type UnverifiedInvocation } from '../token/invocation.js'
import { readMandate, type UnverifiedMandate } from '../token/mandate.js'
import { kindOf } from '../token/text.js'
import type { DecidedRequest } from './decision.js'
import type { Presentation } from './evaluate.js'

/** What to decide on. Give a `token` (text, either kind) or one of `mandate` / `invocation`. */
export interface AuthorizeInput {
  readonly token?: string
  readonly mandate?: string | Uint8Array | UnverifiedMandate
  readonly invocation?: string | Uint8Array | UnverifiedInvocation
  /**
   * The request, for a bare (bearer or sealed) mandate. An invocation carries its own; one given
   * beside it must equal it in action, resource, args and (if given) intent, else
   * `ERR_REQUEST_INVALID`.
   */
  readonly request?: Request
  /** At most 16 (`ERR_LIMIT_COUNT` beyond, before any is read). */
  readonly approvals?: readonly (string | Uint8Array | UnverifiedApproval)[]
  /**
   * Idempotency key for usage counting of bare mandates (invocations use their id). The id
   * counted is derived from it and the request (spec §6 uses), so a retry of the same request
   * counts once and another request under the same id counts on its own.
   */
  readonly requestId?: string
}

/** A presentation read in full, nothing verified yet. */
export interface Presented {
  readonly chain: readonly UnverifiedBlock[]
  /** How the holder proves itself: an invocation, a bearer secret, a seal, or none (`bound`). */
  readonly presentation: Presentation | 'bound'
  readonly invocation?: UnverifiedInvocation
  /** The request an invocation signs. */
  readonly request?: DecidedRequest
  /** The presented bytes, for the usage store. */
  readonly bytes: Uint8Array
  /** A mandate's proof. */
  readonly proof?: UnverifiedMandate['proof']
}

/** Approvals read per request, at most (more are refused unread, before any signature work). */
export const MAX_APPROVALS = 16

/** The presented approvals: a list of at most {@link MAX_APPROVALS}, counted before any is read. */
export function presentedApprovals(approvals: unknown): readonly (string | Uint8Array | UnverifiedApproval)[] {
  if (approvals === undefined) return []
  if (!Array.isArray(approvals)) fail('ERR_REQUEST_INVALID', 'approvals must be a list')
  if (approvals.length > MAX_APPROVALS) {
    fail('ERR_LIMIT_COUNT', `at most ${MAX_APPROVALS} approvals per request, got ${approvals.length}`, {
      hint: 'present only the approvals the approval caveats ask for',
    })
  }
  return approvals
}

/**
 * Read the presentation (spec §7 steps 1–2). Throws the first failure.
 *
 * @example
 * ```ts
 * const { chain, presentation } = readPresentation({ token: 'mni1_…' }) // presentation: 'invocation'
 * ```
 */
export function readPresentation(input: AuthorizeInput, known?: KnownChains): Presented {
  if (!input || typeof input !== 'object') fail('ERR_REQUEST_INVALID', 'authorize() needs { token } or { mandate } or { invocation }')
  const given = [input.token, input.mandate, input.invocation].filter((x) => x !== undefined).length
  if (given !== 1) fail('ERR_REQUEST_INVALID', 'give exactly one of token, mandate, invocation')
  let source:
    | { kind: 'mandate'; value: string | Uint8Array | UnverifiedMandate }
    | { kind: 'invocation'; value: string | Uint8Array | UnverifiedInvocation }
  if (input.token !== undefined) {
    if (typeof input.token !== 'string') fail('ERR_REQUEST_INVALID', 'token must be text')
    const kind = kindOf(input.token)
    if (kind === 'mandate') source = { kind, value: input.token }
    else if (kind === 'invocation') source = { kind, value: input.token }
    else fail('ERR_TEXT_FORMAT', 'token is neither a mandate (mnd1_) nor an invocation (mni1_)')
  } else if (input.mandate !== undefined) source = { kind: 'mandate', value: input.mandate }
  else source = { kind: 'invocation', value: input.invocation as string | Uint8Array | UnverifiedInvocation }

  if (source.kind === 'invocation') {
    const v = source.value
    const parse = (b: string | Uint8Array) => readInvocation(b, known)
    const invocation = typeof v === 'string' || v instanceof Uint8Array ? parse(v) : reparse(v.bytes, parse)
    return {
      chain: invocation.chain,
      presentation: 'invocation',
      invocation,
      request: {
        action: invocation.action,
        ...(invocation.resource === undefined ? {} : { resource: invocation.resource }),
        args: invocation.args,
        ...(invocation.intent === undefined ? {} : { intent: invocation.intent }),
      },
      bytes: invocation.bytes,
    }
  }
  const v = source.value
  const parse = (b: string | Uint8Array) => readMandate(b, known)
  const mandate = typeof v === 'string' || v instanceof Uint8Array ? parse(v) : reparse(v.bytes, parse)
  const presentation = mandate.proof.kind === 'bearer' ? 'bearer' : mandate.proof.kind === 'sealed' ? 'sealed' : 'bound'
  return { chain: mandate.blocks, presentation, bytes: mandate.bytes, proof: mandate.proof }
}

/** Objects handed in are re-read from their bytes: the verifier trusts no pre-parsed state. */
function reparse<T>(bytes: unknown, parse: (b: Uint8Array) => T): T {
  if (!(bytes instanceof Uint8Array)) fail('ERR_REQUEST_INVALID', 'expected a parsed token with its bytes')
  return parse(bytes)
}
