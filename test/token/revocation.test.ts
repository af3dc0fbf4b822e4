import { describe, expect, it } from 'vitest'
import { type CborValue, decodeCbor, encodeCbor } from '../../src/cbor/codec.js'
import { getBackend } from '../../src/crypto/ed25519.js'
import {
  attenuate,
  type Caveat,
  createAmendment,
  createLift,
  createRevocation,
  parseRevocation,
  toDidKey,
  verifyRevocation,
} from '../../src/index.js'
import type { UnverifiedMandate } from '../../src/token/mandate.js'
import { authorityLevel, REVOCATION_KINDS, type UnverifiedRevocation } from '../../src/token/revocation.js'
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

describe('amendments and lifts', () => {
  const readOnly: Caveat = { type: 'actions', patterns: ['slack:read'] }
  const payloadOf = (stmt: UnverifiedRevocation) => decodeCbor(stmt.payload) as Map<number, CborValue>

  it('an amendment carries its caveats (key 9) and no lift; a lift the amendment id (key 10) and no caveats', () => {
    const { m } = threeBlocks()
    const amendment = createAmendment({ mandate: m, block: 1, key: alice, caveats: [readOnly], reason: 'read only', now: T0 })
    expect([amendment.kind, amendment.caveats, amendment.lifts, amendment.actions, amendment.target.idHex]).toEqual([
      'amend',
      [readOnly],
      undefined,
      undefined,
      m.blocks[1]?.idHex,
    ])
    expect([payloadOf(amendment).get(2), payloadOf(amendment).get(9), payloadOf(amendment).has(10)]).toEqual([
      3,
      [[1, ['slack:read']]],
      false,
    ])
    expect(verifyRevocation(amendment).signerRole).toBe('principal')

    const lift = createLift({ mandate: m, block: 1, key: alice, amendment: amendment.id, now: T0 })
    expect([lift.kind, lift.lifts, lift.caveats, lift.actions]).toEqual(['lift', amendment.id, [], undefined])
    expect([payloadOf(lift).get(2), payloadOf(lift).has(9)]).toEqual([4, false])
    expect(payloadOf(lift).get(10)).toEqual(Uint8Array.from(Buffer.from(amendment.id, 'hex')))
    // Upper-case hex names the same amendment.
    expect(createLift({ mandate: m, key: alice, amendment: amendment.id.toUpperCase(), now: T0 }).lifts).toBe(amendment.id)
    // Every other kind carries neither.
    for (const kind of ['revoke', 'suspend', 'resume'] as const) {
      const stmt = createRevocation({ mandate: m, key: alice, kind, now: T0 })
      expect([stmt.caveats, stmt.lifts, payloadOf(stmt).has(9), payloadOf(stmt).has(10)]).toEqual([[], undefined, false, false])
    }
  })

  it('a key without authority is told, for each kind, what it tried and who may', () => {
    const { m } = threeBlocks()
    const hints = REVOCATION_KINDS.map((kind) => {
      const options = { mandate: m, block: 1, key: mallory, kind, now: T0 }
      const extra = kind === 'amend' ? { caveats: [readOnly] } : kind === 'lift' ? { lifts: '00'.repeat(32) } : {}
      const e = caught(() => createRevocation({ ...options, ...extra }))
      expect(e.code).toBe('ERR_HOLDER_MISMATCH')
      return e.hint
    })
    const who = 'with the principal key or the key of a holder at or above the target'
    expect(hints).toEqual([
      `revoke ${who}`,
      `suspend ${who}`,
      `resume ${who}`,
      `amend ${who}`,
      `lift ${who} (the amendment's signer, or a key above it)`,
    ])
  })

  it('refuses, as a TypeError or RangeError naming the option, what a kind does not take', () => {
    const { m } = threeBlocks()
    const base = { mandate: m, key: alice, now: T0 }
    const id = '0f'.repeat(32)
    const cases: [() => unknown, Error][] = [
      [
        () => createRevocation({ ...base, kind: 'bogus' as never }),
        new TypeError('"kind" expected one of revoke, suspend, resume, amend, lift, got "bogus"'),
      ],
      [
        () => createRevocation({ ...base, kind: 'amend', caveats: [readOnly], actions: ['slack:send'] }),
        new TypeError('"actions" scopes a revocation or suspension; an amend statement takes none'),
      ],
      [
        () => createRevocation({ ...base, kind: 'lift', lifts: id, actions: ['slack:send'] }),
        new TypeError('"actions" scopes a revocation or suspension; an lift statement takes none'),
      ],
      [() => createRevocation({ ...base, kind: 'amend' }), new TypeError('an amendment adds at least one caveat')],
      [() => createAmendment({ ...base, caveats: [] }), new TypeError('an amendment adds at least one caveat')],
      [() => createRevocation({ ...base, caveats: [readOnly] }), new TypeError('"caveats" belong to an amendment, not to a revoke')],
      [
        () => createRevocation({ ...base, kind: 'suspend', caveats: [readOnly] }),
        new TypeError('"caveats" belong to an amendment, not to a suspend'),
      ],
      [() => createAmendment({ ...base, caveats: Array(33).fill(readOnly) }), new RangeError('an amendment adds at most 32 caveats')],
      [() => createRevocation({ ...base, kind: 'lift' }), new TypeError('"lifts" names the amendment to lift: its id, 64 hex digits')],
      [() => createLift({ ...base, amendment: id.slice(2) }), new TypeError('"lifts" names the amendment to lift: its id, 64 hex digits')],
      [() => createLift({ ...base, amendment: `${id}00` }), new TypeError('"lifts" names the amendment to lift: its id, 64 hex digits')],
      [
        () => createLift({ ...base, amendment: 'zz'.repeat(32) }),
        new TypeError('"lifts" names the amendment to lift: its id, 64 hex digits'),
      ],
      [() => createRevocation({ ...base, kind: 'resume', lifts: id }), new TypeError('"lifts" belongs to a lift, not to a resume')],
    ]
    for (const [make, error] of cases) expect(make).toThrow(error)
    // Scoped revocations and suspensions keep their actions; 32 caveats are allowed.
    expect(createRevocation({ ...base, kind: 'suspend', actions: ['slack:send'] }).actions).toEqual(['slack:send'])
    expect(createAmendment({ ...base, caveats: Array(32).fill(readOnly) }).caveats).toHaveLength(32)
  })

  it('parseRevocation checks an amendment’s caveats as a service will store them', () => {
    const { m } = threeBlocks()
    const amendment = createAmendment({ mandate: m, key: alice, caveats: [readOnly], now: T0, random: seededRandom('a') })
    const withCaveats = (caveats: CborValue[]) => () => parseRevocation(resigned(amendment, (p) => p.set(9, caveats)))
    const actions: CborValue = [1, ['slack:read']]
    const cases: [() => unknown, { code: string; message: string; caveatIndex?: number; hint?: string }][] = [
      [withCaveats(Array(33).fill(actions)), { code: 'ERR_LIMIT_COUNT', message: 'an amendment adds at most 32 caveats' }],
      [
        withCaveats([actions, [1, 'not a list']]),
        { code: 'ERR_CAVEAT_INVALID', message: 'amendment caveat 1: patterns must be a non-empty list', caveatIndex: 1 },
      ],
      [
        withCaveats([actions, actions, [11, 1]]),
        {
          code: 'ERR_CAVEAT_UNKNOWN',
          message: 'amendment caveat 2: unknown caveat type 11',
          caveatIndex: 2,
          hint: "core types are 1–10; an application's own caveat uses a type from 65536",
        },
      ],
      // Decodes, but does not encode again: a window that ends before it starts.
      [
        withCaveats([
          [
            4,
            new Map([
              [0, T0 + 10],
              [1, T0],
            ]),
          ],
        ]),
        {
          code: 'ERR_CAVEAT_INVALID',
          message: 'amendment caveat 0: window caveat: not-before must be earlier than expiry',
          caveatIndex: 0,
        },
      ],
    ]
    for (const [parse, expected] of cases) {
      const e = caught(parse)
      expect({
        code: e.code,
        message: e.message,
        ...(e.caveatIndex === undefined ? {} : { caveatIndex: e.caveatIndex }),
        ...(e.hint === undefined ? {} : { hint: e.hint }),
      }).toEqual(expected)
    }
    // 32 caveats, an extension among them, are accepted as they are.
    const extension: CborValue = [0x10000, 'app']
    const parsed = withCaveats([...Array(31).fill(actions), extension])() as UnverifiedRevocation
    expect(parsed.caveats).toHaveLength(32)
    expect(parsed.caveats[31]).toEqual({ type: 'extension', code: 0x10000, body: 'app' })
  })

  it('a reason or audience is at most 1024 bytes of UTF-8, not 1024 characters: the decoder refuses more', () => {
    const { m } = threeBlocks()
    const honest = createRevocation({ mandate: m, key: alice, now: T0, random: seededRandom('t') })
    for (const [field, name] of [
      [7, 'reason'],
      [8, 'audience'],
    ] as const) {
      for (const [text, bytes] of [
        ['r'.repeat(1025), 1025],
        ['é'.repeat(513), 1026],
      ] as const) {
        const e = caught(() => parseRevocation(resigned(honest, (p) => p.set(field, text))))
        expect(e.code).toBe('ERR_LIMIT_SIZE')
        expect(e.message).toContain(`string of ${bytes} bytes exceeds 1024`)
      }
      expect(parseRevocation(resigned(honest, (p) => p.set(field, 'é'.repeat(512))))[name]).toBe('é'.repeat(512))
    }
  })
})
