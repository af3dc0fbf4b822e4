/**
 * The approval inbox client against a scripted inbox: what it sends for each call (method,
 * path, query, body, signature), and how it reads every answer a service, or a stranger on its
 * URL, can give — out of shape, refusals (each with its code, message and what to do), a body
 * cut off, a long poll — and that misuse is refused before any request.
 */
import { createServer, type Server } from 'node:http'
import { afterAll, describe, expect, it } from 'vitest'
import {
  answerApprovalRequest,
  approve,
  awaitApproval,
  fileApprovalRequest,
  formatApproval,
  formatInvocation,
  generateKeyPair,
  invoke,
  type KeyPair,
  listApprovalRequests,
  MandateError,
  mint,
  readApprovalRequest,
  toDidKey,
  type UnverifiedInvocation,
} from '../../src/index.js'

const BASE = 'http://inbox.test'
const ID = 'ab'.repeat(32)
const HINT = 'the approval inbox is needed to ask for this approval; the request stays denied until it answers (fail closed)'
const SHAPE_HINT = 'is the URL the mandate service?'

interface Asked {
  readonly url: string
  readonly method: string
  readonly headers: Headers
  readonly body: string
}

/**
 * An inbox at BASE whose answers come from `answer` (the request, and how many came before);
 * `asked` records each request. Its `fetch` is the one the client is given.
 */
function inboxAt(answer: (asked: Asked, n: number) => Response | Promise<Response>) {
  const asked: Asked[] = []
  const fetch = (async (url: string, init: RequestInit) => {
    const bytes = init.body as Uint8Array | undefined
    const request = {
      url,
      method: init.method ?? 'GET',
      headers: new Headers(init.headers),
      body: bytes === undefined ? '' : new TextDecoder().decode(bytes),
    }
    asked.push(request)
    return answer(request, asked.length - 1)
  }) as typeof globalThis.fetch
  return { asked, options: { url: BASE, fetch } }
}

/** A request's state as the service answers it. */
const state = (over: Record<string, unknown> = {}) => ({
  id: ID,
  status: 'pending',
  approvers: ['did:key:z6MkAlice'],
  approvals: {},
  createdAt: 1_700_000_000,
  expiresAt: 1_700_000_360,
  ...over,
})

/** A request as an approver lists it. */
const listed = (over: Record<string, unknown> = {}) => ({
  ...state(),
  requestedBy: { key: 'did:key:z6MkHelper' },
  onBehalfOf: 'did:key:z6MkAlice',
  chain: [{ block: 0 }],
  action: 'email:send',
  args: {},
  audience: 'mail',
  invocation: 'mni1_x',
  ...over,
})

/** Alice's grant to an assistant whose sending needs her approval, and one invocation of it. */
function asking(): { alice: KeyPair; assistant: KeyPair; inv: UnverifiedInvocation } {
  const alice = generateKeyPair()
  const assistant = generateKeyPair()
  const grant = mint({
    principal: alice,
    to: toDidKey(assistant.publicKey),
    caveats: [
      { type: 'approval', actions: ['email:send'], approvers: [toDidKey(alice.publicKey)], quorum: 1 },
      { type: 'window', expires: Math.floor(Date.now() / 1000) + 3600 },
    ],
  })
  return { alice, assistant, inv: invoke(grant, { key: assistant, action: 'email:send', audience: 'mail' }) }
}

/** What `f` rejects with: code (or error name), message and hint. */
async function failure(f: () => Promise<unknown>): Promise<{ code: string; message: string; hint?: string }> {
  try {
    await f()
  } catch (e) {
    if (e instanceof MandateError) return { code: e.code, message: e.message, ...(e.hint === undefined ? {} : { hint: e.hint }) }
    return { code: (e as Error).name, message: (e as Error).message }
  }
  throw new Error('expected a failure')
}

