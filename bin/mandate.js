#!/usr/bin/env node
// The `mandate` command. The CLI lives in src/cli, built to dist/ by `npm run build` (`npm run
// demo`, `npm test` and `npm pack` build it first) and bundled by scripts/build-cli.mjs into one
// CommonJS script, dist/cli-bundle/mandate.cjs, beside which the build leaves a V8 code cache of
// it: most of a `mandate verify` was Node reading, resolving and compiling modules (issue #9: a
// script pays for the start on every call). The cache is used only with the exact bytes it was
// made from (it opens with their SHA-256) and only if V8 takes it (the same Node and V8 flags as
// the build's); otherwise the script is compiled as usual. Nothing is written here. The published
// package carries no cache (see scripts/build-cli.mjs): a checkout's `npm run build` makes one.
//
// The optional peers that only some commands need (hono, pino, SQLite, the MCP SDK, …) are left
// out of the bundle: a command that needs one that is not installed says which (`npm install -g
// mandate-cli` brings them all, and its own bin runs this file's `start`).
'use strict'
const { createHash } = require('node:crypto')
const { readFileSync } = require('node:fs')
const { createRequire } = require('node:module')
const { join } = require('node:path')
const { Script } = require('node:vm')

const SCRIPT = join(__dirname, '../dist/cli-bundle/mandate.cjs')
const CACHE = `${SCRIPT}.cache`
const HASH_BYTES = 32

/**
 * Compile and run the bundle: its exports (`main`), the compiled script (the build asks it for
 * the code cache), the SHA-256 of its bytes, and whether the code cache was used.
 */
function load() {
  let bytes
  try {
    bytes = readFileSync(SCRIPT)
  } catch (e) {
    if (e?.code !== 'ENOENT') throw e
    process.stderr.write('mandate: error: the command is not built yet.\nmandate: hint: run `npm run build` in this checkout\n')
    process.exit(3)
  }
  const hash = createHash('sha256').update(bytes).digest()
  let cachedData
  try {
    const cache = readFileSync(CACHE)
    if (cache.length > HASH_BYTES && hash.equals(cache.subarray(0, HASH_BYTES))) cachedData = cache.subarray(HASH_BYTES)
  } catch {
    // No cache (or none readable): only slower.
  }
  // The bundle is ASCII (esbuild's charset: 'ascii'), so its bytes are its text. The wrapper is
  // CommonJS's; the cache was made of exactly this text.
  const text = `(function (exports, require, module, __filename, __dirname) {${bytes.toString('latin1')}\n})`
  const script = new Script(text, { filename: SCRIPT, cachedData })
  const module = { exports: {} }
  script.runInThisContext()(module.exports, createRequire(SCRIPT), module, SCRIPT, join(SCRIPT, '..'))
  return { exports: module.exports, script, hash, cached: cachedData !== undefined && !script.cachedDataRejected }
}

/** Run the command with `process.argv` (mandate-cli's bin calls this too). */
function start() {
  return load().exports.main()
}

module.exports = { start, load, CACHE, HASH_BYTES }
if (require.main === module) start()
