/**
 * The MCP doors' edges, pinned exactly: what each bad setup throws, what each shape of `_meta`
 * reads as, the whole audit record of each kind of outcome (with and without a resource, an
 * approval request, a revocation check), a sink or a resource mapping that fails, and the
 * library form's argument checks. Everything runs in process, so that mutation testing sees it
 * (`npm run mutation -- mcp`).
 */
import { mkdtempSync, statSync, unlinkSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  answerApprovalRequest,
  approve,
  attenuate,
  type Caveat,
  createMemoryRevocationView,
  createVerifier,
  denyApprovalRequest,
  formatApproval,
  formatInvocation,
  formatMandate,
  generateKeyPair,
  invoke,
  type KeyPair,
  MandateError,
  mint,
  parseInvocation,
  seal,
  toDidKey,
  type UnverifiedMandate,
} from '../../src/index.js'
import { fromHex } from '../../src/internal/bytes.js'
import { readToolCallMeta } from '../../src/mcp/meta.js'
import {
  argsDigest,
  auditToFile,
  createToolGuard,
  createToolVerifier,
  guardTool,
  invocationMeta,
  META_APPROVALS,
  META_INVOCATION,
  type ToolAuditRecord,
  type ToolCallOutcome,
  type ToolGuardOptions,
} from '../../src/mcp.js'
import { type ServiceUnderTest, startInProcess } from '../helpers/service.js'

const alice = generateKeyPair()
const assistant = generateKeyPair()
const stranger = generateKeyPair()
const ALICE = toDidKey(alice.publicKey)
const ASSISTANT = toDidKey(assistant.publicKey)
const roots = [{ name: 'alice', key: ALICE }]
const hour = () => Math.floor(Date.now() / 1000) + 3600
const ECHO: Caveat[] = [{ type: 'actions', patterns: ['mcp:everything:echo', 'mcp:everything:get-sum'] }]
/** get-sum needs Alice's approval. */
const NEEDS_ALICE: Caveat[] = [...ECHO, { type: 'approval', actions: ['mcp:everything:get-sum'], approvers: [ALICE], quorum: 1 }]

function grant(caveats: Caveat[] = ECHO, to: KeyPair = assistant): UnverifiedMandate {
  return mint({
    principal: alice,
    to: toDidKey(to.publicKey),
    name: 'assistant',
    caveats: [...caveats, { type: 'window', expires: hour() }],
  })
}

function thrown(f: () => unknown): { name: string; code?: string; message: string; hint?: string } {
  try {
    f()
  } catch (e) {
    if (e instanceof MandateError)
      return { name: e.name, code: e.code, message: e.message, ...(e.hint === undefined ? {} : { hint: e.hint }) }
    if (e instanceof Error) return { name: e.name, message: e.message }
    return { name: `a thrown ${typeof e}`, message: String(e) }
  }
  return { name: 'none', message: 'no error' }
}

const until = async (check: () => boolean) => {
  for (let i = 0; i < 400 && !check(); i++) await new Promise((r) => setTimeout(r, 10))
}

function denied(outcome: ToolCallOutcome) {
  if (outcome.allowed) throw new Error(`expected a denial, got an allowed ${outcome.action}`)
  return outcome
}

/** A guard over a fresh verifier (audience `everything`), its audit records collected. */
function guardOf(mandate: UnverifiedMandate, extra: Partial<ToolGuardOptions> = {}) {
  const records: ToolAuditRecord[] = []
  const guard = createToolGuard({
    mandate,
    key: assistant,
    verifier: { roots, audience: 'everything', revocations: 'none' },
    audit: (r) => void records.push(r),
    ...extra,
  })
  return { guard, records }
}

/** The parties a record names from the mandate alone (no chain decided: no root name). */
const PARTIES = [
  { role: 'principal', key: ALICE },
  { role: 'holder', key: ASSISTANT, name: 'assistant' },
]
/** The parties of a chain the verifier decided: the root named as the verifier knows it. */
const DECIDED = [{ role: 'principal', key: ALICE, name: 'alice' }, PARTIES[1]]

describe('the _meta keys of a tool call', () => {
  it('are the spec names', () => {
    expect([META_INVOCATION, META_APPROVALS]).toEqual(['dev.mandate/invocation', 'dev.mandate/approvals'])
  })

  it('no invocation: ERR_PROOF, whatever _meta is (absent, null, a list, text, an inherited key)', () => {
    const none = {
      problem: {
        code: 'ERR_PROOF',
        message: 'this tool takes an invocation: the call carries none in _meta["dev.mandate/invocation"]',
        hint: 'sign an invocation of this call (its tool and exact arguments, addressed to this server) and send its text (mni1_…) in _meta["dev.mandate/invocation"]',
      },
    }
    for (const meta of [undefined, null, [], 'mni1_x', {}, Object.create({ [META_INVOCATION]: 'mni1_x' })]) {
      expect(readToolCallMeta(meta)).toEqual(none)
    }
  })

  it('an invocation that is not text: ERR_TEXT_FORMAT', () => {
    expect(readToolCallMeta({ [META_INVOCATION]: 7 })).toEqual({
      problem: {
        code: 'ERR_TEXT_FORMAT',
        message: '_meta["dev.mandate/invocation"] is not a string',
        hint: "send the invocation's text form (mni1_…)",
      },
    })
  })

  it('approvals: absent is none; a list of up to 16 must be all text; a longer list goes to the verifier unread', () => {
    const bad = {
      problem: {
        code: 'ERR_TEXT_FORMAT',
        message: '_meta["dev.mandate/approvals"] is not a list of strings',
        hint: "send the approvals' text forms (mna1_…) as a list",
      },
    }
    expect(readToolCallMeta({ [META_INVOCATION]: 'mni1_x' })).toEqual({ invocation: 'mni1_x', approvals: [] })
    expect(readToolCallMeta({ [META_INVOCATION]: 'mni1_x', [META_APPROVALS]: ['mna1_a'] })).toEqual({
      invocation: 'mni1_x',
      approvals: ['mna1_a'],
    })
    expect(readToolCallMeta({ [META_INVOCATION]: 'mni1_x', [META_APPROVALS]: 'mna1_a' })).toEqual(bad)
    expect(readToolCallMeta({ [META_INVOCATION]: 'mni1_x', [META_APPROVALS]: ['mna1_a', 5] })).toEqual(bad)
    const sixteen = [...Array.from({ length: 15 }, () => 'mna1_a'), 5]
    expect(readToolCallMeta({ [META_INVOCATION]: 'mni1_x', [META_APPROVALS]: sixteen })).toEqual(bad)
    // The verifier refuses more than 16 unread (ERR_LIMIT_COUNT): nothing here reads them one by one.
    const seventeen = Array.from({ length: 17 }, () => 5)
    expect(readToolCallMeta({ [META_INVOCATION]: 'mni1_x', [META_APPROVALS]: seventeen })).toEqual({
      invocation: 'mni1_x',
      approvals: seventeen,
    })
  })
})

