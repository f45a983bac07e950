import knex, { type Knex } from 'knex';
import * as usersAndOutbox from './migrations/001-users-and-outbox.js';

interface Migration {
  up(knex: Knex): Promise<void>;
  down(knex: Knex): Promise<void>;
}

/** Migrations in order. Listed in code so they work the same from `src` (tests) and `dist`. */
const MIGRATIONS: ReadonlyArray<readonly [name: string, migration: Migration]> = [
  ['001-users-and-outbox', usersAndOutbox],
];

const migrationSource: Knex.MigrationSource<readonly [string, Migration]> = {
  getMigrations: async () => [...MIGRATIONS],
  getMigrationName: ([name]) => name,
  getMigration: async ([, migration]) => migration,
};

export interface DatabaseOptions {
  url: string;
  poolMax: number;
  /** Sent to PostgreSQL, shown in `pg_stat_activity`. */
  applicationName: string;
}

export function createDatabase(options: DatabaseOptions): Knex {
  return knex({
    client: 'pg',
    connection: { connectionString: options.url, application_name: options.applicationName },
    pool: { min: 0, max: options.poolMax },
    acquireConnectionTimeout: 10_000,
  });
}

/** Applies pending migrations; returns the names of those applied. */
export async function migrate(db: Knex): Promise<string[]> {
  const [, applied] = (await db.migrate.latest({ migrationSource })) as [number, string[]];
  return applied;
}

/** True when a round trip to the database succeeds; a failure propagates as "down". */
export async function isReachable(db: Knex): Promise<boolean> {
  await db.raw('SELECT 1');
  return true;
}
