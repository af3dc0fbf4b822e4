/**
 * Approvals that wait (issue 11), end to end through the real service started in this process
 * on a SQLite file, its clock moved by the test: the agent files a request for an invocation
 * an hour before Alice reads it; Alice approves it now; the agent collects the approval and
 * its waiting invocation is accepted once, through the service's replay claims and counters.
 */
import { join } from 'node:path'
import pino from 'pino'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  approve,
  createRemoteReplayCache,
  createRemoteUsageStore,
  createVerifier,
  type Decision,
  formatApproval,
  formatInvocation,
  generateKeyPair,
  invoke,
  mint,
  toDidKey,
} from '../../src/index.js'
import { type RunningService, startService } from '../../src/service/server.js'
import { scratch } from '../helpers/cli.js'
import { http } from '../helpers/service.js'

const HOUR = 3600
const code = (r: { json: Record<string, unknown> }) => (r.json['error'] as { code: string } | undefined)?.code
const codeOf = (d: Decision) => (d.allowed ? 'allowed' : d.code)
const realNow = () => Math.floor(Date.now() / 1000)

describe('an invocation filed an hour ago, approved now (in-process service, SQLite)', () => {
  const alice = generateKeyPair()
  const assistant = generateKeyPair()
  const mailVerifier = generateKeyPair()
  /** Seconds added to the real time on the service clock (signed requests are dated in real time). */
  let shift = 0
  let service: RunningService

  beforeAll(async () => {
    const dir = scratch()
    service = await startService({
      host: '127.0.0.1',
      port: 0,
      db: join(dir, 'mandate.db'),
      keyFile: join(dir, 'service.pem'),
      logLevel: 'silent',
      logger: pino({ level: 'silent' }),
      clock: () => realNow() + shift,
      trust: {
        roots: [{ name: 'alice', key: toDidKey(alice.publicKey) }],
        verifiers: [{ name: 'mail', key: toDidKey(mailVerifier.publicKey) }],
      },
    })
  })
  afterAll(async () => {
    await service?.close()
  })

  it('waits, is approved, is accepted once and counted once; a request filed to wait 0 s is closed by then', async () => {
    const t = realNow()
    const grant = mint({
      principal: alice,
      to: toDidKey(assistant.publicKey),
      name: 'assistant',
      caveats: [
        { type: 'actions', patterns: ['email:*'] },
        { type: 'approval', actions: ['email:send'], approvers: [toDidKey(alice.publicKey)], quorum: 1 },
        { type: 'uses', max: 2 },
        { type: 'window', expires: t + 8 * HOUR },
      ],
      now: t - 2 * HOUR,
    })
    const counter = `${grant.blocks[0]?.idHex}/2`

    // An hour ago (on every clock): the agent signs and files two requests, one to wait the
    // service's default (a day), one to wait 0 s (as long as the invocation is fresh).
    shift = -HOUR
    const send = invoke(grant, { key: assistant, action: 'email:send', audience: 'mail', intent: 'answer Bob', now: t - HOUR })
    const brief = invoke(grant, { key: assistant, action: 'email:send', audience: 'mail', now: t - HOUR })
    const filed = await http(`${service.url}/v1/approvals`, { body: { invocation: formatInvocation(send) } })
    // It waits a day, cut to the mandate's window: after that no verifier accepts it.
    expect([filed.status, filed.json['status'], filed.json['expiresAt']]).toEqual([201, 'pending', t + 8 * HOUR + 60])
    const filedBrief = await http(`${service.url}/v1/approvals`, { body: { invocation: formatInvocation(brief), wait: 0 } })
    expect([filedBrief.status, filedBrief.json['expiresAt']]).toEqual([201, t - HOUR + 300 + 60])

    // Now: Alice reads her inbox and finds the hour-old request still pending (the brief one is gone).
    shift = 0
    const inbox = await http(`${service.url}/v1/approvals`, { key: alice })
    expect([inbox.status, (inbox.json['pending'] as { id: string }[]).map((p) => p.id)]).toEqual([200, [send.idHex]])
    const ok = formatApproval(approve({ approver: alice, invocation: send, now: realNow() }))
    const approved = await http(`${service.url}/v1/approvals/${send.idHex}`, { body: { approval: ok }, key: alice })
    expect([approved.status, approved.json['status']]).toEqual([200, 'approved'])
    const late = await http(`${service.url}/v1/approvals/${brief.idHex}`, {
      body: { approval: formatApproval(approve({ approver: alice, invocation: brief, now: realNow() })) },
      key: alice,
    })
    expect([late.status, code(late)]).toEqual([409, 'ERR_CONFLICT'])

    // The agent collects the approval; two verifiers of the service accept the invocation once.
    const shown = await http(`${service.url}/v1/approvals/${send.idHex}`, { key: assistant })
    const approvals = Object.values(shown.json['approvals'] as Record<string, string>)
    expect(approvals).toEqual([ok])
    // What is left of the chain's uses caveat, as the approver sees it: nothing spent yet.
    expect(shown.json['quota']).toEqual([{ block: 0, caveat: 2, max: 2, used: 0, remaining: 2 }])
    const verifier = () =>
      createVerifier({
        roots: [{ key: toDidKey(alice.publicKey), name: 'alice' }],
        audience: 'mail',
        replay: createRemoteReplayCache({ url: service.url, key: mailVerifier }),
        usage: createRemoteUsageStore({ url: service.url, key: mailVerifier }),
        revocations: 'none',
      })
    const [a, b] = [verifier(), verifier()]
    expect(codeOf(await a.authorize({ invocation: send }))).toBe('ERR_APPROVAL_REQUIRED')
    const accepted = await a.authorize({ invocation: send, approvals })
    expect([codeOf(accepted), accepted.allowed && accepted.usage, accepted.allowed && accepted.approvals]).toEqual([
      'allowed',
      [{ key: counter, remaining: 1 }],
      [toDidKey(alice.publicKey)],
    ])
    expect(codeOf(await b.authorize({ invocation: send, approvals }))).toBe('ERR_REPLAY')
    expect(codeOf(await a.authorize({ invocation: send, approvals }))).toBe('ERR_REPLAY')
    // Spent once, and the request says so (reading it changes nothing).
    for (let i = 0; i < 2; i++) {
      const after = await http(`${service.url}/v1/approvals/${send.idHex}`, { key: alice })
      expect(after.json['quota']).toEqual([{ block: 0, caveat: 2, max: 2, used: 1, remaining: 1 }])
    }
    // a verifier that does not let invocations wait refuses it as stale
    const strict = createVerifier({ roots: [toDidKey(alice.publicKey)], audience: 'mail', revocations: 'none', approvalWait: 0 })
    expect(codeOf(await strict.authorize({ invocation: send, approvals }))).toBe('ERR_PROOF')
  })
})
