/**
 * The CLI against a running service: verify --service, revoke --service, the approval inbox.
 */
import { spawn } from 'node:child_process'
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { mandate, scratch } from '../helpers/cli.js'
import { type RunningServer, startServer } from '../helpers/service.js'
import { closedPort } from './ports.js'

let server: RunningServer
let dir: string
let env: Record<string, string>
const key = (n: string) => join(dir, `${n}.pem`)
let alice: string
let assistant: string

beforeAll(async () => {
  dir = scratch()
  alice = mandate(['keygen', '-o', key('alice')]).stdout.trim()
  assistant = mandate(['keygen', '-o', key('assistant')]).stdout.trim()
  const slack = mandate(['keygen', '-o', key('slack')]).stdout.trim()
  server = await startServer({ roots: [`alice=${alice}`], verifiers: [`slack=${slack}`] })
  env = {
    MANDATE_SERVICE: server.url,
    MANDATE_SERVICE_KEY: server.serviceKey,
    MANDATE_ROOTS: `alice=${alice}`,
    MANDATE_AUDIENCE: 'slack',
    MANDATE_VERIFIER_KEY: key('slack'),
  }
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
    // a statement addressed to another service is refused by this one (started without --audience)
    const another = mandate(['attenuate', '--key', key('assistant'), '--action', 'slack:read', '--name', 'another'], {
      input: grant(),
    }).stdout
    const addressed = mandate(['revoke', '--key', key('alice'), '--audience', 'elsewhere', '--json'], { input: another, env })
    expect(addressed.code).toBe(1)
    expect(addressed.json<{ error: { message: string } }>().error.message).toContain('ERR_AUDIENCE, HTTP 403')
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
    expect(list.stdout).not.toContain('uses left') // the chain has no uses caveat
    // A sub-agent with 2 uses a day: the approver sees what it has left.
    const sub = mandate(
      ['attenuate', '--key', key('assistant'), '--action', 'slack:send', '--uses', '2', '--per', '1d', '--name', 'poster'],
      { input: g },
    ).stdout
    const subInv = mandate(['invoke', '--action', 'slack:send', '--arg', 'channel=ops', '--audience', 'slack'], { input: sub }).stdout
    const subId = mandate(['approvals', 'request'], { input: subInv, env }).stdout.trim()
    const shownSub = mandate(['approvals', 'show', subId, '--key', key('alice')], { env })
    expect([shownSub.code, shownSub.stderr]).toEqual([0, ''])
    expect(shownSub.stdout).toContain('uses left   2 of 2 per 1d (poster)')
    expect(mandate(['approvals', 'deny', subId, '--key', key('alice'), '--reason', 'not now'], { env }).code).toBe(0)
    const approved = mandate(['approve', id, '--key', key('alice'), '--yes'], { env })
    expect(approved.code, approved.stderr).toBe(0)
    // the inbox is private: nobody without a key of the request reads it
    const stranger = mandate(['keygen', '-o', key('stranger')]).stdout.trim()
    expect(stranger).toMatch(/^did:key:/)
    const snoop = mandate(['approvals', 'show', id, '--key', key('stranger'), '--json'], { env })
    expect(snoop.code).toBe(1)
    expect(snoop.json<{ error: { message: string } }>().error.message).toContain('ERR_NOT_AUTHORIZED, HTTP 403')
    const shown = mandate(['approvals', 'show', id, '--key', key('assistant'), '--json'], { env }).json<{
      status: string
      approvals: Record<string, string>
    }>()
    expect(shown.status).toBe('approved')
    const approval = Object.values(shown.approvals)[0] as string
    expect(mandate(['verify', '--approval', approval], { input: inv, env }).code).toBe(0)
    expect(mandate(['approvals', 'list', '--key', key('alice')], { env }).stdout).toContain('no pending requests')
  })

  it('approvals deny: the approver refuses with a reason; the agent reads who and why; the request is closed', () => {
    const inv = mandate(['invoke', '--key', key('assistant'), '--action', 'slack:send', '--arg', 'channel=all', '--audience', 'slack'], {
      input: grant(),
    }).stdout
    const id = mandate(['approvals', 'request'], { input: inv, env }).stdout.trim()
    // a reason is required, 1–500 characters, without control characters
    for (const args of [[], ['--reason', '  '], ['--reason', 'x'.repeat(501)], ['--reason', 'bell\u0007']]) {
      const bad = mandate(['approvals', 'deny', id, '--key', key('alice'), ...args], { env })
      expect([args.join(' ').slice(0, 20), bad.code]).toEqual([args.join(' ').slice(0, 20), 2])
    }
    expect(mandate(['approvals', 'deny', 'nope', '--key', key('alice'), '--reason', 'no'], { env }).code).toBe(2)
    // only an approver or the principal: not the agent itself
    const byAgent = mandate(['approvals', 'deny', id, '--key', key('assistant'), '--reason', 'never mind', '--json'], { env })
    expect(byAgent.code).toBe(1)
    expect(byAgent.json<{ error: { message: string } }>().error.message).toContain('ERR_NOT_AUTHORIZED, HTTP 403')
    // a reason with a line feed and a bidi override: kept, and printed escaped
    const denied = mandate(['approvals', 'deny', id, '--key', key('alice'), '--reason', 'Not to #all.\nUse #team \u202eplease'], { env })
    expect(denied.code, denied.stderr).toBe(0)
    expect(denied.stdout).toContain(`request     ${id}  (denied, `)
    expect(denied.stdout).toContain(`denied by   ${alice} (`)
    expect(denied.stdout).toContain('): Not to #all.\\nUse #team \\u202eplease\n')
    expect(denied.stdout).not.toContain('\u202e')
    // the agent reads it: who, why, when
    const shown = mandate(['approvals', 'show', id, '--key', key('assistant'), '--json'], { env })
    expect(shown.code).toBe(0)
    expect(shown.json<{ status: string; denial: unknown }>()).toMatchObject({
      status: 'denied',
      denial: { by: alice, reason: 'Not to #all.\nUse #team \u202eplease', at: expect.any(Number) },
    })
    const human = mandate(['approvals', 'show', id, '--key', key('assistant'), '--wait', '30'], { env })
    expect(human.stdout).toContain(`denied by   ${alice} (`)
    // closed: no longer listed, and nothing to approve (nothing is signed)
    expect(
      mandate(['approvals', 'list', '--key', key('alice'), '--json'], { env })
        .json<{ pending: { id: string }[] }>()
        .pending.map((r) => r.id),
    ).not.toContain(id)
    const approving = mandate(['approve', id, '--key', key('alice'), '--yes', '--json'], { env })
    expect(approving.code).toBe(1)
    expect(approving.json<{ error: { code: string; message: string } }>().error).toMatchObject({
      code: 'ERR_APPROVAL_DENIED',
      message: expect.stringContaining(`was denied by ${alice}`),
    })
    expect(approving.stdout).not.toContain('mna1_')
    // the same approver again: the same answer (the first reason stands)
    const again = mandate(['approvals', 'deny', id, '--key', key('alice'), '--reason', 'other words', '--json'], { env })
    expect(again.json<{ denial: { reason: string } }>().denial.reason).toBe('Not to #all.\nUse #team \u202eplease')
  })

  it("the tutorial's approve works with MANDATE_SERVICE exported: an invocation is approved offline, an id from the inbox", () => {
    const draft = join(dir, 'draft.txt')
    writeFileSync(
      draft,
      mandate(['invoke', '--key', key('assistant'), '--action', 'slack:send', '--arg', 'channel=team', '--audience', 'slack'], {
        input: grant(),
      }).stdout,
    )
    // the tutorial's line, unchanged, in a shell where MANDATE_SERVICE is exported
    const ok = mandate(['approve', draft, '--key', key('alice'), '--yes'], { env })
    expect(ok.code, ok.stderr).toBe(0)
    expect(ok.stdout).toMatch(/^mna1_/)
    expect(ok.stderr).toContain('approval requested by assistant')
    writeFileSync(join(dir, 'ok.txt'), ok.stdout)
    const denied = mandate(['verify', draft, '--json'], { env })
    expect([denied.code, denied.json<{ code: string }>().code]).toEqual([1, 'ERR_APPROVAL_REQUIRED'])
    expect(mandate(['verify', draft, '--approval', `@${join(dir, 'ok.txt')}`], { env }).code).toBe(0)
    // from standard input too, and with --service given explicitly (a note says it is not used)
    const piped = mandate(['approve', '-', '--key', key('alice'), '--yes', '--service', server.url], { input: readFileSync(draft, 'utf8') })
    expect(piped.code, piped.stderr).toBe(0)
    expect(piped.stderr).toContain('mandate: note: an invocation is approved here, offline; --service is for a request id')
    // the service's flow: request, then approve by id, posted back to the inbox
    const again = mandate(['invoke', '--key', key('assistant'), '--action', 'slack:send', '--audience', 'slack'], { input: grant() })
    const id = mandate(['approvals', 'request'], { input: again.stdout, env }).stdout.trim()
    const byId = mandate(['approve', id, '--key', key('alice'), '--yes', '--json'], { env })
    expect(byId.code, byId.stderr).toBe(0)
    expect(byId.json<{ invocationId: string }>().invocationId).toBe(id)
    const shown = mandate(['approvals', 'show', id, '--key', key('alice'), '--json'], { env }).json<{ status: string }>()
    expect(shown.status).toBe('approved')
  })

  it('--json names keys in camelCase in every command, service answers included', () => {
    const documents: [string, unknown][] = []
    const run = (args: string[], input = '') => {
      const r = mandate([...args, '--json'], { input, env })
      documents.push([args.slice(0, 2).join(' '), r.json()])
      return r.json<Record<string, unknown>>()
    }
    const g = run([
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
      '--where',
      'n le 5',
      '--uses',
      '9',
      '--per',
      '1h',
      '--not-before',
      '1m',
      '--expires',
      '1h',
    ])
    const bearer = run(['attenuate', '--key', key('assistant'), '--action', 'slack:read'], g['mandate'] as string)
    run(['seal'], bearer['mandate'] as string)
    run(['keygen', '-o', join(dir, 'json-key.pem')])
    run(['pubkey', key('alice')])
    const inv = run(
      ['invoke', '--key', key('assistant'), '--action', 'slack:send', '--arg', 'snake_case=1', '--audience', 'slack'],
      grant(),
    )
    const approval = run(['approve', '--key', key('alice'), '--yes'], inv['invocation'] as string)
    // an empty --service: no service, the statement itself
    const revocation = run(['revoke', '--key', key('alice'), '--service', ''], g['mandate'] as string)
    for (const t of [g['mandate'], inv['invocation'], approval['approval'], revocation['revocation']]) run(['inspect', t as string])
    run(['verify', '--approval', approval['approval'] as string], inv['invocation'] as string)
    run(['verify', '--action', 'slack:read'], bearer['mandate'] as string)
    run(['revoke', '--key', key('alice')], grant())
    const id = run(['approvals', 'request'], inv['invocation'] as string)['id'] as string
    run(['approvals', 'list', '--key', key('alice')])
    run(['approvals', 'show', id, '--key', key('alice')])
    run(['inspect', 'hello'])
    run(['completion', 'bash'])
    run(['--version'])
    expect(documents.length).toBeGreaterThan(18)
    const camel = /^[a-z][a-zA-Z0-9]*$/
    const offending = (value: unknown, at: string): string[] => {
      if (Array.isArray(value)) return value.flatMap((v, i) => offending(v, `${at}[${i}]`))
      if (typeof value !== 'object' || value === null) return []
      return Object.entries(value).flatMap(([k, v]) => [
        ...(camel.test(k) ? [] : [`${at}.${k}`]),
        // maps keyed by data: arguments by name, an inbox entry's approvals by approver
        ...(k === 'args' || (k === 'approvals' && !Array.isArray(v)) ? [] : offending(v, `${at}.${k}`)),
      ])
    }
    expect(documents.flatMap(([name, doc]) => offending(doc, name))).toEqual([])
  })

  it('verify with a service needs a registered verifier key to count uses and claim invocations', () => {
    const sub = mandate(['attenuate', '--key', key('assistant'), '--action', 'slack:read', '--uses', '2', '--name', 'sub'], {
      input: grant(),
    }).stdout
    const { MANDATE_VERIFIER_KEY: _, ...keyless } = env
    const noKey = mandate(['verify', '--action', 'slack:read', '--json'], { input: sub, env: keyless })
    expect([noKey.code, noKey.json<{ code: string }>().code]).toEqual([3, 'ERR_COUNTER_UNAVAILABLE'])
    const inv = mandate(['invoke', '--key', key('assistant'), '--action', 'slack:read', '--audience', 'slack'], { input: grant() }).stdout
    const unclaimed = mandate(['verify', '--json'], { input: inv, env: keyless })
    expect([unclaimed.code, unclaimed.json<{ code: string }>().code]).toEqual([3, 'ERR_REPLAY_UNAVAILABLE'])
    // a key the service does not know is refused there: denied, fail closed
    const unknown = mandate(['verify', '--json', '--verifier-key', key('assistant')], { input: inv, env })
    expect([unknown.code, unknown.json<{ code: string }>().code]).toEqual([3, 'ERR_REPLAY_UNAVAILABLE'])
    expect(mandate(['verify', '--json'], { input: inv, env }).code).toBe(0)
    const again = mandate(['verify', '--json'], { input: inv, env })
    expect([again.code, again.json<{ code: string }>().code]).toEqual([1, 'ERR_REPLAY'])
  })

  it('a service answering in another shape is an operational failure (exit 3), never a crash', async () => {
    // Its own process: the CLI runs synchronously here, so this process could not answer it.
    const junk = spawn(
      process.execPath,
      [
        '-e',
        `require('http').createServer((q, r) => { r.setHeader('content-type', 'application/json'); r.end(JSON.stringify({ pending: [{ id: 1 }], status: 'ok' })) }).listen(0, '127.0.0.1', function () { console.log(this.address().port) })`,
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    )
    try {
      const port = await new Promise<string>((resolve) => junk.stdout?.once('data', (d) => resolve(String(d).trim())))
      const url = `http://127.0.0.1:${port}`
      const list = mandate(['approvals', 'list', '--service', url, '--key', key('alice'), '--json'])
      expect([list.code, list.json<{ error: { code: string; message: string } }>().error.code]).toEqual([3, 'ERR_IO'])
      expect(list.json<{ error: { message: string } }>().error.message).toContain('malformed approval request')
      const show = mandate(['approvals', 'show', 'ab'.repeat(32), '--service', url, '--key', key('alice'), '--json'])
      expect([show.code, show.json<{ error: { code: string } }>().error.code]).toEqual([3, 'ERR_IO'])
      const approve = mandate(['approve', 'ab'.repeat(32), '--service', url, '--key', key('alice'), '--yes'])
      expect(approve.code).toBe(3)
      expect(approve.stderr).toContain('malformed approval request')
    } finally {
      junk.kill()
    }
  })

  it('service failures: unreachable is operational (exit 3); a wrong pinned key fails closed', async () => {
    const port = await closedPort()
    const sub = mandate(['attenuate', '--key', key('assistant'), '--action', 'slack:read'], { input: grant() }).stdout
    const down = mandate(['revoke', '--key', key('alice'), '--service', `http://127.0.0.1:${port}`], { input: sub })
    expect(down.code).toBe(3)
    expect(down.stderr).toContain(`mandate: error: cannot reach the service at http://127.0.0.1:${port}: connection refused\n`)
    expect(down.stderr).toContain('mandate: hint: is `mandate serve` running there? check --service (or MANDATE_SERVICE)')
    const wrongKey = mandate(['verify', '--action', 'slack:read', '--service-key', assistant, '--json'], { input: sub, env })
    expect(wrongKey.code).toBe(3)
    expect(wrongKey.json<{ code: string }>().code).toMatch(/^ERR_REVOCATION_(STALE|LIST_INVALID)$/)
    // the warning says the key does not match, not that the service cannot be reached
    expect(wrongKey.stderr).toContain(`mandate: warning: revocations from ${server.url}: `)
    expect(wrongKey.stderr).toContain(`not by the pinned service key ${assistant}`)
    expect(wrongKey.stderr).not.toContain('cannot be reached')
    expect(mandate(['approvals', 'list', '--key', key('alice')]).code).toBe(2)
  })

  it('serve refuses bad settings (exit 2) and a busy port (exit 3) with a clear message', () => {
    const port = new URL(server.url).port
    const busy = mandate(['serve', '--port', port, '--db', join(dir, 'x.db'), '--key', join(dir, 'svc.pem'), '--root', alice])
    expect(busy.code).toBe(3)
    expect(busy.stderr).toContain('already in use')
    expect(mandate(['serve', '--port', '99999', '--root', alice]).code).toBe(2)
    // a service that serves nobody, or a verifier without a name or with a bad key, never starts
    const nobody = mandate(['serve', '--port', '0'])
    expect([nobody.code, nobody.stderr]).toEqual([2, expect.stringContaining('no served principal')])
    const unnamed = mandate(['serve', '--port', '0', '--root', alice, '--verifier', assistant])
    expect([unnamed.code, unnamed.stderr]).toEqual([2, expect.stringContaining('--verifier: expected NAME=KEY')])
    const twoNames = mandate(['serve', '--port', '0', '--root', alice, '--verifier', `a=${assistant}`, '--verifier', `b=${assistant}`])
    expect([twoNames.code, twoNames.stderr]).toEqual([2, expect.stringContaining('registered as both a and b')])
    const badUrl = mandate(['serve', '--port', '0', '--root', alice, '--public-url', 'mandate.example/path'])
    expect([badUrl.code, badUrl.stderr]).toEqual([2, expect.stringContaining('--public-url: expected http(s)://HOST[:PORT]')])
    // an origin only: no credentials, query or fragment, and a port that is one
    for (const url of [
      'https://user:pw@mandate.example',
      'https://mandate.example?x',
      'https://mandate.example:99999',
      'https://mandate.example\\x',
      'https://mandate.example:0',
    ]) {
      const refused = mandate(['serve', '--port', '0', '--root', alice, '--public-url', url])
      expect([url, refused.code, refused.stderr]).toEqual([url, 2, expect.stringContaining('--public-url: expected http(s)://HOST[:PORT]')])
    }
    const badKey = mandate(['serve', '--port', '0', '--root', 'alice=did:key:zNope'])
    expect([badKey.code, badKey.stderr]).toEqual([2, expect.stringContaining('is not an Ed25519 public key')])
    expect(mandate(['serve', '--port', '0', '--log-level', 'chatty', '--root', alice]).stderr).toContain('log level')
    // A webhook URL is refused without being shown: a chat service's carries a secret.
    const hook = (url: string) => mandate(['serve', '--port', '0', '--root', alice, '--webhook', 'https://ok.example/h', '--webhook', url])
    const ftp = hook('ftp://chat.example/T0SECRET')
    expect([ftp.code, ftp.stderr]).toEqual([
      2,
      expect.stringContaining('--webhook (number 2): a webhook URL must be http:// or https://, not ftp:'),
    ])
    const creds = hook('https://user:T0SECRET@chat.example/h')
    expect([creds.code, creds.stderr]).toEqual([2, expect.stringContaining('carries no user name or password')])
    const relative = hook('/hooks/T0SECRET')
    expect([relative.code, relative.stderr]).toEqual([2, expect.stringContaining('must be an absolute http:// or https:// URL')])
    for (const r of [ftp, creds, relative]) expect(r.stderr + r.stdout).not.toContain('T0SECRET')
    const short = mandate(['serve', '--port', '0', '--root', alice, '--audit-retention', '12h'])
    expect([short.code, short.stderr]).toEqual([2, expect.stringContaining('--audit-retention: at least a day, got "12h"')])
    const notDuration = mandate(['serve', '--port', '0', '--root', alice, '--audit-retention', 'forever'])
    expect([notDuration.code, notDuration.stderr]).toEqual([2, expect.stringContaining('--audit-retention: not a duration')])
    const many = mandate([
      'serve',
      '--port',
      '0',
      '--root',
      alice,
      ...Array.from({ length: 9 }, (_, i) => ['--webhook', `https://h.example/${i}`]).flat(),
    ])
    expect([many.code, many.stderr]).toEqual([2, expect.stringContaining('--webhook: at most 8 endpoints, got 9')])
  })
})
