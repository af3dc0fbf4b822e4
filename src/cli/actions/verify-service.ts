/**
 * What `mandate verify` needs only with a service: its signed revocation feed and, with a
 * verifier key, its usage counters and replay claims. Loaded only then, so that a verify
 * without a service does not load the HTTP clients.
 *
 * @module
 */
import type { KeyPair } from '../../crypto/keys.js'
import { createFeedRevocationView } from '../../revocation/client.js'
import type { RevocationView } from '../../revocation/view.js'
import { createRemoteUsageStore } from '../../usage/remote.js'
import type { UsageStore } from '../../usage/store.js'
import { createRemoteReplayCache } from '../../verify/remote-replay.js'
import type { ReplayCache } from '../../verify/replay.js'
import type { Context } from '../context.js'
import { serviceKey } from '../service-client.js'
import { type Service, shownUrl } from '../service-flags.js'

/** The revocation view of the service's signed feed; a failed sync leaves it stale (denied). */
async function feedView(ctx: Context, service: Service, pinned: string | undefined): Promise<RevocationView> {
  const feed = createFeedRevocationView({
    url: service.url,
    serviceKey: await serviceKey(ctx.io, service, pinned),
    push: false,
    timeoutMs: service.timeoutMs,
  })
  try {
    await feed.sync()
  } catch (e) {
    // Leave the view empty and stale: the verifier then denies with ERR_REVOCATION_STALE.
    const message = e instanceof Error ? e.message : String(e)
    ctx.io.err(`mandate: warning: revocations from ${shownUrl(service.url)}: ${message}\n`)
  }
  return feed
}

/** The service's stores; without a verifier key, the revocations alone (uses and replays are then denied). */
export async function serviceStores(
  ctx: Context,
  service: Service,
  pinned: string | undefined,
  key: KeyPair | undefined,
): Promise<{ revocations: RevocationView; usage?: UsageStore; replay?: ReplayCache }> {
  const revocations = await feedView(ctx, service, pinned)
  if (!key) return { revocations }
  const remote = { url: service.url, key, timeoutMs: service.timeoutMs }
  return { revocations, usage: createRemoteUsageStore(remote), replay: createRemoteReplayCache(remote) }
}
