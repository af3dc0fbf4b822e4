/**
 * The guard's refusals (spec/http-v1.md §6): RFC 9457 problem details, an honest status, and
 * the headers an agent acts on (`WWW-Authenticate`, `Mandate-Approval-Request`, `Retry-After`).
 * Framework-neutral: a status, headers and a JSON body; `toResponse` makes a Fetch `Response`.
 *
 * @module
 */
import { type AmendmentRef, disposition } from '../errors.js'
import type { Denied } from '../verify/decision.js'
import { APPROVAL_REQUEST_FIELD, challenge } from './headers.js'

/** An answer the guard sends instead of calling the handler. */
export interface Refusal {
  readonly status: number
  readonly headers: Readonly<Record<string, string>>
  /** The RFC 9457 problem details, sent as `application/problem+json`. */
  readonly body: Problem
}

/** The problem details of a refusal. */
export interface Problem {
  readonly type: 'about:blank'
  readonly title: string
  readonly status: number
  readonly detail: string
  /** The decision's code (absent only when no invocation was presented). */
  readonly code?: string
  readonly hint?: string
  readonly block?: number
  readonly caveat?: string
  /** The amendment whose caveat denied (spec/mandate-v1.md §9.2): who added it, when, why. */
  readonly amendment?: AmendmentRef
  /** `ERR_APPROVAL_REQUIRED`: the approval request to wait for. */
  readonly approvalRequest?: {
    readonly id: string
    readonly filed: boolean
    readonly quorum: number
    readonly given: number
    readonly missing: readonly string[]
  }
  /** `ERR_USAGE_EXHAUSTED`: when the counter frees (Unix seconds), if it ever does. */
  readonly resetAt?: number
}

const TITLES: Readonly<Record<number, string>> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  413: 'Content Too Large',
  429: 'Too Many Requests',
  500: 'Internal Server Error',
  502: 'Bad Gateway',
  503: 'Service Unavailable',
}

const PROBLEM = 'application/problem+json'

function problem(status: number, detail: string, extra: Partial<Problem>): Problem {
  // Stryker disable next-line StringLiteral: unreachable — every status a refusal answers (disposition's) has a title above
  const title = TITLES[status] ?? 'Error'
  return { type: 'about:blank', title, status, detail, ...extra }
}

/**
 * The answer to a request without an invocation: 401 and a challenge, no code.
 *
 * @example
 * ```ts
 * missingCredentials('mail').headers['www-authenticate'] // 'Mandate realm="mail"'
 * ```
 */
export function missingCredentials(audience: string): Refusal {
  return {
    status: 401,
    headers: { 'content-type': PROBLEM, 'www-authenticate': challenge(audience, false) },
    body: problem(401, 'this API takes an invocation: Authorization: Mandate mni1_…', {}),
  }
}

/**
 * The answer to an `Authorization` field of this scheme that holds no invocation, or several:
 * 401 `ERR_TEXT_FORMAT` with `error="invalid_token"`.
 *
 * @example
 * ```ts
 * unreadable('mail', 'ambiguous').body.code // 'ERR_TEXT_FORMAT'
 * ```
 */
export function unreadable(audience: string, why: 'ambiguous' | 'invocation'): Refusal {
  const detail = why === 'ambiguous' ? 'more than one Mandate credential in Authorization' : 'Authorization: Mandate holds no invocation'
  return {
    status: 401,
    headers: { 'content-type': PROBLEM, 'www-authenticate': challenge(audience, true) },
    body: problem(401, detail, { code: 'ERR_TEXT_FORMAT', hint: 'send exactly one invocation: Authorization: Mandate mni1_…' }),
  }
}

/**
 * The answer to a request whose content is over the guard's limit: 413 `ERR_LIMIT_SIZE`.
 *
 * @example
 * ```ts
 * tooLarge(1048576).status // 413
 * ```
 */
export function tooLarge(limit: number): Refusal {
  return {
    status: 413,
    headers: { 'content-type': PROBLEM },
    body: problem(413, `the request content is larger than ${limit} bytes`, { code: 'ERR_LIMIT_SIZE' }),
  }
}

