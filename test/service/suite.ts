/**
 * The service's behaviour over HTTP, shared by the SQLite and PostgreSQL runs.
 */
import { request as httpRequest } from 'node:http'
import { connect } from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { encodeCbor } from '../../src/cbor/codec.js'
import { getBackend } from '../../src/crypto/ed25519.js'
import { signRequest } from '../../src/crypto/http-signature.js'
import {
  type AttenuateOptions,
  approve,
  attenuate,
  createFeedRevocationView,
  createRemoteReplayCache,
  createRemoteUsageStore,
  createRevocation,
  createVerifier,
  formatApproval,
  formatInvocation,
  formatMandate,
  formatRevocation,
  generateKeyPair,
  invoke,
  type KeyPair,
  mint,
  parsePublicKey,
  toDidKey,
  type UnverifiedMandate,
  verifyFeedPage,
} from '../../src/index.js'
import { joinSigned } from '../../src/token/block.js'
import { signingInput } from '../../src/token/signing.js'
import { http, type ServerTrust, type ServiceUnderTest } from '../helpers/service.js'

const now = () => Math.floor(Date.now() / 1000)
const code = (r: { json: Record<string, unknown> }) => (r.json['error'] as { code: string } | undefined)?.code

export function serviceSuite(name: string, start: (trust: ServerTrust) => Promise<ServiceUnderTest>): void {
  describe(`service (${name})`, () => {
    let server: ServiceUnderTest
    const alice = generateKeyPair()
    const assistant = generateKeyPair()
    /** Registered verifiers: the mail and slack services. */
    const mailVerifier = generateKeyPair()
    const slackVerifier = generateKeyPair()
    /** A verifier whose name contains the key separator, registered beside "slack". */
    const slackXVerifier = generateKeyPair()
    let grant: UnverifiedMandate
    const roots = () => [{ key: toDidKey(alice.publicKey), name: 'alice' }]
    const child = (caveats: AttenuateOptions['caveats'] = [], name = 'sub') =>
      attenuate(grant, { key: assistant, caveats: caveats ?? [], name })
    const usageAs = (key: KeyPair) => createRemoteUsageStore({ url: server.url, key })
    const consume = (body: Record<string, unknown>, key?: KeyPair) =>
      http(`${server.url}/v1/usage/consume`, { body, ...(key ? { key } : {}) })

    beforeAll(async () => {
      server = await start({
        roots: [`alice=${toDidKey(alice.publicKey)}`],
        verifiers: [
          `mail=${toDidKey(mailVerifier.publicKey)}`,
          `slack=${toDidKey(slackVerifier.publicKey)}`,
          `slack:x=${toDidKey(slackXVerifier.publicKey)}`,
        ],
        audience: 'revocations.test',
      })
      grant = mint({
        principal: alice,
        to: toDidKey(assistant.publicKey),
        name: 'assistant',
        caveats: [
          { type: 'actions', patterns: ['slack:*', 'email:*'] },
          { type: 'approval', actions: ['email:send'], approvers: [toDidKey(alice.publicKey)], quorum: 1 },
          { type: 'window', expires: now() + 3600 },
        ],
      })
    })
    afterAll(async () => {
      await server?.stop()
    })

    it('health, readiness and metrics; durable storage settings', async () => {
      expect((await http(`${server.url}/healthz`)).json).toEqual({ status: 'ok' })
      const ready = await http(`${server.url}/readyz`)
      expect(ready.status).toBe(200)
      expect(ready.json['status']).toBe('ready')
      const storage = ready.json['storage'] as Record<string, string>
      if (storage['backend'] === 'sqlite')
        expect([storage['journal_mode'], storage['synchronous'], storage['wal_fsync']]).toEqual(['wal', '1', 'before answering'])
      else expect([storage['synchronous_commit'], storage['fsync']]).toEqual(['on', 'on'])
      const metrics = await http(`${server.url}/metrics`)
      expect(metrics.text).toContain('mandate_http_requests_total')
      expect(metrics.text).toContain('mandate_feed_seq')
      expect((await http(`${server.url}/nope`)).json).toEqual({ error: { code: 'ERR_NOT_FOUND', message: expect.any(String) } })
    })

    it('accepts a revocation once; a retry gets the same sequence number and adds nothing', async () => {
      const m = child()
      const text = formatRevocation(createRevocation({ mandate: m, key: alice, reason: 'test' }))
      const first = await http(`${server.url}/v1/revocations`, { body: { revocation: text } })
      expect(first.status).toBe(201)
      const again = await http(`${server.url}/v1/revocations`, { body: { revocation: text } })
      expect([again.status, again.json['seq'], again.json['created']]).toEqual([200, first.json['seq'], false])
      const one = await http(`${server.url}/v1/revocations/${m.blocks[1]?.idHex}`)
      expect(one.json).toMatchObject({ revoked: true, suspended: false })
      expect((one.json['entries'] as unknown[]).length).toBe(1)
    })

    it('forged, descendant-issued, stale and malformed statements write nothing', async () => {
      const head = async () => (await http(`${server.url}/v1/revocations?since=0`)).json
      const before = verifyFeedPage(await head(), parsePublicKey(server.serviceKey)).head
      const m = child()
      const honest = createRevocation({ mandate: m, key: alice })
      // one byte string, signature ‖ payload: flip a bit of the signature (its byte 59)
      const tampered = new Uint8Array(honest.bytes)
      const sigAt = tampered.length - honest.payload.length - 64
      expect(tampered.subarray(sigAt, sigAt + 64)).toEqual(honest.signature)
      tampered[sigAt + 59] = (tampered[sigAt + 59] as number) ^ 1
      const forged = await http(`${server.url}/v1/revocations`, { body: { revocation: formatRevocation({ ...honest, bytes: tampered }) } })
      expect([forged.status, (forged.json['error'] as { code: string }).code]).toEqual([401, 'ERR_SIG_INVALID'])
      // the sub-agent (a bearer holder) signs a statement against the root block by hand
      if (m.proof.kind !== 'bearer') throw new Error('unreachable')
      const mallory = generateKeyPair()
      const byOutsider = createRevocation({ mandate: m, key: alice, block: 0 })
      const hex = Buffer.from(byOutsider.payload).toString('hex')
      const at = hex.lastIndexOf(Buffer.from(alice.publicKey).toString('hex'))
      const payload = Buffer.from(hex.slice(0, at) + Buffer.from(mallory.publicKey).toString('hex') + hex.slice(at + 64), 'hex')
      const outsider = encodeCbor(joinSigned(getBackend().sign(mallory.secretKey, signingInput('revocation', payload)), payload))
      const r4 = await http(`${server.url}/v1/revocations`, { body: { revocation: `mnr1_${Buffer.from(outsider).toString('base64url')}` } })
      expect([r4.status, (r4.json['error'] as { code: string }).code]).toEqual([403, 'ERR_NOT_AUTHORIZED'])
      const stale = createRevocation({ mandate: m, key: alice, now: now() - 1000 })
      const r5 = await http(`${server.url}/v1/revocations`, { body: { revocation: formatRevocation(stale) } })
      expect([r5.status, (r5.json['error'] as { code: string }).code]).toEqual([401, 'ERR_REQUEST_STALE'])
      expect((await http(`${server.url}/v1/revocations`, { body: '{nope' })).status).toBe(400)
      expect((await http(`${server.url}/v1/revocations`, { body: { revocation: 'mnr1_AAAA' } })).status).toBe(400)
      const big = await http(`${server.url}/v1/revocations`, { body: { revocation: 'x'.repeat(70_000) } })
      expect([big.status, (big.json['error'] as { code: string }).code]).toEqual([413, 'ERR_LIMIT_SIZE'])
      expect(verifyFeedPage(await head(), parsePublicKey(server.serviceKey)).head).toBe(before)
    })

    it('a suspension is lifted only by its signer or a key above it', async () => {
      const sub = child([], 'suspended')
      if (sub.proof.kind !== 'bearer') throw new Error('unreachable')
      const post = (key: KeyPair | Uint8Array, kind: 'suspend' | 'resume') =>
        http(`${server.url}/v1/revocations`, { body: { revocation: formatRevocation(createRevocation({ mandate: sub, key, kind })) } })
      expect((await post(assistant, 'suspend')).status).toBe(201)
      const bySelf = await post(sub.proof.secret, 'resume')
      expect([bySelf.status, (bySelf.json['error'] as { code: string }).code]).toEqual([403, 'ERR_NOT_AUTHORIZED'])
      expect((await post(alice, 'resume')).status).toBe(201)
      // the holder may suspend itself and lift its own suspension
      expect((await post(sub.proof.secret, 'suspend')).status).toBe(201)
      expect((await post(sub.proof.secret, 'resume')).status).toBe(201)
      const state = await http(`${server.url}/v1/revocations/${sub.blocks[1]?.idHex}`)
      expect(state.json).toMatchObject({ revoked: false, suspended: false })
    })

    it('the feed is signed, delta-synced, and answers 304 to an unchanged ETag', async () => {
      const key = parsePublicKey(server.serviceKey)
      const all = await http(`${server.url}/v1/revocations?since=0`)
      const page = verifyFeedPage(all.json, key)
      expect(page.entries.length).toBeGreaterThan(0)
      expect(page.nextUpdate).toBeGreaterThan(page.issuedAt)
      const seqs = page.entries.map((e) => e.seq)
      expect([...seqs].sort((a, b) => a - b)).toEqual(seqs)
      // issued_at is rounded to the feed's granularity (2 s), so the page changes when a window
      // ends: a 200 is right only with a later issued_at, and then the new page's ETag must hold.
      let held = all
      let revalidated = await http(`${server.url}/v1/revocations?since=0`, {
        headers: { 'if-none-match': held.headers.get('etag') as string },
      })
      for (let window = 0; revalidated.status === 200 && window < 3; window++) {
        expect(verifyFeedPage(revalidated.json, key).issuedAt).toBeGreaterThan(verifyFeedPage(held.json, key).issuedAt)
        held = revalidated
        revalidated = await http(`${server.url}/v1/revocations?since=0`, {
          headers: { 'if-none-match': held.headers.get('etag') as string },
        })
      }
      expect(revalidated.status).toBe(304)
      expect(revalidated.headers.get('etag')).toBe(held.headers.get('etag'))
      const delta = verifyFeedPage((await http(`${server.url}/v1/revocations?since=${page.head}`)).json, key)
      expect(delta.entries).toEqual([])
      expect(() => verifyFeedPage(all.json, generateKeyPair().publicKey)).toThrow(/ERR_REVOCATION_LIST_INVALID|rejected/)
    })

    it('end to end: a revoked sub-agent is denied within a second, its sibling works; suspend then resume', async () => {
      const revocations = createFeedRevocationView({ url: server.url, serviceKey: server.serviceKey })
      await revocations.sync()
      revocations.start()
      try {
        const verifier = createVerifier({
          roots: roots(),
          audience: 'slack',
          revocations,
          usage: usageAs(slackVerifier),
        })
        const sub = child([{ type: 'actions', patterns: ['slack:read'] }], 'sub-a')
        const sibling = child([{ type: 'actions', patterns: ['slack:read'] }], 'sub-b')
        const ask = async (m: UnverifiedMandate) => verifier.authorize({ mandate: m, request: { action: 'slack:read' } })
        expect((await ask(sub)).allowed).toBe(true)
        const posted = Date.now()
        const res = await http(`${server.url}/v1/revocations`, {
          body: { revocation: formatRevocation(createRevocation({ mandate: sub, key: alice })) },
        })
        expect(res.status).toBe(201)
        let denied = false
        while (Date.now() - posted < 1000) {
          const d = await ask(sub)
          if (!d.allowed && d.code === 'ERR_REVOKED') {
            denied = true
            break
          }
          await new Promise((r) => setTimeout(r, 20))
        }
        expect(denied).toBe(true)
        expect((await ask(sibling)).allowed).toBe(true)
        const suspend = await http(`${server.url}/v1/revocations`, {
          body: { revocation: formatRevocation(createRevocation({ mandate: sibling, key: assistant, kind: 'suspend' })) },
        })
        expect(suspend.status).toBe(201)
        await waitFor(async () => {
          const d = await ask(sibling)
          return !d.allowed && d.code === 'ERR_SUSPENDED'
        })
        await http(`${server.url}/v1/revocations`, {
          body: { revocation: formatRevocation(createRevocation({ mandate: sibling, key: assistant, kind: 'resume' })) },
        })
        await waitFor(async () => (await ask(sibling)).allowed)
      } finally {
        await revocations.stop()
      }
    })

    it('64 concurrent consumers against a limit of 100 get exactly 100 grants; retries get their original answer', async () => {
      const limited = child([{ type: 'uses', max: 100 }], 'quota')
      const presentation = formatMandate(limited)
      const key = `${limited.blocks[1]?.idHex}/0`
      const answers = new Map<string, boolean>()
      let granted = 0
      const attempt = async (id: string) => {
        const r = await consume({ requestId: id, presentation, counters: [key] }, slackVerifier)
        expect(r.status).toBe(200)
        return r.json['granted'] === true
      }
      const ids = Array.from({ length: 160 }, (_, i) => `req-${i}`)
      let next = 0
      await Promise.all(
        Array.from({ length: 64 }, async () => {
          while (next < ids.length) {
            const id = ids[next++] as string
            const ok = await attempt(id)
            answers.set(id, ok)
            if (ok) granted++
            // a quarter of the requests are retried and must get the same answer
            if (id.endsWith('0') || id.endsWith('5')) expect(await attempt(id)).toBe(ok)
          }
        }),
      )
      expect(granted).toBe(100)
      expect([...answers.values()].filter(Boolean).length).toBe(100)
    })

    it('a denied request consumes nothing; counters must belong to the presented chain', async () => {
      const limited = child([{ type: 'uses', max: 2 }], 'two')
      const other = child([{ type: 'uses', max: 5 }], 'five')
      const verifier = createVerifier({ roots: roots(), audience: 'slack', usage: usageAs(slackVerifier), revocations: 'none' })
      for (let i = 0; i < 5; i++)
        expect((await verifier.authorize({ mandate: limited, request: { action: 'calendar:read' } })).allowed).toBe(false)
      expect((await verifier.authorize({ mandate: limited, request: { action: 'slack:read' } })).allowed).toBe(true)
      expect((await verifier.authorize({ mandate: limited, request: { action: 'slack:read' } })).allowed).toBe(true)
      const third = await verifier.authorize({ mandate: limited, request: { action: 'slack:read' } })
      expect(third.allowed ? 'allowed' : third.code).toBe('ERR_USAGE_EXHAUSTED')
      // burning someone else's counter, or inventing one, is refused
      const foreign = await consume(
        { requestId: 'x1', presentation: formatMandate(limited), counters: [`${other.blocks[1]?.idHex}/0`] },
        slackVerifier,
      )
      expect([foreign.status, code(foreign)]).toEqual([403, 'ERR_NOT_AUTHORIZED'])
      const invented = await consume(
        { requestId: 'x2', presentation: formatMandate(limited), counters: [`${limited.blocks[0]?.idHex}/0`] },
        slackVerifier,
      )
      expect(invented.status).toBe(403)
      const bound = await consume(
        { requestId: 'x3', presentation: formatMandate(grant), counters: [`${grant.blocks[0]?.idHex}/0`] },
        slackVerifier,
      )
      expect([bound.status, code(bound)]).toEqual([401, 'ERR_PROOF'])
      const empty = await consume({ requestId: 'x4', presentation: formatMandate(limited), counters: [] }, slackVerifier)
      expect([empty.status, code(empty)]).toEqual([400, 'ERR_REQUEST_MALFORMED'])
      const twice = await consume(
        {
          requestId: 'x5',
          presentation: formatMandate(limited),
          counters: [`${limited.blocks[1]?.idHex}/0`, `${limited.blocks[1]?.idHex}/0`],
        },
        slackVerifier,
      )
      expect([twice.status, code(twice)]).toEqual([400, 'ERR_REQUEST_MALFORMED'])
      // one spelling per counter: "…/01" is not another name for "…/1"
      const padded = await consume(
        { requestId: 'x6', presentation: formatMandate(limited), counters: [`${limited.blocks[1]?.idHex}/00`] },
        slackVerifier,
      )
      expect([padded.status, code(padded)]).toEqual([403, 'ERR_NOT_AUTHORIZED'])
    })

    it('a shared replay store: two verifiers accept an invocation once', async () => {
      const replay = createRemoteReplayCache({ url: server.url, key: mailVerifier })
      const a = createVerifier({ roots: roots(), audience: 'mail', replay, revocations: 'none' })
      const b = createVerifier({ roots: roots(), audience: 'mail', replay, revocations: 'none' })
      const inv = invoke(grant, { key: assistant, action: 'email:read', audience: 'mail' })
      expect((await a.authorize({ invocation: inv })).allowed).toBe(true)
      const again = await b.authorize({ invocation: inv })
      expect(again.allowed ? 'allowed' : again.code).toBe('ERR_REPLAY')
      const bogus = await http(`${server.url}/v1/replay/claim`, { body: { invocation: 'mni1_AAAA' }, key: mailVerifier })
      expect(bogus.status).toBe(400)
      // a denied request releases its claim, so the invocation can come back (e.g. once approved)
      const send = invoke(grant, { key: assistant, action: 'email:send', audience: 'mail' })
      expect((await a.authorize({ invocation: send })).allowed).toBe(false)
      const ok = approve({ approver: alice, invocation: send })
      expect((await b.authorize({ invocation: send, approvals: [ok] })).allowed).toBe(true)
    })

    it('the approval inbox: request, list, approve, show', async () => {
      const inv = invoke(grant, {
        key: assistant,
        action: 'email:send',
        args: { to: 'bob@example.com' },
        audience: 'mail',
        intent: 'answer Bob',
      })
      const created = await http(`${server.url}/v1/approvals`, { body: { invocation: formatInvocation(inv) } })
      expect(created.status).toBe(201)
      expect(created.json).toMatchObject({
        id: inv.idHex,
        status: 'pending',
        action: 'email:send',
        intent: 'answer Bob',
        requestedBy: { name: 'assistant' },
      })
      const list = await http(`${server.url}/v1/approvals?approver=${toDidKey(alice.publicKey)}`, { key: alice })
      expect((list.json['pending'] as { id: string }[]).map((p) => p.id)).toContain(inv.idHex)
      const mallory = generateKeyPair()
      const byMallory = formatApproval(approve({ approver: mallory, invocation: inv }))
      const refused = await http(`${server.url}/v1/approvals/${inv.idHex}`, { body: { approval: byMallory }, key: mallory })
      expect([refused.status, code(refused)]).toEqual([403, 'ERR_NOT_AUTHORIZED'])
      const ok = formatApproval(approve({ approver: alice, invocation: inv }))
      // posting Alice's approval needs Alice's key, not just a copy of the approval
      const relayed = await http(`${server.url}/v1/approvals/${inv.idHex}`, { body: { approval: ok }, key: mallory })
      expect([relayed.status, code(relayed)]).toEqual([403, 'ERR_NOT_AUTHORIZED'])
      const approved = await http(`${server.url}/v1/approvals/${inv.idHex}`, { body: { approval: ok }, key: alice })
      expect(approved.json).toMatchObject({ status: 'approved' })
      // the requester reads its own request (to collect the approvals)
      const shown = await http(`${server.url}/v1/approvals/${inv.idHex}`, { key: assistant })
      const approvals = Object.values(shown.json['approvals'] as Record<string, string>)
      expect(approvals).toEqual([ok])
      // whoever holds a copy of the invocation (a logged Authorization field) and files it again
      // learns that it is approved, but never collects the approval to present it first
      const refiled = await http(`${server.url}/v1/approvals`, { body: { invocation: formatInvocation(inv) } })
      expect([refiled.status, refiled.json['status'], refiled.json['approvals']]).toEqual([201, 'approved', {}])
      expect(JSON.stringify(refiled.json)).not.toContain('mna1_')
      const verifier = createVerifier({ roots: roots(), audience: 'mail', revocations: 'none' })
      expect((await verifier.authorize({ invocation: inv, approvals })).allowed).toBe(true)
      const noNeed = invoke(grant, { key: assistant, action: 'email:read', audience: 'mail' })
      expect((await http(`${server.url}/v1/approvals`, { body: { invocation: formatInvocation(noNeed) } })).status).toBe(409)
      expect((await http(`${server.url}/v1/approvals/${'0'.repeat(64)}`, { key: alice })).status).toBe(404)
    })

    it('an invocation that waited an hour for its approval is accepted once across verifiers, and counted once', async () => {
      const limited = attenuate(grant, {
        key: assistant,
        to: toDidKey(assistant.publicKey),
        caveats: [{ type: 'uses', max: 3 }],
        name: 'waited',
      })
      const counter = `${limited.blocks[1]?.idHex}/0`
      const replay = createRemoteReplayCache({ url: server.url, key: mailVerifier })
      const verifier = () => createVerifier({ roots: roots(), audience: 'mail', replay, usage: usageAs(mailVerifier), revocations: 'none' })
      const [a, b] = [verifier(), verifier()]
      const t = now()
      const send = invoke(limited, { key: assistant, action: 'email:send', audience: 'mail', now: t - 3600 })
      const codeOf = (d: Awaited<ReturnType<typeof a.authorize>>) => (d.allowed ? 'allowed' : d.code)
      // past its max age, it is still waiting for its approval
      expect(codeOf(await a.authorize({ invocation: send }))).toBe('ERR_APPROVAL_REQUIRED')
      const ok = approve({ approver: alice, invocation: send, now: t })
      const first = await a.authorize({ invocation: send, approvals: [ok] })
      expect([codeOf(first), first.allowed && first.usage]).toEqual(['allowed', [{ key: counter, remaining: 2 }]])
      expect(codeOf(await b.authorize({ invocation: send, approvals: [ok] }))).toBe('ERR_REPLAY')
      // approved too long ago: max_age + σ after the approval, it is stale
      const held = invoke(limited, { key: assistant, action: 'email:send', audience: 'mail', now: t - 3600 })
      const oldOk = approve({ approver: alice, invocation: held, now: t - 361, ttl: 3600 })
      expect(codeOf(await a.authorize({ invocation: held, approvals: [oldOk] }))).toBe('ERR_PROOF')
      // one that needs no approval cannot wait; and the service refuses to claim or spend either
      const read = invoke(limited, { key: assistant, action: 'email:read', audience: 'mail', now: t - 3600 })
      expect(codeOf(await a.authorize({ invocation: read }))).toBe('ERR_PROOF')
      const claimRead = await http(`${server.url}/v1/replay/claim`, { body: { invocation: formatInvocation(read) }, key: mailVerifier })
      expect([claimRead.status, code(claimRead)]).toEqual([401, 'ERR_REQUEST_STALE'])
      const spendRead = await consume({ presentation: formatInvocation(read), counters: [counter] }, mailVerifier)
      expect([spendRead.status, code(spendRead)]).toEqual([401, 'ERR_REQUEST_STALE'])
      // beyond the service's approval wait (a day by default), even one that needs approval is stale there
      const ancient = invoke(limited, { key: assistant, action: 'email:send', audience: 'mail', now: t - 86_400 - 120 })
      const claimAncient = await http(`${server.url}/v1/replay/claim`, {
        body: { invocation: formatInvocation(ancient) },
        key: mailVerifier,
      })
      expect([claimAncient.status, code(claimAncient)]).toEqual([401, 'ERR_REQUEST_STALE'])
    })

    // ---- the attacks of issue 7, each as the party that tried it ------------------------------

    it('attack 1: a holder cannot answer for its own next invocation; a uses:1 mandate is used once', async () => {
      const once = child([{ type: 'uses', max: 1 }], 'once')
      const bound = attenuate(grant, {
        key: assistant,
        to: toDidKey(assistant.publicKey),
        caveats: [{ type: 'uses', max: 1 }],
        name: 'once-bound',
      })
      const counter = `${bound.blocks[1]?.idHex}/0`
      const next = invoke(bound, { key: assistant, action: 'slack:read', audience: 'slack' })
      const forged = { requestId: next.idHex, presentation: formatInvocation(next), counters: [counter] }
      // unsigned, signed by the holder itself, and for a chain it minted itself: all refused
      const unsigned = await consume(forged)
      expect([unsigned.status, code(unsigned)]).toEqual([401, 'ERR_AUTH_REQUIRED'])
      expect(unsigned.headers.get('accept-signature')).toContain('ed25519')
      const byHolder = await consume(forged, assistant)
      expect([byHolder.status, code(byHolder)]).toEqual([403, 'ERR_NOT_AUTHORIZED'])
      const mallory = generateKeyPair()
      const selfMinted = attenuate(mint({ principal: mallory, caveats: [{ type: 'window', expires: now() + 600 }] }), {
        caveats: [{ type: 'uses', max: 1 }],
      })
      const own = await consume(
        { requestId: next.idHex, presentation: formatMandate(selfMinted), counters: [`${selfMinted.blocks[1]?.idHex}/0`] },
        slackVerifier,
      )
      expect([own.status, code(own)]).toEqual([403, 'ERR_ROOT_UNTRUSTED'])
      // the real verifier counts: one use, then exhausted
      const verifier = createVerifier({ roots: roots(), audience: 'slack', usage: usageAs(slackVerifier), revocations: 'none' })
      expect((await verifier.authorize({ invocation: next })).allowed).toBe(true)
      const second = await verifier.authorize({ invocation: invoke(bound, { key: assistant, action: 'slack:read', audience: 'slack' }) })
      expect(second.allowed ? 'allowed' : second.code).toBe('ERR_USAGE_EXHAUSTED')
      const bare = await verifier.authorize({ mandate: once, request: { action: 'slack:read' } })
      expect(bare.allowed).toBe(true)
      expect((await verifier.authorize({ mandate: once, request: { action: 'slack:read' } })).allowed).toBe(false)
    })

    it('attack 2: a copied invocation cannot drain the quota or plant a denial', async () => {
      const three = attenuate(grant, {
        key: assistant,
        to: toDidKey(assistant.publicKey),
        caveats: [
          { type: 'uses', max: 3 },
          { type: 'uses', max: 10, per: 3600 },
        ],
        name: 'three',
      })
      const counter = `${three.blocks[1]?.idHex}/0`
      const inv = invoke(three, { key: assistant, action: 'slack:read', audience: 'slack' })
      const copy = formatInvocation(inv)
      // a stranger with the copy: unsigned, with fresh request ids
      for (let i = 0; i < 5; i++) {
        const r = await consume({ requestId: `drain-${i}`, presentation: copy, counters: [counter] })
        expect(r.status).toBe(401)
      }
      // a verifier of another audience cannot spend it; the right verifier cannot re-key it
      const otherAudience = await consume({ presentation: copy, counters: [counter] }, mailVerifier)
      expect([otherAudience.status, code(otherAudience)]).toEqual([403, 'ERR_AUDIENCE'])
      const rekeyed = await consume({ requestId: 'fresh-id', presentation: copy, counters: [counter] }, slackVerifier)
      expect([rekeyed.status, code(rekeyed)]).toEqual([400, 'ERR_REQUEST_MALFORMED'])
      // a stale invocation spends nothing
      const old = invoke(three, { key: assistant, action: 'slack:read', audience: 'slack', now: now() - 3600 })
      const stale = await consume({ presentation: formatInvocation(old), counters: [counter] }, slackVerifier)
      expect([stale.status, code(stale)]).toEqual([401, 'ERR_REQUEST_STALE'])
      // retried by the right verifier: counted once
      const both = [counter, `${three.blocks[1]?.idHex}/1`]
      const first = await consume({ presentation: copy, counters: both }, slackVerifier)
      const retry = await consume({ presentation: copy, counters: both }, slackVerifier)
      expect(first.json).toEqual({
        granted: true,
        remaining: [
          { key: counter, remaining: 2 },
          { key: both[1], remaining: 9 },
        ],
      })
      expect(retry.json).toEqual(first.json)
      // the same id with other counters is a different question: refused, nothing stored
      const other = await consume({ presentation: copy, counters: [counter] }, slackVerifier)
      expect([other.status, code(other)]).toEqual([409, 'ERR_CONFLICT'])
      const verifier = createVerifier({ roots: roots(), audience: 'slack', usage: usageAs(slackVerifier), revocations: 'none' })
      for (let i = 0; i < 2; i++) {
        expect(
          (await verifier.authorize({ invocation: invoke(three, { key: assistant, action: 'slack:read', audience: 'slack' }) })).allowed,
        ).toBe(true)
      }
      const fourth = await verifier.authorize({ invocation: invoke(three, { key: assistant, action: 'slack:read', audience: 'slack' }) })
      expect(fourth.allowed ? 'allowed' : fourth.code).toBe('ERR_USAGE_EXHAUSTED')
    })

    it('attack 2d: request ids live in each verifier name’s own namespace, whatever the name holds', async () => {
      const a = child([{ type: 'uses', max: 5 }], 'ns-a')
      const b = child([{ type: 'uses', max: 5 }], 'ns-b')
      // "slack:x" + "r1" and "slack" + "x:r1" would both spell req:slack:x:r1 unprefixed
      const first = await consume(
        { requestId: 'r1', presentation: formatMandate(a), counters: [`${a.blocks[1]?.idHex}/0`] },
        slackXVerifier,
      )
      expect(first.json).toMatchObject({ granted: true })
      const other = await consume(
        { requestId: 'x:r1', presentation: formatMandate(b), counters: [`${b.blocks[1]?.idHex}/0`] },
        slackVerifier,
      )
      expect([other.status, other.json['granted']]).toEqual([200, true])
      // each keeps its own: slack's "x:r1" is bound to b, slack:x's "r1" to a
      const crossed = await consume(
        { requestId: 'x:r1', presentation: formatMandate(a), counters: [`${a.blocks[1]?.idHex}/0`] },
        slackVerifier,
      )
      expect([crossed.status, code(crossed)]).toEqual([409, 'ERR_CONFLICT'])
      const retry = await consume(
        { requestId: 'r1', presentation: formatMandate(a), counters: [`${a.blocks[1]?.idHex}/0`] },
        slackXVerifier,
      )
      expect(retry.json).toEqual(first.json)
    })

    it('attack 2b: a signed request cannot be replayed, altered or sent too late', async () => {
      const limited = child([{ type: 'uses', max: 10 }], 'ten')
      const body = { requestId: 'sig-1', presentation: formatMandate(limited), counters: [`${limited.blocks[1]?.idHex}/0`] }
      const bytes = new TextEncoder().encode(JSON.stringify(body))
      const url = `${server.url}/v1/usage/consume`
      const headers = { 'content-type': 'application/json', ...signRequest({ method: 'POST', url, body: bytes }, slackVerifier) }
      expect((await fetch(url, { method: 'POST', headers, body: bytes })).status).toBe(200)
      const replayed = await fetch(url, { method: 'POST', headers, body: bytes })
      expect([replayed.status, ((await replayed.json()) as { error: { code: string } }).error.code]).toEqual([401, 'ERR_AUTH_REPLAY'])
      const swapped = new TextEncoder().encode(JSON.stringify({ ...body, requestId: 'sig-2' }))
      const fresh = { 'content-type': 'application/json', ...signRequest({ method: 'POST', url, body: bytes }, slackVerifier) }
      const altered = await fetch(url, { method: 'POST', headers: fresh, body: swapped })
      expect([altered.status, ((await altered.json()) as { error: { code: string } }).error.code]).toEqual([401, 'ERR_AUTH_INVALID'])
      const late = {
        'content-type': 'application/json',
        ...signRequest({ method: 'POST', url, body: bytes }, slackVerifier, { created: now() - 3600 }),
      }
      const tooLate = await fetch(url, { method: 'POST', headers: late, body: bytes })
      expect([tooLate.status, ((await tooLate.json()) as { error: { code: string } }).error.code]).toEqual([401, 'ERR_REQUEST_STALE'])
    })

    it('attack 2c: a request signed for another service is refused here; a bad Host is the caller’s error', async () => {
      const port = new URL(server.url).port
      const send = (host: string, path: string, signedFor?: string) =>
        new Promise<{ status: number; body: string }>((resolve, reject) => {
          const headers = signedFor ? signRequest({ method: 'GET', url: `http://${signedFor}${path}` }, alice) : {}
          const req = httpRequest({ host: '127.0.0.1', port: Number(port), path, method: 'GET', headers: { ...headers, host } }, (res) => {
            let body = ''
            res.on('data', (d) => {
              body += String(d)
            })
            res.on('end', () => resolve({ status: res.statusCode ?? 0, body }))
          })
          req.on('error', reject)
          req.end()
        })
      // captured at (or signed for) service A, replayed here with A's name: refused
      const elsewhere = await send(`a.example:${port}`, '/v1/approvals', `a.example:${port}`)
      expect([elsewhere.status, (JSON.parse(elsewhere.body) as { error: { code: string } }).error.code]).toEqual([401, 'ERR_AUTH_INVALID'])
      // the names this service is reached by work
      expect((await send(`localhost:${port}`, '/v1/approvals', `localhost:${port}`)).status).toBe(200)
      expect((await send(`127.0.0.1:${port}`, '/v1/approvals', `127.0.0.1:${port}`)).status).toBe(200)
      // credentials in an absolute-form target: no URL this service can be named by
      const credentials = await new Promise<string>((resolve, reject) => {
        const socket = connect(Number(port), '127.0.0.1', () =>
          socket.write(`GET http://u:p@127.0.0.1:${port}/healthz HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nConnection: close\r\n\r\n`),
        )
        let raw = ''
        socket.on('data', (d) => {
          raw += String(d)
        })
        socket.on('end', () => resolve(raw))
        socket.on('error', reject)
      })
      expect(credentials.split('\r\n')[0]).toBe('HTTP/1.1 400 Bad Request')
      const bad = await send('xn--a', '/healthz')
      expect([bad.status, (JSON.parse(bad.body) as { error: { code: string } }).error.code]).toEqual([400, 'ERR_REQUEST_MALFORMED'])
    })

    it('attack 6b: a holder cannot silence its principal; statements about dead chains are refused', async () => {
      const noisyKey = generateKeyPair()
      const noisy = attenuate(grant, { key: assistant, to: toDidKey(noisyKey.publicKey), name: 'noisy' })
      const post = (key: KeyPair, options: Partial<Parameters<typeof createRevocation>[0]>) =>
        http(`${server.url}/v1/revocations`, {
          body: { revocation: formatRevocation(createRevocation({ mandate: noisy, key, ...options })) },
        })
      for (let i = 0; i < 64; i++) expect((await post(assistant, { actions: [`zz:nothing${i}`] })).status).toBe(201)
      const over = await post(assistant, { actions: ['zz:more'] })
      expect([over.status, code(over)]).toEqual([429, 'ERR_LIMIT_RATE'])
      // the principal's own statements count apart
      expect((await post(alice, { kind: 'suspend' })).status).toBe(201)
      const state = await http(`${server.url}/v1/revocations/${noisy.blocks[1]?.idHex}`)
      // scoped revocations do not make the block revoked as a whole
      expect(state.json).toMatchObject({ revoked: false, suspended: true })
      expect((await post(alice, {})).status).toBe(201)
      // below a block revoked whole, or in an expired chain, there is nothing left to say
      const below = attenuate(noisy, { key: noisyKey, caveats: [] })
      const under = await http(`${server.url}/v1/revocations`, {
        body: { revocation: formatRevocation(createRevocation({ mandate: below, key: alice })) },
      })
      expect([under.status, code(under)]).toEqual([403, 'ERR_REVOKED'])
      const past = attenuate(grant, { key: assistant, caveats: [{ type: 'window', expires: now() - 600 }] })
      const expired = await http(`${server.url}/v1/revocations`, {
        body: { revocation: formatRevocation(createRevocation({ mandate: past, key: alice })) },
      })
      expect([expired.status, code(expired)]).toEqual([403, 'ERR_TIME_EXPIRED'])
    })

    it('attack 6c: racing statements cannot slip past each other (resume vs suspend, final revokes, the cap)', async () => {
      const post = (m: UnverifiedMandate, key: KeyPair, options: Partial<Parameters<typeof createRevocation>[0]> = {}) =>
        http(`${server.url}/v1/revocations`, {
          body: { revocation: formatRevocation(createRevocation({ mandate: m, key, ...options })) },
        })
      for (let round = 0; round < 8; round++) {
        const m = child([], `raced-${round}`)
        // the holder keeps resuming its own block while its principal suspends it
        const results = await Promise.all([
          ...Array.from({ length: 4 }, () => post(m, assistant, { kind: 'resume' })),
          post(m, alice, { kind: 'suspend' }),
          ...Array.from({ length: 4 }, () => post(m, assistant, { kind: 'resume' })),
        ])
        expect(results[4]?.status).toBe(201)
        const state = await http(`${server.url}/v1/revocations/${m.blocks[1]?.idHex}`)
        expect(state.json['suspended'], `round ${round}`).toBe(true)
      }
      // four final revokes at once: one entry, and everyone is told its seq
      const m = child([], 'revoked-at-once')
      const kills = await Promise.all(Array.from({ length: 4 }, () => post(m, alice)))
      expect(kills.map((r) => r.status).sort()).toEqual([200, 200, 200, 201])
      expect(new Set(kills.map((r) => r.json['seq'])).size).toBe(1)
      const after = await post(m, alice, { kind: 'suspend' })
      expect([after.status, code(after)]).toEqual([403, 'ERR_REVOKED'])
      // 80 statements of one signer at once: exactly 64 kept
      const capped = child([], 'capped-at-once')
      const burst = await Promise.all(Array.from({ length: 80 }, (_, i) => post(capped, assistant, { actions: [`zz:n${i}`] })))
      expect(burst.filter((r) => r.status === 201).length).toBe(64)
      expect(burst.filter((r) => r.status === 429).length).toBe(16)
    })

    it('an invocation whose chain is for another audience spends, claims and files nothing', async () => {
      const forMail = attenuate(grant, {
        key: assistant,
        to: toDidKey(assistant.publicKey),
        caveats: [
          { type: 'audience', names: ['mail'] },
          { type: 'uses', max: 5 },
        ],
        name: 'mail-only',
      })
      const inv = invoke(forMail, { key: assistant, action: 'email:send', audience: 'slack' })
      const spent = await consume({ presentation: formatInvocation(inv), counters: [`${forMail.blocks[1]?.idHex}/1`] }, slackVerifier)
      expect([spent.status, code(spent)]).toEqual([403, 'ERR_AUDIENCE'])
      const claimed = await http(`${server.url}/v1/replay/claim`, { body: { invocation: formatInvocation(inv) }, key: slackVerifier })
      expect([claimed.status, code(claimed)]).toEqual([403, 'ERR_AUDIENCE'])
      const filed = await http(`${server.url}/v1/approvals`, { body: { invocation: formatInvocation(inv) } })
      expect([filed.status, code(filed)]).toEqual([403, 'ERR_AUDIENCE'])
    })

    it('attack 3: nobody but the claiming verifier releases a claim; an approved action is allowed once', async () => {
      const pay = invoke(grant, { key: assistant, action: 'email:send', audience: 'mail', args: { to: 'shop@example.com' } })
      const copy = formatInvocation(pay)
      // a stranger can neither claim a pending invocation first nor release one
      const claimFirst = await http(`${server.url}/v1/replay/claim`, { body: { invocation: copy } })
      expect([claimFirst.status, code(claimFirst)]).toEqual([401, 'ERR_AUTH_REQUIRED'])
      const mailB = createVerifier({
        roots: roots(),
        audience: 'mail',
        replay: createRemoteReplayCache({ url: server.url, key: mailVerifier }),
        revocations: 'none',
      })
      const approval = approve({ approver: alice, invocation: pay })
      expect((await mailB.authorize({ invocation: pay, approvals: [approval] })).allowed).toBe(true)
      const releaseUnsigned = await http(`${server.url}/v1/replay/release`, { body: { invocation: copy } })
      expect(releaseUnsigned.status).toBe(401)
      const releaseOther = await http(`${server.url}/v1/replay/release`, { body: { invocation: copy }, key: slackVerifier })
      expect([releaseOther.status, code(releaseOther)]).toEqual([403, 'ERR_AUDIENCE'])
      const holder = await http(`${server.url}/v1/replay/release`, { body: { invocation: copy }, key: assistant })
      expect([holder.status, code(holder)]).toEqual([403, 'ERR_NOT_AUTHORIZED'])
      for (let i = 0; i < 3; i++) {
        const again = await mailB.authorize({ invocation: pay, approvals: [approval] })
        expect(again.allowed ? 'allowed' : again.code).toBe('ERR_REPLAY')
      }
    })

    it('attack 4: the inbox is private, filled only from served chains, capped per requester, newest first', async () => {
      const send = invoke(grant, {
        key: assistant,
        action: 'email:send',
        audience: 'mail',
        intent: 'the real one',
        args: { to: 'x@example.com' },
      })
      expect((await http(`${server.url}/v1/approvals`, { body: { invocation: formatInvocation(send) } })).status).toBe(201)
      const aliceDid = toDidKey(alice.publicKey)
      const open = await http(`${server.url}/v1/approvals?approver=${aliceDid}`)
      expect([open.status, code(open)]).toEqual([401, 'ERR_AUTH_REQUIRED'])
      const mallory = generateKeyPair()
      const snoop = await http(`${server.url}/v1/approvals?approver=${aliceDid}`, { key: mallory })
      expect([snoop.status, code(snoop)]).toEqual([403, 'ERR_NOT_AUTHORIZED'])
      const one = await http(`${server.url}/v1/approvals/${send.idHex}`)
      expect(one.status).toBe(401)
      const oneSigned = await http(`${server.url}/v1/approvals/${send.idHex}`, { key: mallory })
      expect([oneSigned.status, code(oneSigned)]).toEqual([403, 'ERR_NOT_AUTHORIZED'])
      // a stranger's own chain naming Alice as approver is not served
      const fake = mint({
        principal: mallory,
        name: 'alice-assistant',
        caveats: [
          { type: 'approval', actions: ['email:send'], approvers: [aliceDid], quorum: 1 },
          { type: 'window', expires: now() + 600 },
        ],
      })
      const spam = await http(`${server.url}/v1/approvals`, {
        body: { invocation: formatInvocation(invoke(fake, { action: 'email:send', audience: 'mail' })) },
      })
      expect([spam.status, code(spam)]).toEqual([403, 'ERR_ROOT_UNTRUSTED'])
      // a served sub-agent flooding the inbox is capped (16 live pending requests)
      const flooder = generateKeyPair()
      const sub = attenuate(grant, { key: assistant, to: toDidKey(flooder.publicKey), name: 'flooder' })
      const statuses: number[] = []
      for (let i = 0; i < 20; i++) {
        const r = await http(`${server.url}/v1/approvals`, {
          body: {
            invocation: formatInvocation(invoke(sub, { key: flooder, action: 'email:send', audience: 'mail', intent: `lookalike ${i}` })),
          },
        })
        statuses.push(r.status)
        if (r.status === 429) expect(code(r)).toBe('ERR_LIMIT_RATE')
      }
      expect(statuses.filter((s) => s === 201).length).toBe(16)
      expect(statuses.slice(16)).toEqual([429, 429, 429, 429])
      // once its delegator revokes it, the flooder files nothing more (its subtree neither)
      const revoked = await http(`${server.url}/v1/revocations`, {
        body: { revocation: formatRevocation(createRevocation({ mandate: sub, key: assistant })) },
      })
      expect(revoked.status).toBe(201)
      const afterRevoke = await http(`${server.url}/v1/approvals`, {
        body: { invocation: formatInvocation(invoke(sub, { key: flooder, action: 'email:send', audience: 'mail' })) },
      })
      expect([afterRevoke.status, code(afterRevoke)]).toEqual([403, 'ERR_REVOKED'])
      const fresh = generateKeyPair()
      const deeper = attenuate(sub, { key: flooder, to: toDidKey(fresh.publicKey) })
      const fromBelow = await http(`${server.url}/v1/approvals`, {
        body: { invocation: formatInvocation(invoke(deeper, { key: fresh, action: 'email:send', audience: 'mail' })) },
      })
      expect([fromBelow.status, code(fromBelow)]).toEqual([403, 'ERR_REVOKED'])
      // newest first, and paging reaches everything
      const seen: string[] = []
      let next: string | undefined
      do {
        const page = await http(`${server.url}/v1/approvals?limit=5${next ? `&before=${next}` : ''}`, { key: alice })
        expect(page.status).toBe(200)
        seen.push(...(page.json['pending'] as { id: string }[]).map((p) => p.id))
        next = page.json['next'] as string | undefined
      } while (next)
      expect(seen).toContain(send.idHex)
      expect(new Set(seen).size).toBe(seen.length)
      const bad = await http(`${server.url}/v1/approvals?limit=0`, { key: alice })
      expect([bad.status, code(bad)]).toEqual([400, 'ERR_REQUEST_MALFORMED'])
      const badWait = await http(`${server.url}/v1/approvals/${send.idHex}?wait=abc`, { key: alice })
      expect([badWait.status, code(badWait)]).toEqual([400, 'ERR_REQUEST_MALFORMED'])
      // an approval that already expired is refused
      const expired = formatApproval(approve({ approver: alice, invocation: send, now: now() - 1000, ttl: 60 }))
      const late = await http(`${server.url}/v1/approvals/${send.idHex}`, { body: { approval: expired }, key: alice })
      expect([late.status, code(late)]).toEqual([403, 'ERR_APPROVAL_INVALID'])
    })

    it('deny with a reason: a listed approver or the principal closes a request; the agent reads who and why at once', async () => {
      const bob = generateKeyPair()
      const agent = generateKeyPair()
      const mallory = generateKeyPair()
      const aliceDid = toDidKey(alice.publicKey)
      const bobDid = toDidKey(bob.publicKey)
      // Bob approves; Alice is the principal, not listed
      const granted = mint({
        principal: alice,
        to: toDidKey(agent.publicKey),
        name: 'agent',
        caveats: [
          { type: 'actions', patterns: ['email:*'] },
          { type: 'approval', actions: ['email:send'], approvers: [bobDid], quorum: 1 },
          { type: 'window', expires: now() + 3600 },
        ],
      })
      const send = (to: string) => invoke(granted, { key: agent, action: 'email:send', args: { to }, audience: 'mail' })
      const inv = send('eve@example.com')
      expect((await http(`${server.url}/v1/approvals`, { body: { invocation: formatInvocation(inv) } })).status).toBe(201)
      const path = `${server.url}/v1/approvals/${inv.idHex}`
      // the agent waits; the denial answers its long poll at once
      const started = Date.now()
      const waiting = http(`${path}?wait=20`, { key: agent })
      await new Promise((r) => setTimeout(r, 300))
      for (const [who, key] of [
        ['the requester', agent],
        ['a stranger', mallory],
      ] as const) {
        const refused = await http(`${path}/deny`, { body: { reason: 'no' }, key })
        expect([who, refused.status, code(refused)]).toEqual([who, 403, 'ERR_NOT_AUTHORIZED'])
      }
      const denied = await http(`${path}/deny`, { body: { reason: 'Eve is not a customer' }, key: alice })
      expect([denied.status, denied.json['status'], denied.json['denial']]).toEqual([
        200,
        'denied',
        { by: aliceDid, reason: 'Eve is not a customer', at: expect.any(Number) },
      ])
      const waited = await waiting
      expect([waited.json['status'], waited.json['denial']]).toEqual(['denied', denied.json['denial']])
      expect(Date.now() - started).toBeLessThan(5000)
      // closed: no approval, no second denial by another, a retry by the same key unchanged
      const late = await http(path, { body: { approval: formatApproval(approve({ approver: bob, invocation: inv })) }, key: bob })
      expect([late.status, code(late)]).toEqual([409, 'ERR_CONFLICT'])
      const second = await http(`${path}/deny`, { body: { reason: 'me too' }, key: bob })
      expect([second.status, code(second)]).toEqual([409, 'ERR_CONFLICT'])
      expect((await http(`${path}/deny`, { body: { reason: 'again' }, key: alice })).json).toEqual(denied.json)
      expect((await http(`${server.url}/v1/approvals`, { key: bob })).json['pending']).toEqual([])
      // a long poll on a closed request answers at once: denied, or approved before the call
      const t0 = Date.now()
      expect((await http(`${path}?wait=20`, { key: agent })).json['status']).toBe('denied')
      const other = send('frank@example.com')
      await http(`${server.url}/v1/approvals`, { body: { invocation: formatInvocation(other) } })
      const ok = formatApproval(approve({ approver: bob, invocation: other }))
      expect((await http(`${server.url}/v1/approvals/${other.idHex}`, { body: { approval: ok }, key: bob })).json['status']).toBe(
        'approved',
      )
      expect((await http(`${server.url}/v1/approvals/${other.idHex}?wait=20`, { key: agent })).json['status']).toBe('approved')
      expect(Date.now() - t0).toBeLessThan(5000)
      // an approved request can no longer be denied
      const tooLate = await http(`${server.url}/v1/approvals/${other.idHex}/deny`, { body: { reason: 'no' }, key: bob })
      expect([tooLate.status, code(tooLate)]).toEqual([409, 'ERR_CONFLICT'])
      // a listed approver denies too
      const third = send('grace@example.com')
      await http(`${server.url}/v1/approvals`, { body: { invocation: formatInvocation(third) } })
      const byBob = await http(`${server.url}/v1/approvals/${third.idHex}/deny`, { body: { reason: 'not today' }, key: bob })
      expect([byBob.status, (byBob.json['denial'] as { by: string }).by]).toEqual([200, bobDid])
      const metrics = await fetch(`${server.url}/metrics`).then((r) => r.text())
      expect(metrics).toMatch(/mandate_approvals_total\{event="denied"\} [2-9]/)
    })

    it('attack 6: no feed entries for strangers’ chains, for another service, or without end', async () => {
      const mallory = generateKeyPair()
      const own = mint({ principal: mallory, caveats: [{ type: 'window', expires: now() + 600 }] })
      const spam = await http(`${server.url}/v1/revocations`, {
        body: { revocation: formatRevocation(createRevocation({ mandate: own, key: mallory })) },
      })
      expect([spam.status, code(spam)]).toEqual([403, 'ERR_ROOT_UNTRUSTED'])
      const m = child([], 'addressed')
      const elsewhere = await http(`${server.url}/v1/revocations`, {
        body: { revocation: formatRevocation(createRevocation({ mandate: m, key: alice, kind: 'suspend', audience: 'another-service' })) },
      })
      expect([elsewhere.status, code(elsewhere)]).toEqual([403, 'ERR_AUDIENCE'])
      const here = await http(`${server.url}/v1/revocations`, {
        body: { revocation: formatRevocation(createRevocation({ mandate: m, key: alice, kind: 'suspend', audience: 'revocations.test' })) },
      })
      expect(here.status).toBe(201)
      const toggled = child([], 'toggled')
      const results: number[] = []
      for (let i = 0; i < 66; i++) {
        const kind = i % 2 === 0 ? 'suspend' : 'resume'
        const r = await http(`${server.url}/v1/revocations`, {
          body: { revocation: formatRevocation(createRevocation({ mandate: toggled, key: alice, kind })) },
        })
        results.push(r.status)
      }
      expect(results.slice(0, 64).every((s) => s === 201)).toBe(true)
      expect(results.slice(64)).toEqual([429, 429])
      // the final word is never refused, and said once
      const kill = () =>
        http(`${server.url}/v1/revocations`, { body: { revocation: formatRevocation(createRevocation({ mandate: toggled, key: alice })) } })
      const killed = await kill()
      expect(killed.status).toBe(201)
      const again = await kill()
      expect([again.status, again.json['seq'], again.json['created']]).toEqual([200, killed.json['seq'], false])
    })

    it('revoked, suspended and expired chains spend nothing', async () => {
      const limited = child([{ type: 'uses', max: 5 }], 'standing')
      const counter = `${limited.blocks[1]?.idHex}/0`
      const ask = (id: string) => consume({ requestId: id, presentation: formatMandate(limited), counters: [counter] }, slackVerifier)
      expect((await ask('s1')).status).toBe(200)
      await http(`${server.url}/v1/revocations`, {
        body: { revocation: formatRevocation(createRevocation({ mandate: limited, key: assistant, kind: 'suspend' })) },
      })
      const suspended = await ask('s2')
      expect([suspended.status, code(suspended)]).toEqual([403, 'ERR_SUSPENDED'])
      await http(`${server.url}/v1/revocations`, {
        body: { revocation: formatRevocation(createRevocation({ mandate: limited, key: alice })) },
      })
      const revoked = await ask('s3')
      expect([revoked.status, code(revoked)]).toEqual([403, 'ERR_REVOKED'])
      const short = attenuate(grant, {
        key: assistant,
        caveats: [
          { type: 'uses', max: 5 },
          { type: 'window', expires: now() - 120 },
        ],
      })
      const expired = await consume(
        { requestId: 's4', presentation: formatMandate(short), counters: [`${short.blocks[1]?.idHex}/0`] },
        slackVerifier,
      )
      expect([expired.status, code(expired)]).toEqual([403, 'ERR_TIME_EXPIRED'])
    })

    it('scoped statements and approval caveats cover the actions below the ones they name (#8)', async () => {
      const limited = child([{ type: 'uses', max: 5 }], 'scoped')
      const counter = `${limited.blocks[1]?.idHex}/0`
      const ask = (action: string) =>
        consume({ presentation: formatInvocation(invoke(limited, { action, audience: 'slack' })), counters: [counter] }, slackVerifier)
      const statement = createRevocation({ mandate: limited, key: assistant, actions: ['email:send'] })
      expect((await http(`${server.url}/v1/revocations`, { body: { revocation: formatRevocation(statement) } })).status).toBe(201)
      const below = await ask('email:send:now')
      expect([below.status, code(below)]).toEqual([403, 'ERR_REVOKED'])
      expect((await ask('email:sender')).status).toBe(200)
      // the approval caveat on email:send applies to email:send:now, so the inbox takes it
      const now8 = invoke(grant, { key: assistant, action: 'email:send:now', audience: 'mail' })
      const filed = await http(`${server.url}/v1/approvals`, { body: { invocation: formatInvocation(now8) } })
      expect([filed.status, filed.json['status']]).toEqual([201, 'pending'])
      const sender = invoke(grant, { key: assistant, action: 'email:sender', audience: 'mail' })
      expect((await http(`${server.url}/v1/approvals`, { body: { invocation: formatInvocation(sender) } })).status).toBe(409)
    })

    it('writes are JSON (or CBOR statements) only, and no CORS is offered', async () => {
      const form = await fetch(`${server.url}/v1/approvals`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: 'invocation=x',
      })
      expect([form.status, ((await form.json()) as { error: { code: string } }).error.code]).toEqual([415, 'ERR_MEDIA_TYPE'])
      const plain = await fetch(`${server.url}/v1/usage/consume`, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: '{}' })
      expect(plain.status).toBe(415)
      const preflight = await fetch(`${server.url}/v1/usage/consume`, {
        method: 'OPTIONS',
        headers: { origin: 'https://evil.example', 'access-control-request-method': 'POST' },
      })
      expect(preflight.headers.get('access-control-allow-origin')).toBeNull()
      const get = await fetch(`${server.url}/v1/revocations?since=0`, { headers: { origin: 'https://evil.example' } })
      expect(get.headers.get('access-control-allow-origin')).toBeNull()
    })

    it('a body over 64 KiB is 413 ERR_LIMIT_SIZE, by its declared length or, chunked, as it streams; a chunked body within it is read', async () => {
      const post = (body: string | ReadableStream<Uint8Array>) =>
        fetch(`${server.url}/v1/usage/consume`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body,
          ...(body instanceof ReadableStream ? { duplex: 'half' } : {}),
        } as RequestInit)
      const err = async (res: Response) => [res.status, ((await res.json()) as { error: { code: string; message: string } }).error]
      const chunked = (text: string, pieces: number) => {
        const bytes = new TextEncoder().encode(text)
        const size = Math.ceil(bytes.length / pieces)
        let at = 0
        return new ReadableStream<Uint8Array>({
          pull(c) {
            if (at >= bytes.length) return c.close()
            c.enqueue(bytes.slice(at, at + size))
            at += size
          },
        })
      }
      const over = `{"presentation":"${'a'.repeat(65_536)}"}`
      const refused = [413, { code: 'ERR_LIMIT_SIZE', message: 'request body exceeds 65536 bytes' }]
      expect(await err(await post(over))).toEqual(refused)
      expect(await err(await post(chunked(over, 9)))).toEqual(refused)
      // 65,536 bytes exactly is within the limit, one more is not.
      const sized = (n: number) => `{"presentation":"${'a'.repeat(n - 19)}"}`
      expect((await post(sized(65_536))).status).toBe(401)
      expect(await err(await post(sized(65_537)))).toEqual(refused)
      // Within the limit, read and judged: unsigned, so the caller is unknown.
      const within = await post(chunked(`{"presentation":"${'a'.repeat(60_000)}","counters":["x"]}`, 7))
      expect([within.status, ((await within.json()) as { error: { code: string } }).error.code]).toEqual([401, 'ERR_AUTH_REQUIRED'])
    })
  })
}

async function waitFor(check: () => Promise<boolean>, ms = 3000): Promise<void> {
  const start = Date.now()
  while (Date.now() - start < ms) {
    if (await check()) return
    await new Promise((r) => setTimeout(r, 25))
  }
  throw new Error('condition not reached in time')
}
