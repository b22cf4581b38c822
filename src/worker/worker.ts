import { setMaxListeners } from 'node:events'
import { attemptEvent } from '../events.js'
import type { UpstreamHealth } from '../delivery/upstream-health.js'
import { newLeaseOwner } from '../store/lease-owner.js'
import type { ClaimedMessage, Completion, Store } from '../store/store.js'
import { admit, firstUp, routesOf, type Admission } from './admission.js'
import { suppressRejected } from './suppress-rejected.js'
import { deliverMessage, type DeliveryDeps } from './deliver-message.js'
import { createHeldOutcomes } from './held-outcomes.js'
import { createLeaseKeeper } from './lease-keeper.js'
import { releaseParkedMessages } from './release-parked.js'
import { createUpstreamReporter } from './upstream-reporter.js'
import { createWaker, delay } from './waker.js'

/** Options of `outbox.worker()`. */
export interface WorkerOptions {
  /**
   * Messages delivered at once (and SMTP connections in the pool).
   * @default 10
   */
  concurrency?: number
  /**
   * How long `stop()` waits for sends in progress before giving their messages back.
   * @default 30_000
   */
  stopTimeoutMs?: number
}

/** Counts of what a worker (or a drain) did. */
export interface WorkerCounts {
  /** Messages that reached `sent`. */
  sent: number
  /** Messages that reached `failed`. */
  failed: number
  /** Attempts that ended in `deferred`. */
  deferred: number
}

/** A background deliverer; create with `outbox.worker()`. */
export interface Worker {
  /** Unique id of this worker, the owner of its leases. */
  readonly id: string
  readonly running: boolean
  /** What it did so far. */
  readonly counts: Readonly<WorkerCounts>
  /** Starts delivering; resolves once started. */
  start(): Promise<void>
  /**
   * Stops taking messages, gives back the ones claimed but not started, waits (up to
   * `stopTimeoutMs`) for sends in progress, and resolves.
   */
  stop(): Promise<void>
}

/** Internal: what a worker is built from. */
export interface WorkerDeps extends DeliveryDeps {
  store: Store
  leaseMs: number
  /** `drain` ends once nothing is due. */
  mode: 'daemon' | 'drain'
  /** Called when the worker has stopped, e.g. for the Outbox to forget it. */
  onStopped?: () => void
}

/**
 * Messages held by a worker, in rounds of its concurrency: those being sent and those claimed
 * ahead of a free slot. More claimed ahead means fewer, larger claims; a crashed worker's are
 * taken over at once on its host, after their lease elsewhere.
 */
const CLAIMED_ROUNDS = 3

/** While sends are under way, a worker whose queue ran dry claims new mail at most this often. */
const CLAIM_COALESCE_MS = 5

/** Longest sleep with nothing due: a safety net for wake-ups the store could not signal. */
const MAX_IDLE_MS = 60_000
/** Between store errors: start here, double to the cap. */
const STORE_RETRY_MS = [250, 60_000] as const

/**
 * Waits for the upstream to come back, at most `ms`, or until `signal` aborts. Both waits end
 * together (their own signal is aborted), so no timer or listener outlives the call: an
 * upstream going up and down makes the worker call this many times with one stop signal.
 */
async function untilUp(health: UpstreamHealth, ms: number, signal: AbortSignal): Promise<void> {
  const done = new AbortController()
  const stop = (): void => done.abort()
  signal.addEventListener('abort', stop, { once: true })
  try {
    await Promise.race([health.whenUp(done.signal), delay(ms, done.signal)])
  } finally {
    signal.removeEventListener('abort', stop)
    done.abort()
  }
}

/** A new worker id: the lease owner name, which tells a worker on this host whether it lives. */
export function workerId(): string {
  return newLeaseOwner()
}