describe('invocationMeta', () => {
  it('refuses a call, options or audience it cannot use', () => {
    const m = grant()
    const type = (message: string) => ({ name: 'TypeError', message })
    const callError = type('"call" expected { name, arguments }')
    expect(thrown(() => invocationMeta(m, null as never, { key: assistant, audience: 'everything' }))).toEqual(callError)
    expect(thrown(() => invocationMeta(m, 'echo' as never, { key: assistant, audience: 'everything' }))).toEqual(callError)
    expect(thrown(() => invocationMeta(m, { name: 5 } as never, { key: assistant, audience: 'everything' }))).toEqual(callError)
    const optionsError = type('"options" expected { audience, key? }')
    expect(thrown(() => invocationMeta(m, { name: 'echo' }, null as never))).toEqual(optionsError)
    expect(thrown(() => invocationMeta(m, { name: 'echo' }, 'everything' as never))).toEqual(optionsError)
    const audienceError = type('"audience" expected the server\'s name')
    expect(thrown(() => invocationMeta(m, { name: 'echo' }, { key: assistant, audience: '' }))).toEqual(audienceError)
    expect(thrown(() => invocationMeta(m, { name: 'echo' }, { key: assistant, audience: 5 as never }))).toEqual(audienceError)
  })

  it('a tool without an action, or arguments no mandate can carry: ERR_REQUEST_INVALID with a hint', () => {
    const m = grant()
    const long = `Tool${'x'.repeat(200)}`
    expect(thrown(() => invocationMeta(m, { name: long }, { key: assistant, audience: 'everything' }))).toEqual({
      name: 'MandateError',
      code: 'ERR_REQUEST_INVALID',
      message: `the tool ${JSON.stringify(long.slice(0, 128))} has no action`,
      hint: 'give the mapping the server uses ("actions" or "actionPrefix")',
    })
    const bad = thrown(() => invocationMeta(m, { name: 'echo', arguments: { x: 0.5 } }, { key: assistant, audience: 'everything' }))
    expect(bad).toMatchObject({ code: 'ERR_REQUEST_INVALID' })
    expect(bad.hint).toEqual(expect.any(String))
    expect(bad.hint?.length).toBeGreaterThan(0)
  })

  it('signs exactly the call: its text mandate, action, arguments, resource, intent and time', () => {
    const now = Math.floor(Date.now() / 1000) - 5
    const meta = invocationMeta(
      formatMandate(grant()),
      { name: 'echo', arguments: { message: 'hi' } },
      { key: assistant, audience: 'everything', resource: 'room/1', intent: 'say hi', now },
    )
    expect(Object.keys(meta)).toEqual([META_INVOCATION])
    const inv = parseInvocation(meta[META_INVOCATION])
    expect([inv.action, inv.audience, inv.args, inv.resource, inv.intent, inv.issuedAt]).toEqual([
      'mcp:everything:echo',
      'everything',
      { message: 'hi' },
      'room/1',
      'say hi',
      now,
    ])
    const plain = parseInvocation(invocationMeta(grant(), { name: 'echo' }, { key: assistant, audience: 'everything' })[META_INVOCATION])
    expect([plain.args, plain.resource, plain.intent]).toEqual([{}, undefined, undefined])
    expect(Math.abs(plain.issuedAt - Math.floor(Date.now() / 1000))).toBeLessThan(5)
    // A mapping the server uses: the prefix and a per-tool action.
    const mapped = grant([{ type: 'actions', patterns: ['tools:x:echo', 'weather:read'] }])
    expect(
      parseInvocation(
        invocationMeta(mapped, { name: 'echo' }, { key: assistant, audience: 'everything', actionPrefix: 'tools:x' })[META_INVOCATION],
      ).action,
    ).toBe('tools:x:echo')
    expect(
      parseInvocation(
        invocationMeta(mapped, { name: 'getWeather' }, { key: assistant, audience: 'everything', actions: { getWeather: 'weather:read' } })[
          META_INVOCATION
        ],
      ).action,
    ).toBe('weather:read')
  })
})

describe('createToolGuard refuses a setup that cannot work', () => {
  const verifier = { roots, audience: 'everything', revocations: 'none' as const }

  it('no blocks, a sealed mandate, a bound one without its key, another key than the holder', () => {
    const m = grant()
    expect(thrown(() => createToolGuard({ mandate: { ...m, blocks: [] }, key: assistant, verifier }))).toEqual({
      name: 'TypeError',
      message: '"mandate" has no blocks',
    })
    const bearer = attenuate(m, { key: assistant, caveats: [] })
    expect(thrown(() => createToolGuard({ mandate: seal(bearer), verifier }))).toEqual({
      name: 'MandateError',
      code: 'ERR_SEALED',
      message: 'a sealed mandate cannot sign invocations, so it cannot guard tool calls',
      hint: 'give the guard the unsealed mandate and its holder key',
    })
    expect(thrown(() => createToolGuard({ mandate: m, verifier }))).toEqual({
      name: 'MandateError',
      code: 'ERR_HOLDER_MISMATCH',
      message: 'this mandate is bound: the guard needs its holder key to sign invocations',
      hint: `pass the key of ${ASSISTANT}`,
    })
    const mismatch = {
      name: 'MandateError',
      code: 'ERR_HOLDER_MISMATCH',
      message: "the key given is not the mandate's holder",
    }
    expect(thrown(() => createToolGuard({ mandate: m, key: stranger, verifier }))).toEqual({
      ...mismatch,
      hint: `the mandate's last block names ${ASSISTANT}`,
    })
    // The holder's public key beside another secret: refused when the guard is made, not at each call.
    expect(
      thrown(() => createToolGuard({ mandate: m, key: { publicKey: assistant.publicKey, secretKey: stranger.secretKey }, verifier })),
    ).toEqual({
      name: 'RangeError',
      message: '"key" publicKey does not match its secretKey',
    })
    // A bearer mandate carries its holder's key: any other key given beside it is refused.
    const holder = toDidKey(bearer.blocks[1]?.holder as Uint8Array)
    expect(thrown(() => createToolGuard({ mandate: bearer, key: assistant, verifier }))).toEqual({
      ...mismatch,
      hint: `the mandate's last block names ${holder}`,
    })
    // Its secret must be its last holder's (the verifier's own check, and words): cut off its
    // last block, the mandate ends at a bound holder, or at a bearer one whose secret it is not.
    expect(thrown(() => createToolGuard({ mandate: { ...bearer, blocks: bearer.blocks.slice(0, 1) }, verifier }))).toEqual({
      name: 'MandateError',
      code: 'ERR_PROOF',
      message: 'a secret travels with a mandate whose last holder is bound',
    })
    const twice = attenuate(bearer, { caveats: [] })
    expect(thrown(() => createToolGuard({ mandate: { ...twice, blocks: twice.blocks.slice(0, 2) }, verifier }))).toEqual({
      name: 'MandateError',
      code: 'ERR_PROOF',
      message: 'the bearer secret does not belong to the last holder (truncated or tampered chain)',
    })
    // A key that is no key pair is named as the holder's.
    expect(thrown(() => createToolGuard({ mandate: m, key: { publicKey: assistant.publicKey } as never, verifier }))).toEqual({
      name: 'TypeError',
      message: '"key" expected the holder\'s key pair',
    })
  })

  it('a wait that is not milliseconds a timer can hold, a service that is no http(s) URL', () => {
    const m = grant()
    const max = 2_147_483_647
    for (const wait of [-1, Number.NaN, max + 1, '5' as never]) {
      expect(thrown(() => createToolGuard({ mandate: m, key: assistant, verifier, approvalWaitMs: wait }))).toEqual({
        name: 'RangeError',
        message: `"approvalWaitMs" expected milliseconds from 0 to ${max}, got ${String(wait)}`,
      })
    }
    expect(createToolGuard({ mandate: m, key: assistant, verifier, approvalWaitMs: max }).audience).toBe('everything')
    const urlError = { name: 'TypeError', message: '"service.url" expected the service\'s http(s) base URL' }
    for (const service of [
      {},
      { url: 5 },
      { url: 'ftp://host' },
      { url: 'http://' },
      { url: 'see http://host' },
      { url: 'http:// host' },
    ]) {
      expect(thrown(() => createToolGuard({ mandate: m, key: assistant, verifier, service: service as never }))).toEqual(urlError)
    }
    expect(createToolGuard({ mandate: m, key: assistant, verifier, service: { url: 'https://mandate.example' } }).audience).toBe(
      'everything',
    )
    // The inbox's timeout is checked now, not at the first call that needs an approval.
    for (const timeoutMs of [0, -1, 2 ** 31]) {
      expect(
        thrown(() => createToolGuard({ mandate: m, key: assistant, verifier, service: { url: 'http://127.0.0.1:1', timeoutMs } })),
      ).toEqual({
        name: 'RangeError',
        message: `"service.timeoutMs" expected a positive number of milliseconds (at most 2147483647), got ${timeoutMs}`,
      })
    }
  })

  it('takes a verifier made already, its audience the server name', async () => {
    const made = createVerifier({ roots, audience: 'other', revocations: 'none' })
    const m = grant([{ type: 'actions', patterns: ['mcp:other:*'] }])
    const guard = createToolGuard({ mandate: m, key: assistant, verifier: made })
    expect([guard.audience, guard.actionPrefix]).toEqual(['other', 'mcp:other'])
    expect((await guard.authorizeCall('echo', {})).allowed).toBe(true)
  })
})

