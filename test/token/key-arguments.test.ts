/**
 * Key arguments that are not key pairs: each is refused with the one TypeError that names the
 * option, never a bare "cannot read properties of null" from deep inside, and never used to sign.
 */
import { describe, expect, it } from 'vitest'
import type { Caveat } from '../../src/caveats/types.js'
import {
  attenuate,
  checkChain,
  checkPresentation,
  createRevocation,
  formatInvocation,
  invoke,
  mint,
  verifyRevocation,
} from '../../src/index.js'
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

describe('a secret written into during the call that signs with it', () => {
  // The caller's own callbacks run inside mint, attenuate, invoke and createRevocation: one that
  // writes into the secret in use must not make the token name one key and carry another's
  // signature. The call signs with the secret as it was when the call began.
  const flipOnce = (secret: Uint8Array) => {
    let done = false
    return (n: number) => {
      if (!done) {
        done = true
        secret[0] = (secret[0] as number) ^ 1
      }
      return globalThis.crypto.getRandomValues(new Uint8Array(n))
    }
  }
  const window: Caveat = { type: 'window', expires: T0 + 3600 }

  it('mint, attenuate, invoke and a revocation statement verify, signed by the key the call began with', () => {
    let secret = Uint8Array.from(alice.secretKey)
    const minted = mint({ principal: secret, caveats: [window], now: T0, random: flipOnce(secret) })
    expect(minted.blocks[0]?.principal).toEqual(alice.publicKey)
    expect(() => checkChain(minted.blocks)).not.toThrow()

    const root = rootGrant()
    secret = Uint8Array.from(assistant.secretKey)
    const narrowed = attenuate(root, { key: { secretKey: secret, publicKey: assistant.publicKey }, now: T0, random: flipOnce(secret) })
    expect(() => checkChain(narrowed.blocks)).not.toThrow()

    secret = Uint8Array.from(assistant.secretKey)
    const invocation = invoke(root, { key: secret, action: 'email:send', audience: 'mail', now: T0, random: flipOnce(secret) })
    expect(() => checkPresentation(formatInvocation(invocation))).not.toThrow()

    secret = Uint8Array.from(alice.secretKey)
    const statement = createRevocation({ mandate: root, key: secret, now: T0, random: flipOnce(secret) })
    expect(() => verifyRevocation(statement)).not.toThrow()
  })

  it('a caveat whose getter writes into the principal secret: the root block still verifies under it', () => {
    const secret = Uint8Array.from(alice.secretKey)
    const writes: Caveat = {
      type: 'actions',
      get patterns() {
        secret[9] = (secret[9] as number) ^ 4
        return ['*']
      },
    } as Caveat
    const minted = mint({ principal: secret, caveats: [writes, window], now: T0 })
    expect(minted.blocks[0]?.principal).toEqual(alice.publicKey)
    expect(() => checkChain(minted.blocks)).not.toThrow()
  })
})
