/**
 * The agent side of spec/http-v1.md §7: a `fetch` that signs an invocation for each request it
 * sends, bound to that request's method, target and exact body bytes.
 *
 * @module
 */
import type { Args } from '../caveats/types.js'
import { type KeyPair, keyPairFromSecret } from '../crypto/keys.js'
import { MandateError } from '../errors.js'
import { awaitApproval, fileApprovalRequest, type InboxOptions } from '../inbox/client.js'
import { deadline } from '../internal/deadline.js'
import { bodyUpTo, parseJsonBytes } from '../internal/http.js'
import { printable } from '../internal/printable.js'
import { formatInvocation, invoke } from '../token/invocation.js'
import { type KeyInput, parseMandate, type UnverifiedMandate } from '../token/mandate.js'
import { bindArgs, httpBinding } from './binding.js'
import { APPROVAL_FIELD, APPROVAL_REQUEST_FIELD, SCHEME } from './headers.js'

/** What one request does, as the API's route will compute it (spec/http-v1.md §3). */
export interface MandateRequest {
  readonly action: string
  readonly resource?: string
  /** The route's arguments; `@http` is added here. */
  readonly args?: Args
  /** Why the agent does this: shown to approvers, kept in audit records. */
  readonly intent?: string
  /** Approvals already held for this request (`mna1_…`). */
  readonly approvals?: readonly string[]
}

/** Options of {@link createMandateFetch}. */
export interface MandateFetchOptions {
  /** The mandate the agent holds (`mnd1_…` or parsed). */
  readonly mandate: string | UnverifiedMandate
  /** The holder's key: the key the mandate's last block delegates to. */
  readonly key?: KeyInput
  /** The API's audience (its verifier's name). */
  readonly audience: string
  /**
   * Wait for approvals: when the API answers approval-required, file the request in this
   * service's inbox if the API did not, wait up to `withinMs`, and send the request again with
   * the approvals once given. When an approver (or the principal) denies the request instead,
   * the call throws a `MandateError` `ERR_APPROVAL_DENIED` at once, its `details` saying who
   * refused, why and when (spec/http-v1.md §7). Without it the approval-required answer is
   * returned as is.
   */
  readonly approvals?: InboxOptions & { readonly withinMs: number }
  /** The `fetch` to send with; default the global one. */
  readonly fetch?: typeof fetch
}

/** `fetch`'s `init`, with what the request does. */
export type MandateRequestInit = RequestInit & { readonly mandate: MandateRequest }

/**
 * A `fetch` that sends every request with an invocation of `mandate` for it.
 *
 * The body must be readable twice (text, bytes, `URLSearchParams` or a `Blob`): its exact
 * bytes are hashed into the invocation. A stream or `FormData` is refused with a `TypeError`.
 * A redirect is returned as it came, never followed (`redirect: 'manual'`, or `'error'` when
 * asked): the invocation signs this request only, and its approvals must not go elsewhere.
 * Waiting for approval (`approvals`), a denied request throws `ERR_APPROVAL_DENIED` (its
 * `details`: `{by, reason, at}`), and an inbox that cannot be asked `ERR_APPROVAL_UNAVAILABLE`.
 *
 * @example
 * ```ts
 * const call = createMandateFetch({ mandate: grant, key: assistant, audience: 'mail' })
 * const body = JSON.stringify({ to: 'bob@example.com' })
 * const res = await call('https://mail.example/v1/send', {
 *   method: 'POST', body, headers: { 'content-type': 'application/json' },
 *   mandate: { action: 'email:send', resource: 'mailbox/alice', args: { to: 'bob@example.com' } },
 * })
 * ```
 */
