/**
 * `mandate keygen` and `mandate pubkey`: their flags and help; ../actions/keys.ts does the
 * work, loaded when a command runs.
 *
 * @module
 */
import type { Command } from 'commander'
import type { Context } from '../context.js'
import { examples } from '../help.js'

export function registerKeys(program: Command, ctx: Context): void {
  const keygen = program
    .command('keygen')
    .description('create an Ed25519 key (PKCS#8 PEM, mode 0600) and print its did:key')
    .option('-o, --out <file>', 'where to write the private key (required: a secret key is never printed)')
    .option('--force', 'overwrite an existing file')
    .action(async (opts: { out?: string; force?: boolean }, cmd: Command) => {
      const { keygen } = await import('../actions/keys.js')
      keygen(ctx, opts, cmd)
    })
  examples(keygen, 'mandate keygen -o alice.pem', 'mandate keygen -o alice.pem --force --json')

  const pubkey = program
    .command('pubkey')
    .description('print the public key of a key file')
    .argument('[keyfile]', 'PKCS#8 PEM private key (default: MANDATE_KEY)')
    .option('--format <format>', 'did, hex or pem', 'did')
    .action(async (keyfile: string | undefined, opts: { format: string }, cmd: Command) => {
      const { pubkey } = await import('../actions/keys.js')
      pubkey(ctx, keyfile, opts, cmd)
    })
  examples(
    pubkey,
    'ALICE=$(mandate pubkey alice.pem)',
    'mandate pubkey alice.pem --format pem',
    'MANDATE_KEY=alice.pem mandate pubkey --json',
  )
}
