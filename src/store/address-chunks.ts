/** Suppression list addresses as every store keeps them: trimmed, lower-cased, once each. */
export const normalisedAddresses = (addresses: readonly string[]): string[] => [
  ...new Set(addresses.map((a) => a.trim().toLowerCase())),
]

/** Splits a list into runs of at most `size`, one statement or script call each. */
export function chunked<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = []
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size))
  return out
}
