/**
 * `mandate demo`: the essay's story end to end, on this machine, with no setup.
 *
 * Alice grants her assistant email:read, email:draft (with her approval), slack:read,
 * slack:send and calendar:* for 8 hours, and email:send never. The assistant, bound to its
 * own key, hands a sub-agent slack:read only, 3 uses, as a bearer mandate. At the end, the two
 * doors agents act through: an HTTP API behind mandate/http (called with the agent's signing
 * fetch, then replayed by whoever captured the request) and an MCP tool behind mandate/mcp. Services embed
 * the verifier; revocations and usage counters live in a real `mandate serve` started for the
 * demo (embedded SQLite in a temporary directory, a loopback port), reached over HTTP. The
 * service serves Alice's chains only, and only the three services' verifiers, each signing
 * its requests with its own registered key, may spend uses.
 *
 * The command's help is in ../commands/demo.ts.
 *
 * @module
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Command } from 'commander'
import { signRequest } from '../../crypto/http-signature.js'
import { generateKeyPair, type KeyPair, toDidKey } from '../../crypto/keys.js'
import { createMandateFetch } from '../../http/agent.js'
import { protect } from '../../http/fetch-handler.js'
import { createHttpGuard } from '../../http/guard.js'
import { createToolGuard } from '../../mcp/guard.js'
import { createFeedRevocationView } from '../../revocation/client.js'
import { verifyAuditExport } from '../../service/audit.js'
import { startService } from '../../service/server.js'
import { approve } from '../../token/approval.js'
import { formatInvocation, invoke } from '../../token/invocation.js'
import { attenuate, formatMandate, mint } from '../../token/mandate.js'
import { createRevocation, formatRevocation, type RevocationOptions } from '../../token/revocation.js'
import { createRemoteUsageStore } from '../../usage/remote.js'
import type { Allowed, Decision } from '../../verify/decision.js'
import { createRemoteReplayCache } from '../../verify/remote-replay.js'
import { createDecisionReporter, type DecisionReporter } from '../../verify/report.js'
import { createVerifier, type Verifier } from '../../verify/verifier.js'
import { type Context, colors, emit } from '../context.js'

/** The demo's own service answers at once; no request of the story waits longer than this. */
const DEMO_TIMEOUT_MS = 10_000

interface Row {
  readonly step: string
  readonly who: string
  readonly action: string
  readonly decision: string
  readonly reason: string
}

/** Run the story against a service of its own, in a temporary directory, and print the table. */
export async function demo(ctx: Context, cmd: Command): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'mandate-demo-'))
  const parties = demoParties()
  const service = await startService({
    host: '127.0.0.1',
    port: 0,
    db: join(dir, 'mandate.db'),
    keyFile: join(dir, 'service.pem'),
    logLevel: 'silent',
    trust: {
      roots: [{ name: 'alice', key: toDidKey(parties.alice.publicKey) }],
      verifiers: Object.entries(parties.verifiers).map(([name, key]) => ({ name, key: toDidKey(key.publicKey) })),
    },
    auditors: [{ name: 'auditor', key: toDidKey(parties.auditor.publicKey) }],
  })
  try {
    const { rows, chain } = await story(service.url, service.serviceKey, parties)
    const paint = colors(ctx, cmd)
    emit(ctx, cmd, { service: service.url, rows, chain }, () => table(rows, chain, paint, service.url))
  } finally {
    await service.close()
    rmSync(dir, { recursive: true, force: true })
  }
}

/** The demo's keys: Alice (the principal) and the three services' verifiers. */
export interface DemoParties {
  readonly alice: KeyPair
  readonly verifiers: Readonly<Record<'mail' | 'slack' | 'calendar', KeyPair>>
  /** Reads the service's audit trail at the end of the story. */
  readonly auditor: KeyPair
}

/** Fresh keys for a run of the story. */
export function demoParties(): DemoParties {
  return {
    alice: generateKeyPair(),
    verifiers: { mail: generateKeyPair(), slack: generateKeyPair(), calendar: generateKeyPair() },
    auditor: generateKeyPair(),
  }
}

/**
 * Run the story against a service that serves `parties.alice` and knows the three verifiers;
 * returns the table rows and one allowed decision's chain.
 */
