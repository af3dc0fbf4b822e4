/**
 * Properties over random tokens: byte-exact round trips, every single-byte mutation rejected
 * with a typed error, and attenuation never widening.
 */
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import type { Caveat } from '../../src/caveats/types.js'
import { decodeCbor, encodeCbor } from '../../src/cbor/codec.js'
import {
  attenuate,
  createVerifier,
  formatInvocation,
  formatMandate,
  invoke,
  MandateError,
  mint,
  parseInvocation,
  parseMandate,
  seal,
  toDidKey,
  type UnverifiedMandate,
} from '../../src/index.js'
import { alice, aliceDid, assistant } from '../helpers/chains.js'
import { seededRandom, T0 } from '../helpers/fixtures.js'

const ACTIONS = ['email:read', 'email:send', 'slack:read', 'slack:send', 'calendar:events:decline']
const PATTERNS = ['*', 'email:*', 'slack:*', '*:read', 'email:read', 'slack:send', 'calendar:*', 'calendar:*:decline']
const RESOURCES = ['a/1', 'a/2', 'b/1', 'b/x/y']
const GLOBS = ['**', 'a/*', 'b/**', 'a/1', '*/1', 'b/*/y']

const caveat: fc.Arbitrary<Caveat> = fc.oneof(
  fc.uniqueArray(fc.constantFrom(...PATTERNS), { minLength: 1, maxLength: 3 }).map((patterns) => ({ type: 'actions' as const, patterns })),
  fc.uniqueArray(fc.constantFrom(...PATTERNS), { minLength: 1, maxLength: 2 }).map((patterns) => ({ type: 'deny' as const, patterns })),
  fc.uniqueArray(fc.constantFrom(...GLOBS), { minLength: 1, maxLength: 3 }).map((globs) => ({ type: 'resources' as const, globs })),
  fc.record({ n: fc.integer({ min: 0, max: 20 }), op: fc.constantFrom('lt' as const, 'ge' as const, 'eq' as const) }).map(({ n, op }) => ({
    type: 'where' as const,
    rules: [{ path: 'n', op, value: n }],
  })),
  fc.integer({ min: 1, max: 3 }).map((max) => ({ type: 'uses' as const, max })),
  fc.integer({ min: 1, max: 7200 }).map((d) => ({ type: 'window' as const, expires: T0 + d })),
  fc.constantFrom('svc', 'other').map((n) => ({ type: 'audience' as const, names: [n] })),
)

const request = fc.record({
  action: fc.constantFrom(...ACTIONS),
  resource: fc.constantFrom(...RESOURCES),
  n: fc.integer({ min: 0, max: 20 }),
})

function chainOf(levels: Caveat[][], seed: string): UnverifiedMandate[] {
  const out: UnverifiedMandate[] = []
  let m = mint({
    principal: alice,
    caveats: [...(levels[0] ?? []), { type: 'window', expires: T0 + 8 * 3600 }],
    now: T0,
    random: seededRandom(`${seed}/0`),
  })
  out.push(m)
  for (let i = 1; i < levels.length; i++) {
    m = attenuate(m, { caveats: levels[i] ?? [], now: T0, random: seededRandom(`${seed}/${i}`) })
    out.push(m)
  }
  return out
}

const verifier = () => createVerifier({ roots: [aliceDid], audience: 'svc', clock: () => T0 + 10, revocations: 'none' })

describe('properties', () => {
  it('attenuation never widens: allowed by a child implies allowed by its parent', async () => {
    let childAllowed = 0
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.array(caveat, { maxLength: 3 }), { minLength: 2, maxLength: 4 }),
        request,
        fc.string(),
        async (levels, req, seed) => {
          const chain = chainOf(levels, seed)
          const decisions = []
          for (const m of chain) {
            decisions.push(
              await verifier().authorize({ mandate: m, request: { action: req.action, resource: req.resource, args: { n: req.n } } }),
            )
          }
          for (let i = 1; i < decisions.length; i++) {
            if (decisions[i]?.allowed) {
              childAllowed++
              expect(decisions[i - 1]?.allowed).toBe(true)
            }
          }
        },
      ),
      { numRuns: 400, seed: 7 },
    )
    expect(childAllowed).toBeGreaterThan(50)
  })

  it('a valid token survives decode/encode byte for byte, in binary and text', () => {
    fc.assert(
      fc.property(fc.array(fc.array(caveat, { maxLength: 4 }), { minLength: 1, maxLength: 4 }), fc.string(), (levels, seed) => {
        const m = chainOf(levels, seed).at(-1) as UnverifiedMandate
        const reencoded = encodeCbor(decodeCbor(m.bytes))
        expect(Buffer.from(reencoded).equals(Buffer.from(m.bytes))).toBe(true)
        for (const b of m.blocks) expect(Buffer.from(encodeCbor(decodeCbor(b.payload))).equals(Buffer.from(b.payload))).toBe(true)
        const text = formatMandate(m)
        expect(formatMandate(parseMandate(text))).toBe(text)
        expect(Buffer.from(parseMandate(text).bytes).equals(Buffer.from(m.bytes))).toBe(true)
      }),
      { numRuns: 300, seed: 11 },
    )
  })
})