export function createMandateFetch(options: MandateFetchOptions): (input: string | URL, init: MandateRequestInit) => Promise<Response> {
  const mandate = typeof options.mandate === 'string' ? parseMandate(options.mandate) : options.mandate
  const send = options.fetch ?? globalThis.fetch
  const holder: KeyPair | undefined = options.key instanceof Uint8Array ? keyPairFromSecret(options.key) : options.key
  return async (input, init) => {
    const { mandate: what, ...rest } = init
    if (typeof what !== 'object' || what === null) throw new TypeError('"mandate" expected { action, resource?, args? }')
    const url = new URL(input)
    const method = (rest.method ?? 'GET').toUpperCase()
    const headers = new Headers(rest.headers)
    const body = await bodyBytes(rest.body, headers)
    const invocation = invoke(mandate, {
      ...(holder === undefined ? {} : { key: holder }),
      action: what.action,
      ...(what.resource === undefined ? {} : { resource: what.resource }),
      args: bindArgs(what.args, httpBinding(method, url, body ?? new Uint8Array(0))),
      audience: options.audience,
      ...(what.intent === undefined ? {} : { intent: what.intent }),
    })
    const text = formatInvocation(invocation)
    headers.set('authorization', `${SCHEME} ${text}`)
    // A redirect is answered as it came, never followed: the invocation signs this target only
    // (another one is refused), and the approvals would travel to wherever it points.
    const redirect = rest.redirect === 'error' ? 'error' : 'manual'
    const attempt = (approvals: readonly string[]) => {
      const sent = new Headers(headers)
      if (approvals.length > 0) sent.set(APPROVAL_FIELD, approvals.join(', '))
      return send(url, { ...rest, method, headers: sent, redirect, ...(body === undefined ? {} : { body }) })
    }
    const first = await attempt(what.approvals ?? [])
    const waitFor = options.approvals
    const id = first.headers.get(APPROVAL_REQUEST_FIELD)
    if (first.status !== 403 || id === null || !waitFor || holder === undefined) return first
    // The request to wait for is this invocation's (spec/http-v1.md §6): waiting on another one
    // would send this request with approvals given for something else.
    if (id !== invocation.idHex) {
      throw new MandateError(
        'ERR_APPROVAL_UNAVAILABLE',
        `the API named approval request ${printable(id, 100)}, not this request's ${invocation.idHex}`,
        { hint: 'is the API behind a mandate guard? it names the invocation it was sent' },
      )
    }
    // The refusal's body, read once (never cloned: a copy nobody reads would keep all of it),
    // small and within the inbox's deadline: whatever the API sends past that is not read.
    const refusal = await bodyWithin(first, waitFor.timeoutMs ?? PROBLEM_WAIT_MS)
    const problem = refusal && (parseJsonBytes(refusal) as { approvalRequest?: { filed?: unknown } } | undefined)
    // Not said to be filed (or not said at all): filed here. Filing twice is harmless.
    if (problem?.approvalRequest?.filed !== true) await fileApprovalRequest(text, waitFor)
    const state = await awaitApproval(id, holder, waitFor)
    // The inbox client reads a denial with its status only, and its status only with it.
    if (state.denial) {
      const { by, reason } = state.denial
      throw new MandateError('ERR_APPROVAL_DENIED', `approval request ${id} was denied by ${by}: ${printable(reason, 500)}`, {
        hint: 'the request was not sent again; a new call files a new approval request, which its approvers see anew',
        details: state.denial,
      })
    }
    // The refusal as it came, from what was read of it.
    if (state.status !== 'approved')
      return new Response(refusal ?? null, { status: first.status, statusText: first.statusText, headers: first.headers })
    return attempt([...(what.approvals ?? []), ...Object.values(state.approvals)])
  }
}

/** A refusal's problem details are small (spec/http-v1.md §6): what is read of one, at most. */
const PROBLEM_MAX_BYTES = 64 * 1024
/** How long its body may take, when the inbox options set no deadline of their own (as the inbox's default). */
const PROBLEM_WAIT_MS = 15_000

/**
 * The body of `res`, up to {@link PROBLEM_MAX_BYTES} and within `ms`; undefined when longer,
 * slower or broken off (the request is then filed by the caller anyway).
 */
async function bodyWithin(res: Response, ms: number): Promise<Uint8Array | undefined> {
  const d = deadline(ms)
  try {
    return await bodyUpTo(res, PROBLEM_MAX_BYTES, () => new RangeError('the refusal is longer than its problem details'), d.signal)
  } catch {
    res.body?.cancel().catch(() => {})
    return undefined
  } finally {
    d.clear()
  }
}

/** The exact bytes `fetch` will send, setting the content type `fetch` would have set. */
async function bodyBytes(body: RequestInit['body'], headers: Headers): Promise<Uint8Array | undefined> {
  if (body === undefined || body === null) return undefined
  const setType = (type: string) => {
    if (!headers.has('content-type') && type !== '') headers.set('content-type', type)
  }
  if (typeof body === 'string') {
    setType('text/plain;charset=UTF-8')
    return new TextEncoder().encode(body)
  }
  if (body instanceof ArrayBuffer) return new Uint8Array(body)
  // Any view, a Uint8Array (or Buffer) included: its own bytes, not its whole buffer.
  if (ArrayBuffer.isView(body)) return new Uint8Array(body.buffer, body.byteOffset, body.byteLength)
  if (body instanceof URLSearchParams) {
    setType('application/x-www-form-urlencoded;charset=UTF-8')
    return new TextEncoder().encode(body.toString())
  }
  // Every runtime this supports (Node ≥ 20, browsers, Workers, Deno, Bun) has Blob.
  if (body instanceof Blob) {
    setType(body.type)
    return new Uint8Array(await body.arrayBuffer())
  }
  throw new TypeError(
    'a mandate-signed request needs a body readable twice: text, bytes, URLSearchParams or a Blob (not a stream or FormData)',
  )
}
