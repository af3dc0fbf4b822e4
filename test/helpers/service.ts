/**
 * Start the real service (`bin/mandate.js serve`) on a loopback port, with its state in a
 * temporary directory, and stop or kill it.
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { join } from 'node:path'
import pino from 'pino'
import { signRequest } from '../../src/crypto/http-signature.js'
import type { KeyPair } from '../../src/crypto/keys.js'
import { type RunningService, type ServiceConfig, startService } from '../../src/service/server.js'
import { BIN, scratch } from './cli.js'

/** A service a test talks to over HTTP. */
export interface ServiceUnderTest {
  readonly url: string
  readonly serviceKey: string
  readonly dir: string
  stop(): Promise<void>
}

export interface RunningServer extends ServiceUnderTest {
  readonly proc: ChildProcess
  stop(): Promise<void>
  /** SIGKILL: no shutdown, no flush. */
  kill9(): Promise<void>
}

/** Who the service trusts: `NAME=KEY` entries. */
export interface ServerTrust {
  readonly roots: readonly string[]
  readonly verifiers?: readonly string[]
  readonly audience?: string
}

/** Start a server; `db` defaults to a SQLite file in `dir`; `args` are more flags of `mandate serve`. */
export async function startServer(
  options: { dir?: string; db?: string; port?: number; args?: readonly string[] } & ServerTrust,
): Promise<RunningServer> {
  const dir = options.dir ?? scratch()
  const db = options.db ?? join(dir, 'mandate.db')
  const trust = [
    ...options.roots.flatMap((r) => ['--root', r]),
    ...(options.verifiers ?? []).flatMap((v) => ['--verifier', v]),
    ...(options.audience ? ['--audience', options.audience] : []),
  ]
  const proc = spawn(
    process.execPath,
    [
      BIN,
      'serve',
      '--port',
      String(options.port ?? 0),
      '--db',
      db,
      '--key',
      join(dir, 'service.pem'),
      '--log-level',
      'info',
      ...trust,
      ...(options.args ?? []),
    ],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { PATH: process.env['PATH'] ?? '' },
    },
  )
  let stderr = ''
  proc.stderr?.on('data', (d) => {
    stderr += String(d)
  })
  const listening = await new Promise<{ url: string; key: string }>((resolve, reject) => {
    let out = ''
    const timer = setTimeout(() => reject(new Error(`server did not start: ${stderr}${out}`)), 15_000)
    proc.stdout?.on('data', (d) => {
      out += String(d)
      for (const line of out.split('\n')) {
        if (!line.includes('"listening"')) continue
        const parsed = JSON.parse(line) as { url: string; key: string }
        clearTimeout(timer)
        resolve(parsed)
        return
      }
    })
    proc.once('exit', (code) => {
      clearTimeout(timer)
      reject(new Error(`server exited with ${code}: ${stderr}`))
    })
  })
  proc.stdout?.resume()
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()))
  return {
    url: listening.url,
    serviceKey: listening.key,
    dir,
    proc,
    async stop() {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGTERM')
      await exited
    },
    async kill9() {
      proc.kill('SIGKILL')
      await exited
    },
  }
}

/** `NAME=KEY` → `{ name, key }`. */
const named = (entry: string) => {
  const at = entry.indexOf('=')
  return { name: entry.slice(0, at), key: entry.slice(at + 1) }
}

/**
 * The same service started in this process from src/ (`startService`, as a program embedding it
 * would), on a SQLite file in a scratch directory: the suite run against it is the one mutation
 * testing can see (a mutant in src/service is invisible to the `bin/mandate.js serve` process).
 */
export async function startInProcess(options: ServerTrust): Promise<ServiceUnderTest> {
  const dir = scratch()
  const service = await startService({
    host: '127.0.0.1',
    port: 0,
    db: join(dir, 'mandate.db'),
    keyFile: join(dir, 'service.pem'),
    logLevel: 'silent',
    logger: pino({ level: 'silent' }),
    trust: {
      roots: options.roots.map(named),
      verifiers: (options.verifiers ?? []).map(named),
      ...(options.audience ? { audience: options.audience } : {}),
    },
  })
  return { url: service.url, serviceKey: service.serviceKey, dir, stop: () => service.close() }
}

/** JSON request helper; with `key`, the request is signed (RFC 9421) as that key. */
export async function http(url: string, init: { method?: string; body?: unknown; headers?: Record<string, string>; key?: KeyPair } = {}) {
  const method = init.method ?? (init.body === undefined ? 'GET' : 'POST')
  const body =
    init.body === undefined ? undefined : new TextEncoder().encode(typeof init.body === 'string' ? init.body : JSON.stringify(init.body))
  const res = await fetch(url, {
    method,
    headers: {
      ...(init.body === undefined ? {} : { 'content-type': 'application/json' }),
      ...(init.key ? signRequest({ method, url, ...(body ? { body } : {}) }, init.key) : {}),
      ...init.headers,
    },
    ...(body === undefined ? {} : { body }),
  })
  const text = await res.text()
  let json: Record<string, unknown> = {}
  try {
    json = text ? (JSON.parse(text) as Record<string, unknown>) : {}
  } catch {
    json = { text }
  }
  return { status: res.status, json, headers: res.headers, text }
}

/**
 * `startService` in this process, on a loopback port, its database and key in `dir`, logging
 * nowhere unless the options say otherwise: the config every in-process service test shares.
 */
export function startServiceIn(dir: string, options: Partial<ServiceConfig> & Pick<ServiceConfig, 'trust'>): Promise<RunningService> {
  return startService({
    host: '127.0.0.1',
    port: 0,
    db: join(dir, 'm.db'),
    keyFile: join(dir, 'service.pem'),
    logLevel: 'silent',
    logger: pino({ level: 'silent' }),
    ...options,
  })
}
