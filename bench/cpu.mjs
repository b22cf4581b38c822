// CPU time spent during a measurement, per process: this one, the sink, and PostgreSQL's
// server processes (read from /proc, so Linux only; null elsewhere). It tells where a run's
// time goes on a machine whose cores are shared by all of them.
import { readdirSync, readFileSync } from 'node:fs'

/** Milliseconds per clock tick in /proc/<pid>/stat (USER_HZ, 100 on Linux). */
const TICK_MS = 10

/** CPU ticks (user + system) of every process named `postgres`, by pid; null without /proc. */
function postgresTicks() {
  let pids
  try {
    pids = readdirSync('/proc').filter((name) => /^\d+$/.test(name))
  } catch {
    return null
  }
  const ticks = new Map()
  for (const pid of pids) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'latin1')
      const close = stat.lastIndexOf(')')
      if (stat.slice(stat.indexOf('(') + 1, close) !== 'postgres') continue
      const fields = stat.slice(close + 2).split(' ')
      // Fields 14 and 15 of the file (utime, stime) are 12 and 13 after the name.
      ticks.set(pid, Number(fields[11]) + Number(fields[12]))
    } catch {
      // The process ended meanwhile.
    }
  }
  return ticks
}

/** Starts measuring; `stop()` resolves with `{ clientMs, sinkMs, postgresMs }` spent since. */
export async function startCpuMeter(sink) {
  const self = process.cpuUsage()
  const sinkStart = (await sink.status()).cpuMs
  const pgStart = postgresTicks()
  return {
    async stop() {
      const selfUsed = process.cpuUsage(self)
      const sinkEnd = (await sink.status()).cpuMs
      const pgEnd = postgresTicks()
      let postgresMs = null
      if (pgStart && pgEnd) {
        postgresMs = 0
        for (const [pid, t] of pgEnd) postgresMs += (t - (pgStart.get(pid) ?? 0)) * TICK_MS
      }
      return {
        clientMs: (selfUsed.user + selfUsed.system) / 1000,
        sinkMs: sinkEnd - sinkStart,
        postgresMs,
      }
    },
  }
}
