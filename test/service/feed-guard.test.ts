/**
 * The service's rollback guard (spec/service-v1.md §4.4) under overlapping reads: only a head
 * below the mark as it was when a read began is a rollback. Reads overlap freely (PostgreSQL
 * answers them out of order), and a slow read that began before a commit must not rotate the
 * feed id because a fast one served the newer head first.
 */
import { describe, expect, it } from 'vitest'
import { createFeedGuard, type FeedMark, type FeedMarkStore } from '../../src/service/feed-mark.js'
import type { Store } from '../../src/service/store.js'

const FEED = 'ab'.repeat(16)

/** A store whose only feed-related calls are the ones the guard makes. */
function fakeStore(): { store: Store; rotations: () => number } {
  let rotations = 0
  const store = {
    async rotateFeedId() {
      rotations++
      return 'cd'.repeat(16)
    },
    async head() {
      return 0
    },
    async feedId() {
      return FEED
    },
  } as unknown as Store
  return { store, rotations: () => rotations }
}

function memoryMarks(initial?: FeedMark): FeedMarkStore & { current(): FeedMark | undefined } {
  let mark = initial
  return {
    load: () => mark,
    save: (m) => {
      mark = m
    },
    current: () => mark,
  }
}

/** A read that answers `head` once `release` is called. */
function deferredRead(head: number) {
  let release: () => void = () => {}
  const gate = new Promise<void>((r) => {
    release = r
  })
  const read = async () => {
    await gate
    return { head, feedId: FEED }
  }
  return { read, release: () => release() }
}

describe('feed guard', () => {
  it('a slow read that began before a commit is no rollback, though a fast one served the newer head first', async () => {
    const { store, rotations } = fakeStore()
    const marks = memoryMarks({ feedId: FEED, head: 5 })
    const guard = createFeedGuard(store, marks)
    const slow = deferredRead(5) // its snapshot: before the commit of seq 6
    const slowServed = guard.serve(slow.read)
    const fast = guard.serve(async () => ({ head: 6, feedId: FEED })) // after the commit
    expect((await fast).head).toBe(6)
    expect(marks.current()).toEqual({ feedId: FEED, head: 6 })
    slow.release()
    expect(await slowServed).toEqual({ head: 5, feedId: FEED })
    expect(rotations()).toBe(0)
    expect(marks.current()).toEqual({ feedId: FEED, head: 6 })
  })

  it('a read that began after the mark was raised and still sees less is a rollback: the feed id rotates once', async () => {
    const { store, rotations } = fakeStore()
    const marks = memoryMarks({ feedId: FEED, head: 9 })
    const guard = createFeedGuard(store, marks)
    const served = await guard.serve(async () => ({ head: 4, feedId: FEED }))
    expect(served.feedId).toBe('cd'.repeat(16))
    expect(rotations()).toBe(1)
    expect(marks.current()).toEqual({ feedId: 'cd'.repeat(16), head: 4 })
  })
})
