/**
 * The approval inbox's notifications (spec/service-v1.md §7.3): the service POSTs each change
 * of a request — filed (`approval.pending`), approved by one approver (`approval.approved`),
 * denied (`approval.denied`) — to the URLs its operator configured, so that a team can route
 * requests to chat or email. Deliveries follow Standard Webhooks 1.0.0 with its asymmetric
 * scheme: `webhook-id`, `webhook-timestamp`, `webhook-signature: v1a,<base64 Ed25519
 * signature>` over `{id}.{timestamp}.{body}`, signed with the service's own key — the key a
 * receiver already pins for the revocation feed, so there is no shared secret to hand out.
 *
 * This file is both sides' contract: the signing input the service signs, and
 * {@link verifyWebhook} for receivers.
 *
 * @module
 */
import { base64 } from '@scure/base'
import { getBackend } from '../crypto/ed25519.js'
import { assertStrongKey, parsePublicKey } from '../crypto/keys.js'
import { MandateError } from '../errors.js'
import { utf8 } from '../internal/bytes.js'
import type { ApprovalRequest } from './client.js'

/** What happened to a request. */
export type ApprovalEventType = 'approval.pending' | 'approval.approved' | 'approval.denied'

/**
 * The request as a notification describes it: as `GET /v1/approvals/{id}` answers it, without
 * its bearer parts — the invocation's text and the approvals' texts are left out, and
 * `approvedBy` lists the approvers who answered. Every string in it comes from a token an agent
 * signed: escape it before showing it to a person.
 *
 * @example
 * ```ts
 * declare const event: ApprovalEvent
 * const r: NotifiedRequest = event.data.request
 * console.log(r.requestedBy.name ?? r.requestedBy.key, r.action, `${r.approvedBy.length}/${r.approvers.length}`)
 * ```
 */
export interface NotifiedRequest extends Omit<ApprovalRequest, 'invocation' | 'approvals' | 'quota'> {
  /** The approvers whose approval is stored, in the order of `approvers`. */
  readonly approvedBy: readonly string[]
}

/**
 * A delivery's body (JSON): the event, when it happened, and the request as it stood when the
 * delivery was made.
 *
 * @example
 * ```ts
 * declare const headers: Headers, body: Uint8Array
 * const event: ApprovalEvent = await verifyWebhook({ headers, body }, { serviceKey })
 * if (event.type === 'approval.denied') console.log(`denied by ${event.data.by}: ${event.data.request.denial?.reason}`)
 * ```
 */
export interface ApprovalEvent {
  readonly type: ApprovalEventType
  /** When the change was committed (RFC 3339, UTC, service clock). */
  readonly timestamp: string
  readonly data: {
    /** The request id (the invocation's id, 64 lower-case hex digits). */
    readonly id: string
    /** Who approved or denied (did:key); absent for `approval.pending`. */
    readonly by?: string
    /** Who asks, on whose behalf, for what and why; its status and denial. */
    readonly request: NotifiedRequest
  }
}

/**
 * The three headers of a delivery, by their (lower-case) names.
 *
 * @example
 * ```ts
 * declare const request: globalThis.Request // the incoming HTTP request
 * const id = request.headers.get(WEBHOOK_HEADERS.id) // remember it: a retry comes under the same id
 * ```
 */
export const WEBHOOK_HEADERS = { id: 'webhook-id', timestamp: 'webhook-timestamp', signature: 'webhook-signature' } as const

/** A receiver's default tolerance for `webhook-timestamp`, either way (seconds). */
export const WEBHOOK_TOLERANCE = 300

/**
 * What Standard Webhooks signs: `{id}.{timestamp}.{body}`, the body as the exact bytes sent.
 *
 * @internal
 */
export function webhookSigningInput(id: string, timestamp: number, body: Uint8Array): Uint8Array {
  const head = utf8(`${id}.${timestamp}.`)
  const out = new Uint8Array(head.length + body.length)
  out.set(head)
  out.set(body, head.length)
  return out
}

