/**
 * The usage-store interface (spec §6.6, §8). A `uses` caveat counts successful uses per
 * (block id, caveat index): a child block's limit gets its own counter while the parent's
 * keeps counting, which splits a quota exactly across sibling sub-agents, and appending a
 * block offline cannot reset a budget.
 *
 * @module
 */

import type { AmendmentRef } from '../errors.js'

/** One counter a request touches. */
export interface UsageCounter {
  /**
   * `<block id hex>/<caveat index>`: the counter's identity; `<amendment id hex>/<caveat
   * index>` for a `uses` caveat an amendment added to the block.
   */
  readonly key: string
  readonly blockId: string
  readonly block: number
  readonly caveatIndex: number
  /** The amendment that added the caveat, if one did. */
  readonly amendment?: AmendmentRef
  /** Most successful uses: in total, or within any interval of `per` seconds. */
  readonly max: number
  readonly per?: number
}

/** A consume request: one use from every counter, all or nothing. */
export interface ConsumeRequest {
  /** Idempotency key: a retry with the same id gets the original answer and consumes nothing. */
  readonly requestId: string
  readonly counters: readonly UsageCounter[]
  /** The verifier's time, Unix seconds (a remote store uses its own clock). */
  readonly now: number
  /** The exact presented token (invocation or bearer mandate), for stores that re-check it. */
  readonly presentation: Uint8Array
}

/** The answer to a consume request. */
export type ConsumeResult =
  | { readonly granted: true; readonly remaining: readonly { readonly key: string; readonly remaining: number }[] }
  | { readonly granted: false; readonly exhausted: string; readonly resetAt?: number }

/**
 * Where counters live. Implementations must make `consume` atomic across all counters
 * and idempotent by `requestId`. Throwing (or rejecting) means "unavailable": the verifier
 * then denies with `ERR_COUNTER_UNAVAILABLE`.
 */
export interface UsageStore {
  consume(request: ConsumeRequest): ConsumeResult | Promise<ConsumeResult>
}
