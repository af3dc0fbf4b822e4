/**
 * `mandate invoke` and `mandate approve`.
 *
 * @module
 */
import type { Command } from 'commander'
import { toDidKey } from '../../crypto/keys.js'
import { approve, formatApproval } from '../../token/approval.js'
import { formatInvocation, invoke, parseInvocation, type UnverifiedInvocation } from '../../token/invocation.js'
import { parseMandate } from '../../token/mandate.js'
import { argsFrom } from '../caveat-flags.js'
import { type Context, emit, jsonMode } from '../context.js'
import { CliError, usage } from '../errors.js'
import { loadKey, readInput } from '../io.js'
import { printable as p, printableJson } from '../printable.js'
import { call, serviceUrl } from '../service-client.js'
import { parseDuration } from '../time.js'
import { inboxEntry } from './approvals.js'

const collect = (value: string, previous: string[] = []) => [...previous, value]

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

export function registerInvoke(program: Command, ctx: Context): void {
  program
    .command('invoke')
    .description('sign a request with the mandate, as its holder')
    .argument('[token]', 'the mandate (mnd1_…), or - for stdin')
    .option('--key <file>', "the holder's key, for a bound mandate (default: MANDATE_KEY)")
    .requiredOption('--action <action>', 'what to do, e.g. email:read')
    .option('--resource <resource>', 'what to do it on')
    .option('--arg <key=value>', 'an argument (repeatable; integers and true/false are typed)', collect)
    .option('--args-json <json>', 'arguments as a JSON object')
    .requiredOption('--audience <name>', 'the service that will verify it')
    .option('--intent <text>', 'why, in the agent’s words (shown to approvers)')
    .action(async (token: string | undefined, opts: Record<string, string | string[] | undefined>, cmd: Command) => {
      const m = parseMandate(await readInput(ctx.io, token, 'token'))
      const key = m.proof.kind === 'bound' ? loadKey(ctx.io, opts['key'] as string | undefined) : undefined
      const inv = invoke(m, {
        action: opts['action'] as string,
        audience: opts['audience'] as string,
        args: argsFrom(opts['arg'] as string[] | undefined, opts['argsJson'] as string | undefined),
        now: ctx.io.now(),
        ...(key ? { key } : {}),
        ...(opts['resource'] === undefined ? {} : { resource: opts['resource'] as string }),
        ...(opts['intent'] === undefined ? {} : { intent: opts['intent'] as string }),
      })
      const text = formatInvocation(inv)
      emit(ctx, cmd, { invocation: text, id: inv.idHex }, () => `${text}\n`)
    })

  program
    .command('approve')
    .description('approve one invocation, after showing what it asks for')
    .argument('[invocation]', 'the invocation (mni1_…), or - for stdin')
    .option('--key <file>', "the approver's key (default: MANDATE_KEY)")
    .option('--expires <duration>', 'how long the approval stays usable', '10m')
    .option('--note <text>', 'a note for the audit record')
    .option('--yes', 'do not ask for confirmation')
    .option('--service <url>', 'take the request from this service’s inbox (the argument is its id) and post the approval there')
    .action(
      async (
        text: string | undefined,
        opts: { key?: string; expires: string; note?: string; yes?: boolean; service?: string },
        cmd: Command,
      ) => {
        const url = serviceUrl(ctx.io, opts.service)
        if (url && (text === undefined || !/^[0-9a-f]{64}$/.test(text)))
          usage('with --service, give the request id (64 hex digits)', 'find it with mandate approvals list')
        // The approver's key also signs its requests to the inbox, which is private to it.
        const approver = loadKey(ctx.io, opts.key)
        const inv = parseInvocation(
          url
            ? inboxEntry((await call<unknown>(url, `/v1/approvals/${text}`, { key: approver })).body).invocation
            : await readInput(ctx.io, text, 'invocation'),
        )
        // What is signed is what was asked for: the service's answer is not taken on trust.
        if (url && inv.idHex !== text)
          throw new CliError('ERR_IO', `the service answered request ${text} with another invocation (${inv.idHex})`)
        const ttl = parseDuration(opts.expires, '--expires')
        // Shown before any question (and before refusing to ask), on stderr: the request in full.
        if (!jsonMode(cmd) || !opts.yes) ctx.io.err(`${describeInvocation(inv).join('\n')}\n`)
        if (!opts.yes) {
          if (!ctx.io.stdinIsTTY || text === '-' || text === undefined)
            usage('refusing to approve without a confirmation', 'read the request above, then pass --yes')
          const what = `${p(inv.action, 200)}${inv.resource === undefined ? '' : ` on ${p(inv.resource, 200)}`} at ${p(inv.audience, 200)}`
          if (!(await ctx.io.confirm(`approve ${what} (invocation ${inv.idHex.slice(0, 16)}…) as ${toDidKey(approver.publicKey)}?`)))
            usage('not approved')
        }
        const approval = approve({ approver, invocation: inv, ttl, now: ctx.io.now(), ...(opts.note ? { note: opts.note } : {}) })
        const out = formatApproval(approval)
        if (url) await call(url, `/v1/approvals/${inv.idHex}`, { method: 'POST', body: { approval: out }, key: approver })
        emit(
          ctx,
          cmd,
          { approval: out, invocationId: inv.idHex, approver: toDidKey(approver.publicKey), expires: approval.expires },
          () => `${out}\n`,
        )
      },
    )
}
