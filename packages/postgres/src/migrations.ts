import type { Knex } from 'knex';
import { createDatabase } from './database.js';

export interface Migration {
  up(knex: Knex): Promise<void>;
  down(knex: Knex): Promise<void>;
}

/** A service's migrations in order, by name. Listed in code, so `src` (tests) and `dist` agree. */
export type MigrationList = ReadonlyArray<readonly [name: string, migration: Migration]>;

function migratorConfig(migrations: MigrationList): Knex.MigratorConfig {
  const source: Knex.MigrationSource<string> = {
    getMigrations: async () => migrations.map(([name]) => name),
    getMigrationName: (name) => name,
    getMigration: async (name) => {
      const found = migrations.find(([candidate]) => candidate === name);
      if (!found) throw new Error(`unknown migration ${name}`);
      return found[1];
    },
  };
  return { migrationSource: source, tableName: 'knex_migrations' };
}

/** Any constant unique among the database's advisory locks. */
const MIGRATION_LOCK_KEY = 7_291_701;

/**
 * Applies pending migrations; returns the names applied now. Replicas starting together take
 * turns under a PostgreSQL advisory lock (knex creates its own lock table without one, so two
 * first runs collide). The lock is held by a transaction on one pooled connection while the
 * migrations run on another.
 */
export async function migrateToLatest(db: Knex, migrations: MigrationList): Promise<string[]> {
  return db.transaction(async (lock) => {
    await lock.raw('SELECT pg_advisory_xact_lock(?)', [MIGRATION_LOCK_KEY]);
    const [, applied] = (await db.migrate.latest(migratorConfig(migrations))) as [number, string[]];
    return applied;
  });
}

/** DDL on a large table, or waiting for another replica's migrations, may take minutes. */
const MIGRATION_TIMEOUT_MS = 15 * 60_000;

/**
 * Applies pending migrations over a short-lived pool of its own, whose statement and
 * idle-in-transaction bounds fit migrations (the advisory-lock transaction sits idle while the
 * migrations run); a service's own pool keeps its tight bounds.
 */
export async function migrateDatabase(
  url: string,
  applicationName: string,
  migrations: MigrationList,
): Promise<string[]> {
  const db = createDatabase({
    url,
    poolMax: 2,
    applicationName: `${applicationName} migrate`,
    statementTimeoutMs: MIGRATION_TIMEOUT_MS,
    idleInTransactionTimeoutMs: MIGRATION_TIMEOUT_MS,
  });
  try {
    return await migrateToLatest(db, migrations);
  } finally {
    await db.destroy();
  }
}
