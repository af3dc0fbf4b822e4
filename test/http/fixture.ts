/**
 * One API guarded four ways (Fetch, Hono, Express, Fastify) and the scenarios every adapter must
 * pass over real HTTP on loopback (spec/http-v1.md): allowed, no credentials, denied action,
 * argument rule, approval required then approved, quota exhausted, replay, body swapped after
 * signing, invocation moved to another path, unmappable body, content over the limit.
 */
import { expect, it } from 'vitest'
import { createHttpGuard, createMandateFetch, type HttpGuard, type RouteRequest } from '../../src/http.js'
import {
  approve,
  createMemoryReplayCache,
  createMemoryUsageStore,
  createVerifier,
  formatApproval,
  formatMandate,
  generateKeyPair,
  MandateError,
  mint,
  parseInvocation,
  toDidKey,
} from '../../src/index.js'

export const alice = generateKeyPair()
export const assistant = generateKeyPair()
const now = () => Math.floor(Date.now() / 1000)

/** The assistant's mandate: send (to example.com only), read, delete (Alice approves). */
export const grant = mint({
  principal: alice,
  to: toDidKey(assistant.publicKey),
  name: 'assistant',
  caveats: [
    { type: 'actions', patterns: ['email:send', 'email:read', 'email:delete'] },
    { type: 'where', actions: ['email:send'], rules: [{ path: 'to', op: 'glob', value: '*@example.com' }] },
    { type: 'approval', actions: ['email:delete'], approvers: [toDidKey(alice.publicKey)], quorum: 1 },
    { type: 'window', expires: now() + 3600 },
  ],
})

/** A reader allowed two reads an hour. */
export const reader = mint({
  principal: alice,
  to: toDidKey(assistant.publicKey),
  name: 'reader',
  caveats: [
    { type: 'actions', patterns: ['email:read'] },
    { type: 'uses', max: 2, per: 3600 },
    { type: 'window', expires: now() + 3600 },
  ],
})

export function newGuard(): HttpGuard {
  const verifier = createVerifier({
    roots: [{ key: toDidKey(alice.publicKey), name: 'alice' }],
    audience: 'mail',
    revocations: 'none',
    usage: createMemoryUsageStore(),
    replay: createMemoryReplayCache(),
  })
  return createHttpGuard({ verifier })
}

/** What each route means; the same for every framework. */
export const routes = {
  /**
   * `type` is the request's Content-Type: it is not bound (spec/http-v1.md §3), so the route
   * refuses one it does not read, lest the framework hand the handler the signed bytes read
   * another way (Express: a Buffer; Fastify: another parser, or 415 after the guard allowed).
   */
  send(user: string, body: Uint8Array, type: string | null | undefined): RouteRequest {
    if ((type ?? '').split(';')[0]?.trim().toLowerCase() !== 'application/json') {
      throw new MandateError('ERR_REQUEST_INVALID', 'the body is not application/json', { hint: 'send {"to": "…"} as application/json' })
    }
    let to: unknown
    try {
      to = (JSON.parse(new TextDecoder().decode(body)) as { to?: unknown }).to
    } catch {
      throw new MandateError('ERR_REQUEST_INVALID', 'the body is not JSON', { hint: 'send {"to": "…"}' })
    }
    if (typeof to !== 'string') throw new MandateError('ERR_REQUEST_INVALID', 'the body has no "to"', { hint: 'send {"to": "…"}' })
    return { action: 'email:send', resource: `mailbox/${user}`, args: { to } }
  },
  read: (user: string): RouteRequest => ({ action: 'email:read', resource: `mailbox/${user}` }),
  remove: (user: string, id: string): RouteRequest => ({ action: 'email:delete', resource: `mailbox/${user}/${id}` }),
}

/** A running server: its base URL, the handler calls it served, and how to stop it. */
export interface Served {
  readonly url: string
  readonly handled: string[]
  close(): Promise<void>
}

