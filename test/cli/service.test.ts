/**
 * The CLI against a running service: verify --service, revoke --service, the approval inbox.
 */
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { mandate, scratch } from '../helpers/cli.js'
import { type RunningServer, startServer } from '../helpers/service.js'

let server: RunningServer
let dir: string
let env: Record<string, string>
const key = (n: string) => join(dir, `${n}.pem`)
let alice: string
let assistant: string

beforeAll(async () => {
  server = await startServer()
  dir = scratch()
  alice = mandate(['keygen', '-o', key('alice')]).stdout.trim()
  assistant = mandate(['keygen', '-o', key('assistant')]).stdout.trim()
  env = { MANDATE_SERVICE: server.url, MANDATE_SERVICE_KEY: server.serviceKey, MANDATE_ROOTS: `alice=${alice}` }
})
afterAll(async () => {
  await server?.stop()
})

function grant(): string {
  return mandate([
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
  ]).stdout.trim()
}

describe('CLI with a service', () => {
  it('verify counts uses at the service, and sees revocations', () => {
    const sub = mandate(['attenuate', '--key', key('assistant'), '--action', 'slack:read', '--uses', '2', '--name', 'sub'], {
      input: grant(),
    }).stdout
    const use = () => mandate(['verify', '--action', 'slack:read', '--json'], { input: sub, env })
    expect(use().code).toBe(0)
    expect(use().code).toBe(0)
    const third = use()
    expect([third.code, third.json<{ code: string }>().code]).toEqual([1, 'ERR_USAGE_EXHAUSTED'])
    expect(third.json<{ checked: { revocations: boolean } }>().checked.revocations).toBe(true)

    const other = mandate(['attenuate', '--key', key('assistant'), '--action', 'slack:read', '--name', 'other'], { input: grant() }).stdout
    expect(mandate(['verify', '--action', 'slack:read'], { input: other, env }).code).toBe(0)
    const revoked = mandate(['revoke', '--key', key('alice'), '--json'], { input: other, env })
    expect(revoked.code).toBe(0)
    expect(revoked.json<{ seq: number; created: boolean }>()).toMatchObject({ seq: expect.any(Number), created: true })
    const after = mandate(['verify', '--action', 'slack:read', '--json'], { input: other, env })
    expect([after.code, after.json<{ code: string }>().code]).toEqual([1, 'ERR_REVOKED'])
  })

  it('the approval inbox: request, list, approve by id, show, then verify', () => {
    const g = grant()
    const inv = mandate(
      [
        'invoke',
        '--key',
        key('assistant'),
        '--action',
        'slack:send',
        '--arg',
        'channel=team',
        '--audience',
        'slack',
        '--intent',
        'post the summary',
      ],
      { input: g },
    ).stdout
    const id = mandate(['approvals', 'request'], { input: inv, env }).stdout.trim()
    expect(id).toMatch(/^[0-9a-f]{64}$/)
    const list = mandate(['approvals', 'list', '--key', key('alice')], { env })
    expect(list.code).toBe(0)
    expect(list.stdout).toContain(id)
    expect(list.stdout).toContain('intent      post the summary')
    expect(list.stdout).toContain('asked by    assistant')
    const approved = mandate(['approve', id, '--key', key('alice'), '--yes'], { env })
    expect(approved.code, approved.stderr).toBe(0)
    const shown = mandate(['approvals', 'show', id, '--json'], { env }).json<{ status: string; approvals: Record<string, string> }>()
    expect(shown.status).toBe('approved')
    const approval = Object.values(shown.approvals)[0] as string
    expect(mandate(['verify', '--approval', approval], { input: inv, env }).code).toBe(0)
    expect(mandate(['approvals', 'list', '--key', key('alice')], { env }).stdout).toContain('no pending requests')
  })

  it('service failures: unreachable is operational (exit 3); a wrong pinned key fails closed', () => {
    const sub = mandate(['attenuate', '--key', key('assistant'), '--action', 'slack:read'], { input: grant() }).stdout
    const down = mandate(['revoke', '--key', key('alice'), '--service', 'http://127.0.0.1:9'], { input: sub })
    expect(down.code).toBe(3)
    expect(down.stderr).toContain('cannot be reached')
    const wrongKey = mandate(['verify', '--action', 'slack:read', '--service-key', assistant, '--json'], { input: sub, env })
    expect([wrongKey.code, wrongKey.json<{ code: string }>().code]).toEqual([3, 'ERR_REVOCATION_STALE'])
    expect(mandate(['approvals', 'list', '--key', key('alice')]).code).toBe(2)
  })

  it('serve refuses bad settings (exit 2) and a busy port (exit 3) with a clear message', () => {
    const port = new URL(server.url).port
    const busy = mandate(['serve', '--port', port, '--db', join(dir, 'x.db'), '--key', join(dir, 'svc.pem')])
    expect(busy.code).toBe(3)
    expect(busy.stderr).toContain('already in use')
    expect(mandate(['serve', '--port', '99999']).code).toBe(2)
    expect(mandate(['serve', '--port', '0', '--log-level', 'chatty']).stderr).toContain('log level')
  })
})
