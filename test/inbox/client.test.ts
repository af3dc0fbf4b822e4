/**
 * The approval inbox client against the real service (in process, SQLite, HTTP on loopback),
 * and against servers that fail in each way a client must survive: unreachable, silent, not the
 * service, out of shape. Every failure is `ERR_APPROVAL_UNAVAILABLE` naming the URL.
 */
import { createServer, type Server } from 'node:http'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { checkInboxOptions } from '../../src/inbox/client.js'
import {
  answerApprovalRequest,
  approve,
  attenuate,
  awaitApproval,
  createVerifier,
  denyApprovalRequest,
  fileApprovalRequest,
  formatApproval,
  formatInvocation,
  generateKeyPair,
  invoke,
  listApprovalRequests,
  MandateError,
  mint,
  parseInvocation,
  readApprovalRequest,
  toDidKey,
  type UnverifiedInvocation,
} from '../../src/index.js'
import { closedPort } from '../cli/ports.js'
import { thrownAs } from '../helpers/fixtures.js'
import { http, type ServiceUnderTest, startInProcess } from '../helpers/service.js'

const alice = generateKeyPair()
const assistant = generateKeyPair()
const stranger = generateKeyPair()
const ALICE = toDidKey(alice.publicKey)
const grant = mint({
  principal: alice,
  to: toDidKey(assistant.publicKey),
  name: 'assistant',
  caveats: [
    { type: 'actions', patterns: ['email:*'] },
    { type: 'approval', actions: ['email:send'], approvers: [ALICE], quorum: 1 },
    { type: 'window', expires: Math.floor(Date.now() / 1000) + 2 * 86_400 },
  ],
})
const send = (to: string, now?: number) =>
  invoke(grant, { key: assistant, action: 'email:send', args: { to }, audience: 'mail', ...(now === undefined ? {} : { now }) })

let service: ServiceUnderTest
beforeAll(async () => {
  service = await startInProcess({ roots: [`alice=${ALICE}`] })
})
afterAll(() => service?.stop())

async function approveAsAlice(inv: UnverifiedInvocation): Promise<void> {
  const res = await http(`${service.url}/v1/approvals/${inv.idHex}`, {
    body: { approval: formatApproval(approve({ approver: alice, invocation: inv })) },
    key: alice,
  })
  expect(res.status).toBe(200)
}

/** The code and message of what `f` rejects with. */
async function failure(f: () => Promise<unknown>): Promise<{ code: string; message: string; hint?: string }> {
  try {
    await f()
  } catch (e) {
    if (e instanceof MandateError) return { code: e.code, message: e.message, ...(e.hint ? { hint: e.hint } : {}) }
    return { code: (e as Error).name, message: (e as Error).message }
  }
  throw new Error('expected a failure')
}

