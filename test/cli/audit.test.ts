/**
 * `mandate audit export` and `mandate audit verify` against `mandate serve` (spec/service-v1.md
 * §8): an auditor exports the log the CLI's own actions filled, checks it offline, and every
 * tampering of the file fails the check (exit 1) naming what and where.
 */
import { readFileSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { mandate, scratch } from '../helpers/cli.js'
import { type RunningServer, startServer } from '../helpers/service.js'

let server: RunningServer
let dir: string
let env: Record<string, string>
const key = (n: string) => join(dir, `${n}.pem`)
let alice: string

beforeAll(async () => {
  dir = scratch()
  alice = mandate(['keygen', '-o', key('alice')]).stdout.trim()
  const assistant = mandate(['keygen', '-o', key('assistant')]).stdout.trim()
  const auditor = mandate(['keygen', '-o', key('auditor')]).stdout.trim()
  mandate(['keygen', '-o', key('stranger')])
  server = await startServer({ roots: [`alice=${alice}`], args: ['--auditor', `audit=${auditor}`] })
  env = { MANDATE_SERVICE: server.url, MANDATE_SERVICE_KEY: server.serviceKey }
  // Alice grants, the assistant asks twice, Alice approves one and denies the other, then revokes.
  const grant = mandate(
    [
      'mint',
      '--key',
      key('alice'),
      '--to',
      assistant,
      '--name',
      'assistant',
      '--action',
      'slack:*',
      '--approval',
      'slack:send',
      '--expires',
      '1h',
    ],
    { env },
  ).stdout.trim()
  writeFileSync(join(dir, 'grant.txt'), grant)
  for (const channel of ['team', 'all']) {
    const inv = mandate(
      ['invoke', '--key', key('assistant'), '--action', 'slack:send', '--arg', `channel=${channel}`, '--audience', 'slack'],
      {
        input: grant,
      },
    ).stdout
    const id = mandate(['approvals', 'request'], { input: inv, env }).stdout.trim()
    if (channel === 'team') expect(mandate(['approve', id, '--key', key('alice'), '--yes'], { env }).code).toBe(0)
    else expect(mandate(['approvals', 'deny', id, '--key', key('alice'), '--reason', 'not everyone'], { env }).code).toBe(0)
  }
  expect(mandate(['revoke', join(dir, 'grant.txt'), '--key', key('alice'), '--reason', 'done'], { env }).code).toBe(0)
}, 60_000)
afterAll(async () => {
  await server?.stop()
})

describe('mandate audit', () => {
  it('an auditor exports the log (0600) and checks it offline', () => {
    const file = join(dir, 'audit.jsonl')
    const exported = mandate(['audit', 'export', '--key', key('auditor'), '-o', file], { env })
    expect([exported.code, exported.stderr]).toEqual([0, `mandate: wrote 5 records and a signed checkpoint to ${file}\n`])
    expect(statSync(file).mode & 0o777).toBe(0o600)
    const lines = readFileSync(file, 'utf8').trim().split('\n')
    expect(lines.map((l) => (JSON.parse(l) as { type: string }).type)).toEqual([
      'approval.requested',
      'approval.approved',
      'approval.requested',
      'approval.denied',
      'revocation',
      'checkpoint',
    ])
    const ok = mandate(['audit', 'verify', file], { env })
    expect([ok.code, ok.stdout]).toEqual([
      0,
      expect.stringMatching(/^OK {7}records 1–5, intact, covered by a checkpoint of 5 records signed /),
    ])
    const json = mandate(['audit', 'verify', file, '--json'], { env }).json<{ ok: boolean; records: number }>()
    expect(json).toMatchObject({ ok: true, records: 5, first: 1, last: 5, redacted: 0 })
    // To standard output too, and from standard input.
    // From record 4 on: the signed checkpoint of record 3 first (the anchor), records 4–5, the checkpoint.
    const out = mandate(['audit', 'export', '--key', key('auditor'), '--since', '3'], { env })
    const later = out.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { type: string; count?: number; seq?: number })
    expect(later.map((l) => l.count ?? l.seq)).toEqual([3, 4, 5, 5])
    expect(later[0]?.type).toBe('checkpoint')
    expect(mandate(['audit', 'verify', '-'], { env, input: out.stdout }).code).toBe(0)
  })

  it('a principal exports its own records; a stranger is refused', () => {
    const mine = mandate(['audit', 'export', '--key', key('alice')], { env })
    expect(mine.code).toBe(0)
    expect(mandate(['audit', 'verify', '-', '--json'], { env, input: mine.stdout }).json()).toMatchObject({ ok: true, records: 5 })
    const refused = mandate(['audit', 'export', '--key', key('stranger'), '--json', '-o', join(dir, 'stranger.jsonl')], { env })
    expect(refused.code).toBe(1)
    expect(refused.json<{ error: { code: string; message: string } }>().error).toMatchObject({
      code: 'ERR_NOT_AUTHORIZED',
      message: expect.stringContaining('ERR_NOT_AUTHORIZED, HTTP 403'),
    })
    // --json: one JSON document on stdout, so the export itself goes to a file.
    const toStdout = mandate(['audit', 'export', '--key', key('alice'), '--json'], { env })
    expect([toStdout.code, toStdout.json<{ error: { message: string } }>().error.message]).toEqual([
      2,
      'with --json, write the export to a file (-o FILE)',
    ])
    const toFile = mandate(['audit', 'export', '--key', key('alice'), '--json', '-o', join(dir, 'mine.jsonl')], { env })
    expect(toFile.json()).toEqual({
      file: join(dir, 'mine.jsonl'),
      records: 5,
      checkpoint: { count: expect.any(Number), head: expect.any(String) },
    })
  })

  it('every tampering fails the check (exit 1), naming what and where', () => {
    const lines = mandate(['audit', 'export', '--key', key('auditor')], { env })
      .stdout.trim()
      .split('\n')
    const verify = (ls: readonly string[]) => {
      const r = mandate(['audit', 'verify', '-', '--json'], { env, input: `${ls.join('\n')}\n` })
      return [r.code, r.json<{ problem?: { kind: string; seq?: number } }>().problem]
    }
    const edited = lines.map((l, i) => (i === 3 ? l.replace('not everyone', 'everyone') : l))
    expect(verify(edited)).toEqual([1, expect.objectContaining({ kind: 'altered', seq: 4 })])
    expect(verify(lines.filter((_, i) => i !== 1))).toEqual([1, expect.objectContaining({ kind: 'missing', seq: 2 })])
    // Record 2 first: an export that starts later without its anchor, its beginning cut.
    expect(verify([lines[1], lines[0], ...lines.slice(2)] as string[])).toEqual([1, expect.objectContaining({ kind: 'truncated', seq: 2 })])
    // Without the anchor, an export --since is as cut.
    const since = mandate(['audit', 'export', '--key', key('auditor'), '--since', '3'], { env })
      .stdout.trim()
      .split('\n')
    expect(verify(since.slice(1))).toEqual([1, expect.objectContaining({ kind: 'truncated', seq: 4 })])
    expect(verify(since)).toEqual([0, undefined])
    expect(verify([...lines.slice(0, 3), lines[5] as string])).toEqual([1, expect.objectContaining({ kind: 'truncated' })])
    expect(verify(lines.slice(0, 5))).toEqual([1, expect.objectContaining({ kind: 'truncated', seq: 5 })])
    const human = mandate(['audit', 'verify', '-'], { env, input: edited.join('\n') })
    expect([human.code, human.stdout]).toEqual([
      1,
      'FAILED   altered: record 4 on line 4 was altered: its content does not match its digest\n',
    ])
    // Another service's key: no checkpoint is signed by it.
    const other = mandate(['keygen', '-o', join(dir, 'other.pem')]).stdout.trim()
    const foreign = mandate(['audit', 'verify', '-', '--service-key', other, '--json'], { env, input: lines.join('\n') })
    expect([foreign.code, foreign.json<{ problem: { kind: string } }>().problem.kind]).toEqual([1, 'signature'])
  })

  it('refuses bad input with exit 2 or 3 and a hint', () => {
    const noKey = mandate(['audit', 'verify', join(dir, 'audit.jsonl')], { env: { ...env, MANDATE_SERVICE_KEY: '' } })
    expect([noKey.code, noKey.stderr]).toEqual([2, expect.stringContaining('the service key is needed')])
    const badKey = mandate(['audit', 'verify', join(dir, 'audit.jsonl'), '--service-key', 'nope'], { env })
    expect([badKey.code, badKey.stderr]).toEqual([2, expect.stringContaining('--service-key: "nope" is not a key')])
    const missing = mandate(['audit', 'verify', join(dir, 'absent.jsonl')], { env })
    expect([missing.code, missing.stderr]).toEqual([3, expect.stringContaining('cannot read audit export')])
    const since = mandate(['audit', 'export', '--key', key('auditor'), '--since', 'yesterday'], { env })
    expect([since.code, since.stderr]).toEqual([2, expect.stringContaining('--since: expected a record number')])
    const principal = mandate(['audit', 'export', '--key', key('auditor'), '--principal', 'bob'], { env })
    expect([principal.code, principal.stderr]).toEqual([2, expect.stringContaining('--principal: "bob" is not a key')])
    const exists = mandate(['audit', 'export', '--key', key('auditor'), '-o', join(dir, 'audit.jsonl')], { env })
    expect([exists.code, exists.stderr]).toEqual([2, expect.stringContaining('--force')])
  })

  // Last: it adds a record. Any agent's words reach the log (a reason, an intent): a C1 control,
  // DEL, a tag character or a bidi override in one must neither break an export through a pipe
  // (the terminal's \xhh escapes are no JSON) nor reach a terminal raw from a file.
  it('a record carrying controls and bidi exports through a pipe and a file, escaped the JSON way, and verifies', () => {
    const reason = 'stop\u009b31m now\u007f \u{e0041} \u202eevil'
    const grant = join(dir, 'second-grant.txt')
    const assistant = mandate(['keygen', '-o', key('second')]).stdout.trim()
    writeFileSync(grant, mandate(['mint', '--key', key('alice'), '--to', assistant, '--action', 'slack:read', '--expires', '1h']).stdout)
    const revoked = mandate(['revoke', grant, '--key', key('alice'), '--reason', reason], { env })
    expect([revoked.code, revoked.stderr]).toEqual([0, ''])
    const piped = mandate(['audit', 'export', '--key', key('auditor')], { env })
    expect(piped.code).toBe(0)
    const denied = piped.stdout.split('\n').find((l) => l.includes('"revocation"') && l.includes('now'))
    expect(denied).toContain('stop\\u009b31m now\\u007f \\udb40\\udc41 \\u202eevil')
    expect(JSON.parse(denied as string)).toMatchObject({ reason })
    expect(piped.stdout).not.toMatch(/[\u0080-\u009f\u007f\u202e]|\\x[0-9a-f]{2}|\\u\{/)
    expect(mandate(['audit', 'verify', '-', '--json'], { env, input: piped.stdout }).json()).toMatchObject({ ok: true, records: 6 })
    const file = join(dir, 'escaped.jsonl')
    expect(mandate(['audit', 'export', '--key', key('auditor'), '-o', file], { env }).code).toBe(0)
    // The same records (each export ends with a checkpoint signed when it was made).
    const records = (text: string) => text.split('\n').slice(0, -2)
    expect(records(readFileSync(file, 'utf8'))).toEqual(records(piped.stdout))
    expect(mandate(['audit', 'verify', file], { env }).code).toBe(0)
  })
})
