/**
 * The approval page (spec/service-v1.md §7.1): `GET /approvals/` serves one HTML page, its
 * stylesheet and its script, built from src/page/ into dist/page/ by `npm run build`. The page
 * holds the approver's key in the browser and signs every request there; the service only
 * serves static files, under a strict Content-Security-Policy.
 *
 * Files are read once, on first request, and kept in memory with a strong ETag: the page
 * revalidates (`no-cache`), and an unchanged file answers 304.
 *
 * @module
 */
import type { Context, Hono } from 'hono'
import { sha256 } from '../crypto/hash.js'
import { toHex } from '../internal/bytes.js'
import { ServiceError } from './errors.js'

/** The page's policy: its own script, style and API, nothing else; no framing, no forms, no base. */
export const APPROVAL_PAGE_CSP =
  "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

/** The files of the page, by the name it is served under, with their media types. */
const FILES: Readonly<Record<string, string>> = {
  'index.html': 'text/html; charset=utf-8',
  'approvals.css': 'text/css; charset=utf-8',
  'approvals.js': 'text/javascript; charset=utf-8',
}

/** Headers every file of the page carries. */
const SECURITY_HEADERS: Readonly<Record<string, string>> = {
  'content-security-policy': APPROVAL_PAGE_CSP,
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-resource-policy': 'same-origin',
}

interface Asset {
  readonly body: Uint8Array<ArrayBuffer>
  readonly type: string
  readonly etag: string
}

/**
 * Where each file of the page is: in dist/page/ (beside the running service when it runs from
 * dist/, or the checkout's when it runs from src/ under tsx or the tests), else in src/page/
 * (a checkout not built yet has the page and its stylesheet there, but no script).
 */
const PLACES = ['../../dist/page/', '../page/']

/**
 * Serve the approval page at `/approvals/` (`/approvals` redirects there). `dir` overrides
 * where the built files are read from.
 *
 * @example
 * ```ts
 * mountApprovalPage(app) // GET /approvals/, /approvals/approvals.css, /approvals/approvals.js
 * ```
 */
export function mountApprovalPage(app: Hono, options: { readonly dir?: string } = {}): void {
  let loading: Promise<Map<string, Asset>> | undefined
  const load = async (): Promise<Map<string, Asset>> => {
    const { readFile } = await import('node:fs/promises')
    const { fileURLToPath } = await import('node:url')
    const dirs = options.dir === undefined ? PLACES.map((p) => fileURLToPath(new URL(p, import.meta.url))) : [options.dir]
    const assets = new Map<string, Asset>()
    for (const [name, type] of Object.entries(FILES)) {
      for (const dir of dirs) {
        const body = await readFile(`${dir.replace(/\/?$/, '/')}${name}`).then(
          (b) => new Uint8Array(b),
          () => undefined,
        )
        if (body === undefined) continue
        assets.set(name, { body, type, etag: `"${toHex(sha256(body)).slice(0, 32)}"` })
        break
      }
    }
    return assets
  }
  const serve = async (c: Context, name: string) => {
    loading ??= load().catch((e: unknown) => {
      loading = undefined
      throw e
    })
    const asset = (await loading).get(name)
    if (!asset) {
      throw new ServiceError(404, 'ERR_NOT_FOUND', 'the approval page is not built: run `npm run build` in the checkout')
    }
    const headers: Record<string, string> = { ...SECURITY_HEADERS, etag: asset.etag, 'cache-control': 'no-cache' }
    if (c.req.header('if-none-match') === asset.etag) return c.body(null, 304, headers)
    return c.body(asset.body, 200, { ...headers, 'content-type': asset.type })
  }

  // A redirect, not an operation of the API: middleware, so that it is no route of its own.
  app.use('/approvals', async (c, next) => {
    if (c.req.method !== 'GET' && c.req.method !== 'HEAD') return next()
    return c.redirect('approvals/', 308)
  })
  app.get('/approvals/', (c) => serve(c, 'index.html'))
  app.get('/approvals/:file', (c) => {
    const file = c.req.param('file')
    if (file === 'index.html' || !Object.hasOwn(FILES, file)) {
      throw new ServiceError(404, 'ERR_NOT_FOUND', 'no such file of the approval page')
    }
    return serve(c, file)
  })
}
