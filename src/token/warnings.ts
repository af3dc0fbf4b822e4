/**
 * Attenuation warnings (spec §6.12). A child block can never widen anything — caveats are a
 * conjunction — but a person narrowing a mandate should hear when a caveat they wrote does
 * nothing, or asks for more than the chain allows (that part will simply be denied).
 *
 * @module
 */
import { coverageIncludes, patternCovers } from '../caveats/action.js'
import type { Caveat, DecodedCaveat } from '../caveats/types.js'
import type { UnverifiedMandate } from './mandate.js'

/** One warning about a caveat of a planned attenuation. */
export interface AttenuationWarning {
  /** Index of the caveat in the list given. */
  readonly caveatIndex: number
  readonly kind: 'no-op' | 'wider'
  readonly message: string
}

/**
 * Warnings for appending `caveats` to `parent`.
 *
 * @example
 * ```ts
 * attenuationWarnings(grant, [{ type: 'actions', patterns: ['email:send'] }])
 * // [{ caveatIndex: 0, kind: 'wider', message: 'email:send is not allowed by block 0 …' }]
 * ```
 */
export function attenuationWarnings(parent: UnverifiedMandate, caveats: readonly Caveat[]): AttenuationWarning[] {
  const above = parent.blocks.flatMap((b) => b.caveats.map((c) => ({ block: b.index, c })))
  const of = <T extends DecodedCaveat['type']>(type: T) =>
    above.filter((x): x is { block: number; c: Extract<DecodedCaveat, { type: T }> } => x.c.type === type)
  const out: AttenuationWarning[] = []
  const warn = (caveatIndex: number, kind: AttenuationWarning['kind'], message: string) => out.push({ caveatIndex, kind, message })
  const parentExpiry = Math.min(...of('window').flatMap((x) => (x.c.expires === undefined ? [] : [x.c.expires])))
  const parentStart = Math.max(...of('window').flatMap((x) => (x.c.notBefore === undefined ? [] : [x.c.notBefore])))

  caveats.forEach((c, i) => {
    switch (c.type) {
      case 'actions': {
        const lists = of('actions')
        for (const p of c.patterns) {
          const blocker = lists.find((x) => !x.c.patterns.some((q) => patternCovers(q, p)))
          if (blocker) warn(i, 'wider', `${p} is not (entirely) allowed by block ${blocker.block}; requests beyond it stay denied`)
        }
        const same = lists.find(
          (x) =>
            x.c.patterns.every((q) => c.patterns.some((p) => patternCovers(p, q))) &&
            c.patterns.every((p) => x.c.patterns.some((q) => patternCovers(q, p))),
        )
        if (same) warn(i, 'no-op', `allows exactly what block ${same.block} already allows`)
        return
      }
      case 'deny': {
        for (const p of c.patterns) {
          const already = of('deny').find((x) => x.c.patterns.some((q) => coverageIncludes(q, p)))
          if (already) warn(i, 'no-op', `${p} is already denied by block ${already.block}`)
        }
        return
      }
      case 'window':
        // Stryker disable next-line ConditionalExpression: equivalent — an absent expires compares false (undefined >= n)
        if (c.expires !== undefined && c.expires >= parentExpiry)
          warn(i, 'no-op', 'expires no earlier than the chain already does; the earlier expiry applies')
        // Stryker disable next-line ConditionalExpression: equivalent — an absent not-before compares false (undefined <= n)
        if (c.notBefore !== undefined && c.notBefore <= parentStart) warn(i, 'no-op', 'starts no later than the chain already does')
        return
      case 'uses': {
        // Stryker disable next-line ConditionalExpression: equivalent — an absent per compares false (n >= undefined)
        const wider = of('uses').find((x) => x.c.max <= c.max && (x.c.per === undefined || (c.per !== undefined && x.c.per >= c.per)))
        if (wider) warn(i, 'no-op', `block ${wider.block} already limits use at least as tightly`)
        return
      }
      case 'audience': {
        for (const n of c.names) {
          const blocker = of('audience').find((x) => !x.c.names.includes(n))
          if (blocker) warn(i, 'wider', `${n} is not an audience of block ${blocker.block}; it will be denied there`)
        }
        return
      }
      case 'depth': {
        const tighter = of('depth').find((x) => parent.blocks.length - x.block + c.max >= x.c.max)
        if (tighter) warn(i, 'no-op', `block ${tighter.block} already limits delegation at least as tightly`)
        return
      }
      default:
        return
    }
  })
  return out
}