describe('the audit record of each outcome, whole', () => {
  it('allowed: who, what, the digest, the invocation and that no revocations were checked', async () => {
    const { guard, records } = guardOf(grant())
    const outcome = await guard.authorizeCall('echo', { message: 'hi' })
    if (!outcome.allowed) throw new Error(outcome.code)
    expect(records).toStrictEqual([
      {
        at: expect.any(Number),
        audience: 'everything',
        tool: 'echo',
        action: 'mcp:everything:echo',
        chain: DECIDED,
        argsDigest: argsDigest({ message: 'hi' }),
        decision: 'allow',
        invocationId: outcome.invocationId,
        revocations: 'none',
      },
    ])
    expect(outcome.audit).toStrictEqual(records[0])
    // Nothing it did not have: no resource, no approvals, no approval request, not even as undefined.
    expect(Object.keys(outcome).sort()).toEqual(['action', 'allowed', 'audit', 'decision', 'invocation', 'invocationId', 'tool'])
  })

  it('with a revocation view and a resource: the resource named, no "revocations" key; a denial decided by the verifier too', async () => {
    const { guard, records } = guardOf(grant([...ECHO, { type: 'resources', globs: ['room/*'] }]), {
      verifier: { roots, audience: 'everything', revocations: createMemoryRevocationView() },
      resource: (_tool, args) => (typeof args['room'] === 'string' ? `room/${args['room']}` : 'hall'),
    })
    const ok = await guard.authorizeCall('echo', { room: '1' })
    if (!ok.allowed) throw new Error(ok.code)
    const no = denied(await guard.authorizeCall('echo', { room: 1 }))
    expect(no.code).toBe('ERR_RESOURCE_DENIED')
    expect(records).toStrictEqual([
      {
        at: expect.any(Number),
        audience: 'everything',
        tool: 'echo',
        action: 'mcp:everything:echo',
        resource: 'room/1',
        chain: DECIDED,
        argsDigest: argsDigest({ room: '1' }),
        decision: 'allow',
        invocationId: ok.invocationId,
      },
      {
        at: expect.any(Number),
        audience: 'everything',
        tool: 'echo',
        action: 'mcp:everything:echo',
        resource: 'hall',
        chain: DECIDED,
        argsDigest: argsDigest({ room: 1 }),
        decision: 'deny',
        code: 'ERR_RESOURCE_DENIED',
        invocationId: no.invocationId,
      },
    ])
  })

  it('a tool with no action: no action, no digest, no invocation; the name cut at 256 characters', async () => {
    const { guard, records } = guardOf(grant())
    const long = `Get${'x'.repeat(300)}`
    const outcome = denied(await guard.authorizeCall(long, {}))
    expect(outcome).toMatchObject({
      code: 'ERR_REQUEST_INVALID',
      tool: long,
      message: `the tool ${JSON.stringify(long.slice(0, 128))} has no action: its name is not one action segment (a-z 0-9 _ . -), and no mapping names it`,
      hint: 'map the tool to an action (mandate mcp --map TOOL=ACTION, or the guard option "actions")',
    })
    expect(outcome.action).toBeUndefined()
    await guard.authorizeCall('X'.repeat(256), {})
    expect(records).toStrictEqual([
      {
        at: expect.any(Number),
        audience: 'everything',
        tool: `${long.slice(0, 256)}…`,
        chain: PARTIES,
        decision: 'deny',
        code: 'ERR_REQUEST_INVALID',
      },
      {
        at: expect.any(Number),
        audience: 'everything',
        tool: 'X'.repeat(256),
        chain: PARTIES,
        decision: 'deny',
        code: 'ERR_REQUEST_INVALID',
      },
    ])
  })

  it('a tool name that is not text is read as text', async () => {
    const { guard, records } = guardOf(grant([{ type: 'actions', patterns: ['mcp:everything:*'] }]))
    expect((await guard.authorizeCall(42 as never, {})).allowed).toBe(true)
    expect(records[0]).toMatchObject({ tool: '42', action: 'mcp:everything:42' })
  })

  it('a resource mapping that throws: ERR_INTERNAL, recorded with the digest and no invocation', async () => {
    let thrownValue: unknown = new Error(`no room ${'y'.repeat(300)}`)
    const { guard, records } = guardOf(grant(), {
      resource: () => {
        throw thrownValue
      },
    })
    const first = denied(await guard.authorizeCall('echo', { a: 1 }))
    expect([first.code, first.message, first.invocationId]).toEqual([
      'ERR_INTERNAL',
      `the resource mapping failed (${`no room ${'y'.repeat(300)}`.slice(0, 200)})`,
      undefined,
    ])
    thrownValue = 'a string'
    expect(denied(await guard.authorizeCall('echo', { a: 1 })).message).toBe('the resource mapping failed (failed)')
    expect(records[0]).toStrictEqual({
      at: expect.any(Number),
      audience: 'everything',
      tool: 'echo',
      action: 'mcp:everything:echo',
      chain: PARTIES,
      argsDigest: argsDigest({ a: 1 }),
      decision: 'deny',
      code: 'ERR_INTERNAL',
    })
  })

  it('a sink that fails: the denial and the allowed call both become ERR_INTERNAL, saying so, and nothing runs', async () => {
    let failure: unknown = new Error(`disk full${'!'.repeat(300)}`)
    const guard = createToolGuard({
      mandate: grant(),
      key: assistant,
      verifier: { roots, audience: 'everything', revocations: 'none' },
      audit: () => {
        throw failure
      },
    })
    const message = `the audit record could not be written (${`disk full${'!'.repeat(300)}`.slice(0, 200)})`
    const hint = 'calls are denied while the audit trail cannot be written; check the audit file'
    const allowed = denied(await guard.authorizeCall('echo', { message: 'hi' }))
    expect(allowed).toMatchObject({ allowed: false, tool: 'echo', action: 'mcp:everything:echo', code: 'ERR_INTERNAL', message, hint })
    expect(allowed.invocationId).toMatch(/^[0-9a-f]{64}$/)
    expect(allowed.audit).toStrictEqual({
      at: expect.any(Number),
      audience: 'everything',
      tool: 'echo',
      action: 'mcp:everything:echo',
      chain: DECIDED,
      argsDigest: argsDigest({ message: 'hi' }),
      decision: 'deny',
      code: 'ERR_INTERNAL',
      invocationId: allowed.invocationId,
      revocations: 'none',
    })
    const outside = denied(await guard.authorizeCall('get-env', {}))
    expect(outside).toMatchObject({ code: 'ERR_INTERNAL', action: 'mcp:everything:get-env', message, hint })
    expect(outside.invocationId).toMatch(/^[0-9a-f]{64}$/)
    expect(outside.audit).toMatchObject({ decision: 'deny', code: 'ERR_INTERNAL', invocationId: outside.invocationId })
    failure = 42
    const noAction = denied(await guard.authorizeCall('Bad Name', {}))
    expect(noAction).toStrictEqual({
      allowed: false,
      tool: 'Bad Name',
      code: 'ERR_INTERNAL',
      message: 'the audit record could not be written (failed)',
      hint,
      audit: { at: expect.any(Number), audience: 'everything', tool: 'Bad Name', chain: PARTIES, decision: 'deny', code: 'ERR_INTERNAL' },
    })
  })
})

