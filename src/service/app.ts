/**
 * The mandate service as a Hono app (spec/service-v1.md): revocations and their signed feed,
 * usage counters, and the approval inbox. `createApp(deps)` is pure wiring; `server.ts`
 * binds it to a socket.
 *
 * @module
 */
import { type Context, Hono, type Next } from 'hono'
import { streamSSE } from 'hono/streaming'
import type { Logger } from 'pino'
import { argsDigest } from '../caveats/args.js'
import { getBackend } from '../crypto/ed25519.js'
import { sha256 } from '../crypto/hash.js'
import { assertKeyPair, type KeyPair, parsePublicKey, toDidKey } from '../crypto/keys.js'
import { isMandateErrorCode } from '../errors.js'
import { fromHex, joinBytes, toHex, utf8 } from '../internal/bytes.js'
import { countOption } from '../internal/count.js'
import { printable } from '../internal/printable.js'
import { denialReason } from '../internal/reason.js'
import { FEED_PAGE_MAX, type FeedEntry, type SignedFeedPage, signFeedPage } from '../revocation/feed.js'
import { parseApproval } from '../token/approval.js'
import { chainExpiry, type UnverifiedBlock } from '../token/block.js'
import { checkPresentationAsync } from '../token/integrity.js'
import { formatInvocation, parseInvocation, type UnverifiedInvocation } from '../token/invocation.js'
import { authorityLevel, type UnverifiedRevocation, verifyRevocation } from '../token/revocation.js'
import { signedMessage } from '../token/signing.js'
import { kindOf } from '../token/text.js'
import type { UsageCounter } from '../usage/store.js'
import { amendmentAudit, amendmentSummaries, chainAmendments, checkLift, entryJson, parseStatement } from './amendments.js'
import { mountApprovalPage } from './approval-page.js'
import { mountApprovalStream } from './approval-stream.js'
import { quotaCounters, statusOf, summary } from './approval-summary.js'
import { type AuditEntry, redact, signCheckpoint } from './audit.js'
import { keyInQuery, ServiceError, stored, toServiceError } from './errors.js'
import { createFeedGuard, type FeedMarkStore } from './feed-mark.js'
import { createMetrics, type ServiceMetrics } from './metrics.js'
import { OPENAPI } from './openapi.js'
import type { ApprovalCursor, ApprovalRecord, RequestSteps, Store } from './store.js'

import { approversFor, consumeBinding, createTrust, type TrustOptions } from './trust.js'

/** What the app needs. Trust settings (served roots, registered verifiers) are in {@link TrustOptions}. */
export interface AppOptions extends TrustOptions {
  readonly store: Store
  /** The service's own key: it signs feed pages. */
  readonly key: KeyPair
  readonly clock?: () => number
  readonly logger?: Logger
  readonly metrics?: ServiceMetrics
  /** Seconds a feed page stays valid (`next_update − issued_at`), 2 to 86,400 and at least twice `pageGranularity` (default 60). */
  readonly pageTtl?: number
  /** Feed `issued_at` granularity in seconds, so that ETags hold between polls: 1 to 10 (default 2; a page's age counts against a verifier's `revocationMaxAge`). */
  readonly pageGranularity?: number
  /** Largest request body in bytes, 1 to 64 MiB (default 64 KiB). */
  readonly maxBody?: number
  /** How far a revocation's `created` may be from the service clock: 0 to 3,600 s (default 300 s). */
  readonly requestSkew?: number
  /** Push channel: how often to look for new entries (ms, 1 to 60,000, default 200) and heartbeat (s, 0 to 5 as spec/service-v1.md §4.2 asks, default 5; 0: at every look). */
  readonly streamPollMs?: number
  readonly heartbeatSeconds?: number
  /**
   * At most this many revocation streams open at once (1 to 100,000, default 256; spec/service-v1.md
   * §4.2): each looks at the store every `streamPollMs`, and the feed is public.
   */
  readonly maxFeedStreams?: number
  /** Called when the app is closing, so that open streams end. */
  readonly closing?: AbortSignal
  /**
   * The durable feed mark (highest head served, and its feed id), e.g. `fileFeedMark(keyFile + '.feed')`:
   * a page read whose head is below it under the same feed id rotates the feed id
   * (spec/service-v1.md §4.4). Without it, a restored database goes unnoticed by the service. (#7)
   */
  readonly feedMark?: FeedMarkStore
  /**
   * The name revocation statements address this service by: a statement that names another
   * audience is refused, so that a statement meant for one service cannot be replayed at
   * another. Without it, statements that name any audience are refused.
   */
  readonly audience?: string
  /** Most pending approval requests (unexpired, not answered by anyone yet) one requester may have: 1 to 100,000 (default 16). */
  readonly maxPendingPerRequester?: number
  /** Most statements one signer may have against one block, 1 to 100,000 (default 64); more are refused with 429. */
  readonly maxEntriesPerBlock?: number
  /** Called after each write to the approval inbox answered 2xx (the notifications look for new events at once). */
  readonly inboxWritten?: () => void
  /** Keys that may read the whole audit log and ask for checkpoints (spec/service-v1.md §8). */
  readonly auditors?: readonly { readonly name: string; readonly key: string | Uint8Array }[]
  /** Keep each invocation's arguments in the audit log, not only their digest (default false). */
  readonly auditArgs?: boolean
}

/**
 * Build the app. The store is yours to provide (an implementation of {@link Store});
 * {@link startService} opens SQLite or PostgreSQL itself.
 *
 * @example
 * ```ts
 * declare const store: Store // your implementation, e.g. over your own database
 * const app = createApp({
 *   store,
 *   key: generateKeyPair(),
 *   roots: [{ name: 'alice', key: 'did:key:z6Mk…' }], // whose chains are served
 *   verifiers: [{ name: 'mail', key: 'did:key:z6Mk…' }], // who may spend uses and claim replays
 * })
 * const res = await app.request('/healthz') // { status: 'ok' }
 * ```
 */
