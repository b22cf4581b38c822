import { parentPort, workerData } from 'node:worker_threads'
import type { Logger } from '../../logger.js'
import { createSqliteStore, type SqliteStoreOptions } from '../sqlite/sqlite-store.js'
import type { ClaimedMessage, NewMessage, Store } from '../store.js'
import { asBuffer, toWireError, transferable } from './wire.js'

/**
 * The thread that owns a SQLite store (see threaded-store.ts): it runs the queue engine and
 * SQLite's statements, commits and fsyncs, while the main thread talks SMTP.
 */

export interface StoreThreadData {
  sqlite: Omit<SqliteStoreOptions, 'logger'>
}

export type StoreRequest = { id: number; method: keyof Store; args: unknown[] }
export type StoreReply =
  | { id: number; ok: true; value: unknown }
  | { id: number; ok: false; error: ReturnType<typeof toWireError> }
  | { event: 'enqueue' }
  | { event: 'ready'; kind: string }
  | { event: 'failed'; error: ReturnType<typeof toWireError> }
  | { event: 'log'; level: keyof Logger; obj: object; msg: string | undefined }

const port = parentPort!
/** What the store logs goes to the main thread's logger. */
const logAt =
  (level: keyof Logger) =>
  (obj: object, msg?: string): void =>
    port.postMessage({ event: 'log', level, obj, msg } satisfies StoreReply)
const logger: Logger = {
  debug: logAt('debug'),
  info: logAt('info'),
  warn: logAt('warn'),
  error: logAt('error'),
}
let store: Store
try {
  store = createSqliteStore({ ...(workerData as StoreThreadData).sqlite, logger })
  port.postMessage({ event: 'ready', kind: store.kind } satisfies StoreReply)
} catch (error) {
  port.postMessage({ event: 'failed', error: toWireError(error) } satisfies StoreReply)
  port.close()
}

let stopListening: (() => void) | null = null

/** Bytes arrive as plain byte arrays: Buffers again, over the same memory. */
function revive(method: string, args: unknown[]): unknown[] {
  if (method === 'enqueue') {
    const messages = (args[0] as NewMessage[]).map((m) => ({ ...m, raw: asBuffer(m.raw)! }))
    return [messages, ...args.slice(1)]
  }
  return args
}

async function handle(request: StoreRequest): Promise<void> {
  const { id, method } = request
  try {
    if (method === 'onEnqueue') {
      // The main thread says whether it has listeners; enqueues are then told to it.
      if (request.args[0] === true)
        stopListening ??= store.onEnqueue(() => port.postMessage({ event: 'enqueue' }))
      else {
        stopListening?.()
        stopListening = null
      }
      port.postMessage({ id, ok: true, value: null } satisfies StoreReply)
      return
    }
    const target = store as unknown as Record<string, (...args: unknown[]) => Promise<unknown>>
    const value = await target[method]!(...revive(method, request.args))
    // A claim's bytes are fresh from SQLite: handed over, not copied.
    const transfer =
      method === 'claim'
        ? transferable((value as ClaimedMessage[]).map((m) => m.raw))
        : method === 'getRaw'
          ? transferable([value as Buffer | null])
          : []
    port.postMessage({ id, ok: true, value } satisfies StoreReply, transfer)
    // Closed: nothing keeps the thread alive any more, and it ends.
    if (method === 'close') port.close()
  } catch (error) {
    port.postMessage({ id, ok: false, error: toWireError(error) } satisfies StoreReply)
  }
}

port.on('message', (requests: StoreRequest[]) => {
  for (const request of requests) void handle(request)
})
