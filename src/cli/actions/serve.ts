/**
 * `mandate serve`: the revocation, usage and approval service (the flags are in
 * ../commands/serve.ts).
 *
 * @module
 */
import { checkWebhookUrl, WEBHOOK_DEFAULTS } from '../../service/webhooks.js'
import { MAX_APPROVAL_WAIT } from '../../verify/options.js'
import { LEVELS } from '../commands/serve.js'
import type { Context } from '../context.js'
import { CliError, usage } from '../errors.js'
import { namedKeysFile, parseNamedKeys } from '../named-keys.js'
import { shownUrl } from '../service-flags.js'
import { parseDuration, parseWait } from '../time.js'

export interface ServeFlags {
  readonly host?: string
  readonly port?: string
  readonly db?: string
  readonly key?: string
  readonly logLevel?: string
  readonly root?: string[]
  readonly verifier?: string[]
  readonly verifiersFile?: string
  readonly audience?: string
  readonly publicUrl?: string[]
  readonly approvalWait?: string
  readonly webhook?: string[]
  readonly auditor?: string[]
  readonly auditArgs?: boolean
  readonly auditRetention?: string
}

const POSTGRES = /^postgres(ql)?:\/\//

/** The host a postgres:// URL names, if it can be read. */
function databaseHost(db: string): string | undefined {
  try {
    return new URL(db).hostname || undefined
  } catch {
    return undefined
  }
}

/** Words for the errors a database connection fails with. */
const DB_REASONS: Record<string, string> = {
  ECONNREFUSED: 'connection refused',
  ENOTFOUND: 'no such host',
  EAI_AGAIN: 'the host name cannot be resolved now',
  ETIMEDOUT: 'the connection timed out',
  EHOSTUNREACH: 'no route to the host',
  ECONNRESET: 'the connection was reset',
  '28P01': 'the password was refused',
  '28000': 'the role may not log in',
  '3D000': 'no such database',
}

/**
 * Why the service did not start, blaming what is at fault: the address to listen on
 * (`--host`, `--port`) only when listening failed; the database (`--db`, credentials hidden)
 * when opening it did.
 */
export function startFailure(e: unknown, where: { host: string; port: string; db: string }): CliError {
  const err = (e instanceof AggregateError ? (e.errors[0] ?? e) : e) as NodeJS.ErrnoException & { hostname?: string }
  const code = err.code ?? (e as NodeJS.ErrnoException).code
  const dns = code === 'ENOTFOUND' || code === 'EAI_AGAIN'
  const pg = POSTGRES.test(where.db)
  const listening = err.syscall === 'listen' || (dns && err.hostname === where.host && (!pg || err.hostname !== databaseHost(where.db)))
  if (listening && code === 'EADDRINUSE')
    return new CliError('ERR_IO', `${where.host}:${where.port} is already in use`, 'pick another --port (0 for any free one)')
  if (listening)
    return new CliError('ERR_IO', `cannot listen on ${where.host}:${where.port} (${code ?? 'failed'})`, 'check --host and --port')
  const message = e instanceof Error ? e.message : String(e)
  if (pg) {
    const reason = (code && DB_REASONS[code]) ?? message
    return new CliError(
      'ERR_IO',
      `cannot connect to the database ${shownUrl(where.db)}: ${reason}`,
      'is PostgreSQL running and reachable there, with that role and database? check --db (or MANDATE_DB)',
    )
  }
  return new CliError('ERR_IO', `the service could not start: ${message}`, 'check --db (or MANDATE_DB) and --key')
}

