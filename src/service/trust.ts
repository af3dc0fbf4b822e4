/**
 * Who may touch the service's shared state (spec/service-v1.md §3, the trust model).
 *
 * The service holds what an offline token cannot: counters, replay claims, the approval inbox
 * and the feed. Each of those is only as true as the parties allowed to change it, so:
 *
 * - only chains rooted at a **served principal** reach any of them (a self-minted chain is a
 *   stranger's, whatever it says);
 * - only **registered verifiers**, each proving its own Ed25519 key with an RFC 9421 signed
 *   request, spend uses and claim or release replays, and only for fresh invocations (or,
 *   within the approval wait, invocations that need an approval) addressed to their own
 *   audience;
 * - an approver reads and answers its inbox only by proving its key the same way;
 * - a chain that is revoked, suspended or expired spends nothing.
 *
 * @module
 */
import type { Context } from 'hono'
import { coversAction, firstCover } from '../caveats/action.js'
import { sha256 } from '../crypto/hash.js'
import { acceptSignature, HttpSignatureError, type VerifiedSignature, verifyRequestSignatureAsync } from '../crypto/http-signature.js'
import { parsePublicKey, toDidKey } from '../crypto/keys.js'
import { toHex, utf8 } from '../internal/bytes.js'
import { iso } from '../internal/clock.js'
import { countOption } from '../internal/count.js'
import type { FeedEntry } from '../revocation/feed.js'
import { chainExpiry, type UnverifiedBlock } from '../token/block.js'
import type { UnverifiedInvocation } from '../token/invocation.js'
import { DEFAULT_APPROVAL_WAIT, MAX_APPROVAL_WAIT } from '../verify/options.js'
import { ServiceError, stored } from './errors.js'
import type { RequestSteps, StandingCheck, Store } from './store.js'

/** A principal whose chains the service serves. */
export interface ServedRoot {
  readonly key: string | Uint8Array
  readonly name?: string
}

/** A resource server allowed to spend uses and claim replays; `name` is its audience. */
export interface RegisteredVerifier {
  readonly name: string
  readonly key: string | Uint8Array
}

/** The trust settings of a service. */
export interface TrustOptions {
  /** Principals whose chains are served (at least one). */
  readonly roots: readonly ServedRoot[]
  /** Verifiers allowed to consume uses and claim replays. */
  readonly verifiers?: readonly RegisteredVerifier[]
  /** How old an invocation may be when a verifier spends or claims for it: 1 to 86,400 s (default 300 s). */
  readonly invocationMaxAge?: number
  /**
   * How long an invocation that needs an approval may wait for it, in seconds (0 to 2,592,000,
   * default 86,400): the longest (and default) wait of an approval request, and how long after
   * its max age such an invocation may still be spent or claimed by a verifier.
   */
  readonly approvalWait?: number
  /** Clock skew allowed between agents, verifiers and the service: 0 to 300 s (default 60 s). */
  readonly skew?: number
  /** How old a signed request may be (its `created`): 1 to 86,400 s (default 300 s). */
  readonly signatureMaxAge?: number
  /**
   * The names this service is reached by: each an origin (`https://host[:port]`, as a URL
   * serializes it: lower case, default port left out) or a bare `host[:port]`, reached over
   * plain HTTP. A signed request covers `@authority`; one signed for another name was meant
   * for another service, and is refused, so that a request captured at one service is worth
   * nothing at the next. A function, since the port may be known only once the service listens.
   */
  readonly authorities?: () => readonly string[]
}

/** A caller that proved its key. */
export interface Caller {
  readonly did: string
  readonly key: Uint8Array
}

/** A registered verifier that proved its key. */
export interface VerifierCaller extends Caller {
  /** The verifier's audience. */
  readonly name: string
}

