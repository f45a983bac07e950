import { connect } from '@nats-io/transport-node';
import { createTestDatabase, startNatsServer } from '@signup-flow/testing';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { isPortOpen } from './ports.js';

describe('local-stack servers', () => {
  it('when a test database is created, then it accepts queries', async () => {
    const client = new pg.Client({ connectionString: await createTestDatabase() });
    await client.connect();
    const { rows } = await client.query<{ server_version: string }>('SHOW server_version');
    await client.end();
    expect(rows[0]?.server_version).toMatch(/^\d+/);
  });

  it('when nats-server is stopped and started again, then it keeps its port and JetStream data', async () => {
    const server = await startNatsServer();
    const connection = await connect({ servers: server.url });
    const { jetstreamManager } = await import('@nats-io/jetstream');
    const manager = await jetstreamManager(connection);
    await manager.streams.add({ name: 'KEEP', subjects: ['keep.>'] });
    await connection.close();

    await server.stop();
    expect(await isPortOpen(server.port)).toBe(false);
    await server.start();

    const again = await connect({ servers: server.url });
    const info = await (await jetstreamManager(again)).streams.info('KEEP');
    await again.close();
    expect(info.config.subjects).toEqual(['keep.>']);
  });
});
