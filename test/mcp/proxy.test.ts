/**
 * `mandate mcp` for real: the SDK's own Client ↔ `bin/mandate.js mcp` (built) ↔
 * `@modelcontextprotocol/server-everything` (pinned, from npm), each its own process over
 * standard I/O, with a real mandate service (SQLite, HTTP on loopback) for usage counters,
 * revocations and the approval inbox. Each case asserts the exact code the model reads.
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { readFileSync, statSync, writeFileSync } from 'node:fs'
import { request } from 'node:http'
import { createRequire } from 'node:module'
import { join } from 'node:path'
import type { Readable } from 'node:stream'
import { Client } from '@modelcontextprotocol/sdk/client/index.js'
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js'
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js'
import { ResultSchema } from '@modelcontextprotocol/sdk/types.js'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  approve,
  type Caveat,
  createRevocation,
  exportSecretKeyPem,
  formatApproval,
  formatMandate,
  formatRevocation,
  generateKeyPair,
  type KeyPair,
  mint,
  parseInvocation,
  toDidKey,
  type UnverifiedMandate,
} from '../../src/index.js'
import { closedPort } from '../cli/ports.js'
import { BIN, mandate as cli, scratch } from '../helpers/cli.js'
import { http, type ServiceUnderTest, startInProcess } from '../helpers/service.js'

const CLOCK_AHEAD = new URL('../helpers/clock-ahead.mjs', import.meta.url).href
const EVERYTHING = createRequire(import.meta.url).resolve('@modelcontextprotocol/server-everything/dist/index.js')
const dir = scratch()
const alice = generateKeyPair()
const assistant = generateKeyPair()
const verifierKey = generateKeyPair()
const ALICE = toDidKey(alice.publicKey)
const ECHO_AND_SUM: Caveat[] = [{ type: 'actions', patterns: ['mcp:everything:echo', 'mcp:everything:get-sum'] }]

function keyFile(name: string, key: KeyPair): string {
  const path = join(dir, `${name}.pem`)
  writeFileSync(path, exportSecretKeyPem(key.secretKey), { mode: 0o600 })
  return path
}
const ASSISTANT_PEM = keyFile('assistant', assistant)
const VERIFIER_PEM = keyFile('verifier', verifierKey)

let counter = 0
/** A mandate from Alice to the assistant with `caveats` (and an hour), in a file. */
function grantFile(caveats: Caveat[]): { path: string; mandate: UnverifiedMandate } {
  const mandate = mint({
    principal: alice,
    to: toDidKey(assistant.publicKey),
    name: 'assistant',
    purpose: 'keep me organized',
    caveats: [...caveats, { type: 'window', expires: Math.floor(Date.now() / 1000) + 3600 }],
  })
  const path = join(dir, `grant-${counter++}.txt`)
  writeFileSync(path, formatMandate(mandate), { mode: 0o600 })
  return { path, mandate }
}

interface Proxy {
  readonly client: Client
  /** What the proxy wrote on standard error so far (its announcement and audit lines). */
  stderr(): string
  close(): Promise<void>
}

const env = { PATH: process.env['PATH'] ?? '', HOME: process.env['HOME'] ?? '/tmp', NO_COLOR: '1' }
const common = (grant: string) => ['mcp', '--mandate', grant, '--key', ASSISTANT_PEM, '--root', `alice=${ALICE}`]
const open: Proxy[] = []

/**
 * The SDK's client connected to `mandate mcp FLAGS -- node server-everything`, addressed as
 * `everything` (actions `mcp:everything:<tool>`) unless `named` leaves the upstream's own name.
 */
async function proxy(grant: string, flags: readonly string[] = [], named = false): Promise<Proxy> {
  const transport = new StdioClientTransport({
    command: process.execPath,
    args: [BIN, ...common(grant), ...(named ? [] : ['--audience', 'everything']), ...flags, '--', process.execPath, EVERYTHING],
    env,
    stderr: 'pipe',
    cwd: dir,
  })
  let err = ''
  ;(transport.stderr as Readable).on('data', (d) => {
    err += String(d)
  })
  const client = new Client({ name: 'agent', version: '1.0.0' })
  await client.connect(transport)
  const p = { client, stderr: () => err, close: () => client.close() }
  open.push(p)
  return p
}

