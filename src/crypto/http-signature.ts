/**
 * The `mandate` profile of HTTP Message Signatures (RFC 9421) with Content-Digest (RFC 9530).
 *
 * Why: the service must know who is calling (a registered verifier consuming a use, an
 * approver proving its key) without a shared secret or a session. RFC 9421 is the IETF
 * standard for signing an HTTP request with the caller's own key, so any HTTP stack can
 * produce and check these requests; RFC 9530 binds the body through `Content-Digest`.
 *
 * The profile is deliberately narrow, and fails closed on anything outside it:
 * - only the signature labelled `mandate` is considered; other labels are ignored;
 * - covered components are exactly `("@method" "@authority" "@path" "@query")`, plus
 *   `"content-digest"` for every method other than GET, HEAD and DELETE, and for any request
 *   with a non-empty body;
 * - parameters are exactly `created`, `keyid` (the signer's Ed25519 `did:key`), `alg="ed25519"`
 *   and `nonce` (16–64 characters of `[A-Za-z0-9_-]`), plus an optional `expires`;
 * - `created` must lie in [now − maxAge − skew, now + skew];
 * - the signature is checked with the strict Ed25519 profile (spec §4), and the key must not
 *   be weak.
 * Nonce reuse is the caller's to check: it owns the storage.
 *
 * Why not the npm library: `http-message-signatures@1.0.6` was evaluated. It is CommonJS, it
 * relies on Node's `Buffer` and `crypto` (this module must run in Node, browsers and workerd),
 * it accepts a message when any one of several signatures verifies unless told otherwise, and it
 * enforces `created` only when configured to. It is used in the tests, as an independent
 * implementation that our requests must interoperate with, never at runtime.
 *
 * Structured fields (RFC 8941) are parsed and serialized with `structured-headers`; the
 * `@signature-params` line of the signature base is the re-serialization of the received
 * `Signature-Input` member, as RFC 9421 §2.3 prescribes.
 *
 * @module
 */
import { base64urlnopad } from '@scure/base'
import {
  type BareItem,
  type Dictionary,
  type InnerList,
  type Item,
  isInnerList,
  parseDictionary,
  serializeDictionary,
  serializeInnerList,
  serializeItem,
} from 'structured-headers'
import { abytes, equalBytes, utf8 } from '../internal/bytes.js'
import { getBackend, signWithBackend, verifyAsync } from './ed25519.js'
import { randomBytes, sha256 } from './hash.js'
import { assertKeyPair, type KeyPair, parsePublicKey, toDidKey } from './keys.js'
import type { SignatureOutcome } from './profile.js'
import { type Ed25519Signer, signWith } from './signer.js'

/**
 * The label of the one signature this profile considers, in `Signature-Input` and `Signature`.
 *
 * @example
 * ```ts
 * parseDictionary(headers['signature-input']).get(SIGNATURE_LABEL)
 * ```
 */
export const SIGNATURE_LABEL = 'mandate'

/**
 * A request about to be sent. `url` is absolute, exactly as it will be requested; `method`
 * is the method that will be sent (the six methods Fetch normalizes are upper-cased here, as
 * Fetch does; use upper case for the others). Give `body` whenever the request has one.
 *
 * @example
 * ```ts
 * const request: SignableRequest = { method: 'POST', url: 'https://mandate.example/v1/uses', body: utf8('{}') }
 * ```
 */
export interface SignableRequest {
  readonly method: string
  readonly url: string
  readonly body?: Uint8Array
}

/**
 * A received request: the absolute URL the client addressed (scheme, host and port as in its
 * `Host`), the method as received, header lookup by lower-case name (several field lines
 * combined with `, `), and the exact body bytes (empty when there is none).
 *
 * @example
 * ```ts
 * const received: ReceivedRequest = { method: c.req.method, url: c.req.url, header: (n) => c.req.header(n), body }
 * ```
 */
export interface ReceivedRequest {
  readonly method: string
  readonly url: string
  header(name: string): string | undefined
  readonly body: Uint8Array
}

/**
 * What a valid `mandate` signature proves: the signer's key and when and with which nonce it
 * signed. The caller must still refuse a (keyid, nonce) it has already seen.
 *
 * @example
 * ```ts
 * const { keyid, nonce, created } = verifyRequestSignature(received, { now })
 * ```
 */
