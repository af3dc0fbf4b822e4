/**
 * How a tool call carries its invocation (spec/mcp-v1.md §2): two keys of the `tools/call`
 * request's `params._meta`, `dev.mandate/invocation` (the invocation's text, `mni1_…`) and
 * `dev.mandate/approvals` (a list of approvals' texts, `mna1_…`). The agent side signs them
 * ({@link invocationMeta}); the server side reads them ({@link readToolCallMeta}).
 *
 * @module
 */
import { fail } from '../errors.js'
import { formatInvocation, invoke } from '../token/invocation.js'
import { type KeyInput, parseMandate, type UnverifiedMandate } from '../token/mandate.js'
import { defaultActionPrefix, type ToolActions, toolAction } from './actions.js'
import { toolArguments } from './arguments.js'

/**
 * The `_meta` key of a tool call's invocation: its text form (`mni1_…`), a string.
 *
 * @example
 * ```ts
 * const meta = { [META_INVOCATION]: 'mni1_…' } // { 'dev.mandate/invocation': 'mni1_…' }
 * ```
 */
export const META_INVOCATION = 'dev.mandate/invocation'

/**
 * The `_meta` key of a tool call's approvals: a list of approvals' text forms (`mna1_…`), at most 16.
 *
 * @example
 * ```ts
 * const meta = { [META_INVOCATION]: 'mni1_…', [META_APPROVALS]: ['mna1_…'] }
 * ```
 */
export const META_APPROVALS = 'dev.mandate/approvals'

/**
 * The `_meta` of a tool call that carries an invocation (and approvals, when it has any). Pass
 * it as `_meta` of the SDK client's `callTool`; other `_meta` entries may stand beside it.
 *
 * @example
 * ```ts
 * const meta: ToolCallMeta = { 'dev.mandate/invocation': 'mni1_…', 'dev.mandate/approvals': ['mna1_…'] }
 * ```
 */
export type ToolCallMeta = {
  'dev.mandate/invocation': string
  'dev.mandate/approvals'?: string[]
}

/**
 * Options of {@link invocationMeta}. The server's name, action mapping and resource must be
 * the ones the server verifies with (spec/mcp-v1.md §3), or the invocation signs another request.
 *
 * @example
 * ```ts
 * const options: InvocationMetaOptions = { key: assistant, audience: 'mail', intent: 'tell Bob the meeting moved' }
 * ```
 */
export interface InvocationMetaOptions {
  /** The key of the mandate's last holder; required when it is bound (a bearer mandate carries its own). */
  readonly key?: KeyInput
  /** The server's name: its verifier's audience. */
  readonly audience: string
  /** The actions' common prefix, as the server has it (default `mcp:<server>`, from the audience). */
  readonly actionPrefix?: string
  /** Tool → action overrides, as the server has them (see {@link ToolActions}). */
  readonly actions?: ToolActions
  /** The resource the server computes for this call, if its tools act on one. */
  readonly resource?: string
  /** Why the agent does this, in its own words; shown to approvers and in audit records. */
  readonly intent?: string
  /** Unix seconds the invocation is dated by (default now). */
  readonly now?: number
}

/**
 * Sign an invocation of the tool call `call` (its `name` and `arguments`, exactly as they will
 * be sent) as the mandate's holder, addressed to the server, and answer the `_meta` that
 * carries it. Throws `ERR_REQUEST_INVALID` when the tool has no action or the arguments are
 * not ones a mandate can carry (spec §5.6), and what `invoke` throws (`ERR_HOLDER_MISMATCH` for another key than the holder's, `ERR_SEALED`…).
 *
 * Approvals name an invocation's id, so they come after it: when a call is denied
 * `ERR_APPROVAL_REQUIRED`, send the same call with the same invocation again, and the
 * approvals beside it: `{ ...meta, 'dev.mandate/approvals': ['mna1_…'] }`.
 *
 * @example
 * ```ts
 * import { Client } from '@modelcontextprotocol/sdk/client/index.js'
 * import { invocationMeta } from 'mandate/mcp'
 *
 * declare const client: Client // connected to the "mail" server
 * const call = { name: 'send_email', arguments: { to: 'bob@example.com', body: 'hi' } }
 * const result = await client.callTool({ ...call, _meta: invocationMeta(grant, call, { key: assistant, audience: 'mail' }) })
 * ```
 */
