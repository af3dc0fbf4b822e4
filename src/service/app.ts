/**
 * The mandate service as a Hono app (spec/service-v1.md): revocations and their signed feed,
 * usage counters, and the approval inbox. `createApp(deps)` is pure wiring; `server.ts`
 * binds it to a socket.
 *
 * @module
 */
import { type Context, Hono } from 'hono'
import { bodyLimit } from 'hono/body-limit'
import { streamSSE } from 'hono/streaming'
import type { Logger } from 'pino'
import { firstMatch } from '../caveats/action.js'
import { getBackend } from '../crypto/ed25519.js'
import { sha256 } from '../crypto/hash.js'
import { type KeyPair, parsePublicKey, toDidKey } from '../crypto/keys.js'
import { fromHex, toHex } from '../internal/bytes.js'
import { FEED_PAGE_MAX, type SignedFeedPage, signFeedPage } from '../revocation/feed.js'
import { authorityLevel, parseRevocation, type UnverifiedRevocation, verifyRevocation } from '../revocation/statement.js'
import { parseApproval } from '../token/approval.js'
import { chainExpiry, type UnverifiedBlock } from '../token/block.js'
import { formatInvocation, parseInvocation } from '../token/invocation.js'
import { signingInput } from '../token/signing.js'
import type { UsageCounter } from '../usage/store.js'
import { checkPresentation } from '../verify/integrity.js'
import { ServiceError, stored, toServiceError } from './errors.js'
import { createMetrics, type ServiceMetrics } from './metrics.js'
import type { ApprovalRecord, Store } from './store.js'

/** What the app needs. */
export interface AppOptions {
  readonly store: Store
  /** The service's own key: it signs feed pages. */
  readonly key: KeyPair
  readonly clock?: () => number
  readonly logger?: Logger
  readonly metrics?: ServiceMetrics
  /** Seconds a feed page stays valid (`next_update − issued_at`, default 60). */
  readonly pageTtl?: number
  /** Feed `issued_at` granularity in seconds, so that ETags hold between polls (default 2). */
  readonly pageGranularity?: number
  /** Largest request body in bytes (default 64 KiB). */
  readonly maxBody?: number
  /** How far a revocation's `created` may be from the service clock (default 300 s). */
  readonly requestSkew?: number
  /** Push channel: how often to look for new entries (ms, default 200) and heartbeat (s, default 5). */
  readonly streamPollMs?: number
  readonly heartbeatSeconds?: number
  /** Called when the app is closing, so that open streams end. */
  readonly closing?: AbortSignal
}

/**
 * Build the app.
 *
 * @example
 * ```ts
 * const app = createApp({ store: openSqliteStore('./mandate.db'), key: generateKeyPair() })
 * const res = await app.request('/healthz') // { status: 'ok' }
 * ```
 */
