/**
 * Building and tampering with chains for tests.
 */

import type { Caveat } from '../../src/caveats/types.js'
import type { CborValue } from '../../src/cbor/codec.js'
import { encodeCbor } from '../../src/cbor/codec.js'
import { toDidKey } from '../../src/crypto/keys.js'
import {
  attenuate,
  createMemoryRevocationView,
  createVerifier,
  type Decision,
  type Denied,
  mint,
  type UnverifiedMandate,
  type VerifierOptions,
} from '../../src/index.js'
import type { Proof } from '../../src/token/mandate.js'
import { keyFor, seededRandom, T0 } from './fixtures.js'

export const alice = keyFor('alice')
export const assistant = keyFor('assistant')
export const subagent = keyFor('subagent')
export const mallory = keyFor('mallory')
export const aliceDid = toDidKey(alice.publicKey)

/** A root from Alice to the assistant (bound) with `caveats` plus an 8-hour window. */
export function rootGrant(
  caveats: Caveat[] = [{ type: 'actions', patterns: ['*'] }],
  to: string | undefined = toDidKey(assistant.publicKey),
): UnverifiedMandate {
  return mint({
    principal: alice,
    ...(to === undefined ? {} : { to }),
    name: 'assistant',
    caveats: [...caveats, { type: 'window', expires: T0 + 8 * 3600 }],
    now: T0,
    random: seededRandom(`root:${JSON.stringify(caveats)}:${to}`),
  })
}

/** Root (bound to assistant) → bearer child with `caveats`. */
export function bearerChild(caveats: Caveat[], rootCaveats?: Caveat[]): UnverifiedMandate {
  return attenuate(rootGrant(rootCaveats), {
    key: assistant,
    caveats,
    name: 'sub-agent',
    now: T0,
    random: seededRandom(`child:${JSON.stringify(caveats)}`),
  })
}

export function verifierFor(options: Partial<VerifierOptions> = {}) {
  let now = T0 + 60
  const v = createVerifier({
    roots: [{ key: aliceDid, name: 'alice' }],
    audience: 'svc',
    clock: () => now,
    revocations: createMemoryRevocationView(),
    ...options,
  })
  return Object.assign(v, {
    at: (t: number) => {
      now = t
    },
  })
}

/** Re-encode a mandate from raw block pairs and a proof, bypassing every library check. */
export function rawMandate(blocks: [Uint8Array, Uint8Array][], proof: Proof, version = 1): Uint8Array {
  const p: CborValue = proof.kind === 'bearer' ? [0, proof.secret] : proof.kind === 'sealed' ? [1, proof.signature] : [2]
  return encodeCbor(
    new Map<number, CborValue>([
      [0, version],
      [1, blocks.map(([a, b]) => [a, b])],
      [2, p],
    ]),
  )
}

export type Pair = [Uint8Array, Uint8Array]

export function pairs(m: UnverifiedMandate): Pair[] {
  return m.blocks.map((b) => [b.payload, b.signature])
}

/** Block `i` of `m` as a [payload, signature] pair. */
export function pairAt(m: UnverifiedMandate, i: number): Pair {
  const b = m.blocks[i]
  if (!b) throw new Error(`no block ${i}`)
  return [b.payload, b.signature]
}

export function codeOf(d: Decision): string {
  return d.allowed ? 'allowed' : d.code
}

export function denial(d: Decision): Denied {
  if (d.allowed) throw new Error('expected a denial, got allowed')
  return d
}

import { getBackend } from '../../src/crypto/ed25519.js'
import type { KeyPair } from '../../src/crypto/keys.js'
import { signingInput } from '../../src/token/signing.js'

/** Sign an arbitrary block payload map (for inputs the library itself refuses to build). */
export function signRaw(payload: Map<number, CborValue>, signer: KeyPair): [Uint8Array, Uint8Array] {
  const bytes = encodeCbor(payload)
  return [bytes, getBackend().sign(signer.secretKey, signingInput('block', bytes))]
}

/** A root payload from Alice to `holder` with raw caveats. */
export function rawRootPayload(caveats: CborValue[], holder: Uint8Array, extra: [number, CborValue][] = []): Map<number, CborValue> {
  return new Map<number, CborValue>([[1, holder], [3, caveats], [6, new Uint8Array(16).fill(7)], [7, T0], [8, alice.publicKey], ...extra])
}
