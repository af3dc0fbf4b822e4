/**
 * The outcome of spec §7.1–§7.2: the decision, allowed or denied, with the accountability
 * chain and the audit record, built from how far the request got.
 *
 * @module
 */
import { toDidKey } from '../crypto/keys.js'
import { MandateError } from '../errors.js'
import type { UnverifiedBlock } from '../token/block.js'
import type { UnverifiedInvocation } from '../token/invocation.js'
import type { Allowed, AuditRecord, ChainLink, DecidedRequest, Denied } from './decision.js'
import type { EvaluationResult, Presentation } from './evaluate.js'
import type { Settings, TrustedRoot } from './options.js'

/** The state of one authorization as it proceeds; used to build the decision either way. */
export interface Progress {
  now: number
  chain?: readonly UnverifiedBlock[]
  presentation?: Presentation | 'bound'
  invocation?: UnverifiedInvocation
  request?: DecidedRequest
  root?: TrustedRoot
}

/** What the decisions on one chain say alike, frozen: shared by every decision on that chain. */
interface ChainFacts {
  readonly principal: string
  readonly holders: readonly ChainLink[]
  readonly blockIds: readonly string[]
}

/**
 * Kept per chain: a chain the verifier's cache hands out is the same object at every
 * presentation, and its decisions name the same keys and blocks (building them again cost a
 * warm decision a fifth of what it allocates).
 */
const facts = new WeakMap<readonly UnverifiedBlock[], ChainFacts>()
function factsOf(chain: readonly UnverifiedBlock[]): ChainFacts {
  let known = facts.get(chain)
  if (known === undefined) {
    const holders = chain.map((b): ChainLink => {
      const link: { -readonly [K in keyof ChainLink]: ChainLink[K] } = { role: 'holder', key: toDidKey(b.holder) }
      if (b.name !== undefined) link.name = b.name
      if (b.purpose !== undefined) link.purpose = b.purpose
      link.block = b.index
      link.blockId = b.idHex
      link.bearer = b.bearer
      link.delegatedAt = b.issuedAt
      return Object.freeze(link)
    })
    known = {
      principal: toDidKey((chain[0] as UnverifiedBlock).principal as Uint8Array),
      holders: Object.freeze(holders),
      blockIds: Object.freeze(chain.map((b) => b.idHex)),
    }
    facts.set(chain, known)
  }
  return known
}

/**
 * The accountability chain as far as it was read: the principal, then each holder. The links
 * are frozen, and shared by the decisions on the same chain.
 *
 * @example
 * ```ts
 * chainLinks({ now, chain: mandate.blocks }).map((l) => l.name ?? l.key) // ['did:key:z…', 'assistant']
 * ```
 */
export function chainLinks(progress: Progress): ChainLink[] {
  const chain = progress.chain
  if (!chain || chain.length === 0) return []
  const { principal, holders } = factsOf(chain)
  const name = progress.root?.name
  return [
    Object.freeze(name === undefined ? { role: 'principal', key: principal } : { role: 'principal', key: principal, name }),
    ...holders,
  ]
}

function label(link: ChainLink): string {
  return link.name ?? link.key
}

function audit(
  settings: Settings,
  progress: Progress,
  links: readonly ChainLink[],
  extra: Partial<AuditRecord> & Pick<AuditRecord, 'decision'>,
): AuditRecord {
  const req = progress.request
  return {
    at: progress.now,
    audience: settings.audience,
    ...(progress.presentation === undefined ? {} : { presentation: progress.presentation }),
    ...(settings.revocations === 'none' ? { revocations: 'none' as const } : {}),
    ...(progress.invocation === undefined ? {} : { invocationId: progress.invocation.idHex }),
    ...(req === undefined ? {} : { action: req.action }),
    ...(req?.resource === undefined ? {} : { resource: req.resource }),
    ...(req?.intent === undefined ? {} : { intent: req.intent }),
    ...(links[0] === undefined ? {} : { principal: links[0].key }),
    holders: links.slice(1).map(label),
    blockIds: progress.chain === undefined || progress.chain.length === 0 ? [] : factsOf(progress.chain).blockIds,
    approvals: [],
    usage: [],
    ...extra,
  }
}

export function allowed(
  settings: Settings,
  progress: Progress,
  request: DecidedRequest,
  evaluation: EvaluationResult,
  approvals: string[],
  usage: { key: string; remaining: number }[],
): Allowed {
  const chain = chainLinks(progress)
  return {
    allowed: true,
    chain,
    request,
    ...(progress.invocation === undefined ? {} : { invocationId: progress.invocation.idHex }),
    matched: evaluation.matched,
    approvals,
    usage,
    audit: audit(settings, progress, chain, { decision: 'allow', approvals, usage }),
  }
}

export function denied(settings: Settings, progress: Progress, e: unknown): Denied {
  const err =
    e instanceof MandateError
      ? e
      : new MandateError('ERR_INTERNAL', 'the verifier failed unexpectedly; the request is denied', { cause: e })
  const links = chainLinks(progress)
  return {
    allowed: false,
    code: err.code,
    message: err.message,
    ...(err.hint === undefined ? {} : { hint: err.hint }),
    ...(err.block === undefined ? {} : { block: err.block }),
    ...(err.caveat === undefined ? {} : { caveat: err.caveat }),
    ...(err.caveatIndex === undefined ? {} : { caveatIndex: err.caveatIndex }),
    ...(err.amendment === undefined ? {} : { amendment: err.amendment }),
    ...(err.details === undefined ? {} : { details: err.details }),
    ...(links.length === 0 ? {} : { chain: links }),
    audit: audit(settings, progress, links, { decision: 'deny', code: err.code }),
    // Code and details come from one MandateError, whose constructor ties them together:
    // the cast only restates what TypeScript cannot follow through the spreads.
  } as Denied
}
