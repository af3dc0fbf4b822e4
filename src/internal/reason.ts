/**
 * The rule for a denial's note (spec/service-v1.md §7), shared by the service that keeps it and
 * the clients that send it (library, CLI): trimmed, 1–500 characters (Unicode code points),
 * well-formed, without control characters but tab and line feed. Format characters (bidi,
 * invisible) are kept: whoever shows a note escapes it.
 *
 * @module
 */

/** The longest note a denial carries, in characters (Unicode code points). */
export const DENIAL_REASON_MAX = 500

/** A control character other than tab and line feed, or a lone surrogate. */
const REFUSED = /(?![\t\n])\p{Cc}|\p{Cs}/u

/**
 * The note as it is kept (trimmed), or why it cannot be one.
 *
 * @example
 * ```ts
 * denialReason('  not this week\n ') // { reason: 'not this week' }
 * denialReason('') // { problem: 'must be 1–500 characters (not only spaces)' }
 * ```
 */
export function denialReason(text: string): { readonly reason: string } | { readonly problem: string } {
  const reason = text.trim()
  const length = [...reason].length
  if (length === 0 || length > DENIAL_REASON_MAX) {
    return { problem: `must be 1–${DENIAL_REASON_MAX} characters (not only spaces), not ${length}` }
  }
  if (REFUSED.test(reason)) return { problem: 'must be well-formed text without control characters (a tab and a line feed are allowed)' }
  return { reason }
}
