/**
 * Blocks (spec §3, §5.2). On the wire a block is one byte string, its 64-byte signature
 * followed by the payload, a CBOR array:
 *
 *     payload = [holder (bstr 32), bearer (bool), issued_at (uint), caveats [caveat*], extra?]
 *     extra   = { 0: nonce (bstr 16)?, 1: name (tstr)?, 2: purpose (tstr)? }   ; never empty
 *
 * Nothing the verifier can derive travels: the previous block is bound through the signing
 * input (its id is signed along with the payload, spec §4.4), the principal is carried once
 * by the chain, and a bearer block needs no nonce because its holder key is fresh. A bound
 * block carries a nonce so that two identical grants to one agent key get distinct ids.
 *
 * A block's id is SHA-256 of its signature: unique under the strict profile, and the key
 * for revocations and usage counters.
 *
 * @module
 */

import { decodeCaveat } from '../caveats/codec.js'
import type { DecodedCaveat } from '../caveats/types.js'
import { type CborMap, type CborValue, decodeOwnedCbor, encodeCbor } from '../cbor/codec.js'
import { TOKEN_LIMITS } from '../cbor/limits.js'
import { sha256 } from '../crypto/hash.js'
import { fail, MandateError } from '../errors.js'
import { concatBytes, toHex } from '../internal/bytes.js'

/** A block as read from a token, before any signature is checked. */
export interface UnverifiedBlock {
  readonly index: number
  /** SHA-256 of the signature. */
  readonly id: Uint8Array
  /** `id` in hex, as used by revocations and counters. */
  readonly idHex: string
  /** The exact payload bytes that were signed. */
  readonly payload: Uint8Array
  readonly signature: Uint8Array
  readonly holder: Uint8Array
  readonly bearer: boolean
  readonly caveats: readonly DecodedCaveat[]
  readonly name: string | undefined
  readonly purpose: string | undefined
  /** Present exactly on blocks naming a bound holder. */
  readonly nonce: Uint8Array | undefined
  readonly issuedAt: number
  /** The chain's principal, on block 0 only (carried once by the chain, not by the block). */
  readonly principal: Uint8Array | undefined
}

/** What the signer of a block decides. */
export interface BlockContent {
  readonly holder: Uint8Array
  readonly bearer: boolean
  readonly caveats: readonly CborValue[]
  readonly name: string | undefined
  readonly purpose: string | undefined
  /** Required when `bearer` is false, absent when it is true. */
  readonly nonce: Uint8Array | undefined
  readonly issuedAt: number
}

/** Signature length; a block, invocation, approval or statement starts with it. */
export const SIGNATURE_BYTES = 64

/** Encode a block payload. */
export function encodeBlockPayload(c: BlockContent): Uint8Array {
  const extra = new Map<number, CborValue>()
  if (c.nonce) extra.set(0, c.nonce)
  if (c.name !== undefined) extra.set(1, c.name)
  if (c.purpose !== undefined) extra.set(2, c.purpose)
  const fields: CborValue[] = [c.holder, c.bearer, c.issuedAt, [...c.caveats]]
  if (extra.size > 0) fields.push(extra)
  const bytes = encodeCbor(fields)
  if (bytes.length > TOKEN_LIMITS.maxBlockBytes) fail('ERR_LIMIT_SIZE', `block payload exceeds ${TOKEN_LIMITS.maxBlockBytes} bytes`)
  return bytes
}

/** The wire form of a signed object: one byte string, the signature then the payload. */
export function joinSigned(signature: Uint8Array, payload: Uint8Array): Uint8Array {
  return concatBytes(signature, payload)
}

/**
 * Decode the block at position `index` of a chain whose principal is `principal`.
 * Structure only: no signature work. `raw` is bytes this library owns (a byte string of a decoded
 * chain, or a block just signed): the block's fields are views of it, not of a copy.
 */
