/**
 * `mandate mint`, `mandate attenuate` and `mandate seal`.
 *
 * @module
 */
import type { Command } from 'commander'
import type { Caveat } from '../../caveats/types.js'
import { toDidKey } from '../../crypto/keys.js'
import { attenuate, DEFAULT_MAX_LIFETIME, formatMandate, mint, seal, type UnverifiedMandate } from '../../token/mandate.js'
import { attenuationWarnings } from '../../token/warnings.js'
import { addCaveatFlags, type CaveatFlags, caveatHint, caveatsFrom, checkNarrowedWindow } from '../caveat-flags.js'
import { type Context, emit, warn } from '../context.js'
import { fromFlags, usage } from '../errors.js'
import { examples } from '../help.js'
import { type Io, loadKey, writeSecretFile } from '../io.js'
import { formatDuration, TIME_FORMS } from '../time.js'
import { readMandate } from '../tokens.js'

interface GrantFlags extends CaveatFlags {
  readonly key?: string
  readonly to?: string
  readonly name?: string
  readonly purpose?: string
  readonly out?: string
  readonly force?: boolean
  readonly allowAllActions?: boolean
}

const mode = (bits: number) => bits.toString(8).padStart(4, '0')

/** Where a bearer mandate printed on stdout can be read by others than its owner, say so. */
function exposedOnStdout(io: Io): string | undefined {
  if (io.stdoutIsTTY) {
    return 'this is a bearer mandate, printed to a terminal: whoever holds the text can use it; write it to a file with -o FILE (mode 0600)'
  }
  const bits = io.stdoutFileMode()
  if (bits !== undefined && (bits & 0o077) !== 0) {
    return `this bearer mandate goes to a file others can read (mode ${mode(bits)}): whoever holds the text can use it; use -o FILE (mode 0600), or chmod 600 the file`
  }
  return undefined
}

/**
 * Write or print the mandate. A bearer mandate's text is its secret: written to a terminal or a
 * file others can read, it comes with a warning (stderr; in --json, in `warnings`).
 */
function output(ctx: Context, cmd: Command, m: UnverifiedMandate, opts: GrantFlags, warnings: string[] = []): void {
  const text = formatMandate(m)
  const last = m.blocks[m.blocks.length - 1]
  const bearer = m.proof.kind !== 'bound'
  if (opts.out) {
    const bits = writeSecretFile(opts.out, `${text}\n`, opts.force === true)
    if (bearer && (bits & 0o077) !== 0) {
      warnings.push(
        `this bearer mandate was written to ${opts.out}, which others can read (mode ${mode(bits)}): whoever holds the text can use it; chmod 600 ${opts.out}`,
      )
    }
  } else if (bearer) {
    const exposed = exposedOnStdout(ctx.io)
    if (exposed) warnings.push(exposed)
  }
  for (const w of warnings) warn(ctx, cmd, w)
  const data = {
    ...(opts.out ? { file: opts.out } : { mandate: text }),
    blockId: last?.idHex,
    holder: last ? toDidKey(last.holder) : undefined,
    proof: m.proof.kind,
    warnings,
  }
  emit(ctx, cmd, data, () => (opts.out ? '' : `${text}\n`))
}

function common(cmd: Command): Command {
  return addCaveatFlags(cmd)
    .option('--to <did>', 'the next holder (bound); without it, a bearer mandate')
    .option('--name <text>', "the holder's name in the accountability chain")
    .option('--purpose <text>', 'why this delegation exists')
    .option('-o, --out <file>', 'write the mandate to FILE (mode 0600) instead of stdout: a bearer mandate is a secret')
    .option('--force', 'with -o: overwrite (the file is made 0600)')
}

/** A root mandate must say what it allows, unless the user names the danger. */
function checkActions(opts: GrantFlags): void {
  if (opts.allowAllActions && opts.action?.length) {
    usage('--allow-all-actions and --action exclude each other', 'keep --action to allow only the actions it names')
  }
  if (!opts.allowAllActions && !opts.action?.length) {
    usage(
      'a root mandate without --action would allow every action',
      "name what it allows with --action PATTERN (repeatable, e.g. --action 'email:read'), or pass --allow-all-actions if it must allow everything",
    )
  }
}

/** The lifetime a root mandate may have, checked before signing with a hint. */
function checkLifetime(caveats: readonly Caveat[], now: number): void {
  const window = caveats.find((c) => c.type === 'window')
  if (window?.type !== 'window' || window.expires === undefined) return
  const lifetime = window.expires - Math.max(now, window.notBefore ?? now)
  if (lifetime > DEFAULT_MAX_LIFETIME) {
    usage(
      `--expires: a root mandate lives at most ${formatDuration(DEFAULT_MAX_LIFETIME)}; this one would live ${formatDuration(lifetime)}`,
      `pass --expires ${formatDuration(DEFAULT_MAX_LIFETIME)} or less: a longer grant is a new mandate later`,
    )
  }
}

