import '../src/crypto/use-node.js'
import { encodeCaveat } from '../src/caveats/codec.js'
import { type CborValue, decodeCbor, encodeCbor } from '../src/cbor/codec.js'
import { getBackend } from '../src/crypto/ed25519.js'
import { sha256 } from '../src/crypto/hash.js'
import { bytesToNumberLE, L } from '../src/crypto/profile.js'
import {
  approve,
  attenuate,
  type Caveat,
  ERROR_CODES,
  formatApproval,
  formatInvocation,
  formatMandate,
  invoke,
  type KeyPair,
  keyPairFromSecret,
  mint,
  parseMandate,
  seal,
  toDidKey,
  type UnverifiedMandate,
} from '../src/index.js'
import { concatBytes, toHex } from '../src/internal/bytes.js'
import { blockSigningInput, signingInput } from '../src/token/signing.js'
import { toText } from '../src/token/text.js'
import { json, keysOf, seededRandom, seedOf, T0, writeOrCheck } from './common.js'
import { matches, type OperationVector, runVector, UNCOVERED, type Vector, type VerifyVector } from './runner.js'

const NOW = T0 + 60
const ROLES = ['alice', 'assistant', 'subagent', 'bob', 'carol', 'mallory'] as const
type Role = (typeof ROLES)[number]

const keys = keysOf(ROLES)
const did = (r: Role) => toDidKey(keys[r].publicKey)
const random = (seed: string) => seededRandom('vector', seed)

const ROOTS = [{ key: did('alice'), name: 'alice' }]
const window8h: Caveat = { type: 'window', expires: T0 + 8 * 3600 }

/** Alice → assistant (bound) with caveats. */
function grant(id: string, caveats: Caveat[]): UnverifiedMandate {
  return mint({
    principal: keys.alice,
    to: did('assistant'),
    name: 'assistant',
    caveats: [...caveats, window8h],
    now: T0,
    random: random(`${id}/root`),
  })
}
/** Alice → assistant (bound) → sub-agent (bearer). */
function subGrant(id: string, rootCaveats: Caveat[], caveats: Caveat[]): UnverifiedMandate {
  return attenuate(grant(id, rootCaveats), { key: keys.assistant, name: 'sub-agent', caveats, now: T0, random: random(`${id}/sub`) })
}
/** Alice → bearer. */
function bearerRoot(id: string, caveats: Caveat[], principal: Role = 'alice'): UnverifiedMandate {
  return mint({ principal: keys[principal], name: 'bearer', caveats: [...caveats, window8h], now: T0, random: random(`${id}/bearer`) })
}
function asAssistant(
  m: UnverifiedMandate,
  id: string,
  action: string,
  extra: { resource?: string; args?: Record<string, never>; audience?: string; now?: number } = {},
) {
  return invoke(m, {
    key: keys.assistant,
    action,
    audience: extra.audience ?? 'svc',
    now: extra.now ?? NOW,
    random: random(`${id}/inv`),
    ...(extra.resource === undefined ? {} : { resource: extra.resource }),
    ...(extra.args === undefined ? {} : { args: extra.args }),
  })
}

/** A block as `[payload, signature]`; on the wire it is one byte string, signature ‖ payload. */
type Pair = [Uint8Array, Uint8Array]
const pairsOf = (m: UnverifiedMandate): Pair[] => m.blocks.map((b) => [b.payload, b.signature])
const wireBlock = (p: Pair): Uint8Array => concatBytes(p[1], p[0])
/** A chain `[principal, block…]`, Alice the principal unless said otherwise. */
const rawChain = (blocks: readonly Pair[], principal: Uint8Array = keys.alice.publicKey): CborValue[] => [
  principal,
  ...blocks.map(wireBlock),
]
/** A mandate `[version, chain, proof?]`; `proof` undefined is a bound mandate. */
function rawMandate(blocks: readonly Pair[], proof: Uint8Array | undefined, version = 1, principal?: Uint8Array): string {
  const top: CborValue[] = [version, rawChain(blocks, principal)]
  if (proof !== undefined) top.push(proof)
  return toText('mandate', encodeCbor(top))
}
/** A mandate whose blocks are given as wire byte strings, for blocks that are not signature ‖ payload. */
function rawMandateWire(blocks: readonly Uint8Array[], proof: Uint8Array | undefined): string {
  const top: CborValue[] = [1, [keys.alice.publicKey, ...blocks]]
  if (proof !== undefined) top.push(proof)
  return toText('mandate', encodeCbor(top))
}
const proofOf = (m: UnverifiedMandate): Uint8Array | undefined =>
  m.proof.kind === 'bearer' ? m.proof.secret : m.proof.kind === 'sealed' ? m.proof.signature : undefined
/** A block payload `[holder, bearer, issued_at, caveats, extra?]`; `extra` entries as given. */
function blockFields(
  holder: Uint8Array,
  caveats: CborValue[],
  o: { bearer?: boolean; issuedAt?: number; extra?: [number, CborValue][] } = {},
): CborValue[] {
  const fields: CborValue[] = [holder, o.bearer ?? true, o.issuedAt ?? T0, caveats]
  if (o.extra !== undefined) fields.push(new Map(o.extra))
  return fields
}
/** Sign a block payload as the block after `parent` (block 0 when undefined). */
function signRaw(payload: CborValue, signer: KeyPair, parent?: Uint8Array): Pair {
  const bytes = encodeCbor(payload)
  return [bytes, getBackend().sign(signer.secretKey, blockSigningInput(parent, bytes))]
}
/** A bearer root payload signed by Alice, for inputs the library refuses to build. */
function rawRoot(caveats: CborValue[], holder: KeyPair, o: { issuedAt?: number; extra?: [number, CborValue][] } = {}): Pair {
  return signRaw(blockFields(holder.publicKey, caveats, o), keys.alice)
}
/** A bearer block for the sub-agent, signed by the assistant below `root`'s block 0. */
function bearerBelowRoot(root: UnverifiedMandate): Pair {
  return signRaw(blockFields(keys.subagent.publicKey, []), keys.assistant, root.blocks[0]?.id)
}
const rawBearer = (pair: Pair, holder: KeyPair) => rawMandate([pair], holder.secretKey)
const windowWire: CborValue = [4, new Map([[1, T0 + 8 * 3600]])]
const le32 = (n: bigint) => Uint8Array.from({ length: 32 }, (_, i) => Number((n >> BigInt(8 * i)) & 0xffn))

const vectors: Vector[] = []
function verify(
  id: string,
  title: string,
  token: string,
  expected: VerifyVector['expected'],
  input: Partial<VerifyVector['input']> = {},
  checklist?: string,
): void {
  vectors.push({
    id,
    title,
    ...(checklist ? { checklist } : {}),
    kind: 'verify',
    input: { token, now: NOW, audience: 'svc', roots: ROOTS, ...input },
    expected,
  })
}
function operation(id: string, title: string, input: OperationVector['input'], code: string, checklist?: string): void {
  vectors.push({ id, title, ...(checklist ? { checklist } : {}), kind: 'operation', input, expected: { code } })
}
const deny = (code: string, extra: { block?: number; caveat?: string } = {}) => ({ decision: 'deny' as const, code, ...extra })
const read = { action: 'slack:read', resource: 'channels/team' }

// ---- allowed presentations -------------------------------------------------------------
const story = grant('story', [
  { type: 'actions', patterns: ['email:read', 'email:draft', 'slack:read', 'calendar:*'] },
  { type: 'deny', patterns: ['email:send'] },
  { type: 'approval', actions: ['email:draft'], approvers: [did('alice')], quorum: 1 },
])
const storySub = attenuate(story, {
  key: keys.assistant,
  name: 'sub-agent',
  purpose: 'summarize #team',
  caveats: [
    { type: 'actions', patterns: ['slack:read'] },
    { type: 'uses', max: 3 },
  ],
  now: T0,
  random: random('story/sub'),
})
verify('allow/invocation-bound', 'the assistant reads email with an invocation', formatInvocation(asAssistant(story, 'a1', 'email:read')), {
  decision: 'allow',
  chain: ['alice', 'assistant'],
})
verify(
  'allow/bearer-subagent',
  'the sub-agent reads slack with its bearer mandate',
  formatMandate(storySub),
  { decision: 'allow', chain: ['alice', 'assistant', 'sub-agent'] },
  { request: read },
)
verify(
  'allow/sealed',
  'a sealed bearer mandate is presented bare',
  formatMandate(seal(storySub)),
  { decision: 'allow', chain: ['alice', 'assistant', 'sub-agent'] },
  { request: read },
)
const draft = asAssistant(story, 'draft', 'email:draft', { args: { to: 'bob@example.com' as never } })
verify(
  'allow/approved-draft',
  'a draft with Alice’s approval',
  formatInvocation(draft),
  { decision: 'allow' },
  {
    approvals: [formatApproval(approve({ approver: keys.alice, invocation: draft, now: NOW }))],
  },
)
verify(
  'allow/calendar-wildcard',
  'calendar:* covers calendar:events:decline',
  formatInvocation(asAssistant(story, 'cal', 'calendar:events:decline')),
  { decision: 'allow' },
)

// ---- signatures ---------------------------------------------------------------------------
{
  const m = storySub
  const [b0, b1] = pairsOf(m) as [Pair, Pair]
  const s = b1[1]
  verify(
    'sig/length',
    'block 1 cut to its 64-byte signature: a block is longer than a signature (no signature of another length can exist)',
    rawMandateWire([wireBlock(b0), s], proofOf(m)),
    deny('ERR_FORMAT', { block: 1 }),
    { request: read },
    'S7',
  )
  const flipped = new Uint8Array(s)
  flipped[40] = (flipped[40] as number) ^ 1
  verify(
    'sig/invalid',
    'one flipped bit in a block signature',
    rawMandate([b0, [b1[0], flipped]], proofOf(m)),
    deny('ERR_SIG_INVALID', { block: 1 }),
    { request: read },
    'S8',
  )
  const malleated = concatBytes(s.subarray(0, 32), le32(bytesToNumberLE(s.subarray(32)) + L))
  verify(
    'sig/scalar',
    'S + L on a block signature',
    rawMandate([b0, [b1[0], malleated]], proofOf(m)),
    deny('ERR_SIG_SCALAR', { block: 1 }),
    { request: read },
    'S4',
  )
  const noncanonicalR = concatBytes(
    le32(2n ** 255n - 19n + 1n).map((x, i) => (i === 31 ? x & 0x7f : x)),
    s.subarray(32),
  )
  verify(
    'sig/encoding',
    'a non-canonical R (y ≥ p)',
    rawMandate([b0, [b1[0], noncanonicalR]], proofOf(m)),
    deny('ERR_SIG_ENCODING', { block: 1 }),
    { request: read },
    'S2',
  )
  // block 0 names the identity point as holder; block 1 "signed" by it with an all-zero signature
  const identity = new Uint8Array(32)
  identity[0] = 1
  const weakRoot = signRaw(blockFields(identity, [windowWire]), keys.alice)
  const afterWeak: Pair = [encodeCbor(blockFields(keys.subagent.publicKey, [])), new Uint8Array(64)]
  verify(
    'sig/weak-key',
    'a block signed by the identity key with a zero signature',
    rawMandate([weakRoot, afterWeak], keys.subagent.secretKey),
    deny('ERR_KEY_WEAK', { block: 1 }),
    { request: read },
    'S5',
  )
  const crossDomain: Pair = [b1[0], getBackend().sign(keys.assistant.secretKey, signingInput('approval', b1[0]))]
  verify(
    'sig/cross-domain',
    'an approval-domain signature presented as a block signature',
    rawMandate([b0, crossDomain], proofOf(m)),
    deny('ERR_SIG_INVALID', { block: 1 }),
    { request: read },
    'S10',
  )
  verify(
    'sig/untrusted-root',
    'a root signed by a key outside the trust set',
    formatMandate(bearerRoot('mallory', [], 'mallory')),
    deny('ERR_ROOT_UNTRUSTED', { block: 0 }),
    { request: read },
    'S9',
  )
}

// ---- encoding -----------------------------------------------------------------------------
{
  const text = formatMandate(storySub)
  verify('text/prefix', 'an invocation prefix on a mandate', text.replace('mnd1_', 'mnx1_'), deny('ERR_TEXT_FORMAT'), { request: read })
  verify('text/padding', 'base64 padding', `${text}==`, deny('ERR_TEXT_FORMAT'), { request: read })
  verify('text/empty-body', 'the prefix alone: zero bytes, which are no CBOR item', 'mnd1_', deny('ERR_CBOR_MALFORMED'), { request: read })
  const hex = toHex(storySub.bytes)
  const cbor = (h: string) => toText('mandate', Uint8Array.from(Buffer.from(h, 'hex')))
  verify('cbor/trailing', 'a trailing byte', cbor(`${hex}00`), deny('ERR_CBOR_MALFORMED'), { request: read }, 'C8')
  verify('cbor/truncated', 'truncated by one byte', cbor(hex.slice(0, -2)), deny('ERR_CBOR_MALFORMED'), { request: read }, 'C8')
  verify(
    'cbor/noncanonical',
    'a non-minimal array head on the mandate',
    cbor(`990003${hex.slice(2)}`),
    deny('ERR_CBOR_NONCANONICAL'),
    { request: read },
    'C1',
  )
  verify(
    'cbor/indefinite',
    'an indefinite-length array',
    cbor(`9f${hex.slice(2)}ff`),
    deny('ERR_CBOR_NONCANONICAL'),
    { request: read },
    'C4',
  )
  verify('cbor/dup-key', 'a duplicated map key', cbor('a200010002'), deny('ERR_CBOR_DUP_KEY'), { request: read }, 'C2')
  verify('cbor/tag', 'a tag around the mandate', cbor(`d818${hex}`), deny('ERR_CBOR_TAG'), { request: read }, 'C5')
  verify('cbor/float', 'a float instead of the version', cbor(`83f93c00${hex.slice(4)}`), deny('ERR_CBOR_TYPE'), { request: read }, 'C6')
  verify('cbor/text-key', 'a text map key', cbor('a200016178f5'), deny('ERR_CBOR_TYPE'), { request: read }, 'C3')
  verify('cbor/utf8', 'invalid UTF-8 in a text string', cbor('8301806278c3'), deny('ERR_CBOR_UTF8'), { request: read }, 'C7')
  verify('cbor/depth', 'nesting deeper than 16', cbor(`${'81'.repeat(17)}00`), deny('ERR_LIMIT_DEPTH'), { request: read }, 'C10')
  verify('cbor/count', 'a list of 65 entries', cbor(`9841${'00'.repeat(65)}`), deny('ERR_LIMIT_COUNT'), { request: read }, 'C11')
  verify(
    'limit/size',
    'a mandate over 16 KiB',
    toText('mandate', new Uint8Array(16 * 1024 + 1)),
    deny('ERR_LIMIT_SIZE'),
    { request: read },
    'C11',
  )
  verify('format/version', 'version 2', rawMandate(pairsOf(storySub), proofOf(storySub), 2), deny('ERR_VERSION'), { request: read }, 'C13')
  const extra = rawRoot([windowWire], keys.subagent, { extra: [[3, 'future field']] })
  verify(
    'format/unknown-field',
    "an unknown key 3 in a block's extra map",
    rawBearer(extra, keys.subagent),
    deny('ERR_FORMAT', { block: 0 }),
    { request: read },
    'C13',
  )
  // the block payload array and its extra map: one encoding for each meaning
  const sub = keys.subagent.publicKey
  const rootWith = (fields: CborValue) => rawBearer(signRaw(fields, keys.alice), keys.subagent)
  const B0 = { block: 0 }
  for (const [id, title, fields] of [
    ['payload-short', 'a block payload of three elements (no caveats list)', [sub, true, T0]],
    ['payload-long', 'a block payload of six elements', [...blockFields(sub, [windowWire], { extra: [[1, 'n']] }), 'x']],
    ['payload-map', 'a block payload written as a map', new Map<number, CborValue>([[0, sub]])],
    ['holder-short', 'a 31-byte holder key', blockFields(sub.subarray(0, 31), [windowWire])],
    ['bearer-not-bool', 'bearer written as 1', [sub, 1, T0, [windowWire]]],
    ['issued-at-negative', 'issued_at −1', [sub, true, -1, [windowWire]]],
    ['caveats-not-list', 'caveats written as a map', [sub, true, T0, new Map([[0, windowWire]])]],
    ['extra-empty', 'an empty extra map (absent is its only encoding)', blockFields(sub, [windowWire], { extra: [] })],
    ['extra-not-map', 'extra written as a list', [...blockFields(sub, [windowWire]), ['n']]],
    [
      'bearer-nonce',
      'a nonce in a bearer block (its fresh key makes it unique)',
      blockFields(sub, [windowWire], { extra: [[0, new Uint8Array(16)]] }),
    ],
    ['name-not-text', 'a name that is not text', blockFields(sub, [windowWire], { extra: [[1, 5]] })],
  ] as const) {
    verify(`format/block-${id}`, title, rootWith(fields as CborValue), deny('ERR_FORMAT', B0), { request: read })
  }
  const boundAt = (extra?: [number, CborValue][]) =>
    rawMandate(
      [signRaw(blockFields(keys.assistant.publicKey, [windowWire], { bearer: false, ...(extra ? { extra } : {}) }), keys.alice)],
      undefined,
    )
  verify('format/block-bound-no-nonce', 'a block naming a bound holder without a nonce', boundAt(), deny('ERR_FORMAT', B0), {
    request: read,
  })
  verify(
    'format/block-bound-short-nonce',
    'a block naming a bound holder with a 15-byte nonce',
    boundAt([[0, new Uint8Array(15)]]),
    deny('ERR_FORMAT', B0),
    { request: read },
  )
  verify(
    'format/block-bound-nonce',
    'a block naming a bound holder with its 16-byte nonce, presented bare: well formed, so the holder proof decides',
    boundAt([[0, new Uint8Array(16)]]),
    deny('ERR_PROOF', B0),
    { request: read },
  )
  const mandateOf = (top: CborValue) => toText('mandate', encodeCbor(top))
  const chain1 = rawChain(pairsOf(storySub))
  const secret = proofOf(storySub) as Uint8Array
  for (const [id, title, top, code] of [
    ['mandate-empty', 'an empty array', [], 'ERR_FORMAT'],
    ['mandate-map', 'a mandate written as a map', new Map<number, CborValue>([[0, 1]]), 'ERR_FORMAT'],
    ['mandate-no-chain', 'a version and nothing else', [1], 'ERR_FORMAT'],
    ['mandate-four-elements', 'a fourth element after the proof', [1, chain1, secret, 'x'], 'ERR_FORMAT'],
    ['proof-not-bytes', 'a proof written as the integer 0', [1, chain1, 0], 'ERR_FORMAT'],
    ['proof-33', 'a proof of 33 bytes: neither a bearer secret (32) nor a seal (64)', [1, chain1, new Uint8Array(33)], 'ERR_PROOF'],
    ['chain-no-blocks', 'a chain with its principal and no block', [1, [keys.alice.publicKey], secret], 'ERR_FORMAT'],
    ['chain-principal-short', 'a 31-byte principal', [1, [keys.alice.publicKey.subarray(0, 31), ...chain1.slice(1)], secret], 'ERR_FORMAT'],
  ] as const) {
    verify(`format/${id}`, title, mandateOf(top as unknown as CborValue), deny(code), { request: read })
  }
  verify(
    'format/chain-block-not-bytes',
    'block 0 written as [payload, signature]: a failure while reading block 0 is located there',
    mandateOf([1, [keys.alice.publicKey, pairsOf(storySub)[0] as CborValue], secret]),
    deny('ERR_FORMAT', B0),
    { request: read },
  )
  const many = rawRoot([windowWire, ...Array.from({ length: 32 }, () => [1, ['*']] as CborValue)], keys.subagent)
  verify(
    'limit/caveats',
    '33 caveats in one block',
    rawBearer(many, keys.subagent),
    deny('ERR_LIMIT_COUNT', { block: 0 }),
    { request: read },
    'C11',
  )
}

