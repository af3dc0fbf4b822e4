/**
 * Signed revocation feed pages (spec/service-v1.md §4). The service signs each page with
 * its own key; a verifier pins that key, and rejects a page that is badly signed, older than
 * what it already holds (rollback), or past its `next_update` (freeze).
 *
 *     page  = { 0: version (1), 1: service key (bstr 32), 2: since (uint), 3: head (uint),
 *               4: issued_at (uint), 5: next_update (uint), 6: [* entry], 7: more (bool),
 *               8: feed id (bstr 16), ? 9: since entry (bstr 32), ? 10: head entry (bstr 32) }
 *     entry = { 0: seq, 1: block id (bstr 32), 2: kind (0 revoke, 1 suspend, 2 resume,
 *               3 amend, 4 lift), ? 3: actions [+ pattern], 4: at (uint), 5: by (bstr 32),
 *               ? 6: reason (tstr), 7: expires (uint): when the entry may be compacted away,
 *               ? 8: id (bstr 32): an amendment's statement id, ? 9: caveats (bstr: the CBOR of
 *               [+ caveat], so that a deep `where` operand keeps within the depth limit
 *               wherever it travels): an amendment's, ? 10: lifts (bstr 32): the amendment a lift lifts }
 *
 * `head` is the true head of the service's database (never raised to `since`), and the feed
 * id names that database: it changes when the database is new or the service detected that
 * it was rolled back, so a verifier notices both (spec/service-v1.md §4.4). The since and
 * head entries are the statement ids (SHA-256 of the statement's signature) of the entries
 * at seq `since` and seq `head`, present when those rows exist (not compacted), read in the
 * same snapshot: a verifier that remembers the one at its mark notices when the history
 * there was rewritten (a database restored with the service's mark, §4.4).
 *
 * Signature: Ed25519 over PAE("mandate/v1/feed", page bytes).
 *
 * @module
 */
import { base64urlnopad } from '@scure/base'
import { isActionPattern } from '../caveats/action.js'
import { decodeCaveatList, encodeCaveatList } from '../caveats/list.js'
import type { Caveat } from '../caveats/types.js'
import { type CborMap, type CborValue, decodeCbor, encodeCbor } from '../cbor/codec.js'
import { CBOR_LIMITS } from '../cbor/limits.js'
import type { Ed25519Backend } from '../crypto/backend.js'
import { getBackend, signWithBackend, verifyOrThrow } from '../crypto/ed25519.js'
import { fail, MandateError } from '../errors.js'
import { equalBytes, fromHex, toHex } from '../internal/bytes.js'
import { REVOCATION_KINDS, type RevocationKind } from '../token/revocation.js'
import { signedMessage } from '../token/signing.js'

/** Most entries in one page. */
export const FEED_PAGE_MAX = 500
/** The CBOR limits of a feed page: the profile's, with room for its entries. */
export const FEED_LIMITS = { ...CBOR_LIMITS, maxEntries: FEED_PAGE_MAX }
const KINDS = REVOCATION_KINDS

/** One accepted revocation statement, as the feed carries it. */
export interface FeedEntry {
  readonly seq: number
  /** Target block id, hex. */
  readonly blockId: string
  readonly kind: RevocationKind
  readonly actions?: readonly string[]
  /** When the service accepted it (Unix seconds). */
  readonly at: number
  /** The signer, hex public key. */
  readonly by: string
  readonly reason?: string
  /** When the target block expires; the entry is compacted after that. */
  readonly expires: number
  /** An amendment: its statement id (hex), by which a lift names it. */
  readonly id?: string
  /** An amendment: the caveats it adds to the block. */
  readonly caveats?: readonly Caveat[]
  /** A lift: the id (hex) of the amendment it lifts. */
  readonly lifts?: string
}

/** A verified (or to-be-signed) page. */
export interface FeedPage {
  readonly serviceKey: Uint8Array
  /** The feed id: 16 bytes (32 hex digits) naming the service's database. */
  readonly feedId: string
  readonly since: number
  readonly head: number
  readonly issuedAt: number
  readonly nextUpdate: number
  readonly entries: readonly FeedEntry[]
  readonly more: boolean
  /** Statement id (64 hex digits) of the entry at seq `since`, when that row exists. */
  readonly sinceEntry?: string
  /** Statement id (64 hex digits) of the entry at seq `head`, when that row exists. */
  readonly headEntry?: string
}

/** The wire form: the exact page bytes and the signature, base64url, in a JSON body. */
export interface SignedFeedPage {
  readonly page: string
  readonly signature: string
}

/**
 * Encode and sign a page with the service's secret key.
 *
 * @example
 * ```ts
 * const service = generateKeyPair()
 * const page = { feedId: 'f1', since: 0, head: 0, issuedAt: now, nextUpdate: now + 60, entries: [], more: false }
 * const body = signFeedPage({ ...page, serviceKey: service.publicKey }, service.secretKey) // { page, signature }
 * ```
 */
