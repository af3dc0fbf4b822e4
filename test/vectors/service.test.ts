/**
 * The committed service-protocol vectors (test-vectors/v1/service.json) against this
 * implementation: feed pages, a feed view receiving a page, revocation statements and signed
 * requests. The generator's --check (run by `npm test`) guards the file against drift.
 */
import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import {
  type PageVector,
  type RequestVector,
  runPage,
  runRequest,
  runSequence,
  runStatement,
  type SequenceVector,
  type StatementVector,
  verifierBase,
} from '../../test-vectors/service-runner.js'

const file = JSON.parse(readFileSync(new URL('../../test-vectors/v1/service.json', import.meta.url), 'utf8')) as {
  version: number
  feed_pages: PageVector[]
  feed_views: SequenceVector[]
  statements: StatementVector[]
  requests: RequestVector[]
}

describe('service vectors v1', () => {
  it('are version 1, with unique ids, and cover every outcome', () => {
    expect(file.version).toBe(1)
    const all = [...file.feed_pages, ...file.feed_views, ...file.statements, ...file.requests].map((v) => v.id)
    expect(new Set(all).size).toBe(all.length)
    expect(new Set(file.feed_pages.map((v) => v.expected.valid))).toEqual(new Set([true, false]))
    expect(new Set(file.feed_views.map((v) => v.expected.outcome))).toEqual(
      new Set(['applied', 'ERR_REVOCATION_LIST_INVALID', 'ERR_REVOCATION_FEED_RESET', 'ERR_REVOCATION_ROLLBACK']),
    )
    const statementKinds = new Set(file.statements.flatMap((v) => (v.expected.valid ? [v.expected.fields.kind] : [])))
    expect(statementKinds).toEqual(new Set(['revoke', 'suspend', 'resume', 'amend', 'lift']))
    expect(new Set(file.statements.flatMap((v) => (v.expected.valid ? [] : [v.expected.code])))).toContain('ERR_HOLDER_MISMATCH')
    expect(new Set(file.requests.map((v) => (v.expected.valid ? 'ok' : v.expected.code)))).toEqual(
      new Set(['ok', 'ERR_AUTH_INVALID', 'ERR_AUTH_REQUIRED', 'ERR_REQUEST_STALE']),
    )
  })

  describe('feed pages', () => {
    for (const v of file.feed_pages) it(`${v.id}: ${v.title}`, () => expect(runPage(v)).toEqual(v.expected))
  })
  describe('a feed view receiving a page', () => {
    for (const v of file.feed_views) it(`${v.id}: ${v.title}`, async () => expect(await runSequence(v)).toEqual(v.expected))
  })
  describe('revocation statements', () => {
    for (const v of file.statements) it(`${v.id}: ${v.title}`, () => expect(runStatement(v)).toEqual(v.expected))
  })
  describe('signed requests', () => {
    for (const v of file.requests) {
      it(`${v.id}: ${v.title}`, () => {
        expect(runRequest(v)).toEqual(v.expected)
        if (v.expected.valid) expect(verifierBase(v)).toBe(v.signature_base)
      })
    }
  })
})
