/**
 * bin/mandate.js: the bundled CLI compiled from its V8 code cache when the cache belongs to the
 * exact bytes of the bundle and to this Node, and compiled as usual otherwise (scripts/build-cli.mjs
 * makes both; `npm test` builds first).
 */
import { spawnSync } from 'node:child_process'
import { cpSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { COMMAND_PEERS, describeFailure, missingPackage } from '../../src/cli/errors.js'
import { scratch } from '../helpers/cli.js'

const root = resolve(import.meta.dirname, '../..')

/** Load the bundle through `bin` in a fresh process: whether the cache was used. */
function loads(bin: string): { cached: boolean } {
  const out = spawnSync(
    process.execPath,
    ['-e', `console.log(JSON.stringify({ cached: require(${JSON.stringify(bin)}).load().cached }))`],
    {
      encoding: 'utf8',
      timeout: 30_000,
    },
  )
  expect(out.stderr).toBe('')
  return JSON.parse(out.stdout) as { cached: boolean }
}

/** `mandate --version` through `bin`. */
function version(bin: string): { code: number | null; stdout: string; stderr: string } {
  const out = spawnSync(process.execPath, [bin, '--version'], { encoding: 'utf8', timeout: 30_000 })
  return { code: out.status, stdout: out.stdout, stderr: out.stderr }
}

describe('the built command', () => {
  it('is one strict ASCII script whose code cache this Node takes', () => {
    const script = readFileSync(join(root, 'dist/cli-bundle/mandate.cjs'))
    expect(script.every((byte) => byte < 0x80)).toBe(true)
    // It carries CommonJS's wrapper, compiled as read (no second copy of the text); its modules
    // are ES modules, which are strict: the directive must open the function's body to count.
    expect(script.toString('latin1')).toMatch(/^\(function \(exports, require, module, __filename, __dirname\) \{"use strict";/)
    expect(script.toString('latin1')).toMatch(/\n\}\)\n?$/)
    expect(statSync(join(root, 'dist/cli-bundle/mandate.cjs.cache')).size).toBeGreaterThan(32)
    expect(loads(join(root, 'bin/mandate.js'))).toEqual({ cached: true })
  })

  it('names the packages bundled into it with their licenses', () => {
    const notices = readFileSync(join(root, 'dist/cli-bundle/THIRD-PARTY-LICENSES.txt'), 'utf8')
    for (const name of ['commander', 'canonicalize', '@noble/ed25519', '@noble/hashes', '@scure/base', 'structured-headers']) {
      const { version: v } = JSON.parse(readFileSync(join(root, 'node_modules', name, 'package.json'), 'utf8'))
      expect(notices, name).toContain(`${name}@${v}\n`)
    }
    expect(notices).toContain('Permission is hereby granted')
  })
})

describe('a copy of the package whose cache does not fit', () => {
  let dir: string
  let bin: string
  let script: string
  beforeEach(() => {
    dir = scratch()
    for (const entry of ['package.json', 'bin']) cpSync(join(root, entry), join(dir, entry), { recursive: true })
    mkdirSync(join(dir, 'dist'))
    cpSync(join(root, 'dist/cli-bundle'), join(dir, 'dist/cli-bundle'), { recursive: true })
    bin = join(dir, 'bin/mandate.js')
    script = join(dir, 'dist/cli-bundle/mandate.cjs')
  })
  afterEach(() => rmSync(dir, { recursive: true, force: true }))

  it('uses the cache as built', () => {
    expect(loads(bin)).toEqual({ cached: true })
  })

  it('does not use it for a bundle changed in place, even at the same length (V8 checks only the length)', () => {
    const text = readFileSync(script, 'latin1')
    const at = text.indexOf('print the version')
    expect(at).toBeGreaterThan(0)
    writeFileSync(script, `${text.slice(0, at)}PRINT${text.slice(at + 5)}`, 'latin1')
    expect(readFileSync(script).length).toBe(Buffer.byteLength(text, 'latin1'))
    expect(loads(bin)).toEqual({ cached: false })
    const help = spawnSync(process.execPath, [bin, '--help'], { encoding: 'utf8', timeout: 30_000 })
    expect(help.stdout).toContain('PRINT the version')
  })

  it('does not use a damaged cache (V8 would run it, or crash), and runs', () => {
    const cache = `${script}.cache`
    const damaged = Buffer.from(readFileSync(cache))
    for (let i = 64 + 1000; i < 64 + 1016; i++) damaged[i] = (damaged[i] as number) ^ 0xff
    writeFileSync(cache, damaged)
    expect(loads(bin)).toEqual({ cached: false })
    expect(version(bin).code).toBe(0)
  })

  it("does not wait on a FIFO in the cache's place, nor read a file too large to be one", () => {
    const cache = `${script}.cache`
    rmSync(cache)
    expect(spawnSync('mkfifo', [cache]).status).toBe(0)
    expect(version(bin).code).toBe(0)
    rmSync(cache)
    writeFileSync(cache, Buffer.concat([readFileSync(join(root, 'dist/cli-bundle/mandate.cjs.cache')), Buffer.alloc(17 * 1024 * 1024)]))
    expect(loads(bin)).toEqual({ cached: false })
  })

  it('never reads a cache in a package installed under node_modules (published without one)', () => {
    const installed = join(dir, 'node_modules', 'mandate')
    mkdirSync(installed, { recursive: true })
    for (const entry of ['package.json', 'bin', 'dist']) cpSync(join(dir, entry), join(installed, entry), { recursive: true })
    expect(loads(join(installed, 'bin/mandate.js'))).toEqual({ cached: false })
    expect(version(join(installed, 'bin/mandate.js')).code).toBe(0)
  })

  it('compiles as usual without a cache, or with one V8 refuses (truncated)', () => {
    const cache = `${script}.cache`
    const whole = readFileSync(cache)
    writeFileSync(cache, whole.subarray(0, 64 + 64))
    expect(loads(bin)).toEqual({ cached: false })
    expect(version(bin)).toEqual({
      code: 0,
      stdout: `${JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).version}\n`,
      stderr: '',
    })
    rmSync(cache)
    expect(loads(bin)).toEqual({ cached: false })
    expect(version(bin).code).toBe(0)
  })
})

describe('a package a command needs, missing', () => {
  const failure = (code: string, message: string) => Object.assign(new Error(message), { code })

  it('is named by its package, from require and from import, a subpath or a scope', () => {
    expect(missingPackage(failure('MODULE_NOT_FOUND', "Cannot find module 'hono'\nRequire stack:\n- /x/mandate.cjs"))).toBe('hono')
    expect(missingPackage(failure('MODULE_NOT_FOUND', "Cannot find module 'hono/streaming'\nRequire stack:"))).toBe('hono')
    expect(missingPackage(failure('ERR_MODULE_NOT_FOUND', "Cannot find package '@hono/node-server' imported from /x/y.js"))).toBe(
      '@hono/node-server',
    )
    expect(missingPackage(failure('MODULE_NOT_FOUND', "Cannot find module '@modelcontextprotocol/sdk/client/index.js'"))).toBe(
      '@modelcontextprotocol/sdk',
    )
    const said = describeFailure(failure('MODULE_NOT_FOUND', "Cannot find module 'pino'"))
    expect(said).toMatchObject({ exit: 3, code: 'ERR_NOT_INSTALLED' })
    expect(said.message).toContain('needs the package pino')
    expect(said.hint).toContain('npm install -g mandate-cli')
  })

  it('is one of the optional peers the command loads, and no other package', () => {
    const { peerDependencies } = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {
      peerDependencies: Record<string, string>
    }
    // Express and Fastify: only a user's own app loads them; commander and canonicalize: bundled.
    const loaded = Object.keys(peerDependencies).filter((p) => !['express', 'fastify', 'commander', 'canonicalize'].includes(p))
    expect([...COMMAND_PEERS].sort()).toEqual(loaded.sort())
    // A peer's own dependency, missing: a broken install, said as it is.
    expect(missingPackage(failure('MODULE_NOT_FOUND', "Cannot find module 'sonic-boom'\nRequire stack:\n- /x/pino.js"))).toBeUndefined()
    expect(missingPackage(failure('MODULE_NOT_FOUND', "Cannot find module 'express'"))).toBeUndefined()
  })

  it('is not claimed for a missing file, a built-in, or another failure', () => {
    expect(missingPackage(failure('MODULE_NOT_FOUND', "Cannot find module './actions/serve.js'"))).toBeUndefined()
    expect(missingPackage(failure('ERR_MODULE_NOT_FOUND', "Cannot find module '/x/dist/cli/main.js' imported from /x/bin"))).toBeUndefined()
    expect(missingPackage(failure('MODULE_NOT_FOUND', "Cannot find module 'C:\\\\Users\\\\u\\\\x.js'"))).toBeUndefined()
    expect(missingPackage(failure('MODULE_NOT_FOUND', "Cannot find module 'file:///x/hono'"))).toBeUndefined()
    expect(missingPackage(failure('ERR_UNKNOWN_BUILTIN_MODULE', "No such built-in module: 'node:nope'"))).toBeUndefined()
    expect(missingPackage(failure('ENOENT', "Cannot find module 'hono'"))).toBeUndefined()
    expect(missingPackage(new Error("Cannot find module 'hono'"))).toBeUndefined()
    expect(missingPackage(undefined)).toBeUndefined()
    expect(describeFailure(failure('ENOENT', 'no such file')).code).toBe('ERR_INTERNAL')
  })
})