describe('a guarded call, at its edges', () => {
  it('arguments no invocation can carry (over 16 KiB signed), or a resource no invocation can name: ERR_REQUEST_INVALID', async () => {
    let room: string | undefined = 'room/1'
    const { guard, records } = guardOf(grant(), { resource: () => room })
    const big = Object.fromEntries(Array.from({ length: 20 }, (_, i) => [`k${i}`, 'x'.repeat(1000)]))
    const tooBig = denied(await guard.authorizeCall('echo', big))
    expect([tooBig.code, tooBig.hint, tooBig.invocationId]).toEqual([
      'ERR_REQUEST_INVALID',
      'send smaller arguments (an invocation is at most 16 KiB), or a valid resource',
      undefined,
    ])
    expect(tooBig.message).toMatch(/^no invocation can carry this call: .+/)
    expect(tooBig.message.length).toBeLessThanOrEqual('no invocation can carry this call: '.length + 300)
    room = ''
    const badResource = denied(await guard.authorizeCall('echo', {}))
    expect([badResource.code, badResource.message.startsWith('no invocation can carry this call: ')]).toEqual(['ERR_REQUEST_INVALID', true])
    expect(records.map((r) => [r.code, r.argsDigest === undefined, r.invocationId])).toEqual([
      ['ERR_REQUEST_INVALID', false, undefined],
      ['ERR_REQUEST_INVALID', false, undefined],
    ])
  })

  it('arguments that cannot even be read: ERR_INTERNAL "the guard failed", never thrown', async () => {
    const { guard, records } = guardOf(grant())
    const hostile = (thrownValue: unknown) =>
      new Proxy(
        {},
        {
          ownKeys() {
            throw thrownValue
          },
        },
      )
    const outcome = await guard.authorizeCall('echo', hostile(new Error(`hostile ${'h'.repeat(400)}`)))
    expect(outcome).toStrictEqual({
      allowed: false,
      tool: 'echo',
      code: 'ERR_INTERNAL',
      message: `the guard failed: ${`hostile ${'h'.repeat(400)}`.slice(0, 300)}`,
      audit: expect.objectContaining({ tool: 'echo', decision: 'deny', code: 'ERR_INTERNAL', chain: PARTIES }),
    })
    expect(denied(await guard.authorizeCall('echo', hostile('a string'))).message).toBe('the guard failed: failed')
    expect(records).toHaveLength(2)
  })

  it('a reporter that throws changes no decision', async () => {
    const reported: string[] = []
    const { guard } = guardOf(grant(), {
      reporter: {
        report: (d) => {
          reported.push(d.allowed ? 'allow' : d.code)
          throw new Error('the trail is down')
        },
        flush: async () => {},
      },
    })
    expect((await guard.authorizeCall('echo', {})).allowed).toBe(true)
    expect(denied(await guard.authorizeCall('get-env', {})).code).toBe('ERR_ACTION_DENIED')
    expect(reported).toEqual(['allow', 'ERR_ACTION_DENIED'])
  })
})

