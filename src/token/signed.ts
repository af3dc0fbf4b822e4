/**
 * The envelope shared by invocations, approvals and revocation statements, as by blocks: one
 * byte string, the 64-byte signature followed by the payload, a map whose key 0 is the
 * format version (spec §5.7).
 *
 * @module
 */
import { type CborMap, decodeOwnedCbor } from '../cbor/codec.js'
import { fail } from '../errors.js'
import { SIGNATURE_BYTES } from './block.js'
import { FORMAT_VERSION } from './mandate.js'
import { ownBytes, type TokenKind } from './text.js'

/** A decoded envelope: exact payload bytes, signature, and the payload's fields. */
export interface SignedEnvelope {
  readonly bytes: Uint8Array
  readonly payload: Uint8Array
  readonly signature: Uint8Array
  readonly fields: CborMap
}

/**
 * Read the envelope of a `kind` from text or bytes: size limit, strict CBOR, shape, version,
 * and no field above `maxField`.
 */
export function decodeEnvelope(
  kind: Extract<TokenKind, 'invocation' | 'approval' | 'revocation'>,
  input: string | Uint8Array,
  maxField: number,
): SignedEnvelope {
  const bytes = ownBytes(kind, input)
  const outer = decodeOwnedCbor(bytes)
  const a = kind === 'revocation' ? 'a' : 'an'
  if (!(outer instanceof Uint8Array)) fail('ERR_FORMAT', `${a} ${kind} is a byte string: signature ‖ payload`)
  if (outer.length <= SIGNATURE_BYTES)
    fail('ERR_FORMAT', `${a} ${kind} of ${outer.length} bytes cannot hold a 64-byte signature and a payload`)
  const signature = outer.subarray(0, SIGNATURE_BYTES)
  const payload = outer.subarray(SIGNATURE_BYTES)
  // A view of the copy decodeCbor made of `bytes`.
  const inner = decodeOwnedCbor(payload)
  if (!(inner instanceof Map)) fail('ERR_FORMAT', `${kind} payload must be a map`)
  const fields = inner as CborMap
  const version = fields.get(0)
  if (version !== FORMAT_VERSION) {
    const found = typeof version === 'number' ? { found: version } : {}
    fail('ERR_VERSION', `unsupported ${kind} version ${String(version)}`, { details: { supported: [FORMAT_VERSION], ...found } })
  }
  for (const k of fields.keys()) if (k > maxField) fail('ERR_FORMAT', `unknown ${kind} field ${k}`)
  return { bytes, payload, signature, fields }
}
