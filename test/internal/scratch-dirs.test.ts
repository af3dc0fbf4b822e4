/**
 * The per-run scratch directory (test/global-setup.ts): created under the temporary directory,
 * given to the run as TMPDIR, removed at the end; directories of runs whose process is gone are
 * removed by the next run, those of live runs are not.
 */
import { existsSync, mkdirSync, mkdtempSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import setup from '../global-setup.js'

const saved = process.env['TMPDIR']
afterEach(() => {
  process.env['TMPDIR'] = saved
})

describe('one scratch directory per test run', () => {
  it('points TMPDIR at a new 0711 directory, and removes it with what it holds at the end', () => {
    const base = mkdtempSync(join(tmpdir(), 'scratch-base-'))
    process.env['TMPDIR'] = base
    const teardown = setup()
    const dir = process.env['TMPDIR'] as string
    expect(dir.startsWith(join(base, `mandate-test-run-${process.pid}-`))).toBe(true)
    expect(statSync(dir).mode & 0o777).toBe(0o711)
    mkdirSync(join(dir, 'mandate-pg-x', 'data'), { recursive: true })
    teardown()
    expect(existsSync(dir)).toBe(false)
    expect(process.env['TMPDIR']).toBe(base)
  })

  it('removes the directories of dead runs, keeps those of live ones and anything else', () => {
    const base = mkdtempSync(join(tmpdir(), 'scratch-base-'))
    // pid 2**22 + 1 is above Linux's pid_max, so no process has it
    const dead = join(base, `mandate-test-run-${2 ** 22 + 1}-abc`)
    const live = join(base, `mandate-test-run-${process.pid}-abc`)
    const other = join(base, 'mandate-test-run-notapid-abc')
    const unrelated = join(base, 'mandate-pg-abc')
    for (const d of [dead, live, other, unrelated]) mkdirSync(join(d, 'inside'), { recursive: true })
    process.env['TMPDIR'] = base
    const teardown = setup()
    expect([dead, live, other, unrelated].map(existsSync)).toEqual([false, true, true, true])
    teardown()
  })
})