describe('the server side: createToolVerifier', () => {
  it('refuses options without a verifier', () => {
    const error = { name: 'TypeError', message: '"verifier" expected a verifier or its options' }
    for (const options of [null, 'x', {}, { verifier: null }, { verifier: 'everything' }]) {
      expect(thrown(() => createToolVerifier(options as never))).toEqual(error)
    }
  })

  it('approval asked, then given: the hint says how to present it; both records name the resource and the invocation; the reporter sees both', async () => {
    const m = grant(NEEDS_ALICE)
    const records: ToolAuditRecord[] = []
    const reported: unknown[] = []
    const tools = createToolVerifier({
      verifier: { roots, audience: 'everything', revocations: 'none' },
      resource: (tool) => (tool === 'get-sum' ? 'calc' : undefined),
      audit: (r) => void records.push(r),
      reporter: { report: (_d, presented) => void reported.push(presented), flush: async () => {} },
    })
    expect([tools.audience, tools.actionPrefix, tools.actionOf('echo')]).toEqual(['everything', 'mcp:everything', 'mcp:everything:echo'])
    const inv = invoke(m, { key: assistant, action: 'mcp:everything:get-sum', audience: 'everything', args: { a: 1 }, resource: 'calc' })
    const meta = { [META_INVOCATION]: formatInvocation(inv) }
    const asked = denied(await tools.verifyCall('get-sum', { a: 1 }, meta))
    expect(asked).toMatchObject({
      code: 'ERR_APPROVAL_REQUIRED',
      approval: { missing: [ALICE], quorum: 1, given: 0 },
      invocationId: inv.idHex,
      details: expect.objectContaining({ missing: [ALICE] }),
    })
    expect(asked.hint).toMatch(
      /; once approved, call again with the same invocation and arguments, and the approvals \(mna1_…\) in _meta\["dev\.mandate\/approvals"\]$/,
    )
    const approval = formatApproval(approve({ invocation: inv, approver: alice }))
    const ok = await tools.verifyCall('get-sum', { a: 1 }, { ...meta, [META_APPROVALS]: [approval] })
    expect(ok).toMatchObject({ allowed: true, approvals: [approval], resource: 'calc', invocationId: inv.idHex })
    expect(records.map((r) => [r.decision, r.code, r.resource, r.invocationId, r.chain.length])).toEqual([
      ['deny', 'ERR_APPROVAL_REQUIRED', 'calc', inv.idHex, 2],
      ['allow', undefined, 'calc', inv.idHex, 2],
    ])
    expect(reported).toEqual([
      { invocation: meta[META_INVOCATION], approvals: [] },
      { invocation: meta[META_INVOCATION], approvals: [approval] },
    ])
  })

  it('early denials: no action, no invocation, bad arguments, a failing resource mapping — no parties, exact codes', async () => {
    const records: ToolAuditRecord[] = []
    let mapping: unknown = new Error('broken')
    const tools = createToolVerifier({
      verifier: createVerifier({ roots, audience: 'everything', revocations: 'none' }),
      actionPrefix: 'tools:x',
      resource: () => {
        throw mapping
      },
      audit: (r) => void records.push(r),
    })
    expect(tools.actionPrefix).toBe('tools:x')
    const meta = { [META_INVOCATION]: 'mni1_x' }
    const noAction = denied(await tools.verifyCall('No Action', {}, meta))
    expect([noAction.code, noAction.message, noAction.hint]).toEqual([
      'ERR_REQUEST_INVALID',
      'the tool "No Action" has no action: its name is not one action segment (a-z 0-9 _ . -), and no mapping names it',
      'the server maps the tool to an action (the option "actions")',
    ])
    expect(denied(await tools.verifyCall('echo', {}, {})).code).toBe('ERR_PROOF')
    expect(denied(await tools.verifyCall('echo', { x: 0.5 }, meta)).code).toBe('ERR_REQUEST_INVALID')
    const failing = denied(await tools.verifyCall('echo', {}, meta))
    expect([failing.code, failing.message]).toEqual(['ERR_INTERNAL', 'the resource mapping failed (broken)'])
    mapping = 'x'
    expect(denied(await tools.verifyCall('echo', {}, meta)).message).toBe('the resource mapping failed (failed)')
    expect(records.map((r) => [r.tool, r.action, r.code, r.chain, r.argsDigest === undefined])).toEqual([
      ['No Action', undefined, 'ERR_REQUEST_INVALID', [], true],
      ['echo', 'tools:x:echo', 'ERR_PROOF', [], true],
      ['echo', 'tools:x:echo', 'ERR_REQUEST_INVALID', [], true],
      ['echo', 'tools:x:echo', 'ERR_INTERNAL', [], false],
      ['echo', 'tools:x:echo', 'ERR_INTERNAL', [], false],
    ])
    expect(records[3]?.argsDigest).toBe(argsDigest({}))
    // Decided by the verifier: a token that does not parse (no invocation id, no details), a
    // well-formed one for another action. A denial holds no key it has no value for.
    const plain = createToolVerifier({ verifier: createVerifier({ roots, audience: 'everything', revocations: 'none' }) })
    const inv = invoke(grant(), { key: assistant, action: 'mcp:everything:get-env', audience: 'everything', args: {} })
    const unparsed = denied(await plain.verifyCall('echo', {}, meta))
    const otherAction = denied(await plain.verifyCall('echo', {}, { [META_INVOCATION]: formatInvocation(inv) }))
    for (const d of [noAction, failing, unparsed, otherAction]) {
      expect(Object.entries(d).filter(([, v]) => v === undefined)).toEqual([])
    }
    expect(['invocationId' in unparsed, 'details' in unparsed, otherAction.invocationId]).toEqual([false, false, inv.idHex])
  })

  it('a tool name that is not text is read as text; a long one is quoted to 128 characters; a mapping error to 200', async () => {
    const tools = createToolVerifier({
      verifier: { roots, audience: 'everything', revocations: 'none' },
      resource: () => {
        throw new Error(`m${'e'.repeat(300)}`)
      },
    })
    const numeric = denied(await tools.verifyCall(42 as never, {}, {}))
    expect([numeric.tool, numeric.action, numeric.code]).toEqual(['42', 'mcp:everything:42', 'ERR_PROOF'])
    const long = `T${'t'.repeat(200)}`
    expect(denied(await tools.verifyCall(long, {}, {})).message).toBe(
      `the tool ${JSON.stringify(long.slice(0, 128))} has no action: its name is not one action segment (a-z 0-9 _ . -), and no mapping names it`,
    )
    expect(denied(await tools.verifyCall('echo', {}, { [META_INVOCATION]: 'mni1_x' })).message).toBe(
      `the resource mapping failed (${`m${'e'.repeat(300)}`.slice(0, 200)})`,
    )
  })

  it('a reporter that throws changes nothing; a verifier that throws is ERR_INTERNAL, never thrown', async () => {
    const m = grant()
    const inv = invoke(m, { key: assistant, action: 'mcp:everything:echo', audience: 'everything', args: {} })
    const tools = createToolVerifier({
      verifier: { roots, audience: 'everything', revocations: 'none' },
      reporter: {
        report: () => {
          throw new Error('the trail is down')
        },
        flush: async () => {},
      },
    })
    expect((await tools.verifyCall('echo', {}, { [META_INVOCATION]: formatInvocation(inv) })).allowed).toBe(true)
    const broken = createVerifier({ roots, audience: 'everything', revocations: 'none' })
    const failing = createToolVerifier({
      verifier: {
        ...broken,
        audience: 'everything',
        authorize: async () => {
          throw new Error(`exploded ${'z'.repeat(400)}`)
        },
      } as never,
    })
    const outcome = denied(await failing.verifyCall('echo', {}, { [META_INVOCATION]: 'mni1_x' }))
    expect([outcome.code, outcome.message]).toEqual([
      'ERR_INTERNAL',
      `the tool verifier failed: ${`exploded ${'z'.repeat(400)}`.slice(0, 300)}`,
    ])
  })
})

