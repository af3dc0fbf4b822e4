/**
 * The signed feed page format (spec/service-v1.md §4.1, src/revocation/feed.ts): what signFeedPage
 * writes, what verifyFeedPage accepts, and the exact reason for each rejection. Malformed pages are
 * built field by field and signed properly, so that each one reaches the check it is about.
 * Also foreignFeedKey (src/revocation/feed-key.ts): telling a feed signed by another key from a
 * broken one.
 */
import { base64urlnopad } from '@scure/base'
import { describe, expect, it } from 'vitest'
import { type CborMap, type CborValue, decodeCbor, encodeCbor } from '../../src/cbor/codec.js'
import { CBOR_LIMITS } from '../../src/cbor/limits.js'
import type { Ed25519Backend } from '../../src/crypto/backend.js'
import { getBackend } from '../../src/crypto/ed25519.js'
import { MandateError } from '../../src/errors.js'
import { FEED_PAGE_MAX, type FeedEntry, type FeedPage, type SignedFeedPage, signFeedPage, verifyFeedPage } from '../../src/index.js'
import { foreignFeedKey } from '../../src/revocation/feed-key.js'
import { type Domain, signingInput } from '../../src/token/signing.js'
import { type FixedKeyName, fixedKey, hex, T0 } from '../helpers/fixtures.js'

const FEED_ID = '0123456789abcdef0123456789abcdef'
const BY = 'ab'.repeat(32)
const blockHex = (n: number) => n.toString(16).padStart(64, '0')
const digest = (n: number) => n.toString(16).padStart(2, '0').repeat(32)

const entry = (seq: number, extra: Partial<FeedEntry> = {}): FeedEntry => ({
  seq,
  blockId: blockHex(seq),
  kind: 'revoke',
  at: T0,
  by: BY,
  expires: T0 + 86400,
  ...extra,
})

const pageOf = (p: Partial<FeedPage> = {}): FeedPage => ({
  serviceKey: fixedKey('service').publicKey,
  feedId: FEED_ID,
  since: 0,
  head: 0,
  issuedAt: T0,
  nextUpdate: T0 + 60,
  entries: [],
  more: false,
  ...p,
})

const sign = (p: Partial<FeedPage> = {}, signer: FixedKeyName = 'service') => signFeedPage(pageOf(p), fixedKey(signer).secretKey)
const verify = (signed: unknown, key: FixedKeyName = 'service') => verifyFeedPage(signed, fixedKey(key).publicKey)

/** A raw entry map as the service writes it, to be altered field by field. */
const rawEntry = (seq: number): Map<number, CborValue> =>
  new Map<number, CborValue>([
    [0, seq],
    [1, hex(blockHex(seq))],
    [2, 0],
    [4, T0],
    [5, hex(BY)],
    [7, T0 + 86400],
  ])

/** A raw page map (since 0, head 3 unless changed), to be altered field by field. */
const rawPage = (entries: CborValue[] = [], key: FixedKeyName = 'service'): Map<number, CborValue> =>
  new Map<number, CborValue>([
    [0, 1],
    [1, fixedKey(key).publicKey],
    [2, 0],
    [3, 3],
    [4, T0],
    [5, T0 + 60],
    [6, entries],
    [7, false],
    [8, hex(FEED_ID)],
  ])

/** Encode `top` (without the feed's entry limit) and sign it properly under `domain`. */
const signRaw = (top: CborValue, signer: FixedKeyName = 'service', domain: Exclude<Domain, 'block'> = 'feed'): SignedFeedPage => {
  const bytes = encodeCbor(top, { ...CBOR_LIMITS, maxEntries: 10_000 })
  return {
    page: base64urlnopad.encode(bytes),
    signature: base64urlnopad.encode(getBackend().sign(fixedKey(signer).secretKey, signingInput(domain, bytes))),
  }
}

