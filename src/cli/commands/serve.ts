/**
 * `mandate serve`: its flags and help; ../actions/serve.ts starts the service, loaded when the
 * command runs.
 *
 * @module
 */
import type { Command } from 'commander'
import type { ServeFlags } from '../actions/serve.js'
import { type Context, collect } from '../context.js'
import { examples } from '../help.js'

/** The log levels `--log-level` takes. */
export const LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']

export function registerServe(program: Command, ctx: Context): void {
  const cmd = program
    .command('serve')
    .description('run the service: revocations and their signed feed, usage counters, approvals')
    .option('--host <host>', 'address to listen on (default 127.0.0.1; MANDATE_HOST)')
    .option('--port <port>', 'port (default 8787, 0 for any free port; MANDATE_PORT)')
    .option('--db <path|url>', 'SQLite file or postgres://… URL (default ./mandate-data/mandate.db; MANDATE_DB)')
    .option('--key <file>', 'feed-signing key, created on first start (default ./mandate-data/service.pem; MANDATE_SERVICE_KEY_FILE)')
    .option('--log-level <level>', `${LEVELS.join(', ')} (default info; LOG_LEVEL)`)
    .option('--root <NAME=KEY>', 'a served principal: only its chains reach the service (repeatable; MANDATE_ROOTS)', collect)
    .option(
      '--verifier <NAME=KEY>',
      'a registered verifier: NAME is its audience, KEY the key it signs requests with (repeatable; MANDATE_VERIFIERS)',
      collect,
    )
    .option('--verifiers-file <file>', 'more verifiers, one NAME=KEY a line (MANDATE_VERIFIERS_FILE)')
    .option('--audience <name>', 'the name revocation statements address this service by (MANDATE_SERVICE_AUDIENCE)')
    .option(
      '--approval-wait <duration>',
      'how long an approval request may wait for its approvers, and verifiers may still claim its invocation (default 24h, at most 30d, 0 for none; MANDATE_APPROVAL_WAIT)',
    )
    .option(
      '--public-url <url>',
      'a URL clients reach the service by, e.g. behind a proxy; signed requests must address one (repeatable; MANDATE_PUBLIC_URL; default: the address listened on)',
      collect,
    )
    .option(
      '--webhook <url>',
      "POST each approval request's changes (pending, approved, denied) to URL, signed with the service key as Standard Webhooks v1a (repeatable, at most 8; MANDATE_WEBHOOKS, space-separated)",
      collect,
    )
    .option('--auditor <NAME=KEY>', 'a key that reads the whole audit log and asks for checkpoints (repeatable; MANDATE_AUDITORS)', collect)
    .option('--audit-args', "keep invocations' arguments in the audit log, not only their digest (MANDATE_AUDIT_ARGS=1)")
    .option(
      '--audit-retention <duration>',
      'delete audit records older than DURATION, at least 1d (default: keep all; MANDATE_AUDIT_RETENTION)',
    )
    .action(async (opts: ServeFlags) => {
      const { serve } = await import('../actions/serve.js')
      await serve(ctx, opts)
    })
  examples(
    cmd,
    'mandate serve --root "alice=$ALICE" --verifier "calendar=$CALENDAR"',
    'mandate serve --db postgres://mandate@db.internal/mandate --root "alice=$ALICE" --verifiers-file verifiers.txt --key service.pem',
    'MANDATE_ROOTS="alice=$ALICE" mandate serve --host 0.0.0.0 --port 8787 --public-url https://mandate.example',
    'mandate serve --root "alice=$ALICE" --webhook https://chat.example/hooks/approvals',
  )
}
