// tsc compiles TypeScript only; the SQL migrations are read at run time, so they travel to dist/
// next to the compiled store that reads them.
import { cpSync, readdirSync, statSync } from 'node:fs'
import { join } from 'node:path'

function copySql(fromDir, toDir) {
  for (const name of readdirSync(fromDir)) {
    const from = join(fromDir, name)
    if (statSync(from).isDirectory()) copySql(from, join(toDir, name))
    else if (name.endsWith('.sql')) cpSync(from, join(toDir, name))
  }
}

copySql('src', 'dist')
