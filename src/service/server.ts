/**
 * Run the service: open the store, load or create the feed key, bind the app to a loopback
 * socket, and shut down cleanly.
 *
 * @module
 */

import { setMaxListeners } from 'node:events'
import { existsSync, mkdirSync, readFileSync, statSync } from 'node:fs'
import { createServer, type Server } from 'node:http'
import type { AddressInfo, Socket } from 'node:net'
import { hostname, networkInterfaces } from 'node:os'
import { dirname } from 'node:path'
import { getRequestListener, RequestError } from '@hono/node-server'
import { base64 } from '@scure/base'
import pino, { type Logger } from 'pino'
import { exportSecretKeyPem, generateKeyPair, importSecretKeyPem, type KeyPair, toDidKey } from '../crypto/keys.js'
import { writeSecretFile } from '../internal/secret-file.js'
import { DEFAULT_APPROVAL_WAIT } from '../verify/options.js'
import { createApp } from './app.js'
import { signCheckpoint } from './audit.js'
import { createFeedGuard, fileFeedMark } from './feed-mark.js'
import { createMetrics } from './metrics.js'
import { openSqliteStore } from './sqlite-store.js'
import type { Store } from './store.js'
import type { TrustOptions } from './trust.js'
import { startWebhooks, type WebhookDispatcher } from './webhooks.js'

/** Validated service configuration. */
export interface ServiceConfig {
  readonly host: string
  readonly port: number
  /** A SQLite file path, or a `postgres://` URL. */
  readonly db: string
  /** The feed-signing key file (PKCS#8 PEM); created with mode 0600 when absent. */
  readonly keyFile: string
  readonly logLevel: string
  /**
   * The durable feed mark (highest head served, and its feed id), checked at start and on every
   * page read to detect a restored database (spec/service-v1.md §4.4). Default `<keyFile>.feed`.
   */
  readonly feedMarkFile?: string
  /** How long close() waits for in-flight requests before it drops their connections (ms, default 5,000). */
  readonly shutdownMs?: number
  /** Log here instead of a new pino logger on stdout (tests). */
  readonly logger?: Logger
  /** The service clock in Unix seconds (default: the system clock); tests move it. */
  readonly clock?: () => number
  /** Served principals, registered verifiers and the other trust settings (see {@link TrustOptions}). */
  readonly trust: TrustOptions & { readonly audience?: string }
  /**
   * The URLs clients reach the service by (behind a proxy: the public ones). Signed requests
   * must address one of them; default: the address listened on.
   */
  readonly publicUrls?: readonly string[]
  /** Where to POST the inbox's signed notifications (spec/service-v1.md §7.3): http(s) URLs, at most 8. */
  readonly webhooks?: readonly string[]
  /** Keys that read the whole audit log and ask for checkpoints (spec/service-v1.md §8). */
  readonly auditors?: readonly { readonly name: string; readonly key: string }[]
  /** Keep invocations' arguments in the audit log, not only their digest. */
  readonly auditArgs?: boolean
  /** Delete audit records older than this many seconds (default: keep them all); see spec/service-v1.md §8.5. */
  readonly auditRetention?: number
}

/** A running service. */
export interface RunningService {
  readonly url: string
  readonly serviceKey: string
  readonly store: Store
  /** Run the minute's housekeeping now (compaction, the audit checkpoint, audit retention); failures reject. */
  housekeep(): Promise<void>
  close(): Promise<void>
}

/** Open the store a `db` setting names. */
export async function openStore(db: string): Promise<Store> {
  if (!/^postgres(ql)?:\/\//.test(db)) return openSqliteStore(db)
  const { openPostgresStore } = await import('./postgres-store.js')
  return openPostgresStore(db)
}

/** Load the feed key, creating it (0600) on first start. */
export function loadOrCreateKey(path: string, log?: Logger): KeyPair {
  if (existsSync(path)) return importSecretKeyPem(readFileSync(path, 'utf8'))
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 })
  const pair = generateKeyPair()
  writeSecretFile(path, exportSecretKeyPem(pair.secretKey), false)
  log?.info({ file: path, key: toDidKey(pair.publicKey) }, 'created the feed-signing key')
  return pair
}

