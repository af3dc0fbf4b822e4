/**
 * Action names and action patterns (spec §6.1).
 *
 * An action is `:`-separated segments of one or more of `a-z 0-9 _ . -` (lowercase only),
 * at most 1024 bytes, e.g. `email:read` or `calendar:events:decline`. In a pattern a `*`
 * segment matches exactly one segment, and a final `*` matches one or more remaining
 * segments: `calendar:*` matches `calendar:read` and `calendar:events:decline` but not
 * `calendar`; `*` alone matches every action.
 *
 * Allow-lists (the `actions` caveat) use {@link matchAction}; restricting lists (`deny`,
 * `approval`, `where` selectors, scoped revocations and suspensions) use
 * {@link coversAction}, which also reaches every action below a matched one.
 *
 * @module
 */

const SEGMENT = /^[a-z0-9_.-]+$/

/**
 * Is `action` a concrete action name (no wildcards)?
 *
 * @example
 * ```ts
 * isActionName('email:read') // true
 * isActionName('email:*')    // false
 * ```
 */
export function isActionName(action: string): boolean {
  if (action.length === 0 || action.length > 1024) return false
  for (const segment of action.split(':')) if (!SEGMENT.test(segment)) return false
  return true
}

/**
 * Is `pattern` a well-formed action pattern?
 *
 * @example
 * ```ts
 * isActionPattern('calendar:*') // true
 * isActionPattern('email::x')   // false
 * ```
 */
export function isActionPattern(pattern: string): boolean {
  if (pattern.length === 0 || pattern.length > 1024) return false
  for (const segment of pattern.split(':')) if (segment !== '*' && !SEGMENT.test(segment)) return false
  return true
}

/**
 * Does `action` match `pattern`? Linear in their lengths.
 *
 * @example
 * ```ts
 * matchAction('email:*', 'email:draft') // true
 * matchAction('email:*', 'email')       // false
 * matchAction('*:read', 'slack:read')   // true
 * ```
 */
export function matchAction(pattern: string, action: string): boolean {
  // Without a wildcard, segment by segment is equality (no segment holds a colon): most patterns.
  if (!pattern.includes('*')) return pattern === action
  const p = pattern.split(':')
  const a = action.split(':')
  for (let i = 0; i < p.length; i++) {
    const seg = p[i]
    if (seg === '*' && i === p.length - 1) return a.length > i
    // Stryker disable next-line ConditionalExpression,EqualityOperator: equivalent — past the end of `a` a literal segment fails against undefined and a final `*` returns a.length > i, which is false
    if (i >= a.length) return false
    if (seg !== '*' && seg !== a[i]) return false
  }
  return a.length === p.length
}

/**
 * Does `pattern` cover `action`: match it, or match one of its ancestors (its first k
 * segments, 1 ≤ k < n)? Restricting lists use this, so that a prohibition, an approval
 * requirement or a scoped revocation of `email:send` also reaches `email:send:now`;
 * otherwise a child action would escape it. Linear in their lengths.
 *
 * @example
 * ```ts
 * coversAction('email:send', 'email:send')     // true
 * coversAction('email:send', 'email:send:now') // true
 * coversAction('email:send', 'email:sender')   // false
 * coversAction('email:send', 'email')          // false
 * coversAction('*:send', 'slack:send:dm')      // true
 * ```
 */
export function coversAction(pattern: string, action: string): boolean {
  // Without a wildcard: the action itself, or one below it.
  if (!pattern.includes('*')) return action === pattern || (action.length > pattern.length && action.startsWith(`${pattern}:`))
  const p = pattern.split(':')
  const a = action.split(':')
  // A prefix of `a` of k ≥ 1 segments matches `p` iff it has p.length segments, or p ends in
  // `*` and it has more; either way the shortest candidate prefix, of p.length segments,
  // matches iff some prefix does. So: the first p.length segments must match segment-wise.
  if (a.length < p.length) return false
  for (let i = 0; i < p.length; i++) if (p[i] !== '*' && p[i] !== a[i]) return false
  return true
}

/** Does `action` match any of `patterns`? Returns the first matching pattern (allow-lists). */
export function firstMatch(patterns: readonly string[], action: string): string | undefined {
  for (const p of patterns) if (matchAction(p, action)) return p
  return undefined
}

/** Does any of `patterns` cover `action`? Returns the first covering pattern (restricting lists). */
export function firstCover(patterns: readonly string[], action: string): string | undefined {
  for (const p of patterns) if (coversAction(p, action)) return p
  return undefined
}

/**
 * Is every action matched by `inner` also matched by `outer`? Used to warn when an
 * attenuation is wider than its parent; exact for this pattern language.
 */
export function patternCovers(outer: string, inner: string): boolean {
  const o = outer.split(':')
  const n = inner.split(':')
  for (let i = 0; i < o.length; i++) {
    const seg = o[i]
    const last = i === o.length - 1
    if (seg === '*' && last) {
      // inner must require at least one segment here
      return n.length > i
    }
    // Stryker disable next-line ConditionalExpression,EqualityOperator: equivalent — past the end of `n` a literal segment fails against undefined and a final `*` returns n.length > i, which is false
    if (i >= n.length) return false
    // An inner `*` is covered only by an outer `*`: a literal outer segment differs from it, and
    // an inner tail `*` under a non-final outer `*` runs out of segments on the next turn.
    if (seg !== '*' && seg !== n[i]) return false
  }
  return n.length === o.length
}

/**
 * Is every action covered ({@link coversAction}) by `inner` also covered by `outer`? Used to
 * warn that a new `deny` pattern is already denied above; exact for this pattern language.
 *
 * @example
 * ```ts
 * coverageIncludes('email:send', 'email:send:now') // true
 * coverageIncludes('email:*', 'email:send')        // true
 * coverageIncludes('email:send', 'email:*')        // false
 * ```
 */
export function coverageIncludes(outer: string, inner: string): boolean {
  const o = outer.split(':')
  const n = inner.split(':')
  if (o.length > n.length) return false
  for (let i = 0; i < o.length; i++) if (o[i] !== '*' && o[i] !== n[i]) return false
  return true
}
