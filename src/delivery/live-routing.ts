import type { RoutingSettings } from '../config/routing-settings.js'

/**
 * The routing of a running Outbox, replaceable while it runs (a config reload). Workers copy
 * their dependencies when they are made, so they are handed `view`, whose fields read the
 * current settings each time: a message admitted after `replace()` sees the new routes and
 * limits, and one already admitted keeps what it was given. `replace()` swaps one object in
 * one synchronous step, so no admission (synchronous up to its store round trip) can see
 * half of the old settings and half of the new.
 */
export interface LiveRouting<Spec = unknown> {
  readonly view: RoutingSettings<Spec>
  current(): RoutingSettings<Spec>
  replace(next: RoutingSettings<Spec>): void
}

export function createLiveRouting<Spec>(initial: RoutingSettings<Spec>): LiveRouting<Spec> {
  let settings = initial
  const view: RoutingSettings<Spec> = Object.freeze({
    get upstreams() {
      return settings.upstreams
    },
    get routes() {
      return settings.routes
    },
    get domainLimits() {
      return settings.domainLimits
    },
  })
  return {
    view,
    current: () => settings,
    replace(next) {
      settings = next
    },
  }
}
