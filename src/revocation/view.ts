/**
 * The revocation view (spec §9): what a verifier knows of revocations and suspensions.
 * A service-backed view syncs a signed feed; the in-memory one serves a single process.
 * A view whose last known-complete time is older than the verifier's bound denies every
 * request (`ERR_REVOCATION_STALE`): revocation fails closed.
 *
 * @module
 */
import { isActionPattern } from '../caveats/action.js'
import { encodeCaveatList } from '../caveats/list.js'
import type { Caveat } from '../caveats/types.js'
import { randomBytes } from '../crypto/hash.js'
import { toHex } from '../internal/bytes.js'

/** One revocation or suspension of a block, or an amendment in force on it. */
export type RevocationEntry = BlockStanding | AmendmentEntry

/** A revocation or suspension of a block. */
export interface BlockStanding {
  readonly kind: 'revoke' | 'suspend'
  /** Only these action patterns (a scoped revocation); absent: the whole block. */
  readonly actions?: readonly string[]
  /** When it took effect (Unix seconds). */
  readonly at: number
  /** Who signed it (did:key). */
  readonly by?: string
  readonly reason?: string
}

/**
 * An amendment in force: caveats added to the block after it was handed on (spec §9.2). The
 * verifier checks them with the block's own, so they can only narrow what the block allows.
 */
export interface AmendmentEntry {
  readonly kind: 'amend'
  /** The amendment statement's id (64 hex digits): usage counters of its `uses` caveats are keyed by it. */
  readonly id: string
  readonly caveats: readonly Caveat[]
  /** When it took effect (Unix seconds). */
  readonly at: number
  /** Who signed it (did:key). */
  readonly by?: string
  readonly reason?: string
}

/** What a verifier consults, synchronously, on every request. */
export interface RevocationView {
  /**
   * Unix seconds at which this view was last known to be complete. A view that knows it cannot
   * be trusted at all (its feed was reset or rewritten) throws a MandateError saying why: the
   * verifier denies with that code.
   */
  freshAt(): number
  /** Entries against a block id (hex), if any. */
  entries(blockId: string): readonly RevocationEntry[] | undefined
}

/** An in-process view that the application updates directly. Always fresh. */
export interface MemoryRevocationView extends RevocationView {
  /** Revoke a block (optionally only some actions). Irreversible. */
  revoke(blockId: string, entry?: Partial<Omit<BlockStanding, 'kind'>>): void
  /** Suspend a block (optionally only some actions) until {@link resume}. */
  suspend(blockId: string, entry?: Partial<Omit<BlockStanding, 'kind'>>): void
  /** Lift every suspension of a block. Revocations stay. */
  resume(blockId: string): void
  /**
   * Add caveats to a block; returns the amendment's id (given, or 32 random bytes), by which {@link lift} removes it and its `uses` counters are keyed.
   */
  amend(blockId: string, entry: Partial<Omit<AmendmentEntry, 'kind' | 'caveats'>> & { readonly caveats: readonly Caveat[] }): string
  /** Lift an amendment; false when the block has no amendment with that id. */
  lift(blockId: string, id: string): boolean
}

/**
 * Create an in-process revocation view.
 *
 * @example
 * ```ts
 * const revocations = createMemoryRevocationView()
 * const verifier = createVerifier({ roots: [alice.publicKey], audience: 'slack', revocations })
 * revocations.revoke(grant.blocks.at(-1)!.idHex, { actions: ['slack:send'], reason: 'too chatty' })
 * ```
 */
export function createMemoryRevocationView(clock: () => number = () => Number.MAX_SAFE_INTEGER): MemoryRevocationView {
  const byBlock = new Map<string, RevocationEntry[]>()
  const push = (blockId: string, e: RevocationEntry) => {
    if (!/^[0-9a-f]{64}$/.test(blockId)) throw new TypeError('"blockId" expected 64 lower-case hex digits')
    byBlock.set(blockId, [...(byBlock.get(blockId) ?? []), e])
  }
  const add = (kind: BlockStanding['kind'], blockId: string, entry: Partial<Omit<BlockStanding, 'kind'>> = {}) => {
    for (const p of entry.actions ?? []) if (!isActionPattern(p)) throw new TypeError(`"actions" bad pattern ${JSON.stringify(p)}`)
    push(blockId, { at: entry.at ?? 0, ...entry, kind })
  }
  return {
    freshAt: () => clock(),
    entries: (blockId) => byBlock.get(blockId),
    revoke: (blockId, entry) => add('revoke', blockId, entry),
    suspend: (blockId, entry) => add('suspend', blockId, entry),
    resume(blockId) {
      const kept = byBlock.get(blockId)?.filter((e) => e.kind !== 'suspend') ?? []
      if (kept.length > 0) byBlock.set(blockId, kept)
      else byBlock.delete(blockId)
    },
    amend(blockId, entry) {
      // Encoding checks the list (1 to 32) and every caveat, so a malformed one is refused here, not at a request.
      encodeCaveatList(entry.caveats)
      const at = entry.at ?? 0
      const id = entry.id ?? toHex(randomBytes(32))
      if (!/^[0-9a-f]{64}$/.test(id)) throw new TypeError('"id" expected 64 lower-case hex digits')
      push(blockId, { ...entry, at, id, kind: 'amend' })
      return id
    },
    lift(blockId, id) {
      const list = byBlock.get(blockId) ?? []
      const kept = list.filter((e) => !(e.kind === 'amend' && e.id === id))
      if (kept.length === list.length) return false
      if (kept.length > 0) byBlock.set(blockId, kept)
      else byBlock.delete(blockId)
      return true
    },
  }
}
