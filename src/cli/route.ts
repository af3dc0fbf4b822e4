/**
 * Where a command line leads in the command tree, decided before commander runs: commander
 * would print the root help and exit 0 for `mandate amend --help`, and print help with an
 * "(outputHelp)" error for `mandate` alone. Here an unknown command is a usage error (exit 2)
 * whatever else the line holds, and a missing one is said plainly.
 *
 * @module
 */
import type { Command } from 'commander'

/** What the line asks for. */
export type Route =
  /** A command to run (or help for one): commander takes it from here. */
  | { readonly kind: 'command'; readonly path: readonly string[] }
  /** No command, only `--version`: printed by the CLI itself (as JSON with --json). */
  | { readonly kind: 'version' }
  /** A name that is not a command of `parent`. */
  | { readonly kind: 'unknown'; readonly name: string; readonly path: readonly string[]; readonly parent: Command }
  /** A command that has subcommands (or the program itself), without one. */
  | { readonly kind: 'incomplete'; readonly path: readonly string[]; readonly group: Command }

const HELP = new Set(['-h', '--help'])
const VERSION = new Set(['-V', '--version'])

/** The options of `cmd` that take a value (their value is the next word unless given with `=`). */
function valueOptions(cmd: Command): Set<string> {
  return new Set(cmd.options.filter((o) => o.required || o.optional).flatMap((o) => [o.long, o.short].filter((f) => f !== undefined)))
}

/** Follow `argv` (without node and the script) through `program`'s commands. */
export function route(program: Command, argv: readonly string[]): Route {
  let level = program
  const path: string[] = []
  let helpCommand = false
  let asked: 'help' | 'version' | undefined
  const withValue = valueOptions(program)
  for (let i = 0; i < argv.length; i++) {
    const word = argv[i] as string
    if (word === '--') break
    if (word.startsWith('-')) {
      if (HELP.has(word)) asked = 'help'
      else if (VERSION.has(word) && asked === undefined) asked = 'version'
      if (withValue.has(word)) i++
      continue
    }
    if (level.commands.length === 0) break
    if (word === 'help' && !helpCommand) {
      helpCommand = true
      continue
    }
    const next = level.commands.find((c) => c.name() === word || c.aliases().includes(word))
    if (!next) return { kind: 'unknown', name: word, path, parent: level }
    level = next
    path.push(word)
  }
  if (level.commands.length === 0 || helpCommand || asked === 'help') return { kind: 'command', path }
  if (path.length === 0 && asked === 'version') return { kind: 'version' }
  return { kind: 'incomplete', path, group: level }
}

/** Edit distance, for "did you mean …?" (names are short). */
function distance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j)
  for (let i = 1; i <= a.length; i++) {
    const row = [i]
    for (let j = 1; j <= b.length; j++) {
      row[j] = Math.min((prev[j] as number) + 1, (row[j - 1] as number) + 1, (prev[j - 1] as number) + (a[i - 1] === b[j - 1] ? 0 : 1))
    }
    prev = row
  }
  return prev[b.length] as number
}

/** The commands of `parent` whose names are close to `name`. */
export function similar(parent: Command, name: string): string[] {
  const names = parent.commands.map((c) => c.name())
  return names.filter((n) => n.startsWith(name) || distance(n, name) <= Math.max(1, Math.floor(n.length / 3)))
}
