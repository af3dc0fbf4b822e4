/**
 * The service's durable feed mark (spec/service-v1.md §4.4): the highest head it has served
 * and the feed id it served it under, kept in a small file beside the key file.
 *
 * A restored database cannot know that it was restored; the mark can. When the database's
 * head is below the mark under the same feed id, the database went back in time: entries the
 * verifiers already hold are gone, and the sequence numbers above the restored head will be
 * given again to other entries. The service then rotates the feed id, so that every verifier
 * sees `ERR_REVOCATION_FEED_RESET`, fails closed, and resyncs in full.
 *
 * @module
 */
import type { Logger } from 'pino'
import { readIfExists, writeDurably } from '../internal/durable-file.js'
import type { Store } from './store.js'

/** What the service has served: the highest head under one feed id. */
export interface FeedMark {
  readonly feedId: string
  readonly head: number
}

/** Where the mark survives restarts (see {@link fileFeedMark}). */
export interface FeedMarkStore {
  /** The mark, or undefined when none was saved yet. Throws when it is unreadable. */
  load(): FeedMark | undefined
  /** Save durably (the mark must be on disk before a page with that head is served). */
  save(mark: FeedMark): void
}

/**
 * A {@link FeedMarkStore} in `path` (JSON, mode 0600; written to a temporary file, fsynced, renamed).
 *
 * @example
 * ```ts
 * const feedMark = fileFeedMark('./mandate-data/service.pem.feed')
 * ```
 */
export function fileFeedMark(path: string): FeedMarkStore {
  return {
    load() {
      const text = readIfExists(path)
      if (text === undefined) return undefined
      let mark: unknown
      try {
        mark = JSON.parse(text)
      } catch {
        mark = undefined
      }
      const m = mark as Partial<FeedMark> | undefined
      if (
        typeof m !== 'object' ||
        m === null ||
        typeof m.feedId !== 'string' ||
        !/^[0-9a-f]{32}$/.test(m.feedId) ||
        typeof m.head !== 'number' ||
        !Number.isSafeInteger(m.head) ||
        m.head < 0
      ) {
        throw new Error(
          `the feed mark in ${path} is unreadable; remove it to start again (rollback detection then starts from the current database)`,
        )
      }
      return { feedId: m.feedId, head: m.head }
    },
    save(mark) {
      writeDurably(path, JSON.stringify({ feedId: mark.feedId, head: mark.head }))
    },
  }
}

/** A snapshot of the feed as the store read it. */
export interface FeedSnapshot {
  readonly head: number
  readonly feedId: string
}

/** Checks every feed read against the durable mark. */
export interface FeedGuard {
  /**
   * Read a snapshot with `read` and check it against the mark: a head below the mark under the
   * same feed id rotates the feed id (the snapshot is returned under the new one); a higher
   * head or another feed id is saved as the new mark before the snapshot is returned.
   */
  serve<T extends FeedSnapshot>(read: () => Promise<T>): Promise<T>
  /** The same check on the database as it is now (at start). */
  check(): Promise<void>
}

/**
 * A guard over `store` keeping its mark in `marks`. Checks are serialized, so that concurrent
 * reads rotate the feed id once.
 *
 * @example
 * ```ts
 * await createFeedGuard(store, fileFeedMark(`${keyFile}.feed`), logger).check()
 * ```
 */
export function createFeedGuard(store: Store, marks: FeedMarkStore, log?: Logger): FeedGuard {
  let mark = marks.load()
  /** Feed ids this guard rotated away from: a snapshot still under one is read again. */
  const retired = new Set<string>()
  let queue: Promise<unknown> = Promise.resolve()
  const serially = <T>(work: () => Promise<T>): Promise<T> => {
    const run = queue.then(work, work)
    queue = run.catch(() => {})
    return run
  }

  /**
   * The feed id to serve the snapshot under, or undefined to read again. `before` is the mark
   * as it was when the read began: only a head below *that* is a rollback. A read that began
   * earlier and finished later than another (reads overlap freely) may well be below the mark
   * the other one has since raised, and is no rollback at all.
   */
  const judge = async (snap: FeedSnapshot, before: FeedMark | undefined): Promise<string | undefined> => {
    if (retired.has(snap.feedId)) return undefined
    if (before && mark && before.feedId === snap.feedId && mark.feedId === snap.feedId && snap.head < before.head) {
      const fresh = await store.rotateFeedId()
      retired.add(snap.feedId)
      log?.warn(
        { previousFeedId: snap.feedId, feedId: fresh, head: snap.head, servedHead: mark.head },
        'the database head is below the highest head this service has served (a restored or rolled-back database): ' +
          'rotated the feed id; every verifier fails closed with ERR_REVOCATION_FEED_RESET until it resyncs',
      )
      mark = { feedId: fresh, head: snap.head }
      marks.save(mark)
      return fresh
    }
    if (!mark || mark.feedId !== snap.feedId || snap.head > mark.head) {
      const next = { feedId: snap.feedId, head: snap.head }
      marks.save(next)
      mark = next
    }
    return snap.feedId
  }

  const serve = async <T extends FeedSnapshot>(read: () => Promise<T>): Promise<T> => {
    for (let attempt = 0; attempt < 5; attempt++) {
      const before = mark
      const snap = await read()
      const feedId = await serially(() => judge(snap, before))
      if (feedId !== undefined) return feedId === snap.feedId ? snap : { ...snap, feedId }
    }
    throw new Error('the feed id keeps changing under the service')
  }

  return {
    serve,
    async check() {
      await serve(async () => ({ head: await store.head(), feedId: await store.feedId() }))
    },
  }
}
