import '../src/crypto/use-node.js'
import { encodeCaveat } from '../src/caveats/codec.js'
import { type CborValue, encodeCbor } from '../src/cbor/codec.js'
import { getBackend } from '../src/crypto/ed25519.js'
import { sha256 } from '../src/crypto/hash.js'
import {
  approve,
  attenuate,
  type Caveat,
  createAmendment,
  createLift,
  describeCaveat,
  formatApproval,
  formatInvocation,
  formatMandate,
  formatRevocation,
  invoke,
  mint,
  parseRevocation,
  seal,
  toDidKey,
  type UnverifiedInvocation,
  type UnverifiedMandate,
  type UnverifiedRevocation,
} from '../src/index.js'
import { concatBytes, toHex } from '../src/internal/bytes.js'
import { encodeChain } from '../src/token/chain.js'
import { signingInput } from '../src/token/signing.js'
import { toText } from '../src/token/text.js'
import { json, keysOf, seededRandom, T0, writeOrCheck } from './common.js'
import { checkScenario, type PresentStep, type Scenario, type StatementOutcome, type Step, type StepOutcome } from './scenario-runner.js'

// The same roles and seeds as generate.ts (keys.json).
const ROLES = ['alice', 'assistant', 'subagent', 'bob', 'carol', 'mallory'] as const
type Role = (typeof ROLES)[number]
const keys = keysOf(ROLES)
const did = (r: Role) => toDidKey(keys[r].publicKey)
const roleOf = new Map(ROLES.map((r) => [did(r), r]))
/** Deterministic randomness for nonces and bearer keys (as generate.ts, another domain). */
const random = (seed: string) => seededRandom('scenario', seed)

const AUDIENCE = 'svc'
const ROOTS = [{ key: did('alice'), name: 'alice' }]
const H = 3600
const SKEW = 60
const INVOCATION_MAX_AGE = 300
/** The root window of most scenarios. */
const window8h: Caveat = { type: 'window', expires: T0 + 8 * H }

const allow = (remaining?: Record<string, number>): StepOutcome => ({ decision: 'allow', ...(remaining ? { remaining } : {}) })
const deny = (code: string, at: { block?: number; caveat?: string; amendment?: string } = {}): StepOutcome => ({
  decision: 'deny',
  code,
  ...at,
})
const accepted: StatementOutcome = { valid: true }
const refusedStatement = (stage: 'parse' | 'verify', code: string): StatementOutcome => ({ valid: false, stage, code })

interface Issued {
  readonly mandate?: UnverifiedMandate
  readonly invocation?: UnverifiedInvocation
  /** The role holding the bound key of a mandate's last block, if bound. */
  readonly holder?: Role
}

/** One scenario under construction; each method appends a step. */
class Builder {
  readonly steps: Step[] = []
  private readonly issued = new Map<string, Issued>()
  /** Amendment statements made so far, by name. */
  private readonly amendments = new Map<string, UnverifiedRevocation>()
  constructor(
    readonly id: string,
    readonly title: string,
  ) {}

  private add(name: string, value: Issued): void {
    if (this.issued.has(name)) throw new Error(`${this.id}: ${name} issued twice`)
    this.issued.set(name, value)
  }
  private get(name: string): Issued {
    const v = this.issued.get(name)
    if (!v) throw new Error(`${this.id}: no token ${name}`)
    return v
  }
  mandate(name: string): UnverifiedMandate {
    const m = this.get(name).mandate
    if (!m) throw new Error(`${this.id}: ${name} is not a mandate`)
    return m
  }
  /** The id (hex) of block `i` of a mandate issued earlier. */
  block(name: string, i: number): string {
    const b = this.mandate(name).blocks[i]
    if (!b) throw new Error(`${this.id}: ${name} has no block ${i}`)
    return b.idHex
  }

  private issueMandate(at: number, name: string, op: 'mint' | 'attenuate' | 'seal', by: string, m: UnverifiedMandate, from?: string) {
    const last = m.blocks[m.blocks.length - 1]
    if (!last) throw new Error('no blocks')
    const holder = last.bearer ? 'bearer' : `${roleOf.get(toDidKey(last.holder)) ?? 'unknown'} (bound)`
    const what = op === 'seal' ? 'sealed' : [`to ${holder}`, ...last.caveats.map((c) => named(describeCaveat(c)))].join('; ')
    this.steps.push({
      at,
      issue: {
        name,
        op,
        ...(from === undefined ? {} : { from }),
        by,
        text: formatMandate(m),
        blocks: m.blocks.map((b) => b.idHex),
        summary: what,
      },
    })
  }

  /** Alice mints a root at `at`: bound to `to`, or bearer. */
  mint(at: number, name: string, o: { to?: Role; caveats: Caveat[] }): this {
    const m = mint({
      principal: keys.alice,
      ...(o.to ? { to: did(o.to), name: o.to } : { name: 'bearer' }),
      caveats: o.caveats,
      now: at,
      random: random(`${this.id}/${name}`),
    })
    this.add(name, { mandate: m, ...(o.to ? { holder: o.to } : {}) })
    this.issueMandate(at, name, 'mint', 'alice', m)
    return this
  }

  /** The holder of `from` appends a block: bound to `to`, or bearer. */
  attenuate(at: number, name: string, from: string, o: { to?: Role; caveats?: Caveat[] } = {}): this {
    const parent = this.get(from)
    const m = attenuate(this.mandate(from), {
      ...(parent.holder ? { key: keys[parent.holder] } : {}),
      ...(o.to ? { to: did(o.to), name: o.to } : { name: `${name}` }),
      caveats: o.caveats ?? [],
      now: at,
      random: random(`${this.id}/${name}`),
    })
    this.add(name, { mandate: m, ...(o.to ? { holder: o.to } : {}) })
    this.issueMandate(at, name, 'attenuate', parent.holder ?? 'bearer', m, from)
    return this
  }

  seal(at: number, name: string, from: string): this {
    const parent = this.get(from)
    const m = seal(this.mandate(from)) // only a bearer mandate can be sealed (spec §3)
    this.add(name, { mandate: m })
    this.issueMandate(at, name, 'seal', parent.holder ?? 'bearer', m, from)
    return this
  }

  /** The holder of `from` signs an invocation at `at`. */
  invoke(at: number, name: string, from: string, r: { action: string; resource?: string; audience?: string }): this {
    const parent = this.get(from)
    const inv = invoke(this.mandate(from), {
      ...(parent.holder ? { key: keys[parent.holder] } : {}),
      action: r.action,
      ...(r.resource === undefined ? {} : { resource: r.resource }),
      audience: r.audience ?? AUDIENCE,
      now: at,
      random: random(`${this.id}/${name}`),
    })
    this.add(name, { invocation: inv })
    const summary = `${r.action}${r.resource === undefined ? '' : ` on ${r.resource}`} for ${r.audience ?? AUDIENCE}`
    this.steps.push({
      at,
      issue: { name, op: 'invoke', from, by: parent.holder ?? 'bearer', text: formatInvocation(inv), summary },
    })
    return this
  }

