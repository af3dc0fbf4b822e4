/**
 * `mandate mint`, `mandate attenuate` and `mandate seal`: their flags and help; the tokens are
 * made in ../actions/grant.ts, loaded when a command runs.
 *
 * @module
 */
import type { Command } from 'commander'
import type { GrantFlags } from '../actions/grant.js'
import { addCaveatFlags } from '../caveat-flags.js'
import type { Context } from '../context.js'
import { examples } from '../help.js'

function common(cmd: Command): Command {
  return addCaveatFlags(cmd)
    .option('--to <did>', 'the next holder (bound); without it, a bearer mandate')
    .option('--name <text>', "the holder's name in the accountability chain")
    .option('--purpose <text>', 'why this delegation exists')
    .option('-o, --out <file>', 'write the mandate to FILE (mode 0600) instead of stdout: a bearer mandate is a secret')
    .option('--force', 'with -o: overwrite (the file is made 0600)')
}

function mintCommand(program: Command, ctx: Context): void {
  const cmd = common(program.command('mint').description('mint a root mandate signed by the principal key'))
    .option('--key <file>', "the principal's key (default: MANDATE_KEY)")
    .option('--allow-all-actions', 'mint without --action: the mandate allows EVERY action (dangerous; say so explicitly)')
    .action(async (opts: GrantFlags, cmd: Command) => {
      const { mint } = await import('../actions/grant.js')
      mint(ctx, opts, cmd)
    })
  examples(
    cmd,
    "mandate mint --key alice.pem --to did:key:z6Mk… --action 'email:read' --action 'calendar:*' --expires 8h -o grant.txt",
    "mandate mint --key alice.pem --action 'slack:read' --uses 100 --per 1d --expires 7d -o bearer.txt",
    "mandate mint --key alice.pem --to did:key:z6Mk… --action 'email:*' --deny email:send --approval email:draft --expires 1h30m",
  )
}

function attenuateCommand(program: Command, ctx: Context): void {
  const cmd = common(program.command('attenuate').description('narrow a mandate and name the next holder'))
    .argument('[token]', 'the mandate (mnd1_…), @FILE, a file, or - for stdin')
    .option('--key <file>', "the current holder's key, for a bound mandate (default: MANDATE_KEY)")
    .action(async (token: string | undefined, opts: GrantFlags, cmd: Command) => {
      const { attenuate } = await import('../actions/grant.js')
      await attenuate(ctx, token, opts, cmd)
    })
  examples(
    cmd,
    "mandate attenuate grant.txt --key assistant.pem --action 'calendar:read' --uses 3 --name sub-agent -o sub.txt",
    'mandate attenuate grant.txt --key assistant.pem --to did:key:z6Mk… --resource "drive/reports/**" --expires 2h',
    "cat sub.txt | mandate attenuate - --action 'calendar:read' --expires 15m -o narrower.txt",
  )
}

function sealCommand(program: Command, ctx: Context): void {
  const cmd = program
    .command('seal')
    .description('seal a bearer mandate: still usable, no longer attenuable (a bound mandate cannot be sealed)')
    .argument('[token]', 'the mandate (mnd1_…), @FILE, a file, or - for stdin')
    .option('-o, --out <file>', 'write the sealed mandate to FILE (mode 0600) instead of stdout')
    .option('--force', 'with -o: overwrite (the file is made 0600)')
    .action(async (token: string | undefined, opts: GrantFlags, cmd: Command) => {
      const { seal } = await import('../actions/grant.js')
      await seal(ctx, token, opts, cmd)
    })
  examples(cmd, 'mandate seal sub.txt -o sealed.txt', 'mandate attenuate sub.txt --action calendar:read | mandate seal - -o sealed.txt')
}

export function registerGrant(program: Command, ctx: Context): void {
  mintCommand(program, ctx)
  attenuateCommand(program, ctx)
  sealCommand(program, ctx)
}
