/**
 * `mandate mint`, `mandate attenuate` and `mandate seal`.
 *
 * @module
 */
import type { Command } from 'commander'
import { toDidKey } from '../../crypto/keys.js'
import { attenuate, formatMandate, mint, parseMandate, seal, type UnverifiedMandate } from '../../token/mandate.js'
import { attenuationWarnings } from '../../token/warnings.js'
import { addCaveatFlags, type CaveatFlags, caveatsFrom } from '../caveat-flags.js'
import { type Context, emit, warn } from '../context.js'
import { usage } from '../errors.js'
import { loadKey, readInput, writeSecretFile } from '../io.js'

interface GrantFlags extends CaveatFlags {
  readonly key?: string
  readonly to?: string
  readonly name?: string
  readonly purpose?: string
  readonly out?: string
  readonly force?: boolean
}

function output(ctx: Context, cmd: Command, m: UnverifiedMandate, opts: GrantFlags, warnings: string[] = []): void {
  const text = formatMandate(m)
  const last = m.blocks[m.blocks.length - 1]
  const data = {
    mandate: opts.out ? undefined : text,
    file: opts.out,
    blockId: last?.idHex,
    holder: last ? toDidKey(last.holder) : undefined,
    proof: m.proof.kind,
    warnings,
  }
  if (opts.out) {
    writeSecretFile(opts.out, `${text}\n`, opts.force === true)
    emit(ctx, cmd, data, () => '')
    return
  }
  if (m.proof.kind !== 'bound') warn(ctx, cmd, 'this is a bearer mandate: whoever holds the text can use it; keep it secret')
  emit(ctx, cmd, data, () => `${text}\n`)
}

function common(cmd: Command): Command {
  return addCaveatFlags(cmd)
    .option('--to <did>', 'the next holder (bound); without it, a bearer mandate')
    .option('--name <text>', "the holder's name in the accountability chain")
    .option('--purpose <text>', 'why this delegation exists')
    .option('-o, --out <file>', 'write the mandate to FILE (mode 0600) instead of stdout')
    .option('--force', 'with -o: overwrite')
}

export function registerGrant(program: Command, ctx: Context): void {
  common(program.command('mint').description('mint a root mandate signed by the principal key'))
    .option('--key <file>', "the principal's key (default: MANDATE_KEY)")
    .action((opts: GrantFlags, cmd: Command) => {
      if (opts.expires === undefined) usage('a root mandate needs an expiry', 'add --expires 8h (or a time)')
      const principal = loadKey(ctx.io, opts.key)
      const now = ctx.io.now()
      const m = mint({
        principal,
        caveats: caveatsFrom(opts, now, toDidKey(principal.publicKey)),
        now,
        ...(opts.to === undefined ? {} : { to: opts.to }),
        ...(opts.name === undefined ? {} : { name: opts.name }),
        ...(opts.purpose === undefined ? {} : { purpose: opts.purpose }),
      })
      output(ctx, cmd, m, opts)
    })

  common(program.command('attenuate').description('narrow a mandate and name the next holder'))
    .argument('[token]', 'the mandate (mnd1_…), or - for stdin')
    .option('--key <file>', "the current holder's key, for a bound mandate (default: MANDATE_KEY)")
    .action(async (token: string | undefined, opts: GrantFlags, cmd: Command) => {
      const parent = parseMandate(await readInput(ctx.io, token, 'token'))
      const key = parent.proof.kind === 'bound' ? loadKey(ctx.io, opts.key) : undefined
      const now = ctx.io.now()
      const signer = key ? toDidKey(key.publicKey) : toDidKey(parent.blocks[parent.blocks.length - 1]?.holder as Uint8Array)
      const caveats = caveatsFrom(opts, now, signer)
      const warnings = attenuationWarnings(parent, caveats).map(
        (w) => `caveat ${w.caveatIndex + 1} (${caveats[w.caveatIndex]?.type}): ${w.message}`,
      )
      for (const w of warnings) warn(ctx, cmd, w)
      const child = attenuate(parent, {
        caveats,
        now,
        ...(key ? { key } : {}),
        ...(opts.to === undefined ? {} : { to: opts.to }),
        ...(opts.name === undefined ? {} : { name: opts.name }),
        ...(opts.purpose === undefined ? {} : { purpose: opts.purpose }),
      })
      output(ctx, cmd, child, opts, warnings)
    })

  program
    .command('seal')
    .description('seal a bearer mandate: still usable, no longer attenuable (a bound mandate cannot be sealed)')
    .argument('[token]', 'the mandate (mnd1_…), or - for stdin')
    .action(async (token: string | undefined, _opts: Record<string, never>, cmd: Command) => {
      const m = parseMandate(await readInput(ctx.io, token, 'token'))
      output(ctx, cmd, seal(m), {})
    })
}
