/**
 * The in-process usage store: exact sliding windows (the timestamps of the last `max`
 * grants), totals, and remembered answers for idempotent retries. One process only: use
 * the service's store when several verifiers share a quota.
 *
 * It follows the service's rules: an answer is remembered with the request's binding (a
 * SHA-256 of the presented bytes and the sorted counter keys) and returned only to a retry
 * with the same id and the same binding; another request under a used id, or a request that
 * names a counter twice, is refused and consumes nothing.
 *
 * @module
 */
import { sha256 } from '../crypto/hash.js'
import { MandateError } from '../errors.js'
import { toHex, utf8 } from '../internal/bytes.js'
import { countOption } from '../internal/count.js'
import type { ConsumeRequest, ConsumeResult, UsageStore } from './store.js'

/** Options of {@link createMemoryUsageStore}. */
export interface MemoryUsageStoreOptions {
  /** How many answers to remember for retries, 1 to 10,000,000 (default 10,000): a retry older than that counts anew. */
  readonly rememberAnswers?: number
}

/** An in-memory store with an inspection helper for tests and demos. */
export interface MemoryUsageStore extends UsageStore {
  /** As {@link UsageStore.consume}, answering synchronously. */
  consume(request: ConsumeRequest): ConsumeResult
  /** Successful uses counted on `key` within the window ending at `now`. */
  used(key: string, now: number, per?: number): number
}

/** Grant times of one counter, ascending; the live ones are `times[head…]`. */
interface Grants {
  times: number[]
  head: number
}

interface Remembered {
  readonly binding: string
  readonly answer: ConsumeResult
}

/**
 * Create an in-memory usage store.
 *
 * @example
 * ```ts
 * const usage = createMemoryUsageStore()
 * const verifier = createVerifier({ roots: [alice.publicKey], audience: 'mail', usage, revocations: createMemoryRevocationView() })
 * ```
 */
export function createMemoryUsageStore(options: MemoryUsageStoreOptions = {}): MemoryUsageStore {
  const grants = new Map<string, Grants>()
  const answers = new Map<string, Remembered>()
  const remember = countOption(options.rememberAnswers, 10_000, 1, 10_000_000, 'rememberAnswers')

  /** The counter's grants with those outside the window dropped; amortized O(1) per grant. */
  const live = (key: string, now: number, per: number | undefined): Grants | undefined => {
    const g = grants.get(key)
    // Stryker disable next-line ConditionalExpression: equivalent — without a window, now − per is NaN and drops nothing
    if (!g || per === undefined) return g
    // Exact sliding window: a grant at t counts while t > now − per.
    // Stryker disable next-line ConditionalExpression,EqualityOperator: equivalent — past the end, times[head] is undefined and the comparison is false
    while (g.head < g.times.length && (g.times[g.head] as number) <= now - per) g.head++
    // Compaction bounds memory only: which dropped grants are still held is not observable.
    // Stryker disable next-line all: equivalent — no count, grant or reset time depends on it
    if (g.head >= 32 && g.head * 2 >= g.times.length) {
      g.times = g.times.slice(g.head)
      g.head = 0
    }
    return g
  }
  const count = (g: Grants | undefined) => (g ? g.times.length - g.head : 0)

  const record = (key: string, now: number): Grants => {
    let g = grants.get(key)
    if (!g) {
      g = { times: [], head: 0 }
      grants.set(key, g)
    }
    // Keep the times ascending even if the clock stepped back (normally this appends).
    let i = g.times.length
    while (i > g.head) {
      // Stryker disable next-line EqualityOperator: equivalent — equal times are interchangeable
      if ((g.times[i - 1] as number) <= now) break
      i--
    }
    g.times.splice(i, 0, now)
    return g
  }

  return {
    consume(request: ConsumeRequest): ConsumeResult {
      const keys = request.counters.map((c) => c.key)
      const seen = new Set<string>()
      for (const k of keys) {
        if (seen.has(k)) throw new MandateError('ERR_REQUEST_INVALID', `counter ${k} appears twice in one consume request`)
        seen.add(k)
      }
      const binding = bindingOf(request.presentation, keys)
      const previous = answers.get(request.requestId)
      if (previous) {
        if (previous.binding !== binding) {
          throw new MandateError('ERR_COUNTER_UNAVAILABLE', `request id ${shortId(request.requestId)} was used for another request`, {
            hint: 'use a fresh request id for each request; a retry must present the same token for the same counters',
          })
        }
        return previous.answer
      }
      let answer: ConsumeResult | undefined
      for (const c of request.counters) {
        const g = live(c.key, request.now, c.per)
        if (g && count(g) >= c.max) {
          // max ≥ 1 and count ≥ max: the max-th newest grant exists
          const oldest = g.times[g.times.length - c.max] as number
          answer =
            c.per !== undefined ? { granted: false, exhausted: c.key, resetAt: oldest + c.per } : { granted: false, exhausted: c.key }
          break
        }
      }
      if (!answer) {
        const remaining = request.counters.map((c) => ({ key: c.key, remaining: c.max - count(record(c.key, request.now)) }))
        answer = { granted: true, remaining }
      }
      answers.set(request.requestId, { binding, answer })
      if (answers.size > remember) answers.delete(answers.keys().next().value as string)
      return answer
    },
    used(key, now, per) {
      return count(live(key, now, per))
    },
  }
}

/** What a request asked: SHA-256 over the presented bytes' hash and the sorted counter keys. */
function bindingOf(presentation: unknown, keys: readonly string[]): string {
  if (!(presentation instanceof Uint8Array))
    throw new MandateError('ERR_REQUEST_INVALID', 'a consume request needs the presented token bytes')
  return toHex(sha256(utf8(JSON.stringify([toHex(sha256(presentation)), [...keys].sort()]))))
}

function shortId(id: string): string {
  const text = JSON.stringify(String(id))
  return text.length > 80 ? `${text.slice(0, 77)}…"` : text
}