/** The text block of a tool result, and its JSON when it is a denial. */
function text(result: unknown): string {
  return ((result as { content: { text: string }[] }).content[0] as { text: string }).text
}
/** The document a denial's text holds (src/mcp/result.ts). */
interface Denial {
  readonly code: string
  readonly message: string
  readonly hint?: string
  readonly action?: string
  readonly approval?: { readonly requestId?: string; readonly waitingFor: string[] }
  readonly usage?: unknown
  readonly revoked?: unknown
}
function denial(result: unknown): Denial {
  expect((result as { isError?: boolean }).isError).toBe(true)
  return JSON.parse(text(result))
}

async function until<T>(what: string, probe: () => Promise<T | undefined>, ms = 15_000): Promise<T> {
  const end = Date.now() + ms
  for (;;) {
    const v = await probe()
    if (v !== undefined) return v
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 100))
  }
}

let service: ServiceUnderTest
const withService = () => ['--service', service.url, '--service-key', service.serviceKey]

beforeAll(async () => {
  service = await startInProcess({ roots: [`alice=${ALICE}`], verifiers: [`everything=${toDidKey(verifierKey.publicKey)}`] })
})
afterAll(async () => {
  await Promise.allSettled(open.map((p) => p.close()))
  await service?.stop()
})

describe('mandate mcp in front of server-everything (stdio)', () => {
  it('lists only the tools the mandate allows, and passes an allowed call through unchanged', async () => {
    // Addressed as mcp-servers/everything (the name it gives itself), one segment in actions.
    const { path } = grantFile([{ type: 'actions', patterns: ['mcp:mcp-servers-everything:echo', 'mcp:mcp-servers-everything:get-sum'] }])
    const audit = join(dir, 'audit.jsonl')
    const guarded = await proxy(path, ['--audit', audit, '--audience', 'mcp-servers/everything'], true)
    const direct = new Client({ name: 'direct', version: '1.0.0' })
    await direct.connect(new StdioClientTransport({ command: process.execPath, args: [EVERYTHING], env, stderr: 'pipe' }))
    try {
      const listed = (await guarded.client.listTools()).tools
      expect(listed.map((t) => t.name)).toEqual(['echo', 'get-sum'])
      const upstream = (await direct.listTools()).tools
      expect(listed).toEqual(upstream.filter((t) => t.name === 'echo' || t.name === 'get-sum'))
      expect(upstream.length).toBeGreaterThan(listed.length)
      for (const [name, args] of [
        ['echo', { message: 'hello, world' }],
        ['get-sum', { a: 2, b: 40 }],
      ] as const) {
        const through = await guarded.client.callTool({ name, arguments: args })
        expect(through).toEqual(await direct.callTool({ name, arguments: args }))
        expect(through.isError).toBeUndefined()
      }
      expect(text(await guarded.client.callTool({ name: 'get-sum', arguments: { a: 2, b: 40 } }))).toBe('The sum of 2 and 40 is 42.')
      // The audit file: created 0600, one line per call, the upstream's name as audience by default.
      expect(statSync(audit).mode & 0o777).toBe(0o600)
      const lines = readFileSync(audit, 'utf8')
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l))
      expect(lines.map((l) => [l.tool, l.decision])).toEqual([
        ['echo', 'allow'],
        ['get-sum', 'allow'],
        ['get-sum', 'allow'],
      ])
      expect(lines[0]).toMatchObject({ audience: 'mcp-servers/everything', action: 'mcp:mcp-servers-everything:echo', revocations: 'none' })
      expect(lines[0].chain.map((l: { name?: string }) => l.name)).toEqual(['alice', 'assistant'])
      expect(guarded.stderr()).toContain('the mandate can allow 2 of its')
    } finally {
      await direct.close()
      await guarded.close()
    }
  })

  it('a tool outside the mandate is hidden, and calling it anyway is ERR_ACTION_DENIED (the upstream never sees it)', async () => {
    const { path } = grantFile(ECHO_AND_SUM)
    const guarded = await proxy(path)
    const result = await guarded.client.callTool({ name: 'get-env', arguments: {} })
    const doc = denial(result)
    expect(doc.code).toBe('ERR_ACTION_DENIED')
    expect(doc.action).toBe('mcp:everything:get-env')
    expect(text(result)).not.toContain('PATH') // get-env would have printed the environment
    // Without --audit, the record goes to standard error.
    await until('the audit line', async () => (guarded.stderr().includes('"code":"ERR_ACTION_DENIED"') ? true : undefined))
    await guarded.close()
  })

  it('resources and prompts are refused unless passed (unguarded); ping and logging pass', async () => {
    const { path } = grantFile(ECHO_AND_SUM)
    const closed = await proxy(path)
    expect(closed.client.getServerCapabilities()?.resources).toBeUndefined()
    expect(closed.client.getServerCapabilities()?.prompts).toBeUndefined()
    await expect(closed.client.listResources()).rejects.toThrow()
    await expect(closed.client.request({ method: 'prompts/list', params: {} }, ResultSchema)).rejects.toThrow(/Method not found/)
    expect(await closed.client.ping()).toEqual({})
    expect(await closed.client.setLoggingLevel('error')).toEqual({})
    await closed.close()
    const passing = await proxy(path, ['--pass', 'resources', '--pass', 'prompts'])
    const resources = (await passing.client.listResources()).resources
    expect(resources.length).toBeGreaterThan(0)
    const first = resources[0] as { uri: string }
    expect((await passing.client.readResource({ uri: first.uri })).contents[0]?.uri).toBe(first.uri)
    expect((await passing.client.listPrompts()).prompts.map((p) => p.name)).toContain('simple-prompt')
    await passing.close()
  })

  it('an argument rule (a where caveat on the tool input) violated is ERR_ARGS_DENIED; arguments no mandate can carry, ERR_REQUEST_INVALID', async () => {
    const { path } = grantFile([
      ...ECHO_AND_SUM,
      { type: 'where', actions: ['mcp:everything:echo'], rules: [{ path: 'message', op: 'prefix', value: 'hello' }] },
    ])
    const guarded = await proxy(path)
    expect(denial(await guarded.client.callTool({ name: 'echo', arguments: { message: 'rm -rf /' } })).code).toBe('ERR_ARGS_DENIED')
    expect(text(await guarded.client.callTool({ name: 'echo', arguments: { message: 'hello there' } }))).toBe('Echo: hello there')
    const float = denial(await guarded.client.callTool({ name: 'get-sum', arguments: { a: 0.5, b: 1 } }))
    expect(float.code).toBe('ERR_REQUEST_INVALID')
    expect(float.message).toBe('argument a is a number with a fraction')
    await guarded.close()
  })

  it('a quota counted at the service: the third call is ERR_USAGE_EXHAUSTED, and stays so for a new proxy', async () => {
    const { path } = grantFile([...ECHO_AND_SUM, { type: 'uses', max: 2 }])
    const flags = [...withService(), '--verifier-key', VERIFIER_PEM]
    const first = await proxy(path, flags)
    expect(text(await first.client.callTool({ name: 'echo', arguments: { message: 'one' } }))).toBe('Echo: one')
    expect(text(await first.client.callTool({ name: 'echo', arguments: { message: 'two' } }))).toBe('Echo: two')
    const third = denial(await first.client.callTool({ name: 'echo', arguments: { message: 'three' } }))
    expect(third.code).toBe('ERR_USAGE_EXHAUSTED')
    expect(third.usage).toEqual({ resetsAt: 'never: the quota is spent', max: 2 })
    await first.close()
    const second = await proxy(path, flags)
    expect(denial(await second.client.callTool({ name: 'echo', arguments: { message: 'four' } })).code).toBe('ERR_USAGE_EXHAUSTED')
    await second.close()
    // Without a verifier key the service counts nothing for the proxy: a quota denies (fail closed).
    const keyless = await proxy(path, withService())
    expect(denial(await keyless.client.callTool({ name: 'echo', arguments: { message: 'x' } })).code).toBe('ERR_COUNTER_UNAVAILABLE')
    await keyless.close()
  })

  it('approval: the proxy files the request, Alice approves it through the service, and the waiting call goes through', async () => {
    const { path } = grantFile([...ECHO_AND_SUM, { type: 'approval', actions: ['mcp:everything:get-sum'], approvers: [ALICE], quorum: 1 }])
    const guarded = await proxy(path, [...withService(), '--approval-wait', '30s'])
    const call = guarded.client.callTool({ name: 'get-sum', arguments: { a: 2, b: 3 } })
    // Alice reads her inbox (signed with her key), sees who asks for what, and approves.
    const entry = await until('the request in the inbox', async () => {
      const inbox = await http(`${service.url}/v1/approvals`, { key: alice })
      const pending = inbox.json['pending'] as { id: string; action: string; args: { a?: number }; invocation: string }[]
      return pending.find((e) => e.args.a === 2)
    })
    expect(entry.action).toBe('mcp:everything:get-sum')
    expect(entry.args).toEqual({ a: 2, b: 3 })
    const approval = formatApproval(approve({ approver: alice, invocation: parseInvocation(entry.invocation) }))
    const posted = await http(`${service.url}/v1/approvals/${entry.id}`, { body: { approval }, key: alice })
    expect(posted.status).toBe(200)
    expect(text(await call)).toBe('The sum of 2 and 3 is 5.')
    await until('the audit line', async () => (guarded.stderr().includes(`"approvalRequestId":"${entry.id}"`) ? true : undefined))
    expect(guarded.stderr()).toMatch(/"decision":"allow"[^\n]*"approvalRequestId"/)
    await guarded.close()
  })

  it('approval without waiting: ERR_APPROVAL_REQUIRED with the request id; once approved, the same call goes through', async () => {
    const { path } = grantFile([...ECHO_AND_SUM, { type: 'approval', actions: ['mcp:everything:get-sum'], approvers: [ALICE], quorum: 1 }])
    const guarded = await proxy(path, withService())
    const asked = denial(await guarded.client.callTool({ name: 'get-sum', arguments: { a: 20, b: 22 } }))
    expect(asked.code).toBe('ERR_APPROVAL_REQUIRED')
    const { requestId, waitingFor } = asked.approval as { requestId: string; waitingFor: string[] }
    expect(requestId).toMatch(/^[0-9a-f]{64}$/)
    expect(waitingFor).toEqual([ALICE])
    expect(asked.hint).toContain(requestId)
    // Not approved yet: asked again, the same request, still pending.
    const again = denial(await guarded.client.callTool({ name: 'get-sum', arguments: { a: 20, b: 22 } }))
    expect((again.approval as { requestId: string }).requestId).toBe(requestId)
    const entry = (await http(`${service.url}/v1/approvals/${requestId}`, { key: alice })).json as { invocation: string }
    const approval = formatApproval(approve({ approver: alice, invocation: parseInvocation(entry.invocation) }))
    expect((await http(`${service.url}/v1/approvals/${requestId}`, { body: { approval }, key: alice })).status).toBe(200)
    expect(text(await guarded.client.callTool({ name: 'get-sum', arguments: { a: 20, b: 22 } }))).toBe('The sum of 20 and 22 is 42.')
    // Another call is another request: the approval was for that one only.
    expect(denial(await guarded.client.callTool({ name: 'get-sum', arguments: { a: 1, b: 1 } })).code).toBe('ERR_APPROVAL_REQUIRED')
    await guarded.close()
  })

  it('revoked mid-session: once the feed has the revocation, the next call is ERR_REVOKED', async () => {
    const { path, mandate } = grantFile(ECHO_AND_SUM)
    const guarded = await proxy(path, withService())
    expect(text(await guarded.client.callTool({ name: 'echo', arguments: { message: 'before' } }))).toBe('Echo: before')
    const statement = createRevocation({ mandate, key: alice, block: 0, reason: 'the assistant is retired' })
    const posted = await http(`${service.url}/v1/revocations`, { body: { revocation: formatRevocation(statement) } })
    expect(posted.status).toBeLessThan(300)
    const revoked = await until('ERR_REVOKED', async () => {
      const result = await guarded.client.callTool({ name: 'echo', arguments: { message: 'after' } })
      return result.isError ? denial(result) : undefined
    })
    expect(revoked.code).toBe('ERR_REVOKED')
    expect(revoked.revoked).toMatchObject({ by: ALICE, reason: 'the assistant is retired' })
    await guarded.close()
  })
})

