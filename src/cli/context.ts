/**
 * What every command gets: the I/O edges, the output mode, and a way to report its result.
 *
 * @module
 */
import type { Command } from 'commander'
import type { Io } from './io.js'
import { painter } from './io.js'
import { markColors, printable, safeJson } from './printable.js'
import { type Service, serviceFrom } from './service-flags.js'

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

/** For a repeatable option: each value given is appended to the list. */
export const collect = (value: string, previous: string[] = []): string[] => [...previous, value]

/** The service of `--service URL` (or MANDATE_SERVICE), with the deadline of `--timeout`. */
export function serviceOf(ctx: Context, cmd: Command, flag: string | undefined): Service | undefined {
  return serviceFrom(ctx.io, flag, (cmd.optsWithGlobals() as { timeout?: string }).timeout)
}

/**
 * Print one result: a JSON document with --json (every string terminal-safe: see `safeJson`),
 * else the human text. `human` escapes the fields it shows with `printable`; what it misses is
 * still caught at the output boundary (`terminalSafe`, applied to the Io by `run`).
 */
export function emit(ctx: Context, cmd: Command, data: unknown, human: () => string): void {
  if (jsonMode(cmd)) ctx.io.out(`${safeJson(data, 2)}\n`)
  else ctx.io.out(human())
}

/** A warning on stderr (suppressed in --json mode, where warnings travel in the document). */
export function warn(ctx: Context, cmd: Command, message: string): void {
  if (!jsonMode(cmd)) ctx.io.err(`mandate: warning: ${printable(message)}\n`)
}

type Style = Parameters<ReturnType<typeof painter>>[0]

/**
 * Colors for human output. Only the escape sequences the painter adds are marked as ours (the
 * painted text is not), so that the output boundary lets them through and escapes any other.
 */
export function colors(ctx: Context, cmd: Command): (style: Style, text: string) => string {
  const paint = painter(ctx.io, !jsonMode(cmd))
  return (style, text) => {
    const [open = '', close = ''] = paint(style, '\0').split('\0')
    return `${markColors(open)}${text}${markColors(close)}`
  }
}
