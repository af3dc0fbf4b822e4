/**
 * `mandate mcp`: a proxy in front of an MCP server (the flags are in ../commands/mcp.ts). The
 * upstream is a command it starts (standard I/O) or a Streamable HTTP URL; the agent reaches
 * the proxy over standard I/O, or Streamable HTTP on a loopback address. What crosses the
 * proxy, and what does not, is in src/mcp/proxy.ts.
 *
 * Standard output belongs to the protocol in standard I/O mode: everything this command says
 * goes to standard error.
 *
 * @module
 */
import { randomUUID } from 'node:crypto'
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { Readable } from 'node:stream'
import type { Client } from '@modelcontextprotocol/sdk/client/index.js'
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js'
import type { Command } from 'commander'
import { isActionName } from '../../caveats/action.js'
import { type KeyPair, toDidKey } from '../../crypto/keys.js'
import { MandateError } from '../../errors.js'
import { auditLine, auditToFile, type ToolAuditSink } from '../../mcp/audit.js'
import { createToolGuard, type ToolGuard } from '../../mcp/guard.js'
import { createProxy, type GuardedProxy, upstreamClient } from '../../mcp/proxy.js'
import { createFeedRevocationView, type FeedRevocationView } from '../../revocation/client.js'
import type { RevocationView } from '../../revocation/view.js'
import { parseMandate, type UnverifiedMandate } from '../../token/mandate.js'
import { createRemoteUsageStore } from '../../usage/remote.js'
import type { UsageStore } from '../../usage/store.js'
import { createDecisionReporter, type DecisionReporter } from '../../verify/report.js'
import { createVerifier } from '../../verify/verifier.js'
import { type Context, serviceOf } from '../context.js'
import { CliError, usage } from '../errors.js'
import { loadKey } from '../io.js'
import { parseNamedKeys } from '../named-keys.js'
import { printable as p } from '../printable.js'
import { serviceKey } from '../service-client.js'
import { type Service, shownUrl } from '../service-flags.js'
import { parseDuration } from '../time.js'
import { holderKey, parsed, readToken } from '../tokens.js'
import { VERSION } from '../version.js'

export interface McpFlags {
  readonly mandate?: string
  readonly key?: string
  readonly root?: string[]
  readonly audience?: string
  readonly upstream?: string
  readonly listen?: string
  readonly service?: string
  readonly serviceKey?: string
  readonly verifierKey?: string
  readonly approvalWait?: string
  readonly actionPrefix?: string
  readonly map?: string[]
  readonly pass?: string[]
  readonly audit?: string
}

/**
 * How long a tool call is held open for its approvers. Longer waits do not need an open call:
 * the call is then answered with the request id, and the same call made again once the
 * request is approved presents the same invocation, which may wait for its approvals for a day
 * (spec §7 steps 7 and 10). MCP clients time requests out long before (the SDK: 60 s).
 */
const MAX_APPROVAL_WAIT_SECONDS = 300
const LOOPBACK = new Set(['127.0.0.1', '::1', 'localhost'])

/** Without a verifier key the service will not count for this proxy: usage caveats deny (fail closed). */
const noCounter: UsageStore = {
  consume() {
    throw new MandateError('ERR_COUNTER_UNAVAILABLE', 'this mandate has a usage limit and no usage counter is configured', {
      hint: 'run the guard with --service URL and --verifier-key FILE (a key registered with the service under this audience)',
    })
  },
}

/** Where the agent reaches the proxy. */
type Listen = { readonly kind: 'stdio' } | { readonly kind: 'http'; readonly host: string; readonly port: number }

