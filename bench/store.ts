/**
 * Consume cost against past uses, on the embedded (SQLite) store, side by side in one process.
 *
 *     npm run bench          (or: tsx bench/store.ts)
 *
 * Two stores in temporary files: one whose counters have never been used, one whose counters
 * already have 1,000,000 past uses — a total counter and a windowed one (all of its uses still
 * inside the window, the hardest case: no pruning helps). It times, interleaved in rounds so
 * that machine noise (above all fsync: every consume is a durable commit) hits both alike:
 *   granted — a consume that spends one use of both counters;
 *   refused — a consume refused by a spent window (answer with `resetAt`): with 1,000,000 live
 *             uses against 1 in the fresh store.
 * It prints medians per consume and the ratio loaded/fresh; the goal is at most 2× (the store
 * keeps running totals, so the cost should not grow with past uses). For scale, it also times
 * what counting the history once would cost (what version 0.1 did on every consume).
 *
 * BENCH_ROUNDS, BENCH_BATCH and BENCH_HISTORY change the sizes.
 */

import '../src/crypto/use-node.js'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import { openSqliteStore, seedUsage } from '../src/service/sqlite-store.js'
import type { Store } from '../src/service/store.js'
import type { UsageCounter } from '../src/usage/store.js'

const rounds = Number(process.env['BENCH_ROUNDS'] ?? 15)
const batch = Number(process.env['BENCH_BATCH'] ?? 100)
const history = Number(process.env['BENCH_HISTORY'] ?? 1_000_000)

const YEAR = 365 * 86_400
const now0 = 1_800_000_000

const counter = (block: string, max: number, per?: number): UsageCounter => ({
  key: `${block.repeat(32)}/0`,
  blockId: block.repeat(32),
  block: 0,
  caveatIndex: 0,
  max,
  ...(per ? { per } : {}),
})

/** Budgets far above what the bench spends: every `granted` consume is granted. */
const total = counter('aa', 1_000_000_000)
const windowed = counter('bb', 1_000_000_000, 10 * YEAR)
/** Spent windows: 1 live use of 1 in the fresh store, `history` of `history` in the loaded one. */
const spentFresh = counter('cc', 1, 10 * YEAR)
const spentLoaded = counter('cc', history, 10 * YEAR)

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.floor(s.length / 2)] as number
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'mandate-bench-'))
  try {
    const freshPath = join(dir, 'fresh.db')
    const loadedPath = join(dir, 'loaded.db')
    openSqliteStore(freshPath).close()
    openSqliteStore(loadedPath).close()
    // Past uses spread over the last year (all inside the 10-year window).
    const times = Array.from({ length: history }, (_, i) => now0 - YEAR + Math.floor((i * YEAR) / history))
    let s = performance.now()
    seedUsage(loadedPath, total.key, times, false)
    seedUsage(loadedPath, windowed.key, times, true)
    seedUsage(loadedPath, spentLoaded.key, times, true)
    seedUsage(freshPath, spentFresh.key, [now0 - 1], true)
    const seeded = performance.now() - s

    const probe = new Database(loadedPath, { readonly: true })
    s = performance.now()
    probe.prepare('SELECT COUNT(*) FROM usage_events WHERE counter_key = ?').pluck().get(windowed.key)
    const countOnce = performance.now() - s
    probe.close()

    const fresh = openSqliteStore(freshPath)
    const loaded = openSqliteStore(loadedPath)
    let n = 0
    let now = now0
    const granted = async (store: Store) => {
      const r = await store.consume({ key: `inv:${n++}`, binding: 'b', counters: [total, windowed] }, now++)
      if (r === 'conflict' || !r.granted) throw new Error('expected a grant')
    }
    const refused = async (store: Store, c: UsageCounter) => {
      const r = await store.consume({ key: `inv:${n++}`, binding: 'b', counters: [c] }, now)
      if (r === 'conflict' || r.granted || r.resetAt === undefined) throw new Error('expected a refusal with resetAt')
    }
    const cases = {
      granted: { fresh: () => granted(fresh), loaded: () => granted(loaded) },
      refused: { fresh: () => refused(fresh, spentFresh), loaded: () => refused(loaded, spentLoaded) },
    }
    for (const c of Object.values(cases)) for (let i = 0; i < 20; i++) await Promise.all([c.fresh(), c.loaded()]) // warm-up

    console.log(
      `mandate SQLite store: consume with 0 vs ${history.toLocaleString('en')} past uses (${rounds} rounds × ${batch} consumes, medians)\n`,
    )
    console.log(
      `seeding the history: ${(seeded / 1000).toFixed(1)} s; counting it once (0.1 did so per consume): ${countOnce.toFixed(1)} ms\n`,
    )
    console.log('case      fresh µs  loaded µs  loaded/fresh')
    const ratios: number[] = []
    for (const [name, c] of Object.entries(cases)) {
      const t = { fresh: [] as number[], loaded: [] as number[] }
      for (let r = 0; r < rounds; r++) {
        // alternate which goes first, so that neither always runs on a freshly synced disk
        const order = r % 2 === 0 ? (['fresh', 'loaded'] as const) : (['loaded', 'fresh'] as const)
        for (const which of order) {
          const start = performance.now()
          for (let i = 0; i < batch; i++) await c[which]()
          t[which].push((performance.now() - start) / batch)
        }
      }
      const [f, l] = [median(t.fresh), median(t.loaded)]
      ratios.push(l / f)
      const us = (x: number) => (x * 1000).toFixed(0).padStart(9)
      console.log(`${name.padEnd(8)} ${us(f)}  ${us(l)}  ${(l / f).toFixed(2).padStart(12)}`)
    }
    const worst = Math.max(...ratios)
    console.log(`\nworst ratio ${worst.toFixed(2)} (goal ≤ 2): ${worst <= 2 ? 'ok' : 'ABOVE GOAL'}`)
    await fresh.close()
    await loaded.close()
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

await main()