// ---- chain --------------------------------------------------------------------------------
{
  const b2 = attenuate(storySub, { caveats: [{ type: 'resources', globs: ['channels/*'] }], now: T0, random: random('chain/b2') })
  const [p0, p1, p2] = pairsOf(b2) as [Pair, Pair, Pair]
  verify(
    'chain/reordered',
    'blocks 1 and 2 swapped',
    rawMandate([p0, p2, p1], proofOf(b2)),
    deny('ERR_SIG_INVALID', { block: 1 }),
    { request: read },
    'K1',
  )
  const sibling = attenuate(story, { key: keys.assistant, now: T0, random: random('chain/sibling') })
  verify(
    'chain/spliced',
    'a block spliced from a sibling token',
    rawMandate([...pairsOf(sibling), p2], proofOf(b2)),
    deny('ERR_SIG_INVALID', { block: 2 }),
    { request: read },
    'K2',
  )
  // the same holder key above both: only the parent id in the signing input tells them apart
  const otherGrant = grant('chain/other', [{ type: 'actions', patterns: ['*'] }])
  verify(
    'chain/spliced-same-holder',
    'block 1 of one grant to the assistant spliced under another grant to the assistant',
    rawMandate([pairsOf(otherGrant)[0] as Pair, p1], proofOf(storySub)),
    deny('ERR_SIG_INVALID', { block: 1 }),
    { request: read },
    'K2',
  )
  verify(
    'chain/child-as-root',
    'block 1 presented as block 0 of a chain whose principal is the key that signed it',
    rawMandate([p1], proofOf(storySub), 1, keys.assistant.publicKey),
    deny('ERR_SIG_INVALID', { block: 0 }),
    { request: read, roots: [{ key: did('assistant'), name: 'assistant' }] },
  )
  verify(
    'chain/root-as-child',
    'block 0 appended again below block 1, signed by the principal, not by the holder above it',
    rawMandate([p0, p1, p0], proofOf(storySub)),
    deny('ERR_SIG_INVALID', { block: 2 }),
    { request: read },
  )
  verify(
    'chain/truncated',
    'the last block dropped',
    rawMandate([p0, p1], proofOf(b2)),
    deny('ERR_PROOF', { block: 1 }),
    { request: read },
    'K3',
  )
  verify(
    'chain/duplicated',
    'a block repeated',
    rawMandate([p0, p1, p1, p2], proofOf(b2)),
    deny('ERR_SIG_INVALID', { block: 2 }),
    { request: read },
    'K4',
  )
  let deep = bearerRoot('deep', [])
  for (let i = 1; i < 16; i++) deep = attenuate(deep, { now: T0, random: random(`deep/${i}`) })
  verify('chain/16-blocks', 'the longest chain allowed', formatMandate(deep), { decision: 'allow' }, { request: read })
  verify(
    'chain/17-blocks',
    'one block too many',
    rawMandate([...pairsOf(deep), pairsOf(deep)[15] as Pair], proofOf(deep)),
    deny('ERR_CHAIN_DEPTH'),
    { request: read },
    'K5',
  )
  verify('proof/bound-bare', 'a bound mandate presented without an invocation', formatMandate(story), deny('ERR_PROOF', { block: 0 }), {
    request: read,
  })
  verify(
    'proof/wrong-secret',
    'a bearer secret of another key',
    rawMandate(pairsOf(storySub), keys.mallory.secretKey),
    deny('ERR_PROOF', { block: 1 }),
    { request: read },
  )
  const inv = asAssistant(story, 'replay', 'email:read')
  verify('proof/replay', 'the same invocation presented twice', formatInvocation(inv), deny('ERR_REPLAY'), { repeat: 2 }, 'K10')
  verify(
    'proof/stale-invocation',
    'an invocation signed 10 minutes ago',
    formatInvocation(asAssistant(story, 'stale', 'email:read', { now: NOW - 600 })),
    deny('ERR_PROOF'),
    {},
    'K10',
  )
  verify(
    'proof/audience',
    'an invocation for another service',
    formatInvocation(asAssistant(story, 'aud', 'email:read', { audience: 'other' })),
    deny('ERR_AUDIENCE'),
    {},
    'K10',
  )
}

// ---- time ---------------------------------------------------------------------------------
{
  const w = subGrant('time', [], [{ type: 'window', notBefore: T0 + 1000, expires: T0 + 2000 }])
  const t = formatMandate(w)
  verify(
    'time/not-yet',
    'one second before not-before − skew',
    t,
    deny('ERR_TIME_NOT_YET', { block: 1 }),
    { request: read, now: T0 + 1000 - 61 },
    'K8',
  )
  verify('time/nbf-edge', 'exactly not-before − skew', t, { decision: 'allow' }, { request: read, now: T0 + 1000 - 60 }, 'K8')
  verify('time/exp-edge', 'one second before expiry + skew', t, { decision: 'allow' }, { request: read, now: T0 + 2000 + 59 }, 'K8')
  verify('time/expired', 'exactly expiry + skew', t, deny('ERR_TIME_EXPIRED', { block: 1 }), { request: read, now: T0 + 2000 + 60 }, 'K8')
  verify(
    'time/no-root-expiry',
    'a root without expiry',
    rawBearer(rawRoot([[1, ['*']]], keys.subagent), keys.subagent),
    deny('ERR_TIME_INVALID', { block: 0 }),
    { request: read },
    'K7',
  )
  verify(
    'time/inverted',
    'not-before after expiry',
    rawBearer(
      rawRoot(
        [
          [
            4,
            new Map([
              [0, T0 + 100],
              [1, T0 + 50],
            ]),
          ],
        ],
        keys.subagent,
      ),
      keys.subagent,
    ),
    deny('ERR_TIME_INVALID'),
    { request: read },
    'K7',
  )
  const later = subGrant('later', [], [{ type: 'window', expires: T0 + 24 * 3600 }])
  verify(
    'time/child-later',
    'a child expiry after its parent does not extend it',
    formatMandate(later),
    deny('ERR_TIME_EXPIRED', { block: 0 }),
    { request: read, now: T0 + 9 * 3600 },
    'K6',
  )
}

// ---- caveats ------------------------------------------------------------------------------
{
  verify(
    'caveat/action',
    'the sub-agent asks for email:read',
    formatMandate(storySub),
    deny('ERR_ACTION_DENIED', { block: 1, caveat: 'actions' }),
    { request: { action: 'email:read' } },
    'K6',
  )
  verify(
    'caveat/deny',
    'email:send is never allowed',
    formatInvocation(asAssistant(story, 'send', 'email:send')),
    deny('ERR_ACTION_DENIED', { block: 0, caveat: 'deny' }),
  )
  const res = subGrant('res', [], [{ type: 'resources', globs: ['channels/team-*'] }])
  verify(
    'caveat/resource-ok',
    'a resource inside the glob',
    formatMandate(res),
    { decision: 'allow' },
    { request: { action: 'x', resource: 'channels/team-eng' } },
  )
  verify(
    'caveat/resource',
    'a resource outside the glob',
    formatMandate(res),
    deny('ERR_RESOURCE_DENIED', { block: 1, caveat: 'resources' }),
    { request: { action: 'x', resource: 'channels/random' } },
  )
  const where = subGrant('where', [], [{ type: 'where', actions: ['payments:*'], rules: [{ path: 'amount', op: 'le', value: 100 }] }])
  verify(
    'caveat/where-ok',
    'an amount within the limit',
    formatMandate(where),
    { decision: 'allow' },
    { request: { action: 'payments:send', args: { amount: 100 as never } } },
  )
  verify('caveat/where', 'an amount over the limit', formatMandate(where), deny('ERR_ARGS_DENIED', { block: 1, caveat: 'where' }), {
    request: { action: 'payments:send', args: { amount: 101 as never } },
  })
  verify('caveat/where-missing', 'the argument is missing', formatMandate(where), deny('ERR_ARGS_DENIED', { block: 1 }), {
    request: { action: 'payments:send' },
  })
  const aud = subGrant('aud', [], [{ type: 'audience', names: ['calendar'] }])
  verify('caveat/audience', 'a mandate for another service', formatMandate(aud), deny('ERR_AUDIENCE', { block: 1, caveat: 'audience' }), {
    request: read,
  })
  // the library refuses to append below a depth-0 caveat, so the block is signed by hand
  const depthRoot = grant('depth', [{ type: 'depth', max: 0 }])
  const below = bearerBelowRoot(depthRoot)
  verify(
    'caveat/depth',
    'a block below a depth-0 caveat',
    rawMandate([pairsOf(depthRoot)[0] as Pair, below], keys.subagent.secretKey),
    deny('ERR_CHAIN_DEPTH', { block: 0, caveat: 'depth' }),
    { request: read },
  )
  const boundRoot = grant('bound', [{ type: 'bound' }])
  const bearerBelow = bearerBelowRoot(boundRoot)
  verify(
    'caveat/bound',
    'a bearer holder below a bound caveat',
    rawMandate([pairsOf(boundRoot)[0] as Pair, bearerBelow], keys.subagent.secretKey),
    deny('ERR_BOUND_REQUIRED', { block: 0, caveat: 'bound' }),
    { request: read },
  )
  verify('caveat/bound-ok', 'a bound chain presented by invocation', formatInvocation(asAssistant(boundRoot, 'bound-ok', 'slack:read')), {
    decision: 'allow',
  })
  verify(
    'caveat/unknown',
    'caveat type 42 (reserved, unknown)',
    rawBearer(rawRoot([windowWire, [42, 'future']], keys.subagent), keys.subagent),
    deny('ERR_CAVEAT_UNKNOWN', { block: 0 }),
    { request: read },
    'C13',
  )
  verify(
    'caveat/invalid',
    'a uses caveat with max 2^32',
    rawBearer(rawRoot([windowWire, [5, new Map([[0, 2 ** 32]])]], keys.subagent), keys.subagent),
    deny('ERR_CAVEAT_INVALID', { block: 0 }),
    { request: read },
    'K13',
  )
  const ext = subGrant('ext', [], [{ type: 'extension', code: 70000, body: 'eu-only' }])
  verify(
    'caveat/extension-unregistered',
    'an extension caveat with no checker',
    formatMandate(ext),
    deny('ERR_CAVEAT_UNKNOWN', { block: 1, caveat: 'extension' }),
    { request: read },
  )
  verify(
    'caveat/extension-denied',
    'an extension checker that says no',
    formatMandate(ext),
    deny('ERR_CAVEAT_DENIED', { block: 1, caveat: 'extension' }),
    { request: read, extensions: { '70000': false } },
  )
  verify(
    'caveat/extension-allowed',
    'an extension checker that says yes',
    formatMandate(ext),
    { decision: 'allow' },
    { request: read, extensions: { '70000': true } },
  )
  verify('request/invalid', 'an action with a wildcard', formatMandate(storySub), deny('ERR_REQUEST_INVALID'), {
    request: { action: 'slack:*' },
  })
}

// ---- approvals ----------------------------------------------------------------------------
{
  const quorum = grant('quorum', [
    { type: 'approval', actions: ['email:send'], approvers: [did('alice'), did('bob'), did('carol')], quorum: 2 },
  ])
  const send = asAssistant(quorum, 'q-send', 'email:send')
  const ok = (r: Role) => formatApproval(approve({ approver: keys[r], invocation: send, now: NOW }))
  verify(
    'approval/missing',
    'no approval',
    formatInvocation(send),
    deny('ERR_APPROVAL_REQUIRED', { block: 0, caveat: 'approval' }),
    {},
    'K11',
  )
  verify('approval/short', 'one of two', formatInvocation(send), deny('ERR_APPROVAL_REQUIRED'), { approvals: [ok('bob')] }, 'K11')
  verify(
    'approval/quorum',
    'two distinct approvers',
    formatInvocation(send),
    { decision: 'allow' },
    { approvals: [ok('bob'), ok('carol')] },
    'K11',
  )
  verify(
    'approval/non-approver',
    'an approval by someone not listed',
    formatInvocation(send),
    deny('ERR_APPROVAL_INVALID'),
    { approvals: [ok('bob'), ok('mallory')] },
    'K11',
  )
  const other = asAssistant(quorum, 'q-other', 'email:send')
  verify(
    'approval/other-request',
    'an approval for another invocation',
    formatInvocation(send),
    deny('ERR_APPROVAL_INVALID'),
    {
      approvals: [ok('bob'), formatApproval(approve({ approver: keys.carol, invocation: other, now: NOW }))],
    },
    'K11',
  )
  verify(
    'approval/expired',
    'an expired approval',
    formatInvocation(send),
    deny('ERR_APPROVAL_INVALID'),
    {
      approvals: [ok('bob'), formatApproval(approve({ approver: keys.carol, invocation: send, now: NOW - 700, ttl: 600 }))],
    },
    'K11',
  )
}

