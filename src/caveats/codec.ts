/**
 * Caveats on the wire (spec §6.1): `[type, body?]`. Encoding validates what an application
 * passes (throwing `MandateError` `ERR_CAVEAT_INVALID` with the reason); decoding never
 * throws on a well-formed CBOR item: an unknown type decodes to `unknown`, a malformed frame
 * or body to `invalid`, and the verifier denies on either once the signatures are known good
 * (reporting the name {@link caveatName} gives).
 *
 * @module
 */
import type { CborMap, CborValue } from '../cbor/codec.js'
import { TOKEN_LIMITS } from '../cbor/limits.js'
import { parsePublicKey, toDidKey } from '../crypto/keys.js'
import { fail, MandateError } from '../errors.js'
import { utf8 } from '../internal/bytes.js'
import { isActionPattern } from './action.js'
import { decodeValue, encodeValue, OPERAND_DEPTH } from './args.js'
import { isResourceGlob } from './resource.js'
import { CAVEAT_TYPES, type Caveat, type DecodedCaveat, EXTENSION_MIN, WHERE_OPS, type WhereRule } from './types.js'

const MAX_LIST = 64
const MAX_USES = 2 ** 32 - 1
const MAX_PER = 366 * 24 * 3600
const MAX_TIME = 2 ** 53 - 1
const NAMES: Readonly<Record<number, keyof typeof CAVEAT_TYPES>> = Object.fromEntries(
  Object.entries(CAVEAT_TYPES).map(([k, v]) => [v, k as keyof typeof CAVEAT_TYPES]),
)

class Invalid extends Error {}
const invalid = (reason: string): never => {
  throw new Invalid(reason)
}

/**
 * Encode one caveat. Throws `MandateError` (`ERR_CAVEAT_INVALID`) if a value is malformed or out
 * of bounds, and a `TypeError` if it is not a caveat's shape (no `type`, a list field missing).
 */
export function encodeCaveat(caveat: Caveat): CborValue {
  // The caller's programming errors (a caveat of another shape) are TypeErrors, as elsewhere;
  // a caveat of the right shape with a bad value is ERR_CAVEAT_INVALID.
  if (caveat === null || typeof caveat !== 'object' || typeof caveat.type !== 'string') {
    throw new TypeError('a caveat expected an object with a "type" (actions, resources, window, uses, …)')
  }
  try {
    const wire = toWire(caveat)
    // Round-trip through the decoder's checks so that we never sign what we would reject.
    const back = decodeCaveat(wire)
    if (back.type === 'invalid') invalid(back.reason)
    return wire
  } catch (e) {
    if (e instanceof Invalid) fail('ERR_CAVEAT_INVALID', `${caveat.type} caveat: ${e.message}`, { caveat: caveat.type })
    if (e instanceof MandateError && e.code === 'ERR_TIME_INVALID') throw e
    if (e instanceof MandateError) fail('ERR_CAVEAT_INVALID', `${caveat.type} caveat: ${e.message}`, { caveat: caveat.type, cause: e })
    throw e
  }
}

/**
 * A list field of the caller's caveat, copied. Anything else there (a misspelt field read as
 * absent, a string) is a TypeError that names the field, not one from spreading it ("c.globs is
 * not iterable"). Its items are checked by the decoder the wire form goes through.
 */
function listOf(c: Caveat, field: string): CborValue[] {
  const value = (c as unknown as Record<string, unknown>)[field]
  if (!Array.isArray(value)) throw new TypeError(`${c.type} caveat: "${field}" expected a list`)
  return [...(value as CborValue[])]
}

function toWire(c: Caveat): CborValue {
  switch (c.type) {
    case 'actions':
    case 'deny':
      return [CAVEAT_TYPES[c.type], listOf(c, 'patterns')]
    case 'resources':
      return [CAVEAT_TYPES.resources, listOf(c, 'globs')]
    case 'window': {
      const body = new Map<number, CborValue>()
      if (c.notBefore !== undefined) body.set(0, c.notBefore)
      if (c.expires !== undefined) body.set(1, c.expires)
      if (c.notBefore !== undefined && c.expires !== undefined && c.notBefore >= c.expires) {
        fail('ERR_TIME_INVALID', 'window caveat: not-before must be earlier than expiry')
      }
      return [CAVEAT_TYPES.window, body]
    }
    case 'uses': {
      const body = new Map<number, CborValue>([[0, c.max]])
      if (c.per !== undefined) body.set(1, c.per)
      return [CAVEAT_TYPES.uses, body]
    }
    case 'approval':
      return [
        CAVEAT_TYPES.approval,
        new Map<number, CborValue>([
          [0, listOf(c, 'actions')],
          [
            1,
            listOf(c, 'approvers').map((a) => {
              if (typeof a !== 'string') throw new TypeError('approval caveat: an approver expected a did:key or a hex public key')
              return parsePublicKey(a)
            }),
          ],
          [2, c.quorum],
        ]),
      ]
    case 'where': {
      const body = new Map<number, CborValue>()
      if (c.actions !== undefined) body.set(0, listOf(c, 'actions'))
      body.set(
        1,
        (listOf(c, 'rules') as unknown as WhereRule[]).map((r) => {
          if (r === null || typeof r !== 'object') throw new TypeError('where caveat: a rule expected { path, op, value }')
          const op = WHERE_OPS.indexOf(r.op)
          if (op < 0) invalid(`unknown operator ${JSON.stringify(r.op)}`)
          return [r.path, op, operand(r.value)]
        }),
      )
      return [CAVEAT_TYPES.where, body]
    }
    case 'audience':
      return [CAVEAT_TYPES.audience, listOf(c, 'names')]
    case 'depth':
      return [CAVEAT_TYPES.depth, c.max]
    case 'bound':
      return [CAVEAT_TYPES.bound]
    case 'extension':
      if (!Number.isSafeInteger(c.code) || c.code < EXTENSION_MIN) invalid(`extension codes start at ${EXTENSION_MIN}`)
      return c.body === undefined ? [c.code] : [c.code, c.body as CborValue]
  }
}

