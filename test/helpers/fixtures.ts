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

/**
 * The keys most tests use, written out: each is exactly `keyFor(name)` (a test checks it), but a
 * literal runs no library code while test modules load. Mutation testing counts code run at
 * import time as "static", and a static mutant costs a run of every test instead of the few
 * that reach it.
 */
export const FIXED_KEYS = {
  alice: [
    '8645810bcfd9e25a4461263d246a35d29950670b7425ba2cf9f3fb12f3423969',
    '4c27d6b8c79b63bd9a6c04b709238d5c9d51a355a09a04ac3eb17c59e7b9a440',
    'did:key:z6MkjaYGGiJAnhTjVfHJHhgTizvoiYp5CBujcjJSsrFUf8MV',
  ],
  assistant: [
    '392351fe594ff2b0b5a00ada32b5a16736b339cf97aa872f73b6fb115884f194',
    'faa357b9db07aebac3c006631bf3b051267595ba4bb0881fab567d7015c93037',
    'did:key:z6MkwKeRxBcSZRYXtxu7u3NkPJjxYXtSYDLtS8HWYYu9FNfx',
  ],
  subagent: [
    '362752a72fdd61bbca65f6f8d20317205e8ad6501e93cb768152e65706f5559d',
    '1a538b999a6204e411ae4b179ec80853398d75e40a8345b1430f76feba0fc6a2',
    'did:key:z6MkgE2Xu1f7Fy9sVD7hzFqZooLbsWsoqr2zHDXiLUF3GV21',
  ],
  mallory: [
    'f2713e7487d6c38e5f66010c67bee6b33448c57f7a3065795f575a4c5291a0f8',
    '5acd2a9d9e606778906abc1413e885a46d3eae6bac843f012b7f1c227439858c',
    'did:key:z6MkkZiBtWTd5GdwkkzoGyR1Utm7PfDfETv8bGtfwg2eWAPM',
  ],
  bob: [
    '19c097c9bcd3b80d088a0a712360dce410164f175ec76611668934a375fd2c00',
    '1303172a930a081b665fba15e21ec4b5baa37829e4f1375cb838e10744e6119d',
    'did:key:z6MkfjUXQJXGfpsuFPCfrnquPtwQbwpFwjB3JVMoTW49j92L',
  ],
  carol: [
    'edfbb958d6ee0259c9e869c98455ed27f3debf520595d777661cd3a6796fc4e3',
    '8d0d50c1f32f867cc4502614b3d841086b78fa9c051463539bae1634262d74cd',
    'did:key:z6MkowsJmRAc9mDX3Bh3LQiiAjyrjpfjGeYRxeoD4T68sX6L',
  ],
  service: [
    '7666c955b2a59bb5ae7b3de1267c224ace357279828494f737358ba2ead70391',
    'c13ffeed978b6761c1a012b336d217a3410944276f9b5a9908008bc8d76f3f93',
    'did:key:z6MksTdL4FSsNkWjjfV5XQVuwqQ4vvuH2r2sWEkqRw9Gi6PC',
  ],
  'http-signature alice': [
    '8bb45626f1b854db3c9bcf5028d6c9b1345656b0dd88c71cdd69f75ebee7955f',
    'd38fe77262d6e25634897ff447dbcb120bf7439abbb3f3bd4c50cbb380139e7d',
    'did:key:z6Mkth7LdNCAUFDj8SYDwfGQXacNnomvKSoKRgc67YqVDCep',
  ],
  'http-signature bob': [
    '56bb47d3631a86d33980d6544a8f11f201b41a46db5a9c7be7370d2a95983e42',
    'ec2a97dcff809d507fedc48878759497a5de866fde7619f498f7b748e987fe27',
    'did:key:z6MkvM9vzrRdvb6J8hRUVKbmNsszPsLc2vFRXbZTuwu8xHbk',
  ],
  verifier: [
    '502f17c242d2d0ec86672234c5a71d946210be3c84bbe7380f4cc3c52c24471a',
    '1e747e30f513170a6fe62ca350216ad85beffebde322d05b71ae96bf2b69bff6',
    'did:key:z6MkgW9JYjhFKXAE7iQuLUwFdE7JPXQx7SVJPN2ox9Ugv14q',
  ],
} as const satisfies Record<string, readonly [string, string, string]>

export type FixedKeyName = keyof typeof FIXED_KEYS

/** `keyFor(name)` for one of {@link FIXED_KEYS}, without running library code. */
export function fixedKey(name: FixedKeyName): KeyPair {
  const [secret, pub] = FIXED_KEYS[name]
  return { secretKey: hex(secret), publicKey: hex(pub) }
}

/** `didFor(name)` for one of {@link FIXED_KEYS}. */
export function fixedDid(name: FixedKeyName): string {
  return FIXED_KEYS[name][2]
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

/** The MandateError `f` throws, to check its code, message, hint and location; anything else fails the test. */
export function caught(f: () => unknown): MandateError {
  try {
    f()
  } catch (e) {
    if (e instanceof MandateError) return e
    throw e
  }
  throw new Error('expected a MandateError, nothing was thrown')
}

/** What `f` throws, as [class name, message] (an option refused: TypeError or RangeError, and which); 'nothing' when it returns. */
export function thrownAs(f: () => unknown): [string, string] | 'nothing' {
  try {
    f()
  } catch (e) {
    return [(e as Error).constructor.name, (e as Error).message]
  }
  return 'nothing'
}

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
