/**
 * The verifier's settings (spec §7, §9): the options of `createVerifier` checked once, at
 * creation, into the {@link Settings} every phase reads. A bad option throws here (a
 * `TypeError` or `RangeError`), so that `authorize()` never meets one.
 *
 * @module
 */
import type { BackendName, Ed25519Backend } from '../crypto/backend.js'
import { getBackend } from '../crypto/ed25519.js'
import { parsePublicKey } from '../crypto/keys.js'
import { SignatureCache } from '../crypto/signature-cache.js'
import { toHex } from '../internal/bytes.js'
import { type Clock, systemClock } from '../internal/clock.js'
import { countOption } from '../internal/count.js'
import type { RevocationView } from '../revocation/view.js'
import { DEFAULT_MAX_LIFETIME } from '../token/mandate.js'
import { createMemoryUsageStore } from '../usage/memory.js'
import type { UsageStore } from '../usage/store.js'
import { VerifiedChains } from './chain-cache.js'
import type { ExtensionChecker } from './evaluate.js'
import { createMemoryReplayCache, type ReplayCache } from './replay.js'

/** How long an invocation may wait for its approvals by default (spec §7 step 7): a day. */
export const DEFAULT_APPROVAL_WAIT = 86_400

/** The longest approval wait a verifier accepts: 30 days. */
export const MAX_APPROVAL_WAIT = 30 * 86_400

/** A trusted root: a principal's public key, with an optional name for the chain. */
export interface Root {
  readonly key: string | Uint8Array
  readonly name?: string
}

/** Options of {@link createVerifier}. */
export interface VerifierOptions {
  /** Principals whose root blocks are trusted. Trust comes only from here. */
  readonly roots: readonly (string | Uint8Array | Root)[]
  /** This service's name; invocations and audience caveats must name it. */
  readonly audience: string
  /**
   * Unix-seconds clock (default: the system clock). One that throws or returns anything but a
   * whole number ≥ 0 denies every request with `ERR_CLOCK_UNAVAILABLE`.
   */
  readonly clock?: Clock
  /** Allowed clock skew in seconds, 0–300 (default 60). */
  readonly skew?: number
  /** Usage counters (default: in-memory, one process). */
  readonly usage?: UsageStore
  /**
   * Revocations and suspensions (spec §7 step 8, §9): required. Give a view (the service's
   * feed, `createFeedRevocationView`, or `createMemoryRevocationView` for one process), or
   * `'none'` to opt out explicitly: such a verifier does not check revocations or suspensions
   * at all, and every decision's audit record says so (`revocations: 'none'`).
   */
  readonly revocations: RevocationView | 'none'
  /** Deny when the revocation view is older than this, in seconds (default 30). */
  readonly revocationMaxAge?: number
  /** Seen invocations (default: in-memory). */
  readonly replay?: ReplayCache
  /** Time limits; every field is optional. */
  readonly limits?: VerifierLimits
  /**
   * How long an invocation may wait for its approvals, in seconds, 0 to 2,592,000 (30 days;
   * default 86,400, a day; 0: never). An invocation older than its max age, but younger than
   * this (each plus the skew), is _waiting_ (spec §7 step 7): it is accepted only when an
   * approval caveat applies to it, every quorum is met, and the latest approval that counted
   * was issued within the max age (step 10); so an approval given an hour after the agent
   * asked still works, once.
   */
  readonly approvalWait?: number
  /** Checkers for extension caveats, by type number (≥ 65536). */
  readonly extensions?: Readonly<Record<number, ExtensionChecker>>
  readonly backend?: BackendName
  /** Entries of the verified-signature cache and of the verified-chain cache: 0 to 1,000,000 (default 4096 each; 0 turns both off). */
  readonly cacheSize?: number
}

/** Time limits a verifier enforces. */
export interface VerifierLimits {
  /** Longest accepted root lifetime in seconds (default 90 days). */
  readonly maxLifetime?: number
  /** How old an invocation may be, in seconds (default 300). */
  readonly invocationMaxAge?: number
}

/** A root as the verifier keeps it: the key's bytes, and its name for the chain. */
export interface TrustedRoot {
  readonly key: Uint8Array
  readonly name: string | undefined
}

