import { createTestDatabase } from '@signup-flow/testing';
import type { Knex } from 'knex';
import { afterAll, describe, expect, it } from 'vitest';
import { createDatabase } from './database.js';
import { type MigrationList, migrateToLatest } from './migrations.js';

const MIGRATIONS: MigrationList = [
  [
    '001-things',
    {
      up: (knex) => knex.schema.createTable('things', (table) => table.increments('id')),
      down: (knex) => knex.schema.dropTable('things'),
    },
  ],
  [
    '002-thing-names',
    {
      up: (knex) => knex.schema.alterTable('things', (table) => table.text('name')),
      down: (knex) => knex.schema.alterTable('things', (table) => table.dropColumn('name')),
    },
  ],
];

const pools: Knex[] = [];
afterAll(async () => {
  await Promise.all(pools.map((pool) => pool.destroy()));
});

describe('migrateToLatest', () => {
  it('when three replicas start together on an empty database, then the schema is applied once and none fails', async () => {
    const url = await createTestDatabase('migrations');
    const replicas = Array.from({ length: 3 }, (_, index) => {
      const db = createDatabase({ url, poolMax: 2, applicationName: `replica ${index}` });
      pools.push(db);
      return db;
    });

    const applied = await Promise.all(replicas.map((db) => migrateToLatest(db, MIGRATIONS)));

    expect(applied.flat().sort()).toEqual(['001-things', '002-thing-names']);
    expect(applied.filter((names) => names.length > 0)).toHaveLength(1);
    const columns = await replicas[0]?.('things').columnInfo();
    expect(Object.keys(columns ?? {}).sort()).toEqual(['id', 'name']);
  });

  it('when run again, then nothing is applied', async () => {
    const url = await createTestDatabase('migrations_again');
    const db = createDatabase({ url, poolMax: 2, applicationName: 'again' });
    pools.push(db);
    expect(await migrateToLatest(db, MIGRATIONS)).toHaveLength(2);
    expect(await migrateToLatest(db, MIGRATIONS)).toEqual([]);
  });
});
