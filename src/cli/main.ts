/**
 * The `mandate` command line: a thin commander program over the library.
 * Exit codes: 0 success or allowed; 1 denied or rejected; 2 usage or malformed input;
 * 3 operational failure.
 *
 * Commands register only their flags and help here (commands/); each action imports what it
 * runs (actions/) when it runs, so that a command loads no other command's code: start-up is
 * paid by every `mandate verify` a script runs (issue #9).
 *
 * @module
 */
import { Command, CommanderError } from 'commander'
import { registerAmend } from './commands/amend.js'
import { registerApprovals } from './commands/approvals.js'
import { registerAudit } from './commands/audit.js'
import { registerCompletion } from './commands/completion.js'
import { registerDemo } from './commands/demo.js'
import { registerGrant } from './commands/grant.js'
import { registerInspect } from './commands/inspect.js'
import { registerInvoke } from './commands/invoke.js'
import { registerKeys } from './commands/keys.js'
import { registerMcp } from './commands/mcp.js'
import { registerRevoke } from './commands/revoke.js'
import { registerServe } from './commands/serve.js'
import { registerVerify } from './commands/verify.js'
import type { Context } from './context.js'
import { describeFailure, usage } from './errors.js'
import { examples } from './help.js'
import { type Io, processIo } from './io.js'
import { guardIo, printable, safeJson } from './printable.js'
import { type Route, route, similar } from './route.js'
import { DEFAULT_TIMEOUT_SECONDS } from './service-flags.js'
import { VERSION } from './version.js'

type Registrar = (program: Command, ctx: Context) => void

/** Every command, in the order `mandate --help` lists them. */
const REGISTRARS: readonly Registrar[] = [
  registerKeys,
  registerGrant,
  registerInspect,
  registerInvoke,
  registerVerify,
  registerRevoke,
  registerAmend,
  registerServe,
  registerApprovals,
  registerAudit,
  registerMcp,
  registerDemo,
  registerCompletion,
]

/**
 * The registrar of each top-level name (test/cli/program.test.ts holds it to what each registers):
 * a line naming a command builds only that one, not the other twelve with their options and
 * help (issue #9: every `mandate verify` a script runs pays for the program it builds).
 * `completion` lists the whole program, so it is built whole.
 *
 * @internal exported for the test
 */
export const REGISTRAR_OF: ReadonlyMap<string, Registrar> = new Map<string, Registrar>([
  ['keygen', registerKeys],
  ['pubkey', registerKeys],
  ['mint', registerGrant],
  ['attenuate', registerGrant],
  ['seal', registerGrant],
  ['inspect', registerInspect],
  ['invoke', registerInvoke],
  ['approve', registerInvoke],
  ['verify', registerVerify],
  ['revoke', registerRevoke],
  ['amend', registerAmend],
  ['serve', registerServe],
  ['approvals', registerApprovals],
  ['audit', registerAudit],
  ['mcp', registerMcp],
  ['demo', registerDemo],
])

/** The command a line names first, past the program's own options; undefined for none (or help, version). */
function named(argv: readonly string[]): string | undefined {
  for (let i = 0; i < argv.length; i++) {
    const word = argv[i] as string
    if (word === '--json' || word.startsWith('--timeout=')) continue
    if (word === '--timeout') {
      i++
      continue
    }
    return word.startsWith('-') ? undefined : word
  }
  return undefined
}

/**
 * Build the program for one run (with `argv`, only the command it names, when it names one).
 * Help and commander's own output go through the run's Io.
 */
