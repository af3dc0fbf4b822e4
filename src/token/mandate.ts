/**
 * Mandates (spec §3, §5.3): mint a root, attenuate, seal, and the text form.
 *
 *     mandate = [version (1), chain, proof?]
 *     chain   = [principal (bstr 32), block+]
 *     proof   = bstr 32     ; bearer: the last holder's secret travels along
 *             / bstr 64     ; sealed: usable, no longer attenuable
 *                           ; absent: bound, the holder proves itself by signing
 *
 * @module
 */

import { encodeCaveat } from '../caveats/codec.js'
import type { Caveat } from '../caveats/types.js'
import { type CborValue, decodeOwnedCbor, encodeCbor } from '../cbor/codec.js'
import { TOKEN_LIMITS } from '../cbor/limits.js'
import type { BackendName } from '../crypto/backend.js'
import { getBackend, signWithBackend } from '../crypto/ed25519.js'
import { randomBytes } from '../crypto/hash.js'
import { type KeyPair, keyPairFromSecret, parsePublicKey } from '../crypto/keys.js'
import { fail } from '../errors.js'
import { abytes, equalBytes, toHex, utf8 } from '../internal/bytes.js'
import { systemClock } from '../internal/clock.js'
import { type BlockContent, decodeBlock, encodeBlockPayload, joinSigned, type UnverifiedBlock } from './block.js'
import { decodeChain, encodeChain, extendDecoded, type KnownChains, wasDecoded } from './chain.js'
import { blockSigningInput, signedMessage } from './signing.js'
import { ownBytes, toText } from './text.js'

/** The format version this library writes and reads. */
export const FORMAT_VERSION = 1

/** How the last holder proves itself. */
export type Proof =
  | { readonly kind: 'bearer'; readonly secret: Uint8Array }
  | { readonly kind: 'sealed'; readonly signature: Uint8Array }
  | { readonly kind: 'bound' }

/**
 * A mandate read from bytes or text, or just built. Nothing about it has been verified:
 * only a verifier (with its trusted roots) turns it into a decision.
 */
export interface UnverifiedMandate {
  readonly version: number
  readonly blocks: readonly UnverifiedBlock[]
  readonly proof: Proof
  /** The exact encoding; do not change it (parsed from text, the byte fields above are views of it). */
  readonly bytes: Uint8Array
}

/** A key given as a key pair or as its 32-byte secret. */
export type KeyInput = KeyPair | Uint8Array

/** A holder: a public key as `did:key` (or any form {@link parsePublicKey} takes) or bytes. */
export type HolderInput = string | Uint8Array

/** Options shared by mint and attenuate. */
export interface BlockOptions {
  /** The next holder. Omitted: a fresh bearer key, whose secret travels in the mandate. */
  readonly to?: HolderInput
  /** Conditions of this block. They can only narrow what the chain above allows. */
  readonly caveats?: readonly Caveat[]
  /** A human label for the holder (`"assistant"`), shown in the accountability chain. */
  readonly name?: string
  /** Why this delegation exists, shown in the accountability chain. */
  readonly purpose?: string
  /** Issue time in Unix seconds (default: now). */
  readonly now?: number
  /** Randomness for the block nonce and bearer keys (default: the platform CSPRNG). */
  readonly random?: (length: number) => Uint8Array
  readonly backend?: BackendName
}

/** Options of {@link mint}. */
export interface MintOptions extends BlockOptions {
  /** The principal's key; it signs the root block. */
  readonly principal: KeyInput
  /** Longest allowed root lifetime in seconds (default 90 days). */
  readonly maxLifetime?: number
}

/** Default longest root lifetime: 90 days. */
export const DEFAULT_MAX_LIFETIME = 90 * 24 * 3600

/**
 * Mint a root mandate. The root must carry a `window` caveat with an expiry.
 *
 * @example
 * ```ts
 * const alice = generateKeyPair()
 * const assistant = generateKeyPair()
 * const root = mint({
 *   principal: alice,
 *   to: toDidKey(assistant.publicKey),
 *   name: 'assistant',
 *   caveats: [
 *     { type: 'actions', patterns: ['email:read', 'calendar:*'] },
 *     { type: 'window', expires: Math.floor(Date.now() / 1000) + 8 * 3600 },
 *   ],
 * })
 * console.log(formatMandate(root)) // mnd1_…
 * ```
 */