  /** `approver` approves the invocation `from` at `at`, for `ttl` seconds. */
  approve(at: number, name: string, from: string, approver: Role, ttl = 600): this {
    const inv = this.get(from).invocation
    if (!inv) throw new Error(`${this.id}: ${from} is not an invocation`)
    const a = approve({ approver: keys[approver], invocation: inv, now: at, ttl })
    this.add(name, {})
    this.steps.push({
      at,
      issue: { name, op: 'approve', from, by: approver, text: formatApproval(a), summary: `expires ${at + ttl}` },
    })
    return this
  }

  present(
    at: number,
    token: string,
    expected: StepOutcome,
    o: { request?: PresentStep['present']['request']; approvals?: string[]; requestId?: string; note?: string } = {},
  ): this {
    this.get(token)
    for (const a of o.approvals ?? []) this.get(a)
    this.steps.push({
      at,
      present: {
        token,
        ...(o.request ? { request: o.request } : {}),
        ...(o.approvals ? { approvals: o.approvals } : {}),
        ...(o.requestId === undefined ? {} : { request_id: o.requestId }),
      },
      expected,
      ...(o.note === undefined ? {} : { note: o.note }),
    })
    return this
  }

  revoke(at: number, blockId: string, actions?: string[], note?: string): this {
    this.steps.push({ at, revoke: { block_id: blockId, ...(actions ? { actions } : {}) }, ...(note ? { note } : {}) })
    return this
  }
  suspend(at: number, blockId: string, actions?: string[], note?: string): this {
    this.steps.push({ at, suspend: { block_id: blockId, ...(actions ? { actions } : {}) }, ...(note ? { note } : {}) })
    return this
  }
  resume(at: number, blockId: string, note?: string): this {
    this.steps.push({ at, resume: { block_id: blockId }, ...(note ? { note } : {}) })
    return this
  }

  /**
   * `by` signs an amendment of block `block` of the mandate `from`, adding `caveats`, at `at`.
   * A signer the library refuses (a key below the target) gets a statement built by hand, for
   * the verifier of statements to refuse.
   */
  amend(
    at: number,
    name: string,
    from: string,
    block: number,
    by: Role,
    caveats: Caveat[],
    expected: StatementOutcome,
    o: { reason?: string; note?: string } = {},
  ): this {
    const mandate = this.mandate(from)
    const random = (n: number) => seededRandom('scenario', `${this.id}/${name}`)(n)
    let statement: UnverifiedRevocation
    let text: string
    if (expected.valid) {
      statement = createAmendment({
        mandate,
        block,
        key: keys[by],
        caveats,
        now: at,
        random,
        ...(o.reason === undefined ? {} : { reason: o.reason }),
      })
      text = formatRevocation(statement)
    } else {
      text = forgeAmendment(mandate.blocks.slice(0, block + 1), by, caveats, at, random(16))
      statement = parseRevocation(text)
    }
    this.amendments.set(name, statement)
    this.steps.push({
      at,
      amend: {
        statement: text,
        by,
        block_id: statement.target.idHex,
        id: statement.id,
        caveats: toHex(encodeCbor(caveats.map(encodeCaveat))),
        summary: caveats.map((c) => named(describeCaveat(c))).join('; '),
      },
      expected,
      ...(o.note === undefined ? {} : { note: o.note }),
    })
    return this
  }

  /** The id of an amendment statement made earlier. */
  amendment(name: string): string {
    const a = this.amendments.get(name)
    if (!a) throw new Error(`${this.id}: no amendment ${name}`)
    return a.id
  }

  /** `by` lifts the amendment `name` at `at` (on the block it amended). */
  lift(at: number, name: string, from: string, by: Role, expected: StatementOutcome = accepted, note?: string): this {
    const a = this.amendments.get(name)
    if (!a) throw new Error(`${this.id}: no amendment ${name}`)
    const statement = createLift({
      mandate: this.mandate(from),
      block: a.target.index,
      key: keys[by],
      amendment: a.id,
      now: at,
      random: (n) => seededRandom('scenario', `${this.id}/lift/${name}`)(n),
    })
    this.steps.push({
      at,
      lift: { statement: formatRevocation(statement), by, block_id: statement.target.idHex, id: statement.id, lifts: a.id },
      expected,
      ...(note === undefined ? {} : { note }),
    })
    return this
  }

  done(): Scenario {
    return { id: this.id, title: this.title, audience: AUDIENCE, roots: ROOTS, steps: this.steps }
  }
}

/**
 * An amendment statement (spec §9.1) built field by field and signed by `by`, for a signer that
 * createAmendment refuses (one below the target): the verifier of statements must refuse it.
 */
function forgeAmendment(prefix: UnverifiedMandate['blocks'], by: Role, caveats: Caveat[], created: number, nonce: Uint8Array): string {
  const payload = encodeCbor(
    new Map<number, CborValue>([
      [0, 1],
      [1, encodeChain(prefix)],
      [2, 3],
      [4, keys[by].publicKey],
      [5, nonce],
      [6, created],
      [9, caveats.map(encodeCaveat)],
    ]),
  )
  const signature = getBackend().sign(keys[by].secretKey, signingInput('revocation', payload))
  const text = toText('revocation', encodeCbor(concatBytes(signature, payload)))
  if (toHex(sha256(signature)) !== parseRevocation(text).id) throw new Error('a forged statement reads back differently')
  return text
}

/** Role names instead of did:keys in summaries. */
function named(text: string): string {
  let out = text
  for (const [d, r] of roleOf) out = out.replaceAll(d, r)
  return out
}

const scenarios: Scenario[] = []
function scenario(id: string, title: string, build: (s: Builder) => void): void {
  const s = new Builder(id, title)
  build(s)
  scenarios.push(s.done())
}

const read = { action: 'slack:read', resource: 'channels/team' }
const write = { action: 'slack:write', resource: 'channels/team' }
const counter = (s: Builder, token: string, block: number, caveatIndex: number) => `${s.block(token, block)}/${caveatIndex}`

// ---- usage: sliding windows, totals, siblings ----------------------------------------------
scenario('usage/sliding-window', '3 uses per 60 s: the 4th is denied, and uses come back as old ones leave the window', (s) => {
  s.mint(T0, 'grant', {
    caveats: [{ type: 'actions', patterns: ['slack:read'] }, { type: 'uses', max: 3, per: 60 }, window8h],
  })
  const k = counter(s, 'grant', 0, 1)
  const exhausted = deny('ERR_USAGE_EXHAUSTED', { block: 0, caveat: 'uses' })
  s.present(T0, 'grant', allow({ [k]: 2 }), { request: read })
    .present(T0 + 10, 'grant', allow({ [k]: 1 }), { request: read })
    .present(T0 + 20, 'grant', allow({ [k]: 0 }), { request: read })
    .present(T0 + 30, 'grant', exhausted, { request: read, note: 'uses at T0, T0+10, T0+20 are in (T0−30, T0+30]' })
    .present(T0 + 59, 'grant', exhausted, { request: read, note: 'the use at T0 is still in (T0−1, T0+59]' })
    .present(T0 + 60, 'grant', allow({ [k]: 0 }), { request: read, note: 'the use at T0 left the window (T0, T0+60]' })
    .present(T0 + 61, 'grant', exhausted, { request: read, note: 'T0+10, T0+20, T0+60' })
    .present(T0 + 70, 'grant', allow({ [k]: 0 }), { request: read, note: 'T0+10 left the window' })
    .present(T0 + 200, 'grant', allow({ [k]: 2 }), { request: read, note: 'every earlier use left the window (T0+140, T0+200]' })
})

