/**
 * A client of the service's approval inbox (spec/service-v1.md §7): file an invocation that
 * needs approval, read the request, and wait until its approvers have answered. The MCP guard
 * and the HTTP middleware use it to turn "approval required" into a request a human can act on.
 *
 * Every answer is checked before it is returned: a service that cannot be reached, does not
 * answer in time, refuses, or answers out of shape is `ERR_APPROVAL_UNAVAILABLE`, and the
 * caller's request stays denied (fail closed). Messages name the inbox's URL (never its query
 * or credentials) and, when the service answered, its own code and message.
 *
 * @module
 */
import { signRequest } from '../crypto/http-signature.js'
import { type KeyPair, parsePublicKey, toDidKey } from '../crypto/keys.js'
import { type ApprovalDenialDetails, MandateError } from '../errors.js'
import { toHex } from '../internal/bytes.js'
import { pause, timeoutOption } from '../internal/deadline.js'
import { describeUrl, type Fetcher, fetchWithin, jsonUpTo, PAGE_MAX_BYTES, serviceBase, tooLong } from '../internal/http.js'
import { printable } from '../internal/printable.js'
import { denialReason } from '../internal/reason.js'
import { formatApproval, parseApproval, type UnverifiedApproval } from '../token/approval.js'
import { parseInvocation } from '../token/invocation.js'

/**
 * Where the approval inbox is, and how long to wait for each answer.
 *
 * @example
 * ```ts
 * const inbox: InboxOptions = { url: 'http://127.0.0.1:8787', timeoutMs: 5000 }
 * ```
 */
export interface InboxOptions {
  /** The service's base URL, e.g. `http://127.0.0.1:8787`. */
  readonly url: string
  /** Each request, its answer's body included, ends within this many ms (default 15,000), plus any long-poll wait. */
  readonly timeoutMs?: number
  readonly fetch?: typeof fetch
}

/**
 * An approval request as the inbox holds it: what the requester needs to present the
 * invocation again with its approvals. (The inbox's answer carries more, for approvers: who
 * asks, for what and why; read it with `mandate approvals show`.)
 *
 * @example
 * ```ts
 * const state: ApprovalRequestState = await fileApprovalRequest(formatInvocation(invocation), { url })
 * if (state.status === 'approved') await verifier.authorize({ invocation, approvals: Object.values(state.approvals) })
 * ```
 */
export interface ApprovalRequestState {
  /** The request id: the invocation's id, 64 lower-case hex digits. */
  readonly id: string
  /**
   * `approved` once every approval caveat that applies to the invocation has its quorum;
   * `denied` once an approver (or the principal) refused it: it is closed, see `denial`.
   */
  readonly status: 'pending' | 'approved' | 'denied'
  /** The approvers of every applying caveat (did:key), in chain order. */
  readonly approvers: readonly string[]
  /** The approvals given so far, by approver (did:key → `mna1_…`). */
  readonly approvals: Readonly<Record<string, string>>
  /** When it was filed, and when it expires (Unix seconds, service clock). */
  readonly createdAt: number
  readonly expiresAt: number
  /** Present exactly when `status` is `denied`: who refused, their note (escape it to show it), and when. */
  readonly denial?: ApprovalDenialDetails
}

/**
 * An approval request as an approver reads it (spec/service-v1.md §7): who asks, on whose
 * behalf, through which chain, for what and why. Every string in it comes from a token an
 * agent signed: escape it before showing it to a person.
 *
 * @example
 * ```ts
 * const { pending } = await listApprovalRequests(alice, { url })
 * for (const r of pending) console.log(r.requestedBy.name, r.action, r.resource ?? '', r.intent ?? '')
 * ```
 */
export interface ApprovalRequest extends ApprovalRequestState {
  /** The requester: the key that signed the invocation (the chain's last holder) and its name. */
  readonly requestedBy: { readonly key: string; readonly name?: string }
  /** The chain's principal (did:key). */
  readonly onBehalfOf: string
  /** The chain's holders, block by block, with the purpose each was given. */
  readonly chain: readonly { readonly block: number; readonly name?: string; readonly purpose?: string }[]
  readonly action: string
  readonly resource?: string
  readonly args: Readonly<Record<string, unknown>>
  readonly audience: string
  /** Why, in the agent's words. */
  readonly intent?: string
  /** The invocation itself (`mni1_…`), to check before approving: {@link approve} signs its id. */
  readonly invocation: string
  /**
   * What is left of each `uses` caveat of the chain, as the service counted it when it answered
   * (spec/service-v1.md §7): to weigh the request, never to decide.
   */
  readonly quota?: readonly {
    readonly block: number
    /** The caveat's index in its block. */
    readonly caveat: number
    readonly max: number
    /** The sliding window in seconds; absent for a total limit. */
    readonly per?: number
    readonly used: number
    readonly remaining: number
  }[]
}

