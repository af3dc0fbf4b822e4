/**
 * What test/runtimes and bench/size.ts build: temporary consumer projects that depend on this
 * package the way a user's project does, and bundles of `test/runtimes/probe/probe.ts` made the
 * way users make them (esbuild, Vite). In every bundle the library comes from the package
 * `mandate` — dist/, chosen through package.json `exports` with the bundler's or runtime's own
 * conditions — never from src/: the probe's and the vector runners' `../src/index.js` imports
 * are redirected to `mandate`, and the probe's `../src/http.js` to `mandate/http` (or left
 * external, for runtimes that resolve the package themselves).
 *
 * Needs `npm run build` first (the suite's `npm test` builds before vitest).
 */
import { spawn } from 'node:child_process'
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join, relative, resolve } from 'node:path'
import type { Plugin as EsbuildPlugin, Platform } from 'esbuild'
import type { Plugin as VitePlugin } from 'vite'

export const repo = resolve(import.meta.dirname, '../..')
const pkg = JSON.parse(readFileSync(join(repo, 'package.json'), 'utf8')) as { dependencies: Record<string, string> }

/**
 * The public entries a probe may import from src/, by the package specifier that replaces them
 * and the file the `default` condition (a browser's, a Worker's) resolves that specifier to.
 * Only isomorphic entries: never `mandate/node`, `mandate/service` or an `http/*` adapter.
 */
const ENTRIES = [
  { src: 'src/index', specifier: 'mandate', dist: 'dist/index.js' },
  { src: 'src/http', specifier: 'mandate/http', dist: 'dist/http.js' },
] as const
type Specifier = (typeof ENTRIES)[number]['specifier']
const SRC_ENTRY = new Map<string, Specifier>(
  ENTRIES.flatMap((e) => [`${e.src}.js`, `${e.src}.ts`].map((f) => [join(repo, f), e.specifier] as const)),
)
/** The import texts that may name an entry (`../../../src/http.js`); the plugins check the path. */
const ENTRY_FILTER = /src\/(?:index|http)\.js$/
/** The one src/ module a probe bundle may hold: the hex and UTF-8 helpers the vector readers use. */
const SRC_ALLOWED = new Set([join(repo, 'src/internal/bytes.ts')])
/** Modules that only Node's entries may load: a browser or Worker bundle holding one is broken. */
const NODE_ONLY = [
  'dist/index.node.js',
  'dist/node.js',
  'dist/service.js',
  'dist/cli.js',
  'dist/crypto/use-node.js',
  'dist/crypto/backend-node.js',
  // The Node framework adapters: they take Node's request objects (and their frameworks).
  'dist/http/express.js',
  'dist/http/fastify.js',
]

/** Throws unless dist/ has been built. */
export function assertBuilt(): void {
  if (!existsSync(join(repo, 'dist/index.js'))) throw new Error('dist/ is missing: run `npm run build` first (npm test does)')
}

export function tempDir(prefix: string): string {
  return mkdtempSync(join(tmpdir(), `mandate-${prefix}-`))
}

export function removeDir(dir: string | undefined): void {
  if (dir) rmSync(dir, { recursive: true, force: true })
}

function project(prefix: string, type: 'module' | 'commonjs'): string {
  const dir = tempDir(prefix)
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: `consumer-${prefix}`, private: true, type }, null, 2))
  mkdirSync(join(dir, 'node_modules'))
  return dir
}

/**
 * A project whose node_modules/mandate is a symlink to this checkout (as `npm link` makes):
 * bundlers resolve through the package's `exports`; its dependencies (and, in a checkout, the
 * optional peers) resolve from the checkout's node_modules.
 */
export function linkedProject(prefix: string, type: 'module' | 'commonjs' = 'module'): string {
  const dir = project(prefix, type)
  symlinkSync(repo, join(dir, 'node_modules/mandate'), 'dir')
  return dir
}

/**
 * A project that installed only `mandate`: a copy of the package's files and its own
 * dependencies, none of the optional peers (hono, pino, SQLite, …), so anything that reaches
 * for one fails to resolve.
 */
export function installedProject(prefix: string, type: 'module' | 'commonjs' = 'module'): string {
  const dir = project(prefix, type)
  const modules = join(dir, 'node_modules')
  const own = join(modules, 'mandate')
  mkdirSync(own)
  for (const entry of ['package.json', 'dist', 'bin', 'LICENSE']) {
    if (existsSync(join(repo, entry))) cpSync(join(repo, entry), join(own, entry), { recursive: true })
  }
  for (const name of Object.keys(pkg.dependencies)) {
    const target = join(modules, name)
    mkdirSync(dirname(target), { recursive: true })
    symlinkSync(join(repo, 'node_modules', name), target, 'dir')
  }
  return dir
}

