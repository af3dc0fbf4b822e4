import { beforeEach, describe, expect, it } from 'vitest'
import { getBackend } from '../../src/crypto/ed25519.js'
import { attenuate, createRevocation, formatRevocation, parseRevocation, toDidKey, verifyRevocation } from '../../src/index.js'
import { signingInput } from '../../src/token/signing.js'
import { alice, assistant, bearerChild, mallory, rawSigned, rootGrant } from '../helpers/chains.js'
import { seededRandom, T0, thrownCode } from '../helpers/fixtures.js'

describe('revocation statements', () => {
  // Built before each test, not while the module loads (see FIXED_KEYS in fixtures.ts).
  const fixture = () => {
    const child = bearerChild([{ type: 'actions', patterns: ['slack:*'] }])
    return { child, grandchild: attenuate(child, { now: T0, random: seededRandom('gc') }) }
  }
  let { child, grandchild } = {} as ReturnType<typeof fixture>
  beforeEach(() => {
    ;({ child, grandchild } = fixture())
  })

  it('the principal, an ancestor holder, or the holder itself may revoke; text round-trips', () => {
    const byAlice = createRevocation({ mandate: child, key: alice, actions: ['slack:send'], reason: 'no posting', now: T0 })
    expect(verifyRevocation(parseRevocation(formatRevocation(byAlice))).signerRole).toBe('principal')
    expect(byAlice.target.idHex).toBe(child.blocks[1]?.idHex)
    expect(byAlice.actions).toEqual(['slack:send'])
    const byAssistant = createRevocation({ mandate: grandchild, block: 2, key: assistant, kind: 'suspend', now: T0 })
    expect(verifyRevocation(byAssistant).signerRole).toBe('holder of block 0')
    if (child.proof.kind !== 'bearer') throw new Error('unreachable')
    const renounce = createRevocation({ mandate: child, key: child.proof.secret, now: T0 })
    expect(verifyRevocation(renounce).signerRole).toBe('holder (renouncing)')
  })

  it('a descendant cannot revoke an ancestor block; an outsider cannot revoke anything', () => {
    if (grandchild.proof.kind !== 'bearer') throw new Error('unreachable')
    const descendant = grandchild.proof.secret
    expect(thrownCode(() => createRevocation({ mandate: grandchild, block: 0, key: descendant }))).toBe('ERR_HOLDER_MISMATCH')
    expect(thrownCode(() => createRevocation({ mandate: child, key: mallory }))).toBe('ERR_HOLDER_MISMATCH')
    // forge one by hand: mallory signs a statement naming herself
    const honest = createRevocation({ mandate: child, key: alice, now: T0 })
    // the signer field is the last occurrence of Alice's key (the first is block 0's principal)
    const hex = Buffer.from(honest.payload).toString('hex')
    const at = hex.lastIndexOf(Buffer.from(alice.publicKey).toString('hex'))
    const payload = Buffer.from(hex.slice(0, at) + Buffer.from(mallory.publicKey).toString('hex') + hex.slice(at + 64), 'hex')
    const forged = parseRevocation(rawSigned(payload, getBackend().sign(mallory.secretKey, signingInput('revocation', payload))))
    expect(toDidKey(forged.signer)).toBe(toDidKey(mallory.publicKey))
    expect(thrownCode(() => verifyRevocation(forged))).toBe('ERR_HOLDER_MISMATCH')
  })

  it('a bad signature, or a signature over another target, is rejected', () => {
    const stmt = createRevocation({ mandate: rootGrant(), key: alice, now: T0 })
    // one byte string, signature ‖ payload: flip a bit of the signature (its byte 61)
    const bytes = new Uint8Array(stmt.bytes)
    const sigAt = bytes.length - stmt.payload.length - 64
    expect(bytes.subarray(sigAt, sigAt + 64)).toEqual(stmt.signature)
    bytes[sigAt + 61] = (bytes[sigAt + 61] as number) ^ 1
    expect(thrownCode(() => verifyRevocation(parseRevocation(bytes)))).toMatch(/ERR_SIG_/)
    const other = createRevocation({ mandate: child, key: alice, now: T0 })
    const swapped = parseRevocation(rawSigned(stmt.payload, other.signature))
    expect(thrownCode(() => verifyRevocation(swapped))).toBe('ERR_SIG_INVALID')
  })
})
