import { describe, expect, it } from 'vitest'
import { type CborValue, decodeCbor, encodeCbor } from '../../src/cbor/codec.js'
import { getBackend } from '../../src/crypto/ed25519.js'
import { attenuate, createRevocation, parseRevocation, toDidKey, verifyRevocation } from '../../src/index.js'
import type { UnverifiedMandate } from '../../src/token/mandate.js'
import { authorityLevel, type UnverifiedRevocation } from '../../src/token/revocation.js'
import { signingInput } from '../../src/token/signing.js'
import { alice, assistant, bearerChild, mallory, rawSigned } from '../helpers/chains.js'
import { caught, fixedKey, seededRandom, T0, thrownCode } from '../helpers/fixtures.js'

/** A chain alice → assistant (bound, block 0) → bearer (block 1) → bob (bound, block 2); secrets of the holders. */
function threeBlocks(): { m: UnverifiedMandate; child: UnverifiedMandate; bearerSecret: Uint8Array } {
  const child = bearerChild([{ type: 'actions', patterns: ['slack:*'] }])
  if (child.proof.kind !== 'bearer') throw new Error('unreachable')
  const m = attenuate(child, { to: toDidKey(fixedKey('bob').publicKey), now: T0, random: seededRandom('rev/bob') })
  return { m, child, bearerSecret: child.proof.secret }
}

/** Re-sign `stmt` by Alice after changing its payload fields. */
function resigned(stmt: UnverifiedRevocation, change: (m: Map<number, CborValue>) => void): Uint8Array {
  const m = decodeCbor(stmt.payload) as Map<number, CborValue>
  change(m)
  const payload = encodeCbor(m)
  return rawSigned(payload, getBackend().sign(alice.secretKey, signingInput('revocation', payload)))
}

describe('who may revoke which block', () => {
  it('principal and every holder at or above the target may; those below or outside may not', () => {
    const { m, bearerSecret } = threeBlocks()
    const bob = fixedKey('bob')
    const role = (block: number, key: Uint8Array) =>
      verifyRevocation(createRevocation({ mandate: m, block, key, now: T0, random: seededRandom('r') })).signerRole
    expect(role(2, alice.secretKey)).toBe('principal')
    expect(role(2, assistant.secretKey)).toBe('holder of block 0')
    expect(role(2, bearerSecret)).toBe('holder of block 1')
    expect(role(2, bob.secretKey)).toBe('holder (renouncing)')
    expect(role(1, bearerSecret)).toBe('holder (renouncing)')
    expect(role(0, assistant.secretKey)).toBe('holder (renouncing)')
    expect(role(0, alice.secretKey)).toBe('principal')
    // below the target: bob cannot revoke block 1, the bearer holder cannot revoke block 0
    const below = caught(() => createRevocation({ mandate: m, block: 1, key: bob.secretKey }))
    expect([below.code, below.message, below.hint]).toEqual([
      'ERR_HOLDER_MISMATCH',
      'this key signed no block at or above block 1, and does not hold it',
      'revoke with the principal key or the key of a holder at or above the target',
    ])
    expect(thrownCode(() => createRevocation({ mandate: m, block: 0, key: bearerSecret }))).toBe('ERR_HOLDER_MISMATCH')
    expect(thrownCode(() => createRevocation({ mandate: m, block: 2, key: mallory.secretKey }))).toBe('ERR_HOLDER_MISMATCH')
  })

  it('authorityLevel: −1 for the principal, k for the holder of block k, undefined for anyone else', () => {
    const { m, bearerSecret } = threeBlocks()
    const bearerKey = getBackend().publicKey(bearerSecret)
    expect(authorityLevel(m.blocks, alice.publicKey)).toBe(-1)
    expect(authorityLevel(m.blocks, assistant.publicKey)).toBe(0)
    expect(authorityLevel(m.blocks, bearerKey)).toBe(1)
    expect(authorityLevel(m.blocks, fixedKey('bob').publicKey)).toBe(2)
    expect(authorityLevel(m.blocks, mallory.publicKey)).toBeUndefined()
    expect(authorityLevel(m.blocks.slice(0, 1), bearerKey)).toBeUndefined()
  })

  it('verifyRevocation names an unauthorized signer by did:key; a bad statement signature says so', () => {
    const { child } = threeBlocks()
    const honest = createRevocation({ mandate: child, block: 0, key: alice, now: T0, random: seededRandom('v') })
    // mallory signs a payload naming herself as signer of a statement over block 0
    const m = decodeCbor(honest.payload) as Map<number, CborValue>
    m.set(4, mallory.publicKey)
    const payload = encodeCbor(m)
    const forged = parseRevocation(rawSigned(payload, getBackend().sign(mallory.secretKey, signingInput('revocation', payload))))
    const e = caught(() => verifyRevocation(forged))
    expect([e.code, e.message]).toEqual([
      'ERR_HOLDER_MISMATCH',
      `${toDidKey(mallory.publicKey)} signed no block at or above the target and does not hold it`,
    ])
    const badSig = parseRevocation(
      rawSigned(honest.payload, getBackend().sign(mallory.secretKey, signingInput('revocation', honest.payload))),
    )
    const s = caught(() => verifyRevocation(badSig))
    expect([s.code, s.message, s.block]).toEqual(['ERR_SIG_INVALID', 'revocation statement: signature rejected (equation)', undefined])
  })
})

