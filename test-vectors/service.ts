import '../src/crypto/use-node.js'
import { base64, base64urlnopad } from '@scure/base'
import { type BareItem, type InnerList, type Item, serializeDictionary } from 'structured-headers'
import { encodeCaveat } from '../src/caveats/codec.js'
import { type CborValue, encodeCbor } from '../src/cbor/codec.js'
import { CBOR_LIMITS } from '../src/cbor/limits.js'
import { getBackend } from '../src/crypto/ed25519.js'
import { sha256 } from '../src/crypto/hash.js'
import { contentDigest, deriveComponents, SIGNATURE_LABEL, signatureBase, signRequest } from '../src/crypto/http-signature.js'
import {
  attenuate,
  type Caveat,
  createRevocation,
  type FeedEntry,
  type FeedPage,
  formatMandate,
  formatRevocation,
  type KeyPair,
  keyPairFromSecret,
  mint,
  type RevocationKind,
  type RevocationOptions,
  signFeedPage,
  toDidKey,
  type UnverifiedMandate,
} from '../src/index.js'
import { concatBytes, toHex, utf8 } from '../src/internal/bytes.js'
import { encodeChain } from '../src/token/chain.js'
import { blockSigningInput, type Domain, signingInput } from '../src/token/signing.js'
import { toText } from '../src/token/text.js'
import { json, keysOf, seededRandom, seedOf, T0, writeOrCheck } from './common.js'
import {
  type BlockEntry,
  caveatsHex,
  type PageFields,
  type PageVector,
  pageCause,
  type RequestOutcome,
  type RequestVector,
  runPage,
  runRequest,
  runSequence,
  runStatement,
  type SequenceOutcome,
  type SequenceVector,
  type StatementFields,
  type StatementVector,
  sameOutcome,
  type ViewState,
  verifierBase,
} from './service-runner.js'

// ---- keys, randomness, times ------------------------------------------------------------------

const ROLES = ['alice', 'assistant', 'subagent', 'mallory', 'service', 'other-service'] as const
type Role = (typeof ROLES)[number]
const keys = keysOf(ROLES)
const did = (r: Role) => toDidKey(keys[r].publicKey)
const hexKey = (r: Role) => toHex(keys[r].publicKey)
/** The signer of spec/service-v1.md §3.2's example: the seed 07 repeated. */
const VERIFIER_SEED = new Uint8Array(32).fill(7)
const verifier = keyPairFromSecret(VERIFIER_SEED)

const random = (seed: string) => seededRandom('service', seed)

const feedIdOf = (name: string) => toHex(sha256(utf8(`mandate test vector feed id: ${name}`)).subarray(0, 16))
const FEED_A = feedIdOf('A')
const FEED_B = feedIdOf('B')

const problems: string[] = []
const check = (id: string, expected: unknown, observed: unknown) => {
  if (!sameOutcome(expected, observed))
    problems.push(`${id}: expected ${JSON.stringify(expected)}\n    observed ${JSON.stringify(observed)}`)
}
const ids = new Set<string>()
const unique = (id: string) => {
  if (ids.has(id)) throw new Error(`duplicate vector id ${id}`)
  ids.add(id)
}

// ---- the chain the statements are about -------------------------------------------------------

const EXPIRES = T0 + 8 * 3600
/** Alice → assistant (bound) → subagent (bound). */
const root = mint({
  principal: keys.alice,
  to: did('assistant'),
  name: 'assistant',
  caveats: [
    { type: 'actions', patterns: ['email:*', 'files:*'] },
    { type: 'window', expires: EXPIRES },
  ],
  now: T0,
  random: random('chain/root'),
})
const chain = attenuate(root, { key: keys.assistant, to: did('subagent'), name: 'subagent', now: T0, random: random('chain/sub') })
/** Another chain of Alice's, to splice into a prefix. */
const stranger = attenuate(
  mint({
    principal: keys.alice,
    to: did('assistant'),
    caveats: [{ type: 'window', expires: EXPIRES }],
    now: T0,
    random: random('other/root'),
  }),
  { key: keys.assistant, to: did('subagent'), now: T0, random: random('other/sub') },
)
const block0 = chain.blocks[0]?.idHex as string
const block1 = chain.blocks[1]?.idHex as string

// ---- 2. statements ----------------------------------------------------------------------------

const statements: StatementVector[] = []
type Made = { text: string; id: string; signer: Role; kind: RevocationKind; created: number; caveats?: Caveat[]; lifts?: string }
const made = new Map<string, Made>()

function statementFields(o: {
  kind: RevocationKind
  actions?: string[]
  caveats?: Caveat[]
  lifts?: string
  signer: Role
  nonce: Uint8Array
  created: number
  reason?: string
  audience?: string
  prefix: number
}): StatementFields {
  const prefix = chain.blocks.slice(0, o.prefix + 1)
  return {
    kind: o.kind,
    ...(o.actions === undefined ? {} : { actions: o.actions }),
    signer: did(o.signer),
    nonce: toHex(o.nonce),
    created: o.created,
    ...(o.reason === undefined ? {} : { reason: o.reason }),
    ...(o.audience === undefined ? {} : { audience: o.audience }),
    ...(o.caveats === undefined ? {} : { caveats: toHex(encodeCbor(o.caveats.map(encodeCaveat))) }),
    ...(o.lifts === undefined ? {} : { lifts: o.lifts }),
    chain: prefix.map((b) => b.idHex),
    target: { index: o.prefix, block_id: prefix[o.prefix]?.idHex as string },
  }
}

/** A valid statement made by createRevocation, with its decoded fields stated by hand. */
function validStatement(
  id: string,
  title: string,
  o: {
    signer: Role
    block: number
    kind: RevocationKind
    actions?: string[]
    caveats?: Caveat[]
    lifts?: string
    reason?: string
    audience?: string
    created: number
  },
  authority: number,
): Made {
  unique(id)
  const nonce = random(`${id}/nonce`)(16)
  const s = createRevocation({
    mandate: chain,
    block: o.block,
    key: keys[o.signer],
    kind: o.kind,
    ...(o.actions === undefined ? {} : { actions: o.actions }),
    ...(o.caveats === undefined ? {} : { caveats: o.caveats }),
    ...(o.lifts === undefined ? {} : { lifts: o.lifts }),
    ...(o.reason === undefined ? {} : { reason: o.reason }),
    ...(o.audience === undefined ? {} : { audience: o.audience }),
    now: o.created,
    random: () => nonce,
  } satisfies RevocationOptions)
  const text = formatRevocation(s)
  const vector: StatementVector = {
    id,
    title,
    statement: text,
    expected: {
      valid: true,
      id: toHex(sha256(s.signature)),
      authority,
      fields: statementFields({ ...o, nonce, prefix: o.block }),
    },
  }
  check(id, vector.expected, runStatement(vector))
  statements.push(vector)
  const m: Made = {
    text,
    id: toHex(sha256(s.signature)),
    signer: o.signer,
    kind: o.kind,
    created: o.created,
    ...(o.caveats === undefined ? {} : { caveats: o.caveats }),
    ...(o.lifts === undefined ? {} : { lifts: o.lifts }),
  }
  made.set(id, m)
  return m
}

function invalidStatement(id: string, title: string, statement: string, stage: 'parse' | 'verify', code: string): void {
  unique(id)
  const vector: StatementVector = { id, title, statement, expected: { valid: false, stage, code } }
  check(id, vector.expected, runStatement(vector))
  statements.push(vector)
}

/** A statement built field by field: for the malformed and unauthorized ones createRevocation refuses. */
function forgeStatement(o: {
  fields?: (m: Map<number, CborValue>) => void
  signer?: Role
  signWith?: Role
  prefix?: readonly UnverifiedMandate['blocks'][number][]
  domain?: Domain
  signature?: (sig: Uint8Array) => Uint8Array
  payload?: (p: Uint8Array) => Uint8Array
  /** Only the signature: a byte string with no payload after it. */
  bare?: boolean
  seed: string
}): string {
  const signer = o.signer ?? 'alice'
  const m = new Map<number, CborValue>([
    [0, 1],
    [1, encodeChain(o.prefix ?? chain.blocks)],
    [2, 0],
    [4, keys[signer].publicKey],
    [5, random(`${o.seed}/nonce`)(16)],
    [6, T0 + 100],
  ])
  o.fields?.(m)
  const payload = encodeCbor(m, { ...CBOR_LIMITS, maxTextBytes: 4096 })
  const domain = o.domain ?? 'revocation'
  const message = domain === 'block' ? blockSigningInput(undefined, payload) : signingInput(domain, payload)
  let signature = getBackend().sign(keys[o.signWith ?? signer].secretKey, message)
  if (o.signature) signature = o.signature(signature)
  if (o.bare) return toText('revocation', encodeCbor(signature))
  return toText('revocation', encodeCbor(concatBytes(signature, o.payload ? o.payload(payload) : payload)))
}

