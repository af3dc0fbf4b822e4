/**
 * Blocks (spec §3, §5.2): `[payload, signature]`, the payload a CBOR map:
 *
 * | key | field     | type            | presence                         |
 * |-----|-----------|-----------------|----------------------------------|
 * | 0   | prev      | bstr 32         | every block but the root         |
 * | 1   | holder    | bstr 32         | required                         |
 * | 2   | bearer    | true            | only when the holder is a bearer |
 * | 3   | caveats   | [caveat*]       | required (may be empty)          |
 * | 4   | name      | tstr            | optional                         |
 * | 5   | purpose   | tstr            | optional                         |
 * | 6   | nonce     | bstr 16         | required                         |
 * | 7   | issued_at | uint seconds    | required                         |
 * | 8   | principal | bstr 32         | block 0 only, required there     |
 *
 * The principal field names the root key so that a verifier can find it in its pinned set
 * by exact bytes; trust still comes only from that set, never from the token.
 *
 * A block's id is SHA-256 of its signature: unique under the strict profile, and the key
 * for revocations and usage counters.
 *
 * @module
 */

import { decodeCaveat } from '../caveats/codec.js'
import type { DecodedCaveat } from '../caveats/types.js'
import { type CborMap, type CborValue, decodeCbor, encodeCbor } from '../cbor/codec.js'
import { TOKEN_LIMITS } from '../cbor/limits.js'
import { sha256 } from '../crypto/hash.js'
import { fail, MandateError } from '../errors.js'
import { toHex, utf8 } from '../internal/bytes.js'

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
  readonly prev: Uint8Array | undefined
  readonly holder: Uint8Array
  readonly bearer: boolean
  readonly caveats: readonly DecodedCaveat[]
  readonly name: string | undefined
  readonly purpose: string | undefined
  readonly nonce: Uint8Array
  readonly issuedAt: number
  /** The principal's key, on block 0 only. */
  readonly principal: Uint8Array | undefined
}

/** What the signer of a block decides. */
export interface BlockContent {
  readonly prev: Uint8Array | undefined
  readonly holder: Uint8Array
  readonly bearer: boolean
  readonly caveats: readonly CborValue[]
  readonly name: string | undefined
  readonly purpose: string | undefined
  readonly nonce: Uint8Array
  readonly issuedAt: number
  readonly principal: Uint8Array | undefined
}

const FIELDS = [0, 1, 2, 3, 4, 5, 6, 7, 8]

/** Encode a block payload. */
export function encodeBlockPayload(c: BlockContent): Uint8Array {
  const m = new Map<number, CborValue>()
  if (c.prev) m.set(0, c.prev)
  m.set(1, c.holder)
  if (c.bearer) m.set(2, true)
  m.set(3, [...c.caveats])
  if (c.name !== undefined) m.set(4, c.name)
  if (c.purpose !== undefined) m.set(5, c.purpose)
  m.set(6, c.nonce)
  m.set(7, c.issuedAt)
  if (c.principal) m.set(8, c.principal)
  const bytes = encodeCbor(m)
  if (bytes.length > TOKEN_LIMITS.maxBlockBytes) fail('ERR_LIMIT_SIZE', `block payload exceeds ${TOKEN_LIMITS.maxBlockBytes} bytes`)
  return bytes
}

