/**
 * Model-based test of the store behind the feed (research P2): random interleavings of
 * concurrent appends, retries, compactions and delta reads against a simple model. A reader
 * that follows `since` never sees a gap, a reorder or a duplicate, and retries never add.
 */
import { join } from 'node:path'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { openSqliteStore } from '../../src/service/sqlite-store.js'
import { scratch } from '../helpers/cli.js'

type Op =
  | { kind: 'add'; statement: number; expires: number }
  | { kind: 'compact'; now: number }
  | { kind: 'read'; reader: number; limit: number }

const op: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 5,
    arbitrary: fc.record({ kind: fc.constant('add' as const), statement: fc.nat({ max: 40 }), expires: fc.integer({ min: 0, max: 100 }) }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('compact' as const), now: fc.integer({ min: 0, max: 100 }) }) },
  {
    weight: 3,
    arbitrary: fc.record({ kind: fc.constant('read' as const), reader: fc.nat({ max: 2 }), limit: fc.integer({ min: 1, max: 5 }) }),
  },
)

describe('feed store model', () => {
  it('delta reads are gap-free, ordered and duplicate-free under random schedules; retries add nothing', async () => {
    const dir = scratch()
    let run = 0
    await fc.assert(
      fc.asyncProperty(fc.array(op, { minLength: 1, maxLength: 60 }), fc.scheduler(), async (ops, s) => {
        const store = openSqliteStore(join(dir, `model-${run++}.db`))
        const model = new Map<number, { seq: number; expires: number }>() // statement → accepted entry
        const assigned: number[] = []
        const compactedBefore = { now: -1 }
        const readers = [0, 0, 0].map(() => ({ since: 0, seen: [] as number[] }))
        const tasks = ops.map((o) =>
          s.schedule(Promise.resolve(o)).then(async (o) => {
            if (o.kind === 'add') {
              const r = await store.addRevocation({
                statementId: `st${o.statement}`,
                blockId: String(o.statement).padStart(64, '0'),
                kind: 'revoke',
                at: 1,
                by: 'aa'.repeat(32),
                expires: o.expires,
                statement: new Uint8Array([o.statement]),
              })
              const known = model.get(o.statement)
              if (known) expect(r).toEqual({ seq: known.seq, created: false })
              else {
                expect(r.created).toBe(true)
                expect(r.seq).toBeGreaterThan(Math.max(0, ...assigned))
                assigned.push(r.seq)
                model.set(o.statement, { seq: r.seq, expires: o.expires })
              }
            } else if (o.kind === 'compact') {
              await store.compact(o.now)
              compactedBefore.now = Math.max(compactedBefore.now, o.now)
              // a compacted statement is forgotten (the app then refuses it as stale: it is old)
              for (const [k, e] of model) if (e.expires < o.now) model.delete(k)
            } else {
              const reader = readers[o.reader] as { since: number; seen: number[] }
              const { head, entries: page } = await store.revocationsSince(reader.since, o.limit)
              for (const e of page) expect(e.seq).toBeLessThanOrEqual(head)
              for (const e of page) {
                expect(e.seq).toBeGreaterThan(reader.since)
                reader.since = e.seq
                reader.seen.push(e.seq)
              }
            }
          }),
        )
        await s.waitAll()
        await Promise.all(tasks)
        // sequence numbers are unique and increasing in acceptance order
        const seqs = assigned
        expect(new Set(seqs).size).toBe(seqs.length)
        // a reader that catches up has seen, in order and once each, every entry not compacted away
        for (const reader of readers) {
          for (;;) {
            const { entries: page } = await store.revocationsSince(reader.since, 100)
            if (page.length === 0) break
            for (const e of page) {
              reader.seen.push(e.seq)
              reader.since = e.seq
            }
          }
          expect(new Set(reader.seen).size).toBe(reader.seen.length)
          expect([...reader.seen].sort((a, b) => a - b)).toEqual(reader.seen)
          const live = [...model.values()].filter((e) => e.expires >= compactedBefore.now).map((e) => e.seq)
          for (const seq of live) expect(reader.seen).toContain(seq)
        }
        // the head never falls below an assigned number, compaction or not
        expect(await store.head()).toBeGreaterThanOrEqual(Math.max(0, ...seqs))
        await store.close()
      }),
      { numRuns: 300, seed: 2 },
    )
  })
})
