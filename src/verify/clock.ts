/**
 * The time of a decision: the injected clock, read once per request, so that every step of
 * spec §7 decides at the same `now`.
 *
 * @module
 */
import { fail } from '../errors.js'
import { type Clock, systemClock } from '../internal/clock.js'

/**
 * Read the injected clock once. One that throws, or answers anything but a whole number of
 * seconds ≥ 0, denies the request (the audit record then carries the system time).
 */
export function readClock(clock: Clock, progress: { now: number }): void {
  let now: unknown
  try {
    now = clock()
  } catch (cause) {
    progress.now = systemClock()
    fail('ERR_CLOCK_UNAVAILABLE', 'the verifier clock failed', { cause, hint: 'the clock given to createVerifier threw' })
  }
  if (!Number.isSafeInteger(now) || (now as number) < 0) {
    progress.now = systemClock()
    const got = typeof now === 'number' ? String(now) : typeof now
    fail('ERR_CLOCK_UNAVAILABLE', `the verifier clock gave no whole number of seconds (got ${got})`, {
      hint: 'the clock given to createVerifier must return Unix time in whole seconds',
    })
  }
  progress.now = now as number
}
