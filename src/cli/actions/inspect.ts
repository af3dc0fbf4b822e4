/**
 * `mandate inspect`: a readable tree of a mandate, invocation or approval, marked unverified
 * (the flags are in ../commands/inspect.ts).
 *
 * @module
 */
import type { Command } from 'commander'
import { iso } from '../../internal/clock.js'
import { type InspectedBlock, type Inspection, inspect as inspectToken } from '../../token/inspect.js'
import { type Context, colors, emit } from '../context.js'
import { printable as p, printableJson } from '../printable.js'
import { relative } from '../time.js'
import { parsed, readToken } from '../tokens.js'

type Paint = ReturnType<typeof colors>

/** Show what `token` says, verifying nothing. */
export async function inspect(ctx: Context, token: string | undefined, cmd: Command): Promise<void> {
  const input = await readToken(ctx.io, token, ['mandate', 'invocation', 'approval', 'revocation'], 'inspect')
  const view = parsed(input, inspectToken)
  emit(ctx, cmd, view, () => render(view, ctx.io.now(), colors(ctx, cmd)))
}

/** A did:key cut short for the tree (escaped: the text comes from the token). */
function short(did: string): string {
  return p(did.length > 24 ? `${did.slice(0, 16)}…${did.slice(-6)}` : did)
}

function blocks(list: readonly InspectedBlock[], paint: Paint, now: number): string[] {
  const lines: string[] = []
  list.forEach((b, i) => {
    const pad = '   '.repeat(i)
    const who = b.name ? `${paint('bold', p(b.name))} ` : ''
    lines.push(`${pad}└─ block ${b.index}  ${paint('dim', `id ${p(b.id.slice(0, 16))}…`)}  signed by ${short(b.signedBy)}`)
    lines.push(`${pad}   holder   ${who}${b.bearer ? paint('yellow', 'bearer') : short(b.holder)}${b.bearer ? '' : ' (bound)'}`)
    if (b.purpose) lines.push(`${pad}   purpose  ${p(b.purpose)}`)
    lines.push(`${pad}   issued   ${iso(b.issuedAt)} (${relative(b.issuedAt, now)})`)
    if (b.caveats.length === 0) lines.push(`${pad}   caveats  (none: everything the chain above allows)`)
    for (const [j, c] of b.caveats.entries()) lines.push(`${pad}   ${j === 0 ? 'caveats ' : '        '} • ${p(c.text)}`)
  })
  return lines
}

/** The human rendering of an inspection; every string the token carries is escaped (`printable`). */
export function render(view: Inspection, now: number, paint: Paint): string {
  const lines = [paint('red', `${p(view.kind)} — ${p(view.notice)}`)]
  if (view.kind === 'approval') {
    lines.push(`approver   ${p(view.approver)}`, `approves   invocation ${p(view.invocationId)}`)
    lines.push(`valid      ${iso(view.issuedAt)} → ${iso(view.expires)} (${relative(view.expires, now)})`)
    if (view.note) lines.push(`note       ${p(view.note)}`)
    return `${lines.join('\n')}\n`
  }
  if (view.kind === 'revocation') {
    lines.push(
      `effect     ${paint('bold', p(view.effect))} block ${view.target.block} (${p(view.target.id.slice(0, 16))}…)${view.actions ? ` for ${view.actions.map((a) => p(a)).join(', ')}` : ''}`,
    )
    // What an amendment adds, in words, and which amendment a lift ends.
    for (const c of view.caveats ?? []) lines.push(`adds       ${p(c.text)}`)
    if (view.lifts) lines.push(`lifts      amendment ${p(view.lifts)}`)
    lines.push(`signed by  ${p(view.signer)}, ${iso(view.created)} (${relative(view.created, now)})`)
    if (view.reason) lines.push(`reason     ${p(view.reason)}`)
  }
  if (view.kind === 'invocation') {
    lines.push(`id         ${p(view.id)}`)
    lines.push(`request    ${paint('bold', p(view.action))}${view.resource ? ` on ${p(view.resource)}` : ''} for ${p(view.audience)}`)
    if (Object.keys(view.args).length > 0) lines.push(`args       ${printableJson(view.args)}`)
    if (view.intent) lines.push(`intent     ${p(view.intent)}`)
    lines.push(`signed     ${iso(view.issuedAt)} (${relative(view.issuedAt, now)})`)
  }
  lines.push(`principal  ${p(view.principal)}`)
  lines.push(...blocks(view.blocks, paint, now))
  if (view.kind !== 'revocation' && view.expires !== undefined)
    lines.push(`expires    ${iso(view.expires)} (${relative(view.expires, now)})`)
  if (view.kind === 'mandate') {
    lines.push(`proof      ${view.proof}`)
    if (view.warning) lines.push(paint('yellow', `warning    ${view.warning}`))
  }
  return `${lines.join('\n')}\n`
}