// Valid statements: each kind, scoped, with reason and audience; authority −1 is the principal,
// k the holder of block k (the target's own holder renouncing has the least).
const sScoped = validStatement(
  'statement/scoped-revoke-by-parent',
  "the assistant (holder of block 0) revokes the subagent's block for email:send only",
  { signer: 'assistant', block: 1, kind: 'revoke', actions: ['email:send'], created: T0 + 100 },
  0,
)
const sSuspend = validStatement(
  'statement/suspend-renounce',
  'the subagent suspends its own block (renouncing), with a reason',
  { signer: 'subagent', block: 1, kind: 'suspend', reason: 'going offline', created: T0 + 110 },
  1,
)
const sResume = validStatement(
  'statement/resume-by-principal',
  "the principal resumes the subagent's block",
  { signer: 'alice', block: 1, kind: 'resume', created: T0 + 120 },
  -1,
)
const sSuspendScoped = validStatement(
  'statement/scoped-suspend-reason',
  'the assistant suspends files:* and email:send:bulk on the subagent block, with a non-ASCII reason',
  {
    signer: 'assistant',
    block: 1,
    kind: 'suspend',
    actions: ['files:*', 'email:send:bulk'],
    reason: 'revue de sécurité ☕',
    created: T0 + 130,
  },
  0,
)
const sRevoke = validStatement(
  'statement/revoke-by-principal',
  "the principal revokes the subagent's block whole",
  { signer: 'alice', block: 1, kind: 'revoke', created: T0 + 140 },
  -1,
)
validStatement(
  'statement/revoke-with-audience',
  "the principal revokes the assistant's block 0, addressed to one service",
  { signer: 'alice', block: 0, kind: 'revoke', audience: 'mandate.example', reason: 'compromised', created: T0 + 150 },
  -1,
)
validStatement(
  'statement/renounce-block-0',
  'the assistant renounces its own block 0 (prefix of one block)',
  { signer: 'assistant', block: 0, kind: 'revoke', created: T0 + 160 },
  0,
)

// Invalid statements: the exact code of parseRevocation (stage "parse") or verifyRevocation ("verify").
invalidStatement(
  'statement/signature-altered',
  'a valid statement with one bit of the signature flipped (S, lowest byte)',
  forgeStatement({ seed: 'sig-altered', signature: (s) => s.map((b, i) => (i === 32 ? b ^ 1 : b)) }),
  'verify',
  'ERR_SIG_INVALID',
)
invalidStatement(
  'statement/payload-altered',
  'the payload changed after signing (kind revoke → suspend), signature kept',
  forgeStatement({
    seed: 'payload-altered',
    payload: (p) => {
      const q = new Map<number, CborValue>([
        [0, 1],
        [1, encodeChain(chain.blocks)],
        [2, 1],
        [4, keys.alice.publicKey],
        [5, random('payload-altered/nonce')(16)],
        [6, T0 + 100],
      ])
      const out = encodeCbor(q)
      if (out.length !== p.length) throw new Error('payload-altered: lengths differ')
      return out
    },
  }),
  'verify',
  'ERR_SIG_INVALID',
)
invalidStatement(
  'statement/signer-outside-chain',
  'mallory, who holds no block of the chain, revokes block 1 (well signed by mallory)',
  forgeStatement({ seed: 'outsider', signer: 'mallory' }),
  'verify',
  'ERR_HOLDER_MISMATCH',
)
invalidStatement(
  'statement/descendant-revokes-ancestor',
  "the subagent (holder of block 1) revokes the assistant's block 0",
  forgeStatement({ seed: 'descendant', signer: 'subagent', prefix: chain.blocks.slice(0, 1) }),
  'verify',
  'ERR_HOLDER_MISMATCH',
)
invalidStatement(
  'statement/signer-field-lies',
  'the signer field names alice; mallory signed',
  forgeStatement({ seed: 'lying-signer', signer: 'alice', signWith: 'mallory' }),
  'verify',
  'ERR_SIG_INVALID',
)
invalidStatement(
  'statement/wrong-domain',
  'signed by alice over the block signing input PAE("mandate/v1/block", "", payload) instead of the revocation domain',
  forgeStatement({ seed: 'wrong-domain', domain: 'block' }),
  'verify',
  'ERR_SIG_INVALID',
)
invalidStatement(
  'statement/prefix-unlinked',
  "a prefix whose block 1 belongs to another of alice's chains (its signature binds that chain's block 0)",
  forgeStatement({ seed: 'unlinked', prefix: [chain.blocks[0], stranger.blocks[1]] as UnverifiedMandate['blocks'] }),
  'verify',
  'ERR_SIG_INVALID',
)
invalidStatement(
  'statement/actions-empty',
  'actions is an empty list',
  forgeStatement({ seed: 'actions-empty', fields: (m) => m.set(3, []) }),
  'parse',
  'ERR_FORMAT',
)
invalidStatement(
  'statement/actions-uppercase',
  'an action pattern with an upper-case letter (Email:send)',
  forgeStatement({ seed: 'actions-upper', fields: (m) => m.set(3, ['Email:send']) }),
  'parse',
  'ERR_FORMAT',
)
invalidStatement(
  'statement/actions-not-list',
  'actions is a text, not a list',
  forgeStatement({ seed: 'actions-text', fields: (m) => m.set(3, 'email:send') }),
  'parse',
  'ERR_FORMAT',
)
invalidStatement(
  'statement/actions-bad-pattern',
  'an action pattern with an empty segment (email::send)',
  forgeStatement({ seed: 'actions-empty-seg', fields: (m) => m.set(3, ['email::send']) }),
  'parse',
  'ERR_FORMAT',
)
invalidStatement(
  'statement/kind-unknown',
  'kind 5 (kinds are 0 to 4)',
  forgeStatement({ seed: 'kind-5', fields: (m) => m.set(2, 5) }),
  'parse',
  'ERR_FORMAT',
)
invalidStatement(
  'statement/unknown-field',
  'an unknown payload field 11 (fields are 0 to 10)',
  forgeStatement({ seed: 'field-11', fields: (m) => m.set(11, 'x') }),
  'parse',
  'ERR_FORMAT',
)
invalidStatement(
  'statement/version-2',
  'payload field 0 (version) is 2',
  forgeStatement({ seed: 'version-2', fields: (m) => m.set(0, 2) }),
  'parse',
  'ERR_VERSION',
)
invalidStatement(
  'statement/nonce-15-bytes',
  'a 15-byte nonce',
  forgeStatement({ seed: 'nonce-15', fields: (m) => m.set(5, new Uint8Array(15).fill(1)) }),
  'parse',
  'ERR_FORMAT',
)
invalidStatement(
  'statement/signer-31-bytes',
  'a 31-byte signer key',
  forgeStatement({ seed: 'signer-31', fields: (m) => m.set(4, keys.alice.publicKey.subarray(0, 31)) }),
  'parse',
  'ERR_FORMAT',
)
invalidStatement(
  'statement/created-missing',
  'no created time (field 6)',
  forgeStatement({ seed: 'created-missing', fields: (m) => m.delete(6) }),
  'parse',
  'ERR_FORMAT',
)
invalidStatement(
  'statement/reason-too-long',
  'a reason of 1,025 UTF-8 bytes (over the CBOR profile text limit of 1,024)',
  forgeStatement({ seed: 'reason-long', fields: (m) => m.set(7, 'r'.repeat(1025)) }),
  'parse',
  'ERR_LIMIT_SIZE',
)
invalidStatement(
  'statement/audience-not-text',
  'an audience that is a byte string',
  forgeStatement({ seed: 'audience-bytes', fields: (m) => m.set(8, utf8('mandate.example')) }),
  'parse',
  'ERR_FORMAT',
)
invalidStatement(
  'statement/signature-only',
  'a statement of 64 bytes: a signature and no payload',
  forgeStatement({ seed: 'sig-only', bare: true }),
  'parse',
  'ERR_FORMAT',
)
invalidStatement(
  'statement/mandate-text',
  'a mandate text (mnd1_) where a statement is expected',
  formatMandate(chain),
  'parse',
  'ERR_TEXT_FORMAT',
)

