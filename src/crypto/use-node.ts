/**
 * Installs the node:crypto backend. Imported, for its effect, by the entry points that only
 * Node loads (the `node` export condition of the main entry, `mandate/node`, `mandate/service`
 * and the CLI), so that no other runtime ever sees a `node:` import.
 *
 * @module
 */
import { hash } from 'node:crypto'
import { nodeBackend } from './backend-node.js'
import { installNodeBackend } from './ed25519.js'
import { discardRandomPool, installSha256 } from './hash.js'

installNodeBackend(nodeBackend)
installSha256(sha256Latin1)
// Stryker disable next-line ArrowFunction,StringLiteral: unreachable in a test process — only one building a snapshot asks V8; test/runtimes/snapshot.test.ts builds one and starts processes from it
guardSnapshots(process.execArgv, () => process.getBuiltinModule('node:v8').startupSnapshot)

/** What of node:v8's `startupSnapshot` {@link guardSnapshots} uses. */
export interface SnapshotHooks {
  isBuildingSnapshot(): boolean
  addSerializeCallback(callback: () => void): void
}

/**
 * A startup snapshot (`node --build-snapshot`, or a single executable's `useSnapshot`, built by
 * `node --experimental-sea-config`) is a process image every process started from it begins
 * with: random bytes left in the pool when it is taken would be drawn again in each, so they are
 * dropped then. node:v8 (`hooks`, ~2 ms to load) is asked only when a flag says one may be in the
 * making. Whether the pool will be dropped. Internal (exported for its test).
 */
export function guardSnapshots(execArgv: readonly string[], hooks: () => SnapshotHooks): boolean {
  if (!execArgv.some((flag) => flag.startsWith('--build-snapshot') || flag === '--experimental-sea-config')) return false
  const snapshot = hooks()
  if (!snapshot.isBuildingSnapshot()) return false
  snapshot.addSerializeCallback(discardRandomPool)
  return true
}

/**
 * SHA-256 through OpenSSL, as a plain 32-byte Uint8Array (on the JavaScript heap, as the pure-JS
 * hash returns). Asked for as a 'binary' (latin1) string, one character a byte: a Buffer result costs a
 * backing store of its own, three times the hash of a signature (1.4 against 0.26 µs here), and
 * a block id is one per block of every chain read.
 */
function sha256Latin1(bytes: Uint8Array): Uint8Array {
  const digest = hash('sha256', bytes, 'binary')
  const out = new Uint8Array(32)
  // Stryker disable next-line EqualityOperator: equivalent — out[32] is no element of a 32-byte array: the write is dropped
  for (let i = 0; i < 32; i++) out[i] = digest.charCodeAt(i)
  return out
}
