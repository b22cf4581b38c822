import type { Admin } from '../admin/admin.js'
import type { Logger } from '../logger.js'
import type { MessageStatus } from '../message/types.js'

/** The queue's size at one moment. */
export interface DepthSample {
  at: Date
  counts: Record<MessageStatus, number>
}

/**
 * Samples the queue's counts per status at a fixed interval and keeps the last few hours, for
 * the dashboard's queue-depth chart. Kept in memory: the chart starts when the server does,
 * and counting by status is cheap enough (an index scan) to do twice a minute at 1M messages.
 */
export function createDepthHistory(
  admin: Admin,
  options: { intervalMs: number; keepMs: number; logger: Logger },
): { samples(): DepthSample[]; close(): void } {
  const samples: DepthSample[] = []
  let busy = false
  async function sample(): Promise<void> {
    if (busy) return
    busy = true
    try {
      samples.push({ at: new Date(), counts: await admin.countByStatus() })
      const oldest = Date.now() - options.keepMs
      while (samples.length > 0 && samples[0]!.at.getTime() < oldest) samples.shift()
    } catch (error) {
      options.logger.warn({ err: (error as Error).message }, 'could not sample the queue depth')
    } finally {
      busy = false
    }
  }
  void sample()
  const timer = setInterval(() => void sample(), options.intervalMs)
  timer.unref()
  return {
    samples: () => [...samples],
    close: () => clearInterval(timer),
  }
}
