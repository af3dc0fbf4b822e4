/**
 * `mandate mint`, `mandate attenuate` and `mandate seal` (the flags are in ../commands/grant.ts).
 *
 * @module
 */
import type { Command } from 'commander'
import type { Caveat } from '../../caveats/types.js'
import { toDidKey } from '../../crypto/keys.js'
import {
  attenuate as attenuateMandate,
  DEFAULT_MAX_LIFETIME,
  formatMandate,
  mint as mintMandate,
  seal as sealMandate,
  type UnverifiedMandate,
} from '../../token/mandate.js'
import { attenuationWarnings } from '../../token/warnings.js'
import { type CaveatFlags, caveatHint, caveatsFrom, checkNarrowedWindow } from '../caveat-flags.js'
import { type Context, emit, warn } from '../context.js'
import { fromFlags, usage } from '../errors.js'
import { type Io, loadKey, writeSecretFile } from '../io.js'
import { formatDuration, TIME_FORMS } from '../time.js'
import { holderKey, readMandate } from '../tokens.js'

export interface GrantFlags extends CaveatFlags {
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

/** Mint a root mandate signed by the principal's key. */
export function mint(ctx: Context, opts: GrantFlags, cmd: Command): void {
  checkActions(opts)
  if (opts.expires === undefined) usage('a root mandate needs an expiry', `add --expires 8h; ${TIME_FORMS}`)
  const principal = loadKey(ctx.io, opts.key)
  const now = ctx.io.now()
  const caveats = caveatsFrom(opts, now, toDidKey(principal.publicKey))
  checkLifetime(caveats, now)
  const m = fromFlags(
    () =>
      mintMandate({
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
}

/** Narrow a mandate by one block, naming the next holder. */
export async function attenuate(ctx: Context, token: string | undefined, opts: GrantFlags, cmd: Command): Promise<void> {
  const parent = await readMandate(ctx.io, token, 'attenuate')
  const unusedKey: string[] = []
  const key = holderKey(ctx.io, parent, opts.key, (w) => unusedKey.push(w))
  const now = ctx.io.now()
  const signer = key ? toDidKey(key.publicKey) : toDidKey(parent.blocks[parent.blocks.length - 1]?.holder as Uint8Array)
  const caveats = caveatsFrom(opts, now, signer)
  const window = caveats.find((c) => c.type === 'window')
  checkNarrowedWindow(parent, window?.type === 'window' ? window : undefined, now)
  const warnings = [
    ...unusedKey,
    ...attenuationWarnings(parent, caveats).map((w) => `caveat ${w.caveatIndex + 1} (${caveats[w.caveatIndex]?.type}): ${w.message}`),
  ]
  const child = fromFlags(
    () =>
      attenuateMandate(parent, {
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
}

/** Seal a bearer mandate: still usable, no longer attenuable. */
export async function seal(ctx: Context, token: string | undefined, opts: GrantFlags, cmd: Command): Promise<void> {
  const m = await readMandate(ctx.io, token, 'seal')
  output(
    ctx,
    cmd,
    fromFlags(() => sealMandate(m)),
    opts,
  )
}
