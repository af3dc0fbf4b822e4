/**
 * The package under Bun and Deno (their npm packages' binaries, pinned as devDependencies), from
 * a project that installed only `mandate`: each runtime resolves `mandate` itself from
 * node_modules (both match the `node` export condition, so both run their node:crypto
 * compatibility layer, which must agree with the strict profile too), by `import` and by
 * `require`.
 */
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  assertBuilt,
  bin,
  esbuildProbe,
  installedProject,
  lastJsonLine,
  removeDir,
  run,
  tempDir,
  writeProbeEntry,
} from '../helpers/runtime-build.js'
import { expectAgreement } from './probe/expect.js'
import type { ProbeResult } from './probe/probe.js'

const RUNTIMES: Record<string, (file: string) => [string, string[]]> = {
  bun: (file) => [bin('bun'), [file]],
  deno: (file) => [bin('deno'), ['run', '--no-prompt', '--no-lock', file]],
}

describe('in Bun and Deno, from a project that installed only mandate', () => {
  let project: string | undefined
  let denoDir: string | undefined
  const env = () => ({ ...process.env, DENO_DIR: denoDir, DENO_NO_UPDATE_CHECK: '1', BUN_RUNTIME_TRANSPILER_CACHE_PATH: '0' })

  beforeAll(async () => {
    assertBuilt()
    project = installedProject('bun-deno')
    denoDir = tempDir('deno-dir')
    const entry = writeProbeEntry(project, 'script')
    await esbuildProbe({ project, entry, outfile: join(project, 'probe.mjs'), platform: 'neutral', format: 'esm', library: 'external' })
    writeFileSync(
      join(project, 'require.cjs'),
      `const m = require('mandate')\nconst http = require('mandate/http')\nconsole.log(JSON.stringify({ backend: m.getBackend().name, verifier: typeof m.createVerifier, protect: typeof http.protect }))\n`,
    )
  }, 60_000)

  afterAll(() => {
    removeDir(project)
    removeDir(denoDir)
  })

  for (const [name, command] of Object.entries(RUNTIMES)) {
    it(`${name}: every vector agrees on both backends, node:crypto the default`, async () => {
      const [cmd, args] = command('probe.mjs')
      const out = await run(cmd, args, { cwd: project as string, env: env(), timeout: 60_000 })
      expect(out.stderr).toBe('')
      expect(out.status).toBe(0)
      const r = expectAgreement(lastJsonLine<ProbeResult>(out), 'node')
      expect(r.backends).toEqual(['node', 'noble'])
    })

    it(`${name}: require('mandate') and require('mandate/http') work`, async () => {
      const [cmd, args] = command('require.cjs')
      const out = await run(cmd, args, { cwd: project as string, env: env(), timeout: 60_000 })
      expect(out.stderr).toBe('')
      expect(lastJsonLine(out)).toEqual({ backend: 'node', verifier: 'function', protect: 'function' })
    })
  }
})
