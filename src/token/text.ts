/**
 * Text forms (spec §5.5): a versioned prefix and strict unpadded base64url. Node's
 * `Buffer` decoder skips bad characters and ignores non-zero trailing bits, which would
 * give one token many spellings; ours (src/internal/base64url.ts) rejects both.
 *
 * @module
 */
import { TOKEN_LIMITS } from '../cbor/limits.js'
import { fail } from '../errors.js'
import { decodeBase64url, encodeBase64url } from '../internal/base64url.js'
import { abytes } from '../internal/bytes.js'

/** The text prefixes of format version 1. */
export const PREFIXES = {
  mandate: 'mnd1_',
  invocation: 'mni1_',
  approval: 'mna1_',
  revocation: 'mnr1_',
} as const

/** A kind of token with a text form. */
export type TokenKind = keyof typeof PREFIXES

const NAMES: Record<TokenKind, string> = {
  mandate: 'mandate',
  invocation: 'invocation',
  approval: 'approval',
  revocation: 'revocation',
}

/** `prefix` + base64url of `bytes`. */
export function toText(kind: TokenKind, bytes: Uint8Array): string {
  return encodeBase64url(bytes, PREFIXES[kind])
}

/**
 * The text without surrounding whitespace: only space, tab, line feed and carriage return
 * (spec §5.5). Any other character, Unicode spaces included, stays and then fails the prefix
 * or base64url check.
 */
function trimAscii(text: string): string {
  const space = (i: number) => {
    const c = text.charCodeAt(i)
    return c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d
  }
  let start = 0
  let end = text.length
  // Stryker disable next-line EqualityOperator,ConditionalExpression: equivalent — at start = end, charCodeAt(end) is NaN, not a space: the loop stops there either way
  while (start < end && space(start)) start++
  // Stryker disable next-line EqualityOperator,ConditionalExpression: equivalent — end only drops below start on all-space text, and slice(start, end) is then empty either way
  while (end > start && space(end - 1)) end--
  return text.slice(start, end)
}

/**
 * Which kind a text claims to be, from its prefix (after trimming whitespace).
 *
 * @example
 * ```ts
 * kindOf('mni1_AAAA') // 'invocation'
 * kindOf('hello')     // undefined
 * ```
 */
export function kindOf(text: string): TokenKind | undefined {
  const t = trimAscii(text)
  for (const [kind, prefix] of Object.entries(PREFIXES)) if (t.startsWith(prefix)) return kind as TokenKind
  return undefined
}

/** Strictly decode the text form of a `kind`. Throws ERR_TEXT_FORMAT or ERR_LIMIT_SIZE. */
export function fromText(kind: TokenKind, text: string): Uint8Array {
  if (typeof text !== 'string') throw new TypeError(`"${kind}" expected string, got ${typeof text}`)
  const t = trimAscii(text)
  const prefix = PREFIXES[kind]
  if (!t.startsWith(prefix)) {
    const other = kindOf(t)
    fail('ERR_TEXT_FORMAT', `not ${article(kind)}: expected the prefix ${prefix}`, {
      hint: other ? `this looks like ${article(other)} (${PREFIXES[other]})` : `${NAMES[kind]} texts start with ${prefix}`,
    })
  }
  const body = t.slice(prefix.length)
  if (body.length > Math.ceil((TOKEN_LIMITS.maxTokenBytes * 4) / 3)) {
    fail('ERR_LIMIT_SIZE', `${NAMES[kind]} exceeds ${TOKEN_LIMITS.maxTokenBytes} bytes`)
  }
  try {
    return decodeBase64url(body)
  } catch {
    fail('ERR_TEXT_FORMAT', `${NAMES[kind]} is not strict unpadded base64url`, { hint: 'was the token truncated or wrapped when copied?' })
  }
}

/**
 * A token's bytes, owned by this library: decoded from its text, or a copy of the caller's
 * array, made once here (its owner may change it later, and a token keeps its bytes: a
 * verifier sends them on to a usage store or a replay cache after an await). Everything decoded
 * from them is a view of these bytes. Throws ERR_LIMIT_SIZE above the token limit.
 */
export function ownBytes(kind: TokenKind, input: string | Uint8Array): Uint8Array {
  const bytes = typeof input === 'string' ? fromText(kind, input) : abytes(input, undefined, kind)
  if (bytes.length > TOKEN_LIMITS.maxTokenBytes) {
    fail('ERR_LIMIT_SIZE', `${kind} of ${bytes.length} bytes exceeds ${TOKEN_LIMITS.maxTokenBytes}`)
  }
  // new Uint8Array, not slice(): Buffer#slice is a view, not a copy.
  // Stryker disable next-line ConditionalExpression,StringLiteral: equivalent — copying bytes just decoded from text too only costs a copy
  return typeof input === 'string' ? bytes : new Uint8Array(bytes)
}

function article(kind: TokenKind): string {
  return kind === 'invocation' || kind === 'approval' ? `an ${kind}` : `a ${kind}`
}
