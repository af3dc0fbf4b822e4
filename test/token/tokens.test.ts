import { describe, expect, it } from 'vitest'
import { type CborValue, decodeCbor } from '../../src/cbor/codec.js'
import { getBackend } from '../../src/crypto/ed25519.js'
import { sha256 } from '../../src/crypto/hash.js'
import {
  approve,
  attenuate,
  createRevocation,
  formatApproval,
  formatInvocation,
  formatMandate,
  inspect,
  invoke,
  mint,
  parseApproval,
  parseInvocation,
  parseMandate,
  seal,
  toDidKey,
} from '../../src/index.js'
import { concatBytes, utf8 } from '../../src/internal/bytes.js'
import { blockSigningInput } from '../../src/token/signing.js'
import { alice, aliceDid, assistant, bearerChild, rootGrant } from '../helpers/chains.js'
import { keyFor, seededRandom, T0, thrownCode } from '../helpers/fixtures.js'

describe('building tokens', () => {
  it('is deterministic given the clock and randomness', () => {
    expect(formatMandate(bearerChild([{ type: 'uses', max: 3 }]))).toBe(formatMandate(bearerChild([{ type: 'uses', max: 3 }])))
  })

  it('invocations and approvals round-trip through their text forms', () => {
    const grant = rootGrant()
    const inv = invoke(grant, {
      key: assistant,
      action: 'email:draft',
      resource: 'drafts/1',
      args: { to: 'bob@example.com', cc: ['a', 'b'], meta: { urgent: true, n: 3 } },
      audience: 'mail',
      intent: 'reply to Bob',
      now: T0,
      random: seededRandom('inv'),
    })
    const back = parseInvocation(formatInvocation(inv))
    expect(back.idHex).toBe(inv.idHex)
    expect(back.args).toEqual({ to: 'bob@example.com', cc: ['a', 'b'], meta: { urgent: true, n: 3 } })
    expect([back.action, back.resource, back.audience, back.intent, back.issuedAt]).toEqual([
      'email:draft',
      'drafts/1',
      'mail',
      'reply to Bob',
      T0,
    ])
    const ok = approve({ approver: alice, invocation: inv, ttl: 300, note: 'fine', now: T0 })
    const a = parseApproval(formatApproval(ok))
    expect([a.expires - a.issuedAt, a.note, toDidKey(a.approver)]).toEqual([300, 'fine', aliceDid])
  })

  it('rejects bad invocation input with typed errors', () => {
    const grant = rootGrant()
    expect(thrownCode(() => invoke(grant, { key: assistant, action: 'email:*', audience: 'x' }))).toBe('ERR_REQUEST_INVALID')
    expect(thrownCode(() => invoke(grant, { action: 'email:read', audience: 'x' }))).toBe('ERR_HOLDER_MISMATCH')
    expect(thrownCode(() => parseInvocation('mni1_AAAA'))).not.toBe('ok')
    expect(thrownCode(() => parseInvocation(formatMandate(grant)))).toBe('ERR_TEXT_FORMAT')
    expect(thrownCode(() => parseApproval('mna1_'))).toBe('ERR_CBOR_MALFORMED')
  })
})

describe('inspect', () => {
  it('shows every block, holder, caveat and purpose, marked unverified, without secrets', () => {
    const m = bearerChild([
      { type: 'actions', patterns: ['slack:read'] },
      { type: 'uses', max: 3, per: 3600 },
    ])
    const view = inspect(formatMandate(m))
    expect(view.kind).toBe('mandate')
    expect(view.verified).toBe(false)
    expect(view.notice).toMatch(/UNVERIFIED/)
    if (view.kind !== 'mandate') throw new Error('unreachable')
    expect(view.principal).toBe(aliceDid)
    expect(view.blocks.map((b) => b.name)).toEqual(['assistant', 'sub-agent'])
    expect(view.blocks[1]?.signedBy).toBe(toDidKey(assistant.publicKey))
    expect(view.blocks[1]?.caveats.map((c) => c.text)).toEqual(['may do slack:read', 'at most 3 uses per 3600s'])
    expect(view.proof).toBe('bearer')
    expect(view.warning).toMatch(/secret/)
    expect(view.expires).toBe(T0 + 8 * 3600)
    const json = JSON.stringify(view)
    if (m.proof.kind !== 'bearer') throw new Error('unreachable')
    expect(json).not.toContain(Buffer.from(m.proof.secret).toString('hex'))
    expect(json).not.toContain(Buffer.from(m.proof.secret).toString('base64'))
    expect(inspect(formatMandate(seal(m))).kind).toBe('mandate')
  })

  it('reads invocations and approvals too, and refuses garbage', () => {
    const inv = invoke(rootGrant(), { key: assistant, action: 'a:b', audience: 'svc', now: T0, intent: 'why not' })
    const v = inspect(formatInvocation(inv))
    expect(v.kind === 'invocation' && [v.action, v.intent, v.id]).toEqual(['a:b', 'why not', inv.idHex])
    const a = inspect(formatApproval(approve({ approver: alice, invocation: inv, now: T0 })))
    expect(a.kind === 'approval' && a.invocationId).toBe(inv.idHex)
    expect(thrownCode(() => inspect('hello'))).toBe('ERR_TEXT_FORMAT')
    expect(thrownCode(() => inspect(parseMandate(formatMandate(rootGrant()))))).toBe('ok')
  })
})

