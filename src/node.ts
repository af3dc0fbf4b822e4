/**
 * Node.js-only helpers (file system), kept out of the main entry so that the core runs in
 * browsers and edge runtimes: `import { fileFeedState } from 'mandate/node'`.
 *
 * @module
 */
export { fileFeedState } from './revocation/file-state.js'
export { type AppOptions, createApp } from './service/app.js'
export { type FeedMark, type FeedMarkStore, fileFeedMark } from './service/feed-mark.js'
export { type RunningService, type ServiceConfig, startService } from './service/server.js'
export type { ApprovalRecord, NewRevocation, Store } from './service/store.js'
