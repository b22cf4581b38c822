import { InvalidMessageError } from '../errors.js'
import { composeRaw } from '../message/compose-raw.js'
import type { ComposeLimits } from '../message/compose.js'
import { resolveSendOptions, type ResolvedSendOptions } from '../message/send-options.js'
import type { ComposedMessage } from '../message/types.js'
import type { NewMessage, PrepareSubmissions, Submission } from '../store/store.js'

/** A submission composed and checked, ready to be made a message with its own id. */
export interface PreparedSubmission {
  id: string
  composed: ComposedMessage
  opts: ResolvedSendOptions
}

/**
 * Makes SQL submissions into messages with the very code of `sendRaw()`: `composeRaw` (line
 * endings, the blank line, Message-ID, Subject, size limit) and the send options' checks, then
 * `toMessages` (the enqueue path's ids, schedule and DKIM signature). The database function
 * checked what it could; what only this can check (the size once line endings are CRLF, an
 * upstream configured since) refuses that submission alone, with the field and the reason.
 */
export function submissionPreparer(deps: {
  limits: ComposeLimits
  /** Throws InvalidMessageError for an `upstream` option naming no configured upstream. */
  checkUpstream(opts: ResolvedSendOptions): void
  toMessages(items: PreparedSubmission[]): Promise<NewMessage[]>
  /** Told of each refused submission (to log it: the caller of SQL saw no error). */
  onRefused(id: string, field: string, reason: string): void
}): PrepareSubmissions {
  return async (submissions) => {
    const refused = new Map<string, string>()
    const items: PreparedSubmission[] = []
    for (const submission of submissions) {
      try {
        items.push(await prepareOne(submission, deps))
      } catch (error) {
        if (!(error instanceof InvalidMessageError)) throw error
        refused.set(submission.id, `${error.field}: ${error.message}`)
        deps.onRefused(submission.id, error.field, error.message)
      }
    }
    return { messages: items.length > 0 ? await deps.toMessages(items) : [], refused }
  }
}

async function prepareOne(
  submission: Submission,
  deps: { limits: ComposeLimits; checkUpstream(opts: ResolvedSendOptions): void },
): Promise<PreparedSubmission> {
  const composed = await composeRaw(
    { from: submission.from, to: submission.to, raw: submission.raw },
    deps.limits,
  )
  const opts = resolveSendOptions({
    priority: submission.priority,
    ...(submission.sendAt ? { sendAt: submission.sendAt } : {}),
    ...(submission.idempotencyKey ? { idempotencyKey: submission.idempotencyKey } : {}),
    tags: submission.tags,
    ...(submission.upstream ? { upstream: submission.upstream } : {}),
    ignoreSuppression: submission.ignoreSuppression,
  })
  deps.checkUpstream(opts)
  return { id: submission.id, composed, opts }
}
