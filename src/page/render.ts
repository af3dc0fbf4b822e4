/**
 * The approval page's DOM, built with `createElement` and text nodes only: nothing a token or
 * the service carries is ever parsed as markup (no `innerHTML`, no attribute but those written
 * here with constant names and values of our own). What is shown is the escaped
 * {@link RequestView}.
 *
 * @module
 */
import { type RequestView, span, titleOf } from './view.js'

type Child = Node | string | undefined | false

/** An element with attributes of our own and text or element children. */
export function el<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attributes: Readonly<Record<string, string>> = {},
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag)
  for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, value)
  for (const child of children) {
    if (child === undefined || child === false) continue
    node.append(typeof child === 'string' ? document.createTextNode(child) : child)
  }
  return node
}

let serial = 0
/** A fresh id for an element of the page (never derived from data). */
export function freshId(prefix: string): string {
  serial += 1
  return `${prefix}-${serial}`
}

/** A time as the page shows it: local, with the ISO form in `datetime`. */
export function timeEl(seconds: number): HTMLTimeElement {
  const date = new Date(seconds * 1000)
  return el('time', { datetime: date.toISOString() }, date.toLocaleString())
}

/** "in 4 min", "2 h ago": how far `seconds` is from now. */
export function relative(seconds: number, now = Date.now() / 1000): string {
  const d = Math.round(seconds - now)
  const a = Math.abs(d)
  const amount =
    a < 90
      ? `${a} s`
      : a < 5400
        ? `${Math.round(a / 60)} min`
        : a < 172_800
          ? `${Math.round(a / 3600)} h`
          : `${Math.round(a / 86_400)} days`
  return d >= 0 ? `in ${amount}` : `${amount} ago`
}

/** The parts of a request's card that change after it is drawn. */
export interface Card {
  readonly id: string
  readonly root: HTMLLIElement
  readonly heading: HTMLHeadingElement
  readonly status: HTMLElement
  readonly approvers: HTMLUListElement
  readonly expires: HTMLElement
  readonly approve: HTMLButtonElement
  readonly note: HTMLTextAreaElement
  readonly deny: HTMLButtonElement
  readonly noteError: HTMLElement
  /** Where the outcome of an action, or an error, is written. */
  readonly outcome: HTMLElement
  readonly createdAt: number
  readonly expiresAt: number | undefined
  view: RequestView
  /** Answered here, closed by the service, or expired: no more actions. */
  done: boolean
}

function statusText(view: RequestView): string {
  if (view.status === 'pending') return 'Waiting for approval.'
  if (view.status === 'approved') return 'Approved: every approval it needs has been given.'
  if (view.status === 'denied') return 'Denied.'
  return `Status: ${view.status}.`
}

function fillApprovers(list: HTMLUListElement, view: RequestView): void {
  list.replaceChildren(
    ...view.approvers.map((a) =>
      el(
        'li',
        {},
        el('code', {}, a.key),
        a.you ? ' (you)' : '',
        a.approved ? el('span', { class: 'approved' }, ' — approved') : el('span', { class: 'waiting' }, ' — not yet'),
      ),
    ),
  )
}

/** Each `uses` limit of the chain with what is left of it, as the service counts it now. */
function quotaList(view: RequestView): Node | string {
  const quota = view.quota ?? []
  if (quota.length === 0) return el('span', { class: 'none' }, 'no limit on uses')
  return el(
    'ul',
    { class: 'quota' },
    ...quota.map((q) => {
      const holder = view.chain[q.block]?.name
      return el(
        'li',
        {},
        `${q.remaining} of ${q.max}${q.per === undefined ? '' : ` per ${span(q.per)}`} left`,
        ` (block ${q.block}${holder === undefined ? '' : `, ${holder}`})`,
      )
    }),
  )
}

/** The amendments in force on the chain: on which block, by whom, when, why, and what they add. */
function amendmentList(view: RequestView): Node {
  return el(
    'ul',
    { class: 'amendments' },
    ...(view.amendments ?? []).map((a) => {
      const holder = view.chain[a.block]?.name
      return el(
        'li',
        {},
        el(
          'p',
          {},
          `block ${a.block}${holder === undefined ? '' : ` (${holder})`}, by `,
          el('code', {}, a.by),
          a.at === undefined ? '' : ' ',
          a.at === undefined ? '' : timeEl(a.at),
        ),
        a.reason !== undefined && el('p', { class: 'purpose' }, 'Why: ', el('span', { class: 'value' }, a.reason)),
        el('ul', {}, ...a.caveats.map((c) => el('li', {}, c))),
      )
    }),
  )
}

/** "expires … (in 4 min)", `now` on the service clock. */
export function fillExpiry(target: HTMLElement, expiresAt: number | undefined, now: number): void {
  if (expiresAt === undefined) {
    target.replaceChildren('unknown')
    return
  }
  target.replaceChildren(timeEl(expiresAt), ` (${relative(expiresAt, now)})`)
}

/** Update what changes of a card: its status and its approvers. */
export function updateCard(card: Card, view: RequestView): void {
  card.view = view
  card.status.textContent = statusText(view)
  fillApprovers(card.approvers, view)
}