// Amendments (kind 3) and lifts (kind 4), spec/mandate-v1.md §9.1–9.2: valid ones, with their
// caveats (the CBOR of key 9, in hex) or the amendment they lift, and the exact code of each
// malformed one. Fields are checked in key order; within key 9, caveats in list order.
const approvalCaveats: Caveat[] = [
  { type: 'approval', actions: ['email:send'], approvers: [did('alice')], quorum: 1 },
  { type: 'deny', patterns: ['files:delete'] },
]
const sAmend = validStatement(
  'statement/amend-by-principal',
  "the principal amends the assistant's block 0: email:send needs her approval, files:delete is denied",
  { signer: 'alice', block: 0, kind: 'amend', caveats: approvalCaveats, reason: 'ask me before sending', created: T0 + 200 },
  -1,
)
const sAmendExt = validStatement(
  'statement/amend-extension',
  "the assistant (holder of block 0) amends the subagent's block 1: 3 uses an hour, and an extension caveat of type 70000",
  {
    signer: 'assistant',
    block: 1,
    kind: 'amend',
    caveats: [
      { type: 'uses', max: 3, per: 3600 },
      { type: 'extension', code: 70000, body: 'region:eu' },
    ],
    created: T0 + 210,
  },
  0,
)
const sAmendSelf = validStatement(
  'statement/amend-restrain-own',
  'the subagent restrains its own block 1 to email:read, addressed to one service',
  {
    signer: 'subagent',
    block: 1,
    kind: 'amend',
    caveats: [{ type: 'actions', patterns: ['email:read'] }],
    audience: 'mandate.example',
    created: T0 + 220,
  },
  1,
)
validStatement(
  'statement/amend-32-caveats',
  'an amendment of 32 caveats, the most it may carry',
  {
    signer: 'alice',
    block: 1,
    kind: 'amend',
    caveats: Array.from({ length: 32 }, (_, i): Caveat => ({ type: 'resources', globs: [`inbox/${i}/**`] })),
    created: T0 + 225,
  },
  -1,
)
const sLift = validStatement(
  'statement/lift-by-principal',
  'the principal lifts her amendment of block 0 (statement/amend-by-principal)',
  { signer: 'alice', block: 0, kind: 'lift', lifts: sAmend.id, reason: 'trip booked', created: T0 + 230 },
  -1,
)
const validCaveat: CborValue = [1, ['email:read']]
const amend = (caveats: CborValue) => (m: Map<number, CborValue>) => {
  m.set(2, 3)
  m.set(9, caveats)
}
const lift = (lifts: CborValue) => (m: Map<number, CborValue>) => {
  m.set(2, 4)
  m.set(10, lifts)
}
const malformedAmendments: [string, string, (m: Map<number, CborValue>) => void, string][] = [
  ['amend-without-caveats', 'kind 3 (amend) without key 9', (m) => m.set(2, 3), 'ERR_FORMAT'],
  ['amend-caveats-empty', 'an amendment whose caveat list is empty', amend([]), 'ERR_FORMAT'],
  ['amend-caveats-not-list', 'an amendment whose key 9 is a text, not a list', amend('email:read'), 'ERR_FORMAT'],
  ['amend-33-caveats', 'an amendment of 33 caveats', amend(Array.from({ length: 33 }, () => validCaveat)), 'ERR_LIMIT_COUNT'],
  ['amend-caveat-malformed', 'an amendment with a malformed caveat (uses, max 0)', amend([[5, new Map([[0, 0]])]]), 'ERR_CAVEAT_INVALID'],
  [
    'amend-caveat-frame',
    'an amendment with the caveat [11, 1, 2]: a bad frame is invalid, not unknown',
    amend([[11, 1, 2]]),
    'ERR_CAVEAT_INVALID',
  ],
  [
    'amend-window-inverted',
    'an amendment with a window that ends before it starts (it decodes, but does not encode)',
    amend([
      [
        4,
        new Map([
          [0, T0 + 200],
          [1, T0 + 100],
        ]),
      ],
    ]),
    'ERR_CAVEAT_INVALID',
  ],
  ['amend-caveat-unknown', 'an amendment with a caveat of the reserved core type 11', amend([[11, 'x']]), 'ERR_CAVEAT_UNKNOWN'],
  [
    'amend-unknown-before-malformed',
    'caveats in list order: a valid one, one of type 11, a malformed one: the unknown one decides',
    amend([validCaveat, [11, 'x'], [5, new Map([[0, 0]])]]),
    'ERR_CAVEAT_UNKNOWN',
  ],
  [
    'amend-with-actions',
    'an amendment that also carries actions (key 3)',
    (m) => {
      amend([validCaveat])(m)
      m.set(3, ['email:send'])
    },
    'ERR_FORMAT',
  ],
  [
    'amend-actions-before-caveats',
    'an amendment with actions (key 3) and an unknown caveat (key 9): key 3 is checked first',
    (m) => {
      amend([[11, 'x']])(m)
      m.set(3, ['email:send'])
    },
    'ERR_FORMAT',
  ],
  [
    'amend-with-lifts',
    'an amendment that also names an amendment to lift (key 10)',
    (m) => {
      amend([validCaveat])(m)
      m.set(10, new Uint8Array(32).fill(7))
    },
    'ERR_FORMAT',
  ],
  ['revoke-with-caveats', 'a revocation (kind 0) with caveats (key 9)', (m) => m.set(9, [validCaveat]), 'ERR_FORMAT'],
  ['lift-without-id', 'kind 4 (lift) without key 10', (m) => m.set(2, 4), 'ERR_FORMAT'],
  ['lift-id-31-bytes', 'a lift naming a 31-byte id', lift(new Uint8Array(31).fill(7)), 'ERR_FORMAT'],
  ['lift-id-text', 'a lift naming the id as 64 hex digits of text', lift('07'.repeat(32)), 'ERR_FORMAT'],
  [
    'lift-with-caveats',
    'a lift that also carries caveats (key 9)',
    (m) => {
      lift(new Uint8Array(32).fill(7))(m)
      m.set(9, [validCaveat])
    },
    'ERR_FORMAT',
  ],
  [
    'lift-with-actions',
    'a lift that also carries actions (key 3)',
    (m) => {
      lift(new Uint8Array(32).fill(7))(m)
      m.set(3, ['email:send'])
    },
    'ERR_FORMAT',
  ],
  [
    'resume-with-lifts',
    'a resume (kind 2) naming an amendment (key 10)',
    (m) => m.set(2, 2).set(10, new Uint8Array(32).fill(7)),
    'ERR_FORMAT',
  ],
]
for (const [name, title, fields, code] of malformedAmendments) {
  invalidStatement(`statement/${name}`, title, forgeStatement({ seed: name, fields }), 'parse', code)
}
invalidStatement(
  'statement/amend-by-descendant',
  "the subagent (holder of block 1) amends the assistant's block 0: a key below the target",
  forgeStatement({ seed: 'amend-descendant', signer: 'subagent', prefix: chain.blocks.slice(0, 1), fields: amend([validCaveat]) }),
  'verify',
  'ERR_HOLDER_MISMATCH',
)
invalidStatement(
  'statement/lift-by-outsider',
  'mallory, who holds no block of the chain, lifts an amendment of block 1',
  forgeStatement({ seed: 'lift-outsider', signer: 'mallory', fields: lift(hexBytes(sAmendExt.id)) }),
  'verify',
  'ERR_HOLDER_MISMATCH',
)

// ---- 1. feed pages ----------------------------------------------------------------------------

const pages: PageVector[] = []
const ISSUED = T0 + 600
const AT = (m: Made) => m.created + 1
const entryOf = (seq: number, m: Made, blockId: string, extra: { actions?: string[]; reason?: string } = {}): FeedEntry => ({
  seq,
  blockId,
  kind: m.kind,
  ...(extra.actions ? { actions: extra.actions } : {}),
  at: AT(m),
  by: hexKey(m.signer),
  ...(extra.reason === undefined ? {} : { reason: extra.reason }),
  expires: EXPIRES + 300,
  // An amendment carries its statement id and caveats; a lift the amendment it lifts.
  ...(m.kind === 'amend' ? { id: m.id, caveats: m.caveats ?? [] } : {}),
  ...(m.kind === 'lift' ? { lifts: m.lifts ?? '' } : {}),
})
/** The feed of one database: the statements above, in the order the service accepted them. */
const FEED: readonly FeedEntry[] = [
  entryOf(1, sScoped, block1, { actions: ['email:send'] }),
  entryOf(2, sSuspend, block1, { reason: 'going offline' }),
  entryOf(3, sResume, block1),
  entryOf(4, sSuspendScoped, block1, { actions: ['files:*', 'email:send:bulk'], reason: 'revue de sécurité ☕' }),
  entryOf(5, sRevoke, block1),
]
/** The same feed, continued: three amendments, then the lift of the first. */
const AMENDED: readonly FeedEntry[] = [
  entryOf(6, sAmend, block0, { reason: 'ask me before sending' }),
  entryOf(7, sAmendExt, block1),
  entryOf(8, sAmendSelf, block1),
  entryOf(9, sLift, block0, { reason: 'trip booked' }),
]
/** Statement id at each seq. */
const SID = [
  undefined,
  sScoped.id,
  sSuspend.id,
  sResume.id,
  sSuspendScoped.id,
  sRevoke.id,
  sAmend.id,
  sAmendExt.id,
  sAmendSelf.id,
  sLift.id,
] as const
const sid = (seq: number) => SID[seq] as string

type PageInput = Partial<FeedPage> & Pick<FeedPage, 'since' | 'head'>
const pageOf = (p: PageInput): FeedPage => ({
  serviceKey: keys.service.publicKey,
  feedId: FEED_A,
  issuedAt: ISSUED,
  nextUpdate: ISSUED + 60,
  entries: [],
  more: false,
  ...p,
})
const fieldsOf = (p: FeedPage): PageFields => ({
  version: 1,
  service_key: toHex(p.serviceKey),
  since: p.since,
  head: p.head,
  issued_at: p.issuedAt,
  next_update: p.nextUpdate,
  entries: p.entries.map((e) => ({
    seq: e.seq,
    block_id: e.blockId,
    kind: e.kind,
    ...(e.actions ? { actions: [...e.actions] } : {}),
    at: e.at,
    by: e.by,
    ...(e.reason === undefined ? {} : { reason: e.reason }),
    expires: e.expires,
    ...(e.id === undefined ? {} : { id: e.id }),
    ...(e.caveats === undefined ? {} : { caveats: caveatsHex(e.caveats) }),
    ...(e.lifts === undefined ? {} : { lifts: e.lifts }),
  })),
  more: p.more,
  feed_id: p.feedId,
  ...(p.sinceEntry === undefined ? {} : { since_entry: p.sinceEntry }),
  ...(p.headEntry === undefined ? {} : { head_entry: p.headEntry }),
})

/** The page map of spec §4.1, field by field (checked against signFeedPage for valid pages). */
function pageMap(p: FeedPage): Map<number, CborValue> {
  const entries = p.entries.map((e) => {
    const m = new Map<number, CborValue>([
      [0, e.seq],
      [1, hexBytes(e.blockId)],
      [2, ['revoke', 'suspend', 'resume', 'amend', 'lift'].indexOf(e.kind)],
    ])
    if (e.actions?.length) m.set(3, [...e.actions])
    m.set(4, e.at)
    m.set(5, hexBytes(e.by))
    if (e.reason !== undefined) m.set(6, e.reason)
    m.set(7, e.expires)
    if (e.id !== undefined) m.set(8, hexBytes(e.id))
    // The caveats as a byte string holding the CBOR of their list.
    if (e.caveats !== undefined) m.set(9, encodeCbor(e.caveats.map(encodeCaveat)))
    if (e.lifts !== undefined) m.set(10, hexBytes(e.lifts))
    return m
  })
  const m = new Map<number, CborValue>([
    [0, 1],
    [1, p.serviceKey],
    [2, p.since],
    [3, p.head],
    [4, p.issuedAt],
    [5, p.nextUpdate],
    [6, entries],
    [7, p.more],
    [8, hexBytes(p.feedId)],
  ])
  if (p.sinceEntry !== undefined) m.set(9, hexBytes(p.sinceEntry))
  if (p.headEntry !== undefined) m.set(10, hexBytes(p.headEntry))
  return m
}
function hexBytes(hex: string): Uint8Array {
  return Uint8Array.from(hex.match(/../g) ?? [], (h) => Number.parseInt(h, 16))
}

