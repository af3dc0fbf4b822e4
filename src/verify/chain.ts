/**
 * Steps 3–5 of spec §7: the chain. Its principal must be a trusted root (step 3); the links
 * (step 4) are checked by the block signatures (step 5), each under its parent's holder and
 * bound to its parent's id, skipping a signature this verifier checked before.
 *
 * @module
 */
import { toDidKey } from '../crypto/keys.js'
import { fail } from '../errors.js'
import { toHex } from '../internal/bytes.js'
import type { UnverifiedBlock } from '../token/block.js'
import { checkChainCached } from '../token/integrity.js'
import type { Settings, TrustedRoot } from './options.js'

/**
 * The trusted root the chain starts from, once every block signature holds. Throws the
 * first failure.
 *
 * @example
 * ```ts
 * const root = verifyChain(settings, mandate.blocks) // { key, name: 'alice' }
 * ```
 */
export function verifyChain(settings: Settings, chain: readonly UnverifiedBlock[]): TrustedRoot {
  const first = chain[0] as UnverifiedBlock
  const principal = first.principal as Uint8Array
  const root = settings.roots.get(toHex(principal))
  if (!root) {
    fail('ERR_ROOT_UNTRUSTED', `the principal ${toDidKey(principal)} is not a trusted root of this verifier`, {
      block: 0,
      hint: 'add the principal with --root (or `roots` in createVerifier) if it should be trusted',
    })
  }
  // The root was found by the exact bytes of the principal block 0 names, so checking block 0
  // under that principal is checking it under the trusted key.
  // A chain the cache handed out was verified, byte for byte, before. (Skipping the work is all
  // the cache changes: `npm run bench` measures it, and chain-cache.test.ts that a tampered copy
  // of a cached chain is still refused.)
  if (!settings.chains.has(chain)) {
    checkChainCached(chain, settings.backend, settings.cache)
    settings.chains.add(chain)
  }
  return root
}
