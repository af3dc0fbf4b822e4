import { describe, expect, it } from 'vitest'
import type { Caveat } from '../../src/caveats/types.js'
import { type CborValue, encodeCbor } from '../../src/cbor/codec.js'
import { attenuate, formatMandate, keyPairFromSecret, mint, parseMandate, seal, type UnverifiedMandate } from '../../src/index.js'
import { encodeChain } from '../../src/token/chain.js'
import { DEFAULT_MAX_LIFETIME } from '../../src/token/mandate.js'
import { alice, assistant, bearerChild, mallory, pairs, rawChain, rootGrant } from '../helpers/chains.js'
import { caught, fixedDid, seededRandom, T0 } from '../helpers/fixtures.js'

const DAY = 24 * 3600

function bearerRoot(caveats: Caveat[] = [], seed = 'bearer-root'): UnverifiedMandate {
  return mint({
    principal: alice,
    caveats: [...caveats, { type: 'window', expires: T0 + 3600 }],
    now: T0,
    random: seededRandom(seed),
  })
}

describe('parseMandate: structure rejections', () => {
  const chainOf = () => rawChain(pairs(bearerRoot()))

  it('a top level that is not a non-empty array → ERR_FORMAT', () => {
    for (const top of [encodeCbor(1), encodeCbor([])]) {
      expect(caught(() => parseMandate(top))).toMatchObject({ code: 'ERR_FORMAT', message: 'a mandate is [version, chain, proof?]' })
    }
  })

  it('an unsupported version names the value found, or its kind', () => {
    const chain = chainOf()
    const cases: [CborValue, string, Record<string, unknown>][] = [
      [2, '2', { supported: [1], found: 2 }],
      [true, 'true', { supported: [1] }],
      ['1', '"1"', { supported: [1] }],
      [new Uint8Array([1]), 'of another type', { supported: [1] }],
      [[1], 'of another type', { supported: [1] }],
    ]
    for (const [version, shown, details] of cases) {
      const e = caught(() => parseMandate(encodeCbor([version, chain])))
      expect(e.code).toBe('ERR_VERSION')
      expect(e.message).toBe(`unsupported mandate version ${shown}; this library reads 1`)
      expect(e.details).toEqual(details)
    }
  })

  it('too many or too few elements → ERR_FORMAT with the reason', () => {
    const chain = chainOf()
    expect(caught(() => parseMandate(encodeCbor([1, chain, new Uint8Array(32), 'x'])))).toMatchObject({
      code: 'ERR_FORMAT',
      message: 'a mandate is [version, chain, proof?]: unknown element 3',
    })
    expect(caught(() => parseMandate(encodeCbor([1])))).toMatchObject({
      code: 'ERR_FORMAT',
      message: 'a mandate is [version, chain, proof?]: the chain is missing',
    })
  })

  it('a chain that is not [principal, block+] → ERR_FORMAT', () => {
    const chain = chainOf()
    for (const bad of [7, [alice.publicKey]]) {
      expect(caught(() => parseMandate(encodeCbor([1, bad as CborValue])))).toMatchObject({
        code: 'ERR_FORMAT',
        message: 'a chain is [principal, block+]',
      })
    }
    for (const principal of [alice.publicKey.subarray(0, 31), 'alice']) {
      expect(caught(() => parseMandate(encodeCbor([1, [principal, ...chain.slice(1)]])))).toMatchObject({
        code: 'ERR_FORMAT',
        message: 'a chain starts with its 32-byte principal key',
      })
    }
  })

  it('a chain of 17 blocks → ERR_CHAIN_DEPTH before any block is read', () => {
    const chain = chainOf()
    const blocks = Array.from({ length: 17 }, () => chain[1] as CborValue)
    expect(caught(() => parseMandate(encodeCbor([1, [alice.publicKey, ...blocks]])))).toMatchObject({
      code: 'ERR_CHAIN_DEPTH',
      message: 'chain of 17 blocks exceeds 16',
    })
  })

  it('a proof that is not a byte string, or of the wrong length', () => {
    const chain = chainOf()
    expect(caught(() => parseMandate(encodeCbor([1, chain, 'secret'])))).toMatchObject({
      code: 'ERR_FORMAT',
      message: 'the proof is a byte string',
    })
    for (const n of [0, 31, 33, 63, 65]) {
      expect(caught(() => parseMandate(encodeCbor([1, chain, new Uint8Array(n)])))).toMatchObject({
        code: 'ERR_PROOF',
        message: `a proof of ${n} bytes: a bearer secret is 32 bytes, a seal 64`,
      })
    }
  })

  it('an oversized mandate names its size and the limit', () => {
    expect(caught(() => parseMandate(new Uint8Array(16 * 1024 + 1)))).toMatchObject({
      code: 'ERR_LIMIT_SIZE',
      message: 'mandate of 16385 bytes exceeds 16384',
    })
  })
})

