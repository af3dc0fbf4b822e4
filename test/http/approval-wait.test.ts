/**
 * Approval required, end to end (spec/http-v1.md §5–§7) with a real service: the guard files
 * the invocation in the inbox (or the agent does, when the guard has no service), the agent's
 * fetch waits, Alice approves through the service, and the same request goes through — or she
 * denies it, and the call ends at once with who refused and why.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createHttpGuard, createMandateFetch } from '../../src/http.js'
import {
  approve,
  createMemoryReplayCache,
  createMemoryUsageStore,
  createVerifier,
  formatApproval,
  formatMandate,
  MandateError,
  toDidKey,
} from '../../src/index.js'
import { http, type ServiceUnderTest, startInProcess } from '../helpers/service.js'
import { alice, assistant, grant } from './fixture.js'
import { startHono } from './servers.js'

let service: ServiceUnderTest
beforeAll(async () => {
  service = await startInProcess({ roots: [`alice=${toDidKey(alice.publicKey)}`] })
})
afterAll(() => service.stop())

/** Alice, at her inbox: waits for the first pending request and approves it. */
async function aliceApprovesWhenAsked(): Promise<{ id: string; intent: unknown }> {
  const approver = toDidKey(alice.publicKey)
  for (let i = 0; i < 100; i++) {
    const page = await http(`${service.url}/v1/approvals?approver=${encodeURIComponent(approver)}`, { key: alice })
    const pending = (page.json['pending'] as { id: string; intent?: unknown }[] | undefined) ?? []
    const first = pending[0]
    if (first) {
      const approval = formatApproval(approve({ approver: alice, invocation: Buffer.from(first.id, 'hex') }))
      const answered = await http(`${service.url}/v1/approvals/${first.id}`, { body: { approval }, key: alice })
      expect(answered.status).toBe(200)
      return { id: first.id, intent: first.intent }
    }
    await new Promise((r) => setTimeout(r, 50))
  }
  throw new Error('no request reached the inbox')
}

describe.each([
  ['the guard files it', true],
  ['the agent files it (the guard has no service)', false],
])('approval required, %s', (_, guardFiles) => {
  it('waits for the approval and sends the same request again, which goes through once', async () => {
    const verifier = createVerifier({
      roots: [{ key: toDidKey(alice.publicKey), name: 'alice' }],
      audience: 'mail',
      revocations: 'none',
      usage: createMemoryUsageStore(),
      replay: createMemoryReplayCache(),
    })
    const guard = createHttpGuard({ verifier, ...(guardFiles ? { inbox: { url: service.url } } : {}) })
    const handled: string[] = []
    const api = await startHono(guard, handled)
    try {
      const sent: RequestInit[] = []
      const call = createMandateFetch({
        mandate: formatMandate(grant),
        key: assistant,
        audience: 'mail',
        approvals: { url: service.url, withinMs: 20_000 },
        fetch: (async (u: string | URL | Request, i?: RequestInit) => {
          sent.push({ ...i })
          return fetch(u, i)
        }) as typeof fetch,
      })
      const [res, approved] = await Promise.all([
        call(`${api.url}/mailboxes/alice/messages/7`, {
          method: 'DELETE',
          mandate: { action: 'email:delete', resource: 'mailbox/alice/7', intent: 'delete the phishing mail' },
        }),
        aliceApprovesWhenAsked(),
      ])
      expect(res.status).toBe(200)
      expect(approved.intent).toBe('delete the phishing mail')
      expect(handled).toEqual(['DELETE /mailboxes/alice/messages/7'])
      // Two sends of one invocation: the second with Alice's approval.
      expect(sent).toHaveLength(2)
      const [a, b] = sent.map((i) => new Headers(i.headers))
      expect(b?.get('authorization')).toBe(a?.get('authorization'))
      expect(a?.get('mandate-approval')).toBeNull()
      expect(b?.get('mandate-approval')).toMatch(/^mna1_/)
      // And only once: the same request again is a replay.
      const again = await fetch(`${api.url}/mailboxes/alice/messages/7`, { method: 'DELETE', headers: b as Headers })
      expect(again.status).toBe(401)
      expect(((await again.json()) as { code: string }).code).toBe('ERR_REPLAY')
    } finally {
      await api.close()
    }
  })
})

