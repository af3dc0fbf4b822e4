/**
 * The tool guard: a mandate in front of an MCP server's tools. For each tool call it signs an
 * invocation of the tool's action with the call's arguments (as the mandate's holder), has the
 * verifier decide it, and — when the answer is "approval required" and a service is configured —
 * files the invocation in the approval inbox, waits up to the configured time, and presents the
 * same invocation again with the approvals. Every call leaves one audit record.
 *
 * It never throws for a call: whatever goes wrong (arguments a mandate cannot carry, an
 * unmapped tool, an unreachable inbox, a failing audit sink) is a denial with a stable code.
 *
 * @module
 */
import type { Args } from '../caveats/types.js'
import { assertKeyPair, type KeyPair, keyPairFromSecret, toDidKey } from '../crypto/keys.js'
import { type ErrorDetails, MandateError, type MandateErrorCode } from '../errors.js'
import {
  type ApprovalRequestState,
  awaitApproval,
  checkInboxOptions,
  fileApprovalRequest,
  type InboxOptions,
  readApprovalRequest,
} from '../inbox/client.js'
import { toHex } from '../internal/bytes.js'
import { type Clock, systemClock } from '../internal/clock.js'
import { checkMandateProof } from '../token/integrity.js'
import { formatInvocation, invoke, type UnverifiedInvocation } from '../token/invocation.js'
import { parseMandate, type UnverifiedMandate } from '../token/mandate.js'
import type { Allowed, Decision, Denied } from '../verify/decision.js'
import type { DecisionReporter } from '../verify/report.js'
import { createVerifier, type Verifier, type VerifierOptions } from '../verify/verifier.js'
import { canEverAllow, checkActionPrefix, defaultActionPrefix, type ToolActions, toolAction } from './actions.js'
import { toolArguments } from './arguments.js'
import { type AuditParty, argsDigest, type ToolAuditRecord, type ToolAuditSink } from './audit.js'
import { createRecorder, type DenialFields } from './record.js'

/**
 * Options of {@link createToolGuard}.
 *
 * @example
 * ```ts
 * const options: ToolGuardOptions = {
 *   mandate: 'mnd1_…', // the agent's mandate
 *   key: assistant, // its holder's key
 *   verifier: { roots: [{ name: 'alice', key: toDidKey(alice.publicKey) }], audience: 'github', revocations: 'none' },
 *   service: { url: 'http://127.0.0.1:8787' },
 *   approvalWaitMs: 60_000,
 * }
 * ```
 */
export interface ToolGuardOptions {
  /** The agent's mandate (text or parsed). A sealed mandate cannot sign invocations and is refused. */
  readonly mandate: string | UnverifiedMandate
  /** The key of the mandate's last holder; required when it is bound (a bearer mandate carries its own). */
  readonly key?: KeyPair
  /** A verifier, or the options to create one; its `audience` is the guarded server's name. */
  readonly verifier: Verifier | VerifierOptions
  /** The actions' common prefix: one or more action segments (default `mcp:<server>`, from the audience). */
  readonly actionPrefix?: string
  /** Tool → action overrides (a record, or a function; see {@link ToolActions}). */
  readonly actions?: ToolActions
  /** The resource of a call, if tools act on one (default: none). A resource must be a valid one (spec §6.1). */
  readonly resource?: (tool: string, args: Args) => string | undefined
  /** The service whose approval inbox an invocation needing approval is filed in. Without it, such calls are denied. */
  readonly service?: InboxOptions
  /** How long a call waits for its approvers after filing (ms; default 0: deny at once with the request id). */
  readonly approvalWaitMs?: number
  /** Where each call's audit record goes (default: nowhere). A sink that throws denies the call. */
  readonly audit?: ToolAuditSink
  /**
   * Sends each of the verifier's decisions, with its invocation and approvals, to the service's
   * audit trail (`createDecisionReporter`, spec/service-v1.md §8.2); it never delays or changes one.
   */
  readonly reporter?: DecisionReporter
  /** The clock invocations are dated by (Unix seconds; default the system's). Give the verifier the same one. */
  readonly clock?: Clock
}

