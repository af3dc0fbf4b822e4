/**
 * The approval page's DOM-free parts, in Node: its reader of `text/event-stream` (src/page/sse.ts)
 * and what it shows of a request (src/page/view.ts): taken from the signed invocation, checked,
 * escaped; withheld from approval when the invocation does not check, names another id, or
 * differs from the service's description. (The page itself, in Chromium:
 * test/service/approval-page.test.ts.)
 */
import { describe, expect, it } from 'vitest'
import { attenuate, formatInvocation, generateKeyPair, invoke, mint, toDidKey } from '../../src/index.js'
import { createSseParser, type ServerSentEvent, SSE_MAX_EVENT } from '../../src/page/sse.js'
import { span, titleOf, viewOf } from '../../src/page/view.js'

describe('the event-stream reader', () => {
  const read = (chunks: string[]) => {
    const events: ServerSentEvent[] = []
    const parser = createSseParser((e) => events.push(e))
    for (const c of chunks) parser.push(c)
    return events
  }

  it('dispatches on a blank line; joins data lines; ignores comments, ids and retries; drops events without data', () => {
    expect(read([': hello\n\nevent: ready\ndata: {"a":\ndata: 1}\nid: 7\nretry: 10\n\nevent: nothing\n\ndata:plain\n\n'])).toEqual([
      { event: 'ready', data: '{"a":\n1}' },
      { event: 'message', data: 'plain' },
    ])
  })

  it('reads CRLF, CR and LF, split anywhere across chunks', () => {
    const text = 'event: a\r\ndata: 1\r\n\r\nevent: b\rdata: 2\r\revent: c\ndata: 3\n\n'
    const whole = read([text])
    expect(whole.map((e) => `${e.event}=${e.data}`)).toEqual(['a=1', 'b=2', 'c=3'])
    for (let i = 1; i < text.length; i++) expect(read([text.slice(0, i), text.slice(i)]), `split at ${i}`).toEqual(whole)
    expect(read([...text])).toEqual(whole)
  })

  it('refuses an event or a line larger than the limit', () => {
    const parser = createSseParser(() => {})
    expect(() => parser.push(`data: ${'x'.repeat(SSE_MAX_EVENT + 1)}\n`)).toThrow(RangeError)
    expect(() => createSseParser(() => {}).push('x'.repeat(SSE_MAX_EVENT + 1))).toThrow(RangeError)
  })
})

