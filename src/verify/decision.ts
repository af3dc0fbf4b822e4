/**
 * Decisions (spec §7.7): what the verifier answers. Both kinds are plain, JSON-able data.
 *
 * @module
 */
import type { Args } from '../caveats/types.js'
import type { AmendmentRef, ErrorDetailsMap, MandateErrorCode } from '../errors.js'

/** One link of the accountability chain: the principal, then each holder in order. */
export interface ChainLink {
  readonly role: 'principal' | 'holder'
  /** The key as did:key. For a bearer holder this is its ephemeral key. */
  readonly key: string
  /** Principal: the name given to its root in the verifier; holder: its block's `name`. */
  readonly name?: string
  /** Holder: why it was delegated to. */
  readonly purpose?: string
  /** Holder: index of the block that named it. */
  readonly block?: number
  /** Holder: id (hex) of that block; the revocation and counter key. */
  readonly blockId?: string
  /** Holder: true when whoever has the token acts as this holder. */
  readonly bearer?: boolean
  /** Holder: when it was delegated to (Unix seconds). */
  readonly delegatedAt?: number
}

/** A right that matched, for the record: which caveat of which block let the request pass. */
export interface MatchedRight {
  readonly block: number
  readonly caveat: string
  readonly value: string
}

/** What was asked, as the verifier understood it. */
export interface DecidedRequest {
  readonly action: string
  readonly resource?: string
  readonly args: Args
  readonly intent?: string
}

/** A JSON audit record of one decision (spec §7.8). */
export interface AuditRecord {
  readonly at: number
  readonly audience: string
  readonly decision: 'allow' | 'deny'
  readonly code?: MandateErrorCode
  readonly presentation?: 'invocation' | 'bearer' | 'sealed' | 'bound'
  /** `'none'`: this verifier was created with `revocations: 'none'` and checked no revocations. */
  readonly revocations?: 'none'
  readonly invocationId?: string
  readonly action?: string
  readonly resource?: string
  readonly intent?: string
  readonly principal?: string
  readonly holders: readonly string[]
  readonly blockIds: readonly string[]
  readonly approvals: readonly string[]
  readonly usage: readonly { readonly key: string; readonly remaining: number }[]
}

/** The request was allowed. */
export interface Allowed {
  readonly allowed: true
  /** Principal → each holder, in delegation order. */
  readonly chain: readonly ChainLink[]
  readonly request: DecidedRequest
  readonly invocationId?: string
  readonly matched: readonly MatchedRight[]
  /** did:keys of approvers whose approvals counted. */
  readonly approvals: readonly string[]
  readonly usage: readonly { readonly key: string; readonly remaining: number }[]
  readonly audit: AuditRecord
}

/**
 * The request was denied, and why: one member per code, so that checking `code` narrows
 * `details` (typed for the codes of `ErrorDetailsMap`, `undefined` for the others).
 *
 * @example
 * ```ts
 * const d = await verifier.authorize({ invocation })
 * if (!d.allowed && d.code === 'ERR_USAGE_EXHAUSTED') console.log(d.details.key, d.details.resetAt ?? 'never resets')
 * if (!d.allowed && d.code === 'ERR_VERSION') console.log('this library reads versions', d.details.supported)
 * ```
 */
export type Denied = { readonly [C in MandateErrorCode]: DeniedWith<C> }[MandateErrorCode]

/**
 * A denial with code `C`, and the typed details that code carries (`ErrorDetailsMap`: who
 * must still approve, when a quota resets, …); none for the other codes.
 */
export type DeniedWith<C extends MandateErrorCode> = DeniedFields & { readonly code: C } & (C extends keyof ErrorDetailsMap
    ? { readonly details: ErrorDetailsMap[C] }
    : { readonly details?: undefined })

/** What every denial says, whatever its code. */
export interface DeniedFields {
  readonly allowed: false
  readonly message: string
  /** What could make it succeed: who must approve, when a quota resets, … */
  readonly hint?: string
  /** The block at fault. */
  readonly block?: number
  /** The caveat at fault, by name, and its index in the block (or in the amendment). */
  readonly caveat?: string
  readonly caveatIndex?: number
  /** The caveat at fault was added to `block` by this amendment: who, when and why. */
  readonly amendment?: AmendmentRef
  /** As much of the chain as was read (unverified if the failure was in the chain itself). */
  readonly chain?: readonly ChainLink[]
  readonly audit: AuditRecord
}

/** The verifier's answer. */
export type Decision = Allowed | Denied
