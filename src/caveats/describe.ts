/**
 * Caveats in plain words, for inspect output, CLI trees and hints.
 *
 * @module
 */
import { iso } from '../internal/clock.js'
import type { DecodedCaveat } from './types.js'
import { describeRule } from './where.js'

/**
 * One line of plain English for a caveat.
 *
 * @example
 * ```ts
 * describeCaveat({ type: 'uses', max: 3, per: 3600 }) // 'at most 3 uses per 3600s'
 * ```
 */
export function describeCaveat(c: DecodedCaveat): string {
  switch (c.type) {
    case 'actions':
      return `may do ${c.patterns.join(', ')}`
    case 'deny':
      return `never ${c.patterns.join(', ')}`
    case 'resources':
      return `only on ${c.globs.join(', ')}`
    case 'window':
      return [c.notBefore === undefined ? '' : `from ${iso(c.notBefore)}`, c.expires === undefined ? '' : `until ${iso(c.expires)}`]
        .filter(Boolean)
        .join(' ')
    case 'uses':
      return `at most ${c.max} use${c.max === 1 ? '' : 's'}${c.per === undefined ? ' in total' : ` per ${c.per}s`}`
    case 'approval':
      return `${c.actions.join(', ')} need${c.quorum === 1 ? 's' : ''} approval by ${c.quorum} of ${c.approvers.join(', ')}`
    case 'where':
      return `${c.actions === undefined ? '' : `for ${c.actions.join(', ')}: `}arguments must satisfy ${c.rules.map(describeRule).join(' and ')}`
    case 'audience':
      return `only at ${c.names.join(', ')}`
    case 'depth':
      return `at most ${c.max} further delegation${c.max === 1 ? '' : 's'}`
    case 'bound':
      return 'holders below must be bound keys that sign invocations (no bearer use)'
    case 'extension':
      return `extension caveat ${c.code} (checked by the application)`
    case 'unknown':
      return `unknown caveat type ${c.code} (any verifier that does not know it denies)`
    case 'invalid':
      return `malformed caveat ${c.code}: ${c.reason} (denies)`
  }
}
