/**
 * The CLI's output boundary: every write goes through {@link terminalSafe}, which escapes what
 * `src/internal/printable.ts` calls unsafe, and lets only the painter's own colors through.
 *
 * @module
 */
import { randomBytes } from 'node:crypto'
import { escapeChar, jsonEscapeChar, replaceUnsafe } from '../internal/printable.js'
import type { Io } from './io.js'

export {
  jsonSafe,
  PRINTABLE_MAX,
  printable,
  printableJson,
  safeJson,
} from '../internal/printable.js'

/**
 * Where colors are allowed through: the painter marks its own escape characters with this
 * per-process random string, and {@link terminalSafe} turns the marks back into ESC only after
 * escaping every other ESC. Text from a token cannot contain the mark.
 */
const SGR_MARK = `⟦sgr-${randomBytes(16).toString('hex')}⟧`

/** Mark the ESC characters of colored text made by our own painter (see {@link terminalSafe}). */
export function markColors(styled: string): string {
  return styled.replaceAll('\x1b', SGR_MARK)
}

/**
 * The last line of defence, at the output boundary: whole text as the CLI writes it. Escapes
 * every unsafe character as {@link printable} does except the line feed (which separates the
 * lines of the output), leaves backslashes as they are (so text that already went through
 * {@link printable} or {@link safeJson} is unchanged), then restores the painter's colors.
 * With `json`, escapes as `\uhhhh` so that a JSON document stays valid.
 */
export function terminalSafe(text: string, json = false): string {
  const escaped = replaceUnsafe(text, json ? jsonEscapeChar : escapeChar)
  return escaped.includes(SGR_MARK) ? escaped.replaceAll(SGR_MARK, '\x1b') : escaped
}

/**
 * The output boundary: an Io whose every write (and confirmation question) goes through
 * {@link terminalSafe}. With `json`, standard output escapes as JSON does; standard error, read
 * by a person, always uses the visible escapes.
 */
export function guardIo(io: Io, json: boolean): Io {
  return {
    env: io.env,
    stdinIsTTY: io.stdinIsTTY,
    stdoutIsTTY: io.stdoutIsTTY,
    stdoutFileMode: () => io.stdoutFileMode(),
    stdoutColumns: () => io.stdoutColumns(),
    readStdin: () => io.readStdin(),
    out: (text) => io.out(terminalSafe(text, json)),
    err: (text) => io.err(terminalSafe(text)),
    confirm: (question) => io.confirm(terminalSafe(question)),
    now: () => io.now(),
  }
}
