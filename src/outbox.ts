import type { Transport } from 'nodemailer'
import { createAdmin, type Admin } from './admin/admin.js'
import { resolveOutboxOptions, type OutboxOptions } from './config/outbox-options.js'
import { createUpstreamSet } from './delivery/upstream-set.js'
import { createLiveRouting } from './delivery/live-routing.js'
import {
  applyRoutingUpdate,
  type ReconfigureResult,
  type RoutingUpdate,
} from './delivery/routing-update.js'
import { attemptEvent, createEventHub, type OutboxEvent } from './events.js'
import { ErrorCodes, InvalidMessageError, OutboxError } from './errors.js'
import { createBounceIntake, type BounceIntake } from './ingress/bounce-intake.js'
import { createNodemailerTransport } from './ingress/nodemailer-transport.js'
import { composeMessage } from './message/compose.js'
import { composeRaw, type RawMessageInput } from './message/compose-raw.js'
import { createDkimSigner } from './message/dkim-sign.js'
import { createQueueId } from './message/queue-id.js'
import { resolveSendOptions, type ResolvedSendOptions } from './message/send-options.js'
import type {
  ComposedMessage,
  MailInput,
  MessageStatus,
  SendOptions,
  SendResult,
} from './message/types.js'
import { openStore } from './store/open-store.js'
import { followEvents, type EventStreamOptions } from './event-log/follow-events.js'
import { startEventRetention } from './event-log/event-retention.js'
import { registerWebhooks, startWebhookDispatcher } from './webhooks/webhook-dispatcher.js'
import { submissionPreparer } from './sql-enqueue/prepare-submissions.js'
import {
  drainSubmissions,
  startSubmissionIntake,
  type TakeSubmissions,
} from './sql-enqueue/submission-intake.js'
import type { ExternalTransaction, NewMessage, StoredEvent, TemplateRef } from './store/store.js'
import {
  createTemplateRenderer,
  isTemplateMail,
  type TemplateMailInput,
} from './templates/template-mail.js'
import { admit } from './worker/admission.js'
import { deliverMessage, type DeliveryDeps } from './worker/deliver-message.js'
import { createLeaseKeeper } from './worker/lease-keeper.js'
import { suppressRejected } from './worker/suppress-rejected.js'
import {
  createWorker,
  workerId,
  type Worker,
  type WorkerCounts,
  type WorkerOptions,
} from './worker/worker.js'

/** One item of {@link Outbox.sendMany}: a message, or a message with its own send options. */
export type BatchItem =
  MailInput | TemplateMailInput | { mail: MailInput | TemplateMailInput; options?: SendOptions }