function mintCommand(program: Command, ctx: Context): void {
  const cmd = common(program.command('mint').description('mint a root mandate signed by the principal key'))
    .option('--key <file>', "the principal's key (default: MANDATE_KEY)")
    .option('--allow-all-actions', 'mint without --action: the mandate allows EVERY action (dangerous; say so explicitly)')
    .action((opts: GrantFlags, cmd: Command) => {
      checkActions(opts)
      if (opts.expires === undefined) usage('a root mandate needs an expiry', `add --expires 8h; ${TIME_FORMS}`)
      const principal = loadKey(ctx.io, opts.key)
      const now = ctx.io.now()
      const caveats = caveatsFrom(opts, now, toDidKey(principal.publicKey))
      checkLifetime(caveats, now)
      const m = fromFlags(
        () =>
          mint({
            principal,
            caveats,
            now,
            ...(opts.to === undefined ? {} : { to: opts.to }),
            ...(opts.name === undefined ? {} : { name: opts.name }),
            ...(opts.purpose === undefined ? {} : { purpose: opts.purpose }),
          }),
        caveatHint,
      )
      const warnings = opts.allowAllActions
        ? ['this mandate allows every action (--allow-all-actions): narrow it with --deny, --resource, --audience and a short --expires']
        : []
      output(ctx, cmd, m, opts, warnings)
    })
  examples(
    cmd,
    "mandate mint --key alice.pem --to did:key:z6Mk… --action 'email:read' --action 'calendar:*' --expires 8h -o grant.txt",
    "mandate mint --key alice.pem --action 'slack:read' --uses 100 --per 1d --expires 7d -o bearer.txt",
    "mandate mint --key alice.pem --to did:key:z6Mk… --action 'email:*' --deny email:send --approval email:draft --expires 1h30m",
  )
}

function attenuateCommand(program: Command, ctx: Context): void {
  const cmd = common(program.command('attenuate').description('narrow a mandate and name the next holder'))
    .argument('[token]', 'the mandate (mnd1_…), @FILE, a file, or - for stdin')
    .option('--key <file>', "the current holder's key, for a bound mandate (default: MANDATE_KEY)")
    .action(async (token: string | undefined, opts: GrantFlags, cmd: Command) => {
      const parent = await readMandate(ctx.io, token, 'attenuate')
      const key = parent.proof.kind === 'bound' ? loadKey(ctx.io, opts.key) : undefined
      const now = ctx.io.now()
      const signer = key ? toDidKey(key.publicKey) : toDidKey(parent.blocks[parent.blocks.length - 1]?.holder as Uint8Array)
      const caveats = caveatsFrom(opts, now, signer)
      const window = caveats.find((c) => c.type === 'window')
      checkNarrowedWindow(parent, window?.type === 'window' ? window : undefined, now)
      const warnings = attenuationWarnings(parent, caveats).map(
        (w) => `caveat ${w.caveatIndex + 1} (${caveats[w.caveatIndex]?.type}): ${w.message}`,
      )
      const child = fromFlags(
        () =>
          attenuate(parent, {
            caveats,
            now,
            ...(key ? { key } : {}),
            ...(opts.to === undefined ? {} : { to: opts.to }),
            ...(opts.name === undefined ? {} : { name: opts.name }),
            ...(opts.purpose === undefined ? {} : { purpose: opts.purpose }),
          }),
        caveatHint,
      )
      output(ctx, cmd, child, opts, warnings)
    })
  examples(
    cmd,
    "mandate attenuate grant.txt --key assistant.pem --action 'calendar:read' --uses 3 --name sub-agent -o sub.txt",
    'mandate attenuate grant.txt --key assistant.pem --to did:key:z6Mk… --resource "drive/reports/**" --expires 2h',
    "cat sub.txt | mandate attenuate - --action 'calendar:read' --expires 15m -o narrower.txt",
  )
}

function sealCommand(program: Command, ctx: Context): void {
  const cmd = program
    .command('seal')
    .description('seal a bearer mandate: still usable, no longer attenuable (a bound mandate cannot be sealed)')
    .argument('[token]', 'the mandate (mnd1_…), @FILE, a file, or - for stdin')
    .option('-o, --out <file>', 'write the sealed mandate to FILE (mode 0600) instead of stdout')
    .option('--force', 'with -o: overwrite (the file is made 0600)')
    .action(async (token: string | undefined, opts: GrantFlags, cmd: Command) => {
      const m = await readMandate(ctx.io, token, 'seal')
      output(
        ctx,
        cmd,
        fromFlags(() => seal(m)),
        opts,
      )
    })
  examples(cmd, 'mandate seal sub.txt -o sealed.txt', 'mandate attenuate sub.txt --action calendar:read | mandate seal - -o sealed.txt')
}

export function registerGrant(program: Command, ctx: Context): void {
  mintCommand(program, ctx)
  attenuateCommand(program, ctx)
  sealCommand(program, ctx)
}
