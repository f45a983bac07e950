/**
 * Signup benchmark: signups/s and latency at a fixed concurrency against the built user-service
 * (a real process, real PostgreSQL and nats-server), next to the argon2id hashes/s this machine
 * manages in the same run (on both sides of the first phase), the outbox's commit→PubAck
 * latency, and where each phase's CPU went per signup (the hash, the rest of the service, each
 * server, the load generator: {@link CpuPerSignup}). With `--tracing both` (the default) it runs
 * once with OTEL_SDK_DISABLED=true and once exporting every span to a real Jaeger, to show what
 * tracing costs. With `--paced-rate N` a last phase signs up N users a
 * second (open loop, tracing on): latency and commit→PubAck below saturation.
 *
 *   npm run build && npm exec -- node services/user-service/bench/signup.ts \
 *     [--concurrency 16] [--seconds 20] [--tracing off|on|both] [--paced-rate 50] \
 *     [--summary file.json] [--cpu-prof dir]
 *
 * `npm run bench` runs it with `--summary` and prints its figures in one table with the others.
 */
import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { parseArgs, promisify } from 'node:util';
import {
  type CpuAccount,
  chartNodeOptions,
  percentile,
  runLoad,
  SERVICE_BENCH_OPTIONS,
  startBenchedService,
  startBenchServers,
  startCpuAccount,
  waitUntil,
} from '@signup-flow/local-stack';
import autocannon from 'autocannon';
import pg from 'pg';

const execFileAsync = promisify(execFile);

const { values } = parseArgs({
  options: {
    concurrency: { type: 'string', default: '16' },
    seconds: { type: 'string', default: '20' },
    tracing: { type: 'string', default: 'both' },
    'paced-rate': { type: 'string' },
    ...SERVICE_BENCH_OPTIONS,
  },
});
const concurrency = Number(values.concurrency);
const seconds = Number(values.seconds);
const pacedRate = values['paced-rate'] === undefined ? undefined : Number(values['paced-rate']);

/** A phase's load: as many requests as `concurrency` keeps in flight, or a fixed rate. */
type Load = { concurrency: number } | { rate: number };
const phases: Array<{ tracing: string; load: Load }> = [
  ...(values.tracing === 'both' ? ['off', 'on'] : [String(values.tracing)]).map((tracing) => ({
    tracing,
    load: { concurrency },
  })),
  ...(pacedRate === undefined ? [] : [{ tracing: 'on', load: { rate: pacedRate } }]),
];

const ms = (value: number) => `${value.toFixed(1)} ms`;

const ARGON2_RATE = fileURLToPath(new URL('./argon2-rate.ts', import.meta.url));

/** Hashes/s with the service's parameters, `inFlight` at a time, on a pool of `poolThreads`. */
async function hashRate(
  poolThreads: number,
  inFlight: number,
  durationMs: number,
): Promise<number> {
  const { stdout } = await execFileAsync(
    process.execPath,
    [ARGON2_RATE, '--in-flight', String(inFlight), '--ms', String(durationMs)],
    { env: { ...process.env, UV_THREADPOOL_SIZE: String(poolThreads) } },
  );
  return Number(stdout.trim());
}

/**
 * The machine's best, each in a fresh process, on a pool of one thread per CPU: one hash more than
 * the CPUs handed to it (the service as deployed: `userServiceHashingEnv`) and one per CPU; on
 * libuv's default pool of four, one per CPU (the service before its pool was sized) and four (an
 * unbounded caller).
 */
async function argon2Ceiling(durationMs: number): Promise<number> {
  const cpus = availableParallelism();
  const configurations = [
    { poolThreads: cpus, inFlight: cpus + 1 },
    { poolThreads: cpus, inFlight: cpus },
    { poolThreads: 4, inFlight: cpus },
    { poolThreads: 4, inFlight: 4 },
  ];
  const rates = [];
  for (const { poolThreads, inFlight } of configurations) {
    rates.push(await hashRate(poolThreads, inFlight, durationMs / configurations.length));
  }
  return Math.max(...rates);
}

