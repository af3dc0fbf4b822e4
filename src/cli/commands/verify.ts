/**
 * `mandate verify`: decide, as a service would.
 *
 * @module
 */
import type { Command } from 'commander'
import { disposition, MandateError } from '../../errors.js'
import { iso } from '../../internal/clock.js'
import { createFeedRevocationView } from '../../revocation/client.js'
import type { RevocationView } from '../../revocation/view.js'
import { parseInvocation } from '../../token/invocation.js'
import { parseMandate } from '../../token/mandate.js'
import { createRemoteUsageStore } from '../../usage/remote.js'
import type { UsageStore } from '../../usage/store.js'
import type { Decision } from '../../verify/decision.js'
import { createRemoteReplayCache } from '../../verify/remote-replay.js'
import type { ReplayCache } from '../../verify/replay.js'
import { createVerifier } from '../../verify/verifier.js'
import { argsFrom } from '../caveat-flags.js'
import { type Context, collect, colors, emit, serviceOf } from '../context.js'
import { usage } from '../errors.js'
import { examples } from '../help.js'
import { loadKey } from '../io.js'
import { printable as p } from '../printable.js'
import { type Service, serviceKey, shownUrl } from '../service-client.js'
import { parseTimeOrDuration } from '../time.js'
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

interface VerifyFlags {
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
}

/** `--skew SECONDS`: the clock difference tolerated between issuers and this verifier (0–300). */
function skewFrom(flag: string | undefined): number | undefined {
  if (flag === undefined) return undefined
  if (!/^\d{1,3}$/.test(flag.trim()) || Number(flag) > 300) {
    usage(`--skew: expected whole seconds from 0 to 300, got ${JSON.stringify(flag)}`, 'e.g. --skew 30 (the default is 60)')
  }
  return Number(flag)
}

/** The revocation view of the service's signed feed; a failed sync leaves it stale (denied). */
async function feedView(ctx: Context, service: Service, pinned: string | undefined): Promise<RevocationView> {
  const feed = createFeedRevocationView({
    url: service.url,
    serviceKey: await serviceKey(ctx.io, service, pinned),
    push: false,
    timeoutMs: service.timeoutMs,
  })
  try {
    await feed.sync()
  } catch (e) {
    // Leave the view empty and stale: the verifier then denies with ERR_REVOCATION_STALE.
    const message = e instanceof Error ? e.message : String(e)
    ctx.io.err(`mandate: warning: revocations from ${shownUrl(service.url)}: ${message}\n`)
  }
  return feed
}

export function registerVerify(program: Command, ctx: Context): void {
  const cmd = program
    .command('verify')
    .description('decide a request: allowed (exit 0) or denied and why (exit 1)')
    .argument('[token]', 'a mandate (mnd1_…) or invocation (mni1_…), @FILE, a file, or - for stdin')
    .option('--root <did>', 'a trusted principal, optionally NAME=DID (repeatable; default: MANDATE_ROOTS)', collect)
    .option('--audience <name>', "this service's name, which invocations must address (default: MANDATE_AUDIENCE)")
    .option('--action <action>', 'for a bare mandate: the action')
    .option('--resource <resource>', 'for a bare mandate: the resource')
    .option('--arg <key=value>', 'for a bare mandate: an argument (repeatable)', collect)
    .option('--args-json <json>', 'for a bare mandate: arguments as JSON')
    .option('--approval <text|@file>', 'an approval: its text, @FILE or a file (repeatable)', collect)
    .option('--at <time>', 'decide as of TIME (Unix seconds, ISO 8601, or a duration from now) instead of now')
    .option('--skew <seconds>', 'clock difference tolerated with issuers, 0–300 seconds (default 60)')
    .option('--service <url>', 'the mandate service: revocations and usage counters (default: MANDATE_SERVICE)')
    .option('--service-key <did>', "the service's feed key to pin (default: MANDATE_SERVICE_KEY, else as announced)")
    .option(
      '--verifier-key <file>',
      "this verifier's key, registered with the service under --audience: it signs use and replay claims (default: MANDATE_VERIFIER_KEY)",
    )
    .action(async (token: string | undefined, opts: VerifyFlags, cmd: Command) => {
      const input = await readToken(ctx.io, token, ['mandate', 'invocation'], 'verify')
      const isInvocation = input.kind === 'invocation'
      // Parsed here first, so that a damaged token is told apart (truncated, wrapped) before deciding.
      if (isInvocation) parsed(input, parseInvocation)
      else parsed(input, parseMandate)
      const roots = rootsFrom(opts.root?.length ? opts.root : (ctx.io.env['MANDATE_ROOTS'] ?? '').split(','))
      const now = opts.at === undefined ? ctx.io.now() : parseTimeOrDuration(opts.at, '--at', ctx.io.now())
      const skew = skewFrom(opts.skew)
      const audience = opts.audience ?? ctx.io.env['MANDATE_AUDIENCE']
      if (audience === undefined || audience === '') {
        usage('no audience: whom is this decision for?', "pass --audience NAME (this service's own name) or set MANDATE_AUDIENCE")
      }
      if (!isInvocation && opts.action === undefined)
        usage(
          'a bare mandate needs --action (and --resource, --arg as needed)',
          'or verify an invocation (mni1_…), which carries its request',
        )
      const approvals: string[] = []
      for (const a of opts.approval ?? []) approvals.push(await readApproval(ctx.io, a))
      const service = serviceOf(ctx, cmd, opts.service)
      const keyFile = opts.verifierKey ?? ctx.io.env['MANDATE_VERIFIER_KEY']
      const verifierKey = keyFile ? loadKey(ctx.io, keyFile, '--verifier-key') : undefined
      const revocations = service ? await feedView(ctx, service, opts.serviceKey) : undefined
      const remote = service && verifierKey ? { url: service.url, key: verifierKey, timeoutMs: service.timeoutMs } : undefined
      const verifier = createVerifier({
        roots,
        audience,
        clock: () => now,
        ...(skew === undefined ? {} : { skew }),
        usage: remote ? createRemoteUsageStore(remote) : noCounter,
        ...(service ? { replay: remote ? createRemoteReplayCache(remote) : noReplay } : {}),
        // Without --service there is no revocation view: say so explicitly (the output's
        // `checked.revocations` is false and the audit record carries `revocations: 'none'`).
        revocations: revocations ?? 'none',
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
      ctx.exit = decision.allowed ? 0 : disposition(decision.code).exit
      emit(ctx, cmd, { ...decision, checked: { revocations: service !== undefined } }, () =>
        render(decision, colors(ctx, cmd), service && shownUrl(service.url)),
      )
    })
  examples(
    cmd,
    'mandate verify read.txt --root "alice=$ALICE" --audience mail',
    'mandate verify draft.txt --root "alice=$ALICE" --audience mail --approval @ok.txt',
    'mandate verify sub.txt --root "alice=$ALICE" --audience calendar --action calendar:read --resource cal/work',
    'mandate verify read.txt --root "alice=$ALICE" --audience mail --at 2026-12-01T09:00:00Z --skew 0 --json',
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