/** The checks every route composes. */
export interface Trust {
  /** The request's RFC 9421 signature, checked and its nonce used up: 401 otherwise. */
  caller(c: Context, body: Uint8Array): Promise<Caller>
  /** As {@link Trust.caller}, and the key must be a registered verifier's: 403 otherwise. */
  verifier(c: Context, body: Uint8Array): Promise<VerifierCaller>
  /** Block 0 must name a served principal: 403 `ERR_ROOT_UNTRUSTED` otherwise. */
  served(chain: readonly UnverifiedBlock[]): void
  /**
   * The invocation was signed within the window on the service clock: 401 `ERR_REQUEST_STALE`
   * otherwise. With `waits` (an approval caveat applies to it), the window reaches back the
   * approval wait instead of the max age.
   */
  fresh(invocation: UnverifiedInvocation, now: number, waits?: boolean): void
  /**
   * When an invocation stops being acceptable anywhere (its last second of freshness, or with
   * `waits` of its approval wait, `wait` seconds when given).
   */
  invocationDeadline(invocation: UnverifiedInvocation, waits?: boolean, wait?: number): number
  /**
   * The chain is in standing at `now`: not expired, no block revoked or suspended (for
   * `action`, when known; without one only whole-block entries count): 403 otherwise. Read
   * through `storeOf(c)` when the request `c` is given.
   */
  standing(chain: readonly UnverifiedBlock[], action: string | undefined, now: number, c?: Context): Promise<void>
  /** The expiry part of {@link Trust.standing}: the chain has not expired at `now` (with the skew). */
  unexpired(chain: readonly UnverifiedBlock[], now: number): void
  /**
   * The statements' part of {@link Trust.standing}, for a store to run inside the
   * transaction that spends (`StoredConsume.standing`): no block revoked or suspended for
   * `action` (403).
   */
  standingCheck(chain: readonly UnverifiedBlock[], action: string | undefined): StandingCheck
  /**
   * The chain's audience caveats admit `audience`, and `invocation` (when given) is addressed
   * to it: 403 `ERR_AUDIENCE` otherwise.
   */
  addressedTo(chain: readonly UnverifiedBlock[], audience: string, invocation?: UnverifiedInvocation): void
  readonly skew: number
  /** The service's approval wait in seconds (see {@link TrustOptions.approvalWait}). */
  readonly approvalWait: number
}

/**
 * The approvers of every approval caveat of `chain` that applies to `action` (spec/mandate-v1.md
 * §6.1 cover), and of the amendments in force on its blocks (by block index), without repeats,
 * in chain order (a block's own caveats, then its amendments'): empty when the action needs no
 * approval.
 */
export function approversFor(
  chain: readonly UnverifiedBlock[],
  action: string,
  amendments: ReadonlyMap<number, readonly FeedEntry[]> = new Map(),
): string[] {
  const caveats = chain.flatMap((b) => [...b.caveats, ...(amendments.get(b.index) ?? []).flatMap((a) => a.caveats ?? [])])
  return [...new Set(caveats.flatMap((cv) => (cv.type === 'approval' && firstCover(cv.actions, action) ? cv.approvers : [])))]
}

/**
 * Build the trust checks. `storeOf` gives the operations a request's nonce and standing use:
 * {@link Store.atCommit} for a request whose answer waits for durability once, at the end.
 *
 * @example
 * ```ts
 * const trust = createTrust({ roots: [{ key: 'did:key:z6Mk…', name: 'alice' }], verifiers: [{ name: 'mail', key: 'did:key:z6Mk…' }] }, store, clock)
 * ```
 */
