/**
 * Chain, time and presentation at token level: links, holders and proofs, signatures, limits
 * and the clock (spec §4, §5, §7). Labels such as K1 in test names are rows of the project's security checklist, an external
 * document not in this repository: informative (spec/mandate-v1.md §10.1).
 */
import { describe, expect, it } from 'vitest'
import type { Caveat } from '../../src/caveats/types.js'
import type { CborValue } from '../../src/cbor/codec.js'
import { encodeCbor } from '../../src/cbor/codec.js'
import { getBackend } from '../../src/crypto/ed25519.js'
import { toDidKey } from '../../src/crypto/keys.js'
import { bytesToNumberLE, L } from '../../src/crypto/profile.js'
import {
  attenuate,
  type Decision,
  formatMandate,
  invoke,
  keyPairFromSecret,
  mint,
  parseMandate,
  seal,
  type UnverifiedMandate,
  type VerifierOptions,
} from '../../src/index.js'
import { concatBytes } from '../../src/internal/bytes.js'
import { checkPresentation } from '../../src/token/integrity.js'
import { blockSigningInput, signingInput } from '../../src/token/signing.js'
import {
  alice,
  aliceDid,
  assistant,
  bearerChild,
  codeOf,
  denial,
  mallory,
  pairAt,
  pairs,
  rawChain,
  rawMandate,
  rawPayload,
  rawSigned,
  rootGrant,
  signRaw,
  verifierFor,
} from '../helpers/chains.js'
import { keyFor, seededRandom, T0, thrownCode } from '../helpers/fixtures.js'

const read = { action: 'slack:read' }

/** root (bound to assistant) → bearer b1 → bearer b2 */
function threeBlocks() {
  const b1 = bearerChild([{ type: 'actions', patterns: ['slack:*'] }])
  return attenuate(b1, { caveats: [{ type: 'actions', patterns: ['slack:read'] }], now: T0, random: seededRandom('b2') })
}