scenario(
  'usage/window-invocations',
  'a window quota with invocations: consume is idempotent by invocation id, so a retry of a denied one keeps its denial; a new one passes once the window moves',
  (s) => {
    s.mint(T0, 'grant', {
      to: 'assistant',
      caveats: [{ type: 'actions', patterns: ['email:read'] }, { type: 'uses', max: 2, per: 120 }, window8h],
    })
    const k = counter(s, 'grant', 0, 1)
    s.invoke(T0, 'i1', 'grant', { action: 'email:read' })
      .present(T0, 'i1', allow({ [k]: 1 }))
      .invoke(T0 + 10, 'i2', 'grant', { action: 'email:read' })
      .present(T0 + 10, 'i2', allow({ [k]: 0 }))
      .invoke(T0 + 20, 'i3', 'grant', { action: 'email:read' })
      .present(T0 + 20, 'i3', deny('ERR_USAGE_EXHAUSTED', { block: 0, caveat: 'uses' }))
      .present(T0 + 120, 'i3', deny('ERR_USAGE_EXHAUSTED', { block: 0, caveat: 'uses' }), {
        note: 'not a replay (a denied invocation is not claimed), but the usage answer for its id is the one given before',
      })
      .invoke(T0 + 120, 'i4', 'grant', { action: 'email:read' })
      .present(T0 + 120, 'i4', allow({ [k]: 0 }), { note: 'the use at T0 left the window (T0, T0+120]' })
      .present(T0 + 121, 'i4', deny('ERR_REPLAY'))
  },
)

scenario('usage/total', 'a total quota (no period) never resets', (s) => {
  s.mint(T0, 'grant', { caveats: [{ type: 'uses', max: 2 }, window8h] })
  const k = counter(s, 'grant', 0, 0)
  s.present(T0, 'grant', allow({ [k]: 1 }), { request: read })
    .present(T0 + 1, 'grant', allow({ [k]: 0 }), { request: read })
    .present(T0 + 2, 'grant', deny('ERR_USAGE_EXHAUSTED', { block: 0, caveat: 'uses' }), { request: read })
    .present(T0 + 7 * H, 'grant', deny('ERR_USAGE_EXHAUSTED', { block: 0, caveat: 'uses' }), { request: read })
})

scenario('usage/denied-consumes-nothing', 'requests denied by a caveat, a missing approval or an invalid request consume no use', (s) => {
  s.mint(T0, 'grant', {
    caveats: [
      { type: 'actions', patterns: ['slack:read', 'slack:write'] },
      { type: 'resources', globs: ['channels/*'] },
      { type: 'approval', actions: ['slack:write'], approvers: [did('bob')], quorum: 1 },
      { type: 'uses', max: 2 },
      window8h,
    ],
  })
  const k = counter(s, 'grant', 0, 3)
  s.present(T0, 'grant', deny('ERR_ACTION_DENIED', { block: 0, caveat: 'actions' }), { request: { action: 'email:read' } })
    .present(T0 + 1, 'grant', deny('ERR_RESOURCE_DENIED', { block: 0, caveat: 'resources' }), {
      request: { action: 'slack:read', resource: 'dm/bob' },
    })
    .present(T0 + 2, 'grant', deny('ERR_APPROVAL_REQUIRED', { block: 0, caveat: 'approval' }), { request: write })
    .present(T0 + 3, 'grant', deny('ERR_REQUEST_INVALID'), { request: { action: 'slack:read', resource: 'channels/../dm' } })
    .present(T0 + 4, 'grant', allow({ [k]: 1 }), { request: read })
    .present(T0 + 5, 'grant', allow({ [k]: 0 }), { request: read })
    .present(T0 + 6, 'grant', deny('ERR_USAGE_EXHAUSTED', { block: 0, caveat: 'uses' }), { request: read })
})

scenario('usage/sibling-split', "two sub-agents under a parent quota: each has its own limit, the parent's total binds both", (s) => {
  s.mint(T0, 'grant', { to: 'assistant', caveats: [{ type: 'uses', max: 4 }, window8h] })
    .attenuate(T0, 'a', 'grant', { caveats: [{ type: 'uses', max: 3 }] })
    .attenuate(T0, 'b', 'grant', { caveats: [{ type: 'uses', max: 3 }] })
  const parent = counter(s, 'grant', 0, 0)
  const ka = counter(s, 'a', 1, 0)
  const kb = counter(s, 'b', 1, 0)
  s.present(T0 + 1, 'a', allow({ [parent]: 3, [ka]: 2 }), { request: read })
    .present(T0 + 2, 'a', allow({ [parent]: 2, [ka]: 1 }), { request: read })
    .present(T0 + 3, 'a', allow({ [parent]: 1, [ka]: 0 }), { request: read })
    .present(T0 + 4, 'a', deny('ERR_USAGE_EXHAUSTED', { block: 1, caveat: 'uses' }), {
      request: read,
      note: "a's own limit; the parent's use is not taken",
    })
    .present(T0 + 5, 'b', allow({ [parent]: 0, [kb]: 2 }), { request: read })
    .present(T0 + 6, 'b', deny('ERR_USAGE_EXHAUSTED', { block: 0, caveat: 'uses' }), {
      request: read,
      note: "b has 2 of its own left, the parent's total is spent",
    })
    .present(T0 + 7, 'a', deny('ERR_USAGE_EXHAUSTED', { block: 0, caveat: 'uses' }), {
      request: read,
      note: 'both counters are spent: the first in chain order is reported',
    })
})

scenario('usage/sibling-window', 'siblings share a parent window quota, which comes back for both', (s) => {
  s.mint(T0, 'grant', { to: 'assistant', caveats: [{ type: 'uses', max: 3, per: 60 }, window8h] })
    .attenuate(T0, 'a', 'grant')
    .attenuate(T0, 'b', 'grant')
  const k = counter(s, 'grant', 0, 0)
  const exhausted = deny('ERR_USAGE_EXHAUSTED', { block: 0, caveat: 'uses' })
  s.present(T0 + 10, 'a', allow({ [k]: 2 }), { request: read })
    .present(T0 + 20, 'b', allow({ [k]: 1 }), { request: read })
    .invoke(T0 + 30, 'i1', 'grant', { action: 'slack:read', resource: 'channels/team' })
    .present(T0 + 30, 'i1', allow({ [k]: 0 }), { note: 'the assistant itself counts against the same quota' })
    .present(T0 + 40, 'b', exhausted, { request: read })
    .present(T0 + 69, 'a', exhausted, { request: read })
    .present(T0 + 70, 'a', allow({ [k]: 0 }), { request: read, note: 'the use at T0+10 left the window' })
    .present(T0 + 71, 'b', exhausted, { request: read })
    .present(T0 + 80, 'b', allow({ [k]: 0 }), { request: read })
})

