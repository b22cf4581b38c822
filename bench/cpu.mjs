// CPU time spent during a measurement, per process: this one, the sink, and the database
// servers' processes: PostgreSQL's, MariaDB's, Redis's (read from /proc, so Linux only; null
// elsewhere). It tells where a run's
// time goes on a machine whose cores are shared by all of them.
import { readdirSync, readFileSync } from 'node:fs'

/** Milliseconds per clock tick in /proc/<pid>/stat (USER_HZ, 100 on Linux). */
const TICK_MS = 10

/** The process names of each database server (a process's threads are counted in its stat). */
const SERVERS = {
  postgres: ['postgres'],
  mariadb: ['mariadbd', 'mysqld'],
  redis: ['redis-server'],
}

/** CPU ticks (user + system) of every database server process, by server and pid; null without /proc. */
function serverTicks() {
  let pids
  try {
    pids = readdirSync('/proc').filter((name) => /^\d+$/.test(name))
  } catch {
    return null
  }
  const ticks = Object.fromEntries(Object.keys(SERVERS).map((k) => [k, new Map()]))
  for (const pid of pids) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'latin1')
      const close = stat.lastIndexOf(')')
      const name = stat.slice(stat.indexOf('(') + 1, close)
      const server = Object.keys(SERVERS).find((k) => SERVERS[k].includes(name))
      if (!server) continue
      const fields = stat.slice(close + 2).split(' ')
      // Fields 14 and 15 of the file (utime, stime) are 12 and 13 after the name.
      ticks[server].set(pid, Number(fields[11]) + Number(fields[12]))
    } catch {
      // The process ended meanwhile.
    }
  }
  return ticks
}

/**
 * Starts measuring; `stop()` resolves with `{ clientMs, sinkMs, postgresMs, mariadbMs, redisMs }`
 * spent since (the servers' figures null without /proc).
 */
export async function startCpuMeter(sink) {
  const self = process.cpuUsage()
  const sinkStart = (await sink.status()).cpuMs
  const serversStart = serverTicks()
  return {
    async stop() {
      const selfUsed = process.cpuUsage(self)
      const sinkEnd = (await sink.status()).cpuMs
      const serversEnd = serverTicks()
      const used = {}
      for (const server of Object.keys(SERVERS)) {
        let ms = null
        if (serversStart && serversEnd) {
          ms = 0
          for (const [pid, t] of serversEnd[server])
            ms += (t - (serversStart[server].get(pid) ?? 0)) * TICK_MS
        }
        used[`${server}Ms`] = ms
      }
      return {
        clientMs: (selfUsed.user + selfUsed.system) / 1000,
        sinkMs: sinkEnd - sinkStart,
        ...used,
      }
    },
  }
}
