/**
 * Edges of the caveat building blocks (issue #15): action grammar anchors and length bounds,
 * pattern-in-pattern coverage, resource UTF-8 length at 1024 bytes with surrogates, forbidden
 * characters, in-segment `*` matching, argument depth and key order on both sides, argument
 * paths, `where` rules on mismatched types, window bounds and caveat names.
 */
import { describe, expect, it } from 'vitest'
import { isActionName, isActionPattern, matchAction, patternCovers } from '../../src/caveats/action.js'
import { argAt, decodeArgs, encodeArgs, encodeValue } from '../../src/caveats/args.js'
import { caveatName, decodeCaveat, encodeCaveat } from '../../src/caveats/codec.js'
import { describeCaveat } from '../../src/caveats/describe.js'
import { isResourceGlob, isResourceName, matchResource } from '../../src/caveats/resource.js'
import type { ArgValue } from '../../src/caveats/types.js'
import { ruleHolds, sameValue } from '../../src/caveats/where.js'
import { invoke } from '../../src/index.js'
import { assistant, rootGrant } from '../helpers/chains.js'
import { caught, seededRandom, T0, thrownCode } from '../helpers/fixtures.js'

describe('action segments are anchored at both ends', () => {
  it('refuses a name or pattern whose segment starts or ends with an invalid character', () => {
    for (const bad of ['Email:read', 'email:Read', 'email:reaD', 'emaiL', ' email', 'email ', 'email:read!', '!email']) {
      expect(isActionName(bad), bad).toBe(false)
      expect(isActionPattern(bad), bad).toBe(false)
    }
    for (const bad of ['*:Read', 'Email:*', 'email:*:X']) expect(isActionPattern(bad), bad).toBe(false)
    expect(isActionName('email:read')).toBe(true)
    expect(isActionPattern('email:*')).toBe(true)
  })

  it('refuses an uppercase action in a caveat on the wire and when encoding one', () => {
    expect(decodeCaveat([1, ['Email:read']])).toEqual({ type: 'invalid', code: 1, reason: 'bad action pattern "Email:read"' })
    expect(decodeCaveat([2, ['email:reaD']])).toEqual({ type: 'invalid', code: 2, reason: 'bad action pattern "email:reaD"' })
    expect(thrownCode(() => encodeCaveat({ type: 'actions', patterns: ['Email:*'] }))).toBe('ERR_CAVEAT_INVALID')
    expect(thrownCode(() => encodeCaveat({ type: 'actions', patterns: ['email:*'] }))).toBe('ok')
  })
})

describe('invoke checks the action name', () => {
  it('refuses an action with an uppercase first or last character, and accepts its lowercase form', () => {
    const grant = rootGrant()
    const options = { key: assistant, audience: 'svc', now: T0, random: seededRandom('edges') }
    for (const action of ['Email:read', 'email:reaD']) {
      const e = caught(() => invoke(grant, { ...options, action }))
      expect([e.code, e.message]).toEqual(['ERR_REQUEST_INVALID', `not an action name: ${JSON.stringify(action)}`])
    }
    expect(thrownCode(() => invoke(grant, { ...options, action: 'email:read' }))).toBe('ok')
  })
})

describe('action length is at most 1024', () => {
  it('accepts 1024 characters and refuses 1025, for names and patterns', () => {
    const at = `a:${'b'.repeat(1022)}`
    expect(at.length).toBe(1024)
    expect(isActionName(at)).toBe(true)
    expect(isActionPattern(at)).toBe(true)
    expect(isActionName(`${at}c`)).toBe(false)
    expect(isActionPattern(`${at}c`)).toBe(false)
    const star = `${'a'.repeat(1022)}:*`
    expect(isActionPattern(star)).toBe(true)
    expect(isActionPattern(`a${star}`)).toBe(false)
  })
})