export interface VerifiedSignature {
  readonly keyid: string
  readonly publicKey: Uint8Array
  readonly created: number
  readonly nonce: string
}

/**
 * Why a request was refused: no (complete) `mandate` signature, a wrong one, or one outside
 * its time window. All three answer 401.
 *
 * @example
 * ```ts
 * const status: Record<HttpSignatureCode, number> = { ERR_AUTH_REQUIRED: 401, ERR_AUTH_INVALID: 401, ERR_REQUEST_STALE: 401 }
 * ```
 */
export type HttpSignatureCode = 'ERR_AUTH_REQUIRED' | 'ERR_AUTH_INVALID' | 'ERR_REQUEST_STALE'

/**
 * A refused request signature. The message says which rule failed and never echoes secrets.
 *
 * @example
 * ```ts
 * try {
 *   verifyRequestSignature(received, { now })
 * } catch (e) {
 *   if (e instanceof HttpSignatureError) return unauthorized(e.code, e.message)
 *   throw e
 * }
 * ```
 */
export class HttpSignatureError extends Error {
  readonly code: HttpSignatureCode
  constructor(code: HttpSignatureCode, message: string) {
    super(message)
    this.name = 'HttpSignatureError'
    this.code = code
  }
}

const BASE_COMPONENTS = ['@method', '@authority', '@path', '@query'] as const
const BODY_COMPONENTS = [...BASE_COMPONENTS, 'content-digest'] as const
const BODYLESS_METHODS: ReadonlySet<string> = new Set(['GET', 'HEAD', 'DELETE'])
const FETCH_NORMALIZED: ReadonlySet<string> = new Set(['DELETE', 'GET', 'HEAD', 'OPTIONS', 'POST', 'PUT'])
const REQUIRED_PARAMS = ['created', 'keyid', 'alg', 'nonce'] as const
const ALG = 'ed25519'
const NONCE = /^[A-Za-z0-9_-]{16,64}$/
const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/
const DEFAULT_MAX_AGE = 300
const DEFAULT_SKEW = 60

function invalid(message: string): never {
  throw new HttpSignatureError('ERR_AUTH_INVALID', message)
}

function stale(message: string): never {
  throw new HttpSignatureError('ERR_REQUEST_STALE', message)
}

/** Whether the profile covers `content-digest` for this method and body. */
function coversDigest(method: string, bodyLength: number): boolean {
  return bodyLength > 0 || !BODYLESS_METHODS.has(method)
}

/**
 * The derived components of a request (RFC 9421 §2.2): `@method` as sent, `@authority` the
 * lower-cased host without a default port, `@path` (`/` when empty), `@query` (`?` when none).
 *
 * @internal exported for the RFC 9421 test vector.
 * @example
 * ```ts
 * deriveComponents('POST', 'https://Example.com:443/foo?a=1')
 * // { '@method': 'POST', '@authority': 'example.com', '@path': '/foo', '@query': '?a=1' }
 * ```
 */
export function deriveComponents(method: string, url: string): Record<(typeof BASE_COMPONENTS)[number], string> {
  let parsed: URL
  try {
    parsed = new URL(url)
  } catch {
    throw new TypeError('"url" expected an absolute URL')
  }
  // WHATWG URL parsing already lower-cases the host, drops a default port, and
  // percent-encodes everything that could not appear in a request target.
  return {
    '@method': method,
    '@authority': parsed.host.toLowerCase(),
    '@path': parsed.pathname === '' ? '/' : parsed.pathname,
    '@query': `?${parsed.search.slice(1)}`,
  }
}

/**
 * The RFC 9421 §2.5 signature base: one `"<component>": <value>` line per covered component,
 * in order, then `"@signature-params": <serialized inner list>`, joined by `\n` (no final
 * newline). `component` gives the value of each covered component name.
 *
 * @internal used by signing and verification alike; exported for the RFC 9421 test vector.
 * @example
 * ```ts
 * const params = parseDictionary(signatureInput).get('mandate') as InnerList
 * const base = signatureBase(params, (name) => values[name])
 * ```
 */
