/**
 * The OpenAPI 3.1 description of the mandate service (spec/service-v1.md; `app.ts` is the
 * contract where the two differ), served at `GET /openapi.json`. The tests exercise every
 * route in-process and validate each answer's status and body against this document.
 *
 * The error `code` enum is generated from {@link SERVICE_ERROR_CODES} and the library's
 * `ERROR_CODES`, so that it cannot drift from what the service can answer.
 *
 * @module
 */
import { ERROR_CODES } from '../errors.js'
import { FEED_PAGE_MAX } from '../revocation/feed.js'
import type { ServiceErrorCode } from './errors.js'

/** Fails to compile when a {@link ServiceErrorCode} is missing from the list. */
function everyServiceCode<const T extends readonly ServiceErrorCode[]>(
  codes: T & ([Exclude<ServiceErrorCode, T[number]>] extends [never] ? unknown : { missing: Exclude<ServiceErrorCode, T[number]> }),
): T {
  return codes
}

/** The codes the service adds to the library's (every member of {@link ServiceErrorCode}). */
export const SERVICE_ERROR_CODES = everyServiceCode([
  'ERR_REQUEST_MALFORMED',
  'ERR_REQUEST_STALE',
  'ERR_NOT_AUTHORIZED',
  'ERR_NOT_FOUND',
  'ERR_CONFLICT',
  'ERR_STORAGE_UNAVAILABLE',
  'ERR_AUTH_REQUIRED',
  'ERR_AUTH_INVALID',
  'ERR_AUTH_REPLAY',
  'ERR_MEDIA_TYPE',
  'ERR_LIMIT_RATE',
] as const)

/** Every code an error answer of the service can carry: the service's codes, then the library's. */
export const ANSWER_CODES: readonly string[] = [...new Set<string>([...SERVICE_ERROR_CODES, ...ERROR_CODES])]

const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` })
const response = (name: string) => ({ $ref: `#/components/responses/${name}` })
const parameter = (name: string) => ({ $ref: `#/components/parameters/${name}` })
const json = (schema: Record<string, unknown>) => ({ 'application/json': { schema } })

const HEX32 = '^[0-9a-f]{64}$'
const KINDS = ['revoke', 'suspend', 'resume', 'amend', 'lift']

const SIGNATURE_PROFILE = [
  'An RFC 9421 HTTP Message Signature of the request, with the `mandate` profile:',
  '',
  '- the signature is labelled `mandate` in both `Signature-Input` and `Signature` (other labels are ignored);',
  '- covered components are exactly `("@method" "@authority" "@path" "@query")`, plus `"content-digest"` (RFC 9530,',
  '  `sha-256=:…:`) for every method other than GET, HEAD and DELETE and for any request with a body;',
  '- parameters are exactly `created`, `keyid` (the signer\'s Ed25519 `did:key`, canonical form), `alg="ed25519"` and',
  '  `nonce` (16–64 characters of `[A-Za-z0-9_-]`), plus an optional `expires`;',
  '- `created` must lie within [now − 300 − skew, now + skew] on the service clock (skew 60 s by default);',
  '- the signature is checked with the strict Ed25519 profile (spec/mandate-v1.md §4); weak keys are refused;',
  '- a (keyid, nonce) pair is accepted once: a replayed request is refused with 401 `ERR_AUTH_REPLAY`.',
  '',
  'A request without a `mandate` signature is answered 401 `ERR_AUTH_REQUIRED` with an `Accept-Signature` header',
  'naming the components and parameters to sign. OpenAPI has no scheme for RFC 9421: `apiKey` in the `signature`',
  'header is an approximation; `Signature-Input` (and `Content-Digest`) are documented as header parameters.',
].join('\n')