/**
 * A page of an approver's pending requests, newest first; `next` when there may be more
 * (pass it as `before`).
 *
 * @example
 * ```ts
 * const page: ApprovalRequestPage = await listApprovalRequests(alice, { url, limit: 10 })
 * if (page.next) await listApprovalRequests(alice, { url, before: page.next })
 * ```
 */
export interface ApprovalRequestPage {
  readonly pending: readonly ApprovalRequest[]
  readonly next?: string
}

const DEFAULT_TIMEOUT_MS = 15_000
/** The longest long poll the service holds (spec/service-v1.md §7). */
const MAX_WAIT_SECONDS = 30
const ID = /^[0-9a-f]{64}$/
const HINT = 'the approval inbox is needed to ask for this approval; the request stays denied until it answers (fail closed)'
/** How much of a service's own error message is quoted: enough to act on, never a flood. */
const QUOTED = 300

/** The settings every call shares, checked once. */
interface Inbox {
  readonly base: string
  readonly timeoutMs: number
  readonly fetch: Fetcher
}

/**
 * Check inbox options as a caller gives them, throwing what the first call with them would; for a
 * component that takes them at setup and calls the inbox later (the MCP guard's `service`).
 * `field` names where they sit, in the errors (`"service.url" expected …`).
 */
export function checkInboxOptions(options: InboxOptions, field: string): void {
  inbox(options, field)
}

function inbox(options: InboxOptions, field?: string): Inbox {
  const name = (option: string) => (field === undefined ? option : `${field}.${option}`)
  const base = serviceBase(options?.url, name('url'))
  // Looked up at each call, not captured: a fetch installed later (a test, a polyfill) is used.
  const given = options.fetch
  return {
    base,
    timeoutMs: timeoutOption(options.timeoutMs, DEFAULT_TIMEOUT_MS, name('timeoutMs')),
    fetch: given ? (input, init) => given(input, init) : (input, init) => fetch(input, init),
  }
}

/** What came back: the status and the JSON body, if it was JSON. */
interface Answer {
  readonly status: number
  readonly body: unknown
}

/** One request to the inbox; a 2xx answer's body, else `ERR_APPROVAL_UNAVAILABLE`. */
async function exchange(
  box: Inbox,
  path: string,
  init: { method: 'GET' | 'POST'; body?: unknown; key?: KeyPair; extraMs?: number; signal?: AbortSignal | undefined },
): Promise<unknown> {
  const url = `${box.base}${path}`
  const bytes = init.body === undefined ? undefined : new TextEncoder().encode(JSON.stringify(init.body))
  const headers: Record<string, string> = {
    ...(bytes === undefined ? {} : { 'content-type': 'application/json' }),
    // Signed anew for each request: the service refuses a (keyid, nonce) it has seen.
    ...(init.key ? signRequest({ method: init.method, url, ...(bytes === undefined ? {} : { body: bytes }) }, init.key) : {}),
  }
  const timeoutMs = box.timeoutMs + (init.extraMs ?? 0)
  const answer = await fetchWithin(
    url,
    // Signed: a redirect is answered as it came (refused), never followed with the signature.
    { method: init.method, headers, redirect: 'manual', ...(bytes === undefined ? {} : { body: bytes }) },
    {
      fetch: box.fetch,
      timeoutMs,
      code: 'ERR_APPROVAL_UNAVAILABLE',
      what: 'approval inbox',
      hint: HINT,
      signal: init.signal,
      // A body cut off by the deadline is a timeout, not a body out of shape.
      read: async (res): Promise<Answer> => ({
        status: res.status,
        body: await jsonUpTo(res, PAGE_MAX_BYTES, () =>
          tooLong(url, { code: 'ERR_APPROVAL_UNAVAILABLE', what: 'approval inbox', hint: HINT }, PAGE_MAX_BYTES),
        ),
      }),
    },
  )
  if (answer.status >= 200 && answer.status < 300) return answer.body
  const error = (answer.body as { error?: { code?: unknown; message?: unknown } } | undefined)?.error
  const said =
    typeof error?.code === 'string' && typeof error.message === 'string'
      ? `: ${printable(error.code, 64)} ${printable(error.message, QUOTED)}`
      : ' (not the mandate service?)'
  throw new MandateError('ERR_APPROVAL_UNAVAILABLE', `the approval inbox at ${describeUrl(url)} answered ${answer.status}${said}`, {
    hint: refusalHint(answer.status, typeof error?.code === 'string' ? error.code : undefined),
  })
}