// The heap settings the chart deploys the service with (`--node-options` overrides them).
const nodeOptions = values['node-options'] ?? (await chartNodeOptions('user-service'));
const servers = await startBenchServers('signup-bench', {
  withJaeger: phases.some((phase) => phase.tracing === 'on'),
});
const { postgres, nats } = servers;

let sequence = 0;

/** What one phase measured; `npm run bench` reads these from the summary file. */
interface SignupRun {
  tracing: string;
  /** Signups started per second (open loop); absent at full load. */
  pacedRate?: number;
  signupsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  failures: number;
  commitToPubAckP50Ms: number;
  commitToPubAckP99Ms: number;
  peakRssMiB: number;
  /** Where the phase's CPU went, in ms per signup; absent where /proc does not say. */
  cpuPerSignupMs?: CpuPerSignup;
}
const runs: SignupRun[] = [];

/**
 * A phase's CPU per signup, in ms, on the machine's shared cores: the hash (the service's libuv
 * pool), the rest of the service, the servers, the load generator (this process), and all of this
 * stack but the hash (`outsideHash`, the servers' supervisors included); then the whole machine's
 * busy time (other processes' too), idle time and time lost to its hypervisor. At full load
 * signups/s is the cores over the CPU per signup, so `hash / (hash + outsideHash)` is the share of
 * the hash ceiling this stack can reach. Tracing does not touch the hash, so what it costs shows in
 * `outsideHash`, free of the drift that moves the hash's own cost from phase to phase.
 */
interface CpuPerSignup {
  hash: number;
  eventLoop: number;
  serviceOther: number;
  postgres: number;
  nats: number;
  jaeger: number;
  loadGenerator: number;
  outsideHash: number;
  busy: number;
  idle: number;
  stolen: number;
}

function perSignup(account: CpuAccount, signups: number): CpuPerSignup | undefined {
  if (!account.machine || signups === 0) return undefined;
  const ms = (seconds: number) => (seconds * 1000) / signups;
  const { eventLoop, serviceOther, postgres, nats, jaeger, mailpit, bench, other } = account;
  return {
    hash: ms(account.libuvPool),
    eventLoop: ms(eventLoop),
    serviceOther: ms(serviceOther),
    postgres: ms(postgres),
    nats: ms(nats),
    jaeger: ms(jaeger),
    loadGenerator: ms(bench),
    outsideHash: ms(eventLoop + serviceOther + postgres + nats + jaeger + mailpit + bench + other),
    busy: ms(account.machine.busySeconds),
    idle: ms(account.machine.idleSeconds),
    stolen: ms(account.machine.stealSeconds),
  };
}

function describeCpu(cpu: CpuPerSignup): string {
  const f = (ms: number) => ms.toFixed(2);
  const stack = cpu.hash + cpu.outsideHash;
  return `CPU per signup: the hash ${f(cpu.hash)} ms, the rest of the stack ${f(cpu.outsideHash)} (event loop ${f(cpu.eventLoop)}, the service's other threads ${f(cpu.serviceOther)}, PostgreSQL ${f(cpu.postgres)}, NATS ${f(cpu.nats)}, Jaeger ${f(cpu.jaeger)}, load generator ${f(cpu.loadGenerator)}): the hash is ${((cpu.hash / stack) * 100).toFixed(0)} % of it; the machine busy ${f(cpu.busy)} (other processes ${f(cpu.busy - stack)}), idle ${f(cpu.idle)}, stolen ${f(cpu.stolen)}`;
}

/**
 * Full load for the phase's length: each of `concurrency` connections sends the next signup as
 * soon as its last is answered (keep-alive, no pipelining). autocannon, not fetch: the load
 * generator shares the cores it measures, and per request it costs a fifth of fetch's CPU.
 */
async function fullLoad(baseUrl: string) {
  const result = await autocannon({
    url: baseUrl,
    connections: concurrency,
    duration: seconds,
    requests: [
      {
        method: 'POST',
        path: '/v1/users',
        headers: { 'content-type': 'application/json' },
        setupRequest: (request) => ({
          ...request,
          body: JSON.stringify({
            email: `bench-${sequence++}@example.com`,
            password: 'benchmark password',
            name: 'Bench',
          }),
        }),
      },
    ],
  });
  return {
    created: result['2xx'],
    signupsPerSecond: result['2xx'] / result.duration,
    p50Ms: result.latency.p50,
    p99Ms: result.latency.p99,
    failures: result.non2xx + result.errors + result.timeouts,
  };
}

