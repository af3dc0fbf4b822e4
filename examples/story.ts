/**
 * The delegation story of the essay, end to end on the library's in-process defaults:
 * Alice → her assistant (bound key) → a sub-agent (bearer), decided by services that embed
 * the verifier. Run with `npm run demo`.
 */
import {
  approve,
  attenuate,
  createMemoryRevocationView,
  createVerifier,
  type Decision,
  formatMandate,
  generateKeyPair,
  invoke,
  mint,
  parseMandate,
  toDidKey,
} from '../src/index.js'

const HOUR = 3600
let now = Math.floor(Date.now() / 1000)
const clock = () => now

const alice = generateKeyPair()
const assistant = generateKeyPair()
const aliceDid = toDidKey(alice.publicKey)

const grant = mint({
  principal: alice,
  to: toDidKey(assistant.publicKey),
  name: 'assistant',
  purpose: 'help Alice stay organized',
  caveats: [
    { type: 'actions', patterns: ['email:read', 'email:draft', 'slack:read', 'slack:send', 'calendar:*'] },
    { type: 'deny', patterns: ['email:send'] },
    { type: 'approval', actions: ['email:draft'], approvers: [aliceDid], quorum: 1 },
    { type: 'window', expires: now + 8 * HOUR },
  ],
  now,
})
const subAgentGrant = attenuate(grant, {
  key: assistant,
  name: 'sub-agent',
  purpose: 'summarize #team',
  caveats: [
    { type: 'actions', patterns: ['slack:read'] },
    { type: 'uses', max: 3 },
  ],
  now,
})
const subAgentToken = formatMandate(subAgentGrant)

const revocations = createMemoryRevocationView(clock)
const service = (audience: string) => createVerifier({ roots: [{ key: aliceDid, name: 'alice' }], audience, clock, revocations })
const mail = service('mail')
const slack = service('slack')
const calendar = service('calendar')

const rows: string[][] = []
function record(step: string, who: string, action: string, d: Decision): Decision {
  rows.push([
    step,
    who,
    action,
    d.allowed ? 'ALLOWED' : 'DENIED',
    d.allowed ? d.chain.map((l) => l.name ?? l.key).join(' → ') : `${d.code}: ${d.message}`,
  ])
  return d
}
const asAssistant = (action: string, audience: string, extra: { resource?: string; args?: Record<string, string> } = {}) =>
  invoke(grant, { key: assistant, action, audience, now, ...extra })

record('1', 'assistant', 'email:read', await mail.authorize({ invocation: asAssistant('email:read', 'mail', { resource: 'inbox/1' }) }))
record(
  '2',
  'assistant',
  'calendar:events:decline',
  await calendar.authorize({ invocation: asAssistant('calendar:events:decline', 'calendar') }),
)
const draft = asAssistant('email:draft', 'mail', { args: { to: 'bob@example.com' } })
record('3', 'assistant', 'email:draft', await mail.authorize({ invocation: draft }))
const approval = approve({ approver: alice, invocation: draft, now })
record('4', 'assistant', 'email:draft + approval', await mail.authorize({ invocation: draft, approvals: [approval] }))
record('5', 'assistant', 'email:send', await mail.authorize({ invocation: asAssistant('email:send', 'mail') }))
for (let i = 1; i <= 4; i++) {
  record(
    `6.${i}`,
    'sub-agent',
    'slack:read',
    await slack.authorize({ token: subAgentToken, request: { action: 'slack:read', resource: 'channels/team' } }),
  )
}
record('7', 'sub-agent', 'email:read', await slack.authorize({ token: subAgentToken, request: { action: 'email:read' } }))
const rootId = grant.blocks[0]?.idHex as string
revocations.revoke(rootId, { actions: ['slack:send'], at: now, by: aliceDid, reason: 'no posting' })
record('8', 'assistant', 'slack:send (revoked)', await slack.authorize({ invocation: asAssistant('slack:send', 'slack') }))
record('9', 'assistant', 'slack:read', await slack.authorize({ invocation: asAssistant('slack:read', 'slack') }))
revocations.suspend(rootId, { at: now, by: aliceDid, reason: 'vacation' })
record('10', 'assistant', 'email:read (suspended)', await mail.authorize({ invocation: asAssistant('email:read', 'mail') }))
revocations.resume(rootId)
record('11', 'assistant', 'email:read (resumed)', await mail.authorize({ invocation: asAssistant('email:read', 'mail') }))
now += 8 * HOUR + 120
record('12', 'assistant', 'email:read (+8h)', await mail.authorize({ invocation: asAssistant('email:read', 'mail') }))

const header = ['step', 'who', 'action', 'decision', 'chain / reason']
const widths = header.map((h, i) => Math.min(60, Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length))))
const line = (cells: string[]) => cells.map((c, i) => c.slice(0, widths[i]).padEnd(widths[i] ?? 0)).join('  ')
console.log('mandate: the delegation story (in-process verifier, memory stores)\n')
console.log(line(header))
console.log(line(widths.map((w) => '-'.repeat(w))))
for (const r of rows) console.log(line(r))
const sub = parseMandate(subAgentToken)
console.log(
  `\nsub-agent mandate: ${sub.blocks.length} blocks, ${sub.bytes.length} bytes, proof ${sub.proof.kind} (a bearer token is a secret)`,
)
