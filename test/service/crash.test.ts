/**
 * kill -9 the service while 16 writers post revocations, restart it on the same
 * database, and check that every acknowledged revocation is there with its sequence number,
 * that sequence numbers stay strictly increasing, and that re-posting is idempotent.
 * (kill -9 cannot tell a synced WAL from one left to the page cache; the suite asserts the
 * settings, and test/service/sqlite-durability.test.ts that nothing is answered before its fsync.)
 */
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { signRequest } from '../../src/crypto/http-signature.js'
import {
  attenuate,
  createRevocation,
  formatInvocation,
  formatMandate,
  formatRevocation,
  generateKeyPair,
  invoke,
  mint,
  parsePublicKey,
  toDidKey,
  verifyFeedPage,
} from '../../src/index.js'
import { verifyAuditExport } from '../../src/service/audit.js'
import { scratch } from '../helpers/cli.js'
import { postgresBin, useCluster } from '../helpers/postgres.js'
import { type RunningServer, startServer } from '../helpers/service.js'

const CYCLES = Number(process.env['MANDATE_CRASH_CYCLES'] ?? 10)
const WRITERS = 16
/** The served principal, and the verifier allowed to spend uses. */
const alice = generateKeyPair()
const verifier = generateKeyPair()
const trust = { roots: [`alice=${toDidKey(alice.publicKey)}`], verifiers: [`slack=${toDidKey(verifier.publicKey)}`] }

function statements(count: number): { text: string; blockId: string }[] {
  const now = Math.floor(Date.now() / 1000)
  const root = mint({ principal: alice, caveats: [{ type: 'window', expires: now + 3600 }] })
  return Array.from({ length: count }, () => {
    const m = attenuate(root, {})
    return { text: formatRevocation(createRevocation({ mandate: m, key: alice })), blockId: m.blocks[1]?.idHex as string }
  })
}

async function post(url: string, text: string): Promise<{ seq: number; status: number } | undefined> {
  try {
    const res = await fetch(`${url}/v1/revocations`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ revocation: text }),
    })
    if (res.status !== 200 && res.status !== 201) return undefined
    return { seq: ((await res.json()) as { seq: number }).seq, status: res.status }
  } catch {
    return undefined // not acknowledged
  }
}

async function allEntries(server: RunningServer): Promise<{ seq: number; blockId: string }[]> {
  const out: { seq: number; blockId: string }[] = []
  let since = 0
  for (;;) {
    const res = await fetch(`${server.url}/v1/revocations?since=${since}`)
    const page = verifyFeedPage(await res.json(), parsePublicKey(server.serviceKey))
    out.push(...page.entries.map((e) => ({ seq: e.seq, blockId: e.blockId })))
    if (!page.more) return out
    since = page.entries[page.entries.length - 1]?.seq ?? page.head
  }
}

function crashSuite(name: string, db: () => string | undefined) {
  it(`${name}: ${CYCLES} kill -9 cycles under ${WRITERS} concurrent writers lose no acknowledged revocation`, async () => {
    const dir = scratch()
    const database = db() ?? join(dir, 'crash.db')
    const acknowledged = new Map<string, number>()
    const unacknowledged: string[] = []
    let server = await startServer({ dir, db: database, ...trust })
    for (let cycle = 0; cycle < CYCLES; cycle++) {
      const batch = statements(WRITERS * 25)
      let next = 0
      let stop = false
      const writers = Array.from({ length: WRITERS }, async () => {
        while (!stop && next < batch.length) {
          const s = batch[next++] as { text: string; blockId: string }
          const ack = await post(server.url, s.text)
          if (ack) acknowledged.set(s.blockId, ack.seq)
          else unacknowledged.push(s.text)
        }
      })
      await new Promise((r) => setTimeout(r, 80 + Math.floor(Math.random() * 250)))
      await server.kill9()
      stop = true
      await Promise.all(writers)
      server = await startServer({ dir, db: database, ...trust })
      const entries = await allEntries(server)
      const stored = new Map(entries.map((e) => [e.blockId, e.seq]))
      for (const [block, seq] of acknowledged) expect(stored.get(block), `acknowledged ${block} lost in cycle ${cycle}`).toBe(seq)
      const seqs = entries.map((e) => e.seq)
      for (let i = 1; i < seqs.length; i++) expect(seqs[i] as number).toBeGreaterThan(seqs[i - 1] as number)
    }
    // re-posting what was never acknowledged is idempotent: accepted once, the same seq after
    for (const text of unacknowledged.slice(0, 20)) {
      const first = await post(server.url, text)
      const again = await post(server.url, text)
      expect(first).toBeDefined()
      expect(again).toEqual({ seq: first?.seq, status: 200 })
    }
    // Enough was acknowledged for "nothing lost" to mean something: at least one write a cycle
    // (a loaded machine acknowledges fewer; what matters is that none of them is lost).
    expect(acknowledged.size).toBeGreaterThan(CYCLES)
    await server.stop()
  }, 240_000)
}