describe('what the client sends', () => {
  it('files with an unsigned POST of the invocation, trimmed, as JSON; a base URL with trailing slashes is the same base', async () => {
    const { inv } = asking()
    const text = formatInvocation(inv)
    const { asked, options } = inboxAt(() => Response.json(state({ id: inv.idHex }), { status: 201 }))
    const filed = await fileApprovalRequest(`\n ${text}\n`, { ...options, url: `${BASE}//` })
    expect(filed).toStrictEqual(state({ id: inv.idHex }))
    expect(asked).toHaveLength(1)
    const [post] = asked as [Asked]
    expect([post.method, post.url, post.headers.get('content-type')]).toEqual(['POST', `${BASE}/v1/approvals`, 'application/json'])
    expect(JSON.parse(post.body)).toEqual({ invocation: text })
    expect(post.headers.has('signature')).toBe(false)
  })

  it('reads with a GET signed by the key, without body or content type, and asks the service to hold it only for a wait', async () => {
    const { assistant } = asking()
    const { asked, options } = inboxAt(() => Response.json(state()))
    expect(await readApprovalRequest(ID, assistant, options)).toStrictEqual(state())
    await readApprovalRequest(ID, assistant, { ...options, waitSeconds: 30 })
    expect(asked.map((a) => [a.method, a.url])).toEqual([
      ['GET', `${BASE}/v1/approvals/${ID}`],
      ['GET', `${BASE}/v1/approvals/${ID}?wait=30`],
    ])
    const [get] = asked as [Asked]
    expect(get.body).toBe('')
    expect(get.headers.has('content-type')).toBe(false)
    expect(get.headers.get('signature-input')).toContain(`keyid="${toDidKey(assistant.publicKey)}"`)
  })

  it('lists with the approver, and the limit and cursor only when given', async () => {
    const { alice } = asking()
    const { asked, options } = inboxAt(() => Response.json({ pending: [] }))
    expect(await listApprovalRequests(alice, options)).toStrictEqual({ pending: [] })
    await listApprovalRequests(alice, { ...options, limit: 1, before: '1700000000.ab' })
    await listApprovalRequests(alice, { ...options, limit: 100 })
    const queries = asked.map((a) => Object.fromEntries(new URL(a.url).searchParams))
    const approver = toDidKey(alice.publicKey)
    expect(queries).toEqual([{ approver }, { approver, limit: '1', before: '1700000000.ab' }, { approver, limit: '100' }])
    expect(asked.map((a) => new URL(a.url).pathname)).toEqual(['/v1/approvals', '/v1/approvals', '/v1/approvals'])
  })

  it('answers with a POST of the approval text, trimmed, signed by the approver, to the request it names', async () => {
    const { alice, inv } = asking()
    const approval = formatApproval(approve({ approver: alice, invocation: inv }))
    const { asked, options } = inboxAt(() => Response.json(state({ id: inv.idHex, status: 'approved' })))
    expect((await answerApprovalRequest(`  ${approval}\n`, alice, options)).status).toBe('approved')
    const [post] = asked as [Asked]
    expect([post.method, post.url]).toEqual(['POST', `${BASE}/v1/approvals/${inv.idHex}`])
    expect(JSON.parse(post.body)).toEqual({ approval })
    expect(post.headers.get('signature-input')).toContain(`keyid="${toDidKey(alice.publicKey)}"`)
  })
})

