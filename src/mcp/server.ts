/**
 * The server side of spec/mcp-v1.md: an MCP server that holds no agent's key checks the
 * invocation each tool call presents in its `_meta` with a verifier, against the call itself —
 * the tool's action, the resource, and exactly the arguments the tool runs with — before the
 * tool runs. Every call leaves one audit record; a denial is a tool error the model can read.
 *
 * It never throws for a call: whatever goes wrong is a denial with a stable code.
 *
 * @module
 */
import type { Args } from '../caveats/types.js'
import { systemClock } from '../internal/clock.js'
import type { Decision, Denied } from '../verify/decision.js'
import type { DecisionReporter } from '../verify/report.js'
import { createVerifier, type Verifier, type VerifierOptions } from '../verify/verifier.js'
import { checkActionPrefix, defaultActionPrefix, type ToolActions, toolAction } from './actions.js'
import { toolArguments } from './arguments.js'
import { argsDigest, type ToolAuditSink } from './audit.js'
import type { ApprovalStatus, ToolCallDenied, ToolCallOutcome } from './guard.js'
import { META_APPROVALS, readToolCallMeta } from './meta.js'
import { createRecorder, type DenialFields } from './record.js'

/**
 * Options of {@link createToolVerifier}: the verifier (its audience is the server's name), and
 * how tools become actions and resources — the same mapping the agents sign with.
 *
 * @example
 * ```ts
 * const options: ToolVerifierOptions = {
 *   verifier: { roots: [{ name: 'alice', key: toDidKey(alice.publicKey) }], audience: 'mail', revocations },
 *   actions: { sendEmail: 'mail:send' },
 *   audit: (record) => console.error(auditLine(record)),
 * }
 * ```
 */
export interface ToolVerifierOptions {
  /** A verifier, or the options to create one; its `audience` is this server's name. One verifier for all tools: its usage and replay stores are shared. */
  readonly verifier: Verifier | VerifierOptions
  /** The actions' common prefix: one or more action segments (default `mcp:<server>`, from the audience). */
  readonly actionPrefix?: string
  /** Tool → action overrides (a record, or a function; see {@link ToolActions}). */
  readonly actions?: ToolActions
  /** The resource of a call, if tools act on one (default: none). An invocation must sign the same one. */
  readonly resource?: (tool: string, args: Args) => string | undefined
  /** Where each call's audit record goes (default: nowhere). A sink that throws denies the call. */
  readonly audit?: ToolAuditSink
  /**
   * Sends each decision, with the invocation and approvals presented, to the service's audit
   * trail (`createDecisionReporter`, spec/service-v1.md §8.2); it never delays or changes one.
   */
  readonly reporter?: DecisionReporter
}

/**
 * The tools of one MCP server, checked against the invocations their calls present.
 *
 * @example
 * ```ts
 * const tools = createToolVerifier({ verifier })
 * const outcome = await tools.verifyCall('send_email', { to: 'bob@example.com' }, { 'dev.mandate/invocation': 'mni1_…' })
 * console.log(outcome.allowed ? outcome.decision.chain.map((l) => l.name ?? l.key).join(' → ') : outcome.code)
 * ```
 */
export interface ToolVerifier {
  /** This server's name: the verifier's audience, which invocations address. */
  readonly audience: string
  /** The action prefix in use. */
  readonly actionPrefix: string
  /** The action of a tool, or `undefined` when it has none (every call to it is denied). */
  actionOf(tool: string): string | undefined
  /**
   * Decide one call of `tool` with `args` (the arguments the tool runs with) and the call's
   * `_meta` (which carries the invocation and approvals); never throws.
   */
  verifyCall(tool: string, args: unknown, meta: unknown): Promise<ToolCallOutcome>
}

function isVerifier(v: Verifier | VerifierOptions): v is Verifier {
  return typeof (v as Verifier).authorize === 'function'
}

/**
 * Check tool calls that present invocations (spec/mcp-v1.md §4): the tool's action, the
 * resource and the arguments are this call's, and the verifier decides the invocation and the
 * approvals the call carries against them. Throws only when the setup cannot work (a bad
 * action prefix, bad verifier options).
 *
 * @example
 * ```ts
 * import { createMemoryRevocationView, toDidKey } from 'mandate'
 * import { createToolVerifier, denialResult } from 'mandate/mcp'
 *
 * const tools = createToolVerifier({
 *   verifier: { roots: [{ name: 'alice', key: toDidKey(alice.publicKey) }], audience: 'mail', revocations: createMemoryRevocationView() },
 * })
 * async function sendEmail(args: { to: string }, extra: { _meta?: Record<string, unknown> }) {
 *   const outcome = await tools.verifyCall('send_email', args, extra._meta)
 *   if (!outcome.allowed) return denialResult(outcome)
 *   return { content: [{ type: 'text' as const, text: `sent to ${args.to}` }] }
 * }
 * ```
 */