describe('what the page shows of a request', () => {
  const alice = generateKeyPair()
  const assistant = generateKeyPair()
  const helper = generateKeyPair()
  const ALICE = toDidKey(alice.publicKey)
  const grant = mint({
    principal: alice,
    to: toDidKey(assistant.publicKey),
    name: 'assistant',
    caveats: [
      { type: 'approval', actions: ['email:send'], approvers: [ALICE], quorum: 1 },
      { type: 'uses', max: 3 },
      { type: 'window', expires: 1_790_003_600 },
    ],
    now: 1_790_000_000,
  })
  const sub = attenuate(grant, { key: assistant, to: toDidKey(helper.publicKey), name: 'help\u202Eer', purpose: '<b>triage</b>\r\n' })
  const inv = invoke(sub, {
    key: helper,
    action: 'email:send',
    args: { to: 'bob@example.com', n: 2, html: '<img src=x onerror=alert(1)>\u0007' },
    audience: 'mail',
    intent: '"><script>alert(1)</script>\u001b[2J',
  })
  /** The request as the service describes it (src/service/app.ts summary). */
  const request = {
    id: inv.idHex,
    status: 'pending',
    requestedBy: { key: toDidKey(helper.publicKey), name: 'help\u202Eer' },
    onBehalfOf: ALICE,
    chain: [
      { block: 0, name: 'assistant' },
      { block: 1, name: 'help\u202Eer', purpose: '<b>triage</b>\r\n' },
    ],
    action: 'email:send',
    args: { to: 'bob@example.com', n: 2, html: '<img src=x onerror=alert(1)>\u0007' },
    audience: 'mail',
    intent: '"><script>alert(1)</script>\u001b[2J',
    approvers: [ALICE],
    approvals: {},
    createdAt: 1,
    expiresAt: 2,
    invocation: formatInvocation(inv),
  }

  it('is the checked invocation, every string escaped: markup as it is, bidi and controls visible', () => {
    const view = viewOf(request, ALICE)
    expect(view.problems).toEqual([])
    expect(view.invocation?.idHex).toBe(inv.idHex)
    expect(view.requester).toEqual({ key: toDidKey(helper.publicKey), name: 'help\\u202eer' })
    expect(view.principal).toBe(ALICE)
    expect(view.chain.map((b) => [b.index, b.name, b.key, b.bearer, b.purpose])).toEqual([
      [0, 'assistant', toDidKey(assistant.publicKey), false, undefined],
      [1, 'help\\u202eer', toDidKey(helper.publicKey), false, '<b>triage</b>\\r\\n'],
    ])
    expect(view.chain[0]?.conditions).toEqual([
      `email:send needs approval by 1 of ${ALICE}`,
      'at most 3 uses in total',
      'until 2026-09-21T15:13:20Z',
    ])
    expect(view.intent).toBe('"><script>alert(1)</script>\\x1b[2J')
    expect(JSON.parse(view.args)).toEqual({ to: 'bob@example.com', n: 2, html: '<img src=x onerror=alert(1)>\u0007' })
    expect(view.args).toContain('\\u0007')
    expect(view.approvers).toEqual([{ key: ALICE, approved: false, you: true }])
  })

  it('cannot draw over other fields or fake them: mark stacks, blank patterns and quote look-alikes escaped; the action titles first', () => {
    const name = `helper asks to calendar:read${'\u2800'.repeat(40)}`
    const agent = attenuate(grant, { key: assistant, to: toDidKey(helper.publicKey), name })
    const forged = `bob\u05f4, \u05f4approved\u05f4: \u05f4yes`
    const asked = invoke(agent, {
      key: helper,
      action: 'email:send',
      args: { to: forged },
      audience: 'mail',
      intent: `fine${'\u033f'.repeat(60)}`,
    })
    const described = {
      ...request,
      id: asked.idHex,
      requestedBy: { key: toDidKey(helper.publicKey), name },
      chain: [request.chain[0], { block: 1, name }],
      args: { to: forged },
      intent: `fine${'\u033f'.repeat(60)}`,
      invocation: formatInvocation(asked),
    }
    const view = viewOf(described, ALICE)
    expect(view.problems).toEqual([])
    expect(view.requester.name).toBe(`helper asks to calendar:read${'\\u2800'.repeat(40)}`)
    expect(view.intent).toBe(`fine${'\u033f'.repeat(3)}${'\\u033f'.repeat(57)}`)
    expect(view.args).toBe('{\n  "to": "bob\\u05f4, \\u05f4approved\\u05f4: \\u05f4yes"\n}')
    expect(titleOf(view).startsWith('email:send, asked by helper asks to calendar:read\\u2800')).toBe(true)
  })

  it("shows the service's quota lines when they are whole numbers, none otherwise", () => {
    expect(viewOf(request, ALICE).quota).toBeUndefined()
    const lines = [
      { block: 0, caveat: 1, max: 3, used: 1, remaining: 2 },
      { block: 1, caveat: 0, max: 5, per: 86_400, used: 5, remaining: 0 },
    ]
    expect(viewOf({ ...request, quota: lines }, ALICE).quota).toEqual([
      { block: 0, max: 3, used: 1, remaining: 2 },
      { block: 1, max: 5, per: 86_400, used: 5, remaining: 0 },
    ])
    expect(viewOf({ ...request, quota: [] }, ALICE).quota).toEqual([])
    for (const bad of [{ ...lines[0], max: '3' }, { ...lines[0], per: 1.5 }, { ...lines[0], remaining: -0.5 }, null, 'x']) {
      expect(viewOf({ ...request, quota: [lines[1], bad] }, ALICE).quota).toBeUndefined()
    }
    // Quota is the service's own word: it is no difference from the invocation, and withholds nothing.
    expect(viewOf({ ...request, quota: lines }, ALICE).problems).toEqual([])
  })

  it('shows the amendments in force the service names, escaped; none when one is out of shape', () => {
    expect(viewOf(request, ALICE).amendments).toBeUndefined()
    const amended = {
      block: 0,
      id: 'a'.repeat(64),
      by: ALICE,
      at: 1_790_000_000,
      reason: 'ask me first\u202e\u001b[31m',
      caveats: ['calendar:schedule needs 1 approval of did:key:z6Mk…'],
    }
    const view = viewOf({ ...request, amendments: [amended] }, ALICE)
    expect(view.amendments).toEqual([
      { block: 0, by: ALICE, at: 1_790_000_000, reason: 'ask me first\\u202e\\x1b[31m', caveats: amended.caveats },
    ])
    expect(viewOf({ ...request, amendments: [] }, ALICE).amendments).toBeUndefined()
    for (const bad of [{ ...amended, block: 'x' }, { ...amended, caveats: [1] }, { ...amended, by: 7 }, null]) {
      expect(viewOf({ ...request, amendments: [amended, bad] }, ALICE).amendments).toBeUndefined()
    }
    // The service's own word, like quota: no difference from the invocation, nothing withheld.
    expect(view.problems).toEqual([])
  })

  it('withholds approval: a description that differs, another id, an invocation that does not check or is missing', () => {
    const lying = viewOf({ ...request, action: 'email:read', args: { to: 'someone@else' } }, ALICE)
    expect(lying.invocation).toBeUndefined()
    expect(lying.problems).toEqual([
      'the service describes the action otherwise than the signed request does',
      'the service describes the arguments otherwise than the signed request does',
    ])
    // What is shown is what was signed.
    expect([lying.action, JSON.parse(lying.args)]).toEqual(['email:send', request.args])

    const other = viewOf({ ...request, id: 'ab'.repeat(32) }, ALICE)
    expect(other.invocation).toBeUndefined()
    expect(other.problems[0]).toMatch(/its id differs/)

    const text = formatInvocation(inv)
    const forged = viewOf({ ...request, invocation: `${text.slice(0, -6)}${text.slice(-6) === 'AAAAAA' ? 'BBBBBB' : 'AAAAAA'}` }, ALICE)
    expect(forged.invocation).toBeUndefined()
    expect(forged.problems[0]).toMatch(/^the signed request does not check: /)

    const none = viewOf({ id: 7, action: 'x\u202E' }, ALICE)
    expect(none.problems).toEqual(['the signed request does not check: the request carries no invocation'])
    expect([none.id, none.action, none.chain]).toEqual(['7', 'x\\u202e', []])
  })
})

describe('a window in words', () => {
  it('reads after "per": day, 7 days, hour, 90 minutes, 45 s', () => {
    expect([86_400, 7 * 86_400, 3600, 5400, 60, 45].map(span)).toEqual(['day', '7 days', 'hour', '90 minutes', 'minute', '45 s'])
  })
})