/** Warn (never naming the key) when the key file is open to group or others. */
export function checkKeyFileMode(path: string, log: Logger): void {
  if (process.platform === 'win32') return
  const mode = statSync(path).mode & 0o777
  if ((mode & 0o077) === 0) return
  log.warn(
    { file: path, mode: `0${mode.toString(8)}` },
    `the feed-signing key file ${path} is readable or writable by group or others (mode 0${mode.toString(8)}): anyone who reads it can sign feed pages; fix it with: chmod 600 ${path}`,
  )
}

/**
 * Start the service; resolves once it listens.
 *
 * @example
 * ```ts
 * const service = await startService({
 *   host: '127.0.0.1',
 *   port: 0,
 *   db: './mandate.db',
 *   keyFile: './service.pem',
 *   logLevel: 'info',
 *   trust: { roots: [{ name: 'alice', key: 'did:key:z6Mk…' }], verifiers: [{ name: 'mail', key: 'did:key:z6Mk…' }] },
 * })
 * console.log(service.url, service.serviceKey)
 * await service.close()
 * ```
 */
export async function startService(config: ServiceConfig): Promise<RunningService> {
  const logger =
    config.logger ??
    pino({
      level: config.logLevel,
      redact: {
        paths: ['req.headers.authorization', 'req.headers.cookie', '*.mandate', '*.presentation', '*.secret'],
        censor: '[redacted]',
      },
    })
  const key = loadOrCreateKey(config.keyFile, logger)
  checkKeyFileMode(config.keyFile, logger)
  const feedMark = fileFeedMark(config.feedMarkFile ?? `${config.keyFile}.feed`)
  const store = await openStore(config.db)
  const closing = new AbortController()
  // One listener per open push stream: many streams are normal, not a leak.
  setMaxListeners(0, closing.signal)
  let server: Server
  const sockets = new Set<Socket>()
  // Known once listening (the port may be 0); until then no signed request is accepted.
  let authorities: readonly string[] = []
  let webhooks: WebhookDispatcher | undefined
  try {
    // A database restored behind the service's back (its head below what was served) gets a
    // new feed id before any page goes out, so that verifiers resync. (#7)
    await createFeedGuard(store, feedMark, logger).check()
    const app = createApp({
      ...config.trust,
      ...(config.clock ? { clock: config.clock } : {}),
      authorities: () => authorities,
      store,
      key,
      logger,
      metrics: createMetrics(),
      closing: closing.signal,
      feedMark,
      ...(config.webhooks?.length ? { inboxWritten: () => webhooks?.wake() } : {}),
      ...(config.auditors ? { auditors: config.auditors } : {}),
      ...(config.auditArgs ? { auditArgs: true } : {}),
    })
    // Started once the app has checked every option: a refused option leaves no endpoint lease behind.
    if (config.webhooks?.length) {
      webhooks = startWebhooks({
        store,
        key,
        urls: config.webhooks,
        clock: config.clock ?? (() => Math.floor(Date.now() / 1000)),
        logger,
      })
      await webhooks.ready
    }
    server = createServer(
      getRequestListener(app.fetch, {
        hostname: config.host,
        // A request node:http took but no URL can be made of (a Host that is no host name, a
        // bad target) is the caller's error, said as every other one is; anything else thrown
        // before the app answers is ours.
        errorHandler: (e) =>
          e instanceof RequestError
            ? Response.json(
                { error: { code: 'ERR_REQUEST_MALFORMED', message: 'the request names no valid host or URL' } },
                { status: 400 },
              )
            : Response.json({ error: { code: 'ERR_INTERNAL', message: 'internal error' } }, { status: 500 }),
      }),
    )
    server.listen(config.port, config.host)
    server.on('connection', (socket: Socket) => {
      sockets.add(socket)
      socket.once('close', () => sockets.delete(socket))
    })
    await new Promise<void>((resolve, reject) => {
      server.once('listening', () => resolve())
      server.once('error', reject)
    })
  } catch (e) {
    await webhooks?.stop()
    await store.close().catch(() => {})
    throw e
  }
  const address = server.address() as AddressInfo
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address
  const url = `http://${host}:${address.port}`
  authorities = serviceAuthorities(config.publicUrls ?? [], address)
  const serviceKey = toDidKey(key.publicKey)
  // Housekeeping once a minute; a failure is logged and retried, never fatal. An invocation's
  // usage answer is kept while a verifier may still spend it: its approval wait, and skew
  // both ways, past the consume (spec/service-v1.md §6.1).
  const clock = config.clock ?? (() => Math.floor(Date.now() / 1000))
  const t = config.trust
  const answerTtl = Math.max(t.invocationMaxAge ?? 300, t.approvalWait ?? DEFAULT_APPROVAL_WAIT) + 2 * (t.skew ?? 60)
  const compact = async () => {
    const n = await store.compact(clock(), answerTtl)
    if (n > 0) logger.info({ compacted: n }, 'compacted expired revocations')
  }
  const housekeeping = setInterval(() => {
    compact().catch((e: unknown) => logger.warn({ error: e instanceof Error ? e.message : String(e) }, 'compaction failed'))
    checkpoint().catch((e: unknown) => logger.warn({ error: e instanceof Error ? e.message : String(e) }, 'audit checkpoint failed'))
  }, 60_000)
  /**
   * A signed checkpoint of the audit log, kept, once a minute when records were added since the
   * last (spec §8.3); then retention (§8.5): records older than it go, but for the newest, after a
   * checkpoint of the last one going is kept to anchor what remains.
   */
  const checkpoint = async () => {
    const [head, latest] = await Promise.all([store.auditHead(), store.latestCheckpoint()])
    if (head.count > (latest?.count ?? 0)) await store.putCheckpoint(signCheckpoint({ ...head, at: clock() }, key))
    if (config.auditRetention === undefined) return
    const until = await store.auditPrunable(clock() - config.auditRetention)
    if (!until) return
    await store.putCheckpoint(signCheckpoint({ log: head.log, count: until.seq, head: until.hash, at: clock() }, key))
    const pruned = await store.pruneAudit(until.seq)
    if (pruned > 0) logger.info({ pruned, upTo: until.seq }, 'audit records past their retention deleted')
  }
  housekeeping.unref()
  logger.info(
    {
      url,
      key: serviceKey,
      authorities,
      storage: await store.settings(),
      // The notifications' signing key as Standard Webhooks libraries read it (spec/service-v1.md §7.3).
      ...(webhooks ? { webhookKey: `whpk_${base64.encode(key.publicKey)}`, webhooks: config.webhooks?.length } : {}),
    },
    'listening',
  )
  const shutdownMs = config.shutdownMs ?? 5000
  let shutdown: Promise<void> | undefined
  return {
    url,
    serviceKey,
    store,
    async housekeep() {
      await compact()
      await checkpoint()
    },
    close() {
      shutdown ??= (async () => {
        clearInterval(housekeeping)
        // Stop accepting and end the push streams; in-flight requests get until the deadline.
        closing.abort()
        const closed = new Promise<void>((resolve) => server.close(() => resolve()))
        // Connections go idle as their requests (and streams) end: close them as they do.
        const idle = setInterval(() => {
          if ('closeIdleConnections' in server) server.closeIdleConnections()
        }, 25)
        if ('closeIdleConnections' in server) server.closeIdleConnections()
        const deadline = setTimeout(() => {
          logger.warn({ connections: sockets.size, ms: shutdownMs }, 'shutdown deadline passed: closing the remaining connections')
          if ('closeAllConnections' in server) server.closeAllConnections()
          for (const socket of sockets) socket.destroy()
        }, shutdownMs)
        try {
          await closed
        } finally {
          clearTimeout(deadline)
          clearInterval(idle)
        }
        await webhooks?.stop()
        await store.close()
      })()
      return shutdown
    },
  }
}

/**
 * The names signed requests may address: the `--public-url`s' origins when given (behind a
 * proxy, the names clients use), else the `host:port` listened on (plain HTTP) — for a loopback
 * address also `localhost`, for a wildcard address every address of this machine and its host
 * name.
 */
export function serviceAuthorities(publicUrls: readonly string[], address: AddressInfo): string[] {
  if (publicUrls.length > 0) return publicUrls.map((u) => new URL(u).origin)
  const port = address.port
  const named = (host: string) => new URL(`http://${host.includes(':') ? `[${host}]` : host}:${port}`).host.toLowerCase()
  const loopback = ['127.0.0.1', 'localhost', '::1']
  if (address.address === '0.0.0.0' || address.address === '::') {
    const local = Object.values(networkInterfaces()).flatMap((list) => (list ?? []).map((i) => i.address.replace(/%.*$/, '')))
    return [...new Set([...loopback, ...local, hostname()].map(named))]
  }
  if (address.address.startsWith('127.') || address.address === '::1') return [...new Set([address.address, ...loopback].map(named))]
  return [named(address.address)]
}
