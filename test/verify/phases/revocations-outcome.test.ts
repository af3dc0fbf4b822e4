/**
 * What a person reads when revocation denies (message, hint, block, details), and every field
 * of the decision and its audit record (src/verify/revocations.ts, src/verify/outcome.ts).
 */
import { describe, expect, it } from 'vitest'
import {
  attenuate,
  type BlockStanding,
  createMemoryRevocationView,
  invoke,
  MandateError,
  parseApproval,
  type RevocationEntry,
  type RevocationView,
} from '../../../src/index.js'
import { readOptions } from '../../../src/verify/options.js'
import { chainLinks, denied } from '../../../src/verify/outcome.js'
import { checkRevocations, isRevocationEntry, revocationDetails } from '../../../src/verify/revocations.js'
import { aliceDid, assistant, bearerChild, denial, rootGrant, verifierFor } from '../../helpers/chains.js'
import { caught, fixedDid, seededRandom, T0, thrownCode } from '../../helpers/fixtures.js'

const NOW = T0 + 60
const AT = '2026-09-21T14:14:00Z' // iso(T0 + 40)
const STALE_HINT = 'the verifier cannot reach its revocation service; it denies until it can (fail closed)'

function setup() {
  const chain = bearerChild([]).blocks
  const b0 = chain[0]?.idHex as string
  const b1 = chain[1]?.idHex as string
  const settings = (revocations: RevocationView) => readOptions({ roots: [aliceDid], audience: 'svc', revocations })
  const run = (revocations: RevocationView, action = 'email:read') => checkRevocations(settings(revocations), NOW, chain, action)
  const err = (revocations: RevocationView, action = 'email:read') => caught(() => run(revocations, action))
  const code = (revocations: RevocationView, action = 'email:read') => thrownCode(() => run(revocations, action))
  const memory = () => createMemoryRevocationView(() => NOW)
  const listing = (byBlock: Record<string, unknown>, freshAt: () => number = () => NOW): RevocationView => ({
    freshAt,
    entries: (id) => byBlock[id] as readonly RevocationEntry[] | undefined,
  })
  return { chain, b0, b1, err, code, memory, listing }
}

const summary = (e: MandateError) => ({ code: e.code, message: e.message, hint: e.hint, block: e.block })