/** Sign raw page bytes as the service (or `key`) would, over PAE("mandate/v1/feed", bytes). */
function signRaw(bytes: Uint8Array, key: KeyPair = keys.service, domain: Exclude<Domain, 'block'> = 'feed') {
  return {
    page: base64urlnopad.encode(bytes),
    signature: base64urlnopad.encode(getBackend().sign(key.secretKey, signingInput(domain, bytes))),
  }
}

function validPage(id: string, title: string, p: PageInput): void {
  unique(id)
  const page = pageOf(p)
  const signed = signFeedPage(page, keys.service.secretKey)
  const mine = signRaw(encodeCbor(pageMap(page)))
  if (mine.page !== signed.page || mine.signature !== signed.signature) problems.push(`${id}: the page encoding of spec §4.1 differs`)
  const v: PageVector = { id, title, ...signed, service_key: did('service'), expected: { valid: true, fields: fieldsOf(page) } }
  check(id, v.expected, runPage(v))
  pages.push(v)
}

/** An invalid page: raw bytes (from a map, edited) signed by `key`; `cause` is the code beneath the wrapper. */
function invalidPage(
  id: string,
  title: string,
  signed: { page: string; signature: string },
  cause: string | undefined,
  pinned: Role = 'service',
): void {
  unique(id)
  const v: PageVector = {
    id,
    title,
    ...signed,
    service_key: did(pinned),
    expected: { valid: false, code: 'ERR_REVOCATION_LIST_INVALID' },
    ...(cause === undefined ? {} : { note: `beneath: ${cause}` }),
  }
  check(id, v.expected, runPage(v))
  if (pageCause(v) !== cause) problems.push(`${id}: expected the cause ${cause}, observed ${pageCause(v)}`)
  pages.push(v)
}
const edited = (p: PageInput, edit: (m: Map<number, CborValue>) => void, key?: KeyPair) => {
  const m = pageMap(pageOf(p))
  edit(m)
  return signRaw(encodeCbor(m), key)
}
const editEntry = (i: number, edit: (e: Map<number, CborValue>) => void) => (m: Map<number, CborValue>) => {
  const entries = m.get(6) as Map<number, CborValue>[]
  edit(entries[i] as Map<number, CborValue>)
}

validPage('page/empty-new-feed', 'a new database: since 0, head 0, no entries, no entry digests', { since: 0, head: 0 })
validPage(
  'page/all-kinds',
  'from 0 to head 5: revoke (scoped), suspend (reason), resume, scoped suspend (two patterns, non-ASCII reason), revoke',
  {
    since: 0,
    head: 5,
    entries: FEED,
    headEntry: sid(5),
  },
)
validPage('page/more', 'the first page of a walk: two entries of five, more = true', {
  since: 0,
  head: 5,
  entries: FEED.slice(0, 2),
  more: true,
  headEntry: sid(5),
})
validPage('page/delta-with-digests', 'a delta from 2: since entry and head entry both present', {
  since: 2,
  head: 5,
  entries: FEED.slice(2),
  sinceEntry: sid(2),
  headEntry: sid(5),
})
validPage('page/delta-since-compacted', 'a delta from 2 whose row at 2 was compacted: no since entry', {
  since: 2,
  head: 5,
  entries: FEED.slice(2),
  headEntry: sid(5),
})
validPage('page/at-head', 'nothing new: since = head = 5, the two digests equal', {
  since: 5,
  head: 5,
  sinceEntry: sid(5),
  headEntry: sid(5),
})
validPage('page/gap-compacted-entries', 'entries 1 and 4 compacted away: entries 2, 3 and 5 only', {
  since: 0,
  head: 5,
  entries: [FEED[1], FEED[2], FEED[4]] as FeedEntry[],
  headEntry: sid(5),
})
validPage('page/head-below-since', 'asked from 7 above a restored head 3: an honest empty page whose head is below since', {
  since: 7,
  head: 3,
  headEntry: sid(3),
})
validPage('page/large-numbers', 'sequence numbers and times beyond 32 bits', {
  since: 4_294_967_296,
  head: 4_294_967_297,
  issuedAt: 4_294_967_296,
  nextUpdate: 4_294_967_356,
  entries: [{ ...(FEED[4] as FeedEntry), seq: 4_294_967_297, at: 4_294_967_290, expires: 4_294_999_999 }],
})

validPage(
  'page/amendments',
  'a delta from 5 to 9: an amendment of block 0 (approval and deny), two of block 1 (uses and an extension; actions), then the lift of the first',
  { since: 5, head: 9, entries: AMENDED, sinceEntry: sid(5), headEntry: sid(9) },
)
validPage('page/amend-only', 'a delta from 5 to 6: one amendment', {
  since: 5,
  head: 6,
  entries: AMENDED.slice(0, 1),
  sinceEntry: sid(5),
  headEntry: sid(6),
})
const good: PageInput = { since: 2, head: 5, entries: FEED.slice(2), sinceEntry: sid(2), headEntry: sid(5) }
const goodSigned = signFeedPage(pageOf(good), keys.service.secretKey)
const flip = (b64: string, index: number) => {
  const bytes = base64urlnopad.decode(b64)
  bytes[index] = (bytes[index] as number) ^ 1
  return base64urlnopad.encode(bytes)
}
invalidPage(
  'page/signature-altered',
  'a valid page with one bit of the signature flipped (S, lowest byte)',
  { page: goodSigned.page, signature: flip(goodSigned.signature, 32) },
  'ERR_SIG_INVALID',
)
invalidPage(
  'page/page-altered',
  'a valid page with one bit of the page bytes flipped (its last byte), signature kept',
  { page: flip(goodSigned.page, base64urlnopad.decode(goodSigned.page).length - 1), signature: goodSigned.signature },
  'ERR_SIG_INVALID',
)
invalidPage(
  'page/another-service',
  'a well-formed page of another service, naming and signed by its own key, against the pinned key',
  signRaw(encodeCbor(pageMap(pageOf({ ...good, serviceKey: keys['other-service'].publicKey }))), keys['other-service']),
  'ERR_SIG_INVALID',
)
invalidPage(
  'page/names-another-key',
  'signed by the pinned key, but field 1 names another key',
  edited(good, (m) => m.set(1, keys['other-service'].publicKey)),
  'ERR_FORMAT',
)
invalidPage(
  'page/wrong-domain',
  'signed by the pinned key over PAE("mandate/v1/revocation", page)',
  signRaw(encodeCbor(pageMap(pageOf(good))), keys.service, 'revocation'),
  'ERR_SIG_INVALID',
)
invalidPage(
  'page/version-2',
  'field 0 is 2',
  edited(good, (m) => m.set(0, 2)),
  'ERR_FORMAT',
)
invalidPage(
  'page/feed-id-missing',
  'no feed id (field 8)',
  edited(good, (m) => m.delete(8)),
  'ERR_FORMAT',
)
invalidPage(
  'page/feed-id-15-bytes',
  'a 15-byte feed id',
  edited(good, (m) => m.set(8, hexBytes(FEED_A).subarray(0, 15))),
  'ERR_FORMAT',
)
invalidPage(
  'page/since-entry-at-0',
  'a since entry with since = 0 (no row holds seq 0)',
  edited({ since: 0, head: 5, entries: FEED, headEntry: sid(5) }, (m) => m.set(9, hexBytes(sid(1)))),
  'ERR_FORMAT',
)
invalidPage(
  'page/since-entry-above-head',
  'a since entry with since 7 > head 3',
  edited({ since: 7, head: 3 }, (m) => m.set(9, hexBytes(sid(3)))),
  'ERR_FORMAT',
)
invalidPage(
  'page/head-entry-at-0',
  'a head entry with head = 0',
  edited({ since: 0, head: 0 }, (m) => m.set(10, hexBytes(sid(1)))),
  'ERR_FORMAT',
)
invalidPage(
  'page/digests-differ-at-head',
  'since = head = 5 with different since and head entries',
  edited({ since: 5, head: 5 }, (m) => {
    m.set(9, hexBytes(sid(4)))
    m.set(10, hexBytes(sid(5)))
  }),
  'ERR_FORMAT',
)
invalidPage(
  'page/since-entry-31-bytes',
  'a 31-byte since entry',
  edited(good, (m) => m.set(9, hexBytes(sid(2)).subarray(0, 31))),
  'ERR_FORMAT',
)
invalidPage(
  'page/next-update-not-after-issued',
  'next_update = issued_at',
  edited(good, (m) => m.set(5, ISSUED)),
  'ERR_FORMAT',
)
invalidPage(
  'page/head-negative',
  'head is −1',
  edited({ since: 0, head: 0 }, (m) => m.set(3, -1)),
  'ERR_FORMAT',
)
invalidPage(
  'page/entries-missing',
  'no entries list (field 6)',
  edited(good, (m) => m.delete(6)),
  'ERR_FORMAT',
)
invalidPage(
  'page/more-not-bool',
  'more (field 7) is 0',
  edited(good, (m) => m.set(7, 0)),
  'ERR_FORMAT',
)
invalidPage(
  'page/entry-seq-at-since',
  'an entry whose seq equals since (2)',
  edited(
    good,
    editEntry(0, (e) => e.set(0, 2)),
  ),
  'ERR_FORMAT',
)
invalidPage(
  'page/entry-seq-above-head',
  'an entry whose seq (6) is above head (5)',
  edited(
    good,
    editEntry(2, (e) => e.set(0, 6)),
  ),
  'ERR_FORMAT',
)
invalidPage(
  'page/entries-out-of-order',
  'entries 4 then 3',
  edited({ since: 2, head: 5, entries: [FEED[3], FEED[2]] as FeedEntry[] }, () => {}),
  'ERR_FORMAT',
)
invalidPage(
  'page/entry-kind-3',
  'an entry of kind 3 (amend) with neither id nor caveats: a resume entry relabelled',
  edited(
    good,
    editEntry(0, (e) => e.set(2, 3)),
  ),
  'ERR_FORMAT',
)
invalidPage(
  'page/entry-kind-5',
  'an entry of kind 5 (kinds are 0 to 4)',
  edited(
    good,
    editEntry(0, (e) => e.set(2, 5)),
  ),
  'ERR_FORMAT',
)
invalidPage(
  'page/entry-action-uppercase',
  'an entry whose action pattern has an upper-case letter',
  edited(
    good,
    editEntry(1, (e) => e.set(3, ['Files:*'])),
  ),
  'ERR_FORMAT',
)
invalidPage(
  'page/entry-block-31-bytes',
  'an entry whose block id is 31 bytes',
  edited(
    good,
    editEntry(0, (e) => e.set(1, hexBytes(block1).subarray(0, 31))),
  ),
  'ERR_FORMAT',
)
invalidPage(
  'page/entry-reason-not-text',
  'an entry whose reason is an integer',
  edited(
    good,
    editEntry(0, (e) => e.set(6, 7)),
  ),
  'ERR_FORMAT',
)
{
  // since = 0 encoded in two bytes (0x18 0x00): not the preferred (shortest) encoding.
  const bytes = encodeCbor(pageMap(pageOf({ since: 0, head: 0 })))
  if (bytes[38] !== 0x02 || bytes[39] !== 0x00) throw new Error('unexpected page layout')
  const loose = new Uint8Array([...bytes.subarray(0, 39), 0x18, 0x00, ...bytes.subarray(40)])
  invalidPage(
    'page/cbor-not-shortest',
    'since = 0 written as 0x18 0x00 (not the shortest form), correctly signed',
    signRaw(loose),
    'ERR_CBOR_NONCANONICAL',
  )
}
invalidPage(
  'page/signature-padded',
  'a valid page whose signature text carries base64 padding (==)',
  { page: goodSigned.page, signature: `${goodSigned.signature}==` },
  undefined,
)