describe('chain structure', () => {
  it('a valid three-block bearer chain is allowed', async () => {
    expect(codeOf(await verifierFor().authorize({ mandate: threeBlocks(), request: read }))).toBe('allowed')
  })

  it('K1: reordered blocks → ERR_SIG_INVALID at the first block out of place', async () => {
    const m = threeBlocks()
    const [b0, b1, b2] = [pairAt(m, 0), pairAt(m, 1), pairAt(m, 2)]
    const bytes = rawMandate([b0, b2, b1], m.proof)
    const d = denial(await verifierFor().authorize({ mandate: bytes, request: read }))
    expect(d.code).toBe('ERR_SIG_INVALID')
    expect(d.block).toBe(1)
  })

  it('K2: a block spliced from a sibling token → ERR_SIG_INVALID at that block', async () => {
    const x = threeBlocks()
    const y = bearerChild([{ type: 'actions', patterns: ['slack:read', 'slack:send'] }])
    expect(pairAt(y, 0)).toEqual(pairAt(x, 0))
    const bytes = rawMandate([...pairs(y), pairAt(x, 2)], x.proof)
    const d = denial(await verifierFor().authorize({ mandate: bytes, request: read }))
    expect([d.code, d.block]).toEqual(['ERR_SIG_INVALID', 2])
  })

  it('K2: a block spliced from another chain under the same holder key → ERR_SIG_INVALID at that block', async () => {
    // Two grants from Alice to the same assistant key; the assistant attenuates each.
    const grantA = rootGrant([{ type: 'actions', patterns: ['slack:read'] }])
    const grantB = rootGrant([{ type: 'actions', patterns: ['*'] }])
    expect(grantA.blocks[0]?.holder).toEqual(grantB.blocks[0]?.holder)
    const childA = attenuate(grantA, { key: assistant, now: T0, random: seededRandom('splice/a') })
    const childB = attenuate(grantB, { key: assistant, now: T0, random: seededRandom('splice/b') })
    // Genuine: both allowed.
    expect(codeOf(await verifierFor().authorize({ mandate: childA, request: read }))).toBe('allowed')
    expect(codeOf(await verifierFor().authorize({ mandate: childB, request: { action: 'email:send' } }))).toBe('allowed')
    // Child A's block is signed by the right key (the assistant holds block 0 of both), but it
    // binds grant A's id: under grant B it no longer verifies.
    const spliced = rawMandate([pairAt(grantB, 0), pairAt(childA, 1)], childA.proof)
    const d = denial(await verifierFor().authorize({ mandate: spliced, request: read }))
    expect([d.code, d.block]).toEqual(['ERR_SIG_INVALID', 1])
    // and one level deeper: the grandchild of A under B's child (same bearer holder key) also fails
    const deepA = attenuate(childA, { now: T0, random: seededRandom('splice/a2') })
    if (childA.proof.kind !== 'bearer') throw new Error('unreachable')
    const secretA = childA.proof.secret
    const childB2 = attenuate(grantB, { key: assistant, now: T0, random: () => secretA })
    expect(childB2.blocks[1]?.holder).toEqual(childA.blocks[1]?.holder)
    const deep = rawMandate([...pairs(childB2), pairAt(deepA, 2)], deepA.proof)
    const e = denial(await verifierFor().authorize({ mandate: deep, request: read }))
    expect([e.code, e.block]).toEqual(['ERR_SIG_INVALID', 2])
  })

  it('K3: dropping the last block to regain rights → ERR_PROOF', async () => {
    const m = threeBlocks()
    const bytes = rawMandate(pairs(m).slice(0, 2), m.proof)
    const d = denial(await verifierFor().authorize({ mandate: bytes, request: { action: 'slack:send' } }))
    expect(d.code).toBe('ERR_PROOF')
    expect(d.block).toBe(1)
    // dropping down to the bound root: its holder is bound, yet a secret travels along
    expect(codeOf(await verifierFor().authorize({ mandate: rawMandate(pairs(m).slice(0, 1), m.proof), request: read }))).toBe('ERR_PROOF')
  })

  it('K4: a duplicated block → ERR_SIG_INVALID at the copy; a non-root block in first position → ERR_SIG_INVALID at block 0', async () => {
    const m = threeBlocks()
    const [b0, b1, b2] = [pairAt(m, 0), pairAt(m, 1), pairAt(m, 2)]
    const dup = denial(await verifierFor().authorize({ mandate: rawMandate([b0, b1, b1, b2], m.proof), request: read }))
    expect([dup.code, dup.block]).toEqual(['ERR_SIG_INVALID', 2])
    const first = denial(await verifierFor().authorize({ mandate: rawMandate([b1, b2], m.proof), request: read }))
    expect([first.code, first.block]).toEqual(['ERR_SIG_INVALID', 0])
  })

  it('K4: a non-root block presented as a root under the key that signed it → ERR_SIG_INVALID at block 0', async () => {
    const m = threeBlocks()
    const [b1, b2] = [pairAt(m, 1), pairAt(m, 2)]
    // Block 1 was signed by the assistant (the holder of block 0), over block 0's id: as a
    // root, its signing input has an empty parent, so even with the assistant trusted as a
    // root it does not verify.
    const asRoot = rawMandate([b1, b2], m.proof, 1, assistant.publicKey)
    const v = verifierFor({ roots: [aliceDid, toDidKey(assistant.publicKey)] })
    const d = denial(await v.authorize({ mandate: asRoot, request: read }))
    expect([d.code, d.block]).toEqual(['ERR_SIG_INVALID', 0])
    expect(thrownCode(() => checkPresentation(asRoot))).toBe('ERR_SIG_INVALID')
    // exactly [holder key, that block], with the block's own bearer secret: the signer and the
    // proof are right, only the (empty) parent differs
    const child = bearerChild([{ type: 'actions', patterns: ['slack:*'] }])
    const alone = rawMandate([pairAt(child, 1)], child.proof, 1, assistant.publicKey)
    const e = denial(await v.authorize({ mandate: alone, request: read }))
    expect([e.code, e.block]).toEqual(['ERR_SIG_INVALID', 0])
    // with the assistant trusted as a root too, the genuine chain is still allowed
    expect(codeOf(await v.authorize({ mandate: m, request: read }))).toBe('allowed')
  })

  it('K5: 16 blocks are fine, a 17th is refused by attenuate and by the verifier (ERR_CHAIN_DEPTH)', async () => {
    let m = bearerChild([])
    for (let i = 2; i < 16; i++) m = attenuate(m, { now: T0, random: seededRandom(`deep${i}`) })
    expect(m.blocks).toHaveLength(16)
    expect(codeOf(await verifierFor().authorize({ mandate: m, request: read }))).toBe('allowed')
    expect(thrownCode(() => attenuate(m, { now: T0 }))).toBe('ERR_CHAIN_DEPTH')
    const extra = pairAt(m, 15)
    const bytes = rawMandate([...pairs(m), extra], m.proof)
    expect(codeOf(await verifierFor().authorize({ mandate: bytes, request: read }))).toBe('ERR_CHAIN_DEPTH')
  })

  it('S9: a root signed by a key outside the trust set → ERR_ROOT_UNTRUSTED', async () => {
    const foreign = mint({ principal: mallory, caveats: [{ type: 'window', expires: T0 + 3600 }], now: T0 })
    const d = denial(await verifierFor().authorize({ mandate: foreign, request: read }))
    expect(d.code).toBe('ERR_ROOT_UNTRUSTED')
    expect(d.block).toBe(0)
    expect(d.hint).toContain('--root')
  })

  it("S9: mallory's block 0 in a chain naming Alice as principal → ERR_SIG_INVALID at block 0", async () => {
    const forged = signRaw(rawPayload([[4, new Map([[1, T0 + 3600]])]], mallory.publicKey, { bearer: true }), mallory)
    const bytes = rawMandate([forged], { kind: 'bearer', secret: mallory.secretKey })
    const d = denial(await verifierFor().authorize({ mandate: bytes, request: read }))
    expect([d.code, d.block]).toEqual(['ERR_SIG_INVALID', 0])
    // the same block under her own key is genuine, and merely untrusted
    const own = rawMandate([forged], { kind: 'bearer', secret: mallory.secretKey }, 1, mallory.publicKey)
    expect(codeOf(await verifierFor().authorize({ mandate: own, request: read }))).toBe('ERR_ROOT_UNTRUSTED')
  })

  it('S4: S + L on a block signature → ERR_SIG_SCALAR (the block id cannot be changed)', async () => {
    const m = bearerChild([])
    const [b0, b1] = [pairAt(m, 0), pairAt(m, 1)]
    const sig = b1[1]
    const s = bytesToNumberLE(sig.subarray(32)) + L
    const le = new Uint8Array(32)
    for (let i = 0; i < 32; i++) le[i] = Number((s >> BigInt(8 * i)) & 0xffn)
    const bytes = rawMandate([b0, [b1[0], concatBytes(sig.subarray(0, 32), le)]], m.proof)
    expect(codeOf(await verifierFor().authorize({ mandate: bytes, request: read }))).toBe('ERR_SIG_SCALAR')
  })

  it('S8: every single-bit flip of a block signature is rejected with a signature code', async () => {
    const m = bearerChild([])
    const [b0, b1] = [pairAt(m, 0), pairAt(m, 1)]
    const v = verifierFor()
    const codes = new Set<string>()
    for (let bit = 0; bit < 512; bit++) {
      const sig = new Uint8Array(b1[1])
      sig[bit >> 3] = (sig[bit >> 3] as number) ^ (1 << (bit & 7))
      const code = codeOf(await v.authorize({ mandate: rawMandate([b0, [b1[0], sig]], m.proof), request: read }))
      codes.add(code)
    }
    expect([...codes].every((c) => ['ERR_SIG_INVALID', 'ERR_SIG_ENCODING', 'ERR_SIG_SCALAR', 'ERR_KEY_WEAK'].includes(c))).toBe(true)
    expect(codes.has('ERR_SIG_INVALID')).toBe(true)
  })

  it("S8: every single-bit flip of a block's next-holder key is rejected (ERR_SIG_INVALID)", async () => {
    const m = bearerChild([])
    const [b0, b1] = [pairAt(m, 0), pairAt(m, 1)]
    const holderAt = Buffer.from(b0[0]).indexOf(Buffer.from(assistant.publicKey))
    expect(holderAt).toBeGreaterThan(0)
    const v = verifierFor()
    for (let bit = 0; bit < 256; bit++) {
      const payload = new Uint8Array(b0[0])
      const i = holderAt + (bit >> 3)
      payload[i] = (payload[i] as number) ^ (1 << (bit & 7))
      expect(codeOf(await v.authorize({ mandate: rawMandate([[payload, b0[1]], b1], m.proof), request: read }))).toBe('ERR_SIG_INVALID')
    }
  })
})

