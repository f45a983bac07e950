/**
 * Signup benchmark: signups/s and latency at a fixed concurrency against the built user-service
 * (a real process, real PostgreSQL and nats-server), next to the argon2id hashes/s this machine
 * manages in the same run, and the outbox's commit→PubAck latency. With `--tracing both` (the
 * default) it runs once with OTEL_SDK_DISABLED=true and once exporting every span to a real
 * Jaeger, to show what tracing costs.
 *
 *   npm run build && npm exec -- node services/user-service/bench/signup.ts \
 *     [--concurrency 16] [--seconds 20] [--tracing off|on|both] [--summary file.json]
 *
 * `npm run bench` runs it with `--summary` and prints its figures in one table with the others.
 */
import { writeFile } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { hash } from '@node-rs/argon2';
import { freePort, ManagedProcess, startBenchServers, waitUntil } from '@signup-flow/local-stack';
import pg from 'pg';

const { values } = parseArgs({
  options: {
    concurrency: { type: 'string', default: '16' },
    seconds: { type: 'string', default: '20' },
    tracing: { type: 'string', default: 'both' },
    summary: { type: 'string' },
  },
});
const concurrency = Number(values.concurrency);
const seconds = Number(values.seconds);
const variants = values.tracing === 'both' ? ['off', 'on'] : [String(values.tracing)];

const MAIN = new URL('../dist/main.js', import.meta.url).pathname;
const TELEMETRY = new URL('../../../packages/telemetry/dist/register.js', import.meta.url).href;

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
}

const ms = (value: number) => `${value.toFixed(1)} ms`;

/** Hashes/s with the service's parameters, as many at once as the load has requests. */
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

const servers = await startBenchServers('signup-bench', { withJaeger: variants.includes('on') });
const { dir, postgres, nats, otlpEndpoint } = servers;

let sequence = 0;

/** What one phase measured; `npm run bench` reads these from the summary file. */
interface SignupRun {
  tracing: string;
  signupsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  failures: number;
  commitToPubAckP50Ms: number;
  commitToPubAckP99Ms: number;
  peakRssMiB: number;
}
const runs: SignupRun[] = [];

/** The service's resident memory, from its own metrics. */
async function rssBytes(baseUrl: string): Promise<number> {
  const text = await (await fetch(`${baseUrl}/metrics`)).text();
  return Number(/^process_resident_memory_bytes (\S+)$/m.exec(text)?.[1] ?? 0);
}

async function measure(tracing: string): Promise<void> {
  const databaseUrl = await postgres.createDatabase(`users_bench_tracing_${tracing}`);
  const port = await freePort();
  const service = new ManagedProcess({
    name: 'user-service',
    command: process.execPath,
    args: ['--import', TELEMETRY, MAIN],
    env: {
      ...process.env,
      PORT: String(port),
      DATABASE_URL: databaseUrl,
      NATS_URL: nats.url,
      LOG_LEVEL: 'warn',
      JWT_SECRET: 'benchmark-secret-benchmark-secret-benchmark',
      OTEL_SDK_DISABLED: tracing === 'on' ? 'false' : 'true',
      OTEL_EXPORTER_OTLP_ENDPOINT: otlpEndpoint,
      OTEL_SERVICE_NAME: 'user-service',
    },
    logFile: join(dir, `user-service-${tracing}.log`),
  });
  const baseUrl = `http://127.0.0.1:${port}`;
  try {
    await waitUntil('user-service', async () => (await fetch(`${baseUrl}/readyz`)).ok);
    let peakRss = 0;
    const sampler = setInterval(() => {
      rssBytes(baseUrl)
        .then((bytes) => {
          peakRss = Math.max(peakRss, bytes);
        })
        .catch(() => undefined);
    }, 250);
    const latencies: number[] = [];
    let failures = 0;
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
    clearInterval(sampler);
    peakRss = Math.max(peakRss, await rssBytes(baseUrl));
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
    runs.push({
      tracing,
      signupsPerSecond: latencies.length / elapsed,
      p50Ms: percentile(latencies, 50),
      p99Ms: percentile(latencies, 99),
      failures,
      commitToPubAckP50Ms: percentile(toPubAck, 50),
      commitToPubAckP99Ms: percentile(toPubAck, 99),
      peakRssMiB: peakRss / 2 ** 20,
    });
    console.log(
      `tracing ${tracing.padEnd(3)}: ${(latencies.length / elapsed).toFixed(1)} signups/s, p50 ${ms(percentile(latencies, 50))}, p99 ${ms(percentile(latencies, 99))}, ${failures} failed; commit→PubAck p50 ${ms(percentile(toPubAck, 50))}, p99 ${ms(percentile(toPubAck, 99))} (${toPubAck.length} events); peak RSS ${(peakRss / 2 ** 20).toFixed(0)} MiB`,
    );
  } finally {
    await service.stop();
  }
}

try {
  console.log(
    `machine: ${availableParallelism()} cores; concurrency ${concurrency}; ${seconds} s per phase`,
  );
  const hashesPerSecond = await argon2Ceiling(Math.min(seconds, 10) * 1000);
  console.log(
    `argon2id (m=19456, t=2, p=1): ${hashesPerSecond.toFixed(1)} hashes/s (signup's ceiling: one hash per signup)`,
  );
  for (const tracing of variants) await measure(tracing);
  if (values.summary) {
    await writeFile(
      values.summary,
      JSON.stringify({
        cores: availableParallelism(),
        concurrency,
        argon2HashesPerSecond: hashesPerSecond,
        runs,
      }),
    );
  }
} finally {
  await servers.stop();
}
