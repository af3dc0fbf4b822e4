/**
 * Building and tampering with chains for tests.
 *
 * On the wire (format version 1) a block is one byte string, `signature ‖ payload`, the
 * payload the array `[holder, bearer, issued_at, caveats, extra?]`; a chain is
 * `[principal, block…]`; a mandate `[1, chain, proof?]`. Tests handle a block as a
 * {@link Pair} `[payload, signature]` so that either half can be tampered with, and the
 * helpers here join the halves when encoding.
 */

import type { Caveat } from '../../src/caveats/types.js'
import type { CborValue } from '../../src/cbor/codec.js'
import { encodeCbor } from '../../src/cbor/codec.js'
import { getBackend } from '../../src/crypto/ed25519.js'
import { sha256 } from '../../src/crypto/hash.js'
import type { KeyPair } from '../../src/crypto/keys.js'
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
import { joinSigned } from '../../src/token/block.js'
import type { Proof } from '../../src/token/mandate.js'
import { blockSigningInput } from '../../src/token/signing.js'
import { fixedDid, fixedKey, seededRandom, T0 } from './fixtures.js'

export const alice = fixedKey('alice')
export const assistant = fixedKey('assistant')
export const subagent = fixedKey('subagent')
export const mallory = fixedKey('mallory')
export const aliceDid = fixedDid('alice')

/** A root from Alice to the assistant (bound) with `caveats` plus an 8-hour window. */
export function rootGrant(
  caveats: Caveat[] = [{ type: 'actions', patterns: ['*'] }],
  to: string | undefined = fixedDid('assistant'),
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

/** A block as its two halves, `[payload, signature]`; on the wire it is `signature ‖ payload`. */
export type Pair = [Uint8Array, Uint8Array]

/** The wire form of a block: one byte string, signature then payload. */
export function wireBlock([payload, signature]: Pair): Uint8Array {
  return joinSigned(signature, payload)
}

/** The id of a block given as a pair: SHA-256 of its signature. */
export function pairId(pair: Pair): Uint8Array {
  return sha256(pair[1])
}

/** A chain `[principal, block…]` from raw block pairs (principal: Alice unless given). */
export function rawChain(blocks: Pair[], principal: Uint8Array = alice.publicKey): CborValue[] {
  return [principal, ...blocks.map(wireBlock)]
}

/** The wire form of a proof: the bearer secret, the seal, or nothing (bound). */
export function rawProof(proof: Proof): CborValue[] {
  return proof.kind === 'bearer' ? [proof.secret] : proof.kind === 'sealed' ? [proof.signature] : []
}

/**
 * Re-encode a mandate `[version, [principal, block…], proof?]` from raw block pairs and a
 * proof, bypassing every library check.
 */
export function rawMandate(blocks: Pair[], proof: Proof, version: CborValue = 1, principal: Uint8Array = alice.publicKey): Uint8Array {
  return encodeCbor([version, rawChain(blocks, principal), ...rawProof(proof)])
}

/** The wire form of an invocation, approval or statement: one byte string, signature ‖ payload. */
export function rawSigned(payload: Uint8Array, signature: Uint8Array): Uint8Array {
  return encodeCbor(joinSigned(signature, payload))
}

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

/**
 * Sign an arbitrary block payload (for inputs the library itself refuses to build) as the
 * block below `parent` (a block id; omitted for a root).
 */
export function signRaw(payload: CborValue, signer: KeyPair, parent?: Uint8Array): Pair {
  const bytes = encodeCbor(payload)
  return [bytes, getBackend().sign(signer.secretKey, blockSigningInput(parent, bytes))]
}

/** The nonce raw bound blocks carry. */
export const RAW_NONCE = new Uint8Array(16).fill(7)

/** Options of {@link rawPayload}. */
export interface RawPayloadOptions {
  /** Default false (a bound holder). */
  readonly bearer?: boolean
  /** Default T0. */
  readonly issuedAt?: number
  /**
   * The extra map, or 'none' to leave it out. Default: `{0: RAW_NONCE}` for a bound holder,
   * none for a bearer one.
   */
  readonly extra?: Map<number, CborValue> | 'none'
}

/** A block payload `[holder, bearer, issued_at, caveats, extra?]` with raw caveats. */
export function rawPayload(caveats: CborValue[], holder: Uint8Array, options: RawPayloadOptions = {}): CborValue[] {
  const bearer = options.bearer ?? false
  const extra = options.extra ?? (bearer ? 'none' : new Map<number, CborValue>([[0, RAW_NONCE]]))
  const fields: CborValue[] = [holder, bearer, options.issuedAt ?? T0, caveats]
  if (extra !== 'none') fields.push(extra)
  return fields
}
