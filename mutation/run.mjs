// `npm run mutation [-- <folder>...] [-- stryker options]`: StrykerJS over the core, one folder of
// src/ at a time, then `service` (the service's authorization and counting files: SERVICE in
// summary.mjs), each with its own incremental file (mutation/incremental/<folder>.json,
// committed) so that a rerun after a small change only tests the mutants the change touches.
// Options that are not folder names go to `stryker run` as they are (e.g. `--force` rebuilds the
// incremental file). With `--mutate <glob>` it is one run over that glob, recorded in
// mutation/incremental/custom.json. Settings: stryker.config.json. Scores: mutation/summary.md.
// Not part of `npm test` (far too slow on two cores). After the runs, the tables of
// mutation/summary.md are regenerated from the incremental files (mutation/summary.mjs).
import { spawnSync } from 'node:child_process'
import { copyFileSync, existsSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'

import { DOORS, rewritten, SERVICE, TARGETS } from './summary.mjs'

const STRYKER = fileURLToPath(new URL('../node_modules/@stryker-mutator/core/bin/stryker.js', import.meta.url))

const args = process.argv.slice(2)
const folders = args.filter((a) => TARGETS.includes(a))
const rest = args.filter((a) => !TARGETS.includes(a))

/**
 * Stryker's incremental mode never retests a static mutant it once saw survive, even when a new
 * test would kill it (static mutants have no per-test coverage to compare; stryker-js#6119): so
 * drop those from the incremental file before each run, and they are tested again (they are few).
 */
function forgetStaticSurvivors(file) {
  if (!existsSync(file)) return
  const report = JSON.parse(readFileSync(file, 'utf8'))
  let dropped = 0
  for (const f of Object.values(report.files)) {
    const kept = f.mutants.filter((m) => !(m.static && (m.status === 'Survived' || m.status === 'NoCoverage')))
    dropped += f.mutants.length - kept.length
    f.mutants = kept
  }
  if (dropped > 0) writeFileSync(file, `${JSON.stringify(report, null, 2)}\n`)
}

/**
 * One Stryker run. It works on a copy of the incremental file, put in place only when the run
 * succeeds: a run that fails or is killed leaves the committed results as they were.
 */
function stryker(extra) {
  const at = extra.indexOf('--incrementalFile')
  const file = at >= 0 ? extra[at + 1] : undefined
  const work = file && `${file}.running`
  if (file && existsSync(file)) copyFileSync(file, work)
  if (work && !rest.includes('--force')) forgetStaticSurvivors(work)
  const args = work ? extra.map((a, i) => (i === at + 1 ? work : a)) : extra
  const run = spawnSync(process.execPath, [STRYKER, 'run', ...args, ...rest], { stdio: 'inherit' })
  if (run.status !== 0) {
    if (work) rmSync(work, { force: true })
    process.exit(run.status ?? 1)
  }
  if (work) renameSync(work, file)
  writeFileSync(new URL('./summary.md', import.meta.url), rewritten())
}

if (rest.includes('--mutate') || rest.includes('-m')) {
  if (folders.length > 0) {
    console.error('give either core folders or --mutate, not both')
    process.exit(2)
  }
  stryker(['--incrementalFile', 'mutation/incremental/custom.json'])
} else {
  for (const folder of folders.length > 0 ? folders : TARGETS) {
    console.log(`\n=== mutation testing src/${folder} ===`)
    const incremental = ['--incrementalFile', `mutation/incremental/${folder}.json`]
    const scoped = folder === 'service' ? SERVICE : DOORS[folder]
    if (scoped) stryker(['--mutate', scoped.mutate.join(','), '--testFiles', scoped.testFiles.join(','), ...incremental])
    else stryker(['--mutate', `src/${folder}/**/*.ts`, ...incremental])
  }
}
