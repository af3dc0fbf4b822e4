/**
 * `mandate approvals list|show|request|deny`: their flags and help; ../actions/approvals.ts talks to
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
    .option('--wait <seconds>', 'wait up to SECONDS (≤ 30) for a new approval or a denial (at once when already answered)')
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

function denyCommand(approvals: Command, ctx: Context): void {
  const cmd = approvals
    .command('deny')
    .description('deny a request with a reason (as an approver, or the principal): it is closed, and the agent is told who and why')
    .argument('<id>', 'the request (invocation) id')
    .option('--reason <text>', 'why, for the agent: 1–500 characters (required)')
    .option('--service <url>', 'the service (default: MANDATE_SERVICE)')
    .option('--key <file>', 'an approver’s or the principal’s key: the request is signed with it (default: MANDATE_KEY)')
    .action(async (id: string, opts: { service?: string; key?: string; reason?: string }, cmd: Command) => {
      const { denyRequest } = await import('../actions/approvals.js')
      await denyRequest(ctx, id, opts, cmd)
    })
  examples(
    cmd,
    "mandate approvals deny 3f9c…e1 --key alice.pem --reason 'not to the whole company'",
    "mandate approvals deny 3f9c…e1 --key alice.pem --reason 'ask me on Monday' --json",
  )
}

export function registerApprovals(program: Command, ctx: Context): void {
  const approvals = program.command('approvals').description('the approval inbox of a mandate service')
  listCommand(approvals, ctx)
  showCommand(approvals, ctx)
  requestCommand(approvals, ctx)
  denyCommand(approvals, ctx)
  examples(
    approvals,
    'mandate approvals request draft.txt',
    'mandate approvals list --key alice.pem',
    'mandate approve ID --key alice.pem',
    "mandate approvals deny ID --key alice.pem --reason 'not this one'",
  )
}