export function createApp(options: AppOptions): Hono {
  const { store, key } = options
  // Its public half is published in every feed page: a pair that does not match would sign pages no verifier accepts.
  assertKeyPair(key, "the service's key pair")
  const clock = options.clock ?? (() => Math.floor(Date.now() / 1000))
  const metrics = options.metrics ?? createMetrics()
  const pageTtl = countOption(options.pageTtl, 60, 2, 86_400, 'pageTtl')
  const granularity = countOption(options.pageGranularity, 2, 1, 10, 'pageGranularity')
  // A page is issued at the clock rounded down to the granularity, up to granularity − 1 s ago:
  // with a ttl under twice that, pages would reach verifiers at or past their next_update, and
  // be refused as a frozen feed.
  if (2 * granularity > pageTtl) {
    throw new RangeError(`"pageTtl" (${pageTtl}) must be at least twice "pageGranularity" (${granularity})`)
  }
  const skew = countOption(options.requestSkew, 300, 0, 3600, 'requestSkew')
  const streamPollMs = countOption(options.streamPollMs, 200, 1, 60_000, 'streamPollMs')
  const heartbeatSeconds = countOption(options.heartbeatSeconds, 5, 0, 5, 'heartbeatSeconds')
  const maxFeedStreams = countOption(options.maxFeedStreams, 256, 1, 100_000, 'maxFeedStreams')
  let feedStreams = 0
  const maxBody = countOption(options.maxBody, 64 * 1024, 1, 64 * 1024 * 1024, 'maxBody')
  const serviceDid = toDidKey(key.publicKey)
  const log = options.logger
  // The request line's fields are this service's own (the path escaped), never a token or a
  // body: its line skips the redaction paths, which cost more than the rest of the line.
  const requestLog = log?.child({}, { redact: [] })
  /**
   * Requests whose store operations resolve at commit ({@link Store.atCommit}): their answer,
   * whatever it is, waits in {@link oneDurableWait} for the commits it rests on (see there);
   * so does what they tell the metrics, kept here until then.
   */
  const answersAfterDurable = new WeakMap<Context, (() => void)[]>()
  const storeOf = (c: Context): RequestSteps => (answersAfterDurable.has(c) ? (store.atCommit ?? store) : store)
  /** Run `shown` once what request `c` rests on is durable (at once for a request not held). */
  const whenDurable = (c: Context, shown: () => void): void => {
    const held = answersAfterDurable.get(c)
    if (held) held.push(shown)
    else shown()
  }
  /**
   * One wait for durability per request instead of one per operation (its nonce, each read of
   * its standing, its consume or claim): every commit the answer rests on was made before it, so
   * one `durable()` before the answer leaves covers them all. Every answer waits, a refusal too
   * (a replayed nonce, a revoked block, a conflict), and so does anything thrown past Hono's
   * error handler: it may rest on a commit a crash could take back. A store that cannot make it
   * durable turns the answer into a 503, and the metrics never count it.
   */
  const oneDurableWait = async (c: Context, next: Next) => {
    const held: (() => void)[] = []
    answersAfterDurable.set(c, held)
    try {
      await next()
    } finally {
      const late = store.atCommit
      if (late) await stored(() => late.durable())
    }
    for (const shown of held) shown()
  }
  const trust = createTrust(options, store, clock, storeOf)
  const maxPending = countOption(options.maxPendingPerRequester, 16, 1, 100_000, 'maxPendingPerRequester')
  const maxEntries = countOption(options.maxEntriesPerBlock, 64, 1, 100_000, 'maxEntriesPerBlock')
  const auditors = new Map(
    (options.auditors ?? []).map((a) => [
      toDidKey(typeof a.key === 'string' ? parsePublicKey(a.key) : parsePublicKey(toHex(a.key))),
      a.name,
    ]),
  )
  const servedRoots = new Set(
    options.roots.map((r) => toDidKey(typeof r.key === 'string' ? parsePublicKey(r.key) : parsePublicKey(toHex(r.key)))),
  )
  const app = new Hono()

  // A request whose URL cannot be built or used (a Host that is empty or no host name, one
  // named twice, credentials in an absolute-form target), or a GET or HEAD that carries a body
  // (no route reads one, and a signature must not be taken to cover what nobody reads): the
  // caller's error, answered before anything reads the request.
  app.use('*', async (c, next) => {
    const malformed = (message: string) => c.json({ error: { code: 'ERR_REQUEST_MALFORMED', message } }, 400)
    try {
      const url = new URL(c.req.url)
      if (url.username !== '' || url.password !== '') throw new TypeError('credentials in the URL')
      void c.req.raw.headers
      if (c.req.header('host') === '' || hostLines(c) > 1) throw new TypeError('no single Host')
    } catch {
      return malformed('the request names no valid host or URL')
    }
    if ((c.req.method === 'GET' || c.req.method === 'HEAD') && carriesBody(c)) {
      return malformed(`a ${c.req.method} request carries no body`)
    }
    return next()
  })
  // Clients learn the service clock from each answer's Date (the approval page signs on it,
  // spec §7.1): it is the service clock, not the host's, whenever the two differ.
  app.use('*', async (c, next) => {
    await next()
    // On the answer itself: Context.header after the handler would rebuild the answer as a
    // full web Response (its body a stream) only to add one header.
    c.res.headers.set('Date', new Date(clock() * 1000).toUTCString())
  })
  app.use('*', async (c, next) => {
    const start = performance.now()
    await next()
    const route = c.req.routePath
    metrics.requests.inc({ method: c.req.method, route, status: String(c.res.status) })
    metrics.duration.observe({ route }, (performance.now() - start) / 1000)
    // The path is the caller's text: escaped, so that a log read on a terminal shows it as it is.
    requestLog?.info(
      { method: c.req.method, route, path: printable(c.req.path, 300), status: c.res.status, ms: Math.round(performance.now() - start) },
      'request',
    )
  })
  /**
   * A body read to its end. A client that goes away before sending all it announced is its own
   * error (400), not the service's: answered 500 and logged as a failure, anyone could fill the
   * error log and the 5xx rate by dropping connections. Any other failure stays a bug.
   */
  const bodyRead = async <T>(c: Context, read: () => Promise<T>): Promise<T> => {
    try {
      return await read()
    } catch (e) {
      if (!c.req.raw.signal.aborted) throw e
      throw new ServiceError(400, 'ERR_REQUEST_MALFORMED', 'the request body ended before all of it came (the client went away)')
    }
  }
  const tooLarge = (c: Context) => c.json({ error: { code: 'ERR_LIMIT_SIZE', message: `request body exceeds ${maxBody} bytes` } }, 413)
  /**
   * The body counted as it streams, cut at the limit, then handed on whole. (hono's bodyLimit
   * believes a Content-Length, which only node:http's HTTP/1.1 parser holds a body to.)
   */
  const streamedLimit = async (c: Context, next: () => Promise<void>) => {
    const stream = c.req.raw.body
    if (stream === null) return next()
    const reader = stream.getReader()
    const chunks: Uint8Array[] = []
    let size = 0
    for (;;) {
      const { done, value } = await bodyRead(c, () => reader.read())
      if (done) break
      size += value.length
      if (size > maxBody) {
        reader.cancel().catch(() => {})
        return tooLarge(c)
      }
      chunks.push(value)
    }
    c.req.raw = new Request(c.req.raw, { body: joinBytes(chunks) })
    return next()
  }
  app.use('*', async (c, next) => {
    if (c.req.method === 'GET' || c.req.method === 'HEAD') return next()
    // Under node:http's HTTP/1.1 parser, a body of a declared length (not chunked) is held to
    // that length, so the header decides, and the body is read later straight from the
    // connection. Counting it as a web stream instead costs a Request, a ReadableStream and an
    // AbortSignal a request. Anywhere else (HTTP/2, another runtime, app.request) a declared
    // length proves nothing: the body is counted as it streams.
    const incoming = (c.env as { incoming?: { httpVersionMajor?: unknown } } | undefined)?.incoming
    const length = c.req.header('content-length')
    if (
      incoming?.httpVersionMajor === 1 &&
      length !== undefined &&
      c.req.header('transfer-encoding') === undefined &&
      /^\d{1,15}$/.test(length)
    ) {
      return Number(length) > maxBody ? tooLarge(c) : next()
    }
    return streamedLimit(c, next)
  })
  // Writes come as JSON (statements also as CBOR); anything else is refused before it is read,
  // which also keeps browsers' "simple" cross-site form posts out.
  app.use('*', async (c, next) => {
    if (c.req.method === 'POST') {
      const type = (c.req.header('content-type') ?? '').split(';')[0]?.trim().toLowerCase()
      const cbor = type === 'application/cbor' && c.req.path === '/v1/revocations'
      if (type !== 'application/json' && !cbor) {
        throw new ServiceError(
          415,
          'ERR_MEDIA_TYPE',
          `content-type must be application/json${c.req.path === '/v1/revocations' ? ' or application/cbor' : ''}`,
        )
      }
    }
    await next()
  })
  app.onError((e, c) => {
    const err = toServiceError(e)
    if (err.status >= 500) log?.error({ code: err.code, message: err.message, route: c.req.routePath }, 'request failed')
    for (const [name, value] of Object.entries(err.headers)) c.header(name, value)
    return c.json({ error: { code: err.code, message: err.message } }, err.status as 400)
  })
  app.notFound((c) => c.json({ error: { code: 'ERR_NOT_FOUND', message: `no route ${c.req.method} ${printable(c.req.path, 300)}` } }, 404))

  // ---- audit records (spec/service-v1.md §8) ----------------------------------------------
  /** Who is in a chain: each block's holder key, name and purpose. */
  const chainOf = (chain: readonly UnverifiedBlock[]) =>
    chain.map((b) => ({
      block: b.index,
      key: toDidKey(b.holder),
      ...(b.name === undefined ? {} : { name: b.name }),
      ...(b.purpose === undefined ? {} : { purpose: b.purpose }),
    }))
  const principalOf = (chain: readonly UnverifiedBlock[]) => toDidKey(chain[0]?.principal as Uint8Array)
  /** What an invocation asked, as the log keeps it: arguments as a digest unless the operator opted in. */
  const askedBy = (inv: UnverifiedInvocation) => {
    const args = JSON.parse(JSON.stringify(inv.args)) as Record<string, unknown>
    // The digest the MCP guard's audit lines carry too: of the arguments' canonical CBOR (spec/mandate-v1.md §5.6).
    return {
      invocation: inv.idHex,
      principal: principalOf(inv.chain),
      chain: chainOf(inv.chain),
      action: inv.action,
      ...(inv.resource === undefined ? {} : { resource: inv.resource }),
      audience: inv.audience,
      argsDigest: argsDigest(inv.args),
      ...(options.auditArgs ? { args } : {}),
      ...(inv.intent === undefined ? {} : { intent: inv.intent }),
      issuedAt: inv.issuedAt,
    }
  }

  /** The exact body bytes (a signed request covers their digest) and their JSON object. */
  const strictUtf8 = new TextDecoder('utf-8', { fatal: true })
  const readRaw = async (c: Context): Promise<Uint8Array> => new Uint8Array(await bodyRead(c, () => c.req.arrayBuffer()))
  const json = (bytes: Uint8Array): Record<string, unknown> => {
    let parsed: unknown
    try {
      parsed = JSON.parse(strictUtf8.decode(bytes))
    } catch {
      throw new ServiceError(400, 'ERR_REQUEST_MALFORMED', 'the body must be a JSON object')
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))
      throw new ServiceError(400, 'ERR_REQUEST_MALFORMED', 'the body must be a JSON object')
    return parsed as Record<string, unknown>
  }
  const body = async (c: Context): Promise<Record<string, unknown>> => json(await readRaw(c))
  const EMPTY = new Uint8Array(0)
  /** A whole-number query parameter within [min, max]; anything else is the caller's error. */
  const intParam = (c: Context, name: string, min: number, max: number, fallback: number): number => {
    const v = c.req.query(name)
    if (v === undefined) return fallback
    if (!/^\d{1,15}$/.test(v) || Number(v) < min || Number(v) > max) {
      throw new ServiceError(400, 'ERR_REQUEST_MALFORMED', `"${name}" must be a whole number in ${min}..${max}`)
    }
    return Number(v)
  }
  const text = (b: Record<string, unknown>, field: string): string => {
    const v = b[field]
    if (typeof v !== 'string' || v.length === 0)
      throw new ServiceError(400, 'ERR_REQUEST_MALFORMED', `"${field}" must be a non-empty string`)
    return v
  }

  // ---- operations ------------------------------------------------------------------------
  app.get('/healthz', (c) => c.json({ status: 'ok' }))
  app.get('/readyz', async (c) => {
    try {
      // Ready means able to commit, not merely to answer a read.
      await store.probe()
      return c.json({ status: 'ready', storage: await store.settings() })
    } catch {
      return c.json({ error: { code: 'ERR_STORAGE_UNAVAILABLE', message: 'storage does not answer' } }, 503)
    }
  })
  app.get('/metrics', async (c) => {
    metrics.feedSeq.set(await stored(() => store.head()))
    return c.text(await metrics.registry.metrics(), 200, { 'content-type': metrics.registry.contentType })
  })
  app.get('/v1/service', (c) => c.json({ key: serviceDid, feed: { pageTtl, pageMax: FEED_PAGE_MAX } }))
  app.get('/openapi.json', (c) => c.json(OPENAPI))

  // ---- amendments in force (spec/service-v1.md §5.3) ----------------------------------------
  const amendmentsOf = (chain: readonly UnverifiedBlock[], from: RequestSteps = store) =>
    stored(() => chainAmendments(chain, (id) => from.revocationsFor(id)))
  /** Who must approve `invocation`: the approval caveats of its chain and of the amendments in force on it. */
  const approversOf = async (invocation: UnverifiedInvocation, from: RequestSteps = store) =>
    approversFor(invocation.chain, invocation.action, await amendmentsOf(invocation.chain, from))
  /**
   * Whether an invocation may be waiting for its approvals (spec/mandate-v1.md §7 step 7). The
   * amendments are read only when the chain's own caveats ask for none and it is no longer fresh.
   */
  const mayWait = async (invocation: UnverifiedInvocation, now: number, from: RequestSteps = store) =>
    approversFor(invocation.chain, invocation.action).length > 0 ||
    (now > trust.invocationDeadline(invocation, false) && (await approversOf(invocation, from)).length > 0)

  // ---- revocations -----------------------------------------------------------------------
  app.post('/v1/revocations', async (c) => {
    const raw = (c.req.header('content-type') ?? '').trim().toLowerCase().startsWith('application/cbor')
      ? new Uint8Array(await bodyRead(c, () => c.req.arrayBuffer()))
      : text(await body(c), 'revocation')
    const statement = parseStatement(raw)
    trust.served(statement.chain)
    const { signerRole } = verifyRevocation(statement)
    if (statement.audience !== undefined && statement.audience !== options.audience) {
      throw new ServiceError(
        403,
        'ERR_AUDIENCE',
        `the statement is addressed to ${JSON.stringify(statement.audience)}, not to this service${options.audience ? ` (${JSON.stringify(options.audience)})` : ''}`,
      )
    }
    const now = clock()
    // A retry of an accepted statement gets its sequence number back, however late.
    const prior = await stored(() => store.revocationSeq(statement.id))
    if (prior !== undefined) {
      metrics.revocations.inc({ kind: statement.kind, result: 'retry' })
      return c.json({ seq: prior, created: false, blockId: statement.target.idHex, kind: statement.kind }, 200)
    }
    // Nothing is left to say about a chain that has expired.
    const expiry = chainExpiry(statement.chain)
    if (expiry === undefined || now >= expiry + trust.skew) {
      throw new ServiceError(403, 'ERR_TIME_EXPIRED', 'the chain has expired: no mandate with this block can verify any more')
    }
    if (Math.abs(statement.created - now) > skew) {
      metrics.revocations.inc({ kind: statement.kind, result: 'stale' })
      throw new ServiceError(
        401,
        'ERR_REQUEST_STALE',
        `the statement was created ${statement.created}, more than ${skew}s from the service clock ${now}`,
      )
    }
    const final = statement.kind === 'revoke' && !statement.actions?.length
    const bySigner = toHex(statement.signer)
    // Checked against what is stored in the same serialized transaction as the insert, so
    // that racing statements cannot slip past each other (a resume past a suspension, a second
    // final revoke, a cap).
    const admit = (entries: readonly FeedEntry[], above: readonly (readonly FeedEntry[])[]): number | undefined => {
      const whole = (list: readonly FeedEntry[]) => list.find((e) => e.kind === 'revoke' && !e.actions?.length)
      if (above.some((list) => whole(list) !== undefined)) {
        throw new ServiceError(403, 'ERR_REVOKED', 'a block above this one is revoked: nothing below it can verify any more')
      }
      // A whole-block revocation is final: always accepted, and only once (a second adds nothing).
      const revoked = whole(entries)
      if (final) return revoked?.seq
      if (revoked) throw new ServiceError(403, 'ERR_REVOKED', 'this block is revoked: nothing more can be said about it')
      if (statement.kind === 'resume') checkResume(statement, entries)
      if (statement.kind === 'lift') checkLift(statement, entries)
      // The cap counts each signer apart: a holder filling its share cannot silence the principal.
      if (entries.filter((e) => e.by === bySigner).length >= maxEntries) {
        metrics.revocations.inc({ kind: statement.kind, result: 'refused' })
        throw new ServiceError(
          429,
          'ERR_LIMIT_RATE',
          `this signer already has ${maxEntries} statements against block ${statement.target.idHex}`,
        )
      }
      return undefined
    }
    const { seq, created } = await stored(() =>
      store.addRevocation(
        {
          statementId: statement.id,
          blockId: statement.target.idHex,
          kind: statement.kind,
          ...(statement.actions ? { actions: statement.actions } : {}),
          at: now,
          by: bySigner,
          ...(statement.reason === undefined ? {} : { reason: statement.reason }),
          expires: expiry + skew,
          statement: statement.bytes,
          ...(statement.kind === 'amend' ? { id: statement.id, caveats: statement.caveats } : {}),
          ...(statement.lifts === undefined ? {} : { lifts: statement.lifts }),
        },
        { above: statement.chain.slice(0, statement.target.index).map((b) => b.idHex), admit },
        {
          at: now,
          type: statement.kind === 'amend' ? 'amendment' : statement.kind === 'lift' ? 'amendment.lifted' : 'revocation',
          ...(statement.kind === 'amend' || statement.kind === 'lift' ? {} : { kind: statement.kind }),
          principal: principalOf(statement.chain),
          block: statement.target.index,
          blockId: statement.target.idHex,
          chain: chainOf(statement.chain.slice(0, statement.target.index + 1)),
          ...(statement.actions?.length ? { actions: statement.actions } : {}),
          ...amendmentAudit(statement),
          by: toDidKey(statement.signer),
          ...(statement.reason === undefined ? {} : { reason: statement.reason }),
          statement: statement.id,
        },
      ),
    )
    metrics.revocations.inc({ kind: statement.kind, result: created ? 'accepted' : 'retry' })
    log?.info({ seq, kind: statement.kind, block: statement.target.idHex, signer: signerRole, created }, 'revocation')
    return c.json({ seq, created, blockId: statement.target.idHex, kind: statement.kind }, created ? 201 : 200)
  })

  /** A resume must come from each active suspension's signer or a key above it. */
  const checkResume = (statement: UnverifiedRevocation, entries: readonly FeedEntry[]): void => {
    const lastResume = entries.reduce((at, e, i) => (e.kind === 'resume' ? i : at), -1)
    const level = authorityLevel(statement.chain, statement.signer) ?? Number.POSITIVE_INFINITY
    for (const e of entries.slice(lastResume + 1)) {
      if (e.kind !== 'suspend') continue
      const suspender = authorityLevel(statement.chain, fromHex(e.by) ?? new Uint8Array(32)) ?? Number.NEGATIVE_INFINITY
      if (level > suspender) {
        throw new ServiceError(
          403,
          'ERR_NOT_AUTHORIZED',
          'a suspension can only be lifted by the key that placed it or one above it in the chain',
        )
      }
    }
  }

  // The durable mark: a read below it under the same feed id rotates the feed id (§4.4). (#7)
  const feedGuard = options.feedMark ? createFeedGuard(store, options.feedMark, log) : undefined
  /**
   * A signed page from `since` (§4.1): the TRUE head (below `since` when the database went
   * back: the client then sees the rollback) and the feed id, from one snapshot; `next` is
   * where the following page starts.
   */
  const feedPage = async (since: number, limit: number): Promise<{ signed: SignedFeedPage; next: number }> => {
    const read = () => store.revocationsSince(since, limit + 1)
    const { entries, head, feedId, sinceEntry, headEntry } = await stored(() => (feedGuard ? feedGuard.serve(read) : read()))
    const issuedAt = Math.floor(clock() / granularity) * granularity
    const more = entries.length > limit
    const shown = entries.slice(0, limit)
    // The statement ids at `since` and at the head, from the same snapshot: a rewritten history shows (§4.4).
    const digests = { ...(sinceEntry === undefined ? {} : { sinceEntry }), ...(headEntry === undefined ? {} : { headEntry }) }
    const signed = signFeedPage(
      { serviceKey: key.publicKey, feedId, since, head, issuedAt, nextUpdate: issuedAt + pageTtl, entries: shown, more, ...digests },
      key.secretKey,
    )
    return { signed, next: more ? (shown[shown.length - 1]?.seq ?? since) : Math.max(since, head) }
  }
  const page = async (since: number, limit: number): Promise<SignedFeedPage> => (await feedPage(since, limit)).signed
  const sinceParam = (c: Context): number => {
    const v = c.req.query('since') ?? '0'
    if (!/^\d{1,15}$/.test(v)) throw new ServiceError(400, 'ERR_REQUEST_MALFORMED', '"since" must be a sequence number')
    return Number(v)
  }
  /** `limit`: an integer 1..FEED_PAGE_MAX (default FEED_PAGE_MAX); anything else is refused, never clamped. */
  const limitParam = (c: Context): number => {
    const v = c.req.query('limit')
    if (v === undefined) return FEED_PAGE_MAX
    const n = /^\d{1,4}$/.test(v) ? Number(v) : 0
    if (n < 1 || n > FEED_PAGE_MAX)
      throw new ServiceError(400, 'ERR_REQUEST_MALFORMED', `"limit" must be an integer from 1 to ${FEED_PAGE_MAX}`)
    return n
  }

  app.get('/v1/revocations', async (c) => {
    const limit = limitParam(c)
    const signed = await page(sinceParam(c), limit)
    const etag = `"${toHex(sha256(new TextEncoder().encode(signed.page))).slice(0, 32)}"`
    c.header('ETag', etag)
    c.header('Cache-Control', `no-cache`)
    if (c.req.header('if-none-match') === etag) return c.body(null, 304)
    return c.json(signed)
  })

  app.get('/v1/revocations/stream', (c) => {
    let since = sinceParam(c)
    const heartbeat = heartbeatSeconds * 1000
    if (feedStreams >= maxFeedStreams) {
      throw new ServiceError(
        429,
        'ERR_LIMIT_RATE',
        `this service already has ${maxFeedStreams} open revocation streams; read GET /v1/revocations meanwhile`,
      )
    }
    feedStreams++
    return streamSSE(c, async (stream) => {
      // The first page goes out at once (performance.now() starts with the process, not the stream).
      let lastSent = Number.NEGATIVE_INFINITY
      let open = true
      const end = () => {
        open = false
      }
      try {
        stream.onAbort(end)
        // Removed when this stream ends: one listener per open stream, never more. (#7)
        options.closing?.addEventListener('abort', end, { once: true })
        while (open && !options.closing?.aborted) {
          const head = await stored(() => store.head())
          // A head below `since` (a rolled-back database) is answered too, at the heartbeat:
          // the page carries the true head, and the client sees the rollback.
          if (head > since || performance.now() - lastSent >= heartbeat) {
            const { signed, next } = await feedPage(since, FEED_PAGE_MAX)
            await stream.writeSSE({ event: 'page', data: JSON.stringify(signed) })
            lastSent = performance.now()
            since = next
          }
          await stream.sleep(streamPollMs)
        }
      } catch (e) {
        // Storage failed: end the stream; the client falls back to polling and reconnects.
        log?.warn({ error: e instanceof Error ? e.message : String(e) }, 'revocation stream ended')
      } finally {
        feedStreams--
        options.closing?.removeEventListener('abort', end)
      }
    })
  })

  app.get('/v1/revocations/:blockId', async (c) => {
    const blockId = c.req.param('blockId')
    if (!/^[0-9a-f]{64}$/.test(blockId)) throw new ServiceError(400, 'ERR_REQUEST_MALFORMED', 'a block id is 64 lower-case hex digits')
    const entries = await stored(() => store.revocationsFor(blockId))
    // Whole-block state, as verifiers read it: a suspension without `actions` holds until any
    // resume lifts it; scoped entries are in `entries`.
    const whole = (e: FeedEntry) => !e.actions?.length
    const suspended = entries.reduce((s, e) => (e.kind === 'suspend' && whole(e) ? true : e.kind === 'resume' ? false : s), false)
    return c.json({
      blockId: blockId,
      revoked: entries.some((e) => e.kind === 'revoke' && whole(e)),
      suspended,
      entries: entries.map(entryJson),
    })
  })

  // ---- usage -----------------------------------------------------------------------------
  // Only a registered verifier spends uses, only for a served chain in standing, and for an
  // invocation only while it is fresh and addressed to that verifier. The idempotency key of an
  // invocation is its id; a stored answer goes back only to the same chain and counters.
  app.post('/v1/usage/consume', oneDurableWait, async (c) => {
    const bytes = await readRaw(c)
    const caller = await trust.verifier(c, bytes)
    const b = json(bytes)
    const { chain, invocation } = await checkPresentationAsync(text(b, 'presentation'))
    trust.served(chain)
    const keys = b['counters']
    if (!Array.isArray(keys) || keys.length === 0 || keys.length > 64 || !keys.every((k) => typeof k === 'string')) {
      throw new ServiceError(400, 'ERR_REQUEST_MALFORMED', '"counters" must be a list of 1–64 counter keys')
    }
    if (new Set(keys).size !== keys.length) throw new ServiceError(400, 'ERR_REQUEST_MALFORMED', '"counters" names a counter twice')
    const now = clock()
    let key: string
    if (invocation) {
      if (b['requestId'] !== undefined && b['requestId'] !== invocation.idHex) {
        throw new ServiceError(400, 'ERR_REQUEST_MALFORMED', 'for an invocation, "requestId" is its id (or absent)')
      }
      // One that needs an approval may have waited for it (spec/mandate-v1.md §7 step 7).
      trust.fresh(invocation, now, await mayWait(invocation, now, storeOf(c)))
      trust.addressedTo(chain, caller.name, invocation)
      key = `inv:${invocation.idHex}`
    } else {
      const requestId = text(b, 'requestId')
      if (!/^[\x21-\x7e]{1,128}$/.test(requestId)) {
        throw new ServiceError(400, 'ERR_REQUEST_MALFORMED', '"requestId" is 1–128 printable ASCII characters')
      }
      trust.addressedTo(chain, caller.name)
      // Bare request ids live in the caller's namespace: nobody answers for another verifier.
      // The name is length-prefixed, so that no two (name, id) pairs spell one key.
      key = `req:${caller.name.length}:${caller.name}:${requestId}`
    }
    // A key that names no block of the chain may name an amendment in force on one.
    const amended = (keys as string[]).some((k) => !chain.some((b) => k.startsWith(`${b.idHex}/`)))
    const amendments = amended ? await amendmentsOf(chain, storeOf(c)) : new Map<number, FeedEntry[]>()
    const counters = (keys as string[]).map((k) => counterFor(chain, k, amendments))
    // The statements are checked by the store, inside the transaction that spends (spec §3):
    // a statement that commits while this request is on its way still stops it. Read here
    // too only for a store that does not say it does that.
    if (store.checksStanding === true) trust.unexpired(chain, now)
    else await trust.standing(chain, invocation?.action, now, c)
    const standing = trust.standingCheck(chain, invocation?.action)
    const result = await stored(() =>
      storeOf(c).consume({ key, binding: consumeBinding(chain, keys as string[]), counters, standing }, now),
    )
    if (result === 'conflict') {
      throw new ServiceError(409, 'ERR_CONFLICT', 'this request id was used for another chain or other counters')
    }
    whenDurable(c, () => metrics.usage.inc({ result: result.granted ? 'granted' : 'exhausted' }))
    return c.json(result)
  })

  /**
   * The intact invocation `value` holds. A mandate there (bound, bearer or sealed) is the
   * caller's mistake, 400, said before any signature is checked: checked first, a bound one
   * would be refused as a proof error (401), as if a signature had failed.
   */
  const invocationIn = async (value: string, what: string) => {
    const refuse = () => new ServiceError(400, 'ERR_REQUEST_MALFORMED', `${what} carries an invocation (mni1_…), not a mandate`)
    if (kindOf(value) === 'mandate') throw refuse()
    const { chain, invocation } = await checkPresentationAsync(value)
    // For the type: a text that is no mandate is read as an invocation, or refused.
    if (!invocation) throw refuse()
    return { chain, invocation }
  }

  // ---- replay claims ---------------------------------------------------------------------
  // Shared by the verifiers of a deployment, so that an invocation is used once in all of
  // them. Only a registered verifier of the invocation's audience claims, while it is fresh
  // (or, needing an approval, within the approval wait); only the verifier holding a claim
  // releases it.
  const claimable = async (c: Context) => {
    const bytes = await readRaw(c)
    const caller = await trust.verifier(c, bytes)
    const { chain, invocation } = await invocationIn(text(json(bytes), 'invocation'), 'a replay claim')
    trust.served(chain)
    trust.addressedTo(chain, caller.name, invocation)
    return { caller, invocation }
  }
  app.post('/v1/replay/claim', oneDurableWait, async (c) => {
    const { caller, invocation } = await claimable(c)
    const now = clock()
    const waits = (await approversOf(invocation, storeOf(c))).length > 0
    trust.fresh(invocation, now, waits)
    // Kept past the last second any verifier could accept the invocation.
    const until = trust.invocationDeadline(invocation, waits) + trust.skew
    const claimed = await stored(() => storeOf(c).claimReplay(invocation.idHex, caller.did, until, now))
    return c.json({ id: invocation.idHex, claimed })
  })
  app.post('/v1/replay/release', async (c) => {
    const { caller, invocation } = await claimable(c)
    const outcome = await stored(() => store.releaseReplay(invocation.idHex, caller.did, clock()))
    if (outcome === 'not-yours')
      throw new ServiceError(403, 'ERR_NOT_AUTHORIZED', 'another verifier holds this claim; only it may release it')
    return c.json({ id: invocation.idHex, released: outcome === 'released' })
  })

  // ---- the approval page and the approver's push stream (spec/service-v1.md §7.1, §7.2) -------
  // Before the inbox's routes: `/v1/approvals/stream` is no request id, and the middleware that
  // wakes open streams after a write to the inbox must wrap those routes.
  /**
   * A request as the inbox answers it: {@link summary}, and what is left of each `uses` caveat
   * of its chain now, so that an approver sees what the agent has already spent.
   */
  const describe = async (record: ApprovalRecord) => {
    // The amendments in force on the chain now: an approver sees why an approval is asked
    // for when the signed chain itself does not say, and what an amendment's quota has left.
    const amendments = await amendmentsOf(parseInvocation(record.invocation).chain)
    const counters = quotaCounters(record, amendments)
    const used = await stored(() => store.usageOf(counters, clock()))
    const quota = counters.map(({ key: _key, ...q }, i) => {
      const spent = used[i] ?? 0
      return { ...q, used: spent, remaining: Math.max(0, q.max - spent) }
    })
    // The status counts the approvals those amendments ask for: without them a request that
    // needs an approval only because of one read `approved` before anyone answered.
    return { ...summary(record), status: statusOf(record, amendments), quota, amendments: amendmentSummaries(amendments) }
  }

  mountApprovalPage(app)
  mountApprovalStream(app, {
    store,
    clock,
    caller: (c) => trust.caller(c, EMPTY),
    summary: describe,
    inboxWritten: options.inboxWritten,
    closing: options.closing,
    logger: log,
  })

  // ---- approvals -------------------------------------------------------------------------
  // Filing needs no signed request: the invocation is the requester's signature, and a
  // relayed copy files nothing new. Reading and answering need the reader's key.
  app.post('/v1/approvals', async (c) => {
    const filing = await body(c)
    const invocationText = text(filing, 'invocation')
    // How long the request may wait for its approvals: at most the service's approval wait.
    const wait = filing['wait'] === undefined ? trust.approvalWait : filing['wait']
    if (typeof wait !== 'number' || !Number.isSafeInteger(wait) || wait < 0 || wait > trust.approvalWait) {
      throw new ServiceError(400, 'ERR_REQUEST_MALFORMED', `"wait" must be a whole number of seconds in 0..${trust.approvalWait}`)
    }
    const { chain, invocation } = await invocationIn(invocationText, 'an approval request')
    trust.served(chain)
    const now = clock()
    trust.fresh(invocation, now)
    // A revoked, suspended or expired chain, or one not for this audience, has nothing to ask for.
    await trust.standing(chain, invocation.action, now)
    trust.addressedTo(chain, invocation.audience, invocation)
    const approvers = await approversOf(invocation)
    if (approvers.length === 0)
      throw new ServiceError(409, 'ERR_CONFLICT', `no approval caveat applies to ${invocation.action}: it needs no approval`)
    const record = await stored(() =>
      store.putApprovalRequest(
        {
          id: invocation.idHex,
          invocation: formatInvocation(invocation),
          approvers,
          requester: toDidKey((chain[chain.length - 1] as UnverifiedBlock).holder),
          createdAt: now,
          // The last second a verifier waiting as long could accept it (spec/mandate-v1.md §7 step 7).
          // Bounded by the mandate's window: once the chain has expired no verifier accepts it.
          expiresAt: Math.min(
            trust.invocationDeadline(invocation, true, wait),
            (chainExpiry(chain) ?? Number.POSITIVE_INFINITY) + trust.skew,
          ),
        },
        maxPending,
        now,
        { at: now, type: 'approval.requested', request: invocation.idHex, approvers, ...askedBy(invocation) },
      ),
    )
    if (record === 'full') {
      throw new ServiceError(429, 'ERR_LIMIT_RATE', `this requester already has ${maxPending} pending approval requests`)
    }
    metrics.approvals.inc({ event: 'requested' })
    // Without its approvals: filing needs no key, and a copy of the invocation (a logged
    // Authorization field) must not collect them to present before the agent does. The
    // requester, its principal and the approvers read them signed.
    return c.json({ ...(await describe(record)), approvals: {} }, 201)
  })
  app.get('/v1/approvals', async (c) => {
    const caller = await trust.caller(c, EMPTY)
    const asked = c.req.query('approver')
    if (asked !== undefined && keyInQuery(asked, 'approver') !== caller.did) {
      throw new ServiceError(403, 'ERR_NOT_AUTHORIZED', 'an approver reads only its own inbox')
    }
    const limit = intParam(c, 'limit', 1, 100, 50)
    const before = cursorParam(c.req.query('before'))
    const pending = await stored(() => store.pendingApprovals(caller.did, limit, clock(), before))
    const last = pending.length === limit ? pending[pending.length - 1] : undefined
    return c.json({
      approver: caller.did,
      pending: await Promise.all(pending.map(describe)),
      ...(last ? { next: `${last.createdAt}.${last.id}` } : {}),
    })
  })
  /** A request, for its approvers, its requester and its principal only. */
  const readable = async (c: Context, id: string): Promise<ApprovalRecord> => {
    if (!/^[0-9a-f]{64}$/.test(id)) throw new ServiceError(400, 'ERR_REQUEST_MALFORMED', 'a request id is 64 lower-case hex digits')
    const caller = await trust.caller(c, EMPTY)
    const record = await stored(() => store.getApprovalRequest(id))
    if (!record) throw new ServiceError(404, 'ERR_NOT_FOUND', `no approval request ${id}`)
    const principal = toDidKey(parseInvocation(record.invocation).chain[0]?.principal as Uint8Array)
    if (!record.approvers.includes(caller.did) && record.requester !== caller.did && principal !== caller.did) {
      throw new ServiceError(403, 'ERR_NOT_AUTHORIZED', 'only its approvers, its requester and its principal may read this request')
    }
    return record
  }
  app.get('/v1/approvals/:id', async (c) => {
    const id = c.req.param('id')
    const wait = intParam(c, 'wait', 0, 30, 0)
    let record = await readable(c, id)
    const deadline = performance.now() + wait * 1000
    const seen = Object.keys(record.approvals).length
    const amendments = await amendmentsOf(parseInvocation(record.invocation).chain)
    // Long-poll: answer at once when the request is already answered (approved or denied), else
    // as soon as an approval or a denial arrives, or when the wait is over.
    while (
      performance.now() < deadline &&
      statusOf(record, amendments) === 'pending' &&
      Object.keys(record.approvals).length === seen &&
      !options.closing?.aborted
    ) {
      await new Promise((r) => setTimeout(r, 200))
      const next = await stored(() => store.getApprovalRequest(id))
      // Compacted while waited on: gone.
      if (!next) throw new ServiceError(404, 'ERR_NOT_FOUND', `no approval request ${id}`)
      record = next
    }
    return c.json(await describe(record))
  })
  app.post('/v1/approvals/:id', async (c) => {
    const id = c.req.param('id')
    if (!/^[0-9a-f]{64}$/.test(id)) throw new ServiceError(400, 'ERR_REQUEST_MALFORMED', 'a request id is 64 lower-case hex digits')
    const bytes = await readRaw(c)
    const caller = await trust.caller(c, bytes)
    const approvalText = text(json(bytes), 'approval')
    const approval = parseApproval(approvalText)
    const approver = toDidKey(approval.approver)
    if (approver !== caller.did) throw new ServiceError(403, 'ERR_NOT_AUTHORIZED', 'an approver posts only its own approvals')
    const record = await stored(() => store.getApprovalRequest(id))
    if (!record) throw new ServiceError(404, 'ERR_NOT_FOUND', `no approval request ${id}`)
    const outcome = getBackend().verify(approval.signature, signedMessage('approval', approval.payload), approval.approver)
    if (outcome !== 'accept') throw new ServiceError(401, 'ERR_APPROVAL_INVALID', `approval signature rejected (${outcome})`)
    if (toHex(approval.invocationId) !== id) throw new ServiceError(400, 'ERR_APPROVAL_INVALID', 'the approval names another invocation')
    if (!record.approvers.includes(approver))
      throw new ServiceError(403, 'ERR_NOT_AUTHORIZED', `${approver} is not a listed approver of this request`)
    const now = clock()
    if (approval.expires <= now) throw new ServiceError(403, 'ERR_APPROVAL_INVALID', 'the approval has already expired')
    if (approval.issuedAt > now + trust.skew) throw new ServiceError(403, 'ERR_APPROVAL_INVALID', 'the approval is dated in the future')
    if (record.expiresAt <= now) throw new ServiceError(409, 'ERR_CONFLICT', 'the request expired; the agent must invoke again')
    if (record.denial) throw deniedAlready(record)
    const principal = toDidKey(parseInvocation(record.invocation).chain[0]?.principal as Uint8Array)
    const updated = await stored(() =>
      store.addApproval(id, approver, approvalText, now, {
        at: now,
        type: 'approval.approved',
        request: id,
        principal,
        by: approver,
        approval: toHex(sha256(utf8(approvalText))),
        expires: approval.expires,
      }),
    )
    // Denied meanwhile (the store refuses an approval to a denied request).
    if (updated.denial) throw deniedAlready(updated)
    metrics.approvals.inc({ event: 'approved' })
    return c.json(await describe(updated))
  })
  // Deny with a reason: a listed approver, or the principal on whose behalf the agent asks,
  // closes the request; the agent reads who refused and why (spec/service-v1.md §7).
  app.post('/v1/approvals/:id/deny', async (c) => {
    const id = c.req.param('id')
    if (!/^[0-9a-f]{64}$/.test(id)) throw new ServiceError(400, 'ERR_REQUEST_MALFORMED', 'a request id is 64 lower-case hex digits')
    const bytes = await readRaw(c)
    const caller = await trust.caller(c, bytes)
    const reason = reasonOf(json(bytes)['reason'])
    const found = await stored(() => store.getApprovalRequest(id))
    if (!found) throw new ServiceError(404, 'ERR_NOT_FOUND', `no approval request ${id}`)
    const principal = toDidKey(parseInvocation(found.invocation).chain[0]?.principal as Uint8Array)
    if (!found.approvers.includes(caller.did) && principal !== caller.did) {
      throw new ServiceError(403, 'ERR_NOT_AUTHORIZED', 'only its listed approvers and its principal may deny this request')
    }
    const now = clock()
    // An amendment's approver may deny a request its amendment made wait, even once the chain's own approvers approved.
    const amendments = await amendmentsOf(parseInvocation(found.invocation).chain)
    let denied = false
    // Checked again in the store's serialized step, against the request as it then stands.
    const admit = (record: ApprovalRecord): boolean => {
      if (record.denial) {
        // A retry by the same key answers the request unchanged (its first reason stands).
        if (record.denial.by === caller.did) return false
        throw deniedAlready(record)
      }
      if (statusOf(record, amendments) === 'approved') {
        throw new ServiceError(409, 'ERR_CONFLICT', 'the request is already approved: a denial can no longer close it')
      }
      if (record.expiresAt <= now) throw new ServiceError(409, 'ERR_CONFLICT', 'the request expired; there is nothing left to deny')
      denied = true
      return true
    }
    const updated = await stored(() =>
      store.denyApprovalRequest(id, { by: caller.did, reason, at: now }, admit, {
        at: now,
        type: 'approval.denied',
        request: id,
        principal,
        by: caller.did,
        reason,
      }),
    )
    // Compacted meanwhile: gone.
    if (!updated) throw new ServiceError(404, 'ERR_NOT_FOUND', `no approval request ${id}`)
    if (denied) {
      metrics.approvals.inc({ event: 'denied' })
      log?.info({ request: id, by: caller.did }, 'approval request denied')
    }
    return c.json(await describe(updated))
  })

  // ---- the audit trail (spec/service-v1.md §8) ----------------------------------------------
  // A registered verifier reports a decision it made about an invocation addressed to it. The
  // service keeps only what it can check: the invocation (every signature, a served chain),
  // the approvals (signed by their approvers, naming it); the verifier's word is the decision.
  app.post('/v1/audit/decisions', async (c) => {
    const bytes = await readRaw(c)
    const caller = await trust.verifier(c, bytes)
    const report = json(bytes)
    const decision = report['decision']
    if (decision !== 'allow' && decision !== 'deny')
      throw new ServiceError(400, 'ERR_REQUEST_MALFORMED', '"decision" must be "allow" or "deny"')
    const code = report['code']
    if (decision === 'deny' ? typeof code !== 'string' || !isMandateErrorCode(code) : code !== undefined) {
      throw new ServiceError(400, 'ERR_REQUEST_MALFORMED', '"code" is the error code of a denial (ERR_…), and only of a denial')
    }
    const amendment = report['amendment']
    if (amendment !== undefined && (decision !== 'deny' || typeof amendment !== 'string' || !/^[0-9a-f]{64}$/.test(amendment))) {
      throw new ServiceError(400, 'ERR_REQUEST_MALFORMED', '"amendment" is the id of the amendment that denied, and only of a denial')
    }
    const decidedAt = report['decidedAt']
    const approvalTexts = report['approvals'] === undefined ? [] : report['approvals']
    if (!Array.isArray(approvalTexts) || approvalTexts.length > 16 || !approvalTexts.every((a) => typeof a === 'string')) {
      throw new ServiceError(400, 'ERR_REQUEST_MALFORMED', '"approvals" must be at most 16 approvals (mna1_…)')
    }
    const { chain, invocation } = await checkPresentationAsync(text(report, 'invocation'))
    if (!invocation) throw new ServiceError(400, 'ERR_REQUEST_MALFORMED', 'a decision is reported with its invocation (mni1_…)')
    trust.served(chain)
    // A verifier reports only what it could decide: invocations addressed to it.
    trust.addressedTo(chain, caller.name, invocation)
    const now = clock()
    if (
      !Number.isSafeInteger(decidedAt) ||
      (decidedAt as number) > now + trust.skew ||
      (decidedAt as number) < invocation.issuedAt - trust.skew
    ) {
      throw new ServiceError(
        400,
        'ERR_REQUEST_MALFORMED',
        '"decidedAt" must be the Unix second of the decision: not before the invocation, not after now',
      )
    }
    const approvers: string[] = []
    // The approvers the verifier could have asked for when it decided: an amendment's count if it
    // was in force then, even if it has been lifted since the decision (a report may come late).
    const then = await stored(() =>
      chainAmendments(invocation.chain, (id) => store.revocationsFor(id), { t: decidedAt as number, skew: trust.skew }),
    )
    const listed = approversFor(invocation.chain, invocation.action, then)
    for (const t of approvalTexts as string[]) {
      const a = parseApproval(t)
      if (getBackend().verify(a.signature, signedMessage('approval', a.payload), a.approver) !== 'accept') {
        throw new ServiceError(401, 'ERR_APPROVAL_INVALID', 'an approval signature does not verify')
      }
      if (toHex(a.invocationId) !== invocation.idHex)
        throw new ServiceError(400, 'ERR_APPROVAL_INVALID', 'an approval names another invocation')
      const did = toDidKey(a.approver)
      // Evidence only of what the chain asks for: an approval by anyone else counted for nothing.
      if (!listed.includes(did)) throw new ServiceError(400, 'ERR_APPROVAL_INVALID', `${did} is not an approver of this invocation's chain`)
      // Valid when the verifier decided, as it had to be to count.
      if (a.expires <= (decidedAt as number) - trust.skew || a.issuedAt > (decidedAt as number) + trust.skew) {
        throw new ServiceError(400, 'ERR_APPROVAL_INVALID', `the approval by ${did} was not valid at decidedAt`)
      }
      if (!approvers.includes(did)) approvers.push(did)
    }
    // Only an amendment this service accepted for a block of this chain (in force then; it may be lifted since).
    if (amendment !== undefined) {
      const made = await Promise.all(invocation.chain.map((b) => stored(() => store.revocationsFor(b.idHex))))
      if (!made.some((list) => list.some((e) => e.kind === 'amend' && e.id === amendment))) {
        throw new ServiceError(400, 'ERR_REQUEST_MALFORMED', '"amendment" names no amendment of this chain')
      }
    }
    // A retry of the same report is answered with the record it made.
    const ref = `decision:${caller.did}:${invocation.idHex}:${decision}:${code ?? ''}`
    const [record] = await stored(() =>
      store.appendAudit([
        {
          at: now,
          type: 'decision',
          ref,
          verifier: { name: caller.name, key: caller.did },
          decision,
          ...(code === undefined ? {} : { code: code as string }),
          ...(amendment === undefined ? {} : { amendment: amendment as string }),
          decidedAt: decidedAt as number,
          ...askedBy(invocation),
          approvals: approvers,
        },
      ]),
    )
    // A retry answers the same place.
    const placed = record as AuditEntry
    return c.json({ seq: placed.seq, hash: placed.hash }, 201)
  })

  /** Who reads the log: an auditor (everything), or a served principal (its own records). */
  const auditReader = async (c: Context) => {
    const caller = await trust.caller(c, EMPTY)
    if (auditors.has(caller.did)) return { ...caller, auditor: true }
    if (servedRoots.has(caller.did)) return { ...caller, auditor: false }
    throw new ServiceError(403, 'ERR_NOT_AUTHORIZED', 'only an auditor of this service, or a principal it serves, reads the audit log')
  }
  app.get('/v1/audit', async (c) => {
    // The signature first: a stranger learns nothing, not even which parameters are wrong.
    const reader = await auditReader(c)
    const since = intParam(c, 'since', 0, Number.MAX_SAFE_INTEGER, 0)
    const limit = intParam(c, 'limit', 1, 1000, 500)
    const asked = c.req.query('principal')
    const principal = asked === undefined ? undefined : keyInQuery(asked, 'principal')
    if (!reader.auditor && principal !== undefined && principal !== reader.did) {
      throw new ServiceError(403, 'ERR_NOT_AUTHORIZED', 'a principal reads only its own records')
    }
    // Whose records are shown whole; the others only as their place in the chain.
    const whose = reader.auditor ? principal : reader.did
    const head = await stored(() => store.auditHead())
    // The record before the page too: a page that starts later is anchored by its checkpoint.
    const read = await stored(() => store.auditRecords(Math.max(0, since - 1), limit + (since > 0 ? 1 : 0)))
    const before = since > 0 && read[0]?.seq === since ? read[0] : undefined
    const records = read.filter((r) => r.seq > since)
    // Records pruned by retention before the first one: the checkpoint kept when they went anchors it.
    const first = records[0]
    const kept = !before && first && first.seq > since + 1 ? await stored(() => store.checkpointAt(first.seq - 1)) : undefined
    const shown = records.map((r) => (whose === undefined || r['principal'] === whose ? r : redact(r)))
    const last = records[records.length - 1]
    const sign = (count: number, hash: string) => signCheckpoint({ log: head.log, count, head: hash, at: clock() }, key)
    return c.json({
      log: head.log,
      ...(before ? { anchor: sign(before.seq, before.hash) } : kept ? { anchor: kept } : {}),
      records: shown,
      // A full page may have more after it (the log grows meanwhile): ask from its last record.
      ...(last && records.length === limit ? { next: last.seq } : {}),
      checkpoint: last ? sign(last.seq, last.hash) : sign(head.count, head.head),
    })
  })
  // On demand, an auditor has the service sign and keep a checkpoint of the whole log now.
  app.post('/v1/audit/checkpoints', async (c) => {
    const bytes = await readRaw(c)
    const caller = await trust.caller(c, bytes)
    if (!auditors.has(caller.did)) throw new ServiceError(403, 'ERR_NOT_AUTHORIZED', 'only an auditor of this service asks for checkpoints')
    // The body is {} (its members are not read): anything but a JSON object is malformed, as on every POST.
    json(bytes)
    const head = await stored(() => store.auditHead())
    const checkpoint = signCheckpoint({ log: head.log, count: head.count, head: head.head, at: clock() }, key)
    await stored(() => store.putCheckpoint(checkpoint))
    return c.json(checkpoint, 201)
  })

  return app
}

