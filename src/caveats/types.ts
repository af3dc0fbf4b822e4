/**
 * The caveat vocabulary (spec §6). A caveat is a typed condition; every caveat of every
 * block must hold. Type numbers are part of the wire format.
 *
 * @module
 */

/** Wire type numbers of the core caveats. 11–65535 are reserved; ≥ 65536 are extensions. */
export const CAVEAT_TYPES = {
  actions: 1,
  deny: 2,
  resources: 3,
  window: 4,
  uses: 5,
  approval: 6,
  where: 7,
  audience: 8,
  depth: 9,
  bound: 10,
} as const

/** First type number of the application-defined extension range. */
export const EXTENSION_MIN = 0x10000

/** Operators of a `where` rule, with their wire numbers. */
export const WHERE_OPS = ['eq', 'ne', 'lt', 'le', 'gt', 'ge', 'in', 'not_in', 'prefix', 'glob'] as const
/** A `where` operator. */
export type WhereOp = (typeof WHERE_OPS)[number]

/** An argument value: a string, a safe integer, a boolean, a list, or a nested object. */
export type ArgValue = string | number | boolean | readonly ArgValue[] | { readonly [key: string]: ArgValue }
/** The arguments of a request. */
export type Args = { readonly [key: string]: ArgValue }

/** One rule of a `where` caveat: the argument at `path` compared with `value` by `op`. */
export interface WhereRule {
  readonly path: string
  readonly op: WhereOp
  readonly value: ArgValue
}

/** A caveat, as an application writes it when minting or attenuating. */
export type Caveat =
  | { readonly type: 'actions'; readonly patterns: readonly string[] }
  | { readonly type: 'deny'; readonly patterns: readonly string[] }
  | { readonly type: 'resources'; readonly globs: readonly string[] }
  | { readonly type: 'window'; readonly notBefore?: number; readonly expires?: number }
  | { readonly type: 'uses'; readonly max: number; readonly per?: number }
  | { readonly type: 'approval'; readonly actions: readonly string[]; readonly approvers: readonly string[]; readonly quorum: number }
  | { readonly type: 'where'; readonly actions?: readonly string[]; readonly rules: readonly WhereRule[] }
  | { readonly type: 'audience'; readonly names: readonly string[] }
  | { readonly type: 'depth'; readonly max: number }
  | { readonly type: 'bound' }
  | { readonly type: 'extension'; readonly code: number; readonly body?: unknown }

/** The name of a caveat type, as used in denials and inspect output. */
export type CaveatName = Caveat['type']

/**
 * A caveat decoded from a token. Unknown and malformed ones are kept, so that inspect can
 * show them and the verifier can deny on them after the signatures are checked.
 */
export type DecodedCaveat =
  | Caveat
  | { readonly type: 'unknown'; readonly code: number }
  | { readonly type: 'invalid'; readonly code: number; readonly reason: string }
