/**
 * Node.js-only helpers (file system), kept out of the main entry so that the core runs in
 * browsers and edge runtimes: `import { fileFeedState } from 'mandate/node'`. Loads nothing
 * of the service: that is `mandate/service`.
 *
 * @example
 * ```ts
 * import { createFeedRevocationView } from 'mandate'
 * import { fileFeedState } from 'mandate/node'
 * const revocations = createFeedRevocationView({ url, serviceKey, state: fileFeedState('feed-state.json') })
 * ```
 *
 * @module mandate/node
 */
import './crypto/use-node.js'

export { fileFeedState } from './revocation/file-state.js'