export function createTrust(
  options: TrustOptions,
  store: Store,
  clock: () => number,
  storeOf: (c: Context) => RequestSteps = () => store,
): Trust {
  if (!Array.isArray(options.roots) || options.roots.length === 0) throw new TypeError('"roots" expected at least one served principal')
  const roots = new Set(options.roots.map((r) => toHex(typeof r.key === 'string' ? parsePublicKey(r.key) : parsePublicKey(toHex(r.key)))))
  const verifiers = new Map<string, string>()
  for (const v of options.verifiers ?? []) {
    if (typeof v.name !== 'string' || !/^[\x21-\x7e]{1,128}$/.test(v.name)) {
      throw new TypeError(`verifier name ${JSON.stringify(v.name)}: expected 1–128 printable ASCII characters`)
    }
    const did = toDidKey(typeof v.key === 'string' ? parsePublicKey(v.key) : parsePublicKey(toHex(v.key)))
    const prior = verifiers.get(did)
    if (prior !== undefined && prior !== v.name) throw new TypeError(`the key ${did} is registered as both ${prior} and ${v.name}`)
    verifiers.set(did, v.name)
  }
  const maxAge = countOption(options.invocationMaxAge, 300, 1, 86_400, 'invocationMaxAge')
  // As long, by default and at most, as a verifier's (spec/mandate-v1.md §7 step 7).
  const approvalWait = countOption(options.approvalWait, DEFAULT_APPROVAL_WAIT, 0, MAX_APPROVAL_WAIT, 'approvalWait')
  /** How long after its signature an invocation stays acceptable: its max age, or its wait. */
  const window = (waits = false, wait = approvalWait) => (waits ? Math.max(maxAge, wait) : maxAge)
  const skew = countOption(options.skew, 60, 0, 300, 'skew')
  const signatureMaxAge = countOption(options.signatureMaxAge, 300, 1, 86_400, 'signatureMaxAge')

  let names: { readonly list: readonly string[]; readonly origins: readonly URL[] } | undefined
  /** The configured names as origins, parsed again only when the list changes. */
  const originsOf = (list: readonly string[]): readonly URL[] => {
    if (names?.list !== list) names = { list, origins: list.map((n) => new URL(n.includes('://') ? n : `http://${n}`)) }
    return names.origins
  }

  /** `admit` runs after the signature and before the nonce is stored: strangers write nothing. */
  const signedBy = async (c: Context, body: Uint8Array, admit: (did: string) => void): Promise<Caller> => {
    const now = clock()
    const ours = options.authorities?.()
    // Every 401 of the signature's checks says what to sign (spec §3.2), this first one too;
    // made only for a refusal (every signed request passes here).
    const accept = () => ({ 'accept-signature': acceptSignature(!['GET', 'HEAD', 'DELETE'].includes(c.req.method)) })
    // The request's URL as its signer named it: with the matching name's scheme and authority.
    let url = c.req.url
    if (ours !== undefined) {
      const received = receivedAuthority(c)
      const origin = originsOf(ours).find((o) => reaches(o, received))
      if (origin === undefined) {
        throw new ServiceError(
          401,
          'ERR_AUTH_INVALID',
          `this service is not reached as ${JSON.stringify(received.shown.slice(0, 300))}: a request signed for another service is refused (the operator sets the names with --public-url)`,
          accept(),
        )
      }
      // Usually the URL already has that origin (a Host with its port, or no proxy): kept as is.
      if (!url.startsWith(`${origin.origin}/`)) {
        const asked = new URL(url)
        url = `${origin.origin}${asked.pathname}${asked.search}`
      }
    }
    let signed: VerifiedSignature
    try {
      // Off the event loop: the service serves other requests while the signature is checked.
      signed = await verifyRequestSignatureAsync(
        { method: c.req.method, url, header: (name) => c.req.header(name), body },
        { now, maxAge: signatureMaxAge, skew },
      )
    } catch (e) {
      if (!(e instanceof HttpSignatureError)) throw e
      throw new ServiceError(401, e.code, e.message, accept())
    }
    admit(signed.keyid)
    // A captured signed request is worth nothing twice: its nonce is used up here.
    const first = await stored(() => storeOf(c).useNonce(signed.keyid, signed.nonce, signed.created + signatureMaxAge + 2 * skew, now))
    if (!first) throw new ServiceError(401, 'ERR_AUTH_REPLAY', 'this signed request was already used; sign each request anew')
    return { did: signed.keyid, key: signed.publicKey }
  }

  const unexpired = (chain: readonly UnverifiedBlock[], now: number) => {
    const expires = chainExpiry(chain)
    if (expires !== undefined && now >= expires + skew) {
      throw new ServiceError(403, 'ERR_TIME_EXPIRED', `the chain expired at ${iso(expires)}`)
    }
  }

  return {
    skew,
    approvalWait,
    caller: (c, body) => signedBy(c, body, () => {}),
    async verifier(c, body) {
      const who = await signedBy(c, body, (did) => {
        if (!verifiers.has(did)) throw new ServiceError(403, 'ERR_NOT_AUTHORIZED', `${did} is not a registered verifier of this service`)
      })
      return { ...who, name: verifiers.get(who.did) as string }
    },
    served(chain) {
      const principal = chain[0]?.principal
      if (!principal || !roots.has(toHex(principal))) {
        throw new ServiceError(
          403,
          'ERR_ROOT_UNTRUSTED',
          `the chain's principal ${principal ? toDidKey(principal) : '(none)'} is not served here`,
        )
      }
    },
    fresh(invocation, now, waits) {
      if (invocation.issuedAt > now + skew) {
        throw new ServiceError(401, 'ERR_REQUEST_STALE', `the invocation is dated in the future (${iso(invocation.issuedAt)})`)
      }
      if (now > invocation.issuedAt + window(waits) + skew) {
        throw new ServiceError(
          401,
          'ERR_REQUEST_STALE',
          `the invocation was signed at ${iso(invocation.issuedAt)}, more than ${window(waits)}s ago; sign a fresh one`,
        )
      }
    },
    invocationDeadline(invocation, waits, wait) {
      return invocation.issuedAt + window(waits, wait) + skew
    },
    unexpired,
    async standing(chain, action, now, c) {
      const from = c === undefined ? store : storeOf(c)
      unexpired(chain, now)
      for (const b of chain) inStanding(b, await stored(() => from.revocationsFor(b.idHex)), action)
    },
    standingCheck(chain, action) {
      return {
        blockIds: chain.map((b) => b.idHex),
        check: (entries) => {
          for (const [i, b] of chain.entries()) inStanding(b, entries[i] ?? [], action)
        },
      }
    },
    addressedTo(chain, audience, invocation) {
      if (invocation && invocation.audience !== audience) {
        throw new ServiceError(
          403,
          'ERR_AUDIENCE',
          `the invocation is for ${JSON.stringify(invocation.audience)}, not ${JSON.stringify(audience)}`,
        )
      }
      for (const b of chain) {
        for (const cv of b.caveats) {
          if (cv.type === 'audience' && !cv.names.includes(audience)) {
            throw new ServiceError(403, 'ERR_AUDIENCE', `block ${b.index} is not for ${JSON.stringify(audience)}`)
          }
        }
      }
    },
  }
}