describe('revocation denials, as read', () => {
  it('a stale view says when it was last complete, exactly at the bound it is still fresh', () => {
    const { err, code, listing } = setup()
    expect(code(listing({}, () => NOW - 30))).toBe('ok')
    expect(summary(err(listing({}, () => NOW - 31)))).toEqual({
      code: 'ERR_REVOCATION_STALE',
      message: 'the revocation view is stale (last complete 2026-09-21T14:13:49Z)',
      hint: STALE_HINT,
      block: undefined,
    })
  })

  it('a view that never answered a number is stale since "never"', () => {
    const { err, listing } = setup()
    for (const answer of [Number.NaN, Number.POSITIVE_INFINITY, '1790000060', undefined]) {
      const e = err(listing({}, () => answer as number))
      expect([e.code, e.message, e.hint]).toEqual([
        'ERR_REVOCATION_STALE',
        'the revocation view is stale (last complete never)',
        STALE_HINT,
      ])
    }
    const thrown = err(
      listing({}, () => {
        throw new Error('down')
      }),
    )
    expect([thrown.code, thrown.message]).toEqual(['ERR_REVOCATION_STALE', 'the revocation view is stale (last complete never)'])
  })

  it('a feed view says why its last sync failed, and a view that throws a MandateError denies with it', () => {
    const { err, listing } = setup()
    const feed = Object.assign(
      listing({}, () => NOW - 100),
      { lastError: new MandateError('ERR_REVOCATION_LIST_INVALID', 'the feed signature is bad') },
    )
    expect(err(feed).hint).toBe('the last sync failed: the feed signature is bad; it denies until it can (fail closed)')
    const plain = Object.assign(
      listing({}, () => NOW - 100),
      { lastError: new Error('not a MandateError') },
    )
    expect(err(plain).hint).toBe(STALE_HINT)
    const rewritten = err(
      listing({}, () => {
        throw new MandateError('ERR_REVOCATION_FEED_RESET', 'the feed was rewritten')
      }),
    )
    expect([rewritten.code, rewritten.message]).toEqual(['ERR_REVOCATION_FEED_RESET', 'the feed was rewritten'])
  })

  it('a view that fails or garbles its answer for a block names that block', () => {
    const { err, code, b1, listing } = setup()
    const failing: RevocationView = {
      freshAt: () => NOW,
      entries: (id) => {
        if (id === b1) throw new Error('down')
        return undefined
      },
    }
    expect(summary(err(failing))).toEqual({
      code: 'ERR_REVOCATION_STALE',
      message: 'the revocation view failed to answer',
      hint: undefined,
      block: 1,
    })
    const id = 'ab'.repeat(32)
    const cut = [{ type: 'actions', patterns: ['a:*'] }]
    const garbledAmendments = [
      [{ kind: 'amend', id: [id], caveats: cut }], // an id that only reads as one when made a string
      [{ kind: 'amend', id: `x${id}`, caveats: cut }],
      [{ kind: 'amend', id: `${id}x`, caveats: cut }],
      [{ kind: 'amend', id: id.toUpperCase(), caveats: cut }],
      [{ kind: 'amend', id, caveats: [] }], // a statement carries 1 to 32
      [{ kind: 'amend', id, caveats: [{ type: 'actions', patterns: [] }] }],
      [{ kind: 'amend', id, caveats: [{ type: 'no-such-type' }] }],
      [{ kind: 'amend', id, caveats: cut.slice(0, 1).concat(Array(32).fill(cut[0])) }],
    ]
    for (const garbled of [
      { kind: 'revoke' },
      [{ kind: 'delete', at: T0 }],
      [null],
      [{ kind: 'revoke', actions: ['a:b', 1] }],
      ...garbledAmendments,
    ]) {
      expect(summary(err(listing({ [b1]: garbled })))).toEqual({
        code: 'ERR_REVOCATION_STALE',
        message: 'the revocation view gave an unusable answer',
        hint: undefined,
        block: 1,
      })
    }
    // The same amendment, well formed, is one the verifier uses (checked with the block's own caveats).
    expect(code(listing({ [b1]: [{ kind: 'amend', id, caveats: cut }] }))).toBe('ok')
  })

  it('a whole-block revocation says who, when and why, and what to do', () => {
    const { err, b1, memory } = setup()
    const v = memory()
    v.revoke(b1, { at: T0 + 40, by: aliceDid, reason: 'left the team' })
    const e = err(v)
    expect(summary(e)).toEqual({
      code: 'ERR_REVOKED',
      message: `block 1 was revoked by ${aliceDid} at ${AT}: left the team`,
      hint: 'ask the delegator for a new mandate',
      block: 1,
    })
    expect(e.details).toEqual({ blockId: b1, at: T0 + 40, by: aliceDid, reason: 'left the team' })
  })

  it('a suspension says since when, and that it works again once resumed', () => {
    const { err, b0, memory } = setup()
    const v = memory()
    v.suspend(b0, { at: T0 + 40, by: aliceDid, reason: 'on leave' })
    expect(summary(err(v))).toEqual({
      code: 'ERR_SUSPENDED',
      message: `block 0 is suspended by ${aliceDid} since ${AT}: on leave`,
      hint: 'it works again once resumed',
      block: 0,
    })
  })

  it('leaves out a signer or reason that is empty or not text', () => {
    const { err, b0, listing } = setup()
    for (const entry of [
      { kind: 'revoke', at: T0 + 40 },
      { kind: 'revoke', at: T0 + 40, by: '', reason: '' },
      { kind: 'revoke', at: T0 + 40, by: 7, reason: 9 },
    ]) {
      expect(err(listing({ [b0]: [entry] })).message).toBe(`block 0 was revoked at ${AT}`)
    }
    expect(err(listing({ [b0]: [{ kind: 'suspend', at: T0 + 40, by: 7, reason: 9 }] })).message).toBe(`block 0 is suspended since ${AT}`)
  })

  it('a scoped entry names the action and block, and covers any of its patterns', () => {
    const { err, code, b1, memory } = setup()
    const v = memory()
    v.revoke(b1, { at: T0 + 40, actions: ['calendar:*', 'email:send'], reason: 'too chatty' })
    expect(code(v, 'email:read')).toBe('ok')
    const e = err(v, 'email:send:draft')
    expect(summary(e)).toEqual({
      code: 'ERR_REVOKED',
      message: `email:send:draft under block 1 was revoked at ${AT}: too chatty`,
      hint: 'ask the delegator for a new mandate',
      block: 1,
    })
    expect(e.details).toEqual({ blockId: b1, at: T0 + 40, reason: 'too chatty', actions: ['calendar:*', 'email:send'] })
    const s = memory()
    s.suspend(b1, { at: T0 + 40, actions: ['email:send'] })
    expect(err(s, 'email:send').message).toBe(`email:send under block 1 is suspended since ${AT}`)
  })

  it('an empty action list is the whole block', () => {
    const { err, b1, memory } = setup()
    const v = memory()
    v.suspend(b1, { at: T0 + 40, actions: [] })
    const e = err(v, 'email:read')
    expect([e.code, e.message, e.block]).toEqual(['ERR_SUSPENDED', `block 1 is suspended since ${AT}`, 1])
    expect(e.details).toEqual({ blockId: b1, at: T0 + 40 })
  })

  it('within a block a revocation is reported even when listed after a suspension', () => {
    const { err, b0, listing } = setup()
    const e = err(
      listing({
        [b0]: [
          { kind: 'suspend', at: T0 + 10 },
          { kind: 'revoke', at: T0 + 40 },
        ],
      }),
    )
    expect([e.code, e.message, e.block]).toEqual(['ERR_REVOKED', `block 0 was revoked at ${AT}`, 0])
  })

  it('a block above is reported before a block below, whatever its kind', () => {
    const { err, b0, b1, memory } = setup()
    const v = memory()
    v.revoke(b1, { at: T0 + 10 })
    v.suspend(b0, { at: T0 + 40 })
    expect([err(v).code, err(v).block, err(v).message]).toEqual(['ERR_SUSPENDED', 0, `block 0 is suspended since ${AT}`])
  })

  it('a resume lifts the suspensions of its block only, never a revocation', () => {
    const { err, code, b0, b1, memory } = setup()
    const v = memory()
    v.suspend(b0, { at: T0 + 10 })
    v.suspend(b1, { at: T0 + 10, actions: ['email:read'] })
    v.resume(b0)
    const still = err(v, 'email:read')
    expect([still.code, still.block]).toEqual(['ERR_SUSPENDED', 1])
    v.resume(b1)
    expect(code(v, 'email:read')).toBe('ok')
    v.suspend(b1, { at: T0 + 10 })
    v.revoke(b1, { at: T0 + 40, actions: ['email:send'] })
    v.resume(b1)
    expect(code(v, 'email:read')).toBe('ok')
    const revoked = err(v, 'email:send')
    expect([revoked.code, revoked.block]).toEqual(['ERR_REVOKED', 1])
  })
})

