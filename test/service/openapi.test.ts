/**
 * The OpenAPI document (src/service/openapi.ts) against the service itself: the document is
 * well-formed OpenAPI 3.1 (structurally), it names every route the app has, and every answer
 * of a real in-process app (SQLite store, real tokens, RFC 9421 signed requests) has a
 * documented status, documented headers and a body valid against the documented schema.
 */
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import Ajv2020 from 'ajv/dist/2020.js'
import type { Hono } from 'hono'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { acceptSignature, signRequest } from '../../src/crypto/http-signature.js'
import {
  type AttenuateOptions,
  approve,
  attenuate,
  createRevocation,
  ERROR_CODES,
  formatApproval,
  formatInvocation,
  formatMandate,
  formatRevocation,
  generateKeyPair,
  invoke,
  type KeyPair,
  mint,
  toDidKey,
  type UnverifiedMandate,
  type UnverifiedRevocation,
} from '../../src/index.js'
import { createApp } from '../../src/service/app.js'
import { APPROVAL_PAGE_CSP } from '../../src/service/approval-page.js'
import { ANSWER_CODES, OPENAPI, SERVICE_ERROR_CODES } from '../../src/service/openapi.js'
import { openSqliteStore } from '../../src/service/sqlite-store.js'
import type { Store } from '../../src/service/store.js'
import { scratch } from '../helpers/cli.js'

type Json = Record<string, unknown>
interface Operation {
  readonly operationId: string
  readonly tags?: readonly string[]
  readonly parameters?: readonly Json[]
  readonly security?: readonly Record<string, readonly string[]>[]
  readonly requestBody?: Json
  readonly responses: Record<string, Json>
}
interface Doc {
  readonly openapi: string
  readonly info: Json
  readonly tags: readonly { name: string }[]
  readonly paths: Record<string, Record<string, Operation>>
  readonly components: Record<string, Record<string, Json>>
  readonly [key: string]: unknown
}
/** The document as a client receives it (plain JSON). */
const doc = JSON.parse(JSON.stringify(OPENAPI)) as Doc
const METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace']
/** Operations whose requests must carry a `mandate` RFC 9421 signature. */
const SIGNED = [
  'consumeUsage',
  'claimReplay',
  'releaseReplay',
  'listApprovals',
  'getApproval',
  'approve',
  'denyApproval',
  'streamApprovals',
  'reportDecision',
  'readAudit',
  'makeCheckpoint',
]

const escapePointer = (s: string) => s.replaceAll('~', '~0').replaceAll('/', '~1')
function pointer(p: string): unknown {
  if (!p.startsWith('#/')) throw new Error(`not a local ref: ${p}`)
  let at: unknown = doc
  for (const part of p.slice(2).split('/')) {
    const key = part.replaceAll('~1', '/').replaceAll('~0', '~')
    if (typeof at !== 'object' || at === null || !(key in at)) return undefined
    at = (at as Json)[key]
  }
  return at
}
/** Follow a `$ref` (Reference Object); returns the object and the pointer where it lives. */
function deref(value: Json, where: string): { value: Json; where: string } {
  const ref = value['$ref']
  if (typeof ref !== 'string') return { value, where }
  return deref(pointer(ref) as Json, ref)
}
const operations = () =>
  Object.entries(doc.paths).flatMap(([path, item]) =>
    METHODS.filter((m) => item[m]).map((method) => ({ path, method, op: item[method] as Operation })),
  )

// ---- the validator -------------------------------------------------------------------------
const ID = 'https://mandate.invalid/openapi.json'
const ajv = new Ajv2020.default({ allErrors: true, strict: true })
// The document's own top-level fields are not JSON Schema keywords: declared, so that strict
// mode accepts the document as the root schema the component `$ref`s resolve against.
ajv.addVocabulary(['openapi', 'info', 'tags', 'paths', 'components', 'servers', 'security', 'webhooks', 'externalDocs'])
ajv.addSchema({ ...doc, $id: ID })
const validatorAt = (p: string) => ajv.getSchema(`${ID}${p}`) ?? ajv.compile({ $ref: `${ID}${p}` })
function conforms(p: string, value: unknown): void {
  const validate = validatorAt(p)
  const ok = validate(value)
  expect(ok, `${p}: ${ajv.errorsText(validate.errors)}\n${JSON.stringify(value).slice(0, 600)}`).toBe(true)
}

/** (operationId → statuses seen) */
const seen = new Map<string, Set<string>>()

function operationFor(method: string, pathname: string): { path: string; op: Operation } {
  const m = method.toLowerCase()
  const exact = doc.paths[pathname]?.[m]
  if (exact) return { path: pathname, op: exact }
  for (const [path, item] of Object.entries(doc.paths)) {
    const re = new RegExp(`^${path.replace(/\{[^}]+\}/g, '[^/]+')}$`)
    if (re.test(pathname) && item[m]) return { path, op: item[m] as Operation }
  }
  throw new Error(`${method} ${pathname} is not documented`)
}

interface Answer {
  readonly status: number
  readonly headers: Headers
  readonly json: Json
  readonly text: string
}

/** Check one real answer against its operation; returns it read. */
async function conformant(method: string, url: string, res: Response): Promise<Answer> {
  const { path, op } = operationFor(method, new URL(url).pathname)
  const status = String(res.status)
  const documented = op.responses[status] ?? op.responses[`${status[0]}XX`] ?? op.responses['default']
  expect(documented, `${method} ${path} answered ${status}, which is not documented (body ${await res.clone().text()})`).toBeDefined()
  const base = op.responses[status] ? `#/paths/${escapePointer(path)}/${method.toLowerCase()}/responses/${status}` : ''
  const { value: response, where } = deref(documented as Json, base)
  seen.set(op.operationId, (seen.get(op.operationId) ?? new Set()).add(status))
  // Documented headers: required ones present, every present one valid.
  for (const [name, header] of Object.entries((response['headers'] ?? {}) as Record<string, Json>)) {
    const { value: h, where: hw } = deref(header, `${where}/headers/${escapePointer(name)}`)
    const got = res.headers.get(name)
    if (h['required'] === true) expect(got, `${method} ${path} ${status}: header ${name}`).not.toBeNull()
    if (got !== null) conforms(`${hw}/schema`, got)
  }
  const content = response['content'] as Record<string, Json> | undefined
  const type = (res.headers.get('content-type') ?? '').split(';')[0]?.trim() ?? ''
  const text = await res.text()
  let json: Json = {}
  if (!content) {
    expect(text, `${method} ${path} ${status}: no body is documented`).toBe('')
  } else {
    expect(Object.keys(content), `${method} ${path} ${status}: content-type ${type}`).toContain(type)
    if (type === 'application/json') {
      json = JSON.parse(text) as Json
      conforms(`${where}/content/${escapePointer(type)}/schema`, json)
    }
  }
  return { status: res.status, headers: res.headers, json, text }
}

