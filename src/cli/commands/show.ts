import type { Command } from 'commander'
import { formatBytes } from '../../message/format-bytes.js'
import { withOutbox } from '../context.js'
import { fields, relativeTime, table } from '../format.js'
import { printOut } from '../terminal.js'

/** The header block of a message, unfolded one header per line. */
function headerBlock(raw: Buffer): string {
  const head = raw.subarray(0, 65536).toString('utf8')
  const end = head.indexOf('\r\n\r\n')
  return (end === -1 ? head : head.slice(0, end)).replace(/\r\n[ \t]+/g, ' ')
}

export function registerShowCommand(program: Command): void {
  program
    .command('show')
    .description(
      'one message: envelope, headers, per-recipient status and every attempt with the upstream reply',
    )
    .argument('<id>', 'queue id')
    .option('--raw', 'print the stored RFC 5322 bytes instead')
    .option('--json', 'print JSON')
    .action(async (id: string, opts: { raw?: boolean; json?: boolean }, command: Command) => {
      await withOutbox(command, async (outbox) => {
        if (opts.raw) {
          process.stdout.write(await outbox.admin.getRaw(id))
          return
        }
        const m = await outbox.admin.getMessage(id)
        if (opts.json) {
          process.stdout.write(`${JSON.stringify(m, null, 2)}\n`)
          return
        }
        const raw = await outbox.admin.getRaw(id)
        const when = (d: Date | null) => (d ? `${d.toISOString()} (${relativeTime(d)})` : '-')
        const out: string[] = []
        out.push(`Message ${m.id}`)
        out.push(
          fields([
            [
              'Status',
              m.status +
                (m.reason ? ` (${m.reason})` : '') +
                (m.captured ? ' — captured, not sent' : ''),
            ],
            ['Priority', m.priority],
            ['Created', when(m.createdAt)],
            [
              'Next attempt',
              m.status === 'queued' || m.status === 'deferred' ? when(m.dueAt) : '-',
            ],
            ['Expires', when(m.expiresAt)],
            ['Finished', when(m.finishedAt)],
            ['Attempts', String(m.attempts)],
            ['Envelope from', m.from],
            ['Envelope to', m.recipients.join(', ')],
            ['Message-ID', m.messageId],
            ['Tags', m.tags.join(', ') || '-'],
            // Named in its send options: it goes through that upstream, whatever the routes say.
            ...(m.upstream
              ? ([['Upstream', `${m.upstream} (send option)`]] as [string, string][])
              : []),
            // Rendered from a stored template at enqueue: which one made these bytes.
            ...(m.template
              ? ([
                  [
                    'Template',
                    `${m.template.name} (${m.template.language}, version ${m.template.version})`,
                  ],
                ] as [string, string][])
              : []),
            ['Size', formatBytes(m.size)],
            ...(m.leaseOwner
              ? ([
                  ['Leased by', `${m.leaseOwner} until ${m.leaseExpiresAt?.toISOString() ?? '?'}`],
                ] as [string, string][])
              : []),
            ...(m.lastError ? ([['Last error', m.lastError]] as [string, string][]) : []),
          ]),
        )
        out.push(
          '',
          'Headers',
          headerBlock(raw)
            .split('\r\n')
            .map((h) => `  ${h}`)
            .join('\n'),
        )
        out.push(
          '',
          'Recipients',
          table(
            ['ADDRESS', 'STATUS', 'CODE', 'REPLY'],
            m.recipientStatus.map((r) => [
              r.address,
              r.status,
              r.code === null ? '-' : String(r.code),
              r.reply ?? '-',
            ]),
          ).replace(/^/gm, '  '),
        )
        out.push('', m.attemptLog.length ? 'Attempts' : 'Attempts: none yet')
        m.attemptLog.forEach((a, i) => {
          out.push(
            `  ${i + 1}. ${a.startedAt.toISOString()}  ${a.outcome}  ${a.durationMs} ms  by ${a.worker}${a.upstream ? `  via ${a.upstream}` : ''}${a.error ? `  error: ${a.error}` : ''}`,
          )
          for (const r of a.recipients)
            out.push(`       ${r.address}: ${r.status} ${r.code ?? ''} ${r.reply}`.trimEnd())
        })
        printOut(`${out.join('\n')}\n`)
      })
    })
}
