/**
 * The guard's parts without a server (spec/http-v1.md §2, §4–§6): reading the fields, the
 * binding, the answers for the codes the framework scenarios do not reach, and the agent's
 * body handling.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { describe, expect, it } from 'vitest'
import { contentDigest } from '../../src/crypto/http-signature.js'
import {
  BodyTooLarge,
  bindArgs,
  challenge,
  createHttpGuard,
  createMandateFetch,
  httpBinding,
  type ReceivedHttpRequest,
  readApprovals,
  readCredentials,
  refusal,
} from '../../src/http.js'
import {
  createMemoryReplayCache,
  createMemoryRevocationView,
  createMemoryUsageStore,
  createVerifier,
  formatInvocation,
  generateKeyPair,
  invoke,
  MandateError,
  mint,
  parseInvocation,
  toDidKey,
  type UsageStore,
} from '../../src/index.js'
import type { Decision, Denied } from '../../src/verify/decision.js'
import { alice, assistant, grant } from './fixture.js'

const utf8 = (s: string) => new TextEncoder().encode(s)

describe('httpBinding and bindArgs', () => {
  it('binds the upper-case method, the WHATWG path and query, and the digest of the exact bytes', () => {
    const body = utf8('{"to":"bob@example.com"}')
    expect(httpBinding('post', 'https://mail.example/a/../v1/send?x=1&y=%2F', body)).toEqual({
      method: 'POST',
      target: '/v1/send?x=1&y=%2F',
      digest: contentDigest(body),
    })
    // An empty query serializes to nothing; a path-only URL reads the same as a full one.
    expect(httpBinding('GET', 'http://h/p?', new Uint8Array()).target).toBe('/p')
    expect(httpBinding('GET', '/p?q=1', new Uint8Array())).toEqual(httpBinding('GET', 'http://other/p?q=1', new Uint8Array()))
    expect(httpBinding('GET', '/p', new Uint8Array()).digest).toBe('sha-256=:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=:')
  })

  it('adds @http and refuses a route argument that starts with @', () => {
    const b = httpBinding('GET', '/p', new Uint8Array())
    const args = { to: 'bob' }
    expect(bindArgs(args, b)).toEqual({ to: 'bob', '@http': b })
    expect(args).toEqual({ to: 'bob' })
    expect(bindArgs(undefined, b)).toEqual({ '@http': b })
    for (const key of ['@http', '@x']) {
      expect(() => bindArgs({ [key]: 'forged' }, b)).toThrow(expect.objectContaining({ code: 'ERR_REQUEST_INVALID' }))
    }
    expect(() => bindArgs(null as never, b)).toThrow(MandateError)
    expect(() => bindArgs(['a'] as never, b)).toThrow(MandateError)
  })

  it('says what is wrong with arguments a route returns, and what to do', () => {
    const b = httpBinding('GET', '/p', new Uint8Array())
    const notAnObject = {
      code: 'ERR_REQUEST_INVALID',
      message: 'the arguments must be an object',
      hint: 'a route returns args as a plain object of argument values',
    }
    for (const args of [null, 'to=bob', 7, ['bob']]) {
      expect(() => bindArgs(args as never, b), String(args)).toThrow(expect.objectContaining(notAnObject))
    }
    expect(() => bindArgs({ to: 'bob', '@http': 'forged' }, b)).toThrow(
      expect.objectContaining({
        code: 'ERR_REQUEST_INVALID',
        message: 'argument names starting with "@" are reserved for bindings: "@http"',
        hint: 'rename the argument; @http is added by the guard and the agent',
      }),
    )
  })

  it('binds a path whose query holds a URL as that path, and refuses a target that is no URL', () => {
    const empty = new Uint8Array()
    expect(httpBinding('GET', '/go?to=http://a.test/b', empty).target).toBe('/go?to=http://a.test/b')
    expect(httpBinding('GET', 'http://api.test/go?to=http://a.test/b', empty).target).toBe('/go?to=http://a.test/b')
    // Two backslashes after the authority are a path ("//x/p"), never the host "x".
    expect(httpBinding('GET', 'http://api.test\\\\x/p', empty).target).toBe('//x/p')
    expect(() => httpBinding('GET', 'https:', empty)).toThrow(
      expect.objectContaining({ code: 'ERR_REQUEST_INVALID', message: 'the request target cannot be read as a URL' }),
    )
  })
})

describe('Authorization and Mandate-Approval', () => {
  it('reads one Mandate credential, scheme in any case, and nothing else', () => {
    expect(readCredentials([])).toEqual({ kind: 'none' })
    expect(readCredentials(['Bearer abc'])).toEqual({ kind: 'none' })
    expect(readCredentials(['Mandatex mni1_A'])).toEqual({ kind: 'none' })
    expect(readCredentials(['Mandate mni1_A'])).toEqual({ kind: 'invocation', text: 'mni1_A' })
    expect(readCredentials(['mANDATE   mni1_A  '])).toEqual({ kind: 'invocation', text: 'mni1_A' })
    expect(readCredentials(['Bearer abc, Mandate mni1_A'])).toEqual({ kind: 'invocation', text: 'mni1_A' })
    expect(readCredentials(['Mandate'])).toEqual({ kind: 'invocation', text: '' })
    expect(readCredentials(['Mandate mni1_A, Mandate mni1_B'])).toEqual({ kind: 'ambiguous' })
    expect(readCredentials(['Mandate mni1_A', 'Mandate mni1_A'])).toEqual({ kind: 'ambiguous' })
    // A part that does not start with a scheme holds no credential, whatever follows.
    expect(readCredentials(['(x) Mandate mni1_A'])).toEqual({ kind: 'none' })
    expect(readCredentials(['"Bearer" Mandate mni1_A'])).toEqual({ kind: 'none' })
  })

  it('the scheme and its value: one or more spaces between, tabs and spaces around, no line break', () => {
    expect(readCredentials([' \tMandate mni1_A\t '])).toEqual({ kind: 'invocation', text: 'mni1_A' })
    expect(readCredentials(['Mandate\tmni1_A'])).toEqual({ kind: 'none' })
    expect(readCredentials(['Mandate \tmni1_A'])).toEqual({ kind: 'invocation', text: '\tmni1_A' })
    expect(readCredentials(['Mandate mni1_A\t mni1_B'])).toEqual({ kind: 'invocation', text: 'mni1_A\t mni1_B' })
    expect(readCredentials(['Mandate ', 'Mandate\t'])).toEqual({ kind: 'ambiguous' })
    // Only this scheme's letters, whole: not a longer scheme, nothing before them.
    expect(readCredentials(['Mandate2 mni1_A', 'x Mandate mni1_B', '((((((( (Mandate mni1_C'])).toEqual({ kind: 'none' })
    expect(readCredentials(['  \t  ', ''])).toEqual({ kind: 'none' })
    for (const line of ['\n', '\r', '\u2028', '\u2029']) {
      expect(readCredentials([`Mandate mni1_A${line}x`])).toEqual({ kind: 'none' })
      expect(readCredentials([`Mandate${line}mni1_A`])).toEqual({ kind: 'none' })
    }
  })

  it('a field of spaces and tabs between a credential and its end is read in one pass (a stranger sends it first)', () => {
    // Backtracking over this took time quadratic in its length: some 30 s for these 256 KiB.
    const field = `Mandate a${' \t'.repeat(128 * 1024)}b`
    expect(readCredentials([field])).toEqual({ kind: 'invocation', text: field.slice('Mandate '.length) })
    expect(readCredentials([`Bearer a${' \t'.repeat(128 * 1024)}b`])).toEqual({ kind: 'none' })
  })

  it('reads approvals as one comma-separated list over every field', () => {
    expect(readApprovals([])).toEqual([])
    expect(readApprovals(['mna1_A,mna1_B ,, ', '  mna1_C'])).toEqual(['mna1_A', 'mna1_B', 'mna1_C'])
  })

  it('quotes the realm', () => {
    expect(challenge('mail', false)).toBe('Mandate realm="mail"')
    expect(challenge('a"b\\c', true)).toBe('Mandate realm="a\\"b\\\\c", error="invalid_token"')
  })
})

/** A received request carrying `invocation`. */
function received(
  invocation: string | undefined,
  init: { method?: string; url?: string; body?: string; approvals?: string } = {},
): ReceivedHttpRequest {
  const fields: Record<string, string[]> = {}
  if (invocation !== undefined) fields['authorization'] = [`Mandate ${invocation}`]
  if (init.approvals !== undefined) fields['mandate-approval'] = [init.approvals]
  return {
    method: init.method ?? 'GET',
    url: init.url ?? '/mailboxes/alice/messages',
    header: (name) => fields[name] ?? [],
    body: async () => utf8(init.body ?? ''),
  }
}

