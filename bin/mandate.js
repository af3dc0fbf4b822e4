#!/usr/bin/env node
// The CLI lives in src/cli, built to dist/ by `npm run build` (`npm run demo`, `npm test` and
// `npm pack` build it first), and bundled into dist/cli-bundle/ so that it starts quickly. Its dependencies (commander, hono, pino, SQLite, …) are optional
// peers of the library, so a project that only verifies tokens never installs them;
// `npm install -g mandate-cli` brings them all.
let cli
try {
  cli = await import('../dist/cli-bundle/cli.js')
} catch (e) {
  if (e?.code !== 'ERR_MODULE_NOT_FOUND') throw e
  const text = String(e.message)
  const missing = /Cannot find package '([^']+)'/.exec(text)?.[1]
  if (missing) {
    process.stderr.write(
      `mandate: error: this copy of the command comes with the library alone, without the packages the command needs (first missing: ${missing}).\n` +
        'mandate: hint: install the command with `npm install -g mandate-cli`; if the library is also installed globally, `npm uninstall -g mandate` first (both provide `mandate`)\n',
    )
  } else if (text.includes('dist/cli-bundle/cli.js')) {
    process.stderr.write('mandate: error: the command is not built yet.\nmandate: hint: run `npm run build` in this checkout\n')
  } else {
    throw e
  }
  process.exit(3)
}
await cli.main()