describe('guardTool and auditToFile refuse what they cannot use', () => {
  it('guardTool: a handler that is no function, a check that is no verifier, tool verifier or guard', () => {
    const { guard } = guardOf(grant())
    expect(thrown(() => guardTool(guard, 'echo', 'handler' as never))).toEqual({
      name: 'TypeError',
      message: '"handler" expected the tool handler function',
    })
    const checkError = {
      name: 'TypeError',
      message: '"check" expected a verifier, a tool verifier (createToolVerifier) or a tool guard (createToolGuard)',
    }
    for (const check of [
      null,
      'guard',
      {},
      { authorize: 'no' },
      () => undefined,
      Object.assign(() => undefined, { authorize: async () => ({}) }),
    ]) {
      expect(thrown(() => guardTool(check as never, 'echo', async () => ({ content: [] })))).toEqual(checkError)
    }
  })

  it('guardTool with a verifier reads the invocation from the call context; without one, denies ERR_PROOF', async () => {
    const verifier = createVerifier({ roots, audience: 'everything', revocations: 'none' })
    const ran: string[] = []
    const handler = guardTool(verifier, 'echo', async (args: { message: string }) => {
      ran.push(args.message)
      return { content: [{ type: 'text' as const, text: args.message }] }
    })
    const meta = invocationMeta(grant(), { name: 'echo', arguments: { message: 'hi' } }, { key: assistant, audience: 'everything' })
    expect(await handler({ message: 'hi' }, { _meta: meta } as never)).toEqual({ content: [{ type: 'text', text: 'hi' }] })
    const none = (await handler({ message: 'no' }, undefined as never)) as { isError?: boolean; content: { text: string }[] }
    expect(none.isError).toBe(true)
    expect(JSON.parse(none.content[0]?.text as string).code).toBe('ERR_PROOF')
    expect(ran).toEqual(['hi'])
  })

  it('guardTool with a guard: a call context without a signal, or none, still decides', async () => {
    const { guard } = guardOf(grant())
    const handler = guardTool(guard, 'echo', async () => ({ content: [] }))
    expect(await handler({}, undefined as never)).toEqual({ content: [] })
    expect(await handler({}, { signal: 'not a signal' } as never)).toEqual({ content: [] })
  })

  it('auditToFile without a file system (no process.getBuiltinModule): a TypeError that says what to pass instead', () => {
    const proc = process as { getBuiltinModule?: unknown }
    const saved = proc.getBuiltinModule
    proc.getBuiltinModule = undefined
    try {
      expect(thrown(() => auditToFile(join(tmpdir(), 'never.jsonl')))).toEqual({
        name: 'TypeError',
        message: 'auditToFile needs a file system (Node.js 20.16 or later); pass an audit function instead',
      })
    } finally {
      proc.getBuiltinModule = saved
    }
  })

  it('auditToFile: no path is a TypeError; a file removed after the start is made again 0600', () => {
    for (const path of ['', 5]) {
      expect(thrown(() => auditToFile(path as never))).toEqual({ name: 'TypeError', message: '"path" expected a file path' })
    }
    const path = join(mkdtempSync(join(tmpdir(), 'mandate-audit-')), 'audit.jsonl')
    const sink = auditToFile(path)
    unlinkSync(path)
    sink({ at: 1, audience: 'everything', tool: 'echo', chain: [], decision: 'deny' })
    expect(statSync(path).mode & 0o777).toBe(0o600)
  })
})

