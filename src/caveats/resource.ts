/**
 * Resources and resource globs (spec §6.1). A resource is `/`-separated segments; every
 * segment is non-empty, is not `.` or `..`, and contains no control character (U+0000–U+001F,
 * U+007F–U+009F), no backslash and no percent-encoded separator or dot (`%2f`, `%5c`, `%2e`
 * in any case); at most 1024 UTF-8 bytes. Comparison is by exact code points: no
 * normalization, no case folding, so a service must act on exactly the string it verified.
 *
 * Globs follow the same segment rules, plus: `*` matches any run of characters other than
 * `/` (possibly empty), and a `**` segment matches any number of whole segments (possibly
 * none). No regular expressions: matching is a left-to-right scan with leftmost placement,
 * linear in practice and quadratic at worst in the 1 KiB-bounded lengths, so a pattern like
 * `a*a*a*…b` cannot stall the verifier.
 *
 * @module
 */

const MAX_BYTES = 1024
// Control characters (C0, DEL, C1), the backslash, and percent-encoded `/`, `\` and `.`.
// biome-ignore lint/suspicious/noControlCharactersInRegex: refusing control characters is the point
const FORBIDDEN = /[\u0000-\u001f\u007f-\u009f\\]|%2f|%5c|%2e/i

/** UTF-8 length of `text` without allocating (lone surrogates count as U+FFFD, 3 bytes). */
function utf8Length(text: string): number {
  let n = 0
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    // Stryker disable next-line EqualityOperator: equivalent — U+0080 is a forbidden control character, so text containing it is refused whatever its counted length
    if (c < 0x80) n += 1
    else if (c < 0x800) n += 2
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < text.length && (text.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
      n += 4
      i++
    } else n += 3
  }
  return n
}

/** The rules shared by resources and globs: length, characters, and segments. */
function wellFormedSegments(text: string): boolean {
  if (text.length === 0 || utf8Length(text) > MAX_BYTES || FORBIDDEN.test(text)) return false
  for (const seg of text.split('/')) if (seg === '' || seg === '.' || seg === '..') return false
  return true
}

/**
 * Is `resource` a valid resource string for a request? Non-empty, at most 1024 UTF-8 bytes,
 * no empty, `.` or `..` segment (so no leading, trailing or doubled `/`), no control
 * character, no backslash, no `%2f` / `%5c` / `%2e` in any case.
 *
 * @example
 * ```ts
 * isResourceName('mail/inbox/42')      // true
 * isResourceName('mail/../etc/passwd') // false
 * isResourceName('mail//x')            // false
 * isResourceName('mail%2Fx')           // false
 * ```
 */
export function isResourceName(resource: string): boolean {
  return typeof resource === 'string' && wellFormedSegments(resource)
}

/**
 * Is `glob` well formed: the segment rules of {@link isResourceName}, and `**` only as a
 * whole segment?
 *
 * @example
 * ```ts
 * isResourceGlob('mail/**')     // true
 * isResourceGlob('mail/a**')    // false
 * isResourceGlob('mail/../**')  // false
 * ```
 */
export function isResourceGlob(glob: string): boolean {
  if (typeof glob !== 'string' || !wellFormedSegments(glob)) return false
  for (const seg of glob.split('/')) if (seg !== '**' && seg.includes('**')) return false
  return true
}

/**
 * Does `resource` match `glob`? A resource that is not valid ({@link isResourceName}) matches
 * nothing. `a/**` matches `a`, `**` + `/b` matches `b`, `a/**` + `/b` matches `a/b`, and `*a`
 * matches `a` and `aa`.
 *
 * @example
 * ```ts
 * matchResource('mail/inbox/*', 'mail/inbox/42')  // true
 * matchResource('mail/*', 'mail/inbox/42')        // false
 * matchResource('mail/**', 'mail/inbox/42')       // true
 * matchResource('mail/**', 'mail')                // true
 * matchResource('mail/**', 'mail/../etc/passwd')  // false (not a valid resource)
 * ```
 */
export function matchResource(glob: string, resource: string): boolean {
  if (!isResourceName(resource)) return false
  const groups = splitGroups(glob.split('/'))
  const text = resource.split('/')
  // Only one group: no `**`, so segment counts must match exactly.
  if (groups.length === 1) {
    const only = groups[0] as string[]
    return only.length === text.length && matchRun(only, text, 0)
  }
  const first = groups[0] as string[]
  const last = groups[groups.length - 1] as string[]
  if (first.length + last.length > text.length) return false
  if (!matchRun(first, text, 0)) return false
  if (!matchRun(last, text, text.length - last.length)) return false
  let at = first.length
  const end = text.length - last.length
  for (let g = 1; g < groups.length - 1; g++) {
    const group = groups[g] as string[]
    // Leftmost placement is optimal: `**` on both sides absorbs anything in between.
    let placed = -1
    for (let start = at; start + group.length <= end; start++) {
      if (matchRun(group, text, start)) {
        placed = start
        break
      }
    }
    if (placed < 0) return false
    at = placed + group.length
  }
  return true
}

/** Split pattern segments into the runs between `**` segments. */
function splitGroups(segments: string[]): string[][] {
  const groups: string[][] = [[]]
  for (const seg of segments) {
    if (seg === '**') groups.push([])
    else (groups[groups.length - 1] as string[]).push(seg)
  }
  return groups
}

function matchRun(patterns: readonly string[], text: readonly string[], start: number): boolean {
  for (let i = 0; i < patterns.length; i++) {
    if (!matchSegment(patterns[i] as string, text[start + i] as string)) return false
  }
  return true
}

/** `*` within one segment: literal chunks placed leftmost, first and last anchored. */
export function matchSegment(pattern: string, text: string): boolean {
  if (!pattern.includes('*')) return pattern === text
  const chunks = pattern.split('*')
  const head = chunks[0] as string
  const tail = chunks[chunks.length - 1] as string
  if (head.length + tail.length > text.length) return false
  if (!text.startsWith(head) || !text.endsWith(tail)) return false
  let at = head.length
  const end = text.length - tail.length
  for (let i = 1; i < chunks.length - 1; i++) {
    const chunk = chunks[i] as string
    // Stryker disable next-line ConditionalExpression: equivalent — indexOf('', at) is at, and at <= end, so an empty chunk changes nothing
    if (chunk.length === 0) continue
    const found = text.indexOf(chunk, at)
    if (found < 0 || found + chunk.length > end) return false
    at = found + chunk.length
  }
  return true
}
