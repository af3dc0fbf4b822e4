/**
 * The caveat flags shared by `mint` and `attenuate`, turned into caveats.
 *
 * @module
 */
import type { Command } from 'commander'
import type { ArgValue, Caveat, WhereOp } from '../caveats/types.js'
import { WHERE_OPS } from '../caveats/types.js'
import type { MandateError } from '../errors.js'
import { iso } from '../internal/clock.js'
import type { UnverifiedMandate } from '../token/mandate.js'
import { collect } from './context.js'
import { usage } from './errors.js'
import { parseDuration, parseTimeOrDuration, TIME_FORMS } from './time.js'

/** Commander's view of the caveat flags. */
export interface CaveatFlags {
  readonly action?: string[]
  readonly deny?: string[]
  readonly resource?: string[]
  readonly notBefore?: string
  readonly expires?: string
  readonly uses?: string
  readonly per?: string
  readonly approval?: string[]
  readonly approver?: string[]
  readonly quorum?: string
  readonly where?: string[]
  readonly audience?: string[]
  readonly maxDepth?: string
  readonly bound?: boolean
}

/** Add the caveat flags to a command. */
export function addCaveatFlags(cmd: Command): Command {
  return cmd
    .option('--action <pattern>', 'allow actions matching PATTERN (repeatable): email:read, calendar:*', collect)
    .option(
      '--deny <pattern>',
      'never allow actions matching PATTERN, or below one (repeatable): email:send also denies email:send:now',
      collect,
    )
    .option('--resource <glob>', 'only resources matching GLOB (repeatable): mail/*, drive/**', collect)
    .option('--not-before <time>', 'not valid before TIME: a duration from now (15m), Unix seconds or ISO 8601')
    .option('--expires <time>', 'expires after a duration (90s, 15m, 8h, 7d, 1h30m) or at Unix seconds or ISO 8601')
    .option('--uses <n>', 'at most N successful uses')
    .option('--per <duration>', 'with --uses: per sliding window of DURATION (1h, 1d)')
    .option('--approval <pattern>', 'actions matching PATTERN, or below one, need approval (repeatable)', collect)
    .option('--approver <did>', 'with --approval: an approver (repeatable; default: the signing key)', collect)
    .option('--quorum <n>', 'with --approval: how many distinct approvers (default 1)')
    .option('--where <rule>', "argument rule 'PATH OP VALUE' (repeatable); OP: eq ne lt le gt ge in not_in prefix glob", collect)
    .option('--audience <name>', 'only at the service NAME (repeatable)', collect)
    .option('--max-depth <n>', 'at most N further delegations')
    .option('--bound', 'holders below must be bound keys that sign invocations')
}

function integer(text: string, flag: string, min: number, max: number): number {
  const hint = `${flag} takes a whole number from ${min} to ${max}`
  if (!/^\d{1,15}$/.test(text.trim())) usage(`${flag}: not a whole number: ${JSON.stringify(text)}`, hint)
  const n = Number(text)
  if (n < min || n > max) usage(`${flag}: expected ${min}..${max}, got ${n}`, hint)
  return n
}