function signedFor(url: string, method = 'GET', body = '', mandate = grant): string {
  const b = httpBinding(method, url, utf8(body))
  return formatInvocation(
    invoke(mandate, { key: assistant, action: 'email:read', resource: 'mailbox/alice', args: bindArgs({}, b), audience: 'mail' }),
  )
}

function verifierWith(usage: UsageStore) {
  return createVerifier({ roots: [{ key: toDidKey(alice.publicKey), name: 'alice' }], audience: 'mail', revocations: 'none', usage })
}

const read = () => ({ action: 'email:read', resource: 'mailbox/alice' })

describe('createHttpGuard', () => {
  it('fails closed with 503 when the usage counters cannot be reached', async () => {
    const counted = mint({
      principal: alice,
      to: toDidKey(assistant.publicKey),
      caveats: [
        { type: 'uses', max: 5 },
        { type: 'window', expires: Math.floor(Date.now() / 1000) + 600 },
      ],
    })
    const down: UsageStore = {
      consume: async () => {
        throw new Error('the usage service at http://10.1.2.3:8787 answered 500: storage unavailable: disk I/O error')
      },
    }
    const seen: Decision[] = []
    const guard = createHttpGuard({ verifier: verifierWith(down), onDecision: (d) => void seen.push(d) })
    const out = await guard.check(received(signedFor('/mailboxes/alice/messages', 'GET', '', counted)), read)
    expect(out.allowed).toBe(false)
    if (out.allowed) return
    // The caller learns that the API cannot decide now, not what failed inside it.
    expect([out.refusal.status, out.refusal.body]).toStrictEqual([
      503,
      {
        type: 'about:blank',
        title: 'Service Unavailable',
        status: 503,
        detail: 'a service the API relies on cannot answer now',
        code: 'ERR_COUNTER_UNAVAILABLE',
        hint: 'try again later',
      },
    ])
    expect(JSON.stringify(out.refusal)).not.toContain('10.1.2.3')
    // The operator reads the decision itself.
    expect(seen).toEqual([out.decision])
    expect(out.decision?.code).toBe('ERR_COUNTER_UNAVAILABLE')
  })

  it('answers a counter that never frees 429 without Retry-After', async () => {
    const once = mint({
      principal: alice,
      to: toDidKey(assistant.publicKey),
      caveats: [
        { type: 'uses', max: 1 },
        { type: 'window', expires: Math.floor(Date.now() / 1000) + 600 },
      ],
    })
    const guard = createHttpGuard({ verifier: verifierWith(createMemoryUsageStore()) })
    expect((await guard.check(received(signedFor('/mailboxes/alice/messages', 'GET', '', once)), read)).allowed).toBe(true)
    const out = await guard.check(received(signedFor('/mailboxes/alice/messages', 'GET', '', once)), read)
    if (out.allowed) throw new Error('allowed')
    expect(out.refusal.status).toBe(429)
    expect(out.refusal.headers['retry-after']).toBeUndefined()
    expect(out.refusal.body.resetAt).toBeUndefined()
  })

  it('never runs the route nor reads the body without credentials, and refuses two credentials unread', async () => {
    const guard = createHttpGuard({ verifier: verifierWith(createMemoryUsageStore()) })
    let routed = 0
    let read = 0
    const r = (fields: Record<string, string[]>): ReceivedHttpRequest => ({
      method: 'GET',
      url: '/',
      header: (n) => fields[n] ?? [],
      body: async () => {
        read += 1
        return new Uint8Array()
      },
    })
    const route = () => {
      routed += 1
      return { action: 'email:read' }
    }
    const none = await guard.check(r({}), route)
    const two = await guard.check(r({ authorization: ['Mandate mni1_A', 'Mandate mni1_B'] }), route)
    const empty = await guard.check(r({ authorization: ['Mandate'] }), route)
    const spaces = await guard.check(r({ authorization: ['Mandate    '] }), route)
    expect([none.allowed, two.allowed, empty.allowed, spaces.allowed, routed, read]).toEqual([false, false, false, false, 0, 0])
    const problem = { 'content-type': 'application/problem+json' }
    expect(!none.allowed && none.refusal).toStrictEqual({
      status: 401,
      headers: { ...problem, 'www-authenticate': 'Mandate realm="mail"' },
      body: {
        type: 'about:blank',
        title: 'Unauthorized',
        status: 401,
        detail: 'this API takes an invocation: Authorization: Mandate mni1_…',
      },
    })
    const unreadable = (detail: string) => ({
      status: 401,
      headers: { ...problem, 'www-authenticate': 'Mandate realm="mail", error="invalid_token"' },
      body: {
        type: 'about:blank',
        title: 'Unauthorized',
        status: 401,
        detail,
        code: 'ERR_TEXT_FORMAT',
        hint: 'send exactly one invocation: Authorization: Mandate mni1_…',
      },
    })
    expect(!two.allowed && two.refusal).toStrictEqual(unreadable('more than one Mandate credential in Authorization'))
    expect(!empty.allowed && empty.refusal).toStrictEqual(unreadable('Authorization: Mandate holds no invocation'))
    expect(!spaces.allowed && spaces.refusal).toStrictEqual(unreadable('Authorization: Mandate holds no invocation'))
  })

  it('answers content over the limit 413, and lets any other failure to read it propagate', async () => {
    const guard = createHttpGuard({ verifier: verifierWith(createMemoryUsageStore()) })
    const inv = signedFor('/mailboxes/alice/messages')
    const failing = (e: Error): ReceivedHttpRequest => ({ ...received(inv), body: () => Promise.reject(e) })
    const big = await guard.check(failing(new BodyTooLarge(16)), read)
    expect(!big.allowed && big.refusal).toStrictEqual({
      status: 413,
      headers: { 'content-type': 'application/problem+json' },
      body: {
        type: 'about:blank',
        title: 'Content Too Large',
        status: 413,
        detail: 'the request content is larger than 16 bytes',
        code: 'ERR_LIMIT_SIZE',
      },
    })
    await expect(guard.check(failing(new Error('the client went away')), read)).rejects.toThrow('the client went away')
  })

  it('answers 400 a target with a fragment, and a request its route cannot state, with what to do when the route says', async () => {
    const guard = createHttpGuard({ verifier: verifierWith(createMemoryUsageStore()) })
    const inv = signedFor('/mailboxes/alice/messages')
    const bad = (detail: string, hint?: string) => ({
      status: 400,
      headers: { 'content-type': 'application/problem+json' },
      body: {
        type: 'about:blank',
        title: 'Bad Request',
        status: 400,
        detail,
        code: 'ERR_REQUEST_INVALID',
        ...(hint === undefined ? {} : { hint }),
      },
    })
    const fragment = await guard.check(received(inv, { url: '/mailboxes/alice/messages#top' }), read)
    expect(!fragment.allowed && fragment.refusal).toStrictEqual(
      bad('the request target has a fragment ("#"), which HTTP does not send', 'percent-encode a "#" in a path or query as %23'),
    )
    const unhinted = await guard.check(received(inv), () => {
      throw new MandateError('ERR_REQUEST_INVALID', 'no such mailbox')
    })
    expect(!unhinted.allowed && unhinted.refusal).toStrictEqual(bad('no such mailbox'))
    // A route that states nothing: a 400, not a crash.
    const nothing = await guard.check(received(inv), () => undefined as never)
    expect(!nothing.allowed && nothing.refusal).toMatchObject({ status: 400, body: { code: 'ERR_REQUEST_INVALID' } })
    // Another MandateError from the route is a failure of the route, not a 400.
    await expect(
      guard.check(received(inv), () => {
        throw new MandateError('ERR_FORMAT', 'the route read a bad token')
      }),
    ).rejects.toThrow('the route read a bad token')
  })

  it("answers a denial with the decision's code, hint, block and caveat, and nothing it lacks", async () => {
    const guard = createHttpGuard({
      verifier: createVerifier({
        roots: [{ key: toDidKey(alice.publicKey), name: 'alice' }],
        audience: 'mail',
        revocations: 'none',
        replay: createMemoryReplayCache(),
      }),
    })
    const inv = signedFor('/mailboxes/alice/messages')
    expect((await guard.check(received(inv), read)).allowed).toBe(true)
    const replay = await guard.check(received(inv), read)
    if (replay.allowed) throw new Error('allowed')
    expect(replay.refusal.body).toStrictEqual({
      type: 'about:blank',
      title: 'Unauthorized',
      status: 401,
      detail: 'this invocation was already used',
      code: 'ERR_REPLAY',
      hint: 'sign a new invocation for each request',
    })
    // Another audience: refused by the first block's holder check, no hint, no caveat.
    const elsewhere = formatInvocation(
      invoke(grant, {
        key: assistant,
        action: 'email:read',
        resource: 'mailbox/alice',
        args: bindArgs({}, httpBinding('GET', '/mailboxes/alice/messages', new Uint8Array())),
        audience: 'calendar',
      }),
    )
    const other = await guard.check(received(elsewhere), read)
    if (other.allowed) throw new Error('allowed')
    const { code, hint, block, caveat } = other.decision as Denied
    expect(other.refusal.body).toStrictEqual({
      type: 'about:blank',
      title: 'Forbidden',
      status: 403,
      detail: (other.decision as Denied).message,
      code,
      ...(hint === undefined ? {} : { hint }),
      ...(block === undefined ? {} : { block }),
      ...(caveat === undefined ? {} : { caveat }),
    })
    expect(code).toBe('ERR_AUDIENCE')
  })

  it('titles each status as RFC 9110 does, and answers a size error of the token 401 with a challenge', () => {
    const denied = (code: string) => ({ allowed: false, code, message: 'no', audit: {} }) as unknown as Denied
    const at = { audience: 'mail', now: 1_700_000_000 }
    const titles = (codes: string[]) => codes.map((c) => [refusal(denied(c), at).status, refusal(denied(c), at).body.title])
    expect(
      titles(['ERR_INTERNAL', 'ERR_REVOCATION_LIST_INVALID', 'ERR_CLOCK_UNAVAILABLE', 'ERR_ACTION_DENIED', 'ERR_REQUEST_INVALID']),
    ).toEqual([
      [500, 'Internal Server Error'],
      [502, 'Bad Gateway'],
      [503, 'Service Unavailable'],
      [403, 'Forbidden'],
      [401, 'Unauthorized'],
    ])
    const big = refusal(denied('ERR_LIMIT_SIZE'), at)
    expect([big.status, big.headers['www-authenticate'], big.body.code]).toEqual([
      401,
      'Mandate realm="mail", error="invalid_token"',
      'ERR_LIMIT_SIZE',
    ])
    // A denial without hint, block or caveat: none of them, not even undefined.
    expect(refusal(denied('ERR_ACTION_DENIED'), at).body).toStrictEqual({
      type: 'about:blank',
      title: 'Forbidden',
      status: 403,
      detail: 'no',
      code: 'ERR_ACTION_DENIED',
    })
    const exhausted = refusal({ ...denied('ERR_USAGE_EXHAUSTED'), details: {} } as unknown as Denied, at)
    expect([exhausted.status, exhausted.body.title]).toEqual([429, 'Too Many Requests'])
    // The API's own failures: what failed inside stays out, hint and location members too.
    const inside = (code: string) =>
      refusal({ ...denied(code), message: 'at http://10.1.2.3: boom', hint: 'see 10.1.2.3', block: 1, caveat: 'uses' } as Denied, at).body
    expect(['ERR_INTERNAL', 'ERR_REVOCATION_ROLLBACK', 'ERR_REVOCATION_STALE'].map(inside)).toStrictEqual([
      {
        type: 'about:blank',
        title: 'Internal Server Error',
        status: 500,
        detail: 'the API failed while deciding this request',
        code: 'ERR_INTERNAL',
        hint: 'try again later',
      },
      {
        type: 'about:blank',
        title: 'Bad Gateway',
        status: 502,
        detail: 'a service the API relies on answered what it cannot use',
        code: 'ERR_REVOCATION_ROLLBACK',
        hint: 'try again later',
      },
      {
        type: 'about:blank',
        title: 'Service Unavailable',
        status: 503,
        detail: 'a service the API relies on cannot answer now',
        code: 'ERR_REVOCATION_STALE',
        hint: 'try again later',
      },
    ])
  })

  it('names the amendment whose caveat denied, from a live view, in the problem', async () => {
    const revocations = createMemoryRevocationView()
    const verifier = createVerifier({
      roots: [{ key: toDidKey(alice.publicKey), name: 'alice' }],
      audience: 'mail',
      revocations,
      usage: createMemoryUsageStore(),
    })
    const guard = createHttpGuard({ verifier })
    const before = await guard.check(received(signedFor('/mailboxes/alice/messages')), read)
    expect(before.allowed).toBe(true)
    const id = revocations.amend(grant.blocks[0]?.idHex as string, {
      caveats: [{ type: 'resources', globs: ['mailbox/bob'] }],
      at: 1_790_000_000,
      by: toDidKey(alice.publicKey),
      reason: "not Alice's own mail any more",
    })
    const after = await guard.check(received(signedFor('/mailboxes/alice/messages')), read)
    if (after.allowed) throw new Error('an amendment narrowing the resources let the request through')
    expect([after.refusal.status, after.refusal.body.code, after.refusal.body.block, after.refusal.body.caveat]).toEqual([
      403,
      'ERR_RESOURCE_DENIED',
      0,
      'resources',
    ])
    expect(after.refusal.body.amendment).toStrictEqual({
      id,
      by: toDidKey(alice.publicKey),
      at: 1_790_000_000,
      reason: "not Alice's own mail any more",
    })
  })

  it('lets a route error other than ERR_REQUEST_INVALID propagate (a bug is not a 400)', async () => {
    const guard = createHttpGuard({ verifier: verifierWith(createMemoryUsageStore()) })
    await expect(
      guard.check(received(signedFor('/mailboxes/alice/messages')), () => {
        throw new TypeError('bug')
      }),
    ).rejects.toThrow('bug')
  })

  it('reports every decision to onDecision, and a throwing sink changes nothing', async () => {
    const seen: string[] = []
    const guard = createHttpGuard({
      verifier: verifierWith(createMemoryUsageStore()),
      onDecision: (d) => {
        seen.push(d.allowed ? 'allow' : d.code)
        throw new Error('sink down')
      },
    })
    const inv = signedFor('/mailboxes/alice/messages')
    expect((await guard.check(received(inv), read)).allowed).toBe(true)
    expect((await guard.check(received(inv), read)).allowed).toBe(false)
    expect(seen).toEqual(['allow', 'ERR_REPLAY'])
  })
})

