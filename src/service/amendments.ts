/**
 * Amendments at the service (spec/service-v1.md §5.3): reading a statement that carries
 * caveats, the rules of a lift, the amendments in force on a chain (for its usage counters
 * and its approvers), and what the audit log keeps of one.
 *
 * @module
 */
import { describeCaveat } from '../caveats/describe.js'
import { encodeCaveatList } from '../caveats/list.js'
import { toDidKey } from '../crypto/keys.js'
import { MandateError } from '../errors.js'
import { fromHex, toHex } from '../internal/bytes.js'
import type { FeedEntry } from '../revocation/feed.js'
import type { UnverifiedBlock } from '../token/block.js'
import { authorityLevel, parseRevocation, type UnverifiedRevocation } from '../token/revocation.js'
import { ServiceError } from './errors.js'

/**
 * Parse a posted statement. An amendment's malformed or unknown caveat is bad input (400, with
 * its code), not a denial: nothing was asked of a verifier yet.
 */
export function parseStatement(raw: string | Uint8Array): UnverifiedRevocation {
  try {
    return parseRevocation(raw)
  } catch (e) {
    if (e instanceof MandateError && (e.code === 'ERR_CAVEAT_INVALID' || e.code === 'ERR_CAVEAT_UNKNOWN')) {
      throw new ServiceError(400, e.code, e.message)
    }
    throw e
  }
}

/**
 * A lift names an amendment in force on its target (409 otherwise: never made, made on another
 * block, or lifted already), and comes from the amendment's signer or a key above it (403): a
 * sub-agent cannot shed the constraint its delegator added. `entries` are the target's, in order.
 */
export function checkLift(statement: UnverifiedRevocation, entries: readonly FeedEntry[]): void {
  const amendment = inForce(entries).find((e) => e.id === statement.lifts)
  if (!amendment) {
    throw new ServiceError(409, 'ERR_CONFLICT', 'the lift names no amendment in force on this block (never made here, or lifted already)')
  }
  const level = authorityLevel(statement.chain, statement.signer) ?? Number.POSITIVE_INFINITY
  const amender = authorityLevel(statement.chain, fromHex(amendment.by) ?? new Uint8Array(32)) ?? Number.NEGATIVE_INFINITY
  if (level > amender) {
    throw new ServiceError(
      403,
      'ERR_NOT_AUTHORIZED',
      'an amendment can only be lifted by the key that made it or one above it in the chain',
    )
  }
}

/** The amendments of one block's entries that no later lift has lifted, in feed order. */
export function inForce(entries: readonly FeedEntry[]): FeedEntry[] {
  const lifted = new Set(entries.flatMap((e) => (e.kind === 'lift' && e.lifts !== undefined ? [e.lifts] : [])))
  return entries.filter((e) => e.kind === 'amend' && e.id !== undefined && !lifted.has(e.id))
}

/**
 * The amendments of one block's entries that were in force at `t` (Unix seconds) within `skew`:
 * accepted no later than t + skew, and not lifted before t − skew. What a verifier deciding at
 * `t` could have held (a decision reported after a lift, §8.2).
 */
export function inForceAt(entries: readonly FeedEntry[], t: number, skew: number): FeedEntry[] {
  const liftedAt = new Map(entries.flatMap((e) => (e.kind === 'lift' && e.lifts !== undefined ? [[e.lifts, e.at] as const] : [])))
  return entries.filter(
    (e) => e.kind === 'amend' && e.id !== undefined && e.at <= t + skew && (liftedAt.get(e.id) ?? Number.POSITIVE_INFINITY) >= t - skew,
  )
}

/**
 * The amendments in force on each block of `chain`, read through `entriesOf` (the store's): now,
 * or, given `at` = {t, skew}, at that time (see {@link inForceAt}).
 */
export async function chainAmendments(
  chain: readonly UnverifiedBlock[],
  entriesOf: (blockId: string) => Promise<FeedEntry[]>,
  at?: { readonly t: number; readonly skew: number },
): Promise<Map<number, FeedEntry[]>> {
  const out = new Map<number, FeedEntry[]>()
  for (const b of chain) {
    const entries = await entriesOf(b.idHex)
    const live = at === undefined ? inForce(entries) : inForceAt(entries, at.t, at.skew)
    if (live.length > 0) out.set(b.index, live)
  }
  return out
}

/** What the audit log keeps of an amendment (its caveats in words, and exactly as signed) or a lift. */
export function amendmentAudit(statement: UnverifiedRevocation): Record<string, string | string[]> {
  if (statement.kind === 'amend') {
    return {
      caveats: statement.caveats.map(describeCaveat),
      caveatsCbor: toHex(encodeCaveatList(statement.caveats)),
    }
  }
  return statement.lifts === undefined ? {} : { lifts: statement.lifts }
}

/** The amendments in force on a request's chain, as the inbox describes them: block, who, when, why, and the caveats in words. */
export function amendmentSummaries(amendments: ReadonlyMap<number, readonly FeedEntry[]>) {
  return [...amendments.entries()].flatMap(([block, list]) =>
    list.map((a) => ({
      block,
      id: a.id as string,
      by: toDidKey(fromHex(a.by) ?? new Uint8Array(32)),
      at: a.at,
      ...(a.reason === undefined ? {} : { reason: a.reason }),
      caveats: (a.caveats ?? []).map(describeCaveat),
    })),
  )
}

/** An entry as `GET /v1/revocations/{blockId}` answers it: an amendment's caveats in words, and exactly (hex CBOR). */
export function entryJson(e: FeedEntry): Record<string, unknown> {
  const { caveats, ...rest } = e
  if (caveats === undefined) return rest
  return { ...rest, caveats: caveats.map(describeCaveat), caveatsCbor: toHex(encodeCaveatList(caveats)) }
}
