/**
 * Start the real service (`bin/mandate.js serve`) on a loopback port, with its state in a
 * temporary directory, and stop or kill it.
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { join } from 'node:path'
import { BIN, scratch } from './cli.js'

export interface RunningServer {
  readonly url: string
  readonly serviceKey: string
  readonly dir: string
  readonly proc: ChildProcess
  stop(): Promise<void>
  /** SIGKILL: no shutdown, no flush. */
  kill9(): Promise<void>
}

/** Start a server; `db` defaults to a SQLite file in `dir`. */
export async function startServer(options: { dir?: string; db?: string; port?: number } = {}): Promise<RunningServer> {
  const dir = options.dir ?? scratch()
  const db = options.db ?? join(dir, 'mandate.db')
  const proc = spawn(
    process.execPath,
    [BIN, 'serve', '--port', String(options.port ?? 0), '--db', db, '--key', join(dir, 'service.pem'), '--log-level', 'info'],
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

/** JSON request helper. */
export async function http(url: string, init: { method?: string; body?: unknown; headers?: Record<string, string> } = {}) {
  const res = await fetch(url, {
    method: init.method ?? (init.body === undefined ? 'GET' : 'POST'),
    headers: { ...(init.body === undefined ? {} : { 'content-type': 'application/json' }), ...init.headers },
    ...(init.body === undefined ? {} : { body: typeof init.body === 'string' ? init.body : JSON.stringify(init.body) }),
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
