/**
 * The in-process usage store: exact sliding windows (the timestamps of the last `max`
 * grants), totals, and remembered answers for idempotent retries. One process only: use
 * the service's store when several verifiers share a quota.
 *
 * @module
 */
import type { ConsumeRequest, ConsumeResult, UsageStore } from './store.js'

/** Options of {@link createMemoryUsageStore}. */
export interface MemoryUsageStoreOptions {
  /** How many answers to remember for retries (default 10,000). */
  readonly rememberAnswers?: number
}

/** An in-memory store with an inspection helper for tests and demos. */
export interface MemoryUsageStore extends UsageStore {
  /** Successful uses counted on `key` within the window ending at `now`. */
  used(key: string, now: number, per?: number): number
}

/**
 * Create an in-memory usage store.
 *
 * @example
 * ```ts
 * const usage = createMemoryUsageStore()
 * const verifier = createVerifier({ roots: [alice], audience: 'mail', usage })
 * ```
 */
export function createMemoryUsageStore(options: MemoryUsageStoreOptions = {}): MemoryUsageStore {
  const grants = new Map<string, number[]>() // key → grant times, ascending
  const answers = new Map<string, ConsumeResult>()
  const remember = options.rememberAnswers ?? 10_000

  const live = (key: string, now: number, per: number | undefined): number[] => {
    const times = grants.get(key) ?? []
    if (per === undefined) return times
    // Exact sliding window: a grant at t counts while t > now − per.
    let drop = 0
    while (drop < times.length && (times[drop] as number) <= now - per) drop++
    if (drop > 0) times.splice(0, drop)
    return times
  }

  return {
    consume(request: ConsumeRequest): ConsumeResult {
      const previous = answers.get(request.requestId)
      if (previous) return previous
      let answer: ConsumeResult | undefined
      for (const c of request.counters) {
        const times = live(c.key, request.now, c.per)
        if (times.length >= c.max) {
          const oldest = times[times.length - c.max]
          answer =
            c.per !== undefined && oldest !== undefined
              ? { granted: false, exhausted: c.key, resetAt: oldest + c.per }
              : { granted: false, exhausted: c.key }
          break
        }
      }
      if (!answer) {
        const remaining = request.counters.map((c) => {
          const times = live(c.key, request.now, c.per)
          times.push(request.now)
          grants.set(c.key, times)
          // Totals only need a count, but keeping times keeps one code path; max bounds the size.
          if (c.per === undefined && times.length > c.max) times.splice(0, times.length - c.max)
          return { key: c.key, remaining: c.max - times.length }
        })
        answer = { granted: true, remaining }
      }
      answers.set(request.requestId, answer)
      if (answers.size > remember) answers.delete(answers.keys().next().value as string)
      return answer
    },
    used(key, now, per) {
      return live(key, now, per).length
    },
  }
}
