/**
 * Persist a feed view's state in a JSON file (written to a temporary file, fsynced, then
 * renamed, so that a crash leaves either the old state or the new one).
 *
 * @module
 */
import { decodeCaveatList, encodeCaveatList } from '../caveats/list.js'
import { MandateError } from '../errors.js'
import { fromHex, toHex } from '../internal/bytes.js'
import { readIfExists, writeDurably } from '../internal/durable-file.js'
import type { FeedState, FeedStateStore } from './client.js'
import type { FeedEntry } from './feed.js'

/** An entry as the file keeps it: an amendment's caveats as the hex of their CBOR, exactly (extension bodies included). */
type StoredEntry = Omit<FeedEntry, 'caveats'> & { readonly caveats?: string }

function toStored(e: FeedEntry): StoredEntry {
  const { caveats, ...rest } = e
  return caveats === undefined ? rest : { ...rest, caveats: toHex(encodeCaveatList(caveats)) }
}

/**
 * An entry as saved, or undefined for one no verified page could have carried (feed.ts): an
 * amendment keeps its id and 1 to 32 caveats that decode and encode again; no other kind has
 * caveats. A changed file is refused whole, never half applied (an amendment without caveats
 * would deny every request of its chain as stale; one with a caveat that does not encode could
 * not be saved again).
 */
function fromStored(e: StoredEntry): FeedEntry | undefined {
  const { caveats, ...rest } = e
  if (e.kind !== 'amend') return caveats === undefined ? rest : undefined
  if (typeof e.id !== 'string' || !/^[0-9a-f]{64}$/.test(e.id)) return undefined
  const bytes = typeof caveats === 'string' ? fromHex(caveats) : undefined
  const decoded = bytes === undefined ? undefined : decodeCaveatList(bytes)
  return decoded === undefined ? undefined : { ...rest, caveats: decoded }
}

/**
 * A {@link FeedStateStore} in `path`.
 *
 * @example
 * ```ts
 * const revocations = createFeedRevocationView({ url, serviceKey, state: fileFeedState('./feed-state.json') })
 * ```
 */
export function fileFeedState(path: string): FeedStateStore {
  return {
    load() {
      const text = readIfExists(path)
      if (text === undefined) return undefined
      let s: FeedState
      try {
        s = JSON.parse(text) as FeedState
      } catch {
        throw new MandateError('ERR_REVOCATION_LIST_INVALID', `the feed state in ${path} is unreadable`)
      }
      if (typeof s !== 'object' || s === null || typeof s.seq !== 'number' || typeof s.issuedAt !== 'number' || !Array.isArray(s.entries)) {
        throw new MandateError('ERR_REVOCATION_LIST_INVALID', `the feed state in ${path} is unreadable`)
      }
      // `feedId`, `markEntry` and `failed` came later (#7): state saved without them loads as before.
      const failed = s.failed as { code?: unknown; message?: unknown } | undefined
      if (
        (s.feedId !== undefined && (typeof s.feedId !== 'string' || !/^[0-9a-f]{32}$/.test(s.feedId))) ||
        (s.markEntry !== undefined && (typeof s.markEntry !== 'string' || !/^[0-9a-f]{64}$/.test(s.markEntry))) ||
        (failed !== undefined &&
          (typeof failed !== 'object' ||
            failed === null ||
            (failed.code !== 'ERR_REVOCATION_FEED_RESET' && failed.code !== 'ERR_REVOCATION_ROLLBACK') ||
            typeof failed.message !== 'string'))
      ) {
        throw new MandateError('ERR_REVOCATION_LIST_INVALID', `the feed state in ${path} is unreadable`)
      }
      let entries: FeedEntry[]
      try {
        entries = (s.entries as unknown as StoredEntry[]).map((e) => {
          const back = fromStored(e)
          if (!back) throw new Error('an amendment that does not decode')
          return back
        })
      } catch {
        throw new MandateError('ERR_REVOCATION_LIST_INVALID', `the feed state in ${path} is unreadable`)
      }
      return { ...s, entries }
    },
    save(state) {
      writeDurably(path, JSON.stringify({ ...state, entries: state.entries.map(toStored) }))
    },
  }
}
