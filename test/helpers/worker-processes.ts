import { spawn, type ChildProcess } from 'node:child_process'
import { fileURLToPath } from 'node:url'

const WORKER = fileURLToPath(new URL('../fixtures/worker-process.mjs', import.meta.url))

/** Starts a worker in its own process (the built package); resolves once it is delivering. */
export async function startWorkerProcess(
  store: string,
  upstream: string,
  concurrency: number,
  /** More `createOutbox()` options (JSON-able): upstreams, routes, limits. */
  options?: Record<string, unknown>,
): Promise<ChildProcess> {
  const args = [WORKER, store, upstream, String(concurrency)]
  if (options) args.push(JSON.stringify(options))
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] })
  await new Promise<void>((resolve, reject) => {
    child.stdout.on('data', (chunk: Buffer) => {
      if (chunk.toString().includes('ready')) resolve()
    })
    child.once('exit', (code) => reject(new Error(`worker exited early with code ${code}`)))
  })
  return child
}

/** Stops a worker process with SIGTERM (a clean shutdown) and waits for it. */
export async function stopWorkerProcess(child: ChildProcess): Promise<number | null> {
  if (child.exitCode !== null) return child.exitCode
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve))
  child.kill('SIGTERM')
  return exited
}
