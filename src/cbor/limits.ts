/**
 * Pinned limits of the strict CBOR profile and of the token schema (spec §5.4).
 * They are checked before any signature work.
 *
 * @module
 */

/** Limits the CBOR validator enforces on every item it sees. */
export interface CborLimits {
  /** Maximum nesting of arrays and maps; the top-level container is depth 1. */
  readonly maxDepth: number
  /** Maximum entries in one array or map. */
  readonly maxEntries: number
  /** Maximum UTF-8 bytes in one text string. */
  readonly maxTextBytes: number
  /** Maximum bytes in one byte string. */
  readonly maxByteString: number
}

/** The profile's limits (spec §5.4). */
export const CBOR_LIMITS: CborLimits = Object.freeze({
  // 16, not less: the deepest arguments the argument limit allows (four objects, three CBOR
  // levels each) reach level 12 of an invocation payload, and a `where` operand level 15 of
  // a block payload, so only the argument-depth rule decides for them (spec §5.4, §5.6).
  maxDepth: 16,
  maxEntries: 64,
  maxTextBytes: 1024,
  maxByteString: 16 * 1024,
})

/** Limits on whole tokens, checked by the parsers before any CBOR is read. */
export const TOKEN_LIMITS = Object.freeze({
  /** Largest encoded mandate, invocation, approval or revocation, in bytes. */
  maxTokenBytes: 16 * 1024,
  /** Largest block payload, in bytes. */
  maxBlockBytes: 4 * 1024,
  /** Most blocks in one chain (root included). */
  maxBlocks: 16,
  /** Most caveats in one block. */
  maxCaveats: 32,
  /**
   * Longest action, resource, pattern or name, in UTF-8 bytes: the CBOR profile's text bound, so
   * that the decoder enforces it on every text string of a payload before any field is read.
   */
  maxStringBytes: CBOR_LIMITS.maxTextBytes,
})
