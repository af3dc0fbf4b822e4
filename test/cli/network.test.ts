/**
 * Every network call the CLI makes ends: a server that accepts the connection and never
 * answers (or answers its headers and stalls the body) times out, exit 3, naming the URL; a
 * database that cannot be reached is blamed, not the address to listen on.
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { mandate, scratch } from '../helpers/cli.js'
import { closedPort } from './ports.js'

let dir: string
let alice: string
let assistant: string
const key = (name: string) => join(dir, `${name}.pem`)
let server: ChildProcess
/** Accepts and never answers. */
let silent: string
/** Answers its headers, then stalls the body. */
let stalling: string
/** Nobody listens there: connections are refused. */
let closed: string
/** Answers a gzip body that inflates without end. */
let inflating: string
/** Answers 307 to elsewhere. */
let redirecting: string

/** Two raw TCP servers in their own process (the CLI runs synchronously here). */
const SERVERS = `
const net = require('node:net')
const held = []
const silent = net.createServer((s) => { held.push(s); s.on('error', () => {}) })
const stalling = net.createServer((s) => {
  held.push(s)
  s.on('error', () => {})
  s.once('data', () => s.write('HTTP/1.1 200 OK\\r\\ncontent-type: application/json\\r\\ncontent-length: 100\\r\\n\\r\\n{"pend'))
})
// Answers an endless body, compressed: 1 MiB of spaces per 1 KiB or so sent, until the client lets go.
const zlib = require('node:zlib')
const inflating = net.createServer((s) => {
  held.push(s)
  s.on('error', () => {})
  s.once('data', () => {
    s.write('HTTP/1.1 200 OK\\r\\ncontent-type: application/json\\r\\ncontent-encoding: gzip\\r\\ntransfer-encoding: chunked\\r\\n\\r\\n')
    const gzip = zlib.createGzip()
    gzip.on('data', (d) => { if (!s.destroyed) s.write(d.length.toString(16) + '\\r\\n' + d.toString('latin1') + '\\r\\n', 'latin1') })
    const mib = Buffer.alloc(1 << 20, 0x20)
    let sent = 0
    const more = () => { while (!s.destroyed && sent++ < 1024) if (!gzip.write(mib)) return void gzip.once('drain', more) }
    more()
  })
})
// Points elsewhere: a signed request must not follow.
const redirecting = net.createServer((s) => {
  held.push(s)
  s.on('error', () => {})
  s.once('data', () => s.end('HTTP/1.1 307 Temporary Redirect\\r\\nlocation: http://127.0.0.1:1/v1/approvals\\r\\ncontent-length: 0\\r\\n\\r\\n'))
})
const all = [silent, stalling, inflating, redirecting]
let listening = 0
for (const server of all) server.listen(0, '127.0.0.1', () => { if (++listening === all.length) console.log(all.map((x) => x.address().port).join(' ')) })
`

beforeAll(async () => {
  dir = scratch()
  alice = mandate(['keygen', '-o', key('alice')]).stdout.trim()
  assistant = mandate(['keygen', '-o', key('assistant')]).stdout.trim()
  server = spawn(process.execPath, ['-e', SERVERS], { stdio: ['ignore', 'pipe', 'inherit'] })
  const ports = await new Promise<string[]>((resolve) => server.stdout?.once('data', (d) => resolve(String(d).trim().split(' '))))
  silent = `http://127.0.0.1:${ports[0]}`
  stalling = `http://127.0.0.1:${ports[1]}`
  inflating = `http://127.0.0.1:${ports[2]}`
  redirecting = `http://127.0.0.1:${ports[3]}`
  closed = `http://127.0.0.1:${await closedPort()}`
})

afterAll(() => {
  server?.kill()
})

function grant(): string {
  const r = mandate(['mint', '--key', key('alice'), '--to', assistant, '--action', 'slack:*', '--expires', '1h'])
  return r.stdout
}

/** Run, and how long it took in seconds. */
function timed(args: readonly string[], options: Parameters<typeof mandate>[1] = {}) {
  const start = performance.now()
  const r = mandate(args, options)
  return { ...r, seconds: (performance.now() - start) / 1000 }
}

