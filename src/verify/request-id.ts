/**
 * The request id under which a bare mandate's use is counted (spec §6 uses, Idempotency).
 *
 * An invocation's id is its signature's hash, so it names one request. A bare mandate has only
 * the caller's request id, and a caller may take it from its client (an `Idempotency-Key`
 * header, say): if that id alone keyed the usage answer, a holder could replay one granted
 * answer for any other action it is allowed and never spend its quota. So the id counted is
 * derived from the caller's id *and* the request: a retry of the same request is idempotent,
 * and another request under the same caller id is another request, counted on its own.
 *
 * @module
 */
import { encodeArgs } from '../caveats/args.js'
import { encodeCbor } from '../cbor/codec.js'
import { sha256 } from '../crypto/hash.js'
import { toHex, utf8 } from '../internal/bytes.js'
import { pae } from '../token/signing.js'
import type { DecidedRequest } from './decision.js'

const DOMAIN = utf8('mandate/v1/request-id')
const NONE = new Uint8Array(0)

/**
 * Lowercase hex of SHA-256(PAE("mandate/v1/request-id", caller id, action, resource or empty,
 * canonical args)), the args being the CBOR pair list of spec §5.6 (`80` when there are none).
 *
 * @example
 * ```ts
 * bareRequestId('job-1', { action: 'email:read', args: {} }) // 64 hex digits
 * ```
 */
export function bareRequestId(callerId: string, request: DecidedRequest): string {
  const resource = request.resource === undefined ? NONE : utf8(request.resource)
  const args = encodeCbor(encodeArgs(request.args))
  return toHex(sha256(pae([DOMAIN, utf8(callerId), utf8(request.action), resource, args])))
}