describe('mandate mcp over Streamable HTTP', () => {
  /**
   * The everything server over HTTP, and `mandate mcp --listen` in front of it; `url` is the
   * proxy's endpoint. `clockAhead()` moves the proxy's clock six minutes on (test/helpers/clock-ahead.mjs).
   */
  async function listening(): Promise<{ url: string; stop(): void; clockAhead(): Promise<void> }> {
    const port = await closedPort()
    const upstream: ChildProcess = spawn(process.execPath, [EVERYTHING, 'streamableHttp'], {
      env: { ...env, PORT: String(port) },
      stdio: 'pipe',
    })
    let proc: ChildProcess | undefined
    const stop = () => {
      proc?.kill('SIGTERM')
      upstream.kill('SIGTERM')
    }
    try {
      await until('the upstream to listen', async () => {
        const res = await fetch(`http://127.0.0.1:${port}/mcp`, { method: 'GET' }).catch(() => undefined)
        return res ? true : undefined
      })
      const { path } = grantFile(ECHO_AND_SUM)
      proc = spawn(
        process.execPath,
        [
          '--import',
          CLOCK_AHEAD,
          BIN,
          ...common(path),
          '--audience',
          'everything',
          '--upstream',
          `http://127.0.0.1:${port}/mcp`,
          '--listen',
          '127.0.0.1:0',
        ],
        { env, stdio: ['ignore', 'ignore', 'pipe'] },
      )
      let err = ''
      proc.stderr?.on('data', (d) => {
        err += String(d)
      })
      const url = await until('the listening line', async () => /listening on (http:\/\/\S+)/.exec(err)?.[1])
      let moved = 0
      const clockAhead = async () => {
        moved += 6
        const line = `clock-ahead: ${moved} minutes`
        proc?.kill('SIGUSR2')
        await until(line, async () => err.includes(line) || undefined)
      }
      return { url, stop, clockAhead }
    } catch (e) {
      stop()
      throw e
    }
  }

  /** A raw initialize with this Host: its status, session id and body. */
  const initialize = (url: string, host = new URL(url).host) =>
    new Promise<{ status: number; session: string | undefined; retryAfter: string | undefined; body: string }>((resolve, reject) => {
      const req = request(url, {
        method: 'POST',
        headers: { host, 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
      })
      req.on('response', (res) => {
        let body = ''
        res.on('data', (d) => {
          body += String(d)
        })
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            session: res.headers['mcp-session-id'] as string | undefined,
            retryAfter: res.headers['retry-after'] as string | undefined,
            body,
          }),
        )
      })
      req.on('error', reject)
      const params = { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'raw', version: '1' } }
      req.end(JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params }))
    })

  /** The status of a `ping` in session `session`. */
  const ping = async (url: string, session: string): Promise<number> => {
    const res = await fetch(url, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        accept: 'application/json, text/event-stream',
        'mcp-session-id': session,
        'mcp-protocol-version': '2025-06-18',
      },
      body: JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'ping' }),
    })
    await res.arrayBuffer()
    return res.status
  }

  it('serves the agent on a loopback port and reaches an upstream by URL', async () => {
    const { url, stop } = await listening()
    try {
      const client = new Client({ name: 'agent', version: '1.0.0' })
      await client.connect(new StreamableHTTPClientTransport(new URL(url)))
      expect((await client.listTools()).tools.map((t) => t.name)).toEqual(['echo', 'get-sum'])
      expect(text(await client.callTool({ name: 'echo', arguments: { message: 'over http' } }))).toBe('Echo: over http')
      expect(denial(await client.callTool({ name: 'get-env', arguments: {} })).code).toBe('ERR_ACTION_DENIED')
      await client.close()
      // Another host name (a rebound DNS name) is refused.
      expect((await initialize(url)).status).toBe(200)
      expect((await initialize(url, `evil.example:${new URL(url).port}`)).status).toBe(403)
    } finally {
      stop()
    }
  })

  it('keeps at most 64 sessions (anyone on the machine can open one): past them, 503 until one ends', async () => {
    const { url, stop } = await listening()
    try {
      const opened = await Promise.all(Array.from({ length: 64 }, () => initialize(url)))
      expect(opened.map((o) => o.status)).toEqual(Array(64).fill(200))
      const refused = await initialize(url)
      expect([refused.status, refused.retryAfter, JSON.parse(refused.body)]).toEqual([
        503,
        '60',
        {
          jsonrpc: '2.0',
          error: {
            code: -32000,
            message: '64 sessions are open, none idle: end one (DELETE /mcp with its Mcp-Session-Id) or try again later',
          },
          id: null,
        },
      ])
      // One ended by its client makes room.
      const ended = await fetch(url, { method: 'DELETE', headers: { 'mcp-session-id': opened[0]?.session as string } })
      expect(ended.status).toBe(200)
      expect((await initialize(url)).status).toBe(200)
      expect((await initialize(url)).status).toBe(503)
    } finally {
      stop()
    }
  })

  it('when full, a session idle for five minutes makes room, least recently used first; one in use is kept', async () => {
    const { url, stop, clockAhead } = await listening()
    try {
      const opened = await Promise.all(Array.from({ length: 64 }, () => initialize(url)))
      const sessions = opened.map((o) => o.session as string)
      expect(opened.map((o) => o.status)).toEqual(Array(64).fill(200))
      // Idle, but not for five minutes: nothing makes room.
      expect((await initialize(url)).status).toBe(503)
      await clockAhead()
      // Asked since: the first session is the most recently used now, the second the least.
      expect(await ping(url, sessions[0] as string)).toBe(200)
      const fresh = await initialize(url)
      expect(fresh.status).toBe(200)
      expect(await ping(url, sessions[1] as string)).toBe(404)
      expect(await ping(url, sessions[0] as string)).toBe(200)
      expect(await ping(url, fresh.session as string)).toBe(200)
      // Each new session takes one idle place: the next least recently used goes.
      expect((await initialize(url)).status).toBe(200)
      expect(await ping(url, sessions[2] as string)).toBe(404)
      expect(await ping(url, sessions[3] as string)).toBe(200)
    } finally {
      stop()
    }
  })
})