/** A `--where` value: JSON when it parses as JSON, else the text itself (comma lists for in/not_in). */
function whereValue(raw: string, op: WhereOp): ArgValue {
  let value: unknown = raw
  try {
    value = JSON.parse(raw)
  } catch {
    if (op === 'in' || op === 'not_in') {
      const list = raw.split(',').map((s) => s.trim())
      // An empty item (`a@x.org,`, a JSON list left open `[1,`) is a typing slip, never a value allowed or refused.
      if (list.some((item) => item === '') || /^\s*\[/.test(raw)) {
        usage(
          `--where: ${JSON.stringify(raw)} is no list: an item is empty, or the JSON list does not parse`,
          `write the items between commas, e.g. --where 'to in a@x.org,b@x.org', or a JSON list: --where 'n in [1,2]'`,
        )
      }
      value = list
    } else value = raw
  }
  if ((op === 'in' || op === 'not_in') && !Array.isArray(value)) value = [value]
  return value as ArgValue
}

/** Parse `PATH OP VALUE`. */
export function parseWhere(rule: string): { path: string; op: WhereOp; value: ArgValue } {
  const m = /^\s*(\S+)\s+(\S+)\s+(.+?)\s*$/.exec(rule)
  const op = m?.[2] as WhereOp | undefined
  if (!m || !op || !(WHERE_OPS as readonly string[]).includes(op)) {
    usage(
      `--where: cannot read ${JSON.stringify(rule)}`,
      `write 'PATH OP VALUE' with OP one of ${WHERE_OPS.join(' ')}, e.g. --where 'amount le 100'`,
    )
  }
  return { path: m[1] as string, op, value: whereValue(m[3] as string, op) }
}

/** Turn flags into caveats. `signer` is the default approver (a did:key). */
export function caveatsFrom(flags: CaveatFlags, now: number, signer: string): Caveat[] {
  const out: Caveat[] = []
  if (flags.action?.length) out.push({ type: 'actions', patterns: flags.action })
  if (flags.deny?.length) out.push({ type: 'deny', patterns: flags.deny })
  if (flags.resource?.length) out.push({ type: 'resources', globs: flags.resource })
  const window = windowFrom(flags, now)
  if (window) out.push({ type: 'window', ...window })
  if (flags.per !== undefined && flags.uses === undefined) usage('--per needs --uses N', 'a quota per window, e.g. --uses 100 --per 1d')
  if (flags.uses !== undefined) {
    const max = integer(flags.uses, '--uses', 1, 2 ** 32 - 1)
    out.push({ type: 'uses', max, ...(flags.per === undefined ? {} : { per: parseDuration(flags.per, '--per') }) })
  }
  if ((flags.approver?.length || flags.quorum !== undefined) && !flags.approval?.length)
    usage(
      '--approver and --quorum need --approval PATTERN',
      "say which actions need approval, e.g. --approval 'email:send' --approver did:key:…",
    )
  if (flags.approval?.length) {
    const approvers = flags.approver?.length ? flags.approver : [signer]
    const quorum = flags.quorum === undefined ? 1 : integer(flags.quorum, '--quorum', 1, approvers.length)
    out.push({ type: 'approval', actions: flags.approval, approvers, quorum })
  }
  if (flags.where?.length) out.push({ type: 'where', rules: flags.where.map(parseWhere) })
  if (flags.audience?.length) out.push({ type: 'audience', names: flags.audience })
  if (flags.maxDepth !== undefined) out.push({ type: 'depth', max: integer(flags.maxDepth, '--max-depth', 0, 15) })
  if (flags.bound) out.push({ type: 'bound' })
  return out
}

/** A time window: its start and end, either open. */
export interface Window {
  readonly notBefore?: number
  readonly expires?: number
}

/**
 * The window `--not-before` and `--expires` ask for; refused (exit 2) when it is over before
 * it starts (an expiry already past) or empty (a start not before its end).
 */
export function windowFrom(flags: Pick<CaveatFlags, 'notBefore' | 'expires'>, now: number): Window | undefined {
  if (flags.notBefore === undefined && flags.expires === undefined) return undefined
  const notBefore = flags.notBefore === undefined ? undefined : parseTimeOrDuration(flags.notBefore, '--not-before', now)
  const expires = flags.expires === undefined ? undefined : parseTimeOrDuration(flags.expires, '--expires', now)
  if (expires !== undefined && expires <= now) {
    usage(
      `--expires ${flags.expires?.trim()}: ${iso(expires)} is already past (now ${iso(now)}): the mandate would be expired from the start`,
      `give a later time or a duration from now, e.g. --expires 8h; ${TIME_FORMS}`,
    )
  }
  if (notBefore !== undefined && expires !== undefined && notBefore >= expires) {
    usage(
      `the window is empty: --not-before ${iso(notBefore)} is not before --expires ${iso(expires)}`,
      'a window starts before it ends: move --not-before earlier or --expires later',
    )
  }
  return { ...(notBefore === undefined ? {} : { notBefore }), ...(expires === undefined ? {} : { expires }) }
}

/** The window a chain already has: the latest start and the earliest end of its blocks. */
export function chainWindow(m: UnverifiedMandate): Window & { readonly expiresBlock?: number } {
  let notBefore: number | undefined
  let end: { expires: number; expiresBlock: number } | undefined
  for (const b of m.blocks) {
    for (const c of b.caveats) {
      if (c.type !== 'window') continue
      if (c.notBefore !== undefined && (notBefore === undefined || c.notBefore > notBefore)) notBefore = c.notBefore
      if (c.expires !== undefined && (end === undefined || c.expires < end.expires)) end = { expires: c.expires, expiresBlock: b.index }
    }
  }
  return { ...(notBefore === undefined ? {} : { notBefore }), ...end }
}

/**
 * Refuse to narrow a mandate into one that can never be used: the parent already expired, or
 * the new window and the parent's do not overlap.
 */
export function checkNarrowedWindow(parent: UnverifiedMandate, window: Window | undefined, now: number): void {
  const own = chainWindow(parent)
  if (own.expires !== undefined && own.expires <= now) {
    usage(
      `this mandate expired at ${iso(own.expires)} (block ${own.expiresBlock}): a narrower one would be expired too`,
      'ask its issuer for a new mandate',
    )
  }
  if (window?.notBefore !== undefined && own.expires !== undefined && window.notBefore >= own.expires) {
    usage(
      `the window is empty: --not-before ${iso(window.notBefore)} is not before the mandate's own expiry ${iso(own.expires)} (block ${own.expiresBlock})`,
      'move --not-before earlier',
    )
  }
  if (window?.expires !== undefined && own.notBefore !== undefined && window.expires <= own.notBefore) {
    usage(
      `the window is empty: --expires ${iso(window.expires)} is not after the mandate's own start ${iso(own.notBefore)}`,
      'move --expires later',
    )
  }
}

const PATTERN_HINT =
  "an action pattern is ':'-separated segments of a-z 0-9 _ . - (email:read); a * segment matches one segment, a final * one or more (calendar:*)"

/** A hint for a caveat the library refused to build from the flags. */
export function caveatHint(e: MandateError): string | undefined {
  if (e.code === 'ERR_TIME_INVALID') return TIME_FORMS
  if (e.code !== 'ERR_CAVEAT_INVALID') return undefined
  switch (e.caveat) {
    case 'actions':
    case 'deny':
    case 'approval':
      return PATTERN_HINT
    case 'resources':
      return "a resource glob is '/'-separated non-empty segments (no . or .., no control character or backslash): * matches within a segment, ** any number of segments (drive/**, mail/*)"
    case 'where':
      return "write --where 'PATH OP VALUE', e.g. --where 'amount le 100' or --where 'to in a@x.org,b@x.org'"
    default:
      return undefined
  }
}

/** Parse `--arg K=V` (integers and true/false typed, the rest text) and `--args-json`. */
export function argsFrom(pairs: readonly string[] | undefined, json: string | undefined): Record<string, ArgValue> {
  const args: Record<string, ArgValue> = Object.create(null)
  if (json !== undefined) {
    let parsed: unknown
    try {
      parsed = JSON.parse(json)
    } catch {
      usage('--args-json: not valid JSON', `e.g. --args-json '{"to":"bob@example.com","amount":5}'`)
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))
      usage('--args-json: expected a JSON object', `e.g. --args-json '{"to":"bob@example.com"}'`)
    Object.assign(args, parsed)
  }
  for (const pair of pairs ?? []) {
    const at = pair.indexOf('=')
    if (at <= 0) usage(`--arg: expected KEY=VALUE, got ${JSON.stringify(pair)}`, 'e.g. --arg to=bob@example.com --arg amount=5')
    const raw = pair.slice(at + 1)
    const key = pair.slice(0, at)
    // Given twice (in two --arg, or in --arg and --args-json), one value would be dropped without a word.
    if (Object.hasOwn(args, key)) usage(`--arg: ${JSON.stringify(key)} is given twice`, 'give each argument once')
    args[key] = /^-?(0|[1-9]\d{0,14})$/.test(raw) ? Number(raw) : raw === 'true' ? true : raw === 'false' ? false : raw
  }
  return args
}
