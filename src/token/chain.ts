/**
 * The chain (spec §5.3): `[principal, block+]`, carried by mandates, invocations and
 * revocation statements alike. The principal travels once, here, and block 0's signature is
 * verified under it; trust in it comes only from a verifier's root set.
 *
 * @module
 */
import type { CborValue } from '../cbor/codec.js'
import { TOKEN_LIMITS } from '../cbor/limits.js'
import { fail } from '../errors.js'
import { decodeBlock, joinSigned, type UnverifiedBlock } from './block.js'

/**
 * Chains decoded before, found by their exact encoding (a verifier's cache of verified chains).
 * A chain it returns was decoded from the same bytes, so decoding again is skipped.
 */
export interface KnownChains {
  find(raw: readonly CborValue[]): readonly UnverifiedBlock[] | undefined
}

/** Chains made by {@link decodeChain} (or extended with a block {@link decodeBlock} made): each block's fields are the reading of its bytes. */
const decoded = new WeakSet<readonly UnverifiedBlock[]>()

/** Whether `blocks` came from this module's decoding, so that re-reading their bytes would give them back. */
// Stryker disable next-line BlockStatement: equivalent — a chain not known as decoded is read again from its bytes, which gives the same blocks (only slower)
export function wasDecoded(blocks: readonly UnverifiedBlock[]): boolean {
  return decoded.has(blocks)
}

/**
 * `blocks`, a decoded chain (or none), with `block` appended: a block just decoded from its bytes
 * at index `blocks.length`. The caller (assembling a mandate) vouches for both.
 */
export function extendDecoded(blocks: readonly UnverifiedBlock[], block: UnverifiedBlock | undefined): readonly UnverifiedBlock[] {
  const chain = block === undefined ? blocks : [...blocks, block]
  decoded.add(chain)
  return chain
}

/** Decode a chain, `[principal, block+]`, shared by mandates, invocations and statements. */
export function decodeChain(raw: CborValue | undefined, known?: KnownChains): readonly UnverifiedBlock[] {
  const found = Array.isArray(raw) ? known?.find(raw) : undefined
  // Stryker disable next-line ConditionalExpression: equivalent — a chain the cache knows decodes to the blocks it holds (only slower)
  if (found) return found
  if (!Array.isArray(raw) || raw.length < 2) fail('ERR_FORMAT', 'a chain is [principal, block+]')
  const [principal, ...list] = raw as CborValue[]
  if (!(principal instanceof Uint8Array) || principal.length !== 32) fail('ERR_FORMAT', 'a chain starts with its 32-byte principal key')
  if (list.length > TOKEN_LIMITS.maxBlocks) {
    fail('ERR_CHAIN_DEPTH', `chain of ${list.length} blocks exceeds ${TOKEN_LIMITS.maxBlocks}`)
  }
  const blocks = list.map((b, i) => decodeBlock(b, i, principal))
  decoded.add(blocks)
  return blocks
}

/** The encoded chain, as carried by mandates, invocations and statements. */
export function encodeChain(blocks: readonly UnverifiedBlock[]): CborValue[] {
  const principal = blocks[0]?.principal
  if (!principal) throw new TypeError('"chain" expected block 0 with its principal')
  return [principal, ...blocks.map((b) => joinSigned(b.signature, b.payload))]
}