/**
 * A counter key must name a `uses` caveat of a block in the presented chain, or of an amendment
 * in force on one of its blocks (`<amendment id>/<index>`).
 */
function counterFor(chain: readonly UnverifiedBlock[], key: string, amendments: ReadonlyMap<number, readonly FeedEntry[]>): UsageCounter {
  // One spelling per counter (no leading zeros), so that two strings never count one caveat twice.
  const m = /^([0-9a-f]{64})\/(0|[1-9]\d?)$/.exec(key)
  const own = m ? chain.find((b) => b.idHex === m[1]) : undefined
  const amendment = m && !own ? [...amendments.entries()].find(([, list]) => list.some((a) => a.id === m[1])) : undefined
  const block = own ?? (amendment ? chain[amendment[0]] : undefined)
  const caveat = own ? own.caveats[Number(m?.[2])] : amendment?.[1].find((a) => a.id === m?.[1])?.caveats?.[Number(m?.[2])]
  if (!block || caveat?.type !== 'uses') {
    throw new ServiceError(403, 'ERR_NOT_AUTHORIZED', `counter ${key.slice(0, 80)} is not a uses caveat of the presented chain`)
  }
  return {
    key,
    blockId: block.idHex,
    block: block.index,
    caveatIndex: Number(m?.[2]),
    max: caveat.max,
    ...(caveat.per === undefined ? {} : { per: caveat.per }),
  }
}