describe('time (K7, K8, K13)', () => {
  it('K7: a root without expiry: mint refuses, the verifier denies (ERR_TIME_INVALID)', async () => {
    expect(thrownCode(() => mint({ principal: alice, caveats: [{ type: 'actions', patterns: ['*'] }] }))).toBe('ERR_TIME_INVALID')
    const raw = signRaw(rawPayload([[1, ['*']]], keyFor('bearer').publicKey, { bearer: true }), alice)
    const bytes = rawMandate([raw], { kind: 'bearer', secret: keyFor('bearer').secretKey })
    const d = denial(await verifierFor().authorize({ mandate: bytes, request: read }))
    expect(d.code).toBe('ERR_TIME_INVALID')
    expect(d.block).toBe(0)
  })

  it('K7: not-before after expiry → ERR_TIME_INVALID (mint and verifier)', async () => {
    expect(thrownCode(() => rootGrant([{ type: 'window', notBefore: T0 + 100, expires: T0 + 50 }]))).toBe('ERR_TIME_INVALID')
    const bearer = keyFor('bearer')
    const raw = signRaw(
      rawPayload(
        [
          [
            4,
            new Map([
              [0, T0 + 100],
              [1, T0 + 50],
            ]),
          ],
        ],
        bearer.publicKey,
        { bearer: true },
      ),
      alice,
    )
    expect(
      codeOf(await verifierFor().authorize({ mandate: rawMandate([raw], { kind: 'bearer', secret: bearer.secretKey }), request: read })),
    ).toBe('ERR_TIME_INVALID')
  })

  it('K7: a lifetime beyond the maximum → ERR_TIME_INVALID', async () => {
    expect(thrownCode(() => mint({ principal: alice, caveats: [{ type: 'window', expires: T0 + 91 * 86400 }], now: T0 }))).toBe(
      'ERR_TIME_INVALID',
    )
    const m = bearerChild([])
    expect(codeOf(await verifierFor({ limits: { maxLifetime: 3600 } }).authorize({ mandate: m, request: read }))).toBe('ERR_TIME_INVALID')
  })

  it('K7: a child window entirely outside its parent → ERR_TIME_INVALID', async () => {
    const m = bearerChild([{ type: 'window', notBefore: T0 + 9 * 3600, expires: T0 + 10 * 3600 }])
    const d = denial(await verifierFor().authorize({ mandate: m, request: read }))
    expect(d.code).toBe('ERR_TIME_INVALID')
  })

  it('K8: boundaries with skew 60 (nbf inclusive, exp exclusive)', async () => {
    const nbf = T0 + 1000
    const exp = T0 + 2000
    const m = bearerChild([{ type: 'window', notBefore: nbf, expires: exp }])
    const v = verifierFor({ skew: 60 })
    const at = async (t: number) => {
      v.at(t)
      return codeOf(await v.authorize({ mandate: m, request: read }))
    }
    expect(await at(nbf - 61)).toBe('ERR_TIME_NOT_YET')
    expect(await at(nbf - 60)).toBe('allowed')
    expect(await at(exp + 59)).toBe('allowed')
    expect(await at(exp + 60)).toBe('ERR_TIME_EXPIRED')
  })

  it('K6: a later child expiry does not extend the parent (ERR_TIME_EXPIRED)', async () => {
    const m = bearerChild([{ type: 'window', expires: T0 + 9 * 3600 }])
    const v = verifierFor({ skew: 0 })
    v.at(T0 + 8 * 3600)
    const d = denial(await v.authorize({ mandate: m, request: read }))
    expect(d.code).toBe('ERR_TIME_EXPIRED')
    expect(d.block).toBe(0)
  })

  it('K13: counter and window extremes → ERR_CAVEAT_INVALID', async () => {
    expect(thrownCode(() => bearerChild([{ type: 'uses', max: 2 ** 32 }]))).toBe('ERR_CAVEAT_INVALID')
    expect(thrownCode(() => bearerChild([{ type: 'uses', max: 0 }]))).toBe('ERR_CAVEAT_INVALID')
    expect(thrownCode(() => bearerChild([{ type: 'uses', max: 5, per: 0 }]))).toBe('ERR_CAVEAT_INVALID')
    expect(thrownCode(() => bearerChild([{ type: 'uses', max: -1 }]))).toBe('ERR_CAVEAT_INVALID')
    const bearer = keyFor('bearer')
    for (const body of [
      new Map([[0, 2 ** 32]]),
      new Map([
        [0, 5],
        [1, 0],
      ]),
      new Map([[0, -1]]),
      new Map([
        [0, 1],
        [9, 1],
      ]),
    ]) {
      const raw = signRaw(
        rawPayload(
          [
            [5, body],
            [4, new Map([[1, T0 + 3600]])],
          ],
          bearer.publicKey,
          { bearer: true },
        ),
        alice,
      )
      const d = denial(
        await verifierFor().authorize({ mandate: rawMandate([raw], { kind: 'bearer', secret: bearer.secretKey }), request: read }),
      )
      expect(d.code).toBe('ERR_CAVEAT_INVALID')
      // Named by its type number (spec §6): a malformed uses caveat is reported as `uses`.
      expect(d.caveat).toBe('uses')
    }
  })

  it('K9: negative or oversized time fields → ERR_CAVEAT_INVALID / ERR_CBOR_TYPE', async () => {
    const bearer = keyFor('bearer')
    const neg = signRaw(rawPayload([[4, new Map([[1, -5]])]], bearer.publicKey, { bearer: true }), alice)
    expect(
      codeOf(await verifierFor().authorize({ mandate: rawMandate([neg], { kind: 'bearer', secret: bearer.secretKey }), request: read })),
    ).toBe('ERR_CAVEAT_INVALID')
    // expires encoded as 2^53 (beyond the profile) inside the signed payload
    const ok = signRaw(rawPayload([[4, new Map([[1, T0 + 3600]])]], bearer.publicKey, { bearer: true }), alice)
    const hexPayload = Buffer.from(ok[0]).toString('hex')
    const bigger = hexPayload.replace(`1a${(T0 + 3600).toString(16)}`, '1b0020000000000000')
    expect(bigger).not.toBe(hexPayload)
    const bytes = rawMandate([[Buffer.from(bigger, 'hex'), ok[1]]], { kind: 'bearer', secret: bearer.secretKey })
    expect(codeOf(await verifierFor().authorize({ mandate: bytes, request: read }))).toBe('ERR_CBOR_TYPE')
  })
})

