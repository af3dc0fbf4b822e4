/**
 * Step 6 of spec §7: the request. An invocation's own, which a request given beside it must
 * equal; or, for a bare mandate, the caller's, which must be well formed (an action, a valid
 * resource, arguments within spec §5.6). Every failure is `ERR_REQUEST_INVALID`.
 *
 * @module
 */
import { isActionName } from '../caveats/action.js'
import { encodeArgs } from '../caveats/args.js'
import { isResourceName } from '../caveats/resource.js'
import type { Args } from '../caveats/types.js'
import { encodeCbor } from '../cbor/codec.js'
import { TOKEN_LIMITS } from '../cbor/limits.js'
import { fail } from '../errors.js'
import { equalBytes } from '../internal/bytes.js'
import type { Request, UnverifiedInvocation } from '../token/invocation.js'
import type { DecidedRequest } from './decision.js'

/**
 * The request decided on: the one an invocation signs (`fromInvocation`) when there is an
 * invocation, else the caller's (`given`), checked. Throws `ERR_REQUEST_INVALID`.
 *
 * @example
 * ```ts
 * resolveRequest({ action: 'email:read', resource: 'inbox/42' }, undefined, undefined)
 * // { action: 'email:read', resource: 'inbox/42', args: {} }
 * ```
 */
export function resolveRequest(
  given: Request | undefined,
  invocation: UnverifiedInvocation | undefined,
  fromInvocation: DecidedRequest | undefined,
): DecidedRequest {
  if (invocation && fromInvocation) {
    if (given !== undefined) {
      const field = requestDifference(given, fromInvocation)
      if (field !== undefined) {
        fail('ERR_REQUEST_INVALID', `the request differs from what the invocation signs: ${field}`, {
          hint: 'an invocation carries its own request; pass none, or exactly the one it signs',
        })
      }
    }
    // Arguments decoded from the signed payload already passed the strict profile.
    checkRequest(fromInvocation, false)
    return fromInvocation
  }
  if (!given || typeof given !== 'object') {
    fail('ERR_REQUEST_INVALID', 'a bare mandate needs a request (action, resource, args)', {
      hint: 'pass { request: { action, resource } }',
    })
  }
  // Absent args are the empty object; `null` is not absent (it fails checkRequest).
  const args: Args = given.args === undefined ? Object.create(null) : given.args
  const request: DecidedRequest = { action: given.action, ...(given.resource === undefined ? {} : { resource: given.resource }), args }
  checkRequest(request)
  return request
}

/**
 * The first field in which a request given beside an invocation differs from the one the
 * invocation signs: action, resource (present or absent), args (by canonical encoding; absent
 * equals empty, as the invocation omits empty args), intent (when given). None: `undefined`.
 */
export function requestDifference(given: unknown, signed: DecidedRequest): string | undefined {
  if (given === null || typeof given !== 'object' || Array.isArray(given)) return 'request (not an object)'
  const r = given as { action?: unknown; resource?: unknown; args?: unknown; intent?: unknown }
  if (r.action !== signed.action) return 'action'
  if (r.resource !== signed.resource) return 'resource'
  if (!sameArgs(r.args, signed.args)) return 'args'
  if (r.intent !== undefined && r.intent !== signed.intent) return 'intent'
  return undefined
}

function sameArgs(given: unknown, signed: Args): boolean {
  const encode = (a: Args) => encodeCbor(encodeArgs(a))
  if (given === undefined) return Object.keys(signed).length === 0
  if (!isArgsObject(given)) return false
  try {
    return equalBytes(encode(given), encode(signed))
  } catch {
    return false // not encodable: it cannot be what was signed
  }
}

/** Arguments are an object (not a list, not null); its values are checked when encoded. */
function isArgsObject(v: unknown): v is Args {
  return v !== null && typeof v === 'object' && !Array.isArray(v)
}

function checkRequest(r: DecidedRequest, checkArgs = true): void {
  if (typeof r.action !== 'string' || !isActionName(r.action)) {
    fail('ERR_REQUEST_INVALID', `not an action name: ${JSON.stringify(r.action)}`, {
      hint: 'actions are :-separated lowercase segments of a-z 0-9 _ . - like email:read',
    })
  }
  if (r.resource !== undefined && (typeof r.resource !== 'string' || !isResourceName(r.resource))) {
    fail('ERR_REQUEST_INVALID', 'the resource is not a valid resource string', {
      hint: `a resource is /-separated non-empty segments, none "." or "..", without control characters, "\\" or %2f/%5c/%2e, at most ${TOKEN_LIMITS.maxStringBytes} bytes`,
    })
  }
  if (!checkArgs) return
  if (!isArgsObject(r.args)) fail('ERR_REQUEST_INVALID', 'args must be an object of named arguments')
  // Every failure is ERR_REQUEST_INVALID (spec §5.6, §7 step 6): depth, entries, text size,
  // unpaired surrogates — what an invocation reports as a structure error at step 2.
  try {
    encodeCbor(encodeArgs(r.args))
  } catch (e) {
    fail('ERR_REQUEST_INVALID', `args: ${(e as Error).message}`)
  }
}