/** `<createdAt>.<id>` of the last entry of the previous page. */
function cursorParam(value: string | undefined): ApprovalCursor | undefined {
  if (value === undefined) return undefined
  const m = /^(\d{1,15})\.([0-9a-f]{64})$/.exec(value)
  if (!m) throw new ServiceError(400, 'ERR_REQUEST_MALFORMED', '"before" is the "next" cursor of a previous page')
  return { createdAt: Number(m[1]), id: m[2] as string }
}

/** 409 for a request that a denial has closed, naming who denied it. */
function deniedAlready(record: ApprovalRecord): ServiceError {
  return new ServiceError(409, 'ERR_CONFLICT', `the request was denied by ${record.denial?.by ?? 'an approver'}: it is closed`)
}

/** A denial's note, as kept (spec/service-v1.md §7); 400 otherwise. */
function reasonOf(value: unknown): string {
  if (typeof value !== 'string') throw new ServiceError(400, 'ERR_REQUEST_MALFORMED', '"reason" must be a string: why it is denied')
  const checked = denialReason(value)
  if ('problem' in checked) throw new ServiceError(400, 'ERR_REQUEST_MALFORMED', `"reason" ${checked.problem}`)
  return checked.reason
}

/** How many Host lines a request sent, where the runtime shows them (node:http keeps the first alone). */
function hostLines(c: Context): number {
  const raw = (c.env as { incoming?: { rawHeaders?: unknown } } | undefined)?.incoming?.rawHeaders
  if (!Array.isArray(raw)) return 1
  let lines = 0
  for (let i = 0; i < raw.length; i += 2) if (typeof raw[i] === 'string' && (raw[i] as string).toLowerCase() === 'host') lines++
  return lines
}

/** Whether a request declares a body: a length other than 0, or any transfer coding. */
function carriesBody(c: Context): boolean {
  const length = c.req.header('content-length')
  return (length !== undefined && !/^\s*0+\s*$/.test(length)) || c.req.header('transfer-encoding') !== undefined
}
