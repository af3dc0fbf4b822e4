/**
 * `mandate audit export|verify`: their flags and help; ../actions/audit.ts does the work,
 * loaded when a command runs.
 *
 * @module
 */
import type { Command } from 'commander'
import type { ExportFlags, VerifyFlags } from '../actions/audit.js'
import type { Context } from '../context.js'
import { examples } from '../help.js'

export function registerAudit(program: Command, ctx: Context): void {
  const audit = program.command('audit').description("the service's audit trail: export it, and check an export offline")
  const exportCmd = audit
    .command('export')
    .description('the audit log as JSON Lines, with a checkpoint the service signs at its end')
    .option('--service <url>', 'the service (default: MANDATE_SERVICE)')
    .option(
      '--key <file>',
      "an auditor's key (the whole log) or a principal's (its own records; the others redacted) (default: MANDATE_KEY)",
    )
    .option('--since <seq>', 'only records after this one (default 0: all)')
    .option('--principal <did>', "an auditor's export: this principal's records whole, the others redacted")
    .option('-o, --out <file>', 'write to FILE (mode 0600) instead of standard output')
    .option('--force', 'overwrite --out if it exists')
    .action(async (opts: ExportFlags, cmd: Command) => {
      const { exportAudit } = await import('../actions/audit.js')
      await exportAudit(ctx, opts, cmd)
    })
  examples(
    exportCmd,
    'mandate audit export --key auditor.pem -o audit.jsonl',
    'mandate audit export --key alice.pem --since 1200 > mine.jsonl',
    'mandate audit export --key auditor.pem --principal did:key:z6Mk… -o alice.jsonl',
  )
  const verifyCmd = audit
    .command('verify')
    .description('check an export offline: every record, every link, every checkpoint; name the first thing wrong')
    .argument('<file>', 'the export (JSON Lines), or - for standard input')
    .option('--service-key <did>', "the service's key, which signs its checkpoints (default: MANDATE_SERVICE_KEY)")
    .action(async (file: string, opts: VerifyFlags, cmd: Command) => {
      const { verifyAudit } = await import('../actions/audit.js')
      await verifyAudit(ctx, file, opts, cmd)
    })
  examples(verifyCmd, 'mandate audit verify audit.jsonl --service-key did:key:z6Mk…', 'mandate audit verify audit.jsonl --json')
  examples(audit, 'mandate audit export --key auditor.pem -o audit.jsonl', 'mandate audit verify audit.jsonl --service-key did:key:z6Mk…')
}
