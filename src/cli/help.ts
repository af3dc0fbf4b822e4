/**
 * Help text that shows, not only tells: every command's `--help` ends with examples.
 *
 * @module
 */
import type { Command } from 'commander'

/** Append an "Examples:" section to `cmd`'s help. */
export function examples(cmd: Command, ...lines: readonly string[]): Command {
  return cmd.addHelpText('after', `\nExamples:\n${lines.map((l) => `  $ ${l}`).join('\n')}`)
}
