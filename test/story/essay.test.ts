/**
 * The delegation story that motivates the project, end to end through the public API.
 * Alice grants her assistant email:read, email:draft (with her approval), slack:read and
 * calendar:* for 8 hours, and email:send never. The assistant, bound to its own key, hands
 * a sub-agent slack:read only, 3 uses, as a bearer mandate.
 */
import { describe, expect, it } from 'vitest'
import {
  approve,
  attenuate,
  createMemoryRevocationView,
  createVerifier,
  type Decision,
  formatMandate,
  generateKeyPair,
  invoke,
  mint,
  parseMandate,
  toDidKey,
} from '../../src/index.js'

const T0 = 1_790_000_000
const HOUR = 3600

function setup() {
  let now = T0
  const clock = () => now
  const alice = generateKeyPair()
  const assistant = generateKeyPair()
  const aliceDid = toDidKey(alice.publicKey)
  const grant = mint({
    principal: alice,
    to: toDidKey(assistant.publicKey),
    name: 'assistant',
    purpose: 'help Alice stay organized',
    now,
    caveats: [
      { type: 'actions', patterns: ['email:read', 'email:draft', 'slack:read', 'calendar:*'] },
      { type: 'deny', patterns: ['email:send'] },
      { type: 'approval', actions: ['email:draft'], approvers: [aliceDid], quorum: 1 },
      { type: 'window', expires: now + 8 * HOUR },
    ],
  })
  const subGrant = attenuate(grant, {
    key: assistant,
    name: 'sub-agent',
    purpose: 'summarize the #team channel',
    now,
    caveats: [
      { type: 'actions', patterns: ['slack:read'] },
      { type: 'uses', max: 3 },
    ],
  })
  const revocations = createMemoryRevocationView()
  const verifier = (audience: string) => createVerifier({ roots: [{ key: aliceDid, name: 'alice' }], audience, clock, revocations })
  return { alice, assistant, grant, subGrant, verifier, revocations, advance: (s: number) => (now += s), clock }
}

function expectDenied(d: Decision, code: string) {
  expect(d.allowed ? 'allowed' : d.code).toBe(code)
}

describe("the essay's story", () => {
  it('the assistant reads email and calendar, drafts with approval, never sends', async () => {
    const { alice, assistant, grant, verifier, clock } = setup()
    const mail = verifier('mail')
    const calendar = verifier('calendar')

    const read = await mail.authorize({
      invocation: invoke(grant, { key: assistant, action: 'email:read', resource: 'inbox/1', audience: 'mail', now: clock() }),
    })
    expect(read.allowed).toBe(true)

    const decline = await calendar.authorize({
      invocation: invoke(grant, { key: assistant, action: 'calendar:events:decline', audience: 'calendar', now: clock() }),
    })
    expect(decline.allowed).toBe(true)

    const draft = invoke(grant, {
      key: assistant,
      action: 'email:draft',
      args: { to: 'bob@example.com' },
      audience: 'mail',
      intent: 'reply to Bob',
      now: clock(),
    })
    const pending = await mail.authorize({ invocation: draft })
    expectDenied(pending, 'ERR_APPROVAL_REQUIRED')
    if (!pending.allowed) expect(pending.hint).toContain(toDidKey(alice.publicKey))

    const ok = approve({ approver: alice, invocation: draft, now: clock() })
    const approved = await mail.authorize({ invocation: draft, approvals: [ok] })
    expect(approved.allowed).toBe(true)
    if (approved.allowed) expect(approved.approvals).toEqual([toDidKey(alice.publicKey)])

    const send = await mail.authorize({
      invocation: invoke(grant, { key: assistant, action: 'email:send', audience: 'mail', now: clock() }),
    })
    expectDenied(send, 'ERR_ACTION_DENIED')
    if (!send.allowed) expect(send.caveat).toBe('deny')
  })

  it('the sub-agent reads slack three times, and nothing else', async () => {
    const { subGrant, verifier, clock } = setup()
    const slack = verifier('slack')
    expect(subGrant.proof.kind).toBe('bearer')
    const bearer = formatMandate(subGrant)

    const first = await slack.authorize({ token: bearer, request: { action: 'slack:read', resource: 'channels/team' } })
    expect(first.allowed).toBe(true)
    if (first.allowed) {
      expect(first.chain.map((l) => l.name)).toEqual(['alice', 'assistant', 'sub-agent'])
      expect(first.chain[2]?.purpose).toBe('summarize the #team channel')
      expect(first.audit.holders).toEqual(['assistant', 'sub-agent'])
      expect(first.usage[0]?.remaining).toBe(2)
    }

    const email = await slack.authorize({ token: bearer, request: { action: 'email:read' } })
    expectDenied(email, 'ERR_ACTION_DENIED')
    if (!email.allowed) expect(email.block).toBe(1)

    expect((await slack.authorize({ token: bearer, request: { action: 'slack:read' } })).allowed).toBe(true)
    expect((await slack.authorize({ token: bearer, request: { action: 'slack:read' } })).allowed).toBe(true)
    const fourth = await slack.authorize({ token: bearer, request: { action: 'slack:read' } })
    expectDenied(fourth, 'ERR_USAGE_EXHAUSTED')
    if (!fourth.allowed) expect(fourth.block).toBe(1)
    void clock
  })

  it('a denied request consumes no use', async () => {
    const { subGrant, verifier } = setup()
    const slack = verifier('slack')
    for (let i = 0; i < 5; i++)
      expectDenied(await slack.authorize({ mandate: subGrant, request: { action: 'slack:send' } }), 'ERR_ACTION_DENIED')
    for (let i = 0; i < 3; i++) expect((await slack.authorize({ mandate: subGrant, request: { action: 'slack:read' } })).allowed).toBe(true)
  })

  it('everything expires after 8 hours', async () => {
    const { assistant, grant, verifier, advance, clock } = setup()
    advance(8 * HOUR + 60)
    const d = await verifier('mail').authorize({
      invocation: invoke(grant, { key: assistant, action: 'email:read', audience: 'mail', now: clock() }),
    })
    expectDenied(d, 'ERR_TIME_EXPIRED')
  })

  it('revoking only the sub-agent leaves the assistant working; suspend then resume', async () => {
    const { assistant, grant, subGrant, verifier, revocations, clock } = setup()
    const slack = verifier('slack')
    const sub = parseMandate(formatMandate(subGrant))
    const subBlock = sub.blocks[1]?.idHex as string
    revocations.suspend(subBlock, { at: clock(), reason: 'pause' })
    expectDenied(await slack.authorize({ mandate: sub, request: { action: 'slack:read' } }), 'ERR_SUSPENDED')
    const own = await slack.authorize({
      invocation: invoke(grant, { key: assistant, action: 'slack:read', audience: 'slack', now: clock() }),
    })
    expect(own.allowed).toBe(true)
    revocations.resume(subBlock)
    expect((await slack.authorize({ mandate: sub, request: { action: 'slack:read' } })).allowed).toBe(true)
    revocations.revoke(subBlock, { at: clock() })
    expectDenied(await slack.authorize({ mandate: sub, request: { action: 'slack:read' } }), 'ERR_REVOKED')
  })
})
