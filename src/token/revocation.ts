/**
 * Revocation statements (spec §9.1): a signed request to revoke, suspend or resume one
 * block, optionally only for some actions; to amend it (add caveats to it, and so to every
 * mandate below it, without reissuing anything); or to lift an amendment.
 *
 *     revocation = bstr: signature (64 bytes) ‖ payload
 *     payload    = { 0: version, 1: chain prefix [principal, + block] (blocks 0..target),
 *                    2: kind (0 revoke, 1 suspend, 2 resume, 3 amend, 4 lift),
 *                    ? 3: actions [+ pattern], 4: signer (bstr 32), 5: nonce (bstr 16),
 *                    6: created (uint), ? 7: reason (tstr), ? 8: audience (tstr),
 *                    ? 9: caveats [+ caveat] (amend), ? 10: lifts (bstr 32, lift) }
 *
 * The target is the last block of the carried prefix. A statement is authorized when its
 * signer signed a block of the prefix (the principal signed block 0; the holder of block k
 * signed block k + 1) or is the target's own holder renouncing it. Nobody below a block can
 * revoke or amend it. An amendment only adds caveats, and every caveat of a chain must hold,
 * so it can only narrow.
 *
 * @module
 */
import { isActionPattern } from '../caveats/action.js'
import { decodeCaveat, encodeCaveat } from '../caveats/codec.js'
import { type Caveat, EXTENSION_MIN } from '../caveats/types.js'
import { type CborValue, encodeCbor } from '../cbor/codec.js'
import { TOKEN_LIMITS } from '../cbor/limits.js'
import type { BackendName, Ed25519Backend } from '../crypto/backend.js'
import { getBackend, verifyOrThrow } from '../crypto/ed25519.js'
import { randomBytes, sha256 } from '../crypto/hash.js'
import { toDidKey } from '../crypto/keys.js'
import { fail } from '../errors.js'
import { equalBytes, fromHex, toHex, utf8 } from '../internal/bytes.js'
import { systemClock } from '../internal/clock.js'
import { joinSigned, type UnverifiedBlock } from './block.js'
import { decodeChain, encodeChain } from './chain.js'
import { checkChain } from './integrity.js'
import { FORMAT_VERSION, type KeyInput, toKeyPair, type UnverifiedMandate } from './mandate.js'
import { decodeEnvelope } from './signed.js'
import { signedMessage } from './signing.js'
import { toText } from './text.js'

/** What a statement does. */
export type RevocationKind = 'revoke' | 'suspend' | 'resume' | 'amend' | 'lift'
/** The kinds by wire number (spec §9.1). */
export const REVOCATION_KINDS: readonly RevocationKind[] = ['revoke', 'suspend', 'resume', 'amend', 'lift']
const KINDS = REVOCATION_KINDS

/** A revocation statement read from bytes or text; nothing checked but its structure. */
export interface UnverifiedRevocation {
  /** SHA-256 of the signature: the statement's idempotency key. */
  readonly id: string
  readonly payload: Uint8Array
  readonly signature: Uint8Array
  readonly chain: readonly UnverifiedBlock[]
  readonly kind: RevocationKind
  readonly actions: readonly string[] | undefined
  readonly signer: Uint8Array
  readonly nonce: Uint8Array
  readonly created: number
  readonly reason: string | undefined
  readonly audience: string | undefined
  /** An amendment's caveats, added to the target block; empty for every other kind. */
  readonly caveats: readonly Caveat[]
  /** A lift: the id (hex) of the amendment statement it lifts. */
  readonly lifts: string | undefined
  readonly bytes: Uint8Array
  /** The target block: the last of the prefix. */
  readonly target: UnverifiedBlock
}

/** Options of {@link createRevocation}. */
export interface RevocationOptions {
  /** The mandate holding the target block. */
  readonly mandate: UnverifiedMandate
  /** Index of the target block (default: the last). */
  readonly block?: number
  /** The signer: the principal or a holder at or above the target. */
  readonly key: KeyInput
  readonly kind?: RevocationKind
  /** Only these action patterns (a scoped revocation or suspension). */
  readonly actions?: readonly string[]
  /** `amend`: the caveats to add to the target (at least one). */
  readonly caveats?: readonly Caveat[]
  /** `lift`: the id (64 hex digits) of the amendment statement to lift. */
  readonly lifts?: string
  readonly reason?: string
  /** The service the statement is meant for. */
  readonly audience?: string
  readonly now?: number
  readonly random?: (length: number) => Uint8Array
  readonly backend?: BackendName
}