/** What a refusal asks of the caller: most are configuration, some are a fresh invocation. */
function refusalHint(status: number, code: string | undefined): string {
  if (code === 'ERR_REQUEST_STALE' || code === 'ERR_CONFLICT') return 'the invocation is too old or needs no approval: sign a new one'
  if (code === 'ERR_ROOT_UNTRUSTED') return "the service does not serve this mandate's principal (mandate serve --root NAME=KEY)"
  if (code === 'ERR_NOT_AUTHORIZED') return "only the request's requester, principal or approvers may read it: sign with one of their keys"
  if (code === 'ERR_LIMIT_RATE') return 'this requester has too many pending requests; wait for answers, or for them to expire'
  if (status >= 500) return HINT
  return 'the service refused the request (see its code above)'
}

const text = (v: unknown): v is string => typeof v === 'string'
/** A did:key in its canonical spelling (what the service writes for a key). */
const didKey = (v: unknown): v is string => {
  if (typeof v !== 'string' || !v.startsWith('did:key:')) return false
  try {
    return toDidKey(parsePublicKey(v)) === v
  } catch {
    return false
  }
}
const record = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v)

/**
 * The request of an answer, checked: exactly the fields of {@link ApprovalRequestState}, for
 * the request asked about. Anything else is a service (or a stranger on its URL) answering
 * out of shape.
 */
function requestState(value: unknown, id: string, url: string): ApprovalRequestState {
  const e = record(value) ? value : {}
  const approvals = e['approvals']
  const denial = e['denial']
  // A denial comes with its status, and its status with it: who, why, when.
  // `by` is shown to people and put in messages: a key, spelled the one canonical way, not any text.
  const denied =
    e['status'] === 'denied' && record(denial) && didKey(denial['by']) && text(denial['reason']) && Number.isSafeInteger(denial['at'])
  const ok =
    e['id'] === id &&
    (((e['status'] === 'pending' || e['status'] === 'approved') && denial === undefined) || denied) &&
    Array.isArray(e['approvers']) &&
    e['approvers'].every(text) &&
    record(approvals) &&
    Object.values(approvals).every(text) &&
    Number.isSafeInteger(e['createdAt']) &&
    Number.isSafeInteger(e['expiresAt'])
  if (!ok) {
    const why = record(value) && e['id'] !== id && text(e['id']) ? 'for another request' : 'out of shape'
    throw new MandateError('ERR_APPROVAL_UNAVAILABLE', `the approval inbox at ${describeUrl(url)} answered ${why}`, {
      hint: 'is the URL the mandate service?',
    })
  }
  return {
    id,
    status: e['status'] as ApprovalRequestState['status'],
    approvers: [...(e['approvers'] as string[])],
    approvals: Object.fromEntries(Object.entries(approvals as Record<string, string>)),
    createdAt: e['createdAt'] as number,
    expiresAt: e['expiresAt'] as number,
    ...(denied ? { denial: denialOf(denial as Record<string, unknown>) } : {}),
  }
}

/** A checked denial: exactly who, why and when. */
function denialOf(d: Record<string, unknown>): ApprovalDenialDetails {
  return { by: d['by'] as string, reason: d['reason'] as string, at: d['at'] as number }
}

const optionalText = (v: unknown) => v === undefined || text(v)
const chainBlock = (b: unknown) => record(b) && Number.isSafeInteger(b['block']) && optionalText(b['name']) && optionalText(b['purpose'])