/**
 * Who must approve a call, as far as is known, and the inbox request when one was filed.
 *
 * @example
 * ```ts
 * const guard = createToolGuard({ mandate: grant, key: assistant, verifier, service: { url } })
 * const outcome = await guard.authorizeCall('send_email', { to: 'bob@example.com' })
 * if (!outcome.allowed && outcome.approval) console.log(outcome.approval.requestId, outcome.approval.missing)
 * ```
 */
export interface ApprovalStatus {
  /** The inbox request (the invocation's id), when it was filed. */
  readonly requestId?: string
  /** Approvers (did:key) who have not approved yet. */
  readonly missing: readonly string[]
  /** Approvals the first unmet caveat asks for, and valid ones given. */
  readonly quorum: number
  readonly given: number
}

/**
 * A call the mandate allows: forward it as it was checked.
 *
 * @example
 * ```ts
 * const outcome = await createToolGuard({ mandate: grant, key: assistant, verifier }).authorizeCall('echo', { message: 'hi' })
 * if (outcome.allowed) console.log(outcome.decision.chain.map((l) => l.name ?? l.key).join(' → ')) // 'alice → assistant'
 * ```
 */
export interface ToolCallAllowed {
  readonly allowed: true
  readonly tool: string
  readonly action: string
  readonly resource?: string
  readonly invocationId: string
  /**
   * The invocation that was decided, as text (`mni1_…`): the one the guard signed, or the one the
   * call presented (`createToolVerifier`). A proxy forwards it in `_meta["dev.mandate/invocation"]`.
   */
  readonly invocation: string
  /** The approvals (`mna1_…`) it was decided with, when there were any. */
  readonly approvals?: readonly string[]
  /** The inbox request that was approved, when the call needed an approval. */
  readonly approvalRequestId?: string
  /** The verifier's decision: the accountability chain, the matched rights, the uses left. */
  readonly decision: Allowed
  readonly audit: ToolAuditRecord
}

/**
 * A call the mandate does not allow (or that could not be decided): what, why, and what to do.
 *
 * @example
 * ```ts
 * const outcome = await createToolGuard({ mandate: grant, key: assistant, verifier }).authorizeCall('get-env', {})
 * if (!outcome.allowed) console.log(outcome.code, outcome.message, outcome.hint ?? '') // 'ERR_ACTION_DENIED', …
 * ```
 */
export interface ToolCallDenied {
  readonly allowed: false
  readonly tool: string
  /** Absent when the tool maps to no action. */
  readonly action?: string
  readonly code: MandateErrorCode
  readonly message: string
  readonly hint?: string
  /** The verifier's typed details for its code (when a quota resets, who revoked…). */
  readonly details?: ErrorDetails
  /**
   * For `ERR_APPROVAL_REQUIRED` and `ERR_APPROVAL_UNAVAILABLE`: who must approve, and the request;
   * for `ERR_APPROVAL_DENIED`: the request that was denied (who denied it and why: `details`).
   */
  readonly approval?: ApprovalStatus
  readonly invocationId?: string
  /** The verifier's decision, when it decided. */
  readonly decision?: Denied
  readonly audit: ToolAuditRecord
}

/**
 * What {@link ToolGuard.authorizeCall} answers.
 *
 * @example
 * ```ts
 * const guard = createToolGuard({ mandate: grant, key: assistant, verifier })
 * const outcome: ToolCallOutcome = await guard.authorizeCall('echo', { message: 'hi' })
 * ```
 */
export type ToolCallOutcome = ToolCallAllowed | ToolCallDenied

/**
 * Options of one {@link ToolGuard.authorizeCall}.
 *
 * @example
 * ```ts
 * const guard = createToolGuard({ mandate: grant, key: assistant, verifier, service: { url }, approvalWaitMs: 60_000 })
 * const call: CallOptions = { signal: AbortSignal.timeout(90_000), onWaiting: (id) => console.error(`waiting for approval ${id}`) }
 * await guard.authorizeCall('send_email', { to: 'bob@example.com' }, call)
 * ```
 */
