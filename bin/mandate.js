#!/usr/bin/env node
// The CLI lives in src/cli (built to dist by `npm ci` / `npm run build`). Its dependencies
// (commander, hono, pino, SQLite, …) are optional peers of the library, so a project that
// only verifies tokens never installs them; `npm install -g mandate-cli` brings them all.
let cli
try {
  cli = await import('../dist/cli.js')
} catch (e) {
  const missing = e?.code === 'ERR_MODULE_NOT_FOUND' && /Cannot find package '([^']+)'/.exec(String(e.message))?.[1]
  if (!missing) throw e
  process.stderr.write(
    `mandate: the command-line tool needs packages this install does not have (first missing: ${missing}).\n` +
      'hint: install the CLI and the service with `npm install -g mandate-cli`\n',
  )
  process.exit(3)
}
await cli.main()