// ---- approvals that wait (spec §7 steps 7 and 10) ----------------------------------------
// σ = 60, max_age = 300, approval wait 86,400 unless a vector says otherwise: an invocation is
// fresh from NOW − 360, waiting from NOW − 361 to NOW − 86,460, stale before.
{
  const DAY = 86_400
  const waitGrant = (id: string, approvers: Role[], quorum: number) =>
    mint({
      principal: keys.alice,
      to: did('assistant'),
      name: 'assistant',
      caveats: [
        { type: 'actions', patterns: ['email:read', 'email:send'] },
        { type: 'approval', actions: ['email:send'], approvers: approvers.map(did), quorum },
        window8h,
      ],
      // Issued two days before: the invocations below are signed under it up to a day ago.
      now: T0 - 2 * DAY,
      random: random(`${id}/root`),
    })
  const one = waitGrant('wait/one', ['bob'], 1)
  const two = waitGrant('wait/two', ['bob', 'carol'], 2)
  const signed = (m: UnverifiedMandate, id: string, action: string, at: number) => asAssistant(m, `wait/${id}`, action, { now: at })
  const ok = (r: Role, inv: ReturnType<typeof asAssistant>, at = NOW, ttl = 2 * DAY) =>
    formatApproval(approve({ approver: keys[r], invocation: inv, now: at, ttl }))
  const W = 'wait'

  const readAtBound = signed(one, 'read-360', 'email:read', NOW - 360)
  verify(`${W}/fresh-at-bound`, 'an invocation signed max_age + σ ago, needing no approval: fresh', formatInvocation(readAtBound), {
    decision: 'allow',
  })
  const readWaiting = signed(one, 'read-361', 'email:read', NOW - 361)
  verify(
    `${W}/no-approval-needed`,
    'an invocation signed max_age + σ + 1 ago, needing no approval: waiting for nothing, so stale at step 10',
    formatInvocation(readWaiting),
    deny('ERR_PROOF'),
  )
  const send361 = signed(one, 'send-361', 'email:send', NOW - 361)
  verify(
    `${W}/waiting-first-second`,
    'an invocation signed max_age + σ + 1 ago, approved now: waiting, and accepted',
    formatInvocation(send361),
    { decision: 'allow', chain: ['alice', 'assistant'] },
    { approvals: [ok('bob', send361)] },
  )
  verify(
    `${W}/waiting-unapproved`,
    'a waiting invocation without its approval: it still needs one',
    formatInvocation(send361),
    deny('ERR_APPROVAL_REQUIRED', { block: 0, caveat: 'approval' }),
  )
  const sendLast = signed(one, 'send-86460', 'email:send', NOW - DAY - 60)
  verify(
    `${W}/last-second`,
    'an invocation signed approval wait + σ ago, approved now: still waiting, accepted',
    formatInvocation(sendLast),
    { decision: 'allow' },
    { approvals: [ok('bob', sendLast)] },
  )
  const sendStale = signed(one, 'send-86461', 'email:send', NOW - DAY - 61)
  verify(
    `${W}/beyond-wait`,
    'an invocation signed approval wait + σ + 1 ago, approved now: stale at step 7',
    formatInvocation(sendStale),
    deny('ERR_PROOF'),
    { approvals: [ok('bob', sendStale)] },
  )
  const sendHour = signed(one, 'send-3600', 'email:send', NOW - 3600)
  verify(
    `${W}/last-approval-at-bound`,
    'a waiting invocation whose approval was issued max_age + σ ago: accepted',
    formatInvocation(sendHour),
    { decision: 'allow' },
    { approvals: [ok('bob', sendHour, NOW - 360)] },
  )
  verify(
    `${W}/last-approval-too-old`,
    'a waiting invocation whose approval was issued max_age + σ + 1 ago, still unexpired: stale',
    formatInvocation(sendHour),
    deny('ERR_PROOF'),
    { approvals: [ok('bob', sendHour, NOW - 361)] },
  )
  const sendTwo = signed(two, 'two-7200', 'email:send', NOW - 7200)
  verify(
    `${W}/quorum-latest-counts`,
    'a quorum of 2: Bob approved an hour ago, Carol 10 s ago; the latest approval decides',
    formatInvocation(sendTwo),
    { decision: 'allow' },
    { approvals: [ok('bob', sendTwo, NOW - 3600), ok('carol', sendTwo, NOW - 10)] },
  )
  verify(
    `${W}/quorum-both-old`,
    'a quorum of 2, both approvals over max_age + σ old: stale',
    formatInvocation(sendTwo),
    deny('ERR_PROOF'),
    { approvals: [ok('bob', sendTwo, NOW - 3600), ok('carol', sendTwo, NOW - 361)] },
  )
  verify(`${W}/replay`, 'a waiting invocation, approved, presented twice: accepted once', formatInvocation(sendHour), deny('ERR_REPLAY'), {
    approvals: [ok('bob', sendHour)],
    repeat: 2,
  })
  verify(
    `${W}/invalid-approval`,
    'a waiting invocation with an approval by someone not listed: as for a fresh one',
    formatInvocation(sendHour),
    deny('ERR_APPROVAL_INVALID'),
    { approvals: [ok('bob', sendHour), ok('mallory', sendHour)] },
  )
  const send360 = signed(one, 'off-360', 'email:send', NOW - 360)
  verify(
    `${W}/disabled-fresh`,
    'approval wait 0: an invocation signed max_age + σ ago is fresh',
    formatInvocation(send360),
    { decision: 'allow' },
    { approvals: [ok('bob', send360)], approvalWait: 0 },
  )
  verify(
    `${W}/disabled-stale`,
    'approval wait 0: an invocation signed max_age + σ + 1 ago, approved now, is stale at step 7',
    formatInvocation(send361),
    deny('ERR_PROOF'),
    { approvals: [ok('bob', send361)], approvalWait: 0 },
  )
  verify(
    `${W}/disabled-unapproved`,
    'approval wait 0: a stale invocation without its approval is stale (step 7), not waiting',
    formatInvocation(send361),
    deny('ERR_PROOF'),
    { approvalWait: 0 },
  )
  const sendShort = signed(one, 'short-3660', 'email:send', NOW - 3660)
  verify(
    `${W}/hour-at-bound`,
    'approval wait 3,600: an invocation signed 3,660 s ago, approved now, is accepted',
    formatInvocation(sendShort),
    { decision: 'allow' },
    { approvals: [ok('bob', sendShort)], approvalWait: 3600 },
  )
  const sendShortStale = signed(one, 'short-3661', 'email:send', NOW - 3661)
  verify(
    `${W}/hour-beyond`,
    'approval wait 3,600: an invocation signed 3,661 s ago is stale',
    formatInvocation(sendShortStale),
    deny('ERR_PROOF'),
    { approvals: [ok('bob', sendShortStale)], approvalWait: 3600 },
  )

  // §7.3: a waiting invocation goes through steps 8 and 9 first; then step 10 (a) to (d)
  verify(
    'precedence/waiting-revoked',
    'a waiting invocation that needs no approval, its block 0 revoked: step 8 before step 10',
    formatInvocation(readWaiting),
    deny('ERR_REVOKED', { block: 0 }),
    { revocations: { entries: [{ blockId: one.blocks[0]?.idHex as string, kind: 'revoke' }] } },
  )
  verify(
    'precedence/waiting-no-approval-over-invalid-approval',
    'a waiting invocation that needs no approval, with an approval of another invocation: step 10 (a) first',
    formatInvocation(readWaiting),
    deny('ERR_PROOF'),
    { approvals: [ok('bob', send361)] },
  )
  verify(
    'precedence/waiting-quorum-over-last-approval',
    'a waiting invocation, quorum 2, only Bob’s approval of an hour ago: the quorum (10 c) before its age (10 d)',
    formatInvocation(sendTwo),
    deny('ERR_APPROVAL_REQUIRED', { block: 0, caveat: 'approval' }),
    { approvals: [ok('bob', sendTwo, NOW - 3600)] },
  )
}

// ---- usage and revocation -----------------------------------------------------------------
{
  const sub = formatMandate(storySub)
  const counter = `${storySub.blocks[1]?.idHex}/1`
  verify('usage/remaining', 'two of three uses spent', sub, { decision: 'allow' }, { request: read, usage: { [counter]: 2 } })
  verify(
    'usage/exhausted',
    'three of three uses spent',
    sub,
    deny('ERR_USAGE_EXHAUSTED', { block: 1, caveat: 'uses' }),
    { request: read, usage: { [counter]: 3 } },
    'R10',
  )
  verify(
    'usage/unavailable',
    'the counter cannot be reached',
    sub,
    deny('ERR_COUNTER_UNAVAILABLE'),
    { request: read, usage: 'unavailable' },
    'R8',
  )
  const b0 = storySub.blocks[0]?.idHex as string
  const b1 = storySub.blocks[1]?.idHex as string
  verify(
    'revocation/block',
    'the sub-agent’s block is revoked',
    sub,
    deny('ERR_REVOKED', { block: 1 }),
    { request: read, revocations: { entries: [{ blockId: b1, kind: 'revoke' }] } },
    'R1',
  )
  verify(
    'revocation/ancestor',
    'the root is revoked',
    sub,
    deny('ERR_REVOKED', { block: 0 }),
    { request: read, revocations: { entries: [{ blockId: b0, kind: 'revoke' }] } },
    'R1',
  )
  verify(
    'revocation/sibling',
    'another block is revoked',
    formatInvocation(asAssistant(story, 'sib', 'slack:read')),
    { decision: 'allow' },
    {
      revocations: { entries: [{ blockId: b1, kind: 'revoke' }] },
    },
    'R1',
  )
  verify('revocation/scoped-hit', 'slack:* revoked on the root', sub, deny('ERR_REVOKED', { block: 0 }), {
    request: read,
    revocations: { entries: [{ blockId: b0, kind: 'revoke', actions: ['slack:*'] }] },
  })
  verify(
    'revocation/scoped-miss',
    'only slack:send revoked on the root',
    sub,
    { decision: 'allow' },
    { request: read, revocations: { entries: [{ blockId: b0, kind: 'revoke', actions: ['slack:send'] }] } },
  )
  verify('revocation/suspended', 'the sub-agent is suspended', sub, deny('ERR_SUSPENDED', { block: 1 }), {
    request: read,
    revocations: { entries: [{ blockId: b1, kind: 'suspend' }] },
  })
  verify(
    'revocation/stale',
    'the revocation view is 31 s old',
    sub,
    deny('ERR_REVOCATION_STALE'),
    { request: read, revocations: { freshAt: NOW - 31, entries: [] } },
    'R7',
  )
}