describe('time: issued_at, lifetime, which window is reported', () => {
  const DAY = 86_400
  /** rootGrant() (issued T0) → a bearer child issued at `issuedAt`. */
  const childAt = (issuedAt: number, caveats: Caveat[] = []) =>
    attenuate(rootGrant(), { key: assistant, caveats, now: issuedAt, random: seededRandom(`child-at:${issuedAt}`) })
  /** A bearer root issued at `now` with exactly `caveats`. */
  const bearerRootAt = (now: number, caveats: Caveat[]) =>
    mint({ principal: alice, caveats, now, random: seededRandom(`bearer-at:${now}:${JSON.stringify(caveats)}`) })
  /** `m` plus a raw bearer block with raw caveats, signed by `m`'s bearer holder. */
  function withRawBlock(m: UnverifiedMandate, caveats: CborValue[]): Uint8Array {
    const last = m.blocks[m.blocks.length - 1]
    if (!last || m.proof.kind !== 'bearer') throw new Error('a bearer mandate is needed')
    const next = keyFor('raw-next')
    const payload = rawPayload(caveats, next.publicKey, { bearer: true })
    return rawMandate([...pairs(m), signRaw(payload, keyPairFromSecret(m.proof.secret), last.id)], {
      kind: 'bearer',
      secret: next.secretKey,
    })
  }
  async function decide(mandate: UnverifiedMandate | Uint8Array, t: number, options: Partial<VerifierOptions> = {}) {
    const v = verifierFor(options)
    v.at(t)
    return v.authorize({ mandate, request: read })
  }
  const where = (d: Decision) => {
    const x = denial(d)
    return { code: x.code, block: x.block, caveat: x.caveat, caveatIndex: x.caveatIndex }
  }
  const invalidAt = (block: number, caveat?: string, caveatIndex?: number) => ({ code: 'ERR_TIME_INVALID', block, caveat, caveatIndex })

  it('a block issued after now + skew → ERR_TIME_INVALID at that block, with no caveat; at now + skew it is accepted', async () => {
    const m = bearerChild([])
    expect(codeOf(await decide(m, T0 - 60))).toBe('allowed')
    expect(where(await decide(m, T0 - 61))).toEqual(invalidAt(0))
    const later = childAt(T0 + 1000)
    expect(codeOf(await decide(later, T0 + 940))).toBe('allowed')
    expect(where(await decide(later, T0 + 939))).toEqual(invalidAt(1))
    expect(codeOf(await decide(later, T0 + 1000, { skew: 0 }))).toBe('allowed')
    expect(where(await decide(later, T0 + 999, { skew: 0 }))).toEqual(invalidAt(1))
  })

  it('the first future block in chain order is reported', async () => {
    expect(where(await decide(childAt(T0 + 1000), T0 - 100))).toEqual(invalidAt(0))
  })

  it('a child issued before its parent is not an error', async () => {
    expect(codeOf(await decide(childAt(T0 - 3600), T0 + 60))).toBe('allowed')
  })

  it('a future issued_at cannot stretch the root lifetime', async () => {
    // usable from now for 200 days, though its lifetime measured from issued_at is 90 days
    const stretched = bearerRootAt(T0 + 110 * DAY, [{ type: 'window', expires: T0 + 200 * DAY }])
    expect(where(await decide(stretched, T0))).toEqual(invalidAt(0))
    expect(codeOf(await decide(stretched, T0 + 110 * DAY))).toBe('allowed')
    // issued 100 days ahead with a 200-day window: the future issued_at is reported first
    const bearer = keyFor('bearer')
    const raw = signRaw(
      rawPayload([[4, new Map([[1, T0 + 300 * DAY]])]], bearer.publicKey, { bearer: true, issuedAt: T0 + 100 * DAY }),
      alice,
    )
    const long = rawMandate([raw], { kind: 'bearer', secret: bearer.secretKey })
    expect(where(await decide(long, T0))).toEqual(invalidAt(0))
    expect(where(await decide(long, T0 + 100 * DAY))).toEqual(invalidAt(0, 'window', 0))
  })

  it('lifetime = maximum is accepted, maximum + 1 is not, measured from max(issued_at, not_before)', async () => {
    const limits = { limits: { maxLifetime: 3600 } }
    expect(codeOf(await decide(bearerRootAt(T0, [{ type: 'window', expires: T0 + 3600 }]), T0 + 60, limits))).toBe('allowed')
    expect(where(await decide(bearerRootAt(T0, [{ type: 'window', expires: T0 + 3601 }]), T0 + 60, limits))).toEqual(
      invalidAt(0, 'window', 0),
    )
    const late = (expires: number) => bearerRootAt(T0, [{ type: 'window', notBefore: T0 + 1000, expires }])
    expect(codeOf(await decide(late(T0 + 4600), T0 + 1000, limits))).toBe('allowed')
    expect(where(await decide(late(T0 + 4601), T0 + 1000, limits))).toEqual(invalidAt(0, 'window', 0))
  })

  it('an inverted window is reported before an earlier empty intersection', async () => {
    const disjoint = bearerChild([{ type: 'window', notBefore: T0 + 9 * 3600, expires: T0 + 10 * 3600 }])
    const inverted = [
      4,
      new Map([
        [0, T0 + 5 * 3600],
        [1, T0 + 4 * 3600],
      ]),
    ] as CborValue
    expect(where(await decide(withRawBlock(disjoint, [inverted]), T0 + 60))).toEqual(invalidAt(2, 'window', 0))
  })

  it('an empty intersection is reported at the window that empties it', async () => {
    // a child window after its parent's
    const after = bearerChild([{ type: 'window', notBefore: T0 + 9 * 3600, expires: T0 + 10 * 3600 }])
    expect(where(await decide(after, T0 + 60))).toEqual(invalidAt(1, 'window', 0))
    // a child expiry before the parent's not-before: the child, not the block holding the latest not-before
    const before = bearerChild([{ type: 'window', expires: T0 + 500 }], [{ type: 'window', notBefore: T0 + 1000 }])
    expect(where(await decide(before, T0 + 60))).toEqual(invalidAt(1, 'window', 0))
    // within one block: the second window caveat empties it
    const root = bearerRootAt(T0, [
      { type: 'window', notBefore: T0 + 9 * 3600 },
      { type: 'window', expires: T0 + 8 * 3600 },
    ])
    expect(where(await decide(root, T0 + 60))).toEqual(invalidAt(0, 'window', 1))
  })

  it('NOT_YET at the latest not_before, EXPIRED at the earliest expiry; ties go to the earlier block', async () => {
    const nbf = (root: number, child: number) => bearerChild([{ type: 'window', notBefore: child }], [{ type: 'window', notBefore: root }])
    expect(where(await decide(nbf(T0 + 1000, T0 + 2000), T0 + 500))).toEqual({
      code: 'ERR_TIME_NOT_YET',
      block: 1,
      caveat: 'window',
      caveatIndex: 0,
    })
    expect(where(await decide(nbf(T0 + 2000, T0 + 2000), T0 + 500))).toEqual({
      code: 'ERR_TIME_NOT_YET',
      block: 0,
      caveat: 'window',
      caveatIndex: 0,
    })
    const exp = (child: number) => bearerChild([{ type: 'window', expires: child }])
    // root: actions, then its 8-hour window (caveat 1)
    expect(where(await decide(exp(T0 + 4 * 3600), T0 + 9 * 3600))).toEqual({
      code: 'ERR_TIME_EXPIRED',
      block: 1,
      caveat: 'window',
      caveatIndex: 0,
    })
    expect(where(await decide(exp(T0 + 8 * 3600), T0 + 9 * 3600))).toEqual({
      code: 'ERR_TIME_EXPIRED',
      block: 0,
      caveat: 'window',
      caveatIndex: 1,
    })
  })
})

