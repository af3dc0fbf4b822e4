/**
 * Terminal-safe text (#7, screen spoofing): the escaping rule for every string a token, a request
 * or a service carries, its JSON counterpart, and the output boundary.
 */
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import type { Io } from '../../src/cli/io.js'
import { guardIo, jsonSafe, markColors, PRINTABLE_MAX, printable, printableJson, safeJson, terminalSafe } from '../../src/cli/printable.js'

/** The dangerous classes, written independently of the implementation. */
// biome-ignore lint/suspicious/noMisleadingCharacterClass: a class of single code points, U+034F among them, on purpose
const DANGEROUS = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\p{Cs}\p{Co}\p{Cn}\u034f\u115f\u1160\u17b4\u17b5\u180b-\u180f\u3164\uffa0\u{e0100}-\u{e01ef}]/u

/** Undo printable (no cut): every backslash in its output starts exactly one escape. */
function decode(text: string): string {
  return text.replace(/\\(\\|t|n|r|x[0-9a-f]{2}|u\{[0-9a-f]+\}|u[0-9a-f]{4})/g, (_, e: string) => {
    if (e === '\\') return '\\'
    if (e === 't') return '\t'
    if (e === 'n') return '\n'
    if (e === 'r') return '\r'
    if (e.startsWith('x')) return String.fromCharCode(Number.parseInt(e.slice(1), 16))
    if (e.startsWith('u{')) return String.fromCodePoint(Number.parseInt(e.slice(2, -1), 16))
    return String.fromCharCode(Number.parseInt(e.slice(1), 16))
  })
}

const cp = (n: number) => String.fromCodePoint(n)
const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i)

describe('printable: control characters', () => {
  it('escapes C0 controls as \\xhh, and TAB, LF, CR by name', () => {
    expect(printable('\x00')).toBe('\\x00')
    expect(printable('\x07')).toBe('\\x07')
    expect(printable('\x1b')).toBe('\\x1b')
    expect(printable('\x1f')).toBe('\\x1f')
    expect(printable('\t')).toBe('\\t')
    expect(printable('\n')).toBe('\\n')
    expect(printable('\r')).toBe('\\r')
    for (const n of range(0, 0x1f)) {
      const expected = n === 9 ? '\\t' : n === 10 ? '\\n' : n === 13 ? '\\r' : `\\x${n.toString(16).padStart(2, '0')}`
      expect(printable(cp(n))).toBe(expected)
    }
  })

  it('a carriage return and an ANSI erase cannot rewrite the line', () => {
    expect(printable('inbox/1\r\x1b[2Kinbox/public')).toBe('inbox/1\\r\\x1b[2Kinbox/public')
    expect(printable('\x1b]8;;http://evil\x07link\x1b]8;;\x07')).toBe('\\x1b]8;;http://evil\\x07link\\x1b]8;;\\x07')
  })

  it('escapes DEL and the C1 controls, NEL and CSI included', () => {
    expect(printable('\x7f')).toBe('\\x7f')
    expect(printable('\u0085')).toBe('\\x85')
    expect(printable('\u009b2K')).toBe('\\x9b2K')
    for (const n of range(0x80, 0x9f)) expect(printable(cp(n))).toBe(`\\x${n.toString(16)}`)
  })
})

