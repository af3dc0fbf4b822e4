/**
 * Invocations, approvals and the signed envelope they share (spec §5.7, §5.8): what invoke() and
 * approve() refuse, what the parsers refuse (exact codes and messages), and both sides of
 * every field limit.
 */
import { describe, expect, it } from 'vitest'
import { type CborValue, decodeCbor, encodeCbor } from '../../src/cbor/codec.js'
import {
  approve,
  attenuate,
  formatInvocation,
  formatMandate,
  invoke,
  keyPairFromSecret,
  parseApproval,
  parseInvocation,
  parseRevocation,
  seal,
  type UnverifiedMandate,
} from '../../src/index.js'
import { alice, assistant, bearerChild, mallory, rawSigned, rootGrant } from '../helpers/chains.js'
import { caught, seededRandom, T0, thrownCode } from '../helpers/fixtures.js'

const SIG = () => new Uint8Array(64).fill(9)

/** A real invocation's payload fields, for tampering. */
function invocationFields(): Map<number, CborValue> {
  const inv = invoke(rootGrant(), {
    key: assistant,
    action: 'a:b',
    resource: 'r/1',
    audience: 'svc',
    now: T0,
    random: seededRandom('inv-test'),
  })
  return decodeCbor(inv.payload) as Map<number, CborValue>
}

/** Encode payload fields as an invocation (a dummy signature: parsing checks no signature). */
function invocationWith(changes: Record<number, CborValue | undefined>): Uint8Array {
  const m = invocationFields()
  for (const [k, v] of Object.entries(changes)) {
    if (v === undefined) m.delete(Number(k))
    else m.set(Number(k), v)
  }
  return rawSigned(encodeCbor(m), SIG())
}

function approvalWith(changes: Record<number, CborValue | undefined>): Uint8Array {
  const m = new Map<number, CborValue>([
    [0, 1],
    [1, new Uint8Array(32).fill(1)],
    [2, new Uint8Array(32).fill(2)],
    [3, T0],
    [4, T0 + 600],
  ])
  for (const [k, v] of Object.entries(changes)) {
    if (v === undefined) m.delete(Number(k))
    else m.set(Number(k), v)
  }
  return rawSigned(encodeCbor(m), SIG())
}

function parseInv(changes: Record<number, CborValue | undefined>) {
  return () => parseInvocation(invocationWith(changes))
}

function parseAppr(changes: Record<number, CborValue | undefined>) {
  return () => parseApproval(approvalWith(changes))
}

