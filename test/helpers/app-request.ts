/**
 * One request to the service's app in this process (Hono's `app.request`, no socket): JSON or
 * raw body, signed (RFC 9421) as a key when asked, and the answer with its error code and message.
 */
import type { Hono } from 'hono'
import { signRequest } from '../../src/crypto/http-signature.js'
import type { KeyPair } from '../../src/crypto/keys.js'

export interface Answer {
  readonly status: number
  readonly code: string | undefined
  readonly message: string | undefined
  readonly json: Record<string, unknown>
  readonly text: string
  readonly headers: Headers
}

export interface Send {
  readonly body?: unknown
  /** Sent as is, instead of `body` as JSON. */
  readonly raw?: Uint8Array
  /** Content type of a body (default application/json). */
  readonly type?: string
  /** Sign the request as this key. */
  readonly key?: KeyPair
  readonly headers?: Record<string, string>
  /** The whole URL (default `http://<host><path>`). */
  readonly url?: string
  /** Host the request goes to (default svc.test). */
  readonly host?: string
  /** Host the signature covers (default: the one it goes to). */
  readonly signedHost?: string
  /** The signature's `created` (default `now`). */
  readonly created?: number
  readonly nonce?: string
}

export async function appRequest(app: Hono, now: number, method: string, path: string, o: Send = {}): Promise<Answer> {
  const url = o.url ?? `http://${o.host ?? 'svc.test'}${path}`
  const bytes = o.raw ?? (o.body === undefined ? undefined : new TextEncoder().encode(JSON.stringify(o.body)))
  const headers: Record<string, string> = bytes ? { 'content-type': o.type ?? 'application/json' } : {}
  if (o.key) {
    const signedUrl = o.signedHost === undefined ? url : `http://${o.signedHost}${path}`
    const options = { created: o.created ?? now, ...(o.nonce ? { nonce: o.nonce } : {}) }
    Object.assign(headers, signRequest({ method, url: signedUrl, ...(bytes ? { body: bytes } : {}) }, o.key, options))
  }
  Object.assign(headers, o.headers)
  const res = await app.request(url, { method, headers, ...(bytes ? { body: bytes } : {}) })
  const text = await res.text()
  let json: Record<string, unknown> = {}
  try {
    json = JSON.parse(text) as Record<string, unknown>
  } catch {
    // not JSON: the test reads `text`
  }
  const error = json['error'] as { code?: string; message?: string } | undefined
  return { status: res.status, code: error?.code, message: error?.message, json, text, headers: res.headers }
}
