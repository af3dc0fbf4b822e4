/**
 * Actions, resources and their patterns (spec §6.1): the exact grammar, glob semantics on both
 * sides of every boundary, and "restricting lists cover descendants" (issue #8).
 */
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import {
  coverageIncludes,
  coversAction,
  firstCover,
  firstMatch,
  isActionName,
  isActionPattern,
  matchAction,
} from '../../src/caveats/action.js'
import { isResourceGlob, isResourceName, matchResource } from '../../src/caveats/resource.js'

/** A reference glob matcher: a regular expression built from the spec text, for comparison. */
function referenceMatch(glob: string, resource: string): boolean {
  if (!isResourceName(resource)) return false
  const esc = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
  const segs = glob.split('/')
  // Each glob segment consumes a leading '/' except the first; `**` consumes zero or more
  // whole segments, so it is written with its separators folded in.
  let re = ''
  segs.forEach((seg, i) => {
    if (seg === '**') {
      re += i === 0 ? '(?:[^/]+(?:/[^/]+)*)?' : '(?:/[^/]+)*'
      return
    }
    const body = seg.split('*').map(esc).join('[^/]*')
    const prevAllStars = segs.slice(0, i).every((s) => s === '**')
    if (i === 0) re += body
    else if (prevAllStars) re += `(?:(?<=^)|/)${body}`
    else re += `/${body}`
  })
  return new RegExp(`^${re}$`, 'u').test(resource)
}

