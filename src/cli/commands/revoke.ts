/**
 * `mandate revoke`: its flags and help; ../actions/revoke.ts signs the statement, loaded when
 * the command runs.
 *
 * @module
 */
import type { Command } from 'commander'
import type { RevokeFlags } from '../actions/revoke.js'
import { type Context, collect } from '../context.js'
import { examples } from '../help.js'

export function registerRevoke(program: Command, ctx: Context): void {
  const cmd = program
    .command('revoke')
    .description('sign a revocation (or --suspend / --resume) of one block of a mandate')
    .argument('[token]', 'the mandate holding the block (mnd1_…), or - for stdin')
    .option('--key <file>', 'the principal key or a holder key at or above the block (default: MANDATE_KEY)')
    .option('--block <n>', 'which block (default: the last)')
    .option('--actions <pattern>', 'only these actions and those below them (repeatable): a scoped revocation', collect)
    .option('--suspend', 'suspend instead of revoking (reversible)')
    .option('--resume', 'lift a suspension')
    .option('--reason <text>', 'why, for the record')
    .option('--audience <name>', 'only the service of this name may accept it (its --audience), so it cannot be replayed at another')
    .option('--service <url>', 'submit it to this service and print its sequence number (default: MANDATE_SERVICE)')
    .action(async (token: string | undefined, opts: RevokeFlags, cmd: Command) => {
      const { revoke } = await import('../actions/revoke.js')
      await revoke(ctx, token, opts, cmd)
    })
  examples(
    cmd,
    "mandate revoke grant.txt --key alice.pem --reason 'the project ended'",
    "mandate revoke grant.txt --key alice.pem --actions 'email:draft' --service http://127.0.0.1:8787   # prints the feed seq",
    'mandate revoke sub.txt --key assistant.pem --block 1 --suspend',
  )
}
