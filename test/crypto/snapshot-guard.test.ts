/**
 * The Node entry's guard of the random pool against startup snapshots (src/crypto/use-node.ts),
 * in this process: which flags make it ask V8, and that what it registers drops the pool.
 * test/runtimes/snapshot.test.ts builds a real snapshot and starts processes from it.
 */
import { describe, expect, it, vi } from 'vitest'
import { randomBytes } from '../../src/crypto/hash.js'
import { guardSnapshots, type SnapshotHooks } from '../../src/crypto/use-node.js'

/** Hooks that record what is asked of them; `building`: what isBuildingSnapshot answers. */
function hooks(building: boolean): { ask: () => SnapshotHooks; asked: () => number; callbacks: (() => void)[] } {
  let asked = 0
  const callbacks: (() => void)[] = []
  return {
    ask: () => {
      asked++
      return { isBuildingSnapshot: () => building, addSerializeCallback: (c) => callbacks.push(c) }
    },
    asked: () => asked,
    callbacks,
  }
}

describe('guardSnapshots', () => {
  it('asks V8 only under a flag that builds a snapshot, and registers only when V8 says one is being built', () => {
    for (const argv of [
      [],
      ['--max-old-space-size=100'],
      ['x--build-snapshot'],
      ['--experimental-sea-config-x'],
      ['--snapshot-blob', 'a.blob'],
    ]) {
      const h = hooks(true)
      expect(guardSnapshots(argv, h.ask), argv.join(' ')).toBe(false)
      expect(h.asked()).toBe(0)
    }
    for (const argv of [
      ['--build-snapshot'],
      ['--snapshot-blob', 'a.blob', '--build-snapshot'],
      ['--build-snapshot-config', 'c.json'],
      ['--experimental-sea-config', 'sea.json'],
    ]) {
      const yes = hooks(true)
      expect(guardSnapshots(argv, yes.ask), argv.join(' ')).toBe(true)
      expect([yes.asked(), yes.callbacks.length]).toEqual([1, 1])
      const no = hooks(false)
      expect(guardSnapshots(argv, no.ask), argv.join(' ')).toBe(false)
      expect([no.asked(), no.callbacks.length]).toEqual([1, 0])
    }
  })

  it("what it registers drops the bytes waiting in the pool: the next draw is the platform's", () => {
    const h = hooks(true)
    guardSnapshots(['--build-snapshot'], h.ask)
    randomBytes(16) // bytes now wait in the pool
    const spy = vi.spyOn(globalThis.crypto, 'getRandomValues')
    try {
      h.callbacks[0]?.()
      randomBytes(16)
      expect(spy).toHaveBeenCalledTimes(1)
    } finally {
      spy.mockRestore()
    }
  })
})
