import pg from 'pg'
import type { Logger } from '../../logger.js'

/** A LISTEN connection that survives the server going away. */
export interface NotificationListener {
  start(): void
  stop(): void
}

const RECONNECT_MS = [250, 10_000] as const

/**
 * Listens on `channel` over a dedicated connection (LISTEN cannot share a pooled one) and calls
 * `onNotify` for each notification. A lost connection is re-established with backoff; after
 * each (re)connection `onNotify` runs once, since notifications sent meanwhile are lost.
 */
export function createNotificationListener(options: {
  connectionString: string
  channel: string
  logger: Logger
  onNotify: () => void
}): NotificationListener {
  let client: pg.Client | null = null
  let running = false
  let retryMs: number = RECONNECT_MS[0]
  let timer: NodeJS.Timeout | null = null

  const connect = async (): Promise<void> => {
    if (!running) return
    const c = new pg.Client({
      connectionString: options.connectionString,
      application_name: 'outbox-listen',
    })
    client = c
    c.on('notification', () => options.onNotify())
    c.on('error', (error) => {
      options.logger.warn({ err: error.message }, 'LISTEN connection lost; reconnecting')
      lost(c)
    })
    c.on('end', () => lost(c))
    try {
      await c.connect()
      await c.query(`LISTEN "${options.channel.replace(/"/g, '""')}"`)
      if (retryMs !== RECONNECT_MS[0]) options.logger.info({}, 'LISTEN connection re-established')
      retryMs = RECONNECT_MS[0]
      options.onNotify()
    } catch (error) {
      options.logger.debug(
        { err: (error as Error).message, retryInMs: retryMs },
        'LISTEN connection failed',
      )
      lost(c)
    }
  }

  const lost = (c: pg.Client): void => {
    if (client !== c) return
    client = null
    c.removeAllListeners('end')
    c.end().catch(() => undefined)
    if (!running || timer) return
    timer = setTimeout(() => {
      timer = null
      void connect()
    }, retryMs)
    timer.unref()
    retryMs = Math.min(retryMs * 2, RECONNECT_MS[1])
  }

  return {
    start() {
      if (running) return
      running = true
      void connect()
    },
    stop() {
      running = false
      if (timer) clearTimeout(timer)
      timer = null
      const c = client
      client = null
      if (c) {
        c.removeAllListeners()
        c.on('error', () => {})
        c.end().catch(() => undefined)
      }
    },
  }
}
