/**
 * Persist a feed view's state in a JSON file (written to a temporary file, fsynced, then
 * renamed, so that a crash leaves either the old state or the new one).
 *
 * @module
 */
import { closeSync, fsyncSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs'
import { MandateError } from '../errors.js'
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
      let text: string
      try {
        text = readFileSync(path, 'utf8')
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined
        throw e
      }
      let s: FeedState
      try {
        s = JSON.parse(text) as FeedState
      } catch {
        throw new MandateError('ERR_REVOCATION_LIST_INVALID', `the feed state in ${path} is unreadable`)
      }
      if (typeof s !== 'object' || s === null || typeof s.seq !== 'number' || typeof s.issuedAt !== 'number' || !Array.isArray(s.entries)) {
        throw new MandateError('ERR_REVOCATION_LIST_INVALID', `the feed state in ${path} is unreadable`)
      }
      return s
    },
    save(state) {
      const tmp = `${path}.tmp`
      const fd = openSync(tmp, 'w', 0o600)
      try {
        writeSync(fd, JSON.stringify(state))
        fsyncSync(fd)
      } finally {
        closeSync(fd)
      }
      renameSync(tmp, path)
    },
  }
}
