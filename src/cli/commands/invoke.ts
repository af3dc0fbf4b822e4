/**
 * `mandate invoke` and `mandate approve`.
 *
 * @module
 */
import { existsSync } from 'node:fs'
import type { Command } from 'commander'
import { type KeyPair, toDidKey } from '../../crypto/keys.js'
import { approve, formatApproval } from '../../token/approval.js'
import { formatInvocation, invoke, parseInvocation, type UnverifiedInvocation } from '../../token/invocation.js'
import { argsFrom } from '../caveat-flags.js'
import { type Context, collect, emit, jsonMode, serviceOf } from '../context.js'
import { CliError, fromFlags, usage } from '../errors.js'
import { examples } from '../help.js'
import { loadKey } from '../io.js'
import { printable as p, printableJson } from '../printable.js'
import { call, type Service } from '../service-client.js'
import { parseDuration } from '../time.js'
import { parsed, readInvocation, readMandate } from '../tokens.js'
import { inboxEntry } from './approvals.js'

/** At most this many arguments are listed one per line before the approval question. */
const MAX_ARG_LINES = 20
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
  args.slice(0, MAX_ARG_LINES).forEach(([k, v], i) => {
    const name = /^[A-Za-z0-9_.-]+$/.test(k) ? k : printableJson(k)
    lines.push(`${label(i === 0 ? 'arguments' : '')}${name} = ${printableJson(v)}`)
  })
  if (args.length > MAX_ARG_LINES) lines.push(`${label('')}… (${args.length - MAX_ARG_LINES} more arguments)`)
  if (inv.intent !== undefined) lines.push(`${label('intent')}${p(inv.intent)}`)
  lines.push(`${label('invocation')}${inv.idHex}`)
  return lines
}

interface InvokeFlags {
  readonly key?: string
  readonly action: string
  readonly resource?: string
  readonly arg?: string[]
  readonly argsJson?: string
  readonly audience: string
  readonly intent?: string
}

function invokeCommand(program: Command, ctx: Context): void {
  const cmd = program
    .command('invoke')
    .description('sign a request with the mandate, as its holder')
    .argument('[token]', 'the mandate (mnd1_…), @FILE, a file, or - for stdin')
    .option('--key <file>', "the holder's key, for a bound mandate (default: MANDATE_KEY)")
    .requiredOption('--action <action>', 'what to do, e.g. email:read')
    .option('--resource <resource>', 'what to do it on')
    .option('--arg <key=value>', 'an argument (repeatable; integers and true/false are typed)', collect)
    .option('--args-json <json>', 'arguments as a JSON object')
    .requiredOption('--audience <name>', 'the service that will verify it')
    .option('--intent <text>', 'why, in the agent’s words (shown to approvers)')
    .action(async (token: string | undefined, opts: InvokeFlags, cmd: Command) => {
      const m = await readMandate(ctx.io, token, 'invoke')
      const key = m.proof.kind === 'bound' ? loadKey(ctx.io, opts.key) : undefined
      const args = argsFrom(opts.arg, opts.argsJson)
      const inv = fromFlags(() =>
        invoke(m, {
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
      emit(ctx, cmd, { invocation: text, id: inv.idHex }, () => `${text}\n`)
    })
  examples(
    cmd,
    'mandate invoke grant.txt --key assistant.pem --action email:read --resource inbox/42 --audience mail > read.txt',
    "mandate invoke grant.txt --key assistant.pem --action email:draft --arg to=bob@example.com --audience mail --intent 'reply to Bob'",
    'mandate invoke sub.txt --action calendar:read --audience calendar | mandate verify --root "alice=$ALICE" --audience calendar',
  )
}

interface ApproveFlags {
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
    return { inv: await readInvocation(ctx.io, arg, 'approve') }
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
  return { inv, service }
}

function approveCommand(program: Command, ctx: Context): void {
  const cmd = program
    .command('approve')
    .description('approve one invocation, after showing what it asks for')
    .argument('[invocation]', 'the invocation (mni1_…, @FILE, a file, or - for stdin), or a request id from the service’s inbox')
    .option('--key <file>', "the approver's key (default: MANDATE_KEY)")
    .option('--expires <duration>', 'how long the approval stays usable (90s, 15m, 1h30m)', '10m')
    .option('--note <text>', 'a note for the audit record')
    .option('--yes', 'do not ask for confirmation')
    .option(
      '--service <url>',
      'for a request id: the service whose inbox holds it; the approval is posted there (default: MANDATE_SERVICE)',
    )
    .action(async (arg: string | undefined, opts: ApproveFlags, cmd: Command) => {
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
        approve({ approver, invocation: inv, ttl, now: ctx.io.now(), ...(opts.note ? { note: opts.note } : {}) }),
      )
      const out = formatApproval(approval)
      if (service) await call(service, `/v1/approvals/${inv.idHex}`, { method: 'POST', body: { approval: out }, key: approver })
      emit(
        ctx,
        cmd,
        { approval: out, invocationId: inv.idHex, approver: toDidKey(approver.publicKey), expires: approval.expires },
        () => `${out}\n`,
      )
    })
  examples(
    cmd,
    'mandate approve draft.txt --key alice.pem > ok.txt              # offline: shows the request, asks, prints the approval',
    'mandate approve ID --key alice.pem --service http://127.0.0.1:8787   # from the inbox (mandate approvals list); posted back there',
    'mandate approve draft.txt --key alice.pem --yes --expires 15m --note "ok for Bob" > ok.txt',
  )
}

export function registerInvoke(program: Command, ctx: Context): void {
  invokeCommand(program, ctx)
  approveCommand(program, ctx)
}
