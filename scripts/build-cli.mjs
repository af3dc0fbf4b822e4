// The command line, bundled from dist/ into dist/cli-bundle/ by esbuild: one ES module per
// command (loaded when the command runs) and a few shared chunks, instead of the ~80 modules tsc
// emits, so that a `mandate verify` starts in fewer file reads (issue #9: the CLI's start is what a
// user waits for on every call). Packages stay imports (commander, hono, pino, SQLite, …): they
// are optional peers, found where they are installed. `npm run build` runs this after tsc; the
// bundle sits two levels below the package root, as dist/cli/ does, so that the paths the CLI
// resolves from its own module (package.json, the approval page in dist/page/) are the same. The
// library's own dependencies (@noble/*, @scure/base, structured-headers) are bundled too: always
// installed, and a dozen small files less to find and read at every start.
import { readFileSync, rmSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { build } from 'esbuild'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const out = join(root, 'dist/cli-bundle')
const { peerDependencies } = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'))
rmSync(out, { recursive: true, force: true })
await build({
  entryPoints: [join(root, 'dist/cli.js')],
  outdir: out,
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  // The optional peers stay imports, resolved where they are installed (or said missing).
  external: Object.keys(peerDependencies),
  minify: false,
  sourcemap: false,
  legalComments: 'none',
  logLevel: 'warning',
})
