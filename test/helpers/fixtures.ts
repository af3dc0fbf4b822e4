/**
 * Deterministic keys, clocks and randomness for tests.
 */
import { sha256 } from '../../src/crypto/hash.js'
import { type KeyPair, keyPairFromSecret, toDidKey } from '../../src/crypto/keys.js'
import { MandateError } from '../../src/errors.js'
import { fromHex, utf8 } from '../../src/internal/bytes.js'

/** A key pair derived from a name: stable across runs. */
export function keyFor(name: string): KeyPair {
  return keyPairFromSecret(sha256(utf8(`mandate test key: ${name}`)))
}

export function didFor(name: string): string {
  return toDidKey(keyFor(name).publicKey)
}

/** A counter-based deterministic byte source. */
export function seededRandom(seed: string): (length: number) => Uint8Array {
  let counter = 0
  return (length: number) => {
    const out = new Uint8Array(length)
    let filled = 0
    while (filled < length) {
      const block = sha256(utf8(`${seed}/${counter++}`))
      out.set(block.subarray(0, Math.min(32, length - filled)), filled)
      filled += 32
    }
    return out
  }
}

export function hex(text: string): Uint8Array {
  const b = fromHex(text.replace(/\s+/g, ''))
  if (!b) throw new Error(`bad hex ${text}`)
  return b
}

export const T0 = 1_790_000_000

/** The MandateError code `f` throws, or 'ok'. Any other exception fails the test. */
export function thrownCode(f: () => unknown): string {
  try {
    f()
    return 'ok'
  } catch (e) {
    if (e instanceof MandateError) return e.code
    throw e
  }
}
