/**
 * The portable backend: @noble/ed25519's point arithmetic with the strict profile.
 *
 * noble's own `verify` cannot be used as it is: its default is ZIP-215, and even with
 * `zip215: false` it uses the cofactored equation and accepts small-order R.
 * So verification is written here with noble's `Point`: {@link precheck}, then the
 * cofactorless equation.
 *
 * @module
 */
import * as ed from '@noble/ed25519'
import { sha512 } from '@noble/hashes/sha2.js'
import { concatBytes } from '../internal/bytes.js'
import type { Ed25519Backend } from './backend.js'
import { cachedKeyCheck } from './key-check-cache.js'
import { bytesToNumberLE, L, precheck, type SignatureOutcome } from './profile.js'

let wired = false
function wire(): void {
  // noble v3's synchronous API needs a SHA-512; assigned once, on first use, not at import.
  // Stryker disable next-line ConditionalExpression: equivalent — assigning the same SHA-512 again on later calls changes nothing
  if (!wired) {
    ed.hashes.sha512 = sha512
    // Stryker disable next-line BooleanLiteral: equivalent — leaving the flag unset only re-assigns the same SHA-512 on the next call
    wired = true
  }
}

/** The @noble/ed25519 backend. */
export const nobleBackend: Ed25519Backend = {
  name: 'noble',
  publicKey(secretKey) {
    wire()
    return ed.getPublicKey(secretKey)
  },
  sign(secretKey, message) {
    wire()
    return ed.sign(message, secretKey)
  },
  verify(signature, message, publicKey): SignatureOutcome {
    // Stryker disable next-line ConditionalExpression,LogicalOperator: equivalent — a fast exit: precheck, next, reports 'length' for the same inputs
    if (signature.length !== 64 || publicKey.length !== 32) return 'length'
    const pre = precheck(signature, publicKey, cachedKeyCheck(publicKey))
    if ('rule' in pre) return pre.rule
    const k = bytesToNumberLE(sha512(concatBytes(signature.subarray(0, 32), publicKey, message))) % L
    const lhs = ed.Point.BASE.multiplyUnsafe(pre.S)
    const rhs = pre.R.add(pre.A.multiplyUnsafe(k))
    return lhs.equals(rhs) ? 'accept' : 'equation'
  },
}