describe('the approval inbox client, with the service', () => {
  it('files an invocation (again: the same request), reads it as the requester, and sees it approved', async () => {
    const inv = send('bob@example.com')
    const filed = await fileApprovalRequest(formatInvocation(inv), { url: service.url })
    expect(filed).toEqual({
      id: inv.idHex,
      status: 'pending',
      approvers: [ALICE],
      approvals: {},
      createdAt: expect.any(Number),
      // the service's default approval wait: a day, and a minute of skew
      expiresAt: inv.issuedAt + 86_400 + 60,
    })
    expect(await fileApprovalRequest(formatInvocation(inv), { url: `${service.url}/` })).toEqual(filed)
    expect(await readApprovalRequest(inv.idHex, assistant, { url: service.url })).toEqual(filed)
    await approveAsAlice(inv)
    const read = await readApprovalRequest(inv.idHex, alice, { url: service.url })
    expect(read.status).toBe('approved')
    expect(Object.keys(read.approvals)).toEqual([ALICE])
    // What it returns is what the verifier takes.
    const verifier = createVerifier({ roots: [ALICE], audience: 'mail', revocations: 'none' })
    expect((await verifier.authorize({ invocation: inv })).allowed).toBe(false)
    expect((await verifier.authorize({ invocation: inv, approvals: Object.values(read.approvals) })).allowed).toBe(true)
  })

  it('awaitApproval returns as soon as the approval arrives, or the pending state when its time is up', async () => {
    const inv = send('carol@example.com')
    await fileApprovalRequest(formatInvocation(inv), { url: service.url })
    const started = Date.now()
    const waiting = awaitApproval(inv.idHex, assistant, { url: service.url, withinMs: 20_000 })
    await new Promise((r) => setTimeout(r, 300))
    await approveAsAlice(inv)
    expect((await waiting).status).toBe('approved')
    expect(Date.now() - started).toBeLessThan(10_000)

    const other = send('dave@example.com')
    await fileApprovalRequest(formatInvocation(other), { url: service.url })
    const t0 = Date.now()
    const state = await awaitApproval(other.idHex, assistant, { url: service.url, withinMs: 1500 })
    expect(state.status).toBe('pending')
    expect(Date.now() - t0).toBeGreaterThanOrEqual(1400)
    expect(Date.now() - t0).toBeLessThan(5000)
  })

  it('an abort ends the wait at once', async () => {
    const inv = send('erin@example.com')
    await fileApprovalRequest(formatInvocation(inv), { url: service.url })
    const controller = new AbortController()
    const t0 = Date.now()
    setTimeout(() => controller.abort(new Error('the agent gave up')), 300)
    const f = await failure(() => awaitApproval(inv.idHex, assistant, { url: service.url, withinMs: 20_000, signal: controller.signal }))
    expect(f.message).toBe('the agent gave up')
    expect(Date.now() - t0).toBeLessThan(5000)
  })

  it("the service's refusals: ERR_APPROVAL_UNAVAILABLE with its code and message, and what to do", async () => {
    const inv = send('frank@example.com')
    await fileApprovalRequest(formatInvocation(inv), { url: service.url })
    const snoop = await failure(() => readApprovalRequest(inv.idHex, stranger, { url: service.url }))
    expect(snoop.code).toBe('ERR_APPROVAL_UNAVAILABLE')
    expect(snoop.message).toBe(
      `the approval inbox at ${service.url}/v1/approvals/${inv.idHex} answered 403: ERR_NOT_AUTHORIZED only its approvers, its requester and its principal may read this request`,
    )
    const stale = await failure(() =>
      fileApprovalRequest(formatInvocation(send('x@example.com', Math.floor(Date.now() / 1000) - 600)), { url: service.url }),
    )
    expect(stale.message).toContain('answered 401: ERR_REQUEST_STALE')
    expect(stale.hint).toContain('sign a new one')
    const needless = invoke(grant, { key: assistant, action: 'email:read', audience: 'mail' })
    expect((await failure(() => fileApprovalRequest(formatInvocation(needless), { url: service.url }))).message).toContain(
      'answered 409: ERR_CONFLICT',
    )
    const missing = await failure(() => readApprovalRequest('0'.repeat(64), assistant, { url: service.url }))
    expect(missing.message).toContain('answered 404: ERR_NOT_FOUND')
  })
})

