/**
 * Holder modes and verifier state (#8): what a `bound` caveat covers, sealing only bearer
 * mandates, the explicit no-revocation opt-out, replay-cache retention, counter-key spelling.
 */
import { describe, expect, it } from 'vitest'
import type { CborValue } from '../../src/cbor/codec.js'
import { getBackend } from '../../src/crypto/ed25519.js'
import { toDidKey } from '../../src/crypto/keys.js'
import {
  attenuate,
  createMemoryRevocationView,
  createVerifier,
  invoke,
  mint,
  parseMandate,
  seal,
  type UnverifiedMandate,
} from '../../src/index.js'
import { signingInput } from '../../src/token/signing.js'
import { createMemoryReplayCache } from '../../src/verify/replay.js'
import {
  alice,
  aliceDid,
  assistant,
  codeOf,
  denial,
  type Pair,
  pairAt,
  pairs,
  rawMandate,
  rawPayload,
  rootGrant,
  signRaw,
  subagent,
  verifierFor,
} from '../helpers/chains.js'
import { fixedKey, seededRandom, T0, thrownCode } from '../helpers/fixtures.js'

const NOW = T0 + 60
const read = { action: 'slack:read' }
const bob = fixedKey('bob')
const BOUND = [10] as CborValue
const windowWire: CborValue = [4, new Map([[1, T0 + 8 * 3600]])]

/** A bearer block for the sub-agent below `parent`'s last block, carrying raw `caveats`, signed by `signer`. */
function bearerBelow(parent: UnverifiedMandate, caveats: CborValue[], signer = assistant): Pair {
  const last = parent.blocks[parent.blocks.length - 1]
  return signRaw(rawPayload(caveats, subagent.publicKey, { bearer: true }), signer, last?.id as Uint8Array)
}
const bearerMandate = (blocks: Pair[]) => parseMandate(rawMandate(blocks, { kind: 'bearer', secret: subagent.secretKey }))
const bySubagent = (m: UnverifiedMandate) => invoke(m, { action: 'slack:read', audience: 'svc', now: NOW })

describe('a bound caveat in block k covers blocks k..n−1 and needs an invocation', () => {
  it('covers its own block: a bearer holder in the block carrying it is denied, bare or by invocation', async () => {
    const root = rootGrant()
    const m = bearerMandate([pairAt(root, 0), bearerBelow(root, [BOUND])])
    for (const input of [{ mandate: m, request: read }, { invocation: bySubagent(m) }]) {
      const d = denial(await verifierFor().authorize(input))
      expect([d.code, d.block, d.caveat, d.caveatIndex]).toEqual(['ERR_BOUND_REQUIRED', 1, 'bound', 0])
    }
    // in the root as well
    const bearerRoot = bearerMandate([signRaw(rawPayload([windowWire, BOUND], subagent.publicKey, { bearer: true }), alice)])
    const d = denial(await verifierFor().authorize({ mandate: bearerRoot, request: read }))
    expect([d.code, d.block, d.caveat]).toEqual(['ERR_BOUND_REQUIRED', 0, 'bound'])
  })

  it('covers the blocks after it: a bearer holder below is denied even when it signs an invocation', async () => {
    const root = rootGrant([{ type: 'bound' }])
    const m = bearerMandate([pairAt(root, 0), bearerBelow(root, [])])
    for (const input of [{ mandate: m, request: read }, { invocation: bySubagent(m) }, { mandate: seal(m), request: read }]) {
      const d = denial(await verifierFor().authorize(input))
      expect([d.code, d.block, d.caveat]).toEqual(['ERR_BOUND_REQUIRED', 0, 'bound'])
    }
  })

  it('does not reach the blocks before it', async () => {
    const bearerRoot = mint({ principal: alice, caveats: [{ type: 'window', expires: T0 + 3600 }], now: T0, random: seededRandom('hs/br') })
    const m = attenuate(bearerRoot, {
      to: toDidKey(assistant.publicKey),
      caveats: [{ type: 'bound' }],
      now: T0,
      random: seededRandom('hs/b1'),
    })
    const inv = invoke(m, { key: assistant, action: 'slack:read', audience: 'svc', now: NOW })
    expect(codeOf(await verifierFor().authorize({ invocation: inv }))).toBe('allowed')
  })

  it('bound holders from k on with an invocation by the last one: allowed; presented bare: ERR_PROOF', async () => {
    const root = rootGrant([{ type: 'bound' }])
    const toBob = attenuate(root, { key: assistant, to: toDidKey(bob.publicKey), now: T0, random: seededRandom('hs/bob') })
    const inv = invoke(toBob, { key: bob, action: 'slack:read', audience: 'svc', now: NOW })
    expect(codeOf(await verifierFor().authorize({ invocation: inv }))).toBe('allowed')
    const bare = denial(await verifierFor().authorize({ mandate: toBob, request: read }))
    expect([bare.code, bare.block]).toEqual(['ERR_PROOF', 1])
  })

  it('the library refuses early to build a bearer holder in or below a bound caveat', () => {
    expect(thrownCode(() => mint({ principal: alice, caveats: [{ type: 'bound' }, { type: 'window', expires: T0 + 60 }], now: T0 }))).toBe(
      'ERR_BOUND_REQUIRED',
    )
    expect(thrownCode(() => attenuate(rootGrant(), { key: assistant, caveats: [{ type: 'bound' }], now: T0 }))).toBe('ERR_BOUND_REQUIRED')
    expect(thrownCode(() => attenuate(rootGrant([{ type: 'bound' }]), { key: assistant, now: T0 }))).toBe('ERR_BOUND_REQUIRED')
    expect(() =>
      attenuate(rootGrant(), { key: assistant, to: toDidKey(bob.publicKey), caveats: [{ type: 'bound' }], now: T0 }),
    ).not.toThrow()
  })
})