const schemas = {
  Error: {
    type: 'object',
    description: 'Every error answer: a stable code and a human-readable message.',
    required: ['error'],
    additionalProperties: false,
    properties: {
      error: {
        type: 'object',
        required: ['code', 'message'],
        additionalProperties: false,
        properties: {
          code: { type: 'string', enum: ANSWER_CODES, description: 'A stable code (spec/mandate-v1.md §10, spec/service-v1.md §2).' },
          message: { type: 'string' },
        },
      },
    },
  },
  DidKey: { type: 'string', pattern: '^did:key:z[1-9A-HJ-NP-Za-km-z]+$', description: 'An Ed25519 public key as a did:key.' },
  Hex32: { type: 'string', pattern: HEX32, description: '32 bytes as 64 lower-case hex digits (a block, invocation or request id).' },
  Base64Url: { type: 'string', pattern: '^[A-Za-z0-9_-]*$', description: 'base64url without padding.' },
  RevocationKind: { type: 'string', enum: KINDS },
  Health: {
    type: 'object',
    required: ['status'],
    additionalProperties: false,
    properties: { status: { type: 'string', const: 'ok' } },
  },
  Ready: {
    type: 'object',
    required: ['status', 'storage'],
    additionalProperties: false,
    properties: {
      status: { type: 'string', const: 'ready' },
      storage: {
        type: 'object',
        description:
          'Storage settings: `backend` (`sqlite` or `postgres`), then `journal_mode`, `synchronous`, `busy_timeout`, `wal_fsync` (SQLite) or `synchronous_commit`, `fsync`, `statement_timeout`, `lock_timeout`, … (PostgreSQL).',
        required: ['backend'],
        properties: { backend: { type: 'string', enum: ['sqlite', 'postgres'] } },
        additionalProperties: { type: 'string' },
      },
    },
  },
  ServiceInfo: {
    type: 'object',
    required: ['key', 'feed'],
    additionalProperties: false,
    properties: {
      key: { ...ref('DidKey'), description: 'The service key: it signs feed pages. Pin it out of band where you can.' },
      feed: {
        type: 'object',
        required: ['pageTtl', 'pageMax'],
        additionalProperties: false,
        properties: {
          pageTtl: { type: 'integer', minimum: 1, description: 'Seconds a page stays valid (`next_update − issued_at`).' },
          pageMax: { type: 'integer', const: FEED_PAGE_MAX, description: 'Most entries in one page.' },
        },
      },
    },
  },
  OpenApiDocument: {
    type: 'object',
    required: ['openapi', 'info', 'paths'],
    properties: { openapi: { type: 'string', const: '3.1.0' }, info: { type: 'object' }, paths: { type: 'object' } },
  },
  RevocationSubmission: {
    type: 'object',
    required: ['revocation'],
    properties: {
      revocation: { type: 'string', pattern: '^mnr1_', description: 'A signed revocation statement (spec/mandate-v1.md §9).' },
    },
  },
  RevocationAccepted: {
    type: 'object',
    required: ['seq', 'created', 'blockId', 'kind'],
    additionalProperties: false,
    properties: {
      seq: { type: 'integer', minimum: 1, description: "The entry's sequence number in the feed." },
      created: { type: 'boolean', description: 'false when the same statement was accepted before (a retry).' },
      blockId: ref('Hex32'),
      kind: ref('RevocationKind'),
    },
  },
  SignedFeedPage: {
    type: 'object',
    description: [
      "A feed page (spec/service-v1.md §4.1, src/revocation/feed.ts): `page` is the base64url of the page's canonical CBOR,",
      '`{0: 1, 1: service key, 2: since, 3: head, 4: issued_at, 5: next_update, 6: [* entry], 7: more, 8: feed id (16 bytes)}`;',
      '`signature` is Ed25519(service key, PAE("mandate/v1/feed", page bytes)), base64url. `head` is the true head of the',
      'database (it may be below `since` after a rollback); the feed id changes when the database is new or rolled back.',
    ].join(' '),
    required: ['page', 'signature'],
    additionalProperties: false,
    properties: {
      page: { ...ref('Base64Url'), contentEncoding: 'base64url', contentMediaType: 'application/cbor' },
      signature: { ...ref('Base64Url'), contentEncoding: 'base64url' },
    },
  },
  FeedEntry: {
    type: 'object',
    description: 'One accepted statement, as stored (note the camelCase field names).',
    required: ['seq', 'blockId', 'kind', 'at', 'by', 'expires'],
    additionalProperties: false,
    properties: {
      seq: { type: 'integer', minimum: 1 },
      blockId: ref('Hex32'),
      kind: ref('RevocationKind'),
      actions: { type: 'array', minItems: 1, items: { type: 'string' }, description: 'A scoped statement: only these action patterns.' },
      at: { type: 'integer', minimum: 0, description: 'When the service accepted it (Unix seconds).' },
      by: { ...ref('Hex32'), description: "The signer's public key, hex." },
      reason: { type: 'string' },
      expires: { type: 'integer', minimum: 0, description: "When the entry may be compacted away (its chain's expiry + skew)." },
      id: { ...ref('Hex32'), description: 'An amendment: its statement id (lifts and counter keys name it).' },
      caveats: { type: 'array', minItems: 1, items: { type: 'string' }, description: 'An amendment: the caveats it adds, in words.' },
      caveatsCbor: {
        type: 'string',
        pattern: '^([0-9a-f]{2})+$',
        description: 'An amendment: the CBOR of its caveat list, hex, exactly as signed.',
      },
      lifts: { ...ref('Hex32'), description: 'A lift: the id of the amendment it lifts.' },
    },
  },
  BlockStatus: {
    type: 'object',
    required: ['blockId', 'revoked', 'suspended', 'entries'],
    additionalProperties: false,
    properties: {
      blockId: ref('Hex32'),
      revoked: { type: 'boolean' },
      suspended: { type: 'boolean', description: 'The last suspend or resume of the block is a suspend.' },
      entries: { type: 'array', items: ref('FeedEntry') },
    },
  },
  ConsumeRequest: {
    type: 'object',
    required: ['presentation', 'counters'],
    properties: {
      requestId: {
        type: 'string',
        pattern: '^[\\x21-\\x7e]{1,128}$',
        description: 'Idempotency key for a bare mandate (required then); for an invocation, its id or absent.',
      },
      presentation: {
        type: 'string',
        pattern: '^mn[id]1_',
        description: 'An invocation (`mni1_…`) or a bearer/sealed mandate (`mnd1_…`).',
      },
      counters: {
        type: 'array',
        minItems: 1,
        maxItems: 64,
        uniqueItems: true,
        items: { type: 'string', pattern: '^[0-9a-f]{64}/\\d{1,2}$', description: '`<block id>/<caveat index>` of a `uses` caveat.' },
      },
    },
  },
  ConsumeResult: {
    oneOf: [
      {
        type: 'object',
        required: ['granted', 'remaining'],
        additionalProperties: false,
        properties: {
          granted: { type: 'boolean', const: true },
          remaining: {
            type: 'array',
            items: {
              type: 'object',
              required: ['key', 'remaining'],
              additionalProperties: false,
              properties: { key: { type: 'string' }, remaining: { type: 'integer', minimum: 0 } },
            },
          },
        },
      },
      {
        type: 'object',
        required: ['granted', 'exhausted'],
        additionalProperties: false,
        properties: {
          granted: { type: 'boolean', const: false },
          exhausted: { type: 'string', description: 'The counter that has no use left.' },
          resetAt: { type: 'integer', minimum: 0, description: 'For a windowed limit: when a use frees up (Unix seconds).' },
        },
      },
    ],
  },
  InvocationSubmission: {
    type: 'object',
    required: ['invocation'],
    properties: { invocation: { type: 'string', pattern: '^mni1_', description: 'A signed invocation.' } },
  },
  ApprovalFiling: {
    type: 'object',
    required: ['invocation'],
    properties: {
      invocation: { type: 'string', pattern: '^mni1_', description: 'A signed invocation that needs approval.' },
      wait: {
        type: 'integer',
        minimum: 0,
        maximum: 2_592_000,
        description:
          "Seconds the request may wait for its approvers (default and at most the service's approval wait, 86,400 unless set): it expires at issued_at + max(300, wait) + 60.",
      },
    },
  },
  ReplayClaim: {
    type: 'object',
    required: ['id', 'claimed'],
    additionalProperties: false,
    properties: { id: ref('Hex32'), claimed: { type: 'boolean', description: 'false while another live claim holds the id.' } },
  },
  ReplayRelease: {
    type: 'object',
    required: ['id', 'released'],
    additionalProperties: false,
    properties: { id: ref('Hex32'), released: { type: 'boolean', description: 'false when there was no live claim.' } },
  },
  ApprovalSubmission: {
    type: 'object',
    required: ['approval'],
    properties: { approval: { type: 'string', pattern: '^mna1_', description: 'A signed approval of this invocation, by the caller.' } },
  },
  DecisionReport: {
    type: 'object',
    required: ['invocation', 'decision', 'decidedAt'],
    properties: {
      invocation: { type: 'string', pattern: '^mni1_', description: 'The invocation decided on, addressed to the reporting verifier.' },
      decision: { type: 'string', enum: ['allow', 'deny'] },
      code: { type: 'string', description: 'The error code of a denial (and only of a denial).' },
      decidedAt: { type: 'integer', minimum: 0, description: 'When the verifier decided (Unix seconds).' },
      approvals: { type: 'array', maxItems: 16, items: { type: 'string', pattern: '^mna1_' }, description: 'The approvals that counted.' },
    },
  },
  AuditPlace: {
    type: 'object',
    required: ['seq', 'hash'],
    additionalProperties: false,
    properties: { seq: { type: 'integer', minimum: 1 }, hash: ref('Hex32') },
  },
  AuditRecord: {
    type: 'object',
    description:
      'A record, or a redacted one (`{seq, prev, digest, hash, redacted: true}`): `digest` is SHA-256 of "mandate-audit-record-v1\\n" and the RFC 8785 form of every field but `prev`, `digest` and `hash`; `hash` is SHA-256 of "mandate-audit-link-v1\\n" and `<seq>.<prev>.<digest>`.',
    required: ['seq', 'prev', 'digest', 'hash'],
    properties: {
      seq: { type: 'integer', minimum: 1 },
      prev: ref('Hex32'),
      digest: ref('Hex32'),
      hash: ref('Hex32'),
      at: { type: 'integer', minimum: 0 },
      type: {
        type: 'string',
        enum: ['decision', 'revocation', 'amendment', 'amendment.lifted', 'approval.requested', 'approval.approved', 'approval.denied'],
      },
      redacted: { type: 'boolean', const: true },
    },
  },
  AuditCheckpoint: {
    type: 'object',
    required: ['type', 'log', 'count', 'head', 'at', 'key', 'signature'],
    additionalProperties: false,
    properties: {
      type: { type: 'string', const: 'checkpoint' },
      log: { type: 'string', pattern: '^[0-9a-f]{32}$' },
      count: { type: 'integer', minimum: 0 },
      head: ref('Hex32'),
      at: { type: 'integer', minimum: 0 },
      key: ref('DidKey'),
      signature: { type: 'string', pattern: '^[0-9a-f]{128}$' },
    },
  },
  AuditPage: {
    type: 'object',
    required: ['log', 'records', 'checkpoint'],
    additionalProperties: false,
    properties: {
      log: { type: 'string', pattern: '^[0-9a-f]{32}$' },
      anchor: {
        ...ref('AuditCheckpoint'),
        description: 'With `since` > 0: the signed checkpoint of record `since`, which the page follows.',
      },
      records: { type: 'array', items: ref('AuditRecord') },
      next: { type: 'integer', minimum: 1, description: 'Present when the page is full: pass it as `since` for the records after it.' },
      checkpoint: ref('AuditCheckpoint'),
    },
  },
  EmptyObject: { type: 'object', additionalProperties: false, properties: {} },
  ApprovalDenial: {
    type: 'object',
    required: ['reason'],
    properties: {
      reason: {
        type: 'string',
        minLength: 1,
        maxLength: 500,
        description:
          'Why it is denied, for the agent: 1–500 characters once leading and trailing white space is removed, well-formed, without control characters but tab and line feed.',
      },
    },
  },
  ApprovalRequest: {
    type: 'object',
    description: 'A pending, approved or denied request: what an approver needs to decide, read from the invocation.',
    required: [
      'id',
      'status',
      'requestedBy',
      'onBehalfOf',
      'chain',
      'action',
      'args',
      'audience',
      'approvers',
      'approvals',
      'createdAt',
      'expiresAt',
      'invocation',
      'quota',
      'amendments',
    ],
    additionalProperties: false,
    properties: {
      id: { ...ref('Hex32'), description: 'The invocation id.' },
      status: {
        type: 'string',
        enum: ['pending', 'approved', 'denied'],
        description:
          '`denied` once an approver or the principal denied it (see `denial`); else `approved` once every applicable approval caveat has its quorum.',
      },
      requestedBy: {
        type: 'object',
        required: ['key'],
        additionalProperties: false,
        properties: { key: ref('DidKey'), name: { type: 'string' } },
      },
      onBehalfOf: { ...ref('DidKey'), description: 'The principal (block 0).' },
      chain: {
        type: 'array',
        minItems: 1,
        items: {
          type: 'object',
          required: ['block'],
          additionalProperties: false,
          properties: { block: { type: 'integer', minimum: 0 }, name: { type: 'string' }, purpose: { type: 'string' } },
        },
      },
      action: { type: 'string' },
      resource: { type: 'string' },
      args: { type: 'object', description: "The invocation's arguments (any JSON values)." },
      audience: { type: 'string' },
      intent: { type: 'string' },
      approvers: { type: 'array', minItems: 1, items: ref('DidKey') },
      approvals: {
        type: 'object',
        description: 'Approvals received so far (`mna1_…`), by approver did:key.',
        propertyNames: ref('DidKey'),
        additionalProperties: { type: 'string', pattern: '^mna1_' },
      },
      createdAt: { type: 'integer', minimum: 0 },
      expiresAt: {
        type: 'integer',
        minimum: 0,
        description:
          "issued_at + max(300, wait) + 60, or the chain's expiry + 60 when sooner: after this no verifier waiting as long can accept the invocation; the request stops being pending.",
      },
      invocation: { type: 'string', pattern: '^mni1_' },
      amendments: {
        type: 'array',
        description:
          "The amendments in force on the chain's blocks at the answer's time (spec/mandate-v1.md §9.2): an approval may be asked for by one, which the signed invocation cannot show.",
        items: {
          type: 'object',
          required: ['block', 'id', 'by', 'at', 'caveats'],
          additionalProperties: false,
          properties: {
            block: { type: 'integer', minimum: 0, description: 'The amended block.' },
            id: ref('Hex32'),
            by: { ...ref('DidKey'), description: 'Who signed it.' },
            at: { type: 'integer', minimum: 0, description: 'When the service accepted it.' },
            reason: { type: 'string', description: 'Why: show it escaped.' },
            caveats: { type: 'array', minItems: 1, items: { type: 'string' }, description: 'What it adds, in words.' },
          },
        },
      },
      quota: {
        type: 'array',
        description:
          "Each `uses` caveat of the chain, in chain order (a block's own, then its amendments'), with what is spent and left of it at the answer's time.",
        items: {
          type: 'object',
          required: ['block', 'caveat', 'max', 'used', 'remaining'],
          additionalProperties: false,
          properties: {
            block: { type: 'integer', minimum: 0 },
            caveat: { type: 'integer', minimum: 0, description: "The caveat's index in its block." },
            max: { type: 'integer', minimum: 1 },
            per: { type: 'integer', minimum: 1, description: 'The sliding window in seconds; absent for a total limit.' },
            used: { type: 'integer', minimum: 0, description: 'Uses spent (in the window, for a windowed limit).' },
            remaining: { type: 'integer', minimum: 0 },
          },
        },
      },
      denial: {
        type: 'object',
        description: 'Present exactly when `status` is `denied`: who denied it, why, and when.',
        required: ['by', 'reason', 'at'],
        additionalProperties: false,
        properties: {
          by: { ...ref('DidKey'), description: 'The approver, or the principal, who denied it.' },
          reason: { type: 'string', minLength: 1, maxLength: 500, description: 'Their note: show it escaped.' },
          at: { type: 'integer', minimum: 0 },
        },
      },
    },
  },
  ApprovalInbox: {
    type: 'object',
    required: ['approver', 'pending'],
    additionalProperties: false,
    properties: {
      approver: ref('DidKey'),
      pending: { type: 'array', items: ref('ApprovalRequest'), description: 'Newest first.' },
      next: {
        type: 'string',
        pattern: '^\\d{1,15}\\.[0-9a-f]{64}$',
        description: 'Present when the page is full: pass it as `before` for the next page.',
      },
    },
  },
}

