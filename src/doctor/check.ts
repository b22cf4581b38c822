/** How one check of `outbox doctor` came out. */
export type CheckStatus = 'ok' | 'warn' | 'fail'

/** One line of `outbox doctor`: what was checked, what was found, and what to do when not ok. */
export interface CheckResult {
  /** The check group and what it looked at, such as `store` or `upstream default`. */
  check: string
  status: CheckStatus
  found: string
  /** What to do about it; absent when the check is ok. */
  fix?: string
}

export const ok = (check: string, found: string): CheckResult => ({ check, status: 'ok', found })

export const warn = (check: string, found: string, fix: string): CheckResult => ({
  check,
  status: 'warn',
  found,
  fix,
})

export const fail = (check: string, found: string, fix: string): CheckResult => ({
  check,
  status: 'fail',
  found,
  fix,
})

/** Resolves as `promise` does, or rejects with `what timed out after N s` after `ms`. */
export async function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () =>
        reject(
          Object.assign(new Error(`${what} timed out after ${ms / 1000} s`), { code: 'ETIMEDOUT' }),
        ),
      ms,
    )
  })
  try {
    return await Promise.race([promise, timeout])
  } finally {
    clearTimeout(timer)
  }
}

/** An error's message (and code), for a line. */
export function reason(error: unknown): string {
  const e = error as { message?: unknown; code?: unknown }
  const message = typeof e?.message === 'string' && e.message ? e.message : String(error)
  return typeof e?.code === 'string' && !message.includes(e.code)
    ? `${message} (${e.code})`
    : message
}
