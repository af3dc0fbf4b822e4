/**
 * Approvals that wait, on the command line: `mandate verify --approval-wait`, `mandate serve
 * --approval-wait` and `mandate approvals request --wait` (issue 11).
 */
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { approve, formatApproval, importSecretKeyPem, parseInvocation } from '../../src/index.js'
import { mandate, scratch } from '../helpers/cli.js'
import { type RunningServer, startServer } from '../helpers/service.js'

let dir: string
const key = (n: string) => join(dir, `${n}.pem`)
let alice: string
let assistant: string

beforeAll(() => {
  dir = scratch()
  alice = mandate(['keygen', '-o', key('alice')]).stdout.trim()
  assistant = mandate(['keygen', '-o', key('assistant')]).stdout.trim()
})

/** Alice → assistant: slack:*, slack:send needing Alice's approval, for 8 hours. */
const grant = () =>
  mandate([
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
    '8h',
  ]).stdout.trim()
const invoke = (action: string) =>
  mandate(['invoke', '--key', key('assistant'), '--action', action, '--audience', 'slack'], { input: grant() }).stdout.trim()
/** Alice's approval of `invocation`, issued at `at`. */
const approval = (invocation: string, at: number, ttl = 600) =>
  formatApproval(
    approve({ approver: importSecretKeyPem(readFileSync(key('alice'), 'utf8')), invocation: parseInvocation(invocation), now: at, ttl }),
  )

describe('verify --approval-wait', () => {
  const HOURS_2 = 2 * 3600
  const verify = (inv: string, extra: string[]) =>
    mandate(['verify', '--root', `alice=${alice}`, '--audience', 'slack', '--at', '2h', '--json', ...extra], { input: inv })
  const codeOf = (r: ReturnType<typeof verify>) => (r.code === 0 ? 'allowed' : r.json<{ code?: string; error?: unknown }>().code)

  it('an invocation two hours old waits for its approval (default a day), and is accepted once approved', () => {
    const send = invoke('slack:send')
    const ok = approval(send, Math.floor(Date.now() / 1000) + HOURS_2)
    const waiting = verify(send, [])
    expect([waiting.code, codeOf(waiting)]).toEqual([1, 'ERR_APPROVAL_REQUIRED'])
    expect(waiting.json<{ hint: string }>().hint).toContain('(it can wait for it until ')
    expect(codeOf(verify(send, ['--approval', ok]))).toBe('allowed')
    expect(codeOf(verify(send, ['--approval', ok, '--approval-wait', '3h']))).toBe('allowed')
    // an approval issued two hours ago (when the invocation was signed) came too long ago
    const early = approval(send, Math.floor(Date.now() / 1000), 4 * 3600)
    expect(codeOf(verify(send, ['--approval', early]))).toBe('ERR_PROOF')
    // an action that needs no approval cannot wait
    expect(codeOf(verify(invoke('slack:read'), []))).toBe('ERR_PROOF')
  })

  it('a shorter wait, or none, makes it stale', () => {
    const send = invoke('slack:send')
    const ok = approval(send, Math.floor(Date.now() / 1000) + HOURS_2)
    for (const wait of ['1h', '0', '0s']) {
      const r = verify(send, ['--approval', ok, '--approval-wait', wait])
      expect([wait, r.code, codeOf(r)]).toEqual([wait, 1, 'ERR_PROOF'])
    }
  })

  it('refuses a wait that is no duration, or longer than 30 days (exit 2)', () => {
    const send = invoke('slack:send')
    const cases: [string, string][] = [
      ['31d', '--approval-wait: 31d is longer than 30d'],
      ['3600', '--approval-wait: not a duration: "3600"'],
      ['soon', '--approval-wait: not a duration: "soon"'],
    ]
    for (const [wait, message] of cases) {
      const r = verify(send, ['--approval-wait', wait])
      expect([wait, r.code, r.json<{ error: { message: string } }>().error.message]).toEqual([wait, 2, message])
    }
  })
})

describe('serve --approval-wait and approvals request --wait', () => {
  let server: RunningServer
  let env: Record<string, string>
  beforeAll(async () => {
    server = await startServer({ roots: [`alice=${alice}`], args: ['--approval-wait', '2h'] })
    env = { MANDATE_SERVICE: server.url, MANDATE_SERVICE_KEY: server.serviceKey }
  })
  afterAll(async () => {
    await server?.stop()
  })

  it('a request waits as long as asked, by default and at most the service setting', () => {
    const file = (extra: string[]) => {
      const inv = invoke('slack:send')
      const r = mandate(['approvals', 'request', '--json', ...extra], { input: inv, env })
      return { r, issuedAt: parseInvocation(inv).issuedAt }
    }
    const expiry = (extra: string[]) => {
      const { r, issuedAt } = file(extra)
      expect(r.code, r.stderr).toBe(0)
      return r.json<{ expiresAt: number }>().expiresAt - issuedAt
    }
    expect(expiry([])).toBe(2 * 3600 + 60)
    expect(expiry(['--wait', '1h'])).toBe(3600 + 60)
    expect(expiry(['--wait', '0'])).toBe(300 + 60)
    // longer than the service allows: the service's 400, an error of the caller (exit 2)
    const tooLong = file(['--wait', '3h']).r
    expect([tooLong.code, tooLong.json<{ error: { code: string; message: string } }>().error]).toEqual([
      2,
      { code: 'ERR_REQUEST_MALFORMED', message: '"wait" must be a whole number of seconds in 0..7200 (ERR_REQUEST_MALFORMED, HTTP 400)' },
    ])
    const local = file(['--wait', '31d']).r
    expect([local.code, local.json<{ error: { message: string } }>().error.message]).toEqual([2, '--wait: 31d is longer than 30d'])
  })

  it('serve refuses a wait that is no duration, or longer than 30 days (exit 2), from the flag or MANDATE_APPROVAL_WAIT', () => {
    const serve = (extra: string[], more: Record<string, string> = {}) =>
      mandate(['serve', '--port', '0', '--db', join(dir, 'w.db'), '--key', join(dir, 'w.pem'), '--root', alice, ...extra], { env: more })
    const long = serve(['--approval-wait', '31d'])
    expect([long.code, long.stderr]).toEqual([2, expect.stringContaining('--approval-wait: 31d is longer than 30d')])
    const fromEnv = serve([], { MANDATE_APPROVAL_WAIT: 'later' })
    expect([fromEnv.code, fromEnv.stderr]).toEqual([2, expect.stringContaining('--approval-wait: not a duration: "later"')])
  })
})
