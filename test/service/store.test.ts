/**
 * The stores directly (exact times), the same suite against SQLite and PostgreSQL, plus what
 * only one backend can show (locks, read-only files, timeouts), and the app's honesty when
 * storage fails.
 */
import { execFileSync, spawnSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import { chmodSync, statSync } from 'node:fs'
import { createServer, type Server } from 'node:net'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { isMainThread } from 'node:worker_threads'
import Database from 'better-sqlite3'
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createRevocation, formatRevocation, generateKeyPair, mint, type UsageCounter } from '../../src/index.js'
import { createApp } from '../../src/service/app.js'
import { type AuditEntry, auditHash, GENESIS } from '../../src/service/audit.js'
import { openPostgresStore } from '../../src/service/postgres-store.js'
import { openSqliteStore } from '../../src/service/sqlite-store.js'
import type { ApprovalRecord, Store, StoredConsume } from '../../src/service/store.js'
import { scratch } from '../helpers/cli.js'
import { postgresBin, useCluster } from '../helpers/postgres.js'

const counter = (max: number, per?: number, block = 'ab', index = 0): UsageCounter => ({
  key: `${block.repeat(32)}/${index}`,
  blockId: block.repeat(32),
  block: 0,
  caveatIndex: index,
  max,
  ...(per ? { per } : {}),
})

/** A statement accepted into `store`: `kind` on `blockId`, scoped to `actions` when given. */
const addStatement = (store: Store, statementId: string, kind: 'revoke' | 'suspend' | 'resume', blockId: string, actions?: string[]) =>
  store.addRevocation({
    statementId,
    blockId,
    kind,
    at: 1,
    by: 'ee'.repeat(32),
    expires: 10_000,
    statement: new Uint8Array([1]),
    ...(actions ? { actions } : {}),
  })

/** A consume with the binding derived from its counters (as the app binds chain and counters). */
const ask = (key: string, counters: readonly UsageCounter[], binding = counters.map((c) => c.key).join(',')): StoredConsume => ({
  key,
  binding,
  counters,
})

const request = (id: string, requester: string, createdAt: number, expiresAt: number, approvers = ['did:a', 'did:b']) => ({
  id,
  invocation: `mni1_${id}`,
  approvers,
  requester,
  createdAt,
  expiresAt,
})

/** A fresh, empty database of one backend. */
interface Fresh {
  /** A store on it (several may be open at once, as several service instances). */
  open(): Promise<Store>
  /** Raw SQL on it, for setting up a version 0.1 database. */
  exec(sql: string): Promise<void>
}

/** The tables of version 0.1 that changed, with a few rows (SQL both backends accept). */
const LEGACY = `
CREATE TABLE usage_events (counter_key TEXT NOT NULL, at BIGINT NOT NULL);
CREATE TABLE usage_requests (request_id TEXT PRIMARY KEY, result TEXT NOT NULL, at BIGINT NOT NULL);
CREATE TABLE replay_claims (id TEXT PRIMARY KEY, expires BIGINT NOT NULL);
CREATE TABLE approval_requests (id TEXT PRIMARY KEY, invocation TEXT NOT NULL, approvers TEXT NOT NULL, created_at BIGINT NOT NULL);
CREATE TABLE approvals (request_id TEXT NOT NULL, approver TEXT NOT NULL, approval TEXT NOT NULL, PRIMARY KEY (request_id, approver));
CREATE TABLE approval_approvers (request_id TEXT NOT NULL, approver TEXT NOT NULL, PRIMARY KEY (approver, request_id));
INSERT INTO usage_events VALUES ('${'ab'.repeat(32)}/0', 1), ('${'ab'.repeat(32)}/0', 2), ('${'ab'.repeat(32)}/0', 3);
INSERT INTO usage_events VALUES ('${'cd'.repeat(32)}/0', 995), ('${'cd'.repeat(32)}/0', 998);
INSERT INTO usage_requests VALUES ('old-request', '{"granted":true,"remaining":[]}', 3);
INSERT INTO replay_claims VALUES ('claimed', 2000);
INSERT INTO approval_requests VALUES ('old', 'mni1_old', '["did:a"]', 900);
INSERT INTO approval_approvers VALUES ('old', 'did:a');
`

