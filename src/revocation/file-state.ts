/**
 * Persist a feed view's state in a JSON file (written to a temporary file, fsynced, then
 * renamed, so that a crash leaves either the old state or the new one).
 *
 * @module
 */
import { MandateError } from '../errors.js'
import { readIfExists, writeDurably } from '../internal/durable-file.js'
import type { FeedState, FeedStateStore } from './client.js'

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
      return s
    },
    save(state) {
      writeDurably(path, JSON.stringify(state))
    },
  }
}
