/**
 * A Node startup snapshot (`node --build-snapshot`) is a process image every process started
 * from it begins with. Random bytes drawn ahead into the pool (src/crypto/hash.ts) before it is
 * taken must not be handed out again in each of them: two processes of one snapshot make
 * different keys. The program is the package bundled the way a user bundles it (esbuild, the
 * `node` condition: dist/, which `npm test` builds first). In test/runtimes: it runs the built
 * package in other processes, which no mutant reaches.
 */
import { spawnSync } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { build } from 'esbuild'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { assertBuilt, linkedProject, removeDir } from '../helpers/runtime-build.js'

let dir: string

beforeAll(() => {
  assertBuilt()
  dir = linkedProject('snapshot')
})
afterAll(() => removeDir(dir))

describe('a startup snapshot', () => {
  it('does not carry random bytes drawn before it was taken into the processes started from it', async () => {
    writeFileSync(
      join(dir, 'app.mjs'),
      [
        "import { startupSnapshot } from 'node:v8'",
        "import { generateKeyPair, toDidKey } from 'mandate'",
        '// A key made while the snapshot is built: the pool now holds bytes drawn ahead.',
        'generateKeyPair()',
        'startupSnapshot.setDeserializeMainFunction(() => {',
        '  process.stdout.write(toDidKey(generateKeyPair().publicKey))',
        '})',
      ].join('\n'),
    )
    await build({
      entryPoints: [join(dir, 'app.mjs')],
      bundle: true,
      platform: 'node',
      format: 'cjs',
      outfile: join(dir, 'app.cjs'),
      logLevel: 'error',
    })
    const blob = join(dir, 'app.blob')
    const made = spawnSync(process.execPath, ['--snapshot-blob', blob, '--build-snapshot', join(dir, 'app.cjs')], { encoding: 'utf8' })
    expect([made.status, made.stderr]).toEqual([0, ''])
    const keys = [1, 2, 3].map(() => spawnSync(process.execPath, ['--snapshot-blob', blob], { encoding: 'utf8' }))
    for (const k of keys) expect([k.status, k.stdout]).toEqual([0, expect.stringMatching(/^did:key:z6Mk[1-9A-HJ-NP-Za-km-z]+$/)])
    expect(new Set(keys.map((k) => k.stdout)).size).toBe(3)
  }, 60_000)
})