function storeSuite(name: string, fresh: () => Promise<Fresh>): void {
  describe(`${name} store`, () => {
    it('a consume checks standing again in its own transaction: a statement written before it spends nothing, nor is stored', async () => {
      const store = await (await fresh()).open()
      const block = 'cd'.repeat(32)
      const c = { ...counter(10), key: `${block}/0`, blockId: block }
      // The app's check: each block's entries, in chain order (here one block); a revoke refuses.
      const seen: string[][] = []
      const standing = {
        blockIds: [block],
        check(entries: readonly (readonly { kind: string }[])[]) {
          seen.push(entries.map((list) => list.map((e) => e.kind).join(',')))
          if (entries[0]?.some((e) => e.kind === 'revoke')) throw new Error('revoked')
        },
      }
      expect(await store.consume({ ...ask('before', [c]), standing }, 10)).toEqual({
        granted: true,
        remaining: [{ key: c.key, remaining: 9 }],
      })
      // Written after the app's own reading of standing, before the spend: the spend sees it.
      await store.addRevocation({
        statementId: 'stop',
        blockId: block,
        kind: 'revoke',
        at: 11,
        by: 'ee'.repeat(32),
        expires: 10_000,
        statement: new Uint8Array([1]),
      })
      await expect(store.consume({ ...ask('after', [c]), standing }, 12)).rejects.toThrow('revoked')
      // (A store may leave the check out while no block has a statement: nothing could refuse.)
      expect(seen.filter((kinds) => kinds.join('') !== '')).toEqual([['revoke']])
      // Nothing spent, nothing stored: without the check, the next use is the second.
      expect(await store.consume(ask('after', [c]), 13)).toEqual({ granted: true, remaining: [{ key: c.key, remaining: 8 }] })
      await store.close()
    })

    it('statements that do not refuse reach the check, and the use is spent', async () => {
      const store = await (await fresh()).open()
      const block = 'ce'.repeat(32)
      const c = { ...counter(10), key: `${block}/0`, blockId: block }
      const other = 'cf'.repeat(32)
      const seen: string[][] = []
      const standing = {
        blockIds: [other, block],
        check(entries: readonly (readonly { kind: string; actions?: readonly string[] }[])[]) {
          seen.push(entries.map((list) => list.map((e) => `${e.kind}:${e.actions?.join('|') ?? ''}`).join(',')))
          if (entries.some((list) => list.some((e) => e.kind === 'revoke'))) throw new Error('revoked')
        },
      }
      await addStatement(store, 's1', 'suspend', block, ['calendar:write'])
      await addStatement(store, 's2', 'suspend', other)
      await addStatement(store, 's3', 'resume', other)
      expect(await store.consume({ ...ask('one', [c]), standing }, 12)).toEqual({
        granted: true,
        remaining: [{ key: c.key, remaining: 9 }],
      })
      // Each block's statements, in feed order, in the chain's order of blocks.
      expect(seen.at(-1)).toEqual(['suspend:,resume:', 'suspend:calendar:write'])
      expect(await store.consume({ ...ask('two', [c]), standing }, 13)).toEqual({
        granted: true,
        remaining: [{ key: c.key, remaining: 8 }],
      })
      await store.close()
    })

    it('exact sliding window on the service clock — N at 12:59:59, N more at 13:00:00 are refused', async () => {
      const store = await (await fresh()).open()
      const c = counter(2, 3600)
      const t = 1_790_000_000
      expect(await store.consume(ask('a', [c]), t - 1)).toMatchObject({ granted: true })
      expect(await store.consume(ask('b', [c]), t - 1)).toMatchObject({ granted: true })
      expect(await store.consume(ask('c', [c]), t)).toEqual({ granted: false, exhausted: c.key, resetAt: t - 1 + 3600 })
      expect(await store.consume(ask('d', [c]), t - 1 + 3600)).toMatchObject({ granted: true })
      await store.close()
    })

    it('all or nothing across counters, and idempotent by key', async () => {
      const store = await (await fresh()).open()
      const a = counter(5)
      const b = counter(1, undefined, 'cd', 1)
      expect(await store.consume(ask('r1', [a, b]), 1)).toMatchObject({ granted: true })
      expect(await store.consume(ask('r2', [a, b]), 2)).toEqual({ granted: false, exhausted: b.key })
      // r2 consumed nothing from a: four more fit
      for (let i = 0; i < 4; i++) expect(await store.consume(ask(`a${i}`, [a]), 3)).toMatchObject({ granted: true })
      expect(await store.consume(ask('a5', [a]), 3)).toEqual({ granted: false, exhausted: a.key })
      expect(await store.consume(ask('r1', [a, b]), 4)).toEqual({
        granted: true,
        remaining: [
          { key: a.key, remaining: 4 },
          { key: b.key, remaining: 0 },
        ],
      })
      await store.close()
    })

    it('another binding under a stored key answers conflict and changes nothing', async () => {
      const store = await (await fresh()).open()
      const a = counter(3)
      const w = counter(3, 60, 'cd')
      const first = await store.consume(ask('inv:1', [a, w], 'chain-1'), 10)
      expect(first).toEqual({
        granted: true,
        remaining: [
          { key: a.key, remaining: 2 },
          { key: w.key, remaining: 2 },
        ],
      })
      expect(await store.consume(ask('inv:1', [a, w], 'chain-2'), 11)).toBe('conflict')
      expect(await store.consume(ask('inv:1', [a], 'chain-1+fewer-counters'), 11)).toBe('conflict')
      // the same binding still gets the stored answer
      expect(await store.consume(ask('inv:1', [a, w], 'chain-1'), 12)).toEqual(first)
      // and nothing was spent by the conflicting attempts: one use each so far
      expect(await store.consume(ask('inv:2', [a, w]), 13)).toEqual({
        granted: true,
        remaining: [
          { key: a.key, remaining: 1 },
          { key: w.key, remaining: 1 },
        ],
      })
      await store.close()
    })

    it('running totals: a total counter counts every grant, refusals spend nothing', async () => {
      const store = await (await fresh()).open()
      const a = counter(50)
      const b = counter(20, undefined, 'cd')
      for (let i = 0; i < 20; i++) {
        expect(await store.consume(ask(`ab${i}`, [a, b]), i)).toEqual({
          granted: true,
          remaining: [
            { key: a.key, remaining: 49 - i },
            { key: b.key, remaining: 19 - i },
          ],
        })
      }
      // b is spent: a is not charged for the refusals
      for (let i = 0; i < 5; i++) expect(await store.consume(ask(`x${i}`, [a, b]), 100)).toEqual({ granted: false, exhausted: b.key })
      for (let i = 0; i < 30; i++) {
        expect(await store.consume(ask(`a${i}`, [a]), 200 + i)).toEqual({ granted: true, remaining: [{ key: a.key, remaining: 29 - i }] })
      }
      expect(await store.consume(ask('a-last', [a]), 10_000_000)).toEqual({ granted: false, exhausted: a.key })
      await store.close()
    })

    it('running totals: windows stay exact as events are pruned across window edges', async () => {
      const store = await (await fresh()).open()
      const w = counter(3, 10)
      const use = (k: string, t: number) => store.consume(ask(k, [w]), t)
      expect(await use('u0', 0)).toEqual({ granted: true, remaining: [{ key: w.key, remaining: 2 }] })
      expect(await use('u1', 1)).toEqual({ granted: true, remaining: [{ key: w.key, remaining: 1 }] })
      expect(await use('u2', 2)).toEqual({ granted: true, remaining: [{ key: w.key, remaining: 0 }] })
      // (−1, 9] holds 0, 1, 2: refused until 0 leaves, at 0 + 10
      expect(await use('r9', 9)).toEqual({ granted: false, exhausted: w.key, resetAt: 10 })
      // (0, 10] holds 1, 2: the use at 0 is pruned, one fits
      expect(await use('u10', 10)).toEqual({ granted: true, remaining: [{ key: w.key, remaining: 0 }] })
      expect(await use('r10', 10)).toEqual({ granted: false, exhausted: w.key, resetAt: 11 })
      expect(await use('u11', 11)).toEqual({ granted: true, remaining: [{ key: w.key, remaining: 0 }] })
      expect(await use('u12', 12)).toEqual({ granted: true, remaining: [{ key: w.key, remaining: 0 }] })
      // (2, 12] holds 10, 11, 12
      expect(await use('r12', 12)).toEqual({ granted: false, exhausted: w.key, resetAt: 20 })
      // far later: everything pruned at once, the full budget is back
      expect(await use('u100', 100)).toEqual({ granted: true, remaining: [{ key: w.key, remaining: 2 }] })
      expect(await use('u101', 101)).toEqual({ granted: true, remaining: [{ key: w.key, remaining: 1 }] })
      expect(await use('u102', 102)).toEqual({ granted: true, remaining: [{ key: w.key, remaining: 0 }] })
      // more live uses than max (a lower max under the same key): the window frees only when
      // used − max + 1 of them have left, here the second oldest (101)
      const lower = { ...w, max: 2 }
      expect(await store.consume(ask('r103', [lower]), 103)).toEqual({ granted: false, exhausted: w.key, resetAt: 111 })
      await store.close()
    })

    it('concurrent consumes from two instances never over-grant', async () => {
      const db = await fresh()
      const [s1, s2] = [await db.open(), await db.open()]
      const a = counter(10)
      const w = counter(7, 3600, 'cd')
      const results = await Promise.all(
        Array.from({ length: 40 }, (_, i) => ((i % 2 ? s1 : s2) as Store).consume(ask(`c${i}`, i % 3 ? [a, w] : [w, a]), 1000)),
      )
      const granted = results.filter((r) => r !== 'conflict' && r.granted).length
      expect(granted).toBe(7)
      // the totals agree: three uses of a were left, none of w
      expect(await s1.consume(ask('after', [a]), 1001)).toEqual({ granted: true, remaining: [{ key: a.key, remaining: 2 }] })
      expect(await s2.consume(ask('after-w', [w]), 1001)).toEqual({ granted: false, exhausted: w.key, resetAt: 1000 + 3600 })
      await s1.close()
      await s2.close()
    })

    it('compaction drops entries of expired blocks, old answers, expired claims and nonces, never live ones', async () => {
      const store = await (await fresh()).open()
      const entry = (n: number, expires: number) => ({
        statementId: `s${n}`,
        blockId: `${n}`.padStart(64, '0'),
        kind: 'revoke' as const,
        at: 100,
        by: 'ee'.repeat(32),
        expires,
        statement: new Uint8Array([n]),
      })
      await store.addRevocation(entry(1, 1000))
      await store.addRevocation(entry(2, 1_000_000))
      await store.consume(ask('old', [counter(10)]), 10)
      expect(await store.compact(2000)).toBe(1)
      expect((await store.revocationsSince(0, 10)).entries.map((e) => e.seq)).toEqual([2])
      expect(await store.head()).toBe(2)
      // the answer to "old" is forgotten only once it is a day old
      expect(await store.consume(ask('old', [counter(10)], 'another'), 20)).toBe('conflict')
      expect(await store.compact(10 + 86_400)).toBe(0)
      expect(await store.consume(ask('old', [counter(10)], 'another'), 20)).toBe('conflict')
      expect(await store.compact(10 + 86_400 + 1)).toBe(0)
      expect(await store.consume(ask('old', [counter(10)]), 90_000)).toEqual({
        granted: true,
        remaining: [{ key: counter(10).key, remaining: 8 }],
      })
      // compacting the newest entry must not lower the head (clients would see a rollback)
      expect(await store.compact(2_000_000)).toBe(1)
      expect(await store.revocationsSince(0, 10)).toMatchObject({ head: 2, entries: [] })
      await store.close()
    })

    it('replay claims: one winner until expiry, then anyone; only the claimer releases', async () => {
      const store = await (await fresh()).open()
      expect(await store.claimReplay('i1', 'did:v1', 100, 50)).toBe(true)
      expect(await store.claimReplay('i1', 'did:v1', 100, 60)).toBe(false)
      expect(await store.claimReplay('i1', 'did:v2', 100, 60)).toBe(false)
      // another verifier cannot release it, and its attempt changes nothing
      expect(await store.releaseReplay('i1', 'did:v2', 61)).toBe('not-yours')
      expect(await store.claimReplay('i1', 'did:v2', 200, 62)).toBe(false)
      expect(await store.releaseReplay('i1', 'did:v1', 63)).toBe('released')
      expect(await store.releaseReplay('i1', 'did:v1', 64)).toBe('absent')
      expect(await store.claimReplay('i1', 'did:v2', 200, 65)).toBe(true)
      // expired: taken over by anyone; releasing an expired claim finds nothing
      expect(await store.releaseReplay('i1', 'did:v2', 200)).toBe('absent')
      expect(await store.claimReplay('i1', 'did:v3', 300, 200)).toBe(true)
      expect(await store.releaseReplay('i1', 'did:v2', 201)).toBe('not-yours')
      expect(await store.releaseReplay('i1', 'did:v3', 201)).toBe('released')
      expect(await store.claimReplay('i1', 'did:v1', 400, 201)).toBe(true)
      await store.compact(401)
      expect(await store.releaseReplay('i1', 'did:v1', 300)).toBe('absent')
      expect(await store.claimReplay('i1', 'did:v2', 500, 300)).toBe(true)
      await store.close()
    })

    it('compaction keeps answers longer than a day when asked (an approval wait), never shorter', async () => {
      const store = await (await fresh()).open()
      await store.consume(ask('waited', [counter(10)]), 10)
      const kept = async () => (await store.consume(ask('waited', [counter(10)], 'another'), 20)) === 'conflict'
      // a shorter time to live is a day all the same
      await store.compact(10 + 86_400, 60)
      expect(await kept()).toBe(true)
      await store.compact(10 + 2 * 86_400, 2 * 86_400)
      expect(await kept()).toBe(true)
      await store.compact(10 + 2 * 86_400 + 1, 2 * 86_400)
      expect(await kept()).toBe(false)
    })

    it('the operations that resolve at commit (atCommit, where the store has them) decide as the waiting ones, racing with them', async () => {
      const store = await (await fresh()).open()
      // As the service takes them: a store durable at each commit has none of its own.
      const late = store.atCommit ?? store
      const c = counter(3)
      const nonces = await Promise.all(Array.from({ length: 8 }, (_, i) => (i % 2 ? late : store).useNonce('did:k', 'race', 100, 10)))
      expect(nonces.filter(Boolean)).toHaveLength(1)
      const claims = await Promise.all(Array.from({ length: 8 }, (_, i) => (i % 2 ? late : store).claimReplay('i1', `did:v${i}`, 100, 10)))
      expect(claims.filter(Boolean)).toHaveLength(1)
      const uses = await Promise.all(Array.from({ length: 8 }, (_, i) => (i % 2 ? late : store).consume(ask(`r${i}`, [c]), 10)))
      expect(uses.filter((u) => u !== 'conflict' && u.granted)).toHaveLength(3)
      expect(await late.consume(ask('r0', [c]), 11)).toEqual(uses[0])
      expect(await late.consume(ask('r0', [counter(3, undefined, 'cd')]), 11)).toBe('conflict')
      await store.addRevocation({
        statementId: 'st1',
        blockId: 'ab'.repeat(32),
        kind: 'suspend',
        at: 10,
        by: 'aa'.repeat(32),
        expires: 1000,
        statement: new Uint8Array([1]),
      })
      expect((await late.revocationsFor('ab'.repeat(32))).map((e) => e.kind)).toEqual(['suspend'])
      await store.atCommit?.durable()
      expect(await store.usageOf([c], 12)).toEqual([3])
      await store.close()
    })

    it('nonces: accepted once per key id, kept until compaction after their expiry', async () => {
      const store = await (await fresh()).open()
      expect(await store.useNonce('did:k1', 'n1', 100, 10)).toBe(true)
      expect(await store.useNonce('did:k1', 'n1', 100, 11)).toBe(false)
      expect(await store.useNonce('did:k2', 'n1', 100, 11)).toBe(true)
      expect(await store.useNonce('did:k1', 'n2', 100, 11)).toBe(true)
      // past its expiry but not yet compacted: still refused
      expect(await store.useNonce('did:k1', 'n1', 300, 150)).toBe(false)
      await store.compact(99)
      expect(await store.useNonce('did:k1', 'n1', 300, 150)).toBe(false)
      await store.compact(100)
      expect(await store.useNonce('did:k1', 'n1', 300, 150)).toBe(true)
      const results = await Promise.all(Array.from({ length: 10 }, () => store.useNonce('did:k3', 'race', 100, 10)))
      expect(results.filter(Boolean)).toHaveLength(1)
      await store.close()
    })

    it('approval inbox: pending until this approver answers; records carry requester and expiry', async () => {
      const store = await (await fresh()).open()
      const put = await store.putApprovalRequest(request('i1', 'did:req', 1, 1000), 4, 1)
      expect(put).toEqual({ ...request('i1', 'did:req', 1, 1000), approvals: {} })
      expect((await store.pendingApprovals('did:a', 10, 2)).map((r) => r.id)).toEqual(['i1'])
      expect(await store.addApproval('i1', 'did:a', 'mna1_y', 10)).toEqual({
        ...request('i1', 'did:req', 1, 1000),
        approvals: { 'did:a': 'mna1_y' },
      })
      expect(await store.pendingApprovals('did:a', 10, 3)).toEqual([])
      expect((await store.pendingApprovals('did:b', 10, 3)).map((r) => r.id)).toEqual(['i1'])
      expect(await store.getApprovalRequest('i1')).toEqual({ ...request('i1', 'did:req', 1, 1000), approvals: { 'did:a': 'mna1_y' } })
      // expired: no longer pending
      expect(await store.pendingApprovals('did:b', 10, 1000)).toEqual([])
      expect(await store.getApprovalRequest('nope')).toBeUndefined()
      await store.close()
    })

    it('approval inbox: newest first, paged strictly after the cursor (ties by id)', async () => {
      const store = await (await fresh()).open()
      const made = [
        request('r01', 'did:q1', 10, 900),
        request('r02', 'did:q1', 20, 900),
        request('r03', 'did:q2', 20, 900),
        request('r04', 'did:q2', 20, 900),
        request('r05', 'did:q3', 30, 900),
        request('r06', 'did:q3', 40, 50), // expires before the listing
        request('r07', 'did:q3', 35, 900, ['did:c']), // another approver's
      ]
      for (const r of made) expect(await store.putApprovalRequest(r, 10, 45)).not.toBe('full')
      await store.addApproval('r02', 'did:a', 'mna1_z', 10) // answered by did:a
      const pages: string[][] = []
      let before: { createdAt: number; id: string } | undefined
      for (;;) {
        const page: ApprovalRecord[] = await store.pendingApprovals('did:a', 2, 60, before)
        if (page.length === 0) break
        pages.push(page.map((r) => r.id))
        const last = page[page.length - 1] as ApprovalRecord
        before = { createdAt: last.createdAt, id: last.id }
      }
      expect(pages).toEqual([
        ['r05', 'r04'],
        ['r03', 'r01'],
      ])
      expect((await store.pendingApprovals('did:b', 10, 60)).map((r) => r.id)).toEqual(['r05', 'r04', 'r03', 'r02', 'r01'])
      expect((await store.pendingApprovals('did:b', 10, 60, { createdAt: 20, id: 'r03' })).map((r) => r.id)).toEqual(['r02', 'r01'])
      await store.close()
    })

    it('approval cap: pending requests per requester; an existing request comes back even at the cap', async () => {
      const store = await (await fresh()).open()
      expect(await store.putApprovalRequest(request('a1', 'did:q', 1, 100), 2, 1)).toMatchObject({ id: 'a1' })
      expect(await store.putApprovalRequest(request('a2', 'did:q', 2, 50), 2, 2)).toMatchObject({ id: 'a2' })
      expect(await store.putApprovalRequest(request('a3', 'did:q', 3, 100), 2, 3)).toBe('full')
      expect(await store.getApprovalRequest('a3')).toBeUndefined()
      // idempotent: unchanged, even with other fields, even at the cap
      expect(await store.putApprovalRequest({ ...request('a1', 'did:q', 9, 999), invocation: 'other' }, 2, 3)).toEqual({
        ...request('a1', 'did:q', 1, 100),
        approvals: {},
      })
      // others are not affected
      expect(await store.putApprovalRequest(request('b1', 'did:other', 3, 100), 2, 3)).toMatchObject({ id: 'b1' })
      // an answered request frees its slot (it is no longer pending); so does expiry
      await store.addApproval('a1', 'did:a', 'mna1_1', 10)
      expect(await store.putApprovalRequest(request('a3', 'did:q', 4, 100), 2, 4)).toMatchObject({ id: 'a3' })
      expect(await store.putApprovalRequest(request('a4', 'did:q', 49, 100), 2, 49)).toBe('full')
      expect(await store.putApprovalRequest(request('a4', 'did:q', 50, 100), 2, 50)).toMatchObject({ id: 'a4' })
      await store.close()
    })

    it('approval cap holds under concurrency, across instances', async () => {
      const db = await fresh()
      const stores = [await db.open(), await db.open()]
      const results = await Promise.all(
        Array.from({ length: 24 }, (_, i) => (stores[i % 2] as Store).putApprovalRequest(request(`c${i}`, 'did:q', i, 1000), 5, 100)),
      )
      expect(results.filter((r) => r !== 'full')).toHaveLength(5)
      // the same id from everywhere at once: one request, the same answer
      const same = await Promise.all(
        Array.from({ length: 8 }, (_, i) => (stores[i % 2] as Store).putApprovalRequest(request('dup', 'did:r', 1, 1000), 5, 100)),
      )
      expect(new Set(same.map((r) => JSON.stringify(r))).size).toBe(1)
      expect(same[0]).toMatchObject({ id: 'dup' })
      for (const s of stores) await s.close()
    })

    it('approval denial: closes the request (not listed, no more approvals, its place freed); admit decides; retries change nothing', async () => {
      const store = await (await fresh()).open()
      expect(await store.putApprovalRequest(request('d1', 'did:q', 1, 1000), 1, 1)).toMatchObject({ id: 'd1' })
      expect(await store.putApprovalRequest(request('d2', 'did:q', 2, 1000), 1, 2)).toBe('full')
      const denial = { by: 'did:b', reason: 'not now\n— b', at: 5 }
      const seen: ApprovalRecord[] = []
      const denied = await store.denyApprovalRequest('d1', denial, (r) => {
        seen.push(r)
        return true
      })
      expect(seen).toEqual([{ ...request('d1', 'did:q', 1, 1000), approvals: {} }])
      expect(denied).toEqual({ ...request('d1', 'did:q', 1, 1000), approvals: {}, denial })
      expect(await store.getApprovalRequest('d1')).toEqual(denied)
      expect(await store.pendingApprovals('did:a', 10, 6)).toEqual([])
      // a denied request takes no approval, and no longer holds its requester's place
      expect(await store.addApproval('d1', 'did:a', 'mna1_late', 10)).toEqual(denied)
      expect(await store.putApprovalRequest(request('d2', 'did:q', 7, 1000), 1, 7)).toMatchObject({ id: 'd2' })
      // admit sees the denial; false answers the request unchanged, a throw refuses
      expect(await store.denyApprovalRequest('d1', { ...denial, reason: 'again', at: 8 }, (r) => r.denial === undefined)).toEqual(denied)
      await expect(
        store.denyApprovalRequest('d2', denial, () => {
          throw new Error('refused')
        }),
      ).rejects.toThrow('refused')
      expect((await store.getApprovalRequest('d2'))?.denial).toBeUndefined()
      expect(await store.denyApprovalRequest('nope', denial, () => true)).toBeUndefined()
      await store.close()
    })

    it('an approval and a denial of one request from two instances at once: never both', async () => {
      const db = await fresh()
      const stores = [await db.open(), await db.open()] as [Store, Store]
      const ids = Array.from({ length: 12 }, (_, i) => `race${i}`)
      for (const id of ids) await stores[0].putApprovalRequest(request(id, `did:q${id}`, 1, 1000), 5, 1)
      const refusals: unknown[] = []
      await Promise.all(
        ids.flatMap((id, i) => [
          (stores[i % 2] as Store).addApproval(id, 'did:a', `mna1_${id}`, 10),
          (stores[(i + 1) % 2] as Store)
            .denyApprovalRequest(id, { by: 'did:b', reason: 'no', at: 2 }, (r) => {
              if (Object.keys(r.approvals).length > 0) throw new Error('approved already')
              return true
            })
            .catch((e: unknown) => void refusals.push(e)),
        ]),
      )
      let deniedCount = 0
      for (const id of ids) {
        const r = (await stores[0].getApprovalRequest(id)) as ApprovalRecord
        expect([id, Object.keys(r.approvals).length + (r.denial ? 1 : 0)]).toEqual([id, 1])
        if (r.denial) deniedCount++
      }
      expect(deniedCount + refusals.length).toBe(ids.length)
      for (const s of stores) await s.close()
    })

    it('a database from before denials opens: its requests kept, not denied, and deniable', async () => {
      const db = await fresh()
      const first = await db.open()
      await first.putApprovalRequest(request('kept', 'did:q', 1, 1000), 5, 1)
      await first.addApproval('kept', 'did:a', 'mna1_k', 10)
      await first.putApprovalRequest(request('open', 'did:q', 2, 1000), 5, 2)
      await first.close()
      // the schema as the previous version made it
      await db.exec(
        'ALTER TABLE approval_requests_v2 DROP COLUMN denied_by; ALTER TABLE approval_requests_v2 DROP COLUMN denial_reason; ALTER TABLE approval_requests_v2 DROP COLUMN denied_at;',
      )
      const store = await db.open()
      expect(await store.getApprovalRequest('kept')).toEqual({ ...request('kept', 'did:q', 1, 1000), approvals: { 'did:a': 'mna1_k' } })
      expect((await store.pendingApprovals('did:b', 10, 3)).map((r) => r.id)).toEqual(['open', 'kept'])
      const denial = { by: 'did:b', reason: 'no', at: 4 }
      expect((await store.denyApprovalRequest('open', denial, () => true))?.denial).toEqual(denial)
      await store.close()
      // and it opens again, as it is
      const again = await db.open()
      expect((await again.getApprovalRequest('open'))?.denial).toEqual(denial)
      await again.close()
    })

    it('usageOf reads what is spent without spending: totals, and windowed uses in (now − per, now]', async () => {
      const store = await (await fresh()).open()
      const total = counter(5)
      const windowed = counter(3, 60, 'cd')
      expect(await store.usageOf([total, windowed], 100)).toEqual([0, 0])
      expect(await store.usageOf([], 100)).toEqual([])
      await store.consume(ask('u1', [total, windowed]), 100)
      await store.consume(ask('u2', [total, windowed]), 130)
      expect(await store.usageOf([total, windowed, { key: 'never/0' }], 130)).toEqual([2, 2, 0])
      expect(await store.usageOf([windowed], 159)).toEqual([2])
      expect(await store.usageOf([windowed], 160)).toEqual([1]) // the use at 100 left the window
      expect(await store.usageOf([windowed, total], 190)).toEqual([0, 2])
      // Reading changed nothing: the next consume sees the same totals.
      expect(await store.consume(ask('u3', [total]), 200)).toEqual({ granted: true, remaining: [{ key: total.key, remaining: 2 }] })
      await store.close()
    })

    it('the audit log is one chain across instances: contiguous seqs, each linked to the one before; refs append once', async () => {
      const db = await fresh()
      const stores = [await db.open(), await db.open()]
      expect(await stores[0]?.auditHead()).toEqual({ log: expect.stringMatching(/^[0-9a-f]{32}$/), count: 0, head: GENESIS })
      const appended = await Promise.all(
        Array.from({ length: 24 }, (_, i) =>
          (stores[i % 2] as Store).appendAudit([
            { at: 100 + i, type: 'decision', n: i, principal: i % 3 === 0 ? 'did:p' : 'did:q' },
            { at: 100 + i, type: 'decision', n: i, second: true },
          ]),
        ),
      )
      // Each call's two records are adjacent: one transaction.
      for (const pair of appended) expect((pair[1] as AuditEntry).seq).toBe((pair[0] as AuditEntry).seq + 1)
      const log = await (stores[1] as Store).auditRecords(0, 100)
      expect(log.map((r) => r.seq)).toEqual(Array.from({ length: 48 }, (_, i) => i + 1))
      for (const [i, r] of log.entries()) {
        expect(r.prev).toBe(i === 0 ? GENESIS : log[i - 1]?.hash)
        expect(auditHash(r)).toBe(r.hash)
      }
      const head = await (stores[0] as Store).auditHead()
      expect([head.count, head.head]).toEqual([48, log[47]?.hash])
      expect(await (stores[0] as Store).auditRecords(46, 10)).toEqual(log.slice(46))
      // The same ref twice, from either instance: one record.
      const [once] = await (stores[0] as Store).appendAudit([{ at: 200, type: 'decision', ref: 'r1' }])
      const [twice] = await (stores[1] as Store).appendAudit([{ at: 201, type: 'decision', ref: 'r1' }])
      expect(twice).toEqual(once)
      expect((await (stores[0] as Store).auditHead()).count).toBe(49)
      // Checkpoints: the highest count is the latest; one per count.
      expect(await (stores[0] as Store).latestCheckpoint()).toBeUndefined()
      const cp = (count: number) => ({
        type: 'checkpoint' as const,
        log: head.log,
        count,
        head: 'ab'.repeat(32),
        at: 1,
        key: 'did:k',
        signature: 'cd'.repeat(64),
      })
      await (stores[0] as Store).putCheckpoint(cp(10))
      await (stores[1] as Store).putCheckpoint(cp(48))
      await (stores[1] as Store).putCheckpoint({ ...cp(48), at: 2 })
      expect(await (stores[0] as Store).latestCheckpoint()).toEqual(cp(48))
      expect(await (stores[1] as Store).checkpointAt(10)).toEqual(cp(10))
      expect(await (stores[1] as Store).checkpointAt(11)).toBeUndefined()
      // Retention: the newest record before a cutoff that is not the log's newest; pruning never takes the newest.
      // (The 24 calls committed in whatever order: the newest record appended before 112 is found from the log.)
      const before112 = Math.max(...log.filter((r) => r.at < 112).map((r) => r.seq))
      expect((await (stores[0] as Store).auditPrunable(112))?.seq).toBe(before112)
      expect(await (stores[0] as Store).auditPrunable(100)).toBeUndefined()
      expect((await (stores[0] as Store).auditPrunable(10_000))?.seq).toBe(48) // 49 (the ref'd one) is the newest
      expect(await (stores[1] as Store).pruneAudit(24)).toBe(24)
      expect((await (stores[0] as Store).auditRecords(0, 100)).map((r) => r.seq)[0]).toBe(25)
      expect(await (stores[1] as Store).pruneAudit(1000)).toBe(24) // 25…48; 49 stays
      expect((await (stores[0] as Store).auditRecords(0, 100)).map((r) => r.seq)).toEqual([49])
      // The chain goes on from the newest.
      const [next] = await (stores[0] as Store).appendAudit([{ at: 300, type: 'decision' }])
      expect([next?.seq, next?.prev]).toEqual([50, once?.hash])
      for (const s of stores) await s.close()
    })

    it('inbox events: each change once, in commit order, kept 3 days (spec §7.3)', async () => {
      const store = await (await fresh()).open()
      await store.putApprovalRequest(request('e1', 'did:q', 1, 1000), 5, 100)
      await store.putApprovalRequest(request('e1', 'did:q', 1, 1000), 5, 101) // a retry: no change
      await store.putApprovalRequest(request('e2', 'did:q', 2, 1000), 5, 102)
      await store.addApproval('e1', 'did:a', 'mna1_1', 103)
      await store.addApproval('e1', 'did:a', 'mna1_again', 104) // the first stands: no change
      await store.denyApprovalRequest('e2', { by: 'did:b', reason: 'no', at: 105 }, () => true)
      await store.denyApprovalRequest('e2', { by: 'did:b', reason: 'no', at: 106 }, () => false) // a retry
      await store.addApproval('e2', 'did:a', 'mna1_late', 107) // denied: refused, no change
      expect(await store.putApprovalRequest(request('e3', 'did:q', 3, 1000), 0, 108)).toBe('full') // refused: no change
      const events = await store.inboxEvents(0, 100)
      expect(events.map(({ seq: _seq, ...e }) => e)).toEqual([
        { requestId: 'e1', kind: 'pending', at: 100 },
        { requestId: 'e2', kind: 'pending', at: 102 },
        { requestId: 'e1', kind: 'approved', by: 'did:a', at: 103 },
        { requestId: 'e2', kind: 'denied', by: 'did:b', at: 105 },
      ])
      const seqs = events.map((e) => e.seq)
      expect(seqs).toEqual([...seqs].sort((a, b) => a - b))
      expect(new Set(seqs).size).toBe(4)
      expect(await store.inboxEvents(seqs[1] as number, 1)).toEqual([events[2]])
      expect(await store.inboxEvents(seqs[3] as number, 10)).toEqual([])
      await store.compact(102 + 3 * 86_400) // older than 3 days: gone
      expect((await store.inboxEvents(0, 100)).map((e) => e.at)).toEqual([102, 103, 105])
      await store.close()
    })

    it('notification cursors: a new endpoint starts at the newest event; one holder at a time; only forward', async () => {
      const db = await fresh()
      const [a, b] = [await db.open(), await db.open()]
      await a.putApprovalRequest(request('c1', 'did:q', 1, 1000), 5, 10)
      const [first] = await a.inboxEvents(0, 10)
      expect(await a.leaseWebhook('ep', 'h1', 10, 70)).toBe(first?.seq)
      await a.addApproval('c1', 'did:a', 'mna1_c', 11)
      const [, second] = await a.inboxEvents(0, 10)
      // h1's lease is live until 70: h2 on another instance waits.
      expect(await b.leaseWebhook('ep', 'h2', 69, 129)).toBeUndefined()
      expect(await b.advanceWebhook('ep', 'h2', second?.seq as number)).toBe(false)
      // h1 renews and moves on; never back, never in place.
      expect(await a.leaseWebhook('ep', 'h1', 20, 80)).toBe(first?.seq)
      expect(await a.advanceWebhook('ep', 'h1', second?.seq as number)).toBe(true)
      expect(await a.advanceWebhook('ep', 'h1', first?.seq as number)).toBe(false)
      expect(await a.advanceWebhook('ep', 'h1', second?.seq as number)).toBe(false)
      // Lapsed at 80: h2 takes over from h1's cursor, and h1 can no longer move it.
      expect(await b.leaseWebhook('ep', 'h2', 80, 140)).toBe(second?.seq)
      await b.putApprovalRequest(request('c2', 'did:q', 2, 1000), 5, 81)
      const [, , third] = await b.inboxEvents(0, 10)
      expect(await a.advanceWebhook('ep', 'h1', third?.seq as number)).toBe(false)
      expect(await b.advanceWebhook('ep', 'h2', third?.seq as number)).toBe(true)
      // Another endpoint is its own cursor, starting at the newest event.
      expect(await a.leaseWebhook('other', 'h1', 82, 142)).toBe(third?.seq)
      await a.close()
      await b.close()
    })

    it('compaction drops approval requests a day after their expiry, with their approvals', async () => {
      const store = await (await fresh()).open()
      await store.putApprovalRequest(request('old', 'did:q', 1, 100), 5, 1)
      await store.putApprovalRequest(request('new', 'did:q', 1, 100_000), 5, 1)
      await store.addApproval('old', 'did:a', 'mna1_old', 10)
      await store.compact(100 + 86_400)
      expect(await store.getApprovalRequest('old')).toMatchObject({ approvals: { 'did:a': 'mna1_old' } })
      await store.compact(100 + 86_400 + 1)
      expect(await store.getApprovalRequest('old')).toBeUndefined()
      expect(await store.getApprovalRequest('new')).toMatchObject({ id: 'new' })
      // recreated under the same id, it starts without the old approvals
      expect(await store.putApprovalRequest(request('old', 'did:q', 90_000, 95_000), 5, 90_000)).toMatchObject({ approvals: {} })
      await store.close()
    })

    it('probe commits a write; settings report the durability settings', async () => {
      const store = await (await fresh()).open()
      await store.probe()
      await store.probe()
      await store.ping()
      const settings = await store.settings()
      if (settings['backend'] === 'sqlite')
        expect(settings).toMatchObject({ journal_mode: 'wal', synchronous: '1', busy_timeout: '2000', wal_fsync: 'before answering' })
      else {
        expect(settings).toMatchObject({
          synchronous_commit: 'on',
          statement_timeout: '5s',
          lock_timeout: '3s',
          idle_in_transaction_session_timeout: '10s',
        })
      }
      await store.close()
    })

    it('a version 0.1 database opens: totals, claims and approval requests carried over', async () => {
      const db = await fresh()
      await db.exec(LEGACY)
      const store = await db.open()
      // three past uses of a total counter of 5: two left
      expect(await store.consume(ask('n1', [counter(5)]), 1000)).toEqual({
        granted: true,
        remaining: [{ key: counter(5).key, remaining: 1 }],
      })
      // a windowed counter: the events at 995 and 998 still count in (990, 1000]
      const w = counter(3, 10, 'cd')
      expect(await store.consume(ask('n2', [w]), 1000)).toEqual({ granted: true, remaining: [{ key: w.key, remaining: 0 }] })
      expect(await store.consume(ask('n3', [w]), 1004)).toEqual({ granted: false, exhausted: w.key, resetAt: 1005 })
      expect(await store.consume(ask('n4', [w]), 1005)).toEqual({ granted: true, remaining: [{ key: w.key, remaining: 0 }] })
      // the live claim is kept (unknown claimer: nobody can release it) until it expires
      expect(await store.claimReplay('claimed', 'did:v', 3000, 1000)).toBe(false)
      expect(await store.releaseReplay('claimed', 'did:v', 1000)).toBe('not-yours')
      expect(await store.claimReplay('claimed', 'did:v', 3000, 2000)).toBe(true)
      // the approval request is kept, pending for a day after its creation
      expect(await store.getApprovalRequest('old')).toEqual({
        id: 'old',
        invocation: 'mni1_old',
        approvers: ['did:a'],
        requester: '',
        createdAt: 900,
        expiresAt: 900 + 86_400,
        approvals: {},
      })
      expect((await store.pendingApprovals('did:a', 10, 1000)).map((r) => r.id)).toEqual(['old'])
      await store.close()
      // and it opens again (nothing to migrate twice)
      const again = await db.open()
      expect(await again.consume(ask('n1', [counter(5)]), 1000)).toEqual({
        granted: true,
        remaining: [{ key: counter(5).key, remaining: 1 }],
      })
      await again.close()
    })
  })
}

