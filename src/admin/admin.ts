import { describeValue, InvalidMessageError, MessageNotFoundError } from '../errors.js'
import { MESSAGE_STATUSES, type MessageStatus } from '../message/types.js'
import { decodeCursor } from '../store/cursor.js'
import type { RoutingSettings } from '../config/routing-settings.js'
import { createSuppressionAdmin, type SuppressionAdmin } from './suppressions.js'
import { createTemplateAdmin, type TemplateAdmin } from './templates.js'
import { createWebhookAdmin, type WebhookAdmin } from './webhooks.js'
import type { TemplateRenderer } from '../templates/template-mail.js'
import type { WebhookSetting } from '../webhooks/webhook-settings.js'
import { routingOverview, type RoutingOverview } from './upstream-overview.js'
import type {
  Activity,
  ActivityRequest,
  MessageDetail,
  MessageFilter,
  MessagePage,
  MessageSelector,
  QueueStats,
  Store,
} from '../store/store.js'

/** What a queue action did, id by id. */
export interface ActionResult {
  /** Messages the action applied to. */
  changed: string[]
  /** Messages that exist but were not in a state the action applies to (e.g. holding a sent one). */
  unchanged: string[]
  /** Ids that match no message. */
  notFound: string[]
}

/** Which finished messages `purge` deletes. */
export type PurgeStatus = 'sent' | 'failed' | 'all'

/**
 * Queue inspection and management, shared by the CLI and the HTTP API: every operator action
 * goes through here, so both behave the same.
 */
export interface Admin {
  /** A page of messages, newest first. At most 1000 per page. */
  list(
    filter?: MessageFilter,
    page?: { limit?: number; cursor?: string | null },
  ): Promise<MessagePage>
  /** One message with its recipients and attempt log. Throws `MessageNotFoundError`. */
  getMessage(id: string): Promise<MessageDetail>
  /** The stored RFC 5322 bytes of a message. Throws `MessageNotFoundError`. */
  getRaw(id: string): Promise<Buffer>
  /** Number of messages in each status. */
  countByStatus(): Promise<Record<MessageStatus, number>>
  /** Counts per status, oldest waiting message, what finished in the last hour and day. */
  stats(): Promise<QueueStats>
  /** Attempts per time bucket since `since`, and the upstream's last success and error. */
  activity(request: ActivityRequest): Promise<Activity>
  /** Sets queued or deferred messages aside until released. */
  hold(selector: MessageSelector): Promise<ActionResult>
  /** Puts held messages back in the queue, due at once. */
  release(selector: MessageSelector): Promise<ActionResult>
  /** Sends deferred messages now (ignoring backoff) and requeues failed ones. */
  retry(selector: MessageSelector): Promise<ActionResult>
  /** Removes messages from the queue, with their attempt log. */
  delete(selector: MessageSelector): Promise<ActionResult>
  /** Deletes messages that finished (sent, failed, or both) longer than `olderThanMs` ago. */
  purge(options: { olderThanMs: number; status: PurgeStatus }): Promise<number>
  /**
   * Every upstream (state in every running worker, current and configured rate, connections,
   * the last hour's attempts, last error) and every rate-limited domain.
   */
  upstreams(): Promise<RoutingOverview>
  /** The suppression list: list, count, add, remove, import, export. */
  readonly suppressions: SuppressionAdmin
  /** The webhook endpoints: state, backlog, last error; retrying what they gave up. */
  readonly webhooks: WebhookAdmin
  /** Stored templates: list, show, add a version, remove, render, sync from a folder. */
  readonly templates: TemplateAdmin
}

function checkSelector(selector: MessageSelector): void {
  if ('ids' in selector) {
    if (!Array.isArray(selector.ids) || selector.ids.length === 0) {
      throw new InvalidMessageError('ids', 'Name at least one message id.')
    }
    return
  }
  const statuses = selector.filter.status ?? []
  for (const status of statuses) {
    if (!MESSAGE_STATUSES.includes(status)) {
      throw new InvalidMessageError(
        'status',
        `Unknown status ${describeValue(status)}; expected one of ${MESSAGE_STATUSES.join(', ')}.`,
      )
    }
  }
}

export function createAdmin(
  store: Store,
  options: {
    maxAgeMs: number
    routing: RoutingSettings
    webhooks?: readonly WebhookSetting[]
    templates: TemplateRenderer
  },
): Admin {
  /** Runs an action and sorts the named ids into changed / unchanged / not found. */
  async function act(
    selector: MessageSelector,
    run: () => Promise<string[]>,
  ): Promise<ActionResult> {
    checkSelector(selector)
    const changed = await run()
    if (!('ids' in selector)) return { changed, unchanged: [], notFound: [] }
    const done = new Set(changed)
    const unchanged: string[] = []
    const notFound: string[] = []
    for (const id of new Set(selector.ids)) {
      if (done.has(id)) continue
      if (await store.getMessage(id)) unchanged.push(id)
      else notFound.push(id)
    }
    return { changed, unchanged, notFound }
  }

  return {
    async list(filter = {}, page = {}) {
      const limit = page.limit ?? 50
      if (!Number.isInteger(limit) || limit < 1 || limit > 1000) {
        throw new InvalidMessageError(
          'limit',
          `\`limit\` must be a whole number from 1 to 1000, got ${describeValue(limit)}.`,
        )
      }
      checkSelector({ filter })
      const cursor = page.cursor ?? null
      if (cursor !== null && (typeof cursor !== 'string' || decodeCursor(cursor) === null)) {
        throw new InvalidMessageError(
          'cursor',
          `\`cursor\` ${describeValue(cursor)} is not a cursor a listing gave; list again from the first page.`,
        )
      }
      return store.listMessages(filter, { limit, cursor })
    },
    async getMessage(id) {
      const message = await store.getMessage(id)
      if (!message) throw new MessageNotFoundError(id)
      return message
    },
    async getRaw(id) {
      const raw = await store.getRaw(id)
      if (!raw) throw new MessageNotFoundError(id)
      return raw
    },
    countByStatus: () => store.countByStatus(),
    stats: () => store.stats(),
    async activity(request) {
      if (!Number.isInteger(request.bucketMs) || request.bucketMs < 1000) {
        throw new InvalidMessageError(
          'bucketMs',
          '`bucketMs` must be a whole number of at least 1000.',
        )
      }
      return store.activity(request)
    },
    hold: (selector) => act(selector, () => store.hold(selector)),
    release: (selector) => act(selector, () => store.unhold(selector)),
    retry: (selector) => act(selector, () => store.retry(selector, { maxAgeMs: options.maxAgeMs })),
    delete: (selector) => act(selector, () => store.remove(selector)),
    async purge({ olderThanMs, status }) {
      if (!['sent', 'failed', 'all'].includes(status)) {
        throw new InvalidMessageError(
          'status',
          `\`status\` must be sent, failed or all, got ${describeValue(status)}.`,
        )
      }
      return store.purge({
        finishedBefore: new Date(Date.now() - olderThanMs),
        statuses: status === 'all' ? ['sent', 'failed'] : [status],
      })
    },
    upstreams: () => routingOverview(store, options.routing),
    suppressions: createSuppressionAdmin(store),
    webhooks: createWebhookAdmin(store, options.webhooks ?? []),
    templates: createTemplateAdmin(store, options.templates),
  }
}
