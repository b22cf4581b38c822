import type { Logger } from '../logger.js'
import type { UpstreamSet } from '../delivery/upstream-set.js'
import type { Store } from '../store/store.js'

/**
 * When a worker starts, messages that an earlier outage parked (deferred until a probe finds
 * the upstream back, or for at most a minute) are released at once if an upstream is
 * reachable now: after a restart no probe of this process ever failed, so none would succeed
 * to release them, and they would wait out their old due time. Upstreams still unreachable
 * leave them be; the first sends find them down as they always do. Never rejects.
 */
export async function releaseParkedMessages(deps: {
  store: Store
  upstreams: UpstreamSet
  logger: Logger
}): Promise<number> {
  try {
    await deps.upstreams.probeAny()
  } catch {
    return 0
  }
  try {
    const released = await deps.store.wakeUpstreamWaiters()
    if (released > 0) {
      deps.logger.info(
        { upstream: deps.upstreams.description, released },
        `upstream reachable: released ${released} messages an earlier outage had parked`,
      )
    }
    return released
  } catch (error) {
    deps.logger.warn(
      { err: (error as Error).message },
      'could not release messages parked by an earlier outage; they go out at their due time',
    )
    return 0
  }
}
