/**
 * What the approval page shows of one request, derived from the **signed invocation** it
 * carries, checked in the browser: the chain's and the invocation's signatures verify, and the
 * invocation's id is the request's id, or the request cannot be approved. Where the service's
 * description of the request (who asks, action, arguments…) differs from the invocation, the
 * invocation is shown, the difference is named, and Approve is withheld: an approval signs the
 * invocation's id, whatever the description says.
 *
 * Every string that comes from a token or from the service is made safe to show here: control,
 * bidi and invisible characters become visible escapes (`\u202e`), as the CLI shows them
 * (src/internal/printable.ts), and arguments are JSON with the same escapes. The page then puts
 * each one in the DOM as text (`textContent`), never as markup.
 *
 * DOM-free: it runs (and is tested) in Node too.
 *
 * @module
 */
import { describeCaveat } from '../caveats/describe.js'
import { toDidKey } from '../crypto/keys.js'
import { printable, safeJson } from '../internal/printable.js'
import type { UnverifiedBlock } from '../token/block.js'
import { checkPresentation } from '../token/integrity.js'
import type { UnverifiedInvocation } from '../token/invocation.js'

/** One block of the chain, as shown. */
export interface BlockView {
  readonly index: number
  /** The holder's name, escaped; undefined when the block names none. */
  readonly name?: string
  /** The holder's key (did:key). */
  readonly key: string
  readonly bearer: boolean
  readonly purpose?: string
  /** Its caveats in plain words, escaped (limits, windows, approvals…). */
  readonly conditions: readonly string[]
}

/** A request as the page shows it. Every string is escaped (see the module comment). */
export interface RequestView {
  readonly id: string
  /** `pending`, `approved` (every quorum met), `denied`, or what the service said, escaped. */
  readonly status: string
  readonly requester: { readonly name?: string; readonly key: string }
  readonly principal: string
  readonly chain: readonly BlockView[]
  readonly action: string
  readonly resource?: string
  readonly audience: string
  /** The arguments as indented JSON, escaped. */
  readonly args: string
  readonly intent?: string
  readonly approvers: readonly { readonly key: string; readonly approved: boolean; readonly you: boolean }[]
  readonly createdAt?: number
  readonly expiresAt?: number
  /**
   * What is left of each `uses` caveat of the chain, as the service counts it now (the signed
   * invocation cannot say): absent when the service did not say.
   */
  readonly quota?: readonly QuotaView[]
  /** Who denied it and why, when the service says it was denied. */
  readonly denial?: { readonly by: string; readonly reason: string; readonly at?: number }
  /**
   * The amendments in force on the chain (caveats added after it was handed on, which the signed
   * invocation cannot show), as the service says, escaped: an approval may be asked for by one.
   */
  readonly amendments?: readonly AmendmentView[]
  /** Why Approve is withheld (a bad signature, another id, a description that differs), if it is. */
  readonly problems: readonly string[]
  /** The checked invocation, to approve: only when there is no problem. */
  readonly invocation?: UnverifiedInvocation
}

/** An amendment in force on a block: who made it, when, why, and its caveats in words. */
export interface AmendmentView {
  readonly block: number
  readonly by: string
  readonly at?: number
  readonly reason?: string
  readonly caveats: readonly string[]
}

/** One `uses` caveat: its block, its limit (per window, if any), and what is spent and left. */
export interface QuotaView {
  readonly block: number
  readonly max: number
  readonly per?: number
  readonly used: number
  readonly remaining: number
}

type Json = Record<string, unknown>
const record = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v)
const text = (v: unknown): v is string => typeof v === 'string'
const time = (v: unknown): number | undefined => (Number.isSafeInteger(v) ? (v as number) : undefined)

