// The suite runs on Node against src/, as the `node` export condition of the package does:
// with the node:crypto backend installed (tests that need the pure-JS one ask for it by name).
import '../src/crypto/use-node.js'
