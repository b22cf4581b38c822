/**
 * Whether the server makes a commit durable before it answers. With
 * `innodb_flush_log_at_trx_commit` at 0 or 2, InnoDB acknowledges a commit before its log is
 * on disk: a crash of the server's machine can lose mail that Outbox had already acknowledged
 * (a 250, a resolved `send()`). Outbox cannot fix the server's setting; it says so, loudly.
 */
export function durabilityWarning(flushLogAtTrxCommit: unknown): string | null {
  const value = Number(flushLogAtTrxCommit)
  if (value === 1) return null
  return (
    `The MariaDB/MySQL server runs with innodb_flush_log_at_trx_commit=${String(flushLogAtTrxCommit)}: ` +
    'it acknowledges commits before they are on disk, so a crash of its machine can lose mail ' +
    'Outbox already accepted. Set innodb_flush_log_at_trx_commit=1 on the server.'
  )
}
