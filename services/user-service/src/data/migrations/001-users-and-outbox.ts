import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('users', (table) => {
    table.uuid('id').primary();
    table.text('email').notNullable();
    table.text('name').notNullable();
    table.text('password_hash').notNullable();
    table.timestamp('created_at', { useTz: true }).notNullable();
  });
  // Uniqueness is enforced here, not by a look-up before the insert, so concurrent signups with
  // one email cannot both succeed.
  await knex.raw('CREATE UNIQUE INDEX users_email_lower_unique ON users (lower(email))');

  await knex.schema.createTable('outbox', (table) => {
    table.bigIncrements('id').primary();
    table.uuid('event_id').notNullable().unique();
    table.uuid('aggregate_id').notNullable();
    table.text('subject').notNullable();
    table.jsonb('payload').notNullable();
    // W3C trace context of the request that wrote the event, so publishing continues its trace.
    table.jsonb('trace_context').notNullable().defaultTo('{}');
    table.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    table.timestamp('published_at', { useTz: true });
    table.integer('attempts').notNullable().defaultTo(0);
    table.text('last_error');
  });
  await knex.raw(
    'CREATE INDEX outbox_unpublished ON outbox (aggregate_id, id) WHERE published_at IS NULL',
  );
  await knex.raw(
    'CREATE INDEX outbox_published_at ON outbox (published_at) WHERE published_at IS NOT NULL',
  );
  // Wakes the relay as soon as an event commits (NOTIFY is delivered at commit).
  await knex.raw(`
    CREATE FUNCTION outbox_notify() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      PERFORM pg_notify('outbox_events', '');
      RETURN NULL;
    END $$;
    CREATE TRIGGER outbox_notify AFTER INSERT ON outbox
      FOR EACH STATEMENT EXECUTE FUNCTION outbox_notify();
  `);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('DROP TRIGGER IF EXISTS outbox_notify ON outbox');
  await knex.raw('DROP FUNCTION IF EXISTS outbox_notify()');
  await knex.schema.dropTableIfExists('outbox');
  await knex.schema.dropTableIfExists('users');
}
