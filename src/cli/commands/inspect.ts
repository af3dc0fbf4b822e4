/**
 * `mandate inspect`: a readable tree of a mandate, invocation or approval, marked unverified.
 *
 * @module
 */
import type { Command } from 'commander'
import { iso } from '../../internal/clock.js'
import { type InspectedBlock, type Inspection, inspect } from '../../token/inspect.js'
import { type Context, colors, emit } from '../context.js'
import { readInput } from '../io.js'
import { relative } from '../time.js'

type Paint = ReturnType<typeof colors>

export function registerInspect(program: Command, ctx: Context): void {
  program
    .command('inspect')
    .description('show what a mandate, invocation, approval or revocation says (verifies nothing)')
    .argument('[token]', 'mnd1_…, mni1_…, mna1_… or mnr1_…, a file, or - for stdin')
    .action(async (token: string | undefined, _opts: unknown, cmd: Command) => {
      const view = inspect(await readInput(ctx.io, token, 'token'))
      emit(ctx, cmd, view, () => render(view, ctx.io.now(), colors(ctx, cmd)))
    })
}

function short(did: string): string {
  return did.length > 24 ? `${did.slice(0, 16)}…${did.slice(-6)}` : did
}

function blocks(list: readonly InspectedBlock[], paint: Paint, now: number): string[] {
  const lines: string[] = []
  list.forEach((b, i) => {
    const pad = '   '.repeat(i)
    const who = b.name ? `${paint('bold', b.name)} ` : ''
    lines.push(`${pad}└─ block ${b.index}  ${paint('dim', `id ${b.id.slice(0, 16)}…`)}  signed by ${short(b.signedBy)}`)
    lines.push(`${pad}   holder   ${who}${b.bearer ? paint('yellow', 'bearer') : short(b.holder)}${b.bearer ? '' : ' (bound)'}`)
    if (b.purpose) lines.push(`${pad}   purpose  ${b.purpose}`)
    lines.push(`${pad}   issued   ${iso(b.issuedAt)} (${relative(b.issuedAt, now)})`)
    if (b.caveats.length === 0) lines.push(`${pad}   caveats  (none: everything the chain above allows)`)
    for (const [j, c] of b.caveats.entries()) lines.push(`${pad}   ${j === 0 ? 'caveats ' : '        '} • ${c.text}`)
  })
  return lines
}

/** The human rendering of an inspection. */
export function render(view: Inspection, now: number, paint: Paint): string {
  const lines = [paint('red', `${view.kind} — ${view.notice}`)]
  if (view.kind === 'approval') {
    lines.push(`approver   ${view.approver}`, `approves   invocation ${view.invocationId}`)
    lines.push(`valid      ${iso(view.issuedAt)} → ${iso(view.expires)} (${relative(view.expires, now)})`)
    if (view.note) lines.push(`note       ${view.note}`)
    return `${lines.join('\n')}\n`
  }
  if (view.kind === 'revocation') {
    lines.push(
      `effect     ${paint('bold', view.effect)} block ${view.target.block} (${view.target.id.slice(0, 16)}…)${view.actions ? ` for ${view.actions.join(', ')}` : ''}`,
    )
    lines.push(`signed by  ${view.signer}, ${iso(view.created)} (${relative(view.created, now)})`)
    if (view.reason) lines.push(`reason     ${view.reason}`)
  }
  if (view.kind === 'invocation') {
    lines.push(`id         ${view.id}`)
    lines.push(`request    ${paint('bold', view.action)}${view.resource ? ` on ${view.resource}` : ''} for ${view.audience}`)
    if (Object.keys(view.args).length > 0) lines.push(`args       ${JSON.stringify(view.args)}`)
    if (view.intent) lines.push(`intent     ${view.intent}`)
    lines.push(`signed     ${iso(view.issuedAt)} (${relative(view.issuedAt, now)})`)
  }
  lines.push(`principal  ${view.principal}`)
  lines.push(...blocks(view.blocks, paint, now))
  if (view.kind !== 'revocation' && view.expires !== undefined)
    lines.push(`expires    ${iso(view.expires)} (${relative(view.expires, now)})`)
  if (view.kind === 'mandate') {
    lines.push(`proof      ${view.proof}`)
    if (view.warning) lines.push(paint('yellow', `warning    ${view.warning}`))
  }
  return `${lines.join('\n')}\n`
}
