/**
 * The MCP proxy in process (`createProxy` over the SDK's in-memory transport), facing an
 * upstream that offers everything MCP has: what the agent is offered (capabilities, server
 * info, instructions), what passes unguarded only when the operator says so (resources,
 * prompts, completions), what is relayed (logging, list changes, progress), and exactly what
 * a guarded call forwards. test/mcp/proxy.test.ts runs the `mandate mcp` command itself; this
 * file is what mutation testing sees of src/mcp/proxy.ts.
 */
import { Client } from '@modelcontextprotocol/sdk/client/index.js'
import { InMemoryTransport } from '@modelcontextprotocol/sdk/inMemory.js'
import { Server } from '@modelcontextprotocol/sdk/server/index.js'
import {
  CallToolRequestSchema,
  CallToolResultSchema,
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
  type ServerCapabilities,
  SetLevelRequestSchema,
  SubscribeRequestSchema,
  ToolListChangedNotificationSchema,
  UnsubscribeRequestSchema,
} from '@modelcontextprotocol/sdk/types.js'
import { describe, expect, it } from 'vitest'
import { generateKeyPair, mint, parseInvocation, toDidKey } from '../../src/index.js'
import { createProxy, type Passed, upstreamClient } from '../../src/mcp/proxy.js'
import { createToolGuard, META_APPROVALS, META_INVOCATION } from '../../src/mcp.js'

const alice = generateKeyPair()
const assistant = generateKeyPair()
const roots = [{ name: 'alice', key: toDidKey(alice.publicKey) }]

const EVERYTHING: ServerCapabilities = {
  tools: { listChanged: true },
  logging: {},
  resources: { subscribe: true, listChanged: true },
  prompts: { listChanged: true },
  completions: {},
}

/** An upstream with every capability, recording what reaches it. */
function fullUpstream(capabilities: ServerCapabilities = EVERYTHING, info = { name: 'everything', version: '9.9.9', title: 'Everything' }) {
  const reached: { method: string; params: unknown }[] = []
  const server = new Server(info, { capabilities, instructions: 'use echo to say things' })
  const seen = (method: string, params: unknown) => void reached.push({ method, params })
  /** A handler that records the request and answers `result`. */
  const answer =
    <T>(result: T) =>
    async (r: { method: string; params?: unknown }) => {
      seen(r.method, r.params)
      return result
    }
  server.setRequestHandler(ListToolsRequestSchema, async () => ({
    tools: ['echo', 'get-env', 'slow'].map((name) => ({ name, inputSchema: { type: 'object' as const } })),
  }))
  server.setRequestHandler(CallToolRequestSchema, async (request, extra) => {
    seen('tools/call', request.params)
    if (request.params.name === 'slow') {
      await extra.sendNotification({
        method: 'notifications/progress',
        params: { progressToken: request.params._meta?.progressToken as string, progress: 1, total: 2, message: 'half' },
      })
      await extra.sendNotification({
        method: 'notifications/progress',
        params: { progressToken: request.params._meta?.progressToken as string, progress: 2 },
      })
    }
    return { content: [{ type: 'text' as const, text: 'done' }], structuredContent: { extra: true } }
  })
  if (capabilities.resources) {
    server.setRequestHandler(ListResourcesRequestSchema, answer({ resources: [{ uri: 'test://a', name: 'a' }] }))
    server.setRequestHandler(ListResourceTemplatesRequestSchema, answer({ resourceTemplates: [] }))
    server.setRequestHandler(ReadResourceRequestSchema, answer({ contents: [{ uri: 'test://a', text: 'A' }] }))
    server.setRequestHandler(SubscribeRequestSchema, answer({}))
    server.setRequestHandler(UnsubscribeRequestSchema, answer({}))
  }
  if (capabilities.prompts) {
    server.setRequestHandler(ListPromptsRequestSchema, answer({ prompts: [{ name: 'p' }] }))
    server.setRequestHandler(GetPromptRequestSchema, answer({ messages: [] }))
  }
  if (capabilities.completions) {
    server.setRequestHandler(CompleteRequestSchema, answer({ completion: { values: ['x'] } }))
  }
  if (capabilities.logging) server.setRequestHandler(SetLevelRequestSchema, answer({}))
  return { server, reached }
}

