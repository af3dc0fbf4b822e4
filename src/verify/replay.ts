/**
 * Replay protection for invocations (spec §7.5). An invocation id is claimed only when a
 * request is about to be allowed, so that a denied invocation (say, one still waiting for
 * its approval) can be presented again.
 *
 * @module
 */

/** Where seen invocation ids are kept. */
export interface ReplayCache {
  /** Has `id` been claimed (and not yet expired)? An early, optional check: `claim` decides. */
  has(id: string, now: number): boolean | Promise<boolean>
  /**
   * Atomically claim `id` until `expiresAt`; false if it was already claimed. `invocation` is
   * the presented invocation's bytes, for stores that must see it (a shared service checks
   * that the caller holds the invocation it claims).
   */
  claim(id: string, expiresAt: number, now: number, invocation: Uint8Array): boolean | Promise<boolean>
  /** Undo a claim whose request was then denied (e.g. by a spent quota). */
  release(id: string, invocation: Uint8Array): void | Promise<void>
}

/**
 * An in-process replay cache; entries drop out once their invocation could no longer pass
 * the freshness check anyway.
 *
 * @example
 * ```ts
 * const verifier = createVerifier({ roots: [toDidKey(alice.publicKey)], audience: 'mail', replay: createMemoryReplayCache(), revocations })
 * ```
 */
export function createMemoryReplayCache(): ReplayCache {
  const seen = new Map<string, number>()
  let sweepAt = 0
  const sweep = (now: number) => {
    if (now < sweepAt) return
    for (const [id, until] of seen) if (until <= now) seen.delete(id)
    sweepAt = now + 60
  }
  return {
    has(id, now) {
      const until = seen.get(id)
      return until !== undefined && until > now
    },
    claim(id, expiresAt, now) {
      sweep(now)
      const until = seen.get(id)
      if (until !== undefined && until > now) return false
      seen.set(id, expiresAt)
      return true
    },
    release(id) {
      seen.delete(id)
    },
  }
}