// ---- amendments (spec §9.2) ----------------------------------------------------------------
// An amendment in force on a block: its caveats are checked as the block's own, after them; a
// denial it causes is located at the amended block, its caveat index counted in the amendment's
// list, and names the amendment (`expected.amendment`; null: the denial names none).
{
  const A = 'amend'
  const DAY = 86_400
  /** A deterministic amendment id (an amendment's id is its statement's: any 32 bytes here). */
  const amendmentId = (name: string) => toHex(random(`${A}/${name}/id`)(32))
  const caveatsHex = (caveats: readonly Caveat[]) => toHex(encodeCbor(caveats.map(encodeCaveat)))
  const amendment = (blockId: string, name: string, caveats: readonly Caveat[], extra: { by?: Role; reason?: string } = {}) => ({
    blockId,
    kind: 'amend' as const,
    id: amendmentId(name),
    caveats: caveatsHex(caveats),
    ...(extra.by === undefined ? {} : { by: did(extra.by) }),
    ...(extra.reason === undefined ? {} : { reason: extra.reason }),
  })
  const amendDeny = (code: string, at: { block?: number; caveat?: string; caveatIndex?: number; amendment?: string | null }) => ({
    decision: 'deny' as const,
    code,
    ...at,
  })
  // Alice → assistant (bound; actions email:*, calendar:*, files:*) → sub-agent (bearer).
  const root = grant(`${A}/root`, [{ type: 'actions', patterns: ['email:*', 'calendar:*', 'files:*'] }])
  const below = (name: string, caveats: Caveat[]) =>
    attenuate(root, { key: keys.assistant, name: 'sub-agent', caveats, now: T0, random: random(`${A}/${name}`) })
  const sub = below('sub', [{ type: 'actions', patterns: ['email:read', 'email:draft', 'email:send', 'calendar:*', 'files:read'] }])
  const sibling = below('sibling', [{ type: 'actions', patterns: ['email:*'] }])
  const narrow = below('narrow', [{ type: 'actions', patterns: ['email:read'] }])
  const quota = below('quota', [{ type: 'uses', max: 5 }])
  const b0 = root.blocks[0]?.idHex as string
  const b1 = sub.blocks[1]?.idHex as string
  const text = formatMandate(sub)
  const chain = ['alice', 'assistant', 'sub-agent']
  const req = (action: string, extra: { resource?: string; args?: Record<string, never> } = {}) => ({ request: { action, ...extra } })

  // approvals: required by an amendment, then given
  const approvalOn0 = amendment(
    b0,
    'approval',
    [
      { type: 'deny', patterns: ['files:delete'] },
      { type: 'approval', actions: ['email:send'], approvers: [did('alice')], quorum: 1 },
    ],
    { by: 'alice', reason: 'ask me before sending' },
  )
  const send = invoke(sub, { action: 'email:send', audience: 'svc', now: NOW, random: random(`${A}/send`) })
  verify(
    `${A}/approval-required`,
    'Alice amends the assistant’s block 0: email:send now needs her approval; the sub-agent’s invocation has none',
    formatInvocation(send),
    amendDeny('ERR_APPROVAL_REQUIRED', { block: 0, caveat: 'approval', caveatIndex: 1, amendment: approvalOn0.id }),
    { revocations: { entries: [approvalOn0] } },
  )
  verify(
    `${A}/approval-given`,
    'the same invocation with Alice’s approval',
    formatInvocation(send),
    { decision: 'allow', chain },
    {
      approvals: [formatApproval(approve({ approver: keys.alice, invocation: send, now: NOW }))],
      revocations: { entries: [approvalOn0] },
    },
  )
  verify(
    `${A}/approval-without-amendment`,
    'the same invocation and approval with no amendment in force: no approval caveat applies, so the approval is not checked against one (spec §6 approval)',
    formatInvocation(send),
    { decision: 'allow' },
    { approvals: [formatApproval(approve({ approver: keys.alice, invocation: send, now: NOW }))] },
  )
  // A chain that asks Bob to approve email:send; the amendment asks Alice too.
  const bobRoot = grant(`${A}/bob-root`, [
    { type: 'actions', patterns: ['email:*'] },
    { type: 'approval', actions: ['email:send'], approvers: [did('bob')], quorum: 1 },
  ])
  const bobSub = attenuate(bobRoot, { key: keys.assistant, name: 'sub-agent', now: T0, random: random(`${A}/bob-sub`) })
  const aliceToo = amendment(bobRoot.blocks[0]?.idHex as string, 'alice-too', [
    { type: 'approval', actions: ['email:send'], approvers: [did('alice')], quorum: 1 },
  ])
  const bobSend = invoke(bobSub, { action: 'email:send', audience: 'svc', now: NOW, random: random(`${A}/bob-send`) })
  const byBob = formatApproval(approve({ approver: keys.bob, invocation: bobSend, now: NOW }))
  const byAlice = formatApproval(approve({ approver: keys.alice, invocation: bobSend, now: NOW }))
  verify(
    `${A}/approval-block-first`,
    'block 0 asks Bob (its caveat 1), an amendment of it asks Alice: with neither approval, the block’s own caveat is reported',
    formatInvocation(bobSend),
    amendDeny('ERR_APPROVAL_REQUIRED', { block: 0, caveat: 'approval', caveatIndex: 1, amendment: null }),
    { revocations: { entries: [aliceToo] } },
  )
  verify(
    `${A}/approval-amendment-unmet`,
    'the same with Bob’s approval only: the amendment’s caveat is unmet',
    formatInvocation(bobSend),
    amendDeny('ERR_APPROVAL_REQUIRED', { block: 0, caveat: 'approval', caveatIndex: 0, amendment: aliceToo.id }),
    { approvals: [byBob], revocations: { entries: [aliceToo] } },
  )
  verify(
    `${A}/approval-both`,
    'the same with Bob’s and Alice’s approvals',
    formatInvocation(bobSend),
    { decision: 'allow' },
    {
      approvals: [byBob, byAlice],
      revocations: { entries: [aliceToo] },
    },
  )
  verify(
    `${A}/approval-both-unamended`,
    'both approvals without the amendment: Alice is listed by no applying caveat',
    formatInvocation(bobSend),
    deny('ERR_APPROVAL_INVALID'),
    { approvals: [byBob, byAlice] },
  )
  verify(
    `${A}/approval-not-applying`,
    'the approval amendment covers email:send only: email:read needs none',
    formatInvocation(invoke(sub, { action: 'email:read', audience: 'svc', now: NOW, random: random(`${A}/read`) })),
    { decision: 'allow', chain },
    { revocations: { entries: [approvalOn0] } },
  )
  // A waiting invocation (older than max age + σ) may wait for an approval an amendment requires.
  const sendOld = invoke(sub, { action: 'email:send', audience: 'svc', now: NOW - 3600, random: random(`${A}/send-old`) })
  verify(
    `${A}/approval-waits`,
    'an invocation signed an hour ago that needs an approval only because of the amendment: it waits (denied for the approval, not as stale)',
    formatInvocation(sendOld),
    amendDeny('ERR_APPROVAL_REQUIRED', { block: 0, caveat: 'approval', caveatIndex: 1, amendment: approvalOn0.id }),
    { revocations: { entries: [approvalOn0] } },
  )
  verify(
    `${A}/approval-waits-approved`,
    'the same invocation, approved now',
    formatInvocation(sendOld),
    { decision: 'allow' },
    {
      approvals: [formatApproval(approve({ approver: keys.alice, invocation: sendOld, now: NOW }))],
      revocations: { entries: [approvalOn0] },
    },
  )
  verify(
    `${A}/approval-waits-unamended`,
    'the same invocation without the amendment needs no approval: it is stale',
    formatInvocation(sendOld),
    deny('ERR_PROOF'),
  )

  // request caveats: actions, deny, resources, where
  const onlyRead = amendment(b1, 'only-read', [{ type: 'actions', patterns: ['email:read'] }])
  verify(
    `${A}/actions-narrowed`,
    'an amendment on the sub-agent’s block narrows its actions to email:read: email:draft is denied at block 1',
    text,
    amendDeny('ERR_ACTION_DENIED', { block: 1, caveat: 'actions', caveatIndex: 0, amendment: onlyRead.id }),
    { ...req('email:draft'), revocations: { entries: [onlyRead] } },
  )
  verify(
    `${A}/actions-narrowed-allows`,
    'the same amendment: email:read is still allowed',
    text,
    { decision: 'allow', chain },
    {
      ...req('email:read'),
      revocations: { entries: [onlyRead] },
    },
  )
  const noDraft = amendment(b0, 'no-draft', [{ type: 'deny', patterns: ['email:draft'] }])
  const siblingOnlyCalendar = amendment(sibling.blocks[1]?.idHex as string, 'sibling', [{ type: 'actions', patterns: ['calendar:read'] }])
  verify(
    `${A}/root-reaches-sub`,
    'an amendment on block 0 denies email:draft: the sub-agent’s mandate below it is denied at block 0',
    text,
    amendDeny('ERR_ACTION_DENIED', { block: 0, caveat: 'deny', caveatIndex: 0, amendment: noDraft.id }),
    { ...req('email:draft'), revocations: { entries: [siblingOnlyCalendar, noDraft] } },
  )
  verify(
    `${A}/sibling-unaffected`,
    'an amendment on a sibling’s block (calendar:read only) does not touch this chain: email:read is allowed',
    text,
    { decision: 'allow', chain },
    { ...req('email:read'), revocations: { entries: [siblingOnlyCalendar, noDraft] } },
  )
  verify(
    `${A}/sibling-amended`,
    'the sibling itself is narrowed by it',
    formatMandate(sibling),
    amendDeny('ERR_ACTION_DENIED', { block: 1, caveat: 'actions', caveatIndex: 0, amendment: siblingOnlyCalendar.id }),
    { ...req('email:read'), revocations: { entries: [siblingOnlyCalendar, noDraft] } },
  )
  const inboxOnly = [
    amendment(b1, 'first', [{ type: 'actions', patterns: ['email:*'] }]),
    amendment(b1, 'second', [
      { type: 'actions', patterns: ['email:*'] },
      { type: 'resources', globs: ['inbox/**'] },
    ]),
  ] as const
  verify(
    `${A}/second-amendment-fails`,
    'two amendments on block 1; the second’s resources caveat (its index 1) fails: reported with the second’s id',
    text,
    amendDeny('ERR_RESOURCE_DENIED', { block: 1, caveat: 'resources', caveatIndex: 1, amendment: inboxOnly[1].id }),
    { ...req('email:read', { resource: 'outbox/1' }), revocations: { entries: [...inboxOnly] } },
  )
  verify(
    `${A}/second-amendment-holds`,
    'the same two amendments: a resource under inbox/ passes both',
    text,
    { decision: 'allow' },
    {
      ...req('email:read', { resource: 'inbox/1' }),
      revocations: { entries: [...inboxOnly] },
    },
  )
  const small = amendment(b1, 'small', [{ type: 'where', actions: ['email:send'], rules: [{ path: 'amount', op: 'le', value: 100 }] }])
  verify(
    `${A}/where`,
    'an amendment adds an argument rule (amount ≤ 100 for email:send): 500 is denied',
    text,
    amendDeny('ERR_ARGS_DENIED', { block: 1, caveat: 'where', caveatIndex: 0, amendment: small.id }),
    { ...req('email:send', { args: { amount: 500 as never } }), revocations: { entries: [small] } },
  )

  // usage: an amendment's uses caveat counts under <amendment id>/<index in the amendment>
  const q1 = quota.blocks[1]?.idHex as string
  const twice = amendment(q1, 'twice', [{ type: 'uses', max: 2 }])
  const quotaText = formatMandate(quota)
  verify(
    `${A}/uses-exhausted`,
    'an amendment limits block 1 to 2 uses, counted under <amendment id>/0, where 2 are spent',
    quotaText,
    amendDeny('ERR_USAGE_EXHAUSTED', { block: 1, caveat: 'uses', caveatIndex: 0, amendment: twice.id }),
    { ...req('email:read'), revocations: { entries: [twice] }, usage: { [`${twice.id}/0`]: 2 } },
  )
  verify(
    `${A}/uses-own-key`,
    'the block’s own uses caveat (index 0, max 5) and the amendment’s (index 0 of the amendment, max 2) count apart: 4 and 1 spent, allowed',
    quotaText,
    { decision: 'allow' },
    { ...req('email:read'), revocations: { entries: [twice] }, usage: { [`${q1}/0`]: 4, [`${twice.id}/0`]: 1 } },
  )
  verify(
    `${A}/uses-block-first`,
    'both counters spent: the block’s own, first in chain order, is reported (no amendment named)',
    quotaText,
    amendDeny('ERR_USAGE_EXHAUSTED', { block: 1, caveat: 'uses', caveatIndex: 0, amendment: null }),
    { ...req('email:read'), revocations: { entries: [twice] }, usage: { [`${q1}/0`]: 5, [`${twice.id}/0`]: 2 } },
  )

  // time: an amendment's window bounds the intersection; it never lends the root a lifetime
  const early = amendment(b1, 'early', [{ type: 'window', expires: NOW - 120 }])
  verify(
    `${A}/expiry-earlier`,
    'an amendment brings block 1’s expiry forward to now − 120 s: expired',
    text,
    amendDeny('ERR_TIME_EXPIRED', { block: 1, caveat: 'window', caveatIndex: 0, amendment: early.id }),
    { ...req('email:read'), revocations: { entries: [early] } },
  )
  const later = amendment(b1, 'later', [{ type: 'window', notBefore: NOW + 600 }])
  verify(
    `${A}/not-yet`,
    'an amendment with only a not-before ten minutes ahead: not yet',
    text,
    amendDeny('ERR_TIME_NOT_YET', { block: 1, caveat: 'window', caveatIndex: 0, amendment: later.id }),
    { ...req('email:read'), revocations: { entries: [later] } },
  )
  const disjoint = amendment(b1, 'disjoint', [{ type: 'window', notBefore: T0 + 9 * 3600, expires: T0 + 10 * 3600 }])
  verify(
    `${A}/window-disjoint`,
    'an amendment window after the root’s 8-hour window: the windows do not overlap, reported at the amendment’s caveat',
    text,
    amendDeny('ERR_TIME_INVALID', { block: 1, caveat: 'window', caveatIndex: 0, amendment: disjoint.id }),
    { ...req('email:read'), revocations: { entries: [disjoint] } },
  )
  // Check 4 located at an amendment's window when it set a bound of the emptied intersection
  // (the not_before's first), so that the denial names it.
  const laterSub = below('later-sub', [{ type: 'window', notBefore: T0 + 3 * 3600 }])
  const twoHours = amendment(b0, 'two-hours', [{ type: 'window', expires: T0 + 2 * 3600 }])
  verify(
    `${A}/window-disjoint-expiry-amended`,
    'an amendment on block 0 ends the windows at T0 + 2 h; block 1’s own window starts at T0 + 3 h: located at the amendment, which set the expiry',
    formatMandate(laterSub),
    amendDeny('ERR_TIME_INVALID', { block: 0, caveat: 'window', caveatIndex: 0, amendment: twoHours.id }),
    { ...req('email:read'), revocations: { entries: [twoHours] } },
  )
  const fromThree = amendment(b0, 'from-three', [{ type: 'window', notBefore: T0 + 3 * 3600 }])
  const untilTwo = amendment(b1, 'until-two', [{ type: 'window', expires: T0 + 2 * 3600 }])
  verify(
    `${A}/window-disjoint-not-before-first`,
    'an amendment on block 0 starts the windows at T0 + 3 h, one on block 1 ends them at T0 + 2 h: located at the not-before’s',
    text,
    amendDeny('ERR_TIME_INVALID', { block: 0, caveat: 'window', caveatIndex: 0, amendment: fromThree.id }),
    { ...req('email:read'), revocations: { entries: [fromThree, untilTwo] } },
  )
  const hourRoot = mint({
    principal: keys.alice,
    name: 'bearer',
    caveats: [
      { type: 'actions', patterns: ['email:*'] },
      { type: 'window', expires: T0 + 3600 },
    ],
    now: T0,
    random: random(`${A}/hour`),
  })
  const longer = amendment(hourRoot.blocks[0]?.idHex as string, 'longer', [{ type: 'window', expires: T0 + 30 * DAY }])
  verify(
    `${A}/cannot-extend`,
    'an amendment on block 0 with a later expiry than the root’s own: the root’s expiry still decides, at its own caveat',
    formatMandate(hourRoot),
    amendDeny('ERR_TIME_EXPIRED', { block: 0, caveat: 'window', caveatIndex: 1, amendment: null }),
    { ...req('email:read'), now: T0 + 3600 + 60, revocations: { entries: [longer] } },
  )
  const maxRoot = mint({
    principal: keys.alice,
    name: 'bearer',
    caveats: [{ type: 'window', expires: T0 + 90 * DAY }],
    now: T0,
    random: random(`${A}/max`),
  })
  const wider = amendment(maxRoot.blocks[0]?.idHex as string, 'wider', [{ type: 'window', notBefore: T0 - 3600, expires: T0 + 91 * DAY }])
  verify(
    `${A}/root-lifetime-unaffected`,
    'a root of exactly the maximum lifetime (90 days); an amendment on block 0 whose window spans 91 days and an hour is not the root’s: allowed',
    formatMandate(maxRoot),
    { decision: 'allow' },
    { ...req('email:read'), revocations: { entries: [wider] } },
  )
  const tooLong = rawRoot([[4, new Map([[1, T0 + 90 * DAY + 1]])]], keys.subagent)
  const tooLongId = toHex(sha256(tooLong[1]))
  const shorter = amendment(tooLongId, 'shorter', [{ type: 'window', expires: T0 + 3600 }])
  verify(
    `${A}/root-lifetime-not-lent`,
    'a root lifetime of the maximum + 1 s, amended on block 0 to expire in an hour: the lifetime measures what the principal signed',
    rawBearer(tooLong, keys.subagent),
    amendDeny('ERR_TIME_INVALID', { block: 0, caveat: 'window', caveatIndex: 0, amendment: null }),
    { ...req('email:read'), revocations: { entries: [shorter] } },
  )
  const noExpiry = rawRoot([[1, ['email:*']]], keys.subagent)
  const expiring = amendment(toHex(sha256(noExpiry[1])), 'expiring', [{ type: 'window', expires: T0 + 3600 }])
  verify(
    `${A}/root-expiry-not-lent`,
    'a root without an expiry, amended on block 0 with one: the root still carries none',
    rawBearer(noExpiry, keys.subagent),
    amendDeny('ERR_TIME_INVALID', { block: 0, amendment: null }),
    { ...req('email:read'), revocations: { entries: [expiring] } },
  )

  // order: a block's own caveats before its amendments', block 0's amendments before block 1
  const narrowText = formatMandate(narrow)
  const calendar1 = amendment(narrow.blocks[1]?.idHex as string, 'calendar-1', [{ type: 'actions', patterns: ['calendar:*'] }])
  verify(
    `${A}/order-own-first`,
    'block 1’s own actions (email:read) and its amendment’s (calendar:*) both refuse email:draft: the block’s own is reported',
    narrowText,
    amendDeny('ERR_ACTION_DENIED', { block: 1, caveat: 'actions', caveatIndex: 0, amendment: null }),
    { ...req('email:draft'), revocations: { entries: [calendar1] } },
  )
  const calendar0 = amendment(b0, 'calendar-0', [{ type: 'actions', patterns: ['calendar:*'] }])
  verify(
    `${A}/order-block0-amendment-first`,
    'an amendment on block 0 (calendar:*) and block 1’s own actions (email:read) both refuse email:draft: block 0’s amendment is reported',
    narrowText,
    amendDeny('ERR_ACTION_DENIED', { block: 0, caveat: 'actions', caveatIndex: 0, amendment: calendar0.id }),
    { ...req('email:draft'), revocations: { entries: [calendar0] } },
  )
  const noSlack = amendment(b1, 'no-slack', [{ type: 'deny', patterns: ['slack:*'] }])
  verify(
    `${A}/deny-phase-first`,
    'block 0’s own actions refuse slack:read, and an amendment on block 1 denies slack:*: deny caveats are checked first',
    text,
    amendDeny('ERR_ACTION_DENIED', { block: 1, caveat: 'deny', caveatIndex: 0, amendment: noSlack.id }),
    { ...req('slack:read'), revocations: { entries: [noSlack] } },
  )
  const revokedToo = amendment(b1, 'revoked-too', [{ type: 'actions', patterns: ['calendar:*'] }])
  verify(
    `${A}/revocation-first`,
    'block 1 amended (calendar:* only) and revoked for email:*: step 8 (revocation) before step 9',
    text,
    amendDeny('ERR_REVOKED', { block: 1, amendment: null }),
    { ...req('email:read'), revocations: { entries: [revokedToo, { blockId: b1, kind: 'revoke', actions: ['email:*'] }] } },
  )

  // chain caveats: extension, bound, depth, audience
  const ext = amendment(b1, 'extension', [{ type: 'extension', code: 70000, body: 'geo:eu' }])
  verify(
    `${A}/extension-unknown`,
    'an amendment adds an extension caveat (type 70000) this verifier has no checker for',
    text,
    amendDeny('ERR_CAVEAT_UNKNOWN', { block: 1, caveat: 'extension', caveatIndex: 0, amendment: ext.id }),
    { ...req('email:read'), revocations: { entries: [ext] } },
  )
  verify(
    `${A}/extension-denied`,
    'the same, with a checker that says no',
    text,
    amendDeny('ERR_CAVEAT_DENIED', { block: 1, caveat: 'extension', caveatIndex: 0, amendment: ext.id }),
    { ...req('email:read'), revocations: { entries: [ext] }, extensions: { '70000': false } },
  )
  verify(
    `${A}/extension-allowed`,
    'the same, with a checker that says yes',
    text,
    { decision: 'allow' },
    {
      ...req('email:read'),
      revocations: { entries: [ext] },
      extensions: { '70000': true },
    },
  )
  const boundOn0 = amendment(b0, 'bound', [{ type: 'bound' }])
  verify(
    `${A}/bound`,
    'an amendment on block 0 requires bound holders below it: the sub-agent’s block is bearer',
    text,
    amendDeny('ERR_BOUND_REQUIRED', { block: 0, caveat: 'bound', caveatIndex: 0, amendment: boundOn0.id }),
    { ...req('email:read'), revocations: { entries: [boundOn0] } },
  )
  const depth0 = amendment(b0, 'depth', [{ type: 'depth', max: 0 }])
  verify(
    `${A}/depth`,
    'an amendment on block 0 allows no further block: the sub-agent’s block is one too many',
    text,
    amendDeny('ERR_CHAIN_DEPTH', { block: 0, caveat: 'depth', caveatIndex: 0, amendment: depth0.id }),
    { ...req('email:read'), revocations: { entries: [depth0] } },
  )
  const mailOnly = amendment(b1, 'audience', [{ type: 'audience', names: ['mail'] }])
  verify(
    `${A}/audience`,
    'an amendment on block 1 restricts it to the audience "mail"; this verifier is "svc"',
    text,
    amendDeny('ERR_AUDIENCE', { block: 1, caveat: 'audience', caveatIndex: 0, amendment: mailOnly.id }),
    { ...req('email:read'), revocations: { entries: [mailOnly] } },
  )

  // an entry the verifier cannot use is an unusable answer for its block; a stale view denies all
  const raw = (caveats: CborValue[]) => toHex(encodeCbor(caveats))
  const unusable: [string, string, { id: string; caveats: string }][] = [
    ['unusable-id-uppercase', 'an id in upper-case hex', { id: onlyRead.id.toUpperCase(), caveats: onlyRead.caveats }],
    ['unusable-id-short', 'an id of 63 hex digits', { id: onlyRead.id.slice(1), caveats: onlyRead.caveats }],
    ['unusable-empty', 'an empty caveat list', { id: onlyRead.id, caveats: raw([]) }],
    ['unusable-not-list', 'caveats that are a CBOR text, not a list', { id: onlyRead.id, caveats: toHex(encodeCbor('email:read')) }],
    [
      'unusable-not-cbor',
      'caveats that are not CBOR (a list with a byte left over)',
      { id: onlyRead.id, caveats: `${onlyRead.caveats}00` },
    ],
    ['unusable-malformed', 'a malformed caveat (uses with max 0)', { id: onlyRead.id, caveats: raw([[5, new Map([[0, 0]])]]) }],
    ['unusable-unknown-type', 'a caveat of the reserved type 11', { id: onlyRead.id, caveats: raw([[11, 'x']]) }],
    [
      'unusable-33-caveats',
      '33 caveats, one more than a statement may carry (each well-formed)',
      { id: onlyRead.id, caveats: raw(Array.from({ length: 33 }, () => [1, ['email:read']])) },
    ],
    [
      'unusable-window-inverted',
      'a window that ends before it starts (decodes, but does not encode)',
      {
        id: onlyRead.id,
        caveats: raw([
          [
            4,
            new Map([
              [0, NOW + 60],
              [1, NOW],
            ]),
          ],
        ]),
      },
    ],
  ]
  for (const [name, what, e] of unusable) {
    verify(
      `${A}/${name}`,
      `an amendment entry on block 1 with ${what}: the view’s answer for block 1 is unusable`,
      text,
      amendDeny('ERR_REVOCATION_STALE', { block: 1, amendment: null }),
      { ...req('email:read'), revocations: { entries: [{ blockId: b1, kind: 'amend', ...e }] } },
    )
  }
  verify(
    `${A}/stale-view`,
    'a view 31 s old holding an amendment: every request is denied, however the amendment reads',
    text,
    amendDeny('ERR_REVOCATION_STALE', { amendment: null }),
    { ...req('email:read'), revocations: { freshAt: NOW - 31, entries: [onlyRead] } },
  )
  verify(
    `${A}/fresh-view-edge`,
    'the same view 30 s old: fresh, and the amendment allows email:read',
    text,
    { decision: 'allow' },
    {
      ...req('email:read'),
      revocations: { freshAt: NOW - 30, entries: [onlyRead] },
    },
  )
}