/**
 * A signature as it goes in `webhook-signature`: `v1a,` and standard base64.
 *
 * @internal
 */
export function formatWebhookSignature(signature: Uint8Array): string {
  return `v1a,${base64.encode(signature)}`
}

/**
 * Where a receiver's check reads the delivery from.
 *
 * @example
 * ```ts
 * declare const request: globalThis.Request // the incoming HTTP request
 * const received: ReceivedWebhook = { headers: request.headers, body: new Uint8Array(await request.arrayBuffer()) }
 * ```
 */
export interface ReceivedWebhook {
  /** The request's headers (a Fetch `Headers`, or a plain record as Node and Express give them). */
  readonly headers: Headers | Readonly<Record<string, string | readonly string[] | undefined>>
  /** The body as received, before any JSON parsing: its exact bytes are signed. */
  readonly body: Uint8Array | string
}

/**
 * How a receiver checks a delivery.
 *
 * @example
 * ```ts
 * const options: VerifyWebhookOptions = { serviceKey, tolerance: 120 }
 * ```
 */
export interface VerifyWebhookOptions {
  /** The service's key (did:key, `whpk_…`, or any form `parsePublicKey` reads): the one `mandate serve` prints. */
  readonly serviceKey: string
  /** Now, Unix seconds (default: the system clock). */
  readonly now?: number
  /** How far `webhook-timestamp` may be from now, either way (seconds, default 300). */
  readonly tolerance?: number
}

const ID = /^[A-Za-z0-9_-]{1,128}$/
const TIMESTAMP = /^\d{1,12}$/
const MAX_SIGNATURES = 8
/** A `v1a` entry of `webhook-signature`: its base64, between separators (white space or a comma). */
const SIGNATURE_ENTRY = /(?:^|[\s,])v1a,([A-Za-z0-9+/]+={0,2})(?=$|[\s,])/g

/**
 * Check a notification from the approval inbox and return its event: the `v1a` signature by
 * the service's key over the exact body, and a timestamp within the tolerance. A receiver
 * should still remember `webhook-id`s it has handled for longer than the tolerance: the service
 * delivers at least once, and retries a delivery under the same id.
 *
 * Throws a {@link MandateError}: `ERR_REQUEST_INVALID` (a header missing or malformed, a body
 * that is not the JSON of an event), `ERR_TIME_EXPIRED` / `ERR_TIME_NOT_YET` (timestamp outside
 * the tolerance), `ERR_SIG_INVALID` (no `v1a` signature by the service's key verifies),
 * `ERR_KEY_FORMAT` (`serviceKey` does not parse).
 *
 * @example
 * ```ts
 * // A Fetch handler receiving the service's notifications.
 * async function receive(request: globalThis.Request): Promise<Response> {
 *   const body = new Uint8Array(await request.arrayBuffer())
 *   const event = await verifyWebhook({ headers: request.headers, body }, { serviceKey })
 *   if (event.type === 'approval.pending') console.log(`approval wanted: ${event.data.request.action}`)
 *   return new Response(null, { status: 204 })
 * }
 * ```
 */
