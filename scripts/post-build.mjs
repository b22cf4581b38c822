// What tsc does not do for the build: the dashboard's files, the SQL migrations and the Redis
// store's Lua scripts are read at run time, so they travel to
// dist/ next to the compiled store that reads them; and the CLI entry must be executable for
// `npx outbox` to run it.
import { chmodSync, cpSync, readdirSync, statSync } from 'node:fs'
import { join } from 'node:path'

function copySql(fromDir, toDir) {
  for (const name of readdirSync(fromDir)) {
    const from = join(fromDir, name)
    if (statSync(from).isDirectory()) copySql(from, join(toDir, name))
    else if (name.endsWith('.sql') || name.endsWith('.lua')) cpSync(from, join(toDir, name))
  }
}

copySql('src', 'dist')
// The dashboard is plain HTML, CSS and browser modules: shipped as written, no bundler.
cpSync('src/dashboard', 'dist/dashboard', { recursive: true })
chmodSync('dist/cli/main.js', 0o755)