/** A durable mail queue. Create one with {@link createOutbox}. */
export interface Outbox {
  /**
   * Composes the message once, stores it durably, and resolves with its queue id once the
   * store has committed it. Throws `InvalidMessageError` (nothing stored) on bad input.
   * With `template` (a stored template's name), `language` and `context` instead of a subject
   * and body, the template is rendered here, once; the message records which version made it.
   * @example await outbox.send({ template: 'welcome', language: 'de', context: { name: 'Ann' }, to: 'ann@example.com' })
   */
  send(mail: MailInput | TemplateMailInput, options?: SendOptions): Promise<SendResult>
  /**
   * Enqueues several messages in one transaction: all are stored, or none. `options.db` enqueues
   * them inside your own open transaction (PostgreSQL).
   */
  sendMany(items: readonly BatchItem[], options?: Pick<SendOptions, 'db'>): Promise<SendResult[]>
  /**
   * Enqueues a message that is already composed, such as one received over SMTP: its bytes
   * are stored unchanged (a Message-ID header is added if it has none).
   */
  sendRaw(message: RawMessageInput, options?: SendOptions): Promise<SendResult>
  /**
   * A Nodemailer transport that queues instead of sending:
   * `nodemailer.createTransport(outbox.transport())`. `sendMail()` resolves once the message
   * is committed; its `messageId` is the stored one and `response` names the queue id.
   */
  transport(): Transport
  /** A background worker delivering from this Outbox's store. Call `start()` on it. */
  worker(options?: WorkerOptions): Worker
  /** Delivers everything due now, then resolves with what happened (for cron jobs and tests). */
  drain(options?: WorkerOptions): Promise<WorkerCounts>
  /** Inspecting and steering the queue: what the CLI and the HTTP API use. */
  readonly admin: Admin
  /**
   * Records delivery reports and complaints that come back to the bounce domain (the SMTP
   * listener hands it what it receives there); null unless the `bounces` option is set.
   */
  readonly bounces: BounceIntake | null
  /**
   * Calls `listener` for what this Outbox does (messages enqueued, delivery attempts recorded),
   * e.g. to feed your own metrics. Returns a function that unsubscribes.
   */
  observe(listener: (event: OutboxEvent) => void): () => void
  /**
   * The durable event log: every state change of every message, by any process on the store,
   * in order (`queued`, `sent` per recipient, `deferred`, `failed`, `bounced`, …). Ends at the
   * end of the log, or with `follow: true` keeps waiting for new events until `signal` aborts.
   * @example for await (const e of outbox.events({ since: new Date(Date.now() - 3_600_000) })) …
   */
  events(options?: EventStreamOptions): AsyncGenerator<StoredEvent, void, undefined>
  /**
   * The upstreams as this process last saw them: down (probing) or not, last success, last
   * error. `down` is every upstream being down (nothing can be delivered); `upstreams` has each.
   */
  upstreamHealth(): UpstreamHealthView & {
    upstreams: (UpstreamHealthView & { name: string; connections: number })[]
  }
  /**
   * Moves mail enqueued with SQL (PostgreSQL, MariaDB: see their migrations) into the queue now,
   * composed as `sendRaw()` composes it. Workers do this by themselves (at each commit, and
   * every 2 s); resolves with how many submissions it took.
   */
  takeSqlSubmissions(): Promise<number>
  /** Stops workers (finishing sends in progress), closes the upstream and the store. */
  close(): Promise<void>
  /**
   * Changes the rate limits, routes and domain limits while running (what `outbox` does on
   * SIGHUP): validated as `createOutbox()` validates them, then applied together for the next
   * message a worker admits; messages in flight are not disturbed. Options left out keep their
   * value. Throws `ConfigError` listing every problem, having changed nothing.
   * @example outbox.reconfigure({ routes: [{ match: { to: '@gmail.com' }, upstream: 'ses' }], domainLimits: { 'gmail.com': '50/m' } })
   */
  reconfigure(update: RoutingUpdate): ReconfigureResult
}

/** See {@link Outbox.upstreamHealth}. */
export interface UpstreamHealthView {
  down: boolean
  /** Down because of its configuration (TLS certificate, credentials); `lastError` says the fix. */
  misconfigured: boolean
  lastSuccessAt: Date | null
  lastError: string | null
}

/** A composed message and its options, on the way to the store. */
interface EnqueueItem {
  composed: ComposedMessage
  opts: ResolvedSendOptions
  template?: TemplateRef
  /** Its queue id when it has one already (a SQL submission's); else a new one. */
  id?: string
}

/**
 * Opens an Outbox: validates the options, opens (and migrates) the store, and prepares the
 * upstream. Throws `ConfigError` naming the bad option.
 *
 * @example
 * const outbox = await createOutbox({ store: 'sqlite:./outbox.db', upstream: 'smtp://127.0.0.1:2525' })
 * await outbox.send({ from: 'shop@example.com', to: 'a@example.com', subject: 'Hi', text: 'Hello' })
 */
