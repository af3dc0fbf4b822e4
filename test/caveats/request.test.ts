/**
 * Through the verifier (spec §6.1, §7 steps 6 and 8): invalid resources and actions are
 * `ERR_REQUEST_INVALID`; `deny`, `approval`, `where` and scoped revocations cover the named
 * action and every action below it, while `actions` allows exactly what it names (issue #8).
 */
import { describe, expect, it } from 'vitest'
import type { Caveat } from '../../src/caveats/types.js'
import { type CborValue, decodeCbor, encodeCbor } from '../../src/cbor/codec.js'
import { getBackend } from '../../src/crypto/ed25519.js'
import {
  approve,
  attenuate,
  attenuationWarnings,
  createMemoryRevocationView,
  createVerifier,
  invoke,
  mint,
  type Request,
  toDidKey,
} from '../../src/index.js'
import { signingInput } from '../../src/token/signing.js'
import { aliceDid, assistant, bearerChild, codeOf, denial, rawSigned, rootGrant, verifierFor } from '../helpers/chains.js'
import { keyFor, seededRandom, T0, thrownCode } from '../helpers/fixtures.js'

const NOW = T0 + 60

async function decide(caveats: Caveat[], request: Request) {
  return verifierFor().authorize({ mandate: bearerChild(caveats), request })
}

describe('request resources (spec §6.1, §7 step 6)', () => {
  const bad = [
    'mail/../x',
    'mail/../../etc/passwd',
    'mail/./x',
    'mail//x',
    'mail/x/',
    '/mail',
    'mail/%2e%2e/x',
    'mail%2Fx',
    'mail\\x',
    'mail/\0',
    'mail/\u0085',
    'a'.repeat(1025),
  ]

  it.each(bad)('a bare request naming %j → ERR_REQUEST_INVALID, with or without a resources caveat', async (resource) => {
    expect(codeOf(await decide([{ type: 'resources', globs: ['mail/**', '**'] }], { action: 'email:read', resource }))).toBe(
      'ERR_REQUEST_INVALID',
    )
    expect(codeOf(await decide([], { action: 'email:read', resource }))).toBe('ERR_REQUEST_INVALID')
  })

  it.each(bad)('invoke() refuses to sign %j (ERR_REQUEST_INVALID)', (resource) => {
    expect(thrownCode(() => invoke(rootGrant(), { key: assistant, action: 'email:read', resource, audience: 'svc', now: NOW }))).toBe(
      'ERR_REQUEST_INVALID',
    )
  })

  it('1024 bytes pass, and exact code points decide', async () => {
    expect(codeOf(await decide([{ type: 'resources', globs: ['**'] }], { action: 'x', resource: 'a'.repeat(1024) }))).toBe('allowed')
    expect(codeOf(await decide([{ type: 'resources', globs: ['mail/**'] }], { action: 'x', resource: 'Mail/x' }))).toBe(
      'ERR_RESOURCE_DENIED',
    )
  })

  it('an invocation another implementation signed with mail/../x is denied, after the block signatures and before its own', async () => {
    const root = rootGrant([{ type: 'resources', globs: ['mail/**'] }])
    const good = invoke(root, {
      key: assistant,
      action: 'email:read',
      resource: 'mail/x',
      audience: 'svc',
      now: NOW,
      random: seededRandom('i'),
    })
    // Re-sign the same payload with the resource swapped, as a careless implementation would.
    const payload = new Map(decodeCbor(good.payload) as Map<number, CborValue>)
    payload.set(3, 'mail/../x')
    const bytes = encodeCbor(payload)
    const signature = getBackend().sign(assistant.secretKey, signingInput('invocation', bytes))
    const forged = rawSigned(bytes, signature)
    expect(codeOf(await verifierFor().authorize({ invocation: forged }))).toBe('ERR_REQUEST_INVALID')
    // A bad invocation signature is checked after the request: the request still decides.
    const wrong = rawSigned(bytes, new Uint8Array(64))
    expect(codeOf(await verifierFor().authorize({ invocation: wrong }))).toBe('ERR_REQUEST_INVALID')
  })

  it('a where glob rule holds only for a valid resource', async () => {
    const where: Caveat = { type: 'where', rules: [{ path: 'path', op: 'glob', value: 'mail/**' }] }
    expect(codeOf(await decide([where], { action: 'x', args: { path: 'mail/a' } }))).toBe('allowed')
    expect(codeOf(await decide([where], { action: 'x', args: { path: 'mail/../a' } }))).toBe('ERR_ARGS_DENIED')
  })

  it('malformed globs are refused when minting (ERR_CAVEAT_INVALID)', () => {
    for (const glob of ['mail/../**', 'mail//*', '/mail/**', 'mail/**/', 'mail\\*', 'mail/%2E/*', 'mail/a**'])
      expect(
        thrownCode(() => rootGrant([{ type: 'resources', globs: [glob] }])),
        glob,
      ).toBe('ERR_CAVEAT_INVALID')
  })
})

