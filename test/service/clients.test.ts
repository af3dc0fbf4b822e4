/**
 * Error paths of the service clients and of the verifier's injected stores: every failure to
 * get an answer denies with its own code, and a store's own explanation is kept.
 */
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { createRemoteReplayCache, createRemoteUsageStore, invoke, MandateError } from '../../src/index.js'
import { fileFeedState } from '../../src/node.js'
import { toServiceError } from '../../src/service/errors.js'
import { assistant, bearerChild, codeOf, rootGrant, verifierFor } from '../helpers/chains.js'
import { seededRandom, T0, thrownCode } from '../helpers/fixtures.js'

const refused = (async () => {
  throw new TypeError('fetch failed')
}) as unknown as typeof fetch
const answering = (status: number, body: unknown) => (async () => new Response(JSON.stringify(body), { status })) as unknown as typeof fetch

describe('remote usage store', () => {
  const limited = bearerChild([{ type: 'uses', max: 3 }])

  it('an unreachable service denies with ERR_COUNTER_UNAVAILABLE', async () => {
    const d = await verifierFor({ usage: createRemoteUsageStore({ url: 'http://svc', fetch: refused }) }).authorize({
      mandate: limited,
      request: { action: 'x' },
    })
    expect(codeOf(d)).toBe('ERR_COUNTER_UNAVAILABLE')
    if (!d.allowed) expect(d.message).toContain('cannot be reached')
  })

  it('an error answer or a body without a decision denies too, naming the status', async () => {
    const error = await verifierFor({
      usage: createRemoteUsageStore({
        url: 'http://svc',
        fetch: answering(503, { error: { code: 'ERR_STORAGE_UNAVAILABLE', message: 'disk' } }),
      }),
    }).authorize({ mandate: limited, request: { action: 'x' } })
    expect(codeOf(error)).toBe('ERR_COUNTER_UNAVAILABLE')
    if (!error.allowed) expect(error.message).toContain('503: ERR_STORAGE_UNAVAILABLE')
    const odd = await verifierFor({ usage: createRemoteUsageStore({ url: 'http://svc', fetch: answering(200, { hello: 1 }) }) }).authorize({
      mandate: limited,
      request: { action: 'x' },
    })
    expect(codeOf(odd)).toBe('ERR_COUNTER_UNAVAILABLE')
  })
})

describe('replay store failures', () => {
  const inv = () =>
    invoke(rootGrant(), { key: assistant, action: 'a', audience: 'svc', now: T0 + 60, random: seededRandom(String(Math.random())) })

  it('an unreachable shared replay store denies with ERR_REPLAY_UNAVAILABLE', async () => {
    const d = await verifierFor({ replay: createRemoteReplayCache({ url: 'http://svc', fetch: refused }) }).authorize({ invocation: inv() })
    expect(codeOf(d)).toBe('ERR_REPLAY_UNAVAILABLE')
    const error = await verifierFor({ replay: createRemoteReplayCache({ url: 'http://svc', fetch: answering(500, {}) }) }).authorize({
      invocation: inv(),
    })
    expect(codeOf(error)).toBe('ERR_REPLAY_UNAVAILABLE')
  })

  it('a store that explains itself with a MandateError keeps its code and hint', async () => {
    const replay = {
      has: () => {
        throw new MandateError('ERR_REVOCATION_STALE', 'region offline', { hint: 'try the other region' })
      },
      claim: () => true,
      release: () => {},
    }
    const d = await verifierFor({ replay }).authorize({ invocation: inv() })
    expect(d.allowed ? 'allowed' : [d.code, d.hint]).toEqual(['ERR_REVOCATION_STALE', 'try the other region'])
  })
})

describe('feed state file and service errors', () => {
  it('an unreadable state file is refused, not taken as an empty view', () => {
    const path = join(mkdtempSync(join(tmpdir(), 'mandate-state-')), 'state.json')
    expect(fileFeedState(path).load()).toBeUndefined()
    writeFileSync(path, JSON.stringify({ seq: 'x', entries: [] }))
    expect(thrownCode(() => fileFeedState(path).load())).toBe('ERR_REVOCATION_LIST_INVALID')
    writeFileSync(path, '{"seq": 3, "iss')
    expect(thrownCode(() => fileFeedState(path).load())).toBe('ERR_REVOCATION_LIST_INVALID')
  })

  it('an unexpected failure answers 500 ERR_INTERNAL without its message', () => {
    const e = toServiceError(new Error('secret detail'))
    expect([e.status, e.code, e.message]).toEqual([500, 'ERR_INTERNAL', 'internal error'])
    expect(toServiceError(new MandateError('ERR_HOLDER_MISMATCH', 'no')).status).toBe(403)
  })
})
