/**
 * Terminal-safe text. Anything a token, a request or a service carries (names, purposes,
 * resources, intents, arguments, notes, messages) goes through here before a terminal sees it,
 * so that a carriage return, an ANSI sequence, a bidi override or an invisible character cannot
 * rewrite, reorder or hide what a person reads.
 *
 * The characters that never reach a terminal raw (the unsafe ones):
 * - `\p{Cc}`: C0 controls U+0000–001F (CR, LF, TAB, ESC…), DEL U+007F, C1 controls U+0080–009F
 *   (NEL U+0085, CSI U+009B…);
 * - `\p{Cf}`: format characters: bidi marks, embeddings, overrides and isolates (U+200E/200F,
 *   U+061C, U+202A–202E, U+2066–2069), zero-width space/non-joiner/joiner U+200B–200D, word
 *   joiner and invisible operators U+2060–2064, BOM U+FEFF, soft hyphen U+00AD, tags
 *   U+E0001 and U+E0020–E007F, and the rest of the category;
 * - `\p{Zl}`, `\p{Zp}`: LINE SEPARATOR U+2028, PARAGRAPH SEPARATOR U+2029;
 * - `\p{Cs}`: lone surrogates (a well-formed pair is one code point and is not touched);
 * - `\p{Co}`: private use (its glyph depends on the font: it can look like anything, or nothing);
 * - `\p{Cn}`: unassigned code points and the 66 non-characters (U+FDD0–FDEF, U+xFFFE/xFFFF).
 *   "Unassigned" is as of the Unicode version of this Node.js: a character newer than that is
 *   shown escaped (safe, if less pretty) rather than trusted blind;
 * - invisible characters outside those categories: combining grapheme joiner U+034F, Hangul
 *   fillers U+115F, U+1160, U+3164, U+FFA0, Khmer inherent vowels U+17B4/17B5, Mongolian free
 *   variation selectors U+180B–180F, the blank Braille pattern U+2800 (a symbol that draws
 *   nothing: a run of it pushes what follows out of sight), and the variation selectors
 *   supplement U+E0100–E01EF (a run of them can hide a whole message after one visible
 *   character);
 * - combining marks (`\p{M}`) past the third in a row: a tall stack of them draws over the
 *   lines around it (over another field, another request); no script needs more than three on
 *   one character.
 *
 * In JSON (an approval request's arguments) the characters that look like a double quote
 * (U+02BA, U+02DD, U+02EE, U+05F4, U+201C–201F, U+2033, U+2036, U+3003, U+FF02) are escaped too:
 * inside one string they would draw what reads as the end of it and another key.
 *
 * Kept as they are: every other character, in any script, with its combining marks, spaces
 * such as U+00A0 and U+3000, and the emoji variation selectors U+FE00–FE0F. A ZWJ emoji
 * sequence therefore shows its joiners escaped (`👩\u200d💻`): deliberate, as a joiner is
 * also a way to hide text.
 *
 * Escapes: `\t`, `\n`, `\r`; `\xhh` for the other code points up to U+00FF; `\uhhhh` for the
 * rest of the BMP (lone surrogates included); `\u{hhhhh}` above it (lowercase hex). A literal
 * backslash is shown as `\\`, so text cannot forge an escape.
 *
 * Pure and runtime-agnostic: the CLI's output boundary and the service's logs both use it.
 *
 * @module
 */

const CLASS =
  '\\p{Cc}\\p{Cf}\\p{Zl}\\p{Zp}\\p{Cs}\\p{Co}\\p{Cn}\\u034f\\u115f\\u1160\\u17b4\\u17b5\\u180b-\\u180f\\u2800\\u3164\\uffa0\\u{e0100}-\\u{e01ef}'

/** Combining marks in a row before the next is escaped. */
const MARKS_KEPT = 3

/**
 * Printable ASCII and line feeds, of which none is unsafe: most text is only that, and is told so
 * without the Unicode classes (building and first running those costs a CLI ~1 ms at start).
 */
const PLAIN_LINES = /^[\n\x20-\x7e]*$/
/** Printable ASCII without the backslash: what {@link printable} returns as it is. */
const PLAIN = /^[\x20-\x5b\x5d-\x7e]*$/

interface Patterns {
  readonly one: RegExp
  readonly oneOrBackslash: RegExp
  readonly all: RegExp
  /** One combining mark. */
  readonly mark: RegExp
  /** A run of marks longer than {@link MARKS_KEPT}: the kept ones, then the rest. */
  readonly stack: RegExp
  /** A run of marks longer than {@link MARKS_KEPT}, anywhere. */
  readonly anyStack: RegExp
}
let classes: Patterns | undefined
/** The unsafe-character patterns, built on first use. */
function unsafe(): Patterns {
  classes ??= {
    one: new RegExp(`^[${CLASS}]$`, 'u'),
    oneOrBackslash: new RegExp(`[${CLASS}\\\\]|\\p{M}{${MARKS_KEPT + 1}}`, 'u'),
    all: new RegExp(`[${CLASS}]`, 'gu'),
    mark: /^\p{M}$/u,
    stack: new RegExp(`(\\p{M}{${MARKS_KEPT}})(\\p{M}+)`, 'gu'),
    anyStack: new RegExp(`\\p{M}{${MARKS_KEPT + 1}}`, 'u'),
  }
  return classes
}