scenario('usage/nested-windows', 'a child limit per 60 s inside a parent limit per hour', (s) => {
  s.mint(T0, 'grant', { to: 'assistant', caveats: [{ type: 'uses', max: 5, per: H }, window8h] }).attenuate(T0, 'child', 'grant', {
    caveats: [{ type: 'uses', max: 2, per: 60 }],
  })
  const p = counter(s, 'grant', 0, 0)
  const c = counter(s, 'child', 1, 0)
  const childSpent = deny('ERR_USAGE_EXHAUSTED', { block: 1, caveat: 'uses' })
  s.present(T0, 'child', allow({ [p]: 4, [c]: 1 }), { request: read })
    .present(T0 + 1, 'child', allow({ [p]: 3, [c]: 0 }), { request: read })
    .present(T0 + 2, 'child', childSpent, { request: read })
    .present(T0 + 60, 'child', allow({ [p]: 2, [c]: 0 }), { request: read, note: 'child window (T0, T0+60] holds T0+1' })
    .present(T0 + 61, 'child', allow({ [p]: 1, [c]: 0 }), { request: read })
    .present(T0 + 62, 'child', childSpent, { request: read })
    .present(T0 + 121, 'child', allow({ [p]: 0, [c]: 1 }), { request: read })
    .present(T0 + 200, 'child', deny('ERR_USAGE_EXHAUSTED', { block: 0, caveat: 'uses' }), {
      request: read,
      note: 'the child window is free; the parent hour is spent',
    })
    .present(T0 + H, 'child', allow({ [p]: 0, [c]: 1 }), {
      request: read,
      note: 'the use at T0 left the hour (T0, T0+3600]; 4 remain in it',
    })
})

scenario('usage/retry-same-request-id', 'a retry with the same request id gets the same answer and consumes nothing', (s) => {
  s.mint(T0, 'grant', { caveats: [{ type: 'uses', max: 1 }, window8h] })
  const k = counter(s, 'grant', 0, 0)
  s.present(T0, 'grant', allow({ [k]: 0 }), { request: read, requestId: 'r1' })
    .present(T0 + 1, 'grant', allow({ [k]: 0 }), { request: read, requestId: 'r1', note: 'the remembered answer' })
    .present(T0 + 2, 'grant', deny('ERR_USAGE_EXHAUSTED', { block: 0, caveat: 'uses' }), { request: read, requestId: 'r2' })
})

scenario(
  'usage/request-id-reused-for-another-request',
  'a request id names one request: reused for another action it is counted as another request',
  (s) => {
    s.mint(T0, 'grant', { caveats: [{ type: 'actions', patterns: ['slack:read', 'slack:post'] }, { type: 'uses', max: 1 }, window8h] })
    const k = counter(s, 'grant', 0, 1)
    s.present(T0, 'grant', allow({ [k]: 0 }), { request: read, requestId: 'k' })
      .present(T0 + 1, 'grant', deny('ERR_USAGE_EXHAUSTED', { block: 0, caveat: 'uses' }), {
        request: { action: 'slack:post', resource: 'channels/team' },
        requestId: 'k',
        note: 'the same caller id for another action: counted on its own, and the quota is spent',
      })
      .present(T0 + 2, 'grant', allow({ [k]: 0 }), { request: read, requestId: 'k', note: 'the first request, retried: its answer' })
  },
)

scenario('usage/sealed-shares-counter', 'a sealed copy is the same blocks: it counts on the same counters', (s) => {
  s.mint(T0, 'grant', { to: 'assistant', caveats: [window8h] })
    .attenuate(T0, 'sub', 'grant', { caveats: [{ type: 'uses', max: 2 }] })
    .seal(T0, 'sealed', 'sub')
  const k = counter(s, 'sub', 1, 0)
  s.present(T0 + 1, 'sub', allow({ [k]: 1 }), { request: read })
    .present(T0 + 2, 'sealed', allow({ [k]: 0 }), { request: read })
    .present(T0 + 3, 'sealed', deny('ERR_USAGE_EXHAUSTED', { block: 1, caveat: 'uses' }), { request: read })
    .present(T0 + 4, 'sub', deny('ERR_USAGE_EXHAUSTED', { block: 1, caveat: 'uses' }), { request: read })
})

// ---- revocation -----------------------------------------------------------------------------
scenario('revocation/cascade', 'revoking block 1 mid-way denies it and every descendant; siblings and the parent go on', (s) => {
  s.mint(T0, 'grant', { to: 'assistant', caveats: [window8h] })
    .attenuate(T0, 'a', 'grant', { to: 'subagent' })
    .attenuate(T0, 'a2', 'a', { caveats: [{ type: 'actions', patterns: ['slack:read'] }] })
    .attenuate(T0, 'b', 'grant')
    .invoke(T0 + 10, 'ia', 'a', { action: 'slack:read', resource: 'channels/team' })
    .present(T0 + 10, 'ia', allow())
    .present(T0 + 11, 'a2', allow(), { request: read })
    .present(T0 + 12, 'b', allow(), { request: read })
    .revoke(T0 + 100, s.block('a', 1), undefined, "the assistant revokes a's block")
    .invoke(T0 + 110, 'ia2', 'a', { action: 'slack:read', resource: 'channels/team' })
    .present(T0 + 110, 'ia2', deny('ERR_REVOKED', { block: 1 }))
    .present(T0 + 111, 'a2', deny('ERR_REVOKED', { block: 1 }), { request: read, note: 'a descendant of the revoked block' })
    .present(T0 + 112, 'b', allow(), { request: read, note: 'a sibling' })
    .invoke(T0 + 113, 'ig', 'grant', { action: 'slack:read', resource: 'channels/team' })
    .present(T0 + 113, 'ig', allow(), { note: 'the parent' })
    .attenuate(T0 + 120, 'a-new', 'grant', { to: 'subagent' })
    .invoke(T0 + 121, 'ia3', 'a-new', { action: 'slack:read', resource: 'channels/team' })
    .present(T0 + 121, 'ia3', allow(), { note: 'a new grant to the same sub-agent has a new block id' })
})

scenario('revocation/first-block-reported', 'with two revoked blocks in a chain the one nearer the root is reported', (s) => {
  s.mint(T0, 'grant', { to: 'assistant', caveats: [window8h] })
    .attenuate(T0, 'a', 'grant')
    .attenuate(T0, 'a2', 'a')
    .revoke(T0 + 10, s.block('a2', 2))
    .present(T0 + 11, 'a2', deny('ERR_REVOKED', { block: 2 }), { request: read })
    .present(T0 + 12, 'a', allow(), { request: read })
    .revoke(T0 + 20, s.block('a', 1))
    .present(T0 + 21, 'a2', deny('ERR_REVOKED', { block: 1 }), { request: read })
    .revoke(T0 + 30, s.block('grant', 0), undefined, 'Alice revokes the root')
    .present(T0 + 31, 'a2', deny('ERR_REVOKED', { block: 0 }), { request: read })
})

scenario('revocation/root', 'revoking the root denies every mandate and invocation under it', (s) => {
  s.mint(T0, 'grant', { to: 'assistant', caveats: [window8h] })
    .attenuate(T0, 'a', 'grant')
    .invoke(T0 + 5, 'i1', 'grant', { action: 'email:read' })
    .present(T0 + 10, 'a', allow(), { request: read })
    .revoke(T0 + 20, s.block('grant', 0))
    .present(T0 + 21, 'a', deny('ERR_REVOKED', { block: 0 }), { request: read })
    .present(T0 + 22, 'i1', deny('ERR_REVOKED', { block: 0 }), { note: 'signed before the revocation, presented after' })
})