export async function createOutbox(options: OutboxOptions = {}): Promise<Outbox> {
  const config = resolveOutboxOptions(options)
  const log = config.logger
  const ownsStore = typeof config.store === 'string'
  // The upstreams first: a bad upstream option must not leave a store connection open.
  const upstreams = createUpstreamSet(config.routing, {
    concurrency: config.concurrency,
    maxMessagesPerConnection: config.upstreamConnection.maxMessages,
    maxConnectionAgeMs: config.upstreamConnection.maxAgeMs,
    probe: config.probe,
    logger: log,
  })
  let store: Awaited<ReturnType<typeof openStore>>
  try {
    store =
      typeof config.store === 'string'
        ? await openStore(config.store, { logger: log })
        : config.store
  } catch (error) {
    await upstreams.close()
    throw error
  }
  const health = upstreams.health
  // Read through `routing.view` by workers and admin, so that reconfigure() reaches them.
  const routing = createLiveRouting(config.routing)
  const deliveryDeps: DeliveryDeps = {
    store,
    upstreams,
    routing: routing.view,
    retry: config.retry,
    // An outage-deferred message waits for a probe, but never longer than the longest probe gap.
    upstreamParkMs: config.probe.maxDelayMs,
    logger: log,
    events: createEventHub(log),
    bounces: config.bounces,
  }
  const dkim = createDkimSigner(config.dkim)
  const nowOwner = `${workerId()}:now`
  const nowLeases = createLeaseKeeper(store, nowOwner, config.leaseMs, log)
  const workers = new Set<Worker & { done: Promise<void> }>()
  const templates = createTemplateRenderer(store, config.templates)
  const admin = createAdmin(store, {
    maxAgeMs: config.maxAgeMs,
    routing: routing.view,
    webhooks: config.webhooks,
    templates,
  })
  // Each endpoint's place in the log is kept from now on, even before a worker runs.
  await registerWebhooks(store, config.webhooks, nowOwner).catch((error: unknown) => {
    log.warn({ err: (error as Error).message }, 'could not register the webhooks; the workers will')
  })
  let closed = false

  function assertOpen(): void {
    if (closed)
      throw new OutboxError(
        ErrorCodes.CLOSED,
        'This Outbox is closed; create a new one with createOutbox().',
      )
  }

  /** A `now` message is stored already leased to us and delivered right here. */
  async function deliverNow(
    message: NewMessage,
    suppressed: ReadonlySet<string>,
  ): Promise<MessageStatus> {
    if (health.isDown) {
      await store.releaseLeases(nowOwner, [message.id])
      return 'queued'
    }
    nowLeases.track(message.id)
    try {
      const createdAt = new Date()
      const claimed = {
        id: message.id,
        messageId: message.messageId,
        from: message.envelope.from,
        // Suppressed recipients were stored failed: only the others are tried.
        pendingRecipients: message.envelope.to.filter((to) => !suppressed.has(to)),
        failedRecipients: suppressed.size,
        raw: message.raw,
        priority: message.priority,
        attempts: 0,
        backoffStep: 0,
        createdAt,
        expiresAt: new Date(createdAt.getTime() + message.maxAgeMs),
        eightBit: message.eightBit,
        smtpUtf8: message.smtpUtf8,
        tags: message.tags,
        upstream: message.upstream ?? null,
      }
      const admission = await admit(claimed, deliveryDeps)
      if (
        admission.send.length === 0 &&
        admission.held.length > 0 &&
        admission.held.every((h) => h.reason === 'rate-limited')
      ) {
        // Over a rate limit: the workers send it at its turn.
        await store.releaseLeases(
          nowOwner,
          [message.id],
          [Math.min(...admission.held.map((h) => h.dueInMs))],
        )
        return 'queued'
      }
      if (admission.waitMs > 0) await new Promise((r) => setTimeout(r, admission.waitMs))
      const completion = await deliverMessage(claimed, admission, nowOwner, deliveryDeps)
      if (
        completion.attempt.outcome === 'upstream-down' ||
        completion.attempt.outcome === 'misconfigured'
      ) {
        // Not the message's fault: queue it for the workers without spending an attempt.
        await store.releaseLeases(nowOwner, [message.id])
        return 'queued'
      }
      if (await store.complete(completion)) {
        deliveryDeps.events.emit(attemptEvent(completion, createdAt))
        await suppressRejected(completion, deliveryDeps)
      }
      return completion.status
    } catch (error) {
      log.error(
        { id: message.id, err: (error as Error).message },
        'immediate delivery could not be recorded; the message stays queued',
      )
      return 'sending'
    } finally {
      nowLeases.untrack(message.id)
    }
  }

  /**
   * The messages to store for composed items: ids (a SQL submission brings its own), schedule,
   * and the DKIM signature. `inTransaction`: nothing can be sent before the caller commits.
   */
  async function toMessages(
    items: readonly EnqueueItem[],
    inTransaction: boolean,
  ): Promise<NewMessage[]> {
    // DKIM signing here, once: the stored bytes are the bytes sent, a retry never signs again.
    const raws = await Promise.all(items.map(({ composed }) => dkim.sign(composed.raw)))
    const now = Date.now()
    return items.map(({ composed, opts, template, id }, i) => ({
      id: id ?? createQueueId(now),
      messageId: composed.messageId,
      envelope: composed.envelope,
      raw: raws[i]!,
      subject: composed.subject,
      priority: opts.priority,
      sendAt: opts.sendAt,
      maxAgeMs: config.maxAgeMs,
      idempotencyKey: opts.idempotencyKey,
      tags: opts.tags,
      upstream: opts.upstream,
      eightBit: composed.eightBit,
      smtpUtf8: composed.smtpUtf8,
      template: template ?? null,
      // The store checks the recipients against the suppression list in the insert.
      checkSuppression: !opts.ignoreSuppression,
      // Inside the caller's transaction nothing is committed yet, so nothing can be sent yet.
      leaseTo:
        opts.priority === 'now' && !inTransaction && (!opts.sendAt || opts.sendAt.getTime() <= now)
          ? { owner: nowOwner, leaseMs: config.leaseMs }
          : undefined,
    }))
  }

  /** Refuses a message's own `upstream` option naming no configured upstream. */
  function checkUpstream(opts: ResolvedSendOptions, field: string): void {
    if (opts.upstream === null || upstreams.get(opts.upstream)) return
    throw new InvalidMessageError(
      field,
      `\`${field}\` names no configured upstream: ${JSON.stringify(opts.upstream)} (known: ${upstreams.names.join(', ')}).`,
    )
  }

  async function enqueue(
    items: EnqueueItem[],
    transaction: ExternalTransaction | null = items[0]?.opts.transaction ?? null,
  ): Promise<SendResult[]> {
    assertOpen()
    items.forEach(({ opts }, i) =>
      checkUpstream(opts, items.length > 1 ? `[${i}].options.upstream` : 'options.upstream'),
    )
    const messages = await toMessages(items, transaction !== null)
    const results = await store.enqueue(messages, transaction ? { transaction } : undefined)
    results.forEach((result, i) => {
      if (!result.duplicate) {
        deliveryDeps.events.emit({
          type: 'enqueued',
          id: result.id,
          priority: messages[i]!.priority,
        })
      }
    })
    return Promise.all(
      results.map(async (result, i): Promise<SendResult> => {
        const message = messages[i]!
        let status: MessageStatus = 'queued'
        const suppressed = new Set(result.suppressed)
        if (!result.duplicate && message.envelope.to.every((to) => suppressed.has(to))) {
          // Every recipient is suppressed: stored failed, not leased.
          status = 'failed'
        } else if (result.duplicate && !transaction) {
          status = (await store.getMessage(result.id))?.status ?? 'queued'
        } else if (message.leaseTo) {
          status = await deliverNow(message, suppressed)
        }
        return { ...result, status }
      }),
    )
  }

  const limits = { maxMessageSize: config.maxMessageSize }
  const prepareSubmissions = submissionPreparer({
    limits,
    checkUpstream: (opts) => checkUpstream(opts, 'options.upstream'),
    toMessages: (items) => toMessages(items, true),
    onRefused: (id, field, reason) =>
      log.error(
        { id, field, reason },
        'mail enqueued with SQL cannot be queued; it is kept in the submissions table with the reason',
      ),
  })

  /** Moves SQL submissions into the queue; each message stored counts as enqueued, as sendRaw()'s do. */
  const storeTake = store.takeSubmissions?.bind(store)
  const takeSubmissions: TakeSubmissions | undefined =
    storeTake &&
    (async (limit) => {
      const { taken, stored } = await storeTake(limit, prepareSubmissions)
      for (const { id, priority } of stored) {
        deliveryDeps.events.emit({ type: 'enqueued', id, priority })
      }
      return taken
    })

  /** Composes a message, rendering its template first when it names one. */
  async function compose(
    mail: MailInput | TemplateMailInput,
  ): Promise<{ composed: ComposedMessage; template?: TemplateRef }> {
    if (!isTemplateMail(mail)) return { composed: await composeMessage(mail, limits) }
    const rendered = await templates.toMail(mail)
    return {
      composed: await composeMessage(rendered.mail, limits),
      template: rendered.template,
    }
  }

  function newWorker(mode: 'daemon' | 'drain', workerOptions: WorkerOptions = {}) {
    assertOpen()
    const worker = createWorker(
      {
        ...deliveryDeps,
        store,
        leaseMs: config.leaseMs,
        mode,
        onStopped: () => workers.delete(worker),
      },
      { concurrency: config.concurrency, ...workerOptions },
    )
    workers.add(worker)
    return worker
  }

  const outbox: Outbox = {
    async send(mail, sendOptions) {
      assertOpen()
      const opts = resolveSendOptions(sendOptions)
      return (await enqueue([{ ...(await compose(mail)), opts }]))[0]!
    },

    async sendMany(items, batchOptions) {
      assertOpen()
      const batch = resolveSendOptions(batchOptions ? { db: batchOptions.db } : undefined)
      if (!Array.isArray(items)) {
        throw new InvalidMessageError('messages', '`sendMany()` takes an array of messages.')
      }
      const prepared = await Promise.all(
        items.map(async (item, i) => {
          const { mail, options: itemOptions } =
            item && typeof item === 'object' && 'mail' in item
              ? (item as { mail: MailInput | TemplateMailInput; options?: SendOptions })
              : { mail: item as MailInput | TemplateMailInput, options: undefined }
          try {
            const opts = resolveSendOptions(itemOptions)
            if (opts.transaction) {
              throw new InvalidMessageError(
                'options.db',
                'Pass `db` once, as the second argument of sendMany(), not per message.',
              )
            }
            return { ...(await compose(mail)), opts }
          } catch (error) {
            if (error instanceof InvalidMessageError) {
              throw new InvalidMessageError(
                `[${i}].${error.field}`,
                `Message ${i}: ${error.message}`,
                {
                  cause: error,
                  code: error.code,
                },
              )
            }
            throw error
          }
        }),
      )
      return enqueue(prepared, batch.transaction)
    },

    async sendRaw(message, sendOptions) {
      assertOpen()
      const opts = resolveSendOptions(sendOptions)
      return (await enqueue([{ composed: await composeRaw(message, limits), opts }]))[0]!
    },

    transport() {
      return createNodemailerTransport({
        // Already composed and checked by the transport: enqueued as is, not parsed again.
        async sendComposed(composed, sendOptions, template) {
          assertOpen()
          const opts = resolveSendOptions(sendOptions)
          return (await enqueue([{ composed, opts, ...(template ? { template } : {}) }]))[0]!
        },
        renderTemplate: (mail) => templates.toMail(mail),
        limits,
      })
    },

    worker(workerOptions) {
      const worker = newWorker('daemon', workerOptions)
      // Beside each daemon worker: webhook deliveries and the event log's retention.
      let sidecar: { stop(): Promise<void> } | null = null
      const start = worker.start.bind(worker)
      const stop = worker.stop.bind(worker)
      worker.start = async () => {
        await start()
        if (sidecar) return
        const dispatcher = startWebhookDispatcher({
          store,
          webhooks: config.webhooks,
          owner: worker.id,
          logger: log,
          // An endpoint whose process died is taken over as its messages are.
          leaseMs: config.leaseMs,
        })
        const retention = startEventRetention(store, config.eventsMaxAgeMs, log)
        // Mail enqueued with SQL (outbox.enqueue()) comes into the queue through the workers.
        const intake = startSubmissionIntake({
          store,
          take: takeSubmissions,
          settings: { maxMessageSize: config.maxMessageSize, upstreams: [...upstreams.names] },
          logger: log,
        })
        sidecar = {
          async stop() {
            retention.stop()
            await Promise.all([dispatcher.stop(), intake.stop()])
          },
        }
      }
      worker.stop = async () => {
        await Promise.all([stop(), sidecar?.stop()])
      }
      return worker
    },

    async drain(workerOptions) {
      await drainSubmissions(takeSubmissions)
      const worker = newWorker('drain', workerOptions)
      await worker.start()
      await worker.done
      if (config.webhooks.length > 0) {
        // A cron job's drain also delivers the events it caused (and any others due).
        const dispatcher = startWebhookDispatcher({
          store,
          webhooks: config.webhooks,
          owner: worker.id,
          logger: log,
          background: false,
        })
        await dispatcher.flush()
        await dispatcher.stop()
      }
      return { ...worker.counts }
    },

    takeSqlSubmissions() {
      assertOpen()
      return drainSubmissions(takeSubmissions)
    },

    events(options) {
      assertOpen()
      return followEvents(store, options)
    },

    admin,
    bounces: config.bounces
      ? createBounceIntake({ store, settings: config.bounces, logger: log })
      : null,

    observe(listener) {
      return deliveryDeps.events.subscribe(listener)
    },

    upstreamHealth() {
      return {
        down: health.isDown,
        misconfigured: health.misconfigured,
        lastSuccessAt: health.lastSuccessAt,
        lastError: health.lastError,
        upstreams: upstreams.all().map((r) => ({
          name: r.name,
          down: r.health.isDown,
          misconfigured: r.health.misconfigured,
          lastSuccessAt: r.health.lastSuccessAt,
          lastError: r.health.lastError,
          connections: r.inUse,
        })),
      }
    },

    reconfigure(update) {
      assertOpen()
      return applyRoutingUpdate(update, { live: routing, upstreams })
    },

    async close() {
      if (closed) return
      closed = true
      await Promise.all([...workers].map((w) => w.stop()))
      nowLeases.stop()
      await upstreams.close()
      if (ownsStore) await store.close()
    },
  }
  return outbox
}
