import type { Knex } from 'knex';
import * as createDeliveries from './migrations/001-create-deliveries.js';

interface Migration {
  up(knex: Knex): Promise<void>;
  down(knex: Knex): Promise<void>;
}

/**
 * Migrations listed in code rather than found by globbing a folder: the same list works from the
 * TypeScript sources (tests) and from `dist` (production), and a stray `.d.ts` or `.map` cannot be
 * mistaken for a migration.
 */
const MIGRATIONS: ReadonlyArray<readonly [name: string, migration: Migration]> = [
  ['001-create-deliveries', createDeliveries],
];

const migrationSource: Knex.MigrationSource<string> = {
  getMigrations: async () => MIGRATIONS.map(([name]) => name),
  getMigrationName: (name) => name,
  getMigration: async (name) => {
    const found = MIGRATIONS.find(([candidate]) => candidate === name);
    if (!found) throw new Error(`unknown migration ${name}`);
    return found[1];
  },
};

const MIGRATION_CONFIG: Knex.MigratorConfig = {
  migrationSource,
  tableName: 'knex_migrations',
};

/** Any constant unique among this database's advisory locks. */
const MIGRATION_LOCK_KEY = 7_291_701;

/**
 * Applies pending migrations; returns the names of those applied now. Replicas starting together
 * take turns under a PostgreSQL advisory lock (knex's own lock table is created without one, so two
 * first runs collide). The lock lives in a transaction on one pooled connection while the
 * migrations run on another: the pool needs at least two.
 */
export async function migrateToLatest(db: Knex): Promise<string[]> {
  return db.transaction(async (lock) => {
    await lock.raw('SELECT pg_advisory_xact_lock(?)', [MIGRATION_LOCK_KEY]);
    const [, applied] = (await db.migrate.latest(MIGRATION_CONFIG)) as [number, string[]];
    return applied;
  });
}

export async function rollbackAll(db: Knex): Promise<void> {
  await db.migrate.rollback(MIGRATION_CONFIG, true);
}