export function signatureBase(signatureParams: InnerList, component: (name: string) => string): string {
  const lines: string[] = []
  for (const item of signatureParams[0]) {
    const id = serializeItem(item)
    if (typeof item[0] !== 'string') invalid(`signature-input: component ${id} is not a string`)
    const value = component(item[0])
    if (/[\r\n]/.test(value)) invalid(`${id}: the component value contains a line break`)
    lines.push(`${id}: ${value}`)
  }
  lines.push(`"@signature-params": ${serializeInnerList(signatureParams)}`)
  return lines.join('\n')
}

/**
 * The RFC 9530 `Content-Digest` value of a body: SHA-256 as a structured byte sequence.
 *
 * @example
 * ```ts
 * contentDigest(utf8('{"hello": "world"}')) // 'sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:'
 * ```
 */
export function contentDigest(body: Uint8Array): string {
  abytes(body, undefined, 'body')
  // An ArrayBuffer-backed view, as structured-headers' BufferSource asks under TypeScript's DOM lib too.
  return serializeDictionary(new Map([['sha-256', [sha256(body) as Uint8Array<ArrayBuffer>, new Map()]]]))
}

/**
 * Sign a request with the `mandate` profile. Returns the headers to add: `content-digest`
 * (whenever it is covered: for every method other than GET, HEAD and DELETE, even with an
 * empty or absent body, and for any non-empty body), `signature-input` and `signature`.
 * A fresh nonce (16 random bytes, base64url) and the current time are used unless given.
 *
 * @example
 * ```ts
 * const body = utf8(JSON.stringify({ invocation }))
 * const headers = signRequest({ method: 'POST', url, body }, verifierKey)
 * await fetch(url, { method: 'POST', body, headers: { 'content-type': 'application/json', ...headers } })
 * ```
 */
export function signRequest(
  request: SignableRequest,
  key: KeyPair,
  options: { readonly created?: number; readonly nonce?: string } = {},
): Record<string, string> {
  const { method, body } = signable(request)
  const publicKey = assertKeyPair(key)
  const backend = getBackend()
  const unsigned = unsignedRequest(method, request.url, body, publicKey, options)
  return unsigned.headers(signWithBackend(backend, key.secretKey, unsigned.base))
}

/**
 * {@link signRequest} with a key that never shows its secret ({@link Ed25519Signer}: a
 * non-extractable WebCrypto key, a hardware token): the same headers, byte for byte, for the
 * same key, time and nonce. The signer's signature is checked against its public key before
 * it is used (`RangeError` otherwise).
 *
 * @example
 * ```ts
 * const pair = await crypto.subtle.generateKey({ name: 'Ed25519' }, false, ['sign', 'verify'])
 * const signer = {
 *   publicKey: new Uint8Array(await crypto.subtle.exportKey('raw', pair.publicKey)),
 *   sign: async (m: Uint8Array) => new Uint8Array(await crypto.subtle.sign('Ed25519', pair.privateKey, m)),
 * }
 * const headers = await signRequestWith({ method: 'GET', url: `${base}/v1/approvals` }, signer)
 * ```
 */
export async function signRequestWith(
  request: SignableRequest,
  signer: Ed25519Signer,
  options: { readonly created?: number; readonly nonce?: string } = {},
): Promise<Record<string, string>> {
  const { method, body } = signable(request)
  const publicKey = abytes(signer?.publicKey, 32, 'signer publicKey')
  const unsigned = unsignedRequest(method, request.url, body, publicKey, options)
  return unsigned.headers(await signWith(signer, unsigned.base))
}

/** The method (normalized as Fetch does) and body (empty when absent) of a request to sign. */
function signable(request: SignableRequest): { method: string; body: Uint8Array } {
  const method = normalizeMethod(request.method)
  const body = request.body === undefined ? new Uint8Array(0) : abytes(request.body, undefined, 'body')
  return { method, body }
}

/**
 * What a signer signs (the signature base, as UTF-8) and the headers its signature completes:
 * everything of {@link signRequest} but the signature itself.
 */