// ---- library operations -------------------------------------------------------------------
operation('op/attenuate-sealed', 'attenuating a sealed mandate', { op: 'attenuate', token: formatMandate(seal(storySub)) }, 'ERR_SEALED')
operation(
  'op/attenuate-no-key',
  'attenuating a bound mandate without its key',
  { op: 'attenuate', token: formatMandate(story) },
  'ERR_HOLDER_MISMATCH',
)
operation(
  'op/invoke-wrong-key',
  'invoking with a key that is not the holder',
  { op: 'invoke', token: formatMandate(story), keySeed: toHex(seedOf('mallory')) },
  'ERR_HOLDER_MISMATCH',
)
operation(
  'op/key-format',
  'a did:key that is not Ed25519',
  { op: 'parsePublicKey', text: 'did:key:zQ3shokFTS3brHcDQrn82RUDfCZESWL1ZdCEJwekUDPQiYBme' },
  'ERR_KEY_FORMAT',
)
operation('op/key-weak', 'the identity point as a public key', { op: 'parsePublicKey', text: `01${'00'.repeat(31)}` }, 'ERR_KEY_WEAK')

// ---- resources and actions (#8) ----------------------------------------------------------
{
  /** A bearer sub-agent under Alice → assistant, restricted to `globs` in block 1. */
  const files = (id: string, globs: string[]) => formatMandate(subGrant(`res8/${id}`, [], [{ type: 'resources', globs }]))
  const at = (resource: string) => ({ request: { action: 'files:read', resource } })
  const RES = { block: 1, caveat: 'resources' }
  // glob semantics, both sides of each boundary
  const boundaries: [string, string, string, string, boolean][] = [
    ['glob/a-starstar-a', 'a/** matches a (** takes zero segments)', 'a/**', 'a', true],
    ['glob/a-starstar-ab', 'a/** does not match ab', 'a/**', 'ab', false],
    ['glob/a-starstar-abc', 'a/** matches a/b/c', 'a/**', 'a/b/c', true],
    ['glob/starstar-b-b', '**/b matches b', '**/b', 'b', true],
    ['glob/starstar-b-ab', '**/b does not match ab', '**/b', 'ab', false],
    ['glob/a-starstar-b-ab', 'a/**/b matches a/b', 'a/**/b', 'a/b', true],
    ['glob/a-starstar-b-axb', 'a/**/b does not match a/xb', 'a/**/b', 'a/xb', false],
    ['glob/star-a-a', '*a matches a (* matches the empty run)', '*a', 'a', true],
    ['glob/star-a-aa', '*a matches aa', '*a', 'aa', true],
    ['glob/star-a-ab', '*a does not match ab', '*a', 'ab', false],
    ['glob/a-star-a', 'a/* does not match a', 'a/*', 'a', false],
    ['glob/case', 'comparison by exact code points: Mail/** does not match mail/x', 'Mail/**', 'mail/x', false],
    ['glob/no-normalization', 'no Unicode normalization: café (U+00E9) does not match cafe + U+0301', 'caf\u00e9', 'cafe\u0301', false],
  ]
  for (const [id, title, glob, resource, allowed] of boundaries) {
    verify(`resource/${id}`, title, files(id, [glob]), allowed ? { decision: 'allow' } : deny('ERR_RESOURCE_DENIED', RES), at(resource))
  }
  // invalid request resources: ERR_REQUEST_INVALID at §7 step 6, before any caveat
  const mail = files('mail', ['mail/**'])
  verify('resource/valid', 'mail/** allows mail/x', mail, { decision: 'allow' }, at('mail/x'))
  const invalid: [string, string, string][] = [
    ['dotdot', 'a .. segment: mail/../x', 'mail/../x'],
    ['dotdot-escape', 'mail/../../etc/passwd', 'mail/../../etc/passwd'],
    ['dot', 'a . segment: mail/./x', 'mail/./x'],
    ['empty-segment', 'an empty segment: mail//x', 'mail//x'],
    ['trailing-slash', 'a trailing slash: mail/x/', 'mail/x/'],
    ['leading-slash', 'a leading slash: /mail', '/mail'],
    ['pct-dot', 'percent-encoded dots: mail/%2e%2e/x', 'mail/%2e%2e/x'],
    ['pct-slash', 'a percent-encoded slash, upper case: mail%2Fx', 'mail%2Fx'],
    ['pct-backslash', 'a percent-encoded backslash: mail%5cx', 'mail%5cx'],
    ['backslash', 'a backslash: mail\\x', 'mail\\x'],
    ['nul', 'a NUL character', 'mail/x\u0000'],
    ['c0-last', 'U+001F', 'mail/x\u001f'],
    ['del', 'U+007F', 'mail/x\u007f'],
    ['c1-nel', 'U+0085 (NEL, a C1 control)', 'mail/x\u0085'],
    ['c1-last', 'U+009F', 'mail/x\u009f'],
    ['too-long', '1025 bytes', `mail/${'x'.repeat(1020)}`],
    ['too-long-utf8', '1025 bytes of UTF-8 in 513 characters', `mail/${'é'.repeat(510)}`],
  ]
  for (const [id, title, resource] of invalid) verify(`resource/invalid-${id}`, title, mail, deny('ERR_REQUEST_INVALID'), at(resource))
  verify(
    'resource/invalid-no-caveat',
    'mail/../x is invalid without any resources caveat',
    formatMandate(storySub),
    deny('ERR_REQUEST_INVALID'),
    {
      request: { action: 'slack:read', resource: 'channels/../x' },
    },
  )
  // the other side of each character rule
  const fine: [string, string, string][] = [
    ['space', 'U+0020 is not a control character', 'mail/x y'],
    ['nbsp', 'U+00A0 is past the C1 range', 'mail/x\u00a0'],
    ['pct-other', '%20 and %2 are not refused', 'mail/%20%2'],
    ['dots-in-segment', '... and .x are segments, not dot segments', 'mail/.../.x'],
    ['max-length', '1024 bytes', `mail/${'x'.repeat(1019)}`],
    ['max-length-utf8', '1024 bytes of UTF-8 in 512 characters', `mail/${'é'.repeat(509)}a`],
  ]
  for (const [id, title, resource] of fine) verify(`resource/valid-${id}`, title, mail, { decision: 'allow' }, at(resource))
  // an invocation another implementation signed over an invalid resource or action
  const re = grant('res8/inv', [{ type: 'resources', globs: ['mail/**'] }])
  const resigned = (id: string, field: number, value: string) => {
    const payload = new Map(decodeCbor(asAssistant(re, id, 'email:read', { resource: 'mail/x' }).payload) as Map<number, CborValue>)
    payload.set(field, value)
    // Encoded past the 1024-byte text limit when asked to, as a careless implementation would.
    const bytes = encodeCbor(payload, { maxDepth: 8, maxEntries: 64, maxTextBytes: 2048, maxByteString: 16 * 1024 })
    return toText(
      'invocation',
      encodeCbor(concatBytes(getBackend().sign(keys.assistant.secretKey, signingInput('invocation', bytes)), bytes)),
    )
  }
  verify(
    'resource/invocation-ok',
    'an invocation on mail/x',
    formatInvocation(asAssistant(re, 'res8/ok', 'email:read', { resource: 'mail/x' })),
    {
      decision: 'allow',
    },
  )
  verify(
    'resource/invocation-dotdot',
    'a signed invocation on mail/../x',
    resigned('res8/dotdot', 3, 'mail/../x'),
    deny('ERR_REQUEST_INVALID'),
  )
  verify(
    'resource/invocation-1024',
    'an invocation on a resource of 1024 bytes',
    formatInvocation(asAssistant(re, 'res8/1024', 'email:read', { resource: `mail/${'x'.repeat(1019)}` })),
    { decision: 'allow' },
  )
  verify(
    'resource/invocation-1025',
    'an invocation on a resource of 1025 bytes: a text field over the §5.4 limit',
    resigned('res8/1025', 3, `mail/${'x'.repeat(1020)}`),
    deny('ERR_LIMIT_SIZE'),
  )
  verify(
    'action/invocation-uppercase',
    'a signed invocation of Email:read',
    resigned('res8/upper', 2, 'Email:read'),
    deny('ERR_REQUEST_INVALID'),
  )
  // a where glob rule on an argument holds only for a valid resource
  const path = subGrant('res8/where', [], [{ type: 'where', rules: [{ path: 'path', op: 'glob', value: 'mail/**' }] }])
  verify(
    'resource/where-glob-ok',
    'where path glob mail/**: mail/a',
    formatMandate(path),
    { decision: 'allow' },
    {
      request: { action: 'files:read', args: { path: 'mail/a' as never } },
    },
  )
  verify(
    'resource/where-glob-dotdot',
    'where path glob mail/**: mail/../a',
    formatMandate(path),
    deny('ERR_ARGS_DENIED', { block: 1, caveat: 'where' }),
    {
      request: { action: 'files:read', args: { path: 'mail/../a' as never } },
    },
  )
  // malformed globs in a caveat (signed by hand: the library refuses to build them)
  for (const [id, glob] of [
    ['dotdot', 'mail/../**'],
    ['empty', 'mail//*'],
    ['percent', 'mail/%2E/*'],
    ['starstar-in-segment', 'mail/a**'],
  ] as const) {
    verify(
      `resource/glob-invalid-${id}`,
      `a resources caveat with the glob ${glob}`,
      rawBearer(rawRoot([windowWire, [3, [glob]]], keys.subagent), keys.subagent),
      deny('ERR_CAVEAT_INVALID', { block: 0 }),
      at('mail/x'),
    )
  }

  // actions: lowercase only
  verify('action/uppercase', 'a request for Slack:read', formatMandate(storySub), deny('ERR_REQUEST_INVALID'), {
    request: { action: 'Slack:read' },
  })
  verify(
    'action/uppercase-pattern',
    'an actions caveat with the pattern Slack:*',
    rawBearer(rawRoot([windowWire, [1, ['Slack:*']]], keys.subagent), keys.subagent),
    deny('ERR_CAVEAT_INVALID', { block: 0 }),
    { request: read },
  )
  verify(
    'action/uppercase-deny',
    'a deny caveat with the pattern EMAIL:send',
    rawBearer(rawRoot([windowWire, [2, ['EMAIL:send']]], keys.subagent), keys.subagent),
    deny('ERR_CAVEAT_INVALID', { block: 0 }),
    { request: read },
  )
  // restricting lists cover descendants; allow-lists match exactly
  const dg = grant('act8/deny', [{ type: 'deny', patterns: ['email:send'] }])
  verify(
    'action/deny-descendant',
    'deny email:send denies email:send:now',
    formatInvocation(asAssistant(dg, 'act8/deny-now', 'email:send:now')),
    deny('ERR_ACTION_DENIED', { block: 0, caveat: 'deny' }),
  )
  verify(
    'action/deny-sibling',
    'deny email:send does not deny email:sender',
    formatInvocation(asAssistant(dg, 'act8/deny-sender', 'email:sender')),
    { decision: 'allow' },
  )
  verify('action/deny-parent', 'deny email:send does not deny email', formatInvocation(asAssistant(dg, 'act8/deny-parent', 'email')), {
    decision: 'allow',
  })
  const ag = grant('act8/allow', [{ type: 'actions', patterns: ['email:send'] }])
  verify('action/allow-exact', 'actions [email:send] allows email:send', formatInvocation(asAssistant(ag, 'act8/allow', 'email:send')), {
    decision: 'allow',
  })
  verify(
    'action/allow-no-descendant',
    'actions [email:send] does not allow email:send:now',
    formatInvocation(asAssistant(ag, 'act8/allow-now', 'email:send:now')),
    deny('ERR_ACTION_DENIED', { block: 0, caveat: 'actions' }),
  )
  const apg = grant('act8/approval', [{ type: 'approval', actions: ['email:send'], approvers: [did('bob')], quorum: 1 }])
  const now8 = asAssistant(apg, 'act8/approval-now', 'email:send:now')
  verify(
    'action/approval-descendant',
    'an approval required for email:send is required for email:send:now',
    formatInvocation(now8),
    deny('ERR_APPROVAL_REQUIRED', { block: 0, caveat: 'approval' }),
  )
  verify(
    'action/approval-descendant-approved',
    'email:send:now with the approval',
    formatInvocation(now8),
    { decision: 'allow' },
    { approvals: [formatApproval(approve({ approver: keys.bob, invocation: now8, now: NOW }))] },
  )
  verify(
    'action/approval-sibling',
    'an approval for email:send is not required for email:sender',
    formatInvocation(asAssistant(apg, 'act8/approval-sender', 'email:sender')),
    { decision: 'allow' },
  )
  const revoked8 = subGrant('act8/revoke', [], [])
  const sub8 = formatMandate(revoked8)
  const rb8 = revoked8.blocks[0]?.idHex as string
  verify(
    'revocation/scoped-descendant',
    'a scoped revocation of email:send covers email:send:now',
    sub8,
    deny('ERR_REVOKED', { block: 0 }),
    {
      request: { action: 'email:send:now' },
      revocations: { entries: [{ blockId: rb8, kind: 'revoke', actions: ['email:send'] }] },
    },
  )
  verify(
    'revocation/scoped-sibling',
    'a scoped revocation of email:send does not cover email:sender',
    sub8,
    { decision: 'allow' },
    {
      request: { action: 'email:sender' },
      revocations: { entries: [{ blockId: rb8, kind: 'revoke', actions: ['email:send'] }] },
    },
  )
  verify(
    'revocation/scoped-suspend-descendant',
    'a scoped suspension of email:send covers email:send:now',
    sub8,
    deny('ERR_SUSPENDED', { block: 0 }),
    { request: { action: 'email:send:now' }, revocations: { entries: [{ blockId: rb8, kind: 'suspend', actions: ['email:send'] }] } },
  )
}

// ---- write or check -----------------------------------------------------------------------
/** Codes no vector can show: raised only by service clients (feed, shared replay store), or never expected. */