describe('patternCovers: an inner pattern within an outer one', () => {
  it('an outer pattern longer than the inner one does not cover it', () => {
    expect(patternCovers('a:b', 'a')).toBe(false)
    expect(patternCovers('a:*:c', 'a')).toBe(false)
    expect(patternCovers('*:*', 'a')).toBe(false)
  })

  it('an inner pattern ending in `*` is covered only by an outer tail `*` at or before it', () => {
    expect(patternCovers('a:*', 'a:*')).toBe(true)
    expect(patternCovers('a:*', 'a:b:*')).toBe(true)
    expect(patternCovers('*', 'a:*')).toBe(true)
    expect(patternCovers('a:b', 'a:*')).toBe(false)
    expect(patternCovers('a:*:c', 'a:*')).toBe(false)
    expect(patternCovers('*:*', '*')).toBe(false)
    expect(patternCovers('a:*:*', 'a:*')).toBe(false)
    expect(patternCovers('a:*:*', 'a:*:*')).toBe(true)
    expect(patternCovers('a:*:b', 'a:*:b')).toBe(true)
    expect(patternCovers('a:*:b', 'a:c:b')).toBe(true)
    expect(patternCovers('a:c:b', 'a:*:b')).toBe(false)
  })

  it('agrees with matchAction: a covered pattern only ever matches actions the outer one matches', () => {
    expect(matchAction('a:*:*', 'a:b')).toBe(false)
    expect(matchAction('a:*', 'a:b')).toBe(true)
    expect(matchAction('a:*:c', 'a')).toBe(false)
    expect(matchAction('*:*', 'a')).toBe(false)
  })
})

describe('resource length counts UTF-8 bytes', () => {
  // Each suffix and its UTF-8 length; a lone surrogate counts as U+FFFD (3 bytes).
  const cases: [string, string, number][] = [
    ['astral character', '\u{1F600}', 4],
    ['lone high surrogate at the end', '\ud800', 3],
    ['lone low surrogate', '\udc00', 3],
    ['three-byte character', '\u20ac', 3],
    ['two-byte character', '\u00e9', 2],
    ['lone high surrogate before a three-byte character', '\ud800\u20ac', 6],
    ['three-byte character before a lone low surrogate', '\u20ac\udc00', 6],
    ['two three-byte characters', '\u20ac\u20ac', 6],
    ['two lone low surrogates', '\udc00\udc00', 6],
    ['two lone high surrogates', '\ud800\ud800', 6],
    ['lone high surrogate before ASCII', '\ud800a', 4],
    ['an astral character then a three-byte one', '\u{1F600}\u20ac', 7],
  ]
  for (const [name, suffix, bytes] of cases) {
    it(`${name}: 1024 bytes is a resource and a glob, 1025 is neither`, () => {
      const at = 'a'.repeat(1024 - bytes) + suffix
      const over = 'a'.repeat(1025 - bytes) + suffix
      expect(Buffer.byteLength(at, 'utf8')).toBe(1024)
      expect(isResourceName(at)).toBe(true)
      expect(isResourceGlob(at)).toBe(true)
      expect(matchResource(at, at)).toBe(true)
      expect(isResourceName(over)).toBe(false)
      expect(isResourceGlob(over)).toBe(false)
    })
  }

  it('refuses 1025 ASCII bytes and the empty string', () => {
    expect(isResourceName('a'.repeat(1024))).toBe(true)
    expect(isResourceName('a'.repeat(1025))).toBe(false)
    expect(isResourceGlob('a'.repeat(1025))).toBe(false)
    expect(isResourceName('')).toBe(false)
    expect(isResourceGlob('')).toBe(false)
  })
})

describe('resource characters and segments', () => {
  it('accepts ordinary text and refuses control characters, backslash and encoded separators in any case', () => {
    for (const good of ['a', 'mail/inbox/42', 'caf\u00e9', '%41', '%2', 'a%2', '~', '\u00a0']) {
      expect(isResourceName(good), good).toBe(true)
      expect(isResourceGlob(good), good).toBe(true)
    }
    for (const bad of ['a\u0000', 'a\u001f', 'a\u007f', 'a\u0080', 'a\u009f', 'a\\b', 'a%2fb', 'a%2Fb', 'a%5cb', 'a%5C', '%2e', '%2E']) {
      expect(isResourceName(bad), JSON.stringify(bad)).toBe(false)
      expect(isResourceGlob(bad), JSON.stringify(bad)).toBe(false)
    }
  })

  it('refuses empty, `.` and `..` segments in names and globs', () => {
    for (const bad of ['a//b', '/a', 'a/', 'a/./b', 'a/../b', '.', '..']) {
      expect(isResourceName(bad), bad).toBe(false)
      expect(isResourceGlob(bad), bad).toBe(false)
    }
    expect(isResourceName('a/.b/..c')).toBe(true)
  })
})

