/**
 * The whole story, through both doors (`npm run build && npx tsx examples/delegation.ts`):
 *
 *   Alice ──mint──▶ assistant ──attenuate──▶ researcher (a sub-agent)
 *                                               │
 *                  ┌──── HTTP (mandate/http) ───┴──── MCP (mandate mcp) ────┐
 *                  ▼                                                        ▼
 *       calendar API (Hono + mandate/http/hono)          @modelcontextprotocol/server-everything
 *
 * The researcher lists Alice's events, creates one (which needs Alice's approval: the guard
 * files the request in the service's inbox, Alice reads it there and approves, the agent's
 * `fetch` sends the request again), calls an MCP tool its mandate allows and one it does not.
 * Every decision names the whole chain: Alice → assistant → researcher → the service called.
 *
 * The mandate service (revocations, usage counters, replay claims, the approval inbox) runs
 * embedded, on SQLite in a temporary directory, as `mandate serve` would.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { serve } from '@hono/node-server'
import { Client } from '@modelcontextprotocol/sdk/client/index.js'
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js'
import { Hono } from 'hono'
import {
  answerApprovalRequest,
  approve,
  attenuate,
  createFeedRevocationView,
  createRemoteReplayCache,
  createRemoteUsageStore,
  createVerifier,
  exportSecretKeyPem,
  formatMandate,
  generateKeyPair,
  listApprovalRequests,
  mint,
  parseInvocation,
  toDidKey,
} from 'mandate'
import { createHttpGuard, createMandateFetch } from 'mandate/http'
import { type MandateVariables, mandate } from 'mandate/http/hono'
import { startService } from 'mandate/service'

const dir = mkdtempSync(join(tmpdir(), 'mandate-example-'))
const now = Math.floor(Date.now() / 1000)
const say = (line: string) => console.log(line)

// Everyone's keys. The two services' verifiers are registered with the mandate service, which
// counts uses and claims invocations only for them.
const alice = generateKeyPair()
const assistant = generateKeyPair()
const researcher = generateKeyPair()
const calendarKey = generateKeyPair()
const everythingKey = generateKeyPair()
const ALICE = toDidKey(alice.publicKey)

const service = await startService({
  host: '127.0.0.1',
  port: 0,
  db: join(dir, 'mandate.db'),
  keyFile: join(dir, 'service.pem'),
  logLevel: 'silent',
  trust: {
    roots: [{ name: 'alice', key: ALICE }],
    verifiers: [
      { name: 'calendar', key: toDidKey(calendarKey.publicKey) },
      { name: 'everything', key: toDidKey(everythingKey.publicKey) },
    ],
  },
})

try {
  // 1. Alice delegates to her assistant: her calendar and the "everything" MCP server's tools,
  //    for 8 hours; creating an event needs her approval; deleting one, never.
  const grant = mint({
    principal: alice,
    to: toDidKey(assistant.publicKey),
    name: 'assistant',
    purpose: 'keep my week in order',
    now,
    caveats: [
      { type: 'actions', patterns: ['calendar:*', 'mcp:everything:*'] },
      { type: 'deny', patterns: ['calendar:events:delete'] },
      { type: 'approval', actions: ['calendar:events:create'], approvers: [ALICE], quorum: 1 },
      { type: 'window', expires: now + 8 * 3600 },
    ],
  })
  say(`alice → assistant       calendar:*, mcp:everything:*; events:create needs alice; 8 h`)

  // 2. The assistant narrows it for a sub-agent, offline: fewer actions, 10 uses, 1 hour.
  const sub = attenuate(grant, {
    key: assistant,
    to: toDidKey(researcher.publicKey),
    name: 'researcher',
    purpose: 'plan lunch with Bob',
    now,
    caveats: [
      { type: 'actions', patterns: ['calendar:events:list', 'calendar:events:create', 'mcp:everything:echo'] },
      { type: 'uses', max: 10 },
      { type: 'window', expires: now + 3600 },
    ],
  })
  say(`assistant → researcher  events:list, events:create, mcp:everything:echo; 10 uses; 1 h`)

  // 3. The calendar API embeds a verifier behind the HTTP guard. Requests that need an approval
  //    are filed in the service's inbox; uses are counted and invocations claimed there.
  const revocations = createFeedRevocationView({ url: service.url, serviceKey: service.serviceKey })
  await revocations.sync()
  const guard = createHttpGuard({
    verifier: createVerifier({
      roots: [{ name: 'alice', key: ALICE }],
      audience: 'calendar',
      revocations,
      usage: createRemoteUsageStore({ url: service.url, key: calendarKey }),
      replay: createRemoteReplayCache({ url: service.url, key: calendarKey }),
    }),
    inbox: { url: service.url },
  })
  const events: { title: string }[] = []
  const app = new Hono<{ Variables: MandateVariables }>()
  const chainOf = (c: { get(k: 'mandate'): MandateVariables['mandate'] }) =>
    `${c
      .get('mandate')
      .chain.map((l) => l.name)
      .join(' → ')} → calendar`
  app.get(
    '/events',
    mandate(guard, () => ({ action: 'calendar:events:list' })),
    (c) => {
      say(`  calendar API: ${chainOf(c)}  (events:list)`)
      return c.json(events)
    },
  )
  app.post(
    '/events',
    mandate(guard, (_c, body) => ({ action: 'calendar:events:create', args: { title: JSON.parse(new TextDecoder().decode(body)).title } })),
    async (c) => {
      const event = (await c.req.json()) as { title: string }
      events.push(event)
      say(`  calendar API: ${chainOf(c)}  (events:create, approved by alice)`)
      return c.json(event, 201)
    },
  )
  const api = serve({ fetch: app.fetch, hostname: '127.0.0.1', port: 0 })
  await new Promise<void>((resolve) => api.once('listening', resolve))
  const apiUrl = `http://127.0.0.1:${(api.address() as { port: number }).port}`

  // 4. The researcher calls the API in one line per request: its fetch signs an invocation bound
  //    to the method, the URL and the exact body, and waits for approvals when one is needed.
  const call = createMandateFetch({
    mandate: sub,
    key: researcher,
    audience: 'calendar',
    approvals: { url: service.url, withinMs: 30_000 },
  })
  say('researcher GET /events')
  say(`  → ${(await call(`${apiUrl}/events`, { mandate: { action: 'calendar:events:list' } })).status}`)

  // Alice, at her inbox: she reads what is asked, by whom, for whom and why, then approves.
  const aliceAtHerInbox = (async () => {
    for (;;) {
      const [request] = (await listApprovalRequests(alice, { url: service.url })).pending
      if (request) {
        // (Arguments whose names start with @ are the binding's: the method, target and body digest.)
        const args = Object.fromEntries(Object.entries(request.args).filter(([k]) => !k.startsWith('@')))
        const chain = request.chain.map((b) => b.name).join(' → ')
        say(`  alice's inbox: ${chain} asks ${request.action} ${JSON.stringify(args)}, "${request.intent}"; she approves`)
        await answerApprovalRequest(approve({ approver: alice, invocation: parseInvocation(request.invocation) }), alice, {
          url: service.url,
        })
        return
      }
      await new Promise((r) => setTimeout(r, 100))
    }
  })()
  say('researcher POST /events {"title":"Lunch with Bob"}')
  const created = await call(`${apiUrl}/events`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ title: 'Lunch with Bob' }),
    mandate: { action: 'calendar:events:create', args: { title: 'Lunch with Bob' }, intent: 'book lunch with Bob on Friday' },
  })
  await aliceAtHerInbox
  say(`  → ${created.status}`)
  api.close()

  // 5. The same mandate at an MCP server: `mandate mcp` in front of server-everything, the
  //    researcher's MCP client talking to it over standard I/O.
  const mandateFile = join(dir, 'researcher.mandate')
  const keyFile = join(dir, 'researcher.pem')
  const verifierFile = join(dir, 'everything.pem')
  const auditFile = join(dir, 'mcp-audit.jsonl')
  writeFileSync(mandateFile, formatMandate(sub), { mode: 0o600 })
  writeFileSync(keyFile, exportSecretKeyPem(researcher.secretKey), { mode: 0o600 })
  writeFileSync(verifierFile, exportSecretKeyPem(everythingKey.secretKey), { mode: 0o600 })
  const bin = fileURLToPath(new URL('../bin/mandate.js', import.meta.url)) // `npx mandate` where installed
  const everything = createRequire(import.meta.url).resolve('@modelcontextprotocol/server-everything/dist/index.js')
  const client = new Client({ name: 'researcher', version: '1.0.0' })
  await client.connect(
    new StdioClientTransport({
      command: process.execPath,
      args: [
        bin,
        'mcp',
        ...['--mandate', mandateFile, '--key', keyFile, '--root', `alice=${ALICE}`, '--audience', 'everything'],
        ...['--service', service.url, '--service-key', service.serviceKey, '--verifier-key', verifierFile, '--audit', auditFile],
        '--',
        process.execPath,
        everything,
      ],
      stderr: 'ignore',
    }),
  )
  const { tools } = await client.listTools()
  say(`researcher tools/list → ${tools.map((t) => t.name).join(', ')}  (only what the mandate can allow)`)
  const echo = await client.callTool({ name: 'echo', arguments: { message: 'hello from the researcher' } })
  say(`researcher tools/call echo → ${(echo.content as { text: string }[])[0]?.text}`)
  const env = await client.callTool({ name: 'get-env', arguments: {} })
  const denied = JSON.parse((env.content as { text: string }[])[0]?.text ?? '{}') as { code: string }
  say(`researcher tools/call get-env → ${env.isError ? 'tool error' : 'result'} ${denied.code}`)
  await client.close()

  // 6. The audit: each MCP call left one record, naming the whole chain.
  say('audit (mandate mcp):')
  for (const line of readFileSync(auditFile, 'utf8').trim().split('\n')) {
    const r = JSON.parse(line) as { tool: string; decision: string; code?: string; chain: { name?: string }[]; audience: string }
    say(`  ${r.chain.map((l) => l.name ?? '?').join(' → ')} → ${r.audience}  ${r.tool}: ${r.decision}${r.code ? ` ${r.code}` : ''}`)
  }
} finally {
  await service.close()
  rmSync(dir, { recursive: true, force: true })
}