export function createWorker(
  deps: WorkerDeps,
  options: WorkerOptions = {},
): Worker & { done: Promise<void> } {
  const concurrency = options.concurrency ?? 10
  const stopTimeoutMs = options.stopTimeoutMs ?? 30_000
  const id = workerId()
  const log = deps.logger
  const counts: WorkerCounts = { sent: 0, failed: 0, deferred: 0 }
  const health = deps.upstreams.health
  // Every message launched and not yet settled: sending, or waiting for its turn.
  const active = new Map<string, Promise<void>>()
  // Sending slots (the concurrency). A message waiting for its rate-limited turn holds none, so
  // a slow domain's mail never keeps other mail waiting for a slot.
  let slotsInUse = 0
  const slotWaiters: (() => void)[] = []
  // Claimed ahead of a free slot, so one claim transaction serves several sends.
  let buffer: ClaimedMessage[] = []
  const waker = createWaker()
  const stopping = new AbortController()
  // Every paced send, every wait for the upstream and the loop's own sleep listen on this one
  // signal, each removing its listener when done: with a rate limit, more than Node's default
  // of 10 wait at once by design, which is no leak and must not print a leak warning.
  setMaxListeners(0, stopping.signal)
  let running = false
  let unsubscribe: (() => void) | null = null
  let unsubscribeUp: (() => void) | null = null
  let reporter: ReturnType<typeof createUpstreamReporter> | null = null
  let leases: ReturnType<typeof createLeaseKeeper> | null = null
  let resolveDone!: () => void
  const done = new Promise<void>((resolve) => (resolveDone = resolve))
  /** Suppression list writes under way (see suppress-rejected.ts). */
  const suppressions = new Set<Promise<void>>()
  let loop: Promise<void> | null = null

  /** An outcome is recorded (or given up): count it, and stop renewing its lease. */
  function settled(message: ClaimedMessage, completion: Completion, applied: boolean): void {
    leases?.untrack(message.id)
    if (!applied) return
    // Parked for an outage that is already over (a send that failed as the upstream went away,
    // recorded after a probe found it back): nothing would wake it before its park time ends.
    if (completion.waitingForUpstream && routeIsUp(message)) wakeParked()
    deps.events.emit(attemptEvent(completion, message.createdAt))
    // Not awaited by the delivery (it is not on the message's path); awaited when stopping.
    const suppressing = suppressRejected(completion, deps).finally(() =>
      suppressions.delete(suppressing),
    )
    suppressions.add(suppressing)
    if (completion.status === 'sent') counts.sent++
    else if (completion.status === 'failed') counts.failed++
    else counts.deferred++
  }
  const held = createHeldOutcomes({ store: deps.store, logger: log, settled })

  /** Some upstream of one of the message's routes is up now: waking it would get somewhere. */
  function routeIsUp(message: ClaimedMessage): boolean {
    return routesOf(message, deps.routing).some(
      (r) => firstUp(r.upstreams, deps.upstreams) !== null,
    )
  }

  function takeSlot(): Promise<void> {
    if (slotsInUse < concurrency && slotWaiters.length === 0) {
      slotsInUse++
      return Promise.resolve()
    }
    return new Promise<void>((resolve) =>
      slotWaiters.push(() => {
        slotsInUse++
        resolve()
      }),
    )
  }
  function freeSlot(): void {
    slotsInUse--
    // A message whose turn came goes before the next claimed one.
    slotWaiters.shift()?.()
  }

  /**
   * The latest turn this worker gave a rate-limited message back for: a drain delivers what is
   * due now, and a message only waiting for its turn is due now as far as its sender knows.
   */
  let turnsUntil = 0

  let waking: Promise<unknown> | null = null
  function wakeParked(): void {
    waking ??= deps.store
      .wakeUpstreamWaiters()
      .catch(() => 0)
      .finally(() => (waking = null))
  }

  function launch(message: ClaimedMessage): void {
    // Called with a free slot: it is this message's until it waits for a turn or settles.
    slotsInUse++
    let holdsSlot = true
    const task = (async () => {
      let keepLease = false
      try {
        let admission: Admission
        try {
          admission = await admit(message, deps)
        } catch (error) {
          log.warn(
            { id: message.id, err: (error as Error).message },
            'could not take rate-limit tokens; giving the message back',
          )
          await giveBack([message])
          return
        }
        if (
          admission.send.length === 0 &&
          admission.held.length > 0 &&
          admission.held.every((h) => h.reason === 'rate-limited')
        ) {
          // Nothing may go now: back to the queue, due at its turn, without an attempt.
          const dueInMs = Math.min(...admission.held.map((h) => h.dueInMs))
          log.debug(
            { id: message.id, dueInMs, limits: admission.held.map((h) => h.error) },
            'over a rate limit: given back to the queue until its turn',
          )
          await giveBack([message], dueInMs)
          return
        }
        if (admission.waitMs > 0) {
          // Its turn is reserved: wait for it without a slot, then take the next free one.
          holdsSlot = false
          freeSlot()
          if (!stopping.signal.aborted) fillSlots()
          await delay(admission.waitMs, stopping.signal)
          await takeSlot()
          holdsSlot = true
        }
        if (stopping.signal.aborted || health.isDown || held.size > 0) {
          // Stopping, every upstream went away, or the store cannot record what is sent: give
          // it back unsent.
          await giveBack([message])
          return
        }
        const completion = await deliverMessage(message, admission, id, deps)
        if (leases?.lost.has(message.id)) {
          log.warn({ id: message.id }, 'lease was lost during delivery; recording the attempt only')
        }
        let applied: boolean
        try {
          applied = await deps.store.complete(completion)
        } catch (error) {
          // Sent, but not recorded: keep the outcome (and the lease) to record it when the store
          // is back, and send nothing more until then, so the store being away costs at most
          // the sends in progress, not the claimed ones waiting for a slot.
          keepLease = true
          held.hold(message, completion)
          const unstarted = buffer
          buffer = []
          log.error(
            { id: message.id, err: (error as Error).message, givenBack: unstarted.length },
            'could not record a delivery; holding its outcome and starting no send until the store is back',
          )
          await giveBack(unstarted)
          return
        }
        settled(message, completion, applied)
      } catch (error) {
        log.error({ id: message.id, err: (error as Error).message }, 'delivery task failed')
      } finally {
        active.delete(message.id)
        if (holdsSlot) freeSlot()
        if (!keepLease) leases?.untrack(message.id)
        // The freed slot takes the next claimed message at once, even while the loop waits
        // for a claim: claiming ahead then keeps every slot busy.
        if (!stopping.signal.aborted && !health.isDown && held.size === 0) fillSlots()
        waker.wake()
      }
    })()
    active.set(message.id, task)
  }

  function fillSlots(): void {
    while (slotsInUse < concurrency && slotWaiters.length === 0 && buffer.length > 0) {
      launch(buffer.shift()!)
    }
  }

  /** Gives messages back unsent: due at once, or `delayMs` later (a rate limit's turn). */
  async function giveBack(messages: ClaimedMessage[], delayMs?: number): Promise<void> {
    if (messages.length === 0) return
    for (const m of messages) leases?.untrack(m.id)
    if (delayMs !== undefined) turnsUntil = Math.max(turnsUntil, Date.now() + delayMs)
    try {
      await deps.store.releaseLeases(
        id,
        messages.map((m) => m.id),
        delayMs === undefined ? undefined : messages.map(() => delayMs),
      )
    } catch (error) {
      log.error(
        { err: (error as Error).message },
        'could not release claimed messages; their leases will expire',
      )
    }
  }

  async function run(): Promise<void> {
    let storeRetryMs: number = STORE_RETRY_MS[0]
    /** The last claim found fewer messages due than it asked for. */
    let dry = false
    let lastClaimAt = 0
    while (!stopping.signal.aborted) {
      if (held.size > 0) {
        // Before anything else: a held outcome whose lease runs out means a duplicate.
        if (!(await held.flush())) {
          log.warn(
            { held: held.size, retryInMs: storeRetryMs },
            'store still unavailable; will record the held outcomes when it is back',
          )
          await delay(storeRetryMs, stopping.signal)
          storeRetryMs = Math.min(storeRetryMs * 2, STORE_RETRY_MS[1])
          continue
        }
        log.info({}, 'store back: held outcomes recorded; resuming delivery')
        storeRetryMs = STORE_RETRY_MS[0]
      }
      if (health.isDown) {
        await giveBack(buffer)
        buffer = []
        if (deps.mode === 'drain') break
        // Nothing to deliver until a probe succeeds; meanwhile fail what outlived its max age.
        await untilUp(health, MAX_IDLE_MS / 2, stopping.signal)
        // Not while it is misconfigured: that is no message's fault, and it lasts until fixed.
        if (!health.misconfigured) await deps.store.expireOverdue().catch(() => 0)
        if (!health.isDown && !stopping.signal.aborted) {
          await deps.store.wakeUpstreamWaiters().catch(() => 0)
        }
        continue
      }

      fillSlots()

      let claimedCount = 0
      const room = concurrency * CLAIMED_ROUNDS - active.size - buffer.length
      // Claim ahead, before the claimed messages run out (less than a round of sends left), and
      // a round or more at once, so that one claim serves many sends; once a claim came back
      // short (nothing more is due), only when the claimed ones have all started.
      const wanted = dry ? buffer.length === 0 : buffer.length < concurrency
      if (wanted && room >= Math.min(concurrency, concurrency * CLAIMED_ROUNDS - active.size)) {
        // Mail trickling in while sends are under way (a smarthost's stream) is claimed a few
        // milliseconds' worth at a time, not one claim per message; an idle worker claims at once.
        const sinceLast = Date.now() - lastClaimAt
        if (dry && active.size > 0 && sinceLast < CLAIM_COALESCE_MS) {
          await delay(CLAIM_COALESCE_MS - sinceLast, stopping.signal)
        }
        lastClaimAt = Date.now()
        let claimed: ClaimedMessage[]
        try {
          claimed = await deps.store.claim({ owner: id, limit: room, leaseMs: deps.leaseMs })
          storeRetryMs = STORE_RETRY_MS[0]
        } catch (error) {
          log.error(
            { err: (error as Error).message, retryInMs: storeRetryMs },
            'claim failed; store unavailable?',
          )
          await waker.sleep(storeRetryMs)
          storeRetryMs = Math.min(storeRetryMs * 2, STORE_RETRY_MS[1])
          continue
        }
        claimedCount = claimed.length
        dry = claimed.length < room
        for (const m of claimed) leases?.track(m.id)
        if (stopping.signal.aborted) {
          await giveBack(claimed)
          break
        }
        buffer.push(...claimed)
        fillSlots()
      }

      if (
        deps.mode === 'drain' &&
        claimedCount === 0 &&
        active.size === 0 &&
        buffer.length === 0 &&
        held.size === 0
      ) {
        const untilTurns = turnsUntil - Date.now()
        if (untilTurns <= 0) break
        // Messages given back for their rate-limited turn: wait for them, then claim again.
        await waker.sleep(Math.min(untilTurns, MAX_IDLE_MS))
        continue
      }
      if (claimedCount > 0 || buffer.length > 0 || slotsInUse >= concurrency) {
        // Busy: go round again as soon as a send finishes (or something is enqueued).
        if (buffer.length > 0 || slotsInUse >= concurrency || claimedCount === room) {
          await waker.sleep(MAX_IDLE_MS)
        }
        continue
      }
      let wait: number | null = null
      try {
        wait = await deps.store.msUntilNextDue()
      } catch {
        wait = null
      }
      wait ??= MAX_IDLE_MS
      await waker.sleep(Math.min(Math.max(wait, 1), MAX_IDLE_MS))
    }
  }

  async function finish(): Promise<void> {
    await giveBack(buffer)
    buffer = []
    const inFlight = [...active.values()]
    if (inFlight.length > 0) {
      let timer: NodeJS.Timeout | undefined
      const timedOut = await Promise.race([
        Promise.allSettled(inFlight).then(() => false),
        new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(true), stopTimeoutMs))),
      ])
      clearTimeout(timer)
      if (timedOut) {
        log.warn({ inFlight: active.size }, 'stop timed out; giving back messages still being sent')
        await deps.store.releaseLeases(id, [...active.keys()]).catch(() => undefined)
      }
    }
    if (held.size > 0 && !(await held.flush())) {
      log.error(
        { ids: held.ids() },
        'stopping with delivery outcomes the store did not take; these messages will be sent again once their leases expire',
      )
    }
    await Promise.all(suppressions)
    leases?.stop()
    await reporter?.stop()
    unsubscribe?.()
    unsubscribeUp?.()
    running = false
    deps.onStopped?.()
    resolveDone()
  }

  return {
    id,
    done,
    get running() {
      return running
    },
    counts,
    async start() {
      if (running || loop) return
      running = true
      leases = createLeaseKeeper(deps.store, id, deps.leaseMs, log)
      unsubscribe = deps.store.onEnqueue(() => waker.wake())
      // One upstream back while others carried on: wake the messages its outage parked.
      unsubscribeUp = deps.upstreams.onUp(() => {
        if (!stopping.signal.aborted) wakeParked()
      })
      if (deps.mode === 'daemon') {
        reporter = createUpstreamReporter(deps.store, id, deps.upstreams, log)
        log.info(
          { worker: id, concurrency, upstream: deps.upstreams.description },
          'worker started',
        )
      }
      // Messages an earlier outage parked go out at once if the upstream is reachable now.
      const parked = releaseParkedMessages(deps)
      loop = (deps.mode === 'drain' ? parked : Promise.resolve())
        .then(run)
        .catch((error: unknown) => {
          log.error({ err: (error as Error).message }, 'worker loop crashed')
        })
        .then(finish)
    },
    async stop() {
      if (!loop) return
      stopping.abort()
      waker.wake()
      await done
      if (deps.mode === 'daemon') log.info({ worker: id, ...counts }, 'worker stopped')
    },
  }
}
