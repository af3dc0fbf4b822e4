// The command line, bundled from dist/ by esbuild into one CommonJS script,
// dist/cli-bundle/mandate.cjs, with a V8 code cache of it beside it (issue #9: the CLI's start is
// what a user waits for on every call). `npm run build` runs this after tsc.
//
// A `mandate verify` over `node -e 0`, alternating runs of 31 on the 2-core development machine:
// an ES-module bundle split per command (before) +97 ms; this script without its cache +67 ms,
// with it +42 ms (tsc's ~80 modules, earlier: +136 ms). ES modules cannot be compiled from a code
// cache on Node 20 (module.enableCompileCache is Node 22's, and writes to a shared temporary
// directory); a CommonJS script compiled through node:vm can. One script for every command: the
// code of a command that does not run is read with the script but never compiled, and the cache
// holds only what `verify` runs (scripts/cli-code-cache.cjs).
//
// Bundled in: the library's dependencies (always installed), commander (every command needs it)
// and canonicalize (see BUNDLED_PEERS). Left as `require`s: the other optional peers (hono, pino,
// SQLite, the MCP SDK, …), found where they are installed or said missing by the command that
// needs one; the build checks that each resolves to CommonJS. `import()` becomes `require` too,
// so that the script needs no ES-module loader hook.
//
// The cache is tied to this Node's version and V8 flags: another Node rejects it and compiles the
// script as usual (bin/mandate.js). It is not published (package.json "files"): it is bytecode,
// different at every build, so no one could check a published one against the script it claims
// to be, and a security tool ships only what can be read.
import { spawnSync } from 'node:child_process'
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { build } from 'esbuild'

/**
 * commander requires node:child_process when it loads, for executable subcommands (mandate has
 * none), and that brings net, dgram and their streams into every start (~3 ms): commander gets
 * the module on first use instead.
 */
function lazyChildProcessForCommander() {
  return {
    name: 'lazy-child-process-for-commander',
    setup(b) {
      b.onResolve({ filter: /^node:child_process$/ }, (args) =>
        /[\\/]node_modules[\\/]commander[\\/]/.test(args.importer) ? { path: 'child_process', namespace: 'lazy' } : undefined,
      )
      b.onLoad({ filter: /.*/, namespace: 'lazy' }, () => ({
        contents: "let m\nmodule.exports = new Proxy({}, { get: (_, name) => (m ??= require('node:child_process'))[name] })\n",
        loader: 'js',
      }))
    },
  }
}

/**
 * Peers bundled in: commander (every command needs it) and canonicalize, an ES module only. A
 * CommonJS script reaches an ES module through require(), whose namespace esbuild's interop
 * would take for `module.exports` (its `default` the namespace, not the function); the other
 * peers ship a CommonJS build that require() loads.
 */
const BUNDLED_PEERS = ['commander', 'canonicalize']

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const out = join(root, 'dist/cli-bundle')
const script = join(out, 'mandate.cjs')
const { peerDependencies } = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'))
rmSync(out, { recursive: true, force: true })
const result = await build({
  entryPoints: [join(root, 'dist/cli.js')],
  outfile: script,
  bundle: true,
  format: 'cjs',
  platform: 'node',
  target: 'node20',
  supported: { 'dynamic-import': false },
  external: Object.keys(peerDependencies).filter((name) => !BUNDLED_PEERS.includes(name)),
  // The bundle sits two levels below the package root, as dist/cli/ does, so that the paths the
  // CLI resolves from its own module (package.json, the approval page in dist/page/) are the same.
  define: { 'import.meta.url': '__mandate_module_url' },
  // The script is CommonJS's wrapper around the bundle, so that bin/mandate.js compiles its bytes
  // as they are: wrapped there, V8 flattened a second copy of the text at every start (~2 ms).
  // The directive opens the function's body, or it is only an expression: the modules bundled
  // are ES modules, strict.
  banner: {
    js: '(function (exports, require, module, __filename, __dirname) {"use strict";const __mandate_module_url = require("node:url").pathToFileURL(__filename).href;',
  },
  footer: { js: '\n})' },
  // ASCII, so that bin/mandate.js can take the bytes as the text (no UTF-8 decoding); minified:
  // every start reads the script and the cache, whose size goes with the names in it.
  charset: 'ascii',
  minify: true,
  legalComments: 'none',
  metafile: true,
  logLevel: 'warning',
  plugins: [lazyChildProcessForCommander()],
})

// Each peer left out must load as CommonJS (see BUNDLED_PEERS), or the command using it breaks.
const requireFromBundle = createRequire(script)
for (const { path, external } of Object.values(result.metafile.outputs)[0].imports) {
  if (!external || path.startsWith('node:')) continue
  const file = requireFromBundle.resolve(path)
  if (!isCommonJs(file)) throw new Error(`build-cli: ${path} resolves to an ES module (${file}): add it to BUNDLED_PEERS`)
}

/** Whether Node loads `file` as CommonJS: .cjs, or .js under a package.json without "type": "module". */
function isCommonJs(file) {
  if (file.endsWith('.cjs')) return true
  if (!file.endsWith('.js')) return false
  for (let dir = dirname(file); dir !== dirname(dir); dir = dirname(dir)) {
    const manifest = join(dir, 'package.json')
    if (existsSync(manifest)) return JSON.parse(readFileSync(manifest, 'utf8')).type !== 'module'
  }
  return true
}

// The licenses of the packages bundled in travel with them.
const bundled = new Set()
for (const input of Object.keys(result.metafile.inputs)) {
  const at = input.lastIndexOf('node_modules/')
  if (at === -1) continue
  const [scope, name] = input.slice(at + 'node_modules/'.length).split('/')
  bundled.add(scope.startsWith('@') ? `${scope}/${name}` : scope)
}
const notices = [...bundled].sort().map((name) => {
  const dir = join(root, 'node_modules', name)
  const license = readdirSync(dir).find((f) => /^licen[cs]e/i.test(f))
  if (license === undefined) throw new Error(`build-cli: ${name} is bundled into the CLI but has no LICENSE file`)
  const { version } = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'))
  return `${name}@${version}\n\n${readFileSync(join(dir, license), 'utf8').trim()}\n`
})
writeFileSync(join(out, 'THIRD-PARTY-LICENSES.txt'), `Packages bundled into mandate.cjs:\n\n${notices.join('\n---\n\n')}`)

// Node flags would change V8's flag hash and make the cache unusable by a plain `mandate`.
const { NODE_OPTIONS: _, ...env } = process.env
// Its standard output is what the commands it runs print, a build's noise; errors come on stderr.
const made = spawnSync(process.execPath, [join(root, 'scripts/cli-code-cache.cjs')], { stdio: ['ignore', 'ignore', 'inherit'], env })
if (made.status !== 0 || !existsSync(`${script}.cache`)) {
  throw new Error(`build-cli: making the code cache failed (exit ${made.status ?? made.signal})`)
}