storeSuite('SQLite', async () => {
  const path = join(scratch(), 'store.db')
  return {
    open: async () => openSqliteStore(path),
    exec: async (sql) => {
      const db = new Database(path)
      db.exec(sql)
      db.close()
    },
  }
})

describe('SQLite store: file modes', () => {
  it('creates the database, and SQLite its write-ahead log, readable by the owner only, wherever --db points', async () => {
    const dir = scratch()
    const path = join(dir, 'nested', 'inbox.db')
    // A usual umask would leave a new file 0644. Worker threads (StrykerJS runs the tests in
    // them) cannot set the umask; they keep the process's, the usual one here.
    const old = isMainThread ? process.umask(0o022) : undefined
    try {
      const store = openSqliteStore(path)
      await store.consume(ask('k', [counter(5)]), 1)
      expect(statSync(path).mode & 0o777).toBe(0o600)
      expect(statSync(`${path}-wal`).mode & 0o777).toBe(0o600)
      expect(statSync(join(dir, 'nested')).mode & 0o777).toBe(0o700)
      await store.close()
    } finally {
      if (old !== undefined) process.umask(old)
    }
  })
})

describe('SQLite store: readiness probe', () => {
  it('fails within ~1 s while another connection holds the write lock, and recovers after', async () => {
    const path = join(scratch(), 'store.db')
    const store = openSqliteStore(path)
    const other = new Database(path)
    other.exec('BEGIN EXCLUSIVE')
    other.exec('INSERT INTO health (one, at) VALUES (1, 0) ON CONFLICT(one) DO UPDATE SET at = 0')
    const started = Date.now()
    await expect(store.probe()).rejects.toMatchObject({ code: 'SQLITE_BUSY' })
    const waited = Date.now() - started
    expect(waited).toBeGreaterThanOrEqual(900)
    expect(waited).toBeLessThan(2000)
    // other writes give up too (after the 2 s busy timeout), and acknowledge nothing
    await expect(store.consume(ask('k', [counter(1)]), 1)).rejects.toMatchObject({ code: 'SQLITE_BUSY' })
    other.exec('ROLLBACK')
    other.close()
    await store.probe()
    expect(await store.settings()).toMatchObject({ busy_timeout: '2000' })
    expect(await store.consume(ask('k', [counter(1)]), 1)).toMatchObject({ granted: true })
    await store.close()
  })

  it('fails on a database file the service cannot write (read-only permissions)', async (ctx) => {
    const dir = scratch()
    const path = join(dir, 'store.db')
    const created = openSqliteStore(path)
    await created.consume(ask('k', [counter(5)]), 1)
    await created.close()
    chmodSync(path, 0o444)
    // Permissions do not stop root (CI runs as root): there, the check runs as `nobody`.
    const asRoot = process.getuid?.() === 0
    const script = `
      import { openSqliteStore } from ${JSON.stringify(fileURLToPath(new URL('../../src/service/sqlite-store.ts', import.meta.url)))}
      const out = {}
      try {
        const store = openSqliteStore(${JSON.stringify(path)})
        out.opened = true
        await store.ping().then(() => { out.ping = 'ok' }, (e) => { out.ping = e.code })
        await store.probe().then(() => { out.probe = 'ok' }, (e) => { out.probe = e.code })
        await store.close()
      } catch (e) {
        out.opened = e.code ?? String(e)
      }
      console.log(JSON.stringify(out))`
    let out: Record<string, unknown>
    if (asRoot) {
      chmodSync(dir, 0o777) // nobody creates the -wal and -shm files beside it
      const tsx = fileURLToPath(new URL('../../node_modules/tsx/dist/loader.mjs', import.meta.url))
      // StrykerJS copies the project into a 0700 sandbox, where `nobody` cannot read the code.
      // Only there is the check impossible; in CI a checkout `nobody` cannot read is a failure.
      const readable = spawnSync('runuser', ['-u', 'nobody', '--', 'test', '-r', tsx]).status === 0
      if (!readable && !process.env['CI']) ctx.skip()
      const stdout = execFileSync(
        'runuser',
        ['-u', 'nobody', '--', process.execPath, '--import', tsx, '--input-type=module', '-e', script],
        { encoding: 'utf8', cwd: dir, env: { PATH: process.env['PATH'] ?? '', HOME: dir } },
      )
      out = JSON.parse(stdout.trim().split('\n').pop() as string) as Record<string, unknown>
    } else {
      const store = openSqliteStore(path)
      out = { opened: true }
      await store.ping().then(
        () => {
          out['ping'] = 'ok'
        },
        (e: { code: string }) => {
          out['ping'] = e.code
        },
      )
      await store.probe().then(
        () => {
          out['probe'] = 'ok'
        },
        (e: { code: string }) => {
          out['probe'] = e.code
        },
      )
      await store.close()
    }
    // Either the store opens read-only (reads still answer) and the probe refuses, or opening
    // itself refuses (a write at open: the feed id's insert-if-absent). Never a silent success.
    if (out['opened'] === true) expect(out).toEqual({ opened: true, ping: 'ok', probe: 'SQLITE_READONLY' })
    else expect(out).toEqual({ opened: 'SQLITE_READONLY' })
  })
})

