/**
 * CLI failures that are not about a token: misuse (exit 2) and I/O (exit 3).
 *
 * @module
 */
import { disposition, MandateError } from '../errors.js'

/** Codes the CLI adds to the library's: a usage mistake, or an operational failure. */
export type CliErrorCode = 'ERR_USAGE' | 'ERR_IO'

/** A CLI-level error with its exit code. */
export class CliError extends Error {
  constructor(
    readonly code: CliErrorCode,
    message: string,
    readonly hint?: string,
  ) {
    super(message)
    this.name = 'CliError'
  }
  get exit(): 1 | 2 | 3 {
    return this.code === 'ERR_USAGE' ? 2 : 3
  }
}

/** A usage error (exit 2). */
export function usage(message: string, hint?: string): never {
  throw new CliError('ERR_USAGE', message, hint)
}

/** The exit code, code, message and hint of anything thrown inside a command. */
export function describeFailure(e: unknown): { exit: 1 | 2 | 3; code: string; message: string; hint?: string } {
  if (e instanceof CliError) return { exit: e.exit, code: e.code, message: e.message, ...(e.hint ? { hint: e.hint } : {}) }
  if (e instanceof MandateError)
    return { exit: disposition(e.code).exit, code: e.code, message: e.message, ...(e.hint ? { hint: e.hint } : {}) }
  if (e instanceof TypeError || e instanceof RangeError) return { exit: 2, code: 'ERR_USAGE', message: e.message }
  return { exit: 3, code: 'ERR_INTERNAL', message: e instanceof Error ? e.message : String(e) }
}
