import type { Knex } from 'knex';

/**
 * Lets the service that writes an event publish it at once (the hand-off): it writes the row with
 * a lease, `claimed_until`, and no relay claims the row before the lease ends. A row written
 * without a lease still wakes the relays with a NOTIFY; a leased one does not, or every signup
 * would cost a claim transaction that finds nothing to claim.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw('ALTER TABLE outbox ADD COLUMN claimed_until timestamptz');
  await knex.raw(`
    DROP TRIGGER outbox_notify ON outbox;
    CREATE TRIGGER outbox_notify AFTER INSERT ON outbox
      FOR EACH ROW WHEN (NEW.claimed_until IS NULL) EXECUTE FUNCTION outbox_notify();
  `);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw(`
    DROP TRIGGER outbox_notify ON outbox;
    CREATE TRIGGER outbox_notify AFTER INSERT ON outbox
      FOR EACH STATEMENT EXECUTE FUNCTION outbox_notify();
  `);
  await knex.raw('ALTER TABLE outbox DROP COLUMN claimed_until');
}