scenario('revocation/scoped', 'a scoped revocation denies the named action and those below it; other actions go on', (s) => {
  s.mint(T0, 'grant', { to: 'assistant', caveats: [window8h] })
    .attenuate(T0, 'sub', 'grant', { caveats: [{ type: 'actions', patterns: ['slack:read', 'slack:write', 'slack:write:thread'] }] })
    .present(T0 + 1, 'sub', allow(), { request: write })
    .revoke(T0 + 10, s.block('sub', 1), ['slack:write'])
    .present(T0 + 11, 'sub', deny('ERR_REVOKED', { block: 1 }), { request: write })
    .present(T0 + 12, 'sub', deny('ERR_REVOKED', { block: 1 }), { request: { action: 'slack:write:thread', resource: 'channels/team' } })
    .present(T0 + 13, 'sub', allow(), { request: read })
    .invoke(T0 + 14, 'iw', 'grant', { action: 'slack:write', resource: 'channels/team' })
    .present(T0 + 14, 'iw', allow(), { note: 'the scoped entry is on block 1; the parent is unaffected' })
})

scenario(
  'revocation/suspend-resume',
  'a suspension denies until it is lifted; the same invocation then passes (a denial does not spend it)',
  (s) => {
    s.mint(T0, 'grant', { to: 'assistant', caveats: [window8h] })
      .attenuate(T0, 'sub', 'grant', { to: 'subagent' })
      .suspend(T0 + 5, s.block('sub', 1))
      .invoke(T0 + 10, 'i1', 'sub', { action: 'calendar:read' })
      .present(T0 + 10, 'i1', deny('ERR_SUSPENDED', { block: 1 }))
      .present(T0 + 60, 'i1', deny('ERR_SUSPENDED', { block: 1 }))
      .resume(T0 + 100, s.block('sub', 1))
      .present(T0 + 101, 'i1', allow())
      .present(T0 + 102, 'i1', deny('ERR_REPLAY'))
  },
)

scenario('revocation/suspend-root-resume', 'suspending block 0 pauses the whole tree; resuming restores it', (s) => {
  s.mint(T0, 'grant', { to: 'assistant', caveats: [window8h] })
    .attenuate(T0, 'a', 'grant')
    .attenuate(T0, 'b', 'grant')
    .suspend(T0 + 10, s.block('grant', 0))
    .present(T0 + 11, 'a', deny('ERR_SUSPENDED', { block: 0 }), { request: read })
    .present(T0 + 12, 'b', deny('ERR_SUSPENDED', { block: 0 }), { request: read })
    .resume(T0 + 20, s.block('grant', 0))
    .present(T0 + 21, 'a', allow(), { request: read })
    .present(T0 + 22, 'b', allow(), { request: read })
})

scenario('revocation/scoped-suspend-resume', 'a scoped suspension pauses one action; resume lifts it', (s) => {
  s.mint(T0, 'grant', { to: 'assistant', caveats: [window8h] })
    .attenuate(T0, 'sub', 'grant')
    .suspend(T0 + 10, s.block('sub', 1), ['email:send'])
    .present(T0 + 11, 'sub', deny('ERR_SUSPENDED', { block: 1 }), { request: { action: 'email:send' } })
    .present(T0 + 12, 'sub', deny('ERR_SUSPENDED', { block: 1 }), { request: { action: 'email:send:now' } })
    .present(T0 + 13, 'sub', allow(), { request: { action: 'email:sender' } })
    .present(T0 + 14, 'sub', allow(), { request: { action: 'email:read' } })
    .resume(T0 + 20, s.block('sub', 1))
    .present(T0 + 21, 'sub', allow(), { request: { action: 'email:send' } })
})

scenario('revocation/resume-keeps-revocation', 'resume lifts suspensions only: a revocation made meanwhile stays', (s) => {
  s.mint(T0, 'grant', { to: 'assistant', caveats: [window8h] })
    .attenuate(T0, 'sub', 'grant')
    .suspend(T0 + 10, s.block('sub', 1))
    .present(T0 + 11, 'sub', deny('ERR_SUSPENDED', { block: 1 }), { request: read })
    .revoke(T0 + 20, s.block('sub', 1))
    .resume(T0 + 30, s.block('sub', 1))
    .present(T0 + 31, 'sub', deny('ERR_REVOKED', { block: 1 }), { request: read })
})

scenario('revocation/suspended-not-counted', 'a suspended request consumes no use: once resumed the quota is intact', (s) => {
  s.mint(T0, 'grant', { to: 'assistant', caveats: [window8h] }).attenuate(T0, 'sub', 'grant', { caveats: [{ type: 'uses', max: 1 }] })
  const k = counter(s, 'sub', 1, 0)
  s.suspend(T0 + 1, s.block('sub', 1))
    .present(T0 + 2, 'sub', deny('ERR_SUSPENDED', { block: 1 }), { request: read })
    .present(T0 + 3, 'sub', deny('ERR_SUSPENDED', { block: 1 }), { request: read })
    .resume(T0 + 4, s.block('sub', 1))
    .present(T0 + 5, 'sub', allow({ [k]: 0 }), { request: read })
    .present(T0 + 6, 'sub', deny('ERR_USAGE_EXHAUSTED', { block: 1, caveat: 'uses' }), { request: read })
})

// ---- amendments: caveats added to a block already handed on (spec §9.2) -------------------
scenario(
  'amend/mid-way',
  "Alice amends the assistant's block mid-way: the sub-agent's email:send needs her approval until she lifts the amendment",
  (s) => {
    s.mint(T0, 'grant', { to: 'assistant', caveats: [{ type: 'actions', patterns: ['email:*', 'calendar:*'] }, window8h] })
      .attenuate(T0, 'sub', 'grant', { to: 'subagent', caveats: [{ type: 'actions', patterns: ['email:read', 'email:send'] }] })
      .invoke(T0 + 10, 'send1', 'sub', { action: 'email:send' })
      .present(T0 + 10, 'send1', allow(), { note: 'before the amendment' })
      .amend(
        T0 + 100,
        'ask',
        'grant',
        0,
        'alice',
        [{ type: 'approval', actions: ['email:send'], approvers: [did('alice')], quorum: 1 }],
        accepted,
        { reason: 'ask me before sending', note: "Alice amends block 0, the assistant's, which the sub-agent's chain contains" },
      )
    const ask = s.amendment('ask')
    s.invoke(T0 + 110, 'send2', 'sub', { action: 'email:send' })
      .present(T0 + 110, 'send2', deny('ERR_APPROVAL_REQUIRED', { block: 0, caveat: 'approval', amendment: ask }), {
        note: 'the same mandate, unchanged: the amendment is in the view',
      })
      .invoke(T0 + 111, 'read', 'sub', { action: 'email:read' })
      .present(T0 + 111, 'read', allow(), { note: 'the amendment asks for approval of email:send only' })
      .invoke(T0 + 112, 'assistant-send', 'grant', { action: 'email:send' })
      .present(T0 + 112, 'assistant-send', deny('ERR_APPROVAL_REQUIRED', { block: 0, caveat: 'approval', amendment: ask }), {
        note: 'the assistant itself holds the amended block',
      })
      .approve(T0 + 120, 'ok', 'send2', 'alice')
      .present(T0 + 121, 'send2', allow(), { approvals: ['ok'] })
      .lift(T0 + 200, 'ask', 'grant', 'alice', accepted, 'Alice lifts it')
      .invoke(T0 + 210, 'send3', 'sub', { action: 'email:send' })
      .present(T0 + 210, 'send3', allow(), { note: 'no approval needed any more' })
  },
)