describe('`*` inside one segment', () => {
  it('a middle chunk must fit before the tail', () => {
    expect(matchResource('*b*b', 'ab')).toBe(false)
    expect(matchResource('*b*b', 'bb')).toBe(true)
    expect(matchResource('a*bc*c', 'abc')).toBe(false)
    expect(matchResource('a*bc*c', 'abcc')).toBe(true)
  })

  it('a middle chunk that is absent fails', () => {
    expect(matchResource('*x*', 'ab')).toBe(false)
    expect(matchResource('*x*', 'axb')).toBe(true)
    expect(matchResource('d/*x*y', 'd/ay')).toBe(false)
  })
})

describe('argument encoding limits and messages', () => {
  const nest = (n: number): ArgValue => (n === 0 ? 'x' : [nest(n - 1)])

  it('names the depth limit when encoding too deep a value', () => {
    expect(() => encodeArgs({ a: nest(3) })).not.toThrow()
    expect(() => encodeArgs({ a: { b: { c: { d: 1 } } } })).not.toThrow()
    expect(() => encodeValue(nest(3))).not.toThrow()
    expect(() => encodeArgs({ a: nest(4) })).toThrow(new RangeError('"args" nest deeper than 4'))
    expect(() => encodeArgs({ a: { b: { c: { d: {} } } } })).toThrow(new RangeError('"args" nest deeper than 4'))
    expect(() => encodeValue(nest(4))).toThrow(new RangeError('"args" nest deeper than 4'))
  })

  it('refuses null and undefined with the unsupported-type message', () => {
    expect(() => encodeArgs({ a: null as unknown as ArgValue })).toThrow(new TypeError('"args" value of type object is not supported'))
    expect(() => encodeArgs({ a: undefined as unknown as ArgValue })).toThrow(
      new TypeError('"args" value of type undefined is not supported'),
    )
  })

  it('a where operand too deep is an invalid caveat naming the limit', () => {
    const e = caught(() => encodeCaveat({ type: 'where', rules: [{ path: 'a', op: 'eq', value: nest(4) }] }))
    expect(e.code).toBe('ERR_CAVEAT_INVALID')
    expect(e.message).toBe('where caveat: operand: "args" nest deeper than 4')
  })
})

describe('argument decoding messages', () => {
  it('says "args" by default and the given name otherwise', () => {
    const e = caught(() => decodeArgs('x'))
    expect([e.code, e.message]).toEqual(['ERR_FORMAT', 'args: expected a list of [key, value] pairs'])
    const f = caught(() => decodeArgs([['a']]))
    expect([f.code, f.message]).toEqual(['ERR_FORMAT', 'args: expected a [key, value] pair'])
    const g = caught(() => decodeArgs([[1, 2]], 'request args'))
    expect([g.code, g.message]).toEqual(['ERR_FORMAT', 'request args: expected a [key, value] pair'])
  })

  it('reports duplicate and unsorted keys with the name', () => {
    const dup = caught(() =>
      decodeArgs(
        [
          ['a', 1],
          ['a', 2],
        ],
        'request args',
      ),
    )
    expect([dup.code, dup.message]).toEqual(['ERR_CBOR_DUP_KEY', 'request args: keys must be unique and ascending'])
    const unsorted = caught(() =>
      decodeArgs([
        ['b', 1],
        ['a', 2],
      ]),
    )
    expect([unsorted.code, unsorted.message]).toEqual(['ERR_CBOR_NONCANONICAL', 'args: keys must be unique and ascending'])
  })

  it('accepts the empty key as the first key', () => {
    expect(
      decodeArgs([
        ['', 1],
        ['a', 2],
      ]),
    ).toEqual({ '': 1, a: 2 })
  })

  it('names the depth limit when decoding too deep a value', () => {
    const e = caught(() => decodeArgs([['a', [[[['x']]]]]], 'request args'))
    expect([e.code, e.message]).toEqual(['ERR_LIMIT_DEPTH', 'request args: nested deeper than 4'])
  })
})

