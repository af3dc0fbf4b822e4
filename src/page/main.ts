/**
 * The approval page (served by the service at `/approvals/`, spec/service-v1.md §7.1): the
 * approver loads or creates its key in the browser, reads the requests waiting for it, newest
 * first, and approves or denies each; new requests and answers arrive live (§7.2). Every request
 * is signed here with the approver's key, whose secret never leaves the browser.
 *
 * @module
 */
import { printable } from '../internal/printable.js'
import { type Answer, errorOf, followStream, listPending, postApproval, postDenial, type StreamState, serviceNow } from './inbox.js'
import { type ApproverKey, createBrowserKey, forgetBrowserKey, keyFromPem, loadBrowserKey } from './keys.js'
import { type Card, cardError, closeCard, fillExpiry, renderCard, updateCard } from './render.js'
import type { ServerSentEvent } from './sse.js'
import { type RequestView, titleOf, viewOf } from './view.js'

const $ = <T extends HTMLElement>(id: string): T => {
  const node = document.getElementById(id)
  if (!node) throw new Error(`the page has no #${id}`)
  return node as T
}

const ui = {
  keyCurrent: $<HTMLElement>('key-current'),
  keyDid: $<HTMLElement>('key-did'),
  keySource: $<HTMLElement>('key-source'),
  keyError: $<HTMLElement>('key-error'),
  pemFile: $<HTMLInputElement>('pem-file'),
  createKey: $<HTMLButtonElement>('create-key'),
  useBrowserKey: $<HTMLButtonElement>('use-browser-key'),
  forgetKey: $<HTMLButtonElement>('forget-key'),
  copyDid: $<HTMLButtonElement>('copy-did'),
  insecure: $<HTMLElement>('insecure'),
  listStatus: $<HTMLElement>('list-status'),
  requests: $<HTMLOListElement>('requests'),
  loadMore: $<HTMLButtonElement>('load-more'),
  connection: $<HTMLElement>('connection'),
  announcer: $<HTMLElement>('announcer'),
}

let key: ApproverKey | undefined
let browserKey: ApproverKey | undefined
let next: string | undefined
let stream: { close(): void } | undefined
const cards = new Map<string, Card>()

/** Say something to screen-reader users (the polite live region), once per call. */
function announce(message: string): void {
  ui.announcer.textContent = ''
  setTimeout(() => {
    ui.announcer.textContent = message
  }, 60)
}

/** A service error answer in words, escaped. */
function refusal(answer: Answer, what: string): string {
  const e = errorOf(answer)
  return e === undefined
    ? `${what}: the service answered ${answer.status}.`
    : `${what}: the service answered ${answer.status}, ${printable(e.code, 64)}: ${printable(e.message, 300)}`
}

// ---- the key --------------------------------------------------------------------------------

function describeKey(k: ApproverKey): string {
  if (k.source === 'file') {
    return `From the key file ${printable(k.label ?? '', 120)}, kept in this page's memory only: reloading or closing the page forgets it. It was not stored, and it is never sent.`
  }
  if (k.source === 'webcrypto') {
    return "This browser's key: made by this browser as non-extractable (its secret cannot be read out of the browser, not even by this page) and kept in this browser's storage for this site. Register its did:key as an approver (mandate grant … --approval ACTION --approver DID)."
  }
  return "This browser's key, made by this page because this browser's WebCrypto has no Ed25519: it is kept as bytes in this browser's storage for this site, where this site's scripts could read it. Prefer a key file, or a browser with WebCrypto Ed25519."
}

function showKeyControls(): void {
  ui.createKey.hidden = browserKey !== undefined
  ui.forgetKey.hidden = browserKey === undefined
  ui.useBrowserKey.hidden = browserKey === undefined || key === browserKey
}

function keyError(message: string | undefined): void {
  ui.keyError.textContent = message ?? ''
  ui.keyError.hidden = message === undefined
}

/** Use `k` from now on: show it, list its inbox, follow its stream. */
async function useKey(k: ApproverKey): Promise<void> {
  key = k
  keyError(undefined)
  ui.keyCurrent.hidden = false
  ui.keyDid.textContent = k.did
  ui.keySource.textContent = describeKey(k)
  showKeyControls()
  stream?.close()
  cards.clear()
  ui.requests.replaceChildren()
  next = undefined
  ui.loadMore.hidden = true
  ui.listStatus.textContent = 'Loading the requests waiting for you…'
  await loadPage()
  stream = followStream({ key: k, onEvent, onState })
}

ui.pemFile.addEventListener('change', async () => {
  const file = ui.pemFile.files?.[0]
  if (!file) return
  try {
    const text = await file.text()
    const k = keyFromPem(text, file.name)
    announce(`Key loaded: ${k.did}`)
    await useKey(k)
  } catch (e) {
    keyError(`That file is not a key this page can use: ${printable(e instanceof Error ? e.message : String(e), 300)}`)
  } finally {
    // The file is read; the input keeps nothing of it.
    ui.pemFile.value = ''
  }
})