export function buildProgram(ctx: Context, argv?: readonly string[]): Command {
  const program = new Command('mandate')
    .description('attenuable capability tokens for AI agents')
    .version(VERSION, '-V, --version', 'print the version (with --json, as {"name","version"})')
    .option('--json', 'print exactly one JSON document on stdout, errors included')
    .option('--timeout <seconds>', `wait at most SECONDS for a service's answer (default ${DEFAULT_TIMEOUT_SECONDS}; MANDATE_TIMEOUT)`)
    .showHelpAfterError(false)
    .configureOutput({
      writeOut: (text) => ctx.io.out(text),
      writeErr: (text) => ctx.io.err(text),
      outputError: () => {},
      // Commander's defaults ask process.stdout and process.stderr, which makes those streams
      // (and loads node:net and node:tty) for every --help. The help has no colors of its own.
      getOutHelpWidth: () => ctx.io.stdoutColumns() ?? 80,
      getOutHasColors: () => false,
      getErrHasColors: () => false,
    })
  examples(
    program,
    'mandate demo',
    'mandate keygen -o alice.pem',
    "mandate mint --key alice.pem --to did:key:z6Mk… --action 'email:read' --expires 8h -o grant.txt",
    'mandate inspect grant.txt',
    'mandate mint --help',
  )
  program
    .addHelpText(
      'after',
      `
Tokens: a TOKEN argument is the text (mnd1_… mandate, mni1_… invocation, mna1_… approval,
mnr1_… revocation), @FILE or a file path, or - / nothing for standard input.

Times: a TIME is a duration from now (90s, 15m, 8h, 7d, 1h30m), Unix seconds or ISO 8601
(2026-12-01T09:00:00Z); a DURATION is 90s, 15m, 8h, 7d, 1h30m.

Environment: MANDATE_KEY (key file), MANDATE_ROOTS (trusted did:keys, NAME=DID allowed),
MANDATE_AUDIENCE (verify's --audience), MANDATE_SERVICE (service URL), MANDATE_SERVICE_KEY (its
feed key), MANDATE_VERIFIER_KEY (verify's --verifier-key), MANDATE_TIMEOUT (seconds), NO_COLOR;
serve's own are in mandate serve --help. Flags win.

Exit codes: 0 success or allowed; 1 denied or rejected; 2 usage error or malformed input;
3 operational failure (files, an unreachable service: fail closed).

Start here: mandate demo; each command's --help has examples.`,
    )
    .exitOverride()
  const only = argv === undefined ? undefined : REGISTRAR_OF.get(named(argv) ?? '')
  for (const register of only ? [only] : REGISTRARS) register(program, ctx)
  const quiet = (cmd: Command): void => {
    cmd.exitOverride().configureOutput({ outputError: () => {} })
    for (const sub of cmd.commands) quiet(sub)
  }
  for (const cmd of program.commands) quiet(cmd)
  return program
}

/** Refuse a line that names no command, or one that does not exist, before commander runs. */
function checkRoute(ctx: Context, json: boolean, where: Route): void {
  if (where.kind === 'unknown') {
    const near = similar(where.parent, where.name)
    const at = ['mandate', ...where.path].join(' ')
    usage(
      `unknown command '${where.name}'${where.path.length ? ` (of ${at})` : ''}`,
      near.length ? `did you mean ${near.map((n) => `${at} ${n}`).join(' or ')}? see ${at} --help` : `see ${at} --help for the commands`,
    )
  }
  if (where.kind === 'incomplete') {
    if (!json) ctx.io.err(`${where.group.helpInformation()}\n`)
    const at = ['mandate', ...where.path].join(' ')
    const names = where.group.commands.map((c) => c.name()).join(', ')
    if (where.path.length === 0) usage('no command given', 'start with mandate demo; mandate COMMAND --help shows a command with examples')
    usage(`${at} needs a command: ${names}`, `see ${at} --help`)
  }
}

/** Run with `argv` (without node and script); returns the exit code. */
export async function run(argv: readonly string[], raw: Io = processIo()): Promise<number> {
  const json = argv.includes('--json')
  // The output boundary: nothing a token or a service carries reaches the terminal raw.
  const io = guardIo(raw, json)
  const ctx: Context = { io, exit: 0 }
  const program = buildProgram(ctx, argv)
  const where = route(program, argv)
  try {
    if (where.kind === 'version') {
      io.out(json ? `${safeJson({ name: 'mandate', version: VERSION }, 2)}\n` : `${VERSION}\n`)
      return 0
    }
    checkRoute(ctx, json, where)
    await program.parseAsync([...argv], { from: 'user' })
    return ctx.exit
  } catch (e) {
    if (e instanceof CommanderError) {
      if (e.exitCode === 0) return 0 // help or version, already printed
      if (e.code === 'commander.help') return 2 // help asked for by an error, already printed on stderr
      // commander's own lines ("(Did you mean …?)") stay lines; each is escaped
      const message = e.message.replace(/^error: /, '')
      const at = ['mandate', ...(where.kind === 'command' ? where.path : [])].join(' ')
      return fail(io, json, { exit: 2, code: 'ERR_USAGE', message, hint: `see ${at} --help` }, true)
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
    // The code once: a service's answer already names it in its message.
    const named = f.code.startsWith('ERR_') && f.code !== 'ERR_USAGE' && f.code !== 'ERR_IO' && !f.message.includes(f.code)
    const code = named ? ` (${printable(f.code)})` : ''
    io.err(`mandate: error: ${message}${code}\n${f.hint ? `mandate: hint: ${printable(f.hint)}\n` : ''}`)
  }
  return f.exit
}

/**
 * Run the `mandate` command with `process.argv`, and set `process.exitCode` (the README's
 * "Exit codes": 0 done or allowed, 1 denied, 2 usage, …). Entry point of bin/mandate.js.
 *
 * @example
 * ```ts
 * import { main } from 'mandate/cli'
 * process.argv = [process.argv0, 'mandate', 'keygen', '-o', 'alice.pem']
 * await main() // prints alice's did:key; process.exitCode is 0
 * ```
 */
export async function main(): Promise<void> {
  process.exitCode = await run(process.argv.slice(2))
}