// Amend and lift entries (spec/service-v1.md §4.1): an amend entry carries its id (8) and its
// caveats (9: a byte string holding the CBOR of 1 to 32 caveats, each well-formed and of a core
// type or an extension) and no actions or lifts; a lift entry its lifts (10) and nothing else of
// 3, 8, 9; other kinds none of 8–10.
const amendedPage: PageInput = { since: 5, head: 9, entries: AMENDED, sinceEntry: sid(5), headEntry: sid(9) }
const caveatBytes = (list: CborValue[]) => encodeCbor(list)
const amendEntryCases: [string, string, number, (e: Map<number, CborValue>) => void, string][] = [
  ['amend-entry-without-id', 'an amend entry without its id (key 8)', 0, (e) => e.delete(8), 'ERR_FORMAT'],
  ['amend-entry-id-31-bytes', 'an amend entry whose id is 31 bytes', 0, (e) => e.set(8, hexBytes(sAmend.id).subarray(0, 31)), 'ERR_FORMAT'],
  ['amend-entry-without-caveats', 'an amend entry without caveats (key 9)', 0, (e) => e.delete(9), 'ERR_FORMAT'],
  [
    'amend-entry-caveats-not-bytes',
    'an amend entry whose caveats are the list itself, not a byte string holding it',
    0,
    (e) => e.set(9, approvalCaveats.map(encodeCaveat)),
    'ERR_FORMAT',
  ],
  ['amend-entry-caveats-empty', 'an amend entry whose caveats hold an empty list', 0, (e) => e.set(9, caveatBytes([])), 'ERR_FORMAT'],
  [
    'amend-entry-caveats-not-list',
    'an amend entry whose caveats hold one caveat, not a list of them',
    0,
    (e) => e.set(9, encodeCbor('email:read')),
    'ERR_FORMAT',
  ],
  [
    'amend-entry-33-caveats',
    'an amend entry whose caveats hold 33 caveats',
    0,
    (e) => e.set(9, caveatBytes(Array.from({ length: 33 }, () => validCaveat))),
    'ERR_FORMAT',
  ],
  [
    'amend-entry-caveat-invalid',
    'an amend entry whose caveats hold a malformed caveat (uses, max 0)',
    0,
    (e) => e.set(9, caveatBytes([[5, new Map([[0, 0]])]])),
    'ERR_FORMAT',
  ],
  [
    'amend-entry-caveat-unknown',
    'an amend entry whose caveats hold a caveat of the reserved type 11',
    0,
    (e) => e.set(9, caveatBytes([[11, 'x']])),
    'ERR_FORMAT',
  ],
  [
    'amend-entry-window-inverted',
    'an amend entry whose caveats hold a window that ends before it starts',
    0,
    (e) =>
      e.set(
        9,
        caveatBytes([
          [
            4,
            new Map([
              [0, T0 + 200],
              [1, T0 + 100],
            ]),
          ],
        ]),
      ),
    'ERR_FORMAT',
  ],
  ['amend-entry-with-actions', 'an amend entry with actions (key 3)', 0, (e) => e.set(3, ['email:send']), 'ERR_FORMAT'],
  [
    'amend-entry-with-lifts',
    'an amend entry that also names an amendment to lift (key 10)',
    1,
    (e) => e.set(10, hexBytes(sAmend.id)),
    'ERR_FORMAT',
  ],
  ['lift-entry-without-lifts', 'a lift entry without key 10', 3, (e) => e.delete(10), 'ERR_FORMAT'],
  ['lift-entry-lifts-31-bytes', 'a lift entry naming a 31-byte id', 3, (e) => e.set(10, hexBytes(sAmend.id).subarray(0, 31)), 'ERR_FORMAT'],
  ['lift-entry-with-id', 'a lift entry with an id (key 8)', 3, (e) => e.set(8, hexBytes(sLift.id)), 'ERR_FORMAT'],
  ['lift-entry-with-caveats', 'a lift entry with caveats (key 9)', 3, (e) => e.set(9, caveatBytes([validCaveat])), 'ERR_FORMAT'],
  ['lift-entry-with-actions', 'a lift entry with actions (key 3)', 3, (e) => e.set(3, ['email:send']), 'ERR_FORMAT'],
]
for (const [name, title, i, edit, cause] of amendEntryCases)
  invalidPage(`page/${name}`, title, edited(amendedPage, editEntry(i, edit)), cause)
{
  // The caveats' bytes are CBOR under the strict profile: a byte left over is not a list.
  const bytes = encodeCbor(approvalCaveats.map(encodeCaveat))
  invalidPage(
    'page/amend-entry-caveats-trailing-byte',
    'an amend entry whose caveats hold a list followed by one more byte',
    edited(
      amendedPage,
      editEntry(0, (e) => e.set(9, Uint8Array.from([...bytes, 0]))),
    ),
    'ERR_CBOR_MALFORMED',
  )
}
invalidPage(
  'page/revoke-entry-with-id',
  'a revoke entry with an id (key 8)',
  edited(
    good,
    editEntry(2, (e) => e.set(8, hexBytes(sRevoke.id))),
  ),
  'ERR_FORMAT',
)
invalidPage(
  'page/suspend-entry-with-caveats',
  'a suspend entry with caveats (key 9)',
  edited(
    good,
    editEntry(1, (e) => e.set(9, caveatBytes([validCaveat]))),
  ),
  'ERR_FORMAT',
)
invalidPage(
  'page/resume-entry-with-lifts',
  'a resume entry naming an amendment (key 10)',
  edited(
    good,
    editEntry(0, (e) => e.set(10, hexBytes(sAmend.id))),
  ),
  'ERR_FORMAT',
)

// ---- 1b. a feed view receiving a page ---------------------------------------------------------

const views: SequenceVector[] = []
const NOW = ISSUED + 1
function viewVector(
  id: string,
  title: string,
  view: ViewState,
  p: PageInput | { page: string; signature: string },
  expected: SequenceOutcome,
  o: { now?: number; blocks?: string[] } = {},
): void {
  unique(id)
  const signed = 'page' in p ? p : signFeedPage(pageOf(p), keys.service.secretKey)
  const v: SequenceVector = {
    id,
    title,
    service_key: did('service'),
    now: o.now ?? NOW,
    view,
    ...signed,
    ...(o.blocks ? { blocks: o.blocks } : {}),
    expected,
  }
  views.push(v)
}
const applied = (
  mark: number,
  issuedAt: number,
  feedId: string,
  markEntry?: string,
  blocks?: Record<string, BlockEntry[]>,
): SequenceOutcome => ({
  outcome: 'applied',
  view: { mark, issued_at: issuedAt, feed_id: feedId, ...(markEntry === undefined ? {} : { mark_entry: markEntry }) },
  ...(blocks ? { blocks } : {}),
})
const refused = (code: 'ERR_REVOCATION_LIST_INVALID' | 'ERR_REVOCATION_FEED_RESET' | 'ERR_REVOCATION_ROLLBACK'): SequenceOutcome => ({
  outcome: code,
  sticky: code !== 'ERR_REVOCATION_LIST_INVALID',
})
const HELD = ISSUED - 10
const at2: ViewState = { mark: 2, issued_at: HELD, feed_id: FEED_A, mark_entry: sid(2) }

