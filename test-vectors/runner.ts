/**
 * Runs one conformance vector against this implementation. Shared by the generator (which
 * refuses to write a vector whose stated outcome the implementation does not produce) and
 * by `test/vectors/conformance.test.ts` (which runs the committed files).
 */

import {
  attenuate,
  createMemoryUsageStore,
  createVerifier,
  type Decision,
  type DecodedCaveat,
  decodeCbor,
  type ExtensionChecker,
  encodeCbor,
  invoke,
  MandateError,
  parseMandate,
  parsePublicKey,
  type RevocationEntry,
  type RevocationView,
  seal,
  type UsageStore,
} from '../src/index.js'
import { concatBytes, fromHex } from '../src/internal/bytes.js'

/** A verification vector: present `token` to a verifier configured as stated. */
export interface VerifyVector {
  readonly id: string
  readonly title: string
  readonly checklist?: string
  readonly kind: 'verify'
  readonly input: {
    readonly token: string
    readonly request?: { action: string; resource?: string; args?: Record<string, never> }
    readonly approvals?: readonly string[]
    readonly now: number
    readonly audience: string
    readonly roots: readonly { key: string; name?: string }[]
    readonly skew?: number
    /** The verifier's approval wait in seconds (spec §7 step 7); absent: 86,400. */
    readonly approvalWait?: number
    /** Present the same input this many times; the expectation is for the last one. */
    readonly repeat?: number
    /** Revocation state: entries against block ids (revocations, suspensions, amendments in force), and the view's freshness. */
    readonly revocations?: {
      readonly freshAt?: number
      readonly entries: readonly RevocationInput[]
    }
    /** Usage state: `unavailable`, or uses already counted per counter key. */
    readonly usage?: 'unavailable' | Readonly<Record<string, number>>
    /** Extension checkers by type: the answer each gives. */
    readonly extensions?: Readonly<Record<string, boolean>>
  }
  readonly expected: {
    readonly decision: 'allow' | 'deny'
    readonly code?: string
    readonly block?: number
    readonly caveat?: string
    /** The caveat's index in its block's list, or in its amendment's list. */
    readonly caveatIndex?: number
    /** The amendment whose caveat denied (its id); null: the denial names none. */
    readonly amendment?: string | null
    readonly chain?: readonly string[]
  }
}

/** One entry of a vector's revocation view: a revocation or suspension, or an amendment in force (spec §9.2). */
export type RevocationInput =
  | { readonly blockId: string; readonly kind: 'revoke' | 'suspend'; readonly actions?: readonly string[] }
  | {
      readonly blockId: string
      readonly kind: 'amend'
      /** The amendment's id: 64 lower-case hex digits (anything else is an unusable entry). */
      readonly id: string
      /** Hex of the CBOR of the amendment's caveat list. */
      readonly caveats: string
      readonly by?: string
      readonly reason?: string
    }

/** A library-operation vector: the operation must fail with `expected.code`. */
export interface OperationVector {
  readonly id: string
  readonly title: string
  readonly checklist?: string
  readonly kind: 'operation'
  readonly input:
    | { readonly op: 'attenuate'; readonly token: string; readonly keySeed?: string }
    | { readonly op: 'invoke'; readonly token: string; readonly keySeed?: string }
    | { readonly op: 'seal'; readonly token: string }
    | { readonly op: 'parsePublicKey'; readonly text: string }
  readonly expected: { readonly code: string }
}

export type Vector = VerifyVector | OperationVector

/**
 * Codes no vector can carry: a failing feed, store or clock is not a property of token bytes,
 * and a signature of the wrong length cannot be written in a token (every signature is the
 * first 64 bytes of its byte string), so rule 1 of the Ed25519 profile is pinned by the
 * profile's own expected outcomes (`ed25519/expected-strict-profile.json`) instead.
 */
export const UNCOVERED = [
  'ERR_SIG_LENGTH',
  'ERR_REVOCATION_LIST_INVALID',
  'ERR_REVOCATION_ROLLBACK',
  'ERR_REVOCATION_FEED_RESET',
  'ERR_REPLAY_UNAVAILABLE',
  'ERR_APPROVAL_UNAVAILABLE',
  'ERR_APPROVAL_DENIED',
  'ERR_AUDIT_UNAVAILABLE',
  'ERR_CLOCK_UNAVAILABLE',
  'ERR_INTERNAL',
] as const

/** What a vector produced, in the vector's own terms. */
export type Outcome =
  | {
      decision: 'allow' | 'deny'
      code?: string
      block?: number
      caveat?: string
      caveatIndex?: number
      amendment?: string
      chain?: string[]
    }
  | { code: string }

/**
 * The caveats of an amendment entry, from the hex of their list's CBOR, decoded as a block's
 * caveats are (spec §6: a malformed one or one of an unknown type is kept as such, and makes the
 * entry unusable). The library's public API decodes caveats only inside a block, so each caveat
 * is read as the one caveat of an unsigned carrier block with `parseMandate` (structure only,
 * no signature work; one carrier per caveat, so that a block's limit of 32 caveats does not
 * apply). Undefined when the bytes are not a CBOR list: the entry then has no usable caveats.
 */
