import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { STREAMS } from '@signup-flow/events';
import { freePort, waitUntil } from '@signup-flow/local-stack';
import {
  createTestDatabase,
  createUsersStream,
  onTestFileEnd,
  signUp,
  startNatsServer,
  TcpProxy,
} from '@signup-flow/testing';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import {
  type MigratedDatabase,
  migratedDatabase,
  OutboxTestbed,
  readUsersStream,
  spawnUserService,
  waitForStreamCount,
} from './fixtures.js';

async function unpublishedCount(database: MigratedDatabase): Promise<number> {
  const [row] = await database
    .db('outbox')
    .whereNull('published_at')
    .count<Array<{ count: string }>>('* as count');
  return Number(row?.count);
}

async function publishedAt(
  database: MigratedDatabase,
  userId: string | undefined,
): Promise<Date | null | undefined> {
  return (await database.db('outbox').where({ aggregate_id: userId }).first())?.published_at;
}

function eventUserIds(messages: Awaited<ReturnType<typeof readUsersStream>>): string[] {
  return messages.map((message) => (message.body as { data: { userId: string } }).data.userId);
}

describe('outbox relay to JetStream', () => {
  const testbed = OutboxTestbed.use();

  it('when a user signs up, then the stream holds one message with the contract body and headers', async () => {
    const before = (await readUsersStream(testbed.nats.url)).length;
    await testbed.startRelay();
    const response = await signUp(testbed.api.baseUrl, 'grace@example.com', 'Grace Hopper');
    const user = (await response.json()) as { id: string; createdAt: string };
    await waitForStreamCount(testbed.nats.url, before + 1);

    const message = (await readUsersStream(testbed.nats.url)).at(-1);
    const row = await testbed.database.db('outbox').where({ aggregate_id: user.id }).first();
    expect(message?.subject).toBe('users.created');
    expect(message?.headers['Nats-Msg-Id']).toBe(row.event_id);
    expect(message?.body).toEqual({
      specversion: '1.0',
      id: row.event_id,
      source: '/user-service',
      type: 'io.signup-flow.user.created.v1',
      time: user.createdAt,
      subject: user.id,
      datacontenttype: 'application/json',
      data: {
        userId: user.id,
        email: 'grace@example.com',
        name: 'Grace Hopper',
        createdAt: user.createdAt,
      },
    });
    await expect
      .poll(
        async () =>
          (await testbed.database.db('outbox').where({ id: row.id }).first()).published_at,
      )
      .not.toBeNull();
  });

  it('when NATS is down, then 50 signups still succeed and, once it is back, each event is in the stream exactly once', async () => {
    const before = eventUserIds(await readUsersStream(testbed.nats.url));
    await testbed.startRelay();
    await testbed.nats.stop();
    try {
      const userIds = await testbed.signUpMany(50, 'offline');
      expect(await unpublishedCount(testbed.database)).toBe(50);
      await testbed.nats.start();
      await waitForStreamCount(testbed.nats.url, before.length + 50, 60_000);
      await expect.poll(() => unpublishedCount(testbed.database), { timeout: 30_000 }).toBe(0);
      const published = eventUserIds(await readUsersStream(testbed.nats.url)).slice(before.length);
      expect(published.sort()).toEqual([...userIds].sort());
    } finally {
      if (!testbed.nats.running) await testbed.nats.start();
    }
  });

  it('when two relays share one database, then every event is published once', async () => {
    const before = (await readUsersStream(testbed.nats.url)).length;
    await testbed.startRelay();
    await testbed.startRelay();
    const userIds = await testbed.signUpMany(60, 'two-relays');
    await waitForStreamCount(testbed.nats.url, before + 60);
    await expect.poll(() => unpublishedCount(testbed.database)).toBe(0);
    const published = eventUserIds(await readUsersStream(testbed.nats.url)).slice(before);
    expect(published).toHaveLength(60);
    expect(published.sort()).toEqual([...userIds].sort());
  });

  it('when a relay dies between publish and mark, then the republished event is dropped by JetStream as a duplicate', async () => {
    const before = (await readUsersStream(testbed.nats.url)).length;
    const first = await testbed.startRelay();
    const [userId] = await testbed.signUpMany(1, 'crash');
    await waitForStreamCount(testbed.nats.url, before + 1);
    await expect.poll(() => publishedAt(testbed.database, userId)).not.toBeNull();
    await first.stop();
    // The state a crash after the PubAck and before the commit leaves: published, not marked.
    await testbed.database
      .db('outbox')
      .where({ aggregate_id: userId })
      .update({ published_at: null });

    await testbed.startRelay();
    await expect.poll(() => publishedAt(testbed.database, userId)).not.toBeNull();
    const messages = await readUsersStream(testbed.nats.url);
    expect(messages).toHaveLength(before + 1);
    expect(eventUserIds(messages).filter((id) => id === userId)).toHaveLength(1);
  });

  it('when published events pass their retention, then the pruner deletes them and keeps unpublished ones', async () => {
    const [keptUserId, prunedUserId] = await testbed.signUpMany(2, 'prune');
    await testbed.database
      .db('outbox')
      .where({ aggregate_id: prunedUserId })
      .update({ published_at: testbed.database.db.raw("now() - interval '2 hours'") });
    await testbed.startRelay();
    await expect
      .poll(async () => testbed.database.db('outbox').where({ aggregate_id: prunedUserId }).first())
      .toBeUndefined();
    await expect.poll(() => publishedAt(testbed.database, keptUserId)).not.toBeNull();
  });
});