/** How the probe's result leaves the runtime. */
export type EntryKind = 'page' | 'worker' | 'script'

/**
 * Writes `name` (a small JavaScript entry) into `dir`: it imports the probe and the vector files
 * (bundlers inline them) and hands the result to the page (`globalThis.__result`), to a fetch
 * (a Worker's JSON response) or to stdout (one line of JSON).
 */
export function writeProbeEntry(dir: string, kind: EntryKind, name = 'entry.js'): string {
  const path = (p: string) => JSON.stringify(join(repo, p))
  const files = ['expected-strict-profile.json', 'cctv_ed25519.json', 'speccheck_cases.json', 'zip215.json', 'wycheproof_ed25519.json']
  const lines = [
    `import { probe } from ${path('test/runtimes/probe/probe.ts')}`,
    `import vectors from ${path('test-vectors/v1/vectors.json')}`,
    `import scenarios from ${path('test-vectors/v1/scenarios.json')}`,
    ...files.map((f, i) => `import ed${i} from ${path(`test-vectors/ed25519/${f}`)}`),
    `const input = { vectors, scenarios, ed25519: { ${files.map((f, i) => `${JSON.stringify(f)}: ed${i}`).join(', ')} } }`,
  ]
  if (kind === 'page') {
    lines.push(
      'probe(input).then(',
      '  (r) => { globalThis.__result = r },',
      '  (e) => { globalThis.__result = { fatal: String((e && e.stack) || e) } },',
      ')',
    )
  } else if (kind === 'worker') {
    lines.push(
      'export default {',
      '  async fetch() {',
      '    try { return Response.json(await probe(input)) }',
      '    catch (e) { return new Response(String((e && e.stack) || e), { status: 500 }) }',
      '  },',
      '}',
    )
  } else {
    // A rejection is left unhandled: every runtime then prints it and exits non-zero.
    lines.push('probe(input).then((r) => console.log(JSON.stringify(r)))')
  }
  const file = join(dir, name)
  writeFileSync(file, `${lines.join('\n')}\n`)
  return file
}

/**
 * The package specifier that replaces this import, from `fromDir`, when it names one of the
 * library's public entries in src/ (`../src/index.js` → `mandate`, `../src/http.js` →
 * `mandate/http`); undefined for any other import.
 */
function srcEntry(fromDir: string, specifier: string): Specifier | undefined {
  return specifier.startsWith('.') ? SRC_ENTRY.get(resolve(fromDir, specifier)) : undefined
}

/** What a library import resolved to in a bundle. */
export interface Resolution {
  readonly specifier: Specifier
  /** Absolute path (or the bundler's id) of the module it resolved to. */
  readonly path: string
}

/**
 * esbuild: `../src/index.js` becomes the package `mandate` and `../src/http.js` becomes
 * `mandate/http`, resolved from `project` (its node_modules, its conditions) when bundled, or
 * left as external imports for the runtime to resolve.
 */
export function esbuildLibraryPlugin(project: string, mode: 'bundle' | 'external', resolved: Resolution[] = []): EsbuildPlugin {
  return {
    name: 'mandate-from-package',
    setup(build) {
      build.onResolve({ filter: ENTRY_FILTER }, async (args) => {
        const specifier = srcEntry(args.resolveDir, args.path)
        if (specifier === undefined) return undefined
        if (mode === 'external') return { path: specifier, external: true }
        const r = await build.resolve(specifier, { kind: args.kind, resolveDir: project })
        if (r.errors.length > 0) return { errors: r.errors }
        resolved.push({ specifier, path: r.path })
        return { path: r.path, namespace: r.namespace, sideEffects: r.sideEffects }
      })
    },
  }
}

/**
 * Vite (Rolldown): the same redirection, resolving `mandate` and `mandate/http` as if imported
 * from the project; what each resolved to is pushed onto `resolved`.
 */
export function viteLibraryPlugin(project: string, resolved: Resolution[] = []): VitePlugin {
  return {
    name: 'mandate-from-package',
    enforce: 'pre',
    async resolveId(source, importer, options) {
      const specifier = importer === undefined ? undefined : srcEntry(dirname(importer), source)
      if (specifier === undefined) return null
      const r = await this.resolve(specifier, join(project, 'index.html'), { ...options, skipSelf: true })
      // Unresolved, it is recorded too, so that libraryProblems names it.
      resolved.push({ specifier, path: r?.id ?? '(unresolved)' })
      return r
    },
  }
}

