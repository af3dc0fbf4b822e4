/**
 * Reading a request's content whole, under a limit: the guard must hash exactly what it
 * received (spec/http-v1.md §4), and must not buffer an unbounded body to do so.
 *
 * @module
 */
import { joinBytes } from '../internal/bytes.js'
import { countOption } from '../internal/count.js'

/** The default limit on a guarded request's content: 1 MiB. */
export const DEFAULT_MAX_BODY = 1024 * 1024

/**
 * The `maxBody` option of an adapter: a whole number of bytes, 1 to 64 MiB (default 1 MiB),
 * checked when the adapter is made. A NaN or a string such as `'1mb'` would otherwise compare
 * false with every length, and no body would be too large.
 *
 * @example
 * ```ts
 * bodyLimit(undefined) // 1048576
 * bodyLimit('1mb')     // throws TypeError
 * ```
 */
export function bodyLimit(maxBody: unknown): number {
  return countOption(maxBody, DEFAULT_MAX_BODY, 1, 64 * 1024 * 1024, 'maxBody')
}

/**
 * The content was longer than the limit; the guard answers it with 413 `ERR_LIMIT_SIZE`.
 *
 * @example
 * ```ts
 * // thrown by a ReceivedHttpRequest's body() to say "413" without reading further
 * const e: unknown = new BodyTooLarge(1024)
 * if (e instanceof BodyTooLarge) console.log(e.message) // 'the request content is larger than 1024 bytes'
 * ```
 */
export class BodyTooLarge extends Error {
  constructor(readonly limit: number) {
    super(`the request content is larger than ${limit} bytes`)
    this.name = 'BodyTooLarge'
  }
}

/**
 * The bytes of `chunks` (a Web stream or a Node readable), at most `limit` of them; more throws
 * {@link BodyTooLarge} as soon as the limit is passed, without reading the rest.
 *
 * @example
 * ```ts
 * const bytes = await readAll(request.body ?? [], DEFAULT_MAX_BODY)
 * ```
 */
export async function readAll(chunks: AsyncIterable<Uint8Array | string> | Iterable<Uint8Array>, limit: number): Promise<Uint8Array> {
  const parts: Uint8Array[] = []
  let length = 0
  const it: Iterator<Uint8Array | string> | AsyncIterator<Uint8Array | string> =
    Symbol.asyncIterator in chunks ? chunks[Symbol.asyncIterator]() : chunks[Symbol.iterator]()
  for (let next = await it.next(); next.done !== true; next = await it.next()) {
    const chunk = next.value
    const bytes = typeof chunk === 'string' ? new TextEncoder().encode(chunk) : chunk
    length += bytes.length
    if (length > limit) {
      // Stop the source without waiting for it (`for await` would): cancelling a Request clone's
      // stream, one branch of a tee, settles only once the request's own body is cancelled too,
      // which nobody does for a refused request, so the 413 would never be sent.
      // Stryker disable next-line OptionalChaining: equivalent — the sources the adapters pass (Node readables, Web streams) all have return()
      Promise.resolve(it.return?.()).catch(() => undefined)
      throw new BodyTooLarge(limit)
    }
    parts.push(bytes)
  }
  return parts.length === 1 ? (parts[0] as Uint8Array) : joinBytes(parts)
}

/**
 * True when a declared `Content-Length` already exceeds `limit`, so the body need not be read.
 *
 * @example
 * ```ts
 * declaredTooLarge('2000000', DEFAULT_MAX_BODY) // true
 * ```
 */
export function declaredTooLarge(contentLength: string | null | undefined, limit: number): boolean {
  if (typeof contentLength !== 'string' || !/^\d+$/.test(contentLength)) return false
  return Number(contentLength) > limit
}

/**
 * The content of a Fetch `Request`, read from a clone so that the handler can still read the
 * request's own body, at most `limit` bytes. Where `Request.body` is not implemented (Firefox),
 * the clone is read whole and then measured.
 *
 * @example
 * ```ts
 * const bytes = await requestContent(new Request('https://api.test/send', { method: 'POST', body: '{}' }), DEFAULT_MAX_BODY)
 * ```
 */
export async function requestContent(request: Request, limit: number, used: string): Promise<Uint8Array> {
  if (declaredTooLarge(request.headers.get('content-length'), limit)) throw new BodyTooLarge(limit)
  if (request.bodyUsed) throw new Error(used)
  const copy = request.clone()
  if (copy.body === undefined) {
    const all = new Uint8Array(await copy.arrayBuffer())
    if (all.length > limit) throw new BodyTooLarge(limit)
    return all
  }
  return copy.body === null ? new Uint8Array(0) : readAll(copy.body, limit)
}
