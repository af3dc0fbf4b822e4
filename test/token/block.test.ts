import { describe, expect, it } from 'vitest'
import type { CborValue } from '../../src/cbor/codec.js'
import { encodeCbor } from '../../src/cbor/codec.js'
import { getBackend } from '../../src/crypto/ed25519.js'
import { SignatureCache } from '../../src/crypto/signature-cache.js'
import { MandateError } from '../../src/errors.js'
import { formatInvocation, formatMandate, invoke } from '../../src/index.js'
import { type BlockContent, chainExpiry, decodeBlock, encodeBlockPayload } from '../../src/token/block.js'
import {
  checkChain,
  checkInvocationSignature,
  checkMandateProof,
  checkPresentation,
  checkPresentationAsync,
} from '../../src/token/integrity.js'
import { parseInvocation } from '../../src/token/invocation.js'
import { type Proof, seal } from '../../src/token/mandate.js'
import { alice, assistant, bearerChild, mallory, type Pair, pairs, rawMandate, rawSigned, rootGrant } from '../helpers/chains.js'
import { caught, T0 } from '../helpers/fixtures.js'

const sig = () => new Uint8Array(64).fill(7)
const nonce16 = () => new Uint8Array(16).fill(1)
/** A block on the wire: a dummy signature, then `payload` encoded. */
const wire = (payload: CborValue) => new Uint8Array([...sig(), ...encodeCbor(payload)])
const holderKey = () => new Uint8Array(32).fill(9)

describe('decodeBlock: payload rejections name the block', () => {
  it('rejects each malformed field with ERR_FORMAT, the block index and a message saying what is wrong', () => {
    const principal = alice.publicKey
    const h = holderKey()
    const cases: [CborValue, string][] = [
      ['text', 'block 3: a block is a byte string (signature ‖ payload)'],
      [new Uint8Array(64), 'block 3: 64 bytes cannot hold a 64-byte signature and a payload'],
      [wire([h, true, T0]), 'block 3: payload must be [holder, bearer, issued_at, caveats, extra?]'],
      [wire([new Uint8Array(31), true, T0, []]), 'block 3: holder must be a 32-byte key'],
      [wire([h, 1, T0, []]), 'block 3: bearer must be true or false'],
      [wire([h, true, -1, []]), 'block 3: issued_at must be an unsigned integer'],
      [wire([h, true, T0, 5]), 'block 3: caveats must be a list'],
      [wire([h, true, T0, [], new Map()]), 'block 3: extra must be a non-empty map'],
      [wire([h, true, T0, [], new Map([[3, 'x']])]), 'block 3: unknown extra field 3'],
      [wire([h, true, T0, [], new Map([[0, nonce16()]])]), 'block 3: a bearer block carries no nonce (its holder key is fresh)'],
      [wire([h, false, T0, []]), 'block 3: a block naming a bound holder carries a 16-byte nonce'],
      [wire([h, false, T0, [], new Map([[0, new Uint8Array(15)]])]), 'block 3: a block naming a bound holder carries a 16-byte nonce'],
      [wire([h, true, T0, [], new Map([[1, 5]])]), 'block 3: name must be text'],
      [wire([h, true, T0, [], new Map([[2, 5]])]), 'block 3: purpose must be text'],
    ]
    for (const [raw, message] of cases) {
      const e = caught(() => decodeBlock(raw, 3, principal))
      expect({ code: e.code, block: e.block, message: e.message }).toEqual({ code: 'ERR_FORMAT', block: 3, message })
    }
  })

  it('limits: payload size and caveat count are ERR_LIMIT_* at the block; a 1024-byte name is fine', () => {
    const h = holderKey()
    const big = new Uint8Array(64 + 4097)
    big.set(encodeCbor([h, true, T0, []]), 64)
    const size = caught(() => decodeBlock(big, 2, alice.publicKey))
    expect([size.code, size.block, size.message]).toEqual(['ERR_LIMIT_SIZE', 2, 'block 2: payload exceeds 4096 bytes'])
    const many = caught(() => decodeBlock(wire([h, true, T0, new Array(33).fill([1, ['*']])]), 2, alice.publicKey))
    expect([many.code, many.block, many.message]).toEqual(['ERR_LIMIT_COUNT', 2, 'block 2: 33 caveats exceed 32'])
    // 32 caveats are fine
    expect(decodeBlock(wire([h, true, T0, new Array(32).fill([1, ['*']])]), 2, alice.publicKey).caveats).toHaveLength(32)
    expect(decodeBlock(wire([h, true, T0, [], new Map([[1, 'n'.repeat(1024)]])]), 1, alice.publicKey).name).toHaveLength(1024)
  })

  it('a CBOR error inside a payload keeps its code and offset, gains the block index and a prefix', () => {
    const h = holderKey()
    // trailing byte after the array: strict CBOR refuses it
    const raw = new Uint8Array([...sig(), ...encodeCbor([h, true, T0, []]), 0x00])
    const e = caught(() => decodeBlock(raw, 4, alice.publicKey))
    expect(e.block).toBe(4)
    expect(e.message.startsWith('block 4 payload: ')).toBe(true)
    expect(e.cause).toBeInstanceOf(MandateError)
    const inner = e.cause as MandateError
    expect(e.code).toBe(inner.code)
    expect(e.message).toBe(`block 4 payload: ${inner.message}`)
    expect(e.offset).toBe(inner.offset)
    expect(inner.offset).toBeTypeOf('number')
    expect(Object.hasOwn(e, 'offset')).toBe(true)
  })

  it('a well-formed bound block decodes; the principal is attached to block 0 only', () => {
    const raw = wire([
      holderKey(),
      false,
      T0,
      [],
      new Map<number, CborValue>([
        [0, nonce16()],
        [1, 'n'],
        [2, 'p'],
      ]),
    ])
    const b0 = decodeBlock(raw, 0, alice.publicKey)
    expect([b0.bearer, b0.name, b0.purpose, b0.nonce, b0.issuedAt, b0.principal]).toEqual([false, 'n', 'p', nonce16(), T0, alice.publicKey])
    expect(decodeBlock(raw, 1, alice.publicKey).principal).toBeUndefined()
  })
})