describe('answers the client refuses', () => {
  /** Answers that break one rule each of a request's state. */
  const broken: [string, unknown][] = [
    ['null', null],
    ['an array', [state()]],
    ['a string', JSON.stringify(state())],
    ['another status', state({ status: 'denied' })],
    ['approvers not a list', state({ approvers: 'did:key:z6MkAlice' })],
    ['an approver not text', state({ approvers: ['did:key:z6MkAlice', 7] })],
    ['approvals a list', state({ approvals: ['mna1_x'] })],
    ['approvals null', state({ approvals: null })],
    ['approvals text', state({ approvals: 'mna1_x' })],
    ['an approval not text', state({ approvals: { 'did:key:z6MkAlice': 7 } })],
    ['createdAt not a whole number', state({ createdAt: 1.5 })],
    ['expiresAt not a number', state({ expiresAt: '1700000360' })],
  ]

  it('a state out of shape, for the request asked about: out of shape, naming the URL', async () => {
    const { assistant } = asking()
    for (const [why, body] of broken) {
      const { options } = inboxAt(() => Response.json(body))
      expect(await failure(() => readApprovalRequest(ID, assistant, options)), why).toEqual({
        code: 'ERR_APPROVAL_UNAVAILABLE',
        message: `the approval inbox at ${BASE}/v1/approvals/${ID} answered out of shape`,
        hint: SHAPE_HINT,
      })
    }
  })

  it('filing and answering check the answer the same way', async () => {
    const { alice, inv } = asking()
    const { options } = inboxAt(() => Response.json(state({ id: inv.idHex, approvals: [] }), { status: 201 }))
    expect((await failure(() => fileApprovalRequest(formatInvocation(inv), options))).message).toBe(
      `the approval inbox at ${BASE}/v1/approvals answered out of shape`,
    )
    expect((await failure(() => answerApprovalRequest(approve({ approver: alice, invocation: inv }), alice, options))).message).toBe(
      `the approval inbox at ${BASE}/v1/approvals/${inv.idHex} answered out of shape`,
    )
  })

  /** Requests as listed, each breaking one rule. */
  const brokenListed: [string, unknown][] = [
    ['not an object', 'x'],
    ['no id', listed({ id: undefined })],
    ['an id not 64 hex digits', listed({ id: `${ID}0` })],
    ['an id with a prefix', listed({ id: `x${ID}` })],
    ['requestedBy not an object', listed({ requestedBy: 'did:key:z6MkHelper' })],
    ['a requester key not text', listed({ requestedBy: { key: 7 } })],
    ['a requester name not text', listed({ requestedBy: { key: 'did:key:z6MkHelper', name: 7 } })],
    ['onBehalfOf not text', listed({ onBehalfOf: null })],
    ['chain not a list', listed({ chain: { block: 0 } })],
    ['a block not an object', listed({ chain: [0] })],
    ['a block number not whole', listed({ chain: [{ block: '0' }] })],
    ['a block name not text', listed({ chain: [{ block: 0, name: 7 }] })],
    ['a purpose not text', listed({ chain: [{ block: 0, purpose: 7 }] })],
    ['one bad block of two', listed({ chain: [{ block: 0 }, { block: 1.5 }] })],
    ['action not text', listed({ action: 7 })],
    ['resource not text', listed({ resource: 7 })],
    ['args not an object', listed({ args: ['to'] })],
    ['audience not text', listed({ audience: 7 })],
    ['intent not text', listed({ intent: 7 })],
    ['invocation not text', listed({ invocation: 7 })],
    ['its state out of shape', listed({ status: 'denied' })],
  ]

  it('a page of requests out of shape, or one request in it: out of shape', async () => {
    const { alice } = asking()
    const pages: [string, unknown][] = [
      ['no list', { next: 'a' }],
      ['a cursor not text', { pending: [], next: 7 }],
      ...brokenListed.map(([why, r]): [string, unknown] => [why, { pending: [listed(), r] }]),
    ]
    for (const [why, page] of pages) {
      const { options } = inboxAt(() => Response.json(page))
      expect(await failure(() => listApprovalRequests(alice, options)), why).toEqual({
        code: 'ERR_APPROVAL_UNAVAILABLE',
        message: `the approval inbox at ${BASE}/v1/approvals answered out of shape`,
        hint: SHAPE_HINT,
      })
    }
  })

  it('a listed request keeps what it says and adds nothing it does not', async () => {
    const { alice } = asking()
    const full = listed({
      requestedBy: { key: 'did:key:z6MkHelper', name: 'helper' },
      chain: [
        { block: 0, name: 'assistant' },
        { block: 1, name: 'helper', purpose: 'write to Bob' },
      ],
      resource: 'outbox/1',
      args: { to: 'bob@example.com' },
      intent: 'say hi',
    })
    const { options } = inboxAt(() => Response.json({ pending: [listed(), full], next: '1700000000.ab', extra: 1 }))
    const page = await listApprovalRequests(alice, options)
    expect(page).toStrictEqual({ pending: [listed(), full], next: '1700000000.ab' })
    expect(Object.keys(page.pending[0] ?? {})).not.toContain('resource')
  })

  it('an answer about another request is refused as such', async () => {
    const { assistant } = asking()
    const { options } = inboxAt(() => Response.json(state({ id: 'cd'.repeat(32) })))
    expect(await failure(() => readApprovalRequest(ID, assistant, options))).toEqual({
      code: 'ERR_APPROVAL_UNAVAILABLE',
      message: `the approval inbox at ${BASE}/v1/approvals/${ID} answered for another request`,
      hint: SHAPE_HINT,
    })
  })
})

