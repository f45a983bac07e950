import knex, { type Knex } from 'knex';

export interface DatabaseOptions {
  url: string;
  /** Connections kept at most. Migrations need two (see {@link migrateToLatest}). */
  poolMax: number;
  /** Shown in `pg_stat_activity`. */
  applicationName: string;
  /**
   * The longest one statement may run, on the server (`statement_timeout`) and, a second later,
   * on the client (`query_timeout`, for a server that stopped answering). @default 10000
   */
  statementTimeoutMs?: number;
  /** A transaction left open without a statement is ended after this long. @default 30000 */
  idleInTransactionTimeoutMs?: number;
}

/** Waits a service must never exceed on its pool, whatever the network does. */
const DATABASE_LIMITS = {
  /** Waiting for a pooled connection, and opening a new one. */
  acquireMs: 10_000,
  connectMs: 5_000,
  /** TCP keepalive: a peer that vanished without a FIN is noticed within about a minute. */
  keepAliveInitialDelayMs: 10_000,
} as const;

const DEFAULT_STATEMENT_TIMEOUT_MS = 10_000;
/** A client that hung in the middle of a transaction (the relay's publish batch) lets go. */
const DEFAULT_IDLE_IN_TRANSACTION_TIMEOUT_MS = 30_000;

/**
 * A knex pool whose every wait is bounded: acquiring and opening a connection, each statement
 * (server- and client-side), a transaction left idle, and a silent peer (keepalive). Nothing a
 * service does on it can hang indefinitely.
 */
export function createDatabase(options: DatabaseOptions): Knex {
  const statementTimeoutMs = options.statementTimeoutMs ?? DEFAULT_STATEMENT_TIMEOUT_MS;
  return knex({
    client: 'pg',
    connection: {
      connectionString: options.url,
      application_name: options.applicationName,
      statement_timeout: statementTimeoutMs,
      // The client-side bound also covers a server that is up but no longer answers.
      query_timeout: statementTimeoutMs + 1_000,
      idle_in_transaction_session_timeout:
        options.idleInTransactionTimeoutMs ?? DEFAULT_IDLE_IN_TRANSACTION_TIMEOUT_MS,
      connectionTimeoutMillis: DATABASE_LIMITS.connectMs,
      keepAlive: true,
      keepAliveInitialDelayMillis: DATABASE_LIMITS.keepAliveInitialDelayMs,
    },
    pool: { min: 0, max: Math.max(2, options.poolMax) },
    // Fail fast while PostgreSQL is down, so requests answer and messages are retried later.
    acquireConnectionTimeout: DATABASE_LIMITS.acquireMs,
  });
}

/** True when a round trip succeeds; a failure propagates, which readiness counts as down. */
export async function isReachable(db: Knex): Promise<boolean> {
  await db.raw('SELECT 1');
  return true;
}