describe('encodeBlockPayload', () => {
  const content = (caveats: CborValue[]): BlockContent => ({
    holder: holderKey(),
    bearer: true,
    caveats,
    name: undefined,
    purpose: undefined,
    nonce: undefined,
    issuedAt: T0,
  })

  it('accepts a payload of exactly 4096 bytes and refuses 4097 with ERR_LIMIT_SIZE', () => {
    const base = encodeBlockPayload(content([new Uint8Array(0)])).length
    // grow one byte-string caveat until the payload is exactly the limit
    let n = 4096 - base - 2
    while (encodeBlockPayload(content([new Uint8Array(n)])).length < 4096) n++
    expect(encodeBlockPayload(content([new Uint8Array(n)])).length).toBe(4096)
    const e = caught(() => encodeBlockPayload(content([new Uint8Array(n + 1)])))
    expect([e.code, e.message]).toEqual(['ERR_LIMIT_SIZE', 'block payload exceeds 4096 bytes'])
  })
})

describe('chainExpiry', () => {
  it('is the earliest window expiry, ignoring other caveats and windows without an expiry', () => {
    const m = bearerChild(
      [
        { type: 'actions', patterns: ['slack:*'] },
        { type: 'window', notBefore: T0 },
        { type: 'window', expires: T0 + 100 },
      ],
      [{ type: 'actions', patterns: ['*'] }],
    )
    expect(chainExpiry(m.blocks)).toBe(T0 + 100)
    expect(
      chainExpiry(
        rootGrant([
          { type: 'actions', patterns: ['*'] },
          { type: 'window', notBefore: T0 },
        ]).blocks,
      ),
    ).toBe(T0 + 8 * 3600)
  })
})