export function createToolVerifier(options: ToolVerifierOptions): ToolVerifier {
  if (options === null || typeof options !== 'object' || options.verifier === null || typeof options.verifier !== 'object') {
    throw new TypeError('"verifier" expected a verifier or its options')
  }
  const verifier = isVerifier(options.verifier) ? options.verifier : createVerifier(options.verifier)
  const audience = verifier.audience
  const actionPrefix = options.actionPrefix === undefined ? defaultActionPrefix(audience) : checkActionPrefix(options.actionPrefix)
  const actionOf = (tool: string) => toolAction(tool, actionPrefix, options.actions)

  const recorder = createRecorder(audience, options.audit)
  // A call denied before the verifier decided names no parties: the server read no chain.
  const deny = (tool: string, at: number, digest: string | undefined, d: DenialFields): ToolCallDenied =>
    recorder.deny(tool, at, digest, d, [])

  const fromDecision = (d: Denied, action: string): DenialFields => {
    let hint = d.hint
    let approval: ApprovalStatus | undefined
    if (d.code === 'ERR_APPROVAL_REQUIRED') {
      approval = { missing: d.details.missing, quorum: d.details.quorum, given: d.details.given }
      hint = `${d.hint ?? `needs approval from ${d.details.missing.join(', ')}`}; once approved, call again with the same invocation and arguments, and the approvals (mna1_…) in _meta["${META_APPROVALS}"]`
    }
    return {
      action,
      code: d.code,
      message: d.message,
      ...(hint === undefined ? {} : { hint }),
      ...(d.details === undefined ? {} : { details: d.details }),
      ...(approval ? { approval } : {}),
      ...(d.audit.invocationId === undefined ? {} : { invocationId: d.audit.invocationId }),
      decision: d,
    }
  }

  async function verifyCall(tool: string, rawArgs: unknown, meta: unknown): Promise<ToolCallOutcome> {
    const name = typeof tool === 'string' ? tool : String(tool)
    const action = actionOf(name)
    // 1. the tool's action
    if (action === undefined) {
      return deny(name, systemClock(), undefined, {
        code: 'ERR_REQUEST_INVALID',
        message: `the tool ${JSON.stringify(name.slice(0, 128))} has no action: its name is not one action segment (a-z 0-9 _ . -), and no mapping names it`,
        hint: 'the server maps the tool to an action (the option "actions")',
      })
    }
    // 2. the invocation and approvals the call presents
    const presented = readToolCallMeta(meta)
    if (presented.problem) return deny(name, systemClock(), undefined, { action, ...presented.problem })
    // 3. the arguments, as a mandate's arguments
    const parsed = toolArguments(rawArgs)
    if (parsed.problem) {
      return deny(name, systemClock(), undefined, {
        action,
        code: 'ERR_REQUEST_INVALID',
        message: parsed.problem.message,
        hint: parsed.problem.hint,
      })
    }
    const { args } = parsed
    const digest = argsDigest(args)
    // 4. the resource
    let resource: string | undefined
    try {
      resource = options.resource?.(name, args)
    } catch (e) {
      return deny(name, systemClock(), digest, {
        action,
        code: 'ERR_INTERNAL',
        message: `the resource mapping failed (${e instanceof Error ? e.message.slice(0, 200) : 'failed'})`,
      })
    }
    // 5. the verifier: the invocation must sign exactly this request (M§7 step 6)
    const decision: Decision = await verifier.authorize({
      invocation: presented.invocation,
      ...(presented.approvals.length === 0 ? {} : { approvals: presented.approvals }),
      request: { action, args, ...(resource === undefined ? {} : { resource }) },
    })
    try {
      options.reporter?.report(decision, { invocation: presented.invocation, approvals: presented.approvals })
    } catch {
      // A report cannot change a decision (an invocation the verifier refused may not parse).
    }
    if (!decision.allowed) return deny(name, decision.audit.at, digest, fromDecision(decision, action))
    return recorder.allow(
      {
        tool: name,
        action,
        ...(resource === undefined ? {} : { resource }),
        invocationId: decision.invocationId ?? decision.audit.invocationId ?? '',
        invocation: presented.invocation,
        ...(presented.approvals.length === 0 ? {} : { approvals: presented.approvals }),
        decision,
      },
      decision.audit.at,
      digest,
    )
  }

  return {
    audience,
    actionPrefix,
    actionOf,
    verifyCall: async (tool, args, meta) => {
      try {
        return await verifyCall(tool, args, meta)
      } catch (e) {
        // A bug or a failing dependency: denied, never thrown at the server's protocol loop.
        return deny(String(tool), systemClock(), undefined, {
          code: 'ERR_INTERNAL',
          message: `the tool verifier failed: ${e instanceof Error ? e.message.slice(0, 300) : 'failed'}`,
        })
      }
    },
  }
}