/** A request with everything an approver reads, checked as {@link requestState} checks its core. */
function fullRequest(value: unknown, url: string): ApprovalRequest {
  const e = record(value) ? value : {}
  const id = e['id']
  const by = e['requestedBy']
  const ok =
    text(id) &&
    ID.test(id) &&
    record(by) &&
    text(by['key']) &&
    optionalText(by['name']) &&
    text(e['onBehalfOf']) &&
    Array.isArray(e['chain']) &&
    e['chain'].every(chainBlock) &&
    text(e['action']) &&
    optionalText(e['resource']) &&
    record(e['args']) &&
    text(e['audience']) &&
    optionalText(e['intent']) &&
    text(e['invocation'])
  if (!ok) {
    throw new MandateError('ERR_APPROVAL_UNAVAILABLE', `the approval inbox at ${describeUrl(url)} answered out of shape`, {
      hint: 'is the URL the mandate service?',
    })
  }
  const chain = (e['chain'] as Record<string, unknown>[]).map((b) => ({
    block: b['block'] as number,
    ...(b['name'] === undefined ? {} : { name: b['name'] as string }),
    ...(b['purpose'] === undefined ? {} : { purpose: b['purpose'] as string }),
  }))
  return {
    ...requestState(value, id as string, url),
    requestedBy: { key: by['key'] as string, ...(by['name'] === undefined ? {} : { name: by['name'] as string }) },
    onBehalfOf: e['onBehalfOf'] as string,
    chain,
    action: e['action'] as string,
    ...(e['resource'] === undefined ? {} : { resource: e['resource'] as string }),
    args: e['args'] as Record<string, unknown>,
    audience: e['audience'] as string,
    ...(e['intent'] === undefined ? {} : { intent: e['intent'] as string }),
    invocation: e['invocation'] as string,
  }
}

/**
 * File an invocation that needs approval in the service's inbox (`POST /v1/approvals`). No
 * signature is needed: the invocation is the requester's. Filing the same invocation again
 * answers the existing request. The answer never carries approvals (`approvals` is `{}`, even
 * once the request is approved: a copy of the invocation must not collect them); read them
 * signed, with {@link readApprovalRequest} or {@link awaitApproval}. Throws
 * `ERR_APPROVAL_UNAVAILABLE` when the inbox cannot be reached, refuses (a stale invocation, an
 * untrusted principal, an action that needs no approval…) or answers out of shape.
 *
 * @example
 * ```ts
 * import { fileApprovalRequest, formatInvocation } from 'mandate'
 * const state = await fileApprovalRequest(formatInvocation(invocation), { url: 'http://127.0.0.1:8787' })
 * console.log(state.id, state.status, state.approvers) // '3f9c…', 'pending', ['did:key:z6Mk…']
 * ```
 */
export async function fileApprovalRequest(invocation: string, options: InboxOptions): Promise<ApprovalRequestState> {
  const box = inbox(options)
  // The id is the invocation's own: an answer about another request is refused, not trusted.
  const id = parseInvocation(invocation).idHex
  const body = await exchange(box, '/v1/approvals', { method: 'POST', body: { invocation: invocation.trim() } })
  return requestState(body, id, `${box.base}/v1/approvals`)
}

/**
 * Read an approval request (`GET /v1/approvals/{id}`), signed with `key`: its requester (the
 * holder that signed the invocation), its principal or one of its approvers. With
 * `waitSeconds` (0–30) the service holds the answer until a new approval or a denial arrives or
 * the time is up (a request already approved or denied is answered at once). Throws
 * `ERR_APPROVAL_UNAVAILABLE` as {@link fileApprovalRequest} does.
 *
 * @example
 * ```ts
 * import { readApprovalRequest } from 'mandate'
 * const state = await readApprovalRequest(invocation.idHex, assistant, { url: 'http://127.0.0.1:8787', waitSeconds: 10 })
 * if (state.status === 'approved') console.log(Object.keys(state.approvals)) // who approved
 * ```
 */
export async function readApprovalRequest(
  id: string,
  key: KeyPair,
  options: InboxOptions & { readonly waitSeconds?: number; readonly signal?: AbortSignal },
): Promise<ApprovalRequestState> {
  const box = inbox(options)
  if (typeof id !== 'string' || !ID.test(id)) throw new TypeError('"id" expected a request id: 64 lower-case hex digits')
  const wait = options.waitSeconds ?? 0
  if (!Number.isInteger(wait) || wait < 0 || wait > MAX_WAIT_SECONDS) {
    throw new RangeError(`"waitSeconds" expected a whole number of seconds from 0 to ${MAX_WAIT_SECONDS}, got ${String(wait)}`)
  }
  const path = `/v1/approvals/${id}${wait > 0 ? `?wait=${wait}` : ''}`
  const body = await exchange(box, path, { method: 'GET', key, extraMs: wait * 1000, signal: options.signal })
  return requestState(body, id, `${box.base}/v1/approvals/${id}`)
}

