/**
 * Signing inputs (spec §4.4). Every signature covers a pre-authentication encoding (PAE,
 * as in PASETO) of a domain string and the exact payload bytes carried in the token:
 *
 *     PAE(d, p) = LE64(2) ‖ LE64(len d) ‖ d ‖ LE64(len p) ‖ p
 *
 * One domain per kind of signed thing, so a signature made for one can never be
 * presented as another (cross-protocol, checklist S10).
 *
 * @module
 */
import { concatBytes, utf8 } from '../internal/bytes.js'

/** The domain strings of format version 1. */
export const DOMAINS = {
  block: 'mandate/v1/block',
  seal: 'mandate/v1/seal',
  invocation: 'mandate/v1/invocation',
  approval: 'mandate/v1/approval',
  revocation: 'mandate/v1/revocation',
  feed: 'mandate/v1/feed',
} as const

/** A signing domain. */
export type Domain = keyof typeof DOMAINS

const domainBytes = Object.fromEntries(Object.entries(DOMAINS).map(([k, v]) => [k, utf8(v)])) as Record<Domain, Uint8Array>

function le64(n: number): Uint8Array {
  const out = new Uint8Array(8)
  new DataView(out.buffer).setBigUint64(0, BigInt(n), true)
  return out
}

/** PAE over the given pieces. */
export function pae(pieces: readonly Uint8Array[]): Uint8Array {
  const parts: Uint8Array[] = [le64(pieces.length)]
  for (const p of pieces) parts.push(le64(p.length), p)
  return concatBytes(...parts)
}

/** The exact bytes signed for `payload` in `domain`. *
 * @example
 * ```ts
 * const message = signingInput('block', block.payload)
 * getBackend().verify(block.signature, message, signerKey)
 * ```
 */
export function signingInput(domain: Domain, payload: Uint8Array): Uint8Array {
  return pae([domainBytes[domain], payload])
}