const code = (a: Answer) => (a.json['error'] as { code?: string } | undefined)?.code

// ---- the app -------------------------------------------------------------------------------
let t = Math.floor(Date.now() / 1000)
const clock = () => t
const alice = generateKeyPair()
const assistant = generateKeyPair()
const mallory = generateKeyPair()
const serviceKey = generateKeyPair()
/** Registered verifiers: two keys for `mail`, one for `slack`. */
const mail1 = generateKeyPair()
const mail2 = generateKeyPair()
const slack = generateKeyPair()
const auditor = generateKeyPair()
const did = (k: KeyPair) => toDidKey(k.publicKey)
const trust = {
  roots: [{ key: did(alice), name: 'alice' }],
  verifiers: [
    { name: 'mail', key: did(mail1) },
    { name: 'mail', key: did(mail2) },
    { name: 'slack', key: did(slack) },
  ],
  audience: 'revocations.test',
}
let store: Store
let app: Hono
let grant: UnverifiedMandate

interface Call {
  /** A JSON value (serialized), a string (sent as is) or bytes. */
  readonly body?: unknown
  readonly type?: string
  /** Sign the request with this key. */
  readonly key?: KeyPair
  readonly created?: number
  readonly headers?: Record<string, string>
  /** Change the body after signing. */
  readonly tamper?: (bytes: Uint8Array) => Uint8Array
  readonly on?: Hono
}

/** Build the request, send it to the app in-process, check the answer against the document. */
async function request(method: string, path: string, call: Call = {}): Promise<Answer> {
  const url = `http://localhost${path}`
  const bytes =
    call.body === undefined
      ? undefined
      : call.body instanceof Uint8Array
        ? call.body
        : new TextEncoder().encode(typeof call.body === 'string' ? call.body : JSON.stringify(call.body))
  const headers: Record<string, string> = { ...(bytes ? { 'content-type': call.type ?? 'application/json' } : {}), ...call.headers }
  if (call.key)
    Object.assign(headers, signRequest({ method, url, ...(bytes ? { body: bytes } : {}) }, call.key, { created: call.created ?? t }))
  const sent = bytes && call.tamper ? call.tamper(bytes) : bytes
  const res = await (call.on ?? app).request(url, { method, headers, ...(sent ? { body: sent } : {}) })
  return conformant(method, url, res)
}
const get = (path: string, call?: Call) => request('GET', path, call)
const post = (path: string, body: unknown, call: Omit<Call, 'body'> = {}) => request('POST', path, { ...call, body })

const sub = (name: string, caveats: AttenuateOptions['caveats'] = []) => attenuate(grant, { key: assistant, caveats, name })
const revocation = (s: UnverifiedRevocation) => ({ revocation: formatRevocation(s) })
const counterOf = (m: UnverifiedMandate, block = 1) => `${m.blocks[block]?.idHex}/0`
/** A chain rooted at a principal the service does not serve. */
const stranger = () => mint({ principal: mallory, to: did(assistant), caveats: [{ type: 'window', expires: t + 600 }] })

beforeAll(() => {
  store = openSqliteStore(join(scratch(), 'x.db'))
  app = createApp({
    store,
    key: serviceKey,
    clock,
    ...trust,
    maxPendingPerRequester: 2,
    maxEntriesPerBlock: 3,
    auditors: [{ name: 'audit', key: did(auditor) }],
  })
  grant = mint({
    principal: alice,
    to: did(assistant),
    name: 'assistant',
    caveats: [
      { type: 'actions', patterns: ['slack:*', 'email:*'] },
      { type: 'approval', actions: ['email:send'], approvers: [did(alice)], quorum: 1 },
      { type: 'window', expires: t + 3600 },
    ],
  })
})
afterAll(async () => {
  await store?.close()
})

