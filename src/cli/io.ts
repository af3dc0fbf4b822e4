/**
 * The CLI's edges: standard streams, environment, files with safe modes.
 *
 * @module
 */
import { existsSync, fstatSync, readFileSync, statSync, writeSync } from 'node:fs'
import { styleText } from 'node:util'
import type { KeyPair } from '../crypto/keys.js'
import { importSecretKeyPem } from '../crypto/keys.js'
import { reason, SecretFileError, writeSecretFile as writeSecret } from '../internal/secret-file.js'
import { kindOf } from '../token/text.js'
import { CliError, usage } from './errors.js'

/** What a command may touch. Tests run the real binary; this keeps commands honest. */
export interface Io {
  readonly env: Readonly<Record<string, string | undefined>>
  readonly stdinIsTTY: boolean
  readonly stdoutIsTTY: boolean
  /** The permission bits of standard output when it is a regular file (`> FILE`), else undefined. */
  stdoutFileMode(): number | undefined
  /** The width of the terminal standard output is, else undefined (help wraps to it). */
  stdoutColumns(): number | undefined
  readStdin(): Promise<string>
  out(text: string): void
  err(text: string): void
  /** Ask a yes/no question on the terminal. */
  confirm(question: string): Promise<boolean>
  now(): number
}

/**
 * Whether a failed write to `fd` ends that output quietly instead of with a stack trace: a
 * reader gone (EPIPE, `mandate … | head`), or any failure on standard error (`2>/dev/full`),
 * where nothing could report it — the exit code still says how the command ended.
 */
const endsQuietly = (fd: 1 | 2, e: unknown): boolean => (e as NodeJS.ErrnoException).code === 'EPIPE' || fd === 2

/**
 * Standard output or error written straight to its descriptor: making `process.stdout` loads
 * Node's net and tty modules and makes a socket or tty stream (~7 ms of a `mandate verify` that
 * prints one line, issue #9).
 * A descriptor another process left non-blocking can refuse a write (EAGAIN) when the reader
 * lags: the rest then goes, in order, through the stream, which waits for the reader. A failed
 * write ends the output as {@link endsQuietly} says, on either path. Internal (`write` and
 * `stream` are the test's to replace).
 */
export function direct(
  fd: 1 | 2,
  stream: () => NodeJS.WritableStream,
  write: (fd: number, bytes: Uint8Array, offset: number) => number = writeSync,
): { write(text: string): void } {
  let closed = false
  let queued: NodeJS.WritableStream | undefined
  return {
    write(text) {
      if (closed) return
      if (queued !== undefined) {
        queued.write(text)
        return
      }
      const bytes = Buffer.from(text, 'utf8')
      let written = 0
      try {
        while (written < bytes.length) written += write(fd, bytes, written)
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'EAGAIN') {
          queued = stream()
          queued.on('error', (failure: unknown) => {
            if (!endsQuietly(fd, failure)) throw failure
            closed = true
          })
          queued.write(bytes.subarray(written))
        } else if (endsQuietly(fd, e)) closed = true
        else throw e
      }
    },
  }
}

/**
 * Whether `fd` is a terminal. Not `process.stdin.isTTY`, which makes the stdin stream (~4 ms) in
 * every command that never reads it; and `node:tty` (which loads `node:net`, another ~4 ms) only
 * for a character device, which a terminal is: piped or redirected output never loads it.
 */
function isTerminal(fd: 0 | 1): boolean {
  try {
    if (!fstatSync(fd).isCharacterDevice()) return false
  } catch {
    return false // no such descriptor: not a terminal
  }
  return process.getBuiltinModule('node:tty').isatty(fd)
}

let streams: { out: { write(text: string): void }; err: { write(text: string): void } } | undefined