scenario(
  'amend/lift',
  "an amendment's quota counts under its own id: lifting it leaves the block's own; amended again, it counts afresh",
  (s) => {
    s.mint(T0, 'grant', { to: 'assistant', caveats: [window8h] }).attenuate(T0, 'sub', 'grant', { caveats: [{ type: 'uses', max: 5 }] })
    const own = counter(s, 'sub', 1, 0)
    s.present(T0 + 1, 'sub', allow({ [own]: 4 }), { request: read }).amend(
      T0 + 10,
      'once',
      'sub',
      1,
      'assistant',
      [{ type: 'uses', max: 1 }],
      accepted,
      { note: 'the assistant (holder of block 0) limits block 1 to one more use' },
    )
    const once = s.amendment('once')
    s.present(T0 + 11, 'sub', allow({ [own]: 3, [`${once}/0`]: 0 }), { request: read })
      .present(T0 + 12, 'sub', deny('ERR_USAGE_EXHAUSTED', { block: 1, caveat: 'uses', amendment: once }), { request: read })
      .lift(T0 + 20, 'once', 'sub', 'assistant')
      .present(T0 + 21, 'sub', allow({ [own]: 2 }), { request: read, note: "lifted: the block's own quota alone" })
      .amend(T0 + 30, 'again', 'sub', 1, 'assistant', [{ type: 'uses', max: 1 }], accepted, {
        note: 'the same restriction again: a new statement, a new id',
      })
    const again = s.amendment('again')
    s.present(T0 + 31, 'sub', allow({ [own]: 1, [`${again}/0`]: 0 }), { request: read, note: 'counted afresh, under the new id' })
      .present(T0 + 32, 'sub', deny('ERR_USAGE_EXHAUSTED', { block: 1, caveat: 'uses', amendment: again }), { request: read })
      .lift(T0 + 40, 'once', 'sub', 'assistant', accepted, 'lifting the first amendment again changes nothing: it is no longer in force')
      .present(T0 + 41, 'sub', deny('ERR_USAGE_EXHAUSTED', { block: 1, caveat: 'uses', amendment: again }), { request: read })
  },
)

scenario(
  'amend/unauthorised',
  "a sub-agent's amendment of its delegator's block, or an outsider's, is refused and changes nothing; the sub-agent may restrain its own block",
  (s) => {
    s.mint(T0, 'grant', { to: 'assistant', caveats: [{ type: 'actions', patterns: ['email:*'] }, window8h] })
      .attenuate(T0, 'sub', 'grant', { to: 'subagent' })
      .amend(
        T0 + 10,
        'shed',
        'sub',
        0,
        'subagent',
        [{ type: 'deny', patterns: ['email:*'] }],
        refusedStatement('verify', 'ERR_HOLDER_MISMATCH'),
        {
          note: "the sub-agent signs an amendment of block 0, the assistant's: a key below the target",
        },
      )
      .amend(
        T0 + 11,
        'outsider',
        'sub',
        1,
        'mallory',
        [{ type: 'deny', patterns: ['email:*'] }],
        refusedStatement('verify', 'ERR_HOLDER_MISMATCH'),
        {
          note: 'mallory holds no block of the chain',
        },
      )
      .invoke(T0 + 20, 'assistant-send', 'grant', { action: 'email:send' })
      .present(T0 + 20, 'assistant-send', allow(), { note: 'the refused statements changed nothing' })
      .invoke(T0 + 21, 'sub-send', 'sub', { action: 'email:send' })
      .present(T0 + 21, 'sub-send', allow())
      .amend(T0 + 30, 'restrain', 'sub', 1, 'subagent', [{ type: 'deny', patterns: ['email:send'] }], accepted, {
        note: 'the sub-agent restrains its own block',
      })
    const restrain = s.amendment('restrain')
    s.invoke(T0 + 31, 'sub-send2', 'sub', { action: 'email:send' })
      .present(T0 + 31, 'sub-send2', deny('ERR_ACTION_DENIED', { block: 1, caveat: 'deny', amendment: restrain }))
      .invoke(T0 + 32, 'assistant-send2', 'grant', { action: 'email:send' })
      .present(T0 + 32, 'assistant-send2', allow(), { note: 'block 0 is not amended: the block above is untouched' })
  },
)

// ---- approvals ------------------------------------------------------------------------------
const approvalGrant = (s: Builder, approvers: Role[], quorum: number) =>
  s.mint(T0, 'grant', {
    to: 'assistant',
    caveats: [
      { type: 'actions', patterns: ['email:read', 'email:send'] },
      { type: 'approval', actions: ['email:send'], approvers: approvers.map(did), quorum },
      window8h,
    ],
  })

scenario('approval/late', 'an approval that arrives after the first attempt: denied, then allowed, then a replay', (s) => {
  approvalGrant(s, ['bob'], 1)
    .invoke(T0, 'send', 'grant', { action: 'email:send' })
    .present(T0, 'send', deny('ERR_APPROVAL_REQUIRED', { block: 0, caveat: 'approval' }))
    .approve(T0 + 120, 'ok', 'send', 'bob')
    .present(T0 + 121, 'send', allow(), { approvals: ['ok'], note: 'the same invocation: the denial did not spend it' })
    .present(T0 + 122, 'send', deny('ERR_REPLAY'), { approvals: ['ok'] })
})

scenario('approval/waits', 'an approval that arrives an hour later: the invocation waited, and is accepted once, soon after it', (s) => {
  approvalGrant(s, ['bob'], 1)
    .invoke(T0, 'send', 'grant', { action: 'email:send' })
    .invoke(T0, 'send2', 'grant', { action: 'email:send' })
    .invoke(T0, 'read', 'grant', { action: 'email:read' })
    .present(T0, 'send', deny('ERR_APPROVAL_REQUIRED', { block: 0, caveat: 'approval' }))
    .present(T0 + H, 'send', deny('ERR_APPROVAL_REQUIRED', { block: 0, caveat: 'approval' }), {
      note: 'an hour later: past its max age, still waiting for its approval (spec §7 steps 7 and 10)',
    })
    .present(T0 + H, 'read', deny('ERR_PROOF'), { note: 'needs no approval: it has nothing to wait for, so it is stale' })
    .approve(T0 + H, 'ok', 'send', 'bob')
    .approve(T0 + H, 'ok2', 'send2', 'bob')
    .present(T0 + H + INVOCATION_MAX_AGE + SKEW, 'send', allow(), { approvals: ['ok'], note: 'max_age + σ after its approval' })
    .present(T0 + H + INVOCATION_MAX_AGE + SKEW + 1, 'send', deny('ERR_REPLAY'), { approvals: ['ok'], note: 'accepted once' })
    .present(T0 + H + INVOCATION_MAX_AGE + SKEW + 1, 'send2', deny('ERR_PROOF'), {
      approvals: ['ok2'],
      note: 'max_age + σ + 1 after its approval: too late, sign a new invocation',
    })
})

