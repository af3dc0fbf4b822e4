/**
 * The deterministic writer of the CBOR profile (spec §5.1; RFC 8949 §4.2.1): shortest heads,
 * definite lengths, map keys in ascending order, nothing outside the data model.
 *
 * It checks, as it writes, everything the strict reader would check on its output, and
 * reports it with the same code, message and offset the reader would; so the output never
 * needs a second pass. Two kinds of failure, in this precedence:
 *
 * - a value outside the data model (`TypeError`: a float, an unsafe integer, a non-integer
 *   map key, anything not a number, boolean, string, Uint8Array, array or Map) or nested
 *   more than 64 deep (`RangeError`): a bug in the caller, thrown at once;
 * - a limit of the profile broken by a value of the data model (`ERR_LIMIT_DEPTH`,
 *   `ERR_LIMIT_COUNT`, `ERR_LIMIT_SIZE` on text, `ERR_CBOR_UTF8` for a lone surrogate, and
 *   `ERR_CBOR_TYPE` for a hole in an array): the first one in output order is kept and
 *   thrown once the whole value has been walked, so that a `TypeError` anywhere still wins.
 *
 * Internal to `src/cbor`: the public entry point is `codec.ts`.
 *
 * @module
 */
import type { MandateErrorCode } from '../errors.js'
import type { CborValue } from './codec.js'
import { cborError } from './decode.js'
import type { CborLimits } from './limits.js'

/** Nesting beyond this (the top-level value is 0) is refused with a `RangeError`. */
const MAX_NESTING = 64
const SCRATCH_BYTES = 8 * 1024
/** A scratch buffer grown past this is dropped after the call, not kept. */
const KEEP_BYTES = 64 * 1024
const textEncoder = new TextEncoder()

// Writer state, module-level for speed; writeCbor saves and restores it around a re-entrant
// call (a getter or `valueOf` that encodes), so one call never writes into another's buffer.
let buf = new Uint8Array(SCRATCH_BYTES)
let pos = 0
let maxDepth = 0
let maxEntries = 0
let maxTextBytes = 0
let active = false
let pendingCode: MandateErrorCode | undefined
let pendingMessage = ''
let pendingOffset = 0

/**
 * Encode `value` deterministically; returns a fresh `Uint8Array` of exactly the output.
 * Byte strings are not limited (the limits' `maxByteString` is ignored).
 */
export function writeCbor(value: CborValue, limits: CborLimits): Uint8Array {
  // Read first: nothing below may throw before the try, or `active` would stay set.
  const { maxDepth: depth, maxEntries: entries, maxTextBytes: text } = limits
  const outer = active
  const saved = outer ? { buf, pos, maxDepth, maxEntries, maxTextBytes, pendingCode, pendingMessage, pendingOffset } : undefined
  if (outer) buf = new Uint8Array(256)
  active = true
  pos = 0
  maxDepth = depth
  maxEntries = entries
  maxTextBytes = text
  pendingCode = undefined
  try {
    write(value, 1)
    if (pendingCode !== undefined) cborError(pendingCode, pendingMessage, pendingOffset)
    return buf.slice(0, pos)
  } finally {
    if (buf.length > KEEP_BYTES) buf = new Uint8Array(SCRATCH_BYTES)
    active = outer
    if (saved) ({ buf, pos, maxDepth, maxEntries, maxTextBytes, pendingCode, pendingMessage, pendingOffset } = saved)
  }
}

/** Keep the first profile violation in output order; throw it at the end. */
function defer(code: MandateErrorCode, message: string, offset: number): void {
  if (pendingCode !== undefined) return
  pendingCode = code
  pendingMessage = message
  pendingOffset = offset
}

function ensure(n: number): void {
  if (pos + n <= buf.length) return
  const bigger = new Uint8Array(Math.max(buf.length * 2, pos + n))
  bigger.set(buf.subarray(0, pos))
  buf = bigger
}

/** Write a head in shortest form. `arg` is a safe non-negative integer. */
function writeHead(major: number, arg: number): void {
  ensure(9)
  const b = buf
  let p = pos
  const m = major << 5
  if (arg < 24) {
    b[p++] = m | arg
  } else if (arg < 0x100) {
    b[p++] = m | 24
    b[p++] = arg
  } else if (arg < 0x10000) {
    b[p++] = m | 25
    b[p++] = arg >>> 8
    b[p++] = arg & 0xff
  } else if (arg < 0x100000000) {
    b[p++] = m | 26
    b[p++] = arg >>> 24
    b[p++] = (arg >>> 16) & 0xff
    b[p++] = (arg >>> 8) & 0xff
    b[p++] = arg & 0xff
  } else {
    const hi = Math.floor(arg / 0x100000000)
    const lo = arg - hi * 0x100000000
    b[p++] = m | 27
    b[p++] = hi >>> 24
    b[p++] = (hi >>> 16) & 0xff
    b[p++] = (hi >>> 8) & 0xff
    b[p++] = hi & 0xff
    b[p++] = lo >>> 24
    b[p++] = (lo >>> 16) & 0xff
    b[p++] = (lo >>> 8) & 0xff
    b[p++] = lo & 0xff
  }
  pos = p
}