/** JSON with object keys sorted at every level: two equal values, one string. */
function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`
  if (record(value)) {
    const keys = Object.keys(value).sort()
    return `{${keys.map((k) => `${JSON.stringify(k)}:${canonical(value[k])}`).join(',')}}`
  }
  return JSON.stringify(value) ?? 'null'
}

const show = (s: string | undefined) => (s === undefined ? undefined : printable(s))

function blockView(b: UnverifiedBlock): BlockView {
  const name = show(b.name)
  const purpose = show(b.purpose)
  return {
    index: b.index,
    ...(name === undefined ? {} : { name }),
    key: toDidKey(b.holder),
    bearer: b.bearer,
    ...(purpose === undefined ? {} : { purpose }),
    conditions: b.caveats.map((c) => printable(describeCaveat(c))),
  }
}

/** "day", "7 days", "hour", "90 s": a window's length, as it reads after "per". */
export function span(seconds: number): string {
  const unit = (n: number, one: string, many: string) => (n === 1 ? one : `${n} ${many}`)
  if (seconds % 86_400 === 0) return unit(seconds / 86_400, 'day', 'days')
  if (seconds % 3600 === 0) return unit(seconds / 3600, 'hour', 'hours')
  if (seconds % 60 === 0) return unit(seconds / 60, 'minute', 'minutes')
  return `${seconds} s`
}

/** A quota line as the service gives it: whole numbers, or nothing (then no line is shown). */
function quotaOf(q: unknown): QuotaView | undefined {
  if (!record(q)) return undefined
  const [block, max, used, remaining] = [time(q['block']), time(q['max']), time(q['used']), time(q['remaining'])]
  const per = q['per'] === undefined ? undefined : time(q['per'])
  if (block === undefined || max === undefined || used === undefined || remaining === undefined) return undefined
  if (q['per'] !== undefined && per === undefined) return undefined
  return { block, max, used, remaining, ...(per === undefined ? {} : { per }) }
}

/** An amendment as the service gives it; anything out of shape shows none of them. */
function amendmentOf(a: unknown): AmendmentView | undefined {
  if (!record(a) || time(a['block']) === undefined || !text(a['by']) || !Array.isArray(a['caveats']) || !a['caveats'].every(text)) {
    return undefined
  }
  return {
    block: time(a['block']) as number,
    by: printable(a['by']),
    ...(time(a['at']) === undefined ? {} : { at: time(a['at']) as number }),
    ...(text(a['reason']) ? { reason: printable(a['reason']) } : {}),
    caveats: (a['caveats'] as string[]).map((c) => printable(c)),
  }
}

/** The differences between the service's description and the signed invocation, in words. */
function differences(request: Json, inv: UnverifiedInvocation): string[] {
  const last = inv.chain[inv.chain.length - 1] as UnverifiedBlock
  const by = record(request['requestedBy']) ? request['requestedBy'] : {}
  const chain = Array.isArray(request['chain']) ? request['chain'] : []
  const said = {
    requester: by['key'],
    'requester name': by['name'],
    principal: request['onBehalfOf'],
    action: request['action'],
    resource: request['resource'],
    audience: request['audience'],
    intent: request['intent'],
    arguments: canonical(request['args']),
    chain: canonical(chain.map((b) => (record(b) ? { block: b['block'], name: b['name'], purpose: b['purpose'] } : b))),
  }
  const signed = {
    requester: toDidKey(last.holder),
    'requester name': last.name,
    principal: toDidKey(inv.chain[0]?.principal as Uint8Array),
    action: inv.action,
    resource: inv.resource,
    audience: inv.audience,
    intent: inv.intent,
    arguments: canonical(inv.args),
    chain: canonical(inv.chain.map((b) => ({ block: b.index, name: b.name, purpose: b.purpose }))),
  }
  return (Object.keys(said) as (keyof typeof said)[])
    .filter((k) => said[k] !== signed[k])
    .map((k) => `the service describes the ${k} otherwise than the signed request does`)
}

/**
 * The view of a request the service sent (`GET /v1/approvals`, the stream), for approver `me`
 * (did:key). Never throws: a request that cannot be checked is shown with its problems and
 * without Approve.
 */
export function viewOf(request: unknown, me: string): RequestView {
  const r = record(request) ? request : {}
  const id = text(r['id']) && /^[0-9a-f]{64}$/.test(r['id']) ? r['id'] : ''
  const approvals = record(r['approvals']) ? r['approvals'] : {}
  const approvers = (Array.isArray(r['approvers']) ? r['approvers'] : []).filter(text).map((key) => ({
    key: printable(key),
    approved: approvals[key] !== undefined,
    you: key === me,
  }))
  const denial = record(r['denial']) ? r['denial'] : undefined
  const quota = Array.isArray(r['quota']) ? r['quota'].map(quotaOf) : undefined
  const amendments = Array.isArray(r['amendments']) ? r['amendments'].map(amendmentOf) : undefined
  const service = {
    id: id || printable(String(r['id'] ?? '')),
    status: printable(text(r['status']) ? r['status'] : 'unknown'),
    approvers,
    ...(time(r['createdAt']) === undefined ? {} : { createdAt: time(r['createdAt']) as number }),
    ...(time(r['expiresAt']) === undefined ? {} : { expiresAt: time(r['expiresAt']) as number }),
    ...(quota === undefined || quota.includes(undefined) ? {} : { quota: quota as QuotaView[] }),
    ...(amendments === undefined || amendments.includes(undefined) || amendments.length === 0
      ? {}
      : { amendments: amendments as AmendmentView[] }),
    ...(denial === undefined
      ? {}
      : {
          denial: {
            by: printable(String(denial['by'] ?? '')),
            reason: printable(String(denial['reason'] ?? '')),
            ...(time(denial['at']) === undefined ? {} : { at: time(denial['at']) as number }),
          },
        }),
  }
  let inv: UnverifiedInvocation | undefined
  const problems: string[] = []
  try {
    if (!text(r['invocation'])) throw new Error('the request carries no invocation')
    const presented = checkPresentation(r['invocation'])
    if (!presented.invocation) throw new Error('the request carries a mandate, not an invocation')
    inv = presented.invocation
  } catch (e) {
    problems.push(`the signed request does not check: ${printable(e instanceof Error ? e.message : String(e), 300)}`)
  }
  if (!inv) {
    return {
      ...service,
      requester: { key: printable(String((record(r['requestedBy']) ? r['requestedBy']['key'] : '') ?? '')) },
      principal: printable(String(r['onBehalfOf'] ?? '')),
      chain: [],
      action: printable(String(r['action'] ?? '')),
      audience: printable(String(r['audience'] ?? '')),
      args: safeJson(r['args'] ?? {}, 2),
      problems,
    }
  }
  if (inv.idHex !== id) problems.push('the signed request is not the one this request names (its id differs): it cannot be approved here')
  problems.push(...differences(r, inv))
  const last = inv.chain[inv.chain.length - 1] as UnverifiedBlock
  const requesterName = show(last.name)
  const resource = show(inv.resource)
  const intent = show(inv.intent)
  return {
    ...service,
    requester: { key: toDidKey(last.holder), ...(requesterName === undefined ? {} : { name: requesterName }) },
    principal: toDidKey(inv.chain[0]?.principal as Uint8Array),
    chain: inv.chain.map(blockView),
    action: printable(inv.action),
    ...(resource === undefined ? {} : { resource }),
    audience: printable(inv.audience),
    args: safeJson(inv.args, 2),
    ...(intent === undefined ? {} : { intent }),
    problems,
    ...(problems.length === 0 ? { invocation: inv } : {}),
  }
}

/**
 * The request's one-line title: what is asked first, then who asks. The requester names
 * itself, so its name comes last: first, a name such as `helper asks to calendar:read` would
 * read as the request.
 */
export function titleOf(view: RequestView): string {
  const what = `${view.action}${view.resource === undefined ? '' : ` on ${view.resource}`}`
  return `${what}, asked by ${view.requester.name ?? 'an unnamed agent'}`
}