describe('createMandateFetch', () => {
  const capture = () => {
    const seen: { url: string; init: RequestInit }[] = []
    const f = (async (u: string | URL | Request, i?: RequestInit) => {
      seen.push({ url: String(u), init: i ?? {} })
      return new Response(null, { status: 204 })
    }) as typeof fetch
    return { seen, f }
  }

  it('binds each body form to its exact bytes and sets the content type fetch would', async () => {
    const { seen, f } = capture()
    const call = createMandateFetch({ mandate: grant, key: assistant, audience: 'mail', fetch: f })
    const m = { action: 'email:read', resource: 'mailbox/alice' }
    await call('http://api.test/x?q=1', { method: 'put', body: 'héllo', mandate: m })
    await call('http://api.test/x', { method: 'POST', body: new URLSearchParams({ a: '1 2' }), mandate: m })
    await call('http://api.test/x', { method: 'POST', body: new Blob(['{}'], { type: 'application/json' }), mandate: m })
    await call('http://api.test/x', { method: 'POST', body: new Uint16Array([1]), mandate: m })
    await call('http://api.test/x', { mandate: m })
    const bound = seen.map(({ init }) => {
      const h = new Headers(init.headers)
      const inv = parseInvocation((h.get('authorization') as string).replace(/^Mandate /, ''))
      return { type: h.get('content-type'), http: inv.args['@http'], body: init.body }
    })
    expect(bound[0]).toMatchObject({
      type: 'text/plain;charset=UTF-8',
      http: { method: 'PUT', target: '/x?q=1', digest: contentDigest(utf8('héllo')) },
    })
    expect(bound[1]).toMatchObject({
      type: 'application/x-www-form-urlencoded;charset=UTF-8',
      http: { digest: contentDigest(utf8('a=1+2')) },
    })
    expect(bound[2]).toMatchObject({ type: 'application/json', http: { digest: contentDigest(utf8('{}')) } })
    expect(bound[3]).toMatchObject({ type: null, http: { digest: contentDigest(new Uint8Array([1, 0])) } })
    expect(bound[4]).toMatchObject({ http: { method: 'GET', target: '/x', digest: contentDigest(new Uint8Array()) }, body: undefined })
    // What fetch is handed is the bytes signed, whatever form the body had.
    expect(bound.slice(0, 4).map((b) => b.body)).toEqual([utf8('héllo'), utf8('a=1+2'), utf8('{}'), new Uint8Array([1, 0])])
  })

  it('sends a method fetch would not normalize upper case, bytes of an ArrayBuffer or of a view, and no content for null', async () => {
    const { seen, f } = capture()
    const call = createMandateFetch({ mandate: grant, key: assistant, audience: 'mail', fetch: f })
    const m = { action: 'email:read', resource: 'mailbox/alice' }
    await call('http://api.test/x', { method: 'patch', body: new Uint8Array([1, 2, 3]).buffer, mandate: m })
    await call('http://api.test/x', { method: 'POST', body: new Uint8Array([9, 1, 2, 9]).subarray(1, 3), mandate: m })
    await call('http://api.test/x', { method: 'POST', body: null, mandate: m })
    await call('http://api.test/x', { method: 'POST', body: new Blob(['ab']), mandate: m })
    const sent = seen.map(({ init }) => {
      const h = new Headers(init.headers)
      const inv = parseInvocation((h.get('authorization') as string).replace(/^Mandate /, ''))
      return { method: init.method, type: h.get('content-type'), body: init.body, digest: (inv.args['@http'] as { digest: string }).digest }
    })
    expect(sent).toEqual([
      { method: 'PATCH', type: null, body: new Uint8Array([1, 2, 3]), digest: contentDigest(new Uint8Array([1, 2, 3])) },
      { method: 'POST', type: null, body: new Uint8Array([1, 2]), digest: contentDigest(new Uint8Array([1, 2])) },
      { method: 'POST', type: null, body: null, digest: contentDigest(new Uint8Array()) },
      // A Blob without a type sets none.
      { method: 'POST', type: null, body: utf8('ab'), digest: contentDigest(utf8('ab')) },
    ])
  })

  it('sends the approvals it already holds, in one field', async () => {
    const { seen, f } = capture()
    const call = createMandateFetch({ mandate: grant, key: assistant, audience: 'mail', fetch: f })
    await call('http://api.test/x', { mandate: { action: 'email:read', approvals: ['mna1_A', 'mna1_B'] } })
    await call('http://api.test/x', { mandate: { action: 'email:read', approvals: [] } })
    expect(seen.map(({ init }) => new Headers(init.headers).get('mandate-approval'))).toEqual(['mna1_A, mna1_B', null])
  })

  it('refuses a body it cannot read twice, and a route argument named @…', async () => {
    const { seen, f } = capture()
    const call = createMandateFetch({ mandate: grant, key: assistant, audience: 'mail', fetch: f })
    const m = { action: 'email:read' }
    await expect(
      call('http://api.test/x', { method: 'POST', body: new ReadableStream(), duplex: 'half', mandate: m } as never),
    ).rejects.toThrow(TypeError)
    await expect(call('http://api.test/x', { method: 'POST', body: new FormData(), mandate: m })).rejects.toThrow(TypeError)
    const twice = 'a mandate-signed request needs a body readable twice: text, bytes, URLSearchParams or a Blob (not a stream or FormData)'
    await expect(call('http://api.test/x', { method: 'POST', body: new FormData(), mandate: m })).rejects.toThrow(twice)
    await expect(
      call('http://api.test/x', { method: 'POST', body: new ReadableStream(), duplex: 'half', mandate: m } as never),
    ).rejects.toThrow(twice)
    // Without what the request does, nothing is signed.
    for (const mandate of [undefined, null, 'email:read']) {
      await expect(call('http://api.test/x', { mandate } as never)).rejects.toThrow(
        new TypeError('"mandate" expected { action, resource?, args? }'),
      )
    }
    await expect(call('http://api.test/x', { mandate: { action: 'email:read', args: { '@http': 'x' } } })).rejects.toThrow(
      expect.objectContaining({ code: 'ERR_REQUEST_INVALID' }),
    )
    expect(seen).toHaveLength(0)
  })
})

