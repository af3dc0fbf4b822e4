/**
 * The approval page in a real browser: headless Chromium (Debian's `chromium`, driven by
 * playwright-core; no browser is downloaded) against the real service started in this process.
 * Alice imports her PEM key through the file input and sees both requests her agents filed —
 * the chain, action, arguments and intent as text, hostile strings included, which show
 * literally (or, for bidi and control characters, as visible escapes) and run nothing — approves
 * one (the library then reads it approved, and the agent's verifier allows the invocation with
 * that approval), sees a request filed after the page loaded appear live, and denies one with a
 * note (the agent's library then reads it denied, by Alice, with her note).
 * A second browser creates a non-extractable WebCrypto key, shows its did:key, and approves,
 * once that did:key is an approver of a mandate. Every request the page sends is signed in the
 * browser; none carries the secret. Screenshots go to reports/screenshots/ (gitignored); an
 * axe-core scan finds no serious or critical violation.
 *
 * Needs `npm run build` first (the page's script is dist/page/approvals.js; `npm test` builds).
 * Without Chromium this says so loudly and skips, except in CI (CI or MANDATE_REQUIRE_CHROMIUM
 * set, as .ci/run does), where it fails. MANDATE_CHROMIUM names another binary.
 */
import { readFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import type { Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  attenuate,
  awaitApproval,
  createAmendment,
  createVerifier,
  exportSecretKeyPem,
  fileApprovalRequest,
  formatInvocation,
  formatRevocation,
  generateKeyPair,
  invoke,
  type KeyPair,
  listApprovalRequests,
  mint,
  readApprovalRequest,
  toDidKey,
  type UnverifiedInvocation,
  type UnverifiedMandate,
} from '../../src/index.js'
import { toHex } from '../../src/internal/bytes.js'
import { type ApprovalBrowser, approvalBrowser, findChromium, loadKey, shoot, type Watched, writePemFile } from '../helpers/browser.js'
import { type ServiceUnderTest, startInProcess } from '../helpers/service.js'

const { executablePath, available } = findChromium()

const AXE = join(resolve(import.meta.dirname, '../..'), 'node_modules/axe-core/axe.min.js')

const alice = generateKeyPair()
const assistant = generateKeyPair()
const helper = generateKeyPair()
const ALICE = toDidKey(alice.publicKey)
const now = () => Math.floor(Date.now() / 1000)

/** Alice grants her assistant email; sending needs her approval. */
const grant = mint({
  principal: alice,
  to: toDidKey(assistant.publicKey),
  name: 'assistant',
  purpose: 'run my inbox',
  caveats: [
    { type: 'actions', patterns: ['email:*'] },
    { type: 'approval', actions: ['email:send'], approvers: [ALICE], quorum: 1 },
    { type: 'uses', max: 20, per: 86_400 },
    { type: 'window', expires: now() + 3600 },
  ],
})

// What a hostile agent writes where a person will read it.
const IMG = '<img src=x onerror="window.__pwned=1">'
const SCRIPT = '"><script>window.__pwned=2</script>'
const RTL = 'invoice\u202Efdp.exe'
const CONTROL = 'ok\u001b[2J\u0007\u0000done'
const hostileName = `helper ${SCRIPT}`
/** The assistant hands a sub-agent, named with markup, email sending. */
const sub = attenuate(grant, {
  key: assistant,
  to: toDidKey(helper.publicKey),
  name: hostileName,
  purpose: `triage ${RTL}`,
  caveats: [{ type: 'actions', patterns: ['email:send'] }],
})

function send(mandate: UnverifiedMandate, key: KeyPair, args: Record<string, string>, intent: string): UnverifiedInvocation {
  return invoke(mandate, { key, action: 'email:send', resource: 'mail/outbox', args, audience: 'mail', intent })
}

let service: ServiceUnderTest
let browser: ApprovalBrowser

beforeAll(async () => {
  if (!available) return
  browser = await approvalBrowser(executablePath)
  service = await startInProcess({ roots: [`alice=${ALICE}`] })
}, 60_000)

afterAll(async () => {
  await browser?.close()
  await service?.stop()
})

/** The page in a fresh browser, its clock `clockAheadMs` fast, CSP violations recorded, its headers checked. */
async function openPage(clockAheadMs = 0): Promise<Watched> {
  const clock = clockAheadMs === 0 ? {} : { clockMs: Date.now() + clockAheadMs }
  const watched = await browser.open(service.url, { ...clock, recordViolations: true })
  expect(watched.headers['x-content-type-options']).toBe('nosniff')
  expect(watched.headers['referrer-policy']).toBe('no-referrer')
  return watched
}

/** The card of the request whose title contains `text`. */
const card = (page: Page, text: string) => page.locator('#requests > li', { has: page.locator('h3', { hasText: text }) })

interface Violation {
  readonly id: string
  readonly impact: string
  readonly nodes: number
  readonly help: string
}

async function axeScan(page: Page): Promise<Violation[]> {
  // Evaluated through the DevTools protocol, as a test harness does: the page's own CSP forbids
  // injected scripts, which is the point of it.
  await page.evaluate(readFileSync(AXE, 'utf8'))
  return page.evaluate<Violation[]>(`
    axe.run(document, { resultTypes: ['violations'] }).then(({ violations }) =>
      violations.map((v) => ({ id: v.id, impact: v.impact, nodes: v.nodes.length, help: v.help })))
  `)
}

describe.skipIf(!available)('the approval page in headless Chromium', () => {
  it('Alice loads her PEM key, reads both requests (hostile text shown, never run), approves one, sees a new one live, denies one', async () => {
    const plain = send(grant, assistant, { to: 'bob@example.com', subject: 'Lunch', body: 'See you at noon.' }, 'confirm lunch with Bob')
    const hostile = send(
      sub,
      helper,
      { to: 'eve@example.com', subject: SCRIPT, body: IMG, attachment: RTL, footer: CONTROL },
      `${IMG} forward the ${RTL} ${CONTROL}`,
    )
    const filed = [
      await fileApprovalRequest(formatInvocation(plain), { url: service.url }),
      await fileApprovalRequest(formatInvocation(hostile), { url: service.url }),
    ]
    // Alice has since tightened the sub-agent's block (an amendment): its card says so, escaped.
    const amendment = createAmendment({ mandate: sub, key: alice, caveats: [{ type: 'uses', max: 5 }], reason: `slow down ${IMG} ${RTL}` })
    const posted = await fetch(`${service.url}/v1/revocations`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ revocation: formatRevocation(amendment) }),
    })
    expect(posted.status).toBe(201)

    const { page, errors, dialogs, sent, failed } = await openPage()
    await loadKey(page, writePemFile(alice, 'alice.pem'), ALICE)
    expect(await page.textContent('#key-source')).toContain("kept in this page's memory only")
    await expect.poll(() => page.locator('#requests > li').count()).toBe(2)
    await expect.poll(() => page.textContent('#connection')).toBe('Live updates: on.')

    // Newest first, in the service's order (by filing time, then id).
    const titleOf = (id: string) => `email:send on mail/outbox, asked by ${id === hostile.idHex ? hostileName : 'assistant'}`
    const listed = await listApprovalRequests(alice, { url: service.url })
    expect(await page.locator('#requests h3').allTextContents()).toEqual(listed.pending.map((r) => titleOf(r.id)))

    const first = card(page, 'asked by assistant')
    const firstText = (await first.textContent()) as string
    for (const shown of [
      'assistant',
      toDidKey(assistant.publicKey),
      'run my inbox',
      ALICE,
      'email:send',
      'mail/outbox',
      'mail',
      'confirm lunch with Bob',
      'at most 20 uses per 86400s',
    ]) {
      expect(firstText).toContain(shown)
    }
    // Formatted JSON, in the invocation's own (canonical CBOR) key order.
    expect(await first.locator('pre.args').textContent()).toBe(JSON.stringify(plain.args, null, 2))
    // Drawn as written, left to right: right-to-left letters reorder neither digits nor the JSON.
    const style = await page.evaluate(
      `(() => { const s = getComputedStyle(document.querySelector('#requests pre.args')); return [s.direction, s.unicodeBidi, s.maxHeight, s.overflowY] })()`,
    )
    // And whole, not in a box that scrolls: every argument is in sight before the buttons.
    expect(style).toEqual(['ltr', 'bidi-override', 'none', 'visible'])
    expect(plain.args).toEqual({ to: 'bob@example.com', subject: 'Lunch', body: 'See you at noon.' })

    // The hostile strings: markup appears literally, bidi and control characters as escapes.
    const bad = card(page, 'helper')
    const badText = (await bad.textContent()) as string
    expect(badText).toContain(hostileName)
    expect(badText).toContain(toDidKey(helper.publicKey))
    expect(badText).toContain(`${IMG} forward the invoice\\u202efdp.exe ok\\x1b[2J\\x07\\x00done`)
    expect(badText).toContain('triage invoice\\u202efdp.exe')
    // The amendment in force on its block: who, why (escaped), what it adds, and its quota.
    expect(badText).toContain('Amended since')
    expect(badText).toContain(`Why: slow down ${IMG} invoice\\u202efdp.exe`)
    expect(badText).toContain('at most 5 uses')
    expect(badText).toContain('5 of 5 left (block 1')
    expect(firstText).not.toContain('Amended since')
    const args = (await bad.locator('pre.args').textContent()) as string
    expect(args).toContain(`"body": ${JSON.stringify(IMG)}`)
    expect(args).toContain(`"subject": ${JSON.stringify(SCRIPT)}`)
    expect(args).toContain('"attachment": "invoice\\u202efdp.exe"')
    expect(args).toContain('"footer": "ok\\u001b[2J\\u0007\\u0000done"')
    const dom = await page.evaluate(`({
      pwned: window.__pwned,
      imgs: document.querySelectorAll('img').length,
      scripts: [...document.querySelectorAll('script')].map((s) => s.getAttribute('src')),
      raw: ['\\u202e', '\\u0000', '\\u0007', '\\u001b'].some((c) => document.body.textContent.includes(c)),
      violations: window.__violations,
    })`)
    expect(dom).toEqual({ pwned: undefined, imgs: 0, scripts: ['approvals.js'], raw: false, violations: [] })
    expect(dialogs).toEqual([])
    await shoot(page, 'approval-page-1-requests')

    // Approve the plain one: signed in the browser, posted, and the agent may go ahead.
    await first.getByRole('button', { name: 'Approve' }).click()
    await expect.poll(() => first.locator('.outcome').textContent()).toContain('You approved it')
    const state = await readApprovalRequest(plain.idHex, assistant, { url: service.url })
    expect(state.status).toBe('approved')
    expect(Object.keys(state.approvals)).toEqual([ALICE])
    const verifier = createVerifier({ roots: [ALICE], audience: 'mail', revocations: 'none' })
    expect((await verifier.authorize({ invocation: plain })).allowed).toBe(false)
    expect((await verifier.authorize({ invocation: plain, approvals: Object.values(state.approvals) })).allowed).toBe(true)

    // A request filed after the page loaded shows up live, in its place (newest first).
    const late = send(grant, assistant, { to: 'carol@example.com', subject: 'Report' }, 'send the weekly report')
    filed.push(await fileApprovalRequest(formatInvocation(late), { url: service.url }))
    await expect.poll(() => page.locator('#requests > li').count(), { timeout: 10_000 }).toBe(3)
    await expect.poll(() => page.textContent('#announcer')).toBe('New request: email:send on mail/outbox, asked by assistant')
    const newestFirst = [...filed].sort((a, b) => b.createdAt - a.createdAt || (b.id < a.id ? -1 : 1)).map((r) => r.id)
    const shownIds = await page.locator('#requests dd code.id').allTextContents()
    expect(shownIds).toEqual(newestFirst)
    expect(await page.locator('#requests > li').nth(newestFirst.indexOf(late.idHex)).locator('pre.args').textContent()).toContain(
      'carol@example.com',
    )
    await shoot(page, 'approval-page-2-approved-and-live')

    // Deny the hostile one: a note is required; the service records it, and the agent is told.
    await bad.getByRole('button', { name: 'Deny with this note' }).click()
    expect(await bad.locator('.field-error').textContent()).toBe('Write why you deny: the agent is told.')
    expect(await page.evaluate('document.activeElement.tagName')).toBe('TEXTAREA')
    await bad.getByLabel('Note to the agent, if you deny').fill('I never asked for this. <b>no</b>')
    await bad.getByRole('button', { name: 'Deny with this note' }).click()
    await expect.poll(() => bad.locator('.outcome').textContent()).toBe('You denied it: I never asked for this. <b>no</b>')
    expect(await bad.locator('.status').textContent()).toBe('Denied.')
    expect(await page.evaluate('document.querySelectorAll("b").length')).toBe(0)
    const denial = sent.find((r) => r.url.endsWith(`/v1/approvals/${hostile.idHex}/deny`))
    expect(JSON.parse(denial?.body ?? '{}')).toEqual({ reason: 'I never asked for this. <b>no</b>' })
    expect(denial?.headers['signature-input']).toContain(`keyid="${ALICE}"`)
    // The agent that filed it (the sub-agent, its requester) reads who refused and why, at once.
    const refused = { by: ALICE, reason: 'I never asked for this. <b>no</b>', at: expect.any(Number) }
    const asAgent = await readApprovalRequest(hostile.idHex, helper, { url: service.url })
    expect(asAgent).toMatchObject({ id: hostile.idHex, status: 'denied', approvals: {}, denial: refused })
    const waitedAt = Date.now()
    expect(await awaitApproval(hostile.idHex, helper, { url: service.url, withinMs: 20_000 })).toEqual(asAgent)
    expect(Date.now() - waitedAt).toBeLessThan(5000)
    expect((await listApprovalRequests(alice, { url: service.url })).pending.map((r) => r.id)).not.toContain(hostile.idHex)
    await shoot(page, 'approval-page-3-denied')

    const violations = await axeScan(page)
    expect(violations.filter((v) => v.impact === 'serious' || v.impact === 'critical')).toEqual([])

    // Every request the page made was signed by Alice's key, and none carried her secret.
    const api = sent.filter((r) => r.url.includes('/v1/'))
    expect(api.length).toBeGreaterThanOrEqual(4)
    for (const r of api) expect(r.headers['signature-input'], r.url).toContain(`keyid="${ALICE}"`)
    const pemBody = exportSecretKeyPem(alice.secretKey).split('\n')[1] as string
    const secrets = [
      pemBody,
      toHex(alice.secretKey),
      Buffer.from(alice.secretKey).toString('base64'),
      Buffer.from(alice.secretKey).toString('base64url'),
    ]
    for (const r of sent) for (const s of secrets) expect(`${r.url} ${JSON.stringify(r.headers)} ${r.body}`).not.toContain(s)
    expect(errors).toEqual([])
    // Nothing failed but the browser's own icon request.
    expect(failed.filter((f) => f !== '404 /favicon.ico')).toEqual([])
  })

  it('a key created in the browser: non-extractable, kept in IndexedDB, its did:key registered as an approver, approves', async () => {
    // This browser's clock is 10 minutes fast: the page signs on the service's clock all the same.
    const { page, errors, failed } = await openPage(10 * 60_000)
    // By keyboard alone: the skip link, the key file, then the button that creates a key.
    const focused = () =>
      page.evaluate<{ label: string; outline: string }>(`(() => {
        const e = document.activeElement
        const label = e.id ? document.querySelector('label[for="' + e.id + '"]') : null
        return { label: (label ?? e).textContent, outline: getComputedStyle(e).outlineStyle }
      })()`)
    await page.keyboard.press('Tab')
    expect(await focused()).toEqual({ label: 'Skip to the requests', outline: 'solid' })
    await page.keyboard.press('Tab')
    expect((await focused()).label).toBe('Load your key file')
    await page.keyboard.press('Tab')
    expect(await focused()).toEqual({ label: 'Create a key in this browser', outline: 'solid' })
    await page.keyboard.press('Enter')
    await expect.poll(() => page.textContent('#key-did')).toMatch(/^did:key:z6Mk/)
    const did = (await page.textContent('#key-did')) as string
    expect(await page.textContent('#key-source')).toContain('non-extractable')
    // What IndexedDB holds: a CryptoKey that cannot be exported.
    const stored = await page.evaluate(`new Promise((done, fail) => {
      const open = indexedDB.open('mandate-approvals', 1)
      open.onerror = () => fail(open.error)
      open.onsuccess = () => {
        const get = open.result.transaction('keys').objectStore('keys').get('approver')
        get.onsuccess = () => done({ kind: get.result.kind, extractable: get.result.privateKey.extractable, type: get.result.privateKey.type })
      }
    })`)
    expect(stored).toEqual({ kind: 'webcrypto', extractable: false, type: 'private' })
    // The list is fetched once the key exists: a signed request, answered after a durable write.
    await expect.poll(() => page.textContent('#list-status')).toBe('Nothing is waiting for you.')
    await shoot(page, 'approval-page-4-browser-key')

    // Alice makes that key an approver of a new grant; the agent asks; the page shows it live.
    const team = mint({
      principal: alice,
      to: toDidKey(assistant.publicKey),
      name: 'assistant',
      caveats: [
        { type: 'actions', patterns: ['calendar:*'] },
        { type: 'approval', actions: ['calendar:delete'], approvers: [did], quorum: 1 },
        { type: 'window', expires: now() + 3600 },
      ],
    })
    const inv = invoke(team, {
      key: assistant,
      action: 'calendar:delete',
      resource: 'calendar/standup',
      audience: 'calendar',
      intent: 'the meeting moved',
    })
    await fileApprovalRequest(formatInvocation(inv), { url: service.url })
    const shown = card(page, 'calendar:delete')
    await expect.poll(() => shown.count(), { timeout: 10_000 }).toBe(1)
    await shown.getByRole('button', { name: 'Approve' }).click()
    await expect.poll(() => shown.locator('.outcome').textContent()).toContain('You approved it')
    const state = await readApprovalRequest(inv.idHex, assistant, { url: service.url })
    expect([state.status, Object.keys(state.approvals)]).toEqual(['approved', [did]])
    const verifier = createVerifier({ roots: [ALICE], audience: 'calendar', revocations: 'none' })
    expect((await verifier.authorize({ invocation: inv, approvals: Object.values(state.approvals) })).allowed).toBe(true)
    await shoot(page, 'approval-page-5-browser-key-approved')

    // The key is still there after a reload (IndexedDB), and used at once.
    await page.reload()
    await page.waitForSelector('body[data-ready="true"]')
    expect(await page.textContent('#key-did')).toBe(did)
    const violations = await axeScan(page)
    expect(violations.filter((v) => v.impact === 'serious' || v.impact === 'critical')).toEqual([])
    expect(errors).toEqual([])
    // Its first signed request was refused as stale, and the next ones, on the service clock, were not.
    // (once at the first load, once after the reload: the page learns the offset anew)
    expect(failed.filter((f) => f !== '404 /favicon.ico')).toEqual(['401 /v1/approvals', '401 /v1/approvals'])
  })
})
