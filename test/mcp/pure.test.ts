/**
 * The MCP doors' pure parts, answer by answer: a server's name as an action segment, a tool's
 * action, which actions a chain can ever allow, a tool's arguments as a mandate's (the first
 * that does not fit, by path, and why), and the denial document the model reads, field by field.
 */
import { describe, expect, it } from 'vitest'
import type { UnverifiedMandate } from '../../src/index.js'
import { checkActionPrefix } from '../../src/mcp/actions.js'
import { canEverAllow, denialDocument, serverSegment, type ToolCallDenied, toolAction, toolArguments } from '../../src/mcp.js'

/** A chain of blocks holding these decoded caveats (canEverAllow reads nothing else). */
function chainOf(...blocks: unknown[][]): UnverifiedMandate {
  return { blocks: blocks.map((caveats) => ({ caveats })) } as unknown as UnverifiedMandate
}

describe('serverSegment', () => {
  it('lower case, each run of other characters one "-", none at either end; empty is "server"; at most 128', () => {
    expect(['GitHub MCP', 'mcp-servers/everything', 'a  //  b', '--a--', '@@a@@', '', '///', 'a.b_c-d'].map(serverSegment)).toEqual([
      'github-mcp',
      'mcp-servers-everything',
      'a-b',
      'a',
      'a',
      'server',
      'server',
      'a.b_c-d',
    ])
    expect(serverSegment('x'.repeat(200))).toBe('x'.repeat(128))
  })
})

describe('toolAction', () => {
  it('the default: a name that is one action segment of at most 128 characters, under the prefix', () => {
    expect(toolAction('echo', 'mcp:x')).toBe('mcp:x:echo')
    expect(toolAction('a'.repeat(128), 'mcp:x')).toBe(`mcp:x:${'a'.repeat(128)}`)
    for (const tool of ['a'.repeat(129), 'echo!', '!echo', 'Echo', 'a b', '', 42 as never, undefined as never]) {
      expect(toolAction(tool, 'mcp:x')).toBeUndefined()
    }
  })

  it('a mapping: its answer if it is an action; a function that answers nothing leaves the tool without one', () => {
    expect(toolAction('getWeather', 'mcp:w', { getWeather: 'weather:read' })).toBe('weather:read')
    expect(toolAction('getWeather', 'mcp:w', { getWeather: 'Not An Action' })).toBeUndefined()
    expect(toolAction('getWeather', 'mcp:w', () => 5 as never)).toBeUndefined()
    expect(toolAction('echo', 'mcp:w', () => undefined)).toBeUndefined()
    expect(toolAction('echo', 'mcp:w', (t) => `tools:${t}`)).toBe('tools:echo')
    // A record's inherited keys name no tool.
    expect(toolAction('constructor', 'mcp:w', { other: 'x:y' })).toBe('mcp:w:constructor')
  })

  it('a default that the record gives another tool is no action (no borrowing); otherwise the default stands', () => {
    expect(toolAction('forecast', 'mcp:w', { getWeather: 'mcp:w:forecast' })).toBeUndefined()
    expect(toolAction('forecast', 'mcp:w', { getWeather: 'weather:read' })).toBe('mcp:w:forecast')
  })

  it('checkActionPrefix: one or more action segments, or a TypeError quoting what was given', () => {
    expect(checkActionPrefix('tools:x')).toBe('tools:x')
    for (const prefix of ['Tools', 'mcp:*', '', 5]) {
      expect(() => checkActionPrefix(prefix as never)).toThrow(
        new TypeError(`"actionPrefix" expected one or more action segments such as mcp:github, got ${JSON.stringify(prefix)}`),
      )
    }
  })
})

describe('canEverAllow', () => {
  it('every block must allow the action (one matching pattern is enough); a deny covering it, or an audience left out, hides it', () => {
    const action = 'mcp:x:echo'
    expect(canEverAllow(chainOf([{ type: 'actions', patterns: ['mail:*', 'mcp:x:*'] }]), action)).toBe(true)
    expect(canEverAllow(chainOf([{ type: 'actions', patterns: ['mcp:x:*'] }], [{ type: 'actions', patterns: ['mail:*'] }]), action)).toBe(
      false,
    )
    expect(canEverAllow(chainOf([{ type: 'deny', patterns: ['mail:*', 'mcp:x:echo'] }]), action)).toBe(false)
    expect(canEverAllow(chainOf([{ type: 'deny', patterns: ['mail:*'] }]), action)).toBe(true)
    const audience = chainOf([{ type: 'audience', names: ['mail'] }])
    expect([canEverAllow(audience, action, 'x'), canEverAllow(audience, action, 'mail'), canEverAllow(audience, action)]).toEqual([
      false,
      true,
      true,
    ])
  })

  it('a malformed or reserved caveat hides everything; a time or usage caveat hides nothing; a bad action is never allowed', () => {
    const action = 'mcp:x:echo'
    expect(canEverAllow(chainOf([{ type: 'invalid', code: 1, reason: 'x' }]), action)).toBe(false)
    expect(canEverAllow(chainOf([{ type: 'unknown', code: 11 }]), action)).toBe(false)
    expect(
      canEverAllow(
        chainOf([
          { type: 'uses', max: 1 },
          { type: 'window', expires: 1 },
        ]),
        action,
      ),
    ).toBe(true)
    expect(canEverAllow(chainOf([]), 'Not An Action')).toBe(false)
  })
})