export function signFeedPage(page: FeedPage, secretKey: Uint8Array, backend: Ed25519Backend = getBackend()): SignedFeedPage {
  const bytes = encodeFeedPage(page)
  const signature = signWithBackend(backend, secretKey, signedMessage('feed', bytes))
  return { page: base64urlnopad.encode(bytes), signature: base64urlnopad.encode(signature) }
}

function encodeFeedPage(p: FeedPage): Uint8Array {
  const entries = p.entries.map((e) => {
    const m = new Map<number, CborValue>([
      [0, e.seq],
      [1, hex32(e.blockId)],
      [2, KINDS.indexOf(e.kind)],
    ])
    if (e.actions?.length) m.set(3, [...e.actions])
    m.set(4, e.at)
    m.set(5, hex32(e.by))
    if (e.reason !== undefined) m.set(6, e.reason)
    m.set(7, e.expires)
    if (e.kind === 'amend') {
      m.set(8, hex32(e.id ?? ''))
      m.set(9, encodeCaveatList(e.caveats ?? []))
    }
    if (e.kind === 'lift') m.set(10, hex32(e.lifts ?? ''))
    return m
  })
  const page = new Map<number, CborValue>([
    [0, 1],
    [1, p.serviceKey],
    [2, p.since],
    [3, p.head],
    [4, p.issuedAt],
    [5, p.nextUpdate],
    [6, entries],
    [7, p.more],
    [8, feedIdBytes(p.feedId)],
  ])
  if (p.sinceEntry !== undefined) page.set(9, hex32(p.sinceEntry))
  if (p.headEntry !== undefined) page.set(10, hex32(p.headEntry))
  return encodeCbor(page, FEED_LIMITS)
}

/**
 * Keys 8–10 of an entry: an amendment carries its id and its caveats (each well-formed, of a
 * known type or an extension, as the service accepted them); a lift the id it lifts; any other
 * kind none of them, and an amendment or lift no actions.
 */
function amendmentFields(kind: RevocationKind, e: CborMap): Pick<FeedEntry, 'id' | 'caveats' | 'lifts'> {
  const id = e.get(8)
  const caveats = e.get(9)
  const lifts = e.get(10)
  const is32 = (v: CborValue | undefined) => v instanceof Uint8Array && v.length === 32
  if (kind === 'amend') {
    // 1 to 32 caveats, each one a service accepts (spec/mandate-v1.md §9.1): what a view can persist.
    const decoded = caveats instanceof Uint8Array ? decodeCaveatList(caveats) : undefined
    if (!is32(id) || lifts !== undefined || e.get(3) !== undefined) {
      fail('ERR_FORMAT', 'an amendment entry carries its id and caveats, and nothing of a lift')
    }
    if (decoded === undefined) fail('ERR_FORMAT', 'an amendment entry carries no list of 1 to 32 well-formed caveats')
    return { id: toHex(id as Uint8Array), caveats: decoded }
  }
  if (kind === 'lift') {
    if (!is32(lifts) || id !== undefined || caveats !== undefined || e.get(3) !== undefined) {
      fail('ERR_FORMAT', 'a lift entry names the amendment it lifts, and nothing else')
    }
    return { lifts: toHex(lifts as Uint8Array) }
  }
  if (id !== undefined || caveats !== undefined || lifts !== undefined) fail('ERR_FORMAT', `a ${kind} entry carries no amendment fields`)
  return {}
}

function feedIdBytes(hex: string): Uint8Array {
  const b = fromHex(hex)
  if (!b || b.length !== 16) throw new TypeError(`a feed id is 32 hex digits, got ${hex.length} characters`)
  return b
}

function hex32(hex: string): Uint8Array {
  const b = fromHex(hex)
  if (!b || b.length !== 32) throw new TypeError(`expected 64 hex digits, got ${hex.length} characters`)
  return b
}

/**
 * Verify a signed page against the pinned service key and decode it. Throws
 * `ERR_REVOCATION_LIST_INVALID` for anything wrong; the caller keeps its previous state.
 *
 * @example
 * ```ts
 * const page = verifyFeedPage(await (await fetch(url)).json(), parsePublicKey(serviceKey)) // serviceKey: the pinned did:key
 * ```
 */
