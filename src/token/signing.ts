/**
 * Signing inputs (spec §4.3). Every signature covers a pre-authentication encoding (PAE,
 * as in PASETO) of a domain string and the exact payload bytes carried in the token, and
 * for a block also the id of the block before it:
 *
 *     PAE(p1 … pn) = LE64(n) ‖ LE64(len p1) ‖ p1 ‖ … ‖ LE64(len pn) ‖ pn
 *     block:  PAE(d, parent id or empty, payload)     others: PAE(d, payload)
 *
 * One domain per kind of signed thing, so a signature made for one can never be
 * presented as another (no cross-protocol confusion).
 *
 * @module
 */
import { utf8 } from '../internal/bytes.js'
import { scratch } from '../internal/pool.js'

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

/** LE64(n) at `at` of `out`, byte by byte: no BigInt on the hot path (a length is < 2^53). */
function writeLe64(out: Uint8Array, at: number, n: number): void {
  let low = n >>> 0
  // Stryker disable next-line ArithmeticOperator: equivalent — every length here is below 2^32 (tokens are at most 16 KiB), so the high word is 0, and n × 2^32 & 0xff is 0 too
  let high = Math.floor(n / 0x1_0000_0000)
  // Stryker disable next-line EqualityOperator: equivalent — a fifth byte (0) is written where the high word's first byte is written next
  for (let i = 0; i < 4; i++, low >>>= 8) out[at + i] = low & 0xff
  // Stryker disable next-line EqualityOperator: equivalent — a ninth byte (0) lands where the piece after the length is written next, or past the array's end
  for (let i = 4; i < 8; i++, high >>>= 8) out[at + i] = high & 0xff
}

/** PAE over the given pieces, written whole into a scratch array of its exact size (src/internal/pool.ts): used at once, never held. */
export function pae(pieces: readonly Uint8Array[]): Uint8Array {
  let size = 8
  for (const p of pieces) size += 8 + p.length
  const out = scratch(size)
  writeLe64(out, 0, pieces.length)
  let at = 8
  for (const p of pieces) {
    writeLe64(out, at, p.length)
    out.set(p, at + 8)
    at += 8 + p.length
  }
  return out
}

/**
 * The exact bytes signed for `payload` in `domain`, in an array of their own.
 *
 * @example
 * ```ts
 * const message = signingInput('invocation', invocation.payload)
 * const holder = invocation.chain.at(-1)?.holder // the key the last block names
 * if (holder) getBackend().verify(invocation.signature, message, holder) // 'accept'
 * ```
 */
export function signingInput(domain: Exclude<Domain, 'block'>, payload: Uint8Array): Uint8Array {
  return Uint8Array.from(signedMessage(domain, payload))
}

/**
 * {@link signingInput} for this library's own signing and verifying: a scratch array
 * (src/internal/pool.ts), overwritten once enough later signing inputs have been made, whose
 * `buffer` holds others. Handed straight to a signer or verifier, never held, never out.
 */
export function signedMessage(domain: Exclude<Domain, 'block'>, payload: Uint8Array): Uint8Array {
  return pae([domainBytes[domain], payload])
}

const NO_PARENT = new Uint8Array(0)

/**
 * The exact bytes signed for a block: the domain, the id of the block before it (empty for
 * block 0) and the payload. Binding the parent here, rather than carrying its id in the
 * payload, is what makes a block impossible to reorder, duplicate or splice onto another
 * chain (spec §4.4) at no cost in bytes. A scratch array, as {@link signedMessage}'s: copy it
 * to keep it.
 *
 * @example
 * ```ts
 * const message = blockSigningInput(chain[i - 1]?.id, chain[i].payload)
 * getBackend().verify(chain[i].signature, message, chain[i - 1].holder)
 * ```
 */
export function blockSigningInput(parentId: Uint8Array | undefined, payload: Uint8Array): Uint8Array {
  return pae([domainBytes.block, parentId ?? NO_PARENT, payload])
}