describe('mandate mcp refuses what cannot work, before starting anything', () => {
  const { path } = grantFile(ECHO_AND_SUM)
  const run = (args: string[]) => cli(['mcp', ...args])
  const cases: [string, string[], RegExp][] = [
    ['no mandate', ['--key', ASSISTANT_PEM, '--', 'node', 'x'], /--mandate TOKEN is required/],
    ['no upstream', common(path).slice(1), /no upstream MCP server/],
    ['two upstreams', [...common(path).slice(1), '--upstream', 'http://127.0.0.1:1/mcp', '--', 'node', 'x'], /not both/],
    ['a non-loopback listen', [...common(path).slice(1), '--listen', '0.0.0.0:8931', '--', 'node', 'x'], /not a loopback address/],
    ['a wait past the invocation', [...common(path).slice(1), '--approval-wait', '10m', '--', 'node', 'x'], /longer than 5m/],
    ['a map to no action', [...common(path).slice(1), '--map', 'getWeather=Weather', '--', 'node', 'x'], /--map: expected TOOL=ACTION/],
    ['an unknown --pass', [...common(path).slice(1), '--pass', 'sampling', '--', 'node', 'x'], /--pass: expected resources or prompts/],
    ['no root', ['--mandate', path, '--key', ASSISTANT_PEM, '--', 'node', 'x'], /no trusted root/],
    // The upstream's own name is its claim, never the audience (spec §9).
    ['no audience', [...common(path).slice(1), '--', 'node', 'x'], /no audience: --audience NAME is required/],
  ]
  for (const [what, args, message] of cases) {
    it(`${what}: exit 2`, () => {
      const r = run(args)
      expect(r.code, r.stderr).toBe(2)
      expect(r.stderr).toMatch(message)
    })
  }

  it("another key than the mandate's holder: ERR_HOLDER_MISMATCH, exit 2", () => {
    const r = run(['--mandate', path, '--key', VERIFIER_PEM, '--root', `alice=${ALICE}`, '--', process.execPath, EVERYTHING])
    expect(r.code, r.stderr).toBe(2)
    expect(r.stderr).toContain('ERR_HOLDER_MISMATCH')
  })

  it('an upstream command that is no MCP server: exit 3', () => {
    const r = run([...common(path).slice(1), '--audience', 'everything', '--', process.execPath, '-e', 'process.exit(1)'])
    expect(r.code, r.stderr).toBe(3)
    expect(r.stderr).toContain('cannot connect to the upstream MCP server')
  })
})
