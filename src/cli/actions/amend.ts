/**
 * `mandate amend`: sign an amendment (caveats added to one block of a mandate already handed
 * on) or the lifting of one (the flags are in ../commands/amend.ts).
 *
 * @module
 */
import type { Command } from 'commander'
import { describeCaveat } from '../../caveats/describe.js'
import { toDidKey } from '../../crypto/keys.js'
import { createAmendment, createLift, formatRevocation, type UnverifiedRevocation } from '../../token/revocation.js'
import { attenuationWarnings } from '../../token/warnings.js'
import { type CaveatFlags, caveatHint, caveatsFrom } from '../caveat-flags.js'
import { type Context, emit, serviceOf, warn } from '../context.js'
import { fromFlags, usage } from '../errors.js'
import { loadKey } from '../io.js'
import { printable } from '../printable.js'
import { blockFlag, submitStatement } from '../statements.js'
import { readMandate } from '../tokens.js'

export interface AmendFlags extends CaveatFlags {
  readonly key?: string
  readonly block?: string
  readonly lift?: string
  readonly reason?: string
  readonly statementAudience?: string
  readonly service?: string
}

/** The caveat flags: any of them turns the command into an amendment. */
const CAVEAT_FLAGS: readonly (keyof CaveatFlags)[] = [
  'action',
  'deny',
  'resource',
  'notBefore',
  'expires',
  'uses',
  'per',
  'approval',
  'approver',
  'quorum',
  'where',
  'audience',
  'maxDepth',
  'bound',
]

/** Sign an amendment or a lift of one block of the mandate; with a service, submit it there. */
export async function amend(ctx: Context, token: string | undefined, opts: AmendFlags, cmd: Command): Promise<void> {
  const caveatFlags = CAVEAT_FLAGS.filter((f) => opts[f] !== undefined)
  if (opts.lift !== undefined && caveatFlags.length > 0) {
    usage('--lift takes no caveat flags', 'lifting removes an amendment whole; to narrow again, amend once more')
  }
  if (opts.lift !== undefined && !/^[0-9a-f]{64}$/.test(opts.lift)) {
    usage(
      `--lift: expected an amendment id (64 lower-case hex digits), got ${JSON.stringify(opts.lift.slice(0, 80))}`,
      'mandate amend --service URL prints the id it was accepted under (offline it prints the statement, mnr1_…; its id is in --json)',
    )
  }
  if (opts.lift === undefined && caveatFlags.length === 0) {
    usage('nothing to add: give caveat flags (--approval, --action, --uses, --expires, …) or --lift ID', 'see mandate amend --help')
  }
  if (opts.reason === undefined || opts.reason.trim() === '') {
    usage('--reason is required', 'the agent is told why in every denial an amendment causes, and the audit trail keeps it')
  }
  if (new TextEncoder().encode(opts.reason).length > 1024) {
    usage('--reason: at most 1024 bytes (UTF-8)', 'say why in a sentence: it is shown in every denial the amendment causes')
  }
  const m = await readMandate(ctx.io, token, 'amend')
  const key = loadKey(ctx.io, opts.key)
  const block = blockFlag(m, opts.block)
  const now = ctx.io.now()
  const common = {
    mandate: m,
    key,
    now,
    reason: opts.reason,
    ...(block === undefined ? {} : { block }),
    ...(opts.statementAudience === undefined ? {} : { audience: opts.statementAudience }),
  }
  const caveats = opts.lift === undefined ? caveatsFrom(opts, now, toDidKey(key.publicKey)) : []
  const statement: UnverifiedRevocation = fromFlags(
    () => (opts.lift === undefined ? createAmendment({ ...common, caveats }) : createLift({ ...common, amendment: opts.lift })),
    caveatHint,
  )
  // What attenuate warns of, against the block amended and those above it: an action list that
  // shares nothing with the block's denies it everything, a later expiry changes nothing.
  const prefix = { ...m, blocks: m.blocks.slice(0, statement.target.index + 1) }
  for (const w of attenuationWarnings(prefix, caveats))
    warn(ctx, cmd, `caveat ${w.caveatIndex + 1} (${caveats[w.caveatIndex]?.type}): ${w.message}`)
  const text = formatRevocation(statement)
  const kind = statement.kind
  const described = statement.caveats.map(describeCaveat)
  const service = serviceOf(ctx, cmd, opts.service)
  if (service) {
    const body = await submitStatement(service, text, 'amendment')
    emit(
      ctx,
      cmd,
      {
        id: statement.id,
        seq: body.seq,
        created: body.created,
        kind,
        blockId: statement.target.idHex,
        ...lifted(statement),
        statement: text,
      },
      () => (kind === 'amend' ? `${statement.id}\n` : `lifted ${printable(statement.lifts ?? '')} (feed seq ${body.seq})\n`),
    )
    return
  }
  // Not submitted: say so, so that a script does not take the statement for an amendment id.
  warn(ctx, cmd, 'not submitted (no --service, no MANDATE_SERVICE): this prints the signed statement; POST it to /v1/revocations')
  emit(
    ctx,
    cmd,
    {
      statement: text,
      id: statement.id,
      kind,
      blockId: statement.target.idHex,
      block: statement.target.index,
      ...(kind === 'amend' ? { caveats: described } : {}),
      ...lifted(statement),
      signer: toDidKey(key.publicKey),
    },
    () => `${text}\n`,
  )
}

function lifted(statement: UnverifiedRevocation): { lifts?: string } {
  return statement.lifts === undefined ? {} : { lifts: statement.lifts }
}
