/**
 * The library form: a tool handler of an MCP server written with the SDK
 * (`McpServer.registerTool(name, config, handler)`), wrapped so that it runs only when the
 * mandate allows the call. Two ways: a server that checks the invocation each call presents
 * in its `_meta` (a verifier: spec/mcp-v1.md), or an agent framework hosting its own tools that
 * signs each call itself (a {@link ToolGuard}, which holds the agent's mandate and key).
 * Written against the handler's shape, not the SDK's types, so that `mandate/mcp` loads
 * without the SDK.
 *
 * @module
 */
import type { Verifier } from '../verify/verifier.js'
import type { ToolCallOutcome, ToolGuard } from './guard.js'
import { denialResult, type ToolErrorResult } from './result.js'
import { createToolVerifier, type ToolVerifier } from './server.js'

/**
 * What decides a guarded tool's calls (see {@link guardTool}): a verifier or a tool verifier,
 * which check the invocation each call presents, or a tool guard, which signs each call itself.
 *
 * @example
 * ```ts
 * const byServer: ToolCheck = createToolVerifier({ verifier, actions: { sendEmail: 'mail:send' } })
 * const byAgent: ToolCheck = createToolGuard({ mandate: grant, key: assistant, verifier })
 * ```
 */
export type ToolCheck = ToolGuard | ToolVerifier | Verifier

function kindOf(check: ToolCheck): (name: string, args: unknown, extra: unknown) => Promise<ToolCallOutcome> {
  if (check !== null && typeof check === 'object') {
    if (typeof (check as ToolGuard).authorizeCall === 'function') {
      const guard = check as ToolGuard
      return (name, args, extra) => {
        // The SDK's request context carries the call's abort signal: a cancelled call stops waiting for approval.
        const signal = (extra as { signal?: unknown } | undefined)?.signal
        return guard.authorizeCall(name, args, signal instanceof AbortSignal ? { signal } : {})
      }
    }
    const tools =
      typeof (check as ToolVerifier).verifyCall === 'function'
        ? (check as ToolVerifier)
        : typeof (check as Verifier).authorize === 'function'
          ? createToolVerifier({ verifier: check as Verifier })
          : undefined
    if (tools) return (name, args, extra) => tools.verifyCall(name, args, (extra as { _meta?: unknown } | undefined)?._meta)
  }
  throw new TypeError('"check" expected a verifier, a tool verifier (createToolVerifier) or a tool guard (createToolGuard)')
}

/**
 * Wrap the handler of tool `name`: each call is decided with the arguments the handler would
 * receive (as the SDK parsed them against the tool's `inputSchema`: what the tool runs with);
 * an allowed call runs the handler, a denied one returns the denial as a tool error the model
 * can read ({@link denialResult}) and the handler never runs. Register the tool with an
 * `inputSchema` (`{}` for a tool without arguments), so that the SDK passes the arguments first.
 *
 * `check` is what decides:
 * - a `Verifier` (from `createVerifier`, its audience this server's name) or a {@link ToolVerifier}
 *   (`createToolVerifier`, for an action mapping, resources, an audit trail): the call must
 *   present an invocation of exactly this tool and these arguments in `_meta["dev.mandate/invocation"]`,
 *   and any approvals in `_meta["dev.mandate/approvals"]` (spec/mcp-v1.md). For a server that
 *   holds no agent's key. Give every tool the same verifier, so that they share its usage counters
 *   and replay store.
 * - a {@link ToolGuard} (`createToolGuard`): the guard signs each call with the agent's mandate
 *   and key, and `_meta` is not read. For an agent framework hosting its own tools.
 *
 * @example
 * ```ts
 * import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js'
 * import { z } from 'zod'
 * import { createMemoryRevocationView, createVerifier, toDidKey } from 'mandate'
 * import { guardTool } from 'mandate/mcp'
 *
 * // The mail server holds no agent's key: each call presents its invocation in _meta.
 * const verifier = createVerifier({
 *   roots: [{ name: 'alice', key: toDidKey(alice.publicKey) }],
 *   audience: 'mail', // actions mcp:mail:<tool>
 *   revocations: createMemoryRevocationView(),
 * })
 * const server = new McpServer({ name: 'mail', version: '1.0.0' })
 * server.registerTool(
 *   'send_email',
 *   { description: 'Send an email', inputSchema: { to: z.string(), body: z.string() } },
 *   guardTool(verifier, 'send_email', async ({ to }) => ({ content: [{ type: 'text', text: `sent to ${to}` }] })),
 * )
 * ```
 *
 * @example
 * ```ts
 * import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js'
 * import { z } from 'zod'
 * import { createToolGuard, guardTool } from 'mandate/mcp'
 *
 * // An agent framework hosting its own tools: the guard signs each call as the agent.
 * const guard = createToolGuard({ mandate: grant, key: assistant, verifier: { roots, audience: 'mail', revocations } })
 * const server = new McpServer({ name: 'mail', version: '1.0.0' })
 * server.registerTool(
 *   'send_email',
 *   { description: 'Send an email', inputSchema: { to: z.string(), body: z.string() } },
 *   guardTool(guard, 'send_email', async ({ to }) => ({ content: [{ type: 'text', text: `sent to ${to}` }] })),
 * )
 * ```
 */
export function guardTool<A, E, R>(
  check: ToolCheck,
  name: string,
  handler: (args: A, extra: E) => R | Promise<R>,
): (args: A, extra: E) => Promise<R | ToolErrorResult> {
  if (typeof handler !== 'function') throw new TypeError('"handler" expected the tool handler function')
  const decide = kindOf(check)
  return async (args, extra) => {
    const outcome = await decide(name, args, extra)
    if (!outcome.allowed) return denialResult(outcome)
    return handler(args, extra)
  }
}
