import { existsSync } from 'node:fs'
import { Worker } from 'node:worker_threads'
import { ConfigError, StoreUnavailableError } from '../../errors.js'
import { silentLogger, type Logger } from '../../logger.js'
import type { ClaimedMessage, EnqueueResult, Store } from '../store.js'
import type { StoreReply, StoreRequest, StoreThreadData } from './store-thread.js'
import { asBuffer, fromWireError } from './wire.js'

/**
 * The thread's module, next to this one once built. Run from the TypeScript sources (the test
 * suite does), there is only `store-thread.ts`, which a thread cannot load: the built one in
 * `dist/` stands in (the tests build first).
 */
function threadModule(): URL {
  const built = new URL('./store-thread.js', import.meta.url)
  if (existsSync(built)) return built
  return new URL('../../../dist/store/thread/store-thread.js', import.meta.url)
}

/** Store methods called across the thread, with the conversions their results need. */
const METHODS = [
  'enqueue',
  'claim',
  'renewLeases',
  'releaseLeases',
  'complete',
  'msUntilNextDue',
  'wakeUpstreamWaiters',
  'expireOverdue',
  'getMessage',
  'getRaw',
  'countByStatus',
  'listMessages',
  'hold',
  'unhold',
  'retry',
  'remove',
  'purge',
  'stats',
  'activity',
  'takeTokens',
  'adjustRates',
  'rateBuckets',
  'reportUpstreams',
  'upstreamReports',
  'upstreamActivity',
  'suppress',
  'unsuppress',
  'listSuppressions',
  'findSuppressions',
  'recordFeedback',
  'readEvents',
  'countEvents',
  'eventPosition',
  'purgeEvents',
  'leaseConsumer',
  'saveConsumer',
  'consumers',
  'requestConsumerRetry',
  'putTemplate',
  'getTemplate',
  'templateVersions',
  'listTemplates',
  'removeTemplate',
] as const satisfies readonly (keyof Store)[]

/**
 * A SQLite store run in a thread of its own. SQLite works synchronously: on the main thread
 * every statement, commit and fsync of the queue stops the SMTP work of the worker for as long.
 * In its own thread the store commits while the main thread sends, and the outcomes that arrive
 * meanwhile share the next commit. Calls cross as messages; the message bytes of a claim are
 * handed over without a copy.
 */
export async function openThreadedStore(
  data: StoreThreadData,
  logger: Logger = silentLogger,
): Promise<Store> {
  const worker = new Worker(threadModule(), { workerData: data })
  const pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: unknown) => void }>()
  const listeners = new Set<() => void>()
  let next = 0
  let closed = false
  let failure: Error | null = null

  // An idle store must not keep the process alive; one with calls under way must.
  worker.unref()
  const settle = () => {
    if (pending.size === 0) worker.unref()
  }

  const kind = await new Promise<string>((resolve, reject) => {
    const onMessage = (reply: StoreReply) => {
      if ('event' in reply && reply.event === 'ready') {
        worker.off('message', onMessage)
        resolve(reply.kind)
      } else if ('event' in reply && reply.event === 'failed') {
        worker.off('message', onMessage)
        reject(fromWireError(reply.error))
      }
    }
    worker.on('message', onMessage)
    worker.once('error', reject)
    worker.ref()
  })

  worker.on('message', (reply: StoreReply) => {
    if ('event' in reply) {
      if (reply.event === 'enqueue') for (const listener of listeners) listener()
      else if (reply.event === 'log') logger[reply.level](reply.obj, reply.msg)
      return
    }
    const call = pending.get(reply.id)
    if (!call) return
    pending.delete(reply.id)
    settle()
    if (reply.ok) call.resolve(reply.value)
    else call.reject(fromWireError(reply.error))
  })
  // The thread died (a crash in the driver): every call under way and later fails.
  const fail = (error: unknown) => {
    failure = new StoreUnavailableError(
      `The SQLite store's thread stopped: ${(error as Error)?.message ?? String(error)}`,
    )
    for (const call of pending.values()) call.reject(failure)
    pending.clear()
  }
  worker.on('error', fail)
  worker.on('exit', () => {
    if (!closed) fail(new Error('it exited'))
  })

  // The calls made in one turn of the event loop (the outcomes of sends that finished together,
  // a claim) cross as one message: the thread then commits them together.
  let outgoing: StoreRequest[] = []
  const post = () => {
    const batch = outgoing
    outgoing = []
    worker.postMessage(batch)
  }

  function call<T>(method: StoreRequest['method'], args: unknown[]): Promise<T> {
    if (failure) return Promise.reject(failure)
    if (closed) return Promise.reject(new StoreUnavailableError('The SQLite store is closed.'))
    return new Promise<T>((resolve, reject) => {
      const id = next++
      pending.set(id, { resolve: resolve as (v: unknown) => void, reject })
      worker.ref()
      outgoing.push({ id, method, args })
      if (outgoing.length === 1) setImmediate(post)
    })
  }

  const store = Object.fromEntries(
    METHODS.map((method) => [method, (...args: unknown[]) => call(method, args)]),
  ) as unknown as Store

  return Object.assign(store, {
    kind,
    async enqueue(...args: Parameters<Store['enqueue']>) {
      // The caller's transaction is an object of its connection: it cannot cross, nor would
      // SQLite have anything to do with it.
      if (args[1]?.transaction) {
        throw new ConfigError(
          'options.db',
          'The SQLite store cannot enqueue inside your own database transaction; `db` needs the PostgreSQL store.',
        )
      }
      return call<EnqueueResult[]>('enqueue', [args[0]])
    },
    async claim(...args: Parameters<Store['claim']>) {
      const claimed = await call<ClaimedMessage[]>('claim', args)
      for (const m of claimed) m.raw = asBuffer(m.raw)
      return claimed
    },
    async getRaw(id: string) {
      return asBuffer(await call<Uint8Array | null>('getRaw', [id]))
    },
    onEnqueue(listener: () => void) {
      listeners.add(listener)
      if (listeners.size === 1) void call('onEnqueue', [true]).catch(() => undefined)
      return () => {
        listeners.delete(listener)
        if (listeners.size === 0 && !closed) void call('onEnqueue', [false]).catch(() => undefined)
      }
    },
    async close() {
      if (closed) return
      await call('close', []).catch(() => undefined)
      closed = true
      listeners.clear()
      await worker.terminate()
    },
  } satisfies Partial<Store>)
}