describe('mint: the root lifetime', () => {
  const mintWith = (caveats: Caveat[], extra: { maxLifetime?: number } = {}) =>
    mint({ principal: alice, caveats, now: T0, random: seededRandom('lifetime'), ...extra })

  it('without an expiry → ERR_TIME_INVALID with a hint', () => {
    for (const caveats of [[], [{ type: 'window', notBefore: T0 } as Caveat]]) {
      expect(caught(() => mintWith(caveats))).toMatchObject({
        code: 'ERR_TIME_INVALID',
        message: 'a root mandate must carry an expiry',
        hint: 'add a window caveat with `expires` (CLI: --expires 8h)',
      })
    }
    expect(caught(() => mint({ principal: alice, now: T0 }))).toMatchObject({
      code: 'ERR_TIME_INVALID',
      message: 'a root mandate must carry an expiry',
    })
  })

  it('the default maximum is 90 days, inclusive', () => {
    expect(DEFAULT_MAX_LIFETIME).toBe(90 * DAY)
    expect(mintWith([{ type: 'window', expires: T0 + 90 * DAY }]).blocks).toHaveLength(1)
    expect(caught(() => mintWith([{ type: 'window', expires: T0 + 90 * DAY + 1 }]))).toMatchObject({
      code: 'ERR_TIME_INVALID',
      message: `root lifetime ${90 * DAY + 1}s exceeds the maximum of ${90 * DAY}s`,
    })
  })

  it('an explicit maximum applies on both sides', () => {
    expect(mintWith([{ type: 'window', expires: T0 + 3600 }], { maxLifetime: 3600 }).blocks).toHaveLength(1)
    expect(caught(() => mintWith([{ type: 'window', expires: T0 + 3601 }], { maxLifetime: 3600 }))).toMatchObject({
      code: 'ERR_TIME_INVALID',
      message: 'root lifetime 3601s exceeds the maximum of 3600s',
    })
  })

  it("only a window's times count: expires or notBefore on another caveat object (a JavaScript caller's slip) is ignored", () => {
    const tooLong = { type: 'window', expires: T0 + 90 * DAY + 1 } as Caveat
    const lifetimeError = { code: 'ERR_TIME_INVALID', message: `root lifetime ${90 * DAY + 1}s exceeds the maximum of ${90 * DAY}s` }
    const stray = (extra: object) => ({ type: 'actions', patterns: ['mail:read'], ...extra }) as Caveat
    expect(caught(() => mintWith([stray({ expires: T0 + 10 }), tooLong]))).toMatchObject(lifetimeError)
    expect(caught(() => mintWith([stray({ notBefore: T0 + 89 * DAY }), tooLong]))).toMatchObject(lifetimeError)
  })

  it('the earliest expiry of several windows counts', () => {
    const m = mintWith([
      { type: 'window', expires: T0 + 3600 },
      { type: 'window', expires: T0 + 200 * DAY },
    ])
    expect(m.blocks[0]?.caveats).toHaveLength(2)
  })

  it('the lifetime is measured from the latest not-before, not from now', () => {
    const ok = mintWith([{ type: 'window', notBefore: T0 + 10 * DAY, expires: T0 + 95 * DAY }])
    expect(ok.blocks).toHaveLength(1)
    expect(caught(() => mintWith([{ type: 'window', notBefore: T0 + 10 * DAY, expires: T0 + 101 * DAY }]))).toMatchObject({
      code: 'ERR_TIME_INVALID',
      message: `root lifetime ${91 * DAY}s exceeds the maximum of ${90 * DAY}s`,
    })
  })
})

