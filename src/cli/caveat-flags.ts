/**
 * The caveat flags shared by `mint` and `attenuate`, turned into caveats.
 *
 * @module
 */
import type { Command } from 'commander'
import type { ArgValue, Caveat, WhereOp } from '../caveats/types.js'
import { WHERE_OPS } from '../caveats/types.js'
import { usage } from './errors.js'
import { parseDuration, parseTime, parseTimeOrDuration } from './time.js'

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

const collect = (value: string, previous: string[] = []) => [...previous, value]

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
    .option('--not-before <time>', 'not valid before TIME (RFC 3339 or Unix seconds)')
    .option('--expires <time|duration>', 'expires at TIME or after DURATION (90s, 30m, 8h, 7d)')
    .option('--uses <n>', 'at most N successful uses')
    .option('--per <duration>', 'with --uses: per sliding window of DURATION')
    .option('--approval <pattern>', 'actions matching PATTERN, or below one, need approval (repeatable)', collect)
    .option('--approver <did>', 'with --approval: an approver (repeatable; default: the signing key)', collect)
    .option('--quorum <n>', 'with --approval: how many distinct approvers (default 1)')
    .option('--where <rule>', "argument rule 'PATH OP VALUE' (repeatable); OP: eq ne lt le gt ge in not_in prefix glob", collect)
    .option('--audience <name>', 'only at the service NAME (repeatable)', collect)
    .option('--max-depth <n>', 'at most N further delegations')
    .option('--bound', 'holders below must be bound keys that sign invocations')
}

function integer(text: string, flag: string, min: number, max: number): number {
  if (!/^\d{1,15}$/.test(text.trim())) usage(`${flag}: not a whole number: ${JSON.stringify(text)}`)
  const n = Number(text)
  if (n < min || n > max) usage(`${flag}: expected ${min}..${max}, got ${n}`)
  return n
}

/** A `--where` value: JSON when it parses as JSON, else the text itself (comma lists for in/not_in). */
function whereValue(raw: string, op: WhereOp): ArgValue {
  let value: unknown = raw
  try {
    value = JSON.parse(raw)
  } catch {
    value = op === 'in' || op === 'not_in' ? raw.split(',').map((s) => s.trim()) : raw
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
  if (flags.notBefore !== undefined || flags.expires !== undefined) {
    out.push({
      type: 'window',
      ...(flags.notBefore === undefined ? {} : { notBefore: parseTime(flags.notBefore, '--not-before') }),
      ...(flags.expires === undefined ? {} : { expires: parseTimeOrDuration(flags.expires, '--expires', now) }),
    })
  }
  if (flags.per !== undefined && flags.uses === undefined) usage('--per needs --uses N')
  if (flags.uses !== undefined) {
    const max = integer(flags.uses, '--uses', 1, 2 ** 32 - 1)
    out.push({ type: 'uses', max, ...(flags.per === undefined ? {} : { per: parseDuration(flags.per, '--per') }) })
  }
  if ((flags.approver?.length || flags.quorum !== undefined) && !flags.approval?.length)
    usage('--approver and --quorum need --approval PATTERN')
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

/** Parse `--arg K=V` (integers and true/false typed, the rest text) and `--args-json`. */
export function argsFrom(pairs: readonly string[] | undefined, json: string | undefined): Record<string, ArgValue> {
  const args: Record<string, ArgValue> = Object.create(null)
  if (json !== undefined) {
    let parsed: unknown
    try {
      parsed = JSON.parse(json)
    } catch {
      usage('--args-json: not valid JSON')
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) usage('--args-json: expected a JSON object')
    Object.assign(args, parsed)
  }
  for (const pair of pairs ?? []) {
    const at = pair.indexOf('=')
    if (at <= 0) usage(`--arg: expected KEY=VALUE, got ${JSON.stringify(pair)}`)
    const raw = pair.slice(at + 1)
    args[pair.slice(0, at)] = /^-?(0|[1-9]\d{0,14})$/.test(raw) ? Number(raw) : raw === 'true' ? true : raw === 'false' ? false : raw
  }
  return args
}
