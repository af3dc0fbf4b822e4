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

/** Decode a chain, `[principal, block+]`, shared by mandates, invocations and statements. */
export function decodeChain(raw: CborValue | undefined): UnverifiedBlock[] {
  if (!Array.isArray(raw) || raw.length < 2) fail('ERR_FORMAT', 'a chain is [principal, block+]')
  const [principal, ...list] = raw as CborValue[]
  if (!(principal instanceof Uint8Array) || principal.length !== 32) fail('ERR_FORMAT', 'a chain starts with its 32-byte principal key')
  if (list.length > TOKEN_LIMITS.maxBlocks) {
    fail('ERR_CHAIN_DEPTH', `chain of ${list.length} blocks exceeds ${TOKEN_LIMITS.maxBlocks}`)
  }
  return list.map((b, i) => decodeBlock(b, i, principal))
}

/** The encoded chain, as carried by mandates, invocations and statements. */
export function encodeChain(blocks: readonly UnverifiedBlock[]): CborValue[] {
  const principal = blocks[0]?.principal
  if (!principal) throw new TypeError('"chain" expected block 0 with its principal')
  return [principal, ...blocks.map((b) => joinSigned(b.signature, b.payload))]
}
