/**
 * Typed error details (ErrorDetailsMap): the data a program acts on, not only in words.
 * Checking `code` narrows `details`; messages and hints stay as they were.
 */
import { describe, expect, expectTypeOf, it } from 'vitest'
import { encodeCbor } from '../../src/cbor/codec.js'
import { toDidKey } from '../../src/crypto/keys.js'
import {
  approve,
  createMemoryRevocationView,
  type Denied,
  type ErrorDetailsMap,
  invoke,
  MandateError,
  parseMandate,
  type UsageStore,
} from '../../src/index.js'
import { alice, aliceDid, assistant, denial, rootGrant, verifierFor } from '../helpers/chains.js'
import { didFor, keyFor, seededRandom, T0 } from '../helpers/fixtures.js'

const NOW = T0 + 60
const signed = (m: ReturnType<typeof rootGrant>, action: string) =>
  invoke(m, { key: assistant, action, audience: 'svc', now: NOW, random: seededRandom(`inv:${action}`) })

describe('typed details', () => {
  it('ERR_APPROVAL_REQUIRED: the quorum, how many counted, who is still missing, the invocation to submit', async () => {
    const bob = keyFor('bob')
    const approvers = [aliceDid, toDidKey(bob.publicKey), didFor('carol')]
    const m = rootGrant([
      { type: 'actions', patterns: ['*'] },
      { type: 'approval', actions: ['email:send'], approvers, quorum: 2 },
    ])
    const inv = signed(m, 'email:send')
    const d = denial(await verifierFor().authorize({ invocation: inv, approvals: [approve({ approver: bob, invocation: inv, now: NOW })] }))
    if (d.code !== 'ERR_APPROVAL_REQUIRED') throw new Error(d.code)
    expect(d.details).toEqual({ quorum: 2, given: 1, missing: [aliceDid, didFor('carol')], approvers, invocationId: inv.idHex })
    expect(d.hint).toBe(`needs 1 more from: ${aliceDid}, ${didFor('carol')}; submit invocation ${inv.idHex} for approval`)
  })

  it('ERR_USAGE_EXHAUSTED: the counter key, and when the quota resets (absent when it never does)', async () => {
    const m = rootGrant([
      { type: 'actions', patterns: ['*'] },
      { type: 'uses', max: 1, per: 3600 },
    ])
    const v = verifierFor()
    const first = await v.authorize({ invocation: signed(m, 'a') })
    expect(first.allowed).toBe(true)
    const d = denial(await v.authorize({ invocation: invoke(m, { key: assistant, action: 'a', audience: 'svc', now: NOW + 1 }) }))
    if (d.code !== 'ERR_USAGE_EXHAUSTED') throw new Error(d.code)
    const key = first.allowed ? first.usage[0]?.key : undefined
    expect(d.details).toEqual({ key, resetAt: expect.any(Number), max: 1, per: 3600 })
    expect(d.hint).toBe(
      `quota spent; next use allowed at ${new Date((d.details.resetAt as number) * 1000).toISOString().replace('.000Z', 'Z')}`,
    )

    const never: UsageStore = { consume: () => ({ granted: false, exhausted: key as string }) }
    const n = denial(await verifierFor({ usage: never }).authorize({ invocation: signed(m, 'b') }))
    if (n.code !== 'ERR_USAGE_EXHAUSTED') throw new Error(n.code)
    expect(n.details).toEqual({ key, max: 1, per: 3600 })
    expect('resetAt' in n.details).toBe(false)
    expect(n.hint).toBe('quota spent; the quota does not reset')
  })

  it('ERR_REVOKED and ERR_SUSPENDED: the block, who and when, as far as the view knows', async () => {
    const m = rootGrant()
    const block = m.blocks[0]?.idHex as string
    const revocations = createMemoryRevocationView()
    revocations.revoke(block, { at: T0 + 10, by: aliceDid, reason: 'left the team', actions: ['email:send'] })
    const d = denial(await verifierFor({ revocations }).authorize({ invocation: signed(m, 'email:send') }))
    if (d.code !== 'ERR_REVOKED') throw new Error(d.code)
    expect(d.details).toEqual({ blockId: block, at: T0 + 10, by: aliceDid, reason: 'left the team', actions: ['email:send'] })

    const suspended = createMemoryRevocationView()
    suspended.suspend(block, { at: T0 + 20 })
    const s = denial(await verifierFor({ revocations: suspended }).authorize({ invocation: signed(m, 'email:read') }))
    if (s.code !== 'ERR_SUSPENDED') throw new Error(s.code)
    expect(s.details).toEqual({ blockId: block, at: T0 + 20 })
  })

  it('ERR_VERSION: the versions this library reads, and the one found', async () => {
    const raw = encodeCbor([2, [alice.publicKey]])
    const d = denial(await verifierFor().authorize({ mandate: raw, request: { action: 'a' } }))
    if (d.code !== 'ERR_VERSION') throw new Error(d.code)
    expect(d.details).toEqual({ supported: [1], found: 2 })
    try {
      parseMandate(encodeCbor(['1', [alice.publicKey]]))
      expect.unreachable()
    } catch (e) {
      expect(e).toBeInstanceOf(MandateError)
      expect((e as MandateError).details).toEqual({ supported: [1] })
      expect((e as MandateError).toJSON()['details']).toEqual({ supported: [1] })
    }
  })

  it('codes without details carry none', async () => {
    const d = denial(await verifierFor({ roots: [didFor('someone')] }).authorize({ invocation: signed(rootGrant(), 'a') }))
    expect(d.code).toBe('ERR_ROOT_UNTRUSTED')
    expect('details' in d).toBe(false)
    expect(new MandateError('ERR_FORMAT', 'x').toJSON()).toEqual({ code: 'ERR_FORMAT', message: 'x' })
  })

  it('narrows by code at the type level, and the constructor requires details exactly where a code has them', () => {
    const use = (d: Denied) => {
      if (d.code === 'ERR_USAGE_EXHAUSTED') expectTypeOf(d.details.resetAt).toEqualTypeOf<number | undefined>()
      if (d.code === 'ERR_APPROVAL_REQUIRED') expectTypeOf(d.details.missing).toEqualTypeOf<readonly string[]>()
      if (d.code === 'ERR_VERSION') expectTypeOf(d.details).toEqualTypeOf<ErrorDetailsMap['ERR_VERSION']>()
      if (d.code === 'ERR_ROOT_UNTRUSTED') expectTypeOf(d.details).toEqualTypeOf<undefined>()
    }
    expect(typeof use).toBe('function')
    // @ts-expect-error ERR_USAGE_EXHAUSTED needs its details
    expect(() => new MandateError('ERR_USAGE_EXHAUSTED', 'spent')).not.toThrow()
    // @ts-expect-error ERR_FORMAT has none
    expect(new MandateError('ERR_FORMAT', 'bad', { details: { key: 'k' } }).code).toBe('ERR_FORMAT')
    expect(new MandateError('ERR_USAGE_EXHAUSTED', 'spent', { details: { key: 'k' } }).details.key).toBe('k')
  })
})
