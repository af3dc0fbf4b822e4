/**
 * The command-line tool's entry: `main()` runs `mandate` with `process.argv`. Installed as a
 * command by `npm install -g mandate-cli`, which brings the CLI's own dependencies.
 *
 * @module
 */
import './crypto/use-node.js'

export { main } from './cli/main.js'
