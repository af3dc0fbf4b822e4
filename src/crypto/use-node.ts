/**
 * Installs the node:crypto backend. Imported, for its effect, by the entry points that only
 * Node loads (the `node` export condition of the main entry, `mandate/node`, `mandate/service`
 * and the CLI), so that no other runtime ever sees a `node:` import.
 *
 * @module
 */
import { nodeBackend } from './backend-node.js'
import { installNodeBackend } from './ed25519.js'

installNodeBackend(nodeBackend)
