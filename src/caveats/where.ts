/**
 * `where` rules over request arguments (spec §6.8). A rule on a missing argument fails:
 * a rule can only narrow.
 *
 * @module
 */
import { argAt } from './args.js'
import { matchResource } from './resource.js'
import type { Args, ArgValue, WhereRule } from './types.js'

/** Does the argument at `rule.path` satisfy `rule`? */
export function ruleHolds(rule: WhereRule, args: Args): boolean {
  const arg = argAt(args, rule.path)
  if (arg === undefined) return false
  const v = rule.value
  switch (rule.op) {
    case 'eq':
      return sameValue(arg, v)
    case 'ne':
      return !sameValue(arg, v)
    case 'lt':
      return typeof arg === 'number' && typeof v === 'number' && arg < v
    case 'le':
      return typeof arg === 'number' && typeof v === 'number' && arg <= v
    case 'gt':
      return typeof arg === 'number' && typeof v === 'number' && arg > v
    case 'ge':
      return typeof arg === 'number' && typeof v === 'number' && arg >= v
    case 'in':
      return Array.isArray(v) && v.some((x: ArgValue) => sameValue(arg, x))
    case 'not_in':
      return Array.isArray(v) && !v.some((x: ArgValue) => sameValue(arg, x))
    case 'prefix':
      return typeof arg === 'string' && typeof v === 'string' && arg.startsWith(v)
    case 'glob':
      return typeof arg === 'string' && typeof v === 'string' && matchResource(v, arg)
  }
}

/** Structural equality of argument values (type-strict: `1` is not `"1"`). */
export function sameValue(a: ArgValue, b: ArgValue): boolean {
  if (typeof a !== 'object' || typeof b !== 'object') return a === b
  if (Array.isArray(a) || Array.isArray(b)) {
    if (!Array.isArray(a) || !Array.isArray(b) || a.length !== b.length) return false
    return a.every((x: ArgValue, i: number) => sameValue(x, b[i] as ArgValue))
  }
  const ka = Object.keys(a)
  const kb = Object.keys(b)
  if (ka.length !== kb.length) return false
  return ka.every((k) => Object.hasOwn(b, k) && sameValue((a as Args)[k] as ArgValue, (b as Args)[k] as ArgValue))
}

/** A rule as readable text, for hints: `amount le 100`. */
export function describeRule(rule: WhereRule): string {
  return `${rule.path} ${rule.op} ${JSON.stringify(rule.value)}`
}