/**
 * Wait up to `withinMs` for a request to be approved, long-polling the inbox (at most 30 s per
 * poll); returns the last state read: `approved`, `denied` as soon as an approver (or the
 * principal) refuses it (`denial` says who and why), or still `pending` when the time ran out. A
 * quorum of several approvers is waited for to the end. An abort of `signal` ends the wait by
 * throwing its reason; a failure to read is `ERR_APPROVAL_UNAVAILABLE`.
 *
 * @example
 * ```ts
 * import { awaitApproval } from 'mandate'
 * const state = await awaitApproval(invocation.idHex, assistant, { url: 'http://127.0.0.1:8787', withinMs: 120_000 })
 * if (state.status === 'approved') {
 *   const decision = await verifier.authorize({ invocation, approvals: Object.values(state.approvals) })
 * } else if (state.status === 'denied') {
 *   console.log(`${state.denial?.by} refused: ${state.denial?.reason}`)
 * }
 * ```
 */
export async function awaitApproval(
  id: string,
  key: KeyPair,
  options: InboxOptions & { readonly withinMs: number; readonly signal?: AbortSignal },
): Promise<ApprovalRequestState> {
  const { withinMs, signal } = options
  // Number.isFinite is false for anything but a number, NaN and ±Infinity.
  if (!(withinMs >= 0) || !Number.isFinite(withinMs)) {
    throw new RangeError(`"withinMs" expected a number of milliseconds, 0 or more, got ${String(withinMs)}`)
  }
  const start = Date.now()
  const left = () => withinMs - (Date.now() - start)
  // Whole seconds that still fit: a poll never holds the caller past its time.
  const waitFor = () => Math.min(MAX_WAIT_SECONDS, Math.max(0, Math.floor(left() / 1000)))
  // `options` carries the signal, if any, to each read.
  const read = (waitSeconds: number) => readApprovalRequest(id, key, { ...options, waitSeconds })
  let state = await read(waitFor())
  // Answered either way (approved, or denied: closed for good), or out of time.
  while (state.status === 'pending' && left() > 0) {
    signal?.throwIfAborted()
    if (left() < 1000) {
      // Less than a poll's second left: one last look when it is over.
      await pause(left(), signal ? { parent: signal } : {})
      signal?.throwIfAborted()
      return read(0)
    }
    const asked = waitFor()
    const before = Date.now()
    state = await read(asked)
    // A poll answered early without an approval (a service shutting down) must not become a busy loop.
    if (state.status === 'pending' && asked > 0 && Date.now() - before < 250) await pause(250, signal ? { parent: signal } : {})
  }
  return state
}

/**
 * The requests waiting for `approver` (`GET /v1/approvals`, signed with its key), newest first:
 * those still open that it has not approved. Throws `ERR_APPROVAL_UNAVAILABLE` as
 * {@link fileApprovalRequest} does.
 *
 * @example
 * ```ts
 * import { approve, answerApprovalRequest, listApprovalRequests, parseInvocation } from 'mandate'
 * const { pending } = await listApprovalRequests(alice, { url: 'http://127.0.0.1:8787' })
 * for (const r of pending) {
 *   if (r.action === 'email:send' && r.args['to'] === 'bob@example.com') {
 *     await answerApprovalRequest(approve({ approver: alice, invocation: parseInvocation(r.invocation) }), alice, { url: 'http://127.0.0.1:8787' })
 *   }
 * }
 * ```
 */