export function mint(options: MintOptions): UnverifiedMandate {
  const principal = toKeyPair(options.principal, 'principal')
  const now = options.now ?? systemClock()
  const caveats = caveatList(options.caveats)
  const expiry = Math.min(...caveats.flatMap((c) => (c?.type === 'window' && c.expires !== undefined ? [c.expires] : [])))
  if (!Number.isFinite(expiry)) {
    fail('ERR_TIME_INVALID', 'a root mandate must carry an expiry', { hint: 'add a window caveat with `expires` (CLI: --expires 8h)' })
  }
  const start = Math.max(now, ...caveats.flatMap((c) => (c?.type === 'window' && c.notBefore !== undefined ? [c.notBefore] : [])))
  const maxLifetime = options.maxLifetime ?? DEFAULT_MAX_LIFETIME
  if (expiry - start > maxLifetime) {
    fail('ERR_TIME_INVALID', `root lifetime ${expiry - start}s exceeds the maximum of ${maxLifetime}s`)
  }
  return appendBlock([], principal, undefined, options, now)
}

/** A block's caveats as given: none, or a list (its items are checked as each is encoded). */
function caveatList(caveats: readonly Caveat[] | undefined): readonly Caveat[] {
  if (caveats === undefined) return []
  if (!Array.isArray(caveats)) throw new TypeError('"caveats" expected a list of caveats')
  return caveats
}

/** Options of {@link attenuate}. */
export interface AttenuateOptions extends BlockOptions {
  /**
   * The current holder's key; needed when the mandate is bound. A bearer mandate's own secret
   * signs: a key given with one must be its holder's (`ERR_HOLDER_MISMATCH` otherwise).
   */
  readonly key?: KeyInput
}

/**
 * Append a block that narrows `mandate` and names the next holder. Works offline.
 *
 * @example
 * ```ts
 * const child = attenuate(grant, {
 *   key: assistant,                 // grant is bound to the assistant
 *   caveats: [{ type: 'actions', patterns: ['slack:read'] }, { type: 'uses', max: 3 }],
 *   name: 'sub-agent',
 * })                                // no `to`: a bearer mandate
 * ```
 */
export function attenuate(mandate: UnverifiedMandate, options: AttenuateOptions = {}): UnverifiedMandate {
  const last = lastBlock(mandate)
  if (mandate.blocks.length >= TOKEN_LIMITS.maxBlocks) {
    fail('ERR_CHAIN_DEPTH', `a chain holds at most ${TOKEN_LIMITS.maxBlocks} blocks`)
  }
  mandate.blocks.forEach((b, i) => {
    for (const c of b.caveats) {
      if (c.type === 'depth' && mandate.blocks.length - i > c.max) {
        fail('ERR_CHAIN_DEPTH', `block ${i} allows at most ${c.max} further block(s)`, { block: i, caveat: 'depth' })
      }
      if (c.type === 'bound' && options.to === undefined) {
        fail('ERR_BOUND_REQUIRED', `block ${i} requires bound holders below it`, {
          block: i,
          caveat: 'bound',
          hint: 'name the next holder with `to` (CLI: --to did:key:…)',
        })
      }
    }
  })
  return appendBlock(mandate.blocks, holderKeys(mandate, options.key), last.id, options, options.now ?? systemClock())
}

/**
 * Seal a bearer mandate: replace the bearer secret with a signature, so that the mandate can
 * still be presented bare but no longer attenuated or used to sign invocations (spec §3, §8).
 *
 * Only a bearer mandate can be sealed: a sealed mandate is used by whoever holds its text,
 * which a block naming a bound holder (`bearer: false`) says cannot happen. Sealing a bound
 * mandate throws `ERR_PROOF` (a verifier denies such a seal with the same code); a bound
 * holder presents its mandate in an invocation, or attenuates it to a bearer child to hand on.
 *
 * @example
 * ```ts
 * const child = attenuate(grant, { key: assistant }) // no `to`: a bearer mandate
 * const sealed = seal(child)
 * ```
 */
export function seal(mandate: UnverifiedMandate, options: { readonly backend?: BackendName } = {}): UnverifiedMandate {
  const last = lastBlock(mandate)
  if (mandate.proof.kind === 'bound') {
    fail('ERR_PROOF', 'only a bearer mandate can be sealed; this one is bound to its holder key', {
      block: last.index,
      hint: 'present it in an invocation signed by the holder key, or attenuate it to a bearer child and seal that',
    })
  }
  const holder = holderKeys(mandate, undefined)
  const signature = getBackend(options.backend).sign(holder.secretKey, signedMessage('seal', last.id), holder.publicKey)
  return assemble(mandate.blocks, undefined, { kind: 'sealed', signature })
}

/**
 * The text form, `mnd1_…`. A bearer mandate's text is a secret: whoever has it can use it.
 *
 * @example
 * ```ts
 * const text = formatMandate(grant) // 'mnd1_…'
 * ```
 */
export function formatMandate(mandate: UnverifiedMandate): string {
  return toText('mandate', mandate.bytes)
}

