/**
 * Backend selection and the strict signature check used by the token engine.
 *
 * @module
 */
import { fail } from '../errors.js'
import type { BackendName, Ed25519Backend } from './backend.js'
import { nobleBackend } from './backend-noble.js'
import { OUTCOME_CODES, type SignatureOutcome } from './profile.js'

// The node:crypto backend is never imported from here: the package's `node` export condition
// loads `use-node.ts`, which installs it. Every other runtime (browsers, workers, bundles that
// stub node: modules) keeps the pure-JS backend, and nothing has to probe at run time.
let nodeBackend: Ed25519Backend | undefined
let current: Ed25519Backend = nobleBackend
let chosen = false
/**
 * The backends this library made. They have read a message by the time a call returns (Node's
 * asynchronous verify copies it first), so they are handed signing inputs as they are: scratch
 * arrays that later signing inputs overwrite (src/internal/pool.ts).
 */
const ownBackends = new WeakSet<Ed25519Backend>([nobleBackend])

/**
 * Make the node:crypto backend available, and the default unless one was chosen explicitly.
 * Called once by the Node entry points; not part of the public API.
 */
export function installNodeBackend(backend: Ed25519Backend): void {
  ownBackends.add(backend)
  nodeBackend = backend
  if (!chosen) current = backend
}

/**
 * The backend named `name`, or throws `TypeError` if it is not available here.
 *
 * @example
 * ```ts
 * const noble = getBackend('noble')
 * const { publicKey, secretKey } = generateKeyPair()
 * const message = new TextEncoder().encode('hello')
 * noble.verify(noble.sign(secretKey, message), message, publicKey) // 'accept', or the failing rule
 * ```
 */
export function getBackend(name?: BackendName): Ed25519Backend {
  if (name === undefined) return current
  if (name === 'noble') return nobleBackend
  if (name === 'node' && nodeBackend) return nodeBackend
  throw new TypeError(`"backend" ${JSON.stringify(name)} is not available in this runtime`)
}

/**
 * The backends available in this runtime, fastest first.
 *
 * @example
 * ```ts
 * availableBackends() // ['node', 'noble'] on Node.js, ['noble'] in a browser
 * ```
 */
export function availableBackends(): BackendName[] {
  return nodeBackend ? ['node', 'noble'] : ['noble']
}

/**
 * Choose the process-wide default backend (`node` where available, else `noble`).
 *
 * @example
 * ```ts
 * import { setDefaultBackend } from 'mandate'
 * setDefaultBackend('noble') // e.g. to reproduce a browser's behaviour in a test
 * ```
 */
export function setDefaultBackend(name: BackendName): void {
  current = getBackend(name)
  chosen = true
}

/**
 * `message` as `backend` may be handed it: as it is to one of this library's, a copy of its own
 * to any other backend object a caller passes in, which may read it after returning (a queue,
 * a worker), when a scratch signing input has long been overwritten, and whose `buffer` must not
 * show it other requests' signing inputs.
 */
export function messageFor(backend: Ed25519Backend, message: Uint8Array): Uint8Array {
  return ownBackends.has(backend) ? message : message.slice()
}

/**
 * `backend.verify`, the message handed as {@link messageFor} says: every verification of a
 * signing input by a backend a caller may have passed in goes through here (or
 * {@link verifyAsync}), so that none can forget the copy.
 */
export function verifyWith(backend: Ed25519Backend, signature: Uint8Array, message: Uint8Array, publicKey: Uint8Array): SignatureOutcome {
  return backend.verify(signature, messageFor(backend, message), publicKey)
}

/** `backend.sign`, the message handed as {@link messageFor} says (see {@link verifyWith}). */
export function signWithBackend(backend: Ed25519Backend, secretKey: Uint8Array, message: Uint8Array, publicKey?: Uint8Array): Uint8Array {
  return backend.sign(secretKey, messageFor(backend, message), publicKey)
}

/** Verify under the strict profile, throwing the matching `MandateError` on rejection. */
export function verifyOrThrow(
  backend: Ed25519Backend,
  signature: Uint8Array,
  message: Uint8Array,
  publicKey: Uint8Array,
  what: string,
  block?: number,
): void {
  assertAccepted(verifyWith(backend, signature, message, publicKey), what, block)
}

/** `backend.verifyAsync` where it has one, else its synchronous verify (a resolved promise). */
export function verifyAsync(
  backend: Ed25519Backend,
  signature: Uint8Array,
  message: Uint8Array,
  publicKey: Uint8Array,
): Promise<SignatureOutcome> {
  const own = messageFor(backend, message)
  return backend.verifyAsync ? backend.verifyAsync(signature, own, publicKey) : Promise.resolve(backend.verify(signature, own, publicKey))
}

/** Throw the profile's code for `outcome` unless it is `accept` (see {@link verifyOrThrow}). */
export function assertAccepted(outcome: SignatureOutcome, what: string, block?: number): void {
  if (outcome === 'accept') return
  // Stryker disable next-line ConditionalExpression: equivalent — { block: undefined } makes the same MandateError (block undefined, absent from toJSON)
  const options = block === undefined ? {} : { block }
  fail(OUTCOME_CODES[outcome], `${what}: signature rejected (${outcome.replaceAll('_', ' ')})`, options)
}