export function amendmentCaveats(hex: string): DecodedCaveat[] | undefined {
  const bytes = fromHex(hex)
  if (bytes === undefined) return undefined
  let list: unknown
  try {
    list = decodeCbor(bytes)
  } catch {
    return undefined
  }
  if (!Array.isArray(list)) return undefined
  return list.map((item) => {
    const payload = encodeCbor([new Uint8Array(32), true, 0, [item]])
    const carrier = encodeCbor([1, [new Uint8Array(32), concatBytes(new Uint8Array(64), payload)], new Uint8Array(32)])
    return parseMandate(carrier).blocks[0]?.caveats[0] as DecodedCaveat
  })
}

/**
 * The vector's revocation view, answering each block's entries in the order listed, exactly as
 * given: an amendment entry the verifier cannot use (a bad id, caveats that are not a non-empty
 * list of well-formed caveats) is handed over as it is, for the verifier to refuse.
 */
function revocationView(input: VerifyVector['input']): RevocationView {
  const at = input.now - 1
  const byBlock = new Map<string, unknown[]>()
  for (const e of input.revocations?.entries ?? []) {
    const entry =
      e.kind === 'amend'
        ? {
            kind: 'amend',
            id: e.id,
            caveats: amendmentCaveats(e.caveats),
            at,
            ...(e.by === undefined ? {} : { by: e.by }),
            ...(e.reason === undefined ? {} : { reason: e.reason }),
          }
        : { kind: e.kind, at, ...(e.actions ? { actions: [...e.actions] } : {}) }
    byBlock.set(e.blockId, [...(byBlock.get(e.blockId) ?? []), entry])
  }
  const freshAt = input.revocations?.freshAt ?? input.now
  return { freshAt: () => freshAt, entries: (blockId) => byBlock.get(blockId) as RevocationEntry[] | undefined }
}

export async function runVector(v: Vector): Promise<Outcome> {
  if (v.kind === 'operation') return runOperation(v)
  const { input } = v
  const revocations = revocationView(input)
  let usage: UsageStore
  if (input.usage === 'unavailable') {
    usage = {
      consume: () => {
        throw new Error('counter service unreachable')
      },
    }
  } else {
    const memory = createMemoryUsageStore()
    for (const [key, n] of Object.entries(input.usage ?? {})) {
      for (let i = 0; i < n; i++) {
        memory.consume({
          requestId: `pre/${key}/${i}`,
          counters: [{ key, blockId: key.split('/')[0] ?? '', block: 0, caveatIndex: 0, max: Number.MAX_SAFE_INTEGER }],
          now: input.now,
          presentation: new Uint8Array(0),
        })
      }
    }
    usage = memory
  }
  const extensions: Record<number, ExtensionChecker> = {}
  for (const [code, answer] of Object.entries(input.extensions ?? {})) extensions[Number(code)] = () => answer
  const verifier = createVerifier({
    roots: input.roots,
    audience: input.audience,
    clock: () => input.now,
    ...(input.skew === undefined ? {} : { skew: input.skew }),
    ...(input.approvalWait === undefined ? {} : { approvalWait: input.approvalWait }),
    revocations,
    usage,
    extensions,
  })
  let d: Decision | undefined
  for (let i = 0; i < (input.repeat ?? 1); i++) {
    d = await verifier.authorize({
      token: input.token,
      ...(input.request ? { request: input.request } : {}),
      ...(input.approvals ? { approvals: input.approvals } : {}),
    })
  }
  if (!d) throw new Error('repeat must be at least 1')
  if (d.allowed) return { decision: 'allow', chain: d.chain.map((l) => l.name ?? l.key) }
  return {
    decision: 'deny',
    code: d.code,
    ...(d.block === undefined ? {} : { block: d.block }),
    ...(d.caveat === undefined ? {} : { caveat: d.caveat }),
    ...(d.caveatIndex === undefined ? {} : { caveatIndex: d.caveatIndex }),
    ...(d.amendment === undefined ? {} : { amendment: d.amendment.id }),
  }
}

function runOperation(v: OperationVector): Outcome {
  const i = v.input
  try {
    if (i.op === 'parsePublicKey') parsePublicKey(i.text)
    else if (i.op === 'seal') seal(parseMandate(i.token))
    else {
      const m = parseMandate(i.token)
      const key = i.keySeed === undefined ? undefined : fromHex(i.keySeed)
      if (i.op === 'attenuate') attenuate(m, key ? { key } : {})
      else invoke(m, { action: 'a', audience: 'svc', ...(key ? { key } : {}) })
    }
    return { code: 'ok' }
  } catch (e) {
    if (e instanceof MandateError) return { code: e.code }
    throw e
  }
}

/** Does `outcome` match what the vector states? Fields the vector omits are not compared. */
export function matches(v: Vector, outcome: Outcome): boolean {
  if (v.kind === 'operation') return outcome.code === v.expected.code
  const e = v.expected
  const o = outcome as Extract<Outcome, { decision: string }>
  if (o.decision !== e.decision) return false
  if (e.code !== undefined && o.code !== e.code) return false
  if (e.block !== undefined && o.block !== e.block) return false
  if (e.caveat !== undefined && o.caveat !== e.caveat) return false
  if (e.caveatIndex !== undefined && o.caveatIndex !== e.caveatIndex) return false
  // null: the denial names no amendment.
  if (e.amendment !== undefined && o.amendment !== (e.amendment ?? undefined)) return false
  if (e.chain !== undefined && JSON.stringify(o.chain) !== JSON.stringify(e.chain)) return false
  return true
}