/** What every phase reads: the options, checked, with their defaults filled in. */
export interface Settings {
  readonly roots: ReadonlyMap<string, TrustedRoot>
  readonly audience: string
  readonly clock: Clock
  readonly skew: number
  readonly usage: UsageStore
  readonly revocations: RevocationView | 'none'
  readonly revocationMaxAge: number
  readonly replay: ReplayCache
  readonly maxLifetime: number
  readonly invocationMaxAge: number
  /** Seconds an invocation may wait for its approvals (0: it may not). */
  readonly approvalWait: number
  readonly extensions: ReadonlyMap<number, ExtensionChecker>
  readonly backend: Ed25519Backend
  readonly cache: SignatureCache
  /** Chains verified before, by their exact bytes. */
  readonly chains: VerifiedChains
}

/**
 * Check the options of `createVerifier` and fill in the defaults. Throws a `TypeError` or
 * `RangeError` naming the option at fault.
 *
 * @example
 * ```ts
 * const settings = readOptions({ roots: [toDidKey(alice.publicKey)], audience: 'mail', revocations: 'none' })
 * settings.skew // 60
 * ```
 */
export function readOptions(options: VerifierOptions): Settings {
  if (!options || typeof options !== 'object') throw new TypeError('"options" expected an object')
  if (typeof options.audience !== 'string' || options.audience.length === 0) throw new TypeError('"audience" expected a non-empty string')
  if (!Array.isArray(options.roots) || options.roots.length === 0)
    throw new TypeError('"roots" expected at least one trusted principal key')
  const roots = new Map<string, TrustedRoot>()
  for (const r of options.roots) {
    const entry = typeof r === 'string' || r instanceof Uint8Array ? { key: r } : r
    const key = typeof entry.key === 'string' ? parsePublicKey(entry.key) : parsePublicKey(toHex(entry.key))
    roots.set(toHex(key), { key, name: 'name' in entry ? entry.name : undefined })
  }
  const skew = countOption(options.skew, 60, 0, 300, 'skew')
  const maxLifetime = countOption(options.limits?.maxLifetime, DEFAULT_MAX_LIFETIME, 1, 10 * 365 * 86400, 'limits.maxLifetime')
  const invocationMaxAge = countOption(options.limits?.invocationMaxAge, 300, 1, 86400, 'limits.invocationMaxAge')
  const approvalWait = countOption(options.approvalWait, DEFAULT_APPROVAL_WAIT, 0, MAX_APPROVAL_WAIT, 'approvalWait')
  const revocationMaxAge = countOption(options.revocationMaxAge, 30, 1, 86400, 'revocationMaxAge')
  injected(options.clock, 'clock', [])
  injected(options.usage, 'usage', ['consume'])
  if (options.revocations === undefined) {
    throw new TypeError(
      `"revocations" expected a revocation view, or 'none' for a verifier that does not check revocations (an explicit opt-out)`,
    )
  }
  if (options.revocations !== 'none') injected(options.revocations, 'revocations', ['freshAt', 'entries'])
  injected(options.replay, 'replay', ['has', 'claim', 'release'])
  for (const [code, checker] of Object.entries(options.extensions ?? {})) injected(checker, `extensions[${code}]`, [])
  const cacheSize = countOption(options.cacheSize, 4096, 0, 1_000_000, 'cacheSize')
  return {
    roots,
    audience: options.audience,
    clock: options.clock ?? systemClock,
    skew,
    usage: options.usage ?? createMemoryUsageStore(),
    revocations: options.revocations,
    revocationMaxAge,
    replay: options.replay ?? createMemoryReplayCache(),
    maxLifetime,
    invocationMaxAge,
    approvalWait,
    extensions: new Map(Object.entries(options.extensions ?? {}).map(([k, v]) => [Number(k), v])),
    backend: getBackend(options.backend),
    cache: new SignatureCache(cacheSize),
    chains: new VerifiedChains(cacheSize),
  }
}

/** An injected dependency must at least have the shape it promises (`[]`: a function). */
function injected(value: unknown, title: string, methods: readonly string[]): void {
  if (value === undefined) return
  if (methods.length === 0) {
    if (typeof value !== 'function') throw new TypeError(`"${title}" expected a function, got ${typeof value}`)
    return
  }
  const ok = (typeof value === 'object' || typeof value === 'function') && value !== null
  if (!ok || methods.some((m) => typeof (value as Record<string, unknown>)[m] !== 'function'))
    throw new TypeError(`"${title}" expected an object with ${methods.map((m) => `${m}()`).join(', ')}`)
}
