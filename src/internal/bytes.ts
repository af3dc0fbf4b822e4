/**
 * Byte helpers and noble-style argument assertions.
 *
 * Assertions throw `TypeError`/`RangeError` with messages of the form
 * `"key" expected 32 bytes, got 31`: they guard against programmer misuse, not bad tokens.
 *
 * @module
 */

const HEX_DIGITS = new TextEncoder().encode('0123456789abcdef')
/** Reused for every call: allocating a typed array costs more than the conversion itself. */
const scratch = new Uint8Array(8192)
const ascii = new TextDecoder()

/** Views of `scratch` by length, made once: ids and keys are a few fixed lengths. */
const views = new Map<number, Uint8Array>()
function view(length: number): Uint8Array {
  let v = views.get(length)
  if (v === undefined) {
    v = scratch.subarray(0, length)
    if (length <= 128) views.set(length, v)
  }
  return v
}

/**
 * Lower-case hex of `bytes`, as a flat string: hex built by `+=` is a rope of one node per byte
 * (~900 bytes held for a 32-byte id), and ids and cache keys are kept by the thousand.
 */
export function toHex(bytes: Uint8Array): string {
  let out = ''
  for (let from = 0; from < bytes.length; from += scratch.length / 2) {
    const to = Math.min(bytes.length, from + scratch.length / 2)
    for (let i = from; i < to; i++) {
      const b = bytes[i] as number
      scratch[2 * (i - from)] = HEX_DIGITS[b >> 4] as number
      scratch[2 * (i - from) + 1] = HEX_DIGITS[b & 15] as number
    }
    out += ascii.decode(view(2 * (to - from)))
  }
  return out
}

/** Strict hex decoding: even length, `[0-9a-fA-F]` only. Returns undefined otherwise. */
export function fromHex(text: string): Uint8Array | undefined {
  if (text.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(text)) return undefined
  const out = new Uint8Array(text.length / 2)
  for (let i = 0; i < out.length; i++) out[i] = Number.parseInt(text.slice(2 * i, 2 * i + 2), 16)
  return out
}

/** Byte equality. Not constant-time: use {@link equalSecret} for secrets. */
export function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false
  return true
}

/** Concatenate byte arrays. */
export function concatBytes(...parts: readonly Uint8Array[]): Uint8Array {
  return joinBytes(parts)
}

/**
 * Concatenate a list of byte arrays: {@link concatBytes} for a list of any length (a body read
 * in chunks may come in millions, too many to spread as arguments).
 */
export function joinBytes(parts: readonly Uint8Array[]): Uint8Array {
  let length = 0
  for (const p of parts) length += p.length
  const out = new Uint8Array(length)
  let at = 0
  for (const p of parts) {
    out.set(p, at)
    at += p.length
  }
  return out
}

/** Assert `value` is a Uint8Array, optionally of an exact length. */
export function abytes(value: unknown, length: number | undefined, title: string): Uint8Array {
  if (!(value instanceof Uint8Array)) {
    throw new TypeError(`"${title}" expected Uint8Array, got ${describe(value)}`)
  }
  if (length !== undefined && value.length !== length) {
    throw new RangeError(`"${title}" expected ${length} bytes, got ${value.length}`)
  }
  return value
}

/** Assert `value` is a string. */
export function astring(value: unknown, title: string): string {
  if (typeof value !== 'string') throw new TypeError(`"${title}" expected string, got ${describe(value)}`)
  return value
}

/** A short, secret-free description of a value's type for error messages. */
export function describe(value: unknown): string {
  if (value === null) return 'null'
  if (value instanceof Uint8Array) return `Uint8Array(${value.length})`
  if (Array.isArray(value)) return `array(${value.length})`
  return typeof value
}

const encoder = new TextEncoder()
/** UTF-8 encode. */
export function utf8(text: string): Uint8Array {
  return encoder.encode(text)
}
