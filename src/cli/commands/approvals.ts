/**
 * `mandate approvals list|show|request`: the service's approval inbox.
 *
 * @module
 */
import type { Command } from 'commander'
import { iso } from '../../internal/clock.js'
import { type Context, emit } from '../context.js'
import { CliError, usage } from '../errors.js'
import { loadKey, readInput } from '../io.js'
import { printable as p, printableJson } from '../printable.js'
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

/**
 * The service's answer, checked before anything reads it: a service that answers in another
 * shape (a bug, a proxy, a stranger on the URL) is an operational failure, never a crash.
 */
export function inboxEntry(value: unknown): InboxEntry {
  const record = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v)
  const text = (v: unknown) => typeof v === 'string'
  const optional = (v: unknown) => v === undefined || text(v)
  const list = (v: unknown, each: (x: unknown) => boolean) => Array.isArray(v) && v.every(each)
  const block = (b: unknown) => record(b) && Number.isSafeInteger(b['block']) && optional(b['name']) && optional(b['purpose'])
  const e = value
  const ok =
    record(e) &&
    text(e['id']) &&
    (e['status'] === 'pending' || e['status'] === 'approved') &&
    record(e['requested_by']) &&
    text(e['requested_by']['key']) &&
    optional(e['requested_by']['name']) &&
    text(e['on_behalf_of']) &&
    list(e['chain'], block) &&
    text(e['action']) &&
    optional(e['resource']) &&
    record(e['args']) &&
    text(e['audience']) &&
    optional(e['intent']) &&
    list(e['approvers'], text) &&
    record(e['approvals']) &&
    Object.values(e['approvals']).every(text) &&
    Number.isSafeInteger(e['created_at']) &&
    text(e['invocation'])
  if (!ok) throw new CliError('ERR_IO', 'the service answered with a malformed approval request', 'is --service the mandate service?')
  return value as InboxEntry
}

/**
 * Lines that tell an approver what is asked, by whom, for whom, and why. Every string comes from
 * the service or the token, so every one is escaped (`printable`; arguments as safe JSON).
 */
export function describeEntry(e: InboxEntry): string[] {
  const holder = (b: InboxEntry['chain'][number]) => p(b.name ?? `block ${b.block}`)
  return [
    `request     ${p(e.id)}  (${p(e.status)}, ${iso(e.created_at)})`,
    `asked by    ${e.requested_by.name ? `${p(e.requested_by.name)} ` : ''}(${p(e.requested_by.key)})`,
    `on behalf   ${p(e.on_behalf_of)}${e.chain.length > 1 ? ` via ${e.chain.map(holder).join(' → ')}` : ''}`,
    `action      ${p(e.action)}${e.resource ? ` on ${p(e.resource)}` : ''} at ${p(e.audience)}`,
    `arguments   ${printableJson(e.args)}`,
    ...e.chain.flatMap((b) => (b.purpose ? [`purpose     ${holder(b)}: ${p(b.purpose)}`] : [])),
    ...(e.intent ? [`intent      ${p(e.intent)}`] : []),
    `approvers   ${e.approvers.map((a) => `${p(a)}${e.approvals[a] ? ' ✓' : ''}`).join(', ')}`,
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
    .option('--key <file>', 'the approver key: the inbox is private, and the request is signed with it (default: MANDATE_KEY)')
    .option('--limit <n>', 'at most N requests, newest first (1–100, default 50)')
    .option('--before <cursor>', 'the page after this cursor (printed as "next" by the previous page)')
    .action(async (opts: { service?: string; key?: string; limit?: string; before?: string }, cmd: Command) => {
      const url = needService(ctx, opts.service)
      const key = loadKey(ctx.io, opts.key)
      if (opts.limit !== undefined && (!/^\d{1,3}$/.test(opts.limit) || Number(opts.limit) < 1 || Number(opts.limit) > 100))
        usage('--limit: expected 1..100')
      const query = new URLSearchParams({
        ...(opts.limit === undefined ? {} : { limit: opts.limit }),
        ...(opts.before === undefined ? {} : { before: opts.before }),
      }).toString()
      const { body } = await call<{ approver: string; pending: InboxEntry[]; next?: string }>(
        url,
        `/v1/approvals${query ? `?${query}` : ''}`,
        { key },
      )
      if (!Array.isArray(body.pending)) throw new CliError('ERR_IO', 'the service answered without a list of requests')
      for (const entry of body.pending) inboxEntry(entry)
      emit(ctx, cmd, body, () =>
        body.pending.length === 0
          ? `no pending requests for ${p(body.approver)}\n`
          : `${body.pending.map((e) => describeEntry(e).join('\n')).join('\n\n')}\n${body.next ? `\nmore: --before ${p(body.next)}\n` : ''}`,
      )
    })

  approvals
    .command('show')
    .description('one request, with the approvals it has')
    .argument('<id>', 'the request (invocation) id')
    .option('--service <url>', 'the service (default: MANDATE_SERVICE)')
    .option('--wait <seconds>', 'wait up to SECONDS (≤ 30) for a new approval')
    .option('--key <file>', 'an approver’s, the requester’s or the principal’s key: only they may read it (default: MANDATE_KEY)')
    .action(async (id: string, opts: { service?: string; wait?: string; key?: string }, cmd: Command) => {
      const url = needService(ctx, opts.service)
      if (!/^[0-9a-f]{64}$/.test(id)) usage('a request id is 64 hex digits')
      if (opts.wait !== undefined && (!/^\d{1,2}$/.test(opts.wait) || Number(opts.wait) > 30)) usage('--wait: expected 0..30 seconds')
      const key = loadKey(ctx.io, opts.key)
      const wait = opts.wait === undefined ? '' : `?wait=${opts.wait}`
      const body = inboxEntry((await call<unknown>(url, `/v1/approvals/${id}${wait}`, { key })).body)
      emit(
        ctx,
        cmd,
        body,
        () =>
          `${describeEntry(body).join('\n')}\n${Object.values(body.approvals)
            .map((a) => p(a))
            .join('\n')}${Object.keys(body.approvals).length ? '\n' : ''}`,
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
      const body = inboxEntry((await call<unknown>(url, '/v1/approvals', { method: 'POST', body: { invocation } })).body)
      emit(ctx, cmd, body, () => `${body.id}\n`)
    })
}
