/**
 * The command-line tool's entry: `main()` runs `mandate` with `process.argv`. Installed as a
 * command by `npm install -g mandate-cli`, which brings the CLI's own dependencies.
 *
 * @example
 * ```ts
 * // A launcher script of your own, as bin/mandate.js is this package's:
 * import { main } from 'mandate/cli'
 * await main() // reads process.argv, sets process.exitCode
 * ```
 *
 * @module mandate/cli
 */
import './crypto/use-node.js'

export { main } from './cli/main.js'