/**
 * Block `b` is neither revoked nor suspended for `action` by its statements `entries`, in feed
 * order (403 otherwise): a statement applies when unscoped, or scoped to a pattern covering the
 * action (spec §6.1 check 7); a resume, scoped or not, lifts the earlier suspensions.
 */
function inStanding(b: UnverifiedBlock, entries: readonly FeedEntry[], action: string | undefined): void {
  /** The suspension in force, if any: whether it was scoped (the verifier's words, src/verify/revocations.ts). */
  let suspended: 'scoped' | 'whole' | undefined
  const what = (scoped: boolean) => (scoped ? `${action} under block ${b.index}` : `block ${b.index}`)
  for (const e of entries) {
    const scoped = e.actions !== undefined && e.actions.length > 0
    // A scoped entry covers its actions and every action below them (spec §6.1).
    const applies = !scoped || (action !== undefined && e.actions?.some((p) => coversAction(p, action)) === true)
    if (e.kind === 'resume') suspended = undefined
    if (!applies) continue
    if (e.kind === 'revoke') throw new ServiceError(403, 'ERR_REVOKED', `${what(scoped)} is revoked`)
    if (e.kind === 'suspend') suspended = scoped ? 'scoped' : 'whole'
  }
  if (suspended) throw new ServiceError(403, 'ERR_SUSPENDED', `${what(suspended === 'scoped')} is suspended`)
}

