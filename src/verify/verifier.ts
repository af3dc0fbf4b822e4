/**
 * The verifier (spec §7). `createVerifier(options).authorize(input)` decides one request.
 * It never throws on bad input: every problem becomes a {@link Denied} with a stable code,
 * the block and caveat at fault, a message and a hint.
 *
 * Every injected dependency (clock, revocation view, usage store, replay cache, extension
 * checkers) that throws or answers out of shape denies with a typed code, never an allow.
 *
 * Order (spec §7, and §7.3 for which failure wins when several apply): clock → text form →
 * size → strict CBOR → version → structure, outside in → approvals counted (at most 16) → root →
 * signatures (cached by exact bytes) → the request (one given beside an invocation must be the
 * one it signs) → holder proof (bearer secret, seal, or invocation signature with audience,
 * freshness and replay) → revocation (fail closed when stale; skipped only by the explicit
 * `revocations: 'none'`) → caveats → approvals → replay
 * claim → usage counters, last, so that a denied request consumes nothing.
 *
 * @module
 */
import { coversAction, isActionName } from '../caveats/action.js'
import { encodeArgs } from '../caveats/args.js'
import { isResourceName } from '../caveats/resource.js'
import type { Args } from '../caveats/types.js'
import { encodeCbor } from '../cbor/codec.js'
import { TOKEN_LIMITS } from '../cbor/limits.js'
import type { BackendName, Ed25519Backend } from '../crypto/backend.js'
import { getBackend } from '../crypto/ed25519.js'
import { randomBytes } from '../crypto/hash.js'
import { parsePublicKey, toDidKey } from '../crypto/keys.js'
import { fail, MandateError, type MandateErrorCode } from '../errors.js'
import { equalBytes, toHex } from '../internal/bytes.js'
import { type Clock, iso, systemClock } from '../internal/clock.js'
import type { RevocationEntry, RevocationView } from '../revocation/view.js'
import { parseApproval, type UnverifiedApproval } from '../token/approval.js'
import type { UnverifiedBlock } from '../token/block.js'
import { parseInvocation, type Request, type UnverifiedInvocation } from '../token/invocation.js'
import { DEFAULT_MAX_LIFETIME, parseMandate, type UnverifiedMandate } from '../token/mandate.js'
import { signingInput } from '../token/signing.js'
import { kindOf } from '../token/text.js'
import { createMemoryUsageStore } from '../usage/memory.js'
import type { ConsumeResult, UsageStore } from '../usage/store.js'
import type { Allowed, AuditRecord, ChainLink, DecidedRequest, Decision, Denied } from './decision.js'
import { type ApprovalRequirement, type EvaluationResult, type ExtensionChecker, evaluateCaveats, type Presentation } from './evaluate.js'
import { checkChain, checkInvocationSignature, checkMandateProof } from './integrity.js'
import { createMemoryReplayCache, type ReplayCache } from './replay.js'
import { bareRequestId } from './request-id.js'
import { SignatureCache } from './signature-cache.js'

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
  /** Checkers for extension caveats, by type number (≥ 65536). */
  readonly extensions?: Readonly<Record<number, ExtensionChecker>>
  readonly backend?: BackendName
  /** Verified-signature cache entries (default 4096; 0 turns it off). */
  readonly cacheSize?: number
}

/** Time limits a verifier enforces. */
export interface VerifierLimits {
  /** Longest accepted root lifetime in seconds (default 90 days). */
  readonly maxLifetime?: number
  /** How old an invocation may be, in seconds (default 300). */
  readonly invocationMaxAge?: number
}

/** What to decide on. Give a `token` (text, either kind) or one of `mandate` / `invocation`. */
export interface AuthorizeInput {
  readonly token?: string
  readonly mandate?: string | Uint8Array | UnverifiedMandate
  readonly invocation?: string | Uint8Array | UnverifiedInvocation
  /**
   * The request, for a bare (bearer or sealed) mandate. An invocation carries its own; one given
   * beside it must equal it in action, resource, args and (if given) intent, else
   * `ERR_REQUEST_INVALID`.
   */
  readonly request?: Request
  /** At most 16 (`ERR_LIMIT_COUNT` beyond, before any is read). */
  readonly approvals?: readonly (string | Uint8Array | UnverifiedApproval)[]
  /**
   * Idempotency key for usage counting of bare mandates (invocations use their id). The id
   * counted is derived from it and the request (spec §6 uses), so a retry of the same request
   * counts once and another request under the same id counts on its own.
   */
  readonly requestId?: string
}

