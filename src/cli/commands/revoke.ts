/**
 * `mandate revoke`: build a signed revocation, suspension or resumption.
 *
 * @module
 */
import type { Command } from 'commander'
import { toDidKey } from '../../crypto/keys.js'
import { createRevocation, formatRevocation, type RevocationKind } from '../../revocation/statement.js'
import { parseMandate } from '../../token/mandate.js'
import { type Context, emit } from '../context.js'
import { usage } from '../errors.js'
import { loadKey, readInput } from '../io.js'
import { call, serviceUrl } from '../service-client.js'

const collect = (value: string, previous: string[] = []) => [...previous, value]

export function registerRevoke(program: Command, ctx: Context): void {
  program
    .command('revoke')
    .description('sign a revocation (or --suspend / --resume) of one block of a mandate')
    .argument('[token]', 'the mandate holding the block (mnd1_…), or - for stdin')
    .option('--key <file>', 'the principal key or a holder key at or above the block (default: MANDATE_KEY)')
    .option('--block <n>', 'which block (default: the last)')
    .option('--actions <pattern>', 'only these actions and those below them (repeatable): a scoped revocation', collect)
    .option('--suspend', 'suspend instead of revoking (reversible)')
    .option('--resume', 'lift a suspension')
    .option('--reason <text>', 'why, for the record')
    .option('--audience <name>', 'only the service of this name may accept it (its --audience), so it cannot be replayed at another')
    .option('--service <url>', 'submit it to this service and print its sequence number (default: MANDATE_SERVICE)')
    .action(
      async (
        token: string | undefined,
        opts: {
          key?: string
          block?: string
          actions?: string[]
          suspend?: boolean
          resume?: boolean
          reason?: string
          audience?: string
          service?: string
        },
        cmd: Command,
      ) => {
        if (opts.suspend && opts.resume) usage('--suspend and --resume exclude each other')
        const m = parseMandate(await readInput(ctx.io, token, 'token'))
        const key = loadKey(ctx.io, opts.key)
        let block: number | undefined
        if (opts.block !== undefined) {
          if (!/^\d{1,2}$/.test(opts.block) || Number(opts.block) >= m.blocks.length)
            usage(`--block: expected 0..${m.blocks.length - 1}, got ${JSON.stringify(opts.block)}`)
          block = Number(opts.block)
        }
        const kind: RevocationKind = opts.suspend ? 'suspend' : opts.resume ? 'resume' : 'revoke'
        const statement = createRevocation({
          mandate: m,
          key,
          kind,
          now: ctx.io.now(),
          ...(block === undefined ? {} : { block }),
          ...(opts.actions?.length ? { actions: opts.actions } : {}),
          ...(opts.reason === undefined ? {} : { reason: opts.reason }),
          ...(opts.audience === undefined ? {} : { audience: opts.audience }),
        })
        const text = formatRevocation(statement)
        const url = serviceUrl(ctx.io, opts.service)
        if (url) {
          const { body } = await call<{ seq: number; created: boolean }>(url, '/v1/revocations', {
            method: 'POST',
            body: { revocation: text },
          })
          emit(
            ctx,
            cmd,
            { seq: body.seq, created: body.created, kind, blockId: statement.target.idHex, revocation: text },
            () => `${body.seq}\n`,
          )
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
      },
    )
}
