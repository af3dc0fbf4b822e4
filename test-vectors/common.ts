/**
 * What the three vector generators share: deterministic keys and randomness (so that the files
 * are byte-stable), and writing a file, or with `--check` comparing it, for drift in CI.
 */
import { readFileSync, writeFileSync } from 'node:fs'
import { sha256 } from '../src/crypto/hash.js'
import { type KeyPair, keyPairFromSecret } from '../src/crypto/keys.js'
import { utf8 } from '../src/internal/bytes.js'

/** The clock of every vector file: decisions are made at T0 plus a few seconds. */
export const T0 = 1_790_000_000

/** The seed of a role's key (keys.json): SHA-256("mandate test vector key: " + role). */
export const seedOf = (role: string): Uint8Array => sha256(utf8(`mandate test vector key: ${role}`))

/** The key pairs of `roles`, from their seeds. */
export function keysOf<R extends string>(roles: readonly R[]): Record<R, KeyPair> {
  return Object.fromEntries(roles.map((r) => [r, keyPairFromSecret(seedOf(r))])) as Record<R, KeyPair>
}

/** Deterministic randomness in `domain` (each generator its own), one stream per `seed`. */
export function seededRandom(domain: string, seed: string): (n: number) => Uint8Array {
  let counter = 0
  return (n) => {
    const out = new Uint8Array(n)
    for (let filled = 0; filled < n; filled += 32)
      out.set(sha256(utf8(`${domain}:${seed}:${counter++}`)).subarray(0, Math.min(32, n - filled)), filled)
    return out
  }
}

/** A JSON document as the files hold it. */
export function json(value: unknown): string {
  return `${JSON.stringify(value, null, 2)}\n`
}

/**
 * Write `files` (names under test-vectors/v1/), or with `--check` compare them with what is on
 * disk and exit 1 on any difference. Returns whether this was a check.
 */
export function writeOrCheck(files: Readonly<Record<string, string>>): boolean {
  const check = process.argv.includes('--check')
  const dir = new URL('./v1/', import.meta.url)
  let drift = false
  for (const [name, text] of Object.entries(files)) {
    const path = new URL(name, dir)
    if (!check) {
      writeFileSync(path, text)
      continue
    }
    let old = ''
    try {
      old = readFileSync(path, 'utf8')
    } catch {
      old = ''
    }
    if (old !== text) {
      drift = true
      console.error(`test-vectors/v1/${name} differs from what the generator produces: run \`npm run vectors\` and review the diff`)
    }
  }
  if (drift) process.exit(1)
  return check
}
