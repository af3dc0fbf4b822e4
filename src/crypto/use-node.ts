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
// A plain Uint8Array (32 bytes, copied on the heap at no cost), not a Buffer, as the pure-JS hash returns.
installSha256((bytes) => new Uint8Array(hash('sha256', bytes, 'buffer')))