/** The JSON-RPC error a request was refused with, as [code, message]; a request that succeeded fails the test. */
async function mcpRefusal(request: Promise<unknown>): Promise<[number, string]> {
  const refused = await request.then(
    () => undefined,
    (e: unknown) => e,
  )
  if (!(refused instanceof McpError)) throw new Error(`expected an McpError, got ${String(refused)}`)
  return [refused.code, refused.message]
}

/** The agent's client, through the proxy, to `upstream`; the proxy guards with a mandate for echo and slow. */
async function through(upstream: ReturnType<typeof fullUpstream>, pass: Passed) {
  const [upClient, upServer] = InMemoryTransport.createLinkedPair()
  await upstream.server.connect(upServer)
  const client = upstreamClient('1.2.3')
  await client.connect(upClient)
  const mandate = mint({
    principal: alice,
    to: toDidKey(assistant.publicKey),
    caveats: [
      { type: 'actions', patterns: ['mcp:everything:echo', 'mcp:everything:slow'] },
      { type: 'window', expires: Math.floor(Date.now() / 1000) + 3600 },
    ],
  })
  const guard = createToolGuard({ mandate, key: assistant, verifier: { roots, audience: 'everything', revocations: 'none' } })
  const proxy = createProxy({ guard, upstream: client, pass, version: '1.2.3' })
  /** One more agent session on the proxy, and the notifications it receives. */
  const session = async () => {
    const [agentSide, proxySide] = InMemoryTransport.createLinkedPair()
    await proxy.connect(proxySide)
    const agent = new Client({ name: 'agent', version: '1.0.0' })
    const notes: { method: string; params: unknown }[] = []
    for (const schema of [
      ToolListChangedNotificationSchema,
      LoggingMessageNotificationSchema,
      ResourceListChangedNotificationSchema,
      ResourceUpdatedNotificationSchema,
      PromptListChangedNotificationSchema,
    ]) {
      agent.setNotificationHandler(
        schema,
        (n: { method: string; params?: unknown }) => void notes.push({ method: n.method, params: n.params }),
      )
    }
    await agent.connect(agentSide)
    return { agent, notes }
  }
  const { agent, notes } = await session()
  return {
    agent,
    notes,
    session,
    proxy,
    async close() {
      await agent.close()
      await proxy.close()
      await client.close()
    },
  }
}

const until = async (check: () => boolean) => {
  for (let i = 0; i < 200 && !check(); i++) await new Promise((r) => setTimeout(r, 5))
}

