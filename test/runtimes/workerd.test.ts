/**
 * The library in Cloudflare's Workers runtime: `workerd` (the npm package's binary) serves a
 * Worker bundled by esbuild as Wrangler bundles one (conditions workerd, worker, browser), twice:
 * on an older compatibility date without flags (no `Buffer`, no `process`, no `node:` module)
 * and on a current date with `nodejs_compat`, as new projects are set up. A fetch runs the probe.
 */
import { spawn } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  assertBuilt,
  type Bundled,
  bin,
  esbuildProbe,
  libraryProblems,
  linkedProject,
  removeDir,
  writeProbeEntry,
} from '../helpers/runtime-build.js'
import { expectAgreement } from './probe/expect.js'

async function freePort(): Promise<number> {
  return new Promise((done, fail) => {
    const s = createServer()
    s.once('error', fail)
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number }
      s.close(() => done(port))
    })
  })
}

/** Two Workers running the same bundle: `plain` on port `plain`, `compat` on port `compat`. */
const config = (ports: { plain: number; compat: number }) => `using Workerd = import "/workerd/workerd.capnp";

const config :Workerd.Config = (
  services = [ (name = "plain", worker = .plain), (name = "compat", worker = .compat) ],
  sockets = [
    (name = "plain", address = "127.0.0.1:${ports.plain}", http = (), service = "plain"),
    (name = "compat", address = "127.0.0.1:${ports.compat}", http = (), service = "compat"),
  ],
);

const plain :Workerd.Worker = (
  modules = [ (name = "worker.js", esModule = embed "worker.js") ],
  compatibilityDate = "2025-01-01",
);

const compat :Workerd.Worker = (
  modules = [ (name = "worker.js", esModule = embed "worker.js") ],
  compatibilityDate = "2026-11-01",
  compatibilityFlags = ["nodejs_compat"],
);
`

type Worker = 'plain' | 'compat'

describe('in workerd (Cloudflare Workers)', () => {
  let project: string | undefined
  let bundle: Bundled
  let stop: (() => void) | undefined
  let log = ''
  const answers: Partial<Record<Worker, { status: number; body: string }>> = {}

  beforeAll(async () => {
    assertBuilt()
    project = linkedProject('workerd')
    const entry = writeProbeEntry(project, 'worker')
    bundle = await esbuildProbe({
      project,
      entry,
      outfile: join(project, 'worker.js'),
      platform: 'neutral',
      format: 'esm',
      conditions: ['workerd', 'worker', 'browser'],
      mainFields: ['browser', 'module', 'main'],
      library: 'bundle',
    })
    const ports = { plain: await freePort(), compat: await freePort() }
    writeFileSync(join(project, 'config.capnp'), config(ports))
    const child = spawn(bin('workerd'), ['serve', 'config.capnp', '--verbose'], { cwd: project, stdio: ['ignore', 'pipe', 'pipe'] })
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      log += d
    })
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      log += d
    })
    let exited = false
    child.on('exit', () => {
      exited = true
    })
    stop = () => child.kill('SIGKILL')
    // workerd listens once the Workers have loaded; poll until each answers.
    const deadline = Date.now() + 30_000
    for (const worker of ['plain', 'compat'] as const) {
      for (;;) {
        if (exited) throw new Error(`workerd exited:\n${log}`)
        try {
          const res = await fetch(`http://127.0.0.1:${ports[worker]}/`, { signal: AbortSignal.timeout(60_000) })
          answers[worker] = { status: res.status, body: await res.text() }
          break
        } catch (e) {
          if (Date.now() > deadline) throw new Error(`workerd did not answer: ${String(e)}\n${log}`)
          await new Promise((r) => setTimeout(r, 100))
        }
      }
    }
  }, 90_000)

  afterAll(() => {
    stop?.()
    removeDir(project)
  })

  it('bundles the isomorphic entries (`mandate`, `mandate/http`) and nothing Node-only', () => {
    expect(libraryProblems(bundle)).toEqual([])
  })

  const result = (worker: Worker) => {
    const answer = answers[worker]
    expect(answer?.status, answer?.body.slice(0, 2000)).toBe(200)
    return expectAgreement(JSON.parse(answer?.body ?? ''), 'noble')
  }

  it('every vector agrees in a Worker without Node globals, on the noble backend', () => {
    const r = result('plain')
    expect(r.backends).toEqual(['noble'])
    expect(r.globals).toEqual({ Buffer: false, process: false })
  })

  it('every vector agrees in a current nodejs_compat Worker, on the noble backend', () => {
    const r = result('compat')
    expect(r.backends).toEqual(['noble'])
    expect(r.globals).toEqual({ Buffer: true, process: true })
  })

  it('workerd logs no error', () => {
    expect(log).not.toMatch(/uncaught|error/i)
  })
})
