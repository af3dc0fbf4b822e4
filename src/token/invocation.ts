/**
 * Invocations (spec §5.7): a request to use a mandate, signed by its last holder.
 *
 *     invocation = bstr: signature (64 bytes) ‖ payload
 *     payload    = { 0: version, 1: chain, 2: action, 3: resource?, 4: args?, 5: audience,
 *                    6: nonce (bstr 16), 7: issued_at, 8: intent? }
 *
 * The chain is carried without its proof: a bearer secret never leaves its holder. The
 * invocation's id is SHA-256 of its signature; approvals sign that id.
 *
 * @module
 */

import { isActionName } from '../caveats/action.js'
import { decodeArgs, encodeArgs } from '../caveats/args.js'
import { isResourceName } from '../caveats/resource.js'
import type { Args } from '../caveats/types.js'
import { type CborValue, encodeCbor } from '../cbor/codec.js'
import type { BackendName } from '../crypto/backend.js'
import { getBackend } from '../crypto/ed25519.js'
import { randomBytes, sha256 } from '../crypto/hash.js'
import { fail } from '../errors.js'
import { abytes, toHex } from '../internal/bytes.js'
import { systemClock } from '../internal/clock.js'
import { joinSigned, type UnverifiedBlock } from './block.js'
import { decodeChain, encodeChain, type KnownChains } from './chain.js'
import { FORMAT_VERSION, givenHolderKey, type KeyInput, lastBlock, type UnverifiedMandate } from './mandate.js'
import { decodeEnvelope } from './signed.js'
import { signedMessage } from './signing.js'
import { toText } from './text.js'

/** What is being asked for. */
export interface Request {
  /** A concrete action, e.g. `email:draft`. */
  readonly action: string
  /** The resource acted on, e.g. `mail/drafts/42`. */
  readonly resource?: string
  /** Arguments that `where` caveats inspect. */
  readonly args?: Args
}

/** An invocation read from bytes or text; its signature has not been checked. */
export interface UnverifiedInvocation {
  readonly id: Uint8Array
  readonly idHex: string
  readonly payload: Uint8Array
  readonly signature: Uint8Array
  readonly chain: readonly UnverifiedBlock[]
  readonly action: string
  readonly resource: string | undefined
  readonly args: Args
  readonly audience: string
  readonly nonce: Uint8Array
  readonly issuedAt: number
  readonly intent: string | undefined
  /** The exact encoding; do not change it (parsed from text, the byte fields above are views of it). */
  readonly bytes: Uint8Array
}

/** Options of {@link invoke}. */
export interface InvokeOptions extends Request {
  /** The service that will verify it; must equal the verifier's audience. */
  readonly audience: string
  /**
   * The holder's key; needed when the mandate is bound. A bearer mandate's own secret signs: a
   * key given with one must be its holder's (`ERR_HOLDER_MISMATCH` otherwise).
   */
  readonly key?: KeyInput
  /** Why the agent does this, in its own words; shown to approvers and in audit records. */
  readonly intent?: string
  readonly now?: number
  readonly random?: (length: number) => Uint8Array
  readonly backend?: BackendName
}

/**
 * Sign an invocation of `mandate` as its last holder.
 *
 * @example
 * ```ts
 * const inv = invoke(grant, { key: assistant, action: 'email:read', resource: 'mail/inbox/1', audience: 'mail' })
 * console.log(formatInvocation(inv)) // mni1_…
 * ```
 */
