import type { Knex } from 'knex';

/**
 * Fenced claims and a crash-proof attempt budget (README "Delivery ledger"): `claim_token` names
 * the claim's holder, `failed_attempts` counts only the attempts the message itself failed, and
 * `dead_lettered_at` says the DLQ holds the message.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('deliveries', (table) => {
    table.uuid('claim_token');
    table.integer('failed_attempts').notNullable().defaultTo(0);
    table.timestamp('dead_lettered_at', { useTz: true });
  });
  // Rows written before: every failure counted against the budget, and `failed` rows were
  // dead-lettered in the same step.
  await knex.raw(`
    UPDATE deliveries
       SET failed_attempts = CASE WHEN status IN ('retrying', 'failed') THEN attempts ELSE 0 END,
           dead_lettered_at = CASE WHEN status = 'failed' THEN updated_at END`);
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('deliveries', (table) => {
    table.dropColumn('claim_token');
    table.dropColumn('failed_attempts');
    table.dropColumn('dead_lettered_at');
  });
}
