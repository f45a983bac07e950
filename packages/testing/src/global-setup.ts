import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureGoTool, GO_TOOLS, PostgresServer } from '@signup-flow/local-stack';
import type { TestProject } from 'vitest/node';

declare module 'vitest' {
  export interface ProvidedContext {
    /** Superuser URL of the shared test cluster; each test file creates its own database. */
    postgresAdminUrl: string;
    /** Path of the pinned nats-server; each test file starts its own server. */
    natsServerBinary: string;
  }
}

/** Starts what every integration test shares: one PostgreSQL cluster and the nats-server binary. */
export default async function setup(project: TestProject) {
  const natsServerBinary = await ensureGoTool(GO_TOOLS.natsServer);
  const dir = await mkdtemp(join(tmpdir(), 'signup-flow-test-pg-'));
  const postgres = await PostgresServer.start({ dir, fast: true });
  project.provide('postgresAdminUrl', postgres.url());
  project.provide('natsServerBinary', natsServerBinary);
  return async () => {
    await postgres.stop();
    await rm(dir, { recursive: true, force: true });
  };
}
