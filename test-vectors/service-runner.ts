/**
 * Runs the service-protocol vectors (`test-vectors/v1/service.json`) against this
 * implementation: signed feed pages (`verifyFeedPage`), a feed view receiving one page
 * (`createFeedRevocationView` with a scripted fetch and a state store), revocation statements
 * (`parseRevocation`, `verifyRevocation`) and signed requests (`verifyRequestSignature`).
 * Shared by the generator (`test-vectors/service.ts`, which refuses to write a vector whose
 * stated outcome the implementation does not produce) and by `test/vectors/service.test.ts`
 * (which runs the committed file).
 *
 * Each `run*` function returns the observed outcome in the shape of the vector's `expected`;
 * {@link sameOutcome} compares them exactly.
 */
import { isDeepStrictEqual } from 'node:util'
import { base64 } from '@scure/base'
import { type InnerList, isInnerList, parseDictionary } from 'structured-headers'
import { encodeCaveat } from '../src/caveats/codec.js'
import type { Caveat } from '../src/caveats/types.js'
import { encodeCbor } from '../src/cbor/codec.js'
import {
  contentDigest,
  deriveComponents,
  HttpSignatureError,
  type ReceivedRequest,
  SIGNATURE_LABEL,
  signatureBase,
  verifyRequestSignature,
} from '../src/crypto/http-signature.js'
import {
  createFeedRevocationView,
  type FeedPage,
  type FeedState,
  MandateError,
  parsePublicKey,
  parseRevocation,
  toDidKey,
  verifyFeedPage,
  verifyRevocation,
} from '../src/index.js'
import { toHex } from '../src/internal/bytes.js'
import { authorityLevel } from '../src/token/revocation.js'

// ---- shapes ---------------------------------------------------------------------------------

/** A feed entry as the vectors spell it (spec/service-v1.md §4.1; byte strings in hex). */
export interface EntryFields {
  readonly seq: number
  readonly block_id: string
  readonly kind: 'revoke' | 'suspend' | 'resume' | 'amend' | 'lift'
  readonly actions?: readonly string[]
  readonly at: number
  readonly by: string
  readonly reason?: string
  readonly expires: number
  /** An amendment's statement id. */
  readonly id?: string
  /** An amendment's caveats: the CBOR of the caveat list, in hex. */
  readonly caveats?: string
  /** A lift: the amendment it lifts. */
  readonly lifts?: string
}

/** A decoded page as the vectors spell it. */
export interface PageFields {
  readonly version: 1
  readonly service_key: string
  readonly since: number
  readonly head: number
  readonly issued_at: number
  readonly next_update: number
  readonly entries: readonly EntryFields[]
  readonly more: boolean
  readonly feed_id: string
  readonly since_entry?: string
  readonly head_entry?: string
}

export type PageOutcome = { readonly valid: true; readonly fields: PageFields } | { readonly valid: false; readonly code: string }

export interface PageVector {
  readonly id: string
  readonly title: string
  /** base64url (no padding) of the page's CBOR bytes. */
  readonly page: string
  /** base64url (no padding) of the 64-byte signature. */
  readonly signature: string
  /** The pinned service key. */
  readonly service_key: string
  readonly expected: PageOutcome
  /** Informative: the first rule the page breaks, and the code beneath the wrapper. */
  readonly note?: string
}

/** What a feed view holds before it receives the page. */
export interface ViewState {
  readonly mark: number
  readonly issued_at: number
  readonly feed_id?: string
  readonly mark_entry?: string
  readonly failed?: 'ERR_REVOCATION_FEED_RESET' | 'ERR_REVOCATION_ROLLBACK'
}

/** What a view answers for a block id after applying a page. */
export interface BlockEntry {
  readonly kind: 'revoke' | 'suspend' | 'amend'
  readonly actions?: readonly string[]
  readonly at: number
  readonly by: string
  readonly reason?: string
  /** An amendment in force: its id and caveats (hex of the caveat list's CBOR). */
  readonly id?: string
  readonly caveats?: string
}

/** The CBOR of a caveat list, in hex: how the vectors spell an amendment's caveats. */
export function caveatsHex(caveats: readonly Caveat[]): string {
  return toHex(encodeCbor(caveats.map(encodeCaveat)))
}

export type SequenceOutcome =
  | {
      readonly outcome: 'applied'
      readonly view: { readonly mark: number; readonly issued_at: number; readonly feed_id: string; readonly mark_entry?: string }
      readonly blocks?: Readonly<Record<string, readonly BlockEntry[]>>
    }
  | {
      readonly outcome: 'ERR_REVOCATION_LIST_INVALID' | 'ERR_REVOCATION_FEED_RESET' | 'ERR_REVOCATION_ROLLBACK'
      /** Whether the view stays failed with this code (until a full resync). */
      readonly sticky: boolean
    }

