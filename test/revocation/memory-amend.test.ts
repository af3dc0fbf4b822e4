/**
 * The memory revocation view's amendments (src/revocation/view.ts): what an application that
 * keeps its own view relies on — an amendment gets a well-formed id (its own or a fresh one),
 * a bad id is refused, and `lift` removes exactly the amendment it names, saying whether it did.
 */
import { describe, expect, it } from 'vitest'
import { createMemoryRevocationView } from '../../src/index.js'

const BLOCK = 'ab'.repeat(32)
const OTHER = 'cd'.repeat(32)
const narrow = [{ type: 'actions' as const, patterns: ['email:read'] }]

describe('the memory view: amend and lift', () => {
  it('an amendment keeps the id given, or gets 64 fresh hex digits; any other id is refused', () => {
    const view = createMemoryRevocationView(() => 100)
    expect(view.amend(BLOCK, { caveats: narrow, id: OTHER })).toBe(OTHER)
    const fresh = view.amend(BLOCK, { caveats: narrow })
    expect(fresh).toMatch(/^[0-9a-f]{64}$/)
    expect(fresh).not.toBe(OTHER)
    for (const id of ['AB'.repeat(32), `x${'ab'.repeat(32)}`, `${'ab'.repeat(32)}x`, 'ab']) {
      expect(() => view.amend(BLOCK, { caveats: narrow, id })).toThrow(new TypeError('"id" expected 64 lower-case hex digits'))
    }
    expect(view.entries(BLOCK)).toEqual([
      { caveats: narrow, id: OTHER, at: 0, kind: 'amend' },
      { caveats: narrow, id: fresh, at: 0, kind: 'amend' },
    ])
  })

  it('lift removes only the amendment it names, and says whether there was one', () => {
    const view = createMemoryRevocationView(() => 100)
    const id = view.amend(BLOCK, { caveats: narrow, id: OTHER })
    view.suspend(BLOCK, { at: 5 })
    // Not an amendment of this block: nothing changes.
    expect(view.lift(BLOCK, 'ef'.repeat(32))).toBe(false)
    expect(view.lift(OTHER, id)).toBe(false)
    expect(view.entries(BLOCK)).toHaveLength(2)
    expect(view.lift(BLOCK, id)).toBe(true)
    // The suspension stays; the amendment is gone, and lifting it again finds nothing.
    expect(view.entries(BLOCK)).toEqual([{ at: 5, kind: 'suspend' }])
    expect(view.lift(BLOCK, id)).toBe(false)
    // The last entry lifted leaves the block with none at all.
    const only = view.amend(OTHER, { caveats: narrow })
    expect(view.lift(OTHER, only)).toBe(true)
    expect(view.entries(OTHER)).toBeUndefined()
  })
})