describe("the approver's side: list what waits, read it, answer it", () => {
  it('lists the requests waiting for Alice, newest first, with who asks for what, and answers one', async () => {
    const helper = generateKeyPair()
    const sub = attenuate(grant, { key: assistant, to: toDidKey(helper.publicKey), name: 'helper', purpose: 'write to Bob' })
    const now = Math.floor(Date.now() / 1000)
    const older = invoke(sub, { key: helper, action: 'email:send', args: { to: 'bob@example.com' }, audience: 'mail', now: now - 5 })
    const newer = invoke(sub, {
      key: helper,
      action: 'email:send',
      resource: 'outbox/1',
      args: { to: '<script>' },
      audience: 'mail',
      intent: 'say hi',
      now,
    })
    await fileApprovalRequest(formatInvocation(older), { url: service.url })
    await fileApprovalRequest(formatInvocation(newer), { url: service.url })
    const page = await listApprovalRequests(alice, { url: service.url, limit: 100 })
    const ours = page.pending.filter((r) => r.id === older.idHex || r.id === newer.idHex)
    // Newest first: by filing time, then id, both descending (filed within a second, the id decides).
    const order = [...ours].sort((a, b) => b.createdAt - a.createdAt || (a.id < b.id ? 1 : -1)).map((r) => r.id)
    expect(ours.map((r) => r.id)).toEqual(order)
    expect(ours.map((r) => r.id).sort()).toEqual([newer.idHex, older.idHex].sort())
    expect(ours.find((r) => r.id === newer.idHex)).toEqual({
      id: newer.idHex,
      status: 'pending',
      requestedBy: { key: toDidKey(helper.publicKey), name: 'helper' },
      onBehalfOf: ALICE,
      chain: [
        { block: 0, name: 'assistant' },
        { block: 1, name: 'helper', purpose: 'write to Bob' },
      ],
      action: 'email:send',
      resource: 'outbox/1',
      args: { to: '<script>' },
      audience: 'mail',
      intent: 'say hi',
      approvers: [ALICE],
      approvals: {},
      createdAt: expect.any(Number),
      expiresAt: now + 86_400 + 60,
      invocation: formatInvocation(newer),
    })
    // Alice reads what it asks, then approves the invocation it carries.
    const asked = parseInvocation(ours.find((r) => r.id === older.idHex)?.invocation ?? '')
    const answered = await answerApprovalRequest(approve({ approver: alice, invocation: asked }), alice, { url: service.url })
    expect(answered).toMatchObject({ id: older.idHex, status: 'approved', approvers: [ALICE] })
    expect(Object.keys(answered.approvals)).toEqual([ALICE])
    // Answered: no longer listed for her; the other still is.
    const after = (await listApprovalRequests(alice, { url: service.url, limit: 100 })).pending.map((r) => r.id)
    expect(after).toContain(newer.idHex)
    expect(after).not.toContain(older.idHex)
    // The approval text works too, and a stranger cannot post Alice's approval.
    const text = formatApproval(approve({ approver: alice, invocation: newer }))
    const f = await failure(() => answerApprovalRequest(text, stranger, { url: service.url }))
    expect(f.code).toBe('ERR_APPROVAL_UNAVAILABLE')
    expect(f.message).toContain('answered 403: ERR_NOT_AUTHORIZED')
    expect((await answerApprovalRequest(text, alice, { url: service.url })).status).toBe('approved')
  })

  it('denies with a reason: the waiting agent reads who and why at once; the request is closed', async () => {
    const inv = send('mallory@example.com')
    await fileApprovalRequest(formatInvocation(inv), { url: service.url })
    const started = Date.now()
    const waiting = awaitApproval(inv.idHex, assistant, { url: service.url, withinMs: 25_000 })
    await new Promise((r) => setTimeout(r, 300))
    // the reason is trimmed; a line feed and a bidi control are kept (escaped where shown)
    const denied = await denyApprovalRequest(inv.idHex, '  Not to Mallory.\nAsk me first. \u202e ', alice, { url: service.url })
    const denial = { by: ALICE, reason: 'Not to Mallory.\nAsk me first. \u202e', at: expect.any(Number) }
    expect(denied).toMatchObject({ id: inv.idHex, status: 'denied', approvals: {}, denial })
    expect(await waiting).toEqual(denied)
    expect(Date.now() - started).toBeLessThan(5000)
    // read again, waited on again: at once, the same
    const t0 = Date.now()
    expect(await readApprovalRequest(inv.idHex, assistant, { url: service.url, waitSeconds: 20 })).toEqual(denied)
    expect(await awaitApproval(inv.idHex, assistant, { url: service.url, withinMs: 20_000 })).toEqual(denied)
    expect(Date.now() - t0).toBeLessThan(3000)
    // closed: not listed, no approval; the same key again: unchanged
    expect((await listApprovalRequests(alice, { url: service.url, limit: 100 })).pending.map((r) => r.id)).not.toContain(inv.idHex)
    const late = await failure(() => answerApprovalRequest(approve({ approver: alice, invocation: inv }), alice, { url: service.url }))
    expect([late.code, late.message]).toEqual([
      'ERR_APPROVAL_UNAVAILABLE',
      expect.stringContaining(`answered 409: ERR_CONFLICT the request was denied by ${ALICE}`),
    ])
    expect(await denyApprovalRequest(inv.idHex, 'again', alice, { url: service.url })).toEqual(denied)
    // only its approvers and its principal deny
    const other = send('oscar@example.com')
    await fileApprovalRequest(formatInvocation(other), { url: service.url })
    for (const key of [assistant, stranger]) {
      const f = await failure(() => denyApprovalRequest(other.idHex, 'no', key, { url: service.url }))
      expect(f.message).toContain('answered 403: ERR_NOT_AUTHORIZED')
    }
  })

  it('waiting on a request approved before the wait began returns at once', async () => {
    const inv = send('peggy@example.com')
    await fileApprovalRequest(formatInvocation(inv), { url: service.url })
    await approveAsAlice(inv)
    const t0 = Date.now()
    expect((await awaitApproval(inv.idHex, assistant, { url: service.url, withinMs: 25_000 })).status).toBe('approved')
    expect(Date.now() - t0).toBeLessThan(3000)
  })

  it('a reason the service would refuse is a RangeError (or TypeError) before any request', async () => {
    const id = 'ab'.repeat(32)
    const url = `http://127.0.0.1:${await closedPort()}`
    for (const reason of ['', '   ', 'x'.repeat(501), 'a\u0000b', 'bell\u0007', 'a\ud800']) {
      expect((await failure(() => denyApprovalRequest(id, reason, alice, { url }))).code).toBe('RangeError')
    }
    expect(await failure(() => denyApprovalRequest(id, '', alice, { url }))).toEqual({
      code: 'RangeError',
      message: '"reason" must be 1–500 characters (not only spaces), not 0',
    })
    expect(await failure(() => denyApprovalRequest(id, 42 as unknown as string, alice, { url }))).toEqual({
      code: 'TypeError',
      message: '"reason" expected text: why it is denied',
    })
    const notAnId = { code: 'TypeError', message: '"id" expected a request id: 64 lower-case hex digits' }
    expect(await failure(() => denyApprovalRequest('nope', 'no', alice, { url }))).toEqual(notAnId)
    // A list whose text is an id is no id.
    expect(await failure(() => denyApprovalRequest([id] as unknown as string, 'no', alice, { url }))).toEqual(notAnId)
    // 500 characters (code points) are fine: it goes out, and finds nobody
    expect((await failure(() => denyApprovalRequest(id, '😀'.repeat(500), alice, { url }))).code).toBe('ERR_APPROVAL_UNAVAILABLE')
  })

  it("a stranger's list is its own (empty); a bad limit is a RangeError before any request", async () => {
    expect((await listApprovalRequests(stranger, { url: service.url })).pending).toEqual([])
    expect((await failure(() => listApprovalRequests(alice, { url: service.url, limit: 0 }))).code).toBe('RangeError')
    expect((await failure(() => listApprovalRequests(alice, { url: service.url, limit: 101 }))).code).toBe('RangeError')
  })
})

