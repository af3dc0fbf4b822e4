/**
 * `mandate invoke` and `mandate approve`.
 *
 * @module
 */
import type { Command } from 'commander'
import { toDidKey } from '../../crypto/keys.js'
import { approve, formatApproval } from '../../token/approval.js'
import { formatInvocation, invoke, parseInvocation } from '../../token/invocation.js'
import { parseMandate } from '../../token/mandate.js'
import { argsFrom } from '../caveat-flags.js'
import { type Context, emit, jsonMode } from '../context.js'
import { usage } from '../errors.js'
import { loadKey, readInput } from '../io.js'
import { call, serviceUrl } from '../service-client.js'
import { parseDuration } from '../time.js'
import type { InboxEntry } from './approvals.js'

const collect = (value: string, previous: string[] = []) => [...previous, value]

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
        const inv = parseInvocation(
          url ? (await call<InboxEntry>(url, `/v1/approvals/${text}`)).body.invocation : await readInput(ctx.io, text, 'invocation'),
        )
        const approver = loadKey(ctx.io, opts.key)
        const ttl = parseDuration(opts.expires, '--expires')
        const last = inv.chain[inv.chain.length - 1]
        const who = last?.name ? `${last.name} (${toDidKey(last.holder)})` : toDidKey(last?.holder as Uint8Array)
        const summary = [
          `approval requested by ${who}`,
          `on behalf of        ${toDidKey(inv.chain[0]?.principal as Uint8Array)}${
            inv.chain.length > 1
              ? ` via ${inv.chain
                  .slice(0, -1)
                  .map((b) => b.name ?? 'holder')
                  .join(' → ')}`
              : ''
          }`,
          `action              ${inv.action}${inv.resource ? ` on ${inv.resource}` : ''} at ${inv.audience}`,
          `arguments           ${JSON.stringify(inv.args)}`,
          ...inv.chain.flatMap((b) => (b.purpose ? [`purpose (block ${b.index})   ${b.purpose}`] : [])),
          ...(inv.intent ? [`intent              ${inv.intent}`] : []),
          `invocation          ${inv.idHex}`,
        ]
        if (!jsonMode(cmd)) ctx.io.err(`${summary.join('\n')}\n`)
        if (!opts.yes) {
          if (!ctx.io.stdinIsTTY || text === '-' || text === undefined)
            usage('refusing to approve without a confirmation', 'read the request above, then pass --yes')
          if (!(await ctx.io.confirm(`approve ${inv.action} as ${toDidKey(approver.publicKey)}?`))) usage('not approved')
        }
        const approval = approve({ approver, invocation: inv, ttl, now: ctx.io.now(), ...(opts.note ? { note: opts.note } : {}) })
        const out = formatApproval(approval)
        if (url) await call(url, `/v1/approvals/${inv.idHex}`, { method: 'POST', body: { approval: out } })
        emit(
          ctx,
          cmd,
          { approval: out, invocationId: inv.idHex, approver: toDidKey(approver.publicKey), expires: approval.expires },
          () => `${out}\n`,
        )
      },
    )
}
