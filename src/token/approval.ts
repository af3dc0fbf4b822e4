/**
 * Approvals (spec §5.8): a human approver's signature over one invocation's id.
 *
 *     approval = bstr: signature (64 bytes) ‖ payload
 *     payload  = { 0: version, 1: invocation id (bstr 32), 2: approver (bstr 32),
 *                  3: issued_at, 4: expires, 5: note? }
 *
 * @module
 */
import { type CborValue, encodeCbor } from '../cbor/codec.js'
import { TOKEN_LIMITS } from '../cbor/limits.js'
import type { BackendName } from '../crypto/backend.js'
import { getBackend } from '../crypto/ed25519.js'
import { type Ed25519Signer, signWith } from '../crypto/signer.js'
import { fail } from '../errors.js'
import { abytes, utf8 } from '../internal/bytes.js'
import { systemClock } from '../internal/clock.js'
import { joinSigned } from './block.js'
import type { UnverifiedInvocation } from './invocation.js'
import { FORMAT_VERSION, type KeyInput, toKeyPair } from './mandate.js'
import { decodeEnvelope } from './signed.js'
import { signedMessage, signingInput } from './signing.js'
import { toText } from './text.js'

/** An approval read from bytes or text; its signature has not been checked. */
export interface UnverifiedApproval {
  readonly payload: Uint8Array
  readonly signature: Uint8Array
  readonly invocationId: Uint8Array
  readonly approver: Uint8Array
  readonly issuedAt: number
  readonly expires: number
  readonly note: string | undefined
  readonly bytes: Uint8Array
}

/** Options of {@link approve}. */
export interface ApproveOptions {
  /** The approver's key. */
  readonly approver: KeyInput
  /** What is approved: the invocation, or its 32-byte id. */
  readonly invocation: UnverifiedInvocation | Uint8Array
  /** Seconds the approval stays usable (default 600). */
  readonly ttl?: number
  /** A note for the audit record. */
  readonly note?: string
  readonly now?: number
  readonly backend?: BackendName
}

/**
 * Approve one invocation.
 *
 * @example
 * ```ts
 * const ok = approve({ approver: alice, invocation, ttl: 300 })
 * console.log(formatApproval(ok)) // mna1_…
 * ```
 */
export function approve(options: ApproveOptions): UnverifiedApproval {
  const pair = toKeyPair(options.approver, 'approver')
  const payload = approvalPayload(pair.publicKey, options)
  const signature = getBackend(options.backend).sign(pair.secretKey, signedMessage('approval', payload))
  return parseApproval(encodeCbor(joinSigned(signature, payload)))
}

/** Options of {@link approveWith}: those of {@link approve}, the approver being a signer. */
export interface ApproveWithOptions extends Omit<ApproveOptions, 'approver' | 'backend'> {
  /** The approver's key, which signs without showing its secret (a non-extractable WebCrypto key…). */
  readonly approver: Ed25519Signer
}

/**
 * {@link approve} with a key that never shows its secret ({@link Ed25519Signer}): the same
 * approval, byte for byte, for the same key and times. The signer's signature is checked
 * against its public key before the approval is made (`RangeError` otherwise).
 *
 * @example
 * ```ts
 * const ok = await approveWith({ approver: signer, invocation: parseInvocation(request.invocation) })
 * console.log(formatApproval(ok)) // mna1_…
 * ```
 */
export async function approveWith(options: ApproveWithOptions): Promise<UnverifiedApproval> {
  const publicKey = abytes(options.approver?.publicKey, 32, 'approver publicKey')
  const payload = approvalPayload(publicKey, options)
  // The caller's signer gets an array of its own (signingInput), never a view of the shared slab.
  const signature = await signWith(options.approver, signingInput('approval', payload))
  return parseApproval(encodeCbor(joinSigned(signature, payload)))
}

/** The payload an approver signs: version, invocation id, its key, issued_at, expires, note. */
function approvalPayload(approver: Uint8Array, options: Omit<ApproveOptions, 'approver'>): Uint8Array {
  const id = options.invocation instanceof Uint8Array ? abytes(options.invocation, 32, 'invocation') : options.invocation.id
  const now = options.now ?? systemClock()
  const ttl = options.ttl ?? 600
  if (!Number.isSafeInteger(ttl) || ttl <= 0) throw new RangeError(`"ttl" expected a positive integer, got ${ttl}`)
  const m = new Map<number, CborValue>([
    [0, FORMAT_VERSION],
    [1, id],
    [2, approver],
    [3, now],
    [4, now + ttl],
  ])
  if (options.note !== undefined) m.set(5, options.note)
  return encodeCbor(m)
}

/**
 * The text form, `mna1_…`.
 *
 * @example
 * ```ts
 * const text = formatApproval(approve({ approver: alice, invocation })) // 'mna1_…'
 * ```
 */
export function formatApproval(approval: UnverifiedApproval): string {
  return toText('approval', approval.bytes)
}

/**
 * Parse an approval from text or bytes (structure only). Bytes are copied: the caller may reuse
 * its array as soon as this returns.
 *
 * @example
 * ```ts
 * const a = parseApproval('mna1_…')
 * ```
 */
export function parseApproval(input: string | Uint8Array): UnverifiedApproval {
  const { bytes, payload, signature, fields: m } = decodeEnvelope('approval', input, 5)
  const invocationId = m.get(1)
  const approver = m.get(2)
  const issuedAt = m.get(3)
  const expires = m.get(4)
  const note = m.get(5)
  if (!(invocationId instanceof Uint8Array) || invocationId.length !== 32) fail('ERR_FORMAT', 'approval invocation id must be 32 bytes')
  if (!(approver instanceof Uint8Array) || approver.length !== 32) fail('ERR_FORMAT', 'approver must be a 32-byte key')
  if (typeof issuedAt !== 'number' || typeof expires !== 'number' || issuedAt < 0 || expires <= issuedAt) {
    fail('ERR_FORMAT', 'approval times must satisfy 0 ≤ issued_at < expires')
  }
  if (note !== undefined) {
    if (typeof note !== 'string') fail('ERR_FORMAT', 'approval note must be short text')
    // Stryker disable next-line ConditionalExpression,StringLiteral: equivalent — the CBOR decoder refuses a text of more than 1024 bytes (maxStringBytes) first (ERR_LIMIT_SIZE); kept should that limit ever be raised
    if (utf8(note).length > TOKEN_LIMITS.maxStringBytes) fail('ERR_FORMAT', 'approval note must be short text')
  }
  return { payload, signature, invocationId, approver, issuedAt, expires, note, bytes }
}
