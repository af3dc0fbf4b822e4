/**
 * The edges: wall clock and randomness. The engine takes both as injected values; these
 * are the defaults used when the caller does not inject one.
 *
 * @module
 */

/** Unix time in whole seconds. */
export type Clock = () => number

/** The system clock, in whole seconds. */
export const systemClock: Clock = () => Math.floor(Date.now() / 1000)

/** RFC 3339 (UTC, whole seconds) of Unix seconds, for messages. */
export function iso(seconds: number): string {
  const d = new Date(seconds * 1000)
  return Number.isNaN(d.getTime()) ? String(seconds) : d.toISOString().replace('.000Z', 'Z')
}
