/**
 * What every runtime must report: full agreement with the conformance vectors, the scenarios and
 * the Ed25519 profile vectors, a working mint → attenuate → invoke → verify round trip, and the
 * HTTP round trip answered as spec/http-v1.md says (§4, §6; as test/http/fixture.ts asserts
 * over loopback): allowed 200 with the body intact; the captured request replayed, 401
 * `ERR_REPLAY`; an invocation whose body was swapped, 401 `ERR_REQUEST_INVALID`, which claims
 * nothing (its untouched request then passes); no `Authorization`, 401 without a code, with the
 * challenge.
 */
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { expect } from 'vitest'
import { repo } from '../../helpers/runtime-build.js'
import type { ProbeResult } from './probe.js'

const count = (file: string, key: string) => (JSON.parse(readFileSync(join(repo, file), 'utf8'))[key] as unknown[]).length

export const VECTORS = count('test-vectors/v1/vectors.json', 'vectors')
export const SCENARIOS = count('test-vectors/v1/scenarios.json', 'scenarios')
export const ED25519_CASES = 914 + 12 + 196 + 150

/** `result` is a probe's answer (or `{ fatal }` when it threw); `backend` the default expected. */
export function expectAgreement(result: unknown, backend: 'node' | 'noble'): ProbeResult {
  expect(result, 'the probe threw').not.toHaveProperty('fatal')
  const r = result as ProbeResult
  expect(r.vectors.disagreements).toEqual([])
  expect(r.vectors.run).toBe(VECTORS)
  expect(r.scenarios.disagreements).toEqual([])
  expect(r.scenarios.run).toBe(SCENARIOS)
  expect(r.backend).toBe(backend)
  expect(r.backends).toContain(backend)
  for (const name of r.backends) {
    expect(r.ed25519[name]?.disagreements, `Ed25519 profile vectors, ${name} backend`).toEqual([])
    expect(r.ed25519[name]?.run).toBe(ED25519_CASES)
  }
  expect(r.story).toEqual({ allowed: true, chain: 3, outside: 'ERR_ACTION_DENIED' })
  expect(r.http).toEqual({
    allowed: 200,
    received: 'bob@example.com',
    replayed: '401/ERR_REPLAY',
    swapped: '401/ERR_REQUEST_INVALID',
    untouched: 200,
    missing: '401/- Mandate realm="mail"',
    handled: 2,
  })
  return r
}