export interface CallOptions {
  /** Ends a wait for approval (the call is then denied, `ERR_APPROVAL_REQUIRED`, with its request id). */
  readonly signal?: AbortSignal
  /** Called when the call starts waiting for its approvers, with the inbox request id. */
  readonly onWaiting?: (requestId: string) => void
}

/**
 * A mandate in front of one MCP server's tools.
 *
 * @example
 * ```ts
 * const guard = createToolGuard({ mandate: grant, key: assistant, verifier })
 * const visible = guard.filterTools([{ name: 'echo' }, { name: 'get-env' }]) // those the mandate can ever allow
 * const outcome = await guard.authorizeCall('echo', { message: 'hi' })
 * ```
 */
export interface ToolGuard {
  /** The guarded server's name: the verifier's audience, which invocations address. */
  readonly audience: string
  /** The action prefix in use. */
  readonly actionPrefix: string
  /** The action of a tool, or `undefined` when it has none (such a tool is hidden and denied). */
  actionOf(tool: string): string | undefined
  /** Whether the mandate can ever allow this tool (its action is allowed by every block's `actions`, denied by no `deny`). */
  canEverAllow(tool: string): boolean
  /** The tools (of a `tools/list` answer) the mandate can ever allow, in their order. */
  filterTools<T extends { readonly name: string }>(tools: readonly T[]): T[]
  /** Decide one tool call with these arguments; never throws. */
  authorizeCall(tool: string, args: unknown, options?: CallOptions): Promise<ToolCallOutcome>
}

/** A filed invocation waiting for its approvers, presented again by an identical call. */
interface Pending {
  readonly invocation: UnverifiedInvocation
  readonly requestId: string
  readonly expiresAt: number
}

/** Filed invocations remembered at once: enough for an agent's open questions, bounded against a flood. */
const MAX_PENDING = 64
/** The longest wait a timer can hold. */
const MAX_WAIT_MS = 2_147_483_647

function isVerifier(v: Verifier | VerifierOptions): v is Verifier {
  return typeof (v as Verifier).authorize === 'function'
}

/** The key that signs invocations and reads the inbox, checked against the mandate's last holder. */
function holderKey(mandate: UnverifiedMandate, key: KeyPair | undefined): KeyPair {
  const last = mandate.blocks[mandate.blocks.length - 1]
  if (!last) throw new TypeError('"mandate" has no blocks')
  if (mandate.proof.kind === 'sealed') {
    throw new MandateError('ERR_SEALED', 'a sealed mandate cannot sign invocations, so it cannot guard tool calls', {
      hint: 'give the guard the unsealed mandate and its holder key',
    })
  }
  const pair = mandate.proof.kind === 'bearer' ? keyPairFromSecret(mandate.proof.secret) : key
  if (pair === undefined) {
    throw new MandateError('ERR_HOLDER_MISMATCH', 'this mandate is bound: the guard needs its holder key to sign invocations', {
      hint: `pass the key of ${toDidKey(last.holder)}`,
    })
  }
  if (key !== undefined && toHex(key.publicKey) !== toHex(last.holder)) {
    throw new MandateError('ERR_HOLDER_MISMATCH', "the key given is not the mandate's holder", {
      hint: `the mandate's last block names ${toDidKey(last.holder)}`,
    })
  }
  // A bearer secret of another holder (blocks cut off the end, an altered chain): the verifier's own check.
  if (mandate.proof.kind === 'bearer') checkMandateProof(mandate.blocks, mandate.proof)
  // The holder's public key with another secret would sign invocations no verifier accepts.
  if (key !== undefined) assertKeyPair(key, "the holder's key pair")
  return pair
}

/** Principal → holders, from the mandate itself (for denials decided before the chain was read). */
function partiesOf(mandate: UnverifiedMandate): AuditParty[] {
  const principal = mandate.blocks[0]?.principal
  return [
    ...(principal ? [{ role: 'principal' as const, key: toDidKey(principal) }] : []),
    ...mandate.blocks.map((b) => ({ role: 'holder' as const, key: toDidKey(b.holder), ...(b.name === undefined ? {} : { name: b.name }) })),
  ]
}