/** `depth` counts as the reader does: the top-level item is 1. */
function write(value: CborValue, depth: number): void {
  if (depth > MAX_NESTING + 1) throw new RangeError('"value" nests too deeply for CBOR encoding')
  if (typeof value === 'number') {
    if (!Number.isSafeInteger(value)) throw new TypeError(`"value" expected safe integer, got ${value}`)
    // -0 >= 0: negative zero is written as 0
    if (value >= 0) writeHead(0, value)
    else writeHead(1, -1 - value)
    return
  }
  if (typeof value === 'boolean') {
    ensure(1)
    buf[pos++] = value ? 0xf5 : 0xf4
    return
  }
  if (typeof value === 'string') {
    writeText(value)
    return
  }
  if (value instanceof Uint8Array) {
    const n = value.length
    writeHead(2, n)
    ensure(n)
    buf.set(value, pos)
    pos += n
    return
  }
  if (Array.isArray(value)) {
    const list = value as readonly CborValue[]
    const n = list.length
    containerHead(4, n, depth)
    for (let i = 0; i < n; i++) {
      const v = list[i]
      if (v === undefined && !(i in list)) {
        // A hole: what `undefined` would be, and refused as the reader refuses it.
        defer('ERR_CBOR_TYPE', 'undefined is not allowed', pos)
        ensure(1)
        buf[pos++] = 0xf7
      } else {
        write(v as CborValue, depth + 1)
      }
    }
    return
  }
  if (value instanceof Map) {
    const map = value as ReadonlyMap<number, CborValue>
    containerHead(5, map.size, depth)
    let previous = -1
    let ascending = true
    for (const k of map.keys()) {
      if (!(typeof k === 'number' && Number.isSafeInteger(k) && k > previous)) {
        ascending = false
        break
      }
      previous = k
    }
    if (ascending) {
      // Keys already valid and in order (the usual case): no sort, no lookups.
      for (const [k, v] of map) {
        writeHead(0, k)
        write(v, depth + 1)
      }
      return
    }
    const keys = [...map.keys()].sort((a, b) => a - b)
    for (const k of keys) {
      if (!Number.isSafeInteger(k) || k < 0) throw new TypeError(`"map key" expected unsigned integer, got ${k}`)
      writeHead(0, k)
      write(map.get(k) as CborValue, depth + 1)
    }
    return
  }
  throw new TypeError(`"value" is outside the CBOR profile: ${typeof value}`)
}

/** An array or map head, and the reader's checks on it: depth, then entries. */
function containerHead(major: number, n: number, depth: number): void {
  const at = pos
  if (depth > maxDepth) defer('ERR_LIMIT_DEPTH', `nesting deeper than ${maxDepth}`, at)
  else if (n > maxEntries) defer('ERR_LIMIT_COUNT', `${n} entries exceed ${maxEntries}`, at)
  writeHead(major, n)
}

/**
 * A text string as UTF-8. A lone surrogate is never replaced: it counts 3 bytes (as U+FFFD
 * would) toward the length and the limit, and is refused as invalid UTF-8.
 */
function writeText(text: string): void {
  const units = text.length
  // UTF-8 length, and whether every surrogate is paired.
  let bytes = units
  let wellFormed = true
  for (let i = 0; i < units; i++) {
    const c = text.charCodeAt(i)
    if (c < 0x80) continue
    if (c < 0x800) {
      bytes += 1
    } else if (c < 0xd800 || c > 0xdfff) {
      bytes += 2
    } else if (c <= 0xdbff && i + 1 < units && (text.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
      bytes += 2 // four bytes for two units
      i++
    } else {
      bytes += 2
      wellFormed = false
    }
  }
  const at = pos
  if (bytes > maxTextBytes) defer('ERR_LIMIT_SIZE', `string of ${bytes} bytes exceeds ${maxTextBytes}`, at)
  else if (!wellFormed) defer('ERR_CBOR_UTF8', `invalid UTF-8 in text string`, at)
  writeHead(3, bytes)
  ensure(bytes)
  if (bytes === units) {
    const b = buf
    const p = pos
    for (let i = 0; i < units; i++) b[p + i] = text.charCodeAt(i)
  } else {
    // Well-formed: exactly `bytes` bytes. Not: lone surrogates become U+FFFD, 3 bytes each,
    // and the deferred error is thrown before these bytes are ever returned.
    textEncoder.encodeInto(text, buf.subarray(pos, pos + bytes))
  }
  pos += bytes
}
