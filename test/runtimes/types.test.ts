/**
 * The shipped types as consumers' TypeScript resolves them (this repository's `typescript`):
 * a project depending on `mandate` type-checks `import { createVerifier } from 'mandate'` and
 * `mandate/node` under moduleResolution node16, nodenext (ESM and CommonJS files), bundler (a
 * browser app: DOM lib, no @types/node) and node10 (CommonJS `require`). The browser setup
 * also turns skipLibCheck off, so that the shipped declarations are checked themselves without
 * Node's types (the Node setups have @types/node and keep it on: checking all of @types/node
 * costs seconds each). One `tsc --build` checks every setup, sharing what it parses.
 */
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { assertBuilt, linkedProject, removeDir, repo, run } from '../helpers/runtime-build.js'

const VERIFY = `const verifier = createVerifier({
  roots: ['did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK'],
  audience: 'svc',
  revocations: createMemoryRevocationView(),
})
export const decide = (token: string): Promise<Decision> => verifier.authorize({ token })
export const mandate: UnverifiedMandate | undefined = undefined
`
const ESM = `import { createMemoryRevocationView, createVerifier, type Decision, type UnverifiedMandate } from 'mandate'
import { fileFeedState } from 'mandate/node'
${VERIFY}export const state = fileFeedState('feed-state.json')
`
const BROWSER = `import { createMemoryRevocationView, createVerifier, type Decision, type UnverifiedMandate } from 'mandate'
${VERIFY}`
const REQUIRE = `import mandateLib = require('mandate')
import nodeLib = require('mandate/node')
const { createMemoryRevocationView, createVerifier } = mandateLib
type Decision = mandateLib.Decision
type UnverifiedMandate = mandateLib.UnverifiedMandate
${VERIFY}export const state = nodeLib.fileFeedState('feed-state.json')
`

interface Setup {
  readonly name: string
  readonly compilerOptions: Record<string, unknown>
  readonly files: Record<string, string>
}

const node = { types: ['node'], lib: ['ES2022'], skipLibCheck: true }
const SETUPS: Setup[] = [
  { name: 'node16', compilerOptions: { module: 'node16', moduleResolution: 'node16', ...node }, files: { 'index.ts': ESM } },
  {
    name: 'nodenext',
    compilerOptions: { module: 'nodenext', moduleResolution: 'nodenext', ...node },
    files: { 'index.ts': ESM, 'legacy.cts': REQUIRE },
  },
  {
    name: 'bundler',
    compilerOptions: { module: 'esnext', moduleResolution: 'bundler', types: [], lib: ['ES2022', 'DOM'], skipLibCheck: false },
    files: { 'index.ts': BROWSER },
  },
  { name: 'node10', compilerOptions: { module: 'commonjs', moduleResolution: 'node10', ...node }, files: { 'index.ts': REQUIRE } },
]

describe('TypeScript consumers resolve the types', () => {
  let project: string | undefined
  const built: string[] = []
  const diagnostics: Record<string, string[]> = {}

  beforeAll(async () => {
    assertBuilt()
    project = linkedProject('types')
    // A Node project has @types/node; the browser setup opts out of it with `types: []`.
    mkdirSync(join(project, 'node_modules/@types'))
    symlinkSync(join(repo, 'node_modules/@types/node'), join(project, 'node_modules/@types/node'), 'dir')
    const dir: string = project
    for (const setup of SETUPS) {
      mkdirSync(join(dir, setup.name))
      for (const [file, text] of Object.entries(setup.files)) writeFileSync(join(dir, setup.name, file), text)
      // --build needs composite projects, which emit: declarations only, into the temp dir.
      const compilerOptions = {
        target: 'ES2022',
        strict: true,
        composite: true,
        emitDeclarationOnly: true,
        outDir: 'out',
        ...setup.compilerOptions,
      }
      writeFileSync(join(dir, setup.name, 'tsconfig.json'), JSON.stringify({ compilerOptions, include: ['*.ts', '*.cts'] }, null, 2))
    }
    writeFileSync(join(dir, 'tsconfig.json'), JSON.stringify({ files: [], references: SETUPS.map((s) => ({ path: s.name })) }))
    const tsc = join(repo, 'node_modules/typescript/bin/tsc')
    const out = await run(process.execPath, [tsc, '--build', '--verbose', '--pretty', 'false'], { cwd: dir, timeout: 90_000 })
    // --verbose announces each project before its diagnostics.
    let current = ''
    for (const line of `${out.stdout}\n${out.stderr}`.split('\n')) {
      const building = /Building project '.*\/([^/]+)\/tsconfig\.json'/.exec(line)
      if (building?.[1]) {
        current = building[1]
        built.push(current)
      } else if (/error TS\d+/.test(line)) {
        const key = current || 'tsc'
        diagnostics[key] = [...(diagnostics[key] ?? []), line]
      }
    }
    if (out.status !== 0 && Object.keys(diagnostics).length === 0) diagnostics['tsc'] = [`exit ${out.status}: ${out.stdout}${out.stderr}`]
  }, 120_000)

  afterAll(() => removeDir(project))

  for (const s of SETUPS) {
    it(`moduleResolution ${s.name}: ${Object.keys(s.files).join(' and ')} type-check`, () => {
      expect(built).toContain(s.name)
      expect(diagnostics[s.name] ?? []).toEqual([])
    })
  }

  it('tsc reports nothing outside the setups', () => {
    expect(diagnostics['tsc'] ?? []).toEqual([])
  })
})
