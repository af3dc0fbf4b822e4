/**
 * Deadlines for the library's network calls: a server that accepts a connection and never
 * answers must not hang a verifier. Plain timers and AbortController, so that this runs in
 * every runtime. Background work asks for unref'd timers (where the runtime has `unref`:
 * Node, Bun, Deno), so that a timer never keeps a process alive by itself.
 *
 * @module
 */

/** A time limit on some work, and the signal that ends it. */
export interface Deadline {
  /** Aborted when the time runs out or the parent signal aborts. */
  readonly signal: AbortSignal
  /** True once the time ran out (not when the parent aborted). */
  readonly expired: boolean
  /** Start the time over, now `ms` from now: a stall detector restarts it at each sign of life. */
  restart(ms: number): void
  /** Stop the timer and let go of the parent; call it when the work is done. */
  clear(): void
}

/** Options of {@link deadline} and {@link pause}. */
export interface TimerOptions {
  /** An outer signal (a `stop()`): its abort ends the work too. */
  readonly parent?: AbortSignal | undefined
  /** Background work: the timer must not keep the process alive. */
  readonly unref?: boolean | undefined
}

/**
 * Start a deadline of `ms` milliseconds (`Infinity`: only the parent ends it).
 *
 * @example
 * ```ts
 * const d = deadline(10_000)
 * try {
 *   const res = await fetch(url, { signal: d.signal })
 * } finally {
 *   d.clear()
 * }
 * ```
 */
export function deadline(ms: number, options: TimerOptions = {}): Deadline {
  const controller = new AbortController()
  let expired = false
  let timer: ReturnType<typeof setTimeout> | undefined
  const arm = (limit: number): void => {
    clearTimeout(timer)
    if (!Number.isFinite(limit) || controller.signal.aborted) return
    timer = setTimeout(() => {
      expired = true
      controller.abort(new DOMException(`timed out after ${limit} ms`, 'TimeoutError'))
    }, limit)
    if (options.unref) unrefTimer(timer)
  }
  arm(ms)
  const unlink = follow(options.parent, () => {
    clearTimeout(timer)
    controller.abort(options.parent?.reason)
  })
  return {
    signal: controller.signal,
    get expired() {
      return expired
    },
    restart: arm,
    clear() {
      clearTimeout(timer)
      unlink()
    },
  }
}

/**
 * Wait `ms` milliseconds, or less if the parent aborts (then it resolves all the same: the
 * caller looks at its own state to decide what to do next).
 *
 * @example
 * ```ts
 * await pause(250, { parent: halt.signal, unref: true })
 * ```
 */
export function pause(ms: number, options: TimerOptions = {}): Promise<void> {
  return new Promise((resolve) => {
    if (options.parent?.aborted) return resolve()
    let unlink = () => {}
    const timer = setTimeout(() => {
      unlink()
      resolve()
    }, ms)
    if (options.unref) unrefTimer(timer)
    unlink = follow(options.parent, () => {
      clearTimeout(timer)
      resolve()
    })
  })
}

/**
 * Check a `timeoutMs` option: a positive number of milliseconds that a timer can hold.
 *
 * @example
 * ```ts
 * const timeoutMs = timeoutOption(options.timeoutMs, 10_000, 'timeoutMs')
 * ```
 */
export function timeoutOption(value: number | undefined, fallback: number, name: string): number {
  if (value === undefined) return fallback
  // Above 2^31 - 1 ms, setTimeout fires at once: a huge timeout would become none at all.
  if (typeof value !== 'number' || !(value > 0) || value > 2_147_483_647) {
    throw new RangeError(`"${name}" expected a positive number of milliseconds (at most 2147483647), got ${String(value)}`)
  }
  return value
}

/** Let the process exit while this timer runs, where the runtime can (browsers' timers are numbers). */
export function unrefTimer(timer: unknown): void {
  const t = timer as { unref?: unknown } | undefined
  if (typeof t === 'object' && t !== null && typeof t.unref === 'function') (t as { unref(): void }).unref()
}

/** Call `onAbort` when `parent` aborts (at once if it has); the returned function stops listening. */
function follow(parent: AbortSignal | undefined, onAbort: () => void): () => void {
  if (!parent) return () => {}
  if (parent.aborted) {
    onAbort()
    return () => {}
  }
  parent.addEventListener('abort', onAbort, { once: true })
  // Removed when the work ends: a long-lived parent must not collect one listener per request.
  return () => parent.removeEventListener('abort', onAbort)
}