/** The tokens to mutate. Built inside each test, not while the module loads (see FIXED_KEYS). */
function mutationSubjects() {
  const bearer = chainOf(
    [
      [{ type: 'actions', patterns: ['slack:*'] }],
      [
        { type: 'uses', max: 100 },
        { type: 'resources', globs: ['**'] },
      ],
    ],
    'mut',
  ).at(-1) as UnverifiedMandate
  const sealed = seal(bearer)
  const bound = mint({
    principal: alice,
    to: toDidKey(assistant.publicKey),
    caveats: [
      { type: 'actions', patterns: ['slack:*'] },
      { type: 'window', expires: T0 + 3600 },
    ],
    now: T0,
    random: seededRandom('bound'),
  })
  const invocation = invoke(bound, {
    key: assistant,
    action: 'slack:read',
    resource: 'r',
    args: { n: 1 },
    audience: 'svc',
    now: T0,
    random: seededRandom('inv'),
  })
  const request = { action: 'slack:read', resource: 'r' }
  const subjects: [string, Uint8Array, (bytes: Uint8Array) => Parameters<ReturnType<typeof verifier>['authorize']>[0]][] = [
    ['bearer mandate', bearer.bytes, (b) => ({ mandate: b, request })],
    ['sealed mandate', sealed.bytes, (b) => ({ mandate: b, request })],
    ['invocation', invocation.bytes, (b) => ({ invocation: b })],
  ]
  return { bearer, invocation, subjects }
}

describe('single-byte mutations', () => {
  for (const name of ['bearer mandate', 'sealed mandate', 'invocation']) {
    const subject = () => {
      const found = mutationSubjects().subjects.find(([n]) => n === name)
      if (found === undefined) throw new Error(`no subject ${name}`)
      return found
    }

    it(`${name}: the original is allowed; every bit flip of every byte is denied with a typed code`, async () => {
      const [, bytes, present] = subject()
      const v = verifier()
      expect((await v.authorize(present(bytes))).allowed).toBe(true)
      const codes = new Map<string, number>()
      for (let i = 0; i < bytes.length; i++) {
        for (let bit = 0; bit < 8; bit++) {
          const mutated = new Uint8Array(bytes)
          mutated[i] = (mutated[i] as number) ^ (1 << bit)
          const d = await verifier().authorize(present(mutated))
          if (d.allowed) throw new Error(`${name}: flipping bit ${bit} of byte ${i} was allowed`)
          expect(d.code).not.toBe('ERR_INTERNAL')
          codes.set(d.code, (codes.get(d.code) ?? 0) + 1)
        }
      }
      expect(codes.size).toBeGreaterThan(3)
    })

    it(`${name}: random byte replacements are denied with a typed code`, async () => {
      const [, bytes, present] = subject()
      await fc.assert(
        fc.asyncProperty(fc.nat({ max: bytes.length - 1 }), fc.integer({ min: 1, max: 255 }), async (i, x) => {
          const mutated = new Uint8Array(bytes)
          mutated[i] = (mutated[i] as number) ^ x
          const d = await verifier().authorize(present(mutated))
          expect(d.allowed).toBe(false)
          if (!d.allowed) expect(d.code).not.toBe('ERR_INTERNAL')
        }),
        { numRuns: 1500, seed: 3 },
      )
    })
  }

  it('text forms: every character replaced is rejected', async () => {
    const { invocation } = mutationSubjects()
    const text = formatInvocation(invocation)
    const alphabet = 'AZaz09-_'
    for (let i = 0; i < text.length; i++) {
      const ch = alphabet[i % alphabet.length] === text[i] ? 'B' : (alphabet[i % alphabet.length] as string)
      const mutated = text.slice(0, i) + ch + text.slice(i + 1)
      const d = await verifier().authorize({ token: mutated })
      expect(d.allowed).toBe(false)
      if (!d.allowed) expect(d.code).not.toBe('ERR_INTERNAL')
    }
    expect(parseInvocation(text).idHex).toBe(invocation.idHex)
  })

  it('a block payload with one byte changed either decodes or is rejected with a typed code, never another exception', () => {
    const payload = mutationSubjects().bearer.blocks[1]?.payload as Uint8Array
    const outcomes = new Map<string, number>()
    fc.assert(
      fc.property(fc.nat({ max: payload.length - 1 }), fc.integer({ min: 1, max: 255 }), (i, x) => {
        const mutated = new Uint8Array(payload)
        mutated[i] = (mutated[i] as number) ^ x
        let outcome = 'decoded'
        try {
          decodeCbor(mutated)
        } catch (e) {
          if (!(e instanceof MandateError)) throw e
          outcome = e.code
        }
        outcomes.set(outcome, (outcomes.get(outcome) ?? 0) + 1)
      }),
      { numRuns: 3000, seed: 5 },
    )
    // Both sides are reached (seeded run: 2,001 decode), and every rejection is one of the strict
    // profile's codes, the usual ones each reached.
    expect(outcomes.get('decoded')).toBeGreaterThan(1500)
    const profile = ['ERR_CBOR_MALFORMED', 'ERR_CBOR_UTF8', 'ERR_CBOR_TYPE', 'ERR_CBOR_TAG', 'ERR_CBOR_NONCANONICAL']
    for (const code of profile) expect(outcomes.get(code), code).toBeGreaterThan(10)
    expect([...outcomes.keys()].filter((k) => k !== 'decoded' && !profile.includes(k))).toEqual(['ERR_LIMIT_COUNT'])
  })
})
