/**
 * The two request fields of spec/http-v1.md §2: `Authorization: Mandate <invocation>` and
 * `Mandate-Approval: <approval>, …`.
 *
 * @module
 */

/** The authentication scheme, compared without regard to case (RFC 9110 §11.1). */
export const SCHEME = 'Mandate'

/** The field carrying approvals. */
export const APPROVAL_FIELD = 'mandate-approval'

/** The answer field naming the approval request (spec/http-v1.md §6). */
export const APPROVAL_REQUEST_FIELD = 'mandate-approval-request'

/** What the `Authorization` field holds for this scheme. */
export type Credentials =
  | { readonly kind: 'none' }
  | { readonly kind: 'ambiguous' }
  | { readonly kind: 'invocation'; readonly text: string }

/**
 * Read the invocation from `Authorization` values (a Fetch `Headers.get` joins repeated fields
 * with ", "; adapters pass each field). None, or another scheme: `none`; a value that holds
 * more than one credential of this scheme: `ambiguous`.
 *
 * @example
 * ```ts
 * readCredentials(['Mandate mni1_AAAA']) // { kind: 'invocation', text: 'mni1_AAAA' }
 * readCredentials(['Bearer abc'])        // { kind: 'none' }
 * ```
 */
export function readCredentials(values: readonly string[]): Credentials {
  const found: string[] = []
  for (const value of values) {
    // A token68 has no comma, so a comma separates credentials a proxy folded together.
    for (const part of value.split(',')) {
      const text = credentialOf(part)
      if (text !== undefined) found.push(text)
    }
  }
  if (found.length === 0) return { kind: 'none' }
  if (found.length > 1) return { kind: 'ambiguous' }
  return { kind: 'invocation', text: found[0] as string }
}

const isOws = (c: string | undefined): boolean => c === ' ' || c === '\t'

/**
 * The value of a credential of this scheme, `Mandate [1*SP value]` between optional white
 * space; `undefined` for another scheme or none. Read in one pass: a stranger sends this field
 * before anything else is checked, and a regular expression for it that backtracked (a lazy
 * value before trailing white space) took time quadratic in the field's length.
 */
function credentialOf(part: string): string | undefined {
  let start = 0
  let end = part.length
  while (isOws(part[start])) start++
  // (In a part of white space only, end passes start: no scheme is read there either.)
  while (isOws(part[end - 1])) end--
  let at = start + SCHEME.length
  if (part.slice(start, at).toLowerCase() !== SCHEME.toLowerCase()) return undefined
  if (at === end) return ''
  // Another scheme that starts with these letters (`Mandatex`), or no space after it.
  if (part[at] !== ' ') return undefined
  while (part[at] === ' ') at++
  const value = part.slice(at, end)
  // A field value holds no line break (Node's parser refuses one; a Fetch Headers may not).
  return /[\n\r\u2028\u2029]/.test(value) ? undefined : value
}

/**
 * The approvals of `Mandate-Approval` values, in order: each field a comma-separated list,
 * optional whitespace around the commas, empty elements skipped (RFC 9110 §5.6.1).
 *
 * @example
 * ```ts
 * readApprovals(['mna1_A, mna1_B', ' mna1_C']) // ['mna1_A', 'mna1_B', 'mna1_C']
 * ```
 */
export function readApprovals(values: readonly string[]): string[] {
  return values
    .flatMap((v) => v.split(','))
    .map((s) => s.trim())
    .filter((s) => s.length > 0)
}

/**
 * Every value of the field `name` (lower case) among a Node request's `rawHeaders` (name,
 * value, name, value, …), in order. Node's `req.headers` keeps the first `Authorization` field
 * and drops the others, which would hide a second credential from the guard (spec/http-v1.md
 * §5 step 1) and let it read another one than a proxy in front of it did.
 *
 * @example
 * ```ts
 * rawFieldValues(['Authorization', 'Mandate mni1_A', 'authorization', 'Mandate mni1_B'], 'authorization')
 * // ['Mandate mni1_A', 'Mandate mni1_B']
 * ```
 */
export function rawFieldValues(rawHeaders: readonly string[], name: string): string[] {
  const out: string[] = []
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
    if ((rawHeaders[i] as string).toLowerCase() === name) out.push(rawHeaders[i + 1] as string)
  }
  return out
}

/**
 * A `WWW-Authenticate` challenge for `audience`, with `error="invalid_token"` when an
 * invocation was presented and failed. The realm is a quoted string: `"` and `\` escaped.
 *
 * @example
 * ```ts
 * challenge('mail', true) // 'Mandate realm="mail", error="invalid_token"'
 * ```
 */
export function challenge(audience: string, presented: boolean): string {
  const realm = `realm="${audience.replace(/[\\"]/g, (c) => `\\${c}`)}"`
  return presented ? `${SCHEME} ${realm}, error="invalid_token"` : `${SCHEME} ${realm}`
}
