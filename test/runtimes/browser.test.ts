/**
 * The library in a real browser: headless Chromium (Debian's `chromium`, driven by
 * playwright-core; no browser is downloaded) runs the probe from two builds of a page that
 * imports `mandate` and `mandate/http` as a user's app does — Vite's default production build and an esbuild
 * single-file browser bundle — served on loopback. Every conformance vector, scenario and
 * Ed25519 profile vector must agree, on the pure-JS backend, with no Node global in the page.
 *
 * Without Chromium this says so loudly and skips, except in CI (CI or MANDATE_REQUIRE_CHROMIUM
 * set, as .ci/run does), where it fails. MANDATE_CHROMIUM names another binary.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import { createServer, type Server } from 'node:http'
import { extname, join, normalize, sep } from 'node:path'
import { chromium } from 'playwright-core'
import { createLogger } from 'vite'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { CHROMIUM_ARGS, findChromium } from '../helpers/browser.js'
import {
  assertBuilt,
  type Bundled,
  esbuildProbe,
  libraryProblems,
  linkedProject,
  type Resolution,
  removeDir,
  tempDir,
  viteLibraryPlugin,
  writeProbeEntry,
} from '../helpers/runtime-build.js'
import { expectAgreement } from './probe/expect.js'

const { executablePath, available } = findChromium()

const TYPES: Record<string, string> = { '.html': 'text/html', '.js': 'text/javascript', '.css': 'text/css', '.json': 'application/json' }

/** Serves `root` read-only on a loopback port. */
async function serve(root: string): Promise<{ server: Server; url: string }> {
  const server = createServer((req, res) => {
    const path = normalize(join(root, decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname)))
    const file = path.endsWith(sep) ? join(path, 'index.html') : path
    if (!file.startsWith(root) || !existsSync(file)) {
      res.writeHead(404).end()
      return
    }
    res.writeHead(200, { 'content-type': TYPES[extname(file)] ?? 'application/octet-stream', 'cache-control': 'no-store' })
    res.end(readFileSync(file))
  })
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done))
  const { port } = server.address() as { port: number }
  return { server, url: `http://127.0.0.1:${port}/` }
}

const PAGE = [
  '<!doctype html>',
  '<meta charset="utf-8">',
  '<title>mandate in the browser</title>',
  '<link rel="icon" href="data:,">',
  '<script type="module" src="./main.js"></script>',
  '',
].join('\n')

/** Vite's default production build of the page; its warnings (but the size notice) are returned. */
async function viteBuild(project: string, outDir: string): Promise<Bundled & { warnings: string[] }> {
  const { build } = await import('vite')
  const warnings: string[] = []
  const logger = createLogger('warn', { allowClearScreen: false })
  const customLogger = {
    ...logger,
    warn: (msg: string) => {
      // The page inlines ~1 MB of vectors: the chunk size notice is expected.
      if (!/chunks are larger than/.test(msg)) warnings.push(msg)
    },
    warnOnce: (msg: string) => {
      warnings.push(msg)
    },
  }
  const resolved: Resolution[] = []
  const out = await build({
    root: project,
    configFile: false,
    logLevel: 'warn',
    customLogger,
    plugins: [viteLibraryPlugin(project, resolved)],
    build: { outDir, emptyOutDir: true },
  })
  const outputs = (Array.isArray(out) ? out : [out]).flatMap((o) => ('output' in o ? o.output : []))
  const modules = outputs.flatMap((c) => (c.type === 'chunk' ? c.moduleIds : []))
  // A chunk's imports are other chunks of the build or what was left external.
  const files = new Set(outputs.map((o) => o.fileName))
  const external = [...new Set(outputs.flatMap((c) => (c.type === 'chunk' ? [...c.imports, ...c.dynamicImports] : [])))].filter(
    (i) => !files.has(i),
  )
  return { modules, resolved, external, warnings }
}

describe.skipIf(!available)('in headless Chromium', () => {
  let project: string | undefined
  let profile: string | undefined
  const servers: Server[] = []
  let vite: Bundled & { warnings: string[] }
  let esbuild: Bundled
  const results: Record<string, unknown> = {}
  const pageErrors: Record<string, string[]> = {}

  beforeAll(async () => {
    assertBuilt()
    project = linkedProject('browser')
    writeProbeEntry(project, 'page', 'main.js')
    writeFileSync(join(project, 'index.html'), PAGE)
    const out = join(project, 'out')
    vite = await viteBuild(project, join(out, 'vite'))
    esbuild = await esbuildProbe({
      project,
      entry: join(project, 'main.js'),
      outfile: join(out, 'esbuild', 'main.js'),
      platform: 'browser',
      format: 'esm',
      library: 'bundle',
    })
    writeFileSync(join(out, 'esbuild', 'index.html'), PAGE)
    // Each build at the root of its own origin, as deployed (Vite's default base is `/`).
    const urls: Record<string, string> = {}
    for (const build of ['vite', 'esbuild']) {
      const { server, url } = await serve(join(out, build))
      servers.push(server)
      urls[build] = url
    }

    profile = tempDir('chromium-profile')
    const browser = await chromium.launchPersistentContext(profile, {
      executablePath,
      headless: true,
      args: ['--headless', ...CHROMIUM_ARGS, '--disable-sync'],
    })
    try {
      await Promise.all(
        ['vite', 'esbuild'].map(async (build) => {
          const page = await browser.newPage()
          const errors: string[] = []
          pageErrors[build] = errors
          page.on('pageerror', (e) => errors.push(String(e)))
          page.on('console', (m) => {
            if (m.type() === 'error') errors.push(m.text())
          })
          await page.goto(urls[build] as string)
          try {
            const handle = await page.waitForFunction(() => (globalThis as { __result?: unknown }).__result, undefined, { timeout: 60_000 })
            results[build] = await handle.jsonValue()
          } catch (e) {
            throw new Error(`${build}: the page gave no result (${String(e)}); page errors: ${JSON.stringify(errors)}`)
          }
        }),
      )
    } finally {
      await browser.close()
    }
  }, 120_000)

  afterAll(async () => {
    for (const server of servers) await new Promise((done) => server.close(done))
    removeDir(project)
    removeDir(profile)
  })

  it('Vite resolves `mandate` and `mandate/http` to the isomorphic entries and bundles nothing Node-only, without warnings', () => {
    expect(libraryProblems(vite)).toEqual([])
    expect(vite.warnings).toEqual([])
  })

  it('esbuild --bundle --platform=browser makes one file from the isomorphic entries', () => {
    expect(libraryProblems(esbuild)).toEqual([])
  })

  for (const build of ['vite', 'esbuild']) {
    it(`${build} build: every vector agrees in the page, on the noble backend, with no Node globals`, () => {
      const r = expectAgreement(results[build], 'noble')
      expect(r.backends).toEqual(['noble'])
      expect(r.globals).toEqual({ Buffer: false, process: false })
      expect(pageErrors[build]).toEqual([])
    })
  }
})
