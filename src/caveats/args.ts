/**
 * Arguments on the wire (spec §5.6). The CBOR profile allows only unsigned-integer map
 * keys, so an object is encoded as `{0: [[key, value], …]}` with keys in strictly
 * ascending UTF-8 byte order; a request's top-level arguments are the bare pair list.
 *
 * @module
 */
import { type CborMap, type CborValue, encodeCbor } from '../cbor/codec.js'
import { sha256 } from '../crypto/hash.js'
import { fail } from '../errors.js'
import { toHex, utf8 } from '../internal/bytes.js'
import type { Args, ArgValue } from './types.js'

/**
 * Argument depth (spec §5.6): the arguments object is depth 1; a list or object that is an
 * element of a list, or the value of an entry of an object, of depth d has depth d + 1;
 * text, integers and booleans have no depth. At most 4.
 */
export const MAX_ARG_DEPTH = 4
/** The depth a `where` operand has when it is a list or object: that of a top-level argument's value. */
export const OPERAND_DEPTH = 2

/** Compare two strings by their UTF-8 bytes (the order keys must appear in). */
export function compareUtf8(a: string, b: string): number {
  const x = utf8(a)
  const y = utf8(b)
  const n = Math.min(x.length, y.length)
  for (let i = 0; i < n; i++) if (x[i] !== y[i]) return (x[i] as number) - (y[i] as number)
  return x.length - y.length
}

/** Encode a top-level argument object as a sorted pair list. Throws TypeError or RangeError on bad input. */
export function encodeArgs(args: Args): CborValue[] {
  return encodePairs(args, 1)
}

/**
 * The digest of arguments, as audit records carry it (the MCP guard's and the service's audit trail): `sha-256:` and the hex of SHA-256 over
 * their canonical CBOR (spec §5.6; no arguments encode as `80`, the empty list).
 *
 * @example
 * ```ts
 * argsDigest({ message: 'hello' }) // 'sha-256:…' (64 hex digits), the same for the same arguments in any key order
 * ```
 */
export function argsDigest(args: Args): string {
  return `sha-256:${toHex(sha256(encodeCbor(encodeArgs(args))))}`
}

/** `depth`: the depth of the object `obj` itself. */
function encodePairs(obj: Args, depth: number): CborValue[] {
  // Stryker disable next-line ConditionalExpression,StringLiteral: unreachable — encodePairs is called with depth 1 or with a depth encodeValue has already checked
  if (depth > MAX_ARG_DEPTH) throw new RangeError(`"args" nest deeper than ${MAX_ARG_DEPTH}`)
  const keys = Object.keys(obj).sort(compareUtf8)
  return keys.map((k) => [k, encodeValue(obj[k] as ArgValue, depth + 1)])
}

/** Encode one argument value; `depth` is the depth the value has if it is a list or object. */
export function encodeValue(value: ArgValue, depth = OPERAND_DEPTH): CborValue {
  if (typeof value === 'string' || typeof value === 'boolean') return value
  if (typeof value === 'number') {
    if (!Number.isSafeInteger(value)) throw new TypeError(`"args" values must be safe integers, got ${value}`)
    return value
  }
  if (depth > MAX_ARG_DEPTH) throw new RangeError(`"args" nest deeper than ${MAX_ARG_DEPTH}`)
  if (Array.isArray(value)) return value.map((v: ArgValue) => encodeValue(v, depth + 1))
  if (typeof value === 'object' && value !== null) return new Map([[0, encodePairs(value as Args, depth)]])
  throw new TypeError(`"args" value of type ${typeof value} is not supported`)
}

/** Decode a pair list into a null-prototype object. Throws ERR_FORMAT on bad structure. */
export function decodeArgs(raw: CborValue, what = 'args'): Args {
  return decodePairs(raw, what, 1)
}

/** `depth`: the depth of the object the pairs make. */
function decodePairs(raw: CborValue, what: string, depth: number): Args {
  if (!Array.isArray(raw)) fail('ERR_FORMAT', `${what}: expected a list of [key, value] pairs`)
  const out: Record<string, ArgValue> = Object.create(null)
  let previous: string | undefined
  for (const pair of raw as CborValue[]) {
    if (!Array.isArray(pair) || pair.length !== 2 || typeof pair[0] !== 'string') {
      fail('ERR_FORMAT', `${what}: expected a [key, value] pair`)
    }
    const key = pair[0] as string
    if (previous !== undefined && compareUtf8(previous, key) >= 0) {
      fail(compareUtf8(previous, key) === 0 ? 'ERR_CBOR_DUP_KEY' : 'ERR_CBOR_NONCANONICAL', `${what}: keys must be unique and ascending`)
    }
    previous = key
    out[key] = decodeValue(pair[1] as CborValue, what, depth + 1)
  }
  return out
}

/** Decode one argument value; `depth` is the depth the value has if it is a list or object. */
export function decodeValue(raw: CborValue, what: string, depth = OPERAND_DEPTH): ArgValue {
  if (typeof raw === 'string' || typeof raw === 'number' || typeof raw === 'boolean') return raw
  if (raw instanceof Uint8Array) fail('ERR_FORMAT', `${what}: byte strings are not argument values`)
  // Depth is decided by where a list or map sits, before its own shape is read (spec §5.6).
  if (depth > MAX_ARG_DEPTH) fail('ERR_LIMIT_DEPTH', `${what}: nested deeper than ${MAX_ARG_DEPTH}`)
  if (Array.isArray(raw)) return (raw as CborValue[]).map((v) => decodeValue(v, what, depth + 1))
  const map = raw as CborMap
  if (map.size !== 1 || !map.has(0)) fail('ERR_FORMAT', `${what}: an object is {0: pairs}`)
  return decodePairs(map.get(0) as CborValue, what, depth)
}

/**
 * The argument at a dotted `path` (`to`, `recipient.domain`, `cc.0`), or undefined (spec §6
 * where). On an object a segment is the key verbatim; on a list it selects an element only
 * as a decimal index without sign or leading zero, below the length; on anything else it
 * selects nothing. A key containing `.` (or empty) cannot be addressed. Only own properties
 * are looked up, so `__proto__` and friends find nothing.
 */
export function argAt(args: Args, path: string): ArgValue | undefined {
  let current: ArgValue | undefined = args
  for (const part of path.split('.')) {
    if (current === undefined || typeof current !== 'object') return undefined
    if (Array.isArray(current)) {
      if (!/^(0|[1-9][0-9]{0,5})$/.test(part)) return undefined
      current = (current as readonly ArgValue[])[Number(part)]
    } else {
      current = Object.hasOwn(current, part) ? (current as Args)[part] : undefined
    }
  }
  return current
}