it('returns the approval-required answer when nobody approves in time', async () => {
  const verifier = createVerifier({ roots: [{ key: toDidKey(alice.publicKey), name: 'alice' }], audience: 'mail', revocations: 'none' })
  const handled: string[] = []
  const api = await startHono(createHttpGuard({ verifier, inbox: { url: service.url } }), handled)
  try {
    const call = createMandateFetch({ mandate: grant, key: assistant, audience: 'mail', approvals: { url: service.url, withinMs: 1200 } })
    const res = await call(`${api.url}/mailboxes/alice/messages/8`, {
      method: 'DELETE',
      mandate: { action: 'email:delete', resource: 'mailbox/alice/8' },
    })
    expect(res.status).toBe(403)
    const body = (await res.json()) as { code: string; approvalRequest: { id: string; filed: boolean } }
    expect(body.code).toBe('ERR_APPROVAL_REQUIRED')
    expect(body.approvalRequest.filed).toBe(true)
    expect(res.headers.get('mandate-approval-request')).toBe(body.approvalRequest.id)
    expect(handled).toEqual([])
  } finally {
    await api.close()
  }
})

it('a denied request ends the call at once: ERR_APPROVAL_DENIED, with who refused and why; nothing is sent again', async () => {
  const verifier = createVerifier({ roots: [{ key: toDidKey(alice.publicKey), name: 'alice' }], audience: 'mail', revocations: 'none' })
  const handled: string[] = []
  const api = await startHono(createHttpGuard({ verifier, inbox: { url: service.url } }), handled)
  try {
    let sends = 0
    const call = createMandateFetch({
      mandate: grant,
      key: assistant,
      audience: 'mail',
      approvals: { url: service.url, withinMs: 20_000 },
      fetch: (async (u: string | URL | Request, i?: RequestInit) => {
        sends++
        return fetch(u, i)
      }) as typeof fetch,
    })
    const aliceDenies = async () => {
      const approver = toDidKey(alice.publicKey)
      for (let i = 0; i < 100; i++) {
        const page = await http(`${service.url}/v1/approvals?approver=${encodeURIComponent(approver)}`, { key: alice })
        const first = (page.json['pending'] as { id: string; resource?: string }[] | undefined)?.find(
          (r) => r.resource === 'mailbox/alice/9',
        )
        if (first) {
          const denied = await http(`${service.url}/v1/approvals/${first.id}/deny`, {
            body: { reason: 'keep it: it is the invoice\u202e' },
            key: alice,
          })
          expect(denied.status).toBe(200)
          return first.id
        }
        await new Promise((r) => setTimeout(r, 50))
      }
      throw new Error('no request reached the inbox')
    }
    const started = Date.now()
    const [outcome, id] = await Promise.all([
      call(`${api.url}/mailboxes/alice/messages/9`, {
        method: 'DELETE',
        mandate: { action: 'email:delete', resource: 'mailbox/alice/9' },
      }).then(
        () => undefined,
        (e: unknown) => e,
      ),
      aliceDenies(),
    ])
    expect(Date.now() - started).toBeLessThan(10_000)
    expect(outcome).toBeInstanceOf(MandateError)
    const e = outcome as MandateError<'ERR_APPROVAL_DENIED'>
    expect(e.code).toBe('ERR_APPROVAL_DENIED')
    expect(e.details).toEqual({ by: toDidKey(alice.publicKey), reason: 'keep it: it is the invoice\u202e', at: expect.any(Number) })
    // the message names the request and who, and shows the reason escaped
    expect(e.message).toBe(`approval request ${id} was denied by ${toDidKey(alice.publicKey)}: keep it: it is the invoice\\u202e`)
    expect(e.hint).toBe('the request was not sent again; a new call files a new approval request, which its approvers see anew')
    expect(sends).toBe(1)
    expect(handled).toEqual([])
  } finally {
    await api.close()
  }
})
