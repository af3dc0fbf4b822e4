/**
 * Backend selection and the strict signature check used by the token engine.
 *
 * @module
 */
import { fail } from '../errors.js'
import type { BackendName, Ed25519Backend } from './backend.js'
import { nobleBackend } from './backend-noble.js'
import { OUTCOME_CODES } from './profile.js'

// node:crypto is loaded only where it exists, so that the library still runs in browsers.
const nodeModule: { nodeBackend: Ed25519Backend } | undefined = await import('./backend-node.js').catch(() => undefined)

let current: Ed25519Backend = nodeModule?.nodeBackend ?? nobleBackend

/** The backend named `name`, or throws `TypeError` if it is not available here. *
 * @example
 * ```ts
 * const noble = getBackend('noble')
 * noble.verify(signature, message, publicKey) // 'accept' or the failing rule
 * ```
 */
export function getBackend(name?: BackendName): Ed25519Backend {
  if (name === undefined) return current
  if (name === 'noble') return nobleBackend
  if (name === 'node' && nodeModule) return nodeModule.nodeBackend
  throw new TypeError(`"backend" ${JSON.stringify(name)} is not available in this runtime`)
}

/** The backends available in this runtime, fastest first. *
 * @example
 * ```ts
 * availableBackends() // ['node', 'noble'] on Node.js, ['noble'] in a browser
 * ```
 */
export function availableBackends(): BackendName[] {
  return nodeModule ? ['node', 'noble'] : ['noble']
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
  const outcome = backend.verify(signature, message, publicKey)
  if (outcome === 'accept') return
  const options = block === undefined ? {} : { block }
  fail(OUTCOME_CODES[outcome], `${what}: signature rejected (${outcome.replaceAll('_', ' ')})`, options)
}
