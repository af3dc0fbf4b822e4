/**
 * `mandate invoke` and `mandate approve` (the flags are in ../commands/invoke.ts).
 *
 * @module
 */
import { existsSync } from 'node:fs'
import type { Command } from 'commander'
import { type KeyPair, toDidKey } from '../../crypto/keys.js'
import { MandateError } from '../../errors.js'
import { iso } from '../../internal/clock.js'
import { approve as approveInvocation, formatApproval } from '../../token/approval.js'
import { checkPresentation } from '../../token/integrity.js'
import { formatInvocation, invoke as invokeMandate, parseInvocation, type UnverifiedInvocation } from '../../token/invocation.js'
import { argsFrom, chainWindow } from '../caveat-flags.js'
import { type Context, emit, jsonMode, serviceOf, warn } from '../context.js'
import { CliError, fromFlags, usage } from '../errors.js'
import { loadKey } from '../io.js'
import { printable as p, printableJson } from '../printable.js'
import { call } from '../service-client.js'
import type { Service } from '../service-flags.js'
import { parseDuration } from '../time.js'
import { holderKey, parsed, readInvocation, readMandate } from '../tokens.js'
import { inboxEntry } from './approvals.js'

const LABEL = 20

function label(name: string): string {
  return name.padEnd(LABEL)
}

/**
 * What an approver reads before saying yes: who asks (the principal and every holder, with names
 * and keys), what (action, resource, audience, arguments), why (purposes, intent), and the
 * invocation id. Everything the token carries is escaped (`printable`; arguments as safe JSON).
 */
export function describeInvocation(inv: UnverifiedInvocation): string[] {
  const last = inv.chain[inv.chain.length - 1]
  const key = (k: Uint8Array | undefined) => (k === undefined ? '(none)' : toDidKey(k))
  const who = last?.name ? `${p(last.name)} (${key(last.holder)})` : key(last?.holder)
  const lines = [`approval requested by ${who}`, `${label('on behalf of')}${key(inv.chain[0]?.principal)}`]
  lines.push(`${label('chain')}principal  ${key(inv.chain[0]?.principal)}`)
  for (const b of inv.chain) {
    lines.push(
      `${label('')}holder ${b.index}   ${b.name === undefined ? '(unnamed)' : p(b.name)}  ${key(b.holder)}  (${b.bearer ? 'bearer' : 'bound'})`,
    )
  }
  for (const b of inv.chain) if (b.purpose) lines.push(`${label(`purpose (block ${b.index})`)}${p(b.purpose)}`)
  lines.push(`${label('action')}${p(inv.action)}`)
  lines.push(`${label('resource')}${inv.resource === undefined ? '(none)' : p(inv.resource)}`)
  lines.push(`${label('audience')}${p(inv.audience)}`)
  const args = Object.entries(inv.args)
  if (args.length === 0) lines.push(`${label('arguments')}(none)`)
  // Every one: an approval signs them all (an invocation holds at most 64, in 16 KiB).
  args.forEach(([k, v], i) => {
    const name = /^[A-Za-z0-9_.-]+$/.test(k) ? k : printableJson(k)
    lines.push(`${label(i === 0 ? 'arguments' : '')}${name} = ${printableJson(v)}`)
  })
  if (inv.intent !== undefined) lines.push(`${label('intent')}${p(inv.intent)}`)
  lines.push(`${label('invocation')}${inv.idHex}`)
  return lines
}

export interface InvokeFlags {
  readonly key?: string
  readonly action: string
  readonly resource?: string
  readonly arg?: string[]
  readonly argsJson?: string
  readonly audience: string
  readonly intent?: string
}

/** Sign a request with the mandate, as its holder. */
export async function invoke(ctx: Context, token: string | undefined, opts: InvokeFlags, cmd: Command): Promise<void> {
  const m = await readMandate(ctx.io, token, 'invoke')
  // As attenuate refuses to narrow it: an invocation of it would be signed for nothing.
  const { expires, expiresBlock } = chainWindow(m)
  if (expires !== undefined && expires <= ctx.io.now()) {
    usage(
      `this mandate expired at ${iso(expires)} (block ${expiresBlock}): no verifier accepts an invocation of it`,
      'ask its issuer for a new mandate',
    )
  }
  const warnings: string[] = []
  const key = holderKey(ctx.io, m, opts.key, (w) => warnings.push(w))
  const args = argsFrom(opts.arg, opts.argsJson)
  const inv = fromFlags(() =>
    invokeMandate(m, {
      action: opts.action,
      audience: opts.audience,
      args,
      now: ctx.io.now(),
      ...(key ? { key } : {}),
      ...(opts.resource === undefined ? {} : { resource: opts.resource }),
      ...(opts.intent === undefined ? {} : { intent: opts.intent }),
    }),
  )
  const text = formatInvocation(inv)
  for (const w of warnings) warn(ctx, cmd, w)
  emit(ctx, cmd, { invocation: text, id: inv.idHex, warnings }, () => `${text}\n`)
}

