/**
 * mandate: attenuable capability tokens for AI agents.
 *
 * A principal mints a root mandate; each agent narrows it offline by appending a signed
 * block; a service's verifier checks the whole chain and answers allowed, or denied and why.
 * The normative format is `spec/mandate-v1.md`.
 *
 * @example
 * ```ts
 * import { createMemoryRevocationView, createVerifier, generateKeyPair, invoke, mint, toDidKey } from 'mandate'
 * const alice = generateKeyPair()
 * const agent = generateKeyPair()
 * const now = Math.floor(Date.now() / 1000)
 * const grant = mint({
 *   principal: alice,
 *   to: toDidKey(agent.publicKey),
 *   caveats: [{ type: 'actions', patterns: ['email:read'] }, { type: 'window', expires: now + 3600 }],
 * })
 * const verifier = createVerifier({
 *   roots: [toDidKey(alice.publicKey)],
 *   audience: 'mail',
 *   revocations: createMemoryRevocationView(), // required; 'none' opts out explicitly
 * })
 * const decision = await verifier.authorize({
 *   invocation: invoke(grant, { key: agent, action: 'email:read', audience: 'mail' }),
 * })
 * console.log(decision.allowed) // true
 * ```
 *
 * @module mandate
 */

export { coversAction, isActionName, isActionPattern, matchAction } from './caveats/action.js'
export { describeCaveat } from './caveats/describe.js'
export { isResourceGlob, isResourceName, matchResource } from './caveats/resource.js'
export type { Args, ArgValue, Caveat, CaveatName, DecodedCaveat, WhereOp, WhereRule } from './caveats/types.js'
export { CAVEAT_TYPES, EXTENSION_MIN, WHERE_OPS } from './caveats/types.js'
export { type CborMap, type CborValue, decodeCbor, encodeCbor } from './cbor/codec.js'
export { CBOR_LIMITS, type CborLimits, TOKEN_LIMITS } from './cbor/limits.js'
export { validateCbor } from './cbor/validate.js'
export type { BackendName, Ed25519Backend } from './crypto/backend.js'
export { availableBackends, getBackend, setDefaultBackend } from './crypto/ed25519.js'
export {
  exportPublicKeyPem,
  exportSecretKeyPem,
  generateKeyPair,
  importSecretKeyPem,
  type KeyPair,
  keyPairFromSecret,
  parsePublicKey,
  toDidKey,
} from './crypto/keys.js'
export type { SignatureOutcome } from './crypto/profile.js'
export {
  type AmendmentRef,
  type ApprovalDenialDetails,
  type CodeDisposition,
  disposition,
  ERROR_CODES,
  type ErrorDetails,
  type ErrorDetailsMap,
  type ErrorLocation,
  isMandateErrorCode,
  MandateError,
  type MandateErrorArgs,
  type MandateErrorCode,
  type MandateErrorOptions,
  type RevocationDetails,
} from './errors.js'
export {
  type ApprovalRequest,
  type ApprovalRequestPage,
  type ApprovalRequestState,
  answerApprovalRequest,
  awaitApproval,
  denyApprovalRequest,
  fileApprovalRequest,
  type InboxOptions,
  listApprovalRequests,
  readApprovalRequest,
} from './inbox/client.js'
export {
  type ApprovalEvent,
  type ApprovalEventType,
  type NotifiedRequest,
  type ReceivedWebhook,
  type VerifyWebhookOptions,
  verifyWebhook,
  WEBHOOK_HEADERS,
  WEBHOOK_TOLERANCE,
} from './inbox/webhook.js'
export type { Clock } from './internal/clock.js'
export {
  createFeedRevocationView,
  type FeedFailureCode,
  type FeedRevocationView,
  type FeedState,
  type FeedStateStore,
  type FeedViewOptions,
} from './revocation/client.js'
export { FEED_PAGE_MAX, type FeedEntry, type FeedPage, type SignedFeedPage, signFeedPage, verifyFeedPage } from './revocation/feed.js'
export {
  type AmendmentEntry,
  type BlockStanding,
  createMemoryRevocationView,
  type MemoryRevocationView,
  type RevocationEntry,
  type RevocationView,
} from './revocation/view.js'
export { type ApproveOptions, approve, formatApproval, parseApproval, type UnverifiedApproval } from './token/approval.js'
export type { UnverifiedBlock } from './token/block.js'
export { type InspectedBlock, type Inspection, inspect } from './token/inspect.js'
export { checkChain, checkPresentation, checkPresentationAsync, type IntactPresentation } from './token/integrity.js'
export {
  formatInvocation,
  type InvokeOptions,
  invoke,
  parseInvocation,
  type Request,
  type UnverifiedInvocation,
} from './token/invocation.js'
export {
  type AttenuateOptions,
  attenuate,
  type BlockOptions,
  DEFAULT_MAX_LIFETIME,
  FORMAT_VERSION,
  formatMandate,
  type HolderInput,
  type KeyInput,
  type MintOptions,
  mint,
  type Proof,
  parseMandate,
  seal,
  type UnverifiedMandate,
} from './token/mandate.js'
export {
  type AmendmentOptions,
  authorityLevel,
  createAmendment,
  createLift,
  createRevocation,
  formatRevocation,
  type LiftOptions,
  parseRevocation,
  REVOCATION_KINDS,
  type RevocationKind,
  type RevocationOptions,
  type UnverifiedRevocation,
  verifyRevocation,
} from './token/revocation.js'
export { DOMAINS, signingInput } from './token/signing.js'
export { kindOf, PREFIXES, type TokenKind } from './token/text.js'
export { type AttenuationWarning, attenuationWarnings } from './token/warnings.js'
export { createMemoryUsageStore, type MemoryUsageStore, type MemoryUsageStoreOptions } from './usage/memory.js'
export { createRemoteUsageStore, type RemoteUsageOptions } from './usage/remote.js'
export type { ConsumeRequest, ConsumeResult, UsageCounter, UsageStore } from './usage/store.js'
export type {
  Allowed,
  AuditRecord,
  ChainLink,
  DecidedRequest,
  Decision,
  Denied,
  DeniedFields,
  DeniedWith,
  MatchedRight,
} from './verify/decision.js'
export type { ExtensionChecker, ExtensionContext } from './verify/evaluate.js'
export { createRemoteReplayCache } from './verify/remote-replay.js'
export { createMemoryReplayCache, type ReplayCache } from './verify/replay.js'
export {
  createDecisionReporter,
  type DecisionReporter,
  type DecisionReporterOptions,
  type Presented,
} from './verify/report.js'
export {
  type AuthorizeInput,
  createVerifier,
  type Root,
  type Verifier,
  type VerifierLimits,
  type VerifierOptions,
} from './verify/verifier.js'