describe('what the agent is offered', () => {
  it('everything passed: the upstream capabilities the proxy can relay, its name, version, title and instructions', async () => {
    const p = await through(fullUpstream(), { resources: true, prompts: true })
    try {
      expect(p.agent.getServerCapabilities()).toEqual({
        tools: { listChanged: true },
        logging: {},
        resources: { subscribe: true, listChanged: true },
        prompts: { listChanged: true },
        completions: {},
      })
      expect(p.agent.getServerVersion()).toEqual({ name: 'everything', version: '9.9.9', title: 'Everything' })
      expect(p.agent.getInstructions()).toBe('use echo to say things')
    } finally {
      await p.close()
    }
  })

  it('nothing passed: tools and logging only; prompts alone, resources alone; completions with either', async () => {
    const none = await through(fullUpstream(), { resources: false, prompts: false })
    const prompts = await through(fullUpstream(), { resources: false, prompts: true })
    const resources = await through(fullUpstream(), { resources: true, prompts: false })
    try {
      expect(none.agent.getServerCapabilities()).toEqual({ tools: { listChanged: true }, logging: {} })
      expect(prompts.agent.getServerCapabilities()).toEqual({
        tools: { listChanged: true },
        logging: {},
        prompts: { listChanged: true },
        completions: {},
      })
      expect(resources.agent.getServerCapabilities()).toEqual({
        tools: { listChanged: true },
        logging: {},
        resources: { subscribe: true, listChanged: true },
        completions: {},
      })
      await expect(none.agent.listResources()).rejects.toThrow(/Method not found/)
      await expect(none.agent.listPrompts()).rejects.toThrow(/Method not found/)
      await expect(none.agent.complete({ ref: { type: 'ref/prompt', name: 'p' }, argument: { name: 'a', value: '' } })).rejects.toThrow(
        /Method not found/,
      )
      await expect(prompts.agent.listResources()).rejects.toThrow(/Method not found/)
      await expect(resources.agent.listPrompts()).rejects.toThrow(/Method not found/)
    } finally {
      await Promise.all([none.close(), prompts.close(), resources.close()])
    }
  })

  it('an upstream that offers less is offered as it is: no logging, resources without subscribe or list changes, no info', async () => {
    const bare = fullUpstream({ tools: {}, resources: {}, prompts: {} }, { name: '', version: '' } as never)
    const p = await through(bare, { resources: true, prompts: true })
    try {
      expect(p.agent.getServerCapabilities()).toEqual({ tools: { listChanged: true }, resources: {}, prompts: {} })
      await expect(p.agent.setLoggingLevel('debug')).rejects.toThrow(/Method not found/)
      await expect(p.agent.subscribeResource({ uri: 'test://a' })).rejects.toThrow(/Method not found/)
      expect((await p.agent.listResources()).resources).toEqual([{ uri: 'test://a', name: 'a' }])
    } finally {
      await p.close()
    }
  })
})

describe('what the upstream sees of the proxy', () => {
  it('a client named mandate-mcp, of this version, that offers nothing (no sampling, elicitation or roots to relay)', async () => {
    const upstream = fullUpstream()
    const p = await through(upstream, { resources: true, prompts: true })
    try {
      expect(upstream.server.getClientVersion()).toEqual({ name: 'mandate-mcp', version: '1.2.3' })
      expect(upstream.server.getClientCapabilities()).toStrictEqual({})
    } finally {
      await p.close()
    }
  })

  it('close() ends every session it serves', async () => {
    const p = await through(fullUpstream(), { resources: false, prompts: false })
    const other = await p.session()
    const closed: string[] = []
    p.agent.onclose = () => void closed.push('first')
    other.agent.onclose = () => void closed.push('other')
    await p.proxy.close()
    await until(() => closed.length === 2)
    expect(closed.sort()).toEqual(['first', 'other'])
    await p.close()
  })
})

describe('what passes, unguarded, when the operator passes it', () => {
  it('resources (list, templates, read, subscribe, unsubscribe), prompts (list, get), completions and the log level reach the upstream as sent', async () => {
    const upstream = fullUpstream()
    const p = await through(upstream, { resources: true, prompts: true })
    try {
      expect((await p.agent.listResources()).resources).toEqual([{ uri: 'test://a', name: 'a' }])
      expect((await p.agent.listResourceTemplates()).resourceTemplates).toEqual([])
      expect((await p.agent.readResource({ uri: 'test://a' })).contents).toEqual([{ uri: 'test://a', text: 'A' }])
      await p.agent.subscribeResource({ uri: 'test://a' })
      await p.agent.unsubscribeResource({ uri: 'test://a' })
      expect((await p.agent.listPrompts()).prompts).toEqual([{ name: 'p' }])
      expect((await p.agent.getPrompt({ name: 'p', arguments: { x: 'y' } })).messages).toEqual([])
      expect(
        (await p.agent.complete({ ref: { type: 'ref/prompt', name: 'p' }, argument: { name: 'a', value: '' } })).completion.values,
      ).toEqual(['x'])
      await p.agent.setLoggingLevel('warning')
      expect(upstream.reached.map((r) => r.method)).toEqual([
        'resources/list',
        'resources/templates/list',
        'resources/read',
        'resources/subscribe',
        'resources/unsubscribe',
        'prompts/list',
        'prompts/get',
        'completion/complete',
        'logging/setLevel',
      ])
      expect(upstream.reached.map((r) => r.params)).toContainEqual({ uri: 'test://a' })
      expect(upstream.reached.map((r) => r.params)).toContainEqual({ name: 'p', arguments: { x: 'y' } })
      expect(upstream.reached.map((r) => r.params)).toContainEqual({ level: 'warning' })
    } finally {
      await p.close()
    }
  })
})

