import { StoreUnavailableError } from '../../errors.js'
import type { Query } from './driver.js'
import type { EventSql } from './event-dialect.js'

// TEMPORARY (issue 17, being written): the event log statements of a backend that has none yet.
// Each refuses with a clear error; the backend's own event-queries.ts replaces this.
export function eventsPending(kind: string): EventSql {
  const refuse = (): Query => {
    throw new StoreUnavailableError(`The ${kind} store has no event log yet.`)
  }
  return {
    eventHead: refuse,
    readEvents: refuse,
    countEvents: refuse,
    eventBefore: refuse,
    logDeleted: refuse,
    deleteEventsOf: refuse,
    purgeEventsSlice: refuse,
    leaseConsumer: () => [refuse()],
    saveConsumer: refuse,
    consumerRows: refuse,
    requestConsumerRetry: refuse,
  }
}