describe('createMandateFetch, waiting for approvals', () => {
  const ALICE = toDidKey(alice.publicKey)
  const DELETE = { action: 'email:delete', resource: 'mailbox/alice/42' }
  const idOf = (h: Headers) => parseInvocation((h.get('authorization') as string).slice('Mandate '.length)).idHex

  /** The API: answers `first` (given the invocation's id) to the first request, 200 to the next; records each. */
  function api(first: (id: string) => Response) {
    const sent: Headers[] = []
    const f = (async (_u: string | URL | Request, i?: RequestInit) => {
      const h = new Headers(i?.headers)
      sent.push(h)
      return sent.length === 1 ? first(idOf(h)) : new Response('done', { status: 200 })
    }) as typeof fetch
    return { sent, f }
  }

  /** The inbox: records `METHOD /v1/approvals[/id]`; answers the request approved by Alice, or still pending. */
  function inbox(status: 'approved' | 'pending' = 'approved') {
    const asked: string[] = []
    const f = (async (u: string, i: RequestInit) => {
      const path = new URL(u).pathname
      asked.push(`${i.method} ${path.replace(/[0-9a-f]{64}$/, 'ID')}`)
      const id =
        i.method === 'POST'
          ? parseInvocation((JSON.parse(new TextDecoder().decode(i.body as Uint8Array)) as { invocation: string }).invocation).idHex
          : (path.split('/').pop() as string)
      const approvals = status === 'approved' ? { [ALICE]: 'mna1_ALICE' } : {}
      return Response.json(
        { id, status, approvers: [ALICE], approvals, createdAt: 1, expiresAt: 2 },
        { status: i.method === 'POST' ? 201 : 200 },
      )
    }) as typeof fetch
    return { asked, options: { url: 'http://inbox.test', withinMs: 0, fetch: f } }
  }

  const required =
    (body: string, status = 403, named = true) =>
    (id: string) =>
      new Response(body, { status, headers: named ? { 'mandate-approval-request': id } : {} })
  const filed = (yes: boolean) => JSON.stringify({ code: 'ERR_APPROVAL_REQUIRED', approvalRequest: { filed: yes } })

  it('files the request unless the API did, waits, and sends the same request again with the approvals', async () => {
    for (const [body, files] of [
      [filed(true), false],
      [filed(false), true],
      ['{"code":"ERR_APPROVAL_REQUIRED"}', true],
      ['approval required', true],
    ] as const) {
      const a = api(required(body))
      const box = inbox()
      const call = createMandateFetch({ mandate: grant, key: assistant, audience: 'mail', approvals: box.options, fetch: a.f })
      const res = await call('http://api.test/mailboxes/alice/messages/42', { method: 'DELETE', mandate: DELETE })
      expect(res.status, body).toBe(200)
      expect(box.asked, body).toEqual([...(files ? ['POST /v1/approvals'] : []), 'GET /v1/approvals/ID'])
      expect(a.sent.map((h) => h.get('mandate-approval'))).toEqual([null, 'mna1_ALICE'])
      expect(a.sent[1]?.get('authorization')).toBe(a.sent[0]?.get('authorization'))
    }
  })

  it('returns the first answer when it is not approval required, nobody approved in time, or it cannot wait', async () => {
    const cases: [string, (id: string) => Response, ReturnType<typeof inbox>, boolean][] = [
      ['a 401 naming a request', required(filed(false), 401), inbox(), true],
      ['a 403 naming none', required(filed(false), 403, false), inbox(), true],
      ['still pending', required(filed(true)), inbox('pending'), true],
      ['no inbox to wait at', required(filed(true)), inbox(), false],
    ]
    for (const [why, first, box, waits] of cases) {
      const a = api(first)
      const call = createMandateFetch({
        mandate: grant,
        key: assistant,
        audience: 'mail',
        ...(waits ? { approvals: box.options } : {}),
        fetch: a.f,
      })
      const res = await call('http://api.test/mailboxes/alice/messages/42', { method: 'DELETE', mandate: DELETE })
      expect(res.status, why).not.toBe(200)
      expect(a.sent, why).toHaveLength(1)
      expect(box.asked, why).toEqual(why === 'still pending' ? ['GET /v1/approvals/ID'] : [])
    }
  })

  it('reads a refusal once, up to 64 KiB and within the inbox deadline: past that it files, waits, and returns what it read', async () => {
    // Still pending: the refusal comes back as it came, body and headers.
    const pending = api(required(filed(true)))
    const call = (a: ReturnType<typeof api>, box: ReturnType<typeof inbox>) =>
      createMandateFetch({ mandate: grant, key: assistant, audience: 'mail', approvals: box.options, fetch: a.f })(
        'http://api.test/mailboxes/alice/messages/42',
        { method: 'DELETE', mandate: DELETE },
      )
    const back = await call(pending, inbox('pending'))
    expect([back.status, await back.text(), back.headers.get('mandate-approval-request')]).toEqual([
      403,
      filed(true),
      idOf(pending.sent[0] as Headers),
    ])
    // A body that never ends: 64 KiB read, the rest never asked for; not said to be filed, so filed.
    let pulled = 0
    const endless = (id: string) =>
      new Response(
        new ReadableStream<Uint8Array>({
          pull(c) {
            pulled++
            c.enqueue(new Uint8Array(16 * 1024).fill(0x20))
          },
        }),
        { status: 403, headers: { 'mandate-approval-request': id } },
      )
    const box = inbox()
    expect((await call(api(endless), box)).status).toBe(200)
    expect(box.asked).toEqual(['POST /v1/approvals', 'GET /v1/approvals/ID'])
    expect(pulled).toBeLessThan(10)
    // A body that never comes: given up at the inbox's deadline.
    const silent = (id: string) =>
      new Response(new ReadableStream<Uint8Array>({ pull: () => new Promise<void>(() => {}) }), {
        status: 403,
        headers: { 'mandate-approval-request': id },
      })
    const quick = inbox()
    const slow = { ...quick, options: { ...quick.options, timeoutMs: 100 } }
    expect((await call(api(silent), slow)).status).toBe(200)
    expect(quick.asked).toEqual(['POST /v1/approvals', 'GET /v1/approvals/ID'])
  })

  it('a bearer mandate has no key to read the inbox with: the approval-required answer is returned', async () => {
    const bearer = mint({
      principal: alice,
      caveats: [
        { type: 'approval', actions: ['email:delete'], approvers: [ALICE], quorum: 1 },
        { type: 'window', expires: Math.floor(Date.now() / 1000) + 600 },
      ],
    })
    const a = api(required(filed(true)))
    const box = inbox()
    const call = createMandateFetch({ mandate: bearer, audience: 'mail', approvals: box.options, fetch: a.f })
    expect((await call('http://api.test/mailboxes/alice/messages/42', { method: 'DELETE', mandate: DELETE })).status).toBe(403)
    expect([a.sent.length, box.asked]).toEqual([1, []])
  })

  it('an approval-required answer naming another request: ERR_APPROVAL_UNAVAILABLE, nothing filed, waited for or sent again', async () => {
    const other = 'ab'.repeat(32)
    for (const named of [other, 'not an id', '']) {
      const a = api(() => new Response(filed(true), { status: 403, headers: { 'mandate-approval-request': named } }))
      const box = inbox()
      const call = createMandateFetch({ mandate: grant, key: assistant, audience: 'mail', approvals: box.options, fetch: a.f })
      const e = await call('http://api.test/mailboxes/alice/messages/42', { method: 'DELETE', mandate: DELETE }).then(
        () => undefined,
        (x: unknown) => x,
      )
      const own = idOf(a.sent[0] as Headers)
      expect(e).toBeInstanceOf(MandateError)
      expect([(e as MandateError).code, (e as MandateError).message, (e as MandateError).hint]).toEqual([
        'ERR_APPROVAL_UNAVAILABLE',
        `the API named approval request ${named}, not this request's ${own}`,
        'is the API behind a mandate guard? it names the invocation it was sent',
      ])
      expect([a.sent.length, box.asked]).toEqual([1, []])
    }
  })
})