export async function listApprovalRequests(
  approver: KeyPair,
  options: InboxOptions & { readonly limit?: number; readonly before?: string; readonly signal?: AbortSignal },
): Promise<ApprovalRequestPage> {
  const box = inbox(options)
  const limit = options.limit
  if (limit !== undefined && (!Number.isInteger(limit) || limit < 1 || limit > 100)) {
    throw new RangeError(`"limit" expected a whole number from 1 to 100, got ${String(limit)}`)
  }
  const query = new URLSearchParams({
    approver: toDidKey(approver.publicKey),
    ...(limit === undefined ? {} : { limit: String(limit) }),
    ...(options.before === undefined ? {} : { before: String(options.before) }),
  })
  const url = `${box.base}/v1/approvals`
  const body = await exchange(box, `/v1/approvals?${query}`, { method: 'GET', key: approver, signal: options.signal })
  const page = record(body) ? body : {}
  const pending = page['pending']
  const next = page['next']
  if (!Array.isArray(pending) || (next !== undefined && !text(next))) {
    throw new MandateError('ERR_APPROVAL_UNAVAILABLE', `the approval inbox at ${describeUrl(url)} answered out of shape`, {
      hint: 'is the URL the mandate service?',
    })
  }
  return { pending: pending.map((r) => fullRequest(r, url)), ...(next === undefined ? {} : { next }) }
}

/**
 * Give an approval to the request it names (`POST /v1/approvals/{id}`, signed with `key`, which
 * must be the approval's approver); returns the request as it stands after it. Approve only
 * after reading what the request asks ({@link listApprovalRequests}): the approval signs the
 * invocation's id, whatever it carries. Throws `ERR_APPROVAL_UNAVAILABLE` as
 * {@link fileApprovalRequest} does (an expired request is answered 409: the agent must ask anew).
 *
 * @example
 * ```ts
 * import { answerApprovalRequest, approve } from 'mandate'
 * const state = await answerApprovalRequest(approve({ approver: alice, invocation }), alice, { url: 'http://127.0.0.1:8787' })
 * console.log(state.status) // 'approved' once every quorum is met
 * ```
 */
export async function answerApprovalRequest(
  approval: string | UnverifiedApproval,
  key: KeyPair,
  options: InboxOptions & { readonly signal?: AbortSignal },
): Promise<ApprovalRequestState> {
  const box = inbox(options)
  const parsedApproval = typeof approval === 'string' ? parseApproval(approval) : approval
  const id = toHex(parsedApproval.invocationId)
  const url = `${box.base}/v1/approvals/${id}`
  const body = await exchange(box, `/v1/approvals/${id}`, {
    method: 'POST',
    body: { approval: typeof approval === 'string' ? approval.trim() : formatApproval(approval) },
    key,
    signal: options.signal,
  })
  return requestState(body, id, url)
}

/**
 * Deny the request `id` with a reason (`POST /v1/approvals/{id}/deny`, signed with `key`: one of
 * its listed approvers, or its principal). The request is closed: its agent reads who refused
 * and why (`status` `denied`, `denial`), and it takes no more approvals. Returns the request as
 * it stands after it; denying again with the same key answers it unchanged (the first reason
 * stands). `reason` is 1–500 characters once trimmed, without control characters but tab and
 * line feed (a `RangeError` before any request otherwise). Throws `ERR_APPROVAL_UNAVAILABLE` as
 * {@link fileApprovalRequest} does (a request already approved, expired, or denied by another
 * is answered 409 `ERR_CONFLICT`).
 *
 * @example
 * ```ts
 * import { denyApprovalRequest, listApprovalRequests } from 'mandate'
 * const { pending } = await listApprovalRequests(alice, { url: 'http://127.0.0.1:8787' })
 * for (const r of pending) {
 *   if (r.action === 'email:send' && r.args['to'] === 'everyone@example.com') {
 *     const state = await denyApprovalRequest(r.id, 'not to the whole company', alice, { url: 'http://127.0.0.1:8787' })
 *     console.log(state.status, state.denial?.by) // 'denied', 'did:key:z6Mk…' (Alice)
 *   }
 * }
 * ```
 */
export async function denyApprovalRequest(
  id: string,
  reason: string,
  key: KeyPair,
  options: InboxOptions & { readonly signal?: AbortSignal },
): Promise<ApprovalRequestState> {
  const box = inbox(options)
  if (typeof id !== 'string' || !ID.test(id)) throw new TypeError('"id" expected a request id: 64 lower-case hex digits')
  if (typeof reason !== 'string') throw new TypeError('"reason" expected text: why it is denied')
  // The service's rule, checked before sending: a note it would refuse is the caller's mistake.
  const checked = denialReason(reason)
  if ('problem' in checked) throw new RangeError(`"reason" ${checked.problem}`)
  const note = checked.reason
  const path = `/v1/approvals/${id}/deny`
  const body = await exchange(box, path, { method: 'POST', body: { reason: note }, key, signal: options.signal })
  return requestState(body, id, `${box.base}${path}`)
}