describe('toolArguments: the first argument that does not fit, by path', () => {
  const problem = (value: unknown) => {
    const r = toolArguments(value)
    return r.problem ? [r.problem.path, r.problem.message, r.problem.hint] : 'fits'
  }
  const JSON_ONLY = 'send JSON values only'
  const NUMBERS = "a mandate's arguments hold whole numbers within ±(2^53−1) only: round it, or send the number as text"

  it('what fits: none (the empty object), booleans, safe integers, text, lists and objects (a null prototype too)', () => {
    expect(toolArguments(undefined)).toEqual({ args: {} })
    const bare = Object.assign(Object.create(null), { n: 1 })
    expect(problem(bare)).toBe('fits')
    expect(problem({ t: true, f: false, n: -(2 ** 53 - 1), s: 'é'.repeat(512), l: [1, 2, 3], o: { a: [] } })).toBe('fits')
    expect(problem({ l: Array(64).fill(1), o: Object.fromEntries(Array.from({ length: 64 }, (_, i) => [`k${i}`, i])) })).toBe('fits')
    expect(problem(Object.fromEntries(Array.from({ length: 64 }, (_, i) => [`k${i}`, i])))).toBe('fits')
  })

  it('not an object at all', () => {
    for (const value of [null, 'x', 5, [], true]) {
      expect(problem(value)).toEqual(['', 'the arguments are not an object', 'send the arguments as a JSON object of named values'])
    }
  })

  it('numbers: fractions, beyond ±(2^53−1), not finite', () => {
    expect(problem({ r: 0.5 })).toEqual(['r', 'argument r is a number with a fraction', NUMBERS])
    expect(problem({ big: 2 ** 53 })).toEqual(['big', 'argument big is an integer beyond ±(2^53−1)', NUMBERS])
    expect(problem({ inf: Number.POSITIVE_INFINITY })).toEqual(['inf', 'argument inf is not a finite number', NUMBERS])
    expect(problem({ nan: Number.NaN })).toEqual(['nan', 'argument nan is not a finite number', NUMBERS])
  })

  it('values JSON has not: undefined, a function, a bigint, a date, a map', () => {
    expect(problem({ u: undefined })).toEqual(['u', 'argument u is undefined', JSON_ONLY])
    expect(problem({ f: () => 1 })).toEqual(['f', 'argument f is a function', JSON_ONLY])
    expect(problem({ b: 1n })).toEqual(['b', 'argument b is a bigint', JSON_ONLY])
    expect(problem({ d: new Date(0) })).toEqual(['d', 'argument d is not a plain object', JSON_ONLY])
    expect(problem({ m: new Map() })).toEqual(['m', 'argument m is not a plain object', JSON_ONLY])
    expect(problem({ n: null })).toEqual(['n', 'argument n is null', "a mandate's arguments have no null: leave the argument out"])
  })

  it('lists and objects of more than 64 entries, the arguments themselves included', () => {
    expect(problem({ l: Array(65).fill(1) })).toEqual(['l', 'argument l has 65 entries', 'a list holds at most 64 entries: send fewer'])
    const wide = Object.fromEntries(Array.from({ length: 65 }, (_, i) => [`k${i}`, i]))
    expect(problem({ o: wide })).toEqual(['o', 'argument o has 65 entries', 'an object holds at most 64 entries: send fewer'])
    expect(problem(wide)).toEqual(['', 'the arguments has 65 entries', 'an object holds at most 64 entries: send fewer'])
  })

  it('text: 1,024 bytes of UTF-8 fit, 1,025 do not; an unpaired surrogate never does, in a value or a name', () => {
    expect(problem({ s: 'a'.repeat(1024) })).toBe('fits')
    expect(problem({ s: 'a'.repeat(1025) })).toEqual([
      's',
      'argument s is 1025 bytes of UTF-8, more than 1024',
      "a mandate's arguments hold texts of at most 1024 bytes: send a shorter one",
    ])
    expect(problem({ s: 'a\ud800' })).toEqual(['s', 'argument s is not valid Unicode (an unpaired surrogate)', 'send well-formed text'])
    expect(problem({ ['\ud800']: 1 })).toEqual([
      '["\\ud800"]',
      'the name of argument ["\\ud800"] is not valid Unicode (an unpaired surrogate)',
      'send well-formed text',
    ])
  })

  it('paths: plain names dotted, others quoted (40 characters of them), list items by index, cut at 120 characters', () => {
    expect(problem({ a: { b: [1, 2, { 'c d': 0.5 }] } })?.[0]).toBe('a.b[2]["c d"]')
    expect(problem({ l: [1, 0.5] })?.[0]).toBe('l[1]')
    const odd = `${'q'.repeat(50)} x`
    expect(problem({ [odd]: 0.5 })?.[0]).toBe(`[${JSON.stringify(odd.slice(0, 40))}]`)
    const a = 'a'.repeat(60)
    const b = 'b'.repeat(70)
    expect(problem({ [a]: { [b]: 0.5 } })).toEqual([
      `${`${a}.${b}`.slice(0, 120)}…`,
      `argument ${`${a}.${b}`.slice(0, 120)}… is a number with a fraction`,
      NUMBERS,
    ])
    expect(problem({ [a]: { [b.slice(0, 59)]: 0.5 } })?.[0]).toBe(`${a}.${b.slice(0, 59)}`)
  })
})