/**
 * Sign a revocation statement. Refuses (`ERR_HOLDER_MISMATCH`) a key that could not
 * revoke the target, so that a mistake is caught before it reaches a service.
 *
 * @example
 * ```ts
 * const stmt = createRevocation({ mandate: grant, key: alice, actions: ['slack:send'], reason: 'no posting' })
 * console.log(formatRevocation(stmt)) // mnr1_…
 * ```
 */
export function createRevocation(options: RevocationOptions): UnverifiedRevocation {
  const { mandate } = options
  const index = options.block ?? mandate.blocks.length - 1
  if (!Number.isInteger(index) || index < 0 || index >= mandate.blocks.length) {
    throw new RangeError(`"block" expected 0..${mandate.blocks.length - 1}, got ${index}`)
  }
  const prefix = mandate.blocks.slice(0, index + 1)
  const signer = toKeyPair(options.key, 'key')
  const kind = options.kind ?? 'revoke'
  if (allowedSigner(prefix, signer.publicKey) === undefined) {
    const verb =
      kind === 'amend' ? 'amend' : kind === 'lift' ? 'lift' : kind === 'suspend' ? 'suspend' : kind === 'resume' ? 'resume' : 'revoke'
    fail('ERR_HOLDER_MISMATCH', `this key signed no block at or above block ${index}, and does not hold it`, {
      hint: `${verb} with the principal key or the key of a holder at or above the target${kind === 'lift' ? " (the amendment's signer, or a key above it)" : ''}`,
    })
  }
  if (!KINDS.includes(kind)) throw new TypeError(`"kind" expected one of ${KINDS.join(', ')}, got ${JSON.stringify(kind)}`)
  for (const p of options.actions ?? []) if (!isActionPattern(p)) fail('ERR_REQUEST_INVALID', `not an action pattern: ${JSON.stringify(p)}`)
  const amend = kind === 'amend'
  const lift = kind === 'lift'
  if (options.actions?.length && (amend || lift)) {
    throw new TypeError(`"actions" scopes a revocation or suspension; an ${kind} statement takes none`)
  }
  const caveats = options.caveats ?? []
  if (amend !== caveats.length > 0)
    throw new TypeError(amend ? 'an amendment adds at least one caveat' : `"caveats" belong to an amendment, not to a ${kind}`)
  if (caveats.length > TOKEN_LIMITS.maxCaveats) throw new RangeError(`an amendment adds at most ${TOKEN_LIMITS.maxCaveats} caveats`)
  const lifted = options.lifts === undefined ? undefined : fromHex(options.lifts)
  // Not hex at all is as wrong as the wrong length: either way no id (spec: 32 bytes).
  if (lift !== (options.lifts !== undefined) || (options.lifts !== undefined && lifted?.length !== 32)) {
    throw new TypeError(lift ? '"lifts" names the amendment to lift: its id, 64 hex digits' : `"lifts" belongs to a lift, not to a ${kind}`)
  }
  const m = new Map<number, CborValue>([
    [0, FORMAT_VERSION],
    [1, encodeChain(prefix)],
    [2, KINDS.indexOf(kind)],
  ])
  if (options.actions !== undefined && options.actions.length > 0) m.set(3, [...options.actions])
  m.set(4, signer.publicKey)
  m.set(5, (options.random ?? randomBytes)(16))
  m.set(6, options.now ?? systemClock())
  if (options.reason !== undefined) m.set(7, options.reason)
  if (options.audience !== undefined) m.set(8, options.audience)
  if (amend) m.set(9, caveats.map(encodeCaveat))
  if (lifted !== undefined) m.set(10, lifted)
  const payload = encodeCbor(m)
  const signature = getBackend(options.backend).sign(signer.secretKey, signedMessage('revocation', payload))
  return parseRevocation(encodeCbor(joinSigned(signature, payload)))
}

/** Options of {@link createAmendment}. */
export type AmendmentOptions = Omit<RevocationOptions, 'kind' | 'actions' | 'lifts' | 'caveats'> & {
  /** The caveats every mandate below the target must now also satisfy (1 to 32). */
  readonly caveats: readonly Caveat[]
}

/**
 * Sign an amendment: caveats added to a block already handed on, so that the delegation it
 * heads narrows at once, without reissuing anything. Same authority as a revocation (the
 * principal, a holder at or above the target, or the target's holder restraining itself).
 * Send it to the service like a revocation; verifiers apply it from the feed.
 *
 * @example
 * ```ts
 * const stmt = createAmendment({
 *   mandate: grant, // Alice → assistant, already in the assistant's hands
 *   key: alice,
 *   caveats: [{ type: 'approval', actions: ['calendar:schedule'], approvers: [toDidKey(alice.publicKey)], quorum: 1 }],
 *   reason: 'ask me before scheduling',
 * })
 * console.log(stmt.id, formatRevocation(stmt)) // the amendment id (to lift it later), mnr1_…
 * ```
 */
