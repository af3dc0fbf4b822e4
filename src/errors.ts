/**
 * Errors: one base class, {@link MandateError}, with a closed union of stable codes.
 *
 * Codes are API. They appear in denials, CLI `--json` output and HTTP bodies, and are
 * listed with their meaning in `spec/mandate-v1.md` §10. A code is never renamed or reused.
 *
 * Programmer misuse (a wrong argument type, an impossible option) throws a plain
 * `TypeError` or `RangeError` instead, so that `catch (e) { if (e instanceof MandateError) }`
 * only ever sees problems with the input data.
 *
 * @module
 */

/** Every code a {@link MandateError} or a denial can carry. */
export const ERROR_CODES = [
  // signatures and keys (spec §4)
  'ERR_SIG_LENGTH',
  'ERR_SIG_ENCODING',
  'ERR_SIG_SCALAR',
  'ERR_KEY_WEAK',
  'ERR_SIG_INVALID',
  'ERR_KEY_FORMAT',
  // encoding (spec §5)
  'ERR_TEXT_FORMAT',
  'ERR_CBOR_MALFORMED',
  'ERR_CBOR_NONCANONICAL',
  'ERR_CBOR_DUP_KEY',
  'ERR_CBOR_TYPE',
  'ERR_CBOR_TAG',
  'ERR_CBOR_UTF8',
  'ERR_LIMIT_SIZE',
  'ERR_LIMIT_DEPTH',
  'ERR_LIMIT_COUNT',
  'ERR_FORMAT',
  'ERR_VERSION',
  // chain and presentation (spec §7, §8)
  'ERR_ROOT_UNTRUSTED',
  'ERR_CHAIN_DEPTH',
  'ERR_PROOF',
  'ERR_REPLAY',
  'ERR_AUDIENCE',
  'ERR_BOUND_REQUIRED',
  'ERR_SEALED',
  'ERR_HOLDER_MISMATCH',
  // caveats (spec §6)
  'ERR_CAVEAT_UNKNOWN',
  'ERR_CAVEAT_INVALID',
  'ERR_CAVEAT_DENIED',
  'ERR_TIME_INVALID',
  'ERR_TIME_NOT_YET',
  'ERR_TIME_EXPIRED',
  'ERR_ACTION_DENIED',
  'ERR_RESOURCE_DENIED',
  'ERR_ARGS_DENIED',
  'ERR_APPROVAL_REQUIRED',
  'ERR_APPROVAL_INVALID',
  'ERR_USAGE_EXHAUSTED',
  'ERR_COUNTER_UNAVAILABLE',
  'ERR_REPLAY_UNAVAILABLE',
  'ERR_APPROVAL_UNAVAILABLE',
  'ERR_APPROVAL_DENIED',
  'ERR_AUDIT_UNAVAILABLE',
  // revocation (spec §9)
  'ERR_REVOKED',
  'ERR_SUSPENDED',
  'ERR_REVOCATION_STALE',
  'ERR_REVOCATION_LIST_INVALID',
  'ERR_REVOCATION_ROLLBACK',
  'ERR_REVOCATION_FEED_RESET',
  // the request handed to the verifier
  'ERR_REQUEST_INVALID',
  // the verifier's own clock failed: denied, never thrown
  'ERR_CLOCK_UNAVAILABLE',
  // a bug or a failing injected dependency: denied, never thrown
  'ERR_INTERNAL',
] as const

/** A stable error code. `switch (err.code)` narrows over this closed union. */
export type MandateErrorCode = (typeof ERROR_CODES)[number]

const CODE_SET: ReadonlySet<string> = new Set(ERROR_CODES)

/**
 * True when `code` is one of {@link ERROR_CODES}.
 *
 * @example
 * ```ts
 * isMandateErrorCode('ERR_REVOKED') // true
 * isMandateErrorCode('ENOENT')      // false
 * ```
 */
export function isMandateErrorCode(code: unknown): code is MandateErrorCode {
  return typeof code === 'string' && CODE_SET.has(code)
}

/** How a code surfaces outside the library: HTTP status and CLI exit code (spec §10). */
export interface CodeDisposition {
  /** HTTP status the service answers with. */
  readonly http: number
  /** CLI exit code: 1 denied or rejected, 2 malformed input or misuse, 3 operational failure. */
  readonly exit: 1 | 2 | 3
}