describe("the service's refusals", () => {
  it('quotes its code and message (cut short), or says it is not the service; a 300 is no answer', async () => {
    const { assistant } = asking()
    const read = async (status: number, body: unknown) =>
      (await failure(() => readApprovalRequest(ID, assistant, inboxAt(() => Response.json(body, { status })).options))).message
    const at = `the approval inbox at ${BASE}/v1/approvals/${ID} answered`
    expect(await read(300, state())).toBe(`${at} 300 (not the mandate service?)`)
    // A fetch that resolves with a network error (a wrapper, a service worker) rather than rejecting.
    const { options } = inboxAt(() => Response.error())
    expect((await failure(() => readApprovalRequest(ID, assistant, options))).message).toBe(`${at} 0 (not the mandate service?)`)
    expect(await read(400, { error: { code: 'ERR_X' } })).toBe(`${at} 400 (not the mandate service?)`)
    expect(await read(400, { error: { message: 'no' } })).toBe(`${at} 400 (not the mandate service?)`)
    expect(await read(400, { error: { code: 'ERR_X', message: 'no' } })).toBe(`${at} 400: ERR_X no`)
    expect(await read(400, { error: { code: 'E'.repeat(100), message: 'm'.repeat(1000) } })).toBe(
      `${at} 400: ${'E'.repeat(64)}… (36 more characters) ${'m'.repeat(300)}… (700 more characters)`,
    )
    // Escaped: the service's words reach logs and terminals.
    expect(await read(400, { error: { code: 'ERR_X\n', message: '\u001b[2Kapproved\u202e' } })).toBe(
      `${at} 400: ERR_X\\n \\x1b[2Kapproved\\u202e`,
    )
  })

  it('says what to do for each refusal', async () => {
    const { assistant } = asking()
    const cases: [number, string, string][] = [
      [401, 'ERR_REQUEST_STALE', 'the invocation is too old or needs no approval: sign a new one'],
      [409, 'ERR_CONFLICT', 'the invocation is too old or needs no approval: sign a new one'],
      [403, 'ERR_ROOT_UNTRUSTED', "the service does not serve this mandate's principal (mandate serve --root NAME=KEY)"],
      [403, 'ERR_NOT_AUTHORIZED', "only the request's requester, principal or approvers may read it: sign with one of their keys"],
      [429, 'ERR_LIMIT_RATE', 'this requester has too many pending requests; wait for answers, or for them to expire'],
      [404, 'ERR_NOT_FOUND', 'the service refused the request (see its code above)'],
      [499, 'ERR_X', 'the service refused the request (see its code above)'],
      [500, 'ERR_INTERNAL', HINT],
      [503, 'ERR_UNAVAILABLE', HINT],
    ]
    for (const [status, code, hint] of cases) {
      const { options } = inboxAt(() => Response.json({ error: { code, message: 'no' } }, { status }))
      expect(await failure(() => readApprovalRequest(ID, assistant, options)), code).toEqual({
        code: 'ERR_APPROVAL_UNAVAILABLE',
        message: `the approval inbox at ${BASE}/v1/approvals/${ID} answered ${status}: ${code} no`,
        hint,
      })
    }
    // Without a code of its own, a 5xx is the inbox being unavailable.
    const { options } = inboxAt(() => new Response('<h1>down</h1>', { status: 500 }))
    expect((await failure(() => readApprovalRequest(ID, assistant, options))).hint).toBe(HINT)
  })

  it('an inbox that cannot be reached: the request stays denied (fail closed)', async () => {
    const { assistant } = asking()
    const { options } = inboxAt(() => Promise.reject(new TypeError('fetch failed')))
    expect(await failure(() => readApprovalRequest(ID, assistant, options))).toEqual({
      code: 'ERR_APPROVAL_UNAVAILABLE',
      message: `the approval inbox at ${BASE}/v1/approvals/${ID} cannot be reached (fetch failed)`,
      hint: HINT,
    })
  })
})

