/**
 * The revocation view (spec §9): what a verifier knows of revocations and suspensions.
 * A service-backed view syncs a signed feed; the in-memory one serves a single process.
 * A view whose last known-complete time is older than the verifier's bound denies every
 * request (`ERR_REVOCATION_STALE`): revocation fails closed.
 *
 * @module
 */
import { isActionPattern } from '../caveats/action.js'

/** One revocation or suspension of a block. */
export interface RevocationEntry {
  readonly kind: 'revoke' | 'suspend'
  /** Only these action patterns (a scoped revocation); absent: the whole block. */
  readonly actions?: readonly string[]
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
  revoke(blockId: string, entry?: Partial<Omit<RevocationEntry, 'kind'>>): void
  /** Suspend a block (optionally only some actions) until {@link resume}. */
  suspend(blockId: string, entry?: Partial<Omit<RevocationEntry, 'kind'>>): void
  /** Lift every suspension of a block. Revocations stay. */
  resume(blockId: string): void
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
  const add = (kind: RevocationEntry['kind'], blockId: string, entry: Partial<Omit<RevocationEntry, 'kind'>> = {}) => {
    if (!/^[0-9a-f]{64}$/.test(blockId)) throw new TypeError('"blockId" expected 64 lower-case hex digits')
    for (const p of entry.actions ?? []) if (!isActionPattern(p)) throw new TypeError(`"actions" bad pattern ${JSON.stringify(p)}`)
    const list = byBlock.get(blockId) ?? []
    list.push({ at: entry.at ?? 0, ...entry, kind })
    byBlock.set(blockId, list)
  }
  return {
    freshAt: () => clock(),
    entries: (blockId) => byBlock.get(blockId),
    revoke: (blockId, entry) => add('revoke', blockId, entry),
    suspend: (blockId, entry) => add('suspend', blockId, entry),
    resume(blockId) {
      const kept = byBlock.get(blockId)?.filter((e) => e.kind === 'revoke') ?? []
      if (kept.length > 0) byBlock.set(blockId, kept)
      else byBlock.delete(blockId)
    },
  }
}