export function verifyFeedPage(signed: unknown, serviceKey: Uint8Array, backend: Ed25519Backend = getBackend()): FeedPage {
  try {
    if (typeof signed !== 'object' || signed === null) fail('ERR_FORMAT', 'a feed page is { page, signature }')
    const { page, signature } = signed as Record<string, unknown>
    if (typeof page !== 'string' || typeof signature !== 'string') fail('ERR_FORMAT', 'a feed page is { page, signature }')
    const bytes = base64urlnopad.decode(page)
    verifyOrThrow(backend, base64urlnopad.decode(signature), signedMessage('feed', bytes), serviceKey, 'feed page')
    return decodeFeedPage(bytes, serviceKey)
  } catch (e) {
    const reason = e instanceof MandateError ? `${e.code}: ${e.message}` : e instanceof Error ? e.message : 'unreadable'
    throw new MandateError('ERR_REVOCATION_LIST_INVALID', `revocation feed page rejected (${reason})`, { cause: e })
  }
}

function decodeFeedPage(bytes: Uint8Array, serviceKey: Uint8Array): FeedPage {
  const top = decodeCbor(bytes, FEED_LIMITS)
  if (!(top instanceof Map) || top.get(0) !== 1) fail('ERR_FORMAT', 'not a version 1 feed page')
  const m = top as CborMap
  const key = m.get(1)
  if (!(key instanceof Uint8Array) || !equalBytes(key, serviceKey)) fail('ERR_FORMAT', 'the page names another service key')
  const num = (k: number) => {
    const v = m.get(k)
    if (typeof v !== 'number' || v < 0) fail('ERR_FORMAT', `field ${k} must be an unsigned integer`)
    return v
  }
  const rawEntries = m.get(6)
  if (!Array.isArray(rawEntries)) fail('ERR_FORMAT', 'entries must be a list')
  const more = m.get(7)
  if (typeof more !== 'boolean') fail('ERR_FORMAT', 'more must be a boolean')
  const feedId = m.get(8)
  if (!(feedId instanceof Uint8Array) || feedId.length !== 16) fail('ERR_FORMAT', 'the feed id must be 16 bytes')
  const entryId = (k: number): string | undefined => {
    const v = m.get(k)
    if (v === undefined) return undefined
    if (!(v instanceof Uint8Array) || v.length !== 32) fail('ERR_FORMAT', `field ${k} must be 32 bytes`)
    return toHex(v)
  }
  const sinceEntry = entryId(9)
  const headEntry = entryId(10)
  const since = num(2)
  const head = num(3)
  let previous = since
  const entries = (rawEntries as CborValue[]).map((raw): FeedEntry => {
    if (!(raw instanceof Map)) fail('ERR_FORMAT', 'an entry is a map')
    const e = raw as CborMap
    const seq = e.get(0)
    const block = e.get(1)
    const kind = typeof e.get(2) === 'number' ? KINDS[e.get(2) as number] : undefined
    const actions = e.get(3)
    const at = e.get(4)
    const by = e.get(5)
    const reason = e.get(6)
    const expires = e.get(7)
    if (typeof seq !== 'number' || seq <= previous || seq > head)
      fail('ERR_FORMAT', 'entry sequence numbers must increase within (since, head]')
    previous = seq
    if (!(block instanceof Uint8Array) || block.length !== 32 || !(by instanceof Uint8Array) || by.length !== 32)
      fail('ERR_FORMAT', 'bad entry ids')
    if (kind === undefined || typeof at !== 'number' || typeof expires !== 'number') fail('ERR_FORMAT', 'bad entry fields')
    if (actions !== undefined && (!Array.isArray(actions) || !actions.every((a) => typeof a === 'string' && isActionPattern(a)))) {
      fail('ERR_FORMAT', 'bad entry actions')
    }
    if (reason !== undefined && typeof reason !== 'string') fail('ERR_FORMAT', 'bad entry reason')
    return {
      seq,
      blockId: toHex(block),
      kind,
      ...(actions === undefined ? {} : { actions: actions as string[] }),
      at,
      by: toHex(by),
      ...(reason === undefined ? {} : { reason: reason as string }),
      expires,
      ...amendmentFields(kind, e),
    }
  })
  const page: FeedPage = {
    serviceKey,
    feedId: toHex(feedId),
    since,
    head,
    issuedAt: num(4),
    nextUpdate: num(5),
    entries,
    more,
    ...(sinceEntry === undefined ? {} : { sinceEntry }),
    ...(headEntry === undefined ? {} : { headEntry }),
  }
  // A head below `since` is legitimate (the service answers honestly when asked from above its
  // head: a rolled-back database); the entries' bounds already make such a page empty.
  if (page.nextUpdate <= page.issuedAt) fail('ERR_FORMAT', 'inconsistent page bounds')
  // Sequence numbers start at 1 and no row lies above the head; at since = head both name one row.
  if ((sinceEntry !== undefined && (since === 0 || since > head)) || (headEntry !== undefined && head === 0)) {
    fail('ERR_FORMAT', 'an entry digest names a sequence number that cannot hold an entry')
  }
  if (since === head && sinceEntry !== undefined && headEntry !== undefined && sinceEntry !== headEntry) {
    fail('ERR_FORMAT', 'the since and head entries differ at since = head')
  }
  return page
}
