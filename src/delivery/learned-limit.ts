/**
 * A rate limit learned from an upstream that has none configured: when it answers "slow down",
 * Outbox cannot halve a rate it never had, so it takes the rate this process was sending at
 * (the last {@link WINDOW_S} seconds) as the ceiling, and adaptive throttling works from there
 * with the upstream's shared bucket, like a configured limit. It is forgotten
 * {@link FORGET_AFTER_MS} after the last "slow down", when the upstream is unlimited again.
 */
export interface LearnedLimit {
  /** Records one send (a transaction) through the upstream. */
  noteSent(now?: number): void
  /** The upstream said "slow down": learn (or keep) a ceiling. Returns it, per second. */
  learn(now?: number): number
  /** The learned ceiling per second, while it lasts; null when there is none. */
  current(now?: number): number | null
}

/** Seconds of sends the learned rate is measured over. */
export const WINDOW_S = 10
/** A learned limit lasts this long after the last throttling reply. */
export const FORGET_AFTER_MS = 10 * 60_000

export function createLearnedLimit(): LearnedLimit {
  // Sends per whole second, for the last WINDOW_S seconds (a ring).
  const counts = new Array<number>(WINDOW_S).fill(0)
  let second = 0
  let ceiling: number | null = null
  let lastThrottleAt = 0

  const advance = (now: number): void => {
    const s = Math.floor(now / 1000)
    if (s - second >= WINDOW_S) counts.fill(0)
    else for (let t = second + 1; t <= s; t++) counts[t % WINDOW_S] = 0
    second = Math.max(second, s)
  }

  return {
    noteSent(now = Date.now()) {
      advance(now)
      counts[second % WINDOW_S]!++
    },
    learn(now = Date.now()) {
      advance(now)
      lastThrottleAt = now
      if (ceiling === null) {
        const sent = counts.reduce((a, b) => a + b, 0)
        // Over the seconds it was sending, not the whole window: a burst of 60 in the last
        // second was 60 a second. At least one a second: below that it would only ever grow
        // back to a trickle.
        let span = 1
        for (let back = WINDOW_S - 1; back > 0; back--) {
          if (counts[(second - back + WINDOW_S) % WINDOW_S]! > 0) {
            span = back + 1
            break
          }
        }
        ceiling = Math.max(1, sent / span)
      }
      return ceiling
    },
    current(now = Date.now()) {
      if (ceiling !== null && now - lastThrottleAt > FORGET_AFTER_MS) ceiling = null
      return ceiling
    },
  }
}
