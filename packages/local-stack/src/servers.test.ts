import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from '@nats-io/transport-node';
// Built, as the other packages use it: the servers run under dist/supervisor.js.
import { ensureGoTool, GO_TOOLS, startJaegerOnFreePorts } from '@signup-flow/local-stack';
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

  it('when Jaeger answers queries and stops, then it exports no traces of its own anywhere', async () => {
    // Jaeger v2 traces its own query API by default, over OTLP to whatever the standard
    // variables (or localhost:4317) name; on stop it waits to flush them.
    const connections: Socket[] = [];
    const otlpStandIn = createServer((socket) => connections.push(socket));
    await new Promise<void>((resolve) => otlpStandIn.listen(0, '127.0.0.1', resolve));
    const address = otlpStandIn.address();
    const port = typeof address === 'object' && address ? address.port : 0;
    const dir = await mkdtemp(join(tmpdir(), 'local-stack-jaeger-'));
    const binary = await ensureGoTool(GO_TOOLS.jaeger);
    const before = process.env.OTEL_EXPORTER_OTLP_ENDPOINT;
    try {
      // Jaeger inherits this process's environment.
      process.env.OTEL_EXPORTER_OTLP_ENDPOINT = `http://127.0.0.1:${port}`;
      const jaeger = await startJaegerOnFreePorts(binary, dir).finally(() => {
        if (before === undefined) delete process.env.OTEL_EXPORTER_OTLP_ENDPOINT;
        else process.env.OTEL_EXPORTER_OTLP_ENDPOINT = before;
      });
      expect((await fetch(`${jaeger.queryUrl}/api/v3/services`)).status).toBe(200);
      await jaeger.stop();
      expect(connections).toHaveLength(0);
    } finally {
      for (const socket of connections) socket.destroy();
      otlpStandIn.close();
      await rm(dir, { recursive: true, force: true });
    }
  }, 120_000);
});