ui.createKey.addEventListener('click', async () => {
  ui.createKey.disabled = true
  try {
    browserKey = await createBrowserKey()
    announce(`A key was created in this browser: ${browserKey.did}`)
    await useKey(browserKey)
    ui.keyDid.focus()
  } catch (e) {
    keyError(`No key could be created here: ${printable(e instanceof Error ? e.message : String(e), 300)}`)
  } finally {
    ui.createKey.disabled = false
  }
})

ui.useBrowserKey.addEventListener('click', () => {
  if (browserKey) void useKey(browserKey)
})

ui.forgetKey.addEventListener('click', async () => {
  if (!browserKey) return
  if (!window.confirm("Forget this browser's key? It cannot be recovered: approvals it signed stay valid, but it can sign no more.")) return
  await forgetBrowserKey()
  const was = browserKey
  browserKey = undefined
  if (key === was) {
    key = undefined
    stream?.close()
    cards.clear()
    ui.requests.replaceChildren()
    ui.keyCurrent.hidden = true
    ui.loadMore.hidden = true
    ui.listStatus.textContent = 'Load a key to see the requests waiting for it.'
    ui.connection.textContent = 'Live updates: off.'
  }
  showKeyControls()
  announce("This browser's key was forgotten.")
  ui.createKey.focus()
})

ui.copyDid.addEventListener('click', async () => {
  if (!key) return
  try {
    await navigator.clipboard.writeText(key.did)
    announce('The did:key was copied.')
  } catch {
    announce('Copying is not allowed here: select the did:key and copy it.')
  }
})

// ---- the list ---------------------------------------------------------------------------------

function countText(): void {
  const open = [...cards.values()].filter((c) => !c.done).length
  ui.listStatus.textContent =
    open === 0 ? 'Nothing is waiting for you.' : `${open} request${open === 1 ? '' : 's'} waiting for you, newest first.`
}

/** Insert a card at its place: newest first (createdAt, then id, both descending). */
function place(card: Card): void {
  const after = [...cards.values()].find(
    (c) => c !== card && (c.createdAt < card.createdAt || (c.createdAt === card.createdAt && c.id < card.id)),
  )
  if (after) ui.requests.insertBefore(card.root, after.root)
  else ui.requests.append(card.root)
}

/** Show a request (new), or update the one shown. Returns whether it was new. */
function upsert(request: unknown): boolean {
  if (!key) return false
  const view = viewOf(request, key.did)
  const shown = cards.get(view.id)
  if (shown) {
    if (!shown.done) updateCard(shown, view)
    return false
  }
  const card = renderCard(view, serviceNow())
  card.approve.addEventListener('click', () => void approveCard(card))
  card.deny.addEventListener('click', () => void denyCard(card))
  cards.set(view.id, card)
  place(card)
  return true
}

async function loadPage(): Promise<void> {
  const k = key
  if (!k) return
  const answer = await listPending(k, next).catch(
    (e: unknown): Answer => ({ status: 0, body: { error: { code: 'network', message: String(e) } } }),
  )
  if (key !== k) return
  if (answer.status !== 200 || !Array.isArray(answer.body['pending'])) {
    ui.listStatus.textContent = refusal(answer, 'The requests could not be read')
    return
  }
  for (const r of answer.body['pending']) upsert(r)
  next = typeof answer.body['next'] === 'string' ? answer.body['next'] : undefined
  ui.loadMore.hidden = next === undefined
  countText()
}

ui.loadMore.addEventListener('click', () => void loadPage())

// ---- approve, deny ----------------------------------------------------------------------------

function busy(card: Card, on: boolean, message?: string): void {
  card.approve.disabled = on || !card.view.invocation
  card.deny.disabled = on
  card.root.setAttribute('aria-busy', on ? 'true' : 'false')
  if (message !== undefined) {
    card.outcome.className = 'outcome'
    card.outcome.removeAttribute('role')
    card.outcome.textContent = message
  }
}

async function approveCard(card: Card): Promise<void> {
  const k = key
  const invocation = card.view.invocation
  if (!k || !invocation || card.done) return
  // The approval signs the invocation's id: it must be this request's.
  if (invocation.idHex !== card.id) {
    cardError(card, 'The signed request is not the one this card shows: nothing was signed.')
    return
  }
  busy(card, true, 'Signing the approval in this browser and sending it…')
  try {
    const approval = await k.approve(invocation, serviceNow())
    const answer = await postApproval(k, card.id, approval)
    busy(card, false)
    if (answer.status === 200) {
      const done = viewOf(answer.body, k.did)
      updateCard(card, done)
      closeCard(
        card,
        done.status === 'approved'
          ? 'You approved it. Every approval it needs is given: the agent may go ahead.'
          : 'You approved it. It still waits for other approvers.',
        'ok',
      )
      announce(`Approved: ${titleOf(card.view)}`)
      countText()
    } else cardError(card, refusal(answer, 'The approval was not accepted'))
  } catch (e) {
    busy(card, false)
    cardError(card, `The approval could not be sent: ${printable(e instanceof Error ? e.message : String(e), 300)}`)
  }
}