describe('createRevocation options', () => {
  it('the block index must be an integer within the chain', () => {
    const { m } = threeBlocks()
    for (const block of [-1, 3, 1.5]) {
      expect(() => createRevocation({ mandate: m, block, key: alice })).toThrow(new RangeError(`"block" expected 0..2, got ${block}`))
    }
    expect(createRevocation({ mandate: m, block: 2, key: alice, now: T0 }).target.idHex).toBe(m.blocks[2]?.idHex)
    expect(createRevocation({ mandate: m, block: 0, key: alice, now: T0 }).chain).toHaveLength(1)
  })

  it('a bad key is a TypeError naming "key"; a bad action pattern is ERR_REQUEST_INVALID', () => {
    const { m } = threeBlocks()
    expect(() => createRevocation({ mandate: m, key: {} as never })).toThrow('"key" expected a key pair or a 32-byte secret key')
    const e = caught(() => createRevocation({ mandate: m, key: alice, actions: ['slack:send', 'Not A Pattern'] }))
    expect([e.code, e.message]).toEqual(['ERR_REQUEST_INVALID', 'not an action pattern: "Not A Pattern"'])
  })

  it('kinds, actions, reason and audience round-trip; empty actions mean the whole block', () => {
    const { m } = threeBlocks()
    const make = (o: object) => parseRevocation(createRevocation({ mandate: m, key: alice, now: T0, ...o }).bytes)
    expect(make({}).kind).toBe('revoke')
    expect(make({ kind: 'revoke' }).kind).toBe('revoke')
    expect(make({ kind: 'suspend' }).kind).toBe('suspend')
    expect(make({ kind: 'resume' }).kind).toBe('resume')
    expect((decodeCbor(make({ kind: 'resume' }).payload) as Map<number, CborValue>).get(2)).toBe(2)
    const none = make({ actions: [] })
    expect(none.actions).toBeUndefined()
    expect((decodeCbor(none.payload) as Map<number, CborValue>).has(3)).toBe(false)
    const scoped = make({ actions: ['slack:send'], reason: 'why', audience: 'svc' })
    expect([scoped.actions, scoped.reason, scoped.audience, scoped.created]).toEqual([['slack:send'], 'why', 'svc', T0])
    const plain = make({})
    expect([plain.reason, plain.audience]).toEqual([undefined, undefined])
  })
})