function consumeCrashSuite(name: string, db: () => string | undefined) {
  it(`${name}: kill -9 during a consume storm never overspends, and every acknowledged grant is kept`, async () => {
    const dir = scratch()
    const database = db() ?? join(dir, 'consume.db')
    const N = 60
    const now = Math.floor(Date.now() / 1000)
    const root = mint({ principal: alice, caveats: [{ type: 'window', expires: now + 3600 }] })
    const limited = attenuate(root, { caveats: [{ type: 'uses', max: N }] })
    const presentation = formatMandate(limited)
    const key = `${limited.blocks[1]?.idHex}/0`
    const consume = async (url: string, id: string): Promise<boolean | undefined> => {
      try {
        const target = `${url}/v1/usage/consume`
        const body = new TextEncoder().encode(JSON.stringify({ requestId: id, presentation, counters: [key] }))
        const res = await fetch(target, {
          method: 'POST',
          headers: { 'content-type': 'application/json', ...signRequest({ method: 'POST', url: target, body }, verifier) },
          body,
        })
        if (res.status !== 200) return undefined
        return ((await res.json()) as { granted: boolean }).granted
      } catch {
        return undefined
      }
    }
    const grantedAcks = new Set<string>()
    let server = await startServer({ dir, db: database, ...trust })
    let n = 0
    let answered = 0
    for (let cycle = 0; cycle < 3; cycle++) {
      let stop = false
      const workers = Array.from({ length: WRITERS }, async () => {
        while (!stop && n < N * 3) {
          const id = `c${n++}`
          const granted = await consume(server.url, id)
          if (granted !== undefined) answered++
          if (granted === true) grantedAcks.add(id)
        }
      })
      // Kill mid-storm: once this cycle has had answers, after a random extra moment.
      const seen = answered
      for (let waited = 0; answered === seen && waited < 10_000; waited += 5) await new Promise((r) => setTimeout(r, 5))
      await new Promise((r) => setTimeout(r, Math.floor(Math.random() * 40)))
      await server.kill9()
      stop = true
      await Promise.all(workers)
      server = await startServer({ dir, db: database, ...trust })
    }
    expect(grantedAcks.size).toBeGreaterThan(0)
    expect(grantedAcks.size).toBeLessThanOrEqual(N)
    for (const id of grantedAcks) expect(await consume(server.url, id), `acknowledged grant ${id} was lost`).toBe(true)
    let more = 0
    for (let i = 0; i < N + 5; i++) if ((await consume(server.url, `after${i}`)) === true) more++
    expect(grantedAcks.size + more).toBeLessThanOrEqual(N)
    expect(await consume(server.url, 'final')).toBe(false)
    await server.stop()
  }, 120_000)
}

/** An auditor of the service, for the audit trail's crash suite. */
const auditor = generateKeyPair()
const holder = generateKeyPair()

