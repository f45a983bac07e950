import type { Knex } from 'knex';

/**
 * Failed logins per account and per client address, shared by every replica. Keys are hashes:
 * neither email addresses nor client addresses are stored.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('login_failures', (table) => {
    table.text('key').primary();
    table.integer('failures').notNullable();
    table.timestamp('window_started_at', { useTz: true }).notNullable();
  });
  await knex.raw('CREATE INDEX login_failures_window ON login_failures (window_started_at)');
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('login_failures');
}