describe('invoke() option checks', () => {
  it('refuses an action that is not a concrete action name, with message and hint', () => {
    const e = caught(() => invoke(rootGrant(), { key: assistant, action: 'email:*', audience: 'svc', now: T0 }))
    expect([e.code, e.message, e.hint]).toEqual([
      'ERR_REQUEST_INVALID',
      'not an action name: "email:*"',
      'actions are :-separated lowercase segments of a-z 0-9 _ . - like email:read',
    ])
  })

  it('refuses an invalid resource, with message and hint', () => {
    const e = caught(() => invoke(rootGrant(), { key: assistant, action: 'email:read', resource: 'mail/../x', audience: 'svc', now: T0 }))
    expect([e.code, e.message, e.hint]).toEqual([
      'ERR_REQUEST_INVALID',
      'the resource is not a valid resource string',
      'a resource is /-separated non-empty segments, none "." or "..", without control characters, "\\" or %2f/%5c/%2e, at most 1024 bytes',
    ])
  })

  it('refuses an empty or missing audience with a TypeError', () => {
    for (const audience of ['', undefined, 42]) {
      expect(() => invoke(rootGrant(), { key: assistant, action: 'email:read', audience: audience as string, now: T0 })).toThrow(
        new TypeError('"audience" expected a non-empty string'),
      )
    }
    expect(invoke(rootGrant(), { key: assistant, action: 'email:read', audience: 's', now: T0 }).audience).toBe('s')
  })

  it('refuses a mandate with no blocks', () => {
    const m = rootGrant()
    const empty = { ...m, blocks: [] } as UnverifiedMandate
    expect(() => invoke(empty, { key: assistant, action: 'email:read', audience: 'svc', now: T0 })).toThrow(
      new TypeError('"mandate" has no blocks'),
    )
  })

  it('a mandate’s text where the parsed mandate belongs is named as such', () => {
    const text = formatMandate(rootGrant()) as unknown as UnverifiedMandate
    expect(() => invoke(text, { key: assistant, action: 'email:read', audience: 'svc', now: T0 })).toThrow(
      new TypeError('"mandate" expected a parsed mandate, not its text: pass parseMandate(text)'),
    )
    expect(() => invoke({} as UnverifiedMandate, { key: assistant, action: 'email:read', audience: 'svc', now: T0 })).toThrow(
      new TypeError('"mandate" expected a mandate, as parseMandate returns'),
    )
    expect(() => attenuate(text, {})).toThrow(new TypeError('"mandate" expected a parsed mandate, not its text: pass parseMandate(text)'))
  })

  it('null, or a function carrying blocks, is no mandate: the same TypeError, not one from inside', () => {
    const refused = new TypeError('"mandate" expected a mandate, as parseMandate returns')
    expect(() => invoke(null as never, { key: assistant, action: 'email:read', audience: 'svc', now: T0 })).toThrow(refused)
    expect(() => attenuate(null as never, {})).toThrow(refused)
    const posing = Object.assign(() => undefined, { blocks: rootGrant().blocks }) as unknown as UnverifiedMandate
    expect(() => invoke(posing, { key: assistant, action: 'email:read', audience: 'svc', now: T0 })).toThrow(refused)
  })

  it('a sealed mandate cannot sign invocations', () => {
    const sealed = seal(bearerChild([{ type: 'actions', patterns: ['email:read'] }]))
    const e = caught(() => invoke(sealed, { action: 'email:read', audience: 'svc', now: T0 }))
    expect([e.code, e.message, e.hint]).toEqual([
      'ERR_SEALED',
      'a sealed mandate cannot sign invocations',
      'present the sealed mandate itself',
    ])
  })

  it('a bound mandate needs the holder key', () => {
    const e = caught(() => invoke(rootGrant(), { action: 'email:read', audience: 'svc', now: T0 }))
    expect([e.code, e.message, e.hint]).toEqual(['ERR_HOLDER_MISMATCH', 'this mandate is bound; the holder key is needed', 'pass --key'])
  })

  it('a bound mandate refuses a key that is not its holder', () => {
    const e = caught(() => invoke(rootGrant(), { key: mallory, action: 'email:read', audience: 'svc', now: T0 }))
    expect([e.code, e.message, e.hint]).toEqual([
      'ERR_HOLDER_MISMATCH',
      'the key given is not the holder of this mandate',
      'use the key the mandate was granted to',
    ])
  })

  it("a bearer mandate signs with the secret it carries: a key given with it must be its holder's", () => {
    const child = bearerChild([{ type: 'actions', patterns: ['email:read'] }])
    const request = { action: 'email:read', audience: 'svc', now: T0 }
    const e = caught(() => invoke(child, { ...request, key: assistant }))
    expect([e.code, e.message, e.hint]).toEqual([
      'ERR_HOLDER_MISMATCH',
      'the key given is not the holder of this mandate',
      'use the key the mandate was granted to',
    ])
    expect(() => invoke(child, { ...request, key: 'nope' as never })).toThrow(
      new TypeError('"key" expected a key pair or a 32-byte secret key'),
    )
    if (child.proof.kind !== 'bearer') throw new Error('a bearer child')
    const without = formatInvocation(invoke(child, { ...request, random: seededRandom('inv') }))
    const withKey = invoke(child, { ...request, key: keyPairFromSecret(child.proof.secret), random: seededRandom('inv') })
    expect(formatInvocation(withKey)).toBe(without)
  })

  it('names the "key" option when it is not a key', () => {
    expect(() => invoke(rootGrant(), { key: 'nope' as never, action: 'email:read', audience: 'svc', now: T0 })).toThrow(
      new TypeError('"key" expected a key pair or a 32-byte secret key'),
    )
  })
})

describe('approve() option checks', () => {
  it('names the "approver" option when it is not a key', () => {
    expect(() => approve({ approver: 'nope' as never, invocation: new Uint8Array(32), now: T0 })).toThrow(
      new TypeError('"approver" expected a key pair or a 32-byte secret key'),
    )
  })

  it('an invocation id must be 32 bytes', () => {
    expect(() => approve({ approver: alice, invocation: new Uint8Array(31), now: T0 })).toThrow(
      new RangeError('"invocation" expected 32 bytes, got 31'),
    )
    expect(approve({ approver: alice, invocation: new Uint8Array(32).fill(3), now: T0 }).invocationId).toEqual(new Uint8Array(32).fill(3))
  })

  it('ttl must be a positive safe integer; 1 second is the least', () => {
    for (const ttl of [0, -1, 1.5, Number.MAX_SAFE_INTEGER + 1]) {
      expect(() => approve({ approver: alice, invocation: new Uint8Array(32), ttl, now: T0 })).toThrow(
        new RangeError(`"ttl" expected a positive integer, got ${ttl}`),
      )
    }
    const a = approve({ approver: alice, invocation: new Uint8Array(32), ttl: 1, now: T0 })
    expect([a.issuedAt, a.expires]).toEqual([T0, T0 + 1])
    const d = approve({ approver: alice, invocation: new Uint8Array(32), now: T0 })
    expect(d.expires - d.issuedAt).toBe(600)
  })
})

