/**
 * spec/mcp-v1.md for real: an MCP server written with the SDK (`McpServer.registerTool`) that
 * holds no agent's key, its tools wrapped by `guardTool(verifier, …)`, and the SDK's Client on
 * the agent's side sending each call's invocation in `_meta` (`invocationMeta`), over the SDK's
 * in-memory transport; then `mandate mcp`'s proxy (in process, `createProxy`) in front of such
 * a server, forwarding the invocations it signed. Each case asserts the exact code.
 */
import { Client } from '@modelcontextprotocol/sdk/client/index.js'
import { InMemoryTransport } from '@modelcontextprotocol/sdk/inMemory.js'
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { z } from 'zod'
import {
  approve,
  type Caveat,
  createMemoryRevocationView,
  createVerifier,
  formatApproval,
  formatInvocation,
  formatMandate,
  generateKeyPair,
  invoke,
  type KeyPair,
  MandateError,
  mint,
  parseInvocation,
  toDidKey,
  type UnverifiedMandate,
  type Verifier,
} from '../../src/index.js'
import { createProxy, upstreamClient } from '../../src/mcp/proxy.js'
import {
  createToolGuard,
  createToolVerifier,
  guardTool,
  invocationMeta,
  META_APPROVALS,
  META_INVOCATION,
  type ToolActions,
  type ToolAuditRecord,
  type ToolCheck,
} from '../../src/mcp.js'
import { http, type ServiceUnderTest, startInProcess } from '../helpers/service.js'

const alice = generateKeyPair()
const assistant = generateKeyPair()
const mallory = generateKeyPair()
const ALICE = toDidKey(alice.publicKey)
const roots = [{ name: 'alice', key: ALICE }]
const hour = () => Math.floor(Date.now() / 1000) + 3600
const MAIL_TOOLS: Caveat[] = [{ type: 'actions', patterns: ['mcp:mail:send_email', 'mcp:mail:list_inbox'] }]

function grant(caveats: Caveat[], principal: KeyPair = alice): UnverifiedMandate {
  return mint({
    principal,
    to: toDidKey(assistant.publicKey),
    name: 'assistant',
    caveats: [...caveats, { type: 'window', expires: hour() }],
  })
}

const mailVerifier = (): Verifier => createVerifier({ roots, audience: 'mail', revocations: createMemoryRevocationView() })

/** What the server's handlers saw: each run, with its arguments and `_meta`. */
interface Runs {
  readonly calls: { tool: string; args: unknown; meta: Record<string, unknown> | undefined }[]
}

/** The "mail" server: `send_email {to, body}` and `list_inbox {}`, both guarded by `check`. */
function mailTools(check: ToolCheck): { server: McpServer; runs: Runs } {
  const runs: Runs = { calls: [] }
  const server = new McpServer({ name: 'mail', version: '1.0.0' })
  server.registerTool(
    'send_email',
    { description: 'Send an email', inputSchema: { to: z.string(), body: z.string() } },
    guardTool(check, 'send_email', async (args, extra) => {
      runs.calls.push({ tool: 'send_email', args, meta: extra._meta })
      return { content: [{ type: 'text', text: `sent to ${args.to}` }] }
    }),
  )
  server.registerTool(
    'list_inbox',
    { description: 'List the inbox', inputSchema: {} },
    guardTool(check, 'list_inbox', async (args, extra) => {
      runs.calls.push({ tool: 'list_inbox', args, meta: extra._meta })
      return { content: [{ type: 'text', text: '3 messages' }] }
    }),
  )
  return { server, runs }
}

/** `client` connected to `server` over the SDK's in-memory transport. */
async function link(server: McpServer, client: Client): Promise<Client> {
  const [clientSide, serverSide] = InMemoryTransport.createLinkedPair()
  await server.connect(serverSide)
  await client.connect(clientSide)
  return client
}

