/**
 * A mandate in front of MCP tools: `import { guardTool, invocationMeta } from 'mandate/mcp'`.
 * Each tool call is an invocation of the action `mcp:<server>:<tool>` (configurable) with the
 * call's arguments, signed as the mandate's holder and decided by a verifier — actions,
 * arguments (`where`), time, uses, revocations and approvals. A denial is a tool error the
 * model can read; every call leaves an audit record.
 *
 * Who signs (spec/mcp-v1.md): the agent, which sends its invocation with the call in
 * `_meta["dev.mandate/invocation"]` ({@link invocationMeta}), checked by a server that holds
 * only a verifier ({@link guardTool} with a verifier, {@link createToolVerifier}); or a
 * {@link ToolGuard} holding the agent's mandate and key, in an agent framework hosting its own
 * tools or in `mandate mcp`, the proxy in front of any MCP server, where `tools/list` shows only
 * the tools the mandate can ever allow and forwarded calls carry the invocation it signed.
 *
 * Loads without `@modelcontextprotocol/sdk` (its handlers are wrapped by shape), and runs
 * wherever the main entry does; only {@link auditToFile} needs Node.js.
 *
 * @example
 * ```ts
 * import { createMemoryRevocationView, toDidKey } from 'mandate'
 * import { auditToFile, createToolGuard, denialResult } from 'mandate/mcp'
 *
 * const guard = createToolGuard({
 *   mandate: 'mnd1_…', // Alice → assistant: actions mcp:everything:echo, …
 *   key: assistant,
 *   verifier: { roots: [{ name: 'alice', key: toDidKey(alice.publicKey) }], audience: 'everything', revocations: createMemoryRevocationView() },
 *   audit: auditToFile('mcp-audit.jsonl'),
 * })
 * const outcome = await guard.authorizeCall('echo', { message: 'hello' })
 * const result = outcome.allowed ? 'forward the call' : denialResult(outcome)
 * ```
 *
 * @example
 * ```ts
 * import { Client } from '@modelcontextprotocol/sdk/client/index.js'
 * import { invocationMeta } from 'mandate/mcp'
 *
 * // The agent's side of a server that verifies (guardTool(verifier, …)): sign each call.
 * declare const client: Client // connected to the "everything" server
 * const call = { name: 'echo', arguments: { message: 'hello' } }
 * await client.callTool({ ...call, _meta: invocationMeta(grant, call, { key: assistant, audience: 'everything' }) })
 * ```
 *
 * @module mandate/mcp
 */
export { canEverAllow, defaultActionPrefix, serverSegment, type ToolActions, toolAction } from './mcp/actions.js'
export { type ArgumentProblem, toolArguments } from './mcp/arguments.js'
export { type AuditParty, argsDigest, auditLine, auditToFile, type ToolAuditRecord, type ToolAuditSink } from './mcp/audit.js'
export {
  type ApprovalStatus,
  type CallOptions,
  createToolGuard,
  type ToolCallAllowed,
  type ToolCallDenied,
  type ToolCallOutcome,
  type ToolGuard,
  type ToolGuardOptions,
} from './mcp/guard.js'
export {
  type InvocationMetaOptions,
  invocationMeta,
  META_APPROVALS,
  META_INVOCATION,
  type ToolCallMeta,
} from './mcp/meta.js'
export { denialDocument, denialResult, type ToolErrorResult } from './mcp/result.js'
export { createToolVerifier, type ToolVerifier, type ToolVerifierOptions } from './mcp/server.js'
export { guardTool, type ToolCheck } from './mcp/tool.js'
