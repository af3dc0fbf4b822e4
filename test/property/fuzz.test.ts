/**
 * 100,000 mutated tokens through the parsers. Every one is either parsed or
 * rejected with a MandateError: no other exception, no hang, no prototype pollution.
 * (Full verification of mutated tokens is in tokens.test.ts.)
 */
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { approve, formatMandate, invoke, MandateError, parseApproval, parseInvocation, parseMandate, seal } from '../../src/index.js'
import { alice, aliceDid, assistant, bearerChild, rootGrant } from '../helpers/chains.js'
import { seededRandom, T0 } from '../helpers/fixtures.js'

/** The tokens to mutate. Built inside each test, not while the module loads (see FIXED_KEYS). */
function seedTokens() {
  const mandate = bearerChild(
    [
      { type: 'actions', patterns: ['slack:*', 'email:read'] },
      { type: 'where', rules: [{ path: 'to', op: 'glob', value: '*@example.com' }] },
      { type: 'uses', max: 3, per: 60 },
    ],
    [{ type: 'approval', actions: ['email:*'], approvers: [aliceDid], quorum: 1 }],
  )
  const invocation = invoke(rootGrant(), {
    key: assistant,
    action: 'a:b',
    args: { x: [1, 'y', { z: true }] },
    audience: 'svc',
    now: T0,
    random: seededRandom('fz'),
  })
  const approval = approve({ approver: alice, invocation, now: T0 })
  return {
    mandate,
    subjects: [
      { name: 'mandate', bytes: mandate.bytes, parse: parseMandate },
      { name: 'sealed', bytes: seal(mandate).bytes, parse: parseMandate },
      { name: 'invocation', bytes: invocation.bytes, parse: parseInvocation },
      { name: 'approval', bytes: approval.bytes, parse: parseApproval },
    ],
  }
}

type Mutation =
  | { kind: 'xor'; edits: [number, number][] }
  | { kind: 'truncate'; at: number }
  | { kind: 'insert'; at: number; bytes: Uint8Array }
  | { kind: 'delete'; at: number; n: number }

const mutation = (length: number): fc.Arbitrary<Mutation> =>
  fc.oneof(
    fc
      .array(fc.tuple(fc.nat({ max: length - 1 }), fc.integer({ min: 1, max: 255 })), { minLength: 1, maxLength: 4 })
      .map((edits) => ({ kind: 'xor' as const, edits })),
    fc.nat({ max: length - 1 }).map((at) => ({ kind: 'truncate' as const, at })),
    fc
      .tuple(fc.nat({ max: length }), fc.uint8Array({ minLength: 1, maxLength: 9 }))
      .map(([at, bytes]) => ({ kind: 'insert' as const, at, bytes })),
    fc.tuple(fc.nat({ max: length - 1 }), fc.integer({ min: 1, max: 16 })).map(([at, n]) => ({ kind: 'delete' as const, at, n })),
  )

function apply(bytes: Uint8Array, m: Mutation): Uint8Array {
  switch (m.kind) {
    case 'xor': {
      const out = new Uint8Array(bytes)
      for (const [i, x] of m.edits) out[i] = (out[i] as number) ^ x
      return out
    }
    case 'truncate':
      return bytes.subarray(0, m.at)
    case 'insert':
      return Uint8Array.from([...bytes.subarray(0, m.at), ...m.bytes, ...bytes.subarray(m.at)])
    case 'delete':
      return Uint8Array.from([...bytes.subarray(0, m.at), ...bytes.subarray(m.at + m.n)])
  }
}

describe('parser fuzzing', () => {
  for (const name of ['mandate', 'sealed', 'invocation', 'approval']) {
    it(`${name}: 25,000 mutations only ever yield typed errors`, () => {
      const s = seedTokens().subjects.find((t) => t.name === name)
      if (s === undefined) throw new Error(`no seed token ${name}`)
      const codes = new Map<string, number>()
      fc.assert(
        fc.property(mutation(s.bytes.length), (m) => {
          const input = apply(s.bytes, m)
          try {
            s.parse(input)
            codes.set('parsed', (codes.get('parsed') ?? 0) + 1)
          } catch (e) {
            if (!(e instanceof MandateError)) throw e
            codes.set(e.code, (codes.get(e.code) ?? 0) + 1)
          }
        }),
        { numRuns: 25_000, seed: 14 },
      )
      expect(codes.size).toBeGreaterThan(4)
      expect(({} as Record<string, unknown>)['polluted']).toBeUndefined()
    })
  }

  it('the seed tokens themselves parse', () => {
    const { mandate, subjects } = seedTokens()
    for (const s of subjects) expect(() => s.parse(s.bytes)).not.toThrow()
    expect(formatMandate(parseMandate(mandate.bytes))).toBe(formatMandate(mandate))
  })
})
