/**
 * Key arguments that are not key pairs: each is refused with the one TypeError that names the
 * option, never a bare "cannot read properties of null" from deep inside, and never used to sign.
 */
import { describe, expect, it } from 'vitest'
import type { Caveat } from '../../src/caveats/types.js'
import { attenuate, mint } from '../../src/index.js'
import { alice, assistant, rootGrant } from '../helpers/chains.js'
import { T0 } from '../helpers/fixtures.js'

describe('key arguments that are not key pairs', () => {
  it('a null principal is a TypeError naming the option', () => {
    const caveats: Caveat[] = [{ type: 'window', expires: T0 + 3600 }]
    expect(() => mint({ principal: null as never, caveats, now: T0 })).toThrow(
      new TypeError('"principal" expected a key pair or a 32-byte secret key'),
    )
  })

  it('a null holder key for attenuate is a TypeError naming `key`', () => {
    expect(() => attenuate(rootGrant(), { key: null as never, now: T0 })).toThrow(
      new TypeError('"key" expected a key pair or a 32-byte secret key'),
    )
  })

  it('a function carrying a secretKey is not a key pair: refused, not used to sign', () => {
    const caveats: Caveat[] = [{ type: 'window', expires: T0 + 3600 }]
    const fn = Object.assign(() => undefined, { secretKey: alice.secretKey, publicKey: alice.publicKey })
    expect(() => mint({ principal: fn as never, caveats, now: T0 })).toThrow(
      new TypeError('"principal" expected a key pair or a 32-byte secret key'),
    )
    const holderFn = Object.assign(() => undefined, { secretKey: assistant.secretKey })
    expect(() => attenuate(rootGrant(), { key: holderFn as never, now: T0 })).toThrow(
      new TypeError('"key" expected a key pair or a 32-byte secret key'),
    )
  })
})
