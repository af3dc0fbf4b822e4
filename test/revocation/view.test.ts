/**
 * The in-memory revocation view (src/revocation/view.ts, spec §9): revoke is permanent, suspend
 * lasts until resume, resume lifts every suspension of a block and nothing else; the view is
 * as fresh as its clock says; bad block ids and action patterns are the caller's bug (TypeError).
 */
import { describe, expect, it } from 'vitest'
import { createMemoryRevocationView, createVerifier } from '../../src/index.js'
import { aliceDid, bearerChild } from '../helpers/chains.js'
import { fixedDid, T0 } from '../helpers/fixtures.js'

const A = 'a'.repeat(64)
const B = 'b'.repeat(64)

describe('createMemoryRevocationView', () => {
  it('records revocations and suspensions per block, in order, with what was given', () => {
    const view = createMemoryRevocationView()
    expect(view.entries(A)).toBeUndefined()
    view.revoke(A, { actions: ['email:send'], at: T0, by: fixedDid('alice'), reason: 'too chatty' })
    view.suspend(A)
    view.suspend(B, { at: T0 + 1 })
    expect(view.entries(A)).toStrictEqual([
      { kind: 'revoke', actions: ['email:send'], at: T0, by: fixedDid('alice'), reason: 'too chatty' },
      { kind: 'suspend', at: 0 },
    ])
    expect(view.entries(B)).toStrictEqual([{ kind: 'suspend', at: T0 + 1 }])
  })

  it('an entry without a time took effect at 0 (always); the kind is the method, not the entry', () => {
    const view = createMemoryRevocationView()
    view.revoke(A, { reason: 'r' })
    view.suspend(B, { kind: 'revoke' } as never)
    expect(view.entries(A)).toStrictEqual([{ kind: 'revoke', at: 0, reason: 'r' }])
    expect(view.entries(B)).toStrictEqual([{ kind: 'suspend', at: 0 }])
  })

  it('resume lifts every suspension of the block and keeps its revocations', () => {
    const view = createMemoryRevocationView()
    view.suspend(A)
    view.revoke(A, { actions: ['x'] })
    view.suspend(A, { actions: ['y'] })
    view.suspend(B)
    view.resume(A)
    expect(view.entries(A)).toStrictEqual([{ kind: 'revoke', actions: ['x'], at: 0 }])
    expect(view.entries(B)).toStrictEqual([{ kind: 'suspend', at: 0 }])
  })

  it('resume of a block with only suspensions leaves no entries at all; of an unknown block, nothing', () => {
    const view = createMemoryRevocationView()
    view.suspend(A)
    view.suspend(A, { actions: ['x'] })
    view.resume(A)
    expect(view.entries(A)).toBeUndefined()
    view.resume(B)
    expect(view.entries(B)).toBeUndefined()
    // A block suspended again after a resume is suspended again.
    view.suspend(A)
    expect(view.entries(A)).toStrictEqual([{ kind: 'suspend', at: 0 }])
  })

  it('is always fresh by default; with a clock, as fresh as the clock says', () => {
    expect(createMemoryRevocationView().freshAt()).toBe(Number.MAX_SAFE_INTEGER)
    let now = T0
    const view = createMemoryRevocationView(() => now)
    expect(view.freshAt()).toBe(T0)
    now = T0 + 5
    expect(view.freshAt()).toBe(T0 + 5)
  })

  it('takes block ids as exactly 64 lower-case hex digits', () => {
    const view = createMemoryRevocationView()
    const bad = new TypeError('"blockId" expected 64 lower-case hex digits')
    for (const id of ['A'.repeat(64), 'a'.repeat(63), 'a'.repeat(65), `x${'a'.repeat(64)}`, `${'a'.repeat(64)}x`, 'g'.repeat(64), '']) {
      expect(() => view.revoke(id)).toThrow(bad)
      expect(() => view.suspend(id)).toThrow(bad)
      expect(view.entries(id)).toBeUndefined()
    }
    view.revoke('0123456789abcdef'.repeat(4))
    expect(view.entries('0123456789abcdef'.repeat(4))).toHaveLength(1)
  })

  it('takes action patterns only, and records nothing for a bad one', () => {
    const view = createMemoryRevocationView()
    expect(() => view.revoke(A, { actions: ['email:send', 'Email'] })).toThrow(new TypeError('"actions" bad pattern "Email"'))
    expect(() => view.suspend(A, { actions: ['email::x'] })).toThrow(new TypeError('"actions" bad pattern "email::x"'))
    expect(view.entries(A)).toBeUndefined()
    view.suspend(A, { actions: ['email:*', '*:read'] })
    expect(view.entries(A)).toStrictEqual([{ kind: 'suspend', actions: ['email:*', '*:read'], at: 0 }])
  })

  it('a verifier using it denies a revoked or suspended block, allows it again after resume, and never after revoke', async () => {
    const m = bearerChild([])
    const target = m.blocks[1]?.idHex as string
    const view = createMemoryRevocationView()
    const verifier = createVerifier({ roots: [aliceDid], audience: 'svc', clock: () => T0 + 10, revocations: view })
    const code = async () => {
      const d = await verifier.authorize({ mandate: m, request: { action: 'email:read' } })
      return d.allowed ? 'allowed' : d.code
    }
    expect(await code()).toBe('allowed')
    view.suspend(target)
    expect(await code()).toBe('ERR_SUSPENDED')
    view.resume(target)
    expect(await code()).toBe('allowed')
    view.revoke(target)
    view.resume(target)
    expect(await code()).toBe('ERR_REVOKED')
  })

  it('a view whose clock lags behind the verifier by more than its bound denies everything', async () => {
    const m = bearerChild([])
    const view = createMemoryRevocationView(() => T0 - 31)
    const verifier = createVerifier({ roots: [aliceDid], audience: 'svc', clock: () => T0, revocations: view })
    const d = await verifier.authorize({ mandate: m, request: { action: 'email:read' } })
    expect(d.allowed ? 'allowed' : d.code).toBe('ERR_REVOCATION_STALE')
    const fresh = createVerifier({
      roots: [aliceDid],
      audience: 'svc',
      clock: () => T0,
      revocations: createMemoryRevocationView(() => T0 - 30),
    })
    expect((await fresh.authorize({ mandate: m, request: { action: 'email:read' } })).allowed).toBe(true)
  })
})