const errorResponse = (description: string, headers?: Record<string, unknown>) => ({
  description,
  ...(headers ? { headers } : {}),
  content: json(ref('Error')),
})

const responses = {
  BadRequest: errorResponse(
    '`ERR_REQUEST_MALFORMED` (a bad field, number or id), a token parsing code (`ERR_TEXT_FORMAT`, `ERR_CBOR_*`, `ERR_FORMAT`, `ERR_VERSION`, `ERR_KEY_FORMAT`, …), or `ERR_APPROVAL_INVALID` (the approval names another invocation).',
  ),
  SignatureRejected: errorResponse(
    'A token signature or proof fails (`ERR_SIG_*`, `ERR_KEY_WEAK`, `ERR_PROOF`), or the statement or invocation is too old or dated in the future (`ERR_REQUEST_STALE`).',
  ),
  Unauthenticated: errorResponse(
    'The request signature is missing (`ERR_AUTH_REQUIRED`), wrong (`ERR_AUTH_INVALID`), outside its window (`ERR_REQUEST_STALE`) or replayed (`ERR_AUTH_REPLAY`); or a token signature fails (`ERR_SIG_*`, `ERR_PROOF`, `ERR_APPROVAL_INVALID`); or the invocation is stale (`ERR_REQUEST_STALE`).',
    { 'accept-signature': { $ref: '#/components/headers/AcceptSignature' } },
  ),
  Forbidden: errorResponse(
    'Authenticated but not allowed: `ERR_NOT_AUTHORIZED`, `ERR_ROOT_UNTRUSTED` (the chain is not rooted at a served principal), `ERR_AUDIENCE`, or the chain is not in standing (`ERR_REVOKED`, `ERR_SUSPENDED`, `ERR_TIME_EXPIRED`); `ERR_APPROVAL_INVALID` for an expired or future-dated approval.',
  ),
  NotFound: errorResponse('`ERR_NOT_FOUND`: no such approval request.'),
  Conflict: errorResponse(
    '`ERR_CONFLICT`: an idempotency key reused for another question; an approval request for an action that needs none; an approval or a denial of a request that is expired, denied, or (for a denial) approved.',
  ),
  PayloadTooLarge: errorResponse('`ERR_LIMIT_SIZE`: the body exceeds the limit (64 KiB by default).'),
  UnsupportedMediaType: errorResponse('`ERR_MEDIA_TYPE`: the body is not `application/json` (nor `application/cbor` where accepted).'),
  TooManyRequests: errorResponse('`ERR_LIMIT_RATE`.'),
  StorageUnavailable: errorResponse(
    '`ERR_STORAGE_UNAVAILABLE`: storage failed, timed out, is read-only or locked; nothing was acknowledged.',
  ),
  Internal: errorResponse('`ERR_INTERNAL`: a bug; nothing was acknowledged.'),
}

