/**
 * What a model sees when the guard denies a call: an MCP tool result with `isError: true`
 * whose one text block is a JSON document — the code, the message, what to do, who must
 * approve and the approval request id, who denied the approval and why, when a quota resets,
 * who revoked and why. JSON, so
 * that nothing a token or a service carries (names, reasons) can pass for the guard's own
 * words, and terminal-safe, so that no control or invisible character reaches a log raw.
 * Neither the token nor the call's arguments are ever in it.
 *
 * @module
 */
import type { ErrorDetails } from '../errors.js'
import { iso } from '../internal/clock.js'
import { safeJson } from '../internal/printable.js'
import type { ToolCallDenied } from './guard.js'

/**
 * An MCP tool result carrying an error (the shape of `CallToolResult` with `isError: true`).
 *
 * @example
 * ```ts
 * const outcome = await createToolGuard({ mandate: grant, key: assistant, verifier }).authorizeCall('get-env', {})
 * if (!outcome.allowed) {
 *   const result: ToolErrorResult = denialResult(outcome) // { content: [{ type: 'text', text: '{"denied":…}' }], isError: true }
 * }
 * ```
 */
export interface ToolErrorResult {
  // Mutable, like the SDK's CallToolResult: a guarded handler's result must be assignable to it.
  [key: string]: unknown
  content: { type: 'text'; text: string }[]
  isError: true
}

/**
 * The denial as the document the model reads (see the module comment), before it is written
 * as JSON text.
 *
 * @example
 * ```ts
 * const outcome = await createToolGuard({ mandate: grant, key: assistant, verifier, service: { url } }).authorizeCall('send_email', {})
 * if (!outcome.allowed) console.log(denialDocument(outcome)['hint']) // 'asked did:key:… to approve it (approval request …); …'
 * ```
 */
export function denialDocument(outcome: ToolCallDenied): Record<string, unknown> {
  const doc: Record<string, unknown> = {
    denied: "this tool call is not allowed by the agent's mandate (it was not run)",
    code: outcome.code,
    message: outcome.message,
    ...(outcome.hint === undefined ? {} : { hint: outcome.hint }),
    tool: outcome.tool,
    ...(outcome.action === undefined ? {} : { action: outcome.action }),
  }
  if (outcome.code === 'ERR_APPROVAL_DENIED' && outcome.details !== undefined) {
    const denial = outcome.details as ErrorDetails<'ERR_APPROVAL_DENIED'>
    doc['denial'] = {
      ...(outcome.approval?.requestId === undefined ? {} : { requestId: outcome.approval.requestId }),
      by: denial.by,
      reason: denial.reason,
      at: iso(denial.at),
    }
  } else if (outcome.approval) {
    doc['approval'] = {
      ...(outcome.approval.requestId === undefined ? {} : { requestId: outcome.approval.requestId }),
      waitingFor: outcome.approval.missing,
      quorum: outcome.approval.quorum,
      given: outcome.approval.given,
    }
  }
  const d = outcome.decision
  // An amendment added the caveat that denied: say who tightened the mandate, when and why.
  if (d?.amendment !== undefined) {
    doc['amendment'] = {
      id: d.amendment.id,
      ...(d.amendment.by === undefined ? {} : { by: d.amendment.by }),
      ...(d.amendment.at === undefined ? {} : { at: iso(d.amendment.at) }),
      ...(d.amendment.reason === undefined ? {} : { reason: d.amendment.reason }),
    }
  }
  if (d?.code === 'ERR_USAGE_EXHAUSTED') {
    doc['usage'] = {
      resetsAt: d.details.resetAt === undefined ? 'never: the quota is spent' : iso(d.details.resetAt),
      ...(d.details.max === undefined ? {} : { max: d.details.max }),
      ...(d.details.per === undefined ? {} : { perSeconds: d.details.per }),
    }
  }
  if (d?.code === 'ERR_REVOKED' || d?.code === 'ERR_SUSPENDED') {
    doc[d.code === 'ERR_REVOKED' ? 'revoked' : 'suspended'] = {
      ...(d.details.at === undefined ? {} : { at: iso(d.details.at) }),
      ...(d.details.by === undefined ? {} : { by: d.details.by }),
      ...(d.details.reason === undefined ? {} : { reason: d.details.reason }),
      ...(d.details.actions === undefined ? {} : { actions: d.details.actions }),
    }
  }
  return doc
}

/**
 * The MCP tool result of a denial: `isError: true` and one text block, the JSON of
 * {@link denialDocument} (terminal-safe).
 *
 * @example
 * ```ts
 * const guard = createToolGuard({ mandate: grant, key: assistant, verifier })
 * async function sendEmail(args: { to: string }) {
 *   const outcome = await guard.authorizeCall('send_email', args)
 *   if (!outcome.allowed) return denialResult(outcome) // the model reads why, and what to do
 *   return { content: [{ type: 'text' as const, text: `sent to ${args.to}` }] }
 * }
 * ```
 */
export function denialResult(outcome: ToolCallDenied): ToolErrorResult {
  return { content: [{ type: 'text', text: safeJson(denialDocument(outcome)) }], isError: true }
}
