/**
 * `mandate approvals list|show|request|deny`: the service's approval inbox (the flags are in
 * ../commands/approvals.ts).
 *
 * @module
 */
import type { Command } from 'commander'
import { iso } from '../../internal/clock.js'
import { denialReason } from '../../internal/reason.js'
import { parseInvocation } from '../../token/invocation.js'
import { MAX_APPROVAL_WAIT } from '../../verify/options.js'
import { type Context, emit, serviceOf } from '../context.js'
import { CliError, usage } from '../errors.js'
import { loadKey } from '../io.js'
import { printable as p, printableJson } from '../printable.js'
import { call } from '../service-client.js'
import type { Service } from '../service-flags.js'
import { formatDuration, parseWait } from '../time.js'
import { parsed, readToken } from '../tokens.js'

/** An inbox entry as the CLI prints it (camelCase, like the library's objects). */
export interface InboxEntry {
  readonly id: string
  readonly status: 'pending' | 'approved' | 'denied'
  readonly requestedBy: { readonly key: string; readonly name?: string }
  readonly onBehalfOf: string
  readonly chain: readonly { block: number; name?: string; purpose?: string }[]
  readonly action: string
  readonly resource?: string
  readonly args: Record<string, unknown>
  readonly audience: string
  readonly intent?: string
  readonly approvers: readonly string[]
  readonly approvals: Readonly<Record<string, string>>
  readonly createdAt: number
  readonly expiresAt?: number
  readonly invocation: string
  /** Who denied it, why and when: exactly when `status` is `denied`. */
  readonly denial?: { readonly by: string; readonly reason: string; readonly at: number }
  /** What is left of each `uses` caveat of the chain, when the service says. */
  readonly quota?: readonly { block: number; max: number; per?: number; used: number; remaining: number }[]
  /** The amendments in force on the chain, when the service says: one may be why approval is asked. */
  readonly amendments?: readonly { block: number; by: string; at: number; reason?: string; caveats: readonly string[] }[]
}

type Json = Record<string, unknown>

const record = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v)
const text = (v: unknown): v is string => typeof v === 'string'
const optional = (v: unknown) => v === undefined || text(v)
const list = (v: unknown, each: (x: unknown) => boolean) => Array.isArray(v) && v.every(each)
const block = (b: unknown) => record(b) && Number.isSafeInteger(b['block']) && optional(b['name']) && optional(b['purpose'])
const whole = (v: unknown) => Number.isSafeInteger(v) && (v as number) >= 0
const amendmentLine = (a: unknown) =>
  record(a) && whole(a['block']) && text(a['by']) && whole(a['at']) && optional(a['reason']) && list(a['caveats'], text)
const quotaLine = (q: unknown) =>
  record(q) &&
  whole(q['block']) &&
  whole(q['max']) &&
  whole(q['used']) &&
  whole(q['remaining']) &&
  (q['per'] === undefined || whole(q['per']))

/**
 * The service's answer, checked before anything reads it: a service that answers in another
 * shape (a bug, a proxy, a stranger on the URL) is an operational failure, never a crash. The
 * entry comes back with the CLI's own (camelCase) names and nothing else.
 */
export function inboxEntry(value: unknown): InboxEntry {
  const malformed = () =>
    new CliError('ERR_IO', 'the service answered with a malformed approval request', 'is --service the mandate service?')
  if (!record(value)) throw malformed()
  const e = value
  const by = e['requestedBy']
  const createdAt = e['createdAt']
  const expiresAt = e['expiresAt']
  const denial = e['denial']
  const denied =
    e['status'] === 'denied' && record(denial) && text(denial['by']) && text(denial['reason']) && Number.isSafeInteger(denial['at'])
  const ok =
    text(e['id']) &&
    (((e['status'] === 'pending' || e['status'] === 'approved') && denial === undefined) || denied) &&
    record(by) &&
    text(by['key']) &&
    optional(by['name']) &&
    text(e['onBehalfOf']) &&
    list(e['chain'], block) &&
    text(e['action']) &&
    optional(e['resource']) &&
    record(e['args']) &&
    text(e['audience']) &&
    optional(e['intent']) &&
    list(e['approvers'], text) &&
    record(e['approvals']) &&
    Object.values(e['approvals']).every(text) &&
    Number.isSafeInteger(createdAt) &&
    (expiresAt === undefined || Number.isSafeInteger(expiresAt)) &&
    text(e['invocation']) &&
    (e['quota'] === undefined || list(e['quota'], quotaLine)) &&
    (e['amendments'] === undefined || list(e['amendments'], amendmentLine))
  if (!ok) throw malformed()
  return {
    id: e['id'] as string,
    status: e['status'] as InboxEntry['status'],
    requestedBy: { key: by['key'] as string, ...(by['name'] === undefined ? {} : { name: by['name'] as string }) },
    onBehalfOf: e['onBehalfOf'] as string,
    chain: e['chain'] as InboxEntry['chain'],
    action: e['action'] as string,
    ...(e['resource'] === undefined ? {} : { resource: e['resource'] as string }),
    args: e['args'] as Json,
    audience: e['audience'] as string,
    ...(e['intent'] === undefined ? {} : { intent: e['intent'] as string }),
    approvers: e['approvers'] as string[],
    approvals: e['approvals'] as Record<string, string>,
    createdAt: createdAt as number,
    ...(expiresAt === undefined ? {} : { expiresAt: expiresAt as number }),
    invocation: e['invocation'] as string,
    ...(e['quota'] === undefined
      ? {}
      : {
          quota: (e['quota'] as Json[]).map((q) => ({
            block: q['block'] as number,
            max: q['max'] as number,
            ...(q['per'] === undefined ? {} : { per: q['per'] as number }),
            used: q['used'] as number,
            remaining: q['remaining'] as number,
          })),
        }),
    ...(Array.isArray(e['amendments']) && e['amendments'].length > 0
      ? {
          amendments: (e['amendments'] as Json[]).map((a) => ({
            block: a['block'] as number,
            by: a['by'] as string,
            at: a['at'] as number,
            ...(a['reason'] === undefined ? {} : { reason: a['reason'] as string }),
            caveats: a['caveats'] as string[],
          })),
        }
      : {}),
    ...(denied
      ? {
          denial: {
            by: (denial as Json)['by'] as string,
            reason: (denial as Json)['reason'] as string,
            at: (denial as Json)['at'] as number,
          },
        }
      : {}),
  }
}