export function createApp(options: AppOptions): Hono {
  const { store, key } = options
  const clock = options.clock ?? (() => Math.floor(Date.now() / 1000))
  const metrics = options.metrics ?? createMetrics()
  const pageTtl = options.pageTtl ?? 60
  const granularity = options.pageGranularity ?? 2
  const skew = options.requestSkew ?? 300
  const serviceDid = toDidKey(key.publicKey)
  const log = options.logger
  const app = new Hono()

  app.use('*', async (c, next) => {
    const start = performance.now()
    await next()
    const route = c.req.routePath
    metrics.requests.inc({ method: c.req.method, route, status: String(c.res.status) })
    metrics.duration.observe({ route }, (performance.now() - start) / 1000)
    log?.info({ method: c.req.method, route, path: c.req.path, status: c.res.status, ms: Math.round(performance.now() - start) }, 'request')
  })
  app.use(
    '*',
    bodyLimit({
      maxSize: options.maxBody ?? 64 * 1024,
      onError: (c) =>
        c.json({ error: { code: 'ERR_LIMIT_SIZE', message: `request body exceeds ${options.maxBody ?? 64 * 1024} bytes` } }, 413),
    }),
  )
  app.onError((e, c) => {
    const err = toServiceError(e)
    if (err.status >= 500) log?.error({ code: err.code, message: err.message, route: c.req.routePath }, 'request failed')
    return c.json({ error: { code: err.code, message: err.message } }, err.status as 400)
  })
  app.notFound((c) => c.json({ error: { code: 'ERR_NOT_FOUND', message: `no route ${c.req.method} ${c.req.path}` } }, 404))

  const body = async (c: Context): Promise<Record<string, unknown>> => {
    let parsed: unknown
    try {
      parsed = await c.req.json()
    } catch {
      throw new ServiceError(400, 'ERR_REQUEST_MALFORMED', 'the body must be a JSON object')
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))
      throw new ServiceError(400, 'ERR_REQUEST_MALFORMED', 'the body must be a JSON object')
    return parsed as Record<string, unknown>
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
      await store.ping()
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

  // ---- revocations -----------------------------------------------------------------------
  app.post('/v1/revocations', async (c) => {
    const raw = c.req.header('content-type')?.startsWith('application/cbor')
      ? new Uint8Array(await c.req.arrayBuffer())
      : text(await body(c), 'revocation')
    const statement = parseRevocation(raw)
    const { signerRole } = verifyRevocation(statement)
    const now = clock()
    // A retry of an accepted statement gets its sequence number back, however late.
    const prior = await stored(() => store.revocationSeq(statement.id))
    if (prior !== undefined) {
      metrics.revocations.inc({ kind: statement.kind, result: 'retry' })
      return c.json({ seq: prior, created: false, block_id: statement.target.idHex, kind: statement.kind }, 200)
    }
    if (statement.kind === 'resume') await checkResume(statement)
    if (Math.abs(statement.created - now) > skew) {
      metrics.revocations.inc({ kind: statement.kind, result: 'stale' })
      throw new ServiceError(
        401,
        'ERR_REQUEST_STALE',
        `the statement was created ${statement.created}, more than ${skew}s from the service clock ${now}`,
      )
    }
    // A chain without expiry never verifies: its entry may go at once.
    const expires = (chainExpiry(statement.chain) ?? 0) + skew
    const { seq, created } = await stored(() =>
      store.addRevocation({
        statementId: statement.id,
        blockId: statement.target.idHex,
        kind: statement.kind,
        ...(statement.actions ? { actions: statement.actions } : {}),
        at: now,
        by: toHex(statement.signer),
        ...(statement.reason === undefined ? {} : { reason: statement.reason }),
        expires,
        statement: statement.bytes,
      }),
    )
    metrics.revocations.inc({ kind: statement.kind, result: created ? 'accepted' : 'retry' })
    log?.info({ seq, kind: statement.kind, block: statement.target.idHex, signer: signerRole, created }, 'revocation')
    return c.json({ seq, created, block_id: statement.target.idHex, kind: statement.kind }, created ? 201 : 200)
  })

  /** A resume must come from each active suspension's signer or a key above it. */
  const checkResume = async (statement: UnverifiedRevocation): Promise<void> => {
    const entries = await stored(() => store.revocationsFor(statement.target.idHex))
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

  const page = async (since: number, limit: number): Promise<SignedFeedPage> => {
    const { entries, head } = await stored(() => store.revocationsSince(since, limit + 1))
    const issuedAt = Math.floor(clock() / granularity) * granularity
    const more = entries.length > limit
    return signFeedPage(
      {
        serviceKey: key.publicKey,
        since,
        head: Math.max(head, since),
        issuedAt,
        nextUpdate: issuedAt + pageTtl,
        entries: entries.slice(0, limit),
        more,
      },
      key.secretKey,
    )
  }
  const sinceParam = (c: Context): number => {
    const v = c.req.query('since') ?? '0'
    if (!/^\d{1,15}$/.test(v)) throw new ServiceError(400, 'ERR_REQUEST_MALFORMED', '"since" must be a sequence number')
    return Number(v)
  }

  app.get('/v1/revocations', async (c) => {
    const limit = Math.min(Number(c.req.query('limit') ?? FEED_PAGE_MAX) || FEED_PAGE_MAX, FEED_PAGE_MAX)
    const signed = await page(sinceParam(c), limit)
    const etag = `"${toHex(sha256(new TextEncoder().encode(signed.page))).slice(0, 32)}"`
    c.header('ETag', etag)
    c.header('Cache-Control', `no-cache`)
    if (c.req.header('if-none-match') === etag) return c.body(null, 304)
    return c.json(signed)
  })

  app.get('/v1/revocations/stream', (c) => {
    let since = sinceParam(c)
    const pollMs = options.streamPollMs ?? 200
    const heartbeat = (options.heartbeatSeconds ?? 5) * 1000
    return streamSSE(c, async (stream) => {
      let lastSent = 0
      let open = true
      stream.onAbort(() => {
        open = false
      })
      options.closing?.addEventListener('abort', () => {
        open = false
      })
      while (open && !options.closing?.aborted) {
        const head = await store.head()
        if (head > since || performance.now() - lastSent >= heartbeat) {
          const signed = await page(since, FEED_PAGE_MAX)
          await stream.writeSSE({ event: 'page', data: JSON.stringify(signed) })
          lastSent = performance.now()
          since = Math.min(head, since + FEED_PAGE_MAX)
        }
        await stream.sleep(pollMs)
      }
    })
  })

  app.get('/v1/revocations/:blockId', async (c) => {
    const blockId = c.req.param('blockId')
    if (!/^[0-9a-f]{64}$/.test(blockId)) throw new ServiceError(400, 'ERR_REQUEST_MALFORMED', 'a block id is 64 lower-case hex digits')
    const entries = await stored(() => store.revocationsFor(blockId))
    const suspended = entries.reduce((s, e) => (e.kind === 'suspend' ? true : e.kind === 'resume' ? false : s), false)
    return c.json({ block_id: blockId, revoked: entries.some((e) => e.kind === 'revoke'), suspended, entries })
  })

  // ---- usage -----------------------------------------------------------------------------
  app.post('/v1/usage/consume', async (c) => {
    const b = await body(c)
    const requestId = text(b, 'request_id')
    if (requestId.length > 128) throw new ServiceError(400, 'ERR_REQUEST_MALFORMED', '"request_id" is at most 128 characters')
    const { chain } = checkPresentation(text(b, 'presentation'))
    const keys = b['counters']
    if (!Array.isArray(keys) || keys.length === 0 || keys.length > 64 || !keys.every((k) => typeof k === 'string')) {
      throw new ServiceError(400, 'ERR_REQUEST_MALFORMED', '"counters" must be a list of counter keys')
    }
    const counters = (keys as string[]).map((k) => counterFor(chain, k))
    const result = await stored(() => store.consume(requestId, counters, clock()))
    metrics.usage.inc({ result: result.granted ? 'granted' : 'exhausted' })
    return c.json(result)
  })

  // ---- replay claims ---------------------------------------------------------------------
  // Shared by every verifier of a deployment, so that an invocation is used once in all of
  // them. Only the holder of an intact invocation can claim (or release) its id.
  const invocationOf = async (c: Context) => {
    const { invocation } = checkPresentation(text(await body(c), 'invocation'))
    if (!invocation) throw new ServiceError(400, 'ERR_REQUEST_MALFORMED', 'a replay claim carries an invocation (mni1_…)')
    return invocation
  }
  app.post('/v1/replay/claim', async (c) => {
    const invocation = await invocationOf(c)
    const now = clock()
    // Long enough for any verifier's freshness window to have closed on it.
    const claimed = await stored(() => store.claimReplay(invocation.idHex, Math.max(invocation.issuedAt, now) + 2 * skew, now))
    return c.json({ id: invocation.idHex, claimed })
  })
  app.post('/v1/replay/release', async (c) => {
    const invocation = await invocationOf(c)
    await stored(() => store.releaseReplay(invocation.idHex))
    return c.json({ id: invocation.idHex, released: true })
  })

  // ---- approvals -------------------------------------------------------------------------
  app.post('/v1/approvals', async (c) => {
    const { invocation } = checkPresentation(text(await body(c), 'invocation'))
    if (!invocation) throw new ServiceError(400, 'ERR_REQUEST_MALFORMED', 'an approval request carries an invocation (mni1_…)')
    const approvers = [
      ...new Set(
        invocation.chain.flatMap((b) =>
          b.caveats.flatMap((cv) => (cv.type === 'approval' && firstMatch(cv.actions, invocation.action) ? cv.approvers : [])),
        ),
      ),
    ]
    if (approvers.length === 0)
      throw new ServiceError(409, 'ERR_CONFLICT', `no approval caveat applies to ${invocation.action}: it needs no approval`)
    const record = await stored(() =>
      store.putApprovalRequest({ id: invocation.idHex, invocation: formatInvocation(invocation), approvers, createdAt: clock() }),
    )
    metrics.approvals.inc({ event: 'requested' })
    return c.json(summary(record), 201)
  })
  app.get('/v1/approvals', async (c) => {
    const approver = c.req.query('approver')
    if (!approver) throw new ServiceError(400, 'ERR_REQUEST_MALFORMED', 'pass ?approver=did:key:…')
    const did = toDidKey(parsePublicKey(approver))
    const pending = await stored(() => store.pendingApprovals(did, 100))
    return c.json({ approver: did, pending: pending.map(summary) })
  })
  app.get('/v1/approvals/:id', async (c) => {
    const id = c.req.param('id')
    const wait = Math.min(Number(c.req.query('wait') ?? 0) || 0, 30)
    const deadline = performance.now() + wait * 1000
    let record = await stored(() => store.getApprovalRequest(id))
    if (!record) throw new ServiceError(404, 'ERR_NOT_FOUND', `no approval request ${id}`)
    const seen = Object.keys(record.approvals).length
    // Long-poll: answer as soon as an approval arrives, or when the wait is over.
    while (performance.now() < deadline && Object.keys(record.approvals).length === seen && !options.closing?.aborted) {
      await new Promise((r) => setTimeout(r, 200))
      record = (await stored(() => store.getApprovalRequest(id))) as ApprovalRecord
    }
    return c.json(summary(record))
  })
  app.post('/v1/approvals/:id', async (c) => {
    const id = c.req.param('id')
    const record = await stored(() => store.getApprovalRequest(id))
    if (!record) throw new ServiceError(404, 'ERR_NOT_FOUND', `no approval request ${id}`)
    const approvalText = text(await body(c), 'approval')
    const approval = parseApproval(approvalText)
    const outcome = getBackend().verify(approval.signature, signingInput('approval', approval.payload), approval.approver)
    if (outcome !== 'accept') throw new ServiceError(401, 'ERR_APPROVAL_INVALID', `approval signature rejected (${outcome})`)
    if (toHex(approval.invocationId) !== id) throw new ServiceError(400, 'ERR_APPROVAL_INVALID', 'the approval names another invocation')
    const approver = toDidKey(approval.approver)
    if (!record.approvers.includes(approver))
      throw new ServiceError(403, 'ERR_NOT_AUTHORIZED', `${approver} is not a listed approver of this request`)
    const updated = await stored(() => store.addApproval(id, approver, approvalText))
    metrics.approvals.inc({ event: 'approved' })
    return c.json(summary(updated))
  })

  return app
}

/** A counter key must name a `uses` caveat of a block in the presented chain. */
function counterFor(chain: readonly UnverifiedBlock[], key: string): UsageCounter {
  const m = /^([0-9a-f]{64})\/(\d{1,2})$/.exec(key)
  const block = m ? chain.find((b) => b.idHex === m[1]) : undefined
  const caveat = block?.caveats[Number(m?.[2])]
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

/** What an approver needs to see, from the invocation itself. */
function summary(record: ApprovalRecord) {
  // The invocation was checked when the request was accepted; reading it back is enough.
  const inv = parseInvocation(record.invocation)
  const last = inv.chain[inv.chain.length - 1] as UnverifiedBlock
  const have = new Set(Object.keys(record.approvals))
  const satisfied = inv.chain.every((b) =>
    b.caveats.every(
      (cv) => cv.type !== 'approval' || !firstMatch(cv.actions, inv.action) || cv.approvers.filter((a) => have.has(a)).length >= cv.quorum,
    ),
  )
  return {
    id: record.id,
    status: satisfied ? 'approved' : 'pending',
    requested_by: { key: toDidKey(last.holder), ...(last.name ? { name: last.name } : {}) },
    on_behalf_of: toDidKey(inv.chain[0]?.principal as Uint8Array),
    chain: inv.chain.map((b) => ({ block: b.index, ...(b.name ? { name: b.name } : {}), ...(b.purpose ? { purpose: b.purpose } : {}) })),
    action: inv.action,
    ...(inv.resource === undefined ? {} : { resource: inv.resource }),
    args: inv.args,
    audience: inv.audience,
    ...(inv.intent === undefined ? {} : { intent: inv.intent }),
    approvers: record.approvers,
    approvals: record.approvals,
    created_at: record.createdAt,
    invocation: record.invocation,
  }
}
