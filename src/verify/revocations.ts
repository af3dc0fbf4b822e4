/**
 * Step 8 of spec §7: revocations and suspensions. A stale view denies everything (fail
 * closed); then, block by block, an entry covering the action denies, a revocation before a
 * suspension. A verifier created with `revocations: 'none'` skips the step. The amendments in
 * force on each block are collected here, from the same answer, and checked with the block's
 * own caveats at step 9.
 *
 * @module
 */
import { coversAction } from '../caveats/action.js'
import { encodeCaveatList } from '../caveats/list.js'
import { fail, MandateError, type RevocationDetails } from '../errors.js'
import { iso } from '../internal/clock.js'
import type { AmendmentEntry, BlockStanding, RevocationEntry } from '../revocation/view.js'
import type { UnverifiedBlock } from '../token/block.js'
import type { Settings } from './options.js'

/** The amendments in force, by block index (absent: none on that block). */
export type Amendments = ReadonlyMap<number, readonly AmendmentEntry[]>

const NO_AMENDMENTS: Amendments = new Map()

/**
 * Check the revocation view for every block of `chain` and the requested `action`, at `now`,
 * and return the amendments in force on its blocks. Throws `ERR_REVOCATION_STALE`,
 * `ERR_REVOKED` or `ERR_SUSPENDED`.
 *
 * @example
 * ```ts
 * const amendments = checkRevocations(settings, now, mandate.blocks, 'email:send')
 * ```
 */
export function checkRevocations(settings: Settings, now: number, chain: readonly UnverifiedBlock[], action: string): Amendments {
  const view = settings.revocations
  // An explicit opt-out (spec §7 step 8): nothing is checked, and the audit record says so.
  if (view === 'none') return NO_AMENDMENTS
  let freshAt: unknown
  try {
    freshAt = view.freshAt()
  } catch (e) {
    // A view that knows why it cannot answer (a rewritten feed) says so; anything else is stale.
    if (e instanceof MandateError) throw e
    freshAt = undefined
  }
  // Anything but a finite number (a string, NaN, a promise) is a view that failed to answer.
  if (typeof freshAt !== 'number' || !Number.isFinite(freshAt) || freshAt < now - settings.revocationMaxAge) {
    const when = typeof freshAt === 'number' && Number.isFinite(freshAt) ? iso(freshAt) : 'never'
    // A feed view keeps why its last sync failed (timed out, another signing key, …): say it.
    const last = (view as { readonly lastError?: unknown }).lastError
    const why = last instanceof MandateError ? `the last sync failed: ${last.message}` : 'the verifier cannot reach its revocation service'
    fail('ERR_REVOCATION_STALE', `the revocation view is stale (last complete ${when})`, {
      hint: `${why}; it denies until it can (fail closed)`,
    })
  }
  let amendments: Map<number, AmendmentEntry[]> | undefined
  for (const b of chain) {
    let entries: unknown
    try {
      entries = view.entries(b.idHex)
    } catch {
      fail('ERR_REVOCATION_STALE', 'the revocation view failed to answer', { block: b.index })
    }
    if (entries !== undefined && !(Array.isArray(entries) && entries.every(isRevocationEntry))) {
      fail('ERR_REVOCATION_STALE', 'the revocation view gave an unusable answer', { block: b.index })
    }
    // Nothing said of the block: the common case, on every block of every request.
    if (entries === undefined || (entries as readonly unknown[]).length === 0) continue
    // Within a block a revocation wins over a suspension, whatever order the view lists them
    // in (spec §7.3): revocation is permanent, so it is the answer that says what to do.
    const listed = entries as readonly RevocationEntry[]
    const amended = listed.filter((x): x is AmendmentEntry => x.kind === 'amend')
    if (amended.length > 0) {
      amendments ??= new Map()
      amendments.set(b.index, amended)
    }
    const standing = listed.filter((x): x is BlockStanding => x.kind !== 'amend')
    for (const e of [...standing.filter((x) => x.kind === 'revoke'), ...standing.filter((x) => x.kind !== 'revoke')]) {
      const scoped = e.actions !== undefined && e.actions.length > 0
      // A scoped entry covers its actions and every action below them (spec §6.1).
      if (scoped && !e.actions?.some((p) => coversAction(p, action))) continue
      const who = typeof e.by === 'string' && e.by ? ` by ${e.by}` : ''
      const why = typeof e.reason === 'string' && e.reason ? `: ${e.reason}` : ''
      const what = scoped ? `${action} under block ${b.index}` : `block ${b.index}`
      const details = revocationDetails(b.idHex, e)
      if (e.kind === 'revoke') {
        fail('ERR_REVOKED', `${what} was revoked${who} at ${iso(e.at)}${why}`, {
          block: b.index,
          hint: 'ask the delegator for a new mandate',
          details,
        })
      }
      fail('ERR_SUSPENDED', `${what} is suspended${who} since ${iso(e.at)}${why}`, {
        block: b.index,
        hint: 'it works again once resumed',
        details,
      })
    }
  }
  return amendments ?? NO_AMENDMENTS
}

/**
 * What a denial says of the entry, as far as the view knows: a time that is a number, a
 * signer and a reason that are non-empty text, the patterns of a scoped entry.
 *
 * @example
 * ```ts
 * revocationDetails(block.idHex, { kind: 'revoke', at: 1790000000, by: 'did:key:z6Mk…' })
 * // { blockId: '…', at: 1790000000, by: 'did:key:z6Mk…' }
 * ```
 */
export function revocationDetails(blockId: string, e: BlockStanding): RevocationDetails {
  return {
    blockId,
    ...(Number.isFinite(e.at) ? { at: e.at } : {}),
    ...(typeof e.by === 'string' && e.by ? { by: e.by } : {}),
    ...(typeof e.reason === 'string' && e.reason ? { reason: e.reason } : {}),
    ...(e.actions !== undefined && e.actions.length > 0 ? { actions: [...e.actions] } : {}),
  }
}

/**
 * An entry a verifier can act on: a known kind and, if scoped, a list of pattern texts; an
 * amendment with its id and at least one caveat that encodes (so that step 9 never meets a
 * caveat it cannot check: a view that hands one over is unusable, and denies).
 */
export function isRevocationEntry(v: unknown): v is RevocationEntry {
  if (v === null || typeof v !== 'object') return false
  const e = v as Record<string, unknown>
  if (e['kind'] === 'amend') return isAmendment(e)
  const actions = e['actions']
  return (
    (e['kind'] === 'revoke' || e['kind'] === 'suspend') &&
    (actions === undefined || (Array.isArray(actions) && actions.every((p: unknown) => typeof p === 'string')))
  )
}

function isAmendment(e: Record<string, unknown>): boolean {
  // Every read inside the try: an entry that throws when read (a getter, a proxy) is an unusable
  // answer too, denied as stale, not an internal error.
  try {
    const caveats = e['caveats']
    const id = e['id']
    if (typeof id !== 'string' || !/^[0-9a-f]{64}$/.test(id) || !Array.isArray(caveats)) return false
    // 1 to 32 caveats that encode, as a statement carries them (spec §9.1).
    encodeCaveatList(caveats)
    return true
  } catch {
    return false
  }
}