export function invoke(mandate: UnverifiedMandate, options: InvokeOptions): UnverifiedInvocation {
  if (!isActionName(options.action)) {
    fail('ERR_REQUEST_INVALID', `not an action name: ${JSON.stringify(options.action)}`, {
      hint: 'actions are :-separated lowercase segments of a-z 0-9 _ . - like email:read',
    })
  }
  if (options.resource !== undefined && !isResourceName(options.resource)) {
    fail('ERR_REQUEST_INVALID', 'the resource is not a valid resource string', {
      hint: 'a resource is /-separated non-empty segments, none "." or "..", without control characters, "\\" or %2f/%5c/%2e, at most 1024 bytes',
    })
  }
  const last = lastBlock(mandate)
  if (typeof options.audience !== 'string' || options.audience.length === 0) throw new TypeError('"audience" expected a non-empty string')
  let secret: Uint8Array
  if (mandate.proof.kind === 'bearer') {
    if (options.key !== undefined) givenHolderKey(options.key, last.holder)
    secret = mandate.proof.secret
  } else if (mandate.proof.kind === 'sealed') {
    fail('ERR_SEALED', 'a sealed mandate cannot sign invocations', { hint: 'present the sealed mandate itself' })
  } else {
    if (options.key === undefined) fail('ERR_HOLDER_MISMATCH', 'this mandate is bound; the holder key is needed', { hint: 'pass --key' })
    secret = givenHolderKey(options.key, last.holder).secretKey
  }
  const random = options.random ?? randomBytes
  const m = new Map<number, CborValue>([
    [0, FORMAT_VERSION],
    [1, encodeChain(mandate.blocks)],
    [2, options.action],
  ])
  if (options.resource !== undefined) m.set(3, options.resource)
  if (options.args !== undefined && Object.keys(options.args).length > 0) m.set(4, encodeArgs(options.args))
  m.set(5, options.audience)
  m.set(6, abytes(random(16), 16, 'random(16)'))
  m.set(7, options.now ?? systemClock())
  if (options.intent !== undefined) m.set(8, options.intent)
  const payload = encodeCbor(m)
  const signature = getBackend(options.backend).sign(secret, signedMessage('invocation', payload), last.holder)
  return parseInvocation(encodeCbor(joinSigned(signature, payload)))
}

/**
 * The text form, `mni1_…`.
 *
 * @example
 * ```ts
 * const text = formatInvocation(invocation) // 'mni1_…'
 * ```
 */
export function formatInvocation(invocation: UnverifiedInvocation): string {
  return toText('invocation', invocation.bytes)
}

/**
 * Parse an invocation from text or bytes (structure only, no signature checked). Bytes are
 * copied: the caller may reuse its array as soon as this returns.
 *
 * @example
 * ```ts
 * const inv = parseInvocation('mni1_…')
 * console.log(inv.action, inv.audience)
 * ```
 */
export function parseInvocation(input: string | Uint8Array): UnverifiedInvocation {
  return readInvocation(input, undefined)
}

/** {@link parseInvocation}, taking a chain `known` decodes to from its exact bytes (the verifier's cache). */
export function readInvocation(input: string | Uint8Array, known: KnownChains | undefined): UnverifiedInvocation {
  const { bytes, payload, signature, fields: m } = decodeEnvelope('invocation', input, 8)
  const chain = decodeChain(m.get(1), known)
  const action = m.get(2)
  if (typeof action !== 'string') fail('ERR_FORMAT', 'invocation action must be text')
  const resource = m.get(3)
  if (resource !== undefined && typeof resource !== 'string') fail('ERR_FORMAT', 'invocation resource must be text')
  const rawArgs = m.get(4)
  if (Array.isArray(rawArgs) && rawArgs.length === 0) fail('ERR_CBOR_NONCANONICAL', 'empty args must be omitted')
  const args = rawArgs === undefined ? Object.create(null) : decodeArgs(rawArgs)
  const audience = m.get(5)
  if (typeof audience !== 'string') fail('ERR_FORMAT', 'invocation audience must be text')
  const nonce = m.get(6)
  if (!(nonce instanceof Uint8Array) || nonce.length !== 16) fail('ERR_FORMAT', 'invocation nonce must be 16 bytes')
  const issuedAt = m.get(7)
  if (typeof issuedAt !== 'number' || issuedAt < 0) fail('ERR_FORMAT', 'invocation issued_at must be an unsigned integer')
  const intent = m.get(8)
  if (intent !== undefined && typeof intent !== 'string') fail('ERR_FORMAT', 'invocation intent must be text')
  // Text fields are at most 1,024 bytes: the payload's decoder (CBOR_LIMITS.maxTextBytes) refused longer ones.
  const id = sha256(signature)
  return {
    id,
    idHex: toHex(id),
    payload,
    signature,
    chain,
    action,
    resource,
    args,
    audience,
    nonce,
    issuedAt,
    intent,
    bytes,
  }
}
