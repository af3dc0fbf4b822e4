/**
 * `mandate keygen` and `mandate pubkey`.
 *
 * @module
 */
import type { Command } from 'commander'
import { exportPublicKeyPem, exportSecretKeyPem, generateKeyPair, toDidKey } from '../../crypto/keys.js'
import { toHex } from '../../internal/bytes.js'
import { type Context, emit } from '../context.js'
import { usage } from '../errors.js'
import { examples } from '../help.js'
import { loadKey, writeSecretFile } from '../io.js'

export function registerKeys(program: Command, ctx: Context): void {
  const keygen = program
    .command('keygen')
    .description('create an Ed25519 key (PKCS#8 PEM, mode 0600) and print its did:key')
    .option('-o, --out <file>', 'where to write the private key (required: a secret key is never printed)')
    .option('--force', 'overwrite an existing file')
    .action((opts: { out?: string; force?: boolean }, cmd: Command) => {
      if (!opts.out)
        usage('keygen needs -o FILE', 'a secret key is only ever written to a file with mode 0600: mandate keygen -o alice.pem')
      const pair = generateKeyPair()
      writeSecretFile(opts.out, exportSecretKeyPem(pair.secretKey), opts.force === true)
      const did = toDidKey(pair.publicKey)
      emit(ctx, cmd, { did, file: opts.out }, () => `${did}\n`)
    })
  examples(keygen, 'mandate keygen -o alice.pem', 'mandate keygen -o alice.pem --force --json')

  const pubkey = program
    .command('pubkey')
    .description('print the public key of a key file')
    .argument('[keyfile]', 'PKCS#8 PEM private key (default: MANDATE_KEY)')
    .option('--format <format>', 'did, hex or pem', 'did')
    .action((keyfile: string | undefined, opts: { format: string }, cmd: Command) => {
      const pair = loadKey(ctx.io, keyfile, 'KEYFILE')
      const forms: Record<string, string> = {
        did: toDidKey(pair.publicKey),
        hex: toHex(pair.publicKey),
        pem: exportPublicKeyPem(pair.publicKey).trimEnd(),
      }
      const text = forms[opts.format]
      if (text === undefined) usage(`--format: expected did, hex or pem, got ${JSON.stringify(opts.format)}`, 'e.g. --format hex')
      emit(ctx, cmd, { did: forms['did'], hex: forms['hex'], pem: forms['pem'] }, () => `${text}\n`)
    })
  examples(
    pubkey,
    'ALICE=$(mandate pubkey alice.pem)',
    'mandate pubkey alice.pem --format pem',
    'MANDATE_KEY=alice.pem mandate pubkey --json',
  )
}
