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
