/**
 * Strict unpadded base64url (RFC 4648 §5, no `=`), for the text forms on every presentation's
 * path. Strict as @scure/base is (test/internal/base64url.test.ts holds the two to the same
 * answer on every input): only the 64 letters, no padding, no length of 1 mod 4, and the unused
 * low bits of the last letter zero, so that one byte string has exactly one spelling. A table
 * lookup per letter and no intermediate arrays: a 1 KB invocation decodes in a few microseconds
 * (@scure/base's general radix code took about a tenth of a warm verify).
 *
 * @module
 */

const LETTERS = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'
/** Letter code → 6-bit value, 255 for anything that is not a base64url letter. */
const VALUES = new Uint8Array(128).fill(255)
for (let i = 0; i < 64; i++) VALUES[LETTERS.charCodeAt(i)] = i

/** Why a text is not strict base64url. */
export class Base64urlError extends Error {
  override readonly name = 'Base64urlError'
}

function value(text: string, i: number): number {
  const c = text.charCodeAt(i)
  const v = c < 128 ? (VALUES[c] as number) : 255
  if (v === 255) throw new Base64urlError(`not a base64url letter at ${i}`)
  return v
}

/**
 * The bytes spelled by `text`; throws {@link Base64urlError} if it is not strict unpadded
 * base64url.
 *
 * @example
 * ```ts
 * decodeBase64url('aGk') // Uint8Array [104, 105]
 * decodeBase64url('aGl') // throws: non-zero unused bits
 * ```
 */
export function decodeBase64url(text: string): Uint8Array {
  const rest = text.length % 4
  if (rest === 1) throw new Base64urlError(`a length of ${text.length} is not base64url`)
  const whole = text.length - rest
  const out = new Uint8Array((whole / 4) * 3 + (rest === 0 ? 0 : rest - 1))
  let o = 0
  for (let i = 0; i < whole; i += 4) {
    const n = (value(text, i) << 18) | (value(text, i + 1) << 12) | (value(text, i + 2) << 6) | value(text, i + 3)
    out[o++] = n >> 16
    out[o++] = (n >> 8) & 0xff
    out[o++] = n & 0xff
  }
  if (rest === 2) {
    const a = value(text, whole)
    const b = value(text, whole + 1)
    if ((b & 0x0f) !== 0) throw new Base64urlError('non-zero unused bits in the last letter')
    out[o] = (a << 2) | (b >> 4)
  } else if (rest === 3) {
    const a = value(text, whole)
    const b = value(text, whole + 1)
    const c = value(text, whole + 2)
    if ((c & 0x03) !== 0) throw new Base64urlError('non-zero unused bits in the last letter')
    out[o++] = (a << 2) | (b >> 4)
    out[o] = ((b & 0x0f) << 4) | (c >> 2)
  }
  return out
}

/** The letters' codes, to write them as bytes. */
const CODES = Uint8Array.from(LETTERS, (c) => c.charCodeAt(0))
const ascii = new TextDecoder()

/**
 * `prefix` (ASCII) then `bytes` in unpadded base64url. The letters are written as bytes and read
 * as one string: a flat string, where appending letter by letter (or the text to a prefix)
 * builds a rope that the first reader must flatten, copying it whole.
 *
 * @example
 * ```ts
 * encodeBase64url(new Uint8Array([104, 105])) // 'aGk'
 * encodeBase64url(new Uint8Array([104, 105]), 'mni1_') // 'mni1_aGk'
 * ```
 */
export function encodeBase64url(bytes: Uint8Array, prefix = ''): string {
  const rest = bytes.length % 3
  const whole = bytes.length - rest
  const out = new Uint8Array(prefix.length + (whole / 3) * 4 + (rest === 0 ? 0 : rest + 1))
  let o = 0
  for (; o < prefix.length; o++) out[o] = prefix.charCodeAt(o)
  for (let i = 0; i < whole; i += 3) {
    const n = ((bytes[i] as number) << 16) | ((bytes[i + 1] as number) << 8) | (bytes[i + 2] as number)
    out[o++] = CODES[n >> 18] as number
    out[o++] = CODES[(n >> 12) & 63] as number
    out[o++] = CODES[(n >> 6) & 63] as number
    out[o++] = CODES[n & 63] as number
  }
  if (rest === 1) {
    const n = bytes[whole] as number
    out[o++] = CODES[n >> 2] as number
    out[o] = CODES[(n & 3) << 4] as number
  } else if (rest === 2) {
    const n = ((bytes[whole] as number) << 8) | (bytes[whole + 1] as number)
    out[o++] = CODES[n >> 10] as number
    out[o++] = CODES[(n >> 4) & 63] as number
    out[o] = CODES[(n & 15) << 2] as number
  }
  return ascii.decode(out)
}
