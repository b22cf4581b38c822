import type { MergedConfig } from '../config/config-sources.js'
import type { CheckResult } from './check.js'
import { checkConfig } from './config-check.js'
import { checkDisk } from './disk-check.js'
import { checkDkim } from './dkim-check.js'
import { checkPorts } from './ports-check.js'
import { checkStore } from './store/check-store.js'
import { checkUpstream, upstreamSpecs } from './upstream-check.js'

export type { CheckResult, CheckStatus } from './check.js'

/** Every check of `outbox doctor`, in print order; `configLoads` false when the config does not load. */
export async function runChecks(
  load: () => MergedConfig,
): Promise<{ configLoads: boolean; results: CheckResult[] }> {
  const { config, result } = checkConfig(load)
  if (!config) return { configLoads: false, results: [result] }
  const [store, upstreams, dkim, ports] = await Promise.all([
    checkStore(config.store),
    Promise.all(
      upstreamSpecs(config.upstream, config.upstreams).map(({ name, spec }) =>
        checkUpstream(name, spec),
      ),
    ),
    checkDkim(config.dkim),
    checkPorts({ smtp: config.smtpListen, smtpTls: config.smtpTlsListen, http: config.httpListen }),
  ])
  const disk = checkDisk(config.store, config.logFile)
  return {
    configLoads: true,
    results: [result, ...store, ...upstreams, ...dkim, ...disk, ...ports],
  }
}