describe('wire format (format version 1)', () => {
  const decoded = (bytes: Uint8Array) => decodeCbor(bytes) as CborValue[]
  const split = (b: CborValue) => {
    if (!(b instanceof Uint8Array)) throw new Error('a block is a byte string')
    return { signature: b.subarray(0, 64), payload: b.subarray(64) }
  }

  it('a mandate is [1, [principal, block…], proof?], each block signature ‖ payload', () => {
    const m = bearerChild([{ type: 'actions', patterns: ['slack:read'] }])
    const top = decoded(m.bytes)
    expect(top).toHaveLength(3)
    expect(top[0]).toBe(1)
    const chain = top[1] as CborValue[]
    expect(chain).toHaveLength(3)
    expect(chain[0]).toEqual(alice.publicKey)
    m.blocks.forEach((b, i) => {
      const { signature, payload } = split(chain[i + 1] as CborValue)
      expect([signature, payload]).toEqual([b.signature, b.payload])
      expect(b.id).toEqual(sha256(signature))
    })
    // block 0 carries no principal: the chain does, once
    expect(m.blocks[0]?.principal).toEqual(alice.publicKey)
    expect(m.blocks[1]?.principal).toBeUndefined()
    expect(decodeCbor(m.blocks[0]?.payload as Uint8Array)).not.toContainEqual(alice.publicKey)
    // the proof by its length: the bearer secret (32), the seal (64), nothing when bound
    if (m.proof.kind !== 'bearer') throw new Error('unreachable')
    expect(top[2]).toEqual(m.proof.secret)
    expect((top[2] as Uint8Array).length).toBe(32)
    const sealed = decoded(seal(m).bytes)
    expect(sealed).toHaveLength(3)
    expect((sealed[2] as Uint8Array).length).toBe(64)
    const bound = decoded(rootGrant().bytes)
    expect(bound).toHaveLength(2)
  })

  it('a block payload is [holder, bearer, issued_at, caveats, extra?]', () => {
    const m = bearerChild([{ type: 'actions', patterns: ['slack:read'] }])
    const root = decodeCbor(m.blocks[0]?.payload as Uint8Array) as CborValue[]
    expect(root.slice(0, 4)).toEqual([
      assistant.publicKey,
      false,
      T0,
      [
        [1, ['*']],
        [4, new Map([[1, T0 + 8 * 3600]])],
      ],
    ])
    expect([...(root[4] as Map<number, CborValue>).keys()]).toEqual([0, 1])
    expect((root[4] as Map<number, CborValue>).get(1)).toBe('assistant')
    const child = decodeCbor(m.blocks[1]?.payload as Uint8Array) as CborValue[]
    expect(child.slice(0, 4)).toEqual([m.blocks[1]?.holder, true, T0, [[1, ['slack:read']]]])
    expect(child[4]).toEqual(new Map([[1, 'sub-agent']]))
  })

  it('a bound block carries a 16-byte nonce, a bearer block none', () => {
    const m = bearerChild([])
    const [bound, bearer] = m.blocks
    expect([bound?.bearer, bound?.nonce?.length]).toEqual([false, 16])
    expect([bearer?.bearer, bearer?.nonce]).toEqual([true, undefined])
    // on the wire: extra key 0 in the bound block only
    expect((decodeCbor(bound?.payload as Uint8Array) as CborValue[])[4]).toEqual(
      new Map<number, CborValue>([
        [0, bound?.nonce as Uint8Array],
        [1, 'assistant'],
      ]),
    )
    // a bearer block without a name or purpose has no extra map at all
    const bare = attenuate(m, { now: T0, random: seededRandom('wire/bare') })
    expect(bare.blocks[2]?.nonce).toBeUndefined()
    expect(decodeCbor(bare.blocks[2]?.payload as Uint8Array)).toHaveLength(4)
    // a bound block without a name: extra holds the nonce alone
    const toBob = attenuate(bare, { to: toDidKey(keyFor('bob').publicKey), now: T0, random: seededRandom('wire/bob') })
    expect(toBob.blocks[3]?.nonce?.length).toBe(16)
    expect((decodeCbor(toBob.blocks[3]?.payload as Uint8Array) as CborValue[])[4]).toEqual(new Map([[0, toBob.blocks[3]?.nonce]]))
    // the nonce tells two otherwise identical grants to one agent key apart
    const grant = (seed: string) =>
      mint({
        principal: alice,
        to: toDidKey(assistant.publicKey),
        caveats: [{ type: 'window', expires: T0 + 3600 }],
        now: T0,
        random: seededRandom(seed),
      })
    const [g1, g2] = [grant('wire/g1'), grant('wire/g2')]
    expect(g1.blocks[0]?.nonce).not.toEqual(g2.blocks[0]?.nonce)
    expect(g1.blocks[0]?.idHex).not.toBe(g2.blocks[0]?.idHex)
  })

  it('a block signs PAE("mandate/v1/block", parent id or empty, payload)', () => {
    const le64 = (n: number) => {
      const out = new Uint8Array(8)
      new DataView(out.buffer).setBigUint64(0, BigInt(n), true)
      return out
    }
    const pae = (...pieces: Uint8Array[]) => concatBytes(le64(pieces.length), ...pieces.flatMap((p) => [le64(p.length), p]))
    const domain = utf8('mandate/v1/block')
    const m = attenuate(bearerChild([]), { now: T0, random: seededRandom('wire/pae') })
    const signers = [alice.publicKey, ...m.blocks.slice(0, -1).map((b) => b.holder)]
    m.blocks.forEach((b, i) => {
      const parent = i === 0 ? new Uint8Array(0) : (m.blocks[i - 1]?.id as Uint8Array)
      const input = pae(domain, parent, b.payload)
      expect(blockSigningInput(m.blocks[i - 1]?.id, b.payload)).toEqual(input)
      expect(getBackend().verify(b.signature, input, signers[i] as Uint8Array)).toBe('accept')
      // and not over the payload alone, as the draft signed it
      expect(getBackend().verify(b.signature, pae(domain, b.payload), signers[i] as Uint8Array)).toBe('equation')
    })
  })

  it('invocations, approvals and statements are one byte string, signature ‖ payload', () => {
    const inv = invoke(rootGrant(), { key: assistant, action: 'a:b', audience: 'svc', now: T0, random: seededRandom('wire/inv') })
    const ok = approve({ approver: alice, invocation: inv, now: T0 })
    const stmt = createRevocation({ mandate: rootGrant(), key: alice, now: T0, random: seededRandom('wire/stmt') })
    for (const t of [inv, ok, stmt]) {
      const outer = decodeCbor(t.bytes)
      expect(outer).toBeInstanceOf(Uint8Array)
      expect(split(outer)).toEqual({ signature: t.signature, payload: t.payload })
      expect(decodeCbor(t.payload)).toBeInstanceOf(Map)
    }
    // the invocation carries the chain as [principal, block…], without the proof
    const carried = (decodeCbor(inv.payload) as Map<number, CborValue>).get(1) as CborValue[]
    expect(carried[0]).toEqual(alice.publicKey)
    expect(carried.slice(1).map((b) => split(b).signature)).toEqual(inv.chain.map((b) => b.signature))
    // the invocation id is SHA-256 of its signature
    expect(inv.id).toEqual(sha256(inv.signature))
  })

  it('a 5-block bearer mandate fits in 700 bytes, an invocation over it in 800', () => {
    // the chain npm run bench measures: root [actions slack:*, window], four children [actions slack:read], all bearer
    let m = mint({
      principal: alice,
      caveats: [
        { type: 'actions', patterns: ['slack:*'] },
        { type: 'window', expires: T0 + 3600 },
      ],
      now: T0,
      random: seededRandom('wire/size/0'),
    })
    for (let i = 1; i < 5; i++) {
      m = attenuate(m, { caveats: [{ type: 'actions', patterns: ['slack:read'] }], now: T0, random: seededRandom(`wire/size/${i}`) })
    }
    expect(m.blocks).toHaveLength(5)
    expect(m.blocks.every((b) => b.bearer && b.name === undefined)).toBe(true)
    expect(m.bytes.length).toBeLessThanOrEqual(700)
    const inv = invoke(m, { action: 'slack:read', audience: 'svc', now: T0, random: seededRandom('wire/size/inv') })
    expect(inv.bytes.length).toBeLessThanOrEqual(800)
  })
})