describe('what is relayed from the upstream', () => {
  it('tool, resource and prompt list changes, resource updates and log messages, to every session', async () => {
    const upstream = fullUpstream()
    const p = await through(upstream, { resources: true, prompts: true })
    try {
      await upstream.server.sendToolListChanged()
      await upstream.server.sendResourceListChanged()
      await upstream.server.sendResourceUpdated({ uri: 'test://a' })
      await upstream.server.sendPromptListChanged()
      await upstream.server.sendLoggingMessage({ level: 'info', data: 'hello' })
      await until(() => p.notes.length >= 5)
      expect(p.notes).toEqual([
        { method: 'notifications/tools/list_changed', params: undefined },
        { method: 'notifications/resources/list_changed', params: undefined },
        { method: 'notifications/resources/updated', params: { uri: 'test://a' } },
        { method: 'notifications/prompts/list_changed', params: undefined },
        { method: 'notifications/message', params: { level: 'info', data: 'hello' } },
      ])
    } finally {
      await p.close()
    }
  })

  it('nothing passed: only tool list changes and log messages', async () => {
    const upstream = fullUpstream()
    const p = await through(upstream, { resources: false, prompts: false })
    try {
      await upstream.server.sendResourceListChanged()
      await upstream.server.sendPromptListChanged()
      await upstream.server.sendToolListChanged()
      await upstream.server.sendLoggingMessage({ level: 'info', data: 'hello' })
      await until(() => p.notes.length >= 2)
      await new Promise((r) => setTimeout(r, 20))
      expect(p.notes.map((n) => n.method)).toEqual(['notifications/tools/list_changed', 'notifications/message'])
    } finally {
      await p.close()
    }
  })

  it("a guarded call's progress, message and total included, reaches the agent under its own token", async () => {
    const p = await through(fullUpstream(), { resources: false, prompts: false })
    try {
      const progress: unknown[] = []
      const result = await p.agent.callTool({ name: 'slow', arguments: {} }, undefined, { onprogress: (n) => void progress.push(n) })
      expect(result.content).toEqual([{ type: 'text', text: 'done' }])
      await until(() => progress.length >= 2)
      expect(progress).toStrictEqual([
        { progress: 1, total: 2, message: 'half' },
        { progress: 2, message: '' },
      ])
    } finally {
      await p.close()
    }
  })
})

