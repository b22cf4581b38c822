import { readFileSync } from 'node:fs'
import type { Redis } from 'ioredis'

/**
 * The Lua scripts of the Redis store, one file per operation under `scripts/`, each run
 * atomically by the server: every change of more than one key happens inside one, so nothing
 * is read, changed in Node and written back. `lib.lua` (shared helpers) goes in front of each,
 * and the few that need more get their own helper files too (see {@link EXTRA_LIBS}).
 * The files sit next to this module in `src/` and, copied by scripts/post-build.mjs, in `dist/`.
 */
export const SCRIPT_NAMES = [
  'enqueue',
  'claim',
  'renew-leases',
  'release-leases',
  'complete',
  'wake-upstream-waiters',
  'expire-overdue',
  'ms-until-next-due',
  'list-messages',
  'hold',
  'unhold',
  'retry',
  'remove',
  'purge-slice',
  'stats',
  'lease-owners',
  'expire-leases-of',
  'take-tokens',
  'adjust-rates',
  'rate-buckets',
  'report-upstreams',
  'upstream-reports',
  'upstream-activity',
  'suppress',
  'unsuppress',
  'find-suppressions',
  'list-suppressions',
  'record-feedback',
  'read-events',
  'count-events',
  'lease-consumer',
  'save-consumer',
  'request-consumer-retry',
  'put-template',
  'get-template',
  'list-templates',
  'remove-template',
] as const

export type ScriptName = (typeof SCRIPT_NAMES)[number]
type Arg = string | number | Buffer
/** Runs a script; `buffers` returns bulk strings as Buffers (for message bytes). */
export type RunScript = (
  name: ScriptName,
  args: readonly Arg[],
  buffers?: boolean,
) => Promise<unknown>

/**
 * Helper files only some scripts need, put after `lib.lua`: the token bucket arithmetic stays
 * out of the claim and complete scripts, which run per message.
 */
const EXTRA_LIBS: Partial<Record<ScriptName, readonly string[]>> = {
  'take-tokens': ['rate-bucket'],
  'adjust-rates': ['rate-bucket'],
}

let sources: Map<ScriptName, string> | null = null

function loadSources(): Map<ScriptName, string> {
  const read = (name: string) =>
    readFileSync(new URL(`./scripts/${name}.lua`, import.meta.url), 'utf8')
  const lib = read('lib')
  return new Map(
    SCRIPT_NAMES.map((name) => {
      const parts = [lib, ...(EXTRA_LIBS[name] ?? []).map(read), read(name)]
      return [name, parts.join('\n')]
    }),
  )
}

/** The ioredis command name of a script: `outbox` and the name in camel case. */
const commandName = (name: ScriptName) =>
  `outbox${name.replace(/(^|-)(\w)/g, (_, _dash: string, c: string) => c.toUpperCase())}`

/**
 * Defines every script on `client` (sent once with SCRIPT LOAD semantics: ioredis runs them by
 * EVALSHA and falls back to EVAL after a server restart emptied its script cache) and returns
 * how to run them. `prefix` is the first argument of each.
 */
export function defineScripts(client: Redis, prefix: string): RunScript {
  sources ??= loadSources()
  for (const [name, lua] of sources) {
    client.defineCommand(commandName(name), { numberOfKeys: 0, lua })
  }
  const commands = client as unknown as Record<string, (...args: Arg[]) => Promise<unknown>>
  return (name, args, buffers = false) => {
    const command = commands[`${commandName(name)}${buffers ? 'Buffer' : ''}`]!
    return command.call(client, prefix, ...args)
  }
}