const parameters = {
  Since: {
    name: 'since',
    in: 'query',
    description: 'Entries with `seq > since` (default 0).',
    schema: { type: 'string', pattern: '^\\d{1,15}$' },
  },
  FeedLimit: {
    name: 'limit',
    in: 'query',
    description: `Most entries (1..${FEED_PAGE_MAX}, default ${FEED_PAGE_MAX}); anything else is refused, never clamped.`,
    schema: { type: 'integer', minimum: 1, maximum: FEED_PAGE_MAX, default: FEED_PAGE_MAX },
  },
  BlockId: { name: 'blockId', in: 'path', required: true, schema: ref('Hex32') },
  ApprovalId: { name: 'id', in: 'path', required: true, description: 'The invocation id.', schema: ref('Hex32') },
  Approver: {
    name: 'approver',
    in: 'query',
    description: 'The approver whose inbox is read; it must be the signer (it may be omitted).',
    schema: ref('DidKey'),
  },
  ApprovalLimit: { name: 'limit', in: 'query', schema: { type: 'integer', minimum: 1, maximum: 100, default: 50 } },
  AuditSince: {
    name: 'since',
    in: 'query',
    description: 'Records after this seq (the `next` of the previous page).',
    schema: { type: 'integer', minimum: 0, default: 0 },
  },
  AuditLimit: { name: 'limit', in: 'query', schema: { type: 'integer', minimum: 1, maximum: 1000, default: 500 } },
  AuditPrincipal: {
    name: 'principal',
    in: 'query',
    description: 'Show this principal’s records whole, the others redacted (an auditor); a principal may name only itself.',
    schema: { type: 'string' },
  },
  Before: {
    name: 'before',
    in: 'query',
    description: 'The `next` cursor of the previous page (`<createdAt>.<id>`).',
    schema: { type: 'string', pattern: '^\\d{1,15}\\.[0-9a-f]{64}$' },
  },
  Wait: {
    name: 'wait',
    in: 'query',
    description:
      'Long-poll: answer at once when the request is approved or denied, else as soon as a new approval or a denial arrives, or after this many seconds.',
    schema: { type: 'integer', minimum: 0, maximum: 30, default: 0 },
  },
  IfNoneMatch: {
    name: 'if-none-match',
    in: 'header',
    description: 'The ETag of a page already held: 304 when unchanged.',
    schema: { type: 'string' },
  },
  SignatureInput: {
    name: 'signature-input',
    in: 'header',
    required: true,
    description: 'RFC 9421 `Signature-Input` with a `mandate` member (see the `mandateSignature` scheme).',
    schema: { type: 'string' },
  },
  ContentDigest: {
    name: 'content-digest',
    in: 'header',
    required: true,
    description: 'RFC 9530 `Content-Digest` of the body (`sha-256=:…:`), covered by the signature.',
    schema: { type: 'string', pattern: '^sha-256=:[A-Za-z0-9+/=]+:$' },
  },
}

