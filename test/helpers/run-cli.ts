import { spawn, type ChildProcess } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { RUN_MARK_VARIABLE } from '../global-setup.js'

/** The built CLI: tests run what users run. */
export const CLI = fileURLToPath(new URL('../../dist/cli/main.js', import.meta.url))

export interface CliResult {
  code: number | null
  stdout: string
  stderr: string
}

/**
 * Environment for a CLI run: the test's own, minus any OUTBOX_* the developer has set (but
 * with the mark by which the suite finds the processes it started, see global-setup.ts).
 */
export function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env = Object.fromEntries(
    Object.entries(process.env).filter(
      ([k]) => !k.startsWith('OUTBOX_') || k === RUN_MARK_VARIABLE,
    ),
  )
  return { ...env, ...extra }
}

/** Runs `outbox ARGS…` to completion (at most `timeoutMs`). */
export function runCli(
  args: string[],
  options: { cwd: string; env?: Record<string, string>; timeoutMs?: number },
): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], {
      cwd: options.cwd,
      env: cleanEnv(options.env),
    })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()))
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()))
    const timer = setTimeout(() => {
      child.kill('SIGKILL')
      reject(new Error(`outbox ${args.join(' ')} did not finish in time\n${stdout}\n${stderr}`))
    }, options.timeoutMs ?? 20_000)
    child.on('close', (code) => {
      clearTimeout(timer)
      resolve({ code, stdout, stderr })
    })
  })
}

const started = new Set<ChildProcess>()

/** Kills every process started with {@link startCli} that is still running (for afterEach). */
export function killStartedCli(): void {
  for (const child of started) if (child.exitCode === null) child.kill('SIGKILL')
  started.clear()
}

/** Starts a long-running `outbox ARGS…`; resolves once its output contains `readyText`. */
export async function startCli(
  args: string[],
  options: { cwd: string; env?: Record<string, string>; readyText: string },
): Promise<{ child: ChildProcess; output: () => string }> {
  const child = spawn(process.execPath, [CLI, ...args], {
    cwd: options.cwd,
    env: cleanEnv(options.env),
  })
  started.add(child)
  let output = ''
  child.stdout.on('data', (d: Buffer) => (output += d.toString()))
  child.stderr.on('data', (d: Buffer) => (output += d.toString()))
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL')
      reject(new Error(`outbox ${args.join(' ')} did not start:\n${output}`))
    }, 15_000)
    const check = () => {
      if (output.includes(options.readyText)) {
        clearTimeout(timer)
        resolve()
      }
    }
    child.stdout.on('data', check)
    child.once('exit', (code) => {
      clearTimeout(timer)
      reject(new Error(`outbox ${args.join(' ')} exited with ${code}:\n${output}`))
    })
  })
  return { child, output: () => output }
}
