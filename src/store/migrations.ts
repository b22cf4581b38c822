import { readdirSync, readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { join } from 'node:path'

/** One numbered schema change, from a file named `NNNN_description.sql`. */
export interface Migration {
  version: number
  name: string
  sql: string
}

/**
 * Reads a backend's migrations folder. Files are applied in number order and never edited
 * once released; a gap or a duplicate number is a packaging bug and throws.
 */
export function loadMigrations(folder: URL): Migration[] {
  const dir = fileURLToPath(folder)
  const migrations = readdirSync(dir)
    .filter((file) => /^\d{4}_[a-z0-9_]+\.sql$/.test(file))
    .sort()
    .map((file) => ({
      version: Number(file.slice(0, 4)),
      name: file.slice(5, -4),
      sql: readFileSync(join(dir, file), 'utf8'),
    }))
  migrations.forEach((m, i) => {
    if (m.version !== i + 1) {
      throw new Error(
        `Migration ${m.version}_${m.name} in ${dir} is out of sequence (expected ${i + 1}).`,
      )
    }
  })
  return migrations
}