describe('actions (spec §6.1)', () => {
  it('segments are one or more of a-z 0-9 _ . -, lowercase only', () => {
    for (const ok of ['email', 'email:read', 'a-b_c.d:0', 'x:..:y', 'calendar:events:decline']) expect(isActionName(ok), ok).toBe(true)
    for (const bad of ['', 'Email:read', 'email:Read', 'EMAIL', 'email::read', ':email', 'email:', 'email:*', 'é', 'email read', 'a/b'])
      expect(isActionName(bad), bad).toBe(false)
  })

  it('patterns additionally allow a whole * segment, and no uppercase', () => {
    for (const ok of ['*', 'email:*', '*:read', 'a:*:c']) expect(isActionPattern(ok), ok).toBe(true)
    for (const bad of ['Email:*', 'email:R*', 'email:re*', 'email::*', '**', '']) expect(isActionPattern(bad), bad).toBe(false)
  })

  it('at most 1024 bytes', () => {
    expect(isActionName('a'.repeat(1024))).toBe(true)
    expect(isActionName('a'.repeat(1025))).toBe(false)
    expect(isActionPattern(`${'a'.repeat(1022)}:*`)).toBe(true)
    expect(isActionPattern(`${'a'.repeat(1023)}:*`)).toBe(false)
  })

  it('match: exact, a * segment is one segment, a final * one or more', () => {
    expect(matchAction('email:send', 'email:send')).toBe(true)
    expect(matchAction('email:send', 'email:send:now')).toBe(false)
    expect(matchAction('email:*', 'email:send:now')).toBe(true)
    expect(matchAction('email:*', 'email')).toBe(false)
  })

  it('cover: the action and every action below it, and nothing else', () => {
    expect(coversAction('email:send', 'email:send')).toBe(true)
    expect(coversAction('email:send', 'email:send:now')).toBe(true)
    expect(coversAction('email:send', 'email:send:now:really')).toBe(true)
    expect(coversAction('email:send', 'email:sender')).toBe(false)
    expect(coversAction('email:send', 'email')).toBe(false)
    expect(coversAction('email:send', 'slack:send')).toBe(false)
    expect(coversAction('*:send', 'slack:send:dm')).toBe(true)
    expect(coversAction('*:send', 'slack:read:send')).toBe(false)
    expect(coversAction('email:*', 'email')).toBe(false)
    expect(coversAction('*', 'anything:at:all')).toBe(true)
    expect(firstCover(['slack:*', 'email:send'], 'email:send:now')).toBe('email:send')
    expect(firstMatch(['slack:*', 'email:send'], 'email:send:now')).toBeUndefined()
  })

  const segment = fc.stringMatching(/^[a-z0-9_.-]{1,4}$/)
  const action = fc.array(segment, { minLength: 1, maxLength: 5 }).map((s) => s.join(':'))
  const pattern = fc.array(fc.oneof(segment, fc.constant('*')), { minLength: 1, maxLength: 5 }).map((s) => s.join(':'))
  const small = fc.array(fc.constantFrom('a', 'b', '*'), { minLength: 1, maxLength: 4 }).map((s) => s.join(':'))
  const smallAction = fc.array(fc.constantFrom('a', 'b'), { minLength: 1, maxLength: 5 }).map((s) => s.join(':'))

  it('property: match is segment by segment, a final * standing for one or more (the spec text, without the fast path)', () => {
    const bySegments = (p: string, a: string): boolean => {
      const ps = p.split(':')
      const as = a.split(':')
      if (ps[ps.length - 1] === '*') return as.length >= ps.length && ps.slice(0, -1).every((s, i) => s === '*' || s === as[i])
      return as.length === ps.length && ps.every((s, i) => s === '*' || s === as[i])
    }
    const outcomes = { match: 0, not: 0 }
    fc.assert(
      fc.property(fc.oneof(small, smallAction), smallAction, (p, a) => {
        const expected = bySegments(p, a)
        expect(matchAction(p, a)).toBe(expected)
        outcomes[expected ? 'match' : 'not']++
      }),
      { numRuns: 3000, seed: 3 },
    )
    expect(outcomes.match).toBeGreaterThan(300)
    expect(outcomes.not).toBeGreaterThan(300)
  })

  it('property: cover is the definition (match of the action or of a proper prefix of ≥ 1 segment)', () => {
    const outcomes = { covers: 0, not: 0 }
    fc.assert(
      fc.property(small, smallAction, (p, a) => {
        const segs = a.split(':')
        const byDefinition = segs.some((_, k) => matchAction(p, segs.slice(0, k + 1).join(':')))
        expect(coversAction(p, a)).toBe(byDefinition)
        outcomes[byDefinition ? 'covers' : 'not']++
      }),
      { numRuns: 2000, seed: 1 },
    )
    // Both sides are reached (seeded run: 635 covered, 1,365 not).
    expect(outcomes.covers).toBeGreaterThan(300)
    expect(outcomes.not).toBeGreaterThan(600)
  })

  it('property: cover is monotone (P covers A ⇒ P covers A:x) and implied by match', () => {
    const outcomes = { matched: 0, covered: 0, neither: 0 }
    fc.assert(
      fc.property(pattern, action, segment, (p, a, x) => {
        expect(isActionPattern(p) && isActionName(a)).toBe(true)
        if (matchAction(p, a)) {
          expect(coversAction(p, a)).toBe(true)
          outcomes.matched++
        }
        if (coversAction(p, a)) {
          expect(coversAction(p, `${a}:${x}`)).toBe(true)
          outcomes.covered++
        } else outcomes.neither++
      }),
      { seed: 2 },
    )
    // The implications are not vacuous (seeded run: 27 of 100 pairs matched, so covered, 73 neither).
    expect(outcomes.matched).toBeGreaterThan(10)
    expect(outcomes.covered).toBeGreaterThanOrEqual(outcomes.matched)
    expect(outcomes.neither).toBeGreaterThan(30)
  })

  it('property: coverageIncludes(o, i) ⇔ every action i covers, o covers (on a small alphabet)', () => {
    const actions: string[] = []
    const grow = (prefix: string[], depth: number) => {
      if (prefix.length > 0) actions.push(prefix.join(':'))
      if (depth === 0) return
      for (const s of ['a', 'b', 'c']) grow([...prefix, s], depth - 1)
    }
    grow([], 5)
    const outcomes = { includes: 0, not: 0 }
    fc.assert(
      fc.property(small, small, (o, i) => {
        const exact = actions.every((a) => !coversAction(i, a) || coversAction(o, a))
        expect(coverageIncludes(o, i)).toBe(exact)
        outcomes[exact ? 'includes' : 'not']++
      }),
      { numRuns: 1000, seed: 3 },
    )
    // Both sides are reached (seeded run: 217 included, 783 not).
    expect(outcomes.includes).toBeGreaterThan(100)
    expect(outcomes.not).toBeGreaterThan(400)
  })
})