viewVector(
  'view/first-sync',
  'a new view (mark 0, no feed id) applies a complete page: it pins the feed id, sets its mark to the head and remembers the head entry; resume lifts the earlier suspension, scoped entries stay scoped',
  { mark: 0, issued_at: 0 },
  { since: 0, head: 5, entries: FEED, headEntry: sid(5) },
  applied(5, ISSUED, FEED_A, sid(5), {
    [block1]: [
      { kind: 'revoke', actions: ['email:send'], at: AT(sScoped), by: did('assistant') },
      {
        kind: 'suspend',
        actions: ['files:*', 'email:send:bulk'],
        at: AT(sSuspendScoped),
        by: did('assistant'),
        reason: 'revue de sécurité ☕',
      },
      { kind: 'revoke', at: AT(sRevoke), by: did('alice') },
    ],
    [block0]: [],
  }),
  { blocks: [block1, block0] },
)
viewVector(
  'view/suspend-then-resume',
  'a suspension and the resume that lifts it, in one page: nothing is left against the block',
  { mark: 0, issued_at: 0 },
  { since: 0, head: 3, entries: FEED.slice(0, 3).map((e, i) => (i === 0 ? { ...e, blockId: block0 } : e)), headEntry: sid(3) },
  applied(3, ISSUED, FEED_A, sid(3), {
    [block0]: [{ kind: 'revoke', actions: ['email:send'], at: AT(sScoped), by: did('assistant') }],
    [block1]: [],
  }),
  { blocks: [block0, block1] },
)
viewVector(
  'view/delta',
  'a view at mark 2 (mark entry known) applies a delta from 2 whose since entry matches',
  at2,
  good,
  applied(5, ISSUED, FEED_A, sid(5)),
)
viewVector(
  'view/more',
  'a page with more = true: the mark moves to its last entry, the issue time and the mark entry are not taken from it (the walk is incomplete)',
  { mark: 0, issued_at: 0 },
  { since: 0, head: 5, entries: FEED.slice(0, 2), more: true, headEntry: sid(5) },
  applied(2, 0, FEED_A),
)
viewVector(
  'view/more-empty',
  'a page with more = true and no entries leaves the mark where it is, and keeps the mark entry',
  at2,
  { since: 2, head: 5, more: true, sinceEntry: sid(2), headEntry: sid(5) },
  applied(2, HELD, FEED_A, sid(2)),
)
viewVector(
  'view/head-beyond-entries',
  'entries compacted away above the last one: the mark moves to the head (no head entry given: unknown)',
  at2,
  { since: 2, head: 5, entries: FEED.slice(2, 3), sinceEntry: sid(2) },
  applied(5, ISSUED, FEED_A),
)
viewVector(
  'view/nothing-new-keeps-mark-entry',
  'nothing new and the row at the mark compacted (no digests): the mark entry held is kept',
  at2,
  { since: 2, head: 2 },
  applied(2, ISSUED, FEED_A, sid(2)),
)
viewVector(
  'view/since-entry-compacted',
  'the row at the mark was compacted (no since entry): nothing to compare, applied',
  at2,
  { since: 2, head: 5, entries: FEED.slice(2), headEntry: sid(5) },
  applied(5, ISSUED, FEED_A, sid(5)),
)
viewVector(
  'view/no-mark-entry',
  'a view that holds no mark entry accepts any since entry',
  { mark: 2, issued_at: HELD, feed_id: FEED_A },
  { since: 2, head: 5, entries: FEED.slice(2), sinceEntry: sid(4), headEntry: sid(5) },
  applied(5, ISSUED, FEED_A, sid(5)),
)
viewVector(
  'view/legacy-no-feed-id',
  'state saved before feed ids existed (no feed id): the page pins one',
  { mark: 2, issued_at: HELD },
  good,
  applied(5, ISSUED, FEED_A, sid(5)),
)
viewVector('view/freeze-edge', 'now = next_update − 1: still applied', at2, good, applied(5, ISSUED, FEED_A, sid(5)), { now: ISSUED + 59 })
viewVector('view/frozen', 'now = next_update: a frozen page', at2, good, refused('ERR_REVOCATION_LIST_INVALID'), { now: ISSUED + 60 })
viewVector(
  'view/issued-same-time',
  'a page issued at the same time as the one held is not older: applied',
  { ...at2, issued_at: ISSUED },
  good,
  applied(5, ISSUED, FEED_A, sid(5)),
)
viewVector(
  'view/replayed-older',
  'a page issued before the one held (a replay)',
  { ...at2, issued_at: ISSUED + 1 },
  good,
  refused('ERR_REVOCATION_LIST_INVALID'),
  { now: ISSUED + 2 },
)
viewVector(
  'view/since-not-mark',
  'a page from 3 while the mark is 2',
  at2,
  { since: 3, head: 5, entries: FEED.slice(3), sinceEntry: sid(3), headEntry: sid(5) },
  refused('ERR_REVOCATION_LIST_INVALID'),
)
viewVector(
  'view/bad-signature',
  'a page whose signature fails (checked before anything else)',
  at2,
  { page: goodSigned.page, signature: flip(goodSigned.signature, 32) },
  refused('ERR_REVOCATION_LIST_INVALID'),
)
viewVector(
  'view/feed-reset',
  'a page under another feed id than the pinned one',
  at2,
  { ...good, feedId: FEED_B },
  refused('ERR_REVOCATION_FEED_RESET'),
)
viewVector(
  'view/feed-reset-first',
  'another feed id and a since that is not the mark: the feed id decides',
  at2,
  { since: 0, head: 1, entries: FEED.slice(0, 1), feedId: FEED_B, headEntry: sid(1) },
  refused('ERR_REVOCATION_FEED_RESET'),
)
viewVector(
  'view/rollback-head',
  'a page from the mark (5), issued after the one held, whose head (3) is below the mark',
  { mark: 5, issued_at: HELD, feed_id: FEED_A, mark_entry: sid(5) },
  { since: 5, head: 3, headEntry: sid(3) },
  refused('ERR_REVOCATION_ROLLBACK'),
)
viewVector(
  'view/rollback-head-frozen',
  'the same page past its next_update: still a rollback (checked before freshness)',
  { mark: 5, issued_at: HELD, feed_id: FEED_A, mark_entry: sid(5) },
  { since: 5, head: 3, headEntry: sid(3) },
  refused('ERR_REVOCATION_ROLLBACK'),
  { now: ISSUED + 60 },
)
viewVector(
  'view/rollback-head-replayed',
  'a page from the mark with its head below the mark, but issued before the one held: a replay, not a rollback',
  { mark: 5, issued_at: ISSUED + 1, feed_id: FEED_A, mark_entry: sid(5) },
  { since: 5, head: 3, headEntry: sid(3) },
  refused('ERR_REVOCATION_LIST_INVALID'),
  { now: ISSUED + 2 },
)
viewVector(
  'view/rollback-rewritten',
  'a page from the mark whose since entry is not the mark entry held: the history was rewritten',
  at2,
  { ...good, sinceEntry: sid(4) },
  refused('ERR_REVOCATION_ROLLBACK'),
)
viewVector(
  'view/rewritten-replayed',
  'the same rewritten since entry on a page issued before the one held: a replay (not sticky)',
  { ...at2, issued_at: ISSUED + 1 },
  { ...good, sinceEntry: sid(4) },
  refused('ERR_REVOCATION_LIST_INVALID'),
  { now: ISSUED + 2 },
)
viewVector(
  'view/already-failed',
  'a view that already detected a rollback refuses even a good page, with the same code',
  { ...at2, failed: 'ERR_REVOCATION_ROLLBACK' },
  good,
  refused('ERR_REVOCATION_ROLLBACK'),
)
viewVector(
  'view/already-failed-bad-page',
  'a view that already detected a rollback, receiving a badly signed page: the failure decides',
  { ...at2, failed: 'ERR_REVOCATION_ROLLBACK' },
  { page: goodSigned.page, signature: flip(goodSigned.signature, 32) },
  refused('ERR_REVOCATION_ROLLBACK'),
)
viewVector(
  'view/already-reset',
  'a view that already saw a reset refuses even a good page, with the same code',
  { ...at2, failed: 'ERR_REVOCATION_FEED_RESET' },
  good,
  refused('ERR_REVOCATION_FEED_RESET'),
)

// Amendments in a view (spec/service-v1.md §4.3): an amend entry is in force, listed with its id
// and caveats, until a lift of that id on the same block; a lift is not listed itself.
const at5: ViewState = { mark: 5, issued_at: HELD, feed_id: FEED_A, mark_entry: sid(5) }
const amendedEntry = (m: Made, reason?: string): BlockEntry => ({
  kind: 'amend',
  at: AT(m),
  by: did(m.signer),
  ...(reason === undefined ? {} : { reason }),
  id: m.id,
  caveats: caveatsHex(m.caveats ?? []),
})
viewVector(
  'view/amend',
  'a page with an amendment of block 0: the view answers it for block 0, with its id and caveats',
  at5,
  { since: 5, head: 6, entries: AMENDED.slice(0, 1), sinceEntry: sid(5), headEntry: sid(6) },
  applied(6, ISSUED, FEED_A, sid(6), { [block0]: [amendedEntry(sAmend, 'ask me before sending')], [block1]: [] }),
  { blocks: [block0, block1] },
)
viewVector(
  'view/amend-then-lift',
  'the same amendment, two amendments of block 1, then the lift of the first: block 0 has nothing left, block 1 both of its own in feed order',
  at5,
  { since: 5, head: 9, entries: AMENDED, sinceEntry: sid(5), headEntry: sid(9) },
  applied(9, ISSUED, FEED_A, sid(9), { [block0]: [], [block1]: [amendedEntry(sAmendExt), amendedEntry(sAmendSelf)] }),
  { blocks: [block0, block1] },
)
viewVector(
  'view/lift-on-another-block',
  "a lift on block 1 naming block 0's amendment ends nothing: a lift ends the amendment it names on its own block",
  at5,
  {
    since: 5,
    head: 7,
    entries: [AMENDED[0] as FeedEntry, { ...(AMENDED[3] as FeedEntry), seq: 7, blockId: block1 }],
    sinceEntry: sid(5),
    headEntry: sLift.id,
  },
  applied(7, ISSUED, FEED_A, sLift.id, { [block0]: [amendedEntry(sAmend, 'ask me before sending')], [block1]: [] }),
  { blocks: [block0, block1] },
)
viewVector(
  'view/amend-with-revocations',
  'a new view applies the first feed (seq 1–5) followed by the two amendments of block 1 (seq 6, 7): its revocations, suspensions not resumed and amendments, in feed order',
  { mark: 0, issued_at: 0 },
  {
    since: 0,
    head: 7,
    entries: [...FEED, ...AMENDED.slice(1, 3).map((e) => ({ ...e, seq: e.seq - 1 }))],
    headEntry: sAmendSelf.id,
  },
  applied(7, ISSUED, FEED_A, sAmendSelf.id, {
    [block1]: [
      { kind: 'revoke', actions: ['email:send'], at: AT(sScoped), by: did('assistant') },
      {
        kind: 'suspend',
        actions: ['files:*', 'email:send:bulk'],
        at: AT(sSuspendScoped),
        by: did('assistant'),
        reason: 'revue de sécurité ☕',
      },
      { kind: 'revoke', at: AT(sRevoke), by: did('alice') },
      amendedEntry(sAmendExt),
      amendedEntry(sAmendSelf),
    ],
  }),
  { blocks: [block1] },
)
viewVector(
  'view/amend-entry-malformed',
  'a page whose amend entry has no id: refused, and the next good page is applied (not sticky)',
  at5,
  edited(
    { since: 5, head: 6, entries: AMENDED.slice(0, 1), sinceEntry: sid(5), headEntry: sid(6) },
    editEntry(0, (e) => e.delete(8)),
  ),
  refused('ERR_REVOCATION_LIST_INVALID'),
)

