/**
 * `mandate verify`: its flags and help; the decision is made in ../actions/verify.ts, loaded
 * when the command runs.
 *
 * @module
 */
import type { Command } from 'commander'
import type { VerifyFlags } from '../actions/verify.js'
import { type Context, collect } from '../context.js'
import { examples } from '../help.js'

export function registerVerify(program: Command, ctx: Context): void {
  const cmd = program
    .command('verify')
    .description('decide a request: allowed (exit 0) or denied and why (exit 1)')
    .argument('[token]', 'a mandate (mnd1_…) or invocation (mni1_…), @FILE, a file, or - for stdin')
    .option('--root <did>', 'a trusted principal, optionally NAME=DID (repeatable; default: MANDATE_ROOTS)', collect)
    .option('--audience <name>', "this service's name, which invocations must address (default: MANDATE_AUDIENCE)")
    .option('--action <action>', 'for a bare mandate: the action')
    .option('--resource <resource>', 'for a bare mandate: the resource')
    .option('--arg <key=value>', 'for a bare mandate: an argument (repeatable)', collect)
    .option('--args-json <json>', 'for a bare mandate: arguments as JSON')
    .option('--approval <text|@file>', 'an approval: its text, @FILE or a file (repeatable)', collect)
    .option('--at <time>', 'decide as of TIME (Unix seconds, ISO 8601, or a duration from now) instead of now')
    .option('--skew <seconds>', 'clock difference tolerated with issuers, 0–300 seconds (default 60)')
    .option(
      '--approval-wait <duration>',
      'how long an invocation that needs approval may wait for it, past its 5 minutes (default 24h, at most 30d, 0 for none)',
    )
    .option('--service <url>', 'the mandate service: revocations and usage counters (default: MANDATE_SERVICE)')
    .option('--service-key <did>', "the service's feed key to pin (default: MANDATE_SERVICE_KEY, else as announced)")
    .option(
      '--verifier-key <file>',
      "this verifier's key, registered with the service under --audience: it signs use and replay claims (default: MANDATE_VERIFIER_KEY)",
    )
    .action(async (token: string | undefined, opts: VerifyFlags, cmd: Command) => {
      const { verify } = await import('../actions/verify.js')
      await verify(ctx, token, opts, cmd)
    })
  examples(
    cmd,
    'mandate verify read.txt --root "alice=$ALICE" --audience mail',
    'mandate verify draft.txt --root "alice=$ALICE" --audience mail --approval @ok.txt',
    'mandate verify sub.txt --root "alice=$ALICE" --audience calendar --action calendar:read --resource cal/work',
    'mandate verify read.txt --root "alice=$ALICE" --audience mail --at 2026-12-01T09:00:00Z --skew 0 --json',
  )
}
