import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createDatabase, NatsServer, type NatsServerOptions } from '@signup-flow/local-stack';
import { afterAll, inject } from 'vitest';
import { SmtpSink, type SmtpSinkOptions } from './smtp-sink.js';

const cleanups: Array<() => Promise<void>> = [];

afterAll(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** A fresh, empty database on the shared test cluster. */
export async function createTestDatabase(prefix = 'test'): Promise<string> {
  const name = `${prefix.replace(/[^a-z0-9_]/g, '_')}_${randomBytes(6).toString('hex')}`;
  return createDatabase(inject('postgresAdminUrl'), name);
}

/** A nats-server with JetStream of this test file's own, stopped after the file's tests. */
export async function startNatsServer(
  options: Pick<NatsServerOptions, 'users' | 'operator' | 'cluster' | 'tls'> = {},
): Promise<NatsServer> {
  const dir = await mkdtemp(join(tmpdir(), 'signup-flow-test-nats-'));
  const server = await NatsServer.start({ binary: inject('natsServerBinary'), dir, ...options });
  cleanups.push(async () => {
    await server.stop();
    await rm(dir, { recursive: true, force: true });
  });
  return server;
}

/** An SMTP sink of this test file's own, stopped after the file's tests. */
export async function startSmtpSink(options: SmtpSinkOptions = {}): Promise<SmtpSink> {
  const sink = await SmtpSink.start(options);
  onTestFileEnd(() => sink.stop());
  return sink;
}

/** Registers work to run after this file's tests, after servers started later are stopped. */
export function onTestFileEnd(cleanup: () => Promise<void>): void {
  cleanups.push(cleanup);
}