describe('the approval inbox client over HTTP, when the answer is slow', () => {
  const servers: Server[] = []
  async function serve(handler: (res: import('node:http').ServerResponse) => void): Promise<string> {
    const s = createServer((req, res) => {
      req.resume()
      req.on('end', () => handler(res))
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

  it('a body cut off by the deadline is a timeout, not an answer out of shape', async () => {
    const { assistant } = asking()
    const url = await serve((res) => {
      res.writeHead(200, { 'content-type': 'application/json' })
      res.write('{"id":') // and nothing more
    })
    expect(await failure(() => readApprovalRequest(ID, assistant, { url, timeoutMs: 300 }))).toMatchObject({
      code: 'ERR_APPROVAL_UNAVAILABLE',
      message: `the approval inbox at ${url}/v1/approvals/${ID} did not answer within 300 ms (timed out)`,
    })
  })

  it('a long poll has its wait on top of timeoutMs', async () => {
    const { assistant } = asking()
    const url = await serve((res) => {
      setTimeout(() => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(state())), 700)
    })
    expect(await readApprovalRequest(ID, assistant, { url, timeoutMs: 300, waitSeconds: 1 })).toStrictEqual(state())
  })
})

describe('misuse is a TypeError or RangeError, before any request', () => {
  it('a base URL that is not http(s)', async () => {
    const { assistant } = asking()
    const { asked, options } = inboxAt(() => Response.json(state()))
    const message = '"url" expected the service\'s http(s) base URL'
    for (const url of [' http://inbox.test', 'see http://inbox.test', 'ftp://inbox.test', 'http://', new URL(BASE)]) {
      expect(await failure(() => readApprovalRequest(ID, assistant, { ...options, url: url as string })), String(url)).toEqual({
        code: 'TypeError',
        message,
      })
    }
    expect(
      await failure(() => readApprovalRequest(ID, assistant, undefined as unknown as Parameters<typeof readApprovalRequest>[2])),
    ).toEqual({ code: 'TypeError', message })
    expect(asked).toEqual([])
  })

  it('a request id that is not 64 lower-case hex digits', async () => {
    const { assistant } = asking()
    const { asked, options } = inboxAt(() => Response.json(state()))
    for (const id of [ID.toUpperCase(), `x${ID}`, `${ID}0`, ID.slice(1), new String(ID)]) {
      expect(await failure(() => readApprovalRequest(id as string, assistant, options)), String(id)).toEqual({
        code: 'TypeError',
        message: '"id" expected a request id: 64 lower-case hex digits',
      })
    }
    expect(asked).toEqual([])
  })

  it('a wait, a timeout, a time to wait within, or a page size out of range', async () => {
    const { alice } = asking()
    const { asked, options } = inboxAt(() => Response.json(state()))
    for (const waitSeconds of [-1, 1.5, 31]) {
      expect(await failure(() => readApprovalRequest(ID, alice, { ...options, waitSeconds }))).toEqual({
        code: 'RangeError',
        message: `"waitSeconds" expected a whole number of seconds from 0 to 30, got ${waitSeconds}`,
      })
    }
    expect(await failure(() => readApprovalRequest(ID, alice, { ...options, timeoutMs: 0 }))).toEqual({
      code: 'RangeError',
      message: '"timeoutMs" expected a positive number of milliseconds (at most 2147483647), got 0',
    })
    for (const withinMs of [-1, Number.NaN, Number.POSITIVE_INFINITY, '1000']) {
      expect(await failure(() => awaitApproval(ID, alice, { ...options, withinMs: withinMs as number }))).toEqual({
        code: 'RangeError',
        message: `"withinMs" expected a number of milliseconds, 0 or more, got ${String(withinMs)}`,
      })
    }
    for (const limit of [0, 101, 1.5]) {
      expect(await failure(() => listApprovalRequests(alice, { ...options, limit }))).toEqual({
        code: 'RangeError',
        message: `"limit" expected a whole number from 1 to 100, got ${limit}`,
      })
    }
    expect(asked).toEqual([])
  })
})

describe('awaitApproval', () => {
  it('within 0 ms: one look, without a wait', async () => {
    const { assistant } = asking()
    const { asked, options } = inboxAt(() => Response.json(state()))
    expect(await awaitApproval(ID, assistant, { ...options, withinMs: 0 })).toStrictEqual(state())
    expect(asked.map((a) => a.url)).toEqual([`${BASE}/v1/approvals/${ID}`])
  })

  it('long-polls, and pauses when a poll comes back at once: never a busy loop', async () => {
    const { assistant } = asking()
    const { asked, options } = inboxAt(() => Response.json(state()))
    const t0 = Date.now()
    expect((await awaitApproval(ID, assistant, { ...options, withinMs: 1500 })).status).toBe('pending')
    expect(Date.now() - t0).toBeGreaterThanOrEqual(1400)
    expect(asked[0]?.url).toBe(`${BASE}/v1/approvals/${ID}?wait=1`)
    // Polls at most every 250 ms (and one last look), not hundreds.
    expect(asked.length).toBeGreaterThanOrEqual(2)
    expect(asked.length).toBeLessThanOrEqual(8)
  })

  it('an abort during the last wait ends it at once, with its reason', async () => {
    const { assistant } = asking()
    const { options } = inboxAt(() => Response.json(state()))
    const controller = new AbortController()
    // Polls answered at once for ~1 s, then one wait until the time is up (at 1.9 s): aborted in it.
    let abortedAt = 0
    setTimeout(() => {
      abortedAt = Date.now()
      controller.abort(new Error('the agent gave up'))
    }, 1250)
    const f = await failure(() => awaitApproval(ID, assistant, { ...options, withinMs: 1900, signal: controller.signal }))
    expect(f.message).toBe('the agent gave up')
    expect(Date.now() - abortedAt).toBeLessThan(400)
  })

  it('returns as soon as a later poll sees the approval, well before its time is up', async () => {
    const { assistant } = asking()
    let approvedAt = 0
    const { asked, options } = inboxAt((_, n) => {
      if (n === 0) return Response.json(state())
      approvedAt = Date.now()
      return Response.json(state({ status: 'approved' }))
    })
    const t0 = Date.now()
    expect((await awaitApproval(ID, assistant, { ...options, withinMs: 10_000 })).status).toBe('approved')
    expect(Date.now() - t0).toBeLessThan(3000)
    // At once: no pause after the answer that approves (a pause is 250 ms).
    expect(Date.now() - approvedAt).toBeLessThan(200)
    // The first poll asks for all the time there is (10 s, or 9 if a millisecond went by), the next for what is left.
    expect(asked.map((a) => a.url.replace(/=10$/, '=9'))).toEqual([
      `${BASE}/v1/approvals/${ID}?wait=9`,
      `${BASE}/v1/approvals/${ID}?wait=9`,
    ])
  })
})