describe('mint and attenuate: holders, proofs and options', () => {
  it('without `to` the mandate is bearer and carries the random secret; with `to` it is bound', () => {
    const secret = seededRandom('bearer-root')(32)
    const m = bearerRoot()
    expect(m.proof).toEqual({ kind: 'bearer', secret })
    expect(m.blocks[0]?.bearer).toBe(true)
    const bound = rootGrant()
    expect(bound.proof).toEqual({ kind: 'bound' })
    expect(bound.blocks[0]?.bearer).toBe(false)
  })

  it('`to` may be given as public key bytes, and must be 32 of them', () => {
    const caveats: Caveat[] = [{ type: 'window', expires: T0 + 3600 }]
    const m = mint({ principal: alice, to: assistant.publicKey, caveats, now: T0, random: seededRandom('to') })
    expect(m.blocks[0]?.holder).toEqual(assistant.publicKey)
    expect(m.proof.kind).toBe('bound')
    expect(() => mint({ principal: alice, to: assistant.publicKey.subarray(0, 31), caveats, now: T0 })).toThrow(
      new RangeError('"to" expected 32 bytes, got 31'),
    )
  })

  it('randomness of the wrong length is refused, naming the call', () => {
    const caveats: Caveat[] = [{ type: 'window', expires: T0 + 3600 }]
    const short = () => new Uint8Array(8)
    expect(() => mint({ principal: alice, caveats, now: T0, random: short })).toThrow(
      new RangeError('"random(32)" expected 32 bytes, got 8'),
    )
    expect(() => mint({ principal: alice, to: fixedDid('assistant'), caveats, now: T0, random: short })).toThrow(
      new RangeError('"random(16)" expected 16 bytes, got 8'),
    )
  })

  it('a principal or key that is not a key pair is a TypeError naming the option', () => {
    const caveats: Caveat[] = [{ type: 'window', expires: T0 + 3600 }]
    expect(() => mint({ principal: 'alice' as never, caveats, now: T0 })).toThrow(
      new TypeError('"principal" expected a key pair or a 32-byte secret key'),
    )
    expect(() => mint({ principal: { publicKey: alice.publicKey } as never, caveats, now: T0 })).toThrow(
      new TypeError('"principal" expected a key pair or a 32-byte secret key'),
    )
    expect(() => attenuate(rootGrant(), { key: assistant.secretKey.subarray(0, 16) })).toThrow(
      new RangeError('"key" expected 32 bytes, got 16'),
    )
    // a bare 32-byte secret works as a key
    expect(attenuate(rootGrant(), { key: assistant.secretKey, now: T0, random: seededRandom('k') }).blocks).toHaveLength(2)
  })

  it('name and purpose: strings of at most 1024 UTF-8 bytes', () => {
    const caveats: Caveat[] = [{ type: 'window', expires: T0 + 3600 }]
    const base = { principal: alice, caveats, now: T0, random: seededRandom('text') }
    for (const what of ['name', 'purpose'] as const) {
      expect(mint({ ...base, [what]: 'é'.repeat(512) }).blocks[0]?.[what]).toBe('é'.repeat(512))
      expect(caught(() => mint({ ...base, [what]: `${'é'.repeat(512)}x` }))).toMatchObject({
        code: 'ERR_LIMIT_SIZE',
        message: `${what} exceeds 1024 bytes`,
      })
      expect(() => mint({ ...base, [what]: 42 as never })).toThrow(new TypeError(`"${what}" expected string`))
    }
  })

  it('at most 32 caveats per block', () => {
    const actions = (n: number): Caveat[] => Array.from({ length: n }, (_, i) => ({ type: 'actions', patterns: [`a${i}`] }))
    expect(bearerRoot(actions(31)).blocks[0]?.caveats).toHaveLength(32)
    expect(caught(() => bearerRoot(actions(32)))).toMatchObject({ code: 'ERR_LIMIT_COUNT', message: 'at most 32 caveats per block' })
  })

  it('caveats that are not a list of caveat objects: a TypeError saying so, at the root and below it', () => {
    const noObject = new TypeError('a caveat expected an object with a "type" (actions, resources, window, uses, …)')
    expect(() => bearerRoot([null as never])).toThrow(noObject)
    expect(() => attenuate(bearerRoot(), { caveats: [undefined as never], now: T0 })).toThrow(noObject)
    expect(() => attenuate(bearerRoot(), { caveats: 'actions' as never, now: T0 })).toThrow(
      new TypeError('"caveats" expected a list of caveats'),
    )
    expect(() => mint({ principal: alice, caveats: 'window' as never, now: T0 })).toThrow(
      new TypeError('"caveats" expected a list of caveats'),
    )
  })

  it('a bound caveat without `to` is refused at its own block', () => {
    const e = caught(() => bearerRoot([{ type: 'bound' }]))
    expect(e).toMatchObject({
      code: 'ERR_BOUND_REQUIRED',
      message: 'block 0 carries a bound caveat, so its own holder must be bound too',
      block: 0,
      caveat: 'bound',
      hint: 'name the holder with `to` (CLI: --to did:key:…)',
    })
    const child = caught(() => attenuate(bearerRoot(), { caveats: [{ type: 'bound' }], now: T0 }))
    expect(child).toMatchObject({ code: 'ERR_BOUND_REQUIRED', block: 1, caveat: 'bound' })
    expect(child.message).toBe('block 1 carries a bound caveat, so its own holder must be bound too')
  })
})

