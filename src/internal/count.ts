/**
 * Whole-number options (cache sizes, queue lengths, retries), checked where they are given: a
 * NaN or a string there would otherwise pass every `size >= max` test as false, and leave a
 * bounded cache or queue without its bound.
 *
 * @module
 */

/**
 * `value`, or `fallback` when it is undefined: a whole number from `min` to `max`. Throws
 * `TypeError` for anything but a number, `RangeError` for a fraction, NaN or a number out of
 * range, each naming the option.
 *
 * @example
 * ```ts
 * countOption(undefined, 4096, 0, 1_000_000, 'cacheSize') // 4096
 * countOption(Number.NaN, 4096, 0, 1_000_000, 'cacheSize') // throws RangeError
 * ```
 */
export function countOption(value: unknown, fallback: number, min: number, max: number, name: string): number {
  if (value === undefined) return fallback
  if (typeof value !== 'number') throw new TypeError(`"${name}" expected a whole number, got ${typeof value}`)
  if (!Number.isSafeInteger(value) || value < min || value > max) {
    throw new RangeError(`"${name}" expected a whole number from ${min} to ${max}, got ${value}`)
  }
  return value
}
