/**
 * Service errors: `{ "error": { "code", "message" } }` with an honest status (spec/service-v1.md §2).
 *
 * @module
 */
import { parsePublicKey, toDidKey } from '../crypto/keys.js'
import { disposition, MandateError } from '../errors.js'

/** Codes the service adds to the library's. */
export type ServiceErrorCode =
  | 'ERR_REQUEST_MALFORMED'
  | 'ERR_REQUEST_STALE'
  | 'ERR_NOT_AUTHORIZED'
  | 'ERR_NOT_FOUND'
  | 'ERR_CONFLICT'
  | 'ERR_STORAGE_UNAVAILABLE'
  | 'ERR_AUTH_REQUIRED'
  | 'ERR_AUTH_INVALID'
  | 'ERR_AUTH_REPLAY'
  | 'ERR_MEDIA_TYPE'
  | 'ERR_LIMIT_RATE'

/** An error with the HTTP status it is answered with. */
export class ServiceError extends Error {
  constructor(
    readonly status: number,
    readonly code: ServiceErrorCode | MandateError['code'],
    message: string,
    /** Headers the answer carries (e.g. `accept-signature` on a 401). */
    readonly headers: Readonly<Record<string, string>> = {},
  ) {
    super(message)
    this.name = 'ServiceError'
  }
}

/** Map anything thrown while handling a request to a status, code and message. */
export function toServiceError(e: unknown): ServiceError {
  if (e instanceof ServiceError) return e
  if (e instanceof MandateError) {
    if (e.code === 'ERR_HOLDER_MISMATCH') return new ServiceError(403, 'ERR_NOT_AUTHORIZED', e.message)
    return new ServiceError(disposition(e.code).http, e.code, e.message)
  }
  return new ServiceError(500, 'ERR_INTERNAL', 'internal error')
}

/** Run a storage operation; a failure becomes 503, so that nothing is acknowledged. */
export async function stored<T>(operation: () => Promise<T>): Promise<T> {
  try {
    return await operation()
  } catch (e) {
    if (e instanceof ServiceError) throw e
    throw new ServiceError(
      503,
      'ERR_STORAGE_UNAVAILABLE',
      `storage unavailable: ${e instanceof Error ? e.message.slice(0, 200) : 'unknown'}`,
    )
  }
}

/**
 * A key named in the query (`approver=`, `principal=`), as did:key. One that is no usable key —
 * unreadable, non-canonical, of small order — is the caller's error in what it asked (400
 * `ERR_KEY_FORMAT`, the rule named in the message), not a failed authentication (401), which
 * the same codes mean where a key signs.
 */
export function keyInQuery(value: string, name: string): string {
  try {
    return toDidKey(parsePublicKey(value))
  } catch (e) {
    if (e instanceof MandateError) throw new ServiceError(400, 'ERR_KEY_FORMAT', `"${name}" is no usable key: ${e.message}`)
    throw e
  }
}
