/**
 * Resource globs (spec §6.3): `*` matches any run of characters other than `/` (possibly
 * empty), and a `**` segment matches any number of whole segments (possibly none). No
 * regular expressions: matching is a left-to-right scan with leftmost placement, linear in
 * practice and quadratic at worst in the 1 KiB-bounded lengths, so a pattern like
 * `a*a*a*…b` cannot stall the verifier.
 *
 * @module
 */

/**
 * Is `glob` well formed: `**` only as a whole segment, at most 1 KiB?
 *
 * @example
 * ```ts
 * isResourceGlob('mail/**')     // true
 * isResourceGlob('mail/a**')    // false
 * ```
 */
export function isResourceGlob(glob: string): boolean {
  if (glob.length === 0 || glob.length > 1024) return false
  for (const seg of glob.split('/')) if (seg !== '**' && seg.includes('**')) return false
  return true
}

/**
 * Does `resource` match `glob`?
 *
 * @example
 * ```ts
 * matchResource('mail/inbox/*', 'mail/inbox/42')  // true
 * matchResource('mail/*', 'mail/inbox/42')        // false
 * matchResource('mail/**', 'mail/inbox/42')       // true
 * ```
 */
export function matchResource(glob: string, resource: string): boolean {
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
    if (chunk.length === 0) continue
    const found = text.indexOf(chunk, at)
    if (found < 0 || found + chunk.length > end) return false
    at = found + chunk.length
  }
  return true
}
