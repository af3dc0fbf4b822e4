/**
 * Integrity of a presentation without a root set: every block signature (block 0 under the
 * principal the chain names, each block bound to its parent's id), and the holder proof. The service uses it to
 * accept usage consumption and approval requests only for genuine chains, so that nobody
 * can invent a limit or burn a counter of a block they never held. Whether the principal is
 * trusted is the verifier's business, not the service's.
 *
 * @module
 */
import type { Ed25519Backend } from '../crypto/backend.js'
import { assertAccepted, getBackend, verifyAsync, verifyOrThrow, verifyWith } from '../crypto/ed25519.js'
import { OUTCOME_CODES, type SignatureOutcome } from '../crypto/profile.js'
import type { SignatureCache } from '../crypto/signature-cache.js'
import { fail } from '../errors.js'
import { equalBytes } from '../internal/bytes.js'
import type { UnverifiedBlock } from './block.js'
import { parseInvocation, type UnverifiedInvocation } from './invocation.js'
import { parseMandate, type UnverifiedMandate } from './mandate.js'
import { blockSigningInput, signedMessage } from './signing.js'
import { kindOf } from './text.js'

/** A presentation whose chain and holder proof check out. */
export interface IntactPresentation {
  readonly chain: readonly UnverifiedBlock[]
  readonly invocation?: UnverifiedInvocation
  readonly mandate?: UnverifiedMandate
}

/**
 * Check every block signature of a chain: block 0 by the principal the chain names, block i
 * by the holder of block i − 1 over a signing input that binds block i − 1's id, so that a
 * block reordered, duplicated or spliced onto another chain fails here as `ERR_SIG_INVALID`.
 *
 * @example
 * ```ts
 * checkChain(parseMandate(text).blocks) // throws an ERR_SIG_* or ERR_KEY_WEAK code
 * ```
 */
export function checkChain(chain: readonly UnverifiedBlock[], backend: Ed25519Backend = getBackend()): void {
  checkChainCached(chain, backend, undefined)
}

/** {@link checkChain}, skipping signatures `cache` has seen verified (the verifier's hot path). */
export function checkChainCached(chain: readonly UnverifiedBlock[], backend: Ed25519Backend, cache: SignatureCache | undefined): void {
  for (const b of chain) {
    const c = blockSignature(chain, b)
    // Signatures seen before (same signer, signature and bytes) are not verified again.
    const key = cache?.key(c.publicKey, c.signature, c.message)
    // Stryker disable next-line ConditionalExpression: equivalent — a signature seen before verifies again (only slower)
    if (cache?.has(key)) continue
    verifyOrThrow(backend, c.signature, c.message, c.publicKey, c.what, c.block)
    cache?.add(key)
  }
}

/** One signature a presentation stands on, and how a failure of it is reported. */
interface SignatureCheck {
  readonly signature: Uint8Array
  readonly message: Uint8Array
  readonly publicKey: Uint8Array
  readonly what: string
  readonly block: number
}

/** Block `b`'s signature: block 0 by the principal, block i by the holder of block i − 1, over its id. */
function blockSignature(chain: readonly UnverifiedBlock[], b: UnverifiedBlock): SignatureCheck {
  // Stryker disable next-line ConditionalExpression: equivalent — chain[-1] is undefined too
  const parent = b.index === 0 ? undefined : (chain[b.index - 1] as UnverifiedBlock)
  return {
    signature: b.signature,
    message: blockSigningInput(parent?.id, b.payload),
    publicKey: parent ? parent.holder : (b.principal as Uint8Array),
    what: `block ${b.index}`,
    block: b.index,
  }
}

/** The invocation's signature, by the holder of the last block. */
function invocationSignature(invocation: UnverifiedInvocation): SignatureCheck {
  const last = invocation.chain[invocation.chain.length - 1] as UnverifiedBlock
  return {
    signature: invocation.signature,
    message: signedMessage('invocation', invocation.payload),
    publicKey: last.holder,
    what: `invocation (expected a signature by the holder of block ${last.index})`,
    block: last.index,
  }
}

/**
 * The invocation's signature, by the last holder of the chain it carries. A failure is the
 * profile's code (`ERR_SIG_INVALID` for a signature by any other key, or over other bytes),
 * located at the last block: the block naming the key it must verify under (spec §7.3).
 */
export function checkInvocationSignature(invocation: UnverifiedInvocation, backend: Ed25519Backend = getBackend()): void {
  const c = invocationSignature(invocation)
  verifyOrThrow(backend, c.signature, c.message, c.publicKey, c.what, c.block)
}

