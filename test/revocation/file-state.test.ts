/**
 * The feed view's state file (`fileFeedState`): what a restarted verifier loads must be exactly
 * what the view saved, and a file that is not a feed state is refused with
 * ERR_REVOCATION_LIST_INVALID (never taken as an empty view, which would forget revocations).
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import type { FeedState } from '../../src/index.js'
import { fileFeedState } from '../../src/node.js'
import { FIXED_KEYS, T0 } from '../helpers/fixtures.js'

const FEED_ID = 'ab'.repeat(16)
const MARK = 'cd'.repeat(32)

/** A fresh path in a temporary directory. */
const statePath = () => join(mkdtempSync(join(tmpdir(), 'mandate-file-state-')), 'state.json')

/** The error `load()` throws for a file holding `text` (undefined when it loads). */
function loadError(text: string): { path: string; error: (Error & { code?: string }) | undefined } {
  const path = statePath()
  writeFileSync(path, text)
  try {
    fileFeedState(path).load()
    return { path, error: undefined }
  } catch (e) {
    return { path, error: e as Error & { code?: string } }
  }
}

/** `load()` of `state` (as JSON) is refused with the one message a person reads. */
function expectRefused(state: unknown) {
  const { path, error } = loadError(typeof state === 'string' ? state : JSON.stringify(state))
  expect(error?.constructor.name).toBe('MandateError')
  expect([error?.code, error?.message]).toEqual(['ERR_REVOCATION_LIST_INVALID', `the feed state in ${path} is unreadable`])
}

const base = { seq: 3, issuedAt: T0, entries: [] }

describe('fileFeedState', () => {
  it('no file: nothing to load; save then load round-trips every field', () => {
    const path = statePath()
    const store = fileFeedState(path)
    expect(store.load()).toBeUndefined()
    const state: FeedState = {
      seq: 7,
      issuedAt: T0,
      entries: [
        {
          seq: 7,
          blockId: '07'.repeat(32),
          kind: 'suspend',
          actions: ['mail:send'],
          at: T0,
          by: FIXED_KEYS.alice[1],
          reason: 'r',
          expires: T0 + 9,
        },
      ],
      feedId: FEED_ID,
      markEntry: MARK,
      failed: { code: 'ERR_REVOCATION_ROLLBACK', message: 'the history was rewritten' },
    }
    store.save(state)
    expect(JSON.parse(readFileSync(path, 'utf8'))).toEqual(state)
    expect(fileFeedState(path).load()).toEqual(state)
  })

  it('text that is not JSON is refused', () => {
    expectRefused('{"seq": 3, "iss')
  })

  it('JSON that is not a state object is refused: null, a number, a string, a list', () => {
    for (const s of [null, 42, 'state', []]) expectRefused(s)
  })

  it('each required field must be there with its type: seq and issuedAt numbers, entries a list', () => {
    expectRefused({ issuedAt: T0, entries: [] })
    expectRefused({ seq: '3', issuedAt: T0, entries: [] })
    expectRefused({ seq: 3, entries: [] })
    expectRefused({ seq: 3, issuedAt: String(T0), entries: [] })
    expectRefused({ seq: 3, issuedAt: T0 })
    expectRefused({ seq: 3, issuedAt: T0, entries: {} })
    expect(loadError(JSON.stringify(base)).error).toBeUndefined()
  })

  it('a feed id is exactly 32 lower-case hex digits', () => {
    for (const feedId of [123, FEED_ID.toUpperCase(), `x${FEED_ID}`, `${FEED_ID}x`, FEED_ID.slice(1), '']) {
      expectRefused({ ...base, feedId })
    }
    expect(fileFeedState(writeState({ ...base, feedId: FEED_ID })).load()).toEqual({ ...base, feedId: FEED_ID })
  })

  it('a mark entry is exactly 64 lower-case hex digits', () => {
    for (const markEntry of [123, MARK.toUpperCase(), `x${MARK}`, `${MARK}x`, MARK.slice(1), FEED_ID]) {
      expectRefused({ ...base, markEntry })
    }
    expect(fileFeedState(writeState({ ...base, markEntry: MARK })).load()).toEqual({ ...base, markEntry: MARK })
  })

  it('a recorded failure is a reset or a rollback, with its message', () => {
    const bad: unknown[] = [
      'ERR_REVOCATION_ROLLBACK',
      null,
      7,
      { message: 'm' },
      { code: 'ERR_REVOCATION_STALE', message: 'm' },
      { code: 'ERR_REVOCATION_ROLLBACK' },
      { code: 'ERR_REVOCATION_FEED_RESET', message: 5 },
    ]
    for (const failed of bad) expectRefused({ ...base, failed })
    for (const code of ['ERR_REVOCATION_FEED_RESET', 'ERR_REVOCATION_ROLLBACK'] as const) {
      const state = { ...base, failed: { code, message: 'why' } }
      expect(fileFeedState(writeState(state)).load()).toEqual(state)
    }
  })

  it('an amendment keeps its id and its caveats exactly (extension bodies too); an entry no verified page could carry is refused', () => {
    const amendment = {
      seq: 4,
      blockId: '04'.repeat(32),
      kind: 'amend' as const,
      at: T0,
      by: FIXED_KEYS.alice[1],
      expires: T0 + 9,
      id: 'ee'.repeat(32),
      caveats: [
        { type: 'actions' as const, patterns: ['mail:read'] },
        { type: 'extension' as const, code: 0x10000, body: 'app' },
      ],
    }
    const state: FeedState = { ...base, seq: 4, entries: [amendment] }
    const path = statePath()
    fileFeedState(path).save(state)
    const stored = JSON.parse(readFileSync(path, 'utf8')).entries[0]
    // The caveats as the hex of their CBOR, exactly as the feed carried them.
    expect(stored.caveats).toMatch(/^[0-9a-f]+$/)
    expect(fileFeedState(path).load()).toEqual(state)
    const refused: unknown[] = [
      { ...stored, caveats: undefined },
      { ...stored, caveats: 5 },
      { ...stored, caveats: 'zz' },
      { ...stored, caveats: stored.caveats.slice(2) },
      { ...stored, id: undefined },
      { ...stored, id: 5 },
      { ...stored, id: 'EE'.repeat(32) },
      { ...stored, id: 'ee'.repeat(31) },
      { ...stored, id: `${'ee'.repeat(32)}0` },
      { ...stored, kind: 'revoke' },
    ]
    for (const entry of refused) expectRefused({ ...base, entries: [entry] })
  })
})

/** Write `state` as JSON to a fresh path. */
function writeState(state: unknown): string {
  const path = statePath()
  writeFileSync(path, JSON.stringify(state))
  return path
}
