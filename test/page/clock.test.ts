/**
 * The approval page's estimate of the service clock (src/page/clock.ts), the browser's clock
 * stepped by hand. A request is signed, and an approval dated, on that estimate; `Date` is the
 * service's time truncated to its second, a lower bound of the service's time when the answer
 * arrives, so the estimate may run behind the service but never ahead of it (an approval dated
 * ahead would claim to be older than the click). (The page itself, its browser clock an hour
 * off: test/service/approval-page-wait.test.ts.)
 */
import { describe, expect, it } from 'vitest'
import { createServiceClock } from '../../src/page/clock.js'

/** A whole second of browser time (ms); the cases add fractions. */
const X = 1_800_000_000_000
const dateHeader = (seconds: number) => new Date(seconds * 1000).toUTCString()

describe("the page's service clock", () => {
  it('is the browser clock until an answer says otherwise', () => {
    let browser = X + 999
    const clock = createServiceClock(() => browser)
    expect(clock.now()).toBe(X / 1000)
    browser += 1
    expect(clock.now()).toBe(X / 1000 + 1)
  })

  it("is the last answer's Date plus the time since it arrived: never ahead, whatever the fractions", () => {
    for (const skew of [1, 0, -1, 3600, -3600]) {
      for (const arrivedMs of [0, 1, 399, 400, 500, 501, 600, 999]) {
        let browser = X + arrivedMs
        const clock = createServiceClock(() => browser)
        const date = X / 1000 + skew
        clock.learn(dateHeader(date))
        const arrivedAt = browser
        for (const laterMs of [0, 1, 400, 499, 500, 600, 999, 1000, 1600, 59_999]) {
          browser = arrivedAt + laterMs
          // The service read at least `date` when it answered, so at least date + laterMs now.
          expect(clock.now(), `skew ${skew} s, arrived at +${arrivedMs} ms, read ${laterMs} ms later`).toBe(
            date + Math.floor(laterMs / 1000),
          )
        }
      }
    }
  })

  it('follows the newest answer, and keeps what it knew when an answer carries no date', () => {
    let browser = X + 400
    const clock = createServiceClock(() => browser)
    clock.learn(dateHeader(X / 1000 + 3600))
    expect(clock.now()).toBe(X / 1000 + 3600)
    clock.learn(null)
    clock.learn('not a date')
    browser += 700
    expect(clock.now()).toBe(X / 1000 + 3600)
    // The service's clock was set back an hour: the next answer says so.
    clock.learn(dateHeader(X / 1000))
    expect(clock.now()).toBe(X / 1000)
  })
})