export interface EsbuildProbeOptions {
  readonly project: string
  readonly entry: string
  readonly outfile: string
  readonly platform: Platform
  readonly format: 'esm' | 'cjs'
  readonly conditions?: string[]
  readonly mainFields?: string[]
  /** `external`: leave `mandate` to the runtime. */
  readonly library: 'bundle' | 'external'
}

export interface Bundled {
  /** Absolute paths of the modules the bundle holds. */
  readonly modules: string[]
  /** What `mandate` and `mandate/http` resolved to (empty when left external). */
  readonly resolved: Resolution[]
  /** What the bundle still imports at run time (`node:crypto`, or the library left external). */
  readonly external: string[]
}

/** A single-file bundle of a probe entry. */
export async function esbuildProbe(o: EsbuildProbeOptions): Promise<Bundled> {
  const { build } = await import('esbuild')
  const resolved: Resolution[] = []
  const result = await build({
    entryPoints: [o.entry],
    outfile: o.outfile,
    bundle: true,
    platform: o.platform,
    format: o.format,
    absWorkingDir: o.project,
    metafile: true,
    logLevel: 'silent',
    plugins: [esbuildLibraryPlugin(o.project, o.library, resolved)],
    ...(o.conditions ? { conditions: o.conditions } : {}),
    ...(o.mainFields ? { mainFields: o.mainFields } : {}),
  })
  const modules = Object.keys(result.metafile.inputs).map((p) => resolve(o.project, p.replace(/^[a-z-]+:/, '')))
  const external = Object.values(result.metafile.outputs).flatMap((out) => out.imports.filter((i) => i.external).map((i) => i.path))
  return { modules, resolved, external: [...new Set(external)] }
}

/**
 * What is wrong with a bundle that should hold the library as a browser or Worker gets it:
 * `mandate` or `mandate/http` never resolved, or resolved to anything but dist/index.js and
 * dist/http.js (the `default` condition), library code from src/ instead of dist/, a Node-only
 * module in it, or anything left to import at run time (`node:*`: a browser has none).
 */
export function libraryProblems({ modules, resolved, external }: Bundled): string[] {
  const problems: string[] = []
  for (const { specifier, dist } of ENTRIES) {
    const mine = resolved.filter((r) => r.specifier === specifier)
    if (mine.length === 0) problems.push(`never resolved \`${specifier}\``)
    for (const r of mine) if (r.path !== join(repo, dist)) problems.push(`\`${specifier}\` resolved to ${r.path}, not ${dist}`)
  }
  for (const e of external) problems.push(`imports ${e} at run time`)
  const files = new Set(modules.map((m) => m.split('?')[0] as string))
  for (const f of files) {
    if (f.startsWith(join(repo, 'src/')) && !SRC_ALLOWED.has(f)) problems.push(`bundles ${relative(repo, f)} from src/, not the package`)
  }
  for (const f of NODE_ONLY) if (files.has(join(repo, f))) problems.push(`bundles the Node-only ${f}`)
  for (const f of files) if (/(?:^|[^\w-])node:|__vite-browser-external/.test(f)) problems.push(`bundles ${f}, a Node built-in`)
  return problems
}

export interface Run {
  readonly status: number | null
  readonly signal: NodeJS.Signals | null
  readonly stdout: string
  readonly stderr: string
}

/** Runs a command to completion without blocking the event loop; kills it after `timeout` ms. */
export function run(
  command: string,
  args: readonly string[],
  options: { cwd: string; env?: NodeJS.ProcessEnv; timeout?: number; input?: string },
): Promise<Run> {
  return new Promise((done, fail) => {
    const child = spawn(command, args, { cwd: options.cwd, env: options.env ?? process.env, stdio: ['pipe', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      stdout += d
    })
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      stderr += d
    })
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeout ?? 60_000)
    child.on('error', (e) => {
      clearTimeout(timer)
      fail(e)
    })
    child.on('close', (status, signal) => {
      clearTimeout(timer)
      done({ status, signal, stdout, stderr })
    })
    child.stdin.end(options.input ?? '')
  })
}

/** The last line of stdout, parsed: what a `script` probe printed. */
export function lastJsonLine<T>(out: Run): T {
  const line = out.stdout.trim().split('\n').pop() ?? ''
  try {
    return JSON.parse(line) as T
  } catch {
    throw new Error(
      `no JSON result (exit ${out.status}, signal ${out.signal})\nstdout: ${out.stdout.slice(-2000)}\nstderr: ${out.stderr.slice(-4000)}`,
    )
  }
}

/** A path inside the checkout's node_modules/.bin. */
export function bin(name: string): string {
  return join(repo, 'node_modules/.bin', name)
}
