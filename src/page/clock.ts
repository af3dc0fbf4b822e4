/**
 * The approval page's estimate of the service clock, DOM-free (test/page/clock.test.ts).
 *
 * A request is signed, and an approval dated, on the service clock, so that a browser whose
 * clock is off by more than the service's 60 s of skew still gets through (spec §3.2). The page
 * learns it from each answer's `Date`: the service's time truncated to its second when it
 * answered, so a lower bound of the service's time when the answer arrives. Kept in
 * milliseconds, the estimate runs up to a second (and the answer's transit) behind the service,
 * never ahead of it: a date ahead would say an approval was given before it was.
 *
 * @module
 */

/** The service clock as a page knows it. */
export interface ServiceClock {
  /** The service's time (Unix seconds), as well as this page knows it. */
  now(): number
  /** Learn from an answer's `Date` header (ignored when missing or unreadable). */
  learn(date: string | null): void
}

/** A service clock over the browser's (`browserNowMs`, milliseconds; `Date.now` by default). */
export function createServiceClock(browserNowMs: () => number = Date.now): ServiceClock {
  /** Milliseconds to add to the browser's clock; 0 until an answer says otherwise. */
  let offsetMs = 0
  return {
    now: () => Math.floor((browserNowMs() + offsetMs) / 1000),
    learn(date) {
      const at = Date.parse(date ?? '')
      if (Number.isFinite(at)) offsetMs = at - browserNowMs()
    },
  }
}
