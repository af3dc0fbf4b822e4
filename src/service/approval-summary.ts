/**
 * An approval request as the inbox describes it (spec/service-v1.md §7): what an approver
 * needs to decide, read back from the invocation the service checked when it was filed.
 *
 * @module
 */
import { firstCover } from '../caveats/action.js'
import { toDidKey } from '../crypto/keys.js'
import type { FeedEntry } from '../revocation/feed.js'
import type { UnverifiedBlock } from '../token/block.js'
import { parseInvocation } from '../token/invocation.js'
import type { ApprovalRecord } from './store.js'

/**
 * `denied` once denied; else `approved` once every applying approval caveat has its quorum — the
 * chain's own and those of the amendments in force on its blocks (spec/service-v1.md §5.3), so that
 * a request only an amendment asked approval for stays pending until its approvers answer; else
 * `pending`.
 */
export function statusOf(
  record: ApprovalRecord,
  amendments: ReadonlyMap<number, readonly FeedEntry[]> = new Map(),
): 'pending' | 'approved' | 'denied' {
  if (record.denial) return 'denied'
  // The invocation was checked when the request was accepted; reading it back is enough.
  const inv = parseInvocation(record.invocation)
  const have = new Set(Object.keys(record.approvals))
  const caveats = inv.chain.flatMap((b) => [...b.caveats, ...(amendments.get(b.index) ?? []).flatMap((a) => a.caveats ?? [])])
  const satisfied = caveats.every(
    (cv) => cv.type !== 'approval' || !firstCover(cv.actions, inv.action) || cv.approvers.filter((a) => have.has(a)).length >= cv.quorum,
  )
  return satisfied ? 'approved' : 'pending'
}

/** What an approver needs to see, from the invocation itself. */
export function summary(record: ApprovalRecord) {
  // The invocation was checked when the request was accepted; reading it back is enough.
  const inv = parseInvocation(record.invocation)
  const last = inv.chain[inv.chain.length - 1] as UnverifiedBlock
  return {
    id: record.id,
    status: statusOf(record),
    requestedBy: { key: toDidKey(last.holder), ...(last.name ? { name: last.name } : {}) },
    onBehalfOf: toDidKey(inv.chain[0]?.principal as Uint8Array),
    chain: inv.chain.map((b) => ({ block: b.index, ...(b.name ? { name: b.name } : {}), ...(b.purpose ? { purpose: b.purpose } : {}) })),
    action: inv.action,
    ...(inv.resource === undefined ? {} : { resource: inv.resource }),
    args: inv.args,
    audience: inv.audience,
    ...(inv.intent === undefined ? {} : { intent: inv.intent }),
    approvers: record.approvers,
    approvals: record.approvals,
    createdAt: record.createdAt,
    expiresAt: record.expiresAt,
    invocation: record.invocation,
    ...(record.denial ? { denial: { by: record.denial.by, reason: record.denial.reason, at: record.denial.at } } : {}),
  }
}

/** A `uses` caveat of a request's chain: its counter (as verifiers name it) and its limit. */
export interface QuotaCounter {
  readonly key: string
  readonly block: number
  readonly caveat: number
  readonly max: number
  readonly per?: number
}

/**
 * Every `uses` caveat of the request's chain, in chain order, each block's own then those of its
 * amendments in force (keyed by the amendment, spec/mandate-v1.md §6 uses): what its quota line shows.
 */
export function quotaCounters(record: ApprovalRecord, amendments: ReadonlyMap<number, readonly FeedEntry[]> = new Map()): QuotaCounter[] {
  const inv = parseInvocation(record.invocation)
  return inv.chain.flatMap((b) =>
    [
      { owner: b.idHex, caveats: b.caveats },
      ...(amendments.get(b.index) ?? []).map((a) => ({ owner: a.id as string, caveats: a.caveats ?? [] })),
    ].flatMap(({ owner, caveats }) =>
      caveats.flatMap((cv, i) =>
        cv.type === 'uses'
          ? [{ key: `${owner}/${i}`, block: b.index, caveat: i, max: cv.max, ...(cv.per === undefined ? {} : { per: cv.per }) }]
          : [],
      ),
    ),
  )
}
