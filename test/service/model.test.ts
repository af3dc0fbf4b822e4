/**
 * Model-based tests of the store.
 *
 * The feed: random interleavings of concurrent appends, retries, compactions
 * and delta reads against a simple model. A reader that follows `since` never sees a gap, a
 * reorder or a duplicate, and retries never add.
 *
 * The counters (#7): random consumes, retries (same or another binding), compactions and clock
 * jumps against a reference that keeps every grant and counts by the definition — a use at t
 * is granted iff fewer than max uses were granted in (t − per, t] (or ever, without per) —
 * while the stores keep running totals and prune expired events.
 */
import { join } from 'node:path'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { openPostgresStore } from '../../src/service/postgres-store.js'
import { openSqliteStore } from '../../src/service/sqlite-store.js'
import { ANSWER_TTL, type Store } from '../../src/service/store.js'
import type { ConsumeResult, UsageCounter } from '../../src/usage/store.js'
import { scratch } from '../helpers/cli.js'
import { postgresBin, useCluster } from '../helpers/postgres.js'

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

/**
 * A scheduler that lets the event loop turn after each step it releases: the SQLite store
 * commits its writes in groups on `setImmediate`, so without the turn every read of a schedule
 * would run before any write committed.
 */
const afterEachStep = fc.scheduler({
  act: async (step) => {
    await step()
    await new Promise((resolve) => setImmediate(resolve))
  },
})

describe('feed store model', () => {
  it('delta reads are gap-free, ordered and duplicate-free under random schedules; retries add nothing', async () => {
    const dir = scratch()
    let run = 0
    const outcomes = { created: 0, retried: 0, compactions: 0, pages: 0, emptyPages: 0, liveChecked: 0 }
    await fc.assert(
      fc.asyncProperty(fc.array(op, { minLength: 1, maxLength: 60 }), afterEachStep, async (ops, s) => {
        const store = openSqliteStore(join(dir, `model-${run++}.db`))
        const model = new Map<number, { seq: number; expires: number }>() // statement → accepted entry
        const assigned: number[] = []
        const compactedBefore = { now: -1 }
        // A reader reads its pages one after another, as a feed client does (the cursor of one
        // page is where the next starts): its reads are chained, whatever the schedule.
        const readers = [0, 0, 0].map(() => ({ since: 0, seen: [] as number[], busy: Promise.resolve() }))
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
              if (known) {
                expect(r).toEqual({ seq: known.seq, created: false })
                outcomes.retried++
              } else {
                outcomes.created++
                expect(r.created).toBe(true)
                expect(r.seq).toBeGreaterThan(Math.max(0, ...assigned))
                assigned.push(r.seq)
                model.set(o.statement, { seq: r.seq, expires: o.expires })
              }
            } else if (o.kind === 'compact') {
              await store.compact(o.now)
              outcomes.compactions++
              compactedBefore.now = Math.max(compactedBefore.now, o.now)
              // a compacted statement is forgotten (the app then refuses it as stale: it is old)
              for (const [k, e] of model) if (e.expires < o.now) model.delete(k)
            } else {
              const reader = readers[o.reader] as { since: number; seen: number[]; busy: Promise<void> }
              reader.busy = reader.busy.then(async () => {
                const { head, entries: page } = await store.revocationsSince(reader.since, o.limit)
                if (page.length === 0) outcomes.emptyPages++
                else outcomes.pages++
                for (const e of page) expect(e.seq).toBeLessThanOrEqual(head)
                for (const e of page) {
                  expect(e.seq).toBeGreaterThan(reader.since)
                  reader.since = e.seq
                  reader.seen.push(e.seq)
                }
              })
              await reader.busy
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
          outcomes.liveChecked += live.length
        }
        // the head never falls below an assigned number, compaction or not
        expect(await store.head()).toBeGreaterThanOrEqual(Math.max(0, ...seqs))
        await store.close()
      }),
      { numRuns: 300, seed: 2 },
    )
    // Every branch is reached (seeded run: 999 created, 37 retried, 235 compactions, 415 pages read
    // and 235 empty ones, 2,091 live entries checked against a caught-up reader).
    expect(outcomes.created).toBeGreaterThan(500)
    expect(outcomes.retried).toBeGreaterThan(15)
    expect(outcomes.compactions).toBeGreaterThan(100)
    expect(outcomes.pages).toBeGreaterThan(200)
    expect(outcomes.emptyPages).toBeGreaterThan(100)
    expect(outcomes.liveChecked).toBeGreaterThan(1000)
  })
})

type UsageOp =
  | { kind: 'consume'; key: number; binding: number; counters: number[]; dt: number }
  | { kind: 'compact'; dt: number }
  | { kind: 'jump' }

/** A total counter and two windows of different widths, so that they run out in every order. */
const COUNTERS: readonly Omit<UsageCounter, 'key'>[] = [
  { blockId: 'aa'.repeat(32), block: 0, caveatIndex: 0, max: 6 },
  { blockId: 'bb'.repeat(32), block: 1, caveatIndex: 0, max: 3, per: 10 },
  { blockId: 'cc'.repeat(32), block: 2, caveatIndex: 1, max: 2, per: 4 },
]