function unsignedRequest(
  method: string,
  url: string,
  body: Uint8Array,
  publicKey: Uint8Array,
  options: { readonly created?: number; readonly nonce?: string },
): { base: Uint8Array; headers(signature: Uint8Array): Record<string, string> } {
  const created = options.created ?? Math.floor(Date.now() / 1000)
  if (!Number.isSafeInteger(created) || created < 0) throw new RangeError('"created" expected a non-negative integer (seconds)')
  const nonce = options.nonce ?? base64urlnopad.encode(randomBytes(16))
  if (typeof nonce !== 'string' || !NONCE.test(nonce)) throw new RangeError('"nonce" expected 16 to 64 characters of [A-Za-z0-9_-]')

  const headers: Record<string, string> = {}
  const derived: Record<string, string> = deriveComponents(method, url)
  let covered: readonly string[] = BASE_COMPONENTS
  if (coversDigest(method, body.length)) {
    covered = BODY_COMPONENTS
    derived['content-digest'] = headers['content-digest'] = contentDigest(body)
  }
  const params: InnerList = [
    covered.map((name): Item => [name, new Map()]),
    new Map<string, BareItem>([
      ['created', created],
      ['keyid', toDidKey(publicKey)],
      ['alg', ALG],
      ['nonce', nonce],
    ]),
  ]
  const base = signatureBase(params, (name) => derived[name] as string)
  return {
    base: utf8(base),
    headers(signature) {
      headers['signature-input'] = serializeDictionary(new Map([[SIGNATURE_LABEL, params]]))
      headers['signature'] = serializeDictionary(new Map([[SIGNATURE_LABEL, [signature as Uint8Array<ArrayBuffer>, new Map()]]]))
      return headers
    },
  }
}

/** Fetch's "normalize a method": the six standard methods are upper-cased, others kept. */
function normalizeMethod(method: string): string {
  if (typeof method !== 'string' || !TOKEN.test(method)) throw new TypeError('"method" expected an HTTP method token')
  const upper = method.toUpperCase()
  return FETCH_NORMALIZED.has(upper) ? upper : method
}

/**
 * Verify the `mandate` signature of a received request (RFC 9421 with this module's profile)
 * and return who signed it. Throws {@link HttpSignatureError}: `ERR_AUTH_REQUIRED` when no
 * `mandate` signature is present, `ERR_REQUEST_STALE` when `created` is outside
 * [now − maxAge − skew, now + skew] or `expires` has passed, `ERR_AUTH_INVALID` for anything
 * else. Times are in seconds. Does NOT check nonce reuse: the caller stores nonces.
 *
 * @example
 * ```ts
 * const signed = verifyRequestSignature(
 *   { method: c.req.method, url: c.req.url, header: (name) => c.req.header(name), body },
 *   { now: Math.floor(Date.now() / 1000) },
 * )
 * if (!(await store.useNonce(signed.keyid, signed.nonce))) throw replay()
 * ```
 */
export function verifyRequestSignature(request: ReceivedRequest, options: RequestCheckOptions): VerifiedSignature {
  const { signed, signature, base } = readRequestSignature(request, options)
  return accepted(getBackend().verify(signature, base, signed.publicKey), signed)
}

/**
 * {@link verifyRequestSignature}, the signature itself checked off the event loop where the
 * backend can ({@link Ed25519Backend.verifyAsync}): for servers. Same outcome and errors.
 *
 * @example
 * ```ts
 * const signed = await verifyRequestSignatureAsync(
 *   { method: c.req.method, url: c.req.url, header: (name) => c.req.header(name), body },
 *   { now: Math.floor(Date.now() / 1000) },
 * )
 * ```
 */
export async function verifyRequestSignatureAsync(request: ReceivedRequest, options: RequestCheckOptions): Promise<VerifiedSignature> {
  const { signed, signature, base } = readRequestSignature(request, options)
  return accepted(await verifyAsync(getBackend(), signature, base, signed.publicKey), signed)
}

/** `signed` when its signature was accepted, else ERR_AUTH_INVALID naming the rule. */
function accepted(outcome: SignatureOutcome, signed: VerifiedSignature): VerifiedSignature {
  if (outcome !== 'accept') invalid(`signature: rejected (${outcome.replaceAll('_', ' ')})`)
  return signed
}

/** The clock and limits a received request is checked against (seconds). */
export interface RequestCheckOptions {
  readonly now: number
  readonly maxAge?: number
  readonly skew?: number
}

