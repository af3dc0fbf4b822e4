/**
 * A fetch for background work that never keeps a Node process alive by itself: the request's
 * socket is unref'd, like the timers around it, so a script that starts a feed view and
 * finishes its work exits (`stop()` still ends everything at once).
 *
 * Node's own fetch cannot unref its sockets, so this speaks HTTP through `node:http` and
 * `node:https`, reached with `process.getBuiltinModule` (Node 20.16+): no `import`, so the main
 * entry stays free of `node:` modules and bundles for browsers and workers as before. Where
 * that is missing (browsers, workers, Deno, Bun) {@link unrefFetch} gives undefined and the
 * caller uses the runtime's fetch. Only what the feed client needs: GET, headers, a signal,
 * redirects for GET.
 *
 * @module
 */
import type { Fetcher } from './http.js'

/** The few shapes of `node:http` used here (declared, not imported: no node types in the bundle). */
interface NodeSocket {
  unref?(): void
}
interface NodeResponse {
  readonly statusCode?: number
  readonly rawHeaders: readonly string[]
  readonly headers: Readonly<Record<string, string | string[] | undefined>>
  resume(): void
}
interface NodeRequest {
  on(event: 'socket', listener: (socket: NodeSocket) => void): NodeRequest
  on(event: 'error', listener: (error: Error) => void): NodeRequest
  on(event: 'close', listener: () => void): NodeRequest
  end(): void
  destroy(error?: Error): void
}
interface NodeHttp {
  request(url: URL, options: Record<string, unknown>, onResponse: (res: NodeResponse) => void): NodeRequest
}
interface NodeModules {
  readonly http: NodeHttp
  readonly https: NodeHttp
  readonly toWeb: (readable: NodeResponse) => ReadableStream<Uint8Array>
}

const REDIRECTS = new Set([301, 302, 303, 307, 308])
const MAX_REDIRECTS = 5
/** Statuses whose Response must have no body (the constructor throws otherwise). */
const NO_BODY = new Set([204, 205, 304])

/**
 * A fetch whose sockets do not keep the process alive, or undefined where the runtime has no
 * `node:http` to build one from.
 *
 * @example
 * ```ts
 * const background = options.fetch ?? unrefFetch() ?? fetch
 * ```
 */
export function unrefFetch(): Fetcher | undefined {
  const modules = nodeModules()
  if (!modules) return undefined
  return (input, init) => request(modules, new URL(input), init, 0)
}

function nodeModules(): NodeModules | undefined {
  const global = globalThis as {
    process?: { getBuiltinModule?: unknown; versions?: Record<string, string | undefined> }
    navigator?: { userAgent?: unknown }
  }
  const proc = global.process
  if (typeof proc?.getBuiltinModule !== 'function' || !proc.versions?.['node']) return undefined
  // Bun, Deno and Workers (nodejs_compat) offer node:http as a compatibility layer, with a
  // `process` that looks like Node's: their own fetch is the safer choice there.
  if (proc.versions['bun'] || 'Deno' in globalThis || global.navigator?.userAgent === 'Cloudflare-Workers') return undefined
  const load = proc.getBuiltinModule as (id: string) => unknown
  try {
    const http = load('http') as NodeHttp | undefined
    const https = load('https') as NodeHttp | undefined
    const stream = load('stream') as { Readable?: { toWeb?: NodeModules['toWeb'] } } | undefined
    const toWeb = stream?.Readable?.toWeb
    if (!http || !https || typeof toWeb !== 'function') return undefined
    return { http, https, toWeb: (r) => toWeb(r) }
  } catch {
    return undefined
  }
}

/** One request; follows a GET's redirects like fetch does. */
function request(modules: NodeModules, url: URL, init: RequestInit, hops: number): Promise<Response> {
  const method = (init.method ?? 'GET').toUpperCase()
  const signal = init.signal ?? undefined
  return new Promise<Response>((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason)
    const client = url.protocol === 'https:' ? modules.https : url.protocol === 'http:' ? modules.http : undefined
    if (!client) return reject(new TypeError(`cannot fetch a ${url.protocol} URL`))
    const headers = Object.fromEntries(new Headers(init.headers).entries())
    // agent: false: a connection of its own, never one from a pool that a caller's requests share.
    const req = client.request(url, { method, headers, agent: false }, (res) => {
      const status = res.statusCode ?? 0
      const location = res.headers['location']
      if (REDIRECTS.has(status) && typeof location === 'string' && method === 'GET' && hops < MAX_REDIRECTS) {
        res.resume()
        resolve(request(modules, new URL(location, url), init, hops + 1))
        return
      }
      if (status < 200 || status > 599) {
        res.resume()
        reject(new TypeError(`unexpected HTTP status ${status}`))
        return
      }
      const answer = new Headers()
      for (let i = 0; i + 1 < res.rawHeaders.length; i += 2) answer.append(res.rawHeaders[i] as string, res.rawHeaders[i + 1] as string)
      const empty = NO_BODY.has(status) || method === 'HEAD'
      if (empty) res.resume()
      resolve(new Response(empty ? null : modules.toWeb(res), { status, headers: answer }))
    })
    // Destroying the request also errors its response body: a stalled read ends with the abort.
    const onAbort = () => req.destroy(signal?.reason instanceof Error ? signal.reason : new Error('aborted'))
    signal?.addEventListener('abort', onAbort, { once: true })
    req.on('close', () => signal?.removeEventListener('abort', onAbort))
    // The point of this module: an open request does not hold the process.
    req.on('socket', (socket) => socket.unref?.())
    req.on('error', reject)
    req.end()
  })
}
