import type { Command } from 'commander'
import { hashPassword } from '../../ingress/password-hash.js'

async function readLine(): Promise<string> {
  const chunks: Buffer[] = []
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer)
  return Buffer.concat(chunks)
    .toString('utf8')
    .replace(/\r?\n$/, '')
}

export function registerHashPasswordCommand(program: Command): void {
  program
    .command('hash-password')
    .description('read a password on stdin and print its scrypt hash, for smtp.users (user:hash)')
    .action(async () => {
      const password = await readLine()
      process.stdout.write(`${hashPassword(password)}\n`)
    })
}