function auditCrashSuite(name: string, db: () => string | undefined) {
  it(`${name}: kill -9 during a storm of decision reports loses no acknowledged record, and the chain stays whole`, async () => {
    const dir = scratch()
    const database = db() ?? join(dir, 'audit.db')
    const args = ['--auditor', `audit=${toDidKey(auditor.publicKey)}`]
    const now = Math.floor(Date.now() / 1000)
    const root = mint({
      principal: alice,
      to: toDidKey(holder.publicKey),
      caveats: [
        { type: 'actions', patterns: ['slack:read'] },
        { type: 'window', expires: now + 3600 },
      ],
    })
    const report = async (url: string, inv: string): Promise<{ seq: number; hash: string } | undefined> => {
      try {
        const target = `${url}/v1/audit/decisions`
        const body = new TextEncoder().encode(
          JSON.stringify({ invocation: inv, decision: 'allow', decidedAt: Math.floor(Date.now() / 1000) }),
        )
        const res = await fetch(target, {
          method: 'POST',
          headers: { 'content-type': 'application/json', ...signRequest({ method: 'POST', url: target, body }, verifier) },
          body,
        })
        if (res.status !== 201) return undefined
        return (await res.json()) as { seq: number; hash: string }
      } catch {
        return undefined // not acknowledged
      }
    }
    const acked = new Map<string, { seq: number; hash: string }>()
    let server = await startServer({ dir, db: database, ...trust, args })
    for (let cycle = 0; cycle < 3; cycle++) {
      let stop = false
      let answered = 0
      const workers = Array.from({ length: WRITERS }, async () => {
        while (!stop) {
          const inv = formatInvocation(invoke(root, { key: holder, action: 'slack:read', audience: 'slack' }))
          const placed = await report(server.url, inv)
          if (placed) {
            answered++
            acked.set(inv, placed)
          }
        }
      })
      for (let waited = 0; answered === 0 && waited < 10_000; waited += 5) await new Promise((r) => setTimeout(r, 5))
      await new Promise((r) => setTimeout(r, Math.floor(Math.random() * 40)))
      await server.kill9()
      stop = true
      await Promise.all(workers)
      server = await startServer({ dir, db: database, ...trust, args })
    }
    expect(acked.size).toBeGreaterThan(0)
    // Every acknowledged report is in the log at its place, and reporting it again answers that place.
    const lines: string[] = []
    let checkpoint: unknown
    for (let since = 0; ; ) {
      const target = `${server.url}/v1/audit?since=${since}&limit=1000`
      const res = await fetch(target, { headers: signRequest({ method: 'GET', url: target }, auditor) })
      const page = (await res.json()) as {
        records: { seq: number; hash: string; invocation: string }[]
        next?: number
        checkpoint: unknown
      }
      lines.push(...page.records.map((r) => JSON.stringify(r)))
      checkpoint = page.checkpoint
      if (page.next === undefined) break
      since = page.next
    }
    const bySeq = new Map(lines.map((l) => JSON.parse(l) as { seq: number; hash: string }).map((r) => [r.seq, r.hash]))
    for (const [inv, placed] of acked) {
      expect(bySeq.get(placed.seq), `acknowledged record ${placed.seq} was lost`).toBe(placed.hash)
      if (placed.seq % 7 === 0) expect(await report(server.url, inv)).toEqual(placed)
    }
    // The chain is whole across the crashes: it verifies against the service key.
    const checked = verifyAuditExport([...lines, JSON.stringify(checkpoint)].join('\n'), server.serviceKey)
    expect(checked).toMatchObject({ ok: true, first: 1 })
    await server.stop()
  }, 120_000)
}

describe('crash safety', () => {
  crashSuite('SQLite', () => undefined)
  consumeCrashSuite('SQLite', () => undefined)
  auditCrashSuite('SQLite', () => undefined)
})

describe.skipIf(postgresBin() === undefined)('crash safety, PostgreSQL', () => {
  const url = useCluster()
  crashSuite('PostgreSQL', url)
  consumeCrashSuite('PostgreSQL', url)
  auditCrashSuite('PostgreSQL', url)
})
