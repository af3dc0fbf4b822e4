import { describe, expect, it } from 'vitest'
import { type CborValue, decodeCbor, encodeCbor } from '../../src/cbor/codec.js'
import { attenuate, createMemoryRevocationView, createVerifier, invoke, mint, type UnverifiedMandate } from '../../src/index.js'
import { decodeChain } from '../../src/token/chain.js'
import { VerifiedChains } from '../../src/verify/chain-cache.js'
import { fixedDid, fixedKey, seededRandom, T0 } from '../helpers/fixtures.js'

const grant = (blocks: number, seed = 'a'): UnverifiedMandate => {
  let m = mint({
    principal: fixedKey('alice'),
    caveats: [
      { type: 'actions', patterns: ['slack:*'] },
      { type: 'window', expires: T0 + 3600 },
    ],
    now: T0,
    random: seededRandom(`chain-cache:${seed}`),
  })
  for (let i = 1; i < blocks; i++) {
    m = attenuate(m, {
      caveats: [{ type: 'actions', patterns: ['slack:read'] }],
      ...(i === blocks - 1 ? { to: fixedDid('assistant') } : {}),
      now: T0,
      random: seededRandom(`chain-cache:${seed}:${i}`),
    })
  }
  return m
}
/** The chain as the wire carries it, `[principal, block+]`, decoded to CBOR values (copies). */
const wire = (m: UnverifiedMandate): CborValue[] => (decodeCbor(m.bytes) as CborValue[])[1] as CborValue[]
const flip = (raw: CborValue[], element: number, byte: number): CborValue[] =>
  raw.map((x, i) => {
    if (i !== element) return x
    const copy = Uint8Array.from(x as Uint8Array)
    copy[byte] = (copy[byte] as number) ^ 1
    return copy
  })