describe('a guard with an approval inbox (a real service, in process)', () => {
  let service: ServiceUnderTest
  beforeAll(async () => {
    service = await startInProcess({ roots: [`alice=${ALICE}`] })
  })
  afterAll(() => service?.stop())

  it('files one request, says who must approve and how to retry; the same call again presents the same invocation', async () => {
    const { guard, records } = guardOf(grant(NEEDS_ALICE), { service: { url: service.url } })
    const first = denied(await guard.authorizeCall('get-sum', { a: 1 }))
    const id = first.approval?.requestId as string
    expect(id).toMatch(/^[0-9a-f]{64}$/)
    expect(first).toMatchObject({
      code: 'ERR_APPROVAL_REQUIRED',
      invocationId: id,
      approval: { requestId: id, missing: [ALICE], quorum: 1, given: 0 },
      hint: `asked ${ALICE} to approve it (approval request ${id}); once approved, call the tool again with exactly the same arguments`,
      details: expect.objectContaining({ missing: [ALICE], quorum: 1, given: 0 }),
    })
    const again = denied(await guard.authorizeCall('get-sum', { a: 1 }))
    expect([again.code, again.invocationId, again.approval?.requestId]).toEqual(['ERR_APPROVAL_REQUIRED', id, id])
    // Other arguments are another call: another invocation, another request.
    const other = denied(await guard.authorizeCall('get-sum', { a: 2 }))
    expect(other.invocationId).not.toBe(id)
    expect(records.map((r) => [r.code, r.approvalRequestId])).toEqual([
      ['ERR_APPROVAL_REQUIRED', id],
      ['ERR_APPROVAL_REQUIRED', id],
      ['ERR_APPROVAL_REQUIRED', other.invocationId],
    ])
  })

  /** Alice approves the invocation `id` through the service; the request's status after it. */
  const aliceApproves = async (id: string) =>
    (await answerApprovalRequest(approve({ approver: alice, invocation: fromHex(id) as Uint8Array }), alice, { url: service.url })).status

  it('approved after asking, without waiting: the same call runs with the approval, recorded with its request; then it is forgotten', async () => {
    const { guard, records } = guardOf(grant(NEEDS_ALICE), { service: { url: service.url } })
    const first = denied(await guard.authorizeCall('get-sum', { a: 10 }))
    const id = first.approval?.requestId as string
    expect(await aliceApproves(id)).toBe('approved')
    const second = await guard.authorizeCall('get-sum', { a: 10 })
    if (!second.allowed) throw new Error(second.code)
    expect([second.invocationId, second.approvalRequestId, second.approvals?.length]).toEqual([id, id, 1])
    expect(records[1]).toMatchObject({ decision: 'allow', invocationId: id, approvalRequestId: id })
    // Ran once: the same call again is a new invocation, asking anew.
    const third = denied(await guard.authorizeCall('get-sum', { a: 10 }))
    expect([third.code, third.invocationId === id]).toEqual(['ERR_APPROVAL_REQUIRED', false])
  })

  it('waiting: told the request id at once, and the call runs once it is approved', async () => {
    const { guard } = guardOf(grant(NEEDS_ALICE), { service: { url: service.url }, approvalWaitMs: 20_000 })
    let told = ''
    const waited = guard.authorizeCall(
      'get-sum',
      { a: 11 },
      {
        onWaiting: (id) => {
          told = id
        },
      },
    )
    await until(() => told !== '')
    expect(await aliceApproves(told)).toBe('approved')
    const outcome = await waited
    expect(outcome).toMatchObject({ allowed: true, invocationId: told, approvalRequestId: told })
  })

  it('a short wait that ends unanswered is ERR_APPROVAL_REQUIRED; the next call finds it approved without waiting again', async () => {
    const { guard } = guardOf(grant(NEEDS_ALICE), { service: { url: service.url }, approvalWaitMs: 200 })
    const waits: string[] = []
    const first = denied(await guard.authorizeCall('get-sum', { a: 12 }, { onWaiting: (id) => void waits.push(id) }))
    const id = first.approval?.requestId as string
    expect([first.code, waits]).toEqual(['ERR_APPROVAL_REQUIRED', [id]])
    // Asked again while pending: it waits again, and is still pending.
    expect(denied(await guard.authorizeCall('get-sum', { a: 12 }, { onWaiting: (w) => void waits.push(w) })).code).toBe(
      'ERR_APPROVAL_REQUIRED',
    )
    expect(waits).toEqual([id, id])
    expect(await aliceApproves(id)).toBe('approved')
    const ran = await guard.authorizeCall('get-sum', { a: 12 }, { onWaiting: (w) => void waits.push(w) })
    expect(ran).toMatchObject({ allowed: true, approvalRequestId: id })
    // Found approved on the first look: no wait was started for it.
    expect(waits).toEqual([id, id])
  })

  it('without a wait (the default): a pending call, asked again, is looked at once and never said to be waited for', async () => {
    // A holder of its own: the service keeps at most 16 pending requests per requester.
    const holder = generateKeyPair()
    const { guard } = guardOf(grant(NEEDS_ALICE, holder), { key: holder, service: { url: service.url } })
    const waits: string[] = []
    const onWaiting = (id: string) => void waits.push(id)
    const first = denied(await guard.authorizeCall('get-sum', { a: 30 }, { onWaiting }))
    const again = denied(await guard.authorizeCall('get-sum', { a: 30 }, { onWaiting }))
    expect([first.code, again.code, again.approval?.requestId, waits]).toEqual([
      'ERR_APPROVAL_REQUIRED',
      'ERR_APPROVAL_REQUIRED',
      first.approval?.requestId,
      [],
    ])
  })

  it('a call waiting for approval and then denied for another reason is forgotten: once that is lifted, it asks anew', async () => {
    const revocations = createMemoryRevocationView()
    const holder = generateKeyPair()
    const mandate = grant(NEEDS_ALICE, holder)
    const { guard } = guardOf(mandate, {
      key: holder,
      service: { url: service.url },
      verifier: { roots, audience: 'everything', revocations },
    })
    const first = denied(await guard.authorizeCall('get-sum', { a: 31 }))
    const id = first.approval?.requestId as string
    const root = mandate.blocks[0]?.idHex as string
    revocations.suspend(root, { reason: 'paused' })
    // The filed invocation is presented again, and the suspension answers it: final for that invocation.
    const suspended = denied(await guard.authorizeCall('get-sum', { a: 31 }))
    expect([suspended.code, suspended.invocationId]).toEqual(['ERR_SUSPENDED', id])
    revocations.resume(root)
    const anew = denied(await guard.authorizeCall('get-sum', { a: 31 }))
    expect(anew.code).toBe('ERR_APPROVAL_REQUIRED')
    expect([anew.invocationId === id, anew.approval?.requestId === id]).toEqual([false, false])
  })

  it('an invocation filed too long ago to present again is replaced: a fresh one, a new request', async () => {
    // This verifier accepts an invocation for a second (and no wait for approvals); the
    // service, for its usual five minutes, takes both.
    let now = Math.floor(Date.now() / 1000)
    const clock = () => now
    const { guard, records } = guardOf(grant(NEEDS_ALICE), {
      service: { url: service.url },
      clock,
      verifier: { roots, audience: 'everything', revocations: 'none', clock, approvalWait: 0, skew: 0, limits: { invocationMaxAge: 1 } },
    })
    const first = denied(await guard.authorizeCall('get-sum', { a: 13 }))
    now += 5
    const second = denied(await guard.authorizeCall('get-sum', { a: 13 }))
    expect(second.code).toBe('ERR_APPROVAL_REQUIRED')
    expect(second.invocationId).not.toBe(first.invocationId)
    expect(second.approval?.requestId).toBe(second.invocationId)
    expect(records.map((r) => [r.code, r.invocationId, r.approvalRequestId])).toEqual([
      ['ERR_APPROVAL_REQUIRED', first.invocationId, first.invocationId],
      ['ERR_APPROVAL_REQUIRED', second.invocationId, second.invocationId],
    ])
  })

  it('an inbox that cannot be asked: ERR_APPROVAL_UNAVAILABLE, its hint and who must approve; the call is forgotten', async () => {
    const { guard } = guardOf(grant(NEEDS_ALICE), {
      service: {
        url: service.url,
        fetch: async () => {
          throw new TypeError('network down')
        },
      },
    })
    const outcome = denied(await guard.authorizeCall('get-sum', { a: 14 }))
    expect(outcome).toMatchObject({
      code: 'ERR_APPROVAL_UNAVAILABLE',
      message: `the approval inbox at ${service.url}/v1/approvals cannot be reached (network down)`,
      // The inbox client's own hint, then who must approve.
      hint: `the approval inbox is needed to ask for this approval; the request stays denied until it answers (fail closed); the call needs approval from ${ALICE}`,
    })
    expect(outcome.approval).toStrictEqual({ missing: [ALICE], quorum: 1, given: 0 })
    // A long reason is cut to 400 characters.
    const long = guardOf(grant(NEEDS_ALICE), {
      service: {
        url: service.url,
        fetch: async () => {
          throw new TypeError('x'.repeat(1000))
        },
      },
    }).guard
    const cut = denied(await long.authorizeCall('get-sum', { a: 14 }))
    expect([cut.code, cut.message.length, cut.message.startsWith(`the approval inbox at ${service.url}`)]).toEqual([
      'ERR_APPROVAL_UNAVAILABLE',
      400,
      true,
    ])
  })

  it("the caller's own onWaiting throwing while it waits: ERR_INTERNAL, said to be a bug, and who must approve", async () => {
    // Only the inbox client's own ERR_APPROVAL_UNAVAILABLE is the inbox being unavailable.
    const throwables = [
      new Error('the host crashed in its callback'),
      new MandateError('ERR_PROOF', 'the host crashed in its callback'),
      Object.assign(new Error('the host crashed in its callback'), { code: 'ERR_APPROVAL_UNAVAILABLE' }),
    ]
    for (const [i, throwable] of throwables.entries()) {
      const { guard, records } = guardOf(grant(NEEDS_ALICE), { service: { url: service.url }, approvalWaitMs: 20_000 })
      const onWaiting = () => {
        throw throwable
      }
      const outcome = denied(await guard.authorizeCall('get-sum', { a: 16 + i }, { onWaiting }))
      expect(outcome).toMatchObject({
        code: 'ERR_INTERNAL',
        message: 'the host crashed in its callback',
        hint: `a bug while asking for approval; the call needs approval from ${ALICE}`,
      })
      expect(records.map((r) => r.code)).toEqual(['ERR_INTERNAL'])
    }
  })

  it('a call that needs no approval never reaches the inbox', async () => {
    let asked = 0
    const { guard } = guardOf(grant(NEEDS_ALICE), {
      service: {
        url: service.url,
        fetch: (input, init) => {
          asked++
          return fetch(input, init)
        },
      },
    })
    expect((await guard.authorizeCall('echo', {})).allowed).toBe(true)
    expect(denied(await guard.authorizeCall('get-env', {})).code).toBe('ERR_ACTION_DENIED')
    expect(asked).toBe(0)
    expect(denied(await guard.authorizeCall('get-sum', { a: 20 })).code).toBe('ERR_APPROVAL_REQUIRED')
    expect(asked).toBe(1)
  })

  it('waiting without an onWaiting callback, and cancelled while waiting: said so, nothing forgotten', async () => {
    const { guard } = guardOf(grant(NEEDS_ALICE), { service: { url: service.url }, approvalWaitMs: 50 })
    const first = denied(await guard.authorizeCall('get-sum', { a: 21 }))
    expect(first.code).toBe('ERR_APPROVAL_REQUIRED')
    const waiting = guardOf(grant(NEEDS_ALICE), { service: { url: service.url }, approvalWaitMs: 20_000 }).guard
    const abort = new AbortController()
    let id = ''
    const cancelled = waiting.authorizeCall(
      'get-sum',
      { a: 22 },
      {
        signal: abort.signal,
        onWaiting: (requestId) => {
          id = requestId
        },
      },
    )
    await until(() => id !== '')
    abort.abort()
    const outcome = denied(await cancelled)
    expect(outcome.code).toBe('ERR_APPROVAL_REQUIRED')
    expect(outcome.message).toMatch(/; the call was cancelled while waiting for approval$/)
    expect(outcome.approval?.requestId).toBe(id)
    // Still filed: the same call again presents the same invocation.
    expect(denied(await waiting.authorizeCall('get-sum', { a: 22 }, { signal: AbortSignal.abort() })).invocationId).toBe(id)
  })

  it('the same arguments for another resource are another call', async () => {
    let room = 'room/1'
    const { guard } = guardOf(grant([...NEEDS_ALICE, { type: 'resources', globs: ['room/*'] }]), {
      service: { url: service.url },
      resource: () => room,
    })
    const first = denied(await guard.authorizeCall('get-sum', { a: 23 }))
    room = 'room/2'
    const second = denied(await guard.authorizeCall('get-sum', { a: 23 }))
    expect(second.invocationId).not.toBe(first.invocationId)
    room = 'room/1'
    expect(denied(await guard.authorizeCall('get-sum', { a: 23 })).invocationId).toBe(first.invocationId)
  })

  it('a denial, asked again without waiting: the document says who refused, and not to retry as is', async () => {
    const { guard } = guardOf(grant(NEEDS_ALICE), { service: { url: service.url } })
    const id = denied(await guard.authorizeCall('get-sum', { a: 24 })).approval?.requestId as string
    await denyApprovalRequest(id, 'no', alice, { url: service.url })
    const outcome = denied(await guard.authorizeCall('get-sum', { a: 24 }))
    expect(outcome).toMatchObject({
      code: 'ERR_APPROVAL_DENIED',
      message: `${ALICE} denied the approval request ${id} for this call`,
      hint: 'the approver refused this call (their reason is in "denial"): do not retry it as is; calling the tool again asks them anew',
      approval: { requestId: id, missing: [ALICE], quorum: 1, given: 0 },
    })
  })

  it('no inbox: the hint says there is none to ask through, and nothing is remembered', async () => {
    const { guard } = guardOf(grant(NEEDS_ALICE))
    const first = denied(await guard.authorizeCall('get-sum', { a: 1 }))
    expect(first.hint).toBe(`needs approval from ${ALICE}; this guard has no approval inbox (service) to ask them through`)
    expect(first.approval).toStrictEqual({ missing: [ALICE], quorum: 1, given: 0 })
    const second = denied(await guard.authorizeCall('get-sum', { a: 1 }))
    expect(second.invocationId).not.toBe(first.invocationId)
  })
})

