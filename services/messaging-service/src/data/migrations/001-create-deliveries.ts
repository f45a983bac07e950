import type { Knex } from 'knex';

/** The delivery ledger: one row per event id, see README "Delivery ledger". */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('deliveries', (table) => {
    table.uuid('event_id').primary();
    table.uuid('user_id').notNullable();
    table
      .enu('status', ['sending', 'retrying', 'sent', 'failed'], {
        useNative: true,
        enumName: 'delivery_status',
      })
      .notNullable();
    table.integer('attempts').notNullable().defaultTo(1);
    table.string('message_id', 255).notNullable();
    table.timestamp('claimed_until', { useTz: true });
    table.timestamp('first_failed_at', { useTz: true });
    table.timestamp('last_failed_at', { useTz: true });
    table.text('last_error');
    table.timestamp('sent_at', { useTz: true });
    table.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    table.timestamp('updated_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('deliveries');
  await knex.raw('DROP TYPE delivery_status');
}