// ---- the document --------------------------------------------------------------------------
describe('the document', () => {
  it('is OpenAPI 3.1.0, version 1 of the service, without servers', () => {
    expect(doc.openapi).toBe('3.1.0')
    expect(doc.info['version']).toBe('1')
    expect(typeof doc.info['title']).toBe('string')
    expect(doc['servers']).toBeUndefined()
  })

  it('every operation has a unique id, declared tags and described responses with valid status keys', () => {
    const ids = new Set<string>()
    const tags = new Set(doc.tags.map((tag) => tag.name))
    for (const { path, method, op } of operations()) {
      expect(ids.has(op.operationId), op.operationId).toBe(false)
      ids.add(op.operationId)
      for (const tag of op.tags ?? []) expect(tags, `${method} ${path}`).toContain(tag)
      const statuses = Object.keys(op.responses)
      expect(statuses.length, `${method} ${path} has responses`).toBeGreaterThan(0)
      expect(
        statuses.some((s) => s.startsWith('2')),
        `${method} ${path} has a success answer`,
      ).toBe(true)
      for (const s of statuses) {
        expect(s, `${method} ${path}`).toMatch(/^([1-5]\d\d|[1-5]XX|default)$/)
        expect(typeof deref(op.responses[s] as Json, '').value['description'], `${method} ${path} ${s} description`).toBe('string')
      }
      if (op.requestBody) expect(Object.keys(deref(op.requestBody, '').value['content'] as Json).length).toBeGreaterThan(0)
    }
  })

  it('every $ref resolves, and the component schemas are valid JSON Schema 2020-12 (Ajv strict)', () => {
    const refs: string[] = []
    const walk = (v: unknown): void => {
      if (Array.isArray(v)) v.forEach(walk)
      else if (typeof v === 'object' && v !== null) {
        for (const [k, x] of Object.entries(v)) {
          if (k === '$ref' && typeof x === 'string') refs.push(x)
          else walk(x)
        }
      }
    }
    walk(doc)
    expect(refs.length).toBeGreaterThan(50)
    for (const r of refs) expect(pointer(r), r).toBeDefined()
    for (const name of Object.keys(doc.components['schemas'] ?? {})) {
      expect(ajv.validateSchema(doc.components['schemas']?.[name] as Json), name).toBe(true)
      expect(() => validatorAt(`#/components/schemas/${name}`), name).not.toThrow()
    }
  })

  it('every path parameter is declared (required, in the template), and parameters are unique', () => {
    for (const { path, method, op } of operations()) {
      const params = (op.parameters ?? []).map((p) => deref(p, '').value)
      const inPath = params.filter((p) => p['in'] === 'path')
      const names = [...path.matchAll(/\{([^}]+)\}/g)].map((m) => m[1])
      expect(inPath.map((p) => p['name']).sort(), `${method} ${path}`).toEqual(names.sort())
      for (const p of inPath) expect(p['required'], `${method} ${path} ${String(p['name'])}`).toBe(true)
      for (const p of params) {
        expect(['query', 'header', 'path', 'cookie'], `${method} ${path}`).toContain(p['in'])
        expect(p['schema'] ?? p['content'], `${method} ${path} ${String(p['name'])}`).toBeDefined()
      }
      const keys = params.map((p) => `${String(p['in'])}:${String(p['name']).toLowerCase()}`)
      expect(new Set(keys).size, `${method} ${path}`).toBe(keys.length)
    }
  })

  it('signed operations require the RFC 9421 scheme and document Accept-Signature on 401; the others are unsigned', () => {
    const schemes = doc.components['securitySchemes'] ?? {}
    const scheme = schemes['mandateSignature'] as Json
    expect([scheme['type'], scheme['in'], scheme['name']]).toEqual(['apiKey', 'header', 'signature'])
    for (const word of ['mandate', '@method', '@authority', '@path', '@query', 'content-digest', 'ed25519', 'nonce', 'created', 'keyid']) {
      expect(scheme['description']).toContain(word)
    }
    for (const { path, method, op } of operations()) {
      for (const requirement of op.security ?? []) for (const name of Object.keys(requirement)) expect(schemes).toHaveProperty(name)
      if (SIGNED.includes(op.operationId)) {
        expect(op.security, `${method} ${path}`).toEqual([{ mandateSignature: [] }])
        const unauthorized = deref(op.responses['401'] as Json, '').value
        expect(Object.keys(unauthorized['headers'] as Json), `${method} ${path}`).toContain('accept-signature')
        const headers = (op.parameters ?? []).map((p) => deref(p, '').value).filter((p) => p['in'] === 'header')
        expect(
          headers.map((p) => p['name']),
          `${method} ${path}`,
        ).toContain('signature-input')
        if (method === 'post')
          expect(
            headers.map((p) => p['name']),
            `${method} ${path}`,
          ).toContain('content-digest')
      } else {
        expect(op.security, `${method} ${path}`).toBeUndefined()
      }
    }
  })

  it('response objects are closed where the shape is', () => {
    const schemas = doc.components['schemas'] ?? {}
    for (const name of ['Error', 'Health', 'Ready', 'ServiceInfo', 'RevocationAccepted', 'SignedFeedPage', 'FeedEntry', 'BlockStatus']) {
      expect(schemas[name]?.['additionalProperties'], name).toBe(false)
    }
    for (const name of ['ReplayClaim', 'ReplayRelease', 'ApprovalRequest', 'ApprovalInbox']) {
      expect(schemas[name]?.['additionalProperties'], name).toBe(false)
    }
    for (const branch of (schemas['ConsumeResult']?.['oneOf'] ?? []) as Json[]) expect(branch['additionalProperties']).toBe(false)
  })

  it('documents exactly the routes of the app', () => {
    const routes = createApp({ store: openSqliteStore(':memory:'), key: serviceKey, ...trust })
      .routes.filter((r) => r.method !== 'ALL')
      .map((r) => `${r.method.toLowerCase()} ${r.path.replace(/:([A-Za-z]+)/g, '{$1}')}`)
    const documented = operations().map(({ path, method }) => `${method} ${path}`)
    expect([...new Set(routes)].sort()).toEqual(documented.sort())
  })

  // Skipped under mutation testing only (mutation/vitest.config.ts): there the sources it reads are instrumented.
  it.skipIf(process.env['MANDATE_MUTATION'] === '1')(
    'the error code enum is the service codes and the library codes, and covers every code the sources answer',
    () => {
      const schema = doc.components['schemas']?.['Error'] as Json
      const errorSchema = (schema['properties'] as Record<string, Json>)['error'] as Json
      const codeSchema = (errorSchema['properties'] as Record<string, Json>)['code'] as Json
      expect(codeSchema['enum']).toEqual(ANSWER_CODES)
      expect(new Set(ANSWER_CODES)).toEqual(new Set([...SERVICE_ERROR_CODES, ...ERROR_CODES]))
      expect(ANSWER_CODES.length).toBe(new Set(ANSWER_CODES).size)
      const dir = join(import.meta.dirname, '../../src/service')
      const sources = readdirSync(dir)
        .filter((f) => f.endsWith('.ts'))
        .map((f) => ({ f, text: readFileSync(join(dir, f), 'utf8') }))
      const thrown = sources.flatMap(({ f, text }) =>
        [...text.matchAll(/new ServiceError\(\s*\d+\s*,\s*'([A-Z0-9_]+)'/g)].map((m) => ({ f, code: m[1] })),
      )
      expect(thrown.length).toBeGreaterThan(30)
      for (const { f, code } of thrown) expect(ANSWER_CODES, `${f}: ${code}`).toContain(code)
      // Any ERR_ literal in the service sources (e.g. `c.json({ error: { code: 'ERR_…' } })`), and the
      // signature module's codes, too.
      const signature = readFileSync(join(import.meta.dirname, '../../src/crypto/http-signature.ts'), 'utf8')
      const literals = [...sources, { f: 'http-signature.ts', text: signature }].flatMap(({ f, text }) =>
        [...text.matchAll(/'(ERR_[A-Z0-9_]+)'/g)].map((m) => ({ f, code: m[1] })),
      )
      for (const { f, code } of literals) expect(ANSWER_CODES, `${f}: ${code}`).toContain(code)
    },
  )
})

