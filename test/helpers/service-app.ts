/**
 * The service's app in the test process, for tests that call its routes directly (no socket),
 * and the counter shapes of the store's usage API.
 */
import Database from 'better-sqlite3'
import type { Hono } from 'hono'
import { type AppOptions, createApp } from '../../src/service/app.js'
import type { Store, StoredConsume } from '../../src/service/store.js'
import type { UsageCounter } from '../../src/usage/store.js'
import { fixedDid, fixedKey } from './fixtures.js'

/** An app over `store` with its clock read from `clock`: Alice served, the verifier `mail` registered (fixed keys). */
export function serviceApp(store: Store, clock: () => number, extra: Partial<AppOptions> = {}): Hono {
  return createApp({
    store,
    key: fixedKey('service'),
    clock,
    roots: [{ key: fixedDid('alice'), name: 'alice' }],
    verifiers: [{ name: 'mail', key: fixedDid('verifier') }],
    ...extra,
  })
}

/** A counter of `max` uses (per `per` seconds when given) of caveat 0 of block 1, whose id is `block` repeated. */
export const storeCounter = (max: number, per?: number, block = 'ab'): UsageCounter => ({
  key: `${block.repeat(32)}/0`,
  blockId: block.repeat(32),
  block: 1,
  caveatIndex: 0,
  max,
  ...(per === undefined ? {} : { per }),
})

/** One consume of `counters` under idempotency key `key`. */
export const storeConsume = (key: string, counters: readonly UsageCounter[], binding = 'b'): StoredConsume => ({ key, binding, counters })

/** What a second connection to the SQLite file at `path` (an operator's shell, the process after a crash) sees committed. */
export function committed(path: string, sql: string, ...params: unknown[]): unknown[] {
  const db = new Database(path, { readonly: true })
  try {
    return db
      .prepare(sql)
      .pluck()
      .all(...params)
  } finally {
    db.close()
  }
}