describe('revocation details and entries', () => {
  it('keeps only a finite time and text signer and reason', () => {
    const id = '00'.repeat(32)
    expect(revocationDetails(id, { kind: 'revoke', at: Number.POSITIVE_INFINITY })).toStrictEqual({ blockId: id })
    expect(revocationDetails(id, { kind: 'revoke', at: T0, by: 7 as never, reason: 9 as never })).toStrictEqual({
      blockId: id,
      at: T0,
    })
    expect(revocationDetails(id, { kind: 'suspend' } as BlockStanding)).toStrictEqual({ blockId: id })
  })

  it('rejects entries that are not objects, or whose patterns are not all text', () => {
    expect(isRevocationEntry('revoke')).toBe(false)
    expect(isRevocationEntry({ kind: 'revoke', actions: ['a:b', 1] })).toBe(false)
    expect(isRevocationEntry({ kind: 'revoke', actions: 'a:b' })).toBe(false)
  })
})

describe('the decision and its audit record', () => {
  it('an allowed invocation carries its id, request and chain in the decision and the record', async () => {
    const m = rootGrant()
    const inv = invoke(m, {
      key: assistant,
      action: 'email:send',
      resource: 'mailbox:alice',
      intent: 'reply to Bob',
      audience: 'svc',
      now: NOW,
      random: seededRandom('audit-allow'),
    })
    const d = await verifierFor().authorize({ invocation: inv })
    if (!d.allowed) throw new Error(d.code)
    expect(d.invocationId).toBe(inv.idHex)
    expect(d.audit).toStrictEqual({
      at: NOW,
      audience: 'svc',
      presentation: 'invocation',
      invocationId: inv.idHex,
      action: 'email:send',
      resource: 'mailbox:alice',
      intent: 'reply to Bob',
      principal: aliceDid,
      holders: ['assistant'],
      blockIds: [m.blocks[0]?.idHex],
      approvals: [],
      usage: [],
      decision: 'allow',
    })
  })

  it('an allowed bearer mandate has no invocation id, and says revocations were not checked when so', async () => {
    const m = bearerChild([])
    const d = await verifierFor({ revocations: 'none' }).authorize({ mandate: m, request: { action: 'email:read' } })
    if (!d.allowed) throw new Error(d.code)
    expect('invocationId' in d).toBe(false)
    expect(d.audit).toStrictEqual({
      at: NOW,
      audience: 'svc',
      presentation: 'bearer',
      revocations: 'none',
      action: 'email:read',
      principal: aliceDid,
      holders: ['assistant', 'sub-agent'],
      blockIds: m.blocks.map((b) => b.idHex),
      approvals: [],
      usage: [],
      decision: 'allow',
    })
  })

  it('a revoked invocation is denied with the block, hint, details, chain and a full record', async () => {
    const m = rootGrant()
    const block = m.blocks[0]?.idHex as string
    const revocations = createMemoryRevocationView()
    revocations.revoke(block, { at: T0 + 40, by: aliceDid })
    const inv = invoke(m, { key: assistant, action: 'email:send', audience: 'svc', now: NOW, random: seededRandom('audit-deny') })
    const d = denial(await verifierFor({ revocations }).authorize({ invocation: inv }))
    expect({ ...d, chain: d.chain?.map((l) => [l.role, l.name, l.block]) }).toStrictEqual({
      allowed: false,
      code: 'ERR_REVOKED',
      message: `block 0 was revoked by ${aliceDid} at ${AT}`,
      hint: 'ask the delegator for a new mandate',
      block: 0,
      details: { blockId: block, at: T0 + 40, by: aliceDid },
      chain: [
        ['principal', 'alice', undefined],
        ['holder', 'assistant', 0],
      ],
      audit: {
        at: NOW,
        audience: 'svc',
        presentation: 'invocation',
        invocationId: inv.idHex,
        action: 'email:send',
        principal: aliceDid,
        holders: ['assistant'],
        blockIds: [block],
        approvals: [],
        usage: [],
        decision: 'deny',
        code: 'ERR_REVOKED',
      },
    })
  })

  it('a request denied before anything was read has an empty record and no chain', async () => {
    const d = denial(await verifierFor().authorize({ token: 'mnd1_garbage' }))
    expect('chain' in d).toBe(false)
    expect(d.audit).toStrictEqual({
      at: NOW,
      audience: 'svc',
      holders: [],
      blockIds: [],
      approvals: [],
      usage: [],
      decision: 'deny',
      code: d.code,
    })
  })

  it('an untrusted root is named in the denial', async () => {
    const m = rootGrant()
    const d = denial(await verifierFor({ roots: [fixedDid('mallory')] }).authorize({ mandate: m, request: { action: 'email:read' } }))
    expect([d.code, d.message]).toEqual(['ERR_ROOT_UNTRUSTED', `the principal ${aliceDid} is not a trusted root of this verifier`])
  })

  it('an unreadable approval is denied, naming its place in the list and why', async () => {
    const m = rootGrant()
    const inv = invoke(m, { key: assistant, action: 'email:read', audience: 'svc', now: NOW, random: seededRandom('bad-approval') })
    const why = caught(() => parseApproval('mna1_garbage')).message
    const d = denial(await verifierFor().authorize({ invocation: inv, approvals: ['mna1_garbage'] }))
    expect([d.code, d.message]).toEqual(['ERR_APPROVAL_INVALID', `approval 0: ${why}`])
  })

  it('an unexpected failure is ERR_INTERNAL with a message a person can read', () => {
    const settings = readOptions({ roots: [aliceDid], audience: 'svc', revocations: createMemoryRevocationView() })
    const d = denied(settings, { now: T0 }, new TypeError('oops'))
    expect([d.code, d.message]).toEqual(['ERR_INTERNAL', 'the verifier failed unexpectedly; the request is denied'])
    expect('revocations' in d.audit).toBe(false)
  })

  it('chain links carry name and purpose only when the block has them', () => {
    const root = rootGrant()
    const child = attenuate(root, {
      key: assistant,
      caveats: [],
      purpose: 'triage the inbox',
      now: T0,
      random: seededRandom('purpose'),
    })
    const links = chainLinks({ now: T0, chain: child.blocks })
    expect(links[0]).toStrictEqual({ role: 'principal', key: aliceDid })
    expect('purpose' in (links[1] ?? {})).toBe(false)
    expect(links[1]?.name).toBe('assistant')
    expect('name' in (links[2] ?? {})).toBe(false)
    expect(links[2]?.purpose).toBe('triage the inbox')
    expect(chainLinks({ now: T0, chain: [] })).toEqual([])
  })
})