/**
 * A bare mandate's holder proof: the bearer secret must derive the last holder key (declared
 * bearer), or the seal must verify under it; a bound mandate has no bare proof. Derivations
 * seen before (in `cache`) are not repeated.
 */
export function checkMandateProof(
  chain: readonly UnverifiedBlock[],
  proof: UnverifiedMandate['proof'],
  backend: Ed25519Backend = getBackend(),
  cache?: SignatureCache,
): void {
  const last = chain[chain.length - 1] as UnverifiedBlock
  const at = { block: last.index }
  if (proof.kind === 'bearer') {
    if (!last.bearer) fail('ERR_PROOF', 'a secret travels with a mandate whose last holder is bound', at)
    const key = cache?.key(last.holder, proof.secret, new Uint8Array(0))
    if (cache?.has(key)) return
    if (!equalBytes(backend.publicKey(proof.secret), last.holder)) {
      fail('ERR_PROOF', 'the bearer secret does not belong to the last holder (truncated or tampered chain)', at)
    }
    cache?.add(key)
    return
  }
  if (proof.kind === 'sealed') {
    // Only a bearer mandate can be sealed (spec §3): a seal over a bound holder would let the
    // text alone be used, which the block's `bearer: false` says cannot happen.
    if (!last.bearer) {
      fail('ERR_PROOF', 'a seal over a bound holder: only a bearer mandate can be sealed', {
        ...at,
        hint: 'a bound mandate is presented in an invocation signed by the holder key',
      })
    }
    const outcome = verifyWith(backend, proof.signature, signedMessage('seal', last.id), last.holder)
    if (outcome !== 'accept')
      fail(outcome === 'equation' ? 'ERR_PROOF' : OUTCOME_CODES[outcome], `seal rejected (${outcome.replaceAll('_', ' ')})`, at)
    return
  }
  fail('ERR_PROOF', 'this mandate is bound to its holder and must be presented in an invocation signed by it', {
    ...at,
    hint: 'sign an invocation with the holder key (CLI: mandate invoke --key FILE)',
  })
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
  const { presentation, signatures } = readPresentation(input)
  for (const c of signatures) verifyOrThrow(backend, c.signature, c.message, c.publicKey, c.what, c.block)
  if (presentation.mandate) checkMandateProof(presentation.chain, presentation.mandate.proof, backend)
  return presentation
}

/**
 * {@link checkPresentation} with its signatures verified at once, off the event loop where the
 * backend can ({@link Ed25519Backend.verifyAsync}): what a server uses, so that it goes on
 * serving while they are checked. Same outcome, same error (the first failing signature in
 * chain order) for every input.
 *
 * @example
 * ```ts
 * const { chain, invocation } = await checkPresentationAsync('mni1_…')
 * ```
 */
export async function checkPresentationAsync(
  input: string | Uint8Array,
  backend: Ed25519Backend = getBackend(),
): Promise<IntactPresentation> {
  const { presentation, signatures } = readPresentation(input)
  const outcomes = await Promise.all(signatures.map((c) => verifyAsync(backend, c.signature, c.message, c.publicKey)))
  for (const [i, c] of signatures.entries()) assertAccepted(outcomes[i] as SignatureOutcome, c.what, c.block)
  if (presentation.mandate) checkMandateProof(presentation.chain, presentation.mandate.proof, backend)
  return presentation
}

/** Parse a presentation; the signatures it stands on, in the order their failures are reported. */
function readPresentation(input: string | Uint8Array): { presentation: IntactPresentation; signatures: SignatureCheck[] } {
  const asInvocation = typeof input === 'string' ? kindOf(input) === 'invocation' : presentedKind(input) === 'invocation'
  if (asInvocation) {
    const invocation = parseInvocation(input)
    const signatures = invocation.chain.map((b) => blockSignature(invocation.chain, b))
    signatures.push(invocationSignature(invocation))
    return { presentation: { chain: invocation.chain, invocation }, signatures }
  }
  const mandate = parseMandate(input)
  return { presentation: { chain: mandate.blocks, mandate }, signatures: mandate.blocks.map((b) => blockSignature(mandate.blocks, b)) }
}

/** Which kind a presentation's bytes are: an invocation is a byte string, a mandate an array. */
export function presentedKind(bytes: Uint8Array): 'invocation' | 'mandate' {
  const major = (bytes[0] ?? 0) >> 5
  return major === 2 ? 'invocation' : 'mandate'
}