describe('attenuate: depth and holder rules', () => {
  it('a chain holds at most 16 blocks', () => {
    let m = bearerRoot()
    for (let i = 1; i < 16; i++) m = attenuate(m, { now: T0, random: seededRandom(`depth${i}`) })
    expect(m.blocks).toHaveLength(16)
    expect(caught(() => attenuate(m, { now: T0 }))).toMatchObject({
      code: 'ERR_CHAIN_DEPTH',
      message: 'a chain holds at most 16 blocks',
    })
  })

  it('a depth caveat limits the blocks below its own, naming the block', () => {
    const root = bearerRoot([{ type: 'depth', max: 1 }])
    const child = attenuate(root, { now: T0, random: seededRandom('d1') })
    expect(child.blocks).toHaveLength(2)
    expect(caught(() => attenuate(child, { now: T0 }))).toMatchObject({
      code: 'ERR_CHAIN_DEPTH',
      message: 'block 0 allows at most 1 further block(s)',
      block: 0,
      caveat: 'depth',
    })
  })

  it('below a bound caveat every holder must be named', () => {
    const root = rootGrant([{ type: 'bound' }])
    expect(caught(() => attenuate(root, { key: assistant, now: T0 }))).toMatchObject({
      code: 'ERR_BOUND_REQUIRED',
      message: 'block 0 requires bound holders below it',
      block: 0,
      caveat: 'bound',
      hint: 'name the next holder with `to` (CLI: --to did:key:…)',
    })
    const child = attenuate(root, { key: assistant, to: fixedDid('subagent'), now: T0, random: seededRandom('b') })
    expect(child.blocks).toHaveLength(2)
  })

  it('a bound mandate needs its holder key, and only that key', () => {
    expect(caught(() => attenuate(rootGrant(), { now: T0 }))).toMatchObject({
      code: 'ERR_HOLDER_MISMATCH',
      message: 'this mandate is bound to a holder key, which is needed here',
      hint: 'pass the holder key (CLI: --key FILE)',
    })
    expect(caught(() => attenuate(rootGrant(), { key: mallory, now: T0 }))).toMatchObject({
      code: 'ERR_HOLDER_MISMATCH',
      message: 'the key given is not the holder of this mandate',
      hint: 'use the key the mandate was granted to',
    })
  })

  it("a bearer mandate signs with the secret it carries: a key given with it must be its holder's", () => {
    const child = bearerChild([{ type: 'actions', patterns: ['email:read'] }])
    expect(caught(() => attenuate(child, { key: assistant, now: T0 }))).toMatchObject({
      code: 'ERR_HOLDER_MISMATCH',
      message: 'the key given is not the holder of this mandate',
      hint: 'use the key the mandate was granted to',
    })
    expect(() => attenuate(child, { key: null as never, now: T0 })).toThrow(
      new TypeError('"key" expected a key pair or a 32-byte secret key'),
    )
    if (child.proof.kind !== 'bearer') throw new Error('a bearer child')
    // The holder's own key, as a pair or a bare secret, signs the same block as no key at all.
    const holder = keyPairFromSecret(child.proof.secret)
    const without = formatMandate(attenuate(child, { now: T0, random: seededRandom('grandchild') }))
    expect(formatMandate(attenuate(child, { key: holder, now: T0, random: seededRandom('grandchild') }))).toBe(without)
    expect(formatMandate(attenuate(child, { key: child.proof.secret, now: T0, random: seededRandom('grandchild') }))).toBe(without)
  })

  it('a sealed mandate cannot be attenuated or resealed', () => {
    const sealed = seal(bearerRoot())
    for (const f of [() => attenuate(sealed, { now: T0 }), () => seal(sealed)]) {
      expect(caught(f)).toMatchObject({
        code: 'ERR_SEALED',
        message: 'this mandate is sealed and cannot be attenuated or resealed',
        hint: 'ask the holder above for an unsealed mandate',
      })
    }
  })

  it('a mandate without blocks is a TypeError', () => {
    const empty = { version: 1, blocks: [], proof: { kind: 'bound' }, bytes: new Uint8Array() } as UnverifiedMandate
    expect(() => attenuate(empty, {})).toThrow(new TypeError('"mandate" has no blocks'))
    expect(() => encodeChain([])).toThrow(new TypeError('"chain" expected block 0 with its principal'))
  })
})