export function createAmendment(options: AmendmentOptions): UnverifiedRevocation {
  return createRevocation({ ...options, kind: 'amend' })
}

/** Options of {@link createLift}. */
export type LiftOptions = Omit<RevocationOptions, 'kind' | 'actions' | 'caveats' | 'lifts'> & {
  /** The id (64 hex digits) of the amendment to lift. */
  readonly amendment: string
}

/**
 * Sign the lifting of an amendment. `mandate` and `block` name the amendment's target; the
 * service accepts it from the amendment's signer or a key above it in the chain.
 *
 * @example
 * ```ts
 * declare const amendmentId: string // what createAmendment returned as `.id`, or `mandate amend` printed
 * const lifted = createLift({ mandate: grant, key: alice, amendment: amendmentId, reason: 'trip booked' })
 * console.log(formatRevocation(lifted)) // mnr1_…: POST it to the service as a revocation
 * ```
 */
export function createLift(options: LiftOptions): UnverifiedRevocation {
  const { amendment, ...rest } = options
  return createRevocation({ ...rest, kind: 'lift', lifts: amendment })
}

/**
 * The text form, `mnr1_…`.
 *
 * @example
 * ```ts
 * const text = formatRevocation(createRevocation({ mandate: grant, key: alice })) // 'mnr1_…'
 * ```
 */
export function formatRevocation(statement: UnverifiedRevocation): string {
  return toText('revocation', statement.bytes)
}

/**
 * Parse a revocation statement from text or bytes (structure only). Bytes are copied: the
 * caller may reuse its array as soon as this returns.
 *
 * @example
 * ```ts
 * const stmt = parseRevocation('mnr1_…')
 * console.log(stmt.kind, stmt.target.idHex)
 * ```
 */
export function parseRevocation(input: string | Uint8Array): UnverifiedRevocation {
  const { bytes, payload, signature, fields: m } = decodeEnvelope('revocation', input, 10)
  const chain = decodeChain(m.get(1))
  const kindCode = m.get(2)
  const kind = typeof kindCode === 'number' ? KINDS[kindCode] : undefined
  if (kind === undefined) fail('ERR_FORMAT', 'revocation kind must be 0 (revoke), 1 (suspend), 2 (resume), 3 (amend) or 4 (lift)')
  const rawActions = m.get(3)
  let actions: string[] | undefined
  if (rawActions !== undefined) {
    if (!Array.isArray(rawActions) || rawActions.length === 0) fail('ERR_FORMAT', 'revocation actions must be a non-empty list')
    actions = (rawActions as CborValue[]).map((p) => {
      if (typeof p !== 'string' || !isActionPattern(p)) fail('ERR_FORMAT', 'revocation actions must be action patterns')
      return p
    })
  }
  if (actions !== undefined && (kind === 'amend' || kind === 'lift')) fail('ERR_FORMAT', 'an amendment or a lift carries no actions')
  const signer = m.get(4)
  if (!(signer instanceof Uint8Array) || signer.length !== 32) fail('ERR_FORMAT', 'revocation signer must be a 32-byte key')
  const nonce = m.get(5)
  if (!(nonce instanceof Uint8Array) || nonce.length !== 16) fail('ERR_FORMAT', 'revocation nonce must be 16 bytes')
  const created = m.get(6)
  if (typeof created !== 'number' || created < 0) fail('ERR_FORMAT', 'revocation created must be an unsigned integer')
  const reason = optionalText(m.get(7), 'reason')
  const audience = optionalText(m.get(8), 'audience')
  const caveats = amendmentCaveats(m.get(9), kind)
  const rawLifts = m.get(10)
  if ((kind === 'lift') !== (rawLifts !== undefined)) fail('ERR_FORMAT', 'a lift, and only a lift, names the amendment it lifts (key 10)')
  if (rawLifts !== undefined && !(rawLifts instanceof Uint8Array && rawLifts.length === 32)) {
    fail('ERR_FORMAT', 'a lift names an amendment by its 32-byte id')
  }
  return {
    id: toHex(sha256(signature)),
    payload,
    signature,
    chain,
    kind,
    actions,
    signer,
    nonce,
    created,
    reason,
    audience,
    caveats,
    lifts: rawLifts === undefined ? undefined : toHex(rawLifts as Uint8Array),
    bytes,
    target: chain[chain.length - 1] as UnverifiedBlock,
  }
}