/** The mail server guarded by `check`, and the agent's SDK Client connected to it. */
async function mailServer(check: ToolCheck): Promise<{ client: Client; runs: Runs; close(): Promise<void> }> {
  const { server, runs } = mailTools(check)
  const client = await link(server, new Client({ name: 'agent', version: '1.0.0' }))
  return {
    client,
    runs,
    close: async () => {
      await client.close()
      await server.close()
    },
  }
}

/** The text block of a tool result. */
function text(result: unknown): string {
  return ((result as { content: { text: string }[] }).content[0] as { text: string }).text
}
interface Denial {
  readonly code: string
  readonly message: string
  readonly hint?: string
  readonly tool: string
  readonly action?: string
  readonly approval?: { readonly requestId?: string; readonly waitingFor: string[]; readonly quorum: number; readonly given: number }
}
/** The document of a denial (src/mcp/result.ts). */
function denial(result: unknown): Denial {
  expect((result as { isError?: boolean }).isError).toBe(true)
  return JSON.parse(text(result))
}

const EMAIL = { name: 'send_email', arguments: { to: 'bob@example.com', body: 'the meeting moved to 3pm' } }
const sign = (mandate: UnverifiedMandate, call: { name: string; arguments?: unknown }, audience = 'mail') =>
  invocationMeta(mandate, call, { key: assistant, audience })