// ---- time (#8) ----------------------------------------------------------------------------
// σ = 60 (the default). Boundaries of not-before and expiry: time/not-yet, time/nbf-edge,
// time/exp-edge, time/expired above.
{
  const DAY = 86_400
  const H = 3600
  /** Alice → assistant (bound, issued T0) → sub-agent (bearer) issued at `issuedAt`. */
  const childAt = (id: string, issuedAt: number, caveats: Caveat[] = [], rootCaveats: Caveat[] = []) =>
    attenuate(grant(id, rootCaveats), { key: keys.assistant, name: 'sub-agent', caveats, now: issuedAt, random: random(`${id}/sub`) })
  /** Alice → bearer, issued at `now`, with exactly `caveats`. */
  const rootAt = (id: string, now: number, caveats: Caveat[]) =>
    formatMandate(mint({ principal: keys.alice, name: 'bearer', caveats, now, random: random(`${id}/bearer`) }))
  const windowAt = (expires: number, notBefore?: number): CborValue => [
    4,
    new Map(
      notBefore === undefined
        ? [[1, expires]]
        : [
            [0, notBefore],
            [1, expires],
          ],
    ),
  ]

  // 1. issued_at ≤ now + σ, at the first such block; a child older than its parent is fine
  const atT0 = formatMandate(childAt('time8/issued', T0))
  verify('time/issued-edge', 'blocks issued exactly now + skew', atT0, { decision: 'allow' }, { request: read, now: T0 - 60 }, 'K7')
  verify(
    'time/issued-future',
    'blocks issued one second after now + skew: the root is reported, without a caveat',
    atT0,
    deny('ERR_TIME_INVALID', { block: 0 }),
    { request: read, now: T0 - 61 },
    'K7',
  )
  const childLater = formatMandate(childAt('time8/issued-child', T0 + 1000))
  verify(
    'time/issued-child-edge',
    'a child issued exactly now + skew',
    childLater,
    { decision: 'allow' },
    { request: read, now: T0 + 1000 - 60 },
    'K7',
  )
  verify(
    'time/issued-child-future',
    'a child issued one second after now + skew',
    childLater,
    deny('ERR_TIME_INVALID', { block: 1 }),
    { request: read, now: T0 + 1000 - 61 },
    'K7',
  )
  verify(
    'time/issued-child-before-parent',
    'a child issued an hour before its parent is not an error (clocks differ)',
    formatMandate(childAt('time8/older-child', T0 - H)),
    { decision: 'allow' },
    { request: read },
    'K7',
  )

  // 2. the root lifetime, from max(issued_at, not-before); a future issued_at cannot stretch it
  verify(
    'time/root-issued-future-long',
    'a root issued 100 days ahead with a 200-day window',
    rawBearer(rawRoot([windowAt(NOW + 300 * DAY)], keys.subagent, { issuedAt: NOW + 100 * DAY }), keys.subagent),
    deny('ERR_TIME_INVALID', { block: 0 }),
    { request: read },
    'K7',
  )
  verify(
    'time/root-issued-future-stretch',
    'issued_at now + 110 days, expires now + 200 days: a 90-day lifetime, but usable from now for 200 days',
    rootAt('time8/stretch', NOW + 110 * DAY, [{ type: 'window', expires: NOW + 200 * DAY }]),
    deny('ERR_TIME_INVALID', { block: 0 }),
    { request: read },
    'K7',
  )
  verify(
    'time/lifetime-max',
    'a root lifetime of exactly the maximum (90 days)',
    rootAt('time8/lifetime-max', T0, [{ type: 'window', expires: T0 + 90 * DAY }]),
    { decision: 'allow' },
    { request: read },
    'K7',
  )
  verify(
    'time/lifetime-over',
    'a root lifetime of the maximum + 1 s',
    rawBearer(rawRoot([windowAt(T0 + 90 * DAY + 1)], keys.subagent), keys.subagent),
    deny('ERR_TIME_INVALID', { block: 0, caveat: 'window' }),
    { request: read },
    'K7',
  )
  verify(
    'time/lifetime-from-not-before',
    'the lifetime counts from a not-before later than issued_at',
    rootAt('time8/lifetime-nbf', T0, [{ type: 'window', notBefore: T0 + 10 * DAY, expires: T0 + 100 * DAY }]),
    { decision: 'allow' },
    { request: read, now: T0 + 10 * DAY },
    'K7',
  )

  // 3. inverted windows first, then the intersection, at the window that empties it
  verify(
    'time/disjoint-child',
    "a child window that starts after its parent's ends: reported at the child",
    formatMandate(childAt('time8/disjoint', T0, [{ type: 'window', notBefore: T0 + 9 * H, expires: T0 + 10 * H }])),
    deny('ERR_TIME_INVALID', { block: 1, caveat: 'window' }),
    { request: read },
    'K7',
  )
  verify(
    'time/disjoint-child-expiry',
    "a child expiry before its parent's not-before: reported at the child, not at the latest not-before",
    formatMandate(childAt('time8/disjoint-exp', T0, [{ type: 'window', expires: T0 + 500 }], [{ type: 'window', notBefore: T0 + 1000 }])),
    deny('ERR_TIME_INVALID', { block: 1, caveat: 'window' }),
    { request: read },
    'K7',
  )
  verify(
    'time/disjoint-within-root',
    'two root windows that do not overlap',
    rootAt('time8/disjoint-root', T0, [
      { type: 'window', notBefore: T0 + 9 * H },
      { type: 'window', expires: T0 + 8 * H },
    ]),
    deny('ERR_TIME_INVALID', { block: 0, caveat: 'window' }),
    { request: read },
    'K7',
  )
  const disjoint = childAt('time8/inverted-late', T0, [{ type: 'window', notBefore: T0 + 9 * H, expires: T0 + 10 * H }])
  const last = disjoint.blocks[1]
  if (!last || disjoint.proof.kind !== 'bearer') throw new Error('time8/inverted-late: a bearer child is needed')
  const invertedBlock = signRaw(
    blockFields(keys.subagent.publicKey, [windowAt(T0 + 4 * H, T0 + 5 * H)]),
    keyPairFromSecret(disjoint.proof.secret),
    last.id,
  )
  verify(
    'time/inverted-before-disjoint',
    'an inverted window in block 2 is reported before the empty intersection made by block 1',
    rawMandate([...pairsOf(disjoint), invertedBlock], keys.subagent.secretKey),
    deny('ERR_TIME_INVALID', { block: 2, caveat: 'window' }),
    { request: read },
    'K7',
  )

  // 4. not yet at the latest not-before, expired at the earliest expiry; ties: the earlier block
  const nbf = (id: string, root: number, child: number) =>
    formatMandate(childAt(id, T0, [{ type: 'window', notBefore: child }], [{ type: 'window', notBefore: root }]))
  verify(
    'time/not-yet-latest',
    'two not-befores in the future: the later one (the child) is reported',
    nbf('time8/nbf-latest', T0 + 1000, T0 + 2000),
    deny('ERR_TIME_NOT_YET', { block: 1, caveat: 'window' }),
    { request: read, now: T0 + 500 },
    'K8',
  )
  verify(
    'time/not-yet-tie',
    'the same not-before in two blocks: the earlier block is reported',
    nbf('time8/nbf-tie', T0 + 2000, T0 + 2000),
    deny('ERR_TIME_NOT_YET', { block: 0, caveat: 'window' }),
    { request: read, now: T0 + 500 },
    'K8',
  )
  verify(
    'time/expired-earliest',
    'two blocks expired: the earlier expiry (the child) is reported',
    formatMandate(childAt('time8/exp-earliest', T0, [{ type: 'window', expires: T0 + 4 * H }])),
    deny('ERR_TIME_EXPIRED', { block: 1, caveat: 'window' }),
    { request: read, now: T0 + 9 * H },
    'K8',
  )
  verify(
    'time/expired-tie',
    'two blocks expired at the same time: the earlier block is reported',
    formatMandate(childAt('time8/exp-tie', T0, [{ type: 'window', expires: T0 + 8 * H }])),
    deny('ERR_TIME_EXPIRED', { block: 0, caveat: 'window' }),
    { request: read, now: T0 + 9 * H },
    'K8',
  )
}

// ---- holder modes and state (#8) ----------------------------------------------------------
// A bound caveat in block k covers blocks k..n−1, its own included, and needs an invocation
// (spec §6 bound); only a bearer mandate can be sealed (§3, §7 step 7); counter keys have one
// spelling (§6 uses).
{
  const boundWire: CborValue = [10]
  /** A bearer holder (the sub-agent) in block 1 below `root`, carrying `caveats`, signed by the assistant. */
  const bearerChildRaw = (root: UnverifiedMandate, caveats: CborValue[]): Pair =>
    signRaw(blockFields(keys.subagent.publicKey, caveats), keys.assistant, root.blocks[0]?.id)
  const bySubagent = (text: string, id: string) =>
    formatInvocation(invoke(parseMandate(text), { action: 'slack:read', audience: 'svc', now: NOW, random: random(`${id}/inv`) }))
  const BOUND0 = { block: 0, caveat: 'bound' }

  // the caveat covers its own block: block 1 carries it and names a bearer
  const plain = grant('h8/plain', [])
  const ownBlock = rawMandate([pairsOf(plain)[0] as Pair, bearerChildRaw(plain, [boundWire])], keys.subagent.secretKey)
  verify(
    'holder/bound-own-block-bare',
    'block 1 carries a bound caveat but names a bearer holder; presented bare',
    ownBlock,
    deny('ERR_BOUND_REQUIRED', { block: 1, caveat: 'bound' }),
    { request: read },
  )
  verify(
    'holder/bound-own-block-invocation',
    'block 1 carries a bound caveat but names a bearer holder; an invocation signed with its secret',
    bySubagent(ownBlock, 'h8/own'),
    deny('ERR_BOUND_REQUIRED', { block: 1, caveat: 'bound' }),
  )
  verify(
    'holder/bound-root-bearer',
    'the root carries a bound caveat and names a bearer holder',
    rawBearer(rawRoot([windowWire, boundWire], keys.subagent), keys.subagent),
    deny('ERR_BOUND_REQUIRED', BOUND0),
    { request: read },
  )

  // the block after it names a bearer: denied even when that bearer signs an invocation
  const boundRoot = grant('h8/bound', [{ type: 'bound' }])
  const bearerNext = rawMandate([pairsOf(boundRoot)[0] as Pair, bearerChildRaw(boundRoot, [])], keys.subagent.secretKey)
  verify(
    'holder/bound-next-bearer-invocation',
    'a bearer holder in the block after a bound caveat signs an invocation',
    bySubagent(bearerNext, 'h8/next'),
    deny('ERR_BOUND_REQUIRED', BOUND0),
  )
  verify(
    'holder/bound-next-bearer-sealed',
    'a bearer holder in the block after a bound caveat presents a sealed mandate',
    formatMandate(seal(parseMandate(bearerNext))),
    deny('ERR_BOUND_REQUIRED', BOUND0),
    { request: read },
  )

  // bound everywhere from k on, with an invocation by the last holder: allowed
  const toBob = attenuate(boundRoot, { key: keys.assistant, to: did('bob'), name: 'bob', now: T0, random: random('h8/bob') })
  verify(
    'holder/bound-chain-invocation',
    'bound holders in blocks 0 and 1 below a bound caveat; the last one signs an invocation',
    formatInvocation(invoke(toBob, { key: keys.bob, action: 'slack:read', audience: 'svc', now: NOW, random: random('h8/bob/inv') })),
    { decision: 'allow', chain: ['alice', 'assistant', 'bob'] },
  )
  const aboveBearer = attenuate(bearerRoot('h8/above', []), {
    to: did('assistant'),
    name: 'assistant',
    caveats: [{ type: 'bound' }],
    now: T0,
    random: random('h8/above/sub'),
  })
  verify(
    'holder/bound-below-bearer-root',
    'a bound caveat in block 1 does not reach block 0, which names a bearer',
    formatInvocation(asAssistant(aboveBearer, 'h8/above', 'slack:read')),
    { decision: 'allow', chain: ['alice', 'bearer', 'assistant'] },
  )

  // bound everywhere, presented bare: the holder proof fails first
  verify(
    'holder/bound-bare',
    'a bound chain under a bound caveat presented bare',
    formatMandate(boundRoot),
    deny('ERR_PROOF', { block: 0 }),
    { request: read },
  )

  // a seal over a bound holder is not a holder proof, with or without a bound caveat
  const sealBy = (m: UnverifiedMandate, key: KeyPair) =>
    getBackend().sign(key.secretKey, signingInput('seal', m.blocks[m.blocks.length - 1]?.id as Uint8Array))
  verify(
    'holder/sealed-bound',
    'a bound mandate with a valid seal by its holder',
    rawMandate(pairsOf(story), sealBy(story, keys.assistant)),
    deny('ERR_PROOF', { block: 0 }),
    { request: read },
  )
  verify(
    'holder/sealed-bound-caveat',
    'a bound mandate under a bound caveat with a valid seal by its holder',
    rawMandate(pairsOf(boundRoot), sealBy(boundRoot, keys.assistant)),
    deny('ERR_PROOF', { block: 0 }),
    { request: read },
  )
  // which code a failing seal or bearer secret gives (spec §7 step 7): the profile's code for a
  // malformed seal, ERR_PROOF for one that fails only the equation
  {
    const sealed = seal(storySub).proof
    const good = sealed.kind === 'sealed' ? sealed.signature : new Uint8Array(64)
    const s = bytesToNumberLE(good.subarray(32)) + L
    verify(
      'holder/seal-s-unreduced',
      'a seal whose S is not reduced (S + L)',
      rawMandate(pairsOf(storySub), concatBytes(good.subarray(0, 32), le32(s))),
      deny('ERR_SIG_SCALAR', { block: 1 }),
      { request: read },
    )
    verify(
      'holder/seal-wrong-key',
      'a well-formed seal by a key other than the last holder’s (fails the equation)',
      rawMandate(pairsOf(storySub), sealBy(storySub, keys.assistant)),
      deny('ERR_PROOF', { block: 1 }),
      { request: read },
    )
    const identity = new Uint8Array(32)
    identity[0] = 1
    const idRoot = signRaw(blockFields(identity, [windowWire]), keys.alice)
    verify(
      'holder/bearer-identity-holder',
      'a bearer secret for a chain whose last holder key is the identity point',
      rawMandate([idRoot], keys.subagent.secretKey),
      deny('ERR_PROOF', { block: 0 }),
      { request: read },
    )
    verify(
      'holder/seal-identity-holder',
      'a seal over a chain whose last holder key is the identity point (small order)',
      rawMandate([idRoot], getBackend().sign(keys.subagent.secretKey, signingInput('seal', sha256(idRoot[1])))),
      deny('ERR_KEY_WEAK', { block: 0 }),
      { request: read },
    )
  }
  operation('op/seal-bound', 'sealing a bound mandate', { op: 'seal', token: formatMandate(story) }, 'ERR_PROOF')
  operation('op/seal-sealed', 'sealing a sealed mandate', { op: 'seal', token: formatMandate(seal(storySub)) }, 'ERR_SEALED')
  operation(
    'op/attenuate-below-bound',
    'attenuating below a bound caveat without naming a bound holder',
    { op: 'attenuate', token: formatMandate(boundRoot), keySeed: toHex(seedOf('assistant')) },
    'ERR_BOUND_REQUIRED',
  )

  // counter keys: 64 lower-case hex digits, "/", the caveat index in decimal without leading zeros
  const sub = formatMandate(storySub)
  const id1 = storySub.blocks[1]?.idHex as string
  verify(
    'state/counter-key-upper-hex',
    'three uses counted under the block id in upper-case hex: another counter',
    sub,
    { decision: 'allow' },
    { request: read, usage: { [`${id1.toUpperCase()}/1`]: 3 } },
  )
  verify(
    'state/counter-key-leading-zero',
    'three uses counted under caveat index "01": another counter',
    sub,
    { decision: 'allow' },
    { request: read, usage: { [`${id1}/01`]: 3 } },
  )
  const filler: Caveat[] = Array.from({ length: 10 }, () => ({ type: 'actions', patterns: ['slack:read'] }))
  const tenth = subGrant('h8/tenth', [], [...filler, { type: 'uses', max: 1 }])
  const id10 = tenth.blocks[1]?.idHex as string
  verify(
    'state/counter-key-decimal',
    'a uses caveat at index 10: its key ends in "/10"',
    formatMandate(tenth),
    deny('ERR_USAGE_EXHAUSTED', { block: 1, caveat: 'uses' }),
    { request: read, usage: { [`${id10}/10`]: 1 } },
  )
  verify(
    'state/counter-key-not-hex-index',
    'one use counted under "/a" (the index in hexadecimal): another counter',
    formatMandate(tenth),
    { decision: 'allow' },
    { request: read, usage: { [`${id10}/a`]: 1 } },
  )
}

