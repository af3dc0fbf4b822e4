/**
 * A token parsed from a caller's bytes owns a copy of them: the caller may reuse its array at
 * once (a pooled buffer, a ring), and neither the token nor what a verifier later sends on of it
 * (the invocation's bytes to a replay cache or a usage store, after an await) changes with it.
 */
import { describe, expect, it } from 'vitest'
import {
  approve,
  createMemoryReplayCache,
  createRevocation,
  formatApproval,
  formatInvocation,
  formatMandate,
  formatRevocation,
  invoke,
  parseApproval,
  parseInvocation,
  parseMandate,
  parseRevocation,
  type ReplayCache,
  verifyRevocation,
} from '../../src/index.js'
import { alice, assistant, rootGrant, verifierFor } from '../helpers/chains.js'
import { seededRandom, T0 } from '../helpers/fixtures.js'

const grant = rootGrant([{ type: 'actions', patterns: ['mail:*'] }])
const invocation = invoke(grant, { key: assistant, action: 'mail:read', audience: 'svc', now: T0 + 30, random: seededRandom('cb/inv') })

/** Each parser, the text of a token of its kind, and what formats the parsed token back. */
const kinds = [
  { kind: 'mandate', text: formatMandate(grant), parse: parseMandate, format: formatMandate },
  { kind: 'invocation', text: formatInvocation(invocation), parse: parseInvocation, format: formatInvocation },
  {
    kind: 'approval',
    text: formatApproval(approve({ approver: alice, invocation, now: T0 + 40 })),
    parse: parseApproval,
    format: formatApproval,
  },
  {
    kind: 'revocation',
    text: formatRevocation(createRevocation({ mandate: grant, key: alice, now: T0, random: seededRandom('cb/rev') })),
    parse: parseRevocation,
    format: formatRevocation,
  },
] as const

describe("a token parsed from a caller's bytes", () => {
  for (const { kind, text, parse, format } of kinds) {
    it(`${kind}: keeps its bytes, and what they decode to, when the caller then overwrites its array`, () => {
      const exact = (parse as (input: string) => { bytes: Uint8Array })(text).bytes
      for (const array of [Uint8Array.from(exact), Buffer.from(exact)]) {
        const token = (parse as (input: Uint8Array) => { bytes: Uint8Array })(array)
        expect(token.bytes).not.toBe(array)
        array.fill(0xff)
        expect(token.bytes).toEqual(Uint8Array.from(exact))
        expect((format as (t: unknown) => string)(token)).toBe(text)
      }
    })
  }

  it('a revocation statement still verifies after the array it came from is overwritten', () => {
    const array = Uint8Array.from(parseRevocation(kinds[3].text).bytes)
    const statement = parseRevocation(array)
    array.fill(0)
    expect(verifyRevocation(statement).signerRole).toBe('principal')
  })

  it("the replay cache gets the invocation's own bytes after an await, whatever the caller did to its array meanwhile", async () => {
    const memory = createMemoryReplayCache()
    const claimed: Uint8Array[] = []
    const replay: ReplayCache = {
      has: (id, now) => memory.has(id, now),
      // A store over the network reads the bytes later, once it sends them.
      claim: async (id, until, now, bytes) => {
        await new Promise((resolve) => setTimeout(resolve, 5))
        claimed.push(Uint8Array.from(bytes))
        return memory.claim(id, until, now, bytes)
      },
      release: (id, bytes) => memory.release(id, bytes),
    }
    const verifier = verifierFor({ replay })
    verifier.at(T0 + 40)
    const array = Uint8Array.from(invocation.bytes)
    const decision = verifier.authorize({ invocation: array })
    array.fill(0)
    const d = await decision
    expect(d.allowed ? 'allowed' : d.code).toBe('allowed')
    expect(claimed).toEqual([Uint8Array.from(invocation.bytes)])
  })
})