export interface ApproveFlags {
  readonly key?: string
  readonly expires: string
  readonly note?: string
  readonly yes?: boolean
  readonly service?: string
}

/** A request id rather than an invocation: 64 hex digits that name no file. */
function isRequestId(arg: string | undefined): arg is string {
  return arg !== undefined && /^[0-9a-f]{64}$/.test(arg) && !existsSync(arg)
}

/**
 * `inv`, once its signatures hold (its chain's and its own). An approval signs only the
 * invocation's id, the digest of its signature: another request under a copied signature would
 * have the same id, so what is shown before signing must be what that signature signed.
 */
function intact(inv: UnverifiedInvocation): UnverifiedInvocation {
  checkPresentation(inv.bytes)
  return inv
}

/** The invocation to approve: from the service's inbox for a request id, else the argument itself (offline). */
async function toApprove(
  ctx: Context,
  cmd: Command,
  arg: string | undefined,
  opts: ApproveFlags,
  approver: KeyPair,
): Promise<{ inv: UnverifiedInvocation; service?: Service }> {
  if (!isRequestId(arg)) {
    if (opts.service !== undefined && !jsonMode(cmd)) {
      ctx.io.err('mandate: note: an invocation is approved here, offline; --service is for a request id (mandate approvals list)\n')
    }
    return { inv: intact(await readInvocation(ctx.io, arg, 'approve')) }
  }
  const service = serviceOf(ctx, cmd, opts.service)
  if (!service) {
    usage(
      `${arg.slice(0, 16)}… is a request id: it is read from the service's inbox, and no service is set`,
      'pass --service URL or set MANDATE_SERVICE; or approve the invocation itself (its text, a file, or -)',
    )
  }
  // The approver's key also signs its requests to the inbox, which is private to it.
  const entry = inboxEntry((await call<unknown>(service, `/v1/approvals/${arg}`, { key: approver })).body)
  const inv = parsed({ text: entry.invocation }, parseInvocation)
  // What is signed is what was asked for: the service's answer is not taken on trust.
  if (inv.idHex !== arg) throw new CliError('ERR_IO', `the service answered request ${arg} with another invocation (${inv.idHex})`)
  intact(inv)
  // Closed by a denial: nothing to sign (the service would refuse the approval, 409).
  if (entry.denial) {
    throw new MandateError('ERR_APPROVAL_DENIED', `request ${arg} was denied by ${entry.denial.by}: ${p(entry.denial.reason, 600)}`, {
      hint: 'a denied request is closed; nothing was signed. The agent may ask again with a new invocation',
      details: entry.denial,
    })
  }
  return { inv, service }
}

/** Approve one invocation, after showing what it asks for. */
export async function approve(ctx: Context, arg: string | undefined, opts: ApproveFlags, cmd: Command): Promise<void> {
  const ttl = parseDuration(opts.expires, '--expires')
  const approver = loadKey(ctx.io, opts.key)
  const { inv, service } = await toApprove(ctx, cmd, arg, opts, approver)
  // Shown before any question (and before refusing to ask), on stderr: the request in full.
  if (!jsonMode(cmd) || !opts.yes) ctx.io.err(`${describeInvocation(inv).join('\n')}\n`)
  if (!opts.yes) {
    if (!ctx.io.stdinIsTTY || arg === '-' || arg === undefined)
      usage('refusing to approve without a confirmation', 'read the request above, then pass --yes')
    const what = `${p(inv.action, 200)}${inv.resource === undefined ? '' : ` on ${p(inv.resource, 200)}`} at ${p(inv.audience, 200)}`
    if (!(await ctx.io.confirm(`approve ${what} (invocation ${inv.idHex.slice(0, 16)}…) as ${toDidKey(approver.publicKey)}?`)))
      usage('not approved', 'nothing was signed')
  }
  const approval = fromFlags(() =>
    approveInvocation({ approver, invocation: inv, ttl, now: ctx.io.now(), ...(opts.note ? { note: opts.note } : {}) }),
  )
  const out = formatApproval(approval)
  if (service) await call(service, `/v1/approvals/${inv.idHex}`, { method: 'POST', body: { approval: out }, key: approver })
  emit(
    ctx,
    cmd,
    { approval: out, invocationId: inv.idHex, approver: toDidKey(approver.publicKey), expires: approval.expires },
    () => `${out}\n`,
  )
}
