/**
 * Run the service: open the store, load or create the feed key, bind the app to a loopback
 * socket, and shut down cleanly.
 *
 * @module
 */
import { existsSync, mkdirSync, readFileSync } from 'node:fs'
import type { AddressInfo } from 'node:net'
import { dirname } from 'node:path'
import { serve } from '@hono/node-server'
import pino, { type Logger } from 'pino'
import { writeSecretFile } from '../cli/io.js'
import { exportSecretKeyPem, generateKeyPair, importSecretKeyPem, type KeyPair, toDidKey } from '../crypto/keys.js'
import { createApp } from './app.js'
import { createMetrics } from './metrics.js'
import { openSqliteStore } from './sqlite-store.js'
import type { Store } from './store.js'

/** Validated service configuration. */
export interface ServiceConfig {
  readonly host: string
  readonly port: number
  /** A SQLite file path, or a `postgres://` URL. */
  readonly db: string
  /** The feed-signing key file (PKCS#8 PEM); created with mode 0600 when absent. */
  readonly keyFile: string
  readonly logLevel: string
}

/** A running service. */
export interface RunningService {
  readonly url: string
  readonly serviceKey: string
  readonly store: Store
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

/**
 * Start the service; resolves once it listens.
 *
 * @example
 * ```ts
 * const service = await startService({ host: '127.0.0.1', port: 0, db: './mandate.db', keyFile: './service.pem', logLevel: 'info' })
 * console.log(service.url, service.serviceKey)
 * await service.close()
 * ```
 */
export async function startService(config: ServiceConfig): Promise<RunningService> {
  const logger = pino({
    level: config.logLevel,
    redact: { paths: ['req.headers.authorization', 'req.headers.cookie', '*.mandate', '*.presentation', '*.secret'], censor: '[redacted]' },
  })
  const key = loadOrCreateKey(config.keyFile, logger)
  const store = await openStore(config.db)
  const closing = new AbortController()
  const app = createApp({ store, key, logger, metrics: createMetrics(), closing: closing.signal })
  const server = serve({ fetch: app.fetch, hostname: config.host, port: config.port })
  await new Promise<void>((resolve, reject) => {
    server.once('listening', () => resolve())
    server.once('error', reject)
  })
  const address = server.address() as AddressInfo
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address
  const url = `http://${host}:${address.port}`
  const serviceKey = toDidKey(key.publicKey)
  // Housekeeping once a minute; a failure is logged and retried, never fatal.
  const housekeeping = setInterval(() => {
    store.compact(Math.floor(Date.now() / 1000)).then(
      (n) => n > 0 && logger.info({ compacted: n }, 'compacted expired revocations'),
      (e: unknown) => logger.warn({ error: e instanceof Error ? e.message : String(e) }, 'compaction failed'),
    )
  }, 60_000)
  housekeeping.unref()
  logger.info({ url, key: serviceKey, storage: await store.settings() }, 'listening')
  return {
    url,
    serviceKey,
    store,
    async close() {
      clearInterval(housekeeping)
      closing.abort()
      await new Promise<void>((resolve) => server.close(() => resolve()))
      await store.close()
    },
  }
}
