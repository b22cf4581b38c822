/**
 * Gathers items that arrive together and writes them in batches: everything queued in one turn
 * of the event loop, or while the previous batch was being written, goes in the next one. One
 * statement (PostgreSQL: one round trip) and one commit then serve many deliveries, and an idle
 * queue waits for nothing. A batch that fails is written again item by item, so that one bad
 * item fails alone.
 */
export interface Batcher<T, R> {
  /** Queues an item; resolves with its result once its batch is written. */
  add(item: T): Promise<R>
  /** Items queued or being written. */
  readonly pending: number
}

export function createBatcher<T, R>(options: {
  /** Writes a batch; returns one result per item, in order. */
  write: (items: readonly T[]) => Promise<R[]>
  /** Most items per batch. */
  maxBatch: number
  /**
   * When the first item of a batch is written: at the end of the turn of the event loop it came
   * in (`immediate`, so the turn's other items join it), or once the code running now is done
   * (`microtask`, for a writer that itself commits a turn's writes together).
   * @default 'immediate'
   */
  schedule?: 'immediate' | 'microtask'
}): Batcher<T, R> {
  const queue: { item: T; resolve: (r: R) => void; reject: (e: unknown) => void }[] = []
  let writing = false
  let inFlight = 0

  async function drain(): Promise<void> {
    writing = true
    try {
      while (queue.length > 0) {
        const batch = queue.splice(0, options.maxBatch)
        inFlight = batch.length
        try {
          const results = await options.write(batch.map((b) => b.item))
          batch.forEach((b, i) => b.resolve(results[i]!))
        } catch (error) {
          if (batch.length === 1) batch[0]!.reject(error)
          else {
            for (const b of batch) {
              await options.write([b.item]).then((results) => b.resolve(results[0]!), b.reject)
            }
          }
        }
        inFlight = 0
      }
    } finally {
      writing = false
    }
  }

  return {
    add(item) {
      return new Promise<R>((resolve, reject) => {
        queue.push({ item, resolve, reject })
        // The first of a turn waits for the turn's others; later ones join a write under way.
        if (queue.length === 1 && !writing) {
          if (options.schedule === 'microtask') queueMicrotask(() => void drain())
          else setImmediate(() => void drain())
        }
      })
    },
    get pending() {
      return queue.length + inFlight
    },
  }
}