describe('a server that verifies: guardTool(verifier, …)', () => {
  it('an allowed call runs the handler with the arguments the invocation signs', async () => {
    const { client, runs, close } = await mailServer(mailVerifier())
    const mandate = grant(MAIL_TOOLS)
    const meta = sign(mandate, EMAIL)
    expect(Object.keys(meta)).toEqual([META_INVOCATION])
    expect(meta[META_INVOCATION]).toMatch(/^mni1_/)
    const result = await client.callTool({ ...EMAIL, _meta: meta })
    expect(result.isError).toBeUndefined()
    expect(text(result)).toBe('sent to bob@example.com')
    expect(runs.calls).toHaveLength(1)
    expect(runs.calls[0]?.args).toEqual(EMAIL.arguments)
    // A tool without arguments: the invocation signs none, the call sends none.
    const list = { name: 'list_inbox' }
    expect(text(await client.callTool({ ...list, _meta: sign(mandate, list) }))).toBe('3 messages')
    expect(text(await client.callTool({ ...list, arguments: {}, _meta: sign(mandate, list) }))).toBe('3 messages')
    expect(runs.calls).toHaveLength(3)
    await close()
  })

  it('no invocation in _meta: ERR_PROOF, and the handler never runs', async () => {
    const { client, runs, close } = await mailServer(mailVerifier())
    const doc = denial(await client.callTool(EMAIL))
    expect(doc.code).toBe('ERR_PROOF')
    expect(doc.tool).toBe('send_email')
    expect(doc.action).toBe('mcp:mail:send_email')
    expect(doc.hint).toContain(META_INVOCATION)
    expect(denial(await client.callTool({ ...EMAIL, _meta: { other: 'x' } })).code).toBe('ERR_PROOF')
    expect(runs.calls).toHaveLength(0)
    await close()
  })

  it('an invocation that is not one: ERR_TEXT_FORMAT (not a string, a mandate, approvals not a list of strings)', async () => {
    const { client, runs, close } = await mailServer(mailVerifier())
    const mandate = grant(MAIL_TOOLS)
    const tryMeta = async (meta: Record<string, unknown>) => denial(await client.callTool({ ...EMAIL, _meta: meta })).code
    expect(await tryMeta({ [META_INVOCATION]: 42 })).toBe('ERR_TEXT_FORMAT')
    expect(await tryMeta({ [META_INVOCATION]: { bytes: [1, 2, 3] } })).toBe('ERR_TEXT_FORMAT')
    expect(await tryMeta({ [META_INVOCATION]: formatMandate(mandate) })).toBe('ERR_TEXT_FORMAT')
    expect(await tryMeta({ [META_INVOCATION]: 'mni1_!!' })).toBe('ERR_TEXT_FORMAT')
    const good = sign(mandate, EMAIL)
    expect(await tryMeta({ ...good, [META_APPROVALS]: 'mna1_x' })).toBe('ERR_TEXT_FORMAT')
    expect(await tryMeta({ ...good, [META_APPROVALS]: [7] })).toBe('ERR_TEXT_FORMAT')
    expect(await tryMeta({ ...good, [META_APPROVALS]: Array.from({ length: 17 }, () => 'mna1_x') })).toBe('ERR_LIMIT_COUNT')
    expect(runs.calls).toHaveLength(0)
    // None of these spent it: the same invocation still goes through.
    expect(text(await client.callTool({ ...EMAIL, _meta: good }))).toBe('sent to bob@example.com')
    await close()
  })

  it('an invocation for another tool: ERR_REQUEST_INVALID (it signs another action)', async () => {
    const { client, runs, close } = await mailServer(mailVerifier())
    const forList = sign(grant(MAIL_TOOLS), { name: 'list_inbox' })
    const doc = denial(await client.callTool({ ...EMAIL, _meta: forList }))
    expect(doc.code).toBe('ERR_REQUEST_INVALID')
    expect(doc.message).toBe('the request differs from what the invocation signs: action')
    expect(runs.calls).toHaveLength(0)
    await close()
  })

  it('an invocation with other arguments than the call: ERR_REQUEST_INVALID (it signs other args)', async () => {
    const { client, runs, close } = await mailServer(mailVerifier())
    const mandate = grant(MAIL_TOOLS)
    const meta = sign(mandate, EMAIL)
    const other = { ...EMAIL, arguments: { ...EMAIL.arguments, to: 'mallory@example.com' } }
    const doc = denial(await client.callTool({ ...other, _meta: meta }))
    expect(doc.code).toBe('ERR_REQUEST_INVALID')
    expect(doc.message).toBe('the request differs from what the invocation signs: args')
    // Fewer arguments than signed: the same.
    const list = sign(mandate, { name: 'list_inbox', arguments: { folder: 'spam' } })
    expect(denial(await client.callTool({ name: 'list_inbox', _meta: list })).code).toBe('ERR_REQUEST_INVALID')
    expect(runs.calls).toHaveLength(0)
    // What is compared is what the tool runs with: an argument the tool's schema drops (cc)
    // never reaches it, so the signed {to, body} is exactly what runs…
    const withCc = { ...EMAIL, arguments: { ...EMAIL.arguments, cc: 'eve@example.com' } }
    expect(text(await client.callTool({ ...withCc, _meta: sign(mandate, EMAIL) }))).toBe('sent to bob@example.com')
    expect(runs.calls[0]?.args).toEqual(EMAIL.arguments)
    // …and an invocation signing cc does not match what runs.
    expect(denial(await client.callTool({ ...withCc, _meta: sign(mandate, withCc) })).code).toBe('ERR_REQUEST_INVALID')
    await close()
  })

  it('an invocation presented twice: ERR_REPLAY (the verifier replay store), and the handler ran once', async () => {
    const { client, runs, close } = await mailServer(mailVerifier())
    const meta = sign(grant(MAIL_TOOLS), EMAIL)
    expect(text(await client.callTool({ ...EMAIL, _meta: meta }))).toBe('sent to bob@example.com')
    const again = denial(await client.callTool({ ...EMAIL, _meta: meta }))
    expect(again.code).toBe('ERR_REPLAY')
    expect(runs.calls).toHaveLength(1)
    await close()
  })

  it('an invocation addressed to another server: ERR_AUDIENCE', async () => {
    const { client, runs, close } = await mailServer(mailVerifier())
    // The same action (the prefix given explicitly), another audience.
    const meta = invocationMeta(grant(MAIL_TOOLS), EMAIL, { key: assistant, audience: 'calendar', actionPrefix: 'mcp:mail' })
    expect(denial(await client.callTool({ ...EMAIL, _meta: meta })).code).toBe('ERR_AUDIENCE')
    // With the other server's default prefix, the action differs first (M§7 step 6 before 7).
    const theirs = sign(grant(MAIL_TOOLS), EMAIL, 'calendar')
    expect(denial(await client.callTool({ ...EMAIL, _meta: theirs })).code).toBe('ERR_REQUEST_INVALID')
    expect(runs.calls).toHaveLength(0)
    await close()
  })

  it("what the mandate does not allow: ERR_ACTION_DENIED, ERR_ARGS_DENIED; a stranger's chain, ERR_ROOT_UNTRUSTED", async () => {
    const { client, runs, close } = await mailServer(mailVerifier())
    const readOnly = grant([{ type: 'actions', patterns: ['mcp:mail:list_inbox'] }])
    expect(denial(await client.callTool({ ...EMAIL, _meta: sign(readOnly, EMAIL) })).code).toBe('ERR_ACTION_DENIED')
    const internalOnly = grant([
      ...MAIL_TOOLS,
      { type: 'where', actions: ['mcp:mail:send_email'], rules: [{ path: 'to', op: 'eq', value: 'carol@example.org' }] },
    ])
    expect(denial(await client.callTool({ ...EMAIL, _meta: sign(internalOnly, EMAIL) })).code).toBe('ERR_ARGS_DENIED')
    const forged = grant(MAIL_TOOLS, mallory)
    expect(denial(await client.callTool({ ...EMAIL, _meta: sign(forged, EMAIL) })).code).toBe('ERR_ROOT_UNTRUSTED')
    expect(runs.calls).toHaveLength(0)
    await close()
  })

  it('approval required: the denial names the approvers; the same invocation with the approval then runs', async () => {
    const { client, runs, close } = await mailServer(mailVerifier())
    const mandate = grant([...MAIL_TOOLS, { type: 'approval', actions: ['mcp:mail:send_email'], approvers: [ALICE], quorum: 1 }])
    const meta = sign(mandate, EMAIL)
    const asked = denial(await client.callTool({ ...EMAIL, _meta: meta }))
    expect(asked.code).toBe('ERR_APPROVAL_REQUIRED')
    expect(asked.approval).toEqual({ waitingFor: [ALICE], quorum: 1, given: 0 })
    const inv = parseInvocation(meta[META_INVOCATION])
    expect(asked.hint).toContain(inv.idHex)
    expect(asked.hint).toContain(META_APPROVALS)
    expect(runs.calls).toHaveLength(0)
    // An approval of another invocation does not count.
    const stray = formatApproval(approve({ approver: alice, invocation: parseInvocation(sign(mandate, EMAIL)[META_INVOCATION]) }))
    expect(denial(await client.callTool({ ...EMAIL, _meta: { ...meta, [META_APPROVALS]: [stray] } })).code).toBe('ERR_APPROVAL_INVALID')
    const approval = formatApproval(approve({ approver: alice, invocation: inv }))
    const result = await client.callTool({ ...EMAIL, _meta: { ...meta, [META_APPROVALS]: [approval] } })
    expect(text(result)).toBe('sent to bob@example.com')
    expect(runs.calls).toHaveLength(1)
    await close()
  })
})

