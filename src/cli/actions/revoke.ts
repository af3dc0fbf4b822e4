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
import { CliError, fromFlags, usage } from '../errors.js'
import { loadKey } from '../io.js'
import { call } from '../service-client.js'
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
  let block: number | undefined
  if (opts.block !== undefined) {
    if (!/^\d{1,2}$/.test(opts.block) || Number(opts.block) >= m.blocks.length)
      usage(
        `--block: expected 0..${m.blocks.length - 1}, got ${JSON.stringify(opts.block)}`,
        'block 0 is the root grant; mandate inspect shows the blocks',
      )
    block = Number(opts.block)
  }
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
    const { body } = await call<{ seq?: unknown; created?: unknown }>(service, '/v1/revocations', {
      method: 'POST',
      body: { revocation: text },
    })
    if (!Number.isSafeInteger(body.seq) || typeof body.created !== 'boolean') {
      throw new CliError('ERR_IO', 'the service answered the revocation without its sequence number', 'is --service the mandate service?')
    }
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
