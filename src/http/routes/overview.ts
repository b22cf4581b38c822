import type { FastifyInstance } from 'fastify'
import { z } from 'zod'
import type { Outbox } from '../../outbox.js'
import { parseInput } from '../api-schemas.js'
import type { DepthSample } from '../depth-history.js'

export const statsQuerySchema = z
  .object({
    hours: z
      .string()
      .regex(/^\d{1,3}$/)
      .optional()
      .describe('Hours of activity to return, 1 to 48 (default 3)'),
  })
  .strict()

/** What the dashboard says about the upstream, besides what the store knows. */
export interface UpstreamInfo {
  /** `capture`, or the upstream's URL with the password removed. */
  label: string
  /** True in capture mode: mail is kept, not sent, and the dashboard is a mail catcher. */
  capture: boolean
}

/** `GET /api/stats`: everything the overview page shows, in one request. */
export function registerOverviewRoutes(
  app: FastifyInstance,
  outbox: Outbox,
  deps: { upstream: UpstreamInfo; depth: () => DepthSample[]; workerInProcess: () => boolean },
): void {
  app.get('/api/stats', async (request) => {
    const { hours } = parseInput(statsQuerySchema, request.query, 'query')
    const spanHours = Math.min(48, Math.max(1, Number(hours ?? 3)))
    const bucketMs = spanHours <= 6 ? 60_000 : 300_000
    const now = Date.now()
    const since = new Date(Math.floor((now - spanHours * 3_600_000) / bucketMs) * bucketMs)
    const [stats, activity, routing] = await Promise.all([
      outbox.admin.stats(),
      outbox.admin.activity({ since, bucketMs }),
      outbox.admin.upstreams(),
    ])
    const health = outbox.upstreamHealth()
    return {
      ...stats,
      now: new Date(now),
      oldestWaitingSeconds: stats.oldestWaitingAt
        ? Math.max(0, Math.round((now - stats.oldestWaitingAt.getTime()) / 1000))
        : null,
      activity: { since, bucketMs, buckets: activity.buckets },
      depth: deps.depth(),
      upstream: {
        ...deps.upstream,
        lastSuccessAt: activity.lastSuccessAt,
        lastError: activity.lastError,
        // Only this process's worker knows whether the upstream is down right now.
        down: deps.workerInProcess() ? health.down : null,
      },
      // Every named upstream as all running workers report it, and the limited domains.
      routing,
    }
  })

  app.get('/api/upstreams', async () => outbox.admin.upstreams())
}