/**
 * Parse a mandate from its text form or bytes. Checks size, the strict CBOR profile, the
 * version and the structure of every block; verifies no signature. Bytes are copied: the
 * caller may reuse its array as soon as this returns.
 *
 * @example
 * ```ts
 * const m = parseMandate('mnd1_…')
 * console.log(m.blocks.length)
 * ```
 */
export function parseMandate(input: string | Uint8Array): UnverifiedMandate {
  return readMandate(input, undefined)
}

/** {@link parseMandate}, taking a chain `known` decodes to from its exact bytes (the verifier's cache). */
export function readMandate(input: string | Uint8Array, known: KnownChains | undefined): UnverifiedMandate {
  const bytes = ownBytes('mandate', input)
  const top = decodeOwnedCbor(bytes)
  if (!Array.isArray(top) || top.length === 0) fail('ERR_FORMAT', 'a mandate is [version, chain, proof?]')
  const fields = top as CborValue[]
  if (fields[0] !== FORMAT_VERSION) {
    const found = typeof fields[0] === 'number' ? { found: fields[0] } : {}
    fail('ERR_VERSION', `unsupported mandate version ${describe(fields[0])}; this library reads ${FORMAT_VERSION}`, {
      details: { supported: [FORMAT_VERSION], ...found },
    })
  }
  if (fields.length > 3) fail('ERR_FORMAT', 'a mandate is [version, chain, proof?]: unknown element 3')
  if (fields.length < 2) fail('ERR_FORMAT', 'a mandate is [version, chain, proof?]: the chain is missing')
  const blocks = decodeChain(fields[1], known)
  const proof = decodeProof(fields[2], fields.length === 3)
  return { version: FORMAT_VERSION, blocks, proof, bytes }
}

function describe(v: CborValue | undefined): string {
  return typeof v === 'number' || typeof v === 'boolean' || typeof v === 'string' ? JSON.stringify(v) : 'of another type'
}

/** The proof is typed by its length: 32 bytes a bearer secret, 64 a seal, absent bound. */
function decodeProof(raw: CborValue | undefined, present: boolean): Proof {
  if (!present) return { kind: 'bound' }
  if (!(raw instanceof Uint8Array)) fail('ERR_FORMAT', 'the proof is a byte string')
  if (raw.length === 32) return { kind: 'bearer', secret: raw }
  if (raw.length === 64) return { kind: 'sealed', signature: raw }
  fail('ERR_PROOF', `a proof of ${raw.length} bytes: a bearer secret is 32 bytes, a seal 64`)
}

/**
 * The mandate of `blocks` (plus `added`, just made) and `proof`. Blocks that came from decoding
 * are taken as they are; anything else (an object built by hand) is read again from the bytes,
 * so that a mandate's fields are always the reading of its bytes.
 */
function assemble(blocks: readonly UnverifiedBlock[], added: UnverifiedBlock | undefined, proof: Proof): UnverifiedMandate {
  const all = added === undefined ? blocks : [...blocks, added]
  const fields: CborValue[] = [FORMAT_VERSION, encodeChain(all)]
  if (proof.kind === 'bearer') fields.push(proof.secret)
  if (proof.kind === 'sealed') fields.push(proof.signature)
  const bytes = encodeCbor(fields)
  if (bytes.length > TOKEN_LIMITS.maxTokenBytes) fail('ERR_LIMIT_SIZE', `mandate would exceed ${TOKEN_LIMITS.maxTokenBytes} bytes`)
  // Stryker disable next-line ConditionalExpression,LogicalOperator,EqualityOperator: equivalent — reading the mandate again from its bytes gives the same blocks (only slower)
  if (blocks.length > 0 && !wasDecoded(blocks)) return parseMandate(bytes)
  return { version: FORMAT_VERSION, blocks: extendDecoded(blocks, added), proof, bytes }
}

