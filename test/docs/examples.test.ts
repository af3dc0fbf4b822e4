/**
 * The documentation is checked like code: every `@example` in the TSDoc of what the public
 * entries export (and of their members and the entry modules) type-checks as a user's file
 * that imports `mandate` or one of its subpath entries (`mandate/node`, `mandate/service`,
 * `mandate/http` and its adapters, `mandate/mcp`, `mandate/cli`); every export has a
 * summary; every exported function and class, and every entry, has an example.
 *
 * An example may use, without declaring them, the few conventional names of `PRELUDE` in
 * ./tsdoc.ts (alice, assistant, grant, invocation, text, …); names the entries export are
 * imported for it. One TypeScript program checks all examples at once.
 */
import { beforeAll, describe, expect, it } from 'vitest'
import { checkExamples, type Documentation, type Example, type Failure, readDocumentation } from './tsdoc.js'

/** Examples that must not compile: if they do, the check is not checking. */
const CANARIES: readonly string[] = [
  "mint({ principal: alice, to: 42 }) // 'to' is a did:key string",
  "createVerifier({ roots: [toDidKey(alice.publicKey)], audiense: 'mail', revocations: 'none' }) // misspelled",
  'declare const decision: Decision\nif (decision.allowed) console.log(decision.code) // only a denial has a code',
]

describe('TSDoc of the public entries', () => {
  let doc: Documentation
  let failures: Failure[]
  const canaries: Example[] = []

  beforeAll(() => {
    doc = readDocumentation()
    const main = doc.entries.find((e) => e.specifier === 'mandate')
    if (main === undefined) throw new Error('package.json exports has no "." entry')
    CANARIES.forEach((code, i) => {
      const name = `canary ${i}`
      canaries.push({ name, where: `test/docs/examples.test.ts (${name})`, entry: main, code })
    })
    failures = checkExamples([...doc.examples, ...canaries], doc)
  }, 60_000)

  it('reads every public entry', () => {
    expect(doc.entries.map((e) => e.specifier)).toEqual([
      'mandate',
      'mandate/node',
      'mandate/service',
      'mandate/http',
      'mandate/http/hono',
      'mandate/http/express',
      'mandate/http/fastify',
      'mandate/mcp',
      'mandate/cli',
    ])
    expect(doc.examples.length).toBeGreaterThan(50)
  })

  it('every example type-checks against the entries, as a user imports them', () => {
    const broken = failures.filter((f) => !f.name.startsWith('canary'))
    const report = broken.map((f) => `${f.where}: ${f.message}\n${f.code}`).join('\n\n')
    expect(report, `${broken.length} example error(s)`).toBe('')
  })

  it('a broken example fails the check', () => {
    for (const c of canaries) expect(failures.filter((f) => f.name === c.name).length, c.code).toBeGreaterThan(0)
  })

  it('every export has a summary', () => {
    expect(doc.documented.filter((d) => d.summary === '').map((d) => `${d.name} (${d.where})`)).toEqual([])
  })

  it('every entry, exported function and class has an @example', () => {
    const needs = doc.documented.filter((d) => d.kind === 'module' || d.kind === 'function' || d.kind === 'class')
    expect(needs.filter((d) => d.examples === 0).map((d) => `${d.name} (${d.where})`)).toEqual([])
  })
})