export function invocationMeta(
  mandate: string | UnverifiedMandate,
  call: { readonly name: string; readonly arguments?: unknown },
  options: InvocationMetaOptions,
): ToolCallMeta {
  const parsed = typeof mandate === 'string' ? parseMandate(mandate) : mandate
  if (call === null || typeof call !== 'object' || typeof call.name !== 'string') throw new TypeError('"call" expected { name, arguments }')
  if (options === null || typeof options !== 'object') throw new TypeError('"options" expected { audience, key? }')
  if (typeof options.audience !== 'string' || options.audience === '') throw new TypeError('"audience" expected the server\'s name')
  const prefix = options.actionPrefix ?? defaultActionPrefix(options.audience)
  const action = toolAction(call.name, prefix, options.actions)
  if (action === undefined) {
    fail('ERR_REQUEST_INVALID', `the tool ${JSON.stringify(call.name.slice(0, 128))} has no action`, {
      hint: 'give the mapping the server uses ("actions" or "actionPrefix")',
    })
  }
  const args = toolArguments(call.arguments)
  if (args.problem) fail('ERR_REQUEST_INVALID', args.problem.message, { hint: args.problem.hint })
  const invocation = invoke(parsed, {
    action,
    audience: options.audience,
    args: args.args,
    ...(options.key === undefined ? {} : { key: options.key }),
    ...(options.resource === undefined ? {} : { resource: options.resource }),
    ...(options.intent === undefined ? {} : { intent: options.intent }),
    ...(options.now === undefined ? {} : { now: options.now }),
  })
  return { [META_INVOCATION]: formatInvocation(invocation) }
}

/** What a call's `_meta` presents: the invocation and approvals, or why they cannot be read. */
export type PresentedMeta =
  | { readonly invocation: string; readonly approvals: readonly string[]; readonly problem?: undefined }
  | { readonly problem: { readonly code: 'ERR_PROOF' | 'ERR_TEXT_FORMAT'; readonly message: string; readonly hint: string } }

/** Approvals read at most; more are handed to the verifier uncounted, which refuses them unread (`ERR_LIMIT_COUNT`). */
const MAX_APPROVALS = 16

/**
 * Read the invocation and approvals of a tool call's `_meta` (spec/mcp-v1.md §2). No
 * invocation is `ERR_PROOF`; one that is not a string, or approvals that are not a list of
 * strings, `ERR_TEXT_FORMAT`. The texts themselves are left to the verifier.
 */
export function readToolCallMeta(meta: unknown): PresentedMeta {
  const record = meta !== null && typeof meta === 'object' && !Array.isArray(meta) ? (meta as Record<string, unknown>) : {}
  const invocation = Object.hasOwn(record, META_INVOCATION) ? record[META_INVOCATION] : undefined
  if (invocation === undefined) {
    return {
      problem: {
        code: 'ERR_PROOF',
        message: `this tool takes an invocation: the call carries none in _meta["${META_INVOCATION}"]`,
        hint: `sign an invocation of this call (its tool and exact arguments, addressed to this server) and send its text (mni1_…) in _meta["${META_INVOCATION}"]`,
      },
    }
  }
  if (typeof invocation !== 'string') {
    return {
      problem: {
        code: 'ERR_TEXT_FORMAT',
        message: `_meta["${META_INVOCATION}"] is not a string`,
        hint: "send the invocation's text form (mni1_…)",
      },
    }
  }
  const approvals = Object.hasOwn(record, META_APPROVALS) ? record[META_APPROVALS] : undefined
  if (approvals === undefined) return { invocation, approvals: [] }
  if (!Array.isArray(approvals) || (approvals.length <= MAX_APPROVALS && !approvals.every((a) => typeof a === 'string'))) {
    return {
      problem: {
        code: 'ERR_TEXT_FORMAT',
        message: `_meta["${META_APPROVALS}"] is not a list of strings`,
        hint: "send the approvals' text forms (mna1_…) as a list",
      },
    }
  }
  return { invocation, approvals: approvals as string[] }
}
