// The approval page (src/page/, spec/service-v1.md §7.1) for browsers, into dist/page/: the
// script bundled by esbuild into one ES module (the library's own signing code included, on its
// pure-JS backend), the page and its stylesheet copied as they are. `npm run build` runs this
// after tsc; the service serves dist/page/ at /approvals/.
import { copyFileSync, mkdirSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { build } from 'esbuild'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const from = join(root, 'src/page')
const to = join(root, 'dist/page')
mkdirSync(to, { recursive: true })
await build({
  entryPoints: [join(from, 'main.ts')],
  outfile: join(to, 'approvals.js'),
  bundle: true,
  format: 'esm',
  platform: 'browser',
  target: ['es2022', 'chrome111', 'firefox113', 'safari16.4'],
  minify: true,
  sourcemap: false,
  legalComments: 'eof',
  tsconfig: join(from, 'tsconfig.json'),
  logLevel: 'warning',
})
for (const file of ['index.html', 'approvals.css']) copyFileSync(join(from, file), join(to, file))
