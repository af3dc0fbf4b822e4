/**
 * The Ed25519 strict profile `ed25519-strict-v1` (spec §4): exact lengths, canonical A and
 * R, S < L, neither A nor R of small order, and the cofactorless equation [S]B = R + [k]A
 * with k = SHA-512(R ‖ A ‖ M) mod L over the received bytes. This is libsodium's and
 * ed25519-dalek's `verify_strict` rule set; the vectors in `test-vectors/ed25519/` pin it.
 *
 * The rules are checked in a fixed order and the first failing one is reported, so that
 * both backends give the same outcome for every input, not just the same verdict.
 *
 * @module
 */
import { Point } from '@noble/ed25519'
import type { MandateErrorCode } from '../errors.js'
import { fromHex, toHex } from '../internal/bytes.js'

/** Outcome of a strict verification: `accept` or the first rule that rejects. */
export type SignatureOutcome =
  | 'accept'
  | 'length'
  | 'noncanonical_A'
  | 'noncanonical_R'
  | 'S_not_reduced'
  | 'small_order_A'
  | 'small_order_R'
  | 'equation'

/** The error code each rejecting rule maps to. */
export const OUTCOME_CODES: Readonly<Record<Exclude<SignatureOutcome, 'accept'>, MandateErrorCode>> = {
  length: 'ERR_SIG_LENGTH',
  noncanonical_A: 'ERR_SIG_ENCODING',
  noncanonical_R: 'ERR_SIG_ENCODING',
  S_not_reduced: 'ERR_SIG_SCALAR',
  small_order_A: 'ERR_KEY_WEAK',
  small_order_R: 'ERR_KEY_WEAK',
  equation: 'ERR_SIG_INVALID',
}

/** The group order L. */
export const L = 2n ** 252n + 27742317777372353535851937790883648493n

/** Little-endian bytes to bigint. */
export function bytesToNumberLE(bytes: Uint8Array): bigint {
  let n = 0n
  for (let i = bytes.length - 1; i >= 0; i--) n = (n << 8n) | BigInt(bytes[i] as number)
  return n
}

/** S < L, read little-endian from the last 32 bytes of the signature. */
export function isReducedScalar(s: Uint8Array): boolean {
  // Fast exits: L's top byte is 0x10, so anything below 0x10 is reduced, above is not.
  const top = s[31] as number
  // Stryker disable next-line ConditionalExpression: equivalent — without the fast exit the full comparison gives the same answer
  if (top < 0x10) return true
  // Stryker disable next-line ConditionalExpression: equivalent — without the fast exit the full comparison gives the same answer
  if (top > 0x10) return false
  return bytesToNumberLE(s) < L
}

/** Strict RFC 8032 §5.1.3 decoding (y < p, no x = 0 with sign bit, square root exists). */
export function decodePoint(bytes: Uint8Array): Point | undefined {
  try {
    return Point.fromBytes(bytes, false)
  } catch {
    return undefined
  }
}

/**
 * The canonical encodings of the eight points of small order: the multiples of the order-8
 * point c7176a70…, listed rather than computed, since adding points with BigInt cost a command
 * line 4 ms at every start (test/crypto/backends.test.ts derives them again).
 */
const SMALL_ORDER: ReadonlySet<string> = new Set([
  '0100000000000000000000000000000000000000000000000000000000000000',
  'c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a',
  '0000000000000000000000000000000000000000000000000000000000000080',
  '26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05',
  'ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f',
  '26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc85',
  '0000000000000000000000000000000000000000000000000000000000000000',
  'c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac03fa',
])
/** The canonical encodings of the eight points of small order. */
export function smallOrderEncodings(): ReadonlySet<string> {
  return SMALL_ORDER
}

let smallOrderFirstBytes: Uint8Array | undefined
/**
 * Whether the 32 bytes `encoding` are one of {@link smallOrderEncodings}: their first bytes take
 * five values, so a table rules out all but about 1 in 50 random encodings without building the
 * hex string a lookup needs (on every accepted signature's R).
 */