/** The process's real streams. */
export function processIo(): Io {
  streams ??= { out: direct(1, () => process.stdout), err: direct(2, () => process.stderr) }
  const { out, err } = streams
  const stdoutIsTTY = isTerminal(1)
  return {
    env: process.env,
    stdinIsTTY: isTerminal(0),
    stdoutIsTTY,
    // Only a terminal has a width, and only there is the stream made (for its size).
    stdoutColumns: () => (stdoutIsTTY ? process.stdout.columns : undefined),
    stdoutFileMode() {
      try {
        const st = fstatSync(1)
        return st.isFile() ? st.mode & 0o777 : undefined
      } catch {
        return undefined
      }
    },
    async readStdin() {
      const chunks: Buffer[] = []
      for await (const chunk of process.stdin) chunks.push(chunk as Buffer)
      return Buffer.concat(chunks).toString('utf8')
    },
    out: (text) => out.write(text),
    err: (text) => err.write(text),
    async confirm(question) {
      const { createInterface } = await import('node:readline/promises')
      const rl = createInterface({ input: process.stdin, output: process.stderr })
      try {
        const answer = await rl.question(`${question} [y/N] `)
        return /^y(es)?$/i.test(answer.trim())
      } finally {
        rl.close()
      }
    },
    now: () => Math.floor(Date.now() / 1000),
  }
}

/** Colors only on a terminal, and never with NO_COLOR set. */
export function painter(io: Io, enabled: boolean): (style: Parameters<typeof styleText>[0], text: string) => string {
  const on = enabled && io.stdoutIsTTY && io.env['NO_COLOR'] === undefined
  return (style, text) => (on ? styleText(style, text) : text)
}

/** A token argument as read, and where it came from (for messages). */
export interface Input {
  readonly text: string
  /** `the argument`, `file PATH` or `standard input`. */
  readonly from: string
  /** The argument, when it was given as text that is neither a token nor an existing file. */
  readonly notAFile?: string
}

/**
 * The token argument: the text itself, `@FILE` or a path to a file holding it, or stdin when
 * it is `-` or missing.
 */
export async function readInput(io: Io, arg: string | undefined, what: string): Promise<Input> {
  if (arg !== undefined && arg !== '-') {
    if (arg.startsWith('@')) return { text: readText(arg.slice(1), `${what} file`).trim(), from: `file ${arg.slice(1)}` }
    const token = kindOf(arg) !== undefined
    if (!token && existsSync(arg)) return { text: readText(arg, `${what} file`).trim(), from: `file ${arg}` }
    return { text: arg.trim(), from: 'the argument', ...(token ? {} : { notAFile: arg }) }
  }
  if (arg === undefined && io.stdinIsTTY) usage(`no ${what} given`, 'pass it as an argument (text, @FILE or a path), or pipe it in with -')
  const text = (await io.readStdin()).trim()
  if (text.length === 0) usage(`no ${what} on standard input`, `pipe the ${what} in, or pass it as an argument (text, @FILE or a path)`)
  return { text, from: 'standard input' }
}

/** Read a text file, mapping failures to exit 3 with a readable reason. */
export function readText(path: string, what: string): string {
  try {
    return readFileSync(path, 'utf8')
  } catch (e) {
    throw new CliError('ERR_IO', `cannot read ${what} ${path}: ${reason(e)}`)
  }
}

/** Load a PKCS#8 key file; warn when others can read it. Never echoes the file's contents. */
export function loadKey(io: Io, path: string | undefined, flag = '--key'): KeyPair {
  const file = path ?? io.env['MANDATE_KEY']
  if (file === undefined || file === '')
    usage(`a key file is needed (${flag} FILE or MANDATE_KEY)`, 'create one with mandate keygen -o FILE')
  const text = readText(file, 'key file')
  try {
    const mode = statSync(file).mode & 0o777
    if ((mode & 0o077) !== 0) {
      io.err(
        `mandate: warning: key file ${file} is readable by others (mode ${mode.toString(8).padStart(4, '0')})\nmandate: hint: chmod 600 ${file}\n`,
      )
    }
  } catch {
    // stat failing after a successful read is not worth failing over
  }
  return importSecretKeyPem(text)
}

/**
 * Write `text` to `path` with mode 0600 (an existing file overwritten with `force` is made
 * 0600 too); refuse to overwrite unless `force`. Returns the file's permission bits as they
 * ended up (a file we do not own may keep its mode). Failures are the CLI's: an existing file
 * is a usage error, anything else `ERR_IO`.
 */
export function writeSecretFile(path: string, text: string, force: boolean): number {
  try {
    return writeSecret(path, text, force)
  } catch (e) {
    if (!(e instanceof SecretFileError)) throw e
    if (e.exists) usage(e.message, 'pass --force to overwrite it')
    throw new CliError('ERR_IO', e.message)
  }
}
