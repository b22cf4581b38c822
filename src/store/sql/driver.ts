/**
 * What the queue engine needs from a database driver: run a statement, run several in one
 * transaction, tell about commits made elsewhere. Structural, so the engine depends on no
 * driver package; each backend folder has the one implementation for its database.
 */

/** A database row as the driver returns it (column name → value). */
export type Row = Record<string, unknown>

/** One statement: its text with placeholders, and the values that fill them. */
export interface Query {
  text: string
  values: unknown[]
  /**
   * A stable name for a statement run for every message or claim: a driver may prepare it once
   * per connection (parsed and planned once) instead of each time.
   */
  name?: string
}

/** Statements run inside one transaction. */
export interface SqlTransaction {
  /** Runs a statement; resolves with the rows it returned (none for most writes). */
  query(query: Query): Promise<Row[]>
}

/** A connection (or pool) to one database holding one queue. */
export interface SqlDriver extends SqlTransaction {
  /**
   * Runs one statement that changes data and is atomic on its own. A driver may commit it
   * together with other writes requested at the same time (one commit, one fsync for all);
   * it resolves only once its commit is durable.
   */
  write(query: Query): Promise<Row[]>
  /**
   * Whether the driver commits the writes requested in one turn of the event loop together
   * (SQLite): the engine then hands it each turn's outcomes at once rather than waiting for a
   * write under way to end, as it does where every write is a round trip.
   */
  readonly groupsCommits?: boolean
  /**
   * Runs `work` in a transaction: its statements commit together, or not at all when it throws.
   * A driver may commit several transactions requested together as one (group commit), each
   * within a savepoint of its own so that one failing does not undo the others; either way a
   * transaction resolves only after its commit is durable.
   */
  transaction<T>(work: (tx: SqlTransaction) => Promise<T>): Promise<T>
  /**
   * Runs `work` inside a transaction the caller opened on its own connection (the transactional
   * outbox). Only drivers that can (PostgreSQL) have it.
   */
  inExternalTransaction?<T>(
    external: { query(text: string, values?: unknown[]): Promise<unknown> },
    work: (tx: SqlTransaction) => Promise<T>,
  ): Promise<T>
  /**
   * Calls `listener` when another connection (another process) commits new work, where the
   * database can tell. Returns a function that stops listening.
   */
  onForeignCommit(listener: () => void): () => void
  /**
   * Why the server may lose mail the store already acknowledged (a setting found at open), for
   * `stats()` and so the dashboard and `outbox stats`; absent when the server is durable.
   */
  readonly durabilityWarning?: string
  /** Turns a driver error into the store's error (`StoreUnavailableError` and friends). */
  failure(cause: unknown): Error
  /** Closes the connections; later calls reject. */
  close(): Promise<void>
}
