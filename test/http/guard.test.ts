/**
 * The guard's parts without a server (spec/http-v1.md §2, §4–§6): reading the fields, the
 * binding, the answers for the codes the framework scenarios do not reach, and the agent's
 * body handling.
 */
import { describe, expect, it } from 'vitest'
import { contentDigest } from '../../src/crypto/http-signature.js'
import {
  bindArgs,
  challenge,
  createHttpGuard,
  createMandateFetch,
  httpBinding,
  type ReceivedHttpRequest,
  readApprovals,
  readCredentials,
} from '../../src/http.js'
import {
  createMemoryUsageStore,
  createVerifier,
  formatInvocation,
  invoke,
  MandateError,
  mint,
  parseInvocation,
  toDidKey,
  type UsageStore,
} from '../../src/index.js'
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
        throw new Error('connection refused')
      },
    }
    const guard = createHttpGuard({ verifier: verifierWith(down) })
    const out = await guard.check(received(signedFor('/mailboxes/alice/messages', 'GET', '', counted)), read)
    expect(out.allowed).toBe(false)
    if (out.allowed) return
    expect(out.refusal.status).toBe(503)
    expect(out.refusal.body.code).toBe('ERR_COUNTER_UNAVAILABLE')
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
    expect([none.allowed, two.allowed, routed, read]).toEqual([false, false, 0, 0])
    if (two.allowed) return
    expect(two.refusal).toMatchObject({ status: 401, body: { code: 'ERR_TEXT_FORMAT' } })
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
  })

  it('refuses a body it cannot read twice, and a route argument named @…', async () => {
    const { seen, f } = capture()
    const call = createMandateFetch({ mandate: grant, key: assistant, audience: 'mail', fetch: f })
    const m = { action: 'email:read' }
    await expect(
      call('http://api.test/x', { method: 'POST', body: new ReadableStream(), duplex: 'half', mandate: m } as never),
    ).rejects.toThrow(TypeError)
    await expect(call('http://api.test/x', { method: 'POST', body: new FormData(), mandate: m })).rejects.toThrow(TypeError)
    await expect(call('http://api.test/x', { mandate: { action: 'email:read', args: { '@http': 'x' } } })).rejects.toThrow(
      expect.objectContaining({ code: 'ERR_REQUEST_INVALID' }),
    )
    expect(seen).toHaveLength(0)
  })
})