export async function story(url: string, serviceKey: string, parties: DemoParties): Promise<{ rows: Row[]; chain: Allowed['chain'] }> {
  const clock = () => Math.floor(Date.now() / 1000)
  const now = clock()
  const rows: Row[] = []
  const note = (step: string, who: string, action: string, reason: string) => rows.push({ step, who, action, decision: '—', reason })
  const record = (step: string, who: string, action: string, d: Decision) => {
    rows.push({
      step,
      who,
      action,
      decision: d.allowed ? 'ALLOWED' : 'DENIED',
      reason: d.allowed ? d.chain.map((l) => l.name ?? 'holder').join(' → ') : `${d.code}: ${d.message}`,
    })
    return d
  }

  const alice = parties.alice
  const assistant = generateKeyPair()
  const aliceDid = toDidKey(alice.publicKey)
  note(
    '1',
    'everyone',
    'keygen',
    `alice ${short(aliceDid)}, assistant ${short(toDidKey(assistant.publicKey))}; the sub-agent gets a bearer key`,
  )

  const grant = mint({
    principal: alice,
    to: toDidKey(assistant.publicKey),
    name: 'assistant',
    purpose: 'help Alice stay organized',
    now,
    caveats: [
      { type: 'actions', patterns: ['email:read', 'email:draft', 'slack:read', 'slack:send', 'calendar:*'] },
      { type: 'deny', patterns: ['email:send'] },
      { type: 'approval', actions: ['email:draft'], approvers: [aliceDid], quorum: 1 },
      { type: 'window', expires: now + 8 * 3600 },
    ],
  })
  note(
    '2',
    'alice',
    'mint',
    `email:read, email:draft (her approval), slack:*, calendar:*, 8h; email:send never (${formatMandate(grant).length} chars)`,
  )
  const sub = attenuate(grant, {
    key: assistant,
    name: 'sub-agent',
    purpose: 'summarize #team',
    now,
    caveats: [
      { type: 'actions', patterns: ['slack:read'] },
      { type: 'uses', max: 3 },
    ],
  })
  const subToken = formatMandate(sub)
  note('3', 'assistant', 'attenuate', `sub-agent: slack:read only, 3 uses, bearer (${subToken.length} chars)`)

  const revocations = createFeedRevocationView({ url, serviceKey, push: false })
  await revocations.sync()
  const reporters: DecisionReporter[] = []
  /** A service's verifier; each decision it makes on an invocation also goes to the audit trail. */
  const service = (audience: keyof DemoParties['verifiers']): Verifier => {
    const verifier = createVerifier({
      roots: [{ key: aliceDid, name: 'alice' }],
      audience,
      clock,
      revocations,
      usage: createRemoteUsageStore({ url, key: parties.verifiers[audience] }),
      replay: createRemoteReplayCache({ url, key: parties.verifiers[audience] }),
    })
    const reporter = createDecisionReporter({ url, key: parties.verifiers[audience], timeoutMs: DEMO_TIMEOUT_MS })
    reporters.push(reporter)
    return {
      ...verifier,
      async authorize(input) {
        const decision = await verifier.authorize(input)
        const invocation = input.invocation ?? (input.token?.startsWith('mni1_') ? input.token : undefined)
        if (invocation !== undefined) reporter.report(decision, { invocation, approvals: input.approvals ?? [] })
        return decision
      },
    }
  }
  /** Sign a statement as Alice, submit it, and bring the verifiers' view up to date. */
  const submit = async (options: Omit<RevocationOptions, 'mandate' | 'key'>) => {
    const statement = createRevocation({ mandate: grant, key: alice, ...options })
    const res = await fetch(`${url}/v1/revocations`, {
      signal: AbortSignal.timeout(DEMO_TIMEOUT_MS),
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ revocation: formatRevocation(statement) }),
    })
    if (!res.ok) throw new Error(`the service refused the statement: HTTP ${res.status}`)
    await revocations.sync()
    return { seq: ((await res.json()) as { seq: number }).seq, id: statement.id }
  }
  const mail = service('mail')
  const slack = service('slack')
  const calendar = service('calendar')
  const asAssistant = (action: string, audience: string, extra: { resource?: string; args?: Record<string, string> } = {}) =>
    invoke(grant, { key: assistant, action, audience, now, ...extra })

  const read = record(
    '4',
    'assistant',
    'email:read',
    await mail.authorize({ invocation: asAssistant('email:read', 'mail', { resource: 'inbox/42' }) }),
  )
  record(
    '5',
    'assistant',
    'calendar:events:decline',
    await calendar.authorize({ invocation: asAssistant('calendar:events:decline', 'calendar') }),
  )
  for (let i = 1; i <= 4; i++) {
    record(
      `6.${i}`,
      'sub-agent',
      'slack:read',
      await slack.authorize({ token: subToken, request: { action: 'slack:read', resource: 'channels/team' } }),
    )
  }
  record('7', 'sub-agent', 'email:read', await slack.authorize({ token: subToken, request: { action: 'email:read' } }))
  const draft = asAssistant('email:draft', 'mail', { args: { to: 'bob@example.com' } })
  record('8', 'assistant', 'email:draft', await mail.authorize({ invocation: formatInvocation(draft) }))
  const approval = approve({ approver: alice, invocation: draft, now })
  note('9', 'alice', 'approve', `draft to bob@example.com (invocation ${draft.idHex.slice(0, 12)}…)`)
  record('10', 'assistant', 'email:draft + approval', await mail.authorize({ invocation: draft, approvals: [approval] }))
  record('11', 'assistant', 'email:send', await mail.authorize({ invocation: asAssistant('email:send', 'mail') }))
  record('11.1', 'anyone', 'email:draft again', await mail.authorize({ invocation: draft, approvals: [approval] }))
  // A stranger with a copy of the sub-agent's token tries to spend (or drain) its quota directly.
  const stranger = await fetch(`${url}/v1/usage/consume`, {
    signal: AbortSignal.timeout(DEMO_TIMEOUT_MS),
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ requestId: 'drain', presentation: subToken, counters: [`${sub.blocks[1]?.idHex}/0`] }),
  })
  const refused = ((await stranger.json()) as { error?: { code: string } }).error?.code ?? 'accepted?!'
  if (stranger.ok) throw new Error('the service let a stranger spend a quota')
  note(
    '11.2',
    'stranger',
    'spend a quota',
    `refused by the service: HTTP ${stranger.status} ${refused} (only registered verifiers count uses)`,
  )

  const { seq } = await submit({ actions: ['slack:send'], reason: 'no posting on my behalf' })
  note('12', 'alice', 'revoke slack:send', `a signed, scoped revocation of the root block (feed seq ${seq})`)
  record('13', 'assistant', 'slack:send', await slack.authorize({ invocation: asAssistant('slack:send', 'slack') }))
  record('14', 'assistant', 'slack:read', await slack.authorize({ invocation: asAssistant('slack:read', 'slack') }))
  await submit({ kind: 'suspend', reason: 'on vacation' })
  record('15', 'assistant', 'email:read (suspended)', await mail.authorize({ invocation: asAssistant('email:read', 'mail') }))
  await submit({ kind: 'resume' })
  record('16', 'assistant', 'email:read (resumed)', await mail.authorize({ invocation: asAssistant('email:read', 'mail') }))
  // Mid-session, Alice tightens the grant the assistant already holds: no new token, nobody re-delegates.
  const amendment = await submit({
    kind: 'amend',
    caveats: [{ type: 'approval', actions: ['calendar:schedule'], approvers: [aliceDid], quorum: 1 }],
    reason: 'ask me before scheduling',
  })
  note(
    '16.1',
    'alice',
    'amend',
    `calendar:schedule now needs her approval (amendment ${amendment.id.slice(0, 12)}…, feed seq ${amendment.seq})`,
  )
  record('16.2', 'assistant', 'calendar:schedule', await calendar.authorize({ invocation: asAssistant('calendar:schedule', 'calendar') }))
  await submit({ kind: 'lift', lifts: amendment.id, reason: 'the trip is booked' })
  note('16.3', 'alice', 'lift', 'the amendment is lifted: the grant is as she first signed it')
  record('16.4', 'assistant', 'calendar:schedule', await calendar.authorize({ invocation: asAssistant('calendar:schedule', 'calendar') }))

  // The doors agents act through: an HTTP API behind mandate/http, and MCP tools behind mandate/mcp.
  const api = protect(
    createHttpGuard({ verifier: mail }),
    () => ({ action: 'email:read', resource: 'inbox/42' }),
    (_request, d) => Response.json({ chain: d.chain.map((l) => l.name ?? 'holder').join(' → ') }),
  )
  const captured: Request[] = []
  const httpCall = createMandateFetch({
    mandate: grant,
    key: assistant,
    audience: 'mail',
    fetch: async (input, init) => {
      const request = new Request(input, init)
      captured.push(request.clone())
      return api(request)
    },
  })
  const answer = async (step: string, who: string, action: string, res: Response) => {
    const body = (await res.json()) as { chain?: string; code?: string; detail?: string }
    const allowed = res.ok && body.chain !== undefined
    rows.push({
      step,
      who,
      action,
      decision: allowed ? 'ALLOWED' : 'DENIED',
      reason: allowed ? `HTTP ${res.status}, ${body.chain}` : `HTTP ${res.status} ${body.code}: ${body.detail}`,
    })
  }
  await answer(
    '17',
    'assistant',
    'GET /inbox (HTTP)',
    await httpCall('https://mail.example/inbox', { mandate: { action: 'email:read', resource: 'inbox/42' } }),
  )
  const replayed = captured[0]
  if (replayed) await answer('17.1', 'anyone', 'the same request again', await api(replayed))
  const tools = createToolGuard({ mandate: grant, key: assistant, verifier: calendar, actionPrefix: 'calendar' })
  const tool = await tools.authorizeCall('list_events', { day: 'friday' })
  rows.push({
    step: '18',
    who: 'assistant',
    action: 'MCP tool list_events',
    decision: tool.allowed ? 'ALLOWED' : 'DENIED',
    reason: tool.allowed
      ? `as ${tool.action}: ${tool.decision.chain.map((l) => l.name ?? 'holder').join(' → ')}`
      : `${tool.code}: ${tool.message}`,
  })

  // The auditor reads the service's audit trail and checks it against the service's key alone.
  for (const r of reporters) await r.flush()
  const lines: string[] = []
  let checkpoint: unknown
  for (let since = 0; ; ) {
    const target = `${url}/v1/audit?since=${since}&limit=1000`
    const res = await fetch(target, {
      signal: AbortSignal.timeout(DEMO_TIMEOUT_MS),
      headers: signRequest({ method: 'GET', url: target }, parties.auditor),
    })
    const page = (await res.json()) as { records: { type: string }[]; next?: number; checkpoint: unknown }
    for (const record of page.records) lines.push(JSON.stringify(record))
    checkpoint = page.checkpoint
    if (page.next === undefined) break
    since = page.next
  }
  const checked = verifyAuditExport([...lines, JSON.stringify(checkpoint)].join('\n'), serviceKey)
  const types = lines.map((l) => (JSON.parse(l) as { type: string }).type)
  const count = (t: string) => types.filter((x) => x === t).length
  rows.push({
    step: '19',
    who: 'auditor',
    action: 'the audit trail',
    decision: checked.ok ? 'INTACT' : 'BROKEN',
    reason: checked.ok
      ? `${checked.records} records (${count('decision')} decisions reported by the verifiers, ${count('revocation')} revocations, ${count('amendment') + count('amendment.lifted')} amendments and lifts), hash-chained, checkpoint signed by the service`
      : `${checked.problem?.kind}: ${checked.problem?.message}`,
  })

  if (!read.allowed) throw new Error(`the demo's first read was denied: ${read.code}`)
  return { rows, chain: read.chain }
}