const NO_ANSWER = (url: string, s: string) => `mandate: error: the service at ${url} did not answer within ${s}s\n`
const HINT = 'mandate: hint: is it the mandate service, and is it up? wait longer with --timeout SECONDS (or MANDATE_TIMEOUT)\n'

describe('what a service answers is bounded, and never followed elsewhere', () => {
  it('an answer past 16 MiB (counted as it inflates) is refused at once: exit 3, naming the URL', () => {
    const r = timed(['approvals', 'list', '--key', key('alice'), '--service', inflating, '--timeout', '60'])
    expect([r.code, r.stderr]).toEqual([
      3,
      `mandate: error: the service at ${inflating} answered GET /v1/approvals with more than 16777216 bytes\nmandate: hint: is --service (or MANDATE_SERVICE) the mandate service?\n`,
    ])
    expect(r.seconds).toBeLessThan(30)
  })

  it('a redirect is refused, not followed: exit 3', () => {
    const r = mandate(['approvals', 'list', '--key', key('alice'), '--service', redirecting])
    expect([r.code, r.stderr]).toEqual([
      3,
      `mandate: error: the service at ${redirecting} answered GET /v1/approvals with a redirect (HTTP 307), which a signed request does not follow\nmandate: hint: point --service (or MANDATE_SERVICE) at the service itself\n`,
    ])
  })
})

describe('timeouts: a service that never answers does not hang the CLI', () => {
  it('the inbox (list, show, request), approve by id and revoke --service time out with exit 3, naming the URL', () => {
    const env = { MANDATE_SERVICE: silent, MANDATE_TIMEOUT: '1' }
    const inv = mandate(['invoke', '--key', key('assistant'), '--action', 'slack:send', '--audience', 'slack'], { input: grant() }).stdout
    const id = 'ab'.repeat(32)
    for (const [args, input] of [
      [['approvals', 'list', '--key', key('alice')], ''],
      [['approvals', 'show', id, '--key', key('alice')], ''],
      [['approvals', 'request'], inv],
      [['approve', id, '--key', key('alice'), '--yes'], ''],
      [['revoke', '--key', key('alice')], grant()],
    ] as const) {
      const r = timed(args, { env, input })
      expect(r.code, args.join(' ')).toBe(3)
      expect(r.stderr, args.join(' ')).toBe(NO_ANSWER(silent, '1') + HINT)
      expect(r.seconds, args.join(' ')).toBeLessThan(8)
    }
  })

  it('--timeout beats MANDATE_TIMEOUT; a stalled body times out too; --json carries the error', () => {
    const r = timed(['approvals', 'list', '--key', key('alice'), '--service', stalling, '--timeout', '0.5', '--json'], {
      env: { MANDATE_TIMEOUT: '60' },
    })
    expect(r.code).toBe(3)
    expect(r.json()).toEqual({
      error: {
        code: 'ERR_IO',
        message: `the service at ${stalling} did not answer within 0.5s`,
        hint: expect.stringContaining('--timeout'),
      },
    })
    expect(r.seconds).toBeLessThan(8)
  })

  it('approvals show --wait S waits S more than the timeout, and no longer', () => {
    const r = timed(['approvals', 'show', 'cd'.repeat(32), '--key', key('alice'), '--wait', '1', '--service', silent, '--timeout', '1'])
    expect([r.code, r.stderr]).toEqual([3, NO_ANSWER(silent, '2') + HINT])
    expect(r.seconds).toBeGreaterThanOrEqual(1.9)
    expect(r.seconds).toBeLessThan(8)
  })

  it('verify: learning the service key times out; with a pinned key, the feed sync times out and the decision fails closed', () => {
    const sub = mandate(['attenuate', '--key', key('assistant'), '--action', 'slack:read'], { input: grant() }).stdout
    const args = ['verify', '--root', alice, '--audience', 'slack', '--action', 'slack:read', '--service', silent, '--timeout', '1']
    const learn = timed(args, { input: sub })
    expect([learn.code, learn.stderr]).toEqual([3, NO_ANSWER(silent, '1') + HINT])
    const pinned = timed([...args, '--service-key', assistant, '--json'], { input: sub })
    expect(pinned.code).toBe(3)
    expect(pinned.json<{ code: string }>().code).toBe('ERR_REVOCATION_STALE')
    expect(pinned.stderr).toContain(`mandate: warning: revocations from ${silent}: `)
    expect(pinned.stderr).toContain('did not answer within')
    expect(pinned.seconds).toBeLessThan(8)
  })

  it('a bad --timeout or MANDATE_TIMEOUT is a usage error', () => {
    for (const t of ['0', 'soon', '-1', '99999']) {
      const r = mandate(['approvals', 'list', '--key', key('alice'), '--service', silent, '--timeout', t])
      expect([r.code, r.stderr], t).toEqual([2, expect.stringContaining('--timeout: expected seconds')])
    }
    const env = mandate(['approvals', 'list', '--key', key('alice'), '--service', silent], { env: { MANDATE_TIMEOUT: 'x' } })
    expect(env.code).toBe(2)
  })

  it('a refused connection names the URL and the reason; a URL with credentials is refused unread', () => {
    const r = mandate(['approvals', 'list', '--key', key('alice'), '--service', `${closed}/`])
    expect(r.code).toBe(3)
    expect(r.stderr).toBe(
      `mandate: error: cannot reach the service at ${closed}: connection refused\n` +
        'mandate: hint: is `mandate serve` running there? check --service (or MANDATE_SERVICE)\n',
    )
    const secret = mandate(['approvals', 'list', '--key', key('alice'), '--json'], {
      env: { MANDATE_SERVICE: 'http://user:pw@127.0.0.1:9' },
    })
    expect(secret.code).toBe(2)
    expect(secret.json<{ error: { message: string } }>().error.message).toBe(
      '--service: the URL carries credentials (user@ or user:password@)',
    )
    expect(secret.stdout + secret.stderr).not.toContain('pw')
  })
})

