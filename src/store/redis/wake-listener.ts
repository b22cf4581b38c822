import type { Redis } from 'ioredis'
import type { Logger } from '../../logger.js'

/**
 * Tells this process when any process enqueued (or made due) mail: the scripts PUBLISH on
 * `channel`, and a connection of its own (a subscribed connection can run nothing else)
 * listens while anybody here waits. ioredis subscribes again after a reconnect.
 */
export function listenForWakeUps(
  client: Redis,
  channel: string,
  log: Logger,
  onWake: () => void,
): () => void {
  const subscriber = client.duplicate()
  subscriber.on('error', (error: Error) => {
    log.debug({ err: error.message }, 'Redis wake-up connection error (it reconnects)')
  })
  subscriber.on('message', (from: string) => {
    if (from === channel) onWake()
  })
  subscriber.subscribe(channel).catch((error: unknown) => {
    log.warn({ err: (error as Error).message }, 'could not subscribe to Redis wake-ups')
  })
  return () => {
    subscriber.disconnect()
  }
}
