import type { Logger } from '../logger.js'
import type { TransportNeeds } from '../message/transport-needs.js'
import { describeDeliveryError, refusesNewConnection } from './classify-error.js'
import { createConnectionLimit } from './connection-limit.js'
import { missingExtension, notOfferedError } from './relay-extensions.js'
import type { SmtpProgress } from './smtp-progress.js'
import {
  openSmtpSession,
  type SentInfo,
  type SessionEnvelope,
  type SessionSettings,
  type SmtpSession,
} from './smtp-session.js'

/**
 * Limits on Outbox's connections to one SMTP upstream. Like the connection reuse limits of
 * Postfix's own SMTP client, the last two make a change on the upstream (a reload, a new access
 * map, a load balancer sending new connections elsewhere) reach Outbox under steady traffic.
 */
export interface ConnectionLimits {
  /** Most connections at once; lower if the upstream refuses more (see connection-limit.ts). */
  maxConnections: number
  /** Messages one connection carries before it is closed and replaced. @default 100 */
  maxMessages: number
  /** A connection this old takes no further message: it is closed and replaced. @default 300_000 */
  maxAgeMs: number
}

export const DEFAULT_CONNECTION_LIMITS = Object.freeze({
  maxMessages: 100,
  maxAgeMs: 5 * 60_000,
})

/** A connection unused this long is closed (with QUIT): an idle queue holds none. */
const IDLE_MS = 30_000

/**
 * Outbox's own set of SMTP connections to one upstream, each a Nodemailer SMTPConnection.
 *
 * Why not Nodemailer's pool (`pool: true`): it opens every connection it may up to a fixed
 * `maxConnections`, and a connection refused at the greeting fails the message it was opened
 * for, with no way to tell "one more than the server allows" from "the server is down" (its
 * open connections are private), nor to send that message on a connection that works. It has
 * a message limit per connection but no age limit, and it hides the server's EHLO reply, so
 * there is no telling whether the server offers the 8BITMIME or SMTPUTF8 a message needs
 * before it is sent undeclared. Here every connection is known: how many are open, how old,
 * how many messages each carried and what its server offers. Nodemailer still speaks SMTP.
 */
export interface SmtpConnections {
  /**
   * Sends one transaction on a free connection (opening one if the limits allow, else waiting
   * for one). A connection refused as one too many costs the message nothing: it waits for a
   * working one. Rejects with Nodemailer's error, or with `ENOTOFFERED` (nothing sent) when
   * the server lacks an extension the message needs.
   */
  send(
    envelope: SessionEnvelope,
    raw: Buffer,
    needs: TransportNeeds,
    progress: SmtpProgress,
  ): Promise<SentInfo>
  /** Resolves if the upstream takes a connection (and login): an idle one answering RSET, or a new one. */
  probe(): Promise<void>
  /** Connections that may be open now (the learned limit). */
  readonly limit: number
  /** Closes idle connections at once, busy ones once their transaction ends. */
  close(): void
}

const poolClosed = (): Error =>
  Object.assign(new Error('Connection pool was closed'), { code: 'ECONNECTION', command: 'API' })

/** A connection refused as one too many: the send waits for a working one. */
class RefusedAsOneTooMany extends Error {}

/** A dropped connection reported by Nodemailer (no reply from the server). */
const DROPPED = new Set(['ECONNECTION', 'ESOCKET', 'EPIPE', 'ECONNRESET'])

