import knex, { type Knex } from 'knex';

export interface DatabaseOptions {
  url: string;
  /** Connections kept at most. Migrations need two (see {@link migrateToLatest}). */
  poolMax: number;
  /** Shown in `pg_stat_activity`. */
  applicationName: string;
}

export function createDatabase(options: DatabaseOptions): Knex {
  return knex({
    client: 'pg',
    connection: { connectionString: options.url, application_name: options.applicationName },
    pool: { min: 0, max: Math.max(2, options.poolMax) },
    // Fail fast while PostgreSQL is down, so requests answer and messages are retried later.
    acquireConnectionTimeout: 10_000,
  });
}

/** True when a round trip succeeds; a failure propagates, which readiness counts as down. */
export async function isReachable(db: Knex): Promise<boolean> {
  await db.raw('SELECT 1');
  return true;
}