describe('presentation (K10, proofs, seals)', () => {
  const grant = () => rootGrant([{ type: 'actions', patterns: ['email:read'] }])

  it('a bound mandate presented bare → ERR_PROOF with a hint to invoke', async () => {
    const d = denial(await verifierFor().authorize({ mandate: grant(), request: { action: 'email:read' } }))
    expect(d.code).toBe('ERR_PROOF')
    expect(d.hint).toContain('invoke')
  })

  it('K10: an invocation for another audience → ERR_AUDIENCE', async () => {
    const inv = invoke(grant(), { key: assistant, action: 'email:read', audience: 'elsewhere', now: T0 + 60 })
    expect(codeOf(await verifierFor().authorize({ invocation: inv }))).toBe('ERR_AUDIENCE')
  })

  it('K10: a replayed invocation → ERR_REPLAY; a stale or future one → ERR_PROOF', async () => {
    const v = verifierFor()
    const inv = invoke(grant(), { key: assistant, action: 'email:read', audience: 'svc', now: T0 + 60 })
    expect(codeOf(await v.authorize({ invocation: inv }))).toBe('allowed')
    expect(codeOf(await v.authorize({ invocation: inv }))).toBe('ERR_REPLAY')
    const old = invoke(grant(), { key: assistant, action: 'email:read', audience: 'svc', now: T0 - 400 })
    expect(codeOf(await v.authorize({ invocation: old }))).toBe('ERR_PROOF')
    const future = invoke(grant(), { key: assistant, action: 'email:read', audience: 'svc', now: T0 + 600 })
    expect(codeOf(await v.authorize({ invocation: future }))).toBe('ERR_PROOF')
  })

  it('an invocation signed by someone other than the holder → ERR_SIG_INVALID', async () => {
    const stolen = rootGrant([{ type: 'actions', patterns: ['email:read'] }])
    expect(thrownCode(() => invoke(stolen, { key: mallory, action: 'email:read', audience: 'svc' }))).toBe('ERR_HOLDER_MISMATCH')
    // forge by re-signing the payload with mallory's key
    const inv = invoke(stolen, { key: assistant, action: 'email:read', audience: 'svc', now: T0 + 60 })
    const forged = rawSigned(inv.payload, getBackend().sign(mallory.secretKey, signingInput('invocation', inv.payload)))
    const d = denial(await verifierFor().authorize({ invocation: forged }))
    expect([d.code, d.block]).toEqual(['ERR_SIG_INVALID', 0])
  })

  it('a sealed mandate is usable and no longer attenuable; a bad seal is rejected', async () => {
    const m = bearerChild([{ type: 'actions', patterns: ['slack:read'] }])
    const sealed = seal(m)
    expect(sealed.proof.kind).toBe('sealed')
    expect(codeOf(await verifierFor().authorize({ mandate: sealed, request: read }))).toBe('allowed')
    expect(thrownCode(() => attenuate(sealed, {}))).toBe('ERR_SEALED')
    expect(thrownCode(() => invoke(sealed, { action: 'slack:read', audience: 'svc' }))).toBe('ERR_SEALED')
    if (sealed.proof.kind !== 'sealed') throw new Error('unreachable')
    const bad = new Uint8Array(sealed.proof.signature)
    bad[5] = (bad[5] as number) ^ 1
    const tampered = rawMandate(pairs(sealed), { kind: 'sealed', signature: bad })
    expect(['ERR_PROOF', 'ERR_SIG_ENCODING']).toContain(codeOf(await verifierFor().authorize({ mandate: tampered, request: read })))
  })

  it('a bearer mandate with a wrong secret → ERR_PROOF', async () => {
    const m = bearerChild([])
    const bytes = rawMandate(pairs(m), { kind: 'bearer', secret: keyFor('other').secretKey })
    expect(codeOf(await verifierFor().authorize({ mandate: bytes, request: read }))).toBe('ERR_PROOF')
  })

  it('attenuating a bound mandate needs the holder key (ERR_HOLDER_MISMATCH)', () => {
    expect(thrownCode(() => attenuate(grant(), {}))).toBe('ERR_HOLDER_MISMATCH')
    expect(thrownCode(() => attenuate(grant(), { key: mallory }))).toBe('ERR_HOLDER_MISMATCH')
    expect(thrownCode(() => attenuate(grant(), { key: assistant, now: T0 }))).toBe('ok')
  })
})

