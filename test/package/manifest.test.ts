/**
 * The package as a user installs it: a library install gets only the library's dependencies,
 * the CLI and service dependencies are optional peers that `mandate-cli` brings, and a
 * library-only install still imports every isomorphic and Node entry that needs no peer.
 */
import { spawnSync } from 'node:child_process'
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'

const root = resolve(import.meta.dirname, '../..')
const read = (path: string) => JSON.parse(readFileSync(join(root, path), 'utf8'))
const pkg = read('package.json')
const cli = read('packages/cli/package.json')

describe('package.json', () => {
  it('declares the CLI and service dependencies as optional peers, pinned as in development', () => {
    const peers = Object.keys(pkg.peerDependencies)
    expect(peers.length).toBeGreaterThan(0)
    for (const name of peers) {
      expect(pkg.peerDependenciesMeta[name], name).toEqual({ optional: true })
      expect(pkg.devDependencies[name], name).toBe(pkg.peerDependencies[name])
      expect(pkg.dependencies[name], name).toBeUndefined()
    }
  })

  it('keeps the library dependencies few and exactly pinned', () => {
    const deps = Object.entries<string>(pkg.dependencies)
    expect(deps.length).toBeLessThanOrEqual(5)
    for (const [name, version] of deps) expect(version, name).toMatch(/^\d+\.\d+\.\d+$/)
  })

  it('mandate-cli depends on exactly the library at this version and every peer it runs on', () => {
    // Express and Fastify are peers only for a user's own app (mandate/http/express, …/fastify):
    // the CLI and the service never load them, so mandate-cli does not install them.
    const { express: _express, fastify: _fastify, ...runs } = pkg.peerDependencies
    expect(cli.version).toBe(pkg.version)
    expect(cli.dependencies).toEqual({ ...runs, mandate: pkg.version })
    expect(cli.bin).toEqual({ mandate: 'bin.cjs' })
  })

  it('ships a LICENSE and no source maps pointing at unshipped files', () => {
    expect(pkg.files).toContain('LICENSE')
    expect(readFileSync(join(root, 'LICENSE'), 'utf8')).toContain('Apache License')
    const build = read('tsconfig.build.json').compilerOptions
    expect(build.sourceMap).toBe(false)
    expect(build.declarationMap).toBe(false)
  })

  it('packs the command as one script with its licenses, and no V8 code cache (bytecode no one can review)', () => {
    // The cache differs from build to build, so a published one could not be checked against the
    // script it claims to be; a checkout makes its own (`npm run build`).
    const out = spawnSync('npm', ['pack', '--dry-run', '--ignore-scripts', '--json'], { cwd: root, encoding: 'utf8', timeout: 60_000 })
    expect(out.status).toBe(0)
    const files = (JSON.parse(out.stdout) as { files: { path: string }[] }[])[0]?.files.map((f) => f.path) ?? []
    expect(files.filter((f) => f.startsWith('bin/') || f.startsWith('dist/cli-bundle/')).sort()).toEqual([
      'bin/mandate.js',
      'bin/package.json',
      'dist/cli-bundle/THIRD-PARTY-LICENSES.txt',
      'dist/cli-bundle/mandate.cjs',
    ])
    expect(existsSync(join(root, 'dist/cli-bundle/mandate.cjs.cache'))).toBe(true)
  })

  it('every export target exists after the build', () => {
    for (const [entry, target] of Object.entries<Record<string, string> | string>(pkg.exports)) {
      const files = typeof target === 'string' ? [target] : Object.values(target)
      for (const file of files) expect(existsSync(join(root, file)), `${entry} → ${file}`).toBe(true)
    }
  })
})

/** A fresh project directory with the package's files in node_modules/mandate, as npm installs them. */
function installedLibrary(prefix: string): string {
  const app = mkdtempSync(join(tmpdir(), prefix))
  const own = join(app, 'node_modules', 'mandate')
  mkdirSync(own, { recursive: true })
  for (const entry of ['package.json', 'dist', 'bin']) cpSync(join(root, entry), join(own, entry), { recursive: true })
  return app
}