const withField = (k: number, v: CborValue, top = rawPage([rawEntry(1)])) => signRaw(new Map(top).set(k, v))
const without = (k: number, top = rawPage([rawEntry(1)])) => {
  const m = new Map(top)
  m.delete(k)
  return signRaw(m)
}
const withEntry = (alter: (e: Map<number, CborValue>) => void) => {
  const e = rawEntry(1)
  alter(e)
  return signRaw(rawPage([e]))
}

/** The rejection verifyFeedPage throws: always ERR_REVOCATION_LIST_INVALID; its message. */
function rejection(signed: unknown, key: Uint8Array = fixedKey('service').publicKey, backend?: Ed25519Backend): string {
  try {
    verifyFeedPage(signed, key, backend)
  } catch (e) {
    if (!(e instanceof MandateError)) throw e
    expect(e.code).toBe('ERR_REVOCATION_LIST_INVALID')
    return e.message
  }
  return 'accepted'
}
const formatError = (why: string) => `revocation feed page rejected (ERR_FORMAT: ${why})`
const SEQ_ERROR = formatError('entry sequence numbers must increase within (since, head]')

describe('signFeedPage / verifyFeedPage: round trip', () => {
  it('a signed page verifies back to the same page, every field and entry kept', () => {
    const page = pageOf({
      since: 4,
      head: 9,
      issuedAt: T0,
      nextUpdate: T0 + 60,
      more: true,
      sinceEntry: digest(4),
      headEntry: digest(9),
      entries: [
        entry(5, { kind: 'revoke', actions: ['email:send', 'slack:*'], reason: 'too chatty' }),
        entry(6, { kind: 'suspend', at: T0 - 5, expires: T0 + 7 }),
        entry(9, { kind: 'resume', by: 'cd'.repeat(32) }),
      ],
    })
    const back = verify(signFeedPage(page, fixedKey('service').secretKey))
    expect(back).toStrictEqual(page)
  })

  it('optional fields stay absent: no actions, no reason, no digests', () => {
    const back = verify(sign({ head: 1, entries: [entry(1)] }))
    expect(Object.keys(back).sort()).toEqual(['entries', 'feedId', 'head', 'issuedAt', 'more', 'nextUpdate', 'serviceKey', 'since'])
    expect(Object.keys(back.entries[0] as FeedEntry).sort()).toEqual(['at', 'blockId', 'by', 'expires', 'kind', 'seq'])
  })

  it('writes kinds as 0 revoke, 1 suspend, 2 resume; actions only when there are some; reason when given', () => {
    const signed = sign({
      head: 4,
      entries: [
        entry(1, { kind: 'revoke', actions: ['a:b'] }),
        entry(2, { kind: 'suspend', reason: '' }),
        entry(3, { kind: 'resume' }),
        entry(4, { actions: [] }),
      ],
    })
    const top = decodeCbor(base64urlnopad.decode(signed.page), { ...CBOR_LIMITS, maxEntries: FEED_PAGE_MAX }) as CborMap
    const entries = top.get(6) as CborMap[]
    expect(entries.map((e) => e.get(2))).toEqual([0, 1, 2, 0])
    expect(entries.map((e) => e.get(3))).toEqual([['a:b'], undefined, undefined, undefined])
    expect(entries.map((e) => e.get(6))).toEqual([undefined, '', undefined, undefined])
    // An empty reason is still a reason; empty actions are none (the whole block).
    const back = verify(signed)
    expect(back.entries[1]?.reason).toBe('')
    expect('actions' in (back.entries[3] as FeedEntry)).toBe(false)
  })

  it('reads kinds 0, 1 and 2 as revoke, suspend and resume, and no other kind', () => {
    const kinds = [0, 1, 2].map((k) => verify(withEntry((e) => e.set(2, k))).entries[0]?.kind)
    expect(kinds).toEqual(['revoke', 'suspend', 'resume'])
    expect(rejection(withEntry((e) => e.set(2, 5)))).toBe(formatError('bad entry fields'))
    expect(rejection(withEntry((e) => e.set(2, 3)))).toBe(
      formatError('an amendment entry carries its id and caveats, and nothing of a lift'),
    )
    expect(rejection(withEntry((e) => e.set(2, 4)))).toBe(formatError('a lift entry names the amendment it lifts, and nothing else'))
    expect(rejection(withEntry((e) => e.set(8, new Uint8Array(32))))).toBe(formatError('a revoke entry carries no amendment fields'))
    expect(rejection(withEntry((e) => e.set(2, '0')))).toBe(formatError('bad entry fields'))
    expect(rejection(withEntry((e) => e.delete(2)))).toBe(formatError('bad entry fields'))
  })

  it('holds up to FEED_PAGE_MAX (500) entries; one more is refused on both sides', () => {
    expect(FEED_PAGE_MAX).toBe(500)
    const entries = (n: number) => Array.from({ length: n }, (_, i) => entry(i + 1))
    const full = verify(sign({ head: 500, entries: entries(500) }))
    expect(full.entries.map((e) => e.seq)).toEqual(entries(500).map((e) => e.seq))
    expect(() => sign({ head: 501, entries: entries(501) })).toThrow(expect.objectContaining({ code: 'ERR_LIMIT_COUNT' }))
    const over = signRaw(rawPage(Array.from({ length: 501 }, (_, i) => rawEntry(i + 1))).set(3, 501))
    expect(rejection(over)).toMatch(/^revocation feed page rejected \(ERR_LIMIT_COUNT: /)
  })

  it('refuses to sign a malformed feed id or hex id (a bug in the caller, TypeError)', () => {
    expect(() => sign({ feedId: 'abc' })).toThrow(new TypeError('a feed id is 32 hex digits, got 3 characters'))
    expect(() => sign({ feedId: 'ab'.repeat(15) })).toThrow(new TypeError('a feed id is 32 hex digits, got 30 characters'))
    expect(() => sign({ feedId: 'ab'.repeat(17) })).toThrow(new TypeError('a feed id is 32 hex digits, got 34 characters'))
    expect(() => sign({ head: 1, entries: [entry(1, { blockId: 'ab'.repeat(31) })] })).toThrow(
      new TypeError('expected 64 hex digits, got 62 characters'),
    )
    expect(() => sign({ head: 1, entries: [entry(1, { by: 'xy'.repeat(32) })] })).toThrow(
      new TypeError('expected 64 hex digits, got 64 characters'),
    )
    expect(() => sign({ since: 1, head: 1, headEntry: 'ab'.repeat(33) })).toThrow(
      new TypeError('expected 64 hex digits, got 66 characters'),
    )
  })
})

describe('verifyFeedPage: the signature', () => {
  it('is checked under the pinned key, over PAE("mandate/v1/feed", page bytes)', () => {
    const good = signRaw(rawPage())
    expect(verify(good).head).toBe(3)
    // Signed by another key, naming the pinned one.
    expect(rejection(signRaw(rawPage(), 'mallory'))).toBe(
      'revocation feed page rejected (ERR_SIG_INVALID: feed page: signature rejected (equation))',
    )
    // The right key in another domain (a revocation statement's signature is no feed page's).
    expect(rejection(signRaw(rawPage(), 'service', 'revocation'))).toBe(
      'revocation feed page rejected (ERR_SIG_INVALID: feed page: signature rejected (equation))',
    )
    // A good signature over other bytes.
    expect(rejection({ page: signRaw(rawPage().set(3, 4)).page, signature: good.signature })).toBe(
      'revocation feed page rejected (ERR_SIG_INVALID: feed page: signature rejected (equation))',
    )
    expect(rejection({ page: good.page, signature: base64urlnopad.encode(new Uint8Array(63)) })).toBe(
      'revocation feed page rejected (ERR_SIG_LENGTH: feed page: signature rejected (length))',
    )
  })

  it('keeps the underlying error as the cause', () => {
    try {
      verify(signRaw(rawPage(), 'mallory'))
      expect.unreachable()
    } catch (e) {
      expect((e as Error).cause).toBeInstanceOf(MandateError)
      expect((e as Error).cause).toMatchObject({ code: 'ERR_SIG_INVALID', message: 'feed page: signature rejected (equation)' })
    }
  })

  it('a failing backend is a rejection too, naming what it threw', () => {
    const throwing = (thrown: unknown): Ed25519Backend => ({
      ...getBackend(),
      verify: () => {
        throw thrown
      },
    })
    const good = signRaw(rawPage())
    expect(rejection(good, fixedKey('service').publicKey, throwing(new Error('backend down')))).toBe(
      'revocation feed page rejected (backend down)',
    )
    expect(rejection(good, fixedKey('service').publicKey, throwing('a string'))).toBe('revocation feed page rejected (unreadable)')
  })
})

describe('verifyFeedPage: the JSON body', () => {
  it('must be an object with page and signature strings', () => {
    const shape = formatError('a feed page is { page, signature }')
    const good = signRaw(rawPage())
    for (const body of [null, undefined, 'page', 42, {}, { page: good.page }, { signature: good.signature }]) {
      expect(rejection(body)).toBe(shape)
    }
    expect(rejection({ page: good.page, signature: 7 })).toBe(shape)
    expect(rejection({ page: 7, signature: good.signature })).toBe(shape)
    expect(rejection({ page: [good.page], signature: good.signature })).toBe(shape)
  })
})

describe('verifyFeedPage: the page fields', () => {
  it('version 1 in a map, naming the pinned key', () => {
    expect(rejection(withField(0, 2))).toBe(formatError('not a version 1 feed page'))
    expect(rejection(without(0))).toBe(formatError('not a version 1 feed page'))
    expect(rejection(signRaw([1, fixedKey('service').publicKey]))).toBe(formatError('not a version 1 feed page'))
    // Properly signed by the pinned key, but naming another.
    expect(rejection(withField(1, fixedKey('mallory').publicKey))).toBe(formatError('the page names another service key'))
    expect(rejection(without(1))).toBe(formatError('the page names another service key'))
    expect(rejection(withField(1, 'did:key:z6Mk'))).toBe(formatError('the page names another service key'))
  })

  it('since, head, issued_at and next_update are unsigned integers', () => {
    for (const k of [2, 3, 4, 5]) {
      const why = formatError(`field ${k} must be an unsigned integer`)
      expect(rejection(withField(k, -1, rawPage()))).toBe(why)
      expect(rejection(withField(k, '1', rawPage()))).toBe(why)
      expect(rejection(without(k, rawPage()))).toBe(why)
    }
    // Zero is fine where the bounds allow it.
    expect(verify(withField(4, 0, rawPage().set(5, 1)))).toMatchObject({ issuedAt: 0, nextUpdate: 1 })
  })

  it('entries is a list of maps; more is a boolean; the feed id is 16 bytes', () => {
    expect(rejection(withField(6, new Map([[0, rawEntry(1)]])))).toBe(formatError('entries must be a list'))
    expect(rejection(without(6))).toBe(formatError('entries must be a list'))
    expect(rejection(withField(6, [[1, hex(blockHex(1))]]))).toBe(formatError('an entry is a map'))
    expect(rejection(withField(7, 0))).toBe(formatError('more must be a boolean'))
    expect(rejection(without(7))).toBe(formatError('more must be a boolean'))
    expect(verify(withField(7, true)).more).toBe(true)
    expect(rejection(withField(8, hex('ab'.repeat(15))))).toBe(formatError('the feed id must be 16 bytes'))
    expect(rejection(withField(8, hex('ab'.repeat(17))))).toBe(formatError('the feed id must be 16 bytes'))
    expect(rejection(withField(8, FEED_ID))).toBe(formatError('the feed id must be 16 bytes'))
    expect(rejection(withField(8, 'x'.repeat(16)))).toBe(formatError('the feed id must be 16 bytes'))
    expect(rejection(without(8))).toBe(formatError('the feed id must be 16 bytes'))
  })

  it('the since and head entries, when present, are 32 bytes', () => {
    for (const k of [9, 10]) {
      const why = formatError(`field ${k} must be 32 bytes`)
      expect(rejection(withField(k, hex(digest(1)).subarray(1), rawPage().set(2, 1)))).toBe(why)
      expect(rejection(withField(k, digest(1), rawPage().set(2, 1)))).toBe(why)
      // Text of 32 characters is still no 32 bytes.
      expect(rejection(withField(k, 'x'.repeat(32), rawPage().set(2, 1)))).toBe(why)
    }
    expect(
      verify(
        withField(
          10,
          hex(digest(3)),
          rawPage()
            .set(2, 1)
            .set(9, hex(digest(1))),
        ),
      ),
    ).toMatchObject({
      sinceEntry: digest(1),
      headEntry: digest(3),
    })
  })

  it('next_update must come after issued_at', () => {
    expect(rejection(sign({ issuedAt: T0, nextUpdate: T0 }))).toBe(formatError('inconsistent page bounds'))
    expect(rejection(sign({ issuedAt: T0, nextUpdate: T0 - 1 }))).toBe(formatError('inconsistent page bounds'))
    expect(verify(sign({ issuedAt: T0, nextUpdate: T0 + 1 })).nextUpdate).toBe(T0 + 1)
  })

  it('a head below since is a legitimate (empty) page', () => {
    expect(verify(sign({ since: 7, head: 5 }))).toMatchObject({ since: 7, head: 5, entries: [] })
  })
})

describe('verifyFeedPage: the entries', () => {
  it('sequence numbers increase strictly within (since, head]', () => {
    const seqs = (since: number, head: number, ...s: number[]) => signRaw(rawPage(s.map(rawEntry)).set(2, since).set(3, head))
    expect(verify(seqs(2, 5, 3, 5)).entries.map((e) => e.seq)).toEqual([3, 5])
    expect(verify(seqs(0, 1, 1)).entries.map((e) => e.seq)).toEqual([1])
    expect(rejection(seqs(2, 5, 2))).toBe(SEQ_ERROR)
    expect(rejection(seqs(2, 5, 1))).toBe(SEQ_ERROR)
    expect(rejection(seqs(2, 5, 6))).toBe(SEQ_ERROR)
    expect(rejection(seqs(2, 5, 4, 4))).toBe(SEQ_ERROR)
    expect(rejection(seqs(2, 5, 4, 3))).toBe(SEQ_ERROR)
    expect(rejection(seqs(0, 0, 1))).toBe(SEQ_ERROR)
    expect(rejection(withEntry((e) => e.set(0, '1')))).toBe(SEQ_ERROR)
    expect(rejection(withEntry((e) => e.delete(0)))).toBe(SEQ_ERROR)
  })

  it('block id and signer are 32 bytes', () => {
    const why = formatError('bad entry ids')
    expect(rejection(withEntry((e) => e.set(1, hex(blockHex(1)).subarray(1))))).toBe(why)
    expect(rejection(withEntry((e) => e.set(1, blockHex(1))))).toBe(why)
    expect(rejection(withEntry((e) => e.set(5, hex(BY).subarray(1))))).toBe(why)
    expect(rejection(withEntry((e) => e.set(5, BY)))).toBe(why)
    expect(rejection(withEntry((e) => e.set(1, 'x'.repeat(32))))).toBe(why)
    expect(rejection(withEntry((e) => e.set(5, 'x'.repeat(32))))).toBe(why)
    expect(rejection(withEntry((e) => e.delete(5)))).toBe(why)
  })

  it('at and expires are numbers', () => {
    const why = formatError('bad entry fields')
    expect(rejection(withEntry((e) => e.set(4, String(T0))))).toBe(why)
    expect(rejection(withEntry((e) => e.delete(4)))).toBe(why)
    expect(rejection(withEntry((e) => e.set(7, String(T0))))).toBe(why)
    expect(rejection(withEntry((e) => e.delete(7)))).toBe(why)
  })

  it('actions, when present, are a list of action patterns', () => {
    const why = formatError('bad entry actions')
    expect(verify(withEntry((e) => e.set(3, ['email:send', 'slack:*']))).entries[0]?.actions).toEqual(['email:send', 'slack:*'])
    expect(rejection(withEntry((e) => e.set(3, ['email:send', 'Email:Send'])))).toBe(why)
    expect(rejection(withEntry((e) => e.set(3, ['email::send'])))).toBe(why)
    expect(rejection(withEntry((e) => e.set(3, [7])))).toBe(why)
    expect(rejection(withEntry((e) => e.set(3, 'email:send')))).toBe(why)
  })

  it('reason, when present, is text', () => {
    expect(verify(withEntry((e) => e.set(6, 'compromised'))).entries[0]?.reason).toBe('compromised')
    expect(rejection(withEntry((e) => e.set(6, 7)))).toBe(formatError('bad entry reason'))
    expect(rejection(withEntry((e) => e.set(6, hex('00'))))).toBe(formatError('bad entry reason'))
  })
})

describe('verifyFeedPage: the since and head entries (digests)', () => {
  const DIGEST_ERROR = formatError('an entry digest names a sequence number that cannot hold an entry')

  it('are refused where no entry can be', () => {
    expect(rejection(sign({ since: 0, head: 2, sinceEntry: digest(1) }))).toBe(DIGEST_ERROR)
    expect(rejection(sign({ since: 3, head: 2, sinceEntry: digest(1) }))).toBe(DIGEST_ERROR)
    expect(rejection(sign({ since: 0, head: 0, headEntry: digest(1) }))).toBe(DIGEST_ERROR)
    expect(verify(sign({ since: 2, head: 2, sinceEntry: digest(1) })).sinceEntry).toBe(digest(1))
    expect(verify(sign({ since: 0, head: 1, headEntry: digest(1) })).headEntry).toBe(digest(1))
  })

  it('must agree at since = head, and may differ otherwise', () => {
    expect(rejection(sign({ since: 2, head: 2, sinceEntry: digest(1), headEntry: digest(2) }))).toBe(
      formatError('the since and head entries differ at since = head'),
    )
    expect(verify(sign({ since: 2, head: 2, sinceEntry: digest(2), headEntry: digest(2) }))).toMatchObject({
      sinceEntry: digest(2),
      headEntry: digest(2),
    })
    expect(verify(sign({ since: 1, head: 2, sinceEntry: digest(1), headEntry: digest(2) }))).toMatchObject({
      sinceEntry: digest(1),
      headEntry: digest(2),
    })
  })
})

describe('foreignFeedKey', () => {
  it('names the key that validly signed a page naming it, when that is not the pinned key', () => {
    const mallory = fixedKey('mallory').publicKey
    expect(foreignFeedKey(sign({ serviceKey: mallory }, 'mallory'), fixedKey('service').publicKey)).toEqual(mallory)
  })

  it('is undefined for a page of the pinned key, good or bad', () => {
    const pinned = fixedKey('service').publicKey
    expect(foreignFeedKey(sign(), pinned)).toBeUndefined()
    expect(foreignFeedKey(sign({}, 'mallory'), pinned)).toBeUndefined()
  })

  it('is undefined for a forgery: a page naming another key that it is not signed by, or that is malformed', () => {
    const pinned = fixedKey('service').publicKey
    const mallory = fixedKey('mallory').publicKey
    expect(foreignFeedKey(sign({ serviceKey: mallory }, 'service'), pinned)).toBeUndefined()
    expect(foreignFeedKey(sign({ serviceKey: mallory, nextUpdate: T0 }, 'mallory'), pinned)).toBeUndefined()
    expect(foreignFeedKey(signRaw(rawPage([], 'mallory').set(0, 2), 'mallory'), pinned)).toBeUndefined()
  })

  it('is undefined for what is no page at all', () => {
    const pinned = fixedKey('service').publicKey
    for (const body of [null, undefined, 'x', {}, { page: 7 }, { page: '!!' }, signRaw([1, 2]), signRaw(rawPage().set(1, hex('00')))]) {
      expect(foreignFeedKey(body, pinned)).toBeUndefined()
    }
  })
})
