import type { Duplex } from 'node:stream'

/** Deadlines of an SMTP conversation; none of them is extended by bytes trickling in. */
export interface ConversationTimeouts {
  /**
   * The next complete command line must arrive within this time of the previous one (of the
   * connection, for the first): a client sending a byte now and then, which keeps an idle
   * timeout from ever firing, gains nothing by it.
   */
  commandMs: number
  /**
   * From the connection, or from the reply to the previous message, until the DATA command:
   * EHLO, STARTTLS, AUTH, MAIL FROM and every RCPT TO together.
   */
  envelopeMs: number
  /** From the DATA command until the final dot. */
  dataMs: number
}

export type ConversationPhase = 'command' | 'envelope' | 'data'

/** The deadlines of one connection. */
export interface ConversationClock {
  /** Reads the client's lines on `stream`: the plain socket, or the TLS socket once secure. */
  watch(stream: Duplex): void
  /** DATA was accepted: only the data deadline runs until {@link messageDone}. */
  dataStarted(): void
  /** The message was answered: a new transaction starts with fresh deadlines. */
  messageDone(): void
  /** The connection is gone. */
  stop(): void
}

const LF = 0x0a

/** Starts the deadlines of a connection that was just accepted; `expired` is called at most once. */
export function startConversationClock(
  timeouts: ConversationTimeouts,
  expired: (phase: ConversationPhase) => void,
): ConversationClock {
  let stopped = false
  let inData = false
  const watched: { stream: Duplex; onData: (chunk: Buffer) => void }[] = []

  const fire = (phase: ConversationPhase) => () => {
    if (stopped) return
    clock.stop()
    expired(phase)
  }
  // Unref'd: the sockets keep the process alive, not their deadlines. (A cleared timer cannot be
  // refreshed, so a new one is made after DATA.)
  let command = setTimeout(fire('command'), timeouts.commandMs).unref()
  let phase = setTimeout(fire('envelope'), timeouts.envelopeMs).unref()

  const clock: ConversationClock = {
    watch(stream) {
      if (stopped || watched.some((w) => w.stream === stream)) return
      const onData = (chunk: Buffer) => {
        // A line ending means a command is complete; message content counts against DATA only.
        if (!inData && !stopped && chunk.includes(LF)) command.refresh()
      }
      // The stream is already piped into smtp-server's parser, so listening does not change its
      // flow: both see the same chunks.
      stream.on('data', onData)
      watched.push({ stream, onData })
    },
    dataStarted() {
      if (stopped) return
      inData = true
      clearTimeout(command)
      clearTimeout(phase)
      phase = setTimeout(fire('data'), timeouts.dataMs).unref()
    },
    messageDone() {
      if (stopped) return
      inData = false
      clearTimeout(phase)
      phase = setTimeout(fire('envelope'), timeouts.envelopeMs).unref()
      command = setTimeout(fire('command'), timeouts.commandMs).unref()
    },
    stop() {
      if (stopped) return
      stopped = true
      clearTimeout(command)
      clearTimeout(phase)
      for (const { stream, onData } of watched) stream.off('data', onData)
      watched.length = 0
    },
  }
  return clock
}