describe('parseInvocation field checks', () => {
  it('accepts the untampered payload', () => {
    const inv = parseInv({})()
    expect([inv.action, inv.resource, inv.audience, inv.issuedAt, inv.intent]).toEqual(['a:b', 'r/1', 'svc', T0, undefined])
  })

  it('each field must have its type, with an exact message', () => {
    const cases: [Record<number, CborValue | undefined>, string, string][] = [
      [{ 2: 42 }, 'ERR_FORMAT', 'invocation action must be text'],
      [{ 3: 42 }, 'ERR_FORMAT', 'invocation resource must be text'],
      [{ 4: [] }, 'ERR_CBOR_NONCANONICAL', 'empty args must be omitted'],
      [{ 5: 42 }, 'ERR_FORMAT', 'invocation audience must be text'],
      [{ 5: undefined }, 'ERR_FORMAT', 'invocation audience must be text'],
      [{ 6: new Uint8Array(15) }, 'ERR_FORMAT', 'invocation nonce must be 16 bytes'],
      [{ 6: new Uint8Array(17) }, 'ERR_FORMAT', 'invocation nonce must be 16 bytes'],
      [{ 6: 'sixteen chars!!!' }, 'ERR_FORMAT', 'invocation nonce must be 16 bytes'],
      [{ 7: -1 }, 'ERR_FORMAT', 'invocation issued_at must be an unsigned integer'],
      [{ 7: 'now' }, 'ERR_FORMAT', 'invocation issued_at must be an unsigned integer'],
      [{ 8: 42 }, 'ERR_FORMAT', 'invocation intent must be text'],
    ]
    for (const [changes, code, message] of cases) {
      const e = caught(parseInv(changes))
      expect([e.code, e.message]).toEqual([code, message])
    }
  })

  it('accepts issued_at 0, no resource, and a text intent', () => {
    const inv = parseInv({ 7: 0, 3: undefined, 8: 'why' })()
    expect([inv.issuedAt, inv.resource, inv.intent]).toEqual([0, undefined, 'why'])
  })

  it('each text field is at most 1024 bytes', () => {
    for (const [field, what] of [
      [2, 'action'],
      [3, 'resource'],
      [5, 'audience'],
      [8, 'intent'],
    ] as const) {
      expect(thrownCode(parseInv({ [field]: 'x'.repeat(1024) }))).toBe('ok')
      expect(thrownCode(parseInv({ [field]: 'é'.repeat(512) }))).toBe('ok')
      // the strict CBOR profile refuses longer text while decoding (spec §5.4)
      expect(thrownCode(parseInv({ [field]: 'x'.repeat(1025) })), what).toBe('ERR_LIMIT_SIZE')
      // bytes, not characters
      expect(thrownCode(parseInv({ [field]: `${'é'.repeat(512)}x` })), what).toBe('ERR_LIMIT_SIZE')
    }
  })
})

describe('parseApproval field checks', () => {
  it('accepts a well-formed approval, including issued_at 0 and expires one second later', () => {
    const a = parseAppr({ 3: 0, 4: 1, 5: 'ok' })()
    expect([a.issuedAt, a.expires, a.note]).toEqual([0, 1, 'ok'])
  })

  it('the invocation id and the approver are 32-byte strings', () => {
    for (const field of [1, 2]) {
      const message = field === 1 ? 'approval invocation id must be 32 bytes' : 'approver must be a 32-byte key'
      for (const bad of [new Uint8Array(31), new Uint8Array(33), 'x'.repeat(32), undefined]) {
        const e = caught(parseAppr({ [field]: bad }))
        expect([e.code, e.message]).toEqual(['ERR_FORMAT', message])
      }
    }
  })

  it('times must satisfy 0 ≤ issued_at < expires', () => {
    for (const changes of [{ 3: 'x' }, { 4: 'x' }, { 3: -1 }, { 4: T0 }, { 4: T0 - 1 }, { 3: undefined }]) {
      const e = caught(parseAppr(changes))
      expect([e.code, e.message]).toEqual(['ERR_FORMAT', 'approval times must satisfy 0 ≤ issued_at < expires'])
    }
    expect(parseAppr({ 4: T0 + 1 })().expires).toBe(T0 + 1)
  })

  it('a note is text of at most 1024 bytes', () => {
    expect(parseAppr({ 5: 'n'.repeat(1024) })().note).toBe('n'.repeat(1024))
    for (const bad of [42, new Uint8Array(2), ['n']]) {
      const e = caught(parseAppr({ 5: bad }))
      expect([e.code, e.message]).toEqual(['ERR_FORMAT', 'approval note must be short text'])
    }
    // longer text is refused by the strict CBOR profile while decoding (spec §5.4)
    for (const long of ['n'.repeat(1025), `${'é'.repeat(512)}n`]) expect(thrownCode(parseAppr({ 5: long }))).toBe('ERR_LIMIT_SIZE')
  })
})

