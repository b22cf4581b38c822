/** How temporary failures are spaced out. All durations in milliseconds. */
export interface RetryPolicy {
  /**
   * Delay after the first temporary failure.
   * @default 30_000 (30 s)
   */
  initialDelayMs: number
  /**
   * Longest delay between two attempts.
   * @default 1_800_000 (30 min)
   */
  maxDelayMs: number
  /**
   * Growth of the delay after each further failure.
   * @default 2
   */
  factor: number
  /**
   * Fraction of each delay drawn at random (0 to 1), so messages deferred together do not
   * retry together.
   * @default 0.2
   */
  jitter: number
}

/** 30 s, 1 min, 2 min, … doubling up to 30 min, each shortened by up to 20 % at random. */
export const DEFAULT_RETRY_POLICY: Readonly<RetryPolicy> = Object.freeze({
  initialDelayMs: 30_000,
  maxDelayMs: 30 * 60_000,
  factor: 2,
  jitter: 0.2,
})

/**
 * The wait before the next attempt after `failures` earlier counted failures (0 for the first
 * retry). Pure: `random` is a number in [0, 1).
 */
export function retryDelay(failures: number, policy: RetryPolicy, random: number): number {
  const exponent = Math.max(0, Math.min(failures, 64))
  const base = Math.min(policy.maxDelayMs, policy.initialDelayMs * policy.factor ** exponent)
  return Math.round(base * (1 - policy.jitter * random))
}