/** Decode `[payload, signature]` at position `index`. Structure only: no signature work. */
export function decodeBlock(raw: CborValue, index: number): UnverifiedBlock {
  const at = { block: index }
  if (!Array.isArray(raw) || raw.length !== 2) fail('ERR_FORMAT', `block ${index}: expected [payload, signature]`, at)
  const [payload, signature] = raw as CborValue[]
  if (!(payload instanceof Uint8Array)) fail('ERR_FORMAT', `block ${index}: payload must be a byte string`, at)
  if (!(signature instanceof Uint8Array)) fail('ERR_FORMAT', `block ${index}: signature must be a byte string`, at)
  if (signature.length !== 64) fail('ERR_SIG_LENGTH', `block ${index}: signature is ${signature.length} bytes, expected 64`, at)
  if (payload.length > TOKEN_LIMITS.maxBlockBytes)
    fail('ERR_LIMIT_SIZE', `block ${index}: payload exceeds ${TOKEN_LIMITS.maxBlockBytes} bytes`, at)
  let m: CborValue
  try {
    m = decodeCbor(payload)
  } catch (e) {
    throw withBlock(e, index)
  }
  if (!(m instanceof Map)) fail('ERR_FORMAT', `block ${index}: payload must be a map`, at)
  const map = m as CborMap
  for (const k of map.keys()) if (!FIELDS.includes(k)) fail('ERR_FORMAT', `block ${index}: unknown field ${k}`, at)
  const prev = map.get(0)
  if (index === 0 && prev !== undefined) fail('ERR_CHAIN_LINK', 'block 0 must not name a previous block', at)
  if (index > 0 && prev === undefined) fail('ERR_CHAIN_LINK', `block ${index} does not name its previous block`, at)
  if (prev !== undefined && !(prev instanceof Uint8Array && prev.length === 32))
    fail('ERR_FORMAT', `block ${index}: prev must be 32 bytes`, at)
  const holder = map.get(1)
  if (!(holder instanceof Uint8Array) || holder.length !== 32) fail('ERR_FORMAT', `block ${index}: holder must be a 32-byte key`, at)
  const bearer = map.get(2)
  if (bearer !== undefined && bearer !== true) fail('ERR_FORMAT', `block ${index}: bearer is present only as true`, at)
  const caveats = map.get(3)
  if (!Array.isArray(caveats)) fail('ERR_FORMAT', `block ${index}: caveats must be a list`, at)
  const caveatList = caveats as CborValue[]
  if (caveatList.length > TOKEN_LIMITS.maxCaveats) {
    fail('ERR_LIMIT_COUNT', `block ${index}: ${caveatList.length} caveats exceed ${TOKEN_LIMITS.maxCaveats}`, at)
  }
  const name = optText(map.get(4), index, 'name')
  const purpose = optText(map.get(5), index, 'purpose')
  const nonce = map.get(6)
  if (!(nonce instanceof Uint8Array) || nonce.length !== 16) fail('ERR_FORMAT', `block ${index}: nonce must be 16 bytes`, at)
  const issuedAt = map.get(7)
  if (typeof issuedAt !== 'number' || issuedAt < 0) fail('ERR_FORMAT', `block ${index}: issued_at must be an unsigned integer`, at)
  const principal = map.get(8)
  if (index === 0 && !(principal instanceof Uint8Array && principal.length === 32)) {
    fail('ERR_FORMAT', 'block 0 must name its 32-byte principal key', at)
  }
  if (index > 0 && principal !== undefined) fail('ERR_FORMAT', `block ${index}: only block 0 names a principal`, at)
  const id = sha256(signature)
  return {
    index,
    id,
    idHex: toHex(id),
    payload,
    signature,
    prev: prev as Uint8Array | undefined,
    holder: holder as Uint8Array,
    bearer: bearer === true,
    caveats: caveatList.map(decodeCaveat),
    name,
    purpose,
    nonce: nonce as Uint8Array,
    issuedAt: issuedAt as number,
    principal: principal as Uint8Array | undefined,
  }
}

function optText(v: CborValue | undefined, index: number, what: string): string | undefined {
  if (v === undefined) return undefined
  if (typeof v !== 'string') fail('ERR_FORMAT', `block ${index}: ${what} must be text`, { block: index })
  if (utf8(v).length > TOKEN_LIMITS.maxStringBytes) fail('ERR_LIMIT_SIZE', `block ${index}: ${what} is too long`, { block: index })
  return v
}

function withBlock(e: unknown, index: number): unknown {
  if (!(e instanceof MandateError)) return e
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
    for (const c of b.caveats) if (c.type === 'window' && c.expires !== undefined) expires = Math.min(expires ?? c.expires, c.expires)
  }
  return expires
}
