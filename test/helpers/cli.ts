/**
 * Spawn the real `bin/mandate.js` (built by `npm run build`, which `npm test` runs first).
 */
import { spawnSync } from 'node:child_process'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

export const BIN = fileURLToPath(new URL('../../bin/mandate.js', import.meta.url))

export interface CliResult {
  readonly code: number
  readonly stdout: string
  readonly stderr: string
  /** stdout parsed as one JSON document. */
  json<T = Record<string, unknown>>(): T
}

/** Run `mandate ARGS` with optional stdin, environment and working directory. */
export function mandate(args: readonly string[], options: { input?: string; env?: Record<string, string>; cwd?: string } = {}): CliResult {
  const env: Record<string, string> = {
    PATH: process.env['PATH'] ?? '',
    HOME: process.env['HOME'] ?? '/tmp',
    NO_COLOR: '1',
    ...options.env,
  }
  const r = spawnSync(process.execPath, [BIN, ...args], {
    input: options.input ?? '',
    env,
    cwd: options.cwd ?? process.cwd(),
    encoding: 'utf8',
    timeout: 30_000,
  })
  if (r.error) throw r.error
  return {
    code: r.status ?? -1,
    stdout: r.stdout,
    stderr: r.stderr,
    json<T>() {
      return JSON.parse(r.stdout) as T
    },
  }
}

/** A fresh temporary directory. */
export function scratch(): string {
  return mkdtempSync(join(tmpdir(), 'mandate-cli-'))
}
