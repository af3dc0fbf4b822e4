/**
 * The package under Node as users load it, in child processes of a project that installed only
 * `mandate` (the package's files and its own dependencies; none of the optional peers): ESM
 * `import` and CommonJS `require` both get the `node` export condition (node:crypto backend),
 * run every vector, and print nothing on stderr; `mandate` and `mandate/node` load nothing of
 * the service, even where the peers are installed.
 */
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  assertBuilt,
  esbuildProbe,
  installedProject,
  lastJsonLine,
  linkedProject,
  removeDir,
  repo,
  run,
  writeProbeEntry,
} from '../helpers/runtime-build.js'
import { expectAgreement } from './probe/expect.js'
import type { ProbeResult } from './probe/probe.js'

const node = (cwd: string, args: string[]) => run(process.execPath, args, { cwd, timeout: 60_000 })

/** Packages the library itself depends on: all that loading it may touch. */
const OWN = Object.keys(JSON.parse(readFileSync(join(repo, 'package.json'), 'utf8')).dependencies as Record<string, string>)

// Logs every module URL the ESM loader resolves (off-thread, so to a file).
const HOOKS = `import { appendFileSync } from 'node:fs'
let log
export function initialize(data) { log = data.log }
export async function resolve(specifier, context, next) {
  const r = await next(specifier, context)
  appendFileSync(log, r.url + '\\n')
  return r
}
`
const REGISTER = `import { register } from 'node:module'
register('./hooks.mjs', import.meta.url, { data: { log: process.env.RESOLVE_LOG } })
`

describe('in Node.js, from a project that installed only mandate', () => {
  let installed: string | undefined
  let linked: string | undefined

  beforeAll(async () => {
    assertBuilt()
    installed = installedProject('node')
    linked = linkedProject('node-linked')
    const entry = writeProbeEntry(installed, 'script')
    for (const format of ['esm', 'cjs'] as const) {
      const outfile = join(installed, format === 'esm' ? 'probe.mjs' : 'probe.cjs')
      await esbuildProbe({ project: installed, entry, outfile, platform: 'node', format, library: 'external' })
    }
    writeFileSync(join(linked, 'hooks.mjs'), HOOKS)
    writeFileSync(join(linked, 'register.mjs'), REGISTER)
  }, 60_000)

  afterAll(() => {
    removeDir(installed)
    removeDir(linked)
  })

  for (const [style, file] of [
    ['ESM import', 'probe.mjs'],
    ['CommonJS require', 'probe.cjs'],
  ] as const) {
    it(`${style}: every vector agrees on both backends, node:crypto the default, nothing on stderr`, async () => {
      const out = await node(installed as string, [file])
      expect(out.stderr).toBe('')
      expect(out.status).toBe(0)
      const r = expectAgreement(lastJsonLine<ProbeResult>(out), 'node')
      expect(r.backends).toEqual(['node', 'noble'])
    })
  }

  it('CommonJS and ESM share one instance of the library (no dual-package hazard)', async () => {
    const out = await node(installed as string, [
      '-e',
      `const cjs = require('mandate')
       import('mandate').then((esm) => console.log(JSON.stringify({
         same: cjs.createVerifier === esm.createVerifier && cjs.MandateError === esm.MandateError,
         backend: cjs.getBackend().name,
         node: typeof require('mandate/node').fileFeedState,
       })))`,
    ])
    expect(out.stderr).toBe('')
    expect(lastJsonLine(out)).toEqual({ same: true, backend: 'node', node: 'function' })
  })

  it('an explicit backend choice wins over the one the Node entries install', async () => {
    const out = await node(installed as string, [
      '--input-type=module',
      '-e',
      `import { getBackend, setDefaultBackend } from 'mandate'
       setDefaultBackend('noble')
       await import('mandate/node')
       console.log(JSON.stringify(getBackend().name))`,
    ])
    expect(out.stderr).toBe('')
    expect(lastJsonLine(out)).toBe('noble')
  })

  for (const entry of ['mandate', 'mandate/node']) {
    it(`import '${entry}' resolves only the library's own dependencies, though the peers are installed`, async () => {
      const log = join(linked as string, `resolved-${entry.replace('/', '-')}.log`)
      writeFileSync(log, '')
      const out = await run(process.execPath, ['--import', './register.mjs', '--input-type=module', '-e', `import '${entry}'`], {
        cwd: linked as string,
        env: { ...process.env, RESOLVE_LOG: log },
      })
      expect(out.stderr).toBe('')
      const urls = readFileSync(log, 'utf8').trim().split('\n')
      const packages = new Set(urls.flatMap((u) => /\/node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(u)?.[1] ?? []))
      expect([...packages].filter((p) => !OWN.includes(p))).toEqual([])
      expect(urls.some((u) => u.endsWith('/dist/crypto/use-node.js'))).toBe(true)
    })
  }
})