/**
 * The name a denial reports for a decoded caveat (spec §6): the type's name when its number
 * is one of types 1–10 — also when its body is malformed (`where` for a malformed where) —
 * `extension` for 65,536 and above, and `unknown` for every other caveat (a reserved or
 * unassigned type, or a frame without an unsigned integer type).
 *
 * @example
 * ```ts
 * caveatName(decodeCaveat([7, 'x'])) // 'where'
 * caveatName(decodeCaveat([11]))     // 'unknown'
 * ```
 */
export function caveatName(c: DecodedCaveat): string {
  if (c.type !== 'unknown' && c.type !== 'invalid') return c.type
  if (c.code >= EXTENSION_MIN) return 'extension'
  return NAMES[c.code] ?? 'unknown'
}

/**
 * Decode one caveat item. Never throws for a CBOR value: problems become `invalid`.
 */
export function decodeCaveat(raw: CborValue): DecodedCaveat {
  // The frame first (spec §6): `[type: uint, ? body]`. A frame that breaks it is invalid
  // whatever its type, so `[11, 1, 2]` is invalid (not unknown) and `[-1]` is invalid.
  if (!Array.isArray(raw) || raw.length < 1 || typeof raw[0] !== 'number' || raw[0] < 0) {
    return { type: 'invalid', code: -1, reason: 'a caveat is [type, body?] with an unsigned integer type' }
  }
  const code = raw[0] as number
  if (raw.length > 2) return { type: 'invalid', code, reason: 'a caveat is [type, body?]' }
  try {
    return fromWire(code, raw as readonly CborValue[])
  } catch (e) {
    // Stryker disable next-line ConditionalExpression: equivalent — fromWire throws only Invalid or MandateError, and both give the same result
    if (e instanceof Invalid) return { type: 'invalid', code, reason: e.message }
    // Stryker disable next-line ConditionalExpression: equivalent — fromWire throws only Invalid or MandateError, so `throw e` is unreachable
    if (e instanceof MandateError) return { type: 'invalid', code, reason: e.message }
    throw e
  }
}

function fromWire(code: number, raw: readonly CborValue[]): DecodedCaveat {
  if (code >= EXTENSION_MIN) {
    return raw.length === 2 ? { type: 'extension', code, body: raw[1] } : { type: 'extension', code }
  }
  const name = NAMES[code]
  if (!name) return { type: 'unknown', code }
  if (name === 'bound') {
    if (raw.length !== 1) invalid('bound takes no body')
    return { type: 'bound' }
  }
  if (raw.length !== 2) invalid('expected [type, body]')
  const body = raw[1] as CborValue
  switch (name) {
    case 'actions':
    case 'deny':
      return { type: name, patterns: list(body, 'patterns', actionPattern) }
    case 'resources':
      return { type: 'resources', globs: list(body, 'globs', resourceGlob) }
    case 'window': {
      const m = map(body, [0, 1])
      const notBefore = optInt(m.get(0), 0, MAX_TIME, 'not-before')
      const expires = optInt(m.get(1), 0, MAX_TIME, 'expires')
      if (notBefore === undefined && expires === undefined) invalid('needs not-before or expires')
      return { type: 'window', ...(notBefore === undefined ? {} : { notBefore }), ...(expires === undefined ? {} : { expires }) }
    }
    case 'uses': {
      const m = map(body, [0, 1])
      const max = int(m.get(0), 1, MAX_USES, 'max')
      const per = optInt(m.get(1), 1, MAX_PER, 'per')
      return { type: 'uses', max, ...(per === undefined ? {} : { per }) }
    }
    case 'approval': {
      const m = map(body, [0, 1, 2])
      const actions = list(m.get(0), 'actions', actionPattern)
      const keys = list(m.get(1), 'approvers', (v) => {
        if (!(v instanceof Uint8Array) || v.length !== 32) invalid('approver keys are 32 bytes')
        return toDidKey(v as Uint8Array)
      })
      if (new Set(keys).size !== keys.length) invalid('approvers must be distinct')
      const quorum = int(m.get(2), 1, keys.length, 'quorum')
      return { type: 'approval', actions, approvers: keys, quorum }
    }
    case 'where': {
      const m = map(body, [0, 1])
      const actions = m.has(0) ? list(m.get(0), 'actions', actionPattern) : undefined
      const rules = list(m.get(1), 'rules', whereRule)
      return { type: 'where', ...(actions === undefined ? {} : { actions }), rules }
    }
    case 'audience':
      return { type: 'audience', names: list(body, 'names', (v) => text(v, 'audience name')) }
    case 'depth':
      return { type: 'depth', max: int(body, 0, TOKEN_LIMITS.maxBlocks - 1, 'max') }
    // Stryker disable next-line ConditionalExpression,BlockStatement: unreachable by design — every named type is decoded above (compile-time exhaustiveness check)
    default: {
      // Every named type is decoded above: a new one that is not fails to compile here.
      const unhandled: never = name
      // Stryker disable next-line StringLiteral: unreachable by design — see above
      throw new TypeError(`no decoder for caveat ${String(unhandled)}`)
    }
  }
}