const MALFORMED: readonly MandateErrorCode[] = [
  'ERR_KEY_FORMAT',
  'ERR_TEXT_FORMAT',
  'ERR_CBOR_MALFORMED',
  'ERR_CBOR_NONCANONICAL',
  'ERR_CBOR_DUP_KEY',
  'ERR_CBOR_TYPE',
  'ERR_CBOR_TAG',
  'ERR_CBOR_UTF8',
  'ERR_LIMIT_DEPTH',
  'ERR_LIMIT_COUNT',
  'ERR_FORMAT',
  'ERR_VERSION',
  'ERR_SEALED',
  'ERR_HOLDER_MISMATCH',
  'ERR_REQUEST_INVALID',
]
const UNAUTHENTICATED: readonly MandateErrorCode[] = [
  'ERR_SIG_LENGTH',
  'ERR_SIG_ENCODING',
  'ERR_SIG_SCALAR',
  'ERR_KEY_WEAK',
  'ERR_SIG_INVALID',
  'ERR_PROOF',
  'ERR_REPLAY',
]
const SPECIAL: Partial<Record<MandateErrorCode, CodeDisposition>> = {
  ERR_LIMIT_SIZE: { http: 413, exit: 2 },
  ERR_USAGE_EXHAUSTED: { http: 429, exit: 1 },
  ERR_COUNTER_UNAVAILABLE: { http: 503, exit: 3 },
  ERR_REPLAY_UNAVAILABLE: { http: 503, exit: 3 },
  ERR_APPROVAL_UNAVAILABLE: { http: 503, exit: 3 },
  ERR_AUDIT_UNAVAILABLE: { http: 503, exit: 3 },
  ERR_REVOCATION_STALE: { http: 503, exit: 3 },
  ERR_REVOCATION_LIST_INVALID: { http: 502, exit: 3 },
  ERR_REVOCATION_ROLLBACK: { http: 502, exit: 3 },
  ERR_REVOCATION_FEED_RESET: { http: 502, exit: 3 },
  ERR_CLOCK_UNAVAILABLE: { http: 503, exit: 3 },
  ERR_INTERNAL: { http: 500, exit: 3 },
}

/**
 * The HTTP status and CLI exit code of an error code (the table of spec §10).
 *
 * @example
 * ```ts
 * disposition('ERR_USAGE_EXHAUSTED') // { http: 429, exit: 1 }
 * ```
 */
export function disposition(code: MandateErrorCode): CodeDisposition {
  const special = SPECIAL[code]
  if (special) return special
  if (MALFORMED.includes(code)) return { http: 400, exit: 2 }
  if (UNAUTHENTICATED.includes(code)) return { http: 401, exit: 1 }
  return { http: 403, exit: 1 }
}

/** Where in a token a problem was found. Every field is optional. */
export interface ErrorLocation {
  /** Index of the block at fault (0 is the root block). */
  readonly block?: number
  /** Name of the caveat at fault, e.g. `"actions"`. */
  readonly caveat?: string
  /** Index of the caveat inside its block (or inside its amendment, when `amendment` is given). */
  readonly caveatIndex?: number
  /** Byte offset into the CBOR item being decoded. */
  readonly offset?: number
  /** The caveat at fault was added to the block by this amendment (spec §9.2), not signed into it. */
  readonly amendment?: AmendmentRef
}

/** Which amendment added a caveat: its statement id, signer, time and reason, as the revocation view knows them. */
export interface AmendmentRef {
  /** The amendment statement's id (64 hex digits). */
  readonly id: string
  /** Who signed it (did:key). */
  readonly by?: string
  /** When it took effect (Unix seconds). */
  readonly at?: number
  /** Why (the signer's text: escape it before showing it). */
  readonly reason?: string
}

/** Options for {@link MandateError}. */
export interface MandateErrorOptions extends ErrorLocation {
  /** What the caller can do about it, e.g. "ask did:key:z6Mk… to approve". */
  readonly hint?: string
  readonly cause?: unknown
}

/**
 * Typed details of a failure, by code: the data a program needs to act on it, which the
 * message and hint only say in words. A code listed here always carries its details (the
 * {@link MandateError} constructor requires them); every other code carries none.
 *
 * @example
 * ```ts
 * const decision = await verifier.authorize({ invocation })
 * if (!decision.allowed && decision.code === 'ERR_USAGE_EXHAUSTED') {
 *   const { key, resetAt } = decision.details
 *   console.log(resetAt === undefined ? `${key}: spent for good` : `${key}: again at ${new Date(resetAt * 1000).toISOString()}`)
 * }
 * if (!decision.allowed && decision.code === 'ERR_APPROVAL_REQUIRED') {
 *   console.log(`${decision.details.quorum - decision.details.given} more from`, decision.details.missing)
 * }
 * declare const call: (url: string) => Promise<Response> // from createMandateFetch, waiting for approval
 * try {
 *   await call('https://mail.example/v1/send')
 * } catch (e) {
 *   if (e instanceof MandateError && e.code === 'ERR_APPROVAL_DENIED') console.log(`${e.details.by} said no: ${e.details.reason}`)
 * }
 * ```
 */