describe('denialDocument: what the model reads, field by field', () => {
  const base = { allowed: false, tool: 'echo', code: 'ERR_ACTION_DENIED', message: 'no', audit: {} } as unknown as ToolCallDenied
  const DENIED = "this tool call is not allowed by the agent's mandate (it was not run)"
  const doc = (extra: Record<string, unknown>) => denialDocument({ ...base, ...extra } as ToolCallDenied)

  it('the bare denial: only what it has', () => {
    expect(doc({})).toStrictEqual({ denied: DENIED, code: 'ERR_ACTION_DENIED', message: 'no', tool: 'echo' })
    expect(doc({ hint: 'h', action: 'mcp:x:echo' })).toStrictEqual({
      denied: DENIED,
      code: 'ERR_ACTION_DENIED',
      message: 'no',
      hint: 'h',
      tool: 'echo',
      action: 'mcp:x:echo',
    })
  })

  it('an approval asked for, with or without a request; a denied one, with or without its request id', () => {
    const approval = { missing: ['did:key:a'], quorum: 2, given: 1 }
    expect(doc({ code: 'ERR_APPROVAL_REQUIRED', approval })['approval']).toStrictEqual({ waitingFor: ['did:key:a'], quorum: 2, given: 1 })
    expect(doc({ code: 'ERR_APPROVAL_REQUIRED', approval: { ...approval, requestId: 'r1' } })['approval']).toStrictEqual({
      requestId: 'r1',
      waitingFor: ['did:key:a'],
      quorum: 2,
      given: 1,
    })
    const details = { by: 'did:key:a', reason: 'no', at: 1_700_000_000 }
    const denied = doc({ code: 'ERR_APPROVAL_DENIED', details, approval: { ...approval, requestId: 'r1' } })
    expect([denied['denial'], denied['approval']]).toStrictEqual([
      { requestId: 'r1', by: 'did:key:a', reason: 'no', at: '2023-11-14T22:13:20Z' },
      undefined,
    ])
    expect(doc({ code: 'ERR_APPROVAL_DENIED', details })['denial']).toStrictEqual({
      by: 'did:key:a',
      reason: 'no',
      at: '2023-11-14T22:13:20Z',
    })
    // Without details there is no denial to tell: the approval status stands.
    expect(doc({ code: 'ERR_APPROVAL_DENIED', approval })).toMatchObject({ approval: { waitingFor: ['did:key:a'] } })
    expect(doc({ code: 'ERR_APPROVAL_DENIED', approval })['denial']).toBeUndefined()
  })

  it('an amendment that denied: its id, and who, when and why when known', () => {
    expect(doc({ decision: { code: 'ERR_ARGS_DENIED', amendment: { id: 'a1' } } })['amendment']).toStrictEqual({ id: 'a1' })
    expect(
      doc({ decision: { code: 'ERR_ARGS_DENIED', amendment: { id: 'a1', by: 'did:key:a', at: 0, reason: 'r' } } })['amendment'],
    ).toStrictEqual({
      id: 'a1',
      by: 'did:key:a',
      at: '1970-01-01T00:00:00Z',
      reason: 'r',
    })
  })

  it('a spent quota: when it resets (or never), its size and period when known', () => {
    const usage = (details: Record<string, unknown>) => doc({ decision: { code: 'ERR_USAGE_EXHAUSTED', details } })['usage']
    expect(usage({})).toStrictEqual({ resetsAt: 'never: the quota is spent' })
    expect(usage({ resetAt: 60, max: 3, per: 3600 })).toStrictEqual({ resetsAt: '1970-01-01T00:01:00Z', max: 3, perSeconds: 3600 })
  })

  it('revoked or suspended: under its own name, with when, who, why and which actions when known', () => {
    expect(doc({ decision: { code: 'ERR_REVOKED', details: {} } })).toMatchObject({ revoked: {} })
    expect(doc({ decision: { code: 'ERR_REVOKED', details: {} } })['suspended']).toBeUndefined()
    const all = { at: 0, by: 'did:key:a', reason: 'r', actions: ['mail:send'] }
    const suspended = doc({ decision: { code: 'ERR_SUSPENDED', details: all } })
    expect([suspended['suspended'], suspended['revoked']]).toStrictEqual([
      { at: '1970-01-01T00:00:00Z', by: 'did:key:a', reason: 'r', actions: ['mail:send'] },
      undefined,
    ])
    expect(doc({ decision: { code: 'ERR_ACTION_DENIED', details: all } })).toStrictEqual({
      denied: DENIED,
      code: 'ERR_ACTION_DENIED',
      message: 'no',
      tool: 'echo',
    })
  })
})
