/**
 * `mandate mcp`'s proxy: the SDK's own Server facing the agent, the SDK's Client facing the
 * upstream MCP server, and the tool guard between them.
 *
 * What crosses, and why:
 * - `tools/list` is forwarded and filtered: only the tools the mandate can ever allow are shown.
 * - `tools/call` is guarded: allowed calls are forwarded with exactly the arguments that were
 *   checked, and the invocation the guard signed for them (and the approvals it was decided
 *   with) in `_meta` (spec/mcp-v1.md §6), so that an upstream that verifies can check them too;
 *   their results come back as the upstream gave them; denials never reach the upstream. Progress and cancellation pass through. Task-based calls are refused (the proxy
 *   does not advertise tasks: a task would outlive the check).
 * - Logging (`logging/setLevel`, `notifications/message`) and `notifications/tools/list_changed`
 *   pass through: they carry no action.
 * - Resources, prompts and completions are refused unless the operator passes them, unguarded
 *   (`--pass resources`, `--pass prompts`): in MCP they are chosen by the application or the
 *   user, not the model, and a mandate names actions, not documents, so the proxy does not
 *   pretend to check them.
 * - Requests from the upstream to the agent (sampling, elicitation, roots) are never relayed:
 *   the proxy's client declares none of those capabilities, so a conforming server asks for none,
 *   and the SDK answers one that asks anyway "method not found".
 * - `ping` is answered by each side itself.
 *
 * Loaded by the CLI only: the `mandate/mcp` entry does not need the SDK.
 *
 * @module
 */
import { Client } from '@modelcontextprotocol/sdk/client/index.js'
import { Server } from '@modelcontextprotocol/sdk/server/index.js'
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js'
import {
  CallToolRequestSchema,
  CompleteRequestSchema,
  ErrorCode,
  GetPromptRequestSchema,
  ListPromptsRequestSchema,
  ListResourcesRequestSchema,
  ListResourceTemplatesRequestSchema,
  ListToolsRequestSchema,
  LoggingMessageNotificationSchema,
  McpError,
  PromptListChangedNotificationSchema,
  ReadResourceRequestSchema,
  ResourceListChangedNotificationSchema,
  ResourceUpdatedNotificationSchema,
  ResultSchema,
  type ServerCapabilities,
  SetLevelRequestSchema,
  SubscribeRequestSchema,
  ToolListChangedNotificationSchema,
  UnsubscribeRequestSchema,
} from '@modelcontextprotocol/sdk/types.js'
import type { ToolGuard } from './guard.js'
import { META_APPROVALS, META_INVOCATION } from './meta.js'
import { denialResult } from './result.js'

/** What the operator lets through unguarded, besides tools. */
export interface Passed {
  readonly resources: boolean
  readonly prompts: boolean
}

/** Options of {@link createProxy}. */
export interface ProxyOptions {
  readonly guard: ToolGuard
  /** A client already connected to the upstream server. */
  readonly upstream: Client
  readonly pass: Passed
  /** This program's version, named in the server info when the upstream gives none. */
  readonly version: string
}

/** The agent-facing side: one SDK server per agent session, all guarding one upstream. */
export interface GuardedProxy {
  /** Serve one agent session on `transport`. */
  connect(transport: Transport): Promise<Server>
  /** Close every session. */
  close(): Promise<void>
}

/**
 * A tool call may run long: the agent's own request timeout, and its cancellation (passed
 * upstream), govern; this only bounds a call nobody is waiting for any more.
 */
const TOOL_TIMEOUT_MS = 10 * 60_000

/** The most JSON a call's own `_meta` may hold: traces and ids, not payloads. */
const META_MAX_CHARS = 65_536

/** Whether `meta` can be written as JSON within {@link META_MAX_CHARS} (nesting too deep cannot be written at all). */
function forwardable(meta: Record<string, unknown>): boolean {
  try {
    return JSON.stringify(meta).length <= META_MAX_CHARS
  } catch {
    return false
  }
}

/** The client the proxy speaks to the upstream with: no sampling, elicitation or roots to relay. */
export function upstreamClient(version: string): Client {
  return new Client({ name: 'mandate-mcp', version }, { capabilities: {} })
}

