/**
 * Type-level promises of the public API, checked by the compiler: `Decision` narrows on
 * `allowed`; the error codes are a closed union (`MandateError.code`, `Denied.code`); the option
 * types are closed, so a misspelled option does not compile. The assertions run at compile
 * time (`npm run typecheck` checks this file); the test below also compiles it with the
 * project's settings, so that `vitest run` alone catches a regression, `@ts-expect-error`
 * lines included (an expected error that goes away is itself an error).
 */
import { describe, expect, expectTypeOf, it } from 'vitest'
import {
  type Allowed,
  type ApproveOptions,
  type AttenuateOptions,
  type AuthorizeInput,
  type BlockOptions,
  type CborLimits,
  type ChainLink,
  createVerifier,
  type Decision,
  type Denied,
  type ERROR_CODES,
  type FeedViewOptions,
  type InvokeOptions,
  isMandateErrorCode,
  MandateError,
  type MandateErrorCode,
  type MandateErrorOptions,
  type MemoryUsageStoreOptions,
  type MintOptions,
  mint,
  type RemoteUsageOptions,
  type RevocationOptions,
  type VerifierLimits,
  type VerifierOptions,
} from '../../src/index.js'
import type { AppOptions, ServiceConfig, TrustOptions } from '../../src/service.js'
import { compileProjectFile } from './tsdoc.js'

// The functions below are compiled, never called: what they check is types.
declare const options: MintOptions

// Decision: one branch each, told apart by `allowed`.
function narrowing(decision: Decision): void {
  if (decision.allowed) {
    expectTypeOf(decision).toEqualTypeOf<Allowed>()
    expectTypeOf(decision.chain).toEqualTypeOf<readonly ChainLink[]>()
    // @ts-expect-error an allowed decision has no code
    void decision.code
  } else {
    expectTypeOf(decision).toEqualTypeOf<Denied>()
    expectTypeOf(decision.code).toEqualTypeOf<MandateErrorCode>()
    expectTypeOf(decision.chain).toEqualTypeOf<readonly ChainLink[] | undefined>()
  }
}
expectTypeOf<Decision['allowed']>().toEqualTypeOf<boolean>()

// The error codes: exactly ERROR_CODES, and nothing else type-checks as one.
expectTypeOf<MandateErrorCode>().toEqualTypeOf<(typeof ERROR_CODES)[number]>()
expectTypeOf<MandateError['code']>().toEqualTypeOf<MandateErrorCode>()
expectTypeOf<Denied['code']>().toEqualTypeOf<MandateErrorCode>()
expectTypeOf<'ERR_REVOKED'>().toExtend<MandateErrorCode>()
expectTypeOf<'ERR_NO_SUCH_CODE'>().not.toExtend<MandateErrorCode>()
expectTypeOf<string>().not.toExtend<MandateErrorCode>()
function closed(): void {
  // @ts-expect-error an unknown string is not a code
  const unknownCode: MandateErrorCode = 'ERR_NO_SUCH_CODE'
  // @ts-expect-error nor is a code in the wrong case
  const lowerCase: MandateErrorCode = 'err_revoked'
  // @ts-expect-error MandateError takes a code, not any string
  void new MandateError('ERR_WHATEVER', 'message')
  void [unknownCode, lowerCase]
}
function narrows(code: unknown): MandateErrorCode | undefined {
  if (isMandateErrorCode(code)) {
    expectTypeOf(code).toEqualTypeOf<MandateErrorCode>()
    return code
  }
  return undefined
}

// Option types are closed: no index signature, so excess-property checks apply to them.
type Closed<T> = string extends keyof T ? false : true
expectTypeOf<Closed<MintOptions>>().toEqualTypeOf<true>()
expectTypeOf<Closed<AttenuateOptions>>().toEqualTypeOf<true>()
expectTypeOf<Closed<BlockOptions>>().toEqualTypeOf<true>()
expectTypeOf<Closed<InvokeOptions>>().toEqualTypeOf<true>()
expectTypeOf<Closed<ApproveOptions>>().toEqualTypeOf<true>()
expectTypeOf<Closed<RevocationOptions>>().toEqualTypeOf<true>()
expectTypeOf<Closed<VerifierOptions>>().toEqualTypeOf<true>()
expectTypeOf<Closed<VerifierLimits>>().toEqualTypeOf<true>()
expectTypeOf<Closed<AuthorizeInput>>().toEqualTypeOf<true>()
expectTypeOf<Closed<FeedViewOptions>>().toEqualTypeOf<true>()
expectTypeOf<Closed<RemoteUsageOptions>>().toEqualTypeOf<true>()
expectTypeOf<Closed<MemoryUsageStoreOptions>>().toEqualTypeOf<true>()
expectTypeOf<Closed<MandateErrorOptions>>().toEqualTypeOf<true>()
expectTypeOf<Closed<CborLimits>>().toEqualTypeOf<true>()
expectTypeOf<Closed<ServiceConfig>>().toEqualTypeOf<true>()
expectTypeOf<Closed<AppOptions>>().toEqualTypeOf<true>()
expectTypeOf<Closed<TrustOptions>>().toEqualTypeOf<true>()

// ...and a misspelled option, written the way users write options, does not compile.
function misspelled(): void {
  // @ts-expect-error `caveat` for `caveats`
  mint({ ...options, caveat: [] })
  createVerifier({
    roots: [],
    revocations: 'none',
    // @ts-expect-error `audiance` for `audience`
    audiance: 'mail',
  })
  createVerifier({
    roots: [],
    audience: 'mail',
    revocations: 'none',
    // @ts-expect-error `maxLifeTime` for `maxLifetime`
    limits: { maxLifeTime: 3600 },
  })
  // @ts-expect-error `revocations` is required (`'none'` opts out explicitly)
  createVerifier({ roots: [], audience: 'mail' })
}

// Compiled, never called (exports are not allowed in a test file).
void [narrowing, closed, narrows, misspelled]

describe('public types', () => {
  it('compile with the project settings (expected errors included)', () => {
    expect(compileProjectFile(import.meta.filename)).toEqual([])
  }, 60_000)
})
