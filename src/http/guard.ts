/**
 * The HTTP guard (spec/http-v1.md §5): the invocation from `Authorization`, the request from
 * the route, `@http` from what was received, then the verifier. Framework-neutral: adapters
 * (Fetch, Hono, Express, Fastify) hand it the method, URL, header fields and body bytes.
 *
 * @module
 */
import type { Args } from '../caveats/types.js'
import { fail, MandateError } from '../errors.js'
import { fileApprovalRequest, type InboxOptions } from '../inbox/client.js'
import type { Allowed, Decision, Denied } from '../verify/decision.js'
import type { DecisionReporter } from '../verify/report.js'
import { resolveRequest } from '../verify/request.js'
import type { Verifier } from '../verify/verifier.js'
import { missingCredentials, type Refusal, refusal, tooLarge, unmappable, unreadable } from './answer.js'
import { bindArgs, httpBinding } from './binding.js'
import { BodyTooLarge } from './body.js'
import { readApprovals, readCredentials } from './headers.js'

/** What a route says a request is (spec/http-v1.md §3). */
export interface RouteRequest {
  readonly action: string
  readonly resource?: string
  /** What `where` caveats see; never a key starting with `@`. */
  readonly args?: Args
}

/** The parts of a received request the guard reads. */
export interface ReceivedHttpRequest {
  readonly method: string
  /** The full URL, or the path and query as received (`/v1/send?x=1`). */
  readonly url: string
  /** Every field of that name, in order; none: `[]`. */
  readonly header: (name: string) => readonly string[]
  /**
   * Reads the content exactly as received (no body: empty), after the credentials are seen;
   * throws {@link BodyTooLarge} past the adapter's limit.
   */
  readonly body: () => Promise<Uint8Array>
}

/** Options of {@link createHttpGuard}. */
export interface HttpGuardOptions {
  /** Decides each request; its audience is the API's name (the realm of the challenge). */
  readonly verifier: Verifier
  /** The service whose inbox takes requests that need approval (spec/http-v1.md §5). */
  readonly inbox?: InboxOptions
  /** Seconds since the epoch, for `Retry-After`; default the system clock. */
  readonly now?: () => number
  /**
   * Called with every decision the verifier makes (an audit sink); its failures, thrown or
   * rejected, are ignored.
   */
  readonly onDecision?: (decision: Decision) => void | PromiseLike<void>
  /**
   * Sends each decision, with the invocation and approvals presented, to the service's audit
   * trail (`createDecisionReporter`, spec/service-v1.md §8.2); it never delays or changes one.
   */
  readonly reporter?: DecisionReporter
}

/** The outcome of a guarded request: let it through, or answer it with the refusal. */
export type GuardOutcome =
  | { readonly allowed: true; readonly decision: Allowed }
  | { readonly allowed: false; readonly refusal: Refusal; readonly decision?: Denied }

/** A configured guard. */
export interface HttpGuard {
  readonly audience: string
  /**
   * Decide one request. `route` computes what the request is from its content; it runs only
   * when an invocation is presented, and a `MandateError` with `ERR_REQUEST_INVALID` from it
   * is a 400.
   */
  check(request: ReceivedHttpRequest, route: (body: Uint8Array) => RouteRequest | Promise<RouteRequest>): Promise<GuardOutcome>
}

/**
 * Create a guard for an API whose audience is the verifier's.
 *
 * @example
 * ```ts
 * import { formatInvocation } from 'mandate'
 * const guard = createHttpGuard({ verifier, inbox: { url: 'http://127.0.0.1:8787' } })
 * const bytes = new TextEncoder().encode('{"to":"bob@example.com"}')
 * const authorization = `Mandate ${formatInvocation(invocation)}`
 * const outcome = await guard.check(
 *   { method: 'POST', url: '/send', header: (n) => (n === 'authorization' ? [authorization] : []), body: async () => bytes },
 *   (body) => ({ action: 'email:send', args: { to: JSON.parse(new TextDecoder().decode(body)).to } }),
 * )
 * if (!outcome.allowed) console.log(outcome.refusal.status, outcome.refusal.body.code)
 * ```
 */
export function createHttpGuard(options: HttpGuardOptions): HttpGuard {
  const { verifier } = options
  const now = options.now ?? (() => Math.floor(Date.now() / 1000))
  const audience = verifier.audience
  return {
    audience,
    async check(received, route) {
      const credentials = readCredentials(received.header('authorization'))
      if (credentials.kind === 'none') return { allowed: false, refusal: missingCredentials(audience) }
      if (credentials.kind === 'ambiguous' || credentials.text === '')
        return { allowed: false, refusal: unreadable(audience, credentials.kind) }
      const invocation = credentials.text
      let body: Uint8Array
      try {
        body = await received.body()
      } catch (e) {
        if (e instanceof BodyTooLarge) return { allowed: false, refusal: tooLarge(e.limit) }
        throw e
      }
      let request: RouteRequest & { readonly args: Args }
      try {
        // HTTP never sends a fragment (RFC 9112 §3.2), and frameworks disagree on one: Fastify
        // reads `/p#?x=1` as the query `x=1`, the URL parser drops it. The target signed would
        // not be the one the handler reads.
        if (received.url.includes('#')) {
          fail('ERR_REQUEST_INVALID', 'the request target has a fragment ("#"), which HTTP does not send', {
            hint: 'percent-encode a "#" in a path or query as %23',
          })
        }
        const described = await route(body)
        const args = bindArgs(described?.args, httpBinding(received.method, received.url, body))
        // Checked here, so that a request the route cannot state is a 400 before any token work.
        resolveRequest({ ...described, args }, undefined, undefined)
        request = { action: described.action, ...(described.resource === undefined ? {} : { resource: described.resource }), args }
      } catch (e) {
        if (e instanceof MandateError && e.code === 'ERR_REQUEST_INVALID') return { allowed: false, refusal: unmappable(e.message, e.hint) }
        throw e
      }
      const approvals = readApprovals(received.header('mandate-approval'))
      const decision = await verifier.authorize({ invocation, approvals, request })
      report(options.onDecision, decision)
      if (options.reporter) {
        try {
          options.reporter.report(decision, { invocation, approvals })
        } catch {
          // A report cannot change a decision (an invocation the verifier refused may not parse).
        }
      }
      if (decision.allowed) return { allowed: true, decision }
      let filed = false
      if (decision.code === 'ERR_APPROVAL_REQUIRED' && options.inbox) {
        try {
          await fileApprovalRequest(invocation, options.inbox)
          filed = true
        } catch {
          // Still the same denial; `filed: false` tells the agent to file it itself.
        }
      }
      return { allowed: false, decision, refusal: refusal(decision, { audience, now: now(), filed }) }
    },
  }
}

function report(sink: HttpGuardOptions['onDecision'], decision: Decision): void {
  // Stryker disable next-line ConditionalExpression: equivalent — calling an absent sink throws a TypeError, which the catch below ignores
  if (!sink) return
  try {
    const pending = sink(decision)
    // An async sink's rejection too: left unhandled, it would end the process (Node's default),
    // and anyone can cause a decision.
    // Stryker disable next-line ConditionalExpression,LogicalOperator: equivalent — inside the try: calling the `then` of a value that has none throws, and the catch ignores it
    if (pending && typeof pending.then === 'function') pending.then(undefined, () => undefined)
  } catch {
    // An audit sink cannot change a decision.
  }
}