/** Every check of a received request but the signature's own: what remains to verify. */
function readRequestSignature(
  request: ReceivedRequest,
  options: RequestCheckOptions,
): { signed: VerifiedSignature; signature: Uint8Array; base: Uint8Array } {
  const { now } = options
  const maxAge = options.maxAge ?? DEFAULT_MAX_AGE
  const skew = options.skew ?? DEFAULT_SKEW
  if (!Number.isFinite(now)) throw new TypeError('"now" expected a number of seconds')
  if (!Number.isFinite(maxAge) || maxAge < 0) throw new RangeError('"maxAge" expected a non-negative number of seconds')
  if (!Number.isFinite(skew) || skew < 0) throw new RangeError('"skew" expected a non-negative number of seconds')
  abytes(request.body, undefined, 'body')

  // 1. The `mandate` member of both headers.
  const inputs = dictionary(request, 'signature-input')
  const signatures = dictionary(request, 'signature')
  const input = inputs.get(SIGNATURE_LABEL)
  const signatureItem = signatures.get(SIGNATURE_LABEL)
  if (input === undefined && signatureItem === undefined) {
    throw new HttpSignatureError('ERR_AUTH_REQUIRED', `no signature labelled "${SIGNATURE_LABEL}": sign the request (RFC 9421)`)
  }
  if (input === undefined) invalid(`signature-input: no member labelled "${SIGNATURE_LABEL}", but signature has one`)
  if (signatureItem === undefined) invalid(`signature: no member labelled "${SIGNATURE_LABEL}", but signature-input has one`)
  if (!isInnerList(input)) invalid('signature-input: the member is not an inner list')

  // 2. Covered components: exactly the profile's list for this method and body.
  const method = request.method
  if (typeof method !== 'string' || !TOKEN.test(method)) invalid('@method: not an HTTP method token')
  const withDigest = coversDigest(method, request.body.length)
  const expected: readonly string[] = withDigest ? BODY_COMPONENTS : BASE_COMPONENTS
  const [items, params] = input
  const matches = items.length === expected.length && items.every(([name, itemParams], i) => name === expected[i] && itemParams.size === 0)
  if (!matches) {
    invalid(`signature-input: covered components must be exactly (${expected.map((name) => `"${name}"`).join(' ')}) for ${method}`)
  }

  // 3. Parameters: created, keyid, alg, nonce, and optionally expires; nothing else.
  for (const name of params.keys()) {
    if (!(REQUIRED_PARAMS as readonly string[]).includes(name) && name !== 'expires') {
      invalid(`signature-input: unexpected parameter "${name.slice(0, 32)}"`)
    }
  }
  for (const name of REQUIRED_PARAMS) if (!params.has(name)) invalid(`signature-input: missing parameter "${name}"`)
  const created = params.get('created')
  const keyid = params.get('keyid')
  const alg = params.get('alg')
  const nonce = params.get('nonce')
  const expires = params.get('expires')
  if (typeof created !== 'number' || !Number.isSafeInteger(created)) invalid('signature-input: created must be an integer')
  if (expires !== undefined && (typeof expires !== 'number' || !Number.isSafeInteger(expires))) {
    invalid('signature-input: expires must be an integer')
  }
  if (alg !== ALG) invalid(`signature-input: alg must be "${ALG}"`)
  if (typeof nonce !== 'string' || !NONCE.test(nonce))
    invalid('signature-input: nonce must be a string of 16 to 64 characters [A-Za-z0-9_-]')
  if (typeof keyid !== 'string' || !keyid.startsWith('did:key:')) invalid('signature-input: keyid must be a did:key string')
  const publicKey = keyFromDid(keyid)

  // 4. Time window.
  if (created < now - maxAge - skew) stale(`signature-input: created is more than ${maxAge + skew} seconds old`)
  if (created > now + skew) stale(`signature-input: created is more than ${skew} seconds in the future`)
  if (expires !== undefined && expires <= now - skew) stale('signature-input: the signature has expired')

  // 5. The signature bytes.
  if (isInnerList(signatureItem) || !(signatureItem[0] instanceof ArrayBuffer) || signatureItem[1].size !== 0) {
    invalid('signature: the member must be a byte sequence without parameters')
  }
  const signature = new Uint8Array(signatureItem[0])
  if (signature.length !== 64) invalid('signature: an Ed25519 signature is 64 bytes')

  // 6. Component values, and the body against its digest.
  const values: Record<string, string> = deriveComponents(method, request.url)
  if (withDigest) values['content-digest'] = checkDigest(request)

  // 7. The signature over the base, strict Ed25519: the caller's to verify.
  const base = signatureBase(input, (name) => values[name] as string)
  return { signed: { keyid, publicKey, created, nonce }, signature, base: utf8(base) }
}

