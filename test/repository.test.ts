import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'

const ROOT = fileURLToPath(new URL('..', import.meta.url))

/** The Markdown files a clone holds (not node_modules). */
function markdownFiles(): string[] {
  const found: string[] = []
  for (const dir of ['.', 'docs', 'bench']) {
    for (const name of readdirSync(join(ROOT, dir))) {
      if (name.endsWith('.md')) found.push(join(ROOT, dir, name))
    }
  }
  return found
}

describe('the repository stands on its own', () => {
  it('every file a document points to is in the clone', () => {
    const missing: string[] = []
    for (const file of markdownFiles()) {
      const text = readFileSync(file, 'utf8')
      // Links, and paths to documents written as code (`../shared/DESIGN.md`).
      const targets = [
        ...[...text.matchAll(/\]\(([^)#\s]+)(?:#[^)]*)?\)/g)].map((m) => m[1]!),
        ...[...text.matchAll(/`([^`\s]+\.md)`/g)].map((m) => m[1]!),
      ].filter((t) => !/^[a-z]+:/i.test(t))
      for (const target of targets) {
        const path = resolve(dirname(file), target)
        // Inside the clone: a file next to it on the author's machine is not in a user's clone.
        if (!path.startsWith(ROOT) || !existsSync(path)) missing.push(`${file}: ${target}`)
      }
    }
    expect(missing).toEqual([])
  })

  it('has the licence package.json announces', () => {
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
      license: string
      files: string[]
    }
    expect(pkg.license).toBe('MIT')
    expect(readFileSync(join(ROOT, 'LICENSE'), 'utf8')).toMatch(/^MIT License/)
    expect(pkg.files).toContain('LICENSE')
  })

  it('has its design document', () => {
    expect(readFileSync(join(ROOT, 'README.md'), 'utf8')).toContain('(docs/design.md)')
    expect(readFileSync(join(ROOT, 'docs', 'design.md'), 'utf8')).toContain('## The store contract')
  })
})
