/**
 * What every command gets: the I/O edges, the output mode, and a way to report its result.
 *
 * @module
 */
import type { Command } from 'commander'
import type { Io } from './io.js'
import { painter } from './io.js'

/** Shared command context. */
export interface Context {
  readonly io: Io
  /** Exit code the command settles on (0 unless it reports a denial). */
  exit: 0 | 1 | 2 | 3
}

/** True when `--json` was given anywhere on the command line. */
export function jsonMode(cmd: Command): boolean {
  return (cmd.optsWithGlobals() as { json?: boolean }).json === true
}

/** Print one result: a JSON document with --json, else the human text. */
export function emit(ctx: Context, cmd: Command, data: unknown, human: () => string): void {
  if (jsonMode(cmd)) ctx.io.out(`${JSON.stringify(data, null, 2)}\n`)
  else ctx.io.out(human())
}

/** A warning on stderr (suppressed in --json mode, where warnings travel in the document). */
export function warn(ctx: Context, cmd: Command, message: string): void {
  if (!jsonMode(cmd)) ctx.io.err(`mandate: warning: ${message}\n`)
}

/** Colors for human output. */
export function colors(ctx: Context, cmd: Command) {
  return painter(ctx.io, !jsonMode(cmd))
}