describe('parseRevocation rejections', () => {
  it('each malformed field is ERR_FORMAT with a message naming it', () => {
    const { m } = threeBlocks()
    const honest = createRevocation({ mandate: m, key: alice, now: T0, random: seededRandom('p') })
    const cases: [(p: Map<number, CborValue>) => void, string][] = [
      [(p) => p.set(2, 5), 'revocation kind must be 0 (revoke), 1 (suspend), 2 (resume), 3 (amend) or 4 (lift)'],
      [(p) => p.set(2, '1'), 'revocation kind must be 0 (revoke), 1 (suspend), 2 (resume), 3 (amend) or 4 (lift)'],
      [(p) => p.set(2, -1), 'revocation kind must be 0 (revoke), 1 (suspend), 2 (resume), 3 (amend) or 4 (lift)'],
      [(p) => p.set(3, []), 'revocation actions must be a non-empty list'],
      [(p) => p.set(3, 'slack:send'), 'revocation actions must be a non-empty list'],
      [(p) => p.set(3, ['slack:send', 5]), 'revocation actions must be action patterns'],
      [(p) => p.set(3, ['Bad Pattern']), 'revocation actions must be action patterns'],
      [(p) => p.set(4, new Uint8Array(31)), 'revocation signer must be a 32-byte key'],
      [(p) => p.set(5, new Uint8Array(15)), 'revocation nonce must be 16 bytes'],
      [(p) => p.set(6, -1), 'revocation created must be an unsigned integer'],
      [(p) => p.set(6, 'now'), 'revocation created must be an unsigned integer'],
      [(p) => p.set(7, 5), 'revocation reason must be short text'],
      [(p) => p.set(8, 5), 'revocation audience must be short text'],
      [(p) => p.set(9, [[1, ['mail:read']]]), 'an amendment, and only an amendment, carries caveats (key 9)'],
      [(p) => p.set(10, new Uint8Array(32)), 'a lift, and only a lift, names the amendment it lifts (key 10)'],
      [(p) => p.set(2, 3), 'an amendment, and only an amendment, carries caveats (key 9)'],
      [(p) => p.set(2, 3).set(9, []), 'an amendment carries a non-empty list of caveats'],
      [
        (p) =>
          p
            .set(2, 3)
            .set(9, [[1, ['mail:read']]])
            .set(3, ['mail:*']),
        'an amendment or a lift carries no actions',
      ],
      [(p) => p.set(2, 4), 'a lift, and only a lift, names the amendment it lifts (key 10)'],
      [(p) => p.set(2, 4).set(10, new Uint8Array(31)), 'a lift names an amendment by its 32-byte id'],
      [(p) => p.set(2, 4).set(10, new Uint8Array(32)).set(3, ['mail:*']), 'an amendment or a lift carries no actions'],
      [(p) => p.set(11, 1), 'unknown revocation field 11'],
    ]
    for (const [change, message] of cases) {
      const e = caught(() => parseRevocation(resigned(honest, change)))
      expect({ code: e.code, message: e.message }).toEqual({ code: 'ERR_FORMAT', message })
    }
  })

  it('accepts the edges: created 0, a 1024-byte reason, kind codes 0..2, valid action patterns', () => {
    const { m } = threeBlocks()
    const honest = createRevocation({ mandate: m, key: alice, now: T0, random: seededRandom('e') })
    const parsed = parseRevocation(
      resigned(honest, (p) => {
        p.set(6, 0)
        p.set(7, 'r'.repeat(1024))
        p.set(8, 'a'.repeat(1024))
        p.set(2, 1)
        p.set(3, ['slack:*'])
      }),
    )
    expect([parsed.created, parsed.reason?.length, parsed.audience?.length, parsed.kind, parsed.actions]).toEqual([
      0,
      1024,
      1024,
      'suspend',
      ['slack:*'],
    ])
    expect(verifyRevocation(parsed).signerRole).toBe('principal')
  })
})
