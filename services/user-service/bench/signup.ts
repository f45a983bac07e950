/**
 * Signup benchmark: signups/s and latency at a fixed concurrency against the built user-service
 * (a real process, real PostgreSQL and nats-server), next to the argon2id hashes/s this machine
 * manages in the same run, and the outbox's commit→PubAck latency.
 *
 *   npm run build && node services/user-service/bench/signup.ts [--concurrency 16] [--seconds 20]
 */
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { hash } from '@node-rs/argon2';
import {
  ensureGoTool,
  freePort,
  GO_TOOLS,
  ManagedProcess,
  NatsServer,
  PostgresServer,
  waitUntil,
} from '@signup-flow/local-stack';
import pg from 'pg';

const { values } = parseArgs({
  options: {
    concurrency: { type: 'string', default: '16' },
    seconds: { type: 'string', default: '20' },
  },
});
const concurrency = Number(values.concurrency);
const seconds = Number(values.seconds);

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
}

const ms = (value: number) => `${value.toFixed(1)} ms`;

/** Hashes/s with the service's parameters, on as many threads as libuv offers. */
async function argon2Ceiling(durationMs: number): Promise<number> {
  const parameters = { memoryCost: 19_456, timeCost: 2, parallelism: 1 };
  const deadline = Date.now() + durationMs;
  let hashes = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (Date.now() < deadline) {
        await hash('benchmark password', parameters);
        hashes += 1;
      }
    }),
  );
  return hashes / (durationMs / 1000);
}

const dir = await mkdtemp(join(tmpdir(), 'signup-bench-'));
// As root, PostgreSQL runs as the postgres user, which must be able to reach its folder.
await chmod(dir, 0o755);
const natsBinary = await ensureGoTool(GO_TOOLS.natsServer);
const postgres = await PostgresServer.start({ dir: join(dir, 'pg') });
const nats = await NatsServer.start({ binary: natsBinary, dir: join(dir, 'nats') });
const databaseUrl = await postgres.createDatabase('users_bench');
const port = await freePort();
const service = new ManagedProcess({
  name: 'user-service',
  command: process.execPath,
  args: [new URL('../dist/main.js', import.meta.url).pathname],
  env: {
    ...process.env,
    PORT: String(port),
    DATABASE_URL: databaseUrl,
    NATS_URL: nats.url,
    LOG_LEVEL: 'warn',
    JWT_SECRET: 'benchmark-secret-benchmark-secret-benchmark',
  },
  logFile: join(dir, 'user-service.log'),
});
const baseUrl = `http://127.0.0.1:${port}`;

try {
  await waitUntil('user-service', async () => (await fetch(`${baseUrl}/readyz`)).ok);
  console.log(
    `machine: ${availableParallelism()} cores; concurrency ${concurrency}; ${seconds} s per phase`,
  );

  const hashesPerSecond = await argon2Ceiling(Math.min(seconds, 10) * 1000);

  const latencies: number[] = [];
  let failures = 0;
  let sequence = 0;
  const started = performance.now();
  const deadline = started + seconds * 1000;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < deadline) {
        const body = JSON.stringify({
          email: `bench-${sequence++}@example.com`,
          password: 'benchmark password',
          name: 'Bench',
        });
        const sent = performance.now();
        const response = await fetch(`${baseUrl}/v1/users`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body,
        });
        await response.arrayBuffer();
        if (response.status === 201) latencies.push(performance.now() - sent);
        else failures += 1;
      }
    }),
  );
  const elapsed = (performance.now() - started) / 1000;
  latencies.sort((a, b) => a - b);

  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  await waitUntil(
    'outbox drained',
    async () => {
      const { rows } = await client.query(
        'SELECT count(*)::int AS n FROM outbox WHERE published_at IS NULL',
      );
      return rows[0].n === 0;
    },
    120_000,
    200,
  );
  const { rows } = await client.query<{ ms: number }>(
    'SELECT extract(epoch FROM published_at - created_at)::float8 * 1000 AS ms FROM outbox ORDER BY 1',
  );
  await client.end();
  const toPubAck = rows.map((row) => row.ms);

  console.log(
    `argon2id (m=19456, t=2, p=1): ${hashesPerSecond.toFixed(1)} hashes/s (signup's ceiling)`,
  );
  console.log(
    `signups: ${(latencies.length / elapsed).toFixed(1)}/s, p50 ${ms(percentile(latencies, 50))}, p99 ${ms(percentile(latencies, 99))}, ${failures} failed`,
  );
  console.log(
    `commit→PubAck (outbox created_at → published_at): p50 ${ms(percentile(toPubAck, 50))}, p99 ${ms(percentile(toPubAck, 99))} over ${toPubAck.length} events`,
  );
} finally {
  await service.stop();
  await nats.stop();
  await postgres.stop();
  await rm(dir, { recursive: true, force: true });
}