export async function verifyWebhook(received: ReceivedWebhook, options: VerifyWebhookOptions): Promise<ApprovalEvent> {
  const key = parseServiceKey(options.serviceKey)
  const now = options.now ?? Math.floor(Date.now() / 1000)
  const tolerance = options.tolerance ?? WEBHOOK_TOLERANCE
  // A NaN here would make both time checks false: the replay window would fail open.
  if (!Number.isFinite(now)) throw new TypeError(`"now" expected Unix seconds, got ${now}`)
  if (!Number.isFinite(tolerance) || tolerance < 0) throw new RangeError(`"tolerance" expected seconds ≥ 0, got ${tolerance}`)
  const header = (name: string): string => {
    const h = received.headers
    const raw = typeof (h as Headers).get === 'function' ? (h as Headers).get(name) : (h as Record<string, unknown>)[name]
    if (raw === undefined || raw === null || raw === '') throw invalid(`the "${name}" header is missing`)
    if (typeof raw !== 'string')
      throw invalid(`the "${name}" header must be one text value (not ${Array.isArray(raw) ? 'a list' : typeof raw})`)
    return raw
  }
  const id = header(WEBHOOK_HEADERS.id)
  if (!ID.test(id)) throw invalid(`"${WEBHOOK_HEADERS.id}" must be 1–128 characters of A–Z, a–z, 0–9, "_" and "-"`)
  const stamp = header(WEBHOOK_HEADERS.timestamp)
  if (!TIMESTAMP.test(stamp)) throw invalid(`"${WEBHOOK_HEADERS.timestamp}" must be whole Unix seconds`)
  const timestamp = Number(stamp)
  if (timestamp < now - tolerance) {
    throw new MandateError('ERR_TIME_EXPIRED', `the delivery was signed at ${timestamp}, more than ${tolerance} s before now (${now})`)
  }
  if (timestamp > now + tolerance) {
    throw new MandateError('ERR_TIME_NOT_YET', `the delivery is dated ${timestamp}, more than ${tolerance} s after now (${now})`)
  }
  const body = typeof received.body === 'string' ? utf8(received.body) : received.body
  const message = webhookSigningInput(id, timestamp, body)
  // Space-separated `version,signature` pairs; a relay's second header line arrives joined by
  // ", " (RFC 9110 §5.3), so a comma or white space ends an entry either way.
  const candidates = [...header(WEBHOOK_HEADERS.signature).matchAll(SIGNATURE_ENTRY)].map((m) => m[1] as string)
  let verified = false
  for (const candidate of candidates.slice(0, MAX_SIGNATURES)) {
    const signature = decodeBase64(candidate)
    if (signature?.length === 64 && getBackend().verify(signature, message, key) === 'accept') {
      verified = true
      break
    }
  }
  if (!verified) throw new MandateError('ERR_SIG_INVALID', "no v1a signature of the delivery verifies under the service's key")
  return parseEvent(body)
}

/** The service key, also in Standard Webhooks' `whpk_` form (base64 of the 32 key bytes). */
function parseServiceKey(text: string): Uint8Array {
  if (!text.startsWith('whpk_')) return parsePublicKey(text)
  const bytes = decodeBase64(text.slice(5))
  if (bytes?.length !== 32) throw new MandateError('ERR_KEY_FORMAT', 'a whpk_ key is the base64 of 32 bytes')
  // As strict as any other key form: a small-order or non-canonical key is ERR_KEY_WEAK.
  assertStrongKey(bytes)
  return bytes
}

/** Standard base64 (RFC 4648, padded, as Standard Webhooks writes it) to bytes, or nothing when it is not. */
function decodeBase64(text: string): Uint8Array | undefined {
  try {
    return base64.decode(text)
  } catch {
    return undefined
  }
}

function parseEvent(body: Uint8Array): ApprovalEvent {
  let event: unknown
  try {
    event = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(body))
  } catch {
    throw invalid('the body is not JSON')
  }
  // JSON's other values (null, a string, a number, a boolean) have no type: its test refuses them.
  const e = (event ?? {}) as Partial<ApprovalEvent>
  const data = e.data as Partial<ApprovalEvent['data']> | undefined
  const ok =
    (e.type === 'approval.pending' || e.type === 'approval.approved' || e.type === 'approval.denied') &&
    typeof e.timestamp === 'string' &&
    typeof data === 'object' &&
    data !== null &&
    typeof data.id === 'string' &&
    typeof data.request === 'object' &&
    data.request !== null
  if (!ok) throw invalid('the body is not an approval event')
  return event as ApprovalEvent
}

const invalid = (message: string) => new MandateError('ERR_REQUEST_INVALID', message)
