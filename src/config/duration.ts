const UNIT_MS: Record<string, number> = {
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
}

/**
 * A duration given as milliseconds (`30000`) or as a number with a unit (`250ms`, `30s`,
 * `15m`, `24h`, `7d`). Returns milliseconds, or `undefined` when the text is not a duration.
 */
export function parseDuration(value: number | string): number | undefined {
  if (typeof value === 'number') return Number.isFinite(value) && value >= 0 ? value : undefined
  const match = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$/.exec(value)
  if (!match) return undefined
  const amount = Number(match[1])
  const unit = match[2] ?? 'ms'
  return Math.round(amount * (UNIT_MS[unit] ?? 1))
}

/** Formats milliseconds the way people write them: `1500` → `1.5s`, `5400000` → `1h30m`. */
export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)}ms`
  if (ms < 60_000) return `${Number((ms / 1000).toFixed(1))}s`
  const parts: string[] = []
  let rest = Math.round(ms / 1000)
  for (const [unit, size] of [
    ['d', 86_400],
    ['h', 3_600],
    ['m', 60],
    ['s', 1],
  ] as const) {
    const n = Math.floor(rest / size)
    if (n > 0) parts.push(`${n}${unit}`)
    rest -= n * size
    if (parts.length === 2) break
  }
  return parts.join('')
}
