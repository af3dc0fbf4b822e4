/**
 * `mandate approvals list|show|request`: the service's approval inbox.
 *
 * @module
 */
import type { Command } from 'commander'
import { toDidKey } from '../../crypto/keys.js'
import { iso } from '../../internal/clock.js'
import { type Context, emit } from '../context.js'
import { usage } from '../errors.js'
import { loadKey, readInput } from '../io.js'
import { call, serviceUrl } from '../service-client.js'

/** An inbox entry as the service describes it. */
export interface InboxEntry {
  readonly id: string
  readonly status: 'pending' | 'approved'
  readonly requested_by: { key: string; name?: string }
  readonly on_behalf_of: string
  readonly chain: readonly { block: number; name?: string; purpose?: string }[]
  readonly action: string
  readonly resource?: string
  readonly args: Record<string, unknown>
  readonly audience: string
  readonly intent?: string
  readonly approvers: readonly string[]
  readonly approvals: Readonly<Record<string, string>>
  readonly created_at: number
  readonly invocation: string
}

/** Lines that tell an approver what is asked, by whom, for whom, and why. */
export function describeEntry(e: InboxEntry): string[] {
  return [
    `request     ${e.id}  (${e.status}, ${iso(e.created_at)})`,
    `asked by    ${e.requested_by.name ? `${e.requested_by.name} ` : ''}(${e.requested_by.key})`,
    `on behalf   ${e.on_behalf_of}${e.chain.length > 1 ? ` via ${e.chain.map((b) => b.name ?? `block ${b.block}`).join(' → ')}` : ''}`,
    `action      ${e.action}${e.resource ? ` on ${e.resource}` : ''} at ${e.audience}`,
    `arguments   ${JSON.stringify(e.args)}`,
    ...e.chain.flatMap((b) => (b.purpose ? [`purpose     ${b.name ?? `block ${b.block}`}: ${b.purpose}`] : [])),
    ...(e.intent ? [`intent      ${e.intent}`] : []),
    `approvers   ${e.approvers.map((a) => `${a}${e.approvals[a] ? ' ✓' : ''}`).join(', ')}`,
  ]
}

function needService(ctx: Context, flag: string | undefined): string {
  const url = serviceUrl(ctx.io, flag)
  if (!url) usage('this needs the service', 'pass --service URL or set MANDATE_SERVICE')
  return url
}

export function registerApprovals(program: Command, ctx: Context): void {
  const approvals = program.command('approvals').description('the approval inbox of a mandate service')

  approvals
    .command('list')
    .description('pending requests an approver has not answered yet')
    .option('--service <url>', 'the service (default: MANDATE_SERVICE)')
    .option('--approver <did>', 'whose inbox (default: the did:key of --key / MANDATE_KEY)')
    .option('--key <file>', 'the approver key, to name the inbox')
    .action(async (opts: { service?: string; approver?: string; key?: string }, cmd: Command) => {
      const url = needService(ctx, opts.service)
      const approver = opts.approver ?? toDidKey(loadKey(ctx.io, opts.key).publicKey)
      const { body } = await call<{ approver: string; pending: InboxEntry[] }>(
        url,
        `/v1/approvals?approver=${encodeURIComponent(approver)}`,
      )
      emit(ctx, cmd, body, () =>
        body.pending.length === 0
          ? `no pending requests for ${body.approver}\n`
          : `${body.pending.map((e) => describeEntry(e).join('\n')).join('\n\n')}\n`,
      )
    })

  approvals
    .command('show')
    .description('one request, with the approvals it has')
    .argument('<id>', 'the request (invocation) id')
    .option('--service <url>', 'the service (default: MANDATE_SERVICE)')
    .option('--wait <seconds>', 'wait up to SECONDS (≤ 30) for a new approval')
    .action(async (id: string, opts: { service?: string; wait?: string }, cmd: Command) => {
      const url = needService(ctx, opts.service)
      if (!/^[0-9a-f]{64}$/.test(id)) usage('a request id is 64 hex digits')
      const wait = opts.wait === undefined ? '' : `?wait=${Number(opts.wait) || 0}`
      const { body } = await call<InboxEntry>(url, `/v1/approvals/${id}${wait}`)
      emit(
        ctx,
        cmd,
        body,
        () =>
          `${describeEntry(body).join('\n')}\n${Object.values(body.approvals).join('\n')}${Object.keys(body.approvals).length ? '\n' : ''}`,
      )
    })

  approvals
    .command('request')
    .description('submit an invocation that needs approval to the inbox (as the agent)')
    .argument('[invocation]', 'the invocation (mni1_…), a file, or - for stdin')
    .option('--service <url>', 'the service (default: MANDATE_SERVICE)')
    .action(async (text: string | undefined, opts: { service?: string }, cmd: Command) => {
      const url = needService(ctx, opts.service)
      const invocation = await readInput(ctx.io, text, 'invocation')
      const { body } = await call<InboxEntry>(url, '/v1/approvals', { method: 'POST', body: { invocation } })
      emit(ctx, cmd, body, () => `${body.id}\n`)
    })
}