// ---- the answers ---------------------------------------------------------------------------
describe('every answer conforms to the document', () => {
  it('operations: health, readiness, metrics, this document, the service key; unknown routes', async () => {
    expect((await get('/healthz')).json).toEqual({ status: 'ok' })
    const ready = await get('/readyz')
    expect([ready.status, ready.json['status']]).toEqual([200, 'ready'])
    const metrics = await get('/metrics')
    expect(metrics.text).toContain('mandate_http_requests_total')
    const served = await get('/openapi.json')
    expect(served.json).toEqual(doc)
    const service = await get('/v1/service')
    expect(service.json).toEqual({ key: did(serviceKey), feed: { pageTtl: 60, pageMax: 500 } })
    const nowhere = await app.request('http://localhost/v1/nowhere')
    expect(nowhere.status).toBe(404)
    conforms('#/components/schemas/Error', await nowhere.json())
  })

  it('revocations: 201, retry 200, CBOR, 400, 401, 403 (root, audience, authority), 413, 415, 429; the block', async () => {
    const m = sub('revoked')
    const statement = createRevocation({ mandate: m, key: alice, reason: 'test', audience: 'revocations.test' })
    const first = await post('/v1/revocations', revocation(statement))
    expect([first.status, first.json['created'], first.json['kind']]).toEqual([201, true, 'revoke'])
    const again = await post('/v1/revocations', revocation(statement))
    expect([again.status, again.json['seq'], again.json['created']]).toEqual([200, first.json['seq'], false])
    const cbor = await post('/v1/revocations', createRevocation({ mandate: sub('cbor'), key: alice, kind: 'suspend' }).bytes, {
      type: 'application/cbor',
    })
    expect([cbor.status, cbor.json['kind']]).toEqual([201, 'suspend'])

    const block = await get(`/v1/revocations/${m.blocks[1]?.idHex}`)
    expect(block.json).toMatchObject({ blockId: m.blocks[1]?.idHex, revoked: true, suspended: false })
    expect((block.json['entries'] as unknown[]).length).toBe(1)
    expect((await get('/v1/revocations/XYZ')).status).toBe(400)

    const malformed = await post('/v1/revocations', '{nope')
    expect([malformed.status, code(malformed)]).toEqual([400, 'ERR_REQUEST_MALFORMED'])
    expect((await post('/v1/revocations', { revocation: 'mnr1_AAAA' })).status).toBe(400)
    const honest = createRevocation({ mandate: sub('forged'), key: alice })
    // one byte string, signature ‖ payload: flip a bit of the signature (its byte 59)
    const tampered = new Uint8Array(honest.bytes)
    const sigAt = tampered.length - honest.payload.length - 64
    expect(tampered.subarray(sigAt, sigAt + 64)).toEqual(honest.signature)
    tampered[sigAt + 59] = (tampered[sigAt + 59] as number) ^ 1
    const forged = await post('/v1/revocations', revocation({ ...honest, bytes: tampered }))
    expect([forged.status, code(forged)]).toEqual([401, 'ERR_SIG_INVALID'])
    const stale = await post('/v1/revocations', revocation(createRevocation({ mandate: sub('stale'), key: alice, now: t - 1000 })))
    expect([stale.status, code(stale)]).toEqual([401, 'ERR_REQUEST_STALE'])
    const foreign = await post('/v1/revocations', revocation(createRevocation({ mandate: stranger(), key: mallory })))
    expect([foreign.status, code(foreign)]).toEqual([403, 'ERR_ROOT_UNTRUSTED'])
    const elsewhere = await post(
      '/v1/revocations',
      revocation(createRevocation({ mandate: sub('aud'), key: alice, audience: 'elsewhere' })),
    )
    expect([elsewhere.status, code(elsewhere)]).toEqual([403, 'ERR_AUDIENCE'])
    // a suspension placed by the principal is not lifted by the agent below it
    const suspended = sub('suspended')
    expect((await post('/v1/revocations', revocation(createRevocation({ mandate: suspended, key: alice, kind: 'suspend' })))).status).toBe(
      201,
    )
    const lift = await post('/v1/revocations', revocation(createRevocation({ mandate: suspended, key: assistant, kind: 'resume' })))
    expect([lift.status, code(lift)]).toEqual([403, 'ERR_NOT_AUTHORIZED'])
    const big = await post('/v1/revocations', { revocation: 'x'.repeat(70_000) })
    expect([big.status, code(big)]).toEqual([413, 'ERR_LIMIT_SIZE'])
    const plain = await post('/v1/revocations', 'revocation=mnr1_x', { type: 'text/plain' })
    expect([plain.status, code(plain)]).toEqual([415, 'ERR_MEDIA_TYPE'])
    // at most 3 statements against one block in this app
    const busy = sub('busy')
    for (const kind of ['suspend', 'resume', 'suspend'] as const) {
      expect((await post('/v1/revocations', revocation(createRevocation({ mandate: busy, key: alice, kind })))).status).toBe(201)
    }
    const full = await post('/v1/revocations', revocation(createRevocation({ mandate: busy, key: alice, kind: 'resume' })))
    expect([full.status, code(full)]).toEqual([429, 'ERR_LIMIT_RATE'])
    // a whole-block revoke is final: never capped, and said once
    const end = await post('/v1/revocations', revocation(createRevocation({ mandate: busy, key: alice })))
    expect(end.status).toBe(201)
    const endAgain = await post('/v1/revocations', revocation(createRevocation({ mandate: busy, key: alice })))
    expect([endAgain.status, endAgain.json['created']]).toEqual([200, false])
  })

  it('the feed: a signed page with ETag, 304, 400; the push channel', async () => {
    const page = await get('/v1/revocations?since=0&limit=2')
    expect(page.status).toBe(200)
    const etag = page.headers.get('etag') as string
    const same = await get('/v1/revocations?since=0&limit=2', { headers: { 'if-none-match': etag } })
    expect([same.status, same.headers.get('etag')]).toEqual([304, etag])
    expect((await get('/v1/revocations')).status).toBe(200)
    for (const query of ['limit=0', 'limit=501', 'since=abc']) {
      const bad = await get(`/v1/revocations?${query}`)
      expect([query, bad.status, code(bad)]).toEqual([query, 400, 'ERR_REQUEST_MALFORMED'])
    }
    const badStream = await get('/v1/revocations/stream?since=-1')
    expect(badStream.status).toBe(400)

    const url = 'http://localhost/v1/revocations/stream?since=0'
    const res = await app.request(url)
    const { op } = operationFor('GET', '/v1/revocations/stream')
    expect(Object.keys(op.responses)).toContain(String(res.status))
    expect(res.headers.get('content-type')?.split(';')[0]).toBe('text/event-stream')
    seen.set(op.operationId, (seen.get(op.operationId) ?? new Set()).add(String(res.status)))
    const reader = (res.body as ReadableStream<Uint8Array>).getReader()
    let text = ''
    while (!text.includes('\n\n')) text += new TextDecoder().decode((await reader.read()).value)
    await reader.cancel()
    expect(text).toMatch(/^event: page\n/)
    const data = /^data: (.*)$/m.exec(text)?.[1] as string
    conforms('#/components/schemas/SignedFeedPage', JSON.parse(data))
  })

  it('usage: 401 (unsigned with Accept-Signature, invalid, stale, replayed), 403, 200 granted/exhausted/retry, 409, 400, 413, 415', async () => {
    const limited = sub('limited', [{ type: 'uses', max: 1 }])
    const counter = counterOf(limited)
    const bare = { requestId: 'r1', presentation: formatMandate(limited), counters: [counter] }
    const consume = (body: unknown, call: Omit<Call, 'body'> = {}) => post('/v1/usage/consume', body, call)

    const unsigned = await consume(bare)
    expect([unsigned.status, code(unsigned)]).toEqual([401, 'ERR_AUTH_REQUIRED'])
    expect(unsigned.headers.get('accept-signature')).toBe(acceptSignature(true))
    const invalid = await consume(bare, { key: slack, tamper: (b) => new TextEncoder().encode(`${new TextDecoder().decode(b)} `) })
    expect([invalid.status, code(invalid)]).toEqual([401, 'ERR_AUTH_INVALID'])
    expect(invalid.headers.get('accept-signature')).toBe(acceptSignature(true))
    const stale = await consume(bare, { key: slack, created: t - 1000 })
    expect([stale.status, code(stale)]).toEqual([401, 'ERR_REQUEST_STALE'])
    const byHolder = await consume(bare, { key: assistant })
    expect([byHolder.status, code(byHolder)]).toEqual([403, 'ERR_NOT_AUTHORIZED'])

    // a signed request is good once
    const url = 'http://localhost/v1/usage/consume'
    const bytes = new TextEncoder().encode(JSON.stringify({ ...bare, requestId: 'r0' }))
    const headers = { 'content-type': 'application/json', ...signRequest({ method: 'POST', url, body: bytes }, slack, { created: t }) }
    const once = await conformant('POST', url, await app.request(url, { method: 'POST', headers, body: bytes }))
    expect([once.status, once.json['granted']]).toEqual([200, true])
    const twice = await conformant('POST', url, await app.request(url, { method: 'POST', headers, body: bytes }))
    expect([twice.status, code(twice)]).toEqual([401, 'ERR_AUTH_REPLAY'])

    const spent = await consume(bare, { key: slack })
    expect(spent.json).toEqual({ granted: false, exhausted: counter })
    const retry = await consume(bare, { key: slack })
    expect(retry.json).toEqual(spent.json)
    const other = sub('other', [{ type: 'uses', max: 5 }])
    const conflict = await consume({ requestId: 'r1', presentation: formatMandate(other), counters: [counterOf(other)] }, { key: slack })
    expect([conflict.status, code(conflict)]).toEqual([409, 'ERR_CONFLICT'])

    // invocations: granted with what remains, a windowed limit with its reset time
    const windowed = sub('windowed', [{ type: 'uses', max: 1, per: 3600 }])
    const inv = (m: UnverifiedMandate, audience = 'slack', now = t) => formatInvocation(invoke(m, { action: 'slack:read', audience, now }))
    const granted = await consume({ presentation: inv(windowed), counters: [counterOf(windowed)] }, { key: slack })
    expect(granted.json).toEqual({ granted: true, remaining: [{ key: counterOf(windowed), remaining: 0 }] })
    const later = await consume({ presentation: inv(windowed), counters: [counterOf(windowed)] }, { key: slack })
    expect(later.json).toMatchObject({ granted: false, exhausted: counterOf(windowed), resetAt: expect.any(Number) })

    const cases: [string, unknown, KeyPair, number, string | undefined][] = [
      ['no counters', { ...bare, counters: [] }, slack, 400, 'ERR_REQUEST_MALFORMED'],
      ['a counter twice', { ...bare, requestId: 'r2', counters: [counter, counter] }, slack, 400, 'ERR_REQUEST_MALFORMED'],
      ['no presentation', { counters: [counter] }, slack, 400, 'ERR_REQUEST_MALFORMED'],
      ['not a token', { presentation: 'mnd1_AAAA', counters: [counter], requestId: 'r3' }, slack, 400, undefined],
      ['an invented counter', { ...bare, requestId: 'r4', counters: [`${'0'.repeat(64)}/0`] }, slack, 403, 'ERR_NOT_AUTHORIZED'],
      ['another audience', { presentation: inv(windowed, 'mail'), counters: [counterOf(windowed)] }, slack, 403, 'ERR_AUDIENCE'],
      [
        'a stale invocation',
        { presentation: inv(windowed, 'slack', t - 1000), counters: [counterOf(windowed)] },
        slack,
        401,
        'ERR_REQUEST_STALE',
      ],
      [
        'a stranger chain',
        { requestId: 'r5', presentation: formatMandate(attenuate(stranger(), { key: assistant })), counters: [counter] },
        slack,
        403,
        'ERR_ROOT_UNTRUSTED',
      ],
    ]
    for (const [what, body, key, status, expected] of cases) {
      const answer = await consume(body, { key })
      expect([what, answer.status], JSON.stringify(answer.json)).toEqual([what, status])
      if (expected) expect([what, code(answer)]).toEqual([what, expected])
    }
    // a revoked chain spends nothing
    const revoked = sub('revoked-limited', [{ type: 'uses', max: 5 }])
    expect((await post('/v1/revocations', revocation(createRevocation({ mandate: revoked, key: alice })))).status).toBe(201)
    const denied = await consume({ requestId: 'r6', presentation: formatMandate(revoked), counters: [counterOf(revoked)] }, { key: slack })
    expect([denied.status, code(denied)]).toEqual([403, 'ERR_REVOKED'])

    const big = await consume({ ...bare, pad: 'x'.repeat(70_000) }, { key: slack })
    expect([big.status, code(big)]).toEqual([413, 'ERR_LIMIT_SIZE'])
    const plain = await consume('x', { key: slack, type: 'text/plain' })
    expect([plain.status, code(plain)]).toEqual([415, 'ERR_MEDIA_TYPE'])
  })

  it('replay claims: claim, claimed, release only by the holder, 400, 401, 403', async () => {
    const inv = { invocation: formatInvocation(invoke(grant, { key: assistant, action: 'email:read', audience: 'mail', now: t })) }
    const claimed = await post('/v1/replay/claim', inv, { key: mail1 })
    expect(claimed.json['claimed']).toBe(true)
    expect((await post('/v1/replay/claim', inv, { key: mail2 })).json['claimed']).toBe(false)
    const notYours = await post('/v1/replay/release', inv, { key: mail2 })
    expect([notYours.status, code(notYours)]).toEqual([403, 'ERR_NOT_AUTHORIZED'])
    expect((await post('/v1/replay/release', inv, { key: mail1 })).json).toEqual({ id: claimed.json['id'], released: true })
    expect((await post('/v1/replay/release', inv, { key: mail1 })).json['released']).toBe(false)
    const wrongAudience = await post('/v1/replay/claim', inv, { key: slack })
    expect([wrongAudience.status, code(wrongAudience)]).toEqual([403, 'ERR_AUDIENCE'])
    const unregistered = await post('/v1/replay/claim', inv, { key: assistant })
    expect([unregistered.status, code(unregistered)]).toEqual([403, 'ERR_NOT_AUTHORIZED'])
    const mandate = await post('/v1/replay/claim', { invocation: formatMandate(sub('m')) }, { key: mail1 })
    expect([mandate.status, code(mandate)]).toEqual([400, 'ERR_REQUEST_MALFORMED'])
    const unsigned = await post('/v1/replay/release', inv)
    expect([unsigned.status, code(unsigned)]).toEqual([401, 'ERR_AUTH_REQUIRED'])
    expect(unsigned.headers.get('accept-signature')).toBe(acceptSignature(true))
    for (const route of ['/v1/replay/claim', '/v1/replay/release']) {
      const plain = await post(route, 'x', { key: mail1, type: 'text/plain' })
      expect([route, plain.status, code(plain)]).toEqual([route, 415, 'ERR_MEDIA_TYPE'])
      const malformed = await post(route, { invocation: 42 }, { key: mail1 })
      expect([route, malformed.status, code(malformed)]).toEqual([route, 400, 'ERR_REQUEST_MALFORMED'])
      const big = await post(route, { invocation: 'x'.repeat(70_000) }, { key: mail1 })
      expect([route, big.status, code(big)]).toEqual([route, 413, 'ERR_LIMIT_SIZE'])
    }
    const stale = await post(
      '/v1/replay/claim',
      { invocation: formatInvocation(invoke(grant, { key: assistant, action: 'email:read', audience: 'mail', now: t - 1000 })) },
      { key: mail1 },
    )
    expect([stale.status, code(stale)]).toEqual([401, 'ERR_REQUEST_STALE'])
  })

  it('approvals: file (201, 400, 401, 403, 409, 415, 429), list with a cursor, read, approve (200, 400, 401, 403, 404, 409)', async () => {
    const send = (key = assistant, m = grant, now = t) =>
      invoke(m, { key, action: 'email:send', args: { to: 'bob@example.com' }, audience: 'mail', intent: 'answer Bob', now })
    const inv = send()
    const filed = await post('/v1/approvals', { invocation: formatInvocation(inv) })
    expect(filed.status).toBe(201)
    expect(filed.json).toMatchObject({
      id: inv.idHex,
      status: 'pending',
      action: 'email:send',
      requestedBy: { key: did(assistant), name: 'assistant' },
    })
    expect((await post('/v1/approvals', { invocation: formatInvocation(inv) })).json['id']).toBe(inv.idHex)
    const second = send()
    expect((await post('/v1/approvals', { invocation: formatInvocation(second) })).status).toBe(201)

    const noNeed = invoke(grant, { key: assistant, action: 'email:read', audience: 'mail', now: t })
    const needless = await post('/v1/approvals', { invocation: formatInvocation(noNeed) })
    expect([needless.status, code(needless)]).toEqual([409, 'ERR_CONFLICT'])
    const notInvocation = await post('/v1/approvals', { invocation: formatMandate(sub('x')) })
    expect([notInvocation.status, code(notInvocation)]).toEqual([400, 'ERR_REQUEST_MALFORMED'])
    const stale = await post('/v1/approvals', { invocation: formatInvocation(send(assistant, grant, t - 1000)) })
    expect([stale.status, code(stale)]).toEqual([401, 'ERR_REQUEST_STALE'])
    const foreign = await post('/v1/approvals', {
      invocation: formatInvocation(invoke(stranger(), { key: assistant, action: 'email:send', audience: 'mail', now: t })),
    })
    expect([foreign.status, code(foreign)]).toEqual([403, 'ERR_ROOT_UNTRUSTED'])
    const big = await post('/v1/approvals', { invocation: 'x'.repeat(70_000) })
    expect([big.status, code(big)]).toEqual([413, 'ERR_LIMIT_SIZE'])
    const plain = await post('/v1/approvals', 'x', { type: 'text/plain' })
    expect([plain.status, code(plain)]).toEqual([415, 'ERR_MEDIA_TYPE'])
    // one requester has at most 2 pending requests in this app
    const spammer = generateKeyPair()
    const delegated = attenuate(grant, { key: assistant, to: did(spammer), name: 'spammer' })
    for (let i = 0; i < 2; i++)
      expect((await post('/v1/approvals', { invocation: formatInvocation(send(spammer, delegated)) })).status).toBe(201)
    const full = await post('/v1/approvals', { invocation: formatInvocation(send(spammer, delegated)) })
    expect([full.status, code(full)]).toEqual([429, 'ERR_LIMIT_RATE'])

    // the inbox, one page at a time
    const inbox = await get(`/v1/approvals?approver=${did(alice)}`, { key: alice })
    expect((inbox.json['pending'] as { id: string }[]).map((p) => p.id)).toEqual(expect.arrayContaining([inv.idHex, second.idHex]))
    const page1 = await get('/v1/approvals?limit=1', { key: alice })
    expect([(page1.json['pending'] as unknown[]).length, typeof page1.json['next']]).toEqual([1, 'string'])
    const page2 = await get(`/v1/approvals?limit=1&before=${page1.json['next']}`, { key: alice })
    expect((page2.json['pending'] as { id: string }[])[0]?.id).not.toBe((page1.json['pending'] as { id: string }[])[0]?.id)
    const unsigned = await get('/v1/approvals')
    expect([unsigned.status, code(unsigned)]).toEqual([401, 'ERR_AUTH_REQUIRED'])
    expect(unsigned.headers.get('accept-signature')).toBe(acceptSignature(false))
    const another = await get(`/v1/approvals?approver=${did(mallory)}`, { key: alice })
    expect([another.status, code(another)]).toEqual([403, 'ERR_NOT_AUTHORIZED'])
    for (const query of ['limit=0', 'limit=101', 'before=yesterday', 'approver=nobody']) {
      const bad = await get(`/v1/approvals?${query}`, { key: alice })
      expect([query, bad.status]).toEqual([query, 400])
    }

    // reading one request
    const path = `/v1/approvals/${inv.idHex}`
    expect((await get(path, { key: alice })).json['id']).toBe(inv.idHex)
    expect((await get(`${path}?wait=0`, { key: assistant })).status).toBe(200)
    const outsider = await get(path, { key: mallory })
    expect([outsider.status, code(outsider)]).toEqual([403, 'ERR_NOT_AUTHORIZED'])
    const missing = await get(`/v1/approvals/${'0'.repeat(64)}`, { key: alice })
    expect([missing.status, code(missing)]).toEqual([404, 'ERR_NOT_FOUND'])
    expect((await get('/v1/approvals/nope', { key: alice })).status).toBe(400)
    expect((await get(`${path}?wait=31`, { key: alice })).status).toBe(400)
    expect((await get(path)).status).toBe(401)

    // answering it
    const ok = formatApproval(approve({ approver: alice, invocation: inv, now: t }))
    const byMallory = await post(
      path,
      { approval: formatApproval(approve({ approver: mallory, invocation: inv, now: t })) },
      { key: mallory },
    )
    expect([byMallory.status, code(byMallory)]).toEqual([403, 'ERR_NOT_AUTHORIZED'])
    const relayed = await post(path, { approval: ok }, { key: mallory })
    expect([relayed.status, code(relayed)]).toEqual([403, 'ERR_NOT_AUTHORIZED'])
    const unknown = await post(`/v1/approvals/${'0'.repeat(64)}`, { approval: ok }, { key: alice })
    expect([unknown.status, code(unknown)]).toEqual([404, 'ERR_NOT_FOUND'])
    const misdirected = await post(
      path,
      { approval: formatApproval(approve({ approver: alice, invocation: second, now: t })) },
      { key: alice },
    )
    expect([misdirected.status, code(misdirected)]).toEqual([400, 'ERR_APPROVAL_INVALID'])
    const expired = await post(
      path,
      { approval: formatApproval(approve({ approver: alice, invocation: inv, now: t - 10_000 })) },
      { key: alice },
    )
    expect([expired.status, code(expired)]).toEqual([403, 'ERR_APPROVAL_INVALID'])
    const real = approve({ approver: alice, invocation: inv, now: t })
    const badSignature = new Uint8Array(real.bytes)
    const sigAt = badSignature.length - real.payload.length - 64
    expect(badSignature.subarray(sigAt, sigAt + 64)).toEqual(real.signature)
    badSignature[sigAt + 61] = (badSignature[sigAt + 61] as number) ^ 1
    const forged = await post(path, { approval: formatApproval({ ...real, bytes: badSignature }) }, { key: alice })
    expect(forged.status, JSON.stringify(forged.json)).toBe(401)
    const unsignedPost = await post(path, { approval: ok })
    expect([unsignedPost.status, code(unsignedPost)]).toEqual([401, 'ERR_AUTH_REQUIRED'])
    expect(unsignedPost.headers.get('accept-signature')).toBe(acceptSignature(true))
    expect((await post(path, 'x', { key: alice, type: 'text/plain' })).status).toBe(415)
    expect((await post(path, { approval: 'x'.repeat(70_000) }, { key: alice })).status).toBe(413)
    const approved = await post(path, { approval: ok }, { key: alice })
    expect([approved.status, approved.json['status']]).toEqual([200, 'approved'])
    expect(Object.keys(approved.json['approvals'] as Json)).toEqual([did(alice)])

    // denying one (the second): who refused and why, in every answer shape
    const denyPath = `/v1/approvals/${second.idHex}/deny`
    const because = { reason: 'not this week' }
    const unsignedDeny = await post(denyPath, because)
    expect([unsignedDeny.status, code(unsignedDeny)]).toEqual([401, 'ERR_AUTH_REQUIRED'])
    expect(unsignedDeny.headers.get('accept-signature')).toBe(acceptSignature(true))
    const byOutsider = await post(denyPath, because, { key: mallory })
    expect([byOutsider.status, code(byOutsider)]).toEqual([403, 'ERR_NOT_AUTHORIZED'])
    for (const body of [{}, { reason: 42 }, { reason: '  ' }, { reason: 'x'.repeat(501) }, { reason: 'a\u0007b' }, { reason: 'a\ud800' }]) {
      const bad = await post(denyPath, body, { key: alice })
      expect([JSON.stringify(body).slice(0, 40), bad.status, code(bad)]).toEqual([
        JSON.stringify(body).slice(0, 40),
        400,
        'ERR_REQUEST_MALFORMED',
      ])
    }
    expect((await post('/v1/approvals/nope/deny', because, { key: alice })).status).toBe(400)
    const denyUnknown = await post(`/v1/approvals/${'0'.repeat(64)}/deny`, because, { key: alice })
    expect([denyUnknown.status, code(denyUnknown)]).toEqual([404, 'ERR_NOT_FOUND'])
    expect((await post(denyPath, 'x', { key: alice, type: 'text/plain' })).status).toBe(415)
    expect((await post(denyPath, { reason: 'x'.repeat(70_000) }, { key: alice })).status).toBe(413)
    const denied = await post(denyPath, { reason: ' not this week\n(ask again Monday) ' }, { key: alice })
    expect([denied.status, denied.json['status'], denied.json['denial']]).toEqual([
      200,
      'denied',
      { by: did(alice), reason: 'not this week\n(ask again Monday)', at: t },
    ])
    // again by the same key: the same answer, the first reason stands
    expect((await post(denyPath, { reason: 'changed my mind' }, { key: alice })).json).toEqual(denied.json)
    expect((await get(`/v1/approvals/${second.idHex}`, { key: assistant })).json).toEqual(denied.json)
    const approveDenied = await post(
      `/v1/approvals/${second.idHex}`,
      { approval: formatApproval(approve({ approver: alice, invocation: second, now: t })) },
      { key: alice },
    )
    expect([approveDenied.status, code(approveDenied)]).toEqual([409, 'ERR_CONFLICT'])
    const denyApproved = await post(`${path}/deny`, because, { key: alice })
    expect([denyApproved.status, code(denyApproved)]).toEqual([409, 'ERR_CONFLICT'])
    const listed = await get('/v1/approvals', { key: alice })
    expect((listed.json['pending'] as { id: string }[]).map((p) => p.id)).not.toContain(second.idHex)

    // a request whose invocation can no longer be accepted takes no approval: filed to wait
    // 0 s, it expires at issued_at + 300 + 60 (another requester: approved requests still
    // count against the cap until they expire)
    const lateAgent = generateKeyPair()
    const late = send(lateAgent, attenuate(grant, { key: assistant, to: did(lateAgent), name: 'late' }))
    const tooLong = await post('/v1/approvals', { invocation: formatInvocation(late), wait: 86_401 })
    expect([tooLong.status, code(tooLong)]).toEqual([400, 'ERR_REQUEST_MALFORMED'])
    const filedLate = await post('/v1/approvals', { invocation: formatInvocation(late), wait: 0 })
    expect([filedLate.status, filedLate.json['expiresAt']]).toEqual([201, late.issuedAt + 360])
    const filedAt = t
    t += 1000
    try {
      const tooLate = await post(
        `/v1/approvals/${late.idHex}`,
        { approval: formatApproval(approve({ approver: alice, invocation: late, now: t })) },
        { key: alice },
      )
      expect([tooLate.status, code(tooLate)]).toEqual([409, 'ERR_CONFLICT'])
      const denyLate = await post(`/v1/approvals/${late.idHex}/deny`, { reason: 'too late' }, { key: alice })
      expect([denyLate.status, code(denyLate)]).toEqual([409, 'ERR_CONFLICT'])
    } finally {
      t = filedAt
    }
  })

  it('audit: report (201, 400, 401, 403, 413, 415), read (200, 400, 401, 403), checkpoints (201, 401, 403, 413, 415)', async () => {
    const inv = invoke(grant, { key: assistant, action: 'email:read', audience: 'mail', now: t })
    const report = (body: unknown, key: KeyPair | null = mail1) => post('/v1/audit/decisions', body, key ? { key } : {})
    const fine = { invocation: formatInvocation(inv), decision: 'allow', decidedAt: t }
    const made = await report(fine)
    expect(made.status).toBe(201)
    expect((await report(fine)).json).toEqual(made.json)
    expect([(await report({ ...fine, decision: 'deny' })).status, code(await report({ ...fine, decision: 'deny' }))]).toEqual([
      400,
      'ERR_REQUEST_MALFORMED',
    ])
    expect((await report(fine, null)).status).toBe(401)
    const notVerifier = await report(fine, alice)
    expect([notVerifier.status, code(notVerifier)]).toEqual([403, 'ERR_NOT_AUTHORIZED'])
    const wrongAudience = await report(fine, slack)
    expect([wrongAudience.status, code(wrongAudience)]).toEqual([403, 'ERR_AUDIENCE'])
    expect((await report({ ...fine, invocation: 'x'.repeat(70_000) })).status).toBe(413)
    expect((await post('/v1/audit/decisions', 'x', { type: 'text/plain', key: mail1 })).status).toBe(415)

    const page = await get(`/v1/audit?since=${(made.json['seq'] as number) - 1}&limit=10`, { key: auditor })
    expect(page.status).toBe(200)
    expect((page.json['records'] as { type: string }[])[0]).toMatchObject({ type: 'decision', seq: made.json['seq'] })
    expect((await get('/v1/audit?limit=0', { key: auditor })).status).toBe(400)
    expect((await get('/v1/audit')).status).toBe(401)
    expect((await get('/v1/audit', { key: mallory })).status).toBe(403)

    const checkpoint = await post('/v1/audit/checkpoints', {}, { key: auditor })
    expect([checkpoint.status, checkpoint.json['key']]).toEqual([201, did(serviceKey)])
    expect((await post('/v1/audit/checkpoints', {})).status).toBe(401)
    expect((await post('/v1/audit/checkpoints', {}, { key: alice })).status).toBe(403)
    expect((await post('/v1/audit/checkpoints', { pad: 'x'.repeat(70_000) }, { key: auditor })).status).toBe(413)
    expect((await post('/v1/audit/checkpoints', 'x', { type: 'text/plain', key: auditor })).status).toBe(415)
  })

  it('storage failures answer 503 ERR_STORAGE_UNAVAILABLE where documented', async () => {
    // Every operation fails, the ones that resolve at commit (atCommit) too.
    const failing = <T extends object>(store: T): T =>
      new Proxy(store, {
        get(target, prop) {
          const value = Reflect.get(target, prop)
          if (prop === 'atCommit') return failing(value as object)
          return typeof value === 'function' && prop !== 'close'
            ? async () => {
                throw new Error('disk I/O error')
              }
            : value
        },
      })
    const broken = failing(openSqliteStore(':memory:'))
    const on = createApp({ store: broken, key: serviceKey, clock, ...trust })
    const inv = formatInvocation(invoke(grant, { key: assistant, action: 'email:send', audience: 'mail', now: t }))
    const limited = sub('broken', [{ type: 'uses', max: 1 }])
    const answers = [
      await get('/readyz', { on }),
      await get('/metrics', { on }),
      await get('/v1/revocations?since=0', { on }),
      await get(`/v1/revocations/${'0'.repeat(64)}`, { on }),
      await post('/v1/revocations', revocation(createRevocation({ mandate: sub('b'), key: alice })), { on }),
      await post(
        '/v1/usage/consume',
        { requestId: 'b', presentation: formatMandate(limited), counters: [counterOf(limited)] },
        { on, key: slack },
      ),
      await post('/v1/replay/claim', { invocation: inv }, { on, key: mail1 }),
      await post('/v1/replay/release', { invocation: inv }, { on, key: mail1 }),
      await post('/v1/approvals', { invocation: inv }, { on }),
      await get('/v1/approvals', { on, key: alice }),
      await get(`/v1/approvals/${'0'.repeat(64)}`, { on, key: alice }),
      await post(`/v1/approvals/${'0'.repeat(64)}`, { approval: 'mna1_x' }, { on, key: alice }),
      await post(`/v1/approvals/${'0'.repeat(64)}/deny`, { reason: 'no' }, { on, key: alice }),
      await get('/v1/approvals/stream', { on, key: alice }),
      await post('/v1/audit/decisions', { invocation: inv, decision: 'allow', decidedAt: t }, { on, key: mail1 }),
      await get('/v1/audit', { on, key: alice }),
      await post('/v1/audit/checkpoints', {}, { on, key: alice }),
    ]
    for (const a of answers) expect([a.status, code(a)]).toEqual([503, 'ERR_STORAGE_UNAVAILABLE'])
  })

  it('the approval page (200, 304, 404; /approvals redirects) and the push stream (200, 400, 401, 403, 429)', async () => {
    const page = await get('/approvals/')
    expect([page.status, page.headers.get('content-security-policy')]).toEqual([200, APPROVAL_PAGE_CSP])
    expect((await get('/approvals/', { headers: { 'if-none-match': page.headers.get('etag') as string } })).status).toBe(304)
    const css = await get('/approvals/approvals.css')
    expect([css.status, css.headers.get('x-content-type-options')]).toEqual([200, 'nosniff'])
    expect((await get('/approvals/approvals.css', { headers: { 'if-none-match': css.headers.get('etag') as string } })).status).toBe(304)
    expect((await get('/approvals/index.html')).status).toBe(404)
    const moved = await app.request('http://localhost/approvals')
    expect([moved.status, moved.headers.get('location')]).toEqual([308, 'approvals/'])

    const path = `/v1/approvals/stream?approver=${did(alice)}`
    expect((await get(path)).status).toBe(401)
    expect((await get(path, { key: mallory })).status).toBe(403)
    expect((await get('/v1/approvals/stream?approver=nonsense', { key: alice })).status).toBe(400)
    const { op } = operationFor('GET', '/v1/approvals/stream')
    const streams: ReadableStreamDefaultReader<Uint8Array>[] = []
    try {
      for (let i = 0; i < 4; i++) {
        const url = `http://localhost${path}`
        const res = await app.request(url, { headers: signRequest({ method: 'GET', url }, alice, { created: t }) })
        expect([res.status, res.headers.get('content-type')?.split(';')[0]]).toEqual([200, 'text/event-stream'])
        seen.set(op.operationId, (seen.get(op.operationId) ?? new Set()).add(String(res.status)))
        const reader = (res.body as ReadableStream<Uint8Array>).getReader()
        streams.push(reader)
        const first = new TextDecoder().decode((await reader.read()).value)
        expect(first).toMatch(/^event: ready\ndata: \{"approver":"did:key:/)
      }
      const full = await get(path, { key: alice })
      expect([full.status, code(full)]).toEqual([429, 'ERR_LIMIT_RATE'])
    } finally {
      for (const reader of streams) await reader.cancel()
    }
  })

  it('every operation was answered with success, and with every documented error status but 500', () => {
    const unseen: string[] = []
    for (const { path, method, op } of operations()) {
      const statuses = seen.get(op.operationId) ?? new Set()
      expect(
        [...statuses].some((s) => s.startsWith('2')),
        `${method} ${path}: no success seen`,
      ).toBe(true)
      for (const s of Object.keys(op.responses)) if (!statuses.has(s) && s !== '500') unseen.push(`${method} ${path} ${s}`)
    }
    expect(unseen).toEqual([])
  })
})