describe('resources (spec §6.1)', () => {
  it('valid resources', () => {
    for (const ok of [
      'mail',
      'mail/inbox/42',
      'a/b.c/d-e',
      '...',
      'a/.x/..y',
      'Mail/İ',
      'ok\u202eevil\u2028x',
      '%',
      '%2',
      'a%20b',
      '*',
      '日本/語',
    ])
      expect(isResourceName(ok), JSON.stringify(ok)).toBe(true)
  })

  it('invalid: empty, empty / . / .. segments, control characters, backslash, %2f %5c %2e in any case', () => {
    for (const bad of [
      '',
      '/mail',
      'mail/',
      'mail//x',
      '/',
      '.',
      '..',
      'mail/./x',
      'mail/../x',
      'mail/../../etc/passwd',
      'mail\\x',
      'mail\0x',
      'mail\x1fx',
      'mail\x7fx',
      'mail\u0085x',
      'mail\u009fx',
      'mail\nx',
      'mail%2fx',
      'mail%2Fx',
      'mail/%2e%2e/x',
      'mail/%2E/x',
      'mail%5cx',
      'mail%5Cx',
    ])
      expect(isResourceName(bad), JSON.stringify(bad)).toBe(false)
    expect(isResourceName('mail\u00a0x')).toBe(true) // U+00A0 is past the C1 range
  })

  it('at most 1024 UTF-8 bytes', () => {
    expect(isResourceName('a'.repeat(1024))).toBe(true)
    expect(isResourceName('a'.repeat(1025))).toBe(false)
    expect(isResourceName(`${'é'.repeat(512)}`)).toBe(true) // 1024 bytes
    expect(isResourceName(`${'é'.repeat(512)}a`)).toBe(false) // 1025 bytes
    expect(isResourceName('😀'.repeat(256))).toBe(true)
    expect(isResourceName(`${'😀'.repeat(256)}a`)).toBe(false)
  })

  it('globs: the same segment rules, and ** only as a whole segment', () => {
    for (const ok of ['mail/**', '**', '**/b', 'a/**/b', '*a', 'doc-*.txt', 'a/*/c', '**/**']) expect(isResourceGlob(ok), ok).toBe(true)
    for (const bad of [
      '',
      'mail/a**',
      'mail/**b',
      '/mail/**',
      'mail/**/',
      'mail//**',
      'mail/../**',
      'mail/./*',
      'mail\\*',
      'mail%2f*',
      'mail/\0',
    ])
      expect(isResourceGlob(bad), JSON.stringify(bad)).toBe(false)
    expect(isResourceGlob('a'.repeat(1024))).toBe(true)
    expect(isResourceGlob('a'.repeat(1025))).toBe(false)
  })
})

