/**
 * A `fetch` for clients of the service that records each request and answers from a script, so
 * a test can read exactly what a client sent and feed it any answer (or none).
 */
import { MandateError } from '../../src/errors.js'

export interface Sent {
  url: string
  method: string | undefined
  headers: Headers
  bytes: Uint8Array
  body: Record<string, unknown>
}

/** Records each request and answers from `script`; a script entry that throws is a lost answer. */
export function scripted(script: (() => Response | Promise<Response>)[]) {
  const sent: Sent[] = []
  const fetcher = (async (url: string, init: RequestInit) => {
    const bytes = init.body as Uint8Array
    sent.push({ url, method: init.method, headers: new Headers(init.headers), bytes, body: JSON.parse(new TextDecoder().decode(bytes)) })
    const next = script.shift()
    if (!next) throw new TypeError('no more answers')
    return next()
  }) as unknown as typeof fetch
  return { sent, fetcher }
}

/** A script entry answering `body` as JSON with `status`. */
export const json = (status: number, body: unknown) => () => new Response(JSON.stringify(body), { status })

/** The MandateError `p` rejects with (anything else fails the test). */
export async function rejection(p: unknown): Promise<MandateError> {
  try {
    await p
  } catch (e) {
    if (e instanceof MandateError) return e
    throw e
  }
  throw new Error('expected a rejection')
}