describe('createToolVerifier: the action mapping, resources and the audit trail', () => {
  it('maps tools to actions and resources as the agent signs them, and records every call', async () => {
    const records: ToolAuditRecord[] = []
    const tools = createToolVerifier({
      verifier: mailVerifier(),
      actions: { send_email: 'mail:send' },
      resource: (_tool, args) => (typeof args['to'] === 'string' ? `outbox/${args['to']}` : undefined),
      audit: (r) => void records.push(r),
    })
    expect(tools.audience).toBe('mail')
    expect(tools.actionOf('send_email')).toBe('mail:send')
    expect(tools.actionOf('list_inbox')).toBe('mcp:mail:list_inbox')
    expect(tools.actionOf('List')).toBeUndefined()
    const { client, runs, close } = await mailServer(tools)
    const mandate = grant([{ type: 'actions', patterns: ['mail:send'] }])
    const options = { key: assistant, audience: 'mail', actions: { send_email: 'mail:send' } }
    const meta = invocationMeta(mandate, EMAIL, { ...options, resource: 'outbox/bob@example.com' })
    expect(text(await client.callTool({ ...EMAIL, _meta: meta }))).toBe('sent to bob@example.com')
    // Signed without the resource the server computes: it signs another request.
    const bare = invocationMeta(mandate, EMAIL, options)
    const doc = denial(await client.callTool({ ...EMAIL, _meta: bare }))
    expect(doc.code).toBe('ERR_REQUEST_INVALID')
    expect(doc.message).toBe('the request differs from what the invocation signs: resource')
    expect(runs.calls).toHaveLength(1)
    expect(records.map((r) => [r.tool, r.decision, r.code])).toEqual([
      ['send_email', 'allow', undefined],
      ['send_email', 'deny', 'ERR_REQUEST_INVALID'],
    ])
    expect(records[0]).toMatchObject({
      audience: 'mail',
      action: 'mail:send',
      resource: 'outbox/bob@example.com',
      invocationId: parseInvocation(meta[META_INVOCATION]).idHex,
    })
    expect(records[0]?.chain.map((p) => p.name)).toEqual(['alice', 'assistant'])
    expect(records[0]?.argsDigest).toMatch(/^sha-256:[0-9a-f]{64}$/)
    // Records hold no token and no argument (the resource is the server's own).
    expect(JSON.stringify(records)).not.toContain('mni1_')
    expect(JSON.stringify(records)).not.toContain('the meeting moved')
    await close()
  })

  it('verifyCall answers the outcome, with the invocation it decided; a failing audit sink denies ERR_INTERNAL', async () => {
    const mandate = grant(MAIL_TOOLS)
    const tools = createToolVerifier({ verifier: mailVerifier() })
    const meta = sign(mandate, EMAIL)
    const outcome = await tools.verifyCall('send_email', EMAIL.arguments, meta)
    if (!outcome.allowed) throw new Error(`denied: ${outcome.code}`)
    expect(outcome.invocation).toBe(meta[META_INVOCATION])
    expect(outcome.invocationId).toBe(parseInvocation(meta[META_INVOCATION]).idHex)
    expect(outcome.approvals).toBeUndefined()
    const unmapped = await tools.verifyCall('Send', {}, meta)
    expect(unmapped.allowed ? 'allowed' : unmapped.code).toBe('ERR_REQUEST_INVALID')
    const float = await tools.verifyCall('send_email', { to: 'x', n: 0.5 }, sign(mandate, EMAIL))
    expect(float.allowed ? 'allowed' : float.code).toBe('ERR_REQUEST_INVALID')
    const failing = createToolVerifier({
      verifier: mailVerifier(),
      audit: () => {
        throw new Error('disk full')
      },
    })
    const { client, runs, close } = await mailServer(failing)
    const doc = denial(await client.callTool({ ...EMAIL, _meta: sign(mandate, EMAIL) }))
    expect(doc.code).toBe('ERR_INTERNAL')
    expect(doc.message).toContain('disk full')
    expect(runs.calls).toHaveLength(0)
    await close()
  })

  it('invocationMeta refuses what no invocation can carry: ERR_REQUEST_INVALID', () => {
    const mandate = grant(MAIL_TOOLS)
    const code = (f: () => unknown) => {
      try {
        f()
      } catch (e) {
        return e instanceof MandateError ? e.code : String(e)
      }
      return 'no error'
    }
    expect(code(() => sign(mandate, { name: 'SendEmail' }))).toBe('ERR_REQUEST_INVALID')
    expect(code(() => sign(mandate, { name: 'send_email', arguments: { ratio: 0.5 } }))).toBe('ERR_REQUEST_INVALID')
    expect(code(() => sign(mandate, { name: 'send_email', arguments: [1] }))).toBe('ERR_REQUEST_INVALID')
    expect(code(() => invocationMeta(mandate, EMAIL, { key: mallory, audience: 'mail' }))).toBe('ERR_HOLDER_MISMATCH')
    expect(() => guardTool({} as never, 'x', () => 1)).toThrow(TypeError)
  })
})