describe('what a guard remembers of the calls it filed (an inbox that files everything, pending)', () => {
  /** An inbox answering every filing and read with a pending request that expires at `expiresAt()`. */
  function pendingInbox(expiresAt: () => number) {
    const filed: string[] = []
    const fetchStub = async (input: string | URL | Request, init?: RequestInit): Promise<Response> => {
      const url = String(input instanceof Request ? input.url : input)
      let id = url.slice(url.lastIndexOf('/') + 1)
      if (init?.method === 'POST') {
        const body = typeof init.body === 'string' ? init.body : new TextDecoder().decode(init.body as Uint8Array)
        id = parseInvocation(JSON.parse(body).invocation).idHex
        filed.push(id)
      }
      const state = { id, status: 'pending', approvers: [ALICE], approvals: {}, createdAt: 1, expiresAt: expiresAt() }
      return new Response(JSON.stringify(state), { status: 200, headers: { 'content-type': 'application/json' } })
    }
    return { filed, service: { url: 'http://inbox.test', fetch: fetchStub as typeof fetch } }
  }

  it('at most 64: the oldest filed call is forgotten first', async () => {
    const inbox = pendingInbox(hour)
    const { guard } = guardOf(grant(NEEDS_ALICE), { service: inbox.service })
    const ids: string[] = []
    for (let a = 0; a < 65; a++) ids.push(denied(await guard.authorizeCall('get-sum', { a })).invocationId as string)
    expect(inbox.filed).toEqual(ids)
    // 65 filed: the second is still presented, the first was forgotten (a new invocation).
    expect(denied(await guard.authorizeCall('get-sum', { a: 1 })).invocationId).toBe(ids[1])
    expect(denied(await guard.authorizeCall('get-sum', { a: 0 })).invocationId).not.toBe(ids[0])
  })

  it('a filed call is forgotten when its request expires: from that second on, the same call is a new one', async () => {
    let now = Math.floor(Date.now() / 1000)
    const clock = () => now
    const expires = now + 60
    const inbox = pendingInbox(() => expires)
    const { guard } = guardOf(grant(NEEDS_ALICE), {
      service: inbox.service,
      clock,
      verifier: { roots, audience: 'everything', revocations: 'none', clock },
    })
    const first = denied(await guard.authorizeCall('get-sum', { a: 1 })).invocationId
    now = expires - 1
    expect(denied(await guard.authorizeCall('get-sum', { a: 1 })).invocationId).toBe(first)
    now = expires
    const renewed = denied(await guard.authorizeCall('get-sum', { a: 1 })).invocationId
    expect(renewed).not.toBe(first)
    expect(inbox.filed).toEqual([first, renewed])
  })
})