const pgAvailable = postgresBin() !== undefined

describe.skipIf(!pgAvailable)('PostgreSQL', () => {
  const url = useCluster()
  let n = 0
  const admin = async <T>(work: (c: pg.Client) => Promise<T>, database?: string): Promise<T> => {
    const u = new URL(url())
    if (database) u.pathname = `/${database}`
    const c = new pg.Client({ connectionString: u.toString() })
    await c.connect()
    try {
      return await work(c)
    } finally {
      await c.end()
    }
  }
  const freshDatabase = async () => {
    const name = `store_${process.pid}_${n++}`
    await admin((c) => c.query(`CREATE DATABASE ${name}`))
    const u = new URL(url())
    u.pathname = `/${name}`
    return { name, url: u.toString() }
  }

  storeSuite('PostgreSQL', async () => {
    const db = await freshDatabase()
    return {
      open: () => openPostgresStore(db.url),
      exec: async (sql) => {
        await admin((c) => c.query(sql), db.name)
      },
    }
  })

  describe('PostgreSQL store: consume in one statement', () => {
    /** A consume of `counter(3)` as the store's first call sends it, naming `blocks` (SQL). */
    const spendSql = (blocks: string) =>
      `SELECT mandate_consume_v2('k', 'b', '[{"key":"${counter(3).key}","max":3}]'::json, 1, ${blocks}) AS answer`

    it('a first spend naming blocks with statements goes no further: "statements", and nothing spent or stored', async () => {
      const db = await freshDatabase()
      const store = await openPostgresStore(db.url)
      const c = counter(3)
      await addStatement(store, 'scoped', 'suspend', c.blockId, ['calendar:write'])
      const answer = (blocks: string) => admin(async (x) => (await x.query(spendSql(blocks))).rows[0].answer as unknown, db.name)
      const stored = () =>
        admin(
          async (x) =>
            (
              await x.query(
                'SELECT (SELECT count(*) FROM usage_totals)::int AS totals, (SELECT count(*) FROM usage_answers)::int AS answers',
              )
            ).rows[0],
          db.name,
        )
      expect(await answer(`ARRAY['${c.blockId}']`)).toBe('statements')
      expect(await answer(`ARRAY['${'ef'.repeat(32)}', '${c.blockId}']`)).toBe('statements')
      expect(await stored()).toEqual({ totals: 0, answers: 0 })
      // Blocks without statements: spent (and so it is, after its check, by the caller's own transaction: NULL).
      expect(await answer(`ARRAY['${'ef'.repeat(32)}']`)).toEqual({ granted: true, remaining: [{ key: c.key, remaining: 2 }] })
      expect(await stored()).toEqual({ totals: 1, answers: 1 })
      await store.close()
    })

    /** A statement write held open on `url`: lock 7217002 taken exclusively, a row of `kind` inserted for `block`. */
    const heldStatement = async (url: string, block: string, kind: string, actions: string | null = null) => {
      const w = new pg.Client({ connectionString: url })
      await w.connect()
      await w.query('BEGIN')
      await w.query('SELECT pg_catalog.pg_advisory_xact_lock(7217002::bigint)')
      await w.query(
        `INSERT INTO revocations (statement_id, block_id, kind, actions, at, by_key, expires, statement) VALUES ($1, $2, $3, $4, 0, 'k', 9999999999, '\\x00')`,
        [`held-${kind}`, block, kind, actions],
      )
      return {
        commit: async () => {
          await w.query('COMMIT')
          await w.end()
        },
      }
    }
    const refusingRevoke =
      (seen: string[][] = []) =>
      (blockId: string) => ({
        blockIds: [blockId],
        check(entries: readonly (readonly { kind: string }[])[]) {
          seen.push(entries.map((list) => list.map((e) => e.kind).join(',')))
          if (entries[0]?.some((e) => e.kind === 'revoke')) throw new Error('revoked')
        },
      })

    it('a consume waiting on a statement write sees it when it commits, whatever isolation level the database defaults to', async () => {
      const db = await freshDatabase()
      // Under REPEATABLE READ or SERIALIZABLE the spend would read a snapshot from before its wait.
      await admin((x) => x.query(`ALTER DATABASE ${db.name} SET default_transaction_isolation = 'serializable'`), db.name)
      const store = await openPostgresStore(`${db.url}?options=-c%20default_transaction_isolation%3Drepeatable%5C%20read`)
      const c = counter(3)
      const write = await heldStatement(db.url, c.blockId, 'revoke')
      const spending = store.consume({ ...ask('k', [c]), standing: refusingRevoke()(c.blockId) }, 1)
      const outcome = spending.then(
        () => 'granted',
        (e: Error) => e.message,
      )
      await new Promise((r) => setTimeout(r, 300))
      await write.commit()
      expect(await outcome).toBe('revoked')
      expect(await admin(async (x) => (await x.query('SELECT count(*)::int AS n FROM usage_totals')).rows[0].n, db.name)).toBe(0)
      await store.close()
    })

    it('the spend refuses to run under another isolation level than READ COMMITTED', async () => {
      const db = await freshDatabase()
      await (await openPostgresStore(db.url)).close()
      for (const level of ['REPEATABLE READ', 'SERIALIZABLE']) {
        const failed = await admin(async (x) => {
          await x.query(`BEGIN ISOLATION LEVEL ${level}`)
          return x.query(spendSql('NULL')).then(
            () => 'ran',
            (e: Error) => e.message,
          )
        }, db.name)
        expect(failed).toBe(`mandate_consume_v2 runs only under READ COMMITTED, not ${level.toLowerCase()}`)
      }
    })

    it('a chain with statements that refuse nothing: a statement write held open makes its consume wait, never fail, and is seen', async () => {
      const db = await freshDatabase()
      const store = await openPostgresStore(db.url)
      const c = counter(3)
      const seen: string[][] = []
      const standing = refusingRevoke(seen)(c.blockId)
      await addStatement(store, 'first', 'suspend', c.blockId, ['calendar:write'])
      const write = await heldStatement(db.url, c.blockId, 'suspend', '["files:read"]')
      const spending = store.consume({ ...ask('k', [c]), standing }, 1)
      await new Promise((r) => setTimeout(r, 300))
      expect(seen).toEqual([])
      await write.commit()
      expect(await spending).toEqual({ granted: true, remaining: [{ key: c.key, remaining: 2 }] })
      expect(seen).toEqual([['suspend,suspend']])
      await store.close()
    })

    it('answers stored by the previous version (written by the client) are returned to their retries; another binding is a conflict', async () => {
      const db = await freshDatabase()
      const store = await openPostgresStore(db.url)
      const c = counter(5)
      const stored = { granted: true, remaining: [{ key: c.key, remaining: 3 }] }
      await admin(
        (x) =>
          x.query('INSERT INTO usage_answers (key, binding, result, at) VALUES ($1, $2, $3, $4)', [
            'old',
            c.key,
            JSON.stringify(stored),
            10,
          ]),
        db.name,
      )
      expect(await store.consume(ask('old', [c]), 11)).toEqual(stored)
      expect(await store.consume(ask('old', [c], 'another'), 11)).toBe('conflict')
      // and nothing was spent by either: the counter is untouched
      expect(await store.consume(ask('new', [c]), 12)).toEqual({ granted: true, remaining: [{ key: c.key, remaining: 4 }] })
      await store.close()
    })

    it('a restart leaves the function as it is; a changed one is put back', async () => {
      const db = await freshDatabase()
      const version = () =>
        admin(async (x) => (await x.query("SELECT xmin::text AS v FROM pg_proc WHERE proname = 'mandate_consume_v2'")).rows, db.name)
      await (await openPostgresStore(db.url)).close()
      const first = await version()
      expect(first).toHaveLength(1)
      await (await openPostgresStore(db.url)).close()
      expect(await version()).toEqual(first)
      // someone replaced it (with a function that grants everything): the next start restores it
      await admin(
        (x) =>
          x.query(`CREATE OR REPLACE FUNCTION mandate_consume_v2(p_key TEXT, p_binding TEXT, p_counters JSON, p_now BIGINT, p_blocks TEXT[]) RETURNS JSON
                   LANGUAGE sql AS $$ SELECT '{"granted":true,"remaining":[]}'::json $$`),
        db.name,
      )
      const store = await openPostgresStore(db.url)
      const c = counter(1)
      expect(await store.consume(ask('a', [c]), 1)).toEqual({ granted: true, remaining: [{ key: c.key, remaining: 0 }] })
      expect(await store.consume(ask('b', [c]), 1)).toEqual({ granted: false, exhausted: c.key })
      await store.close()
      // made to run with its owner's rights: replaced by ours again (invoker's rights)
      await admin((x) => x.query('ALTER FUNCTION mandate_consume_v2(text, text, json, bigint, text[]) SECURITY DEFINER'), db.name)
      await (await openPostgresStore(db.url)).close()
      const definer = await admin(
        async (x) => (await x.query("SELECT prosecdef FROM pg_proc WHERE proname = 'mandate_consume_v2'")).rows,
        db.name,
      )
      expect(definer).toEqual([{ prosecdef: false }])
    })

    it('the function is the body its name was given to (a changed body needs a new name: instances of two versions would replace each other’s)', async () => {
      const db = await freshDatabase()
      await (await openPostgresStore(db.url)).close()
      const rows = await admin(
        async (x) => (await x.query("SELECT proname, prosrc FROM pg_proc WHERE proname LIKE 'mandate_consume%'")).rows,
        db.name,
      )
      expect(
        rows.map((r: { proname: string; prosrc: string }) => [r.proname, createHash('sha256').update(r.prosrc).digest('hex')]),
      ).toEqual([['mandate_consume_v2', '19ee7b455aaf879e2f6ca5715ffbfda9b8d77abb8e33f7a253b65668b294cfc1']])
    })

    it('a changed function that another role owns is not run: the start fails', async () => {
      const db = await freshDatabase()
      const role = `svc_${process.pid}_${n}`
      await admin(async (x) => {
        await x.query(`CREATE ROLE ${role} LOGIN PASSWORD 'svc'`)
        await x.query(`GRANT CREATE, USAGE ON SCHEMA public TO ${role}`)
      }, db.name)
      const asService = new URL(db.url)
      asService.username = role
      asService.password = 'svc'
      await (await openPostgresStore(asService.toString())).close()
      // the function replaced by one that grants everything, owned by the administrator
      await admin(
        (x) =>
          x.query(`CREATE OR REPLACE FUNCTION mandate_consume_v2(p_key TEXT, p_binding TEXT, p_counters JSON, p_now BIGINT, p_blocks TEXT[]) RETURNS JSON
                   LANGUAGE sql AS $$ SELECT '{"granted":true,"remaining":[]}'::json $$;
                   ALTER FUNCTION mandate_consume_v2(TEXT, TEXT, JSON, BIGINT, TEXT[]) OWNER TO CURRENT_USER`),
        db.name,
      )
      await expect(openPostgresStore(asService.toString())).rejects.toMatchObject({ code: '42501' })
    })

    it('overloads on the search path do not take the calls over (a consume that grants all, locks that do nothing)', async () => {
      const db = await freshDatabase()
      await admin(async (x) => {
        await x.query(`CREATE FUNCTION public.mandate_consume_v2(TEXT, TEXT, JSON, TEXT, TEXT[]) RETURNS JSON
                       LANGUAGE sql AS $$ SELECT '{"granted":true,"remaining":[]}'::json $$`)
        await x.query(`CREATE FUNCTION public.pg_advisory_xact_lock_shared(INTEGER) RETURNS VOID
                       LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'the overload was called'; END $$`)
        await x.query(`CREATE FUNCTION public.hashtextextended(TEXT, INTEGER) RETURNS BIGINT
                       LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'the overload was called'; END $$`)
        await x.query(`CREATE FUNCTION public.pg_advisory_xact_lock(INTEGER) RETURNS VOID
                       LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'the overload was called'; END $$`)
      }, db.name)
      const store = await openPostgresStore(db.url)
      const c = counter(1)
      const standing = { blockIds: [c.blockId], check: () => {} }
      expect(await store.consume({ ...ask('a', [c]), standing }, 1)).toEqual({ granted: true, remaining: [{ key: c.key, remaining: 0 }] })
      expect(await store.consume({ ...ask('b', [c]), standing }, 1)).toEqual({ granted: false, exhausted: c.key })
      await store.close()
    })

    it('opens in a schema whose name needs quoting', async () => {
      const db = await freshDatabase()
      await admin(async (x) => {
        await x.query('CREATE SCHEMA "Mandate-Prod"')
        await x.query(`ALTER DATABASE ${db.name} SET search_path = "Mandate-Prod"`)
      }, db.name)
      const store = await openPostgresStore(db.url)
      const c = counter(2)
      expect(await store.consume(ask('a', [c]), 1)).toEqual({ granted: true, remaining: [{ key: c.key, remaining: 1 }] })
      await store.close()
      const where = await admin(
        async (x) =>
          (
            await x.query(
              "SELECT n.nspname FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE p.proname = 'mandate_consume_v2'",
            )
          ).rows,
        db.name,
      )
      expect(where).toEqual([{ nspname: 'Mandate-Prod' }])
    })
  })

  describe('PostgreSQL store: nothing hangs', () => {
    it('a held counter lock makes consume give up after the 3 s lock timeout, acknowledging nothing', async () => {
      const db = await freshDatabase()
      const store = await openPostgresStore(db.url)
      const c = counter(2)
      const holder = new pg.Client({ connectionString: db.url })
      await holder.connect()
      await holder.query('SELECT pg_advisory_lock(hashtextextended($1, 2))', [c.key])
      const started = Date.now()
      await expect(store.consume(ask('k1', [c]), 1)).rejects.toMatchObject({ code: '55P03' })
      const waited = Date.now() - started
      expect(waited).toBeGreaterThanOrEqual(2900)
      expect(waited).toBeLessThan(4500)
      await holder.query('SELECT pg_advisory_unlock_all()')
      // nothing was spent by the failed attempt, and the key is free to retry
      expect(await store.consume(ask('k1', [c]), 2)).toEqual({ granted: true, remaining: [{ key: c.key, remaining: 1 }] })
      await holder.end()
      await store.close()
    }, 20_000)

    it('the probe fails within ~1 s on a held row lock, and on a database turned read-only', async () => {
      const db = await freshDatabase()
      const store = await openPostgresStore(db.url)
      await store.probe()
      const holder = new pg.Client({ connectionString: db.url })
      await holder.connect()
      await holder.query('BEGIN')
      await holder.query('SELECT * FROM health FOR UPDATE')
      const started = Date.now()
      await expect(store.probe()).rejects.toMatchObject({ code: '55P03' })
      expect(Date.now() - started).toBeLessThan(2000)
      await holder.query('ROLLBACK')
      await store.probe()
      // read-only: new sessions start read-only; the store's sessions are cut and reconnect
      await holder.query(`ALTER DATABASE ${db.name} SET default_transaction_read_only = on`)
      await holder.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()', [db.name])
      // (a connection cut while idle may fail one more request, 57P01, before the pool drops it)
      let code: string | undefined
      for (let i = 0; i < 10 && code !== '25006'; i++) {
        code = await store.probe().then(
          () => 'ok',
          (e: { code?: string }) => e.code,
        )
        expect(['57P01', '25006']).toContain(code)
      }
      expect(code).toBe('25006')
      await store.ping()
      await holder.end()
      await store.close()
    }, 20_000)
  })
})