/**
 * An amendment's caveats (key 9): present exactly on an amendment, 1 to 32 of them, each
 * well-formed and of a known type or an extension. A block may carry a caveat this verifier
 * does not know and be denied for it; an amendment is checked when it is accepted, so a
 * malformed one never reaches a feed.
 */
function amendmentCaveats(raw: CborValue | undefined, kind: RevocationKind): Caveat[] {
  if ((kind === 'amend') !== (raw !== undefined)) fail('ERR_FORMAT', 'an amendment, and only an amendment, carries caveats (key 9)')
  if (raw === undefined) return []
  if (!Array.isArray(raw) || raw.length === 0) fail('ERR_FORMAT', 'an amendment carries a non-empty list of caveats')
  if (raw.length > TOKEN_LIMITS.maxCaveats) fail('ERR_LIMIT_COUNT', `an amendment adds at most ${TOKEN_LIMITS.maxCaveats} caveats`)
  return (raw as CborValue[]).map((item, i) => {
    const c = decodeCaveat(item)
    if (c.type === 'invalid') fail('ERR_CAVEAT_INVALID', `amendment caveat ${i}: ${c.reason}`, { caveatIndex: i })
    if (c.type === 'unknown') {
      fail('ERR_CAVEAT_UNKNOWN', `amendment caveat ${i}: unknown caveat type ${c.code}`, {
        caveatIndex: i,
        hint: `core types are 1–10; an application's own caveat uses a type from ${EXTENSION_MIN}`,
      })
    }
    // One that decodes but does not encode again (a window that ends before it starts) is
    // malformed too: the service stores, publishes and audits an amendment's caveats re-encoded,
    // and a view persists them so; accepted, it failed there (a 503 instead of a 400).
    try {
      encodeCaveat(c)
    } catch (e) {
      fail('ERR_CAVEAT_INVALID', `amendment caveat ${i}: ${e instanceof Error ? e.message : String(e)}`, { caveatIndex: i })
    }
    return c
  })
}

/**
 * Check a statement's signatures and authority: every block signature of the prefix (block 0
 * under the principal its chain names, each block bound to its parent), the statement signature, and that the signer may
 * revoke the target. Throws a `MandateError`: `ERR_SIG_*` for bad
 * signatures, `ERR_HOLDER_MISMATCH` for a signer without authority (a descendant, say).
 * Whether the principal is trusted is the caller's business.
 *
 * @example
 * ```ts
 * const { signerRole } = verifyRevocation(parseRevocation(text))
 * ```
 */
export function verifyRevocation(statement: UnverifiedRevocation, backend: Ed25519Backend = getBackend()): { signerRole: string } {
  const chain = statement.chain
  checkChain(chain, backend)
  verifyOrThrow(backend, statement.signature, signedMessage('revocation', statement.payload), statement.signer, 'revocation statement')
  const role = allowedSigner(chain, statement.signer)
  if (role === undefined) {
    fail('ERR_HOLDER_MISMATCH', `${toDidKey(statement.signer)} signed no block at or above the target and does not hold it`)
  }
  return { signerRole: role }
}

/**
 * How much authority `key` has over the last block of `prefix`: −1 for the principal, k for
 * the holder of block k (so the target's own holder has the least), undefined for none.
 * A suspension can only be lifted by its signer or a key with more authority.
 *
 * @example
 * ```ts
 * const statement = parseRevocation(text)
 * authorityLevel(statement.chain, alice.publicKey) // -1 if alice is the principal, undefined if she has no authority
 * ```
 */
export function authorityLevel(prefix: readonly UnverifiedBlock[], key: Uint8Array): number | undefined {
  if (equalBytes(prefix[0]?.principal as Uint8Array, key)) return -1
  return prefix.find((b) => equalBytes(b.holder, key))?.index
}

/** Which role lets `key` revoke the last block of `prefix`, if any. */
function allowedSigner(prefix: readonly UnverifiedBlock[], key: Uint8Array): string | undefined {
  if (equalBytes(prefix[0]?.principal as Uint8Array, key)) return 'principal'
  for (const b of prefix) {
    if (equalBytes(b.holder, key)) return b.index === prefix.length - 1 ? 'holder (renouncing)' : `holder of block ${b.index}`
  }
  return undefined
}

function optionalText(v: CborValue | undefined, what: string): string | undefined {
  if (v === undefined) return undefined
  if (typeof v !== 'string') fail('ERR_FORMAT', `revocation ${what} must be short text`)
  // Stryker disable next-line ConditionalExpression,StringLiteral: equivalent — the CBOR decoder refuses a text of more than 1024 bytes first (ERR_LIMIT_SIZE); kept should that limit ever be raised
  if (utf8(v).length > 1024) fail('ERR_FORMAT', `revocation ${what} must be short text`)
  return v
}
