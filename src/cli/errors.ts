/**
 * CLI failures that are not about a token: misuse (exit 2) and I/O (exit 3); and library
 * errors caused by what the user typed, which are input mistakes (exit 2) whatever the code.
 *
 * @module
 */
import { disposition, MandateError, type MandateErrorCode } from '../errors.js'

/**
 * Codes the CLI adds to the library's: a usage mistake, or an operational failure (a file, or a
 * package the command needs that is not installed).
 */
export type CliErrorCode = 'ERR_USAGE' | 'ERR_IO' | 'ERR_NOT_INSTALLED'

/** A CLI-level error with its exit code. */
export class CliError extends Error {
  constructor(
    readonly code: CliErrorCode,
    message: string,
    readonly hint?: string,
  ) {
    super(message)
    this.name = 'CliError'
  }
  get exit(): 1 | 2 | 3 {
    return this.code === 'ERR_USAGE' ? 2 : 3
  }
  /** The code a user is shown (`--json`'s `error.code`): the CLI's own, unless a more precise one is known. */
  get shownCode(): string {
    return this.code
  }
}

/**
 * A library error raised while building a token from flags (a bad pattern, a too-long
 * lifetime, sealing a bound mandate): the user's input is at fault, so it exits 2 with the
 * library's code, whatever that code means to a verifier.
 */
export class InputError extends Error {
  constructor(
    readonly code: MandateErrorCode,
    message: string,
    readonly hint?: string,
  ) {
    super(message)
    this.name = 'InputError'
  }
}

/** A usage error (exit 2). */
export function usage(message: string, hint?: string): never {
  throw new CliError('ERR_USAGE', message, hint)
}

/**
 * Run `build` (a library call that makes a token from the user's flags); a MandateError it
 * throws becomes an {@link InputError} (exit 2), with the library's hint or `hint(e)`.
 * Operational failures (exit 3) stay as they are.
 */
export function fromFlags<T>(build: () => T, hint: (e: MandateError) => string | undefined = () => undefined): T {
  try {
    return build()
  } catch (e) {
    if (!(e instanceof MandateError) || disposition(e.code).exit === 3) throw e
    const h = e.hint ?? hint(e)
    throw new InputError(e.code, e.message, h)
  }
}

/**
 * The optional peers of the library that commands load (package.json `peerDependencies` less
 * those only a user's own app loads, Express and Fastify; test/cli/launch.test.ts holds the two
 * together). commander and canonicalize are bundled into the command.
 */
export const COMMAND_PEERS: ReadonlySet<string> = new Set([
  '@hono/node-server',
  '@modelcontextprotocol/sdk',
  'better-sqlite3',
  'hono',
  'pg',
  'pino',
  'prom-client',
])

/**
 * The optional peer a failed `require`/`import` names: `serve`, `mcp` and `demo` load peers of
 * the library (hono, pino, SQLite, the MCP SDK, …) that a project installing the library alone
 * does not have. Anything else missing (a file, a peer's own dependency) is not claimed: it is
 * a broken install or a bug, not a missing peer.
 */
export function missingPackage(e: unknown): string | undefined {
  const code = (e as { code?: unknown } | null | undefined)?.code
  if (code !== 'MODULE_NOT_FOUND' && code !== 'ERR_MODULE_NOT_FOUND') return undefined
  const name = /^Cannot find (?:module|package) '([^']+)'/.exec(String((e as Error).message))?.[1]
  if (name === undefined) return undefined
  const parts = name.split('/')
  const peer = (name.startsWith('@') ? parts.slice(0, 2) : parts.slice(0, 1)).join('/')
  return COMMAND_PEERS.has(peer) ? peer : undefined
}

/** The exit code, code, message and hint of anything thrown inside a command. */
export function describeFailure(e: unknown): { exit: 1 | 2 | 3; code: string; message: string; hint?: string } {
  const missing = missingPackage(e)
  if (missing !== undefined)
    return {
      exit: 3,
      code: 'ERR_NOT_INSTALLED',
      message: `this command needs the package ${missing}, which is not installed (this copy of mandate comes with the library alone)`,
      hint: `install the command with \`npm install -g mandate-cli\` (if the library is also installed globally, \`npm uninstall -g mandate\` first: both provide \`mandate\`), or the package alone next to mandate: \`npm install ${missing}\``,
    }
  if (e instanceof CliError) return { exit: e.exit, code: e.shownCode, message: e.message, ...(e.hint ? { hint: e.hint } : {}) }
  if (e instanceof InputError) return { exit: 2, code: e.code, message: e.message, ...(e.hint ? { hint: e.hint } : {}) }
  if (e instanceof MandateError)
    return { exit: disposition(e.code).exit, code: e.code, message: e.message, ...(e.hint ? { hint: e.hint } : {}) }
  if (e instanceof TypeError || e instanceof RangeError) return { exit: 2, code: 'ERR_USAGE', message: e.message }
  return { exit: 3, code: 'ERR_INTERNAL', message: e instanceof Error ? e.message : String(e) }
}