describe('createMandateFetch and redirects (real servers on loopback)', () => {
  /** A server that records what reaches it and answers `answer`. */
  async function server(answer: (req: IncomingMessage, res: ServerResponse) => void) {
    const reached: { url: string | undefined; authorization: string | undefined; approval: string | undefined }[] = []
    const s = createServer((req, res) => {
      reached.push({ url: req.url, authorization: req.headers.authorization, approval: req.headers['mandate-approval'] as string })
      req.resume()
      req.on('end', () => answer(req, res))
    })
    await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve))
    const url = `http://127.0.0.1:${(s.address() as AddressInfo).port}`
    return { url, reached, close: () => new Promise<void>((resolve) => s.close(() => resolve())) }
  }

  it('returns a redirect as it came: neither the invocation nor the approvals go where it points', async () => {
    const elsewhere = await server((_req, res) => res.end('elsewhere'))
    const api = await server((req, res) => {
      const to = req.url === '/same' ? '/moved' : `${elsewhere.url}/taken`
      res.writeHead(req.url === '/same' ? 308 : 307, { location: to }).end()
    })
    try {
      const call = createMandateFetch({ mandate: grant, key: assistant, audience: 'mail' })
      const m = { action: 'email:read', resource: 'mailbox/alice', approvals: ['mna1_A'] }
      for (const [path, status] of [
        ['/away', 307],
        ['/same', 308],
      ] as const) {
        const res = await call(`${api.url}${path}`, { method: 'POST', body: '{"a":1}', mandate: m })
        expect([res.status, res.headers.get('location')]).toEqual([status, path === '/same' ? '/moved' : `${elsewhere.url}/taken`])
      }
      expect(api.reached.map((r) => [r.url, r.authorization?.startsWith('Mandate mni1_'), r.approval])).toEqual([
        ['/away', true, 'mna1_A'],
        ['/same', true, 'mna1_A'],
      ])
      expect(elsewhere.reached).toEqual([])
      // Asked to refuse a redirect, it does.
      await expect(call(`${api.url}/away`, { redirect: 'error', mandate: m })).rejects.toMatchObject({
        name: 'TypeError',
        cause: { message: 'unexpected redirect' },
      })
      expect(elsewhere.reached).toEqual([])
    } finally {
      await Promise.all([api.close(), elsewhere.close()])
    }
  })
})