function listenFrom(flag: string | undefined): Listen {
  if (flag === undefined) return { kind: 'stdio' }
  const m = /^(?:\[([^\]]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(flag.trim())
  const host = m?.[1] ?? m?.[2]
  const port = Number(m?.[3])
  if (!m || host === undefined || port > 65535)
    usage(`--listen: expected HOST:PORT, got ${JSON.stringify(flag)}`, 'e.g. --listen 127.0.0.1:8931')
  if (!LOOPBACK.has(host)) {
    usage(
      `--listen: ${host} is not a loopback address`,
      "whoever reaches the proxy acts with the agent's mandate and key: listen on 127.0.0.1, ::1 or localhost, and put an authenticating proxy in front for anything else",
    )
  }
  return { kind: 'http', host, port }
}

function approvalWaitFrom(flag: string | undefined): number {
  if (flag === undefined || flag.trim() === '0') return 0
  const seconds = parseDuration(flag, '--approval-wait')
  if (seconds > MAX_APPROVAL_WAIT_SECONDS) {
    usage(
      `--approval-wait: ${flag.trim()} is longer than 5m`,
      'a call is not held open longer: it is answered with the approval request id, and the same call made again once approved goes through',
    )
  }
  return seconds * 1000
}

function mapFrom(entries: readonly string[]): Record<string, string> {
  const map: Record<string, string> = Object.create(null)
  for (const entry of entries) {
    const at = entry.lastIndexOf('=')
    const tool = entry.slice(0, at)
    const action = entry.slice(at + 1)
    if (at <= 0 || !isActionName(action)) {
      usage(
        `--map: expected TOOL=ACTION with ACTION an action name, got ${JSON.stringify(entry.slice(0, 200))}`,
        'e.g. --map getWeather=weather:read (actions are :-separated lowercase segments of a-z 0-9 _ . -)',
      )
    }
    map[tool] = action
  }
  return map
}

function passFrom(values: readonly string[]): { resources: boolean; prompts: boolean } {
  for (const v of values) {
    if (v !== 'resources' && v !== 'prompts')
      usage(`--pass: expected resources or prompts, got ${JSON.stringify(v)}`, 'e.g. --pass resources')
  }
  return { resources: values.includes('resources'), prompts: values.includes('prompts') }
}

/** The upstream server's environment: ours, without the mandate's own settings (they are not its business). */
function upstreamEnv(env: Readonly<Record<string, string | undefined>>): Record<string, string> {
  const out: Record<string, string> = {}
  for (const [k, v] of Object.entries(env)) if (v !== undefined && !k.startsWith('MANDATE_')) out[k] = v
  return out
}

/** A line of the upstream's standard error longer than this is shown in pieces, not held without bound. */
const MAX_STDERR_LINE = 4000

/**
 * The upstream's standard error, line by line, each marked as its own and escaped. It shares the
 * proxy's standard error, where audit records go without --audit: written through raw, a line of
 * it could pass for an audit record (a forged "allow"), or drive the terminal.
 */
function relayStderr(ctx: Context, stream: Readable | null): void {
  if (!stream) return
  let partial = ''
  const emit = (line: string) => ctx.io.err(`mandate mcp: upstream: ${p(line.replace(/\r$/, ''), MAX_STDERR_LINE)}\n`)
  stream.setEncoding('utf8')
  stream.on('data', (chunk: string) => {
    const lines = (partial + chunk).split('\n')
    partial = lines.pop() ?? ''
    for (const line of lines) emit(line)
    if (partial.length > MAX_STDERR_LINE) {
      emit(partial)
      partial = ''
    }
  })
  stream.on('end', () => {
    if (partial !== '') emit(partial)
    partial = ''
  })
}

/** Connect to the upstream: start its command, or reach its URL. Failing to is operational (exit 3). */
async function connectUpstream(ctx: Context, command: readonly string[], url: string | undefined): Promise<Client> {
  const client = upstreamClient(VERSION)
  let transport: Transport
  let what: string
  if (url !== undefined) {
    if (!/^https?:\/\/[^\s/]+/.test(url))
      usage(`--upstream: not an http(s) URL: ${JSON.stringify(url.slice(0, 200))}`, 'e.g. --upstream http://127.0.0.1:3001/mcp')
    const { StreamableHTTPClientTransport } = await import('@modelcontextprotocol/sdk/client/streamableHttp.js')
    transport = new StreamableHTTPClientTransport(new URL(url))
    what = shownUrl(url)
  } else {
    const { StdioClientTransport } = await import('@modelcontextprotocol/sdk/client/stdio.js')
    const stdio = new StdioClientTransport({
      command: command[0] as string,
      args: command.slice(1),
      env: upstreamEnv(ctx.io.env),
      stderr: 'pipe',
    })
    relayStderr(ctx, stdio.stderr as Readable | null)
    transport = stdio
    what = JSON.stringify(command.join(' ').slice(0, 200))
  }
  try {
    await client.connect(transport)
  } catch (e) {
    throw new CliError(
      'ERR_IO',
      `cannot connect to the upstream MCP server ${what}: ${e instanceof Error ? e.message : String(e)}`,
      url === undefined
        ? 'is the command after -- an MCP server speaking over standard I/O?'
        : 'is the URL an MCP server (Streamable HTTP)?',
    )
  }
  return client
}

/** Revocations from the service's signed feed, pushed; a view that cannot sync stays stale (every call denied). */
async function feedView(ctx: Context, service: Service, pinned: string | undefined): Promise<FeedRevocationView> {
  const feed = createFeedRevocationView({
    url: service.url,
    serviceKey: await serviceKey(ctx.io, service, pinned),
    timeoutMs: service.timeoutMs,
    onWarning: (message) => ctx.io.err(`mandate mcp: warning: revocations: ${p(message)}\n`),
  })
  try {
    await feed.sync()
  } catch (e) {
    ctx.io.err(`mandate mcp: warning: revocations from ${shownUrl(service.url)}: ${p(e instanceof Error ? e.message : String(e))}\n`)
  }
  feed.start()
  return feed
}

/** The audit sink: a file (JSON Lines, 0600), or standard error. */
function auditSink(ctx: Context, file: string | undefined): ToolAuditSink {
  if (file === undefined) return (record) => ctx.io.err(`${auditLine(record)}\n`)
  try {
    return auditToFile(file)
  } catch (e) {
    throw new CliError('ERR_IO', `--audit: cannot write ${file}: ${e instanceof Error ? e.message : String(e)}`)
  }
}

/** Serve the agent over standard I/O until it goes away. */
async function serveStdio(proxy: GuardedProxy): Promise<void> {
  const { StdioServerTransport } = await import('@modelcontextprotocol/sdk/server/stdio.js')
  const transport = new StdioServerTransport()
  const closed = new Promise<void>((resolve) => {
    // The transport does not notice the end of its input: the agent closing its pipe ends the session.
    process.stdin.once('end', resolve)
    process.stdin.once('close', resolve)
    const server = proxy.connect(transport)
    void server.then((s) => {
      const previous = s.onclose
      s.onclose = () => {
        previous?.()
        resolve()
      }
    })
  })
  await closed
}

/** Sessions the listener keeps at once (each some 40 KB), and how long one must be idle to make room. */
const MAX_SESSIONS = 64
const IDLE_MS = 5 * 60_000

/**
 * Serve the agent over Streamable HTTP on a loopback address: one session per `initialize`, at
 * most {@link MAX_SESSIONS}. Any local process can open one, and an open session is kept until
 * its client ends it: when full, sessions idle for {@link IDLE_MS} make room (least recently
 * used first; their clients start a new one on 404, as the protocol has them), and a new one is
 * refused (503) while none is.
 */
async function serveHttp(ctx: Context, proxy: GuardedProxy, listen: { host: string; port: number }, done: Promise<void>): Promise<void> {
  const { StreamableHTTPServerTransport } = await import('@modelcontextprotocol/sdk/server/streamableHttp.js')
  const sessions = new Map<string, InstanceType<typeof StreamableHTTPServerTransport>>()
  /** When each session was last asked (a Map keeps them oldest first: each use moves one last). */
  const used = new Map<string, number>()
  const touch = (sid: string) => {
    used.delete(sid)
    used.set(sid, Date.now())
  }
  /** Initializations under way: counted with the open sessions, so that a burst cannot pass the bound. */
  let opening = 0
  const full = () => sessions.size + opening >= MAX_SESSIONS
  const makeRoom = async (): Promise<boolean> => {
    for (const [sid, at] of used) {
      if (!full() || Date.now() - at < IDLE_MS) break
      const idle = sessions.get(sid)
      sessions.delete(sid)
      used.delete(sid)
      await idle?.close()
    }
    return !full()
  }
  let allowedHosts: string[] = []
  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    if (new URL(req.url ?? '/', 'http://localhost').pathname !== '/mcp') {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found: the MCP endpoint is /mcp\n')
      return
    }
    const id = req.headers['mcp-session-id']
    const known = typeof id === 'string' ? sessions.get(id) : undefined
    if (known) {
      touch(id as string)
      return known.handleRequest(req, res)
    }
    if (id !== undefined) {
      res.writeHead(404, { 'content-type': 'application/json' })
      res.end(JSON.stringify({ jsonrpc: '2.0', error: { code: -32001, message: 'session not found' }, id: null }))
      return
    }
    if (!(await makeRoom())) {
      res.writeHead(503, { 'content-type': 'application/json', 'retry-after': '60' })
      const message = `${MAX_SESSIONS} sessions are open, none idle: end one (DELETE /mcp with its Mcp-Session-Id) or try again later`
      res.end(JSON.stringify({ jsonrpc: '2.0', error: { code: -32000, message }, id: null }))
      return
    }
    const transport: InstanceType<typeof StreamableHTTPServerTransport> = new StreamableHTTPServerTransport({
      sessionIdGenerator: () => randomUUID(),
      onsessioninitialized: (sid) => {
        sessions.set(sid, transport)
        touch(sid)
      },
      // A web page the agent's user visits must not reach the proxy through a rebound DNS name.
      enableDnsRebindingProtection: true,
      allowedHosts,
    })
    transport.onclose = () => {
      if (transport.sessionId === undefined) return
      sessions.delete(transport.sessionId)
      used.delete(transport.sessionId)
    }
    opening++
    try {
      await proxy.connect(transport)
      await transport.handleRequest(req, res)
    } finally {
      opening--
    }
    // Anything but an initialize opened no session: nothing to keep.
    if (transport.sessionId === undefined) await transport.close()
  }
  const http = createServer((req, res) => {
    handle(req, res).catch((e: unknown) => {
      ctx.io.err(`mandate mcp: error: ${p(e instanceof Error ? e.message : String(e))}\n`)
      if (!res.headersSent) res.writeHead(500).end()
    })
  })
  await new Promise<void>((resolve, reject) => {
    http.once('error', (e: NodeJS.ErrnoException) =>
      reject(new CliError('ERR_IO', `--listen: cannot listen on ${listen.host}:${listen.port}: ${e.code ?? e.message}`)),
    )
    http.listen(listen.port, listen.host, resolve)
  })
  const address = http.address()
  const port = typeof address === 'object' && address !== null ? address.port : listen.port
  const host = listen.host.includes(':') ? `[${listen.host}]` : listen.host
  allowedHosts = [`${host}:${port}`, `localhost:${port}`]
  ctx.io.err(`mandate mcp: listening on http://${host}:${port}/mcp\n`)
  await done
  await new Promise<void>((resolve) => {
    http.close(() => resolve())
    http.closeAllConnections()
  })
}

/** What the guard lets through, said once at the start (on standard error). */
async function announce(ctx: Context, client: Client, guard: ToolGuard, revocations: string): Promise<void> {
  let names: string[] = []
  try {
    names = (await client.listTools()).tools.map((t) => t.name)
  } catch {
    // A server without tools, or one that lists them later: nothing to announce.
  }
  const allowed = names.filter((n) => guard.canEverAllow(n))
  const listed = allowed.length
    ? `: ${allowed
        .slice(0, 20)
        .map((n) => p(n, 80))
        .join(', ')}${allowed.length > 20 ? ', …' : ''}`
    : ''
  ctx.io.err(
    `mandate mcp: guarding ${JSON.stringify(p(guard.audience, 200))} (actions ${p(guard.actionPrefix)}:<tool>); the mandate can allow ${allowed.length} of its ${names.length} tools${listed}; revocations ${revocations}\n`,
  )
  if (names.length > 0 && allowed.length === 0) {
    ctx.io.err(
      `mandate mcp: warning: the mandate allows none of this server's tools: do its actions name ${p(guard.actionPrefix)}:<tool>? (see --action-prefix, --map)\n`,
    )
  }
}

/** The guard checks this too; checked here first, so that a wrong key starts no upstream. */
function holderCheck(mandate: UnverifiedMandate, key: KeyPair | undefined): void {
  const last = mandate.blocks[mandate.blocks.length - 1]
  if (mandate.proof.kind === 'sealed') {
    throw new MandateError('ERR_SEALED', 'a sealed mandate cannot sign invocations, so it cannot guard tool calls', {
      hint: 'give the unsealed mandate and its holder key',
    })
  }
  if (key && last && toDidKey(key.publicKey) !== toDidKey(last.holder)) {
    throw new MandateError('ERR_HOLDER_MISMATCH', "the --key given is not the mandate's holder", {
      hint: `the mandate's last block names ${toDidKey(last.holder)}`,
    })
  }
}

/** Run the proxy until the agent goes away (exit 0) or the upstream does (exit 3). */
export async function mcp(ctx: Context, command: readonly string[], opts: McpFlags, cmd: Command): Promise<void> {
  // Everything that can be refused is checked before anything starts.
  if (opts.mandate === undefined || opts.mandate === '-') {
    usage('no mandate: --mandate TOKEN is required', "pass the agent's mandate as text, @FILE or a file (standard input is the protocol's)")
  }
  if (command.length > 0 && opts.upstream !== undefined) usage('give the upstream once: a command after --, or --upstream URL, not both')
  if (command.length === 0 && opts.upstream === undefined) {
    usage('no upstream MCP server', 'give its command after --, e.g. -- npx -y @modelcontextprotocol/server-everything, or --upstream URL')
  }
  const mandate = parsed(await readToken(ctx.io, opts.mandate, ['mandate'], 'mcp'), parseMandate)
  const key = holderKey(ctx.io, mandate, opts.key, (w) => ctx.io.err(`mandate mcp: warning: ${w}\n`))
  holderCheck(mandate, key)
  const roots = parseNamedKeys(opts.root?.length ? opts.root : (ctx.io.env['MANDATE_ROOTS'] ?? '').split(','), '--root', false)
  if (roots.length === 0) usage('no trusted root', 'pass --root NAME=did:key:… (the principal) or set MANDATE_ROOTS')
  const listen = listenFrom(opts.listen)
  const approvalWaitMs = approvalWaitFrom(opts.approvalWait)
  const actions = mapFrom(opts.map ?? [])
  const pass = passFrom(opts.pass ?? [])
  if (opts.actionPrefix !== undefined && !isActionName(opts.actionPrefix)) {
    usage(`--action-prefix: not action segments: ${JSON.stringify(opts.actionPrefix.slice(0, 200))}`, 'e.g. --action-prefix mcp:github')
  }
  // The operator names the server: the name an upstream gives itself is its own claim, and an
  // upstream named after another server would be handed invocations that server accepts.
  if (opts.audience === undefined || opts.audience === '') {
    usage(
      "no audience: --audience NAME is required, the guarded server's name",
      "invocations are addressed to it and its tools are the actions mcp:NAME:<tool>, e.g. --audience everything; the upstream's own name is not trusted",
    )
  }
  const audienceName = opts.audience
  const service = serviceOf(ctx, cmd, opts.service)
  const verifierKeyFile = opts.verifierKey ?? ctx.io.env['MANDATE_VERIFIER_KEY']
  const verifierKey = verifierKeyFile ? loadKey(ctx.io, verifierKeyFile, '--verifier-key') : undefined
  const audit = auditSink(ctx, opts.audit)

  const client = await connectUpstream(ctx, command, opts.upstream)
  let feed: FeedRevocationView | undefined
  let proxy: GuardedProxy | undefined
  let reporter: DecisionReporter | undefined
  try {
    const audience = audienceName
    feed = service ? await feedView(ctx, service, opts.serviceKey) : undefined
    const revocations: RevocationView | 'none' = feed ?? 'none'
    const verifier = createVerifier({
      roots,
      audience,
      revocations,
      usage:
        service && verifierKey ? createRemoteUsageStore({ url: service.url, key: verifierKey, timeoutMs: service.timeoutMs }) : noCounter,
      // The replay cache stays in memory even with a service: this proxy signs the invocations it
      // decides, in this process, and none arrives from outside to be replayed at it.
    })
    // Each decision goes to the service's audit trail too, as this registered verifier's.
    reporter =
      service && verifierKey
        ? createDecisionReporter({
            url: service.url,
            key: verifierKey,
            timeoutMs: service.timeoutMs,
            onError: (e) => ctx.io.err(`mandate: warning: ${p(e.message)}\n`),
          })
        : undefined
    const guard = createToolGuard({
      mandate,
      ...(key ? { key } : {}),
      verifier,
      ...(reporter ? { reporter } : {}),
      ...(opts.actionPrefix === undefined ? {} : { actionPrefix: opts.actionPrefix }),
      actions,
      ...(service ? { service: { url: service.url, timeoutMs: service.timeoutMs } } : {}),
      approvalWaitMs,
      audit,
    })
    await announce(ctx, client, guard, service ? `from ${shownUrl(service.url)}` : 'not checked (no --service)')
    proxy = createProxy({ guard, upstream: client, pass, version: VERSION })
    // The session ends when the agent goes away, when the upstream does (exit 3), or on a signal.
    let upstreamGone = false
    const done = new Promise<void>((resolve) => {
      client.onclose = () => {
        upstreamGone = true
        resolve()
      }
      process.once('SIGINT', () => resolve())
      process.once('SIGTERM', () => resolve())
    })
    if (listen.kind === 'stdio') await Promise.race([serveStdio(proxy), done])
    else await serveHttp(ctx, proxy, listen, done)
    if (upstreamGone) throw new CliError('ERR_IO', 'the upstream MCP server closed the connection', 'see its messages above')
  } finally {
    await proxy?.close()
    await reporter?.flush()
    await feed?.stop()
    client.onclose = () => {}
    await client.close().catch(() => {})
  }
}