describe('integrity: holder proofs and presentation', () => {
  it('an invocation signed by another key fails ERR_SIG_INVALID at the last block, naming it', () => {
    const child = bearerChild([])
    if (child.proof.kind !== 'bearer') throw new Error('unreachable')
    const inv = invoke(child, { action: 'slack:send', resource: 'r', audience: 'svc', now: T0 })
    const forged = parseInvocation(rawSigned(inv.payload, getBackend().sign(mallory.secretKey, inv.payload)))
    const e = caught(() => checkInvocationSignature(forged))
    expect([e.code, e.block, e.message]).toEqual([
      'ERR_SIG_INVALID',
      1,
      'invocation (expected a signature by the holder of block 1): signature rejected (equation)',
    ])
  })

  it('a bearer secret is refused over a bound last block, and must derive the last holder', () => {
    const bound = rootGrant()
    const onBound = caught(() => checkMandateProof(bound.blocks, { kind: 'bearer', secret: assistant.secretKey }))
    expect([onBound.code, onBound.block, onBound.message]).toEqual([
      'ERR_PROOF',
      0,
      'a secret travels with a mandate whose last holder is bound',
    ])
    const child = bearerChild([])
    const wrong = caught(() => checkMandateProof(child.blocks, { kind: 'bearer', secret: mallory.secretKey }))
    expect([wrong.code, wrong.block, wrong.message]).toEqual([
      'ERR_PROOF',
      1,
      'the bearer secret does not belong to the last holder (truncated or tampered chain)',
    ])
    // without a cache, the right secret passes
    expect(() => checkMandateProof(child.blocks, child.proof)).not.toThrow()
  })

  it('a cached bearer derivation is not repeated', () => {
    const child = bearerChild([])
    const real = getBackend()
    let derivations = 0
    const counting = {
      ...real,
      name: real.name,
      publicKey: (s: Uint8Array) => {
        derivations++
        return real.publicKey(s)
      },
      sign: real.sign,
      verify: real.verify,
    }
    const cache = new SignatureCache(16)
    checkMandateProof(child.blocks, child.proof, counting, cache)
    checkMandateProof(child.blocks, child.proof, counting, cache)
    expect(derivations).toBe(1)
  })

  it('a seal over a bound holder, a bad seal and a bare bound mandate are ERR_PROOF with messages and hints', () => {
    const bound = rootGrant()
    const sealedBound = caught(() => checkMandateProof(bound.blocks, { kind: 'sealed', signature: new Uint8Array(64) }))
    expect([sealedBound.code, sealedBound.block, sealedBound.message, sealedBound.hint]).toEqual([
      'ERR_PROOF',
      0,
      'a seal over a bound holder: only a bearer mandate can be sealed',
      'a bound mandate is presented in an invocation signed by the holder key',
    ])
    const sealed = seal(bearerChild([]))
    if (sealed.proof.kind !== 'sealed') throw new Error('unreachable')
    expect(() => checkMandateProof(sealed.blocks, sealed.proof)).not.toThrow()
    const other = seal(bearerChild([{ type: 'actions', patterns: ['x:*'] }]))
    const bad = caught(() => checkMandateProof(sealed.blocks, other.proof as Proof))
    expect([bad.code, bad.block, bad.message]).toEqual(['ERR_PROOF', 1, 'seal rejected (equation)'])
    // A block's signature that does not verify is named by its block.
    const forged = sealed.blocks.map((b) => (b.index === 1 ? { ...b, signature: b.signature.map((x, i) => (i === 40 ? x ^ 1 : x)) } : b))
    const bent = caught(() => checkChain(forged))
    expect([bent.code, bent.block, bent.message]).toEqual(['ERR_SIG_INVALID', 1, 'block 1: signature rejected (equation)'])
    // The rule a refused seal breaks, in words (small_order_R: R is the identity).
    const weak = new Uint8Array(64)
    weak[0] = 1
    const weakR = caught(() => checkMandateProof(sealed.blocks, { kind: 'sealed', signature: weak }))
    expect([weakR.code, weakR.block, weakR.message]).toEqual(['ERR_KEY_WEAK', 1, 'seal rejected (small order R)'])
    const bare = caught(() => checkMandateProof(bound.blocks, { kind: 'bound' }))
    expect([bare.code, bare.block, bare.message, bare.hint]).toEqual([
      'ERR_PROOF',
      0,
      'this mandate is bound to its holder and must be presented in an invocation signed by it',
      'sign an invocation with the holder key (CLI: mandate invoke --key FILE)',
    ])
  })

  it('checkPresentation reads invocations and mandates from text or bytes', () => {
    const child = bearerChild([])
    const inv = invoke(child, { action: 'slack:send', resource: 'r', audience: 'svc', now: T0 })
    for (const input of [formatInvocation(inv), inv.bytes]) {
      const p = checkPresentation(input)
      expect(p.invocation?.signature).toEqual(inv.signature)
      expect(p.mandate).toBeUndefined()
      expect(p.chain.map((b) => b.idHex)).toEqual(child.blocks.map((b) => b.idHex))
    }
    for (const input of [formatMandate(child), child.bytes]) {
      const p = checkPresentation(input)
      expect(p.mandate?.proof).toEqual(child.proof)
      expect(p.invocation).toBeUndefined()
      expect(p.chain.map((b) => b.idHex)).toEqual(child.blocks.map((b) => b.idHex))
    }
  })

  it("checkPresentationAsync (signatures checked at once, off the event loop) gives checkPresentation's answer and error", async () => {
    const child = bearerChild([{ type: 'actions', patterns: ['slack:*'] }])
    const inv = invoke(child, { action: 'slack:send', resource: 'r', audience: 'svc', now: T0 })
    const broken = (at: number[]) =>
      rawMandate(
        pairs(child).map(
          ([payload, signature], i): Pair => [payload, at.includes(i) ? signature.map((x, j) => (j === 40 ? x ^ 1 : x)) : signature],
        ),
        child.proof,
      )
    const other = bearerChild([{ type: 'actions', patterns: ['x:*'] }])
    const inputs: (string | Uint8Array)[] = [
      formatInvocation(inv),
      child.bytes,
      broken([0, 1]), // two bad signatures: the first in chain order is reported
      broken([1]),
      rawMandate(pairs(child), other.proof), // every signature good, the bearer secret another's
    ]
    for (const backend of [getBackend('node'), getBackend('noble')]) {
      for (const input of inputs) {
        let sync: unknown
        try {
          sync = checkPresentation(input, backend)
        } catch (e) {
          sync = e
        }
        const async = await checkPresentationAsync(input, backend).catch((e: unknown) => e)
        if (sync instanceof MandateError) {
          expect(async).toBeInstanceOf(MandateError)
          const [a, b] = [sync, async as MandateError]
          expect([b.code, b.block, b.message]).toEqual([a.code, a.block, a.message])
        } else {
          expect((async as { chain: { idHex: string }[] }).chain.map((b) => b.idHex)).toEqual(
            (sync as { chain: { idHex: string }[] }).chain.map((b) => b.idHex),
          )
        }
      }
    }
    expect([caught(() => checkPresentation(broken([0, 1]))).code, caught(() => checkPresentation(broken([0, 1]))).block]).toEqual([
      'ERR_SIG_INVALID',
      0,
    ])
    expect(caught(() => checkPresentation(broken([1]))).block).toBe(1)
    expect(caught(() => checkPresentation(rawMandate(pairs(child), other.proof))).code).toBe('ERR_PROOF')
  })
})
