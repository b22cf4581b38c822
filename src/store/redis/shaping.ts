import type { ShapingMethods } from '../store.js'
import type { RunScript } from './scripts.js'
import {
  RATE_CONSTANTS_JSON,
  rateChangesJson,
  reportsJson,
  tokenRequestsJson,
} from './shaping-args.js'
import {
  toRateBuckets,
  toTokenGrants,
  toUpstreamActivity,
  toWorkerReports,
} from './shaping-replies.js'

/** How the store runs a call: `op` maps failures (and refuses once closed), `write` replicates. */
export interface ShapingContext {
  run: RunScript
  op: <T>(work: () => Promise<T>) => Promise<T>
  write: <T>(work: () => Promise<T>) => Promise<T>
}

/**
 * Rate limits and upstream reports, each call one script on the server's clock: every worker
 * on the store takes its tokens from the same buckets.
 */
export function createShapingMethods({ run, op, write }: ShapingContext): ShapingMethods {
  return {
    takeTokens: (requests) =>
      op(async () => {
        if (requests.length === 0) return []
        const rows = await write(() => run('take-tokens', [tokenRequestsJson(requests)]))
        return toTokenGrants(rows as unknown[][])
      }),

    adjustRates: (changes) =>
      op(async () => {
        if (changes.length === 0) return
        await write(() => run('adjust-rates', [rateChangesJson(changes), RATE_CONSTANTS_JSON]))
      }),

    rateBuckets: () =>
      op(async () => toRateBuckets((await run('rate-buckets', [])) as unknown[][])),

    reportUpstreams: (worker, reports, ttlMs) =>
      op(async () => {
        await write(() =>
          run('report-upstreams', [worker, reportsJson(reports), Math.max(0, Math.round(ttlMs))]),
        )
      }),

    upstreamReports: () =>
      op(async () => toWorkerReports((await run('upstream-reports', [])) as unknown[][])),

    upstreamActivity: (since) =>
      op(async () =>
        toUpstreamActivity((await run('upstream-activity', [since.getTime()])) as unknown[]),
      ),
  }
}