/** Create the proxy over a connected upstream client. */
export function createProxy(options: ProxyOptions): GuardedProxy {
  const { guard, upstream, pass } = options
  const theirs = upstream.getServerCapabilities() ?? {}
  const info = upstream.getServerVersion()
  const capabilities: ServerCapabilities = {
    tools: { listChanged: true },
    ...(theirs.logging ? { logging: {} } : {}),
    ...(pass.resources && theirs.resources
      ? {
          resources: {
            ...(theirs.resources.subscribe ? { subscribe: true } : {}),
            ...(theirs.resources.listChanged ? { listChanged: true } : {}),
          },
        }
      : {}),
    ...(pass.prompts && theirs.prompts ? { prompts: { ...(theirs.prompts.listChanged ? { listChanged: true } : {}) } } : {}),
    ...((pass.resources || pass.prompts) && theirs.completions ? { completions: {} } : {}),
  }
  const sessions = new Set<Server>()
  const instructions = upstream.getInstructions()

  const each = (send: (s: Server) => Promise<void>): void => {
    for (const s of sessions) send(s).catch(() => {}) // a session that went away misses a notification
  }
  upstream.setNotificationHandler(ToolListChangedNotificationSchema, () => each((s) => s.sendToolListChanged()))
  if (capabilities.logging)
    upstream.setNotificationHandler(LoggingMessageNotificationSchema, (n) => each((s) => s.sendLoggingMessage(n.params)))
  if (capabilities.resources) {
    upstream.setNotificationHandler(ResourceListChangedNotificationSchema, () => each((s) => s.sendResourceListChanged()))
    upstream.setNotificationHandler(ResourceUpdatedNotificationSchema, (n) => each((s) => s.sendResourceUpdated(n.params)))
  }
  if (capabilities.prompts)
    upstream.setNotificationHandler(PromptListChangedNotificationSchema, () => each((s) => s.sendPromptListChanged()))

  function session(): Server {
    const server = new Server(
      { name: info?.name ?? 'mandate-mcp', version: info?.version ?? options.version, ...(info?.title ? { title: info.title } : {}) },
      { capabilities, ...(instructions === undefined ? {} : { instructions }) },
    )
    server.setRequestHandler(ListToolsRequestSchema, async (request, extra) => {
      const answer = await upstream.listTools(request.params, { signal: extra.signal })
      return { ...answer, tools: guard.filterTools(answer.tools) }
    })
    server.setRequestHandler(CallToolRequestSchema, async (request, extra) => {
      const { name, arguments: args, task, _meta } = request.params
      // The proxy offers no tasks, so the SDK's server refuses such a call before this; kept
      // for an SDK that would let one through, since the guard decides one call at a time.
      if (task !== undefined) {
        throw new McpError(
          ErrorCode.InvalidParams,
          'task-based tool calls are not supported through the mandate guard: call the tool directly',
        )
      }
      const progressToken = _meta?.progressToken
      const progress = (message: string, value: { progress: number; total?: number }) =>
        progressToken === undefined
          ? Promise.resolve()
          : extra.sendNotification({ method: 'notifications/progress', params: { progressToken, ...value, message } })
      // Whatever the agent put under the guard's keys is replaced, never forwarded (below).
      const { progressToken: _own, [META_INVOCATION]: _inv, [META_APPROVALS]: _approvals, ...meta } = _meta ?? {}
      // The rest goes upstream as it came, so it must be sendable, and is checked before the
      // guard decides: a call allowed, recorded and counted whose request then cannot be
      // written would have spent a use on a call that never ran.
      if (!forwardable(meta)) {
        throw new McpError(ErrorCode.InvalidParams, `the call's _meta cannot be forwarded: at most ${META_MAX_CHARS} characters of JSON`)
      }
      const outcome = await guard.authorizeCall(name, args, {
        signal: extra.signal,
        onWaiting: (id) => void progress(`waiting for approval (request ${id})`, { progress: 0 }).catch(() => {}),
      })
      if (!outcome.allowed) return denialResult(outcome)
      // The invocation the guard signed (and the approvals it was decided with) go along, so
      // that an upstream that verifies checks the same call (spec/mcp-v1.md §6).
      const forwarded = {
        ...meta,
        [META_INVOCATION]: outcome.invocation,
        ...(outcome.approvals === undefined ? {} : { [META_APPROVALS]: [...outcome.approvals] }),
      }
      return upstream.request(
        { method: 'tools/call', params: { name, ...(args === undefined ? {} : { arguments: args }), _meta: forwarded } },
        // The loosest result schema: the upstream's answer is forwarded as it came, not re-shaped here.
        ResultSchema,
        {
          signal: extra.signal,
          timeout: TOOL_TIMEOUT_MS,
          resetTimeoutOnProgress: true,
          ...(progressToken === undefined
            ? {}
            : {
                onprogress: (p) =>
                  void progress(p.message ?? '', { progress: p.progress, ...(p.total === undefined ? {} : { total: p.total }) }).catch(
                    () => {},
                  ),
              }),
        },
      )
    })
    if (capabilities.logging) {
      server.setRequestHandler(SetLevelRequestSchema, (request, extra) =>
        upstream.setLoggingLevel(request.params.level, { signal: extra.signal }),
      )
    }
    const forward = (schema: Parameters<Server['setRequestHandler']>[0]) =>
      server.setRequestHandler(schema, (request, extra) =>
        upstream.request({ method: request.method, params: request.params } as never, ResultSchema, { signal: extra.signal }),
      )
    if (capabilities.resources) {
      for (const schema of [ListResourcesRequestSchema, ListResourceTemplatesRequestSchema, ReadResourceRequestSchema]) forward(schema)
      if (capabilities.resources.subscribe) for (const schema of [SubscribeRequestSchema, UnsubscribeRequestSchema]) forward(schema)
    }
    if (capabilities.prompts) for (const schema of [ListPromptsRequestSchema, GetPromptRequestSchema]) forward(schema)
    if (capabilities.completions) forward(CompleteRequestSchema)
    return server
  }

  return {
    async connect(transport) {
      const server = session()
      sessions.add(server)
      server.onclose = () => sessions.delete(server)
      await server.connect(transport)
      return server
    },
    async close() {
      await Promise.allSettled([...sessions].map((s) => s.close()))
      sessions.clear()
    },
  }
}