describe('argument paths select only inside lists and objects', () => {
  it('a path through text or a missing argument finds nothing', () => {
    expect(argAt({ a: 'abc' }, 'a.length')).toBeUndefined()
    expect(argAt({ a: 'abc' }, 'a.0')).toBeUndefined()
    expect(argAt({ a: 5 }, 'a.x')).toBeUndefined()
    expect(argAt({}, 'x.y')).toBeUndefined()
    expect(argAt({ a: ['p', 'q'] }, 'a.1')).toBe('q')
  })

  it('a where rule through text does not hold', () => {
    expect(ruleHolds({ path: 'a.length', op: 'eq', value: 3 }, { a: 'abc' })).toBe(false)
    expect(ruleHolds({ path: 'x.y', op: 'ne', value: 3 }, {})).toBe(false)
  })
})

describe('where rules on mismatched values', () => {
  it('a glob rule holds only for a string that matches', () => {
    const rule = { path: 'to', op: 'glob', value: 'mail/*' } as const
    expect(ruleHolds(rule, { to: 'mail/x' })).toBe(true)
    expect(ruleHolds(rule, { to: 'other/x' })).toBe(false)
    expect(ruleHolds(rule, { to: 5 })).toBe(false)
    expect(ruleHolds(rule, { to: ['mail/x'] })).toBe(false)
  })

  it('lists of different lengths, and a list and an object, are not equal', () => {
    expect(sameValue([1], [1, 2])).toBe(false)
    expect(sameValue([1, 2], [1])).toBe(false)
    expect(sameValue([1], { 0: 1 })).toBe(false)
    expect(sameValue({ 0: 1 }, [1])).toBe(false)
    expect(sameValue([1, 2], [1, 2])).toBe(true)
    expect(ruleHolds({ path: 'a', op: 'in', value: [[1, 2]] }, { a: [1] })).toBe(false)
    expect(ruleHolds({ path: 'a', op: 'in', value: [[1]] }, { a: [1, 2] })).toBe(false)
    expect(ruleHolds({ path: 'a', op: 'in', value: [[1, 2]] }, { a: [1, 2] })).toBe(true)
    expect(ruleHolds({ path: 'a', op: 'eq', value: [1] }, { a: [1, 2] })).toBe(false)
  })
})

describe('caveat codec edges', () => {
  it('a window needs not-before strictly earlier than expiry', () => {
    expect(thrownCode(() => encodeCaveat({ type: 'window', notBefore: 99, expires: 100 }))).toBe('ok')
    expect(decodeCaveat(encodeCaveat({ type: 'window', notBefore: 99, expires: 100 }))).toEqual({
      type: 'window',
      notBefore: 99,
      expires: 100,
    })
    const e = caught(() => encodeCaveat({ type: 'window', notBefore: 100, expires: 100 }))
    expect([e.code, e.message]).toEqual(['ERR_TIME_INVALID', 'window caveat: not-before must be earlier than expiry'])
    expect(thrownCode(() => encodeCaveat({ type: 'window', notBefore: 101, expires: 100 }))).toBe('ERR_TIME_INVALID')
  })

  it('decodes every named type by its number', () => {
    expect(decodeCaveat([1, ['a']])).toEqual({ type: 'actions', patterns: ['a'] })
    expect(decodeCaveat([2, ['a']])).toEqual({ type: 'deny', patterns: ['a'] })
    expect(decodeCaveat([3, ['a/**']])).toEqual({ type: 'resources', globs: ['a/**'] })
  })

  it('names a malformed caveat by its type number', () => {
    expect(caveatName(decodeCaveat([7, 'x']))).toBe('where')
    expect(caveatName(decodeCaveat([1, 'x']))).toBe('actions')
    expect(caveatName(decodeCaveat([11]))).toBe('unknown')
    expect(caveatName(decodeCaveat([65536, 'x']))).toBe('extension')
    expect(caveatName(decodeCaveat([1, ['a']]))).toBe('actions')
  })

  it('describes a deny list', () => {
    expect(describeCaveat({ type: 'deny', patterns: ['email:send', 'slack:*'] })).toBe('never email:send, slack:*')
  })
})