scenario('approval/expired', 'an approval is usable until its expiry + skew; a fresh one from the approver works', (s) => {
  approvalGrant(s, ['bob'], 1)
    .invoke(T0, 'send1', 'grant', { action: 'email:send' })
    .approve(T0, 'ok1', 'send1', 'bob', 60)
    .invoke(T0 + 100, 'send2', 'grant', { action: 'email:send' })
    .approve(T0 + 100, 'ok2', 'send2', 'bob', 60)
    .present(T0 + 60 + SKEW - 1, 'send1', allow(), { approvals: ['ok1'], note: 'ok1 expires at T0+60: expires + σ − 1' })
    .present(T0 + 160 + SKEW, 'send2', deny('ERR_APPROVAL_INVALID'), { approvals: ['ok2'], note: 'ok2 expires at T0+160: expires + σ' })
    .approve(T0 + 230, 'ok2b', 'send2', 'bob', 60)
    .present(T0 + 231, 'send2', allow(), { approvals: ['ok2b'] })
})

scenario('approval/quorum', 'two of bob and carol: one approval is not enough; the second arrives later', (s) => {
  approvalGrant(s, ['bob', 'carol'], 2)
    .invoke(T0, 'send', 'grant', { action: 'email:send' })
    .approve(T0 + 10, 'bob-ok', 'send', 'bob')
    .present(T0 + 11, 'send', deny('ERR_APPROVAL_REQUIRED', { block: 0, caveat: 'approval' }), { approvals: ['bob-ok'] })
    .approve(T0 + 50, 'mallory-ok', 'send', 'mallory')
    .present(T0 + 51, 'send', deny('ERR_APPROVAL_INVALID'), { approvals: ['bob-ok', 'mallory-ok'], note: 'mallory is not listed' })
    .approve(T0 + 100, 'carol-ok', 'send', 'carol')
    .present(T0 + 101, 'send', allow(), { approvals: ['bob-ok', 'carol-ok'] })
})

scenario('approval/other-invocation', 'an approval names one invocation: it does not carry over to the next', (s) => {
  approvalGrant(s, ['bob'], 1)
    .invoke(T0, 'send1', 'grant', { action: 'email:send' })
    .approve(T0 + 5, 'ok1', 'send1', 'bob')
    .present(T0 + 6, 'send1', allow(), { approvals: ['ok1'] })
    .invoke(T0 + 10, 'send2', 'grant', { action: 'email:send' })
    .present(T0 + 11, 'send2', deny('ERR_APPROVAL_INVALID'), { approvals: ['ok1'] })
    .present(T0 + 12, 'send2', deny('ERR_APPROVAL_REQUIRED', { block: 0, caveat: 'approval' }))
    .invoke(T0 + 13, 'read', 'grant', { action: 'email:read' })
    .present(T0 + 13, 'read', allow(), { note: 'actions without an approval caveat need none' })
})

scenario('approval/bare-mandate', 'approvals bind to invocations: a bearer mandate can never satisfy an approval caveat', (s) => {
  approvalGrant(s, ['bob'], 1)
    .attenuate(T0, 'sub', 'grant')
    .invoke(T0 + 1, 'send', 'sub', { action: 'email:send' })
    .approve(T0 + 2, 'ok', 'send', 'bob')
    .present(T0 + 3, 'sub', deny('ERR_APPROVAL_REQUIRED', { block: 0, caveat: 'approval' }), { request: { action: 'email:send' } })
    .present(T0 + 4, 'sub', deny('ERR_APPROVAL_INVALID'), {
      request: { action: 'email:send' },
      approvals: ['ok'],
      note: "the approval is for the sub-agent's invocation, not for this bare request",
    })
    .present(T0 + 5, 'send', allow(), { approvals: ['ok'], note: 'the invocation signed with the bearer key' })
})

// ---- invocations: replay and freshness -------------------------------------------------------
scenario('replay/twice', 'the same invocation twice is a replay; a new invocation for the same request passes', (s) => {
  s.mint(T0, 'grant', { to: 'assistant', caveats: [window8h] })
    .invoke(T0, 'i1', 'grant', { action: 'email:read' })
    .present(T0, 'i1', allow())
    .present(T0 + 1, 'i1', deny('ERR_REPLAY'))
    .invoke(T0 + 2, 'i2', 'grant', { action: 'email:read' })
    .present(T0 + 2, 'i2', allow())
})

scenario(
  'replay/until-stale',
  `an invocation is fresh for ${INVOCATION_MAX_AGE} s + σ: a replay is ERR_REPLAY up to the edge, then ERR_PROOF (stale)`,
  (s) => {
    const edge = T0 + INVOCATION_MAX_AGE + SKEW
    s.mint(T0, 'grant', { to: 'assistant', caveats: [window8h] })
      .invoke(T0, 'i1', 'grant', { action: 'email:read' })
      .present(T0, 'i1', allow())
      .present(edge, 'i1', deny('ERR_REPLAY'), { note: 'issued_at = now − max_age − σ: still fresh' })
      .present(edge + 1, 'i1', deny('ERR_PROOF'), {
        note: 'stale: it needs no approval, so it cannot wait for one (and its id may be forgotten)',
      })
  },
)

scenario('invocation/stale', 'an invocation never presented, first presented after max_age + σ', (s) => {
  const edge = T0 + INVOCATION_MAX_AGE + SKEW
  s.mint(T0, 'grant', { to: 'assistant', caveats: [window8h] })
    .invoke(T0, 'late', 'grant', { action: 'email:read' })
    .invoke(T0, 'edge', 'grant', { action: 'email:read' })
    .present(edge, 'edge', allow())
    .present(edge + 1, 'late', deny('ERR_PROOF'))
})

scenario('invocation/audience', 'an invocation is for one service; an audience caveat limits where a mandate works', (s) => {
  s.mint(T0, 'grant', { to: 'assistant', caveats: [window8h] })
    .invoke(T0, 'other', 'grant', { action: 'email:read', audience: 'mail' })
    .present(T0, 'other', deny('ERR_AUDIENCE'))
    .attenuate(T0, 'sub', 'grant', { caveats: [{ type: 'audience', names: ['mail'] }] })
    .present(T0 + 1, 'sub', deny('ERR_AUDIENCE', { block: 1, caveat: 'audience' }), { request: read })
    .attenuate(T0 + 2, 'sub-svc', 'grant', { caveats: [{ type: 'audience', names: ['mail', AUDIENCE] }] })
    .present(T0 + 2, 'sub-svc', allow(), { request: read })
})

// ---- holder modes ----------------------------------------------------------------------------
scenario('holder/bound-vs-bearer', 'a bound mandate needs an invocation by its holder; a bearer one is presented bare or invoked', (s) => {
  s.mint(T0, 'grant', { to: 'assistant', caveats: [window8h] })
    .present(T0, 'grant', deny('ERR_PROOF', { block: 0 }), { request: read, note: 'bound, presented bare' })
    .invoke(T0 + 1, 'i1', 'grant', { action: 'slack:read', resource: 'channels/team' })
    .present(T0 + 1, 'i1', allow())
    .attenuate(T0 + 2, 'bearer', 'grant')
    .present(T0 + 2, 'bearer', allow(), { request: read })
    .invoke(T0 + 3, 'i2', 'bearer', { action: 'slack:read', resource: 'channels/team' })
    .present(T0 + 3, 'i2', allow(), { note: 'signed with the bearer key' })
    .attenuate(T0 + 4, 'bound-sub', 'bearer', { to: 'subagent' })
    .present(T0 + 4, 'bound-sub', deny('ERR_PROOF', { block: 2 }), { request: read })
    .invoke(T0 + 5, 'i3', 'bound-sub', { action: 'slack:read', resource: 'channels/team' })
    .present(T0 + 5, 'i3', allow())
})