export interface SequenceVector {
  readonly id: string
  readonly title: string
  readonly service_key: string
  readonly now: number
  readonly view: ViewState
  readonly page: string
  readonly signature: string
  /** Block ids whose view entries the expectation states (applied outcomes only). */
  readonly blocks?: readonly string[]
  readonly expected: SequenceOutcome
}

export interface StatementFields {
  readonly kind: 'revoke' | 'suspend' | 'resume' | 'amend' | 'lift'
  readonly actions?: readonly string[]
  /** An amendment's caveats: the CBOR of the caveat list, in hex. */
  readonly caveats?: string
  /** A lift: the id of the amendment it lifts. */
  readonly lifts?: string
  readonly signer: string
  readonly nonce: string
  readonly created: number
  readonly reason?: string
  readonly audience?: string
  /** Block ids of the carried prefix, block 0 first. */
  readonly chain: readonly string[]
  /** The target: the last block of the prefix. */
  readonly target: { readonly index: number; readonly block_id: string }
}

export type StatementOutcome =
  | { readonly valid: true; readonly id: string; readonly authority: number; readonly fields: StatementFields }
  | { readonly valid: false; readonly stage: 'parse' | 'verify'; readonly code: string }

export interface StatementVector {
  readonly id: string
  readonly title: string
  readonly statement: string
  readonly expected: StatementOutcome
}

export type RequestOutcome =
  | { readonly valid: true; readonly keyid: string; readonly created: number; readonly nonce: string }
  | { readonly valid: false; readonly code: string }

export interface RequestVector {
  readonly id: string
  readonly title: string
  readonly request: {
    readonly method: string
    readonly url: string
    /** Lower-case field names; one value each. */
    readonly headers: Readonly<Record<string, string>>
    /** base64 (RFC 4648 §4, padded) of the exact body bytes; "" for none. */
    readonly body: string
  }
  readonly now: number
  /** The base the signer signed (RFC 9421 §2.5); for valid vectors, the base a verifier builds. */
  readonly signature_base?: string
  readonly expected: RequestOutcome
}

// ---- feed pages -----------------------------------------------------------------------------

/** A decoded page in the vectors' spelling. */
export function pageFields(p: FeedPage): PageFields {
  return {
    version: 1,
    service_key: toHex(p.serviceKey),
    since: p.since,
    head: p.head,
    issued_at: p.issuedAt,
    next_update: p.nextUpdate,
    entries: p.entries.map((e) => ({
      seq: e.seq,
      block_id: e.blockId,
      kind: e.kind,
      ...(e.actions === undefined ? {} : { actions: [...e.actions] }),
      at: e.at,
      by: e.by,
      ...(e.id === undefined ? {} : { id: e.id }),
      ...(e.caveats === undefined ? {} : { caveats: caveatsHex(e.caveats) }),
      ...(e.lifts === undefined ? {} : { lifts: e.lifts }),
      ...(e.reason === undefined ? {} : { reason: e.reason }),
      expires: e.expires,
    })),
    more: p.more,
    feed_id: p.feedId,
    ...(p.sinceEntry === undefined ? {} : { since_entry: p.sinceEntry }),
    ...(p.headEntry === undefined ? {} : { head_entry: p.headEntry }),
  }
}

export function runPage(v: PageVector): PageOutcome {
  try {
    return { valid: true, fields: pageFields(verifyFeedPage({ page: v.page, signature: v.signature }, parsePublicKey(v.service_key))) }
  } catch (e) {
    if (e instanceof MandateError) return { valid: false, code: e.code }
    throw e
  }
}

/** The code beneath ERR_REVOCATION_LIST_INVALID (informative), or undefined. */
export function pageCause(v: PageVector): string | undefined {
  try {
    verifyFeedPage({ page: v.page, signature: v.signature }, parsePublicKey(v.service_key))
    return undefined
  } catch (e) {
    const cause = (e as { cause?: unknown }).cause
    return cause instanceof MandateError ? cause.code : undefined
  }
}

// ---- a view receiving a page ----------------------------------------------------------------

