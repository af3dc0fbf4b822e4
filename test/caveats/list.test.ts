/** An amendment's caveat list as bytes: one reading for the feed, the state file and the store. */
import { describe, expect, it } from 'vitest'
import { decodeCaveatList, encodeCaveatList } from '../../src/caveats/list.js'
import type { Caveat } from '../../src/caveats/types.js'
import { encodeCbor } from '../../src/cbor/codec.js'
import { MandateError } from '../../src/errors.js'

const uses: Caveat = { type: 'uses', max: 3 }

describe('caveat lists', () => {
  it('round-trips 1 to 32 caveats, extensions included', () => {
    const list: Caveat[] = [uses, { type: 'actions', patterns: ['email:read'] }, { type: 'extension', code: 70_000, body: 'x' }]
    expect(decodeCaveatList(encodeCaveatList(list))).toEqual(list)
    const full = Array.from({ length: 32 }, () => uses)
    expect(decodeCaveatList(encodeCaveatList(full))).toHaveLength(32)
  })

  it('refuses to encode an empty list, 33 caveats, or a malformed caveat', () => {
    expect(() => encodeCaveatList([])).toThrow(RangeError)
    expect(() => encodeCaveatList(Array.from({ length: 33 }, () => uses))).toThrow(RangeError)
    expect(() => encodeCaveatList([{ type: 'uses', max: 0 }])).toThrow(MandateError)
  })

  it('reads back nothing that is not such a list', () => {
    // Bytes that are not strict CBOR say so with the profile's code.
    expect(() => decodeCaveatList(new Uint8Array([0xff]))).toThrow(MandateError)
    expect(() => decodeCaveatList(new Uint8Array([...encodeCbor([[5, new Map([[0, 3]])]]), 0]))).toThrow(MandateError)
    const bad: Uint8Array[] = [
      encodeCbor('uses'), // not a list
      encodeCbor([]), // empty
      encodeCbor(Array.from({ length: 33 }, () => [5, new Map([[0, 3]])])), // 33
      encodeCbor([[11, 'x']]), // an unknown core type
      encodeCbor([[5, new Map([[0, 0]])]]), // malformed: max 0
      encodeCbor([
        [
          4,
          new Map([
            [0, 100],
            [1, 50],
          ]),
        ],
      ]), // decodes, but ends before it starts: never signed
    ]
    for (const bytes of bad) expect(decodeCaveatList(bytes)).toBeUndefined()
  })
})