describe('glob matching (spec §6.1)', () => {
  const cases: [string, string, boolean][] = [
    ['a/**', 'a', true],
    ['a/**', 'a/b', true],
    ['a/**', 'a/b/c', true],
    ['a/**', 'b', false],
    ['a/**', 'ab', false],
    ['**/b', 'b', true],
    ['**/b', 'a/b', true],
    ['**/b', 'a/x/b', true],
    ['**/b', 'ab', false],
    ['a/**/b', 'a/b', true],
    ['a/**/b', 'a/x/b', true],
    ['a/**/b', 'a/x/y/b', true],
    ['a/**/b', 'a/xb', false],
    ['a/**/b', 'ab', false],
    ['*a', 'a', true],
    ['*a', 'aa', true],
    ['*a', 'ab', false],
    ['*a', 'x/a', false],
    ['a/*', 'a', false],
    ['a/*', 'a/b', true],
    ['a/*', 'a/b/c', false],
    ['**', 'anything/at/all', true],
    ['mail/**', 'mail/../x', false],
    ['mail/**', 'mail/./x', false],
    ['mail/**', 'mail//x', false],
    ['mail/**', 'mail/x/', false],
    ['mail/**', 'mail/%2e%2e/x', false],
    ['**', 'mail%2Fx', false],
    ['**', 'mail\\x', false],
    ['**', 'mail\0x', false],
    ['Mail/**', 'mail/x', false], // exact code points: no case folding
    ['caf\u00e9', 'cafe\u0301', false], // no normalization
  ]
  it.each(cases)('%j vs %j → %s', (glob, resource, expected) => {
    expect(isResourceGlob(glob)).toBe(true)
    expect(matchResource(glob, resource)).toBe(expected)
    expect(referenceMatch(glob, resource)).toBe(expected)
  })

  const seg = fc.constantFrom('a', 'b', 'ab', 'ba', 'aa')
  const gseg = fc.constantFrom('a', 'b', '*', 'a*', '*a', '*b*', '**', 'ab')
  const resource = fc.array(seg, { minLength: 1, maxLength: 6 }).map((s) => s.join('/'))
  const glob = fc.array(gseg, { minLength: 1, maxLength: 5 }).map((s) => s.join('/'))

  it('property: the linear matcher agrees with a regular-expression reading of the spec', () => {
    const outcomes = { match: 0, not: 0 }
    fc.assert(
      fc.property(glob, resource, (g, r) => {
        const expected = referenceMatch(g, r)
        expect(matchResource(g, r)).toBe(expected)
        outcomes[expected ? 'match' : 'not']++
      }),
      { numRuns: 5000, seed: 4 },
    )
    // Both sides are reached (seeded run: 547 matches, 4,453 not).
    expect(outcomes.match).toBeGreaterThan(250)
    expect(outcomes.not).toBeGreaterThan(2000)
  })

  it('property: a valid resource has no empty, . or .. segment, no %2f, %5c, %2e, backslash or NUL, and each segment is valid', () => {
    const anyText = fc.string({ unit: fc.constantFrom('a', '/', '.', '%', '2', 'e', 'f', '\\', '\0', 'x'), maxLength: 12 })
    const outcomes = { valid: 0, invalid: 0 }
    fc.assert(
      fc.property(anyText, (r) => {
        if (!isResourceName(r)) {
          outcomes.invalid++
          return
        }
        outcomes.valid++
        for (const s of r.split('/')) {
          expect(s).not.toBe('')
          expect(s).not.toBe('.')
          expect(s).not.toBe('..')
          expect(isResourceName(s)).toBe(true)
        }
        expect(r.toLowerCase()).not.toMatch(/%2f|%5c|%2e|\\|\0/)
      }),
      { numRuns: 5000, seed: 5 },
    )
    // Valid resources are reached, so the checks run (seeded run: 1,199 valid, 3,801 invalid).
    expect(outcomes.valid).toBeGreaterThan(500)
    expect(outcomes.invalid).toBeGreaterThan(1500)
  })

  it('property: ** matches exactly the valid resources, so an invalid one matches no glob', () => {
    const anyText = fc.string({ unit: fc.constantFrom('a', '/', '.', '%', '2', 'e', '\\'), maxLength: 10 })
    const outcomes = { valid: 0, invalid: 0 }
    fc.assert(
      fc.property(anyText, (r) => {
        if (!isResourceName(r)) expect(matchResource('**', r)).toBe(false)
        else expect(matchResource('**', r)).toBe(true)
        outcomes[isResourceName(r) ? 'valid' : 'invalid']++
      }),
      { seed: 6 },
    )
    // Both sides are reached (seeded run: 32 valid, 68 invalid).
    expect(outcomes.valid).toBeGreaterThan(10)
    expect(outcomes.invalid).toBeGreaterThan(30)
  })
})
