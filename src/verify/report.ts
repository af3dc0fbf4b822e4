/**
 * The decision reporter (spec/service-v1.md §8.2): sends a verifier's decisions on invocations
 * to the service's audit trail, after they are made, so that the log holds who did what on
 * whose behalf alongside the service's own events. A decision never waits for its report and
 * never changes on its account: reports queue, go out one at a time, are retried when no answer
 * came, and a report that cannot be delivered is handed to `onError` as
 * `ERR_AUDIT_UNAVAILABLE`.
 *
 * @module
 */
import { signRequest } from '../crypto/http-signature.js'
import { assertKeyPair, type KeyPair, toDidKey } from '../crypto/keys.js'
import { MandateError } from '../errors.js'
import { countOption } from '../internal/count.js'
import { timeoutOption } from '../internal/deadline.js'
import { postJson, serviceBase } from '../internal/http.js'
import { formatApproval, parseApproval, type UnverifiedApproval } from '../token/approval.js'
import { formatInvocation, parseInvocation, type UnverifiedInvocation } from '../token/invocation.js'
import type { Decision } from './decision.js'

/** Options of {@link createDecisionReporter}. */
export interface DecisionReporterOptions {
  /** The service's base URL. */
  readonly url: string
  /** This verifier's key, registered with the service under its audience (`mandate serve --verifier NAME=KEY`). */
  readonly key: KeyPair
  /** Called once for each report that could not be delivered (`ERR_AUDIT_UNAVAILABLE`); default: nothing. */
  readonly onError?: (error: MandateError) => void
  /** Retries when no answer came or it was a 503: 0 to 4 (default 2; the waits between tries are 0.1, 0.3, 0.9 and 2.7 s). */
  readonly retries?: number
  /** Each attempt ends within this many ms (default 5,000). */
  readonly timeoutMs?: number
  /** Reports waiting at most, 1 to 1,000,000 (default 1,000): one more is dropped, and `onError` told. */
  readonly maxQueue?: number
  readonly fetch?: typeof fetch
}

/** What was presented with a decision: the invocation, and the approvals it came with. */
export interface Presented {
  readonly invocation: string | Uint8Array | UnverifiedInvocation
  readonly approvals?: readonly (string | Uint8Array | UnverifiedApproval)[]
}

/** A running reporter. */
export interface DecisionReporter {
  /**
   * Queue the report of `decision` on `presented.invocation`. Returns at once; a decision not
   * on an invocation (a bearer mandate) is not reported: the log keeps what an agent signed.
   */
  report(decision: Decision, presented: Presented): void
  /** Resolves once every report queued so far was delivered or given up. */
  flush(): Promise<void>
}

/**
 * Create a decision reporter for a verifier registered with the service.
 *
 * @example
 * ```ts
 * const reporter = createDecisionReporter({ url, key: mailVerifierKey, onError: (e) => console.error(e.message) })
 * const decision = await verifier.authorize({ invocation })
 * reporter.report(decision, { invocation })
 * await reporter.flush() // before the process exits
 * ```
 */
export function createDecisionReporter(options: DecisionReporterOptions): DecisionReporter {
  assertKeyPair(options?.key, "the verifier's key pair (registered with the service)")
  const timeoutMs = timeoutOption(options.timeoutMs, 5000, 'timeoutMs')
  const maxQueue = countOption(options.maxQueue, 1000, 1, 1_000_000, 'maxQueue')
  const retries = countOption(options.retries, 2, 0, 4, 'retries')
  const doFetch = options.fetch ?? ((input: string, init: RequestInit) => fetch(input, init))
  const base = serviceBase(options.url)
  const onError = options.onError ?? (() => {})
  const queue: Record<string, unknown>[] = []
  let running: Promise<void> | undefined

  const drain = async (): Promise<void> => {
    for (let body = queue.shift(); body !== undefined; body = queue.shift()) {
      try {
        await postJson(`${base}/v1/audit/decisions`, body, {
          fetch: doFetch,
          sign: (request) => signRequest(request, options.key),
          // The service answers a repeated report with its first record: retrying is safe.
          retries,
          timeoutMs,
          code: 'ERR_AUDIT_UNAVAILABLE',
          what: 'audit trail',
          hint: 'the decision stands; its report is missing from the service’s audit trail',
        })
      } catch (e) {
        onError(e instanceof MandateError ? e : new MandateError('ERR_AUDIT_UNAVAILABLE', 'the audit trail failed', { cause: e }))
      }
    }
  }

  return {
    report(decision, presented) {
      if (decision.audit.presentation !== 'invocation') return
      const given = presented.invocation
      const invocation = typeof given === 'string' || given instanceof Uint8Array ? parseInvocation(given) : given
      // The approvals that counted (the verifier checked that they name this invocation), one per approver.
      // Stryker disable next-line ArrayDeclaration: equivalent — no approver's did:key is a stray string: nothing more would count
      const counted = new Set(decision.allowed ? decision.approvals : [])
      const seen = new Set<string>()
      const approvals: string[] = []
      // Stryker disable next-line ArrayDeclaration: equivalent — a stray string does not parse as an approval, and is skipped as one that did not count
      for (const given of counted.size === 0 ? [] : (presented.approvals ?? [])) {
        let a: UnverifiedApproval
        try {
          a = typeof given === 'string' || given instanceof Uint8Array ? parseApproval(given) : given
        } catch {
          continue // one the verifier could not read either: it did not count
        }
        const did = toDidKey(a.approver)
        if (!counted.has(did) || seen.has(did)) continue
        seen.add(did)
        approvals.push(formatApproval(a))
      }
      const body = {
        invocation: formatInvocation(invocation),
        decision: decision.allowed ? 'allow' : 'deny',
        ...(decision.allowed ? {} : { code: decision.code }),
        // The amendment whose caveat denied, so that the record names it.
        ...(decision.allowed || decision.amendment === undefined ? {} : { amendment: decision.amendment.id }),
        decidedAt: decision.audit.at,
        // Stryker disable next-line ConditionalExpression: equivalent — to the service an empty list and none say the same (spec/service-v1.md §8.2)
        ...(approvals.length === 0 ? {} : { approvals }),
      }
      if (queue.length >= maxQueue) {
        onError(new MandateError('ERR_AUDIT_UNAVAILABLE', `the report queue is full (${maxQueue}): a decision's report was dropped`))
        return
      }
      queue.push(body)
      running ??= drain().finally(() => {
        running = undefined
      })
    },
    async flush() {
      while (running) await running
    },
  }
}
