/**
 * The committed conformance vectors (test-vectors/v1) against this implementation. The
 * generator's --check (run by `npm test`) guards the files themselves against drift.
 */
import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { CAVEAT_TYPES } from '../../src/caveats/types.js'
import { ERROR_CODES } from '../../src/index.js'
import { matches, runVector, UNCOVERED, type Vector } from '../../test-vectors/runner.js'

const file = JSON.parse(readFileSync(new URL('../../test-vectors/v1/vectors.json', import.meta.url), 'utf8')) as { vectors: Vector[] }

describe('conformance vectors v1', () => {
  it('cover every error code a decision or operation can carry', () => {
    const covered = new Set(file.vectors.map((v) => v.expected.code))
    const notExpected: readonly string[] = UNCOVERED
    expect(ERROR_CODES.filter((c) => !covered.has(c) && !notExpected.includes(c))).toEqual([])
  })

  it('cover every caveat type', () => {
    const caveats = new Set(file.vectors.flatMap((v) => (v.kind === 'verify' && v.expected.caveat ? [v.expected.caveat] : [])))
    // every type the format defines, read from the code: a new caveat without a vector fails here
    for (const c of [...Object.keys(CAVEAT_TYPES), 'extension', 'unknown']) expect(caveats).toContain(c)
    expect(file.vectors.some((v) => v.id.startsWith('time/'))).toBe(true)
  })

  for (const v of file.vectors) {
    it(`${v.id}: ${v.title}`, async () => {
      const outcome = await runVector(v)
      expect(matches(v, outcome), JSON.stringify(outcome)).toBe(true)
    })
  }
})
