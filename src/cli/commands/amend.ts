/**
 * `mandate amend`: its flags and help; ../actions/amend.ts signs the statement, loaded when
 * the command runs.
 *
 * @module
 */
import type { Command } from 'commander'
import type { AmendFlags } from '../actions/amend.js'
import { addCaveatFlags } from '../caveat-flags.js'
import type { Context } from '../context.js'
import { examples } from '../help.js'

export function registerAmend(program: Command, ctx: Context): void {
  const cmd = addCaveatFlags(
    program
      .command('amend')
      .description('add caveats to a block already handed on (it only narrows), or --lift an amendment')
      .argument('[token]', 'the mandate holding the block (mnd1_…), @FILE, a file, or - for stdin'),
  )
    .option('--key <file>', 'the principal key or a holder key at or above the block (default: MANDATE_KEY)')
    .option('--block <n>', 'which block (default: the last)')
    .option('--lift <id>', 'lift the amendment with this id (its signer or a key above it) instead of adding caveats')
    .option('--reason <text>', 'why: shown to the agent in every denial it causes, and kept in the audit trail (required)')
    .option('--statement-audience <name>', 'only the service of this name may accept it (its --audience)')
    .option('--service <url>', 'submit it to this service and print the amendment id (default: MANDATE_SERVICE)')
    .action(async (token: string | undefined, opts: AmendFlags, cmd: Command) => {
      const { amend } = await import('../actions/amend.js')
      await amend(ctx, token, opts, cmd)
    })
  examples(
    cmd,
    "mandate amend grant.txt --key alice.pem --approval 'calendar:schedule' --reason 'ask me before scheduling' --service http://127.0.0.1:8787",
    "mandate amend sub.txt --key assistant.pem --block 1 --uses 5 --expires 1h --reason 'slow down'",
    "mandate amend grant.txt --key alice.pem --lift 3f1c…e9 --reason 'the trip is booked'",
  )
}
