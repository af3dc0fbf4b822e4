/**
 * What a denial says when an amendment's caveat denies (spec/mandate-v1.md §9.2): the place is
 * "block N (amended by … at …: reason)", with only what the revocation view knows of who, when
 * and why; the hint speaks of "the amendment", not of the block, since the block as signed
 * allows the request; the decision's `amendment` names it. Every phase words it alike: the
 * chain's (time), the request's (actions, resources) and the approvals'.
 *
 * The view here is the application's own (`RevocationView` is an interface an application may
 * implement over its store): what it hands the verifier is what a denial may repeat, and only
 * when it is well formed.
 */
import { describe, expect, it } from 'vitest'
import type { Caveat } from '../../src/caveats/types.js'
import { createMemoryRevocationView, type Decision, invoke, type RevocationEntry, type RevocationView } from '../../src/index.js'
import { aliceDid, assistant, denial, rootGrant, verifierFor } from '../helpers/chains.js'
import { T0 } from '../helpers/fixtures.js'

const ID = 'a1'.repeat(32)
const ROOT = rootGrant([{ type: 'actions', patterns: ['email:*'] }])
const BLOCK = ROOT.blocks[0]?.idHex as string
const NOW = T0 + 60

/** A view holding one amendment of the root block: `fields` as the application's store gave them. */
function viewWith(caveats: Caveat[], fields: Record<string, unknown>): RevocationView {
  const entry = { kind: 'amend', id: ID, caveats, ...fields } as unknown as RevocationEntry
  return { freshAt: () => NOW, entries: (blockId) => (blockId === BLOCK ? [entry] : undefined) }
}

async function decide(view: RevocationView, action = 'email:send', resource?: string): Promise<Decision> {
  const v = verifierFor({ revocations: view })
  v.at(NOW)
  const invocation = invoke(ROOT, { key: assistant, action, audience: 'svc', now: NOW, ...(resource ? { resource } : {}) })
  return v.authorize({ invocation })
}

const SIGNED = { by: aliceDid, at: T0 + 30, reason: 'no more sending' }
const WHO = `amended by ${aliceDid} at 2026-09-21T14:13:50Z: no more sending`

describe('a denial by an amendment names it: who, when, why', () => {
  it('actions: the place, the hint of the amendment, and the ref', async () => {
    const d = denial(await decide(viewWith([{ type: 'actions', patterns: ['email:read'] }], SIGNED)))
    expect([d.code, d.message, d.hint, d.block, d.caveat, d.caveatIndex, d.amendment]).toEqual([
      'ERR_ACTION_DENIED',
      `block 0 (${WHO}) does not allow email:send`,
      'the amendment allows: email:read',
      0,
      'actions',
      0,
      { id: ID, ...SIGNED },
    ])
  })

  it('resources: the same wording, at the caveat’s index in the amendment', async () => {
    const caveats: Caveat[] = [
      { type: 'actions', patterns: ['email:*'] },
      { type: 'resources', globs: ['mailbox/alice/**'] },
    ]
    const d = denial(await decide(viewWith(caveats, SIGNED), 'email:send', 'mailbox/bob/1'))
    expect([d.code, d.message, d.hint, d.caveat, d.caveatIndex, d.amendment]).toEqual([
      'ERR_RESOURCE_DENIED',
      `block 0 (${WHO}) does not allow resource mailbox/bob/1`,
      'the amendment allows: mailbox/alice/**',
      'resources',
      1,
      { id: ID, ...SIGNED },
    ])
  })

  it('a window the amendment closed: located at its window, named', async () => {
    const d = denial(await decide(viewWith([{ type: 'window', expires: T0 - 30 }], SIGNED)))
    expect([d.code, d.message, d.block, d.caveat, d.amendment]).toEqual([
      'ERR_TIME_EXPIRED',
      'expired at 2026-09-21T14:12:50Z',
      0,
      'window',
      { id: ID, ...SIGNED },
    ])
    // A window that can never be used with the block's own: the place names the amendment.
    const never = denial(await decide(viewWith([{ type: 'window', notBefore: T0 + 9 * 3600 }], SIGNED)))
    expect([never.code, never.message, never.amendment?.id]).toEqual([
      'ERR_TIME_INVALID',
      `block 0 (${WHO}): the windows of the chain do not overlap: it can never be used`,
      ID,
    ])
  })

  it('approvals: "block 0 (amended …) needs 1 approval(s)", with the amendment', async () => {
    const caveats: Caveat[] = [{ type: 'approval', actions: ['email:send'], approvers: [aliceDid], quorum: 1 }]
    const d = denial(await decide(viewWith(caveats, SIGNED)))
    expect([d.code, d.message, d.caveat, d.amendment]).toEqual([
      'ERR_APPROVAL_REQUIRED',
      `block 0 (${WHO}) needs 1 approval(s) for this action; 0 given`,
      'approval',
      { id: ID, ...SIGNED },
    ])
  })

  it('says only what the view knows: a missing or malformed signer, time or reason is left out', async () => {
    const cut: Caveat[] = [{ type: 'actions', patterns: ['email:read'] }]
    const cases: [Record<string, unknown>, string, Record<string, unknown>][] = [
      [{}, 'block 0 (amended)', {}],
      [{ by: '', at: Number.NaN, reason: '' }, 'block 0 (amended)', {}],
      [{ by: 7, at: '1790000030', reason: ['why'] }, 'block 0 (amended)', {}],
      [{ at: Number.POSITIVE_INFINITY, reason: 'quiet' }, 'block 0 (amended: quiet)', { reason: 'quiet' }],
      [{ by: aliceDid }, `block 0 (amended by ${aliceDid})`, { by: aliceDid }],
      [{ at: T0 }, 'block 0 (amended at 2026-09-21T14:13:20Z)', { at: T0 }],
      [{ at: 0 }, 'block 0 (amended at 1970-01-01T00:00:00Z)', { at: 0 }],
    ]
    for (const [fields, where, ref] of cases) {
      const d = denial(await decide(viewWith(cut, fields)))
      expect([d.message, d.amendment], JSON.stringify(fields)).toEqual([`${where} does not allow email:send`, { id: ID, ...ref }])
    }
  })

  it('the block’s own caveats are worded as the block’s, amended or not', async () => {
    // The amendment allows the action; the block's own caveat is what denies it.
    const d = denial(await decide(viewWith([{ type: 'actions', patterns: ['*'] }], SIGNED), 'calendar:read'))
    expect([d.message, d.hint, d.amendment]).toEqual(['block 0 does not allow calendar:read', 'block 0 allows: email:*', undefined])
  })

  it('through the memory view too, as a service’s feed gives it', async () => {
    const view = createMemoryRevocationView(() => NOW)
    const id = view.amend(BLOCK, {
      caveats: [{ type: 'actions', patterns: ['email:read'] }],
      by: aliceDid,
      at: T0 + 30,
      reason: 'no more sending',
    })
    const d = denial(await decide(view))
    expect([d.message, d.amendment]).toEqual([`block 0 (${WHO}) does not allow email:send`, { id, ...SIGNED }])
  })
})