describe('the verified-chain cache', () => {
  it('returns a chain only for exactly its bytes: any changed byte, block added or dropped misses', () => {
    const cache = new VerifiedChains(8)
    const m = grant(3)
    const raw = wire(m)
    const chain = decodeChain(raw)
    expect(cache.find(raw)).toBeUndefined()
    cache.add(chain)
    const found = cache.find(wire(m)) as ReturnType<typeof decodeChain>
    expect(found).toEqual(chain)
    expect(cache.find(wire(m))).toBe(found)
    expect([cache.has(found), cache.has(chain), cache.has(decodeChain(raw))]).toEqual([true, false, false])
    // What is kept holds the chain's own bytes only, not the buffer it was decoded from.
    const held = found[0]?.payload.buffer as ArrayBuffer
    expect(held).not.toBe(chain[0]?.payload.buffer)
    expect(held.byteLength).toBe(32 + chain.reduce((n, b) => n + b.signature.length + b.payload.length, 0))
    expect(found.every((b) => b.signature.buffer === held && b.payload.buffer === held)).toBe(true)
    expect(found[0]?.principal?.buffer).toBe(held)
    // The principal, a signature and a payload of a middle block, the last block's payload.
    for (const [element, byte] of [
      [0, 31],
      [2, 0],
      [2, 70],
      [3, 100],
    ] as const) {
      expect(cache.find(flip(raw, element, byte)), `element ${element} byte ${byte}`).toBeUndefined()
    }
    expect(cache.find(raw.slice(0, 3))).toBeUndefined()
    expect(cache.find([...raw, raw[3] as CborValue])).toBeUndefined()
    const longer = Uint8Array.from([...(raw[3] as Uint8Array), 0])
    expect(cache.find([...raw.slice(0, 3), longer])).toBeUndefined()
    expect(cache.find([new Uint8Array(33), ...raw.slice(1)])).toBeUndefined()
    expect(cache.find([Uint8Array.from([...(raw[0] as Uint8Array), 0]), ...raw.slice(1)])).toBeUndefined()
    expect(cache.find([(raw[0] as Uint8Array).subarray(0, 31), ...raw.slice(1)])).toBeUndefined()
    expect(cache.find(['principal', ...raw.slice(1)])).toBeUndefined()
    expect(cache.find([raw[0] as CborValue])).toBeUndefined()
    expect(cache.find([raw[0] as CborValue, 'text'])).toBeUndefined()
  })

  it('is bounded by entries and by bytes, least recently used out first; size 0 holds nothing', () => {
    const chains = ['a', 'b', 'c'].map((seed) => grant(2, seed))
    const cache = new VerifiedChains(2)
    const [a, b, c] = chains.map((m) => decodeChain(wire(m))) as [
      ReturnType<typeof decodeChain>,
      ReturnType<typeof decodeChain>,
      ReturnType<typeof decodeChain>,
    ]
    cache.add(a)
    cache.add(b)
    expect(cache.find(wire(chains[0] as UnverifiedMandate))).toEqual(a) // a is now the most recent
    cache.add(c)
    expect(cache.size.entries).toBe(2)
    expect(cache.find(wire(chains[1] as UnverifiedMandate))).toBeUndefined()
    expect(cache.find(wire(chains[0] as UnverifiedMandate))).toEqual(a)
    expect(cache.find(wire(chains[2] as UnverifiedMandate))).toEqual(c)
    // A byte budget for one entry: the second pushes the first out, and an entry above it is not kept.
    const one = cache.size.bytes / 2
    const tight = new VerifiedChains(10, one + 1)
    tight.add(a)
    tight.add(b)
    expect([
      tight.size.entries,
      tight.find(wire(chains[0] as UnverifiedMandate)),
      tight.find(wire(chains[1] as UnverifiedMandate)),
    ]).toEqual([1, undefined, b])
    // Accounted: 512 per entry, 512 per block beyond its signature and payload, 32 for the principal.
    const expected = (chain: ReturnType<typeof decodeChain>) =>
      512 + 32 + chain.reduce((n, block) => n + 512 + block.signature.length + block.payload.length, 0)
    expect(one).toBe(expected(a))
    const exact = new VerifiedChains(10, expected(a) + expected(b))
    exact.add(a)
    exact.add(b)
    expect(exact.size.entries).toBe(2)
    const single = new VerifiedChains(10, expected(a))
    single.add(a)
    expect(single.size).toEqual({ entries: 1, bytes: expected(a) })
    const tiny = new VerifiedChains(10, one - 1)
    tiny.add(a)
    expect(tiny.size).toEqual({ entries: 0, bytes: 0 })
    const off = new VerifiedChains(0)
    off.add(a)
    expect([off.find(wire(chains[0] as UnverifiedMandate)), off.size.entries]).toEqual([undefined, 0])
    // Adding the same chain again replaces its entry, counted once.
    const again = new VerifiedChains(4)
    again.add(a)
    const bytes = again.size.bytes
    again.add(decodeChain(wire(chains[0] as UnverifiedMandate)))
    expect(again.size).toEqual({ entries: 1, bytes })
  })

  it('a verifier that has seen a chain still denies a tampered copy of it, at the block tampered with', async () => {
    const m = grant(5)
    const assistant = fixedKey('assistant')
    const verifier = createVerifier({
      roots: [fixedDid('alice')],
      audience: 'slack',
      revocations: createMemoryRevocationView(),
      clock: () => T0 + 10,
    })
    const inv = (n: number) =>
      invoke(m, { key: assistant, action: 'slack:read', audience: 'slack', now: T0 + 10, random: seededRandom(`inv:${n}`) })
    expect((await verifier.authorize({ invocation: inv(1).bytes })).allowed).toBe(true)
    // Block 2's payload changed, the last block (the cache's key) untouched: a forged middle block.
    const fields = decodeCbor(inv(2).bytes) as Uint8Array
    const payload = decodeCbor(fields.subarray(64)) as Map<number, CborValue>
    const tampered = flip(payload.get(1) as CborValue[], 3, 80)
    payload.set(1, tampered)
    const forged = encodeCbor(Uint8Array.from([...fields.subarray(0, 64), ...encodeCbor(payload)]))
    const denied = await verifier.authorize({ invocation: forged })
    expect(denied).toMatchObject({ allowed: false, code: 'ERR_SIG_INVALID', block: 2 })
    // The genuine chain is still served from the cache, and a buffer the caller reuses changes nothing.
    const buffer = Uint8Array.from(inv(3).bytes)
    expect((await verifier.authorize({ invocation: buffer })).allowed).toBe(true)
    buffer.set(forged.subarray(0, Math.min(forged.length, buffer.length)))
    expect((await verifier.authorize({ invocation: inv(4).bytes })).allowed).toBe(true)
    // With the caches off, the same answers.
    const uncached = createVerifier({
      roots: [fixedDid('alice')],
      audience: 'slack',
      revocations: createMemoryRevocationView(),
      clock: () => T0 + 10,
      cacheSize: 0,
    })
    expect((await uncached.authorize({ invocation: inv(5).bytes })).allowed).toBe(true)
    expect(await uncached.authorize({ invocation: forged })).toMatchObject({ allowed: false, code: 'ERR_SIG_INVALID', block: 2 })
  })
})
