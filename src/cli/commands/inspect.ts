/**
 * `mandate inspect`: its help; the tree is drawn in ../actions/inspect.ts, loaded when the
 * command runs.
 *
 * @module
 */
import type { Command } from 'commander'
import type { Context } from '../context.js'
import { examples } from '../help.js'

export function registerInspect(program: Command, ctx: Context): void {
  const cmd = program
    .command('inspect')
    .description('show what a mandate, invocation, approval or revocation says (verifies nothing)')
    .argument('[token]', 'mnd1_…, mni1_…, mna1_… or mnr1_…, @FILE, a file, or - for stdin')
    .action(async (token: string | undefined, _opts: unknown, cmd: Command) => {
      const { inspect } = await import('../actions/inspect.js')
      await inspect(ctx, token, cmd)
    })
  examples(
    cmd,
    'mandate inspect grant.txt',
    'mandate invoke grant.txt --key assistant.pem --action email:read --audience mail | mandate inspect',
    'mandate inspect ok.txt --json',
  )
}