/**
 * What a consume asked for: the chain's block ids and the sorted counter keys. A stored answer
 * is handed back only to the same question.
 */
export function consumeBinding(chain: readonly UnverifiedBlock[], counterKeys: readonly string[]): string {
  const text = `${chain.map((b) => b.idHex).join('.')}\n${[...counterKeys].sort().join('\n')}`
  return toHex(sha256(utf8(text)))
}

/**
 * Where a request was sent: the origin it names itself, scheme included (an absolute-form
 * target; another runtime), which only that very name reaches; or a `Host` without a scheme,
 * its host and the port it named (undefined: none).
 */
type ReceivedAuthority = { readonly shown: string } & (
  | { readonly origin: string }
  | { readonly origin?: undefined; readonly host: string; readonly port: string | undefined }
)

/**
 * The authority a request was sent to. Under node:http with an origin-form target it is the
 * `Host` header as sent: whether it names a port matters, since the service (behind a proxy
 * that ends TLS) cannot see the scheme the client used, and a port left out is the default of
 * the client's scheme. Otherwise (an absolute-form target, which names the authority itself,
 * RFC 9112 §3.2.2; another runtime, whose URL has the real scheme) the request's URL's origin.
 */
function receivedAuthority(c: Context): ReceivedAuthority {
  const incoming = (c.env as { incoming?: { url?: unknown; headers?: { host?: unknown } } } | undefined)?.incoming
  const host = incoming?.headers?.host
  const originForm = typeof incoming?.url === 'string' && incoming.url.startsWith('/')
  // HTTP/1.0 without a Host: the URL node:http made of it names the listen address, which the
  // request never named; it reaches no name.
  if (originForm && host === undefined) return { host: '', port: undefined, shown: '(no Host)' }
  if (originForm && typeof host === 'string') {
    const named = /^(\[[^\]]*\]|[^:]*)(?::(\d+))?$/.exec(host)
    try {
      // A lower-case name whose last label is no number is its own URL host name; anything else
      // (an IPv4 address in any notation, upper case, IPv6, punctuation) is read as a URL reads it.
      const plain = named?.[1] !== undefined && /^[a-z0-9.-]+$/.test(named[1]) && !/(^|\.)(0x[0-9a-f]*|\d+)\.?$/.test(named[1])
      const hostname = plain ? (named[1] as string) : new URL(`http://${named?.[1] ?? host}`).hostname
      return { host: hostname, port: named?.[2] === undefined ? undefined : String(Number(named[2])), shown: host.toLowerCase() }
    } catch {
      // Reaches no name of ours (an empty Host is refused before any route).
      return { host: host.toLowerCase(), port: undefined, shown: host.toLowerCase() }
    }
  }
  const url = new URL(c.req.url)
  return { origin: url.origin, shown: url.host }
}

const defaultPort = (protocol: string): string => (protocol === 'https:' ? '443' : '80')

/** Whether a request received for `received` is one for `origin`. */
function reaches(origin: URL, received: ReceivedAuthority): boolean {
  if (received.origin !== undefined) return origin.origin === received.origin
  if (origin.hostname !== received.host) return false
  // No port named: the default of the client's scheme, which is the origin's when the origin names none.
  if (received.port === undefined) return origin.port === ''
  return received.port === (origin.port || defaultPort(origin.protocol))
}