describe('the approval inbox client, when no usable answer comes', () => {
  const servers: Server[] = []
  async function serve(handler: (body: string, res: import('node:http').ServerResponse) => void): Promise<string> {
    const s = createServer((req, res) => {
      let body = ''
      req.on('data', (d) => {
        body += String(d)
      })
      req.on('end', () => handler(body, res))
    })
    servers.push(s)
    await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve))
    return `http://127.0.0.1:${(s.address() as { port: number }).port}`
  }
  afterAll(async () => {
    for (const s of servers) {
      s.closeAllConnections()
      await new Promise((r) => s.close(r))
    }
  })
  const inv = send('grace@example.com')

  it('unreachable: names the URL; one with credentials is refused before anything is sent, never echoed', async () => {
    const port = await closedPort()
    const f = await failure(() => fileApprovalRequest(formatInvocation(inv), { url: `http://127.0.0.1:${port}` }))
    expect(f.code).toBe('ERR_APPROVAL_UNAVAILABLE')
    expect(f.message).toContain(`the approval inbox at http://127.0.0.1:${port}/v1/approvals cannot be reached`)
    const refused = await fileApprovalRequest(formatInvocation(inv), { url: `http://user:secret@127.0.0.1:${port}` }).then(
      () => undefined,
      (e: unknown) => e as Error,
    )
    expect([refused?.constructor.name, refused?.message]).toEqual([
      'TypeError',
      '"url" carries credentials (user@ or user:password@): give the service\'s URL without them',
    ])
  })

  it('silent: timed out after timeoutMs', async () => {
    const url = await serve(() => {}) // never answers
    const f = await failure(() => fileApprovalRequest(formatInvocation(inv), { url, timeoutMs: 300 }))
    expect(f.code).toBe('ERR_APPROVAL_UNAVAILABLE')
    expect(f.message).toBe(`the approval inbox at ${url}/v1/approvals did not answer within 300 ms (timed out)`)
  })

  it('not the service, or out of shape, or about another request', async () => {
    const html = await serve((_, res) => res.writeHead(502, { 'content-type': 'text/html' }).end('<h1>bad gateway</h1>'))
    expect((await failure(() => fileApprovalRequest(formatInvocation(inv), { url: html }))).message).toBe(
      `the approval inbox at ${html}/v1/approvals answered 502 (not the mandate service?)`,
    )
    const empty = await serve((_, res) => res.writeHead(201, { 'content-type': 'application/json' }).end('{}'))
    const shape = await failure(() => fileApprovalRequest(formatInvocation(inv), { url: empty }))
    expect(shape).toMatchObject({
      code: 'ERR_APPROVAL_UNAVAILABLE',
      message: `the approval inbox at ${empty}/v1/approvals answered out of shape`,
    })
    const another = await serve((_, res) =>
      res
        .writeHead(201, { 'content-type': 'application/json' })
        .end(JSON.stringify({ id: 'f'.repeat(64), status: 'approved', approvers: [], approvals: {}, createdAt: 1, expiresAt: 2 })),
    )
    expect((await failure(() => fileApprovalRequest(formatInvocation(inv), { url: another }))).message).toContain(
      'answered for another request',
    )
  })

  it('a denial answered out of shape: a denied status without its denial, or a denial beside another status', async () => {
    const id = 'ab'.repeat(32)
    const denial = { by: ALICE, reason: 'no', at: 5 }
    const state = { id, approvers: [ALICE], approvals: {}, createdAt: 1, expiresAt: 2 }
    const answering = (body: object) =>
      serve((_, res) => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body)))
    const denied = await answering({ ...state, status: 'denied', denial })
    expect(await denyApprovalRequest(id, 'no', alice, { url: denied })).toEqual({ ...state, status: 'denied', denial })
    for (const body of [
      { ...state, status: 'denied' },
      { ...state, status: 'denied', denial: { ...denial, at: '5' } },
      { ...state, status: 'pending', denial },
      { ...state, status: 'approved', denial },
    ]) {
      const url = await answering(body)
      expect(await failure(() => denyApprovalRequest(id, 'no', alice, { url }))).toEqual({
        code: 'ERR_APPROVAL_UNAVAILABLE',
        message: `the approval inbox at ${url}/v1/approvals/${id}/deny answered out of shape`,
        hint: 'is the URL the mandate service?',
      })
    }
  })

  it("options checked at setup (the MCP guard's service) name where they sit", () => {
    expect(thrownAs(() => checkInboxOptions({ url: 'ftp://x' }, 'service'))).toEqual([
      'TypeError',
      '"service.url" expected the service\'s http(s) base URL',
    ])
    expect(thrownAs(() => checkInboxOptions({ url: 'http://x', timeoutMs: -1 }, 'service'))).toEqual([
      'RangeError',
      '"service.timeoutMs" expected a positive number of milliseconds (at most 2147483647), got -1',
    ])
    expect(thrownAs(() => checkInboxOptions({ url: 'http://x', timeoutMs: 1000 }, 'service'))).toBe('nothing')
  })

  it('misuse is a TypeError or RangeError, before any request', async () => {
    expect((await failure(() => readApprovalRequest('ABC', assistant, { url: service.url }))).code).toBe('TypeError')
    expect((await failure(() => readApprovalRequest(inv.idHex, assistant, { url: service.url, waitSeconds: 31 }))).code).toBe('RangeError')
    expect((await failure(() => fileApprovalRequest(formatInvocation(inv), { url: 'ftp://x' }))).code).toBe('TypeError')
  })
})
