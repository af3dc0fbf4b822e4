/**
 * The stores directly (exact times), and the app's honesty when storage fails.
 */
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { createRevocation, formatRevocation, generateKeyPair, mint, type UsageCounter } from '../../src/index.js'
import { createApp } from '../../src/service/app.js'
import { openSqliteStore } from '../../src/service/sqlite-store.js'
import type { Store } from '../../src/service/store.js'
import { scratch } from '../helpers/cli.js'

const counter = (max: number, per?: number): UsageCounter => ({
  key: `${'ab'.repeat(32)}/0`,
  blockId: 'ab'.repeat(32),
  block: 0,
  caveatIndex: 0,
  max,
  ...(per ? { per } : {}),
})

describe('SQLite store', () => {
  const open = () => openSqliteStore(join(scratch(), 'store.db'))

  it('R12: exact sliding window on the service clock — N at 12:59:59, N more at 13:00:00 are refused', async () => {
    const store = open()
    const c = counter(2, 3600)
    const t = 1_790_000_000
    expect((await store.consume('a', [c], t - 1)).granted).toBe(true)
    expect((await store.consume('b', [c], t - 1)).granted).toBe(true)
    expect(await store.consume('c', [c], t)).toEqual({ granted: false, exhausted: c.key, resetAt: t - 1 + 3600 })
    expect((await store.consume('d', [c], t - 1 + 3600)).granted).toBe(true)
    await store.close()
  })

  it('all or nothing across counters, and idempotent by request id', async () => {
    const store = open()
    const a = counter(5)
    const b = { ...counter(1), key: `${'cd'.repeat(32)}/1` }
    expect((await store.consume('r1', [a, b], 1)).granted).toBe(true)
    expect((await store.consume('r2', [a, b], 2)).granted).toBe(false)
    // r2 consumed nothing from a: four more fit
    for (let i = 0; i < 4; i++) expect((await store.consume(`a${i}`, [a], 3)).granted).toBe(true)
    expect((await store.consume('a5', [a], 3)).granted).toBe(false)
    expect(await store.consume('r1', [a, b], 4)).toEqual({
      granted: true,
      remaining: [
        { key: a.key, remaining: 4 },
        { key: b.key, remaining: 0 },
      ],
    })
    await store.close()
  })

  it('compaction drops entries of expired blocks and old idempotency answers, never live ones', async () => {
    const store = open()
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
    await store.consume('old', [counter(10)], 10)
    expect(await store.compact(2000)).toBe(1)
    expect((await store.revocationsSince(0, 10)).entries.map((e) => e.seq)).toEqual([2])
    expect(await store.head()).toBe(2)
    // compacting the newest entry must not lower the head (clients would see a rollback)
    expect(await store.compact(2_000_000)).toBe(1)
    expect(await store.revocationsSince(0, 10)).toEqual({ head: 2, entries: [] })
    // the answer to "old" was forgotten only once it was a day old
    expect(await store.compact(10 + 86_400 + 1)).toBe(0)
    expect((await store.consume('old', [counter(10)], 90_000)).granted).toBe(true)
    await store.close()
  })

  it('replay claims: one winner until expiry, then free again; release frees at once', async () => {
    const store = open()
    expect(await store.claimReplay('i1', 100, 50)).toBe(true)
    expect(await store.claimReplay('i1', 100, 60)).toBe(false)
    expect(await store.claimReplay('i1', 200, 100)).toBe(true)
    await store.releaseReplay('i1')
    expect(await store.claimReplay('i1', 300, 101)).toBe(true)
    await store.compact(301)
    expect(await store.claimReplay('i1', 400, 100)).toBe(true)
    await store.close()
  })

  it('approval inbox: pending until this approver answers', async () => {
    const store = open()
    await store.putApprovalRequest({ id: 'i1', invocation: 'mni1_x', approvers: ['did:a', 'did:b'], createdAt: 1 })
    expect((await store.pendingApprovals('did:a', 10)).map((r) => r.id)).toEqual(['i1'])
    await store.addApproval('i1', 'did:a', 'mna1_y')
    expect(await store.pendingApprovals('did:a', 10)).toEqual([])
    expect((await store.pendingApprovals('did:b', 10)).map((r) => r.id)).toEqual(['i1'])
    expect((await store.getApprovalRequest('i1'))?.approvals).toEqual({ 'did:a': 'mna1_y' })
    await store.close()
  })
})

describe('storage failures', () => {
  it('P10: when storage fails, writes answer 503 and acknowledge nothing; readiness says so', async () => {
    const failing = new Proxy({} as Store, {
      get: (_t, name) => (name === 'close' ? async () => {} : async () => Promise.reject(new Error('disk I/O error'))),
    })
    const app = createApp({ store: failing, key: generateKeyPair() })
    const alice = generateKeyPair()
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
