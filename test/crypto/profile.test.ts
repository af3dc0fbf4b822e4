/**
 * The signature profile (spec §4.1) and domain separation (§4.3) at the primitive level:
 * non-reduced S, weak keys, wrong lengths, signatures across domains and parents. The public
 * edge-case vectors are vectors.test.ts, the backends' agreement differential.test.ts, and
 * the token-level checks test/verify/chain.test.ts. Labels such as S4 in test names are rows of the project's security checklist, an external
 * document not in this repository: informative (spec/mandate-v1.md §10.1).
 */
import { beforeEach, describe, expect, it } from 'vitest'
import { getBackend } from '../../src/crypto/ed25519.js'
import { bytesToNumberLE, L, OUTCOME_CODES } from '../../src/crypto/profile.js'
import { concatBytes, utf8 } from '../../src/internal/bytes.js'
import { blockSigningInput, DOMAINS, type Domain, signingInput } from '../../src/token/signing.js'
import { fixedKey, keyFor } from '../helpers/fixtures.js'

function le32(n: bigint): Uint8Array {
  const out = new Uint8Array(32)
  for (let i = 0; i < 32; i++) out[i] = Number((n >> BigInt(8 * i)) & 0xffn)
  return out
}

// The backends by name (a test in keys.test.ts checks that both are installed under Node); each
// test signs its own message, so that no library code runs while the module loads (FIXED_KEYS).
describe.each(['node', 'noble'] as const)('%s backend', (name) => {
  const alice = fixedKey('alice')
  const msg = utf8('hello')
  let backend = {} as ReturnType<typeof getBackend>
  let sig: Uint8Array = new Uint8Array(0)
  beforeEach(() => {
    backend = getBackend(name)
    sig = backend.sign(alice.secretKey, msg)
  })

  it('accepts its own signature', () => {
    expect(backend.verify(sig, msg, alice.publicKey)).toBe('accept')
  })

  it('S4: S + L is rejected as not reduced (ERR_SIG_SCALAR)', () => {
    const malleated = concatBytes(sig.subarray(0, 32), le32(bytesToNumberLE(sig.subarray(32)) + L))
    const outcome = backend.verify(malleated, msg, alice.publicKey)
    expect(outcome).toBe('S_not_reduced')
    expect(OUTCOME_CODES.S_not_reduced).toBe('ERR_SIG_SCALAR')
  })

  it('S5: identity key with an all-zero signature (ERR_KEY_WEAK)', () => {
    const identity = new Uint8Array(32)
    identity[0] = 1
    for (const m of [new Uint8Array(0), msg, utf8('any message at all')]) {
      expect(backend.verify(new Uint8Array(64), m, identity)).toBe('small_order_A')
    }
    expect(OUTCOME_CODES.small_order_A).toBe('ERR_KEY_WEAK')
  })

  it('S7: wrong lengths never throw (ERR_SIG_LENGTH)', () => {
    for (const n of [0, 63, 65, 128]) expect(backend.verify(new Uint8Array(n), msg, alice.publicKey)).toBe('length')
    for (const n of [0, 31, 33]) expect(backend.verify(sig, msg, new Uint8Array(n))).toBe('length')
  })

  it('S10: a signature made in one domain never verifies in another, nor a block signature under another parent', () => {
    const payload = utf8('the same payload bytes')
    const others = (Object.keys(DOMAINS) as Domain[]).filter((d): d is Exclude<Domain, 'block'> => d !== 'block')
    expect(others).toHaveLength(Object.keys(DOMAINS).length - 1)
    const inputs: [string, Uint8Array][] = [
      ['block, as a root', blockSigningInput(undefined, payload)],
      ['block, under a parent', blockSigningInput(new Uint8Array(32).fill(9), payload)],
      ['block, under another parent', blockSigningInput(new Uint8Array(32).fill(8), payload)],
      ...others.map((d): [string, Uint8Array] => [d, signingInput(d, payload)]),
    ]
    for (const [signed, input] of inputs) {
      const s = backend.sign(alice.secretKey, input)
      for (const [checked, other] of inputs) {
        expect(backend.verify(s, other, alice.publicKey), `${signed} checked as ${checked}`).toBe(
          signed === checked ? 'accept' : 'equation',
        )
      }
    }
  })

  it('rejects a signature under another key', () => {
    expect(backend.verify(sig, msg, keyFor('mallory').publicKey)).toBe('equation')
  })
})
