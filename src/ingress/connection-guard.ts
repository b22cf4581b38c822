import { isIPv6, SocketAddress, type Socket } from 'node:net'
import type { Duplex } from 'node:stream'
import type { SMTPServerSession } from 'smtp-server'
import type { Logger } from '../logger.js'
import type { ClientSlots, SlotRefusal } from './client-slots.js'
import {
  startConversationClock,
  type ConversationClock,
  type ConversationPhase,
  type ConversationTimeouts,
} from './conversation-clock.js'

/** One accepted TCP connection, from before its SMTP session starts until it closes. */
interface Connection {
  raw: Socket
  /** The TLS socket on top of `raw`, once TLS is up (implicit TLS or STARTTLS). */
  tls: Duplex | null
  /** Accepted on the implicit TLS port: `raw` carries TLS records from the first byte. */
  implicitTls: boolean
  clock: ConversationClock
}

/**
 * Keeps slow and greedy clients in check for the SMTP listener: every accepted socket gets
 * its deadlines (see {@link startConversationClock}) before smtp-server reads a byte of it,
 * and every session a slot (see `createClientSlots`) or a 421. Fed by smtp-server's hooks.
 */
export interface ConnectionGuard {
  /** A socket was accepted (on the implicit TLS port, `implicitTls`). */
  accepted(raw: Socket, implicitTls: boolean): void
  /** The session starts (onConnect): null to go on, or the text of the 421 refusal. */
  admit(session: SMTPServerSession): string | null
  /** TLS is up (onSecure): from now on the client's lines are read from `socket`. */
  secured(session: SMTPServerSession, socket: Duplex): void
  /** DATA was accepted (onData). */
  dataStarted(session: SMTPServerSession): void
  /** The message was answered. */
  messageDone(session: SMTPServerSession): void
  /** The session ended (onClose). */
  closed(session: SMTPServerSession): void
}

export interface ConnectionGuardOptions {
  slots: ClientSlots
  timeouts: ConversationTimeouts
  /** Host name in replies. */
  name: string
  logger: Logger
}

/**
 * Names a connection the same way from its socket and from its SMTP session (whose addresses
 * smtp-server normalises: IPv4-mapped IPv6 as IPv4), to find one from the other.
 */
function connectionKey(localPort: number, remoteAddress: string, remotePort: number): string {
  const plain = remoteAddress.replace(/^::ffff:(?=\d+\.)/i, '')
  let address = plain
  try {
    address = new SocketAddress({ address: plain, family: isIPv6(plain) ? 'ipv6' : 'ipv4' }).address
  } catch {
    // not an IP address: compare it as it is
  }
  return `${localPort} ${address} ${remotePort}`
}

/**
 * The refusal of a client for want of a slot. smtp-server sends a refusal from onConnect
 * without an enhanced status code, so it is part of the text.
 */
function refusalReply(refusal: SlotRefusal, name: string, address: string): string {
  switch (refusal) {
    case 'full':
      return `4.3.2 ${name} Too many connected clients, try again in a moment`
    case 'per-client':
      return `4.7.0 ${name} Error: too many connections from ${address}`
    case 'outside-share':
      return `4.7.0 ${name} Error: too many connections from outside the trusted networks, try again later`
  }
}

export function createConnectionGuard(options: ConnectionGuardOptions): ConnectionGuard {
  const { slots, timeouts, name, logger: log } = options
  /** Connections whose SMTP session has not started yet, by {@link connectionKey}. */
  const pending = new Map<string, Connection>()
  /** Connections by SMTP session id. */
  const sessions = new Map<string, Connection>()

  /** Says why (when the socket can still carry words) and closes a connection past a deadline. */
  const closeSlowClient = (connection: Connection, phase: ConversationPhase): void => {
    const { raw, tls } = connection
    if (raw.destroyed) return
    log.info(
      { client: raw.remoteAddress, deadline: phase },
      `SMTP client too slow (${phase} deadline passed); closing the connection`,
    )
    // Until its handshake is done, the implicit TLS port can say nothing readable. Nor may the
    // socket be destroyed under smtp-server's handshake: it then asks the freed TLS session
    // for its protocol and Node crashes (segfault). Ended, the handshake fails and smtp-server
    // closes both sockets itself.
    if (connection.implicitTls && !tls) return void raw.end()
    const destroy = () => {
      tls?.destroy() // the TLS socket first, then what it runs on
      raw.destroy()
    }
    ;(tls ?? raw).end(`421 4.4.2 ${name} Error: timeout exceeded\r\n`, destroy)
    // A client that reads nothing would keep 'finish' from ever coming.
    setTimeout(destroy, 1000).unref()
  }

  return {
    accepted(raw, implicitTls) {
      const key = connectionKey(raw.localPort ?? 0, raw.remoteAddress ?? '', raw.remotePort ?? 0)
      const forget = () => {
        if (pending.get(key) !== connection) return
        pending.delete(key)
        connection.clock.stop()
      }
      const connection: Connection = {
        raw,
        tls: null,
        implicitTls,
        clock: startConversationClock(timeouts, (phase) => {
          forget()
          closeSlowClient(connection, phase)
        }),
      }
      pending.set(key, connection)
      raw.once('close', forget)
    },

    admit(session) {
      const key = connectionKey(session.localPort, session.remoteAddress, session.remotePort)
      const connection = pending.get(key)
      pending.delete(key)
      if (!connection) {
        // Cannot happen (every socket is seen first); refused rather than left without deadlines.
        log.error({ client: session.remoteAddress }, 'SMTP session without its connection')
        return `4.3.0 ${name} Error: internal error, try again later`
      }
      const refusal = slots.admit(session.id, session.remoteAddress)
      if (refusal) {
        connection.clock.stop()
        log.warn(
          { client: session.remoteAddress, reason: refusal },
          'SMTP connection refused: no free slot',
        )
        return refusalReply(refusal, name, session.remoteAddress)
      }
      sessions.set(session.id, connection)
      // On the implicit TLS port, the TLS socket is read from secured() on.
      if (!connection.implicitTls) connection.clock.watch(connection.raw)
      return null
    },

    secured(session, socket) {
      const connection = sessions.get(session.id)
      if (!connection) return
      connection.tls = socket
      connection.clock.watch(socket)
    },

    dataStarted(session) {
      sessions.get(session.id)?.clock.dataStarted()
    },

    messageDone(session) {
      sessions.get(session.id)?.clock.messageDone()
    },

    closed(session) {
      slots.release(session.id)
      sessions.get(session.id)?.clock.stop()
      sessions.delete(session.id)
    },
  }
}