/** `text` with the marks of each run past the {@link MARKS_KEPT}th replaced by `escapeOne(mark)`. */
function unstack(text: string, escapeOne: (ch: string) => string): string {
  const { anyStack, stack } = unsafe()
  if (!anyStack.test(text)) return text
  return text.replace(stack, (_, kept: string, rest: string) => kept + Array.from(rest, escapeOne).join(''))
}

/**
 * `text` with every unsafe character replaced by `escapeOne(ch)`, line feeds kept (the output
 * boundary's pass: text already made {@link printable} comes through unchanged).
 */
export function replaceUnsafe(text: string, escapeOne: (ch: string) => string): string {
  if (PLAIN_LINES.test(text)) return text
  return unstack(
    text.replace(unsafe().all, (ch) => (ch === '\n' ? ch : escapeOne(ch))),
    escapeOne,
  )
}

/** How many characters of escaped text one field may take before it is cut short. */
export const PRINTABLE_MAX = 2000

function hex(n: number, width: number): string {
  return n.toString(16).padStart(width, '0')
}

/** The visible escape of one unsafe code point (or lone surrogate). */
export function escapeChar(ch: string): string {
  const cp = ch.codePointAt(0) as number
  if (cp === 0x09) return '\\t'
  if (cp === 0x0a) return '\\n'
  if (cp === 0x0d) return '\\r'
  if (cp <= 0xff) return `\\x${hex(cp, 2)}`
  if (cp <= 0xffff) return `\\u${hex(cp, 4)}`
  return `\\u{${hex(cp, 0)}}`
}

/** The JSON escape of one unsafe code point: `\uhhhh`, a surrogate pair above the BMP. */
export function jsonEscapeChar(ch: string): string {
  let out = ''
  for (let i = 0; i < ch.length; i++) out += `\\u${hex(ch.charCodeAt(i), 4)}`
  return out
}

/**
 * One field, ready for a terminal: every unsafe character and every backslash escaped (see the
 * module comment), on one line. Text whose escaped form is longer than `max` characters is cut
 * there and says how much is left: `… (N more characters)`, N counting code points of the
 * original.
 *
 * @example
 * ```ts
 * printable('inbox\r\x1b[2Kok') // 'inbox\\r\\x1b[2Kok'
 * printable('évian 日本 🙂') // unchanged
 * ```
 */
export function printable(text: string, max: number = PRINTABLE_MAX): string {
  if (text.length <= max && (PLAIN.test(text) || !unsafe().oneOrBackslash.test(text))) return text
  const { one, mark } = unsafe()
  const chars = Array.from(text)
  let out = ''
  let marks = 0
  for (let i = 0; i < chars.length; i++) {
    const ch = chars[i] as string
    marks = mark.test(ch) ? marks + 1 : 0
    const shown = ch === '\\' ? '\\\\' : one.test(ch) || marks > MARKS_KEPT ? escapeChar(ch) : ch
    if (out.length + shown.length > max) return `${out}${more(chars.length - i)}`
    out += shown
  }
  return out
}

/**
 * A JSON document that is also safe on a terminal: `JSON.stringify` escapes C0 controls and lone
 * surrogates but leaves DEL, C1 controls, U+2028/2029, bidi and other format characters raw;
 * this escapes those too, as `\uhhhh` (the document still parses to the same value).
 */
export function safeJson(value: unknown, indent?: number): string {
  return jsonSafe(JSON.stringify(value, null, indent) ?? 'null')
}

/**
 * A JSON value on one line for a person to read: {@link safeJson} (so strings are quoted and
 * their backslashes, quotes and unsafe characters escaped the JSON way), cut short like
 * {@link printable} when longer than `max`.
 */
export function printableJson(value: unknown, max: number = PRINTABLE_MAX): string {
  const text = safeJson(value)
  if (text.length <= max) return text
  const chars = Array.from(text)
  let out = ''
  for (let i = 0; i < chars.length; i++) {
    const ch = chars[i] as string
    if (out.length + ch.length > max) return `${out}${more(chars.length - i)}`
    out += ch
  }
  return out
}

function more(n: number): string {
  return `… (${n} more character${n === 1 ? '' : 's'})`
}

/**
 * Escape the unsafe characters of JSON text as `\uhhhh`, keeping line feeds (outside strings,
 * where they are layout; `JSON.stringify` never leaves one inside a string).
 */
export function jsonSafe(json: string): string {
  return replaceUnsafe(json, jsonEscapeChar).replace(QUOTE_LOOKALIKES, jsonEscapeChar)
}

/** Characters that draw like `"` (see the module comment): in JSON text they are escaped. */
const QUOTE_LOOKALIKES = /[\u02ba\u02dd\u02ee\u05f4\u201c-\u201f\u2033\u2036\u3003\uff02]/g
