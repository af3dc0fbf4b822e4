/**
 * `mandate demo`: the essay's story end to end, on this machine, with no setup.
 *
 * Alice grants her assistant email:read, email:draft (with her approval), slack:read,
 * slack:send and calendar:* for 8 hours, and email:send never. The assistant, bound to its
 * own key, hands a sub-agent slack:read only, 3 uses, as a bearer mandate. Services embed
 * the verifier; revocations and counters live in this process.
 *
 * @module
 */
import type { Command } from 'commander'
import { generateKeyPair, toDidKey } from '../../crypto/keys.js'
import { createMemoryRevocationView } from '../../revocation/view.js'
import { approve } from '../../token/approval.js'
import { formatInvocation, invoke } from '../../token/invocation.js'
import { attenuate, formatMandate, mint } from '../../token/mandate.js'
import { createMemoryUsageStore } from '../../usage/memory.js'
import type { Allowed, Decision } from '../../verify/decision.js'
import { createVerifier } from '../../verify/verifier.js'
import { type Context, colors, emit } from '../context.js'

interface Row {
  readonly step: string
  readonly who: string
  readonly action: string
  readonly decision: string
  readonly reason: string
}

export function registerDemo(program: Command, ctx: Context): void {
  program
    .command('demo')
    .description('run the delegation story end to end (Alice → assistant → sub-agent)')
    .action(async (_opts: unknown, cmd: Command) => {
      const { rows, chain } = await story(ctx.io.now())
      const paint = colors(ctx, cmd)
      emit(ctx, cmd, { rows, chain }, () => table(rows, chain, paint))
    })
}

/** Run the story; returns the table rows and one allowed decision's accountability chain. */
export async function story(start: number): Promise<{ rows: Row[]; chain: Allowed['chain'] }> {
  let now = start
  const clock = () => now
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

  const alice = generateKeyPair()
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

  const revocations = createMemoryRevocationView(clock)
  const usage = createMemoryUsageStore()
  const service = (audience: string) => createVerifier({ roots: [{ key: aliceDid, name: 'alice' }], audience, clock, revocations, usage })
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

  const root = grant.blocks[0]?.idHex as string
  revocations.revoke(root, { actions: ['slack:send'], at: now, by: aliceDid, reason: 'no posting on my behalf' })
  note('12', 'alice', 'revoke slack:send', 'a scoped revocation of the root block: only slack:send')
  record('13', 'assistant', 'slack:send', await slack.authorize({ invocation: asAssistant('slack:send', 'slack') }))
  record('14', 'assistant', 'slack:read', await slack.authorize({ invocation: asAssistant('slack:read', 'slack') }))
  revocations.suspend(root, { at: now, by: aliceDid, reason: 'on vacation' })
  record('15', 'assistant', 'email:read (suspended)', await mail.authorize({ invocation: asAssistant('email:read', 'mail') }))
  revocations.resume(root)
  record('16', 'assistant', 'email:read (resumed)', await mail.authorize({ invocation: asAssistant('email:read', 'mail') }))
  now += 8 * 3600 + 120
  record('17', 'assistant', 'email:read (+8h)', await mail.authorize({ invocation: asAssistant('email:read', 'mail') }))

  if (!read.allowed) throw new Error(`the demo's first read was denied: ${read.code}`)
  return { rows, chain: read.chain }
}

function short(did: string): string {
  return `${did.slice(0, 14)}…${did.slice(-4)}`
}

function table(rows: readonly Row[], chain: Allowed['chain'], paint: ReturnType<typeof colors>): string {
  const header: Row = { step: 'step', who: 'who', action: 'action', decision: 'decision', reason: 'reason' }
  const keys = ['step', 'who', 'action', 'decision'] as const
  const width = Object.fromEntries(keys.map((k) => [k, Math.max(...[header, ...rows].map((r) => r[k].length))])) as Record<
    (typeof keys)[number],
    number
  >
  const line = (r: Row, style = (_: Row, s: string) => s) => `${keys.map((k) => style(r, r[k].padEnd(width[k]))).join('  ')}  ${r.reason}`
  const decisionColor = (r: Row, s: string) =>
    r.decision === 'ALLOWED' ? paint('green', s) : r.decision === 'DENIED' ? paint('red', s) : s
  const out = [paint('bold', 'mandate demo: Alice → assistant → sub-agent (in-process verifier, revocations and counters)'), '']
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