describe('createHttpGuard, with an inbox', () => {
  it('files a request that needs approval in the inbox, and nothing else', async () => {
    const asked: string[] = []
    const verifier = createVerifier({
      roots: [{ key: toDidKey(alice.publicKey), name: 'alice' }],
      audience: 'mail',
      revocations: 'none',
      replay: createMemoryReplayCache(),
    })
    const up = (async (u: string, i: RequestInit) => {
      asked.push(
        `${i.method} ${new URL(u).pathname} ${JSON.parse(String(new TextDecoder().decode(i.body as Uint8Array))).invocation.slice(0, 5)}`,
      )
      const id = parseInvocation(JSON.parse(new TextDecoder().decode(i.body as Uint8Array)).invocation).idHex
      return Response.json(
        { id, status: 'pending', approvers: [toDidKey(alice.publicKey)], approvals: {}, createdAt: 1, expiresAt: 2 },
        { status: 201 },
      )
    }) as typeof fetch
    const down = (async () => {
      throw new TypeError('fetch failed')
    }) as typeof fetch
    const del = () =>
      formatInvocation(
        invoke(grant, {
          key: assistant,
          action: 'email:delete',
          resource: 'mailbox/alice/1',
          args: bindArgs({}, httpBinding('DELETE', '/mailboxes/alice/messages/1', new Uint8Array())),
          audience: 'mail',
        }),
      )
    const remove = () => ({ action: 'email:delete', resource: 'mailbox/alice/1' })
    const at = (inv: string) => received(inv, { method: 'DELETE', url: '/mailboxes/alice/messages/1' })
    const guard = createHttpGuard({ verifier, inbox: { url: 'http://inbox.test', fetch: up } })
    const first = await guard.check(at(del()), remove)
    expect(!first.allowed && first.refusal.body.approvalRequest?.filed).toBe(true)
    expect(asked).toEqual(['POST /v1/approvals mni1_'])
    // Other denials file nothing: a replay, an action outside the mandate.
    const inv = signedFor('/mailboxes/alice/messages')
    expect((await guard.check(received(inv), read)).allowed).toBe(true)
    expect((await guard.check(received(inv), read)).allowed).toBe(false)
    const stranger = generateKeyPair()
    const own = mint({
      principal: stranger,
      to: toDidKey(assistant.publicKey),
      caveats: [{ type: 'window', expires: Math.floor(Date.now() / 1000) + 600 }],
    })
    expect((await guard.check(received(signedFor('/mailboxes/alice/messages', 'GET', '', own)), read)).allowed).toBe(false)
    expect(asked).toHaveLength(1)
    // An inbox that cannot be reached: the same denial, not filed (the agent files it itself).
    const unfiled = await createHttpGuard({ verifier, inbox: { url: 'http://inbox.test', fetch: down } }).check(at(del()), remove)
    expect(!unfiled.allowed && [unfiled.refusal.status, unfiled.refusal.body.approvalRequest?.filed]).toEqual([403, false])
  })
})