export function createSmtpConnections(options: {
  settings: SessionSettings
  limits: ConnectionLimits
  /** The upstream as logs name it (no password). */
  description: string
  logger: Logger
}): SmtpConnections {
  const { settings, limits, description } = options
  const log = options.logger
  const limit = createConnectionLimit(limits.maxConnections)
  /** Open connections, busy or idle or saying QUIT, until their socket closed. */
  const open = new Set<SmtpSession>()
  /** Idle connections, the most recently used last (taken first: the others go idle and close). */
  const idle: SmtpSession[] = []
  const idleTimers = new Map<SmtpSession, NodeJS.Timeout>()
  let opening = 0
  let closed = false
  /** Sends waiting for a connection; each re-checks when something changes. */
  let waiting: (() => void)[] = []

  const notify = (): void => {
    const woken = waiting
    waiting = []
    for (const wake of woken) wake()
  }
  const changed = (): Promise<void> => new Promise((resolve) => waiting.push(resolve))

  const tooOld = (session: SmtpSession): boolean =>
    session.messages >= limits.maxMessages || Date.now() - session.openedAt >= limits.maxAgeMs

  function takeIdle(): SmtpSession | null {
    while (idle.length > 0) {
      const session = idle.pop()!
      clearTimeout(idleTimers.get(session))
      idleTimers.delete(session)
      if (session.closed) continue
      if (tooOld(session)) {
        session.quit()
        continue
      }
      return session
    }
    return null
  }

  /** Opens one more connection; `grew`: it is the one past the limit that tryGrow() allowed. */
  async function openOne(grew: boolean): Promise<SmtpSession> {
    opening++
    let session: SmtpSession
    try {
      session = await openSmtpSession(settings)
    } catch (error) {
      opening--
      const others = open.size + opening
      if (!closed && others > 0 && refusesNewConnection(error as Error)) {
        const before = limit.current
        const { limit: after, retryAt } = limit.refused(others, Date.now(), grew)
        if (after < before) {
          log.info(
            {
              upstream: description,
              connections: after,
              reply: describeDeliveryError(error),
              retryInS: Math.round((retryAt - Date.now()) / 1000),
            },
            `upstream refused connection ${others + 1} while ${others} were open: ` +
              `sending on ${after}, and trying one more later`,
          )
        }
        notify()
        throw new RefusedAsOneTooMany(describeDeliveryError(error))
      }
      limit.failed(grew)
      notify()
      throw error
    }
    opening--
    limit.opened(Date.now(), grew)
    open.add(session)
    log.debug({ upstream: description, connections: open.size }, 'SMTP connection opened')
    void session.ended.then(() => {
      open.delete(session)
      notify()
    })
    if (closed) {
      session.quit()
      throw poolClosed()
    }
    return session
  }

  /** A connection for one transaction: an idle one, a new one if the limit allows, or the next to free up. */
  async function acquire(): Promise<{ session: SmtpSession; reused: boolean }> {
    for (;;) {
      if (closed) throw poolClosed()
      const session = takeIdle()
      if (session) return { session, reused: true }
      const room = open.size + opening < limit.current
      const grew = !room && limit.tryGrow(Date.now())
      if (room || grew) {
        try {
          return { session: await openOne(grew), reused: false }
        } catch (error) {
          if (!(error instanceof RefusedAsOneTooMany)) throw error
          continue
        }
      }
      await changed()
    }
  }

  function release(session: SmtpSession, reusable: boolean): void {
    if (session.closed || !reusable) session.close()
    else if (closed || tooOld(session)) session.quit()
    else {
      idle.push(session)
      const timer = setTimeout(() => {
        const at = idle.indexOf(session)
        if (at === -1) return
        idle.splice(at, 1)
        idleTimers.delete(session)
        session.quit()
      }, IDLE_MS)
      timer.unref()
      idleTimers.set(session, timer)
    }
    notify()
  }

  return {
    get limit() {
      return limit.current
    },

    async send(envelope, raw, needs, progress) {
      for (let tryNo = 0; ; tryNo++) {
        const { session, reused } = await acquire()
        const missing = missingExtension(needs, session.extensions)
        if (missing) {
          release(session, true)
          throw notOfferedError(missing)
        }
        try {
          const info = await session.send(envelope, raw, progress)
          release(session, true)
          return info
        } catch (failure) {
          const error = failure as Error & { code?: string; responseCode?: number }
          // A refused message leaves the session usable once RSET clears the transaction.
          if (
            (error.code === 'EENVELOPE' || error.code === 'EMESSAGE') &&
            error.responseCode !== 421 &&
            !session.closed
          ) {
            session.reset().then(
              () => release(session, true),
              () => release(session, false),
            )
          } else release(session, false)
          // A connection that sat idle may have been closed by the server just as this message
          // went out. Nothing of it was sent, so it goes out once more on a fresh connection.
          if (reused && tryNo === 0 && !progress.data && DROPPED.has(error.code ?? '')) {
            progress.transaction = progress.data = progress.dotWritten = false
            continue
          }
          throw error
        }
      }
    },

    async probe() {
      for (let tryNo = 0; ; tryNo++) {
        const { session, reused } = await acquire()
        try {
          if (reused) await session.reset()
          release(session, true)
          return
        } catch (error) {
          release(session, false)
          if (tryNo > 0) throw error
        }
      }
    },

    close() {
      closed = true
      for (const session of idle) session.quit()
      idle.length = 0
      for (const timer of idleTimers.values()) clearTimeout(timer)
      idleTimers.clear()
      notify()
    },
  }
}