// ---- 3. signed requests -----------------------------------------------------------------------

const requests: RequestVector[] = []
const CREATED = 1_767_225_600
const RNOW = CREATED + 10
const VERIFIER_DID = toDidKey(verifier.publicKey)
const CLAIM_URL = 'https://mandate.example/v1/replay/claim'
const CLAIM_BODY = utf8('{"invocation":"mni1_example"}')
const BASE_COMPONENTS = ['@method', '@authority', '@path', '@query']
const DIGEST_COMPONENTS = [...BASE_COMPONENTS, 'content-digest']

interface SignSpec {
  method: string
  url: string
  body?: Uint8Array
  key?: KeyPair
  created?: number
  nonce?: string
  components?: string[]
  /** Replace the parameters entirely. */
  params?: [string, BareItem][]
  /** The Content-Digest field sent and signed (default: the profile's; null: none). */
  digest?: string | null
  label?: string
  keyid?: string
}

/** Sign a request field by field, as the profile does, allowing what the profile refuses. */
function signWith(s: SignSpec): { headers: Record<string, string>; base: string } {
  const body = s.body ?? new Uint8Array(0)
  const covered = s.components ?? (body.length > 0 || !['GET', 'HEAD', 'DELETE'].includes(s.method) ? DIGEST_COMPONENTS : BASE_COMPONENTS)
  const key = s.key ?? verifier
  const headers: Record<string, string> = {}
  const digest = s.digest === undefined ? (covered.includes('content-digest') ? contentDigest(body) : null) : s.digest
  if (digest !== null) headers['content-digest'] = digest
  const values: Record<string, string> = { ...deriveComponents(s.method, s.url), ...(digest === null ? {} : { 'content-digest': digest }) }
  const params: InnerList = [
    covered.map((name): Item => [name, new Map()]),
    new Map<string, BareItem>(
      s.params ?? [
        ['created', s.created ?? CREATED],
        ['keyid', s.keyid ?? toDidKey(key.publicKey)],
        ['alg', 'ed25519'],
        ['nonce', s.nonce ?? 'bm9uY2UtdmVjdG9yLTAx'],
      ],
    ),
  ]
  const base = signatureBase(params, (name) => values[name] ?? '')
  const signature = getBackend().sign(key.secretKey, utf8(base))
  const label = s.label ?? SIGNATURE_LABEL
  headers['signature-input'] = serializeDictionary(new Map([[label, params]]))
  headers['signature'] = serializeDictionary(new Map([[label, [signature, new Map()]]]))
  return { headers, base }
}

function requestVector(
  id: string,
  title: string,
  r: { method: string; url: string; headers: Record<string, string>; body?: Uint8Array },
  base: string | undefined,
  expected: RequestOutcome,
  now = RNOW,
): void {
  unique(id)
  const v: RequestVector = {
    id,
    title,
    request: { method: r.method, url: r.url, headers: r.headers, body: base64.encode(r.body ?? new Uint8Array(0)) },
    now,
    ...(base === undefined ? {} : { signature_base: base }),
    expected,
  }
  const observed = runRequest(v)
  check(id, v.expected, observed)
  if (expected.valid && base !== undefined && verifierBase(v) !== base) problems.push(`${id}: the verifier builds another signature base`)
  requests.push(v)
}
const ok = (created = CREATED, nonce = 'bm9uY2UtdmVjdG9yLTAx'): RequestOutcome => ({ valid: true, keyid: VERIFIER_DID, created, nonce })
const bad = (code: 'ERR_AUTH_INVALID' | 'ERR_AUTH_REQUIRED' | 'ERR_REQUEST_STALE'): RequestOutcome => ({ valid: false, code })

/** A valid request signed by signWith, checked to equal what signRequest produces. */
function signedValid(id: string, title: string, s: SignSpec, now = RNOW): void {
  const { headers, base } = signWith(s)
  const lib = signRequest({ method: s.method, url: s.url, ...(s.body ? { body: s.body } : {}) }, s.key ?? verifier, {
    created: s.created ?? CREATED,
    nonce: s.nonce ?? 'bm9uY2UtdmVjdG9yLTAx',
  })
  if (JSON.stringify(lib) !== JSON.stringify(headers)) problems.push(`${id}: signRequest signs differently`)
  requestVector(
    id,
    title,
    { method: s.method, url: s.url, headers, ...(s.body ? { body: s.body } : {}) },
    base,
    ok(s.created, s.nonce),
    now,
  )
}

