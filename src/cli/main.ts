/**
 * The `mandate` command line: a thin commander program over the library.
 * Exit codes: 0 success or allowed; 1 denied or rejected; 2 usage or malformed input;
 * 3 operational failure.
 *
 * @module
 */
import { Command, CommanderError } from 'commander'
import { registerApprovals } from './commands/approvals.js'
import { registerDemo } from './commands/demo.js'
import { registerGrant } from './commands/grant.js'
import { registerInspect } from './commands/inspect.js'
import { registerInvoke } from './commands/invoke.js'
import { registerKeys } from './commands/keys.js'
import { registerRevoke } from './commands/revoke.js'
import { registerServe } from './commands/serve.js'
import { registerVerify } from './commands/verify.js'
import type { Context } from './context.js'
import { describeFailure } from './errors.js'
import { type Io, processIo } from './io.js'
import { guardIo, printable, safeJson } from './printable.js'

/** Build the program for one run. */
export function buildProgram(ctx: Context): Command {
  const program = new Command('mandate')
    .description('attenuable capability tokens for AI agents')
    .version('0.1.0')
    .option('--json', 'print exactly one JSON document on stdout, errors included')
    .showHelpAfterError(false)
    .addHelpText(
      'after',
      `
Tokens: a TOKEN argument is the text (mnd1_… mandate, mni1_… invocation, mna1_… approval,
mnr1_… revocation), @FILE or a file path, or - / nothing for standard input.

Environment: MANDATE_KEY (key file), MANDATE_ROOTS (trusted did:keys, NAME=DID allowed),
MANDATE_SERVICE (service URL), MANDATE_SERVICE_KEY (its feed key), NO_COLOR. Flags win.

Exit codes: 0 success or allowed; 1 denied or rejected; 2 usage error or malformed input;
3 operational failure (files, an unreachable service: fail closed).

Start here: mandate demo`,
    )
    .exitOverride()
    .configureOutput({ outputError: () => {} })
  for (const register of [
    registerKeys,
    registerGrant,
    registerInspect,
    registerInvoke,
    registerVerify,
    registerRevoke,
    registerServe,
    registerApprovals,
    registerDemo,
  ]) {
    register(program, ctx)
  }
  const quiet = (cmd: Command): void => {
    cmd.exitOverride().configureOutput({ outputError: () => {} })
    for (const sub of cmd.commands) quiet(sub)
  }
  for (const cmd of program.commands) quiet(cmd)
  return program
}

/** Run with `argv` (without node and script); returns the exit code. */
export async function run(argv: readonly string[], raw: Io = processIo()): Promise<number> {
  const json = argv.includes('--json')
  // The output boundary: nothing a token or a service carries reaches the terminal raw.
  const io = guardIo(raw, json)
  const ctx: Context = { io, exit: 0 }
  try {
    await buildProgram(ctx).parseAsync([...argv], { from: 'user' })
    return ctx.exit
  } catch (e) {
    if (e instanceof CommanderError) {
      if (e.exitCode === 0) return 0 // help or version, already printed
      // commander's own lines ("(Did you mean …?)") stay lines; each is escaped
      const message = e.message.replace(/^error: /, '')
      return fail(io, json, { exit: 2, code: 'ERR_USAGE', message, hint: 'see mandate --help' }, true)
    }
    return fail(io, json, describeFailure(e))
  }
}

/** Report a failure. Messages may quote a token or a service: each is escaped (`printable`). */
function fail(io: Io, json: boolean, f: { exit: number; code: string; message: string; hint?: string }, lines = false): number {
  if (json) io.out(`${safeJson({ error: { code: f.code, message: f.message, ...(f.hint ? { hint: f.hint } : {}) } }, 2)}\n`)
  else {
    const message = lines
      ? f.message
          .split('\n')
          .map((l) => printable(l))
          .join('\n')
      : printable(f.message)
    const code = f.code.startsWith('ERR_') && f.code !== 'ERR_USAGE' && f.code !== 'ERR_IO' ? ` (${printable(f.code)})` : ''
    io.err(`mandate: error: ${message}${code}\n${f.hint ? `mandate: hint: ${printable(f.hint)}\n` : ''}`)
  }
  return f.exit
}

/** Entry point for bin/mandate.js. */
export async function main(): Promise<void> {
  process.exitCode = await run(process.argv.slice(2))
}