/**
 * Every server answers, once allowed: `{ by: <holder name>, action, body? }` and records
 * `METHOD path` in `handled`; POST /mailboxes/:user/send also echoes the parsed JSON body it
 * received (so the test sees the body still reached the handler intact).
 */
export type Start = (guard: HttpGuard, handled: string[]) => Promise<Omit<Served, 'handled'>>

interface Sent {
  url: string
  init: RequestInit
}

function recorder(): { sent: Sent[]; fetch: typeof fetch } {
  const sent: Sent[] = []
  return {
    sent,
    fetch: (async (input: string | URL | Request, init?: RequestInit) => {
      sent.push({ url: String(input), init: { ...init } })
      return fetch(input, init)
    }) as typeof fetch,
  }
}

async function problem(res: Response): Promise<{ code?: string; resetAt?: unknown; [k: string]: unknown }> {
  expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/)
  return (await res.json()) as { code?: string; resetAt?: unknown }
}

/**
 * The scenarios, for one framework. `parsesFirst`: the framework parses the content before the
 * guard decides, and answers content its parser refuses itself (Fastify, spec §5).
 */
export function scenarios(start: Start, { parsesFirst = false } = {}): void {
  const serve = async (): Promise<Served> => {
    const handled: string[] = []
    const s = await start(newGuard(), handled)
    return { ...s, handled }
  }
  const agent = (mandate = grant) => {
    const r = recorder()
    return { ...r, call: createMandateFetch({ mandate: formatMandate(mandate), key: assistant, audience: 'mail', fetch: r.fetch }) }
  }
  const json = { 'content-type': 'application/json' }

  it('lets an allowed request through, with the decision on the context and the body intact', async () => {
    const s = await serve()
    try {
      const { call } = agent()
      const res = await call(`${s.url}/mailboxes/alice/send`, {
        method: 'POST',
        headers: json,
        body: JSON.stringify({ to: 'bob@example.com' }),
        mandate: { action: 'email:send', resource: 'mailbox/alice', args: { to: 'bob@example.com' } },
      })
      expect(res.status).toBe(200)
      expect(await res.json()).toEqual({ by: 'assistant', action: 'email:send', body: { to: 'bob@example.com' } })
      const read = await call(`${s.url}/mailboxes/alice/messages?folder=inbox`, {
        mandate: { action: 'email:read', resource: 'mailbox/alice' },
      })
      expect(read.status).toBe(200)
      expect(s.handled).toEqual(['POST /mailboxes/alice/send', 'GET /mailboxes/alice/messages'])
    } finally {
      await s.close()
    }
  })

  it('answers a request without an invocation 401 with a challenge, and a malformed one 401 invalid_token', async () => {
    const s = await serve()
    try {
      const none = await fetch(`${s.url}/mailboxes/alice/messages`)
      expect(none.status).toBe(401)
      expect(none.headers.get('www-authenticate')).toBe('Mandate realm="mail"')
      expect((await problem(none)).code).toBeUndefined()
      const bearer = await fetch(`${s.url}/mailboxes/alice/messages`, { headers: { authorization: 'Bearer abc' } })
      expect(bearer.status).toBe(401)
      const bad = await fetch(`${s.url}/mailboxes/alice/messages`, { headers: { authorization: 'Mandate mni1_@@@' } })
      expect(bad.status).toBe(401)
      expect(bad.headers.get('www-authenticate')).toBe('Mandate realm="mail", error="invalid_token"')
      expect((await problem(bad)).code).toBe('ERR_TEXT_FORMAT')
      const mandate = await fetch(`${s.url}/mailboxes/alice/messages`, { headers: { authorization: `Mandate ${formatMandate(grant)}` } })
      expect(mandate.status).toBe(401)
      expect((await problem(mandate)).code).toBe('ERR_TEXT_FORMAT')
      expect(s.handled).toEqual([])
    } finally {
      await s.close()
    }
  })

  it('denies an action outside the mandate (403) and an argument its rule refuses (403)', async () => {
    const s = await serve()
    try {
      const { call } = agent(reader)
      const send = await call(`${s.url}/mailboxes/alice/send`, {
        method: 'POST',
        headers: json,
        body: JSON.stringify({ to: 'bob@example.com' }),
        mandate: { action: 'email:send', resource: 'mailbox/alice', args: { to: 'bob@example.com' } },
      })
      expect(send.status).toBe(403)
      expect((await problem(send)).code).toBe('ERR_ACTION_DENIED')
      const eve = await agent().call(`${s.url}/mailboxes/alice/send`, {
        method: 'POST',
        headers: json,
        body: JSON.stringify({ to: 'eve@evil.test' }),
        mandate: { action: 'email:send', resource: 'mailbox/alice', args: { to: 'eve@evil.test' } },
      })
      expect(eve.status).toBe(403)
      const p = await problem(eve)
      expect(p).toMatchObject({ status: 403, title: 'Forbidden', code: 'ERR_ARGS_DENIED', block: 0, caveat: 'where' })
      expect(s.handled).toEqual([])
    } finally {
      await s.close()
    }
  })

  it('answers approval required with the request id, then lets the same invocation through with the approval', async () => {
    const s = await serve()
    try {
      const { call, sent } = agent()
      const first = await call(`${s.url}/mailboxes/alice/messages/42`, {
        method: 'DELETE',
        mandate: { action: 'email:delete', resource: 'mailbox/alice/42', intent: 'clean up spam' },
      })
      expect(first.status).toBe(403)
      const p = await problem(first)
      const captured = sent[0] as Sent
      const headers = new Headers(captured.init.headers)
      const invocation = parseInvocation((headers.get('authorization') as string).slice('Mandate '.length))
      expect(first.headers.get('mandate-approval-request')).toBe(invocation.idHex)
      expect(p).toMatchObject({
        code: 'ERR_APPROVAL_REQUIRED',
        approvalRequest: { id: invocation.idHex, filed: false, quorum: 1, given: 0, missing: [toDidKey(alice.publicKey)] },
      })
      expect(s.handled).toEqual([])
      headers.set('mandate-approval', formatApproval(approve({ approver: alice, invocation })))
      const again = await fetch(captured.url, { ...captured.init, headers })
      expect(again.status).toBe(200)
      expect(s.handled).toEqual(['DELETE /mailboxes/alice/messages/42'])
    } finally {
      await s.close()
    }
  })

  it('answers an exhausted quota 429 with Retry-After, and a denied request spends nothing', async () => {
    const s = await serve()
    try {
      const { call } = agent(reader)
      const read = () => call(`${s.url}/mailboxes/alice/messages`, { mandate: { action: 'email:read', resource: 'mailbox/alice' } })
      // A denial before the counter (wrong resource) must not spend one of the two uses.
      const wrong = await call(`${s.url}/mailboxes/alice/messages`, { mandate: { action: 'email:read', resource: 'mailbox/bob' } })
      expect(wrong.status).toBe(401)
      expect((await problem(wrong)).code).toBe('ERR_REQUEST_INVALID')
      expect((await read()).status).toBe(200)
      expect((await read()).status).toBe(200)
      const third = await read()
      expect(third.status).toBe(429)
      const retry = Number(third.headers.get('retry-after'))
      expect(retry).toBeGreaterThan(3500)
      expect(retry).toBeLessThanOrEqual(3600)
      const p = await problem(third)
      expect(p.code).toBe('ERR_USAGE_EXHAUSTED')
      expect(typeof p.resetAt).toBe('number')
      expect(s.handled).toHaveLength(2)
    } finally {
      await s.close()
    }
  })

  it('refuses a captured request replayed, its body swapped, or its invocation moved to another path', async () => {
    const s = await serve()
    try {
      const { call, sent } = agent()
      const ok = await call(`${s.url}/mailboxes/alice/send`, {
        method: 'POST',
        headers: json,
        body: JSON.stringify({ to: 'bob@example.com' }),
        mandate: { action: 'email:send', resource: 'mailbox/alice', args: { to: 'bob@example.com' } },
      })
      expect(ok.status).toBe(200)
      const captured = sent[0] as Sent
      const replay = await fetch(captured.url, captured.init)
      expect(replay.status).toBe(401)
      expect((await problem(replay)).code).toBe('ERR_REPLAY')

      // A fresh invocation, captured before it reaches the API, then altered.
      const held: Sent[] = []
      const hold = createMandateFetch({
        mandate: grant,
        key: assistant,
        audience: 'mail',
        fetch: (async (u: string | URL | Request, i?: RequestInit) => {
          held.push({ url: String(u), init: { ...i } })
          return new Response(null, { status: 204 })
        }) as typeof fetch,
      })
      await hold(`${s.url}/mailboxes/alice/send`, {
        method: 'POST',
        headers: json,
        body: JSON.stringify({ to: 'bob@example.com' }),
        mandate: { action: 'email:send', resource: 'mailbox/alice', args: { to: 'bob@example.com' } },
      })
      const h = held[0] as Sent
      const swapped = await fetch(h.url, { ...h.init, body: JSON.stringify({ to: 'bob@example.com', cc: 'eve@evil.test' }) })
      expect(swapped.status).toBe(401)
      expect(swapped.headers.get('www-authenticate')).toBe('Mandate realm="mail", error="invalid_token"')
      expect(await problem(swapped)).toMatchObject({ code: 'ERR_REQUEST_INVALID', detail: expect.stringContaining('args') })
      const moved = await fetch(`${s.url}/mailboxes/bob/send`, h.init)
      expect(moved.status).toBe(401)
      expect((await problem(moved)).code).toBe('ERR_REQUEST_INVALID')
      const query = await fetch(`${h.url}?draft=1`, h.init)
      expect(query.status).toBe(401)
      // Untouched, it still goes through once: none of the refusals claimed its id.
      const original = await fetch(h.url, h.init)
      expect(original.status).toBe(200)
      expect(s.handled).toEqual(['POST /mailboxes/alice/send', 'POST /mailboxes/alice/send'])
    } finally {
      await s.close()
    }
  })

  it('answers a body the route (or the framework parsing first) cannot read 400, and content over the limit 413, before any verification', async () => {
    const s = await serve()
    try {
      const { call } = agent()
      const notJson = await call(`${s.url}/mailboxes/alice/send`, {
        method: 'POST',
        headers: json,
        body: 'to=bob',
        mandate: { action: 'email:send', resource: 'mailbox/alice', args: { to: 'bob@example.com' } },
      })
      expect(notJson.status).toBe(400)
      if (parsesFirst) expect(((await notJson.json()) as { code: string }).code).toBe('FST_ERR_CTP_INVALID_JSON_BODY')
      else {
        expect(await problem(notJson)).toMatchObject({
          code: 'ERR_REQUEST_INVALID',
          detail: 'the body is not JSON',
          hint: 'send {"to": "…"}',
        })
      }
      const big = await call(`${s.url}/mailboxes/alice/send`, {
        method: 'POST',
        headers: json,
        body: JSON.stringify({ to: 'bob@example.com', pad: 'x'.repeat(70_000) }),
        mandate: { action: 'email:send', resource: 'mailbox/alice', args: { to: 'bob@example.com' } },
      })
      expect(big.status).toBe(413)
      expect((await problem(big)).code).toBe('ERR_LIMIT_SIZE')
      expect(s.handled).toEqual([])
    } finally {
      await s.close()
    }
  })
}

/** The limit every test server is built with, so that the 413 case stays small. */
export const MAX_BODY = 64 * 1024