const signed = { security: [{ mandateSignature: [] }] }
const signedGet = [parameter('SignatureInput')]
const signedPost = [parameter('SignatureInput'), parameter('ContentDigest')]
const jsonBody = (schemaName: string, description?: string) => ({
  required: true,
  ...(description ? { description } : {}),
  content: json(ref(schemaName)),
})
const ok = (description: string, schemaName: string) => ({ description, content: json(ref(schemaName)) })

/** What every file of the approval page carries (src/service/approval-page.ts). */
const pageHeaders = {
  'content-security-policy': { description: 'The strict policy of the page.', required: true, schema: { type: 'string' } },
  'x-content-type-options': { required: true, schema: { type: 'string', const: 'nosniff' } },
  'referrer-policy': { required: true, schema: { type: 'string', const: 'no-referrer' } },
  'cache-control': { required: true, schema: { type: 'string', const: 'no-cache' } },
  etag: { $ref: '#/components/headers/ETag' },
}

/** The document. */
export const OPENAPI = {
  openapi: '3.1.0',
  info: {
    title: 'mandate service',
    version: '1',
    summary: 'Revocations and their signed feed, usage counters, replay claims and the approval inbox for mandate capability tokens.',
    description:
      'Normative text: spec/service-v1.md. Errors are `{"error": {"code", "message"}}` with an honest status; times are Unix seconds on the service clock; a 2xx to a write is sent only after a durable commit. Only chains rooted at a served principal are accepted anywhere (403 `ERR_ROOT_UNTRUSTED`).',
    license: { name: 'Apache-2.0', identifier: 'Apache-2.0' },
  },
  tags: [
    { name: 'operations', description: 'Health, readiness, metrics and discovery.' },
    { name: 'revocations', description: 'Revocation statements and the signed feed.' },
    { name: 'usage', description: 'Usage counters (registered verifiers only).' },
    { name: 'replay', description: 'Shared replay claims (registered verifiers only).' },
    { name: 'approvals', description: 'The approval inbox.' },
    {
      name: 'audit',
      description: 'The audit trail: reported decisions and the service’s own events, hash-chained, with signed checkpoints.',
    },
  ],
  paths: {
    '/healthz': {
      get: {
        operationId: 'health',
        tags: ['operations'],
        summary: 'Liveness: 200 while the process runs.',
        responses: { '200': ok('Alive.', 'Health'), '500': response('Internal') },
      },
    },
    '/readyz': {
      get: {
        operationId: 'ready',
        tags: ['operations'],
        summary: 'Readiness: storage commits a small write.',
        responses: {
          '200': ok('Ready, with the storage settings.', 'Ready'),
          '503': errorResponse('`ERR_STORAGE_UNAVAILABLE`: storage does not commit (read-only, full, locked, timed out).'),
          '500': response('Internal'),
        },
      },
    },
    '/metrics': {
      get: {
        operationId: 'metrics',
        tags: ['operations'],
        summary: 'Prometheus metrics.',
        description:
          '`mandate_http_requests_total{method,route,status}`, `mandate_http_request_duration_seconds`, `mandate_revocations_total{kind,result}`, `mandate_usage_decisions_total{result}`, `mandate_approvals_total{event}`, `mandate_feed_seq`, and the process defaults.',
        responses: {
          '200': { description: 'Prometheus text exposition format.', content: { 'text/plain': { schema: { type: 'string' } } } },
          '503': response('StorageUnavailable'),
          '500': response('Internal'),
        },
      },
    },
    '/openapi.json': {
      get: {
        operationId: 'openapi',
        tags: ['operations'],
        summary: 'This document.',
        responses: { '200': ok('The OpenAPI 3.1 document.', 'OpenApiDocument'), '500': response('Internal') },
      },
    },
    '/v1/service': {
      get: {
        operationId: 'serviceInfo',
        tags: ['operations'],
        summary: 'The service key (it signs feed pages) and feed settings.',
        responses: { '200': ok('The service key and feed settings.', 'ServiceInfo'), '500': response('Internal') },
      },
    },
    '/v1/revocations': {
      post: {
        operationId: 'submitRevocation',
        tags: ['revocations'],
        summary: 'Submit a revocation, suspension or resumption statement.',
        description:
          'Acceptance, in order (spec/service-v1.md §5.1): the statement parses (400); its chain prefix is rooted at a served principal (403 `ERR_ROOT_UNTRUSTED`); the prefix and statement signatures verify (401); the signer may revoke the target (403 `ERR_NOT_AUTHORIZED`); a statement addressed to another audience is refused (403 `ERR_AUDIENCE`); a retry of an accepted statement gets its original `seq` (200); a resume must come from every suspender or a key above it (403); a whole-block revoke is final (a second one answers 200 with the `seq` of the first); a statement about an expired chain, or below a block revoked whole, is refused (403 `ERR_TIME_EXPIRED`, `ERR_REVOKED`); one signer has at most 64 statements against a block (429 `ERR_LIMIT_RATE`); `created` must be within ±300 s of the service clock (401 `ERR_REQUEST_STALE`); then 201.',
        requestBody: {
          required: true,
          description: '`{"revocation": "mnr1_…"}`, or the statement\'s CBOR bytes with `content-type: application/cbor`.',
          content: { ...json(ref('RevocationSubmission')), 'application/cbor': {} },
        },
        responses: {
          '200': ok('A retry of an accepted statement: its original sequence number; nothing added.', 'RevocationAccepted'),
          '201': ok('Accepted and durably committed.', 'RevocationAccepted'),
          '400': response('BadRequest'),
          '401': response('SignatureRejected'),
          '403': response('Forbidden'),
          '413': response('PayloadTooLarge'),
          '415': response('UnsupportedMediaType'),
          '429': response('TooManyRequests'),
          '503': response('StorageUnavailable'),
          '500': response('Internal'),
        },
      },
      get: {
        operationId: 'readFeed',
        tags: ['revocations'],
        summary: 'A signed page of the revocation feed.',
        description:
          "The entries with `seq > since`, in order, at most `limit`. `issued_at` is rounded down (2 s by default) so that identical requests get identical pages: `ETag` is a hash of the page and `If-None-Match` answers 304. When the page says `more`, ask again from its last entry's `seq`.",
        parameters: [parameter('Since'), parameter('FeedLimit'), parameter('IfNoneMatch')],
        responses: {
          '200': {
            description: 'A signed page.',
            headers: {
              etag: { $ref: '#/components/headers/ETag' },
              'cache-control': { $ref: '#/components/headers/CacheControl' },
            },
            content: json(ref('SignedFeedPage')),
          },
          '304': {
            description: 'The page is the one named by `If-None-Match`.',
            headers: { etag: { $ref: '#/components/headers/ETag' } },
          },
          '400': response('BadRequest'),
          '503': response('StorageUnavailable'),
          '500': response('Internal'),
        },
      },
    },
    '/v1/revocations/stream': {
      get: {
        operationId: 'streamFeed',
        tags: ['revocations'],
        summary: 'Push: the feed as server-sent events.',
        description:
          'Each event is `event: page` whose `data` is a `SignedFeedPage` as JSON. A page is pushed soon after a commit (200 ms polling by default), and a fresh (possibly empty) page at least every 5 s as a heartbeat. If storage fails, the stream ends; the client falls back to polling.',
        parameters: [parameter('Since')],
        responses: {
          '200': {
            description: 'An event stream of signed pages.',
            content: { 'text/event-stream': { schema: { type: 'string' } } },
          },
          '400': response('BadRequest'),
          '500': response('Internal'),
        },
      },
    },
    '/v1/revocations/{blockId}': {
      get: {
        operationId: 'blockStatus',
        tags: ['revocations'],
        summary: 'The statements against one block.',
        parameters: [parameter('BlockId')],
        responses: {
          '200': ok("The block's standing and its entries.", 'BlockStatus'),
          '400': response('BadRequest'),
          '503': response('StorageUnavailable'),
          '500': response('Internal'),
        },
      },
    },
    '/v1/usage/consume': {
      post: {
        operationId: 'consumeUsage',
        tags: ['usage'],
        summary: 'Consume one use from every counter, all or nothing, idempotently.',
        description:
          "Signed by a registered verifier (403 otherwise). The presentation must be intact (400/401) and rooted at a served principal (403 `ERR_ROOT_UNTRUSTED`); an invocation must be fresh (401 `ERR_REQUEST_STALE`; one that needs an approval may be as old as the service's approval wait) and addressed to the verifier's audience (403 `ERR_AUDIENCE`); a bare mandate must admit that audience and carry a `requestId`. Every counter must name a `uses` caveat of the chain (403), and the chain must be in standing (403 `ERR_REVOKED`/`ERR_SUSPENDED`/`ERR_TIME_EXPIRED`). The idempotency key is the invocation id (or the verifier's request id); a retry gets the stored answer, and the same key with another chain or other counters is 409 `ERR_CONFLICT`.",
        ...signed,
        parameters: signedPost,
        requestBody: jsonBody('ConsumeRequest'),
        responses: {
          '200': ok('Granted (with what remains), or refused with the exhausted counter.', 'ConsumeResult'),
          '400': response('BadRequest'),
          '401': response('Unauthenticated'),
          '403': response('Forbidden'),
          '409': response('Conflict'),
          '413': response('PayloadTooLarge'),
          '415': response('UnsupportedMediaType'),
          '503': response('StorageUnavailable'),
          '500': response('Internal'),
        },
      },
    },
    '/v1/replay/claim': {
      post: {
        operationId: 'claimReplay',
        tags: ['replay'],
        summary: "Claim a fresh invocation's id, so that it is accepted once across verifiers.",
        description:
          "Signed by a registered verifier of the invocation's audience (403). The invocation must be intact (400/401), served (403) and fresh (401 `ERR_REQUEST_STALE`), or, when an approval caveat applies to it, within the service's approval wait. The claim lives past the last second any verifier could accept the invocation.",
        ...signed,
        parameters: signedPost,
        requestBody: jsonBody('InvocationSubmission'),
        responses: {
          '200': ok('`claimed` is true for the first claim, false while a live claim exists.', 'ReplayClaim'),
          '400': response('BadRequest'),
          '401': response('Unauthenticated'),
          '403': response('Forbidden'),
          '413': response('PayloadTooLarge'),
          '415': response('UnsupportedMediaType'),
          '503': response('StorageUnavailable'),
          '500': response('Internal'),
        },
      },
    },
    '/v1/replay/release': {
      post: {
        operationId: 'releaseReplay',
        tags: ['replay'],
        summary: 'Release a claim (only the verifier holding it may).',
        ...signed,
        parameters: signedPost,
        requestBody: jsonBody('InvocationSubmission'),
        responses: {
          '200': ok('`released` is false when there was no live claim.', 'ReplayRelease'),
          '400': response('BadRequest'),
          '401': response('Unauthenticated'),
          '403': response('Forbidden'),
          '413': response('PayloadTooLarge'),
          '415': response('UnsupportedMediaType'),
          '503': response('StorageUnavailable'),
          '500': response('Internal'),
        },
      },
    },
    '/v1/approvals': {
      post: {
        operationId: 'requestApproval',
        tags: ['approvals'],
        summary: "File an approval request for an invocation (unsigned: the invocation is the requester's signature).",
        description:
          "`wait`, when given, is a whole number of seconds up to the service's approval wait (400). The invocation must be intact (400/401), served (403 `ERR_ROOT_UNTRUSTED`), fresh (401 `ERR_REQUEST_STALE`) and in standing (403 `ERR_REVOKED`, `ERR_SUSPENDED`, `ERR_TIME_EXPIRED`), and some approval caveat must apply to its action (409 `ERR_CONFLICT` otherwise). The request expires at issued_at + max(300, wait) + 60. Idempotent by invocation id. A requester has at most 16 pending (unexpired, unanswered) requests (429 `ERR_LIMIT_RATE`).",
        requestBody: jsonBody('ApprovalFiling'),
        responses: {
          '201': ok(
            'The request (filed now, or the existing one), without its approvals (`approvals` is `{}`): filing needs no key, so a copy of the invocation must not collect them. Read them signed (`GET /v1/approvals/{id}`).',
            'ApprovalRequest',
          ),
          '400': response('BadRequest'),
          '401': response('SignatureRejected'),
          '403': response('Forbidden'),
          '409': response('Conflict'),
          '413': response('PayloadTooLarge'),
          '415': response('UnsupportedMediaType'),
          '429': response('TooManyRequests'),
          '503': response('StorageUnavailable'),
          '500': response('Internal'),
        },
      },
      get: {
        operationId: 'listApprovals',
        tags: ['approvals'],
        summary: "The signer's inbox: live requests naming it that it has not approved, newest first.",
        ...signed,
        parameters: [...signedGet, parameter('Approver'), parameter('ApprovalLimit'), parameter('Before')],
        responses: {
          '200': ok('One page of the inbox.', 'ApprovalInbox'),
          '400': response('BadRequest'),
          '401': response('Unauthenticated'),
          '403': response('Forbidden'),
          '503': response('StorageUnavailable'),
          '500': response('Internal'),
        },
      },
    },
    '/v1/approvals/{id}': {
      get: {
        operationId: 'getApproval',
        tags: ['approvals'],
        summary: 'One request, for its approvers, its requester and its principal only.',
        ...signed,
        parameters: [parameter('ApprovalId'), ...signedGet, parameter('Wait')],
        responses: {
          '200': ok('The request.', 'ApprovalRequest'),
          '400': response('BadRequest'),
          '401': response('Unauthenticated'),
          '403': response('Forbidden'),
          '404': response('NotFound'),
          '503': response('StorageUnavailable'),
          '500': response('Internal'),
        },
      },
      post: {
        operationId: 'approve',
        tags: ['approvals'],
        summary: "Post the signer's own approval of the request.",
        description:
          "The approval must be the signer's (403), for a listed approver (403), validly signed (401 `ERR_APPROVAL_INVALID`), name this invocation (400 `ERR_APPROVAL_INVALID`), not be expired or future-dated (403 `ERR_APPROVAL_INVALID`); an expired request is 409 `ERR_CONFLICT` (the agent must invoke again).",
        ...signed,
        parameters: [parameter('ApprovalId'), ...signedPost],
        requestBody: jsonBody('ApprovalSubmission'),
        responses: {
          '200': ok('The request, with the approval added.', 'ApprovalRequest'),
          '400': response('BadRequest'),
          '401': response('Unauthenticated'),
          '403': response('Forbidden'),
          '404': response('NotFound'),
          '409': response('Conflict'),
          '413': response('PayloadTooLarge'),
          '415': response('UnsupportedMediaType'),
          '503': response('StorageUnavailable'),
          '500': response('Internal'),
        },
      },
    },
    '/v1/approvals/{id}/deny': {
      post: {
        operationId: 'denyApproval',
        tags: ['approvals'],
        summary: 'Deny the request with a reason: it is closed, and its agent reads who refused and why.',
        description:
          'Signed by a listed approver of the request or by its principal (403 `ERR_NOT_AUTHORIZED`); `reason` 1–500 characters (400). A request already denied by another key, approved, or expired is 409 `ERR_CONFLICT`; the same key denying again gets 200 and the request unchanged (its first reason stands). A denied request is no longer listed, takes no approval (409), and frees its requester’s pending place.',
        ...signed,
        parameters: [parameter('ApprovalId'), ...signedPost],
        requestBody: jsonBody('ApprovalDenial'),
        responses: {
          '200': ok('The request, denied (`status` `denied`, with `denial`).', 'ApprovalRequest'),
          '400': response('BadRequest'),
          '401': response('Unauthenticated'),
          '403': response('Forbidden'),
          '404': response('NotFound'),
          '409': response('Conflict'),
          '413': response('PayloadTooLarge'),
          '415': response('UnsupportedMediaType'),
          '503': response('StorageUnavailable'),
          '500': response('Internal'),
        },
      },
    },
    // The audit trail (spec/service-v1.md §8).
    '/v1/audit/decisions': {
      post: {
        operationId: 'reportDecision',
        tags: ['audit'],
        summary: 'A registered verifier reports a decision on an invocation addressed to it.',
        description:
          'The invocation is checked (signatures, a served chain, addressed to the verifier’s name: 403 `ERR_AUDIENCE`), and so are the approvals (401/400 `ERR_APPROVAL_INVALID`); `code` is a library error code, present exactly for a denial (400). A retry of the same report answers the same place.',
        ...signed,
        parameters: signedPost,
        requestBody: jsonBody('DecisionReport'),
        responses: {
          '201': ok('Its place in the log.', 'AuditPlace'),
          '400': response('BadRequest'),
          '401': response('Unauthenticated'),
          '403': response('Forbidden'),
          '413': response('PayloadTooLarge'),
          '415': response('UnsupportedMediaType'),
          '503': response('StorageUnavailable'),
          '500': response('Internal'),
        },
      },
    },
    '/v1/audit': {
      get: {
        operationId: 'readAudit',
        tags: ['audit'],
        summary: 'A page of the audit log, with a checkpoint of its last record signed now.',
        description:
          'Signed by an auditor (every record whole; with `principal`, that principal’s whole and the others redacted) or by a served principal (its own records whole, the others redacted). Anyone else: 403.',
        ...signed,
        parameters: [...signedGet, parameter('AuditSince'), parameter('AuditLimit'), parameter('AuditPrincipal')],
        responses: {
          '200': ok('Records after `since`, in order.', 'AuditPage'),
          '400': response('BadRequest'),
          '401': response('Unauthenticated'),
          '403': response('Forbidden'),
          '503': response('StorageUnavailable'),
          '500': response('Internal'),
        },
      },
    },
    '/v1/audit/checkpoints': {
      post: {
        operationId: 'makeCheckpoint',
        tags: ['audit'],
        summary: 'An auditor has the service sign and keep a checkpoint of the whole log now.',
        ...signed,
        parameters: signedPost,
        requestBody: jsonBody('EmptyObject'),
        responses: {
          '201': ok('The checkpoint.', 'AuditCheckpoint'),
          '401': response('Unauthenticated'),
          '403': response('Forbidden'),
          '413': response('PayloadTooLarge'),
          '415': response('UnsupportedMediaType'),
          '503': response('StorageUnavailable'),
          '500': response('Internal'),
        },
      },
    },
    // The approval page and the approver's push stream (spec/service-v1.md §7.1, §7.2).
    '/v1/approvals/stream': {
      get: {
        operationId: 'streamApprovals',
        tags: ['approvals'],
        summary: "Push: the signer's inbox as server-sent events.",
        description:
          'Signed as the listing is (`approver`, when given, must be the signer: 403). Events, each with JSON `data`: `ready` first (`{approver, pending: [request…], heartbeatSeconds, renewAt}`: the newest 100 pending requests, newest first), then `request` (a request filed, or changed: another approval, a new status), `closed` (`{id, reason, request?}`: it left the inbox, `reason` one of `approved` (by the signer), `denied`, `expired`, `gone`, `closed`), `heartbeat` (`{at}`) after 15 s without another event, and `end` (`{reason}`: `renew` after 300 s, `shutdown`, `unavailable`) just before the stream closes. At most 4 open streams per approver and 256 per instance (429 `ERR_LIMIT_RATE`).',
        ...signed,
        parameters: [...signedGet, parameter('Approver')],
        responses: {
          '200': {
            description: 'An event stream: `ready`, then `request`, `closed` and `heartbeat` events, and `end` before it closes.',
            content: { 'text/event-stream': { schema: { type: 'string' } } },
          },
          '400': response('BadRequest'),
          '401': response('Unauthenticated'),
          '403': response('Forbidden'),
          '429': response('TooManyRequests'),
          '503': response('StorageUnavailable'),
          '500': response('Internal'),
        },
      },
    },
    '/approvals/': {
      get: {
        operationId: 'approvalPage',
        tags: ['approvals'],
        summary: 'The approval page (HTML), for an approver in a browser; `/approvals` redirects here (308).',
        description:
          'Static: the page signs every request it makes in the browser, with a key that never leaves it. Served with a strict Content-Security-Policy, `X-Content-Type-Options: nosniff`, `Referrer-Policy: no-referrer`, `Cache-Control: no-cache` and a strong ETag.',
        parameters: [parameter('IfNoneMatch')],
        responses: {
          '200': { description: 'The page.', headers: pageHeaders, content: { 'text/html': { schema: { type: 'string' } } } },
          '304': { description: 'The page is the one named by `If-None-Match`.', headers: { etag: { $ref: '#/components/headers/ETag' } } },
          '500': response('Internal'),
        },
      },
    },
    '/approvals/{file}': {
      get: {
        operationId: 'approvalPageFile',
        tags: ['approvals'],
        summary: "The approval page's stylesheet (`approvals.css`) and script (`approvals.js`).",
        parameters: [
          { name: 'file', in: 'path', required: true, schema: { type: 'string', enum: ['approvals.css', 'approvals.js'] } },
          parameter('IfNoneMatch'),
        ],
        responses: {
          '200': {
            description: 'The file.',
            headers: pageHeaders,
            content: { 'text/css': { schema: { type: 'string' } }, 'text/javascript': { schema: { type: 'string' } } },
          },
          '304': { description: 'The file is the one named by `If-None-Match`.', headers: { etag: { $ref: '#/components/headers/ETag' } } },
          '404': errorResponse('`ERR_NOT_FOUND`: no such file (or, for the script, a checkout not built yet).'),
          '500': response('Internal'),
        },
      },
    },
  },
  components: {
    schemas,
    responses,
    parameters,
    headers: {
      AcceptSignature: {
        description:
          'RFC 9421 §5.1 `Accept-Signature`: what to sign, e.g. `mandate=("@method" "@authority" "@path" "@query" "content-digest");created;keyid;alg="ed25519";nonce`. Sent when the request signature is missing, wrong or outside its window.',
        schema: { type: 'string', pattern: '^mandate=\\(' },
      },
      ETag: { description: 'A hash of the page.', required: true, schema: { type: 'string', pattern: '^"[0-9a-f]{32}"$' } },
      CacheControl: {
        description: '`no-cache`: revalidate with `If-None-Match`.',
        required: true,
        schema: { type: 'string', const: 'no-cache' },
      },
    },
    securitySchemes: {
      mandateSignature: { type: 'apiKey', in: 'header', name: 'signature', description: SIGNATURE_PROFILE },
    },
  },
}
