import { createTestDatabase, TcpProxy } from '@signup-flow/testing';
import type { Knex } from 'knex';
import { afterAll, describe, expect, it } from 'vitest';
import { createDatabase } from './database.js';

const pools: Knex[] = [];
afterAll(async () => {
  await Promise.all(pools.map((pool) => pool.destroy()));
});

function pool(url: string, statementTimeoutMs?: number): Knex {
  const db = createDatabase({
    url,
    poolMax: 2,
    applicationName: 'bounded waits test',
    ...(statementTimeoutMs ? { statementTimeoutMs } : {}),
  });
  pools.push(db);
  return db;
}

describe('createDatabase: every wait is bounded', () => {
  it('when a statement runs longer than the statement timeout, then PostgreSQL cancels it', async () => {
    const db = pool(await createTestDatabase('bounded'), 300);

    await expect(db.raw('SELECT pg_sleep(5)')).rejects.toThrow(/statement timeout/);
  });

  it('when a session opens, then it carries the statement and idle-in-transaction timeouts', async () => {
    const db = pool(await createTestDatabase('bounded'));

    const statement = await db.raw<{ rows: Array<{ statement_timeout: string }> }>(
      'SHOW statement_timeout',
    );
    const idle = await db.raw<{ rows: Array<{ idle_in_transaction_session_timeout: string }> }>(
      'SHOW idle_in_transaction_session_timeout',
    );

    expect(statement.rows[0]?.statement_timeout).toBe('10s');
    expect(idle.rows[0]?.idle_in_transaction_session_timeout).toBe('30s');
  });

  it('when the server stops answering in the middle of a session, then the query fails instead of hanging', async () => {
    const url = await createTestDatabase('bounded');
    const proxy = await TcpProxy.inFrontOf(url);
    try {
      const db = pool(proxy.rewrite(url), 500);
      await db.raw('SELECT 1');

      proxy.freeze();

      await expect(db.raw('SELECT 1')).rejects.toThrow(/timeout/i);
    } finally {
      await proxy.stop();
    }
  });
});