describe('printable: bidi, invisible and format characters', () => {
  it('escapes every bidi control', () => {
    const bidi = [0x061c, 0x200e, 0x200f, ...range(0x202a, 0x202e), ...range(0x2066, 0x2069)]
    for (const n of bidi) expect(printable(cp(n))).toBe(`\\u${n.toString(16).padStart(4, '0')}`)
    expect(printable('invoice\u202efdp.exe')).toBe('invoice\\u202efdp.exe')
  })

  it('escapes zero-width characters, word joiner, BOM, soft hyphen and invisible operators', () => {
    expect(printable('a\u200bb\u200cc\u200dd')).toBe('a\\u200bb\\u200cc\\u200dd')
    expect(printable('\u2060\u2061\u2064')).toBe('\\u2060\\u2061\\u2064')
    expect(printable('\ufeff')).toBe('\\ufeff')
    expect(printable('pay\u00adpal')).toBe('pay\\xadpal')
    expect(printable('\u180e')).toBe('\\u180e')
  })

  it('escapes tag characters as \\u{…}', () => {
    expect(printable('\u{e0001}')).toBe('\\u{e0001}')
    expect(printable('ok\u{e0041}\u{e0042}\u{e007f}')).toBe('ok\\u{e0041}\\u{e0042}\\u{e007f}')
    expect(printable('\u{e0020}')).toBe('\\u{e0020}')
  })

  it('escapes invisible characters outside Cf: CGJ, Hangul fillers, Khmer vowels, variation selectors supplement', () => {
    expect(printable('\u034f\u115f\u1160\u3164\uffa0')).toBe('\\u034f\\u115f\\u1160\\u3164\\uffa0')
    expect(printable('\u17b4\u17b5\u180b\u180f')).toBe('\\u17b4\\u17b5\\u180b\\u180f')
    expect(printable('😀\u{e0100}\u{e01ef}')).toBe('😀\\u{e0100}\\u{e01ef}')
  })

  it('escapes the line and paragraph separators', () => {
    expect(printable('a\u2028b\u2029c')).toBe('a\\u2028b\\u2029c')
  })

  it('escapes the blank Braille pattern, which draws nothing and pushes the rest out of sight', () => {
    expect(printable(`asks to calendar:read${'\u2800'.repeat(3)}`)).toBe('asks to calendar:read\\u2800\\u2800\\u2800')
    expect(safeJson({ who: '\u2800' })).toBe('{"who":"\\u2800"}')
  })

  it('keeps three combining marks in a row, escapes the rest of a stack (it draws over the lines around it)', () => {
    expect(printable('a\u0301\u0302\u0303')).toBe('a\u0301\u0302\u0303')
    expect(printable(`a${'\u033f'.repeat(6)}b`)).toBe('a\u033f\u033f\u033f\\u033f\\u033f\\u033fb')
    // Each run counts anew after another character; marks of real text stay (Vietnamese, Devanagari, Thai).
    expect(printable('e\u0301\u0301\u0301 e\u0301\u0301\u0301')).toBe('e\u0301\u0301\u0301 e\u0301\u0301\u0301')
    for (const s of ['Tiếng Việt', 'क्षत्रिय', 'ที่นี่', 'e\u0323\u0302']) expect(printable(s)).toBe(s)
    expect(jsonSafe(JSON.stringify({ k: `x${'\u0301'.repeat(5)}` }))).toBe('{"k":"x\u0301\u0301\u0301\\u0301\\u0301"}')
    expect(printableJson(`x${'\u0301'.repeat(4)}`)).toBe('"x\u0301\u0301\u0301\\u0301"')
  })

  it('in JSON, escapes what draws like a double quote: one string cannot look like the end of it and another key', () => {
    const forged = `bob\u05f4, \u05f4approved\u05f4: \u05f4yes`
    expect(safeJson({ to: forged })).toBe('{"to":"bob\\u05f4, \\u05f4approved\\u05f4: \\u05f4yes"}')
    expect(JSON.parse(safeJson({ to: forged }))).toEqual({ to: forged })
    expect(safeJson('\u02ba\u02dd\u02ee\u201c\u201d\u201e\u201f\u2033\u2036\u3003\uff02')).toBe(
      '"\\u02ba\\u02dd\\u02ee\\u201c\\u201d\\u201e\\u201f\\u2033\\u2036\\u3003\\uff02"',
    )
    // Outside JSON, prose keeps its quotes.
    expect(printable('“quoted”')).toBe('“quoted”')
  })
})

describe('printable: surrogates, non-characters, private use, unassigned', () => {
  it('escapes lone surrogates and leaves pairs alone', () => {
    expect(printable('\ud800')).toBe('\\ud800')
    expect(printable('x\udfff')).toBe('x\\udfff')
    expect(printable('\udc00\ud800')).toBe('\\udc00\\ud800')
    expect(printable('\ud83d\ude00')).toBe('😀')
  })

  it('escapes non-characters', () => {
    expect(printable('\ufdd0\ufdef\ufffe\uffff')).toBe('\\ufdd0\\ufdef\\ufffe\\uffff')
    expect(printable('\u{1fffe}\u{10ffff}')).toBe('\\u{1fffe}\\u{10ffff}')
  })

  it('escapes private use (its glyph depends on the font)', () => {
    expect(printable('\ue000\uf8ff')).toBe('\\ue000\\uf8ff')
    expect(printable('\u{f0000}\u{100000}')).toBe('\\u{f0000}\\u{100000}')
  })

  it('escapes code points unassigned in this Node.js', () => {
    expect(printable('\u0378')).toBe('\\u0378')
    expect(printable('\u{e0080}')).toBe('\\u{e0080}')
  })
})

describe('printable: what stays', () => {
  it('keeps text in any script, combining marks, emoji and ordinary spaces', () => {
    for (const s of [
      'hello, world',
      'évian café',
      'e\u0301',
      '日本語のテキスト',
      'Ελληνικά Кириллица',
      'עברית and العربية',
      'हिन्दी',
      '🙂 👍🏽 🇫🇷 ❤️',
      'a\u00a0b\u3000c',
      '~!@#$%^&*()_+{}|:"<>?`-=[];\',./',
    ]) {
      expect(printable(s)).toBe(s)
    }
  })

  it('shows the joiners of a ZWJ emoji sequence (a joiner can hide text too)', () => {
    expect(printable('👩\u200d💻')).toBe('👩\\u200d💻')
  })

  it('doubles a backslash, so an escape cannot be forged', () => {
    expect(printable('\\')).toBe('\\\\')
    expect(printable('C:\\temp')).toBe('C:\\\\temp')
    expect(printable('\\x1b[2K')).toBe('\\\\x1b[2K')
    expect(printable('\\x1b[2K')).not.toBe(printable('\x1b[2K'))
  })
})

