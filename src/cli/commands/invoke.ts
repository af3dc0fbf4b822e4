/**
 * `mandate invoke` and `mandate approve`: their flags and help; ../actions/invoke.ts signs,
 * loaded when a command runs.
 *
 * @module
 */
import type { Command } from 'commander'
import type { ApproveFlags, InvokeFlags } from '../actions/invoke.js'
import { type Context, collect } from '../context.js'
import { examples } from '../help.js'

function invokeCommand(program: Command, ctx: Context): void {
  const cmd = program
    .command('invoke')
    .description('sign a request with the mandate, as its holder')
    .argument('[token]', 'the mandate (mnd1_…), @FILE, a file, or - for stdin')
    .option('--key <file>', "the holder's key, for a bound mandate (default: MANDATE_KEY)")
    .requiredOption('--action <action>', 'what to do, e.g. email:read')
    .option('--resource <resource>', 'what to do it on')
    .option('--arg <key=value>', 'an argument (repeatable; integers and true/false are typed)', collect)
    .option('--args-json <json>', 'arguments as a JSON object')
    .requiredOption('--audience <name>', 'the service that will verify it')
    .option('--intent <text>', 'why, in the agent’s words (shown to approvers)')
    .action(async (token: string | undefined, opts: InvokeFlags, cmd: Command) => {
      const { invoke } = await import('../actions/invoke.js')
      await invoke(ctx, token, opts, cmd)
    })
  examples(
    cmd,
    'mandate invoke grant.txt --key assistant.pem --action email:read --resource inbox/42 --audience mail > read.txt',
    "mandate invoke grant.txt --key assistant.pem --action email:draft --arg to=bob@example.com --audience mail --intent 'reply to Bob'",
    'mandate invoke sub.txt --action calendar:read --audience calendar | mandate verify --root "alice=$ALICE" --audience calendar',
  )
}

function approveCommand(program: Command, ctx: Context): void {
  const cmd = program
    .command('approve')
    .description('approve one invocation, after showing what it asks for')
    .argument('[invocation]', 'the invocation (mni1_…, @FILE, a file, or - for stdin), or a request id from the service’s inbox')
    .option('--key <file>', "the approver's key (default: MANDATE_KEY)")
    .option('--expires <duration>', 'how long the approval stays usable (90s, 15m, 1h30m)', '10m')
    .option('--note <text>', 'a note for the audit record')
    .option('--yes', 'do not ask for confirmation')
    .option(
      '--service <url>',
      'for a request id: the service whose inbox holds it; the approval is posted there (default: MANDATE_SERVICE)',
    )
    .action(async (arg: string | undefined, opts: ApproveFlags, cmd: Command) => {
      const { approve } = await import('../actions/invoke.js')
      await approve(ctx, arg, opts, cmd)
    })
  examples(
    cmd,
    'mandate approve draft.txt --key alice.pem > ok.txt              # offline: shows the request, asks, prints the approval',
    'mandate approve ID --key alice.pem --service http://127.0.0.1:8787   # from the inbox (mandate approvals list); posted back there',
    'mandate approve draft.txt --key alice.pem --yes --expires 15m --note "ok for Bob" > ok.txt',
  )
}

export function registerInvoke(program: Command, ctx: Context): void {
  invokeCommand(program, ctx)
  approveCommand(program, ctx)
}
