/**
 * `mandate verify`: decide, as a service would (the flags are in ../commands/verify.ts).
 *
 * @module
 */
import type { Command } from 'commander'
import { disposition, MandateError } from '../../errors.js'
import { iso } from '../../internal/clock.js'
import { parseInvocation } from '../../token/invocation.js'
import { parseMandate } from '../../token/mandate.js'
import type { UsageStore } from '../../usage/store.js'
import type { Decision } from '../../verify/decision.js'
import { MAX_APPROVAL_WAIT } from '../../verify/options.js'
import type { ReplayCache } from '../../verify/replay.js'
import { createVerifier } from '../../verify/verifier.js'
import { argsFrom } from '../caveat-flags.js'
import { type Context, colors, emit, serviceOf, warn } from '../context.js'
import { usage } from '../errors.js'
import { loadKey } from '../io.js'
import { printable as p } from '../printable.js'
import { shownUrl } from '../service-flags.js'
import { parseTimeOrDuration, parseWait } from '../time.js'
import { parsed, readApproval, readToken } from '../tokens.js'

/** Without a verifier key the service will not count for us: usage caveats deny (fail closed). */
const noCounter: UsageStore = {
  consume() {
    throw new MandateError('ERR_COUNTER_UNAVAILABLE', 'this mandate has a usage limit and no usage counter is configured', {
      hint: 'pass --service URL and --verifier-key FILE (a key registered with the service) so that uses are counted',
    })
  },
}

/** Without a verifier key an invocation cannot be claimed once across verifiers: deny (fail closed). */
const noReplay: ReplayCache = {
  has: () => false,
  claim() {
    throw new MandateError('ERR_REPLAY_UNAVAILABLE', 'no verifier key: this invocation cannot be claimed at the service', {
      hint: 'pass --verifier-key FILE (or MANDATE_VERIFIER_KEY), a key registered with the service under this audience',
    })
  },
  release() {},
}

export interface VerifyFlags {
  readonly root?: string[]
  readonly audience?: string
  readonly action?: string
  readonly resource?: string
  readonly arg?: string[]
  readonly argsJson?: string
  readonly approval?: string[]
  readonly at?: string
  readonly service?: string
  readonly serviceKey?: string
  readonly verifierKey?: string
  readonly skew?: string
  readonly approvalWait?: string
}

/** `--skew SECONDS`: the clock difference tolerated between issuers and this verifier (0–300). */
function skewFrom(flag: string | undefined): number | undefined {
  if (flag === undefined) return undefined
  if (!/^\d{1,3}$/.test(flag.trim()) || Number(flag) > 300) {
    usage(`--skew: expected whole seconds from 0 to 300, got ${JSON.stringify(flag)}`, 'e.g. --skew 30 (the default is 60)')
  }
  return Number(flag)
}

/** Decide on `token` (a mandate with `--action`, or an invocation); exit 0 allowed, 1 denied. */
export async function verify(ctx: Context, token: string | undefined, opts: VerifyFlags, cmd: Command): Promise<void> {
  const input = await readToken(ctx.io, token, ['mandate', 'invocation'], 'verify')
  const isInvocation = input.kind === 'invocation'
  // Parsed here first, so that a damaged token is told apart (truncated, wrapped) before deciding.
  if (isInvocation) parsed(input, parseInvocation)
  else parsed(input, parseMandate)
  const roots = rootsFrom(opts.root?.length ? opts.root : (ctx.io.env['MANDATE_ROOTS'] ?? '').split(','))
  const now = opts.at === undefined ? ctx.io.now() : parseTimeOrDuration(opts.at, '--at', ctx.io.now())
  const skew = skewFrom(opts.skew)
  const approvalWait = opts.approvalWait === undefined ? undefined : parseWait(opts.approvalWait, '--approval-wait', MAX_APPROVAL_WAIT)
  const audience = opts.audience ?? ctx.io.env['MANDATE_AUDIENCE']
  if (audience === undefined || audience === '') {
    usage('no audience: whom is this decision for?', "pass --audience NAME (this service's own name) or set MANDATE_AUDIENCE")
  }
  if (!isInvocation && opts.action === undefined)
    usage('a bare mandate needs --action (and --resource, --arg as needed)', 'or verify an invocation (mni1_…), which carries its request')
  const approvals: string[] = []
  for (const a of opts.approval ?? []) approvals.push(await readApproval(ctx.io, a))
  const service = serviceOf(ctx, cmd, opts.service)
  const keyFile = opts.verifierKey ?? ctx.io.env['MANDATE_VERIFIER_KEY']
  const verifierKey = keyFile ? loadKey(ctx.io, keyFile, '--verifier-key') : undefined
  // Loaded only with a service: verifying offline needs none of its HTTP clients.
  const remote = service ? await (await import('./verify-service.js')).serviceStores(ctx, service, opts.serviceKey, verifierKey) : undefined
  const verifier = createVerifier({
    roots,
    audience,
    clock: () => now,
    ...(skew === undefined ? {} : { skew }),
    ...(approvalWait === undefined ? {} : { approvalWait }),
    usage: remote?.usage ?? noCounter,
    ...(remote ? { replay: remote.replay ?? noReplay } : {}),
    // Without --service there is no revocation view: say so explicitly (the output's
    // `checked.revocations` is false and the audit record carries `revocations: 'none'`).
    revocations: remote?.revocations ?? 'none',
  })
  const decision = await verifier.authorize({
    token: input.text,
    approvals,
    ...(isInvocation
      ? {}
      : {
          request: {
            action: opts.action as string,
            ...(opts.resource === undefined ? {} : { resource: opts.resource }),
            args: argsFrom(opts.arg, opts.argsJson),
          },
        }),
  })
  // With a service and a registered verifier key, the decision on an invocation joins the
  // service's audit trail (spec/service-v1.md §8.2); a report that fails is a warning, never a
  // different answer.
  if (service && verifierKey && isInvocation) {
    const { createDecisionReporter } = await import('../../verify/report.js')
    const reporter = createDecisionReporter({
      url: service.url,
      key: verifierKey,
      timeoutMs: service.timeoutMs,
      retries: 0,
      onError: (e) => warn(ctx, cmd, `the decision was not recorded in the service's audit trail: ${e.message}`),
    })
    reporter.report(decision, { invocation: input.text, approvals })
    await reporter.flush()
  }
  ctx.exit = decision.allowed ? 0 : disposition(decision.code).exit
  emit(ctx, cmd, { ...decision, checked: { revocations: service !== undefined } }, () =>
    render(decision, colors(ctx, cmd), service && shownUrl(service.url)),
  )
}