describe('user-service process', () => {
  it('when it gets SIGTERM under load, then no request fails with 5xx and no event is lost', async () => {
    const nats = await startNatsServer();
    const database = await migratedDatabase();
    const logDir = await mkdtemp(join(tmpdir(), 'user-service-sigterm-'));
    const env = { DATABASE_URL: database.url, NATS_URL: nats.url };
    const service = await spawnUserService(env, logDir);
    await waitForStreamCount(nats.url, 0);

    const statuses: number[] = [];
    let refused = 0;
    const load = Array.from({ length: 8 }, async (_, worker) => {
      for (let index = 0; index < 30; index++) {
        try {
          const response = await signUp(
            service.baseUrl,
            `sigterm-${worker}-${index}@example.com`,
            'Load',
          );
          statuses.push(response.status);
        } catch {
          // Connection refused once the server stopped listening: the client would retry elsewhere.
          refused += 1;
        }
      }
    });
    // SIGTERM under load: once signups are being answered, not after a guessed pause.
    await waitUntil('signups under way', async () => statuses.length >= 5);
    const stopping = service.process.stop();
    await Promise.all(load);
    await stopping;

    expect(await service.process.exited()).toBe(0);
    expect(statuses.length).toBeGreaterThan(0);
    expect(statuses.filter((status) => status >= 500)).toEqual([]);
    expect(statuses.every((status) => status === 201)).toBe(true);
    expect(statuses.length + refused).toBe(240);

    const [users] = await database.db('users').count<Array<{ count: string }>>('* as count');
    expect(Number(users?.count)).toBe(statuses.length);
    // Whatever the stopping relay did not publish, the next instance does.
    await spawnUserService(env, logDir);
    await waitForStreamCount(nats.url, statuses.length);
    const messages = await readUsersStream(nats.url);
    expect(messages).toHaveLength(statuses.length);
  });

  it('when someone deletes the USERS stream while it runs, then it is recreated and the next events reach it', async () => {
    const nats = await startNatsServer();
    const database = await migratedDatabase();
    const logDir = await mkdtemp(join(tmpdir(), 'user-service-stream-deleted-'));
    const service = await spawnUserService(
      { DATABASE_URL: database.url, NATS_URL: nats.url },
      logDir,
    );
    const first = await signUp(service.baseUrl, 'before-delete@example.com', 'Before');
    expect(first.status).toBe(201);
    await waitForStreamCount(nats.url, 1);

    const connection = await connect({ servers: nats.url });
    await (await jetstreamManager(connection)).streams.delete(STREAMS.users);
    await connection.close();
    const second = await signUp(service.baseUrl, 'after-delete@example.com', 'After');
    expect(second.status).toBe(201);
    await waitForStreamCount(nats.url, 1);

    const messages = await readUsersStream(nats.url);
    expect(
      messages.map((message) => (message.body as { data: { name: string } }).data.name),
    ).toEqual(['After']);
    // The relay marks the row published after the PubAck, so the stream can hold the event first.
    await expect.poll(() => unpublishedCount(database)).toBe(0);
    expect(await readFile(service.process.logFile, 'utf8')).toContain(
      'the USERS stream is missing: recreating it',
    );
  });

  it('when the USERS stream is deleted and NATS_PROVISION=false, then events wait in the outbox and the log says what is missing', async () => {
    const nats = await startNatsServer();
    await createUsersStream(nats.url);
    const database = await migratedDatabase();
    const logDir = await mkdtemp(join(tmpdir(), 'user-service-stream-missing-'));
    const service = await spawnUserService(
      { DATABASE_URL: database.url, NATS_URL: nats.url, NATS_PROVISION: 'false' },
      logDir,
    );
    const connection = await connect({ servers: nats.url });
    const manager = await jetstreamManager(connection);
    await manager.streams.delete(STREAMS.users);

    const response = await signUp(service.baseUrl, 'waiting@example.com', 'Waiting');
    expect(response.status).toBe(201);
    await waitUntil('the log to name the missing stream', async () =>
      (await readFile(service.process.logFile, 'utf8')).includes(
        'the USERS stream is missing and NATS_PROVISION=false',
      ),
    );
    expect(await unpublishedCount(database)).toBe(1);

    await createUsersStream(nats.url);
    await waitForStreamCount(nats.url, 1);
    await expect.poll(() => unpublishedCount(database)).toBe(0);
    expect(await readUsersStream(nats.url)).toHaveLength(1);
    await connection.close();
  });

  it('when PostgreSQL goes away, then readiness turns 503 naming it, and 200 again once it is back', async () => {
    const database = await migratedDatabase();
    const proxy = await TcpProxy.inFrontOf(database.url);
    onTestFileEnd(() => proxy.stop());
    const logDir = await mkdtemp(join(tmpdir(), 'user-service-postgres-away-'));
    const service = await spawnUserService(
      {
        DATABASE_URL: proxy.rewrite(database.url),
        NATS_URL: `nats://127.0.0.1:${await freePort()}`,
      },
      logDir,
    );
    const readiness = async () => {
      const response = await fetch(`${service.baseUrl}/readyz`);
      return {
        status: response.status,
        dependencies: ((await response.json()) as { dependencies: Record<string, string> })
          .dependencies,
      };
    };

    await proxy.cut();
    await waitUntil('readiness to fail', async () => (await readiness()).status === 503);
    expect((await readiness()).dependencies.postgres).toBe('down');

    await proxy.restore();
    await waitUntil('readiness to recover', async () => (await readiness()).status === 200);
    expect((await readiness()).dependencies).toMatchObject({ postgres: 'up', nats: 'down' });
  });

  it('when NATS is unreachable from the start, then it is ready, reports NATS down and signs users up', async () => {
    const database = await migratedDatabase();
    const logDir = await mkdtemp(join(tmpdir(), 'user-service-no-nats-'));
    const service = await spawnUserService(
      { DATABASE_URL: database.url, NATS_URL: `nats://127.0.0.1:${await freePort()}` },
      logDir,
    );
    const ready = await fetch(`${service.baseUrl}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toMatchObject({
      status: 'ready',
      dependencies: { postgres: 'up', nats: 'down' },
    });
    const response = await signUp(service.baseUrl, 'offline-start@example.com', 'Offline');
    expect(response.status).toBe(201);
    expect(await unpublishedCount(database)).toBe(1);
  });

  it('when DB_MIGRATE=false, then it leaves the schema alone, and the migrate command applies it by itself', async () => {
    const url = await createTestDatabase('no_migrate');
    const logDir = await mkdtemp(join(tmpdir(), 'user-service-no-migrate-'));
    const tables = async () => {
      const client = new pg.Client({ connectionString: url });
      await client.connect();
      const { rows } = await client.query<{ name: string }>(
        "SELECT tablename AS name FROM pg_tables WHERE schemaname = 'public' ORDER BY 1",
      );
      await client.end();
      return rows.map((row) => row.name);
    };
    const service = await spawnUserService(
      { DATABASE_URL: url, DB_MIGRATE: 'false', NATS_URL: `nats://127.0.0.1:${await freePort()}` },
      logDir,
    );
    expect(await tables()).toEqual([]);
    await service.process.stop();

    const { execFile } = await import('node:child_process');
    const migrate = fileURLToPath(new URL('../dist/cli/migrate.js', import.meta.url));
    const run = () =>
      new Promise<string>((resolve, reject) =>
        execFile(
          process.execPath,
          [migrate],
          { env: { ...process.env, DATABASE_URL: url } },
          (error, stdout) => (error ? reject(error) : resolve(stdout.trim())),
        ),
      );
    expect(await run()).toBe(
      'applied: 001-users-and-outbox, 002-login-failures, 003-outbox-hand-off',
    );
    expect(await tables()).toEqual(
      expect.arrayContaining(['knex_migrations', 'login_failures', 'outbox', 'users']),
    );
    expect(await run()).toBe('already up to date');
  });

  it('when its configuration is invalid, then it exits 2 (as the messaging-service does) with one readable line', async () => {
    const { execFile } = await import('node:child_process');
    const { fileURLToPath } = await import('node:url');
    const main = fileURLToPath(new URL('../dist/main.js', import.meta.url));
    const result = await new Promise<{ code: number | null; stderr: string }>((resolve) => {
      const child = execFile(
        process.execPath,
        [main],
        {
          env: {
            PATH: process.env.PATH,
            PORT: 'eighty',
            DATABASE_URL: 'mysql://nope',
            NATS_URL: 'http://x',
          },
        },
        (error, _stdout, stderr) => resolve({ code: error ? (child.exitCode ?? 1) : 0, stderr }),
      );
    });
    expect(result.code).toBe(2);
    const lines = result.stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^user-service: invalid configuration: /);
    expect(lines[0]).toContain('PORT');
    expect(lines[0]).toContain('DATABASE_URL');
    expect(lines[0]).toContain('NATS_URL');
  });
});
