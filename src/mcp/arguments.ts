/**
 * A tool's arguments as an invocation's arguments (spec §5.6). MCP arguments are any JSON;
 * a mandate's are text, safe integers, booleans, lists and objects, at most 4 deep, 64 entries
 * per list or object and 1,024 UTF-8 bytes per text. A call whose arguments do not fit is
 * denied (`ERR_REQUEST_INVALID`) with the first argument that does not, by path, and what to
 * do about it: the model can then call again with arguments that fit.
 *
 * @module
 */
import { MAX_ARG_DEPTH } from '../caveats/args.js'
import type { Args, ArgValue } from '../caveats/types.js'
import { CBOR_LIMITS, TOKEN_LIMITS } from '../cbor/limits.js'
import { utf8 } from '../internal/bytes.js'

/** The first argument that does not fit, and why. */
export interface ArgumentProblem {
  /** Where, e.g. `options.depth` or `items[3]`; empty for the arguments themselves. */
  readonly path: string
  readonly message: string
  readonly hint: string
}

const MAX_ENTRIES = CBOR_LIMITS.maxEntries
const MAX_TEXT = TOKEN_LIMITS.maxStringBytes
const LONE_SURROGATE = /\p{Cs}/u
const PLAIN_KEY = /^[A-Za-z_$][A-Za-z0-9_$-]*$/
/** How much of a path a message quotes. */
const PATH_MAX = 120

function join(path: string, key: string): string {
  const joined = PLAIN_KEY.test(key) ? (path === '' ? key : `${path}.${key}`) : `${path}[${JSON.stringify(key.slice(0, 40))}]`
  return joined.length > PATH_MAX ? `${joined.slice(0, PATH_MAX)}…` : joined
}

function textProblem(value: string, path: string, what: string): ArgumentProblem | undefined {
  if (LONE_SURROGATE.test(value)) {
    return { path, message: `${what} is not valid Unicode (an unpaired surrogate)`, hint: 'send well-formed text' }
  }
  const bytes = utf8(value).length
  if (bytes > MAX_TEXT) {
    return {
      path,
      message: `${what} is ${bytes} bytes of UTF-8, more than ${MAX_TEXT}`,
      hint: `a mandate's arguments hold texts of at most ${MAX_TEXT} bytes: send a shorter one`,
    }
  }
  return undefined
}

function isPlainObject(value: object): boolean {
  const proto = Object.getPrototypeOf(value)
  return proto === Object.prototype || proto === null
}

/** `value` at `path`, of depth `depth` if it is a list or object (spec §5.6). */
function valueProblem(value: unknown, path: string, depth: number): ArgumentProblem | undefined {
  const at = path === '' ? 'the arguments' : `argument ${path}`
  switch (typeof value) {
    case 'string':
      return textProblem(value, path, at)
    case 'boolean':
      return undefined
    case 'number':
      if (Number.isSafeInteger(value)) return undefined
      return {
        path,
        message: `${at} is ${Number.isInteger(value) ? 'an integer beyond ±(2^53−1)' : Number.isFinite(value) ? 'a number with a fraction' : 'not a finite number'}`,
        hint: "a mandate's arguments hold whole numbers within ±(2^53−1) only: round it, or send the number as text",
      }
    case 'object': {
      if (value === null) return { path, message: `${at} is null`, hint: "a mandate's arguments have no null: leave the argument out" }
      if (depth > MAX_ARG_DEPTH) {
        return {
          path,
          message: `${at} nests deeper than ${MAX_ARG_DEPTH} levels`,
          hint: `a mandate's arguments nest at most ${MAX_ARG_DEPTH} levels (the arguments object is level 1): flatten them`,
        }
      }
      if (Array.isArray(value)) {
        if (value.length > MAX_ENTRIES) {
          return { path, message: `${at} has ${value.length} entries`, hint: `a list holds at most ${MAX_ENTRIES} entries: send fewer` }
        }
        for (let i = 0; i < value.length; i++) {
          const problem = valueProblem(value[i], `${path}[${i}]`, depth + 1)
          if (problem) return problem
        }
        return undefined
      }
      if (!isPlainObject(value)) return { path, message: `${at} is not a plain object`, hint: 'send JSON values only' }
      const keys = Object.keys(value)
      if (keys.length > MAX_ENTRIES) {
        return { path, message: `${at} has ${keys.length} entries`, hint: `an object holds at most ${MAX_ENTRIES} entries: send fewer` }
      }
      for (const key of keys) {
        const keyProblem = textProblem(key, join(path, key), `the name of argument ${join(path, key)}`)
        if (keyProblem) return keyProblem
        const problem = valueProblem((value as Record<string, unknown>)[key], join(path, key), depth + 1)
        if (problem) return problem
      }
      return undefined
    }
    default:
      return { path, message: `${at} is ${value === undefined ? 'undefined' : `a ${typeof value}`}`, hint: 'send JSON values only' }
  }
}

/**
 * The arguments of a tool call as a mandate's arguments: `undefined` is none (`{}`), an object
 * is checked entry by entry. Returns the arguments, or the first problem.
 *
 * @example
 * ```ts
 * toolArguments({ to: 'bob@example.com', n: 2 })      // { args: { to: 'bob@example.com', n: 2 } }
 * toolArguments({ ratio: 0.5 }).problem?.message       // 'argument ratio is a number with a fraction'
 * ```
 */
export function toolArguments(
  value: unknown,
): { readonly args: Args; readonly problem?: undefined } | { readonly problem: ArgumentProblem } {
  if (value === undefined) return { args: Object.create(null) as Args }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return {
      problem: { path: '', message: 'the arguments are not an object', hint: 'send the arguments as a JSON object of named values' },
    }
  }
  const problem = valueProblem(value, '', 1)
  if (problem) return { problem }
  return { args: value as Readonly<Record<string, ArgValue>> }
}
