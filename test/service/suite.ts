/**
 * The service's behaviour over HTTP, shared by the SQLite and PostgreSQL runs.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { encodeCbor } from '../../src/cbor/codec.js'
import { getBackend } from '../../src/crypto/ed25519.js'
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
import { signingInput } from '../../src/token/signing.js'
import { http, type RunningServer } from '../helpers/service.js'

const now = () => Math.floor(Date.now() / 1000)

export function serviceSuite(name: string, start: () => Promise<RunningServer>): void {
  describe(`service (${name})`, () => {
    let server: RunningServer
    let alice: KeyPair
    let assistant: KeyPair
    let grant: UnverifiedMandate
    const roots = () => [{ key: toDidKey(alice.publicKey), name: 'alice' }]
    const child = (caveats: AttenuateOptions['caveats'] = [], name = 'sub') =>
      attenuate(grant, { key: assistant, caveats: caveats ?? [], name })

    beforeAll(async () => {
      server = await start()
      alice = generateKeyPair()
      assistant = generateKeyPair()
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
      const storage = ready.json['storage'] as Record<string, string>
      if (storage['backend'] === 'sqlite') expect([storage['journal_mode'], storage['synchronous']]).toEqual(['wal', '2'])
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

    it('R3/R4/R5: forged, descendant-issued, stale and malformed statements write nothing', async () => {
      const head = async () => (await http(`${server.url}/v1/revocations?since=0`)).json
      const before = verifyFeedPage(await head(), parsePublicKey(server.serviceKey)).head
      const m = child()
      const honest = createRevocation({ mandate: m, key: alice })
      const tampered = new Uint8Array(honest.bytes)
      tampered[tampered.length - 5] = (tampered[tampered.length - 5] as number) ^ 1
      const forged = await http(`${server.url}/v1/revocations`, { body: { revocation: formatRevocation({ ...honest, bytes: tampered }) } })
      expect([forged.status, (forged.json['error'] as { code: string }).code]).toEqual([401, 'ERR_SIG_INVALID'])
      // the sub-agent (a bearer holder) signs a statement against the root block by hand
      if (m.proof.kind !== 'bearer') throw new Error('unreachable')
      const mallory = generateKeyPair()
      const byOutsider = createRevocation({ mandate: m, key: alice, block: 0 })
      const hex = Buffer.from(byOutsider.payload).toString('hex')
      const at = hex.lastIndexOf(Buffer.from(alice.publicKey).toString('hex'))
      const payload = Buffer.from(hex.slice(0, at) + Buffer.from(mallory.publicKey).toString('hex') + hex.slice(at + 64), 'hex')
      const outsider = encodeCbor([payload, getBackend().sign(mallory.secretKey, signingInput('revocation', payload))])
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
      const etag = all.headers.get('etag') as string
      expect((await http(`${server.url}/v1/revocations?since=0`, { headers: { 'if-none-match': etag } })).status).toBe(304)
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
          usage: createRemoteUsageStore({ url: server.url }),
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

    it('R9: 64 concurrent consumers against a limit of 100 get exactly 100 grants; retries get their original answer', async () => {
      const limited = child([{ type: 'uses', max: 100 }], 'quota')
      const presentation = formatMandate(limited)
      const key = `${limited.blocks[1]?.idHex}/0`
      const answers = new Map<string, boolean>()
      let granted = 0
      const attempt = async (id: string) => {
        const r = await http(`${server.url}/v1/usage/consume`, { body: { request_id: id, presentation, counters: [key] } })
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
      const usage = createRemoteUsageStore({ url: server.url })
      const verifier = createVerifier({ roots: roots(), audience: 'slack', usage })
      for (let i = 0; i < 5; i++)
        expect((await verifier.authorize({ mandate: limited, request: { action: 'calendar:read' } })).allowed).toBe(false)
      expect((await verifier.authorize({ mandate: limited, request: { action: 'slack:read' } })).allowed).toBe(true)
      expect((await verifier.authorize({ mandate: limited, request: { action: 'slack:read' } })).allowed).toBe(true)
      const third = await verifier.authorize({ mandate: limited, request: { action: 'slack:read' } })
      expect(third.allowed ? 'allowed' : third.code).toBe('ERR_USAGE_EXHAUSTED')
      // burning someone else's counter, or inventing one, is refused
      const foreign = await http(`${server.url}/v1/usage/consume`, {
        body: { request_id: 'x1', presentation: formatMandate(limited), counters: [`${other.blocks[1]?.idHex}/0`] },
      })
      expect([foreign.status, (foreign.json['error'] as { code: string }).code]).toEqual([403, 'ERR_NOT_AUTHORIZED'])
      const invented = await http(`${server.url}/v1/usage/consume`, {
        body: { request_id: 'x2', presentation: formatMandate(limited), counters: [`${limited.blocks[0]?.idHex}/0`] },
      })
      expect(invented.status).toBe(403)
      const bound = await http(`${server.url}/v1/usage/consume`, {
        body: { request_id: 'x3', presentation: formatMandate(grant), counters: [`${grant.blocks[0]?.idHex}/0`] },
      })
      expect([bound.status, (bound.json['error'] as { code: string }).code]).toEqual([401, 'ERR_PROOF'])
      const empty = await http(`${server.url}/v1/usage/consume`, {
        body: { request_id: 'x4', presentation: formatMandate(limited), counters: [] },
      })
      expect(empty.status).toBe(400)
    })

    it('a shared replay store: two verifiers accept an invocation once; only its holder can claim it', async () => {
      const replay = createRemoteReplayCache({ url: server.url })
      const a = createVerifier({ roots: roots(), audience: 'mail', replay })
      const b = createVerifier({ roots: roots(), audience: 'mail', replay })
      const inv = invoke(grant, { key: assistant, action: 'email:read', audience: 'mail' })
      expect((await a.authorize({ invocation: inv })).allowed).toBe(true)
      const again = await b.authorize({ invocation: inv })
      expect(again.allowed ? 'allowed' : again.code).toBe('ERR_REPLAY')
      const bogus = await http(`${server.url}/v1/replay/claim`, { body: { invocation: 'mni1_AAAA' } })
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
        requested_by: { name: 'assistant' },
      })
      const list = await http(`${server.url}/v1/approvals?approver=${toDidKey(alice.publicKey)}`)
      expect((list.json['pending'] as { id: string }[]).map((p) => p.id)).toContain(inv.idHex)
      const byMallory = formatApproval(approve({ approver: generateKeyPair(), invocation: inv }))
      expect((await http(`${server.url}/v1/approvals/${inv.idHex}`, { body: { approval: byMallory } })).status).toBe(403)
      const ok = formatApproval(approve({ approver: alice, invocation: inv }))
      const approved = await http(`${server.url}/v1/approvals/${inv.idHex}`, { body: { approval: ok } })
      expect(approved.json).toMatchObject({ status: 'approved' })
      const shown = await http(`${server.url}/v1/approvals/${inv.idHex}`)
      const approvals = Object.values(shown.json['approvals'] as Record<string, string>)
      const verifier = createVerifier({ roots: roots(), audience: 'mail' })
      expect((await verifier.authorize({ invocation: inv, approvals })).allowed).toBe(true)
      const noNeed = invoke(grant, { key: assistant, action: 'email:read', audience: 'mail' })
      expect((await http(`${server.url}/v1/approvals`, { body: { invocation: formatInvocation(noNeed) } })).status).toBe(409)
      expect((await http(`${server.url}/v1/approvals/${'0'.repeat(64)}`)).status).toBe(404)
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