describe('a guarded call', () => {
  it('lists only the tools the mandate allows, and forwards exactly the name, arguments and the signed invocation', async () => {
    const upstream = fullUpstream()
    const p = await through(upstream, { resources: false, prompts: false })
    try {
      expect((await p.agent.listTools()).tools.map((t) => t.name)).toEqual(['echo', 'slow'])
      const result = await p.agent.callTool({
        name: 'echo',
        arguments: { message: 'hi' },
        _meta: { [META_INVOCATION]: 'mni1_forged', [META_APPROVALS]: ['mna1_forged'], 'example.com/trace': 't1' },
      })
      // The upstream's answer as it came, fields the SDK's tool result has not included.
      expect(result).toEqual({ content: [{ type: 'text', text: 'done' }], structuredContent: { extra: true } })
      await p.agent.callTool({ name: 'echo' })
      const [first, second] = upstream.reached.map((r) => r.params as { name: string; arguments?: unknown; _meta: Record<string, unknown> })
      expect(Object.keys(first?._meta ?? {}).sort()).toEqual(['dev.mandate/invocation', 'example.com/trace'])
      expect(first?._meta['example.com/trace']).toBe('t1')
      const signed = parseInvocation(first?._meta[META_INVOCATION] as string)
      expect([first?.name, first?.arguments, signed.action, signed.args]).toEqual([
        'echo',
        { message: 'hi' },
        'mcp:everything:echo',
        { message: 'hi' },
      ])
      expect(second && 'arguments' in second).toBe(false)
      expect(parseInvocation(second?._meta[META_INVOCATION] as string).args).toEqual({})
      const denied = await p.agent.callTool({ name: 'get-env', arguments: {} })
      expect(denied.isError).toBe(true)
      expect(JSON.parse((denied.content as { text: string }[])[0]?.text as string).code).toBe('ERR_ACTION_DENIED')
      expect(upstream.reached).toHaveLength(2)
    } finally {
      await p.close()
    }
  })

  it('a task-based tool call is refused before the guard signs anything and before the upstream', async () => {
    // The proxy offers no tasks, so the SDK's server refuses the call itself; the proxy's own
    // refusal (InvalidParams) stands behind it for an SDK that would let one through.
    const upstream = fullUpstream()
    const p = await through(upstream, { resources: false, prompts: false })
    try {
      const call = { method: 'tools/call', params: { name: 'echo', arguments: { message: 'hi' }, task: { ttl: 60_000 } } }
      expect(await mcpRefusal(p.agent.request(call, CallToolResultSchema))).toEqual([
        ErrorCode.InternalError,
        'MCP error -32603: Server does not support task creation (required for tools/call)',
      ])
      expect(upstream.reached).toEqual([])
    } finally {
      await p.close()
    }
  })

  it('a call whose own _meta cannot be forwarded is refused before the guard decides: nothing counted, nothing sent', async () => {
    const upstream = fullUpstream()
    const p = await through(upstream, { resources: false, prompts: false })
    try {
      let deep: unknown[] = []
      for (let i = 0; i < 200_000; i++) deep = [deep]
      const big = 'x'.repeat(65_537)
      for (const meta of [{ deep }, { big }]) {
        expect(await mcpRefusal(p.agent.callTool({ name: 'echo', arguments: { message: 'hi' }, _meta: meta }))).toEqual([
          ErrorCode.InvalidParams,
          "MCP error -32602: MCP error -32602: the call's _meta cannot be forwarded: at most 65536 characters of JSON",
        ])
      }
      expect(upstream.reached).toEqual([])
      // Just within the bound, and the guard's own keys (replaced anyway) not counted.
      const fits = { note: 'x'.repeat(65_536 - '{"note":""}'.length), [META_INVOCATION]: 'y'.repeat(100_000) }
      expect((await p.agent.callTool({ name: 'echo', arguments: { message: 'hi' }, _meta: fits })).isError).toBeUndefined()
      expect(upstream.reached).toHaveLength(1)
    } finally {
      await p.close()
    }
  })

  it('every session hears the upstream; a closed one is dropped, the others still served', async () => {
    const upstream = fullUpstream()
    const p = await through(upstream, { resources: false, prompts: false })
    const other = await p.session()
    try {
      await upstream.server.sendToolListChanged()
      await until(() => p.notes.length === 1 && other.notes.length === 1)
      await other.agent.close()
      await upstream.server.sendToolListChanged()
      await until(() => p.notes.length === 2)
      expect([p.notes.length, other.notes.length]).toEqual([2, 1])
      expect((await p.agent.callTool({ name: 'echo', arguments: {} })).isError).toBeUndefined()
    } finally {
      await p.close()
    }
  })
})