// ---- limits and arguments (#8) -----------------------------------------------------------
{
  const ARGS = { block: 1, caveat: 'where' }
  /** A bearer sub-agent under Alice → assistant, with `caveats` in block 1. */
  const sub = (id: string, caveats: Caveat[]) => formatMandate(subGrant(`args8/${id}`, [], caveats))
  const plain = sub('plain', [])
  const bare = (args: unknown) => ({ request: { action: 'x:y', args: args as Record<string, never> } })
  /** Argument values nested n lists / n objects (each under key "k") deep around 1. */
  const lists = (n: number): unknown => (n === 0 ? 1 : [lists(n - 1)])
  const objects = (n: number): unknown => (n === 0 ? 1 : { k: objects(n - 1) })
  const wireLists = (n: number): CborValue => (n === 0 ? 1 : [wireLists(n - 1)])
  const wireObjects = (n: number): CborValue => (n === 0 ? 1 : new Map([[0, [['k', wireObjects(n - 1)]]]]))
  /** An invocation over a grant (bound to the assistant) whose payload key 4 is `args` exactly, signed by the assistant. */
  const inv8 = grant('args8/inv', [])
  const invokedWith = (id: string, args: CborValue | undefined) => {
    const payload = new Map(decodeCbor(asAssistant(inv8, `args8/${id}`, 'x:y').payload) as Map<number, CborValue>)
    if (args === undefined) payload.delete(4)
    else payload.set(4, args)
    const bytes = encodeCbor(payload)
    return toText(
      'invocation',
      encodeCbor(concatBytes(getBackend().sign(keys.assistant.secretKey, signingInput('invocation', bytes)), bytes)),
    )
  }
  /** A bearer root (holder: sub-agent) with one hand-written where caveat: rules as given. */
  const rawWhere = (rules: CborValue[], limits?: { maxDepth: number }) => {
    const payload = blockFields(keys.subagent.publicKey, [windowWire, [7, new Map([[1, rules]])]])
    const bytes = limits
      ? encodeCbor(payload, { maxDepth: limits.maxDepth, maxEntries: 64, maxTextBytes: 1024, maxByteString: 16 * 1024 })
      : encodeCbor(payload)
    return rawBearer([bytes, getBackend().sign(keys.alice.secretKey, blockSigningInput(undefined, bytes))], keys.subagent)
  }

  // 1. argument depth: the arguments object is 1, each list or object adds 1, at most 4
  for (const [shape, nest, wire] of [
    ['lists', lists, wireLists],
    ['objects', objects, wireObjects],
  ] as const) {
    verify(
      `args/depth-4-${shape}-bare`,
      `a bare request whose arguments reach depth 4 through ${shape}`,
      plain,
      { decision: 'allow' },
      bare({ a: nest(3) }),
    )
    verify(
      `args/depth-5-${shape}-bare`,
      `a bare request whose arguments reach depth 5 through ${shape}`,
      plain,
      deny('ERR_REQUEST_INVALID'),
      bare({ a: nest(4) }),
    )
    verify(
      `args/depth-4-${shape}-invocation`,
      `an invocation whose arguments reach depth 4 through ${shape}`,
      invokedWith(`d4-${shape}`, [['a', wire(3)]]),
      { decision: 'allow' },
    )
    verify(
      `args/depth-5-${shape}-invocation`,
      `an invocation whose arguments reach depth 5 through ${shape}`,
      invokedWith(`d5-${shape}`, [['a', wire(4)]]),
      deny('ERR_LIMIT_DEPTH'),
    )
  }
  verify(
    'args/depth-4-mixed-invocation',
    'an invocation with objects and lists to depth 4 in two branches (CBOR levels up to 12 of 16)',
    invokedWith('d4-mixed', [
      [
        'a',
        new Map([
          [
            0,
            [
              ['k', wireObjects(2)],
              ['l', wireLists(2)],
            ],
          ],
        ]),
      ],
      ['b', wireLists(3)],
    ]),
    { decision: 'allow' },
  )
  // a where operand that is a list or object has depth 2
  verify(
    'args/operand-depth-4',
    'a where eq operand [[[1]]] (depth 4) against an equal argument',
    sub('op-d4', [{ type: 'where', rules: [{ path: 'a', op: 'eq', value: [[[1]]] }] }]),
    { decision: 'allow' },
    bare({ a: [[[1]]] }),
  )
  verify(
    'args/operand-depth-5-lists',
    'a where operand [[[[1]]]] (depth 5)',
    rawWhere([['a', 0, wireLists(4)]]),
    deny('ERR_CAVEAT_INVALID', { block: 0 }),
    bare({ a: 1 }),
  )
  verify(
    'args/operand-depth-5-objects',
    'a where operand of four nested objects: CBOR level 17 of the block payload, refused at §7 step 2',
    rawWhere([['a', 0, wireObjects(4)]], { maxDepth: 32 }),
    deny('ERR_LIMIT_DEPTH'),
    bare({ a: 1 }),
  )

  // 2. where paths
  const pathArgs = bare({ list: [10, 11], obj: { '01': 1, 'a.b': 2 }, 'x.y': 1, s: 'text' })
  const pathRule = (id: string, path: string, value: number | string) =>
    sub(`path-${id}`, [{ type: 'where', rules: [{ path, op: 'eq', value }] }])
  for (const [id, path, value, ok, title] of [
    ['index', 'list.1', 11, true, 'list.1 addresses the second element'],
    ['index-zero', 'list.0', 10, true, 'list.0 addresses the first element'],
    ['index-past-end', 'list.2', 1, false, 'list.2 is past the end: missing'],
    ['index-leading-zero', 'list.01', 11, false, 'list.01 addresses no element (leading zero)'],
    ['index-negative', 'list.-1', 11, false, 'list.-1 addresses no element (sign)'],
    ['index-plus', 'list.+1', 11, false, 'list.+1 addresses no element (sign)'],
    ['into-scalar', 'list.1.0', 1, false, 'list.1.0 steps into an integer: missing'],
    ['object-key-digits', 'obj.01', 1, true, 'on an object a segment is the key verbatim: obj.01 names key "01"'],
    ['dotted-key', 'x.y', 1, false, 'x.y names key x then y; the key "x.y" cannot be addressed'],
    ['dotted-key-nested', 'obj.a.b', 2, false, 'obj.a.b names obj, a, b; the key "a.b" cannot be addressed'],
    ['text-index', 's.0', 't', false, 'text is not a list: s.0 is missing'],
    ['missing', 'nope', 1, false, 'a rule on a missing argument fails'],
  ] as const) {
    verify(`where/path-${id}`, title, pathRule(id, path, value), ok ? { decision: 'allow' } : deny('ERR_ARGS_DENIED', ARGS), pathArgs)
  }
  for (const [id, path] of [
    ['empty', ''],
    ['empty-segment', 'a..b'],
    ['leading-dot', '.a'],
    ['trailing-dot', 'a.'],
  ] as const) {
    verify(
      `where/path-invalid-${id}`,
      `a where rule on the path ${JSON.stringify(path)}`,
      rawWhere([[path, 0, 1]]),
      deny('ERR_CAVEAT_INVALID', { block: 0 }),
      bare({ a: 1 }),
    )
  }

  // 3. operand types: wrong in the caveat → ERR_CAVEAT_INVALID; wrong argument type → the rule fails
  for (const [id, op, operand, title] of [
    ['lt-text', 2, '5', 'lt with a text operand'],
    ['ge-bool', 5, true, 'ge with a boolean operand'],
    ['le-list', 3, [5], 'le with a list operand'],
    ['in-scalar', 6, 1, 'in with an integer operand'],
    ['not-in-object', 7, new Map([[0, [['k', 1]]]]), 'not_in with an object operand'],
    ['prefix-int', 8, 1, 'prefix with an integer operand'],
    ['glob-list', 9, ['mail/**'], 'glob with a list operand'],
    ['glob-bad', 9, 'mail/../**', 'glob with an invalid glob'],
    ['op-10', 10, 1, 'operator 10 (undefined)'],
    ['op-text', 'eq', 1, 'an operator given as text'],
    // a badly encoded operand (§5.6 rules above strict CBOR) is also a malformed caveat
    [
      'object-keys-unsorted',
      0,
      new Map([
        [
          0,
          [
            ['b', 1],
            ['a', 1],
          ],
        ],
      ]),
      'eq with an object operand whose keys descend',
    ],
    [
      'object-keys-dup',
      0,
      new Map([
        [
          0,
          [
            ['a', 1],
            ['a', 2],
          ],
        ],
      ]),
      'eq with an object operand with a duplicate key',
    ],
    [
      'object-extra-key',
      0,
      new Map<number, CborValue>([
        [0, [['a', 1]]],
        [1, 1],
      ]),
      'eq with an object operand {0: pairs, 1: 1}',
    ],
    ['bytes', 0, new Uint8Array([1]), 'eq with a byte string operand'],
  ] as [string, CborValue, CborValue, string][]) {
    verify(`where/operand-invalid-${id}`, title, rawWhere([['a', op, operand]]), deny('ERR_CAVEAT_INVALID', { block: 0 }), bare({ a: 1 }))
  }
  for (const [id, op, value, arg, ok, title] of [
    ['lt-on-text', 'lt', 5, '4', false, 'lt 5 on "4": integers only'],
    ['lt-on-bool', 'lt', 5, true, false, 'lt 5 on true'],
    ['ge-on-list', 'ge', 5, [5], false, 'ge 5 on [5]'],
    ['lt-on-int', 'lt', 5, 4, true, 'lt 5 on 4'],
    ['prefix-on-int', 'prefix', 'ab', 1, false, 'prefix "ab" on 1'],
    ['prefix-on-text', 'prefix', 'ab', 'abc', true, 'prefix "ab" on "abc"'],
    ['prefix-empty', 'prefix', '', 'x', true, 'prefix "" holds for any text'],
    ['prefix-empty-on-int', 'prefix', '', 0, false, 'prefix "" on 0'],
    ['glob-on-list', 'glob', 'mail/**', ['mail/a'], false, 'glob mail/** on ["mail/a"]'],
    ['eq-int-text', 'eq', 1, '1', false, 'eq 1 on "1": type-strict'],
    ['eq-int-bool', 'eq', 1, true, false, 'eq 1 on true'],
    ['eq-list-object', 'eq', [], {}, false, 'eq [] on {}'],
    ['eq-list', 'eq', [1, 'a'], [1, 'a'], true, 'eq [1, "a"] on [1, "a"]'],
    ['ne-int-text', 'ne', 1, '1', true, 'ne 1 on "1": another type is not equal'],
    ['in-int-text', 'in', [1, 2], '1', false, 'in [1, 2] on "1"'],
    ['in-empty', 'in', [], 1, false, 'in [] holds for nothing'],
    ['not-in-int-text', 'not_in', [1, 2], '1', true, 'not_in [1, 2] on "1"'],
    ['not-in-empty', 'not_in', [], 1, true, 'not_in [] holds for any present argument'],
  ] as const) {
    verify(
      `where/type-${id}`,
      title,
      sub(`type-${id}`, [{ type: 'where', rules: [{ path: 'a', op, value: value as never }] }]),
      ok ? { decision: 'allow' } : deny('ERR_ARGS_DENIED', ARGS),
      bare({ a: arg }),
    )
  }

  // 4. empty arguments
  const present = sub('present', [{ type: 'where', rules: [{ path: 'a', op: 'ne', value: 0 }] }])
  verify('args/empty-absent', 'a bare request without args', plain, { decision: 'allow' }, { request: { action: 'x:y' } })
  verify('args/empty-object', 'a bare request with args {} (the same as none)', plain, { decision: 'allow' }, bare({}))
  verify('args/null', 'a bare request with args null', plain, deny('ERR_REQUEST_INVALID'), bare(null))
  verify('args/list', 'a bare request with args []', plain, deny('ERR_REQUEST_INVALID'), bare([]))
  verify('args/empty-missing', 'a ne rule on a with args {}: a is missing', present, deny('ERR_ARGS_DENIED', ARGS), bare({}))
  verify('args/empty-list-present', 'a ne rule on a with a = []: present', present, { decision: 'allow' }, bare({ a: [] }))
  verify('args/empty-object-present', 'a ne rule on a with a = {}: present', present, { decision: 'allow' }, bare({ a: {} }))
  verify(
    'args/empty-object-not-list',
    'ne [] on {}: an empty object is not an empty list',
    sub('obj-not-list', [{ type: 'where', rules: [{ path: 'a', op: 'ne', value: [] }] }]),
    { decision: 'allow' },
    bare({ a: {} }),
  )
  verify('args/invocation-absent', 'an invocation without key 4', invokedWith('absent', undefined), { decision: 'allow' })
  verify(
    'args/invocation-empty-list',
    'an invocation with key 4 = [] (empty args must be omitted)',
    invokedWith('empty', []),
    deny('ERR_CBOR_NONCANONICAL'),
  )
  verify(
    'args/invocation-empty-values',
    'an invocation with a = [] and b = {0: []} (the empty object)',
    invokedWith('empty-values', [
      ['a', []],
      ['b', new Map([[0, []]])],
    ]),
    {
      decision: 'allow',
    },
  )
  // within one value: a byte string first, then the depth of a list or map, then an object's shape
  const deep = (inner: CborValue): CborValue => [['a', [[[inner]]]]]
  verify(
    'args/invocation-bytes-at-depth-5',
    'an invocation with a byte string where depth 5 would be: a byte string is no argument value, whatever its depth',
    invokedWith('bytes-deep', deep(new Uint8Array([1]))),
    deny('ERR_FORMAT'),
  )
  verify(
    'args/invocation-bad-object-at-depth-5',
    'an invocation with a map {1: 1} at depth 5: the depth is decided before the object shape is read',
    invokedWith('bad-object-deep', deep(new Map([[1, 1]]))),
    deny('ERR_LIMIT_DEPTH'),
  )
  verify(
    'args/invocation-bad-object-at-depth-4',
    'an invocation with a map {1: 1} at depth 4: not an object',
    invokedWith('bad-object-4', [['a', [[new Map([[1, 1]])]]]]),
    deny('ERR_FORMAT'),
  )
  verify(
    'args/invocation-empty-map',
    'an invocation with a = {} (an object is {0: pairs})',
    invokedWith('empty-map', [['a', new Map()]]),
    deny('ERR_FORMAT'),
  )
  verify(
    'args/invocation-object-top',
    'an invocation with key 4 = {0: pairs} (the top level is the bare pair list)',
    invokedWith('object-top', new Map([[0, [['a', 1]]]])),
    deny('ERR_FORMAT'),
  )
  verify(
    'args/bare-text-1025',
    'a bare request with a 1025-byte text argument',
    plain,
    deny('ERR_REQUEST_INVALID'),
    bare({ a: 'x'.repeat(1025) }),
  )
  verify(
    'args/bare-text-1024',
    'a bare request with a 1024-byte text argument',
    plain,
    { decision: 'allow' },
    bare({ a: 'x'.repeat(1024) }),
  )
  verify(
    'args/bare-65-entries',
    'a bare request with 65 arguments',
    plain,
    deny('ERR_REQUEST_INVALID'),
    bare(Object.fromEntries(Array.from({ length: 65 }, (_, i) => [`k${String(i).padStart(2, '0')}`, i]))),
  )
  verify(
    'args/bare-64-entries',
    'a bare request with 64 arguments',
    plain,
    { decision: 'allow' },
    bare(Object.fromEntries(Array.from({ length: 64 }, (_, i) => [`k${String(i).padStart(2, '0')}`, i]))),
  )
}

