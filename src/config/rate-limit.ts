/** At most `count` messages per `perMs`. */
export interface RateLimit {
  count: number
  perMs: number
}

const PERIODS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000 }

/** Parses `10/s`, `600/m`, `20000/h`. Returns undefined for anything else. */
export function parseRateLimit(text: string): RateLimit | undefined {
  const match = /^\s*(\d+)\s*\/\s*(s|m|h)\s*$/.exec(text)
  if (!match) return undefined
  const count = Number(match[1])
  return count >= 1 ? { count, perMs: PERIODS[match[2]!]! } : undefined
}

/** `{ count: 600, perMs: 60000 }` → `600/m`. */
export function formatRateLimit(limit: RateLimit): string {
  const unit = Object.entries(PERIODS).find(([, ms]) => ms === limit.perMs)?.[0]
  return unit ? `${limit.count}/${unit}` : `${limit.count}/${limit.perMs}ms`
}