function whereRule(v: CborValue): WhereRule {
  if (!Array.isArray(v) || v.length !== 3) invalid('a rule is [path, op, value]')
  const [path, opCode, rawValue] = v as CborValue[]
  const p = text(path as CborValue, 'path')
  if (!/^[^.]+(\.[^.]+)*$/.test(p)) invalid(`bad path ${JSON.stringify(p)}`)
  const op = typeof opCode === 'number' ? WHERE_OPS[opCode] : undefined
  if (op === undefined) invalid('unknown operator')
  const value = decodeValue(rawValue as CborValue, 'where value', OPERAND_DEPTH)
  if ((op === 'lt' || op === 'le' || op === 'gt' || op === 'ge') && typeof value !== 'number') invalid(`${op} compares integers`)
  if ((op === 'in' || op === 'not_in') && !Array.isArray(value)) invalid(`${op} needs a list`)
  if ((op === 'prefix' || op === 'glob') && typeof value !== 'string') invalid(`${op} needs a string`)
  if (op === 'glob' && !isResourceGlob(value as string)) invalid('bad glob')
  return { path: p, op: op as WhereRule['op'], value }
}

/** A `where` operand on the wire; a value that is not an argument value (§5.6) is invalid. */
function operand(value: WhereRule['value']): CborValue {
  try {
    return encodeValue(value, OPERAND_DEPTH)
  } catch (e) {
    // Stryker disable next-line ConditionalExpression: equivalent — encodeValue throws only TypeError or RangeError
    if (e instanceof TypeError || e instanceof RangeError) invalid(`operand: ${e.message}`)
    throw e
  }
}

function actionPattern(v: CborValue): string {
  const s = text(v, 'action pattern')
  if (!isActionPattern(s)) invalid(`bad action pattern ${JSON.stringify(s)}`)
  return s
}

function resourceGlob(v: CborValue): string {
  const s = text(v, 'resource glob')
  if (!isResourceGlob(s)) invalid(`bad resource glob ${JSON.stringify(s)}`)
  return s
}

function text(v: CborValue | undefined, what: string): string {
  if (typeof v !== 'string' || v.length === 0) invalid(`${what} must be a non-empty string`)
  // A UTF-16 unit is at most 3 UTF-8 bytes: only a string that could be too long is encoded to measure it.
  if ((v as string).length * 3 > TOKEN_LIMITS.maxStringBytes && utf8(v as string).length > TOKEN_LIMITS.maxStringBytes)
    invalid(`${what} is too long`)
  return v as string
}

function list<T>(v: CborValue | undefined, what: string, each: (v: CborValue) => T): T[] {
  if (!Array.isArray(v) || v.length === 0) invalid(`${what} must be a non-empty list`)
  const items = v as CborValue[]
  if (items.length > MAX_LIST) invalid(`${what}: at most ${MAX_LIST}`)
  return items.map(each)
}

function map(v: CborValue, allowed: readonly number[]): CborMap {
  if (!(v instanceof Map)) invalid('body must be a map')
  for (const k of (v as CborMap).keys()) if (!allowed.includes(k)) invalid(`unknown field ${k}`)
  return v as CborMap
}

function int(v: CborValue | undefined, min: number, max: number, what: string): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min || v > max) invalid(`${what} must be an integer in ${min}..${max}`)
  return v as number
}

function optInt(v: CborValue | undefined, min: number, max: number, what: string): number | undefined {
  return v === undefined ? undefined : int(v, min, max, what)
}
