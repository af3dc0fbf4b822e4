/**
 * `mandate keygen` and `mandate pubkey` (the flags are in ../commands/keys.ts).
 *
 * @module
 */
import type { Command } from 'commander'
import { exportPublicKeyPem, exportSecretKeyPem, generateKeyPair, toDidKey } from '../../crypto/keys.js'
import { toHex } from '../../internal/bytes.js'
import { type Context, emit } from '../context.js'
import { usage } from '../errors.js'
import { loadKey, writeSecretFile } from '../io.js'

/** Write a new key to `-o FILE` (mode 0600) and print its did:key. */
export function keygen(ctx: Context, opts: { out?: string; force?: boolean }, cmd: Command): void {
  if (!opts.out) usage('keygen needs -o FILE', 'a secret key is only ever written to a file with mode 0600: mandate keygen -o alice.pem')
  const pair = generateKeyPair()
  writeSecretFile(opts.out, exportSecretKeyPem(pair.secretKey), opts.force === true)
  const did = toDidKey(pair.publicKey)
  emit(ctx, cmd, { did, file: opts.out }, () => `${did}\n`)
}

/** Print the public key of `keyfile` as did, hex or pem. */
export function pubkey(ctx: Context, keyfile: string | undefined, opts: { format: string }, cmd: Command): void {
  const pair = loadKey(ctx.io, keyfile, 'KEYFILE')
  const forms: Record<string, string> = {
    did: toDidKey(pair.publicKey),
    hex: toHex(pair.publicKey),
    pem: exportPublicKeyPem(pair.publicKey).trimEnd(),
  }
  const text = forms[opts.format]
  if (text === undefined) usage(`--format: expected did, hex or pem, got ${JSON.stringify(opts.format)}`, 'e.g. --format hex')
  emit(ctx, cmd, { did: forms['did'], hex: forms['hex'], pem: forms['pem'] }, () => `${text}\n`)
}
