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
import { installSha256 } from './hash.js'

installNodeBackend(nodeBackend)
installSha256((bytes) => {
  const digest = hash('sha256', bytes, 'buffer')
  // A plain Uint8Array over the digest's own memory (a copy if it sits in a shared pool).
  return digest.byteOffset === 0 && digest.buffer.byteLength === digest.length
    ? new Uint8Array(digest.buffer, 0, digest.length)
    : Uint8Array.from(digest)
})