describe('encoding and limits at token level (C11–C13)', () => {
  it('C13: an unknown version → ERR_VERSION; an unknown field → ERR_FORMAT; an unknown caveat → ERR_CAVEAT_UNKNOWN', async () => {
    const m = bearerChild([])
    expect(codeOf(await verifierFor().authorize({ mandate: rawMandate(pairs(m), m.proof, 2), request: read }))).toBe('ERR_VERSION')
    const bearer = keyFor('bearer')
    const proof = { kind: 'bearer', secret: bearer.secretKey } as const
    const window: CborValue = [4, new Map([[1, T0 + 3600]])]
    const at = async (payload: CborValue[]) => {
      const d = denial(await verifierFor().authorize({ mandate: rawMandate([signRaw(payload, alice)], proof), request: read }))
      return [d.code, d.block]
    }
    // the same payload without the unknown field is allowed
    expect(
      codeOf(
        await verifierFor().authorize({
          mandate: rawMandate(
            [signRaw(rawPayload([window], bearer.publicKey, { bearer: true, extra: new Map([[1, 'x']]) }), alice)],
            proof,
          ),
          request: read,
        }),
      ),
    ).toBe('allowed')
    // an unknown key in the extra map
    expect(
      await at(
        rawPayload([window], bearer.publicKey, {
          bearer: true,
          extra: new Map<number, CborValue>([
            [1, 'x'],
            [3, 'x'],
          ]),
        }),
      ),
    ).toEqual(['ERR_FORMAT', 0])
    // an unknown sixth payload element
    expect(await at([...rawPayload([window], bearer.publicKey, { bearer: true, extra: new Map([[1, 'x']]) }), 'x'])).toEqual([
      'ERR_FORMAT',
      0,
    ])
    // an unknown fourth mandate element
    const fourth = encodeCbor([1, rawChain(pairs(m)), m.proof.kind === 'bearer' ? m.proof.secret : new Uint8Array(32), 'x'])
    expect(codeOf(await verifierFor().authorize({ mandate: fourth, request: read }))).toBe('ERR_FORMAT')
    const unknown = signRaw(rawPayload([window, [42, 'future']], bearer.publicKey, { bearer: true }), alice)
    const d = denial(await verifierFor().authorize({ mandate: rawMandate([unknown], proof), request: read }))
    expect(d.code).toBe('ERR_CAVEAT_UNKNOWN')
    expect([d.block, d.caveatIndex]).toEqual([0, 1])
  })

  it('C12: text map keys such as __proto__ → ERR_CBOR_TYPE, and Object.prototype is untouched', async () => {
    const m = bearerChild([])
    const hexTop = Buffer.from(m.bytes).toString('hex')
    // the mandate is an array of three: add a fourth element, a map with the text key "__proto__"
    expect(hexTop.slice(0, 2)).toBe('83')
    const proto = '695f5f70726f746f5f5f'
    const evil = Buffer.from(`84${hexTop.slice(2)}a1${proto}a0`, 'hex')
    expect(codeOf(await verifierFor().authorize({ mandate: evil, request: read }))).toBe('ERR_CBOR_TYPE')
    // the same key in a signed block's extra map (the one map a block payload has)
    const bearer = keyFor('bearer')
    const head = encodeCbor(rawPayload([[4, new Map([[1, T0 + 3600]])]], bearer.publicKey, { bearer: true }))
    expect(head[0]).toBe(0x84)
    const payload = Buffer.from(`85${Buffer.from(head.subarray(1)).toString('hex')}a1${proto}a101f5`, 'hex')
    const raw: [Uint8Array, Uint8Array] = [payload, getBackend().sign(alice.secretKey, blockSigningInput(undefined, payload))]
    const d = denial(
      await verifierFor().authorize({ mandate: rawMandate([raw], { kind: 'bearer', secret: bearer.secretKey }), request: read }),
    )
    expect([d.code, d.block]).toEqual(['ERR_CBOR_TYPE', 0])
    const inv = invoke(rootGrant(), {
      key: assistant,
      action: 'slack:read',
      audience: 'svc',
      args: JSON.parse('{"__proto__": {"polluted": true}}'),
      now: T0 + 60,
    })
    expect(codeOf(await verifierFor().authorize({ invocation: inv }))).toBe('allowed')
    expect(({} as Record<string, unknown>)['polluted']).toBeUndefined()
  })

  it('C11: 33 caveats in a block → ERR_LIMIT_COUNT (mint and parse); 16 KiB + 1 → ERR_LIMIT_SIZE', async () => {
    const many = Array.from({ length: 33 }, () => ({ type: 'actions' as const, patterns: ['*'] }))
    expect(thrownCode(() => bearerChild(many))).toBe('ERR_LIMIT_COUNT')
    const bearer = keyFor('bearer')
    const raw = signRaw(
      rawPayload(
        Array.from({ length: 33 }, () => [1, ['*']]),
        bearer.publicKey,
        { bearer: true },
      ),
      alice,
    )
    const d = denial(
      await verifierFor().authorize({ mandate: rawMandate([raw], { kind: 'bearer', secret: bearer.secretKey }), request: read }),
    )
    expect([d.code, d.block]).toEqual(['ERR_LIMIT_COUNT', 0])
    expect(thrownCode(() => parseMandate(new Uint8Array(16 * 1024 + 1)))).toBe('ERR_LIMIT_SIZE')
    expect(thrownCode(() => parseMandate(`mnd1_${'A'.repeat(22_000)}`))).toBe('ERR_LIMIT_SIZE')
    expect(thrownCode(() => bearerChild([{ type: 'actions', patterns: ['a'.repeat(1025)] }]))).toBe('ERR_CAVEAT_INVALID')
  })

  it('the text form is strict: prefix, alphabet, padding, trailing bits', () => {
    const text = formatMandate(bearerChild([]))
    expect(thrownCode(() => parseMandate(text))).toBe('ok')
    expect(thrownCode(() => parseMandate(`  ${text}\n`))).toBe('ok')
    expect(thrownCode(() => parseMandate(text.replace('mnd1_', 'mni1_')))).toBe('ERR_TEXT_FORMAT')
    expect(thrownCode(() => parseMandate(`${text}=`))).toBe('ERR_TEXT_FORMAT')
    expect(thrownCode(() => parseMandate(`${text.slice(0, 40)}!${text.slice(41)}`))).toBe('ERR_TEXT_FORMAT')
    expect(thrownCode(() => parseMandate(text.slice(0, -1)))).not.toBe('ok')
    expect(thrownCode(() => parseMandate('garbage'))).toBe('ERR_TEXT_FORMAT')
    expect(thrownCode(() => parseMandate('mnd1_'))).toBe('ERR_CBOR_MALFORMED')
  })

  it('holders are printed as did:key in the chain', async () => {
    const d = await verifierFor().authorize({ mandate: bearerChild([]), request: read })
    if (!d.allowed) throw new Error(d.message)
    expect(d.chain[0]?.key).toBe(toDidKey(alice.publicKey))
    expect(d.chain[1]?.key).toBe(toDidKey(assistant.publicKey))
    expect(d.chain[2]?.bearer).toBe(true)
  })
})
