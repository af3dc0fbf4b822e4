/**
 * `mandate demo`: its help; the story is told by ../actions/demo.ts, loaded when the command
 * runs.
 *
 * @module
 */
import type { Command } from 'commander'
import type { Context } from '../context.js'
import { examples } from '../help.js'

export function registerDemo(program: Command, ctx: Context): void {
  const cmd = program
    .command('demo')
    .description('run the delegation story end to end (Alice → assistant → sub-agent)')
    .action(async (_opts: unknown, cmd: Command) => {
      const { demo } = await import('../actions/demo.js')
      await demo(ctx, cmd)
    })
  examples(cmd, 'mandate demo', 'mandate demo --json')
}
