/**
 * `mandate revoke`: build a signed revocation, suspension or resumption.
 *
 * @module
 */
import type { Command } from 'commander'
import { toDidKey } from '../../crypto/keys.js'
import { createRevocation, formatRevocation, type RevocationKind } from '../../token/revocation.js'
import { caveatHint } from '../caveat-flags.js'
import { type Context, collect, emit, serviceOf } from '../context.js'
import { CliError, fromFlags, usage } from '../errors.js'
import { examples } from '../help.js'
import { loadKey } from '../io.js'
import { call } from '../service-client.js'
import { readMandate } from '../tokens.js'

export function registerRevoke(program: Command, ctx: Context): void {
  const cmd = program
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
            throw new CliError(
              'ERR_IO',
              'the service answered the revocation without its sequence number',
              'is --service the mandate service?',
            )
          }
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
  examples(
    cmd,
    "mandate revoke grant.txt --key alice.pem --reason 'the project ended'",
    "mandate revoke grant.txt --key alice.pem --actions 'email:draft' --service http://127.0.0.1:8787   # prints the feed seq",
    'mandate revoke sub.txt --key assistant.pem --block 1 --suspend',
  )
}
