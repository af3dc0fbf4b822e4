/**
 * `mandate approvals list|show|request`: their flags and help; ../actions/approvals.ts talks to
 * the inbox, loaded when a command runs.
 *
 * @module
 */
import type { Command } from 'commander'
import type { ListFlags } from '../actions/approvals.js'
import type { Context } from '../context.js'
import { examples } from '../help.js'

function listCommand(approvals: Command, ctx: Context): void {
  const cmd = approvals
    .command('list')
    .description('pending requests an approver has not answered yet')
    .option('--service <url>', 'the service (default: MANDATE_SERVICE)')
    .option('--key <file>', 'the approver key: the inbox is private, and the request is signed with it (default: MANDATE_KEY)')
    .option('--limit <n>', 'at most N requests, newest first (1–100, default 50)')
    .option('--before <cursor>', 'the page after this cursor (printed as "next" by the previous page)')
    .action(async (opts: ListFlags, cmd: Command) => {
      const { listPending } = await import('../actions/approvals.js')
      await listPending(ctx, opts, cmd)
    })
  examples(cmd, 'mandate approvals list --key alice.pem', 'mandate approvals list --key alice.pem --limit 10 --json')
}

function showCommand(approvals: Command, ctx: Context): void {
  const cmd = approvals
    .command('show')
    .description('one request, with the approvals it has')
    .argument('<id>', 'the request (invocation) id')
    .option('--service <url>', 'the service (default: MANDATE_SERVICE)')
    .option('--wait <seconds>', 'wait up to SECONDS (≤ 30) for a new approval')
    .option('--key <file>', 'an approver’s, the requester’s or the principal’s key: only they may read it (default: MANDATE_KEY)')
    .action(async (id: string, opts: { service?: string; wait?: string; key?: string }, cmd: Command) => {
      const { showRequest } = await import('../actions/approvals.js')
      await showRequest(ctx, id, opts, cmd)
    })
  examples(cmd, 'mandate approvals show 3f9c…e1 --key assistant.pem --wait 30', 'mandate approvals show 3f9c…e1 --key alice.pem --json')
}

function requestCommand(approvals: Command, ctx: Context): void {
  const cmd = approvals
    .command('request')
    .description('submit an invocation that needs approval to the inbox (as the agent)')
    .argument('[invocation]', 'the invocation (mni1_…), @FILE, a file, or - for stdin')
    .option('--service <url>', 'the service (default: MANDATE_SERVICE)')
    .option(
      '--wait <duration>',
      'how long the request may wait for its approvers (default and at most: the service’s --approval-wait, 24h unless set; 0: 6 minutes)',
    )
    .action(async (arg: string | undefined, opts: { service?: string; wait?: string }, cmd: Command) => {
      const { submitRequest } = await import('../actions/approvals.js')
      await submitRequest(ctx, arg, opts, cmd)
    })
  examples(
    cmd,
    'mandate approvals request draft.txt',
    'mandate approvals request draft.txt --wait 4h',
    'mandate invoke grant.txt --key assistant.pem --action email:draft --audience mail | mandate approvals request',
  )
}

export function registerApprovals(program: Command, ctx: Context): void {
  const approvals = program.command('approvals').description('the approval inbox of a mandate service')
  listCommand(approvals, ctx)
  showCommand(approvals, ctx)
  requestCommand(approvals, ctx)
  examples(approvals, 'mandate approvals request draft.txt', 'mandate approvals list --key alice.pem', 'mandate approve ID --key alice.pem')
}