describe('only a bearer mandate can be sealed', () => {
  it('seal() of a bound mandate throws ERR_PROOF; of a sealed one ERR_SEALED', () => {
    expect(thrownCode(() => seal(rootGrant()))).toBe('ERR_PROOF')
    const bearer = attenuate(rootGrant(), { key: assistant, now: T0, random: seededRandom('hs/seal') })
    expect(thrownCode(() => seal(seal(bearer)))).toBe('ERR_SEALED')
  })

  it('a verifier denies a valid seal over a bound holder with ERR_PROOF, before the bound caveat', async () => {
    for (const root of [rootGrant(), rootGrant([{ type: 'bound' }])]) {
      const signature = getBackend().sign(assistant.secretKey, signingInput('seal', root.blocks[0]?.id as Uint8Array))
      const sealed = rawMandate(pairs(root), { kind: 'sealed', signature })
      const d = denial(await verifierFor().authorize({ mandate: sealed, request: read }))
      expect([d.code, d.block]).toEqual(['ERR_PROOF', 0])
    }
  })
})

describe('revocations: a view, or an explicit opt-out', () => {
  const base = { roots: [aliceDid], audience: 'svc', clock: () => NOW }
  const inv = () => invoke(rootGrant(), { key: assistant, action: 'slack:read', audience: 'svc', now: NOW })

  it('createVerifier without `revocations` throws, naming the opt-out', () => {
    expect(() => createVerifier(base as never)).toThrow(TypeError)
    expect(() => createVerifier(base as never)).toThrow(/"revocations" expected a revocation view, or 'none'/)
    expect(() => createVerifier({ ...base, revocations: 'nope' as never })).toThrow(/"revocations"/)
    expect(() => createVerifier({ ...base, revocations: null as never })).toThrow(/"revocations"/)
  })

  it("'none': nothing is checked, and every audit record says so", async () => {
    const v = createVerifier({ ...base, revocations: 'none' })
    expect(v.revocations).toBe('none')
    const ok = await v.authorize({ invocation: inv() })
    expect(ok.allowed).toBe(true)
    expect(ok.audit.revocations).toBe('none')
    const no = await v.authorize({ token: 'mnd1_!!' })
    expect(no.audit.revocations).toBe('none')
  })

  it('with a view, revocations are checked and the audit record has no marker', async () => {
    const revocations = createMemoryRevocationView()
    const v = createVerifier({ ...base, revocations })
    const i = inv()
    const ok = await v.authorize({ invocation: i })
    expect(ok.allowed).toBe(true)
    expect('revocations' in ok.audit).toBe(false)
    revocations.revoke(rootGrant().blocks[0]?.idHex as string, { at: NOW })
    expect(codeOf(await v.authorize({ invocation: inv() }))).toBe('ERR_REVOKED')
  })
})

describe('replay-cache retention', () => {
  it('an invocation id is remembered through issued_at + max_age + σ, and stale one second later', async () => {
    let now = NOW
    const v = createVerifier({
      roots: [aliceDid],
      audience: 'svc',
      clock: () => now,
      revocations: 'none',
      limits: { invocationMaxAge: 300 },
    })
    const i = invoke(rootGrant(), { key: assistant, action: 'slack:read', audience: 'svc', now: NOW, random: seededRandom('hs/rp') })
    expect(codeOf(await v.authorize({ invocation: i }))).toBe('allowed')
    now = NOW + 300 + 60
    expect(codeOf(await v.authorize({ invocation: i }))).toBe('ERR_REPLAY')
    now = NOW + 300 + 60 + 1
    expect(codeOf(await v.authorize({ invocation: i }))).toBe('ERR_PROOF')
  })

  it('the in-memory cache keeps an entry while now < expiresAt, and its sweep drops only expired ones', () => {
    const cache = createMemoryReplayCache()
    expect(cache.claim('a', 100, 0, new Uint8Array())).toBe(true)
    expect(cache.claim('b', 1000, 0, new Uint8Array())).toBe(true)
    expect([cache.has('a', 99), cache.claim('a', 200, 99, new Uint8Array())]).toEqual([true, false])
    // a sweep at 100 forgets `a` (expired) and keeps `b`
    expect(cache.claim('c', 500, 100, new Uint8Array())).toBe(true)
    expect([cache.has('a', 100), cache.has('b', 100), cache.has('b', 999), cache.has('b', 1000)]).toEqual([false, true, true, false])
    expect(cache.claim('b', 2000, 999, new Uint8Array())).toBe(false)
  })
})

describe('counter keys', () => {
  it('are <64 lower-case hex>/<caveat index in decimal, no leading zeros>', async () => {
    const filler = Array.from({ length: 10 }, () => ({ type: 'actions' as const, patterns: ['slack:*'] }))
    const m = attenuate(rootGrant(), {
      key: assistant,
      caveats: [{ type: 'uses', max: 5 }, ...filler.slice(1), { type: 'uses', max: 9 }],
      now: T0,
      random: seededRandom('hs/keys'),
    })
    const d = await verifierFor().authorize({ mandate: m, request: read })
    if (!d.allowed) throw new Error(d.code)
    const id = m.blocks[1]?.idHex as string
    expect(id).toMatch(/^[0-9a-f]{64}$/)
    expect(d.usage.map((u) => u.key).sort()).toEqual([`${id}/0`, `${id}/10`])
  })
})