describe('PostgreSQL store: a server that never answers', () => {
  let silent: Server
  let port = 0
  beforeAll(async () => {
    silent = createServer(() => {
      // accept and say nothing
    })
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve))
    port = (silent.address() as { port: number }).port
  })
  afterAll(async () => {
    silent.close()
  })

  it('opening gives up after the 5 s connection timeout', async () => {
    const started = Date.now()
    await expect(openPostgresStore(`postgres://mandate@127.0.0.1:${port}/x`)).rejects.toThrow()
    const waited = Date.now() - started
    expect(waited).toBeGreaterThanOrEqual(4500)
    expect(waited).toBeLessThan(8000)
  }, 20_000)
})

describe('storage failures', () => {
  it('/readyz answers 503 while storage cannot commit (a held lock), and 200 again once it can', async () => {
    const path = join(scratch(), 'ready.db')
    const store = openSqliteStore(path)
    const app = createApp({ store, key: generateKeyPair(), roots: [{ key: generateKeyPair().publicKey }] })
    expect((await app.request('/readyz')).status).toBe(200)
    const other = new Database(path)
    other.exec('BEGIN EXCLUSIVE')
    try {
      const ready = await app.request('/readyz')
      expect(ready.status).toBe(503)
      expect(((await ready.json()) as { error: { code: string } }).error.code).toBe('ERR_STORAGE_UNAVAILABLE')
      // reads still answer: readiness is about committing, not about answering
      expect((await app.request('/healthz')).status).toBe(200)
    } finally {
      other.exec('COMMIT')
      other.close()
    }
    expect((await app.request('/readyz')).status).toBe(200)
    await store.close()
  })

  it('when storage fails, writes answer 503 and acknowledge nothing; readiness says so', async () => {
    const failing = new Proxy({} as Store, {
      get: (_t, name) => (name === 'close' ? async () => {} : async () => Promise.reject(new Error('disk I/O error'))),
    })
    const alice = generateKeyPair()
    const app = createApp({ store: failing, key: generateKeyPair(), roots: [{ key: alice.publicKey }] })
    const root = mint({ principal: alice, caveats: [{ type: 'window', expires: Math.floor(Date.now() / 1000) + 60 }] })
    const res = await app.request('/v1/revocations', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ revocation: formatRevocation(createRevocation({ mandate: root, key: alice })) }),
    })
    expect(res.status).toBe(503)
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('ERR_STORAGE_UNAVAILABLE')
    const ready = await app.request('/readyz')
    expect(ready.status).toBe(503)
    expect(await ready.json()).toEqual({ error: { code: 'ERR_STORAGE_UNAVAILABLE', message: expect.any(String) } })
    const feed = await app.request('/v1/revocations')
    expect(feed.status).toBe(503)
    expect(((await feed.json()) as { error: { code: string } }).error.code).toBe('ERR_STORAGE_UNAVAILABLE')
  })
})