/**
 * The answer to a request its route cannot describe (spec/http-v1.md §5 step 2): 400.
 *
 * @example
 * ```ts
 * unmappable('the body is not JSON').status // 400
 * ```
 */
export function unmappable(message: string, hint?: string): Refusal {
  return {
    status: 400,
    headers: { 'content-type': PROBLEM },
    body: problem(400, message, { code: 'ERR_REQUEST_INVALID', ...(hint === undefined ? {} : { hint }) }),
  }
}

/** What the guard knows beside the denial when it answers one. */
export interface RefusalContext {
  readonly audience: string
  /** The guard's clock (Unix seconds), for `Retry-After`. */
  readonly now: number
  /** For `ERR_APPROVAL_REQUIRED`: whether the service's inbox took the request. */
  readonly filed?: boolean
}

/**
 * The answer to a denial (spec/http-v1.md §6): 401 with a challenge when the invocation cannot
 * be read or does not authenticate this request, the approval-required answer, 429 with
 * `Retry-After`, else the code's status (spec/mandate-v1.md §10).
 *
 * @example
 * ```ts
 * const d = await verifier.authorize({ invocation })
 * if (!d.allowed) {
 *   const r = refusal(d, { audience: 'mail', now: Math.floor(Date.now() / 1000) })
 *   console.log(r.status, r.body.code)
 * }
 * ```
 */
export function refusal(d: Denied, context: RefusalContext): Refusal {
  const base = {
    code: d.code,
    ...(d.hint === undefined ? {} : { hint: d.hint }),
    ...(d.block === undefined ? {} : { block: d.block }),
    ...(d.caveat === undefined ? {} : { caveat: d.caveat }),
    ...(d.amendment === undefined ? {} : { amendment: d.amendment }),
  }
  const json = { 'content-type': PROBLEM }
  const status = disposition(d.code).http
  if (status === 400 || status === 401 || status === 413) {
    return {
      status: 401,
      headers: { ...json, 'www-authenticate': challenge(context.audience, true) },
      body: problem(401, d.message, base),
    }
  }
  if (d.code === 'ERR_APPROVAL_REQUIRED') {
    const id = d.audit.invocationId as string
    const { quorum, given, missing } = d.details
    return {
      status: 403,
      headers: { ...json, [APPROVAL_REQUEST_FIELD]: id },
      body: problem(403, d.message, { ...base, approvalRequest: { id, filed: context.filed === true, quorum, given, missing } }),
    }
  }
  if (d.code === 'ERR_USAGE_EXHAUSTED') {
    const { resetAt } = d.details
    if (resetAt === undefined) return { status: 429, headers: json, body: problem(429, d.message, base) }
    const wait = Math.max(1, resetAt - context.now)
    return { status: 429, headers: { ...json, 'retry-after': String(wait) }, body: problem(429, d.message, { ...base, resetAt }) }
  }
  if (status >= 500) {
    // A failure on the API's side: its message names what failed inside (a counter service's
    // URL and answer, a feed's), which is the operator's to read (onDecision, the reporter),
    // not the caller's.
    return { status, headers: json, body: problem(status, FAILED[status] as string, { code: d.code, hint: 'try again later' }) }
  }
  return { status, headers: json, body: problem(status, d.message, base) }
}

/** What a refusal of the API's own failure says, by status (every 5xx a code's disposition has). */
const FAILED: Readonly<Record<number, string>> = {
  500: 'the API failed while deciding this request',
  502: 'a service the API relies on answered what it cannot use',
  503: 'a service the API relies on cannot answer now',
}

/**
 * A refusal as a Fetch `Response`.
 *
 * @example
 * ```ts
 * const response = toResponse(missingCredentials('mail'))
 * response.status // 401
 * ```
 */
export function toResponse(r: Refusal): Response {
  return new Response(JSON.stringify(r.body), { status: r.status, headers: r.headers })
}