function short(did: string): string {
  return `${did.slice(0, 14)}…${did.slice(-4)}`
}

function table(rows: readonly Row[], chain: Allowed['chain'], paint: ReturnType<typeof colors>, url: string): string {
  const header: Row = { step: 'step', who: 'who', action: 'action', decision: 'decision', reason: 'reason' }
  const keys = ['step', 'who', 'action', 'decision'] as const
  const width = Object.fromEntries(keys.map((k) => [k, Math.max(...[header, ...rows].map((r) => r[k].length))])) as Record<
    (typeof keys)[number],
    number
  >
  const line = (r: Row, style = (_: Row, s: string) => s) => `${keys.map((k) => style(r, r[k].padEnd(width[k]))).join('  ')}  ${r.reason}`
  const decisionColor = (r: Row, s: string) =>
    r.decision === 'ALLOWED' || r.decision === 'INTACT'
      ? paint('green', s)
      : r.decision === 'DENIED' || r.decision === 'BROKEN'
        ? paint('red', s)
        : s
  const out = [
    paint('bold', `mandate demo: Alice → assistant → sub-agent (verifiers in this process; revocations and usage at ${url})`),
    '',
  ]
  out.push(line(header), `${keys.map((k) => '-'.repeat(width[k])).join('  ')}  ------`)
  for (const r of rows) out.push(line(r, (row, s) => (s.trim() === row.decision ? decisionColor(row, s) : s)))
  out.push('', 'accountability chain of step 4 (email:read):')
  for (const l of chain) {
    out.push(
      `  ${l.role === 'principal' ? 'principal' : `holder ${l.block}`}  ${l.name ?? '(unnamed)'}  ${l.key}${l.purpose ? `  — ${l.purpose}` : ''}`,
    )
  }
  return `${out.join('\n')}\n`
}
