/**
 * `mandate serve`: the revocation, usage and approval service.
 *
 * @module
 */
import type { Command } from 'commander'
import type { Context } from '../context.js'
import { CliError, usage } from '../errors.js'

const LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']

export function registerServe(program: Command, ctx: Context): void {
  program
    .command('serve')
    .description('run the service: revocations and their signed feed, usage counters, approvals')
    .option('--host <host>', 'address to listen on (default 127.0.0.1; MANDATE_HOST)')
    .option('--port <port>', 'port (default 8787, 0 for any free port; MANDATE_PORT)')
    .option('--db <path|url>', 'SQLite file or postgres://… URL (default ./mandate-data/mandate.db; MANDATE_DB)')
    .option('--key <file>', 'feed-signing key, created on first start (default ./mandate-data/service.pem; MANDATE_SERVICE_KEY_FILE)')
    .option('--log-level <level>', `${LEVELS.join(', ')} (default info; LOG_LEVEL)`)
    .action(async (opts: { host?: string; port?: string; db?: string; key?: string; logLevel?: string }) => {
      const env = ctx.io.env
      const port = opts.port ?? env['MANDATE_PORT'] ?? '8787'
      if (!/^\d{1,5}$/.test(port) || Number(port) > 65535) usage(`port: expected 0..65535, got ${JSON.stringify(port)}`)
      const logLevel = opts.logLevel ?? env['LOG_LEVEL'] ?? 'info'
      if (!LEVELS.includes(logLevel)) usage(`log level: expected one of ${LEVELS.join(', ')}, got ${JSON.stringify(logLevel)}`)
      const db = opts.db ?? env['MANDATE_DB'] ?? './mandate-data/mandate.db'
      if (db.trim() === '') usage('--db must not be empty')
      // Loaded on demand: the other commands should not pay for the server's dependencies.
      const { startService } = await import('../../service/server.js')
      const host = opts.host ?? env['MANDATE_HOST'] ?? '127.0.0.1'
      const service = await startService({
        host,
        port: Number(port),
        db,
        keyFile: opts.key ?? env['MANDATE_SERVICE_KEY_FILE'] ?? './mandate-data/service.pem',
        logLevel,
      }).catch((e: unknown) => {
        const code = (e as NodeJS.ErrnoException).code
        if (code === 'EADDRINUSE')
          throw new CliError('ERR_IO', `${host}:${port} is already in use`, 'pick another --port (0 for any free one)')
        if (code === 'EADDRNOTAVAIL' || code === 'ENOTFOUND') throw new CliError('ERR_IO', `cannot listen on ${host}`, 'check --host')
        throw new CliError('ERR_IO', `the service could not start: ${e instanceof Error ? e.message : String(e)}`)
      })
      await new Promise<void>((resolve) => {
        const stop = () => {
          process.off('SIGINT', stop)
          process.off('SIGTERM', stop)
          service.close().then(resolve, resolve)
        }
        process.on('SIGINT', stop)
        process.on('SIGTERM', stop)
      })
    })
}