/**
 * Lines that tell an approver what is asked, by whom, for whom, and why. Every string comes from
 * the service or the token, so every one is escaped (`printable`; arguments as safe JSON).
 */
export function describeEntry(e: InboxEntry): string[] {
  const holder = (b: InboxEntry['chain'][number]) => p(b.name ?? `block ${b.block}`)
  return [
    `request     ${p(e.id)}  (${p(e.status)}, ${iso(e.createdAt)})`,
    `asked by    ${e.requestedBy.name ? `${p(e.requestedBy.name)} ` : ''}(${p(e.requestedBy.key)})`,
    `on behalf   ${p(e.onBehalfOf)}${e.chain.length > 1 ? ` via ${e.chain.map(holder).join(' → ')}` : ''}`,
    `action      ${p(e.action)}${e.resource ? ` on ${p(e.resource)}` : ''} at ${p(e.audience)}`,
    `arguments   ${printableJson(e.args)}`,
    ...e.chain.flatMap((b) => (b.purpose ? [`purpose     ${holder(b)}: ${p(b.purpose)}`] : [])),
    ...(e.intent ? [`intent      ${p(e.intent)}`] : []),
    `approvers   ${e.approvers.map((a) => `${p(a)}${e.approvals[a] ? ' ✓' : ''}`).join(', ')}`,
    ...(e.quota?.length
      ? [
          `uses left   ${e.quota
            .map((q) => {
              const at = e.chain.find((b) => b.block === q.block)
              return `${q.remaining} of ${q.max}${q.per === undefined ? '' : ` per ${formatDuration(q.per)}`} (${at ? holder(at) : `block ${q.block}`})`
            })
            .join(', ')}`,
        ]
      : []),
    // Caveats added since the chain was handed on: an approval may be asked for by one of them.
    ...(e.amendments ?? []).map((a) => {
      const at = e.chain.find((b) => b.block === a.block)
      const why = a.reason === undefined ? '' : `: ${p(a.reason)}`
      return `amended     ${at ? holder(at) : `block ${a.block}`} by ${p(a.by)} (${iso(a.at)})${why} — ${a.caveats.map((c) => p(c)).join('; ')}`
    }),
    ...(e.denial ? [`denied by   ${p(e.denial.by)} (${iso(e.denial.at)}): ${p(e.denial.reason, 600)}`] : []),
  ]
}

/** The service a command needs: `--service` or MANDATE_SERVICE, with the `--timeout` deadline. */
export function needService(ctx: Context, cmd: Command, flag: string | undefined): Service {
  const service = serviceOf(ctx, cmd, flag)
  if (!service) usage('this needs the service', 'pass --service URL or set MANDATE_SERVICE')
  return service
}

/** A request id: the invocation's id, 64 lower-case hex digits. */
export function checkRequestId(id: string): void {
  if (!/^[0-9a-f]{64}$/.test(id))
    usage(`not a request id: ${JSON.stringify(id.slice(0, 80))}`, 'a request id is 64 hex digits; find it with mandate approvals list')
}

export interface ListFlags {
  readonly service?: string
  readonly key?: string
  readonly limit?: string
  readonly before?: string
}

