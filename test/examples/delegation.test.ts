/**
 * examples/ as a reader runs them: type-checked against the entries as a user imports them, and
 * run (`tsx examples/delegation.ts`, the built package) with the story's outcomes asserted line
 * by line, so that the example cannot drift from the library it shows.
 */
import { spawnSync } from 'node:child_process'
import { join, resolve } from 'node:path'
import { describe, expect, it } from 'vitest'

const root = resolve(import.meta.dirname, '../..')
const node = (args: string[], timeout: number) =>
  spawnSync(process.execPath, args, { cwd: root, encoding: 'utf8', timeout, env: { PATH: process.env['PATH'] ?? '', NO_COLOR: '1' } })

describe('examples/', () => {
  it('type-checks as a user project would (import … from "mandate")', () => {
    const r = node([join(root, 'node_modules/typescript/bin/tsc'), '-p', 'examples/tsconfig.json'], 120_000)
    expect(r.stdout + r.stderr).toBe('')
    expect(r.status).toBe(0)
  })

  it('delegation.ts: Alice → assistant → researcher, through the HTTP guard and mandate mcp, one call approved by Alice', () => {
    const r = node(['--import', 'tsx', 'examples/delegation.ts'], 120_000)
    expect(r.stderr).toBe('')
    expect(r.status).toBe(0)
    const lines = r.stdout.trimEnd().split('\n')
    expect(lines).toEqual([
      'alice → assistant       calendar:*, mcp:everything:*; events:create needs alice; 8 h',
      'assistant → researcher  events:list, events:create, mcp:everything:echo; 10 uses; 1 h',
      'researcher GET /events',
      '  calendar API: alice → assistant → researcher → calendar  (events:list)',
      '  → 200',
      'researcher POST /events {"title":"Lunch with Bob"}',
      `  alice's inbox: assistant → researcher asks calendar:events:create {"title":"Lunch with Bob"}, "book lunch with Bob on Friday"; she approves`,
      '  calendar API: alice → assistant → researcher → calendar  (events:create, approved by alice)',
      '  → 201',
      'researcher tools/list → echo  (only what the mandate can allow)',
      'researcher tools/call echo → Echo: hello from the researcher',
      'researcher tools/call get-env → tool error ERR_ACTION_DENIED',
      'audit (mandate mcp):',
      '  alice → assistant → researcher → everything  echo: allow',
      '  alice → assistant → researcher → everything  get-env: deny ERR_ACTION_DENIED',
    ])
  })
})
