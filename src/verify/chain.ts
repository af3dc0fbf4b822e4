/**
 * Steps 3–5 of spec §7: the chain. Its principal must be a trusted root (step 3); the links
 * (step 4) are checked by the block signatures (step 5), each under its parent's holder and
 * bound to its parent's id, skipping a signature this verifier checked before. A chain this
 * verifier has not verified before has its signatures checked at once, an invocation's with
 * them, part of them on the cores the runtime has to spare.
 *
 * @module
 */

import { toDidKey } from '../crypto/keys.js'
import type { SignatureOutcome } from '../crypto/profile.js'
import { fail } from '../errors.js'
import { toHex } from '../internal/bytes.js'
import type { UnverifiedBlock } from '../token/block.js'
import { checkSignatures } from '../token/integrity.js'
import type { UnverifiedInvocation } from '../token/invocation.js'
import type { Settings, TrustedRoot } from './options.js'

/**
 * Step 3: the trusted root the chain starts from. Throws `ERR_ROOT_UNTRUSTED` if there is none.
 *
 * @example
 * ```ts
 * const root = trustedRoot(settings, mandate.blocks) // { key, name: 'alice' }
 * ```
 */
export function trustedRoot(settings: Settings, chain: readonly UnverifiedBlock[]): TrustedRoot {
  const first = chain[0] as UnverifiedBlock
  const principal = first.principal as Uint8Array
  const root = settings.roots.get(toHex(principal))
  if (!root) {
    fail('ERR_ROOT_UNTRUSTED', `the principal ${toDidKey(principal)} is not a trusted root of this verifier`, {
      block: 0,
      hint: 'add the principal with --root (or `roots` in createVerifier) if it should be trusted',
    })
  }
  return root
}

/**
 * Steps 4–5 for a chain this verifier has not verified before (`settings.chains` does not hold
 * it: a chain it hands out was verified, byte for byte, and only its invocation's signature is
 * left, for step 7). Every block signature of a chain whose root is trusted
 * ({@link trustedRoot}), and with them an invocation's, whose outcome is returned for step 7 to
 * assert. Throws the first block signature that fails, in chain order.
 *
 * @example
 * ```ts
 * const outcome = await verifyBlocks(settings, invocation.chain, invocation) // 'accept'
 * ```
 */
export async function verifyBlocks(
  settings: Settings,
  chain: readonly UnverifiedBlock[],
  invocation: UnverifiedInvocation | undefined,
): Promise<SignatureOutcome | undefined> {
  // The root was found by the exact bytes of the principal block 0 names, so checking block 0
  // under that principal is checking it under the trusted key.
  const outcome = await checkSignatures(chain, settings.backend, settings.cache, invocation, settings.spareThreads)
  settings.chains.add(chain)
  return outcome
}