function appendBlock(
  blocks: readonly UnverifiedBlock[],
  signer: KeyPair,
  parent: Uint8Array | undefined,
  options: BlockOptions,
  now: number,
): UnverifiedMandate {
  // A bound caveat covers its own block (spec §6.11): refuse early what a verifier would deny.
  const caveats = caveatList(options.caveats)
  if (options.to === undefined && caveats.some((c) => c?.type === 'bound')) {
    fail('ERR_BOUND_REQUIRED', `block ${blocks.length} carries a bound caveat, so its own holder must be bound too`, {
      block: blocks.length,
      caveat: 'bound',
      hint: 'name the holder with `to` (CLI: --to did:key:…)',
    })
  }
  const random = options.random ?? randomBytes
  const backend = getBackend(options.backend)
  let holder: Uint8Array
  let bearerSecret: Uint8Array | undefined
  if (options.to === undefined) {
    bearerSecret = abytes(random(32), 32, 'random(32)')
    holder = backend.publicKey(bearerSecret)
  } else {
    holder = typeof options.to === 'string' ? parsePublicKey(options.to) : parsePublicKey(toHexKey(options.to))
  }
  checkText(options.name, 'name')
  checkText(options.purpose, 'purpose')
  const content: BlockContent = {
    holder,
    bearer: bearerSecret !== undefined,
    caveats: caveats.map(encodeCaveat),
    name: options.name,
    purpose: options.purpose,
    // A bearer holder key is fresh, so its block is unique without one (spec §5.2).
    nonce: bearerSecret === undefined ? abytes(random(16), 16, 'random(16)') : undefined,
    issuedAt: now,
  }
  if (content.caveats.length > TOKEN_LIMITS.maxCaveats) fail('ERR_LIMIT_COUNT', `at most ${TOKEN_LIMITS.maxCaveats} caveats per block`)
  const payload = encodeBlockPayload(content)
  const signature = signWithBackend(backend, signer.secretKey, blockSigningInput(parent, payload), signer.publicKey)
  const principal = blocks[0]?.principal ?? signer.publicKey
  const block = decodeBlock(joinSigned(signature, payload), blocks.length, principal)
  const proof: Proof = bearerSecret ? { kind: 'bearer', secret: bearerSecret } : { kind: 'bound' }
  return assemble(blocks, block, proof)
}

/**
 * The last holder's keys. A bearer secret is taken with the holder key its block names, not
 * re-derived: the key only spares the signer a derivation, and a secret that does not match it
 * signs a block no verifier accepts.
 */
function holderKeys(mandate: UnverifiedMandate, key: KeyInput | undefined): KeyPair {
  const last = lastBlock(mandate)
  if (mandate.proof.kind === 'sealed') {
    fail('ERR_SEALED', 'this mandate is sealed and cannot be attenuated or resealed', {
      hint: 'ask the holder above for an unsealed mandate',
    })
  }
  if (mandate.proof.kind === 'bearer') {
    if (key !== undefined) givenHolderKey(key, last.holder)
    return { secretKey: mandate.proof.secret, publicKey: last.holder }
  }
  if (key === undefined) {
    fail('ERR_HOLDER_MISMATCH', 'this mandate is bound to a holder key, which is needed here', {
      hint: 'pass the holder key (CLI: --key FILE)',
    })
  }
  return givenHolderKey(key, last.holder)
}

/**
 * A key given to sign as the holder named `holder`, refused unless it is that holder's. With a
 * bearer mandate too, whose own secret signs: whoever gave a key meant it to sign, and the
 * secret signing in its place would pass without a word (the MCP guard refuses it as well).
 * @internal
 */
export function givenHolderKey(key: KeyInput, holder: Uint8Array): KeyPair {
  const pair = toKeyPair(key, 'key')
  if (!equalBytes(pair.publicKey, holder)) {
    fail('ERR_HOLDER_MISMATCH', 'the key given is not the holder of this mandate', { hint: 'use the key the mandate was granted to' })
  }
  return pair
}

/** The holder's block of `mandate`; a text where a parsed mandate belongs is named as such. */
export function lastBlock(mandate: UnverifiedMandate): UnverifiedBlock {
  // A token's text, read from a file or a flag, is the first thing passed here by mistake.
  if (typeof mandate === 'string') throw new TypeError('"mandate" expected a parsed mandate, not its text: pass parseMandate(text)')
  if (typeof mandate !== 'object' || mandate === null || !Array.isArray(mandate.blocks)) {
    throw new TypeError('"mandate" expected a mandate, as parseMandate returns')
  }
  const last = mandate.blocks[mandate.blocks.length - 1]
  if (!last) throw new TypeError('"mandate" has no blocks')
  return last
}

/**
 * Accept a key pair or a bare secret; always re-derive the public key from the secret. The
 * pair holds a copy of the secret, read once: a caller's callback (`random`, a getter) that
 * writes into its secret during the call cannot make the signature disagree with the key the
 * token names.
 */
export function toKeyPair(key: KeyInput, title: string): KeyPair {
  if (key instanceof Uint8Array) return keyPairFromSecret(abytes(key, 32, title))
  if (typeof key !== 'object' || key === null || !(key.secretKey instanceof Uint8Array)) {
    throw new TypeError(`"${title}" expected a key pair or a 32-byte secret key`)
  }
  return keyPairFromSecret(key.secretKey)
}

function toHexKey(key: Uint8Array): string {
  return toHex(abytes(key, 32, 'to'))
}

function checkText(value: string | undefined, what: string): void {
  if (value === undefined) return
  if (typeof value !== 'string') throw new TypeError(`"${what}" expected string`)
  if (utf8(value).length > TOKEN_LIMITS.maxStringBytes) fail('ERR_LIMIT_SIZE', `${what} exceeds ${TOKEN_LIMITS.maxStringBytes} bytes`)
}
