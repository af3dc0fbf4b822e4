/** Phase: the outcome (src/verify/outcome.ts) and the clock (src/verify/clock.ts). */
import { describe, expect, it } from 'vitest'
import { MandateError } from '../../../src/index.js'
import { readClock } from '../../../src/verify/clock.js'
import { readOptions } from '../../../src/verify/options.js'
import { chainLinks, denied } from '../../../src/verify/outcome.js'
import { aliceDid, bearerChild } from '../../helpers/chains.js'
import { T0, thrownCode } from '../../helpers/fixtures.js'

const settings = () => readOptions({ roots: [{ key: aliceDid, name: 'alice' }], audience: 'svc', revocations: 'none' })

describe('outcome', () => {
  it('lists the principal, then each holder with its block', () => {
    const chain = bearerChild([]).blocks
    const links = chainLinks({ now: T0, chain, root: { key: new Uint8Array(32), name: 'alice' } })
    expect(links.map((l) => [l.role, l.name, l.block])).toEqual([
      ['principal', 'alice', undefined],
      ['holder', 'assistant', 0],
      ['holder', 'sub-agent', 1],
    ])
    expect(chainLinks({ now: T0 })).toEqual([])
  })

  it('denies with the error as thrown, or ERR_INTERNAL for anything else, and says revocations were not checked', () => {
    const d = denied(settings(), { now: T0 }, new MandateError('ERR_FORMAT', 'bad', { hint: 'h', block: 2 }))
    expect([d.code, d.message, d.hint, d.block, d.audit.revocations, d.audit.decision]).toEqual([
      'ERR_FORMAT',
      'bad',
      'h',
      2,
      'none',
      'deny',
    ])
    expect(denied(settings(), { now: T0 }, new TypeError('oops')).code).toBe('ERR_INTERNAL')
  })
})

describe('readClock', () => {
  it('reads whole seconds, and falls back to the system time for the record when the clock fails', () => {
    const p = { now: 0 }
    readClock(() => T0, p)
    expect(p.now).toBe(T0)
    expect(thrownCode(() => readClock(() => 1.5, p))).toBe('ERR_CLOCK_UNAVAILABLE')
    expect(p.now).toBeGreaterThan(T0 - 10 * 365 * 86400)
    expect(
      thrownCode(() =>
        readClock(() => {
          throw new Error('no time')
        }, p),
      ),
    ).toBe('ERR_CLOCK_UNAVAILABLE')
  })
})