describe('the signed envelope', () => {
  it('refuses more than 16 KiB before decoding', () => {
    const big = new Uint8Array(16 * 1024 + 1)
    const e = caught(() => parseInvocation(big))
    expect([e.code, e.message]).toEqual(['ERR_LIMIT_SIZE', 'invocation of 16385 bytes exceeds 16384'])
    expect(thrownCode(() => parseApproval(new Uint8Array(16 * 1024)))).not.toBe('ERR_LIMIT_SIZE')
  })

  it('must be a byte string', () => {
    const notBytes = encodeCbor([1, 2])
    expect(caught(() => parseInvocation(notBytes)).message).toBe('an invocation is a byte string: signature ‖ payload')
    expect(caught(() => parseApproval(notBytes)).message).toBe('an approval is a byte string: signature ‖ payload')
    const e = caught(() => parseRevocation(notBytes))
    expect([e.code, e.message]).toEqual(['ERR_FORMAT', 'a revocation is a byte string: signature ‖ payload'])
  })

  it('must hold a 64-byte signature and a non-empty payload', () => {
    const e = caught(() => parseInvocation(encodeCbor(new Uint8Array(64))))
    expect([e.code, e.message]).toEqual(['ERR_FORMAT', 'an invocation of 64 bytes cannot hold a 64-byte signature and a payload'])
    expect(caught(() => parseRevocation(encodeCbor(new Uint8Array(10)))).message).toBe(
      'a revocation of 10 bytes cannot hold a 64-byte signature and a payload',
    )
  })

  it('the payload must be a map', () => {
    for (const payload of [encodeCbor(1), encodeCbor([1])]) {
      const e = caught(() => parseApproval(rawSigned(payload, SIG())))
      expect([e.code, e.message]).toEqual(['ERR_FORMAT', 'approval payload must be a map'])
    }
    expect(caught(() => parseInvocation(rawSigned(encodeCbor(1), SIG()))).message).toBe('invocation payload must be a map')
  })

  it('the version must be 1; a numeric wrong version is reported as found', () => {
    const e = caught(parseInv({ 0: 2 }))
    expect([e.code, e.message]).toEqual(['ERR_VERSION', 'unsupported invocation version 2'])
    expect(e.details).toStrictEqual({ supported: [1], found: 2 })
    const t = caught(parseAppr({ 0: 'one' }))
    expect([t.code, t.message]).toEqual(['ERR_VERSION', 'unsupported approval version one'])
    expect(t.details).toStrictEqual({ supported: [1] })
    const missing = caught(parseAppr({ 0: undefined }))
    expect([missing.code, missing.message]).toEqual(['ERR_VERSION', 'unsupported approval version undefined'])
    expect(missing.details).toStrictEqual({ supported: [1] })
  })

  it('refuses fields above the last defined one', () => {
    const e = caught(parseInv({ 9: 'x' }))
    expect([e.code, e.message]).toEqual(['ERR_FORMAT', 'unknown invocation field 9'])
    const a = caught(parseAppr({ 6: 'x' }))
    expect([a.code, a.message]).toEqual(['ERR_FORMAT', 'unknown approval field 6'])
    expect(parseAppr({ 5: 'last defined field' })().note).toBe('last defined field')
  })
})

describe('invoke: its random source', () => {
  it('must give the 16 bytes asked for: a RangeError naming random(16)', () => {
    for (const length of [15, 17]) {
      expect(() =>
        invoke(rootGrant(), { key: assistant, action: 'mail:read', audience: 'svc', now: T0, random: () => new Uint8Array(length) }),
      ).toThrow(new RangeError(`"random(16)" expected 16 bytes, got ${length}`))
    }
  })
})