describe('serve blames what failed', () => {
  const serve = (extra: readonly string[]) =>
    timed(['serve', '--port', '0', '--root', alice, '--key', join(dir, 'service.pem'), '--log-level', 'silent', ...extra])

  it('a PostgreSQL URL that cannot be reached blames the database (credentials hidden), not --host', () => {
    const refused = serve(['--db', 'postgres://mandate:s3cret@127.0.0.1:1/mandate'])
    expect(refused.code).toBe(3)
    expect(refused.stderr).toBe(
      'mandate: error: cannot connect to the database postgres://127.0.0.1:1/mandate: connection refused\n' +
        'mandate: hint: is PostgreSQL running and reachable there, with that role and database? check --db (or MANDATE_DB)\n',
    )
    const unknown = serve(['--db', 'postgres://mandate@no-such-host.invalid/mandate'])
    expect(unknown.code).toBe(3)
    expect(unknown.stderr).toContain('mandate: error: cannot connect to the database postgres://no-such-host.invalid/mandate: ')
    expect(unknown.stderr).not.toContain('--host')
    // libpq also takes a password in the query string: the query is never shown.
    const query = serve(['--db', 'postgresql://mandate@127.0.0.1:1/mandate?sslmode=disable&password=PGQSECRET#x'])
    expect(query.code).toBe(3)
    expect(query.stderr).toContain(
      'mandate: error: cannot connect to the database postgresql://127.0.0.1:1/mandate?…: connection refused\n',
    )
    expect(query.stderr).not.toContain('PGQSECRET')
  })

  it('an address that cannot be listened on blames --host', () => {
    const r = serve(['--host', 'no-such-host.invalid', '--db', join(dir, 'x.db')])
    expect(r.code).toBe(3)
    expect(r.stderr).toContain('mandate: error: cannot listen on no-such-host.invalid:0')
    expect(r.stderr).toContain('mandate: hint: check --host and --port')
  })
})