describe('mandate mcp in front of a server that verifies (createProxy, in process)', () => {
  let service: ServiceUnderTest
  beforeAll(async () => {
    service = await startInProcess({ roots: [`alice=${ALICE}`] })
  })
  afterAll(async () => {
    await service?.stop()
  })

  /** Agent (SDK Client) → proxy (createProxy, the guard signs as the assistant) → the mail server (verifies). */
  async function throughProxy(mandate: UnverifiedMandate, withService = false, upstreamActions?: ToolActions) {
    const upstreamRecords: ToolAuditRecord[] = []
    const mail = createToolVerifier({
      verifier: mailVerifier(),
      audit: (r) => void upstreamRecords.push(r),
      ...(upstreamActions === undefined ? {} : { actions: upstreamActions }),
    })
    const { server: upstreamServer, runs } = mailTools(mail)
    const upstream = await link(upstreamServer, upstreamClient('0.0.0'))
    const proxyRecords: ToolAuditRecord[] = []
    const guard = createToolGuard({
      mandate,
      key: assistant,
      verifier: { roots, audience: 'mail', revocations: 'none' },
      audit: (r) => void proxyRecords.push(r),
      ...(withService ? { service: { url: service.url } } : {}),
    })
    const proxy = createProxy({ guard, upstream, pass: { resources: false, prompts: false }, version: '0.0.0' })
    const [agentSide, proxySide] = InMemoryTransport.createLinkedPair()
    await proxy.connect(proxySide)
    const agent = new Client({ name: 'agent', version: '1.0.0' })
    await agent.connect(agentSide)
    return {
      agent,
      runs,
      proxyRecords,
      upstreamRecords,
      close: async () => {
        await agent.close()
        await proxy.close()
        await upstream.close()
        await upstreamServer.close()
      },
    }
  }

  it('the upstream accepts the invocation the proxy signed and forwarded in _meta', async () => {
    const p = await throughProxy(grant(MAIL_TOOLS))
    // The agent sends no invocation (the proxy signs); one it sends anyway is replaced, not forwarded.
    const result = await p.agent.callTool({ ...EMAIL, _meta: { [META_INVOCATION]: 'mni1_from-the-agent', note: 'kept' } })
    expect(text(result)).toBe('sent to bob@example.com')
    expect(p.runs.calls).toHaveLength(1)
    const seen = p.runs.calls[0]?.meta ?? {}
    expect(seen['note']).toBe('kept')
    expect(seen[META_APPROVALS]).toBeUndefined()
    const forwarded = parseInvocation(seen[META_INVOCATION] as string)
    expect(forwarded.action).toBe('mcp:mail:send_email')
    expect(forwarded.args).toEqual(EMAIL.arguments)
    // One invocation, decided twice: by the proxy, then by the upstream.
    expect(p.proxyRecords.map((r) => [r.decision, r.invocationId])).toEqual([['allow', forwarded.idHex]])
    expect(p.upstreamRecords.map((r) => [r.decision, r.invocationId])).toEqual([['allow', forwarded.idHex]])
    // A second identical call is a new invocation: no replay.
    expect(text(await p.agent.callTool(EMAIL))).toBe('sent to bob@example.com')
    expect(p.upstreamRecords.map((r) => r.decision)).toEqual(['allow', 'allow'])
    await p.close()
  })

  it('a call the proxy denies never reaches the upstream (ERR_ACTION_DENIED); one the upstream denies comes back as its denial', async () => {
    const p = await throughProxy(grant([{ type: 'actions', patterns: ['mcp:mail:list_inbox'] }]))
    expect(denial(await p.agent.callTool(EMAIL)).code).toBe('ERR_ACTION_DENIED')
    expect(p.proxyRecords.map((r) => r.code)).toEqual(['ERR_ACTION_DENIED'])
    expect(p.upstreamRecords).toHaveLength(0)
    expect(p.runs.calls).toHaveLength(0)
    await p.close()
    // The upstream maps send_email to another action than the proxy signs: it decides for itself.
    const q = await throughProxy(grant(MAIL_TOOLS), false, { send_email: 'mail:send' })
    const doc = denial(await q.agent.callTool(EMAIL))
    expect(doc.code).toBe('ERR_REQUEST_INVALID')
    expect(doc.message).toBe('the request differs from what the invocation signs: action')
    expect(q.proxyRecords.map((r) => r.decision)).toEqual(['allow'])
    expect(q.upstreamRecords.map((r) => [r.decision, r.code])).toEqual([['deny', 'ERR_REQUEST_INVALID']])
    expect(q.runs.calls).toHaveLength(0)
    await q.close()
  })

  it('approval: the proxy files the request, Alice approves, and the upstream gets the approvals with the invocation', async () => {
    const mandate = grant([...MAIL_TOOLS, { type: 'approval', actions: ['mcp:mail:send_email'], approvers: [ALICE], quorum: 1 }])
    const p = await throughProxy(mandate, true)
    const asked = denial(await p.agent.callTool(EMAIL))
    expect(asked.code).toBe('ERR_APPROVAL_REQUIRED')
    const requestId = asked.approval?.requestId as string
    expect(requestId).toMatch(/^[0-9a-f]{64}$/)
    expect(p.upstreamRecords).toHaveLength(0)
    const entry = (await http(`${service.url}/v1/approvals/${requestId}`, { key: alice })).json as { invocation: string }
    const approval = formatApproval(approve({ approver: alice, invocation: parseInvocation(entry.invocation) }))
    expect((await http(`${service.url}/v1/approvals/${requestId}`, { body: { approval }, key: alice })).status).toBe(200)
    expect(text(await p.agent.callTool(EMAIL))).toBe('sent to bob@example.com')
    const seen = p.runs.calls[0]?.meta ?? {}
    expect(parseInvocation(seen[META_INVOCATION] as string).idHex).toBe(requestId)
    expect(seen[META_APPROVALS]).toEqual([approval])
    expect(p.upstreamRecords.map((r) => [r.decision, r.invocationId])).toEqual([['allow', requestId]])
    await p.close()
  })
})

describe('the agent-side invocation as invoke() makes it', () => {
  it('invocationMeta signs what invoke signs for the same call', async () => {
    const mandate = grant(MAIL_TOOLS)
    const meta = sign(mandate, EMAIL)
    const inv = parseInvocation(meta[META_INVOCATION])
    expect({ action: inv.action, audience: inv.audience, args: inv.args, resource: inv.resource }).toEqual({
      action: 'mcp:mail:send_email',
      audience: 'mail',
      args: EMAIL.arguments,
      resource: undefined,
    })
    // The same request signed with invoke() directly is accepted the same way.
    const { client, close } = await mailServer(mailVerifier())
    const direct = formatInvocation(
      invoke(mandate, { key: assistant, action: 'mcp:mail:send_email', audience: 'mail', args: EMAIL.arguments }),
    )
    expect(text(await client.callTool({ ...EMAIL, _meta: { [META_INVOCATION]: direct } }))).toBe('sent to bob@example.com')
    await close()
  })
})
