/**
 * What the browser tests share: Debian's `chromium` (or MANDATE_CHROMIUM), driven headless by
 * playwright-core so that no browser is downloaded; and, for the approval page, a fresh context
 * per page that records what the page must not do, a PEM key loaded through its file input, and
 * screenshots in reports/screenshots/ (gitignored).
 */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { type Browser, type BrowserContext, type BrowserContextOptions, chromium, type Page } from 'playwright-core'
import { expect } from 'vitest'
import { exportSecretKeyPem, type KeyPair } from '../../src/index.js'
import { APPROVAL_PAGE_CSP } from '../../src/service/approval-page.js'
import { scratch } from './cli.js'

const repo = resolve(import.meta.dirname, '../..')
const SCREENSHOTS = join(repo, 'reports/screenshots')

/**
 * Where Chromium is and whether it is there. Without it the caller skips, and this says so
 * loudly, since a skip reads like a pass; in CI (CI or MANDATE_REQUIRE_CHROMIUM set, as .ci/run
 * does) it throws instead, so a runner without Chromium cannot pass unseen.
 */
export function findChromium(): { executablePath: string; available: boolean } {
  const executablePath = process.env['MANDATE_CHROMIUM'] ?? '/usr/bin/chromium'
  const available = existsSync(executablePath)
  if (!available) {
    const missing = `Chromium is not installed (${executablePath}): apt-get install chromium to run the browser tests`
    if (process.env['CI'] || process.env['MANDATE_REQUIRE_CHROMIUM']) throw new Error(`${missing}; CI requires them`)
    console.warn(`\n\n*** ${missing}. They are SKIPPED. ***\n`)
  }
  return { executablePath, available }
}

/**
 * Chromium's flags in every browser test: no sandbox (containers and root have none to give),
 * and none of the browser's own traffic, so that the only requests are the test's.
 */
export const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
]

/** What a page did that it must not (errors, dialogs), every request it sent, and the answers of 400 and above (`status path`). */
export interface Watched {
  readonly page: Page
  readonly errors: string[]
  readonly dialogs: string[]
  readonly sent: { url: string; headers: Record<string, string>; body: string }[]
  readonly failed: string[]
}

export interface OpenOptions {
  /** Added to the context's options (its viewport is always 1100×900). */
  readonly context?: BrowserContextOptions
  /** Where the browser's clock starts, in ms since the epoch; the real clock if absent. */
  readonly clockMs?: number
  /** Keep every CSP violation in `window.__violations`. */
  readonly recordViolations?: boolean
}

export interface ApprovalBrowser {
  /**
   * A fresh context on the approval page of the service at `url`, loaded and ready, its status
   * (200) and CSP checked; the page's other headers are returned for the caller to check.
   */
  open(url: string, options?: OpenOptions): Promise<Watched & { readonly headers: Record<string, string> }>
  /** Closes every context it opened, then the browser. */
  close(): Promise<void>
}

/** Chromium for the approval page, once dist/page/ is built and the screenshot directory exists. */
export async function approvalBrowser(executablePath: string): Promise<ApprovalBrowser> {
  if (!existsSync(join(repo, 'dist/page/approvals.js'))) throw new Error('dist/page/ is missing: run `npm run build` first (npm test does)')
  mkdirSync(SCREENSHOTS, { recursive: true })
  const browser: Browser = await chromium.launch({ executablePath, headless: true, args: CHROMIUM_ARGS })
  const contexts: BrowserContext[] = []
  return {
    async open(url, options = {}) {
      const context = await browser.newContext({ viewport: { width: 1100, height: 900 }, ...options.context })
      contexts.push(context)
      const page = await context.newPage()
      if (options.clockMs !== undefined) await page.clock.install({ time: options.clockMs })
      const watched: Watched = { page, errors: [], dialogs: [], sent: [], failed: [] }
      page.on('pageerror', (e) => watched.errors.push(`pageerror: ${String(e)}`))
      page.on('console', (m) => {
        // A failed load is reported by its response (below), with its URL.
        if (m.type() === 'error' && !m.text().startsWith('Failed to load resource')) watched.errors.push(`console: ${m.text()}`)
      })
      page.on('response', (r) => {
        if (r.status() >= 400) watched.failed.push(`${r.status()} ${new URL(r.url()).pathname}`)
      })
      page.on('dialog', (d) => {
        watched.dialogs.push(d.message())
        void d.dismiss()
      })
      page.on('request', (r) => watched.sent.push({ url: r.url(), headers: r.headers(), body: r.postData() ?? '' }))
      if (options.recordViolations) {
        // Recorded from the first instant: a CSP violation would mean something tried to run or load.
        await page.addInitScript(`
          window.__violations = []
          document.addEventListener('securitypolicyviolation', (e) => window.__violations.push(e.violatedDirective + ' ' + e.blockedURI))
        `)
      }
      const res = await page.goto(`${url}/approvals/`)
      expect(res?.status()).toBe(200)
      const headers = res?.headers() ?? {}
      expect(headers['content-security-policy']).toBe(APPROVAL_PAGE_CSP)
      await page.waitForSelector('body[data-ready="true"]')
      return { ...watched, headers }
    },
    async close() {
      for (const c of contexts) await c.close().catch(() => {})
      await browser.close()
    },
  }
}

/** `key`'s secret as the PEM file `name` (mode 600) in a scratch directory; the page shows that name. */
export function writePemFile(key: KeyPair, name: string): string {
  const file = join(scratch(), name)
  writeFileSync(file, exportSecretKeyPem(key.secretKey), { mode: 0o600 })
  return file
}

/** Loads the PEM `file` through the page's file input, and waits for the page to show `did`. */
export async function loadKey(page: Page, file: string, did: string): Promise<void> {
  await page.setInputFiles('#pem-file', file)
  await expect.poll(() => page.textContent('#key-did')).toBe(did)
}

/** A full-page screenshot, reports/screenshots/`name`.png. */
export const shoot = (page: Page, name: string) => page.screenshot({ path: join(SCREENSHOTS, `${name}.png`), fullPage: true })