export function isSmallOrderEncoding(encoding: Uint8Array): boolean {
  if (smallOrderFirstBytes === undefined) {
    const first = new Uint8Array(256)
    for (const e of smallOrderEncodings()) first[Number.parseInt(e.slice(0, 2), 16)] = 1
    smallOrderFirstBytes = first
  }
  return smallOrderFirstBytes[encoding[0] as number] === 1 && smallOrderEncodings().has(toHex(encoding))
}

let smallOrderYs: readonly Uint8Array[] | undefined
/** The y coordinates (sign bit cleared) of the eight points of small order: five values. */
function smallOrderY(): readonly Uint8Array[] {
  const ys = new Map<string, Uint8Array>()
  for (const encoding of smallOrderEncodings()) {
    const y = fromHex(encoding) as Uint8Array
    y[31] = (y[31] as number) & 0x7f
    ys.set(toHex(y), y)
  }
  smallOrderYs = [...ys.values()]
  return smallOrderYs
}
/**
 * The byte-level half of the key rules, as libsodium checks them before decoding: y < p, and y
 * not that of a point of small order (compared without the sign bit, so that the encodings of
 * those points with either sign are caught). No BigInt, no square root. A key passing it is
 * valid exactly when a strict decoder finds x; a caller that lets such a decoder (OpenSSL) do
 * that must still ask {@link checkKey} which rule a rejected key breaks.
 */
export function passesKeyBytes(publicKey: Uint8Array): boolean {
  if (publicKey.length !== 32) return false
  // y ≥ p = 2^255 − 19: bytes 31..1 all at their top (0x7f, then 0xff) and byte 0 ≥ 0xed.
  if (((publicKey[31] as number) & 0x7f) === 0x7f) {
    let top = true
    for (let i = 30; i >= 1 && top; i--) top = publicKey[i] === 0xff
    if (top && (publicKey[0] as number) >= 0xed) return false
  }
  for (const y of smallOrderYs ?? smallOrderY()) {
    let same = ((publicKey[31] as number) & 0x7f) === y[31]
    for (let i = 0; i < 31 && same; i++) same = publicKey[i] === y[i]
    if (same) return false
  }
  return true
}

/** What is known about a public key A, once checked. Cached by the backends. */
export type KeyCheck =
  | { readonly ok: true; readonly point: Point }
  | { readonly ok: false; readonly rule: 'noncanonical_A' | 'small_order_A' }

/** Decode and classify A. Small order is rejected only after R and S (rule order). */
export function checkKey(publicKey: Uint8Array): KeyCheck {
  const point = decodePoint(publicKey)
  if (!point) return { ok: false, rule: 'noncanonical_A' }
  if (point.isSmallOrder()) return { ok: false, rule: 'small_order_A' }
  return { ok: true, point }
}

/**
 * Every rule except the equation, in order. Returns the first failing rule, or the decoded
 * points when all pass. Both backends use it: noble as its main path, node:crypto only to
 * explain a rejection.
 */
export function precheck(
  signature: Uint8Array,
  publicKey: Uint8Array,
  key: KeyCheck,
): { rule: Exclude<SignatureOutcome, 'accept' | 'equation'> } | { A: Point; R: Point; S: bigint } {
  if (signature.length !== 64 || publicKey.length !== 32) return { rule: 'length' }
  if (!key.ok && key.rule === 'noncanonical_A') return { rule: 'noncanonical_A' }
  const R = decodePoint(signature.subarray(0, 32))
  if (!R) return { rule: 'noncanonical_R' }
  const sBytes = signature.subarray(32, 64)
  if (!isReducedScalar(sBytes)) return { rule: 'S_not_reduced' }
  if (!key.ok) return { rule: 'small_order_A' }
  if (R.isSmallOrder()) return { rule: 'small_order_R' }
  return { A: key.point, R, S: bytesToNumberLE(sBytes) }
}