describe('the encoded size limit', () => {
  it('a mandate may reach 16384 bytes but not exceed them', () => {
    const big = { name: 'n'.repeat(1000), purpose: 'p'.repeat(1000) }
    let m = mint({ principal: alice, caveats: [{ type: 'window', expires: T0 + 3600 }], now: T0, random: seededRandom('size0'), ...big })
    for (let i = 1; i < 7; i++) m = attenuate(m, { now: T0, random: seededRandom(`size${i}`), ...big })
    const last = (purpose: number) => attenuate(m, { now: T0, random: seededRandom('last'), name: big.name, purpose: 'p'.repeat(purpose) })
    expect(last(360).bytes).toHaveLength(16 * 1024)
    expect(parseMandate(last(360).bytes).blocks).toHaveLength(8)
    expect(caught(() => last(361))).toMatchObject({ code: 'ERR_LIMIT_SIZE', message: 'mandate would exceed 16384 bytes' })
  })
})

describe('seal', () => {
  it('refuses a bound mandate, naming its last block', () => {
    const child = attenuate(rootGrant(), { key: assistant, to: fixedDid('subagent'), now: T0, random: seededRandom('s') })
    expect(caught(() => seal(child))).toMatchObject({
      code: 'ERR_PROOF',
      message: 'only a bearer mandate can be sealed; this one is bound to its holder key',
      block: 1,
      hint: 'present it in an invocation signed by the holder key, or attenuate it to a bearer child and seal that',
    })
  })
})