/** A configured verifier. */
export interface Verifier {
  /** Decide one request. Never throws for bad input; see {@link Decision}. */
  authorize(input: AuthorizeInput): Promise<Decision>
  readonly audience: string
  /** The revocation view in use, or `'none'` if this verifier does not check revocations. */
  readonly revocations: RevocationView | 'none'
  /** The usage store in use. */
  readonly usage: UsageStore
}

interface TrustedRoot {
  readonly key: Uint8Array
  readonly name: string | undefined
}

/**
 * Create a verifier.
 *
 * @example
 * ```ts
 * const verifier = createVerifier({
 *   roots: [{ key: toDidKey(alice.publicKey), name: 'alice' }],
 *   audience: 'mail',
 *   revocations: createMemoryRevocationView(), // or a feed view; 'none' opts out explicitly
 * })
 * const decision = await verifier.authorize({ invocation: 'mni1_…' })
 * if (!decision.allowed) console.log(decision.code, decision.hint)
 * ```
 */
export function createVerifier(options: VerifierOptions): Verifier {
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
  const skew = seconds(options.skew ?? 60, 0, 300, 'skew')
  const maxLifetime = seconds(options.limits?.maxLifetime ?? DEFAULT_MAX_LIFETIME, 1, 10 * 365 * 86400, 'limits.maxLifetime')
  const invocationMaxAge = seconds(options.limits?.invocationMaxAge ?? 300, 1, 86400, 'limits.invocationMaxAge')
  const revocationMaxAge = seconds(options.revocationMaxAge ?? 30, 1, 86400, 'revocationMaxAge')
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
  const engine: Engine = {
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
    extensions: new Map(Object.entries(options.extensions ?? {}).map(([k, v]) => [Number(k), v])),
    backend: getBackend(options.backend),
    cache: new SignatureCache(options.cacheSize ?? 4096),
  }
  return {
    audience: engine.audience,
    revocations: engine.revocations,
    usage: engine.usage,
    authorize: (input) => authorize(engine, input),
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

function seconds(value: unknown, min: number, max: number, title: string): number {
  if (typeof value !== 'number' || !Number.isInteger(value)) throw new TypeError(`"${title}" expected whole seconds, got ${typeof value}`)
  if (value < min || value > max) throw new RangeError(`"${title}" expected ${min}..${max}, got ${value}`)
  return value
}

interface Engine {
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
  readonly extensions: ReadonlyMap<number, ExtensionChecker>
  readonly backend: Ed25519Backend
  readonly cache: SignatureCache
}

/** The state of one authorization as it proceeds; used to build the decision either way. */
interface Progress {
  now: number
  chain?: readonly UnverifiedBlock[]
  presentation?: Presentation | 'bound'
  invocation?: UnverifiedInvocation
  request?: DecidedRequest
  root?: TrustedRoot
}

/** Approvals read per request, at most (more are refused unread, before any signature work). */
const MAX_APPROVALS = 16

async function authorize(engine: Engine, input: AuthorizeInput): Promise<Decision> {
  const progress: Progress = { now: 0 }
  let claimed: UnverifiedInvocation | undefined
  try {
    readClock(engine.clock, progress)
    const { chain, presentation, invocation, request, bytes, proof } = parsePresentation(input)
    progress.chain = chain
    progress.presentation = presentation
    if (invocation) progress.invocation = invocation
    const approvalList = presentedApprovals(input.approvals)
    progress.root = verifyChain(engine, chain)
    const req = resolveRequest(input.request, invocation, request)
    progress.request = req
    await verifyHolder(engine, proof, progress, chain, presentation, invocation)
    checkRevocations(engine, progress.now, chain, req.action)
    const evaluation = evaluateCaveats({
      now: progress.now,
      skew: engine.skew,
      maxLifetime: engine.maxLifetime,
      audience: engine.audience,
      request: req,
      presentation: presentation as Presentation,
      chain,
      extensions: engine.extensions,
    })
    const approvers = checkApprovals(engine, progress.now, evaluation.approvals, approvalList, invocation)
    if (invocation) {
      const until = invocation.issuedAt + engine.invocationMaxAge + engine.skew + 1
      // A claim that answers anything but true or false is not known to be ours: deny, and do
      // not release it (it may be another verifier's).
      const won = await dependency(
        () => engine.replay.claim(invocation.idHex, until, progress.now, invocation.bytes),
        isBoolean,
        REPLAY_STORE,
      )
      if (!won) fail('ERR_REPLAY', 'this invocation was already used', { hint: 'sign a new invocation for each request' })
      claimed = invocation
    }
    const usage = await consumeUsage(engine, progress.now, evaluation, input, req, invocation, bytes)
    return allowed(engine, progress, req, evaluation, approvers, usage)
  } catch (e) {
    if (claimed !== undefined) {
      try {
        await engine.replay.release(claimed.idHex, claimed.bytes)
      } catch {
        // The claim then simply expires; the request is denied either way.
      }
    }
    return denied(engine, progress, e)
  }
}

/**
 * Read the injected clock once. One that throws, or answers anything but a whole number of
 * seconds ≥ 0, denies the request (the audit record then carries the system time).
 */
function readClock(clock: Clock, progress: Progress): void {
  let now: unknown
  try {
    now = clock()
  } catch (cause) {
    progress.now = systemClock()
    fail('ERR_CLOCK_UNAVAILABLE', 'the verifier clock failed', { cause, hint: 'the clock given to createVerifier threw' })
  }
  if (!Number.isSafeInteger(now) || (now as number) < 0) {
    progress.now = systemClock()
    const got = typeof now === 'number' ? String(now) : typeof now
    fail('ERR_CLOCK_UNAVAILABLE', `the verifier clock gave no whole number of seconds (got ${got})`, {
      hint: 'the clock given to createVerifier must return Unix time in whole seconds',
    })
  }
  progress.now = now as number
}

/** The presented approvals: a list of at most {@link MAX_APPROVALS}, counted before any is read. */
function presentedApprovals(approvals: unknown): readonly (string | Uint8Array | UnverifiedApproval)[] {
  if (approvals === undefined) return []
  if (!Array.isArray(approvals)) fail('ERR_REQUEST_INVALID', 'approvals must be a list')
  if (approvals.length > MAX_APPROVALS) {
    fail('ERR_LIMIT_COUNT', `at most ${MAX_APPROVALS} approvals per request, got ${approvals.length}`, {
      hint: 'present only the approvals the approval caveats ask for',
    })
  }
  return approvals
}

function parsePresentation(input: AuthorizeInput): {
  chain: readonly UnverifiedBlock[]
  presentation: Presentation | 'bound'
  invocation?: UnverifiedInvocation
  request?: DecidedRequest
  bytes: Uint8Array
  proof?: UnverifiedMandate['proof']
} {
  if (!input || typeof input !== 'object') fail('ERR_REQUEST_INVALID', 'authorize() needs { token } or { mandate } or { invocation }')
  const given = [input.token, input.mandate, input.invocation].filter((x) => x !== undefined).length
  if (given !== 1) fail('ERR_REQUEST_INVALID', 'give exactly one of token, mandate, invocation')
  let source:
    | { kind: 'mandate'; value: string | Uint8Array | UnverifiedMandate }
    | { kind: 'invocation'; value: string | Uint8Array | UnverifiedInvocation }
  if (input.token !== undefined) {
    if (typeof input.token !== 'string') fail('ERR_REQUEST_INVALID', 'token must be text')
    const kind = kindOf(input.token)
    if (kind === 'mandate') source = { kind, value: input.token }
    else if (kind === 'invocation') source = { kind, value: input.token }
    else fail('ERR_TEXT_FORMAT', 'token is neither a mandate (mnd1_) nor an invocation (mni1_)')
  } else if (input.mandate !== undefined) source = { kind: 'mandate', value: input.mandate }
  else source = { kind: 'invocation', value: input.invocation as string | Uint8Array | UnverifiedInvocation }

  if (source.kind === 'invocation') {
    const v = source.value
    const invocation = typeof v === 'string' || v instanceof Uint8Array ? parseInvocation(v) : reparse(v.bytes, parseInvocation)
    return {
      chain: invocation.chain,
      presentation: 'invocation',
      invocation,
      request: {
        action: invocation.action,
        ...(invocation.resource === undefined ? {} : { resource: invocation.resource }),
        args: invocation.args,
        ...(invocation.intent === undefined ? {} : { intent: invocation.intent }),
      },
      bytes: invocation.bytes,
    }
  }
  const v = source.value
  const mandate = typeof v === 'string' || v instanceof Uint8Array ? parseMandate(v) : reparse(v.bytes, parseMandate)
  const presentation = mandate.proof.kind === 'bearer' ? 'bearer' : mandate.proof.kind === 'sealed' ? 'sealed' : 'bound'
  return { chain: mandate.blocks, presentation, bytes: mandate.bytes, proof: mandate.proof }
}

/** Objects handed in are re-read from their bytes: the verifier trusts no pre-parsed state. */
function reparse<T>(bytes: unknown, parse: (b: Uint8Array) => T): T {
  if (!(bytes instanceof Uint8Array)) fail('ERR_REQUEST_INVALID', 'expected a parsed token with its bytes')
  return parse(bytes)
}

function verifyChain(engine: Engine, chain: readonly UnverifiedBlock[]): TrustedRoot {
  const first = chain[0] as UnverifiedBlock
  const principal = first.principal as Uint8Array
  const root = engine.roots.get(toHex(principal))
  if (!root) {
    fail('ERR_ROOT_UNTRUSTED', `the principal ${toDidKey(principal)} is not a trusted root of this verifier`, {
      block: 0,
      hint: 'add the principal with --root (or `roots` in createVerifier) if it should be trusted',
    })
  }
  // The root was found by the exact bytes of the principal block 0 names, so checking block 0
  // under that principal is checking it under the trusted key.
  checkChain(chain, engine.backend, engine.cache)
  return root
}

function resolveRequest(
  given: Request | undefined,
  invocation: UnverifiedInvocation | undefined,
  fromInvocation: DecidedRequest | undefined,
): DecidedRequest {
  if (invocation && fromInvocation) {
    if (given !== undefined) {
      const field = requestDifference(given, fromInvocation)
      if (field !== undefined) {
        fail('ERR_REQUEST_INVALID', `the request differs from what the invocation signs: ${field}`, {
          hint: 'an invocation carries its own request; pass none, or exactly the one it signs',
        })
      }
    }
    // Arguments decoded from the signed payload already passed the strict profile.
    checkRequest(fromInvocation, false)
    return fromInvocation
  }
  if (!given || typeof given !== 'object') {
    fail('ERR_REQUEST_INVALID', 'a bare mandate needs a request (action, resource, args)', {
      hint: 'pass { request: { action, resource } }',
    })
  }
  // Absent args are the empty object; `null` is not absent (it fails checkRequest).
  const args: Args = given.args === undefined ? Object.create(null) : given.args
  const request: DecidedRequest = { action: given.action, ...(given.resource === undefined ? {} : { resource: given.resource }), args }
  checkRequest(request)
  return request
}

/**
 * The first field in which a request given beside an invocation differs from the one the
 * invocation signs: action, resource (present or absent), args (by canonical encoding; absent
 * equals empty, as the invocation omits empty args), intent (when given). None: `undefined`.
 */
function requestDifference(given: unknown, signed: DecidedRequest): string | undefined {
  if (given === null || typeof given !== 'object' || Array.isArray(given)) return 'request (not an object)'
  const r = given as { action?: unknown; resource?: unknown; args?: unknown; intent?: unknown }
  if (r.action !== signed.action) return 'action'
  if (r.resource !== signed.resource) return 'resource'
  if (!sameArgs(r.args, signed.args)) return 'args'
  if (r.intent !== undefined && r.intent !== signed.intent) return 'intent'
  return undefined
}

function sameArgs(given: unknown, signed: Args): boolean {
  const encode = (a: Args) => encodeCbor(encodeArgs(a))
  if (given === undefined) return Object.keys(signed).length === 0
  if (!isArgsObject(given)) return false
  try {
    return equalBytes(encode(given), encode(signed))
  } catch {
    return false // not encodable: it cannot be what was signed
  }
}

/** Arguments are an object (not a list, not null); its values are checked when encoded. */
function isArgsObject(v: unknown): v is Args {
  return v !== null && typeof v === 'object' && !Array.isArray(v)
}

function checkRequest(r: DecidedRequest, checkArgs = true): void {
  if (typeof r.action !== 'string' || !isActionName(r.action)) {
    fail('ERR_REQUEST_INVALID', `not an action name: ${JSON.stringify(r.action)}`, {
      hint: 'actions are :-separated lowercase segments of a-z 0-9 _ . - like email:read',
    })
  }
  if (r.resource !== undefined && (typeof r.resource !== 'string' || !isResourceName(r.resource))) {
    fail('ERR_REQUEST_INVALID', 'the resource is not a valid resource string', {
      hint: `a resource is /-separated non-empty segments, none "." or "..", without control characters, "\\" or %2f/%5c/%2e, at most ${TOKEN_LIMITS.maxStringBytes} bytes`,
    })
  }
  if (!checkArgs) return
  if (!isArgsObject(r.args)) fail('ERR_REQUEST_INVALID', 'args must be an object of named arguments')
  // Every failure is ERR_REQUEST_INVALID (spec §5.6, §7 step 6): depth, entries, text size,
  // unpaired surrogates — what an invocation reports as a structure error at step 2.
  try {
    encodeCbor(encodeArgs(r.args))
  } catch (e) {
    fail('ERR_REQUEST_INVALID', `args: ${(e as Error).message}`)
  }
}

async function verifyHolder(
  engine: Engine,
  proof: UnverifiedMandate['proof'] | undefined,
  progress: Progress,
  chain: readonly UnverifiedBlock[],
  presentation: Presentation | 'bound',
  invocation: UnverifiedInvocation | undefined,
): Promise<void> {
  const last = chain[chain.length - 1] as UnverifiedBlock
  const at = { block: last.index }
  if (presentation === 'invocation' && invocation) {
    checkInvocationSignature(invocation, engine.backend)
    if (invocation.audience !== engine.audience) {
      fail('ERR_AUDIENCE', `the invocation is for ${JSON.stringify(invocation.audience)}, not ${JSON.stringify(engine.audience)}`, {
        hint: `sign the invocation with --audience ${engine.audience}`,
      })
    }
    const { now } = progress
    if (invocation.issuedAt > now + engine.skew)
      fail('ERR_PROOF', `the invocation is dated in the future (${iso(invocation.issuedAt)})`, { hint: 'check the agent clock' })
    if (invocation.issuedAt < now - engine.invocationMaxAge - engine.skew) {
      fail('ERR_PROOF', `the invocation is stale (signed ${iso(invocation.issuedAt)}, older than ${engine.invocationMaxAge}s)`, {
        hint: 'sign a fresh invocation',
      })
    }
    const seen = await dependency(() => engine.replay.has(invocation.idHex, now), isBoolean, REPLAY_STORE)
    if (seen) fail('ERR_REPLAY', 'this invocation was already used', { hint: 'sign a new invocation for each request' })
    return
  }
  if (proof === undefined) fail('ERR_PROOF', 'no holder proof was presented', at)
  checkMandateProof(chain, proof, engine.backend, engine.cache)
}

function checkRevocations(engine: Engine, now: number, chain: readonly UnverifiedBlock[], action: string): void {
  const view = engine.revocations
  // An explicit opt-out (spec §7 step 8): nothing is checked, and the audit record says so.
  if (view === 'none') return
  let freshAt: unknown
  try {
    freshAt = view.freshAt()
  } catch (e) {
    // A view that knows why it cannot answer (a rewritten feed) says so; anything else is stale.
    if (e instanceof MandateError) throw e
    freshAt = undefined
  }
  // Anything but a finite number (a string, NaN, a promise) is a view that failed to answer.
  if (typeof freshAt !== 'number' || !Number.isFinite(freshAt) || freshAt < now - engine.revocationMaxAge) {
    const when = typeof freshAt === 'number' && Number.isFinite(freshAt) ? iso(freshAt) : 'never'
    // A feed view keeps why its last sync failed (timed out, another signing key, …): say it.
    const last = (view as { readonly lastError?: unknown }).lastError
    const why = last instanceof MandateError ? `the last sync failed: ${last.message}` : 'the verifier cannot reach its revocation service'
    fail('ERR_REVOCATION_STALE', `the revocation view is stale (last complete ${when})`, {
      hint: `${why}; it denies until it can (fail closed)`,
    })
  }
  for (const b of chain) {
    let entries: unknown
    try {
      entries = view.entries(b.idHex)
    } catch {
      fail('ERR_REVOCATION_STALE', 'the revocation view failed to answer', { block: b.index })
    }
    if (entries !== undefined && !(Array.isArray(entries) && entries.every(isRevocationEntry))) {
      fail('ERR_REVOCATION_STALE', 'the revocation view gave an unusable answer', { block: b.index })
    }
    // Within a block a revocation wins over a suspension, whatever order the view lists them
    // in (spec §7.3): revocation is permanent, so it is the answer that says what to do.
    const listed = (entries ?? []) as readonly RevocationEntry[]
    for (const e of [...listed.filter((x) => x.kind === 'revoke'), ...listed.filter((x) => x.kind !== 'revoke')]) {
      const scoped = e.actions !== undefined && e.actions.length > 0
      // A scoped entry covers its actions and every action below them (spec §6.1).
      if (scoped && !e.actions?.some((p) => coversAction(p, action))) continue
      const who = typeof e.by === 'string' && e.by ? ` by ${e.by}` : ''
      const why = typeof e.reason === 'string' && e.reason ? `: ${e.reason}` : ''
      const what = scoped ? `${action} under block ${b.index}` : `block ${b.index}`
      if (e.kind === 'revoke') {
        fail('ERR_REVOKED', `${what} was revoked${who} at ${iso(e.at)}${why}`, {
          block: b.index,
          hint: 'ask the delegator for a new mandate',
        })
      }
      fail('ERR_SUSPENDED', `${what} is suspended${who} since ${iso(e.at)}${why}`, { block: b.index, hint: 'it works again once resumed' })
    }
  }
}

/** An entry a verifier can act on: a known kind and, if scoped, a list of pattern texts. */
function isRevocationEntry(v: unknown): v is RevocationEntry {
  if (v === null || typeof v !== 'object') return false
  const e = v as Record<string, unknown>
  const actions = e['actions']
  return (
    (e['kind'] === 'revoke' || e['kind'] === 'suspend') &&
    (actions === undefined || (Array.isArray(actions) && actions.every((p: unknown) => typeof p === 'string')))
  )
}

function checkApprovals(
  engine: Engine,
  now: number,
  requirements: readonly ApprovalRequirement[],
  presented: readonly (string | Uint8Array | UnverifiedApproval)[],
  invocation: UnverifiedInvocation | undefined,
): string[] {
  const valid = new Set<string>()
  const listed = new Set(requirements.flatMap((r) => r.approvers))
  for (const [i, raw] of presented.entries()) {
    let a: UnverifiedApproval
    try {
      a = typeof raw === 'string' || raw instanceof Uint8Array ? parseApproval(raw) : parseApproval(raw.bytes)
    } catch (e) {
      fail('ERR_APPROVAL_INVALID', `approval ${i}: ${e instanceof Error ? e.message : 'unreadable'}`)
    }
    const outcome = engine.backend.verify(a.signature, signingInput('approval', a.payload), a.approver)
    if (outcome !== 'accept') fail('ERR_APPROVAL_INVALID', `approval ${i}: signature rejected (${outcome.replaceAll('_', ' ')})`)
    if (!invocation || !equalBytes(a.invocationId, invocation.id)) {
      fail('ERR_APPROVAL_INVALID', `approval ${i} is for another request`, { hint: 'an approval names exactly one invocation id' })
    }
    if (now >= a.expires + engine.skew)
      fail('ERR_APPROVAL_INVALID', `approval ${i} expired at ${iso(a.expires)}`, { hint: 'ask the approver again' })
    if (a.issuedAt > now + engine.skew) fail('ERR_APPROVAL_INVALID', `approval ${i} is dated in the future`)
    const who = toDidKey(a.approver)
    if (requirements.length > 0 && !listed.has(who)) {
      fail('ERR_APPROVAL_INVALID', `approval ${i} is from ${who}, who is not a listed approver`, {
        hint: `listed: ${[...listed].join(', ')}`,
      })
    }
    valid.add(who)
  }
  for (const r of requirements) {
    const have = r.approvers.filter((k) => valid.has(k)).length
    if (have < r.quorum) {
      const missing = r.approvers.filter((k) => !valid.has(k))
      const how = invocation
        ? `submit invocation ${invocation.idHex} for approval`
        : 'approvals bind to an invocation: present one signed by the holder (mni1_…)'
      fail('ERR_APPROVAL_REQUIRED', `block ${r.block} needs ${r.quorum} approval(s) for this action; ${have} given`, {
        block: r.block,
        caveat: 'approval',
        caveatIndex: r.caveatIndex,
        hint: `needs ${r.quorum - have} more from: ${missing.join(', ')}; ${how}`,
      })
    }
  }
  return [...valid]
}

async function consumeUsage(
  engine: Engine,
  now: number,
  evaluation: EvaluationResult,
  input: AuthorizeInput,
  request: DecidedRequest,
  invocation: UnverifiedInvocation | undefined,
  presentation: Uint8Array,
): Promise<{ key: string; remaining: number }[]> {
  if (evaluation.counters.length === 0) return []
  const requestId = invocation?.idHex ?? bareRequestId(input.requestId ?? toHex(randomBytes(16)), request)
  const result = await dependency(
    () => engine.usage.consume({ requestId, counters: evaluation.counters, now, presentation }),
    isConsumeResult,
    USAGE_STORE,
  )
  if (!result.granted) {
    const c = evaluation.counters.find((x) => x.key === result.exhausted)
    const at = c ? { block: c.block, caveat: 'uses', caveatIndex: c.caveatIndex } : {}
    const when = typeof result.resetAt === 'number' ? `; next use allowed at ${iso(result.resetAt)}` : '; the quota does not reset'
    fail('ERR_USAGE_EXHAUSTED', `usage limit of ${c?.max ?? '?'}${c?.per ? ` per ${c.per}s` : ''} reached`, {
      ...at,
      hint: `quota spent${when}`,
    })
  }
  return result.remaining.map(({ key, remaining }) => ({ key, remaining }))
}

/** An injected store, as {@link dependency} names it in denials. */
interface StoreTitle {
  readonly code: MandateErrorCode
  readonly what: string
  readonly hint: string
}

const REPLAY_STORE: StoreTitle = {
  code: 'ERR_REPLAY_UNAVAILABLE',
  what: 'the replay store',
  hint: 'replay protection needs its store; denied until it answers (fail closed)',
}

const USAGE_STORE: StoreTitle = {
  code: 'ERR_COUNTER_UNAVAILABLE',
  what: 'the usage counter',
  hint: 'usage limits need a live counter; the request is denied until it is reachable (fail closed)',
}

/**
 * Call an injected store. A MandateError it throws stands (it knows what went wrong, e.g. "no
 * service configured"); any other failure, and any answer `valid` refuses, becomes the store's
 * code: the request is denied, never thrown, never allowed on a garbled answer.
 */
async function dependency<T>(call: () => unknown, valid: (value: unknown) => value is T, store: StoreTitle): Promise<T> {
  let value: unknown
  try {
    value = await call()
  } catch (cause) {
    if (cause instanceof MandateError) throw cause
    fail(store.code, `${store.what} could not be reached`, { cause, hint: store.hint })
  }
  if (!valid(value)) fail(store.code, `${store.what} gave an unusable answer`, { hint: store.hint })
  return value
}

const isBoolean = (v: unknown): v is boolean => typeof v === 'boolean'

const isCount = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) >= 0

/** A well-formed {@link ConsumeResult}: `granted` exactly true or false, and the fields that go with it. */
function isConsumeResult(v: unknown): v is ConsumeResult {
  if (v === null || typeof v !== 'object') return false
  const r = v as Record<string, unknown>
  if (r['granted'] === true) {
    const remaining = r['remaining']
    return (
      Array.isArray(remaining) &&
      remaining.every(
        (x: unknown) =>
          x !== null &&
          typeof x === 'object' &&
          typeof (x as Record<string, unknown>)['key'] === 'string' &&
          isCount((x as Record<string, unknown>)['remaining']),
      )
    )
  }
  if (r['granted'] === false) {
    const resetAt = r['resetAt']
    return typeof r['exhausted'] === 'string' && (resetAt === undefined || resetAt === null || isCount(resetAt))
  }
  return false
}

function chainLinks(progress: Progress): ChainLink[] {
  const chain = progress.chain
  if (!chain || chain.length === 0) return []
  const first = chain[0] as UnverifiedBlock
  const principal: ChainLink = {
    role: 'principal',
    key: toDidKey(first.principal as Uint8Array),
    ...(progress.root?.name === undefined ? {} : { name: progress.root.name }),
  }
  return [
    principal,
    ...chain.map(
      (b): ChainLink => ({
        role: 'holder',
        key: toDidKey(b.holder),
        ...(b.name === undefined ? {} : { name: b.name }),
        ...(b.purpose === undefined ? {} : { purpose: b.purpose }),
        block: b.index,
        blockId: b.idHex,
        bearer: b.bearer,
        delegatedAt: b.issuedAt,
      }),
    ),
  ]
}

function label(link: ChainLink): string {
  return link.name ?? link.key
}

function audit(
  engine: Engine,
  progress: Progress,
  links: readonly ChainLink[],
  extra: Partial<AuditRecord> & Pick<AuditRecord, 'decision'>,
): AuditRecord {
  const req = progress.request
  return {
    at: progress.now,
    audience: engine.audience,
    ...(progress.presentation === undefined ? {} : { presentation: progress.presentation }),
    ...(engine.revocations === 'none' ? { revocations: 'none' as const } : {}),
    ...(progress.invocation === undefined ? {} : { invocationId: progress.invocation.idHex }),
    ...(req === undefined ? {} : { action: req.action }),
    ...(req?.resource === undefined ? {} : { resource: req.resource }),
    ...(req?.intent === undefined ? {} : { intent: req.intent }),
    ...(links[0] === undefined ? {} : { principal: links[0].key }),
    holders: links.slice(1).map(label),
    blockIds: (progress.chain ?? []).map((b) => b.idHex),
    approvals: [],
    usage: [],
    ...extra,
  }
}

function allowed(
  engine: Engine,
  progress: Progress,
  request: DecidedRequest,
  evaluation: EvaluationResult,
  approvals: string[],
  usage: { key: string; remaining: number }[],
): Allowed {
  const chain = chainLinks(progress)
  return {
    allowed: true,
    chain,
    request,
    ...(progress.invocation === undefined ? {} : { invocationId: progress.invocation.idHex }),
    matched: evaluation.matched,
    approvals,
    usage,
    audit: audit(engine, progress, chain, { decision: 'allow', approvals, usage }),
  }
}

function denied(engine: Engine, progress: Progress, e: unknown): Denied {
  const err =
    e instanceof MandateError
      ? e
      : new MandateError('ERR_INTERNAL', 'the verifier failed unexpectedly; the request is denied', { cause: e })
  const links = chainLinks(progress)
  return {
    allowed: false,
    code: err.code,
    message: err.message,
    ...(err.hint === undefined ? {} : { hint: err.hint }),
    ...(err.block === undefined ? {} : { block: err.block }),
    ...(err.caveat === undefined ? {} : { caveat: err.caveat }),
    ...(err.caveatIndex === undefined ? {} : { caveatIndex: err.caveatIndex }),
    ...(links.length === 0 ? {} : { chain: links }),
    audit: audit(engine, progress, links, { decision: 'deny', code: err.code }),
  }
}