/** `rate` signups started a second, however slow the answers (the load test's generator). */
async function pacedLoad(baseUrl: string, rate: number) {
  const result = await runLoad({
    api: baseUrl,
    rate,
    durationSeconds: seconds,
    report: () => undefined,
  });
  return {
    created: result.created,
    signupsPerSecond: result.created / result.elapsedSeconds,
    p50Ms: result.p50Ms,
    p99Ms: result.p99Ms,
    failures: result.errors + result.dropped,
  };
}

async function measure(tracing: string, load: Load): Promise<void> {
  const label = 'rate' in load ? `paced_${load.rate}` : `tracing_${tracing}`;
  const databaseUrl = await postgres.createDatabase(`users_bench_${label}`);
  const service = await startBenchedService({
    service: 'user-service',
    label: `user-service-${label}`,
    servers,
    tracing: tracing === 'on',
    nodeOptions,
    cpuProfileDir: values['cpu-prof'],
    env: {
      DATABASE_URL: databaseUrl,
      NATS_URL: nats.url,
      JWT_SECRET: 'benchmark-secret-benchmark-secret-benchmark',
    },
  });
  try {
    const { baseUrl } = service;
    const cpuAccount = service.pid === undefined ? undefined : startCpuAccount(service.pid);
    const result = 'rate' in load ? await pacedLoad(baseUrl, load.rate) : await fullLoad(baseUrl);
    const cpu = cpuAccount && perSignup(cpuAccount(), result.created);
    const peakRss = service.peak().rssBytes;

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
      ...('rate' in load ? { pacedRate: load.rate } : {}),
      signupsPerSecond: result.signupsPerSecond,
      p50Ms: result.p50Ms,
      p99Ms: result.p99Ms,
      failures: result.failures,
      commitToPubAckP50Ms: percentile(toPubAck, 0.5),
      commitToPubAckP99Ms: percentile(toPubAck, 0.99),
      peakRssMiB: peakRss / 2 ** 20,
      ...(cpu ? { cpuPerSignupMs: cpu } : {}),
    });
    console.log(
      `tracing ${tracing.padEnd(3)}${'rate' in load ? `, paced at ${load.rate}/s` : ''}: ${result.signupsPerSecond.toFixed(1)} signups/s, p50 ${ms(result.p50Ms)}, p99 ${ms(result.p99Ms)}, ${result.failures} failed; commit→PubAck p50 ${ms(percentile(toPubAck, 0.5))}, p99 ${ms(percentile(toPubAck, 0.99))} (${toPubAck.length} events); peak RSS ${(peakRss / 2 ** 20).toFixed(0)} MiB`,
    );
    if (cpu) console.log(`  ${describeCpu(cpu)}`);
  } finally {
    await service.stop();
  }
}

try {
  console.log(
    `machine: ${availableParallelism()} cores; concurrency ${concurrency}; ${seconds} s per phase; NODE_OPTIONS=${nodeOptions}`,
  );
  // Measured on both sides of the first phase, whose ratio to it is the figure: the machine is
  // shared, and its speed drifts over minutes.
  const ceilingMs = Math.min(seconds, 10) * 1000;
  const before = await argon2Ceiling(ceilingMs);
  const [first, ...rest] = phases;
  if (first) await measure(first.tracing, first.load);
  const after = await argon2Ceiling(ceilingMs);
  const hashesPerSecond = (before + after) / 2;
  console.log(
    `argon2id (m=19456, t=2, p=1): ${hashesPerSecond.toFixed(1)} hashes/s at best (${before.toFixed(1)} before the first phase, ${after.toFixed(1)} after; signup's ceiling: one hash per signup)`,
  );
  for (const phase of rest) await measure(phase.tracing, phase.load);
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
