#!/usr/bin/env node
// The `mandate` command. The CLI lives in src/cli, built to dist/ by `npm run build` (`npm run
// demo`, `npm test` and `npm pack` build it first) and bundled by scripts/build-cli.mjs into one
// CommonJS script, dist/cli-bundle/mandate.cjs, beside which a checkout's build leaves a V8 code
// cache of it: most of a `mandate verify` was Node reading, resolving and compiling modules
// (issue #9: a script pays for the start on every call).
//
// A code cache is code V8 runs without checking it against the script (only the script's length
// is compared), so it is taken only from where no one but its user could have put it, and only
// when it opens with the SHA-256 of the script's exact bytes and of its own (a damaged cache can
// crash V8), is a regular file of sane size, and V8 takes it (same Node and flags); otherwise
// the script is compiled as usual. In a checkout the cache is the build's, beside the script. A
// package installed under node_modules is published without one (and one put there by someone
// else must not run): its first run writes one to the user's cache directory
// ($XDG_CACHE_HOME/mandate or ~/.cache/mandate, the directory 0700 and the file 0600, both the
// user's; POSIX only), which later runs read. Nothing else is written.
//
// The optional peers that only some commands need (hono, pino, SQLite, the MCP SDK, …) are left
// out of the bundle: a command that needs one that is not installed says which (`npm install -g
// mandate-cli` brings them all, and its own bin runs this file's `start`).
'use strict'
const { createHash } = require('node:crypto')
const {
  closeSync,
  constants,
  fstatSync,
  lstatSync,
  mkdirSync,
  openSync,
  readFileSync,
  readSync,
  renameSync,
  rmSync,
  writeFileSync,
} = require('node:fs')
const { createRequire } = require('node:module')
const { homedir } = require('node:os')
const { dirname, isAbsolute, join, sep } = require('node:path')
const { Script } = require('node:vm')

const SCRIPT = join(__dirname, '../dist/cli-bundle/mandate.cjs')
const CACHE = `${SCRIPT}.cache`
/** The cache opens with SHA-256(script) and SHA-256(the rest). */
const HASH_BYTES = 32
const HEADER_BYTES = 2 * HASH_BYTES
/** Far above a real cache (~0.4 MB): anything larger is not one. */
const CACHE_MAX_BYTES = 16 * 1024 * 1024
const INSTALLED = __dirname.split(sep).includes('node_modules')

const sha256 = (bytes) => createHash('sha256').update(bytes).digest()

/**
 * Where the cache of the script whose SHA-256 is `scriptHash` is kept: beside the script in a
 * checkout; in the user's cache directory for an installed package (undefined where files have
 * no owner to check: Windows).
 */
function cachePath(scriptHash) {
  if (!INSTALLED) return CACHE
  if (typeof process.getuid !== 'function') return undefined
  const xdg = process.env.XDG_CACHE_HOME
  const base = xdg && isAbsolute(xdg) ? xdg : join(homedir(), '.cache')
  // One cache a command, so that each holds what that command compiles: the first word of the
  // line that can be a command's name (past --json and --timeout SECONDS), else `mandate`.
  const command = process.argv.slice(2).find((word) => /^[a-z]{1,16}$/.test(word)) ?? 'mandate'
  const name = `cli-${scriptHash.toString('hex').slice(0, 32)}-${process.version}-${process.arch}-${command}.cache`
  return join(base, 'mandate', name)
}

/** Whether `stat` is of something this user owns and no one else may write (the user's cache only). */
function ownedAlone(stat) {
  return !INSTALLED || (stat.uid === process.getuid() && (stat.mode & 0o022) === 0)
}

/** The V8 data of the cache made from `script` (by its SHA-256), if there is a sound one. */
function cacheFor(scriptHash) {
  const path = cachePath(scriptHash)
  if (path === undefined) return undefined
  let fd
  try {
    if (!ownedAlone(lstatSync(dirname(path)))) return undefined
    // Non-blocking: a FIFO in its place must not hang the command; not through a symbolic link.
    fd = openSync(path, constants.O_RDONLY | (constants.O_NONBLOCK ?? 0) | (constants.O_NOFOLLOW ?? 0))
    const stat = fstatSync(fd)
    const size = stat.size
    if (!stat.isFile() || !ownedAlone(stat) || size <= HEADER_BYTES || size > CACHE_MAX_BYTES) return undefined
    const cache = Buffer.allocUnsafe(size)
    let read = 0
    while (read < size) {
      const n = readSync(fd, cache, read, size - read, read)
      if (n === 0) return undefined
      read += n
    }
    const data = cache.subarray(HEADER_BYTES)
    return scriptHash.equals(cache.subarray(0, HASH_BYTES)) && sha256(data).equals(cache.subarray(HASH_BYTES, HEADER_BYTES))
      ? data
      : undefined
  } catch {
    return undefined // no cache (or none readable): only slower
  } finally {
    if (fd !== undefined) closeSync(fd)
  }
}

/**
 * After an installed package's run without a cache: write one to the user's cache directory
 * (new file, 0600, renamed into place), for the runs after. Any failure only leaves it unwritten.
 */
function remember(script, hash) {
  const path = cachePath(hash)
  if (path === undefined || path === CACHE) return
  const fresh = `${path}.${process.pid}.tmp`
  try {
    mkdirSync(dirname(path), { recursive: true, mode: 0o700 })
    if (!ownedAlone(lstatSync(dirname(path)))) return
    writeFileSync(fresh, cacheFile(script, hash), { mode: 0o600, flag: 'wx' })
    renameSync(fresh, path)
  } catch {
    try {
      rmSync(fresh, { force: true })
    } catch {
      // nothing more to do
    }
  }
}

/**
 * Compile and run the bundle: its exports (`main`), the compiled script (the build asks it for
 * the code cache), the SHA-256 of its bytes, and whether a code cache was used.
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
  const hash = sha256(bytes)
  const cachedData = cacheFor(hash)
  // The bundle is ASCII (esbuild's charset: 'ascii'), so its bytes are its text. The wrapper is
  // CommonJS's; the cache was made of exactly this text.
  const text = `(function (exports, require, module, __filename, __dirname) {${bytes.toString('latin1')}\n})`
  const script = new Script(text, { filename: SCRIPT, cachedData })
  const module = { exports: {} }
  script.runInThisContext()(module.exports, createRequire(SCRIPT), module, SCRIPT, join(SCRIPT, '..'))
  return { exports: module.exports, script, hash, cached: cachedData !== undefined && !script.cachedDataRejected }
}

/** The cache file's bytes for `script` (compiled by {@link load}), whose SHA-256 is `hash`. */
function cacheFile(script, hash) {
  const data = script.createCachedData()
  return Buffer.concat([hash, sha256(data), data])
}

/** Run the command with `process.argv` (mandate-cli's bin calls this too). */
function start() {
  const { exports, script, hash, cached } = load()
  const done = exports.main()
  // Only after a command that succeeded: a mistyped name makes no cache.
  return cached ? done : done.then(() => (process.exitCode === 0 ? remember(script, hash) : undefined))
}

module.exports = { start, load, cacheFile, CACHE, HEADER_BYTES }
if (require.main === module) start()