/** Pending requests an approver has not answered yet, newest first. */
export async function listPending(ctx: Context, opts: ListFlags, cmd: Command): Promise<void> {
  const service = needService(ctx, cmd, opts.service)
  const key = loadKey(ctx.io, opts.key)
  if (opts.limit !== undefined && (!/^\d{1,3}$/.test(opts.limit) || Number(opts.limit) < 1 || Number(opts.limit) > 100))
    usage(`--limit: expected 1..100, got ${JSON.stringify(opts.limit)}`, '--limit takes a whole number from 1 to 100')
  const query = new URLSearchParams({
    ...(opts.limit === undefined ? {} : { limit: opts.limit }),
    ...(opts.before === undefined ? {} : { before: opts.before }),
  }).toString()
  const { body } = await call<Record<string, unknown>>(service, `/v1/approvals${query ? `?${query}` : ''}`, { key })
  if (!Array.isArray(body['pending']))
    throw new CliError('ERR_IO', 'the service answered without a list of requests', 'is --service the mandate service?')
  const pending = body['pending'].map(inboxEntry)
  if (typeof body['approver'] !== 'string' || !optional(body['next']))
    throw new CliError('ERR_IO', 'the service answered a list of requests without its approver', 'is --service the mandate service?')
  const page = {
    approver: body['approver'],
    pending,
    ...(body['next'] === undefined ? {} : { next: body['next'] as string }),
  }
  emit(ctx, cmd, page, () =>
    page.pending.length === 0
      ? `no pending requests for ${p(page.approver)}\n`
      : `${page.pending.map((e) => describeEntry(e).join('\n')).join('\n\n')}\n${page.next ? `\nmore: --before ${p(page.next)}\n` : ''}`,
  )
}

/** One request, with the approvals it has. */
export async function showRequest(
  ctx: Context,
  id: string,
  opts: { service?: string; wait?: string; key?: string },
  cmd: Command,
): Promise<void> {
  const service = needService(ctx, cmd, opts.service)
  checkRequestId(id)
  if (opts.wait !== undefined && (!/^\d{1,2}$/.test(opts.wait) || Number(opts.wait) > 30))
    usage(`--wait: expected 0..30 seconds, got ${JSON.stringify(opts.wait)}`, '--wait takes whole seconds, at most 30')
  const key = loadKey(ctx.io, opts.key)
  const wait = opts.wait === undefined ? '' : `?wait=${opts.wait}`
  const extraMs = Number(opts.wait ?? 0) * 1000
  const body = inboxEntry((await call<unknown>(service, `/v1/approvals/${id}${wait}`, { key, extraMs })).body)
  emit(
    ctx,
    cmd,
    body,
    () =>
      `${describeEntry(body).join('\n')}\n${Object.values(body.approvals)
        .map((a) => p(a))
        .join('\n')}${Object.keys(body.approvals).length ? '\n' : ''}`,
  )
}

/** Submit an invocation that needs approval to the inbox, to wait `--wait` for its approvers. */
export async function submitRequest(
  ctx: Context,
  arg: string | undefined,
  opts: { service?: string; wait?: string },
  cmd: Command,
): Promise<void> {
  const service = needService(ctx, cmd, opts.service)
  // At most the longest wait any service allows; the service answers for its own setting.
  const wait = opts.wait === undefined ? undefined : parseWait(opts.wait, '--wait', MAX_APPROVAL_WAIT)
  const input = await readToken(ctx.io, arg, ['invocation'], 'approvals request')
  parsed(input, parseInvocation)
  const filing = { invocation: input.text, ...(wait === undefined ? {} : { wait }) }
  const body = inboxEntry((await call<unknown>(service, '/v1/approvals', { method: 'POST', body: filing })).body)
  emit(ctx, cmd, body, () => `${body.id}\n`)
}

/**
 * Deny a request with a reason (as one of its approvers, or its principal): the request is
 * closed, and its agent reads who refused and why.
 */
export async function denyRequest(
  ctx: Context,
  id: string,
  opts: { service?: string; key?: string; reason?: string },
  cmd: Command,
): Promise<void> {
  const service = needService(ctx, cmd, opts.service)
  checkRequestId(id)
  if (opts.reason === undefined) usage('--reason is required: the agent is told why', 'pass --reason TEXT: why it is denied')
  // The service's rule, checked before anything is sent.
  const checked = denialReason(opts.reason)
  if ('problem' in checked) usage(`--reason ${checked.problem}`, 'pass --reason TEXT: why it is denied, 1 to 500 characters of plain text')
  const reason = checked.reason
  const key = loadKey(ctx.io, opts.key)
  const body = inboxEntry((await call<unknown>(service, `/v1/approvals/${id}/deny`, { method: 'POST', body: { reason }, key })).body)
  emit(ctx, cmd, body, () => `${describeEntry(body).join('\n')}\n`)
}
