/**
 * The spec's error table (spec/mandate-v1.md §10) and the code are one table: every code is
 * documented with the HTTP status and CLI exit code that `disposition()` gives.
 */
import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { disposition, ERROR_CODES, type MandateErrorCode } from '../src/index.js'

const spec = readFileSync(new URL('../spec/mandate-v1.md', import.meta.url), 'utf8')
const section = spec.slice(spec.indexOf('## 10. Error codes'), spec.indexOf('### 10.1'))
const rows = [...section.matchAll(/^\|\s*`(ERR_[A-Z0-9_]+)`\s*\|.+?\|\s*(\d{3})\s*\|\s*(\d)\s*\|$/gm)].map((m) => ({
  code: m[1] as string,
  http: Number(m[2]),
  exit: Number(m[3]),
}))

describe('spec §10 error table', () => {
  it('lists every code exactly once, in the code order', () => {
    expect(rows.map((r) => r.code)).toEqual([...ERROR_CODES])
  })

  it('gives each code the HTTP status and exit code the library uses', () => {
    for (const r of rows) expect({ code: r.code, ...disposition(r.code as MandateErrorCode) }).toEqual(r)
  })
})
