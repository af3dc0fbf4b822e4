#!/usr/bin/env node
// The `mandate` command. The CLI lives in src/cli, built to dist/ by `npm run build` (`npm run
// demo`, `npm test` and `npm pack` build it first) and bundled by scripts/build-cli.mjs into one
// CommonJS module body inside its own wrapper, dist/cli-bundle/mandate.cjs (compiled here as read,
// not loaded with require), beside which a checkout's build leaves a V8 code
// cache of it: most of a `mandate verify` was Node reading, resolving and compiling modules
// (issue #9: a script pays for the start on every call).
//
// A code cache is code V8 runs without checking it against the script (only the script's length
// is compared), so it is read only in a checkout — never from a package installed under
// node_modules, which is published without one (a cache there was put there by someone else) —
// and only when it opens with the SHA-256 of the script's exact bytes and of its own (a damaged
// cache can crash V8), is a regular file of sane size, and V8 takes it (same Node and flags as
// the build's). Otherwise the script is compiled as usual. Nothing is written here.
//
// The optional peers that only some commands need (hono, pino, SQLite, the MCP SDK, …) are left
// out of the bundle: a command that needs one that is not installed says which (`npm install -g
// mandate-cli` brings them all, and its own bin runs this file's `start`).
'use strict'
const { hash } = require('node:crypto')
const { closeSync, constants, fstatSync, openSync, readFileSync, readSync } = require('node:fs')
const { createRequire } = require('node:module')
const { join, sep } = require('node:path')
const { Script } = require('node:vm')

const SCRIPT = join(__dirname, '../dist/cli-bundle/mandate.cjs')
const CACHE = `${SCRIPT}.cache`
/** The cache opens with SHA-256(script) and SHA-256(the rest). */
const HASH_BYTES = 32
const HEADER_BYTES = 2 * HASH_BYTES
/** Far above a real cache (~0.4 MB): anything larger is not one. */
const CACHE_MAX_BYTES = 16 * 1024 * 1024
const INSTALLED = __dirname.split(sep).includes('node_modules')

// One-shot: no Hash object (a stream) made for each of the two digests.
const sha256 = (bytes) => hash('sha256', bytes, 'buffer')

/** The V8 data of the cache made from the script `bytes`, if there is a sound one. */
function cacheFor(bytes) {
  if (INSTALLED) return undefined
  let fd
  try {
    // Non-blocking: a FIFO in its place must not hang the command.
    fd = openSync(CACHE, constants.O_RDONLY | (constants.O_NONBLOCK ?? 0))
    const stat = fstatSync(fd)
    const size = stat.size
    if (!stat.isFile() || size <= HEADER_BYTES || size > CACHE_MAX_BYTES) return undefined
    const cache = Buffer.allocUnsafe(size)
    let read = 0
    while (read < size) {
      const n = readSync(fd, cache, read, size - read, read)
      if (n === 0) return undefined
      read += n
    }
    const data = cache.subarray(HEADER_BYTES)
    // Hashed only here: an installed command, or a checkout without a cache, hashes nothing.
    return sha256(bytes).equals(cache.subarray(0, HASH_BYTES)) && sha256(data).equals(cache.subarray(HASH_BYTES, HEADER_BYTES))
      ? data
      : undefined
  } catch {
    return undefined // no cache (or none readable): only slower
  } finally {
    if (fd !== undefined) closeSync(fd)
  }
}

/**
 * Compile and run the bundle: its exports (`main`), the compiled script (the build asks it for
 * the code cache), its bytes, and whether a code cache was used.
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
  const cachedData = cacheFor(bytes)
  // The bundle is ASCII (esbuild's charset: 'ascii'), so its bytes are its text, and it carries
  // CommonJS's wrapper (scripts/build-cli.mjs): the text is compiled as read, with no second
  // copy made of it. The cache was made of exactly this text.
  const text = bytes.toString('latin1')
  const script = new Script(text, { filename: SCRIPT, cachedData })
  const module = { exports: {} }
  script.runInThisContext()(module.exports, createRequire(SCRIPT), module, SCRIPT, join(SCRIPT, '..'))
  return { exports: module.exports, script, bytes, cached: cachedData !== undefined && !script.cachedDataRejected }
}

/** The cache file's bytes for `script`, compiled by {@link load} from `bytes`. */
function cacheFile(script, bytes) {
  const data = script.createCachedData()
  return Buffer.concat([sha256(bytes), sha256(data), data])
}

/** Run the command with `process.argv` (mandate-cli's bin calls this too). */
function start() {
  return load().exports.main()
}

module.exports = { start, load, cacheFile, CACHE }
if (require.main === module) start()
