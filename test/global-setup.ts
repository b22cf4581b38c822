import { randomBytes } from 'node:crypto'
import { mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

/**
 * Holds the suite to cleaning up after itself. Every process a test starts inherits a mark in
 * its environment, and every temporary folder lands in one folder of this run; at the end, a
 * marked process still alive, or anything left in that folder, fails the run (the processes
 * are killed and the folder removed either way, so one bad run does not spoil the next).
 */
export const RUN_MARK_VARIABLE = 'OUTBOX_TEST_RUN'

/** Processes whose environment carries `mark`, other than vitest's own. */
function markedProcesses(mark: string): { pid: number; command: string }[] {
  const found: { pid: number; command: string }[] = []
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue
    try {
      const environ = readFileSync(`/proc/${entry}/environ`, 'latin1')
      if (!environ.split('\0').includes(`${RUN_MARK_VARIABLE}=${mark}`)) continue
      const command = readFileSync(`/proc/${entry}/cmdline`, 'latin1').split('\0').join(' ').trim()
      if (/vitest/.test(command) || command === '') continue
      const state = /^State:\s+(\S)/m.exec(readFileSync(`/proc/${entry}/status`, 'latin1'))?.[1]
      if (state === 'Z') continue // exited, waiting to be reaped by its parent
      found.push({ pid: Number(entry), command })
    } catch {
      // Gone meanwhile, or not ours to read.
    }
  }
  return found
}

async function waitForExit(mark: string, timeoutMs: number) {
  const deadline = Date.now() + timeoutMs
  let alive = markedProcesses(mark)
  while (alive.length > 0 && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 100))
    alive = markedProcesses(mark)
  }
  return alive
}

export default function setup(): () => Promise<void> {
  const mark = randomBytes(6).toString('hex')
  const runDir = join(tmpdir(), `outbox-tests-${mark}`)
  mkdirSync(runDir)
  process.env[RUN_MARK_VARIABLE] = mark
  process.env.TMPDIR = runDir

  return async () => {
    const problems: string[] = []
    // Children killed by the last test may take a moment to go.
    const alive = await waitForExit(mark, 5000)
    for (const { pid, command } of alive) {
      problems.push(`process ${pid} is still running: ${command}`)
      try {
        process.kill(pid, 'SIGKILL')
      } catch {
        // Already gone.
      }
    }
    const left = readdirSync(runDir)
    for (const name of left) problems.push(`temporary ${join(runDir, name)} was left behind`)
    rmSync(runDir, { recursive: true, force: true })
    if (problems.length > 0) {
      console.error(`\nThe tests did not clean up after themselves:\n  ${problems.join('\n  ')}\n`)
      process.exitCode = 1
    }
  }
}