/** The parsed structured dictionary of a header; an absent header is an empty dictionary. */
function dictionary(request: ReceivedRequest, name: string): Dictionary {
  const value = request.header(name)
  if (value === undefined) return new Map()
  try {
    return parseDictionary(value)
  } catch {
    invalid(`${name}: not a structured-field dictionary (RFC 8941)`)
  }
}

/**
 * Keyids already found canonical and strong. A service hears the same few verifiers on every
 * request; reading a did:key again (base58 both ways) cost more than the rest of the header.
 * Bounded: a stranger's stream of fresh keyids only empties it.
 */
const knownKeyids = new Map<string, Uint8Array>()
const KNOWN_KEYIDS_MAX = 256

/** The Ed25519 public key of a `did:key`, canonical and strong, or ERR_AUTH_INVALID. */
function keyFromDid(keyid: string): Uint8Array {
  const known = knownKeyids.get(keyid)
  // A copy: the caller gets the key in its VerifiedSignature and may keep or change it.
  if (known !== undefined) return known.slice()
  const key = readKeyid(keyid)
  if (knownKeyids.size >= KNOWN_KEYIDS_MAX) knownKeyids.clear()
  knownKeyids.set(keyid, key.slice())
  return key
}

function readKeyid(keyid: string): Uint8Array {
  let key: Uint8Array
  try {
    key = parsePublicKey(keyid)
  } catch (e) {
    const code = (e as { code?: unknown }).code
    if (code === 'ERR_KEY_WEAK') invalid('signature-input: keyid is a weak key (a point of small order)')
    if (code === 'ERR_SIG_ENCODING') invalid('signature-input: keyid is not a canonical Ed25519 point')
    invalid('signature-input: keyid is not an Ed25519 did:key')
  }
  if (toDidKey(key) !== keyid) invalid('signature-input: keyid is not in canonical did:key form')
  return key
}

/** Check `content-digest` against the body; its component value (the trimmed field value). */
function checkDigest(request: ReceivedRequest): string {
  const raw = request.header('content-digest')
  if (raw === undefined) invalid('content-digest: the header is missing but must be signed')
  let digests: Dictionary
  try {
    digests = parseDictionary(raw)
  } catch {
    invalid('content-digest: not a structured-field dictionary (RFC 8941)')
  }
  const member = digests.get('sha-256')
  if (member === undefined) invalid('content-digest: no sha-256 digest')
  if (isInnerList(member) || !(member[0] instanceof ArrayBuffer)) invalid('content-digest: sha-256 must be a byte sequence')
  if (!equalBytes(new Uint8Array(member[0]), sha256(request.body))) invalid('content-digest does not match the body')
  return raw.replace(/^[ \t]+|[ \t]+$/g, '')
}

/**
 * The `Accept-Signature` value (RFC 9421 §5.1) a 401 answer carries: the `mandate` label, the
 * components to cover (with `"content-digest"` when the request has a body, and for every
 * method other than GET, HEAD and DELETE), and the parameters to include.
 *
 * @example
 * ```ts
 * acceptSignature(true)
 * // 'mandate=("@method" "@authority" "@path" "@query" "content-digest");created;keyid;alg="ed25519";nonce'
 * ```
 */
export function acceptSignature(withBody: boolean): string {
  const covered = withBody ? BODY_COMPONENTS : BASE_COMPONENTS
  const params = new Map<string, BareItem>([
    ['created', true],
    ['keyid', true],
    ['alg', ALG],
    ['nonce', true],
  ])
  const list: InnerList = [covered.map((name): Item => [name, new Map()]), params]
  return serializeDictionary(new Map([[SIGNATURE_LABEL, list]]))
}
