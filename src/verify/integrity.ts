/**
 * Integrity of a presentation without a root set: the chain links, every block signature
 * (block 0 under the principal it names), and the holder proof. The service uses it to
 * accept usage consumption and approval requests only for genuine chains, so that nobody
 * can invent a limit or burn a counter of a block they never held. Whether the principal is
 * trusted is the verifier's business, not the service's.
 *
 * @module
 */
import type { Ed25519Backend } from '../crypto/backend.js'
import { getBackend, verifyOrThrow } from '../crypto/ed25519.js'
import { fail } from '../errors.js'
import { equalBytes } from '../internal/bytes.js'
import type { UnverifiedBlock } from '../token/block.js'
import { parseInvocation, type UnverifiedInvocation } from '../token/invocation.js'
import { parseMandate, type UnverifiedMandate } from '../token/mandate.js'
import { signingInput } from '../token/signing.js'
import { kindOf } from '../token/text.js'

/** A presentation whose chain and holder proof check out. */
export interface IntactPresentation {
  readonly chain: readonly UnverifiedBlock[]
  readonly invocation?: UnverifiedInvocation
  readonly mandate?: UnverifiedMandate
}

/**
 * Check links and signatures of a chain, block 0 under the principal it names.
 *
 * @example
 * ```ts
 * checkChain(parseMandate(text).blocks) // throws ERR_CHAIN_LINK or an ERR_SIG_* code
 * ```
 */
export function checkChain(chain: readonly UnverifiedBlock[], backend: Ed25519Backend = getBackend()): void {
  for (let i = 1; i < chain.length; i++) {
    if (!equalBytes(chain[i]?.prev as Uint8Array, chain[i - 1]?.id as Uint8Array)) {
      fail('ERR_CHAIN_LINK', `block ${i} does not follow block ${i - 1}`, { block: i })
    }
  }
  for (const b of chain) {
    const signer = b.index === 0 ? (b.principal as Uint8Array) : (chain[b.index - 1] as UnverifiedBlock).holder
    verifyOrThrow(backend, b.signature, signingInput('block', b.payload), signer, `block ${b.index}`, b.index)
  }
}

/**
 * Parse a mandate (`mnd1_`, bearer or sealed) or invocation (`mni1_`) from text or bytes and
 * check its chain and holder proof.
 *
 * @example
 * ```ts
 * const { chain } = checkPresentation('mni1_…')
 * ```
 */
export function checkPresentation(input: string | Uint8Array, backend: Ed25519Backend = getBackend()): IntactPresentation {
  const asInvocation = typeof input === 'string' ? kindOf(input) === 'invocation' : looksLikeInvocation(input)
  if (asInvocation) {
    const invocation = parseInvocation(input)
    checkChain(invocation.chain, backend)
    const last = invocation.chain[invocation.chain.length - 1] as UnverifiedBlock
    verifyOrThrow(backend, invocation.signature, signingInput('invocation', invocation.payload), last.holder, 'invocation')
    return { chain: invocation.chain, invocation }
  }
  const mandate = parseMandate(input)
  checkChain(mandate.blocks, backend)
  const last = mandate.blocks[mandate.blocks.length - 1] as UnverifiedBlock
  if (mandate.proof.kind === 'bearer') {
    if (!last.bearer || !equalBytes(backend.publicKey(mandate.proof.secret), last.holder))
      fail('ERR_PROOF', 'the bearer secret does not match the last holder')
  } else if (mandate.proof.kind === 'sealed') {
    verifyOrThrow(backend, mandate.proof.signature, signingInput('seal', last.id), last.holder, 'seal')
  } else {
    fail('ERR_PROOF', 'a bound mandate is presented through an invocation signed by its holder')
  }
  return { chain: mandate.blocks, mandate }
}

/** Binary inputs: an invocation is a 2-element array, a mandate a map. */
function looksLikeInvocation(bytes: Uint8Array): boolean {
  return bytes[0] === 0x82
}