export interface ErrorDetailsMap {
  /** A quorum is not met (the first unmet, in chain order). */
  readonly ERR_APPROVAL_REQUIRED: {
    /** Approvals the caveat asks for. */
    readonly quorum: number
    /** Valid approvals presented from its listed approvers. */
    readonly given: number
    /** Listed approvers (did:key) who have not approved yet, in the caveat's order. */
    readonly missing: readonly string[]
    /** Every approver the caveat lists (did:key). */
    readonly approvers: readonly string[]
    /** The invocation to submit for approval (hex id); absent for a bare mandate. */
    readonly invocationId?: string
  }
  /** A usage counter is spent. */
  readonly ERR_USAGE_EXHAUSTED: {
    /** The counter key, `<block id hex>/<caveat index>` (as in `Allowed.usage`). */
    readonly key: string
    /** When the next use is allowed (Unix seconds); absent when the quota never resets. */
    readonly resetAt?: number
    /** The caveat's limit, and its window in seconds for a sliding quota. */
    readonly max?: number
    readonly per?: number
  }
  /** A token of a format version this library does not read. */
  readonly ERR_VERSION: {
    /** The versions this library reads. */
    readonly supported: readonly number[]
    /** The version the token carries, when it is a number. */
    readonly found?: number
  }
  /** An approver (or the principal) denied the approval request: the call will not be approved. */
  readonly ERR_APPROVAL_DENIED: ApprovalDenialDetails
  /** A block (or the request's action under it) is revoked. */
  readonly ERR_REVOKED: RevocationDetails
  /** A block (or the request's action under it) is suspended. */
  readonly ERR_SUSPENDED: RevocationDetails
}

/**
 * Who denied an approval request, why, and when, as the approval inbox says (spec/service-v1.md
 * §7). The reason is the approver's text: escape it before showing it.
 */
export interface ApprovalDenialDetails {
  /** The approver, or the principal, who denied it (did:key). */
  readonly by: string
  /** Their note to the agent (1–500 characters). */
  readonly reason: string
  /** When (Unix seconds, the service's clock). */
  readonly at: number
}

/** Who revoked or suspended what, and when, as far as the revocation view knows. */
export interface RevocationDetails {
  /** The id (hex) of the block the entry names. */
  readonly blockId: string
  /** When it took effect (Unix seconds). */
  readonly at?: number
  /** Who signed the statement (did:key). */
  readonly by?: string
  readonly reason?: string
  /** The action patterns of a scoped entry; absent for the whole block. */
  readonly actions?: readonly string[]
}

/** The details of code `C`: its {@link ErrorDetailsMap} entry, or `undefined` for a code without. */
export type ErrorDetails<C extends MandateErrorCode = MandateErrorCode> = C extends keyof ErrorDetailsMap ? ErrorDetailsMap[C] : undefined

/** The options a {@link MandateError} of code `C` takes: `details` required exactly when `C` has them. */
export type MandateErrorArgs<C extends MandateErrorCode> = C extends keyof ErrorDetailsMap
  ? [options: MandateErrorOptions & { readonly details: ErrorDetailsMap[C] }]
  : [options?: MandateErrorOptions & { readonly details?: undefined }]

/**
 * The one error class of this library. Messages never contain key material or token text.
 *
 * @example
 * ```ts
 * import { parseMandate, MandateError } from 'mandate'
 * try {
 *   parseMandate('mnd1_not-a-token')
 * } catch (err) {
 *   if (err instanceof MandateError) console.log(err.code) // 'ERR_TEXT_FORMAT'
 * }
 * ```
 */
export class MandateError<C extends MandateErrorCode = MandateErrorCode> extends Error {
  readonly code: C
  readonly hint: string | undefined
  readonly block: number | undefined
  readonly caveat: string | undefined
  readonly caveatIndex: number | undefined
  readonly offset: number | undefined
  /** The amendment that added the caveat at fault, when it was one. */
  readonly amendment: AmendmentRef | undefined
  /** Typed details for the codes of {@link ErrorDetailsMap}; `undefined` for the others. */
  readonly details: ErrorDetails<C>

  constructor(code: C, message: string, ...args: MandateErrorArgs<C>) {
    const options: MandateErrorOptions & { readonly details?: unknown } = args[0] ?? {}
    super(message, options.cause === undefined ? undefined : { cause: options.cause })
    this.name = 'MandateError'
    this.code = code
    this.hint = options.hint
    this.block = options.block
    this.caveat = options.caveat
    this.caveatIndex = options.caveatIndex
    this.offset = options.offset
    this.amendment = options.amendment
    this.details = options.details as ErrorDetails<C>
  }

  /** A JSON-safe view (`{ code, message, hint?, block?, caveat?, caveatIndex?, offset?, amendment?, details? }`). */
  toJSON(): Record<string, unknown> {
    const out: Record<string, unknown> = { code: this.code, message: this.message }
    if (this.hint !== undefined) out['hint'] = this.hint
    if (this.block !== undefined) out['block'] = this.block
    if (this.caveat !== undefined) out['caveat'] = this.caveat
    if (this.caveatIndex !== undefined) out['caveatIndex'] = this.caveatIndex
    if (this.offset !== undefined) out['offset'] = this.offset
    if (this.amendment !== undefined) out['amendment'] = this.amendment
    if (this.details !== undefined) out['details'] = this.details
    return out
  }
}

/** Shorthand used by the engine: build and throw in one expression. */
export function fail<C extends MandateErrorCode>(code: C, message: string, ...args: MandateErrorArgs<C>): never {
  throw new MandateError(code, message, ...args)
}