const usageOp: fc.Arbitrary<UsageOp> = fc.oneof(
  {
    weight: 12,
    arbitrary: fc.record({
      kind: fc.constant('consume' as const),
      key: fc.nat({ max: 14 }),
      binding: fc.nat({ max: 1 }),
      counters: fc.shuffledSubarray([0, 1, 2], { minLength: 1 }),
      dt: fc.oneof(fc.constant(0), fc.nat({ max: 6 })),
    }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('compact' as const), dt: fc.nat({ max: 3 }) }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'jump' as const }) },
)

/**
 * When a counter refused at `now` frees up, by the definition: the first t' > now at which
 * fewer than max of the grants so far fall in (t' − per, t'].
 */
function resetAtByDefinition(grants: readonly number[], max: number, per: number, now: number): number | undefined {
  const candidates = [...new Set(grants.map((g) => g + per))].filter((t) => t > now).sort((a, b) => a - b)
  return candidates.find((t) => grants.filter((g) => g > t - per && g <= t).length < max)
}

/**
 * `atLeast`: the outcomes the seeded run must reach (exactly these), each more often than its
 * bound: grants, refusals by each counter, replays and conflicts.
 */
function usageModel(open: (run: number) => Promise<Store>, numRuns: number, atLeast: Record<string, number>): () => Promise<void> {
  return async () => {
    let run = 0
    const outcomes = new Map<string, number>()
    const tally = (k: string) => outcomes.set(k, (outcomes.get(k) ?? 0) + 1)
    await fc.assert(
      fc.asyncProperty(fc.array(usageOp, { minLength: 1, maxLength: 50 }), async (ops) => {
        const r = run++
        const store = await open(r)
        // Per run, fresh counter keys (the PostgreSQL runs share one database).
        const counters = COUNTERS.map((c) => ({ ...c, key: `${c.blockId}/${c.caveatIndex}/${r}` }))
        const grants = counters.map(() => [] as number[])
        const answers = new Map<string, { binding: string; answer: ConsumeResult; at: number }>()
        let now = 1_000_000
        try {
          for (const o of ops) {
            if (o.kind === 'jump') {
              now += ANSWER_TTL + 1
              continue
            }
            now += o.dt
            if (o.kind === 'compact') {
              await store.compact(now)
              for (const [k, a] of answers) if (a.at < now - ANSWER_TTL) answers.delete(k)
              continue
            }
            const key = `inv:${r}:${o.key}`
            const binding = `b${o.binding}`
            const asked = o.counters.map((i) => counters[i] as UsageCounter)
            const got = await store.consume({ key, binding, counters: asked }, now)
            const prior = answers.get(key)
            if (prior) {
              expect(got).toEqual(prior.binding === binding ? prior.answer : 'conflict')
              tally(prior.binding === binding ? 'replayed' : 'conflict')
              continue
            }
            let expected: ConsumeResult | undefined
            const used = o.counters.map((i) => {
              const c = counters[i] as UsageCounter
              const g = grants[i] as number[]
              return c.per === undefined ? g.length : g.filter((t) => t > now - (c.per as number) && t <= now).length
            })
            for (const [j, i] of o.counters.entries()) {
              const c = counters[i] as UsageCounter
              if ((used[j] as number) >= c.max) {
                const resetAt = c.per === undefined ? undefined : resetAtByDefinition(grants[i] as number[], c.max, c.per, now)
                expected = { granted: false, exhausted: c.key, ...(resetAt === undefined ? {} : { resetAt }) }
                break
              }
            }
            if (!expected) {
              for (const i of o.counters) (grants[i] as number[]).push(now)
              expected = {
                granted: true,
                remaining: o.counters.map((i, j) => ({
                  key: (counters[i] as UsageCounter).key,
                  remaining: (counters[i] as UsageCounter).max - (used[j] as number) - 1,
                })),
              }
            }
            expect(got).toEqual(expected)
            if (expected.granted) tally('granted')
            else {
              const c = counters.find((c) => c.key === expected.exhausted)
              tally(c?.per === undefined ? 'refused: total' : `refused: per ${c.per}${expected.resetAt === undefined ? ', no reset' : ''}`)
            }
            answers.set(key, { binding, answer: expected, at: now })
          }
        } finally {
          await store.close()
        }
      }),
      { numRuns, seed: 7 },
    )
    expect([...outcomes.keys()].sort()).toEqual(Object.keys(atLeast).sort())
    for (const [k, min] of Object.entries(atLeast)) expect(outcomes.get(k), k).toBeGreaterThan(min)
  }
}

describe('usage store model', () => {
  it(
    'SQLite: running totals and pruned windows agree with counting every grant',
    // seeded run: 1,199 granted; refused 126 per 4, 41 per 10, 9 total; 152 replayed, 176 conflicts
    usageModel(async (run) => openSqliteStore(join(scratch(), `usage-${run}.db`)), 300, {
      granted: 600,
      'refused: per 4': 60,
      'refused: per 10': 20,
      'refused: total': 3,
      replayed: 75,
      conflict: 85,
    }),
  )

  describe.skipIf(postgresBin() === undefined)('PostgreSQL', () => {
    const url = useCluster()
    it(
      'running totals and pruned windows agree with counting every grant',
      // seeded run: 220 granted; refused 13 per 4, 4 per 10, 4 total; 24 replayed, 30 conflicts
      usageModel(async () => openPostgresStore(url()), 60, {
        granted: 100,
        'refused: per 4': 5,
        'refused: per 10': 1,
        'refused: total': 1,
        replayed: 10,
        conflict: 12,
      }),
    )
  })
})
