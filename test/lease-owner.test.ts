import { spawn } from 'node:child_process'
import { hostname } from 'node:os'
import { describe, expect, it } from 'vitest'
import { isDeadLocalOwner, newLeaseOwner } from '../src/store/lease-owner.js'

const DIST = new URL('../dist/store/lease-owner.js', import.meta.url).href

describe('lease owners', () => {
  it('tell a live process on this host from a dead one', async () => {
    const child = spawn(
      process.execPath,
      [
        '--input-type=module',
        '-e',
        `const { newLeaseOwner } = await import(${JSON.stringify(DIST)}); console.log(newLeaseOwner()); setInterval(() => {}, 1000)`,
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    )
    try {
      const owner = await new Promise<string>((resolve, reject) => {
        child.stdout.once('data', (d: Buffer) => resolve(d.toString().trim()))
        child.once('exit', (code) => reject(new Error(`child exited with ${code}`)))
      })
      expect(owner.split(':')[1]).toBe(String(child.pid))
      expect(isDeadLocalOwner(owner)).toBe(false)
      const exited = new Promise((resolve) => child.once('exit', resolve))
      child.kill('SIGKILL')
      await exited
      expect(isDeadLocalOwner(owner)).toBe(true)
      // The same pid with another start time is another process: the owner is still dead.
      expect(isDeadLocalOwner(owner.replace(/:s\d+:/, ':s1:'))).toBe(true)
    } finally {
      child.kill('SIGKILL')
    }
  })

  it('never call an owner dead that cannot be checked', () => {
    const self = newLeaseOwner()
    expect(isDeadLocalOwner(self)).toBe(false)
    expect(isDeadLocalOwner(`${self}:now`)).toBe(false)
    expect(isDeadLocalOwner(self.replace(hostname(), 'another-host'))).toBe(false)
    // Named by an older version (host:pid:random), or not a process at all.
    expect(isDeadLocalOwner(`${hostname()}:1:abc123`)).toBe(false)
    expect(isDeadLocalOwner('w1')).toBe(false)
  })
})