/**
 * Create a guard for one MCP server's tools. Throws when the setup cannot work: a mandate that
 * does not parse, a sealed one, a missing or wrong holder key (`ERR_HOLDER_MISMATCH`), a bearer
 * secret that is not its last holder's (`ERR_PROOF`), a bad action prefix or wait, or a
 * `service` whose URL or timeout the inbox would refuse.
 *
 * @example
 * ```ts
 * import { createMemoryRevocationView, toDidKey } from 'mandate'
 * import { createToolGuard } from 'mandate/mcp'
 * const guard = createToolGuard({
 *   mandate: grant, // actions mcp:everything:echo, …
 *   key: assistant,
 *   verifier: { roots: [{ name: 'alice', key: toDidKey(alice.publicKey) }], audience: 'everything', revocations: createMemoryRevocationView() },
 * })
 * const outcome = await guard.authorizeCall('echo', { message: 'hello' })
 * console.log(outcome.allowed ? outcome.action : `${outcome.code}: ${outcome.message}`) // 'mcp:everything:echo'
 * ```
 */
export function createToolGuard(options: ToolGuardOptions): ToolGuard {
  const mandate = typeof options.mandate === 'string' ? parseMandate(options.mandate) : options.mandate
  const key = holderKey(mandate, options.key)
  // What invoke is given to sign with: a bearer mandate's carried secret signs (checked above,
  // once); given the key too, invoke would derive its public key again at every call.
  const signer = mandate.proof.kind === 'bearer' ? {} : { key }
  const verifier = isVerifier(options.verifier) ? options.verifier : createVerifier(options.verifier)
  const audience = verifier.audience
  /** The verifier's decision, reported to the audit trail when a reporter is set. */
  const decide = async (invocation: UnverifiedInvocation, approvals?: readonly string[]): Promise<Decision> => {
    const decision = await verifier.authorize({ invocation, ...(approvals ? { approvals } : {}) })
    try {
      options.reporter?.report(decision, { invocation, ...(approvals ? { approvals } : {}) })
    } catch {
      // A report never changes a decision (as in createToolVerifier): a reporter that throws
      // (a custom one; the library's queues) leaves the call as the verifier decided it.
    }
    return decision
  }
  const actionPrefix = options.actionPrefix === undefined ? defaultActionPrefix(audience) : checkActionPrefix(options.actionPrefix)
  const waitMs = options.approvalWaitMs ?? 0
  if (typeof waitMs !== 'number' || !(waitMs >= 0) || waitMs > MAX_WAIT_MS) {
    throw new RangeError(`"approvalWaitMs" expected milliseconds from 0 to ${MAX_WAIT_MS}, got ${String(waitMs)}`)
  }
  const service = options.service
  // Refused now rather than at the first call that needs an approval.
  if (service !== undefined) checkInboxOptions(service, 'service')
  const clock = options.clock ?? systemClock
  const pending = new Map<string, Pending>()
  const actionOf = (tool: string) => toolAction(tool, actionPrefix, options.actions)
  const canAllow = (tool: string) => {
    const action = actionOf(tool)
    return action !== undefined && canEverAllow(mandate, action, audience, options.resource !== undefined)
  }

  const recorder = createRecorder(audience, options.audit)
  const parties = partiesOf(mandate)
  const deny = (tool: string, at: number, digest: string | undefined, d: DenialFields): ToolCallDenied =>
    recorder.deny(tool, at, digest, d, parties)

  const fromDecision = (d: Denied, action: string, inv: UnverifiedInvocation, requestId: string | undefined): DenialFields => {
    const approval: ApprovalStatus | undefined =
      d.code === 'ERR_APPROVAL_REQUIRED'
        ? {
            ...(requestId === undefined ? {} : { requestId }),
            missing: d.details.missing,
            quorum: d.details.quorum,
            given: d.details.given,
          }
        : undefined
    return {
      action,
      code: d.code,
      message: d.message,
      ...optional('hint', approvalHint(d, requestId, service !== undefined) ?? d.hint),
      ...(d.details === undefined ? {} : { details: d.details }),
      ...(approval ? { approval } : {}),
      invocationId: inv.idHex,
      decision: d,
    }
  }

  /** Remember a filed invocation; the oldest goes first when too many wait. */
  const remember = (k: string, p: Pending): void => {
    pending.delete(k)
    pending.set(k, p)
    while (pending.size > MAX_PENDING) pending.delete(pending.keys().next().value as string)
  }

  async function authorizeCall(tool: string, rawArgs: unknown, call: CallOptions = {}): Promise<ToolCallOutcome> {
    const at = clock()
    const name = typeof tool === 'string' ? tool : String(tool)
    const action = actionOf(name)
    if (action === undefined) {
      return deny(name, at, undefined, {
        code: 'ERR_REQUEST_INVALID',
        message: `the tool ${JSON.stringify(name.slice(0, 128))} has no action: its name is not one action segment (a-z 0-9 _ . -), and no mapping names it`,
        hint: 'map the tool to an action (mandate mcp --map TOOL=ACTION, or the guard option "actions")',
      })
    }
    const parsed = toolArguments(rawArgs)
    if (parsed.problem) {
      return deny(name, at, undefined, { action, code: 'ERR_REQUEST_INVALID', message: parsed.problem.message, hint: parsed.problem.hint })
    }
    const { args } = parsed
    const digest = argsDigest(args)
    let resource: string | undefined
    try {
      resource = options.resource?.(name, args)
    } catch (e) {
      return deny(name, at, digest, {
        action,
        code: 'ERR_INTERNAL',
        message: `the resource mapping failed (${e instanceof Error ? e.message.slice(0, 200) : 'failed'})`,
      })
    }
    // One identical call (same action, resource and arguments) presents a filed invocation again.
    const same = `${action}\u0000${resource ?? ''}\u0000${digest}`
    let waiting = pending.get(same)
    if (waiting && waiting.expiresAt <= at) {
      pending.delete(same)
      waiting = undefined
    }
    let inv: UnverifiedInvocation
    if (waiting) inv = waiting.invocation
    else {
      try {
        inv = invoke(mandate, { ...signer, action, audience, args, now: at, ...(resource === undefined ? {} : { resource }) })
      } catch (e) {
        return deny(name, at, digest, {
          action,
          code: e instanceof MandateError ? 'ERR_REQUEST_INVALID' : 'ERR_INTERNAL',
          message: `no invocation can carry this call: ${e instanceof Error ? e.message.slice(0, 300) : 'failed'}`,
          hint: 'send smaller arguments (an invocation is at most 16 KiB), or a valid resource',
        })
      }
    }
    let decision: Decision = await decide(inv)
    if (waiting && !decision.allowed && decision.code === 'ERR_PROOF') {
      // Too old to present again (the verifier's max age): ask anew with a fresh invocation.
      pending.delete(same)
      waiting = undefined
      inv = invoke(mandate, { ...signer, action, audience, args, now: at, ...(resource === undefined ? {} : { resource }) })
      decision = await decide(inv)
    }
    let requestId = waiting?.requestId
    let approvals: string[] = []
    if (!decision.allowed && decision.code === 'ERR_APPROVAL_REQUIRED' && service) {
      const required = decision
      try {
        let state: ApprovalRequestState
        if (waiting) {
          // Looked at first without waiting: the long poll of an older service answers only when
          // a *new* approval arrives, so a request approved before this call would hold it for a
          // whole poll.
          state = await readApprovalRequest(waiting.requestId, key, { ...service, ...(call.signal ? { signal: call.signal } : {}) })
          if (state.status === 'pending' && waitMs > 0) state = await waitFor(waiting.requestId)
        } else {
          state = await fileApprovalRequest(formatInvocation(inv), service)
          requestId = state.id
          remember(same, { invocation: inv, requestId: state.id, expiresAt: state.expiresAt })
          if (state.status === 'pending' && waitMs > 0) state = await waitFor(state.id)
        }
        // The inbox client reads a denial with its status only, and its status only with it.
        if (state.denial) {
          // Closed for good: this invocation will never be approved. Forgotten, so that the same
          // call again asks anew, with a fresh invocation.
          pending.delete(same)
          const { approval: _approval, ...asked } = fromDecision(required, action, inv, state.id)
          return deny(name, at, digest, {
            ...asked,
            code: 'ERR_APPROVAL_DENIED',
            message: `${state.denial.by} denied the approval request ${state.id} for this call`,
            hint: 'the approver refused this call (their reason is in "denial"): do not retry it as is; calling the tool again asks them anew',
            details: state.denial,
            approval: {
              requestId: state.id,
              missing: required.details.missing,
              quorum: required.details.quorum,
              given: required.details.given,
            },
          })
        }
        if (state.status === 'approved') {
          approvals = Object.values(state.approvals)
          decision = await decide(inv, approvals)
        }
      } catch (e) {
        if (call.signal?.aborted) {
          return deny(name, at, digest, {
            ...fromDecision(required, action, inv, requestId),
            message: `${required.message}; the call was cancelled while waiting for approval`,
          })
        }
        pending.delete(same)
        const unavailable = e instanceof MandateError && e.code === 'ERR_APPROVAL_UNAVAILABLE'
        return deny(name, at, digest, {
          ...fromDecision(required, action, inv, requestId),
          code: unavailable ? 'ERR_APPROVAL_UNAVAILABLE' : 'ERR_INTERNAL',
          message: e instanceof Error ? e.message.slice(0, 400) : 'the approval inbox failed',
          hint: `${unavailable ? ((e as MandateError).hint ?? '') : 'a bug while asking for approval'}; the call needs approval from ${required.details.missing.join(', ')}`,
        })
      }
    }
    if (decision.allowed) {
      pending.delete(same)
      return recorder.allow(
        {
          tool: name,
          action,
          ...(resource === undefined ? {} : { resource }),
          invocationId: inv.idHex,
          invocation: formatInvocation(inv),
          ...(approvals.length === 0 ? {} : { approvals }),
          ...(requestId === undefined ? {} : { approvalRequestId: requestId }),
          decision,
        },
        at,
        digest,
      )
    }
    // Kept only while approvers may still answer; any other answer is final for this invocation.
    if (decision.code !== 'ERR_APPROVAL_REQUIRED') pending.delete(same)
    return deny(name, at, digest, fromDecision(decision, action, inv, requestId))

    function waitFor(id: string): Promise<ApprovalRequestState> {
      call.onWaiting?.(id)
      return awaitApproval(id, key, { ...(service as InboxOptions), withinMs: waitMs, ...(call.signal ? { signal: call.signal } : {}) })
    }
  }

  return {
    audience,
    actionPrefix,
    actionOf,
    canEverAllow: canAllow,
    filterTools: (tools) => tools.filter((t) => canAllow(t.name)),
    authorizeCall: async (tool, args, call) => {
      try {
        return await authorizeCall(tool, args, call)
      } catch (e) {
        // A bug or a failing dependency: denied, never thrown at the caller's protocol loop.
        return deny(String(tool), clock(), undefined, {
          code: 'ERR_INTERNAL',
          message: `the guard failed: ${e instanceof Error ? e.message.slice(0, 300) : 'failed'}`,
        })
      }
    },
  }
}

/** `{ [name]: value }`, or nothing when the value is absent (exact optional properties). */
function optional<K extends string, V>(name: K, value: V | undefined): { [P in K]?: V } {
  return (value === undefined ? {} : { [name]: value }) as { [P in K]?: V }
}

/** What the agent can do about a required approval: who approves, where the request is, how to retry. */
function approvalHint(d: Denied, requestId: string | undefined, withInbox: boolean): string | undefined {
  if (d.code !== 'ERR_APPROVAL_REQUIRED') return undefined
  const who = d.details.missing.join(', ')
  if (requestId !== undefined) {
    return `asked ${who} to approve it (approval request ${requestId}); once approved, call the tool again with exactly the same arguments`
  }
  if (!withInbox) return `needs approval from ${who}; this guard has no approval inbox (service) to ask them through`
  return d.hint
}