// A project that installed only `mandate`: the package's files and its own dependencies, no peer.
describe('a library-only install', () => {
  let app: string
  const node = (code: string) =>
    spawnSync(process.execPath, ['--input-type=module', '-e', code], { cwd: app, encoding: 'utf8', timeout: 30_000 })

  beforeAll(() => {
    app = installedLibrary('mandate-install-')
    const modules = join(app, 'node_modules')
    for (const name of Object.keys(pkg.dependencies)) {
      const target = join(modules, name)
      mkdirSync(join(target, '..'), { recursive: true })
      symlinkSync(join(root, 'node_modules', name), target, 'dir')
    }
  })
  afterAll(() => rmSync(app, { recursive: true, force: true }))

  it('imports the main entry with the node:crypto backend, and mandate/node', () => {
    const out = node(`
      import { availableBackends, getBackend } from 'mandate'
      import { fileFeedState } from 'mandate/node'
      console.log(JSON.stringify([getBackend().name, availableBackends(), typeof fileFeedState]))`)
    expect(out.stderr).toBe('')
    expect(JSON.parse(out.stdout)).toEqual(['node', ['node', 'noble'], 'function'])
  })

  it('require("mandate") works from CommonJS', () => {
    const out = spawnSync(
      process.execPath,
      ['-e', `const m = require('mandate'); console.log(typeof m.createVerifier, m.getBackend().name)`],
      {
        cwd: app,
        encoding: 'utf8',
        timeout: 30_000,
      },
    )
    expect(out.stdout.trim()).toBe('function node')
  })

  it('the mandate command runs what needs no peer, and names the package a command needs, exit 3', () => {
    const bin = join(app, 'node_modules/mandate/bin/mandate.js')
    const run = (...args: string[]) => spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', timeout: 30_000 })
    const version = run('--version')
    expect(version.stderr).toBe('')
    expect(version.stdout).toBe(`${pkg.version}\n`)
    expect(version.status).toBe(0)
    const key = join(app, 'alice.pem')
    const keygen = run('keygen', '-o', key)
    expect(keygen.status).toBe(0)
    expect(keygen.stdout).toMatch(/^did:key:z6Mk\w+\n$/)

    const serve = run('serve', '--port', '0', '--root', `alice=${keygen.stdout.trim()}`, '--db', join(app, 'm.db'))
    expect(serve.status).toBe(3)
    expect(serve.stdout).toBe('')
    expect(serve.stderr).toMatch(
      /^mandate: error: this command needs the package (hono|@hono\/node-server|pino|prom-client|better-sqlite3|pg), which is not installed \(this copy of mandate comes with the library alone\) \(ERR_NOT_INSTALLED\)\nmandate: hint: install the command with `npm install -g mandate-cli` .*, or the package alone next to mandate: `npm install \1`\n$/,
    )
    const json = run('--json', 'demo')
    expect(json.status).toBe(3)
    expect(JSON.parse(json.stdout).error.code).toBe('ERR_NOT_INSTALLED')
  })

  it('a checkout that was not built says so, exit 3', () => {
    const bare = mkdtempSync(join(tmpdir(), 'mandate-unbuilt-'))
    try {
      cpSync(join(root, 'bin'), join(bare, 'bin'), { recursive: true })
      cpSync(join(root, 'package.json'), join(bare, 'package.json'))
      const out = spawnSync(process.execPath, [join(bare, 'bin/mandate.js'), '--version'], { encoding: 'utf8', timeout: 30_000 })
      expect(out.status).toBe(3)
      expect(out.stderr).toBe('mandate: error: the command is not built yet.\nmandate: hint: run `npm run build` in this checkout\n')
    } finally {
      rmSync(bare, { recursive: true, force: true })
    }
  })

  it('mandate/service fails to load, naming the missing peer, instead of loading half a service', () => {
    const out = node(`import('mandate/service').then(() => console.log('loaded'), (e) => console.log(e.code, e.message))`)
    expect(out.stdout).toMatch(/^ERR_MODULE_NOT_FOUND Cannot find package '(hono|@hono\/node-server|pino|prom-client|better-sqlite3|pg)'/)
  })
})

// `npm install -g mandate-cli`: the library, mandate-cli and every peer it depends on, side by side.
describe('an install of mandate-cli', () => {
  let app: string
  beforeAll(() => {
    app = installedLibrary('mandate-cli-install-')
    const modules = join(app, 'node_modules')
    cpSync(join(root, 'packages/cli'), join(modules, 'mandate-cli'), { recursive: true })
    // The packages the two need, and what those need in turn (npm would hoist them the same way).
    for (const name of readdirSync(join(root, 'node_modules'))) {
      if (name === '.bin' || name.startsWith('.')) continue
      symlinkSync(join(root, 'node_modules', name), join(modules, name), 'dir')
    }
  })
  afterAll(() => rmSync(app, { recursive: true, force: true }))

  it("its mandate runs the library's bundled command, peers included (the demo, end to end)", () => {
    const bin = join(app, 'node_modules/mandate-cli', cli.bin.mandate)
    const version = spawnSync(process.execPath, [bin, '--version'], { encoding: 'utf8', timeout: 30_000 })
    expect(version.stdout).toBe(`${pkg.version}\n`)
    const demo = spawnSync(process.execPath, [bin, '--json', 'demo'], { cwd: app, encoding: 'utf8', timeout: 60_000 })
    expect(demo.stderr).toBe('')
    expect(demo.status).toBe(0)
    const { rows } = JSON.parse(demo.stdout) as { rows: { action: string; decision: string }[] }
    expect(rows.at(-1)).toMatchObject({ action: 'the audit trail', decision: 'INTACT' })
  })
})