scenario('holder/seal', 'a sealed mandate is presented bare; revoking its block denies the sealed copy too', (s) => {
  s.mint(T0, 'grant', { to: 'assistant', caveats: [window8h] })
    .attenuate(T0, 'sub', 'grant', { caveats: [{ type: 'actions', patterns: ['slack:read'] }] })
    .seal(T0 + 1, 'sealed', 'sub')
    .present(T0 + 2, 'sealed', allow(), { request: read })
    .present(T0 + 3, 'sealed', deny('ERR_ACTION_DENIED', { block: 1, caveat: 'actions' }), { request: write })
    .revoke(T0 + 10, s.block('sub', 1))
    .present(T0 + 11, 'sealed', deny('ERR_REVOKED', { block: 1 }), { request: read })
})

// ---- time ------------------------------------------------------------------------------------
scenario('time/expiry-boundary', 'allowed at expires + σ − 1, expired at expires + σ; a child expiry is reported at the child', (s) => {
  const E = T0 + H
  const Ec = T0 + H / 2
  s.mint(T0, 'grant', { to: 'assistant', caveats: [{ type: 'window', expires: E }] })
    .attenuate(T0, 'child', 'grant', { caveats: [{ type: 'window', expires: Ec }] })
    .present(Ec + SKEW - 1, 'child', allow(), { request: read })
    .present(Ec + SKEW, 'child', deny('ERR_TIME_EXPIRED', { block: 1, caveat: 'window' }), { request: read })
    .invoke(E + SKEW - 1, 'i1', 'grant', { action: 'email:read' })
    .present(E + SKEW - 1, 'i1', allow())
    .invoke(E + SKEW, 'i2', 'grant', { action: 'email:read' })
    .present(E + SKEW, 'i2', deny('ERR_TIME_EXPIRED', { block: 0, caveat: 'window' }))
    .present(E + SKEW + 1, 'child', deny('ERR_TIME_EXPIRED', { block: 1, caveat: 'window' }), {
      request: read,
      note: 'both expired: the earlier expiry is reported',
    })
})

scenario('time/not-before-boundary', 'not yet at not_before − σ − 1, allowed from not_before − σ', (s) => {
  const N = T0 + 600
  s.mint(T0, 'grant', { to: 'assistant', caveats: [window8h] })
    .attenuate(T0, 'later', 'grant', { caveats: [{ type: 'window', notBefore: N }] })
    .present(T0, 'later', deny('ERR_TIME_NOT_YET', { block: 1, caveat: 'window' }), { request: read })
    .present(N - SKEW - 1, 'later', deny('ERR_TIME_NOT_YET', { block: 1, caveat: 'window' }), { request: read })
    .present(N - SKEW, 'later', allow(), { request: read })
})

scenario('time/expired-quota', 'uses left do not outlast the window: an expired grant is denied whatever its quota', (s) => {
  const E = T0 + 120
  s.mint(T0, 'grant', {
    caveats: [
      { type: 'uses', max: 5 },
      { type: 'window', expires: E },
    ],
  })
  const k = counter(s, 'grant', 0, 0)
  s.present(T0, 'grant', allow({ [k]: 4 }), { request: read }).present(
    E + SKEW,
    'grant',
    deny('ERR_TIME_EXPIRED', { block: 0, caveat: 'window' }),
    { request: read },
  )
})

// ---- actions and resources -------------------------------------------------------------------
scenario('action/deny-descendant', 'a deny caveat covers the action and those below it, not its siblings', (s) => {
  s.mint(T0, 'grant', { to: 'assistant', caveats: [{ type: 'actions', patterns: ['email:*'] }, window8h] })
    .attenuate(T0, 'sub', 'grant', { caveats: [{ type: 'deny', patterns: ['email:send'] }] })
    .present(T0 + 1, 'sub', allow(), { request: { action: 'email:read' } })
    .present(T0 + 2, 'sub', deny('ERR_ACTION_DENIED', { block: 1, caveat: 'deny' }), { request: { action: 'email:send' } })
    .present(T0 + 3, 'sub', deny('ERR_ACTION_DENIED', { block: 1, caveat: 'deny' }), { request: { action: 'email:send:now' } })
    .present(T0 + 4, 'sub', allow(), { request: { action: 'email:sender' } })
    .invoke(T0 + 5, 'parent-send', 'grant', { action: 'email:send' })
    .present(T0 + 5, 'parent-send', allow(), { note: 'the parent is not narrowed by its child' })
})

scenario('resource/traversal', 'a resources glob never admits a path with dot segments; outside paths are denied at the block', (s) => {
  s.mint(T0, 'grant', { to: 'assistant', caveats: [window8h] })
    .attenuate(T0, 'sub', 'grant', { caveats: [{ type: 'resources', globs: ['mail/**'] }] })
    .present(T0 + 1, 'sub', allow(), { request: { action: 'files:read', resource: 'mail/inbox/1' } })
    .present(T0 + 2, 'sub', deny('ERR_REQUEST_INVALID'), { request: { action: 'files:read', resource: 'mail/../../etc/passwd' } })
    .present(T0 + 3, 'sub', deny('ERR_REQUEST_INVALID'), { request: { action: 'files:read', resource: 'mail/./inbox' } })
    .present(T0 + 4, 'sub', deny('ERR_RESOURCE_DENIED', { block: 1, caveat: 'resources' }), {
      request: { action: 'files:read', resource: 'etc/passwd' },
    })
    .present(T0 + 5, 'sub', allow(), { request: { action: 'files:read', resource: 'mail/inbox/1' }, note: 'the denials changed nothing' })
})

// ---- write or check ------------------------------------------------------------------------
async function main(): Promise<void> {
  const ids = new Set<string>()
  const problems: string[] = []
  for (const s of scenarios) {
    if (ids.has(s.id)) throw new Error(`duplicate scenario id ${s.id}`)
    ids.add(s.id)
    problems.push(...(await checkScenario(s)))
  }
  if (problems.length > 0) throw new Error(`the implementation disagrees with the scenarios:\n${problems.join('\n')}`)
  const text = json({
    format: 'mandate-v1 scenario vectors',
    version: 1,
    spec: 'spec/mandate-v1.md §7, test-vectors/README.md',
    clock: { T0 },
    defaults: { skew: SKEW, invocationMaxAge: INVOCATION_MAX_AGE, approvalWait: 86_400, approvalTtl: 600 },
    scenarios,
  })
  const check = writeOrCheck({ 'scenarios.json': text })
  const presents = scenarios.reduce((n, s) => n + s.steps.filter((st) => 'present' in st).length, 0)
  console.log(`${check ? 'checked' : 'wrote'} ${scenarios.length} scenarios (${presents} decisions)`)
}

await main()
