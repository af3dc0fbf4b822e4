/**
 * What a user pays for the library: bundle size in a browser, and what `npm install` brings.
 *
 *     npm run size            (builds dist/ first; needs the npm registry)
 *     npm run size -- --check (exit 1 if a target is missed)
 *
 * Bundles: esbuild --bundle --minify --platform=browser --format=esm of an entry that imports
 * from `mandate` as an app does (a temporary project whose node_modules/mandate links to this
 * checkout, so package.json `exports` pick the browser entry), gzipped at level 9:
 *   verify only — createVerifier, createMemoryRevocationView, parseMandate (target ≤ 35 KB);
 *   whole entry — everything the main entry exports.
 * Install: `npm pack` of this checkout, `npm install` of that tarball into an empty project;
 * the packages installed (mandate included; target ≤ 10), their size on disk, and any with an
 * install script or a binding.gyp (a native build; target none).
 */
import { spawnSync } from 'node:child_process'
import { existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { gzipSync } from 'node:zlib'
import { build } from 'esbuild'
import { linkedProject, removeDir, repo, tempDir } from '../test/helpers/runtime-build.js'

const TARGET_VERIFY_GZIP = 35 * 1024
const TARGET_PACKAGES = 10
const check = process.argv.includes('--check')
const KB = (n: number) => `${(n / 1024).toFixed(1)} KB`
const MB = (n: number) => `${(n / 1024 / 1024).toFixed(2)} MB`

interface BundleSize {
  readonly minified: number
  readonly gzip: number
  /** Minified bytes by package (`mandate` for the library's own files). */
  readonly parts: [string, number][]
}

async function bundle(project: string, name: string, source: string): Promise<BundleSize> {
  const entry = join(project, `${name}.js`)
  writeFileSync(entry, source)
  const result = await build({
    entryPoints: [entry],
    bundle: true,
    minify: true,
    platform: 'browser',
    format: 'esm',
    write: false,
    metafile: true,
    outdir: join(project, 'out'),
    absWorkingDir: project,
    logLevel: 'error',
  })
  const code = result.outputFiles[0]?.contents ?? new Uint8Array(0)
  const parts = new Map<string, number>()
  for (const output of Object.values(result.metafile.outputs)) {
    for (const [path, { bytesInOutput }] of Object.entries(output.inputs)) {
      const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(path)?.[1] ?? (path.includes('/dist/') ? 'mandate' : 'entry')
      parts.set(pkg, (parts.get(pkg) ?? 0) + bytesInOutput)
    }
  }
  return { minified: code.length, gzip: gzipSync(code, { level: 9 }).length, parts: [...parts].sort((a, b) => b[1] - a[1]) }
}

function sh(command: string, args: string[], cwd: string): string {
  const out = spawnSync(command, args, { cwd, encoding: 'utf8', timeout: 300_000 })
  if (out.status !== 0) throw new Error(`${command} ${args.join(' ')} failed (${out.status ?? out.signal}):\n${out.stderr}`)
  return out.stdout
}

/** Bytes on disk under `dir` (files' sizes), not counting nested node_modules. */
function sizeOf(dir: string): number {
  let total = 0
  for (const entry of readdirSync(dir)) {
    if (entry === 'node_modules') continue
    const path = join(dir, entry)
    const stat = lstatSync(path)
    total += stat.isDirectory() ? sizeOf(path) : stat.size
  }
  return total
}

interface Installed {
  readonly name: string
  readonly version: string
  readonly size: number
  /** Install-time work npm will do: lifecycle scripts, or node-gyp for a binding.gyp. */
  readonly native: string[]
}

function install(): { packages: Installed[]; total: number } {
  const dir = tempDir('size-install')
  try {
    const packed = JSON.parse(sh('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', dir], repo)) as { filename: string }[]
    const tarball = join(dir, packed[0]?.filename ?? '')
    const app = join(dir, 'app')
    mkdirSync(app)
    writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'size-app', version: '1.0.0', private: true }))
    sh('npm', ['install', tarball, '--no-audit', '--no-fund', '--loglevel=error'], app)
    const lock = JSON.parse(readFileSync(join(app, 'package-lock.json'), 'utf8')) as { packages: Record<string, { version?: string }> }
    const packages: Installed[] = []
    for (const [path, meta] of Object.entries(lock.packages)) {
      if (path === '') continue
      const where = join(app, path)
      if (!existsSync(where)) continue // an optional dependency for another platform
      const manifest = JSON.parse(readFileSync(join(where, 'package.json'), 'utf8')) as {
        name: string
        scripts?: Record<string, string>
        gypfile?: boolean
      }
      const native = ['preinstall', 'install', 'postinstall'].flatMap((s) =>
        manifest.scripts?.[s] ? [`${s}: ${manifest.scripts[s]}`] : [],
      )
      if (existsSync(join(where, 'binding.gyp')) || manifest.gypfile) native.push('binding.gyp')
      packages.push({ name: manifest.name, version: meta.version ?? '?', size: sizeOf(where), native })
    }
    return { packages, total: packages.reduce((n, p) => n + p.size, 0) }
  } finally {
    removeDir(dir)
  }
}

const project = linkedProject('size')
let verify: BundleSize
let whole: BundleSize
try {
  verify = await bundle(project, 'verify', `export { createMemoryRevocationView, createVerifier, parseMandate } from 'mandate'\n`)
  whole = await bundle(project, 'whole', `export * from 'mandate'\n`)
} finally {
  removeDir(project)
}
const { packages, total } = install()

const missed: string[] = []
const verdict = (ok: boolean, what: string) => {
  if (!ok) missed.push(what)
  return ok ? 'ok' : 'MISSED'
}
const rows: string[][] = [
  ['', 'measured', 'target', ''],
  [
    'browser bundle, verify only (gzip)',
    KB(verify.gzip),
    `≤ ${KB(TARGET_VERIFY_GZIP)}`,
    verdict(verify.gzip <= TARGET_VERIFY_GZIP, 'verify-only bundle size'),
  ],
  ['browser bundle, whole main entry (gzip)', KB(whole.gzip), '', ''],
  [
    'packages installed (mandate included)',
    String(packages.length),
    `≤ ${TARGET_PACKAGES}`,
    verdict(packages.length <= TARGET_PACKAGES, 'package count'),
  ],
  ['installed size on disk', MB(total), '', ''],
  [
    'install scripts or binding.gyp',
    String(packages.filter((p) => p.native.length > 0).length),
    'none',
    verdict(
      packages.every((p) => p.native.length === 0),
      'no install-time build',
    ),
  ],
]
const table = (lines: string[][]) => {
  const widths = lines[0]?.map((_, i) => Math.max(...lines.map((l) => (l[i] ?? '').length))) ?? []
  for (const l of lines) console.log(`  ${l.map((c, i) => c.padEnd(widths[i] ?? 0)).join('  ')}`.trimEnd())
}

console.log('mandate: bundle size (esbuild --bundle --minify --platform=browser, gzip -9; KB = 1,024 bytes)')
console.log('and install footprint (npm install of `npm pack` into an empty project)\n')
table(rows)
console.log('\nverify-only bundle by package (minified, before gzip):')
table(verify.parts.map(([name, bytes]) => [name, KB(bytes)]))
console.log('\ninstalled packages:')
table([
  ['package', 'version', 'size', 'install-time build'],
  ...packages.map((p) => [p.name, p.version, KB(p.size), p.native.join('; ') || '-']),
])
if (missed.length > 0) {
  console.log(`\ntargets missed: ${missed.join(', ')}`)
  if (check) process.exitCode = 1
}
