/**
 * `mandate mcp`: its flags and help; ../actions/mcp.ts runs the proxy (and loads the MCP SDK),
 * when the command runs.
 *
 * @module
 */
import type { Command } from 'commander'
import type { McpFlags } from '../actions/mcp.js'
import { type Context, collect } from '../context.js'
import { CliError } from '../errors.js'
import { examples } from '../help.js'

export function registerMcp(program: Command, ctx: Context): void {
  const cmd = program
    .command('mcp')
    .description(
      "put a mandate in front of an MCP server: only the tools it allows are listed, and each call is checked as the agent's invocation",
    )
    .argument('[command...]', 'the upstream server to start, after --, e.g. -- npx -y @modelcontextprotocol/server-everything')
    .option('--mandate <token>', "the agent's mandate: its text, @FILE or a file")
    .option('--key <file>', "the mandate's holder key, which signs each call (default: MANDATE_KEY; a bearer mandate carries its own)")
    .option('--root <did>', 'a trusted principal, optionally NAME=DID (repeatable; default: MANDATE_ROOTS)', collect)
    .option('--audience <name>', "the guarded server's name, which invocations address: tools are the actions mcp:NAME:<tool> (required)")
    .option('--upstream <url>', 'the upstream MCP server over Streamable HTTP, instead of a command after --')
    .option(
      '--listen <host:port>',
      'serve the agent over Streamable HTTP at http://HOST:PORT/mcp (loopback only, at most 64 sessions: idle ones make room) instead of standard I/O',
    )
    .option('--service <url>', 'the mandate service: revocations, usage counters and the approval inbox (default: MANDATE_SERVICE)')
    .option('--service-key <did>', "the service's feed key to pin (default: MANDATE_SERVICE_KEY, else as announced)")
    .option(
      '--verifier-key <file>',
      'a key registered with the service under the audience: it signs use counts (default: MANDATE_VERIFIER_KEY)',
    )
    .option(
      '--approval-wait <duration>',
      'after filing a call that needs approval, wait up to DURATION (at most 5m) for it (default: answer at once)',
    )
    .option('--action-prefix <prefix>', 'a tool T is the action PREFIX:T (default mcp:<server>, from the audience)')
    .option('--map <tool=action>', "one tool's action, e.g. --map getWeather=weather:read (repeatable)", collect)
    .option('--pass <what>', 'forward resources or prompts too, unguarded: resources, prompts (repeatable)', collect)
    .option('--audit <file>', 'append one JSON line per tool call to FILE, created 0600 (default: standard error)')
    .action(async (command: string[], opts: McpFlags, cmd: Command) => {
      let action: typeof import('../actions/mcp.js')
      try {
        action = await import('../actions/mcp.js')
      } catch (e) {
        // The MCP SDK is an optional peer of the library: only this command needs it.
        if ((e as NodeJS.ErrnoException).code !== 'ERR_MODULE_NOT_FOUND') throw e
        throw new CliError(
          'ERR_IO',
          `mandate mcp needs @modelcontextprotocol/sdk, which is not installed (${(e as Error).message.split('\n')[0]})`,
          'install the command with `npm install -g mandate-cli`, or `npm install @modelcontextprotocol/sdk` next to mandate',
        )
      }
      await action.mcp(ctx, command, opts, cmd)
    })
  examples(
    cmd,
    'mandate mcp --mandate grant.txt --key assistant.pem --root "alice=$ALICE" --audience everything -- npx -y @modelcontextprotocol/server-everything',
    'mandate mcp --mandate sub.txt --key sub.pem --root "alice=$ALICE" --audience everything --service http://127.0.0.1:8787 --verifier-key everything.pem --approval-wait 2m --audit mcp.jsonl -- node server.js',
    'mandate mcp --mandate grant.txt --key assistant.pem --root "alice=$ALICE" --audience github --upstream https://mcp.example/mcp --listen 127.0.0.1:8931',
  )
}