/** A request's card: what is asked, by whom, for whom and why; Approve, and Deny with a note. */
export function renderCard(view: RequestView, now: number): Card {
  const titleId = freshId('title')
  const noteId = freshId('note')
  const noteHelpId = freshId('note-help')
  const noteErrorId = freshId('note-error')
  const outcomeId = freshId('outcome')

  const heading = el('h3', { id: titleId, tabindex: '-1' }, titleOf(view))
  const status = el('p', { class: 'status' }, statusText(view))
  const approvers = el('ul', { class: 'approvers' })
  fillApprovers(approvers, view)
  const expires = el('span', { class: 'expires' })
  fillExpiry(expires, view.expiresAt, now)

  const chain = el(
    'ol',
    { class: 'chain' },
    ...view.chain.map((b) =>
      el(
        'li',
        {},
        el('p', { class: 'holder' }, el('strong', {}, b.name ?? `block ${b.index}`), ` (block ${b.index}${b.bearer ? ', bearer' : ''})`),
        el('p', { class: 'key' }, el('code', {}, b.key)),
        b.purpose !== undefined && el('p', { class: 'purpose' }, 'Purpose: ', el('span', { class: 'value' }, b.purpose)),
        b.conditions.length > 0 &&
          el('details', {}, el('summary', {}, `Conditions of block ${b.index}`), el('ul', {}, ...b.conditions.map((c) => el('li', {}, c)))),
      ),
    ),
  )

  const rows: [string, Child][] = [
    [
      'Asked by',
      el(
        'span',
        {},
        view.requester.name === undefined ? '' : el('strong', {}, view.requester.name),
        ' ',
        el('code', {}, view.requester.key),
      ),
    ],
    ['On behalf of', el('code', {}, view.principal)],
    ['Through', view.chain.length > 0 ? chain : 'unknown (the signed request does not check)'],
    ['Action', el('code', {}, view.action)],
    ['Resource', view.resource === undefined ? el('span', { class: 'none' }, 'none') : el('code', {}, view.resource)],
    ['At (audience)', el('code', {}, view.audience)],
    ['Arguments', el('pre', { class: 'args', tabindex: '0', 'aria-label': 'Arguments' }, view.args)],
    ['Intent', view.intent === undefined ? el('span', { class: 'none' }, 'none given') : el('span', { class: 'value' }, view.intent)],
    ['Approvers', approvers],
    ...(view.amendments === undefined ? [] : [['Amended since', amendmentList(view)] as [string, Node | string]]),
    ...(view.quota === undefined ? [] : [['Uses left', quotaList(view)] as [string, Node | string]]),
    [
      'Filed',
      view.createdAt === undefined
        ? 'unknown'
        : el('span', { class: 'filed' }, timeEl(view.createdAt), ` (${relative(view.createdAt, now)})`),
    ],
    ['Expires', expires],
    ['Request', el('code', { class: 'id' }, view.id)],
  ]
  const details = el('dl', {}, ...rows.flatMap(([term, value]) => [el('dt', {}, term), el('dd', {}, value)]))

  const problems =
    view.problems.length > 0 &&
    el(
      'div',
      { class: 'problems', role: 'note' },
      el('p', {}, el('strong', {}, 'This request cannot be approved here:')),
      el('ul', {}, ...view.problems.map((p) => el('li', {}, p))),
    )

  const approve = el('button', { type: 'button', class: 'approve', 'aria-describedby': titleId }, 'Approve')
  if (!view.invocation) approve.disabled = true
  const note = el('textarea', {
    id: noteId,
    class: 'note',
    maxlength: '500',
    rows: '2',
    'aria-describedby': `${noteHelpId} ${noteErrorId}`,
  })
  const noteError = el('p', { id: noteErrorId, class: 'field-error' })
  const deny = el('button', { type: 'button', class: 'deny', 'aria-describedby': titleId }, 'Deny with this note')
  const outcome = el('p', { id: outcomeId, class: 'outcome', tabindex: '-1' })

  const decide = el(
    'div',
    { class: 'decide' },
    el('div', { class: 'approve-box' }, approve),
    el(
      'div',
      { class: 'deny-box' },
      el('label', { for: noteId }, 'Note to the agent, if you deny'),
      el('p', { id: noteHelpId, class: 'help' }, 'Say why (at most 500 characters): the agent is told who refused and why.'),
      note,
      noteError,
      deny,
    ),
  )

  const article = el(
    'article',
    { class: 'request', 'aria-labelledby': titleId },
    heading,
    status,
    problems,
    view.denial && el('p', { class: 'denial' }, `Denied by ${view.denial.by}: `, el('span', { class: 'value' }, view.denial.reason)),
    details,
    decide,
    outcome,
  )
  const root = el('li', {}, article)
  return {
    id: view.id,
    root,
    heading,
    status,
    approvers,
    expires,
    approve,
    note,
    deny,
    noteError,
    outcome,
    createdAt: view.createdAt ?? 0,
    expiresAt: view.expiresAt,
    view,
    done: false,
  }
}

/** No more actions on a card: say why, and keep focus on the card when it was in it. */
export function closeCard(card: Card, message: string, kind: 'ok' | 'closed'): void {
  const hadFocus = card.root.contains(document.activeElement)
  card.done = true
  card.root.classList.add(kind === 'ok' ? 'answered' : 'closed')
  card.approve.disabled = true
  card.deny.disabled = true
  card.note.disabled = true
  card.outcome.className = `outcome ${kind}`
  card.outcome.textContent = message
  if (hadFocus) card.outcome.focus()
}

/** An error of an action on a card (the card stays open). */
export function cardError(card: Card, message: string): void {
  card.outcome.className = 'outcome error'
  card.outcome.setAttribute('role', 'alert')
  card.outcome.textContent = message
}
