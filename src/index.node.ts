/**
 * The main entry as Node.js loads it (the `node` export condition): the same API as
 * `index.ts`, with the node:crypto backend installed as the default. Browsers, workers and
 * bundlers targeting them get `index.ts` and the pure-JS backend.
 *
 * @module
 */
import './crypto/use-node.js'

export * from './index.js'
