/**
 * An in-process service for the feed tests (rollback, rewritten history): a served principal
 * with a long-lived grant, fresh blocks under it to revoke, a log that can be read back.
 */
import { join } from 'node:path'
import pino from 'pino'
import { expect } from 'vitest'
import {
  attenuate,
  createRevocation,
  formatRevocation,
  mint,
  toDidKey,
  type UnverifiedMandate,
  type UnverifiedRevocation,
} from '../../src/index.js'
import { type RunningService, startService } from '../../src/service/server.js'
import { fixedKey } from './fixtures.js'

export const now = () => Math.floor(Date.now() / 1000)
/** The served principal. */
export const alice = fixedKey('alice')
/** The long-lived grant, minted on first use (not while test modules load: see FIXED_KEYS). */
let minted: UnverifiedMandate | undefined
export const grant = () => {
  minted ??= mint({ principal: alice, caveats: [{ type: 'window', expires: now() + 3600 }] })
  return minted
}
/** A fresh block under the grant, to revoke (expiring sooner when `expires` says so). */
export const child = (name: string, expires?: number) =>
  attenuate(grant(), { caveats: expires === undefined ? [] : [{ type: 'window', expires }], name })
export const blockOf = (m: UnverifiedMandate) => m.blocks[m.blocks.length - 1]?.idHex as string

/** Log lines of an in-process service. */
export function capture() {
  const lines: Record<string, unknown>[] = []
  const logger = pino({ level: 'info' }, { write: (line: string) => lines.push(JSON.parse(line) as Record<string, unknown>) })
  return { logger, lines, warnings: () => lines.filter((l) => l['level'] === 40).map((l) => String(l['msg'])) }
}

/** Start the service in-process on `dir` (its key file and feed mark there), SQLite there unless `db` says otherwise. */
export async function serveIn(dir: string, db = join(dir, 'mandate.db')) {
  const log = capture()
  const service = await startService({
    host: '127.0.0.1',
    port: 0,
    db,
    keyFile: join(dir, 'service.pem'),
    logLevel: 'info',
    logger: log.logger,
    trust: { roots: [{ key: toDidKey(alice.publicKey), name: 'alice' }] },
  })
  return { service, log }
}

/** Post a whole-block revocation of `m` by alice: the statement (its `id` is the statement id) and its seq. */
export async function revokeStatement(
  service: RunningService,
  m: UnverifiedMandate,
): Promise<{ seq: number; statement: UnverifiedRevocation }> {
  const statement = createRevocation({ mandate: m, key: alice })
  const res = await fetch(`${service.url}/v1/revocations`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ revocation: formatRevocation(statement) }),
  })
  const body = (await res.json()) as { seq: number }
  expect(res.status).toBe(201)
  return { seq: body.seq, statement }
}

/** As {@link revokeStatement}: the seq alone. */
export async function revoke(service: RunningService, m: UnverifiedMandate): Promise<number> {
  return (await revokeStatement(service, m)).seq
}
