import { execFileSync, spawnSync } from 'node:child_process'
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'

const UNIT = fileURLToPath(new URL('../../contrib/systemd/outbox.service', import.meta.url))
const text = readFileSync(UNIT, 'utf8')

/** The unit's settings: section → key → values (a key may be given more than once). */
function parseUnit(source: string): Map<string, Map<string, string[]>> {
  const sections = new Map<string, Map<string, string[]>>()
  let current: Map<string, string[]> | null = null
  for (const raw of source.split('\n')) {
    const line = raw.trim()
    if (line === '' || line.startsWith('#') || line.startsWith(';')) continue
    const section = /^\[(.+)\]$/.exec(line)
    if (section) {
      current = new Map()
      sections.set(section[1]!, current)
      continue
    }
    const eq = line.indexOf('=')
    if (!current || eq === -1) throw new Error(`not a unit file line: ${raw}`)
    const key = line.slice(0, eq)
    current.set(key, [...(current.get(key) ?? []), line.slice(eq + 1)])
  }
  return sections
}

const systemdAnalyze = (() => {
  try {
    execFileSync('systemd-analyze', ['--version'], { stdio: 'ignore' })
    return true
  } catch {
    return false
  }
})()

describe('contrib/systemd/outbox.service', () => {
  const service = parseUnit(text).get('Service')!

  it('has the settings the README promises', () => {
    expect(service).toBeDefined()
    const expected: Record<string, string> = {
      Type: 'simple',
      ExecStart: '/usr/local/bin/outbox start',
      ExecReload: '/bin/kill -HUP $MAINPID',
      WorkingDirectory: '/var/lib/outbox',
      User: 'outbox',
      EnvironmentFile: '-/etc/outbox/outbox.env',
      Restart: 'on-failure',
      KillSignal: 'SIGTERM',
      TimeoutStopSec: '45',
      NoNewPrivileges: 'yes',
      ProtectSystem: 'strict',
      ProtectHome: 'yes',
      PrivateTmp: 'yes',
      PrivateDevices: 'yes',
      ProtectKernelTunables: 'yes',
      ProtectKernelModules: 'yes',
      ProtectControlGroups: 'yes',
      RestrictAddressFamilies: 'AF_INET AF_INET6 AF_UNIX',
      RestrictNamespaces: 'yes',
      LockPersonality: 'yes',
      MemoryDenyWriteExecute: 'no',
      SystemCallArchitectures: 'native',
      ReadWritePaths: '/var/lib/outbox /var/log/outbox',
      StateDirectory: 'outbox',
      LogsDirectory: 'outbox',
      UMask: '0027',
    }
    for (const [key, value] of Object.entries(expected)) {
      expect(service.get(key), key).toEqual([value])
    }
    expect(service.get('Environment')?.length).toBeGreaterThan(0)
    // The installed binary, never npx (its wrapper leaves node behind on SIGTERM).
    expect(text).not.toMatch(/^ExecStart=.*\bnpx\b/m)
    // More than 30 s of the worker's shutdown grace.
    expect(Number(service.get('TimeoutStopSec')![0])).toBeGreaterThan(30)
    expect(parseUnit(text).get('Install')?.get('WantedBy')).toEqual(['multi-user.target'])
  })

  it('says why it is not Type=notify and why W^X stays off', () => {
    expect(text).toMatch(/sd_notify/)
    expect(text).toMatch(/JIT/)
  })

  it.skipIf(!systemdAnalyze)('passes systemd-analyze verify without a warning', () => {
    // verify checks that ExecStart's program exists: a stand-in for the installed binary.
    const dir = mkdtempSync(join(tmpdir(), 'outbox-systemd-'))
    try {
      const binary = join(dir, 'outbox')
      writeFileSync(binary, '#!/bin/sh\nexit 0\n')
      chmodSync(binary, 0o755)
      const unit = join(dir, 'outbox.service')
      writeFileSync(unit, text.replace('ExecStart=/usr/local/bin/outbox', `ExecStart=${binary}`))
      const result = spawnSync('systemd-analyze', ['verify', unit], {
        encoding: 'utf8',
        timeout: 30_000,
      })
      expect(result.error).toBeUndefined()
      // verify exits 0 on an unknown key or a bad value, warning on stderr: none allowed.
      expect(result.stderr).toBe('')
      expect(result.status).toBe(0)
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })

  it.runIf(!systemdAnalyze)('systemd-analyze verify is skipped', () => {
    console.log('systemd-analyze is not installed: the unit file was checked by parsing only')
  })
})