describe('request actions (spec §6.1)', () => {
  it('uppercase in a request → ERR_REQUEST_INVALID; in a pattern → ERR_CAVEAT_INVALID', async () => {
    expect(codeOf(await decide([], { action: 'Email:read' }))).toBe('ERR_REQUEST_INVALID')
    expect(thrownCode(() => invoke(rootGrant(), { key: assistant, action: 'email:Read', audience: 'svc', now: NOW }))).toBe(
      'ERR_REQUEST_INVALID',
    )
    expect(thrownCode(() => rootGrant([{ type: 'actions', patterns: ['Email:*'] }]))).toBe('ERR_CAVEAT_INVALID')
    expect(thrownCode(() => rootGrant([{ type: 'deny', patterns: ['email:Send'] }]))).toBe('ERR_CAVEAT_INVALID')
  })
})

describe('restricting lists cover descendants; allow-lists match exactly (spec §6.1)', () => {
  it('deny email:send denies email:send:now, not email:sender', async () => {
    const caveats: Caveat[] = [{ type: 'deny', patterns: ['email:send'] }]
    expect(denial(await decide(caveats, { action: 'email:send:now' }))).toMatchObject({
      code: 'ERR_ACTION_DENIED',
      block: 1,
      caveat: 'deny',
    })
    expect(codeOf(await decide(caveats, { action: 'email:sender' }))).toBe('allowed')
    expect(codeOf(await decide(caveats, { action: 'email' }))).toBe('allowed')
  })

  it('actions [email:send] does not allow email:send:now', async () => {
    expect(denial(await decide([{ type: 'actions', patterns: ['email:send'] }], { action: 'email:send:now' }))).toMatchObject({
      code: 'ERR_ACTION_DENIED',
      caveat: 'actions',
    })
  })

  it('an approval on email:send applies to email:send:now', async () => {
    const root = rootGrant([{ type: 'approval', actions: ['email:send'], approvers: [aliceDid], quorum: 1 }])
    const inv = invoke(root, { key: assistant, action: 'email:send:now', audience: 'svc', now: NOW, random: seededRandom('ap') })
    const v = verifierFor()
    expect(denial(await v.authorize({ invocation: inv }))).toMatchObject({ code: 'ERR_APPROVAL_REQUIRED', block: 0, caveat: 'approval' })
    const ok = approve({ approver: keyFor('alice'), invocation: inv, now: NOW })
    expect(codeOf(await v.authorize({ invocation: inv, approvals: [ok] }))).toBe('allowed')
  })

  it('a where rule scoped to payments:send binds payments:send:batch too', async () => {
    const where: Caveat = { type: 'where', actions: ['payments:send'], rules: [{ path: 'amount', op: 'le', value: 100 }] }
    expect(codeOf(await decide([where], { action: 'payments:send:batch', args: { amount: 500 } }))).toBe('ERR_ARGS_DENIED')
    expect(codeOf(await decide([where], { action: 'payments:sender', args: { amount: 500 } }))).toBe('allowed')
  })

  it('a scoped revocation or suspension of email:send covers email:send:now', async () => {
    const m = bearerChild([])
    const b0 = m.blocks[0]?.idHex as string
    for (const kind of ['revoke', 'suspend'] as const) {
      const revocations = createMemoryRevocationView()
      revocations[kind](b0, { actions: ['email:send'] })
      const v = createVerifier({ roots: [aliceDid], audience: 'svc', clock: () => NOW, revocations })
      expect(codeOf(await v.authorize({ mandate: m, request: { action: 'email:send:now' } }))).toBe(
        kind === 'revoke' ? 'ERR_REVOKED' : 'ERR_SUSPENDED',
      )
      expect(codeOf(await v.authorize({ mandate: m, request: { action: 'email:sender' } }))).toBe('allowed')
    }
  })

  it('attenuation warnings: a deny below a deny that already covers it is a no-op', () => {
    const root = mint({
      principal: keyFor('alice'),
      to: toDidKey(assistant.publicKey),
      caveats: [
        { type: 'deny', patterns: ['email:send'] },
        { type: 'window', expires: T0 + 3600 },
      ],
      now: T0,
      random: seededRandom('w'),
    })
    const w = attenuationWarnings(root, [{ type: 'deny', patterns: ['email:send:now', 'email:*'] }])
    expect(w.map((x) => x.message)).toEqual(['email:send:now is already denied by block 0'])
    expect(attenuate(root, { key: assistant, caveats: [{ type: 'deny', patterns: ['email:send:now'] }], now: T0 })).toBeDefined()
  })
})