describe('printable: long fields', () => {
  it('cuts the escaped text at 2,000 characters and says how much is left', () => {
    expect(PRINTABLE_MAX).toBe(2000)
    expect(printable('a'.repeat(2000))).toBe('a'.repeat(2000))
    expect(printable('a'.repeat(2001))).toBe(`${'a'.repeat(2000)}… (1 more character)`)
    expect(printable('a'.repeat(5000))).toBe(`${'a'.repeat(2000)}… (3000 more characters)`)
  })

  it('counts the escaped form and never cuts an escape in half', () => {
    expect(printable('\x1b'.repeat(1000))).toBe(`${'\\x1b'.repeat(500)}… (500 more characters)`)
    expect(printable(`${'a'.repeat(1998)}\x1b`)).toBe(`${'a'.repeat(1998)}… (1 more character)`)
    expect(printable('😀'.repeat(1001))).toBe(`${'😀'.repeat(1000)}… (1 more character)`)
  })

  it('takes another limit, or none', () => {
    expect(printable('abcdef', 3)).toBe('abc… (3 more characters)')
    expect(printable('a'.repeat(3000), Number.POSITIVE_INFINITY)).toBe('a'.repeat(3000))
  })
})

describe('safeJson, printableJson and jsonSafe', () => {
  it('escapes what JSON.stringify leaves raw, as \\uhhhh, and still parses to the same value', () => {
    const value = { a: '\u2028\x7f\u0085\u{e0041}\u202e\u200d', b: ['\r\x1b[2K', '\\'], n: 1 }
    expect(JSON.stringify(value)).toContain('\u2028')
    const text = safeJson(value)
    expect(text).toBe('{"a":"\\u2028\\u007f\\u0085\\udb40\\udc41\\u202e\\u200d","b":["\\r\\u001b[2K","\\\\"],"n":1}')
    expect(JSON.parse(text)).toEqual(value)
  })

  it('keeps the layout of an indented document', () => {
    const text = safeJson({ a: 'x\u2029' }, 2)
    expect(text).toBe('{\n  "a": "x\\u2029"\n}')
    expect(jsonSafe('{\n  "a": "\u202e"\n}')).toBe('{\n  "a": "\\u202e"\n}')
  })

  it('printableJson is one line, cut like printable', () => {
    expect(printableJson({ to: 'bob\u202e' })).toBe('{"to":"bob\\u202e"}')
    expect(printableJson('x'.repeat(3000))).toBe(`"${'x'.repeat(1999)}… (1002 more characters)`)
  })
})

describe('terminalSafe and the output boundary', () => {
  it('escapes like printable but keeps line feeds and backslashes', () => {
    expect(terminalSafe('line 1\nline 2\r\x1b[2K\u202e\\x')).toBe('line 1\nline 2\\r\\x1b[2K\\u202e\\x')
  })

  it('with json, escapes as \\uhhhh so that the document stays valid', () => {
    const doc = '{\n  "a": "\x7f\u0085\u{e0041}"\n}'
    const safe = terminalSafe(doc, true)
    expect(safe).toBe('{\n  "a": "\\u007f\\u0085\\udb40\\udc41"\n}')
    expect(JSON.parse(safe)).toEqual(JSON.parse(doc))
  })

  it("lets the painter's colors through and escapes every other ESC", () => {
    const painted = `${markColors('\x1b[31m')}DENIED${markColors('\x1b[39m')} \x1b[8mhidden\x1b[0m`
    expect(terminalSafe(painted)).toBe('\x1b[31mDENIED\x1b[39m \\x1b[8mhidden\\x1b[0m')
    expect(markColors('plain')).toBe('plain')
  })

  it('guardIo filters standard output, standard error and the question', async () => {
    const seen: string[] = []
    const raw: Io = {
      env: {},
      stdinIsTTY: true,
      stdoutIsTTY: false,
      stdoutFileMode: () => undefined,
      stdoutColumns: () => 120,
      readStdin: async () => 'in',
      out: (t) => seen.push(`out:${t}`),
      err: (t) => seen.push(`err:${t}`),
      confirm: async (q) => {
        seen.push(`ask:${q}`)
        return true
      },
      now: () => 42,
    }
    const io = guardIo(raw, false)
    io.out('a\x1b[2K\n')
    io.err('b\u202e\n')
    expect(await io.confirm('approve \r?')).toBe(true)
    expect(await io.readStdin()).toBe('in')
    expect(io.now()).toBe(42)
    expect(io.stdoutColumns()).toBe(120)
    guardIo(raw, true).out('"\x7f"\n')
    expect(seen).toEqual(['out:a\\x1b[2K\n', 'err:b\\u202e\n', 'ask:approve \\r?', 'out:"\\u007f"\n'])
  })
})