async function denyCard(card: Card): Promise<void> {
  const k = key
  if (!k || card.done) return
  const reason = card.note.value.trim()
  const length = [...reason].length
  if (length === 0 || length > 500) {
    card.noteError.textContent =
      length === 0 ? 'Write why you deny: the agent is told.' : `The note is ${length} characters long: at most 500.`
    card.note.setAttribute('aria-invalid', 'true')
    card.note.focus()
    return
  }
  card.noteError.textContent = ''
  card.note.removeAttribute('aria-invalid')
  busy(card, true, 'Sending the denial…')
  try {
    const answer = await postDenial(k, card.id, reason)
    busy(card, false)
    const e = errorOf(answer)
    if (answer.status === 200) {
      const done = viewOf(answer.body, k.did)
      updateCard(card, done)
      // The reason the service kept (a retry keeps the first one), escaped by viewOf.
      closeCard(card, `You denied it: ${done.denial?.reason ?? printable(reason)}`, 'ok')
      announce(`Denied: ${titleOf(card.view)}`)
      countText()
    } else if (answer.status === 404 && e?.message.startsWith('no route') !== true) {
      closeCard(card, 'This request no longer exists.', 'closed')
    } else cardError(card, refusal(answer, 'The denial was not accepted'))
  } catch (e) {
    busy(card, false)
    cardError(card, `The denial could not be sent: ${printable(e instanceof Error ? e.message : String(e), 300)}`)
  }
}

// ---- live updates -----------------------------------------------------------------------------

const CLOSED: Readonly<Record<string, string>> = {
  approved: 'You approved it (here or elsewhere).',
  denied: 'It was denied.',
  expired: 'It expired: it can no longer be approved. The agent must ask again.',
  gone: 'It no longer exists.',
  closed: 'It is no longer waiting for you.',
}

function onEvent(event: ServerSentEvent): void {
  let data: Record<string, unknown>
  try {
    data = JSON.parse(event.data) as Record<string, unknown>
  } catch {
    return
  }
  if (event.event === 'ready' && Array.isArray(data['pending'])) {
    const pending = data['pending'] as unknown[]
    const fresh = pending.filter((r) => upsert(r))
    if (fresh.length > 0) announce(`${fresh.length} new request${fresh.length === 1 ? '' : 's'}.`)
    // A (re)connection's snapshot: what it covers and does not hold was answered or closed meanwhile.
    const ids = new Set(pending.map((r) => String((r as { id?: unknown })?.id)))
    const oldest = Math.min(...pending.map((r) => Number((r as { createdAt?: unknown })?.createdAt)))
    const full = pending.length >= 100
    for (const card of cards.values()) {
      if (!card.done && !ids.has(card.id) && (!full || card.createdAt >= oldest)) closeCard(card, CLOSED['closed'] as string, 'closed')
    }
    countText()
  } else if (event.event === 'request') {
    if (upsert(data)) {
      const card = cards.get(String(data['id']))
      if (card) announce(`New request: ${titleOf(card.view)}`)
    }
    countText()
  } else if (event.event === 'closed') {
    const card = cards.get(String(data['id']))
    if (card && !card.done) {
      const request = data['request']
      let view: RequestView | undefined
      if (request !== undefined && key) {
        view = viewOf(request, key.did)
        updateCard(card, view)
      }
      const reason = String(data['reason'])
      if (reason === 'expired') card.status.textContent = 'Expired.'
      const denial = view?.denial ? ` ${view.denial.by} said: ${view.denial.reason}` : ''
      closeCard(card, `${CLOSED[reason] ?? CLOSED['closed']}${denial}`, 'closed')
      announce(`${titleOf(card.view)}: ${CLOSED[reason] ?? CLOSED['closed']}`)
      countText()
    }
  }
}

function onState(s: StreamState): void {
  const text =
    s.state === 'open'
      ? 'Live updates: on.'
      : s.state === 'connecting'
        ? 'Live updates: connecting…'
        : s.state === 'waiting'
          ? `Live updates: interrupted (${printable(s.why, 200)}); trying again in ${s.seconds} s.`
          : `Live updates: off (${printable(s.why, 200)}). Reload the page to try again.`
  ui.connection.textContent = text
}

// The expiry times, kept current.
setInterval(() => {
  for (const card of cards.values()) if (!card.done) fillExpiry(card.expires, card.expiresAt, serviceNow())
}, 15_000)

// ---- start ------------------------------------------------------------------------------------

ui.insecure.hidden = window.isSecureContext
void (async () => {
  try {
    browserKey = await loadBrowserKey()
  } catch {
    browserKey = undefined
  }
  showKeyControls()
  if (browserKey && !key) await useKey(browserKey)
  document.body.dataset['ready'] = 'true'
})()
