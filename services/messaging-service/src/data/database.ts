import knex, { type Knex } from 'knex';

export interface DatabaseOptions {
  url: string;
  /** @default 10 */
  poolSize?: number;
}

export function createDatabase(options: DatabaseOptions): Knex {
  return knex({
    client: 'pg',
    connection: options.url,
    pool: { min: 0, max: options.poolSize ?? 10 },
    // Fail a request quickly when PostgreSQL is down, so the message is retried later.
    acquireConnectionTimeout: 10_000,
  });
}

export async function isDatabaseUp(db: Knex): Promise<boolean> {
  await db.raw('select 1');
  return true;
}