describe('properties', () => {
  const dangerous = fc.constantFrom(
    '\r',
    '\n',
    '\x1b',
    '\x7f',
    '\u0085',
    '\u009b',
    '\u202e',
    '\u2066',
    '\u200d',
    '\u200b',
    '\ufeff',
    '\u2028',
    '\u2029',
    '\u{e0041}',
    '\ud800',
    '\udfff',
    '\ufdd0',
    '\ue000',
    '\u0378',
    '\u3164',
    '\u{e0100}',
    '\\',
  )
  const mixed = fc
    .array(fc.oneof(fc.string({ unit: 'binary' }), fc.string({ unit: 'grapheme' }), dangerous), { maxLength: 12 })
    .map((parts) => parts.join(''))
  const any = fc.oneof(mixed, fc.string({ unit: 'binary' }), fc.string({ unit: 'binary-ascii' }))

  it('the output never holds a dangerous character, and is one line', () => {
    const outcomes = { dangerous: 0 }
    fc.assert(
      fc.property(any, (s) => {
        const out = printable(s)
        expect(DANGEROUS.test(out)).toBe(false)
        expect(out).not.toMatch(/[\r\n]/)
        if (DANGEROUS.test(s)) outcomes.dangerous++
      }),
      { numRuns: 2000, seed: 1 },
    )
    // Most inputs had something to escape (seeded run: 1,587 of 2,000).
    expect(outcomes.dangerous).toBeGreaterThan(1000)
  })

  it('escapes are unambiguous: the uncut output decodes back to the input', () => {
    const outcomes = { escaped: 0, unchanged: 0 }
    fc.assert(
      fc.property(any, (s) => {
        const out = printable(s, Number.POSITIVE_INFINITY)
        expect(decode(out)).toBe(s)
        outcomes[out === s ? 'unchanged' : 'escaped']++
      }),
      { numRuns: 2000, seed: 2 },
    )
    // Both sides are reached (seeded run: 1,566 escaped, 434 unchanged).
    expect(outcomes.escaped).toBeGreaterThan(1000)
    expect(outcomes.unchanged).toBeGreaterThan(200)
  })

  it('printable ASCII other than the backslash is unchanged', () => {
    const ascii = fc.string({
      unit: fc
        .integer({ min: 0x20, max: 0x7e })
        .filter((n) => n !== 0x5c)
        .map((n) => String.fromCharCode(n)),
      maxLength: 2000,
    })
    fc.assert(
      fc.property(ascii, (s) => {
        expect(printable(s)).toBe(s)
      }),
      { seed: 3 },
    )
  })

  it('the boundary changes nothing printable already made safe', () => {
    fc.assert(
      fc.property(any, (s) => {
        expect(terminalSafe(printable(s))).toBe(printable(s))
      }),
      { seed: 4 },
    )
  })

  it('a cut field stays within the limit plus its note', () => {
    const outcomes = { cut: 0, whole: 0 }
    fc.assert(
      fc.property(any, fc.integer({ min: 1, max: 50 }), (s, max) => {
        const out = printable(s, max)
        const note = /… \(\d+ more characters?\)$/.exec(out)
        expect(out.length - (note ? note[0].length : 0)).toBeLessThanOrEqual(max)
        outcomes[note ? 'cut' : 'whole']++
      }),
      { seed: 5 },
    )
    // Both sides are reached (seeded run: 43 cut, 57 whole).
    expect(outcomes.cut).toBeGreaterThan(20)
    expect(outcomes.whole).toBeGreaterThan(25)
  })

  it('safeJson parses back to the same value and holds no dangerous character but layout', () => {
    const outcomes = { escaped: 0, unchanged: 0 }
    fc.assert(
      fc.property(fc.jsonValue(), fc.dictionary(any, any), (v, d) => {
        for (const value of [v, d]) {
          const text = safeJson(value, 2)
          expect(JSON.parse(text)).toEqual(JSON.parse(JSON.stringify(value)))
          expect(DANGEROUS.test(text.replaceAll('\n', ''))).toBe(false)
          outcomes[text === JSON.stringify(value, null, 2) ? 'unchanged' : 'escaped']++
        }
      }),
      { numRuns: 500, seed: 6 },
    )
    // Both sides are reached (seeded run: 442 documents escaped, 558 left as JSON.stringify writes them).
    expect(outcomes.escaped).toBeGreaterThan(200)
    expect(outcomes.unchanged).toBeGreaterThan(250)
  })
})
