/**
 * The committed scenario vectors (test-vectors/v1/scenarios.json) against this
 * implementation. The generator's --check (run by `npm test`) guards the file against drift.
 */
import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { type PresentStep, runScenario, type Scenario, sameOutcome } from '../../test-vectors/scenario-runner.js'

const file = JSON.parse(readFileSync(new URL('../../test-vectors/v1/scenarios.json', import.meta.url), 'utf8')) as {
  version: number
  scenarios: Scenario[]
}

const presents = file.scenarios.flatMap((s) => s.steps.filter((st): st is PresentStep => 'present' in st))

describe('scenario vectors v1', () => {
  it('are at least 25 distinct scenarios of version 1', () => {
    expect(file.version).toBe(1)
    expect(file.scenarios.length).toBeGreaterThanOrEqual(25)
    expect(new Set(file.scenarios.map((s) => s.id)).size).toBe(file.scenarios.length)
  })

  it('cover the stateful outcomes', () => {
    const codes = new Set(presents.map((p) => p.expected.code))
    for (const code of [
      'ERR_USAGE_EXHAUSTED',
      'ERR_REVOKED',
      'ERR_SUSPENDED',
      'ERR_REPLAY',
      'ERR_APPROVAL_REQUIRED',
      'ERR_APPROVAL_INVALID',
      'ERR_TIME_EXPIRED',
      'ERR_TIME_NOT_YET',
      'ERR_PROOF',
      'ERR_AUDIENCE',
    ])
      expect(codes).toContain(code)
    const kinds = new Set(file.scenarios.flatMap((s) => s.steps.flatMap((st) => Object.keys(st).filter((k) => k !== 'at' && k !== 'note'))))
    for (const k of ['issue', 'present', 'expected', 'revoke', 'suspend', 'resume', 'amend', 'lift']) expect(kinds).toContain(k)
    expect(presents.some((p) => p.expected.decision === 'allow' && p.expected.remaining !== undefined)).toBe(true)
  })

  for (const s of file.scenarios) {
    it(`${s.id}: ${s.title}`, async () => {
      const observed = await runScenario(s)
      // Every step that states an outcome: a decision (present) or a statement's check (amend, lift).
      const expected = s.steps.flatMap((st, i) => ('expected' in st ? [{ step: i, outcome: st.expected }] : []))
      expect(observed.map((o) => o.step)).toEqual(expected.map((e) => e.step))
      for (const [i, o] of observed.entries()) {
        const e = expected[i]?.outcome
        if (!e || !sameOutcome(e, o.outcome)) expect({ step: o.step, outcome: o.outcome }).toEqual({ step: o.step, outcome: e })
      }
    })
  }
})