// ---- codes and precedence (#8) ------------------------------------------------------------
// When several failures apply, one is reported (spec §7.3): the first failing step of §7;
// within step 2 the fixed reading order (text form, size, strict CBOR of each item before it
// is read, outside in, fields in order); within a later step, blocks and caveats in chain order.
{
  const P = 'precedence'
  const [p0, p1] = pairsOf(storySub) as [Pair, Pair]
  const proof = proofOf(storySub)
  const otherRoots = [{ key: did('bob'), name: 'bob' }]
  const bytesOf = (h: string) => Uint8Array.from(Buffer.from(h, 'hex'))
  const cbor = (h: string) => toText('mandate', bytesOf(h))
  const flip = (sig: Uint8Array) => {
    const out = new Uint8Array(sig)
    out[40] = (out[40] as number) ^ 1
    return out
  }
  /** The same map with a non-minimal head: `a8` becomes `b8 08`. */
  const wideHead = (bytes: Uint8Array) => concatBytes(Uint8Array.of(0xb8, (bytes[0] as number) & 0x1f), bytes.subarray(1))
  /** The same array with a non-minimal head: `84` becomes `98 04`. */
  const wideArrayHead = (bytes: Uint8Array) => concatBytes(Uint8Array.of(0x98, (bytes[0] as number) & 0x1f), bytes.subarray(1))
  const fields = (payload: Uint8Array) => new Map(decodeCbor(payload) as Map<number, CborValue>)
  const edit = (m: Map<number, CborValue>, set: [number, CborValue][], drop: number[] = []) => {
    const out = new Map(m)
    for (const k of drop) out.delete(k)
    for (const [k, v] of set) out.set(k, v)
    return out
  }
  const envelope = (payload: Uint8Array, signature: Uint8Array) => toText('invocation', encodeCbor(concatBytes(signature, payload)))
  const signInvocation = (payload: Uint8Array, key: KeyPair) => getBackend().sign(key.secretKey, signingInput('invocation', payload))
  const text = formatMandate(storySub)

  // 1. text form: prefix, then length, then base64url; the prefix decides how bytes are read
  verify(
    `${P}/text-invocation-prefix-on-mandate`,
    'mandate bytes under the invocation prefix mni1_: read as an invocation, which is a byte string',
    toText('invocation', storySub.bytes),
    deny('ERR_FORMAT'),
    { request: read },
  )
  verify(
    `${P}/text-revocation-prefix`,
    'mandate bytes under the revocation prefix mnr1_: a verifier takes only mnd1_ and mni1_',
    toText('revocation', storySub.bytes),
    deny('ERR_TEXT_FORMAT'),
    { request: read },
  )
  verify(
    `${P}/text-approval-prefix`,
    'mandate bytes under the approval prefix mna1_',
    toText('approval', storySub.bytes),
    deny('ERR_TEXT_FORMAT'),
    { request: read },
  )
  verify(
    `${P}/text-prefix-over-size`,
    'the prefix mnr1_ and a body over the size limit: the prefix is checked first',
    `mnr1_${'A'.repeat(21847)}`,
    deny('ERR_TEXT_FORMAT'),
    { request: read },
  )
  verify(
    `${P}/text-size-over-base64`,
    'a body of 21,847 characters that are not base64url: the length is checked first',
    `mnd1_${'!'.repeat(21847)}`,
    deny('ERR_LIMIT_SIZE'),
    { request: read },
  )
  verify(
    `${P}/text-ascii-whitespace`,
    'space, tab, CR and LF around the text are ignored',
    ` \t\r\n${text}\r\n`,
    { decision: 'allow' },
    { request: read },
  )
  verify(
    `${P}/text-nbsp`,
    'a trailing U+00A0 (no-break space) is not whitespace here: it fails base64url',
    `${text}\u00a0`,
    deny('ERR_TEXT_FORMAT'),
    { request: read },
  )

  // 2. strict CBOR: the first offending byte; at one head, the head rules in order
  verify(`${P}/cbor-truncated-head`, 'a two-byte integer head with one byte of argument', cbor('1900'), deny('ERR_CBOR_MALFORMED'), {
    request: read,
  })
  verify(
    `${P}/cbor-noncanonical-before-dup`,
    '{0: 1, 0: 2} with the first key as 18 00: the non-minimal head comes first in byte order',
    cbor('a21800010002'),
    deny('ERR_CBOR_NONCANONICAL'),
    { request: read },
  )
  verify(
    `${P}/cbor-text-key-wide-head`,
    'a text map key with a non-minimal head (78 01): head rules before the key type',
    cbor('a178016100'),
    deny('ERR_CBOR_NONCANONICAL'),
    { request: read },
  )
  verify(
    `${P}/cbor-noncanonical-before-length`,
    'a byte string head 5a 00000005 with nothing after it: the head is non-minimal before the length exceeds the input',
    cbor('5a00000005'),
    deny('ERR_CBOR_NONCANONICAL'),
    { request: read },
  )
  verify(
    `${P}/cbor-text-truncated-over-size`,
    'a text string declared 1,025 bytes with 1 present: beyond the input before over the text limit',
    cbor('79040161'),
    deny('ERR_CBOR_MALFORMED'),
    { request: read },
  )
  verify(
    `${P}/cbor-count-over-truncated`,
    'a list head of 65 entries with one present: the entry limit before the length',
    cbor('984100'),
    deny('ERR_LIMIT_COUNT'),
    { request: read },
  )
  verify(
    `${P}/cbor-depth-over-count`,
    'a list of 65 entries at nesting level 17: the depth limit first',
    cbor(`${'81'.repeat(16)}9841`),
    deny('ERR_LIMIT_DEPTH'),
    { request: read },
  )
  verify(`${P}/cbor-simple-wide`, 'true written as f8 15 (a two-byte simple value)', cbor('f815'), deny('ERR_CBOR_TYPE'), {
    request: read,
  })

  // 3. outside in: the mandate's own bytes, then each block's envelope, then its payload
  verify(
    `${P}/block0-payload-over-block1-short`,
    'a non-minimal head in block 0 payload and block 1 cut to 64 bytes: block 0 is read first',
    rawMandateWire([wireBlock([wideArrayHead(p0[0]), p0[1]]), p1[1]], proof),
    deny('ERR_CBOR_NONCANONICAL', { block: 0 }),
    { request: read },
  )
  verify(
    `${P}/outer-cbor-over-block-short`,
    'a non-minimal head on the mandate array and block 1 cut to 64 bytes: the outer item is read first',
    cbor(`9803${toHex(encodeCbor([1, [keys.alice.publicKey, wireBlock(p0), p1[1]], proof as Uint8Array])).slice(2)}`),
    deny('ERR_CBOR_NONCANONICAL'),
    { request: read },
  )
  verify(
    `${P}/block-short-over-root`,
    'block 1 cut to 64 bytes at a verifier that does not trust the principal: step 2 before step 3',
    rawMandateWire([wireBlock(p0), p1[1]], proof),
    deny('ERR_FORMAT', { block: 1 }),
    { request: read, roots: otherRoots },
  )
  verify(
    `${P}/block-payload-shape-over-signature-and-root`,
    'block 1 payload cut to three elements, its signature no longer matching, at a verifier that does not trust the principal',
    rawMandate([p0, [encodeCbor((decodeCbor(p1[0]) as CborValue[]).slice(0, 3)), p1[1]]], proof),
    deny('ERR_FORMAT', { block: 1 }),
    { request: read, roots: otherRoots },
  )
  const inv = asAssistant(story, 'prec-inv', 'email:read')
  verify(
    `${P}/invocation-short`,
    'an invocation of 64 bytes: a signature and no payload',
    toText('invocation', encodeCbor(inv.signature)),
    deny('ERR_FORMAT'),
  )
  verify(
    `${P}/invocation-payload-cbor-over-signature`,
    'an invocation whose payload has a non-minimal map head and whose signature fails: structure first, no block',
    envelope(wideHead(inv.payload), inv.signature),
    deny('ERR_CBOR_NONCANONICAL'),
  )

  // 4. the chain: its principal, then its length, then each block; the proof after the chain,
  // and all of it before any signature
  verify(
    `${P}/principal-short-over-block0`,
    'a 31-byte principal and a non-minimal head in block 0 payload: the principal is read first',
    toText(
      'mandate',
      encodeCbor([1, [keys.alice.publicKey.subarray(0, 31), wireBlock([wideArrayHead(p0[0]), p0[1]])], proof as Uint8Array]),
    ),
    deny('ERR_FORMAT'),
    { request: read },
  )
  verify(
    `${P}/chain-depth-over-block0`,
    'seventeen blocks, block 0 with a non-minimal payload head: the block count is checked before any block is read',
    rawMandate([[wideArrayHead(p0[0]), p0[1]], ...Array.from({ length: 16 }, () => p1)], proof),
    deny('ERR_CHAIN_DEPTH'),
    { request: read },
  )
  verify(
    `${P}/proof-secret-size-over-signature`,
    'a 31-byte proof and a bad signature on block 1: structure (step 2) first',
    rawMandate([p0, [p1[0], flip(p1[1])]], new Uint8Array(31)),
    deny('ERR_PROOF'),
    { request: read },
  )
  verify(
    `${P}/proof-size-over-root`,
    'a 63-byte proof at a verifier that does not trust the principal',
    rawMandate(pairsOf(storySub), new Uint8Array(63)),
    deny('ERR_PROOF'),
    { request: read, roots: otherRoots },
  )
  verify(
    `${P}/block-format-over-proof-size`,
    'an unknown extra key in block 1 and a 31-byte proof: the chain is read before the proof',
    rawMandate(
      [p0, signRaw(blockFields(keys.subagent.publicKey, [], { extra: [[3, 'x']] }), keys.assistant, storySub.blocks[0]?.id)],
      new Uint8Array(31),
    ),
    deny('ERR_FORMAT', { block: 1 }),
    { request: read },
  )

  // 5. version first (element 0 of a mandate, key 0 of a payload map), then the shape, then fields in order
  const chain = rawChain([p0, p1])
  const top = (elements: CborValue[]) => toText('mandate', encodeCbor(elements))
  verify(
    `${P}/mandate-missing-version-extra-element`,
    'a mandate [chain, proof, "x", "y"] without its version: element 0 is not 1',
    top([chain, proof as Uint8Array, 'x', 'y']),
    deny('ERR_VERSION'),
    { request: read },
  )
  verify(
    `${P}/mandate-version-2-extra-element`,
    'a mandate with version 2 and a fourth element',
    top([2, chain, proof as Uint8Array, 'x']),
    deny('ERR_VERSION'),
    { request: read },
  )
  verify(
    `${P}/mandate-extra-element-over-block`,
    'a fourth mandate element and a non-minimal head in block 0 payload: the mandate array is read first',
    top([1, rawChain([[wideArrayHead(p0[0]), p0[1]], p1]), proof as Uint8Array, 'x']),
    deny('ERR_FORMAT'),
    { request: read },
  )
  const invFields = fields(inv.payload)
  const noVersion = encodeCbor(edit(invFields, [[9, 'x']], [0]))
  verify(
    `${P}/invocation-missing-version-unknown-key`,
    'an invocation payload without key 0 and with an unknown key 9',
    envelope(noVersion, signInvocation(noVersion, keys.assistant)),
    deny('ERR_VERSION'),
  )

  // 6. a block's fields in order: holder, bearer, issued_at, caveats (list, then count), extra (map, keys, nonce rule, name, purpose)
  const sub = keys.subagent.publicKey
  const at1 = (fields: CborValue) => rawMandate([p0, signRaw(fields, keys.assistant, storySub.blocks[0]?.id)], proof)
  verify(
    `${P}/block-holder-over-bearer`,
    'a 31-byte holder and bearer written as 1: ERR_FORMAT either way, at block 1',
    at1([sub.subarray(0, 31), 1, T0, []]),
    deny('ERR_FORMAT', { block: 1 }),
    { request: read },
  )
  verify(
    `${P}/block-caveat-count-over-extra`,
    '33 caveats and an empty extra map: the caveat count is read first',
    at1([sub, true, T0, Array.from({ length: 33 }, () => [1, ['*']]), new Map()]),
    deny('ERR_LIMIT_COUNT', { block: 1 }),
    { request: read },
  )
  verify(
    `${P}/block-format-over-caveat-frame`,
    'a malformed caveat frame [] and a nonce in the bearer block: the structure (step 2) before any caveat (step 9a)',
    at1([sub, true, T0, [[]], new Map([[0, new Uint8Array(16)]])]),
    deny('ERR_FORMAT', { block: 1 }),
    { request: read },
  )

  // 8. caveats are read at step 9a: a bad frame never outranks a signature; names by type number
  const root = (...caveats: CborValue[]) => rawBearer(rawRoot([windowWire, ...caveats], keys.subagent), keys.subagent)
  const framed = rawRoot([windowWire, []], keys.subagent)
  verify(
    `${P}/caveat-frame-after-signature`,
    'an empty caveat [] in a block whose signature fails: the signature first',
    rawBearer([framed[0], flip(framed[1])], keys.subagent),
    deny('ERR_SIG_INVALID', { block: 0 }),
    { request: read },
  )
  verify(
    `${P}/caveat-frame-not-list`,
    'a caveat that is the integer 5',
    root(5),
    deny('ERR_CAVEAT_INVALID', { block: 0, caveat: 'unknown' }),
    {
      request: read,
    },
  )
  verify(
    `${P}/caveat-frame-three-elements`,
    'a caveat [11, 1, 2]: the frame is checked before the type',
    root([11, 1, 2]),
    deny('ERR_CAVEAT_INVALID', { block: 0, caveat: 'unknown' }),
    { request: read },
  )
  verify(
    `${P}/caveat-frame-negative-type`,
    'a caveat [-1]: a type is an unsigned integer',
    root([-1]),
    deny('ERR_CAVEAT_INVALID', { block: 0, caveat: 'unknown' }),
    { request: read },
  )
  verify(
    `${P}/caveat-invalid-named`,
    'a where caveat with a text body: reported as where',
    root([7, 'x']),
    deny('ERR_CAVEAT_INVALID', { block: 0, caveat: 'where' }),
    { request: read },
  )
  verify(
    `${P}/caveat-invalid-bound-body`,
    'a bound caveat with a body: reported as bound',
    root([10, 0]),
    deny('ERR_CAVEAT_INVALID', { block: 0, caveat: 'bound' }),
    { request: read },
  )
  verify(
    `${P}/caveat-unknown-named`,
    'a caveat of reserved type 11',
    root([11]),
    deny('ERR_CAVEAT_UNKNOWN', { block: 0, caveat: 'unknown' }),
    {
      request: read,
    },
  )
  verify(
    `${P}/caveat-unknown-then-invalid`,
    'an unknown caveat before a malformed one: caveat order decides, not the code',
    root([11], [7, 'x']),
    deny('ERR_CAVEAT_UNKNOWN', { block: 0, caveat: 'unknown' }),
    { request: read },
  )
  verify(
    `${P}/caveat-invalid-then-unknown`,
    'a malformed caveat before an unknown one',
    root([7, 'x'], [11]),
    deny('ERR_CAVEAT_INVALID', { block: 0, caveat: 'where' }),
    { request: read },
  )
  verify(
    `${P}/caveat-extension-frame`,
    'an extension caveat [70000, 1, 2]',
    root([70000, 1, 2]),
    deny('ERR_CAVEAT_INVALID', { block: 0, caveat: 'extension' }),
    { request: read, extensions: { '70000': true } },
  )
  verify(
    `${P}/caveat-extension-unregistered-over-actions`,
    'an unregistered extension in block 1 and an actions caveat in block 0 that denies: unknown caveats come first (step 9a)',
    formatMandate(subGrant('prec-ext', [{ type: 'actions', patterns: ['email:read'] }], [{ type: 'extension', code: 70000 }])),
    deny('ERR_CAVEAT_UNKNOWN', { block: 1, caveat: 'extension' }),
    { request: read },
  )
  const onePass = subGrant('prec-pass', [{ type: 'audience', names: ['other'] }], [{ type: 'depth', max: 0 }])
  const third = signRaw(
    blockFields(keys.carol.publicKey, []),
    keyPairFromSecret((onePass.proof as { secret: Uint8Array }).secret),
    onePass.blocks[1]?.id,
  )
  verify(
    `${P}/chain-pass-audience-before-depth`,
    'an audience caveat failing in block 0 and a depth caveat failing in block 1: one pass in chain order',
    rawMandate([...pairsOf(onePass), third], keys.carol.secretKey),
    deny('ERR_AUDIENCE', { block: 0, caveat: 'audience' }),
    { request: read },
  )

  // 9. an invocation signed by a key other than the last holder: ERR_SIG_INVALID at the last block
  verify(
    `${P}/invocation-wrong-key`,
    'an invocation over a one-block bound chain, signed by mallory instead of the assistant',
    envelope(inv.payload, signInvocation(inv.payload, keys.mallory)),
    deny('ERR_SIG_INVALID', { block: 0 }),
  )
  const subInv = invoke(storySub, {
    action: 'slack:read',
    resource: 'channels/team',
    audience: 'svc',
    now: NOW,
    random: random('prec-sub/inv'),
  })
  verify(
    `${P}/invocation-signed-by-earlier-holder`,
    'an invocation over a two-block chain signed by the holder of block 0 instead of block 1',
    envelope(subInv.payload, signInvocation(subInv.payload, keys.assistant)),
    deny('ERR_SIG_INVALID', { block: 1 }),
  )
  const late = asAssistant(story, 'prec-late', 'email:read', { audience: 'other', now: NOW - 600 })
  verify(
    `${P}/invocation-wrong-key-over-audience-and-age`,
    'an invocation for another service, ten minutes old, signed by mallory: the signature is checked first',
    envelope(late.payload, signInvocation(late.payload, keys.mallory)),
    deny('ERR_SIG_INVALID', { block: 0 }),
  )

  // 10. the approvals list is counted at the end of step 2, before the root
  verify(`${P}/approvals-count-over-root`, '17 approvals at a verifier that does not trust the principal', text, deny('ERR_LIMIT_COUNT'), {
    request: read,
    roots: otherRoots,
    approvals: Array.from({ length: 17 }, () => 'mna1_AA'),
  })

  // 11. revocation: blocks in order; within a block a revocation before a suspension
  const [id0, id1] = storySub.blocks.map((b) => b.idHex) as [string, string]
  verify(
    `${P}/revoke-over-suspend`,
    'block 0 suspended, then revoked (listed in that order): the revocation is reported',
    text,
    deny('ERR_REVOKED', { block: 0 }),
    {
      request: read,
      revocations: {
        entries: [
          { blockId: id0, kind: 'suspend' },
          { blockId: id0, kind: 'revoke' },
        ],
      },
    },
  )
  verify(
    `${P}/suspend-block0-over-revoke-block1`,
    'block 1 revoked and block 0 suspended: block order first',
    text,
    deny('ERR_SUSPENDED', { block: 0 }),
    {
      request: read,
      revocations: {
        entries: [
          { blockId: id1, kind: 'revoke' },
          { blockId: id0, kind: 'suspend' },
        ],
      },
    },
  )
}

async function main(): Promise<void> {
  const ids = new Set<string>()
  for (const v of vectors) {
    if (ids.has(v.id)) throw new Error(`duplicate vector id ${v.id}`)
    ids.add(v.id)
    const outcome = await runVector(v)
    if (!matches(v, outcome))
      throw new Error(`vector ${v.id}: implementation gives ${JSON.stringify(outcome)}, vector states ${JSON.stringify(v.expected)}`)
  }
  const covered = new Set(vectors.map((v) => v.expected.code).filter((c): c is string => c !== undefined))
  const missing = ERROR_CODES.filter((c) => !covered.has(c) && !(UNCOVERED as readonly string[]).includes(c))
  if (missing.length > 0) throw new Error(`no vector covers ${missing.join(', ')}`)

  const files: Record<string, string> = {
    'keys.json': json({
      note: 'TEST KEYS ONLY. seed = SHA-256("mandate test vector key: " + role); never use them for anything real.',
      keys: Object.fromEntries(ROLES.map((r) => [r, { seed: toHex(seedOf(r)), publicKey: toHex(keys[r].publicKey), did: did(r) }])),
    }),
    'vectors.json': json({ format: 'mandate-v1 conformance vectors', spec: 'spec/mandate-v1.md §12', clock: { T0, now: NOW }, vectors }),
  }
  const check = writeOrCheck(files)
  console.log(`${check ? 'checked' : 'wrote'} ${vectors.length} vectors (${covered.size} distinct codes)`)
}

await main()
