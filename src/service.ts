/**
 * The service (spec/service-v1.md) as a library: `import { startService } from 'mandate/service'`.
 * It needs the service's own dependencies (hono, @hono/node-server, pino, prom-client and
 * better-sqlite3 or pg), optional peers of this package: `npm install mandate-cli` brings them
 * all, or install the ones your storage needs next to `mandate`.
 *
 * @example
 * ```ts
 * import { toDidKey } from 'mandate'
 * import { startService } from 'mandate/service'
 * const service = await startService({
 *   host: '127.0.0.1', port: 8787, db: 'mandate.db', keyFile: 'service.pem', logLevel: 'info',
 *   trust: { roots: [{ name: 'alice', key: toDidKey(alice.publicKey) }] },
 * })
 * console.log(service.url, service.serviceKey)
 * ```
 *
 * @module mandate/service
 */
import './crypto/use-node.js'

export { type AppOptions, createApp } from './service/app.js'
export {
  type AuditCheckpoint,
  type AuditEntry,
  type AuditEntryBase,
  type AuditEntryType,
  type AuditProblem,
  type AuditVerification,
  auditHash,
  GENESIS,
  type NewAuditEntry,
  verifyAuditExport,
} from './service/audit.js'
export { type FeedMark, type FeedMarkStore, fileFeedMark } from './service/feed-mark.js'
export type { ServiceMetrics } from './service/metrics.js'
export { type RunningService, type ServiceConfig, startService } from './service/server.js'
export type {
  ApprovalCursor,
  ApprovalDenial,
  ApprovalRecord,
  AtCommit,
  InboxEvent,
  NewRevocation,
  RequestSteps,
  RevocationGuard,
  StandingCheck,
  Store,
  StoredConsume,
} from './service/store.js'
export type { RegisteredVerifier, ServedRoot, TrustOptions } from './service/trust.js'
export { startWebhooks, WEBHOOK_DEFAULTS, type WebhookDispatcher, type WebhookOptions } from './service/webhooks.js'
