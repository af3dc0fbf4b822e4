/**
 * `mandate revoke`: build a signed revocation, suspension or resumption (the flags are in
 * ../commands/revoke.ts).
 *
 * @module
 */
import type { Command } from 'commander'
import { toDidKey } from '../../crypto/keys.js'
import { createRevocation, formatRevocation, type RevocationKind } from '../../token/revocation.js'
import { caveatHint } from '../caveat-flags.js'
import { type Context, emit, serviceOf } from '../context.js'
import { fromFlags, usage } from '../errors.js'
import { loadKey } from '../io.js'
import { blockFlag, submitStatement } from '../statements.js'
import { readMandate } from '../tokens.js'

export interface RevokeFlags {
  readonly key?: string
  readonly block?: string
  readonly actions?: string[]
  readonly suspend?: boolean
  readonly resume?: boolean
  readonly reason?: string
  readonly audience?: string
  readonly service?: string
}

/** Sign a statement about one block of the mandate; with a service, submit it there. */
export async function revoke(ctx: Context, token: string | undefined, opts: RevokeFlags, cmd: Command): Promise<void> {
  if (opts.suspend && opts.resume) usage('--suspend and --resume exclude each other', 'suspend now, resume later: two statements')
  const m = await readMandate(ctx.io, token, 'revoke')
  const key = loadKey(ctx.io, opts.key)
  const block = blockFlag(m, opts.block)
  const kind: RevocationKind = opts.suspend ? 'suspend' : opts.resume ? 'resume' : 'revoke'
  const statement = fromFlags(
    () =>
      createRevocation({
        mandate: m,
        key,
        kind,
        now: ctx.io.now(),
        ...(block === undefined ? {} : { block }),
        ...(opts.actions?.length ? { actions: opts.actions } : {}),
        ...(opts.reason === undefined ? {} : { reason: opts.reason }),
        ...(opts.audience === undefined ? {} : { audience: opts.audience }),
      }),
    caveatHint,
  )
  const text = formatRevocation(statement)
  const service = serviceOf(ctx, cmd, opts.service)
  if (service) {
    const body = await submitStatement(service, text, 'revocation')
    emit(ctx, cmd, { seq: body.seq, created: body.created, kind, blockId: statement.target.idHex, revocation: text }, () => `${body.seq}\n`)
    return
  }
  emit(
    ctx,
    cmd,
    {
      revocation: text,
      kind,
      blockId: statement.target.idHex,
      block: statement.target.index,
      actions: statement.actions ?? null,
      signer: toDidKey(key.publicKey),
    },
    () => `${text}\n`,
  )
}
