/**
 * `NAME=KEY` lists on the command line, in the environment and in files: served principals
 * and registered verifiers of `mandate serve`.
 *
 * @module
 */
import { readFileSync } from 'node:fs'
import { parsePublicKey, toDidKey } from '../crypto/keys.js'
import { MandateError } from '../errors.js'
import { usage } from './errors.js'

/** A named public key. */
export interface NamedKey {
  readonly name?: string
  readonly key: string
}

/**
 * Parse `NAME=KEY` (or a bare KEY when `nameRequired` is false) entries; every key must be a
 * valid Ed25519 public key (did:key, hex, base64url or SPKI), checked here so that a typo stops
 * the start with a clear message instead of a service that trusts nobody.
 */
export function parseNamedKeys(values: readonly string[], flag: string, nameRequired: boolean): NamedKey[] {
  return values
    .map((v) => v.trim())
    .filter((v) => v !== '' && !v.startsWith('#'))
    .map((entry) => {
      const m = /^([^=\s]+)=(\S+)$/.exec(entry)
      if (!m && nameRequired)
        usage(`${flag}: expected NAME=KEY, got ${JSON.stringify(entry.slice(0, 120))}`, `e.g. ${flag} calendar=did:key:z6Mk…`)
      const name = m?.[1]
      const key = m ? (m[2] as string) : entry
      return { ...(name === undefined ? {} : { name }), key: didOf(key, flag) }
    })
}

function didOf(key: string, flag: string): string {
  try {
    return toDidKey(parsePublicKey(key))
  } catch (e) {
    usage(
      `${flag}: ${JSON.stringify(key.slice(0, 120))} is not an Ed25519 public key (${e instanceof MandateError ? e.code : 'unreadable'})`,
      'a key is a did:key (mandate pubkey FILE prints it), hex, base64url or SPKI',
    )
  }
}

/** Entries of a file: one `NAME=KEY` a line, `#` comments and blank lines ignored. */
export function namedKeysFile(path: string, flag: string): string[] {
  let text: string
  try {
    text = readFileSync(path, 'utf8')
  } catch (e) {
    usage(`${flag}: cannot read ${path} (${(e as NodeJS.ErrnoException).code ?? 'error'})`, 'one NAME=KEY a line; # starts a comment')
  }
  return text.split(/\r?\n/)
}
