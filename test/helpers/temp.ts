import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { onTestFinished } from 'vitest'

/** A fresh SQLite store URL in a temporary folder, removed when the test ends. */
export function tempSqliteUrl(): string {
  return `sqlite:${tempSqlitePath()}`
}

/** A fresh SQLite file path in a temporary folder, removed when the test ends. */
export function tempSqlitePath(): string {
  const dir = mkdtempSync(join(tmpdir(), 'outbox-test-'))
  onTestFinished(() => rmSync(dir, { recursive: true, force: true }))
  return join(dir, 'outbox.db')
}

/** Polls `check` every 20 ms until it returns true; fails after `timeoutMs`. */
export async function waitUntil(
  check: () => boolean | Promise<boolean>,
  timeoutMs = 10_000,
  what = 'condition',
): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline) {
    if (await check()) return
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
}

export const sleep = (ms: number): Promise<void> =>
  new Promise((resolve) => setTimeout(resolve, ms))