export async function runSequence(v: SequenceVector): Promise<SequenceOutcome> {
  let saved: FeedState | undefined = {
    seq: v.view.mark,
    issuedAt: v.view.issued_at,
    entries: [],
    ...(v.view.feed_id === undefined ? {} : { feedId: v.view.feed_id }),
    ...(v.view.mark_entry === undefined ? {} : { markEntry: v.view.mark_entry }),
    ...(v.view.failed === undefined ? {} : { failed: { code: v.view.failed, message: 'failed before this vector' } }),
  }
  let served = false
  const view = createFeedRevocationView({
    url: 'http://feed.example',
    serviceKey: v.service_key,
    push: false,
    clock: () => v.now,
    state: {
      load: () => saved,
      save: (s) => {
        saved = s
      },
    },
    // The page once; then "nothing new" (304), so that a page with `more` ends the walk there.
    fetch: (async () => {
      if (served) return new Response(null, { status: 304 })
      served = true
      return new Response(JSON.stringify({ page: v.page, signature: v.signature }), {
        status: 200,
        headers: { 'content-type': 'application/json' },
      })
    }) as typeof fetch,
  })
  try {
    await view.sync()
  } catch (e) {
    if (!(e instanceof MandateError)) throw e
    const code = e.code
    // Whatever the code, the view keeps what it had.
    if (saved?.seq !== v.view.mark || saved.issuedAt !== v.view.issued_at || saved.markEntry !== v.view.mark_entry) {
      throw new Error(`${v.id}: the view changed its mark although it refused the page`)
    }
    if (code !== 'ERR_REVOCATION_LIST_INVALID' && code !== 'ERR_REVOCATION_FEED_RESET' && code !== 'ERR_REVOCATION_ROLLBACK') throw e
    let sticky = false
    try {
      view.freshAt()
    } catch (f) {
      sticky = f instanceof MandateError && f.code === code && saved?.failed?.code === code
    }
    return { outcome: code, sticky }
  }
  const s = saved as FeedState
  if (!served) throw new Error(`${v.id}: the view never fetched the page`)
  const blocks: Record<string, BlockEntry[]> = {}
  for (const id of v.blocks ?? []) {
    blocks[id] = (view.entries(id) ?? []).map((e) => ({
      kind: e.kind,
      ...(e.kind !== 'amend' && e.actions !== undefined ? { actions: [...e.actions] } : {}),
      at: e.at,
      by: e.by ?? '',
      ...(e.reason === undefined ? {} : { reason: e.reason }),
      ...(e.kind === 'amend' ? { id: e.id, caveats: caveatsHex(e.caveats) } : {}),
    }))
  }
  return {
    outcome: 'applied',
    view: {
      mark: s.seq,
      issued_at: s.issuedAt,
      feed_id: s.feedId ?? '',
      ...(s.markEntry === undefined ? {} : { mark_entry: s.markEntry }),
    },
    ...(v.blocks === undefined ? {} : { blocks }),
  }
}

// ---- statements -----------------------------------------------------------------------------

export function runStatement(v: StatementVector): StatementOutcome {
  let stage: 'parse' | 'verify' = 'parse'
  try {
    const s = parseRevocation(v.statement)
    stage = 'verify'
    verifyRevocation(s)
    const authority = authorityLevel(s.chain, s.signer)
    if (authority === undefined) throw new Error(`${v.id}: a verified statement without authority`)
    return {
      valid: true,
      id: s.id,
      authority,
      fields: {
        kind: s.kind,
        ...(s.actions === undefined ? {} : { actions: [...s.actions] }),
        signer: toDidKey(s.signer),
        nonce: toHex(s.nonce),
        created: s.created,
        ...(s.reason === undefined ? {} : { reason: s.reason }),
        ...(s.audience === undefined ? {} : { audience: s.audience }),
        ...(s.kind === 'amend' ? { caveats: caveatsHex(s.caveats) } : {}),
        ...(s.lifts === undefined ? {} : { lifts: s.lifts }),
        chain: s.chain.map((b) => b.idHex),
        target: { index: s.target.index, block_id: s.target.idHex },
      },
    }
  } catch (e) {
    if (e instanceof MandateError) return { valid: false, stage, code: e.code }
    throw e
  }
}

// ---- signed requests ------------------------------------------------------------------------

export function receivedOf(v: RequestVector): ReceivedRequest {
  const headers = new Map(Object.entries(v.request.headers).map(([k, value]) => [k.toLowerCase(), value]))
  return {
    method: v.request.method,
    url: v.request.url,
    body: base64.decode(v.request.body),
    header: (name) => headers.get(name.toLowerCase()),
  }
}

export function runRequest(v: RequestVector): RequestOutcome {
  try {
    const r = verifyRequestSignature(receivedOf(v), { now: v.now })
    return { valid: true, keyid: r.keyid, created: r.created, nonce: r.nonce }
  } catch (e) {
    if (e instanceof HttpSignatureError) return { valid: false, code: e.code }
    throw e
  }
}

/** The signature base a verifier builds from the received request (valid vectors only). */
export function verifierBase(v: RequestVector): string {
  const received = receivedOf(v)
  const input = parseDictionary(received.header('signature-input') ?? '').get(SIGNATURE_LABEL)
  if (!input || !isInnerList(input)) throw new Error(`${v.id}: no mandate signature input`)
  const values: Record<string, string> = deriveComponents(v.request.method, v.request.url)
  const digest = received.header('content-digest')
  if (digest !== undefined) values['content-digest'] = digest.replace(/^[ \t]+|[ \t]+$/g, '')
  else values['content-digest'] = contentDigest(received.body)
  return signatureBase(input as InnerList, (name) => values[name] as string)
}

// ---- comparison -----------------------------------------------------------------------------

/** Exact comparison after a JSON round trip (absent members are absent on both sides). */
export function sameOutcome(expected: unknown, observed: unknown): boolean {
  return isDeepStrictEqual(JSON.parse(JSON.stringify(expected)), JSON.parse(JSON.stringify(observed)))
}
