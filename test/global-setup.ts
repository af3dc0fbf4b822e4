/**
 * One temporary directory per test run, removed when the run ends.
 *
 * Tests make their scratch directories with `mkdtempSync(join(tmpdir(), …))` and the CLI tests'
 * child processes inherit the environment, so pointing TMPDIR at a directory of this run (before
 * any worker starts) puts every file a test writes under it. A run that is killed (a timed-out
 * mutant under StrykerJS, Ctrl-C) cannot clean up after itself, so each new run also removes the
 * directories of runs whose process is gone: throwaway PostgreSQL clusters are 180 MB each, and
 * leaving them behind filled a 100 GB disk in one day of mutation testing.
 */
import { chmodSync, mkdtempSync, readdirSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

const PREFIX = 'mandate-test-run-'

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM'
  }
}

export default function setup(): () => void {
  const base = tmpdir()
  for (const name of readdirSync(base)) {
    const pid = Number(name.slice(PREFIX.length).split('-')[0])
    if (name.startsWith(PREFIX) && Number.isInteger(pid) && pid > 0 && !alive(pid)) {
      rmSync(join(base, name), { recursive: true, force: true })
    }
  }
  const dir = mkdtempSync(join(base, `${PREFIX}${process.pid}-`))
  // Traversable but not listable by others: the PostgreSQL clusters run as the `postgres` user.
  chmodSync(dir, 0o711)
  process.env['TMPDIR'] = dir
  return () => {
    process.env['TMPDIR'] = base
    rmSync(dir, { recursive: true, force: true })
  }
}