export function decodeBlock(raw: CborValue, index: number, principal: Uint8Array): UnverifiedBlock {
  const at = { block: index }
  if (!(raw instanceof Uint8Array)) fail('ERR_FORMAT', `block ${index}: a block is a byte string (signature ‖ payload)`, at)
  if (raw.length <= SIGNATURE_BYTES)
    fail('ERR_FORMAT', `block ${index}: ${raw.length} bytes cannot hold a 64-byte signature and a payload`, at)
  const signature = raw.subarray(0, SIGNATURE_BYTES)
  const payload = raw.subarray(SIGNATURE_BYTES)
  if (payload.length > TOKEN_LIMITS.maxBlockBytes)
    fail('ERR_LIMIT_SIZE', `block ${index}: payload exceeds ${TOKEN_LIMITS.maxBlockBytes} bytes`, at)
  let decoded: CborValue
  try {
    // `raw` is a byte string of a decoded chain (a view of the decoder's copy) or one just built.
    decoded = decodeOwnedCbor(payload)
  } catch (e) {
    throw withBlock(e, index)
  }
  if (!Array.isArray(decoded) || decoded.length < 4 || decoded.length > 5)
    fail('ERR_FORMAT', `block ${index}: payload must be [holder, bearer, issued_at, caveats, extra?]`, at)
  const [holder, bearer, issuedAt, caveats, extra] = decoded as CborValue[]
  if (!(holder instanceof Uint8Array) || holder.length !== 32) fail('ERR_FORMAT', `block ${index}: holder must be a 32-byte key`, at)
  if (typeof bearer !== 'boolean') fail('ERR_FORMAT', `block ${index}: bearer must be true or false`, at)
  if (typeof issuedAt !== 'number' || issuedAt < 0) fail('ERR_FORMAT', `block ${index}: issued_at must be an unsigned integer`, at)
  if (!Array.isArray(caveats)) fail('ERR_FORMAT', `block ${index}: caveats must be a list`, at)
  const caveatList = caveats as CborValue[]
  if (caveatList.length > TOKEN_LIMITS.maxCaveats) {
    fail('ERR_LIMIT_COUNT', `block ${index}: ${caveatList.length} caveats exceed ${TOKEN_LIMITS.maxCaveats}`, at)
  }
  let map: CborMap = new Map()
  if (extra !== undefined) {
    if (!(extra instanceof Map) || extra.size === 0) fail('ERR_FORMAT', `block ${index}: extra must be a non-empty map`, at)
    map = extra as CborMap
    for (const k of map.keys()) if (k > 2) fail('ERR_FORMAT', `block ${index}: unknown extra field ${k}`, at)
  }
  const nonce = map.get(0)
  if (bearer && nonce !== undefined) fail('ERR_FORMAT', `block ${index}: a bearer block carries no nonce (its holder key is fresh)`, at)
  if (!bearer && !(nonce instanceof Uint8Array && nonce.length === 16))
    fail('ERR_FORMAT', `block ${index}: a block naming a bound holder carries a 16-byte nonce`, at)
  const name = optText(map.get(1), index, 'name')
  const purpose = optText(map.get(2), index, 'purpose')
  const id = sha256(signature)
  return {
    index,
    id,
    idHex: toHex(id),
    payload,
    signature,
    holder: holder as Uint8Array,
    bearer: bearer as boolean,
    caveats: caveatList.map(decodeCaveat),
    name,
    purpose,
    nonce: nonce as Uint8Array | undefined,
    issuedAt: issuedAt as number,
    principal: index === 0 ? principal : undefined,
  }
}

function optText(v: CborValue | undefined, index: number, what: string): string | undefined {
  if (v === undefined) return undefined
  if (typeof v !== 'string') fail('ERR_FORMAT', `block ${index}: ${what} must be text`, { block: index })
  // At most 1,024 bytes: the payload's decoder (CBOR_LIMITS.maxTextBytes) refused longer text.
  return v
}

function withBlock(e: unknown, index: number): unknown {
  // Stryker disable next-line ConditionalExpression: equivalent — decodeCbor throws only MandateError (UTF-8 decoder errors are caught and rethrown as one)
  if (!(e instanceof MandateError)) return e
  // Stryker disable next-line ConditionalExpression: equivalent — MandateError treats `offset: undefined` as no offset
  const offset = e.offset === undefined ? {} : { offset: e.offset }
  return new MandateError(e.code, `block ${index} payload: ${e.message}`, { block: index, ...offset, cause: e })
}

/**
 * The earliest expiry any window caveat of `chain` sets: when the chain stops being usable.
 * Undefined when no block carries one (such a chain never verifies).
 */
export function chainExpiry(chain: readonly UnverifiedBlock[]): number | undefined {
  let expires: number | undefined
  for (const b of chain) {
    // Stryker disable next-line ConditionalExpression: equivalent — a decoded block's caveats carry expires only on a window
    for (const c of b.caveats) if (c.type === 'window' && c.expires !== undefined) expires = Math.min(expires ?? c.expires, c.expires)
  }
  return expires
}