/** `--root` values: `did:key:…` or `NAME=did:key:…` (the name shows in the chain). */
function rootsFrom(values: readonly string[]): { key: string; name?: string }[] {
  const roots = values
    .map((v) => v.trim())
    .filter(Boolean)
    .map((r) => {
      const m = /^([^=:]+)=(.+)$/.exec(r)
      return m ? { name: m[1] as string, key: m[2] as string } : { key: r }
    })
  if (roots.length === 0) usage('no trusted root', 'pass --root NAME=did:key:… (the principal) or set MANDATE_ROOTS')
  return roots
}

function render(d: Decision, paint: ReturnType<typeof colors>, service: string | undefined): string {
  // Everything below may come from the token: escaped, so that it cannot rewrite the screen.
  const chain = (d.chain ?? []).map((l) => (l.name ? `${p(l.name)}${l.bearer ? ' (bearer)' : ''}` : l.key)).join(' → ')
  const request = d.audit.action ? `${p(d.audit.action)}${d.audit.resource ? ` on ${p(d.audit.resource)}` : ''}` : ''
  const lines: string[] = []
  if (d.allowed) {
    lines.push(`${paint('green', 'ALLOWED')}  ${request}`)
    lines.push(`chain      ${chain}`)
    for (const l of d.chain) if (l.purpose) lines.push(`purpose    ${p(l.name ?? l.key)}: ${p(l.purpose)}`)
    if (d.matched.length) lines.push(`matched    ${d.matched.map((m) => `block ${m.block} ${m.caveat} ${p(m.value)}`).join('; ')}`)
    if (d.approvals.length) lines.push(`approvals  ${d.approvals.map((a) => p(a)).join(', ')}`)
    for (const u of d.usage) lines.push(`usage      ${u.remaining} left on ${p(u.key.slice(0, 16))}…`)
  } else {
    lines.push(`${paint('red', 'DENIED')}  ${d.code}: ${p(d.message)}`)
    if (request) lines.push(`request    ${request}`)
    if (d.block !== undefined) lines.push(`at         block ${d.block}${d.caveat ? `, caveat ${d.caveat}` : ''}`)
    const a = d.amendment
    if (a) {
      const when = a.at === undefined ? '' : ` at ${iso(a.at)}`
      lines.push(`amended    ${a.by ? `by ${p(a.by)}` : 'by an amendment'}${when}${a.reason ? `: ${p(a.reason)}` : ''} (id ${a.id})`)
    }
    if (chain) lines.push(`chain      ${chain}`)
    if (d.hint) lines.push(`hint       ${p(d.hint)}`)
  }
  lines.push(
    paint(
      'dim',
      `decided    ${iso(d.audit.at)} at ${p(d.audit.audience)}; ${service ? `revocations and usage from ${service}` : 'revocations not checked (no service)'}`,
    ),
  )
  return `${lines.join('\n')}\n`
}