{
  // The two examples of spec/service-v1.md §3.2, byte for byte.
  const post = signWith({ method: 'POST', url: CLAIM_URL, body: CLAIM_BODY, nonce: 'bm9uY2UtZXhhbXBsZS0x' })
  if (post.headers['signature'] !== 'mandate=:KuNIdCiVGJyhnAPumXaZJ3wdLlGUmCuB5JKyzHc5ybKCWno57R4h3TpJ3PKmW+RIIysLHqd0cHbNMrefNhn/Cw==:')
    problems.push('request/spec-example-post: not the signature of spec §3.2')
  const get = signWith({
    method: 'GET',
    url: `https://mandate.example/v1/approvals?approver=${VERIFIER_DID}&limit=20`,
    nonce: 'bm9uY2UtZXhhbXBsZS0y',
  })
  if (get.headers['signature'] !== 'mandate=:tq3g88HE7NGKN/lWLbbBfCz8JeuqjuJx3k1wCUsFKPdKpzaBYqHO5TNV0JU5nyDtap+sEC3PpWPLPAKCbpDaCQ==:')
    problems.push('request/spec-example-get: not the signature of spec §3.2')
}
signedValid('request/spec-example-post', 'the POST example of spec §3.2 (a replay claim with a 29-byte body)', {
  method: 'POST',
  url: CLAIM_URL,
  body: CLAIM_BODY,
  nonce: 'bm9uY2UtZXhhbXBsZS0x',
})
signedValid('request/spec-example-get', 'the GET example of spec §3.2 (an inbox listing with a query, no body)', {
  method: 'GET',
  url: `https://mandate.example/v1/approvals?approver=${VERIFIER_DID}&limit=20`,
  nonce: 'bm9uY2UtZXhhbXBsZS0y',
})
signedValid('request/delete-no-body', 'DELETE without a body: no content-digest', { method: 'DELETE', url: 'https://mandate.example/v1/x' })
signedValid('request/put-empty-body', 'PUT with an empty body: content-digest covered, the digest of zero bytes', {
  method: 'PUT',
  url: 'https://mandate.example/v1/x',
})
signedValid('request/get-with-body', 'GET with a body: content-digest covered', {
  method: 'GET',
  url: 'https://mandate.example/v1/x',
  body: utf8('{}'),
})
signedValid('request/authority-normalized', 'upper-case host and the default port: @authority is mandate.example; empty query is "?"', {
  method: 'POST',
  url: 'https://Mandate.EXAMPLE:443/v1/usage/consume?',
  body: utf8('{"requestId":"r1"}'),
})
signedValid('request/authority-port', 'a non-default port is part of @authority; an empty path is "/"', {
  method: 'GET',
  url: 'http://127.0.0.1:8787',
})
signedValid('request/nonce-64', 'a 64-character nonce', { method: 'GET', url: 'https://mandate.example/v1/x', nonce: 'A'.repeat(64) })
{
  const s: SignSpec = { method: 'POST', url: CLAIM_URL, body: CLAIM_BODY }
  const { headers, base } = signWith(s)
  const other = signWith({ ...s, key: keys.mallory, label: 'sig1' })
  requestVector(
    'request/other-label-ignored',
    'a second signature labelled sig1 (by another key) beside the mandate one: ignored',
    {
      method: 'POST',
      url: CLAIM_URL,
      body: CLAIM_BODY,
      headers: {
        ...headers,
        'signature-input': `${other.headers['signature-input']}, ${headers['signature-input']}`,
        signature: `${other.headers['signature']}, ${headers['signature']}`,
      },
    },
    base,
    ok(),
  )
  const multi = `sha-512=:${base64.encode(new Uint8Array(64))}:, ${contentDigest(CLAIM_BODY)}`
  const m = signWith({ ...s, digest: multi })
  requestVector(
    'request/digest-other-members',
    'Content-Digest with a sha-512 member before sha-256: the other member is ignored, the whole field value is the component',
    { method: 'POST', url: CLAIM_URL, body: CLAIM_BODY, headers: m.headers },
    m.base,
    ok(),
  )
  const e = signWith({
    ...s,
    params: [
      ['created', CREATED],
      ['keyid', VERIFIER_DID],
      ['alg', 'ed25519'],
      ['nonce', 'bm9uY2UtdmVjdG9yLTAx'],
      ['expires', CREATED + 300],
    ],
  })
  requestVector(
    'request/expires-valid',
    'an expires parameter after the five required ones, not yet passed',
    { method: 'POST', url: CLAIM_URL, body: CLAIM_BODY, headers: e.headers },
    e.base,
    ok(),
  )
  requestVector(
    'request/expires-passed',
    'expires = now − 60: stale',
    { method: 'POST', url: CLAIM_URL, body: CLAIM_BODY, headers: e.headers },
    e.base,
    bad('ERR_REQUEST_STALE'),
    CREATED + 360,
  )
  requestVector(
    'request/expires-edge',
    'expires = now − 59: valid',
    { method: 'POST', url: CLAIM_URL, body: CLAIM_BODY, headers: e.headers },
    e.base,
    ok(),
    CREATED + 359,
  )
  // The time window [now − 360, now + 60].
  requestVector('request/created-oldest', 'created = now − 360: valid', { ...s, headers }, base, ok(), CREATED + 360)
  requestVector('request/created-too-old', 'created = now − 361: stale', { ...s, headers }, base, bad('ERR_REQUEST_STALE'), CREATED + 361)
  requestVector('request/created-ahead-edge', 'created = now + 60: valid', { ...s, headers }, base, ok(), CREATED - 60)
  requestVector(
    'request/created-too-far-ahead',
    'created = now + 61: stale',
    { ...s, headers },
    base,
    bad('ERR_REQUEST_STALE'),
    CREATED - 61,
  )

  // The body, its digest, and the covered values.
  requestVector(
    'request/digest-mismatch',
    'the body changed after signing (digest and signature kept)',
    { ...s, body: utf8('{"invocation":"mni1_exampl3"}'), headers },
    base,
    bad('ERR_AUTH_INVALID'),
  )
  const { 'content-digest': _, ...noDigest } = headers
  requestVector('request/digest-missing', 'the Content-Digest field removed', { ...s, headers: noDigest }, base, bad('ERR_AUTH_INVALID'))
  requestVector(
    'request/method-changed',
    'signed as POST, received as PUT',
    { ...s, method: 'PUT', headers },
    base,
    bad('ERR_AUTH_INVALID'),
  )
  requestVector(
    'request/path-changed',
    'signed for /v1/replay/claim, received at /v1/replay/release',
    { ...s, url: 'https://mandate.example/v1/replay/release', headers },
    base,
    bad('ERR_AUTH_INVALID'),
  )
  requestVector(
    'request/query-added',
    'a query added after signing',
    { ...s, url: `${CLAIM_URL}?x=1`, headers },
    base,
    bad('ERR_AUTH_INVALID'),
  )
  requestVector(
    'request/authority-changed',
    'signed for mandate.example, received at another host',
    { ...s, url: 'https://other.example/v1/replay/claim', headers },
    base,
    bad('ERR_AUTH_INVALID'),
  )

  // Missing or partial signatures.
  requestVector(
    'request/unsigned',
    'no Signature-Input and no Signature',
    { ...s, headers: { 'content-digest': contentDigest(CLAIM_BODY) } },
    undefined,
    bad('ERR_AUTH_REQUIRED'),
  )
  requestVector(
    'request/only-other-label',
    'only a signature labelled sig1 (a valid one): no mandate signature',
    { ...s, headers: signWith({ ...s, label: 'sig1' }).headers },
    undefined,
    bad('ERR_AUTH_REQUIRED'),
  )
  const { signature: _sig, ...inputOnly } = headers
  requestVector(
    'request/signature-missing',
    'Signature-Input without Signature',
    { ...s, headers: inputOnly },
    base,
    bad('ERR_AUTH_INVALID'),
  )
  requestVector(
    'request/signature-with-parameter',
    'the Signature member carries a parameter',
    { ...s, headers: { ...headers, signature: `${headers['signature']};x=1` } },
    base,
    bad('ERR_AUTH_INVALID'),
  )
  requestVector(
    'request/signature-63-bytes',
    'a 63-byte Signature member',
    { ...s, headers: { ...headers, signature: serializeDictionary(new Map([['mandate', [new Uint8Array(63), new Map()]]])) } },
    base,
    bad('ERR_AUTH_INVALID'),
  )
  requestVector(
    'request/input-not-inner-list',
    'the Signature-Input member is an item, not an inner list',
    { ...s, headers: { ...headers, 'signature-input': 'mandate="@method"' } },
    undefined,
    bad('ERR_AUTH_INVALID'),
  )
  requestVector(
    'request/input-not-dictionary',
    'Signature-Input is no structured dictionary',
    { ...s, headers: { ...headers, 'signature-input': 'mandate=(' } },
    undefined,
    bad('ERR_AUTH_INVALID'),
  )
}
{
  // Component lists and parameters, each correctly signed, each refused by the profile.
  const post = { method: 'POST', url: CLAIM_URL, body: CLAIM_BODY }
  const refusedSigned = (id: string, title: string, s: SignSpec, code: RequestOutcome = bad('ERR_AUTH_INVALID'), now = RNOW) => {
    const { headers, base } = signWith(s)
    requestVector(id, title, { method: s.method, url: s.url, headers, ...(s.body ? { body: s.body } : {}) }, base, code, now)
  }
  const params = (edit: (p: [string, BareItem][]) => [string, BareItem][]): [string, BareItem][] =>
    edit([
      ['created', CREATED],
      ['keyid', VERIFIER_DID],
      ['alg', 'ed25519'],
      ['nonce', 'bm9uY2UtdmVjdG9yLTAx'],
    ])
  refusedSigned('request/components-without-digest', 'a POST covering only the four derived components', {
    ...post,
    components: BASE_COMPONENTS,
    digest: null,
  })
  refusedSigned('request/components-digest-on-get', 'a GET without a body covering content-digest', {
    method: 'GET',
    url: 'https://mandate.example/v1/x',
    components: DIGEST_COMPONENTS,
    digest: contentDigest(new Uint8Array(0)),
  })
  refusedSigned('request/components-reordered', '"@authority" before "@method"', {
    ...post,
    components: ['@authority', '@method', '@path', '@query', 'content-digest'],
  })
  refusedSigned('request/components-extra', '@target-uri covered as well', {
    ...post,
    components: [...DIGEST_COMPONENTS, '@target-uri'],
  })
  refusedSigned('request/alg-hmac', 'alg="hmac-sha256"', {
    ...post,
    params: params((p) => p.map(([k, v]) => [k, k === 'alg' ? 'hmac-sha256' : v])),
  })
  refusedSigned('request/alg-missing', 'no alg parameter', { ...post, params: params((p) => p.filter(([k]) => k !== 'alg')) })
  refusedSigned('request/param-unknown', 'an extra parameter tag="x"', { ...post, params: params((p) => [...p, ['tag', 'x']]) })
  refusedSigned('request/created-not-integer', 'created as a string', {
    ...post,
    params: params((p) => p.map(([k, v]) => [k, k === 'created' ? String(CREATED) : v])),
  })
  refusedSigned('request/nonce-15', 'a 15-character nonce', { ...post, nonce: 'bm9uY2UtdmVjdG9' })
  refusedSigned('request/nonce-bad-char', 'a nonce with "="', { ...post, nonce: 'bm9uY2UtdmVjdG9yLTAx=' })
  refusedSigned('request/keyid-hex', 'keyid as 64 hex digits, not a did:key', { ...post, keyid: toHex(verifier.publicKey) })
  refusedSigned('request/wrong-key', "signed by mallory's key under the verifier's keyid", {
    ...post,
    key: keys.mallory,
    keyid: VERIFIER_DID,
  })
  // Precedence: the rules run in the order of spec §3.2 (parameters, then time, then signature).
  refusedSigned(
    'request/stale-and-wrong-key',
    'too old and signed by another key: stale (the time window is checked before the signature)',
    { ...post, key: keys.mallory, keyid: VERIFIER_DID },
    bad('ERR_REQUEST_STALE'),
    CREATED + 361,
  )
  refusedSigned(
    'request/bad-alg-and-stale',
    'a wrong alg and too old: invalid (parameters are checked before the time window)',
    { ...post, params: params((p) => p.map(([k, v]) => [k, k === 'alg' ? 'rsa' : v])) },
    bad('ERR_AUTH_INVALID'),
    CREATED + 361,
  )
}

// ---- write or check ---------------------------------------------------------------------------

async function main(): Promise<void> {
  for (const v of views) check(v.id, v.expected, await runSequence(v))
  if (problems.length > 0) throw new Error(`the implementation disagrees with the service vectors:\n${problems.join('\n')}`)
  const keyInfo = (pair: KeyPair, seed: Uint8Array) => ({
    seed: toHex(seed),
    publicKey: toHex(pair.publicKey),
    did: toDidKey(pair.publicKey),
  })
  const text = json({
    format: 'mandate service-v1 vectors',
    version: 1,
    spec: 'spec/service-v1.md §3.2, §4, §5.1; spec/mandate-v1.md §9.1; test-vectors/README.md',
    clock: { T0, requestCreated: CREATED },
    keys: {
      ...Object.fromEntries(ROLES.map((r) => [r, keyInfo(keys[r], seedOf(r))])),
      verifier: keyInfo(verifier, VERIFIER_SEED),
    },
    feed_pages: pages,
    feed_views: views,
    statements,
    requests,
  })
  const checking = writeOrCheck({ 'service.json': text })
  console.log(
    `${checking ? 'checked' : 'wrote'} service vectors: ${pages.length} feed pages, ${views.length} feed views, ${statements.length} statements, ${requests.length} requests`,
  )
}

await main()