/** Check the flags, start the service, and run it until SIGINT or SIGTERM. */
export async function serve(ctx: Context, opts: ServeFlags): Promise<void> {
  const env = ctx.io.env
  const roots = parseNamedKeys(opts.root?.length ? opts.root : (env['MANDATE_ROOTS'] ?? '').split(','), '--root', false)
  if (roots.length === 0) {
    usage('no served principal', 'pass --root NAME=did:key:… for each principal whose mandates this service serves (or MANDATE_ROOTS)')
  }
  const verifierFile = opts.verifiersFile ?? env['MANDATE_VERIFIERS_FILE']
  const verifiers = parseNamedKeys(
    [
      ...(opts.verifier?.length ? opts.verifier : (env['MANDATE_VERIFIERS'] ?? '').split(',')),
      ...(verifierFile ? namedKeysFile(verifierFile, '--verifiers-file') : []),
    ],
    '--verifier',
    true,
  ).map((v) => ({ name: v.name as string, key: v.key }))
  const names = new Map<string, string>()
  for (const v of verifiers) {
    if (!/^[\x21-\x7e]{1,128}$/.test(v.name))
      usage(
        `--verifier: the name ${JSON.stringify(v.name)} is not 1–128 printable ASCII characters`,
        'the name is the audience its invocations address, e.g. --verifier calendar=did:key:…',
      )
    const prior = names.get(v.key)
    if (prior !== undefined && prior !== v.name)
      usage(`--verifier: ${v.key} is registered as both ${prior} and ${v.name}`, 'give each verifier its own key')
    names.set(v.key, v.name)
  }
  const audience = opts.audience ?? env['MANDATE_SERVICE_AUDIENCE']
  const publicUrls = (opts.publicUrl?.length ? opts.publicUrl : (env['MANDATE_PUBLIC_URL'] ?? '').split(','))
    .map((u) => u.trim())
    .filter(Boolean)
  for (const u of publicUrls)
    if (!/^https?:\/\/[^\s/\\?#@]+\/?$/.test(u) || !URL.canParse(u) || new URL(u).port === '0')
      usage(`--public-url: expected http(s)://HOST[:PORT], got ${JSON.stringify(u)}`, 'e.g. --public-url https://mandate.example')
  const webhooks = (opts.webhook?.length ? opts.webhook : (env['MANDATE_WEBHOOKS'] ?? '').split(/\s+/)).filter(Boolean)
  for (const [i, u] of webhooks.entries()) {
    try {
      checkWebhookUrl(u)
    } catch (e) {
      // The URL itself is not shown: a chat service's carries a secret.
      usage(`--webhook (number ${i + 1}): ${(e as Error).message}`, 'e.g. --webhook https://chat.example/hooks/approvals')
    }
  }
  if (webhooks.length > WEBHOOK_DEFAULTS.maxEndpoints)
    usage(`--webhook: at most ${WEBHOOK_DEFAULTS.maxEndpoints} endpoints, got ${webhooks.length}`, 'fan out from one endpoint of your own')
  const auditors = parseNamedKeys(opts.auditor?.length ? opts.auditor : (env['MANDATE_AUDITORS'] ?? '').split(','), '--auditor', true).map(
    (a) => ({ name: a.name as string, key: a.key }),
  )
  const auditArgs = opts.auditArgs === true || env['MANDATE_AUDIT_ARGS'] === '1'
  const retentionFlag = opts.auditRetention ?? env['MANDATE_AUDIT_RETENTION']
  const auditRetention = retentionFlag === undefined ? undefined : parseDuration(retentionFlag, '--audit-retention')
  if (auditRetention !== undefined && auditRetention < 86_400)
    usage(`--audit-retention: at least a day, got ${JSON.stringify(retentionFlag)}`, 'e.g. --audit-retention 400d')
  const port = opts.port ?? env['MANDATE_PORT'] ?? '8787'
  if (!/^\d{1,5}$/.test(port) || Number(port) > 65535)
    usage(`port: expected 0..65535, got ${JSON.stringify(port)}`, 'e.g. --port 8787 (0 for any free port)')
  const logLevel = opts.logLevel ?? env['LOG_LEVEL'] ?? 'info'
  if (!LEVELS.includes(logLevel))
    usage(`log level: expected one of ${LEVELS.join(', ')}, got ${JSON.stringify(logLevel)}`, 'e.g. --log-level warn')
  const waitFlag = opts.approvalWait ?? env['MANDATE_APPROVAL_WAIT']
  const approvalWait = waitFlag === undefined ? undefined : parseWait(waitFlag, '--approval-wait', MAX_APPROVAL_WAIT)
  const db = opts.db ?? env['MANDATE_DB'] ?? './mandate-data/mandate.db'
  if (db.trim() === '') usage('--db must not be empty', 'a SQLite file (./mandate-data/mandate.db) or a postgres:// URL')
  // Loaded once the flags are checked: a mistake in them is told without loading the server's dependencies.
  const { startService } = await import('../../service/server.js')
  const host = opts.host ?? env['MANDATE_HOST'] ?? '127.0.0.1'
  const service = await startService({
    host,
    port: Number(port),
    db,
    keyFile: opts.key ?? env['MANDATE_SERVICE_KEY_FILE'] ?? './mandate-data/service.pem',
    logLevel,
    trust: { roots, verifiers, ...(audience ? { audience } : {}), ...(approvalWait === undefined ? {} : { approvalWait }) },
    publicUrls,
    webhooks,
    auditors,
    ...(auditArgs ? { auditArgs } : {}),
    ...(auditRetention === undefined ? {} : { auditRetention }),
  }).catch((e: unknown) => {
    throw startFailure(e, { host, port, db })
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
}
