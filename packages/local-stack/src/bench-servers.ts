import { readFileSync } from 'node:fs';
import { chmod, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { userServiceHashingEnv } from './hashing-env.js';
import { type JaegerOnFreePorts, startJaegerOnFreePorts } from './http-servers.js';
import { ManagedProcess } from './managed-process.js';
import { NatsServer } from './nats-server.js';
import { freePort, waitUntil } from './ports.js';
import { PostgresServer } from './postgres-server.js';
import { processCpuSeconds } from './process-cpu.js';
import { ensureGoTool, GO_TOOLS } from './tools.js';

const REPO = fileURLToPath(new URL('../../../', import.meta.url));
const TELEMETRY_REGISTER = new URL('../../telemetry/dist/register.js', import.meta.url).href;

/** The real servers a benchmark runs a service against, in a temporary folder of their own. */
export interface BenchServers {
  dir: string;
  postgres: PostgresServer;
  nats: NatsServer;
  /** Only when tracing is measured. */
  jaeger?: JaegerOnFreePorts;
  /** For `OTEL_EXPORTER_OTLP_ENDPOINT`; empty without Jaeger. */
  otlpEndpoint: string;
  /** Stops everything; the folder (with the services' logs) is kept when `keepDir`. */
  stop(keepDir?: boolean): Promise<void>;
}

/** PostgreSQL, nats-server with JetStream and, when `withJaeger`, Jaeger, on free loopback ports. */
export async function startBenchServers(
  name: string,
  options: { withJaeger: boolean },
): Promise<BenchServers> {
  const dir = await mkdtemp(join(tmpdir(), `${name}-`));
  // As root, PostgreSQL runs as the postgres user, which must be able to reach its folder.
  await chmod(dir, 0o755);
  const postgres = await PostgresServer.start({ dir: join(dir, 'pg') });
  const nats = await NatsServer.start({
    binary: await ensureGoTool(GO_TOOLS.natsServer),
    dir: join(dir, 'nats'),
  });
  const jaeger = options.withJaeger
    ? await startJaegerOnFreePorts(await ensureGoTool(GO_TOOLS.jaeger), dir)
    : undefined;
  return {
    dir,
    postgres,
    nats,
    ...(jaeger ? { jaeger } : {}),
    otlpEndpoint: jaeger?.otlpHttpEndpoint ?? '',
    async stop(keepDir = false) {
      await jaeger?.stop();
      await nats.stop();
      await postgres.stop();
      if (!keepDir) await rm(dir, { recursive: true, force: true });
    },
  };
}

/**
 * Node's flags that make a benchmarked service write V8 CPU profiles into `<dir>/<name>/` as it
 * exits, one a thread (the main thread's is the largest). Open one in Chrome DevTools or
 * speedscope as a flame graph. None without `dir`.
 */
function cpuProfileFlags(dir: string | undefined, name: string): string[] {
  return dir ? ['--cpu-prof', `--cpu-prof-dir=${join(dir, name)}`] : [];
}

export interface BenchedServiceOptions {
  service: 'user-service' | 'messaging-service';
  /** Names its log file (in the servers' folder) and its CPU profiles' folder. */
  label: string;
  servers: BenchServers;
  /** Exports every span to the servers' Jaeger; off, OTEL_SDK_DISABLED=true. */
  tracing: boolean;
  /** Its NODE_OPTIONS: usually {@link chartNodeOptions}. */
  nodeOptions: string;
  /** Writes V8 CPU profiles into this folder when set. */
  cpuProfileDir: string | undefined;
  /** The service's own variables (database, NATS, SMTP, …). */
  env: Record<string, string>;
}

export interface BenchedService {
  baseUrl: string;
  /** The service process's pid (not its supervisor's); undefined where /proc does not say. */
  pid: number | undefined;
  /**
   * The highest resident memory so far (the kernel's own peak, VmHWM, where /proc has it; else
   * its /metrics), and the highest V8 heap in use, from its /metrics every second.
   */
  peak(): { rssBytes: number; heapUsedBytes: number };
  /**
   * CPU seconds the service process has used so far, all its threads (NaN off Linux): divided by
   * the work done between two readings, the CPU that work cost, which a shared machine's noise
   * moves far less than a throughput.
   */
  cpuSeconds(): number;
  /** Takes a last memory sample, then stops the process (SIGTERM; its profiles are written). */
  stop(): Promise<void>;
}

async function sampleMemory(baseUrl: string): Promise<{ rssBytes: number; heapUsedBytes: number }> {
  const text = await (await fetch(`${baseUrl}/metrics`)).text();
  const value = (name: string) => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1] ?? 0);
  return {
    rssBytes: value('process_resident_memory_bytes'),
    heapUsedBytes: value('nodejs_heap_size_used_bytes'),
  };
}

/** The pid of the service process the supervisor with `pid` runs; undefined where /proc does not say. */
function servicePidOf(supervisorPid: number | undefined): number | undefined {
  try {
    const children = readFileSync(`/proc/${supervisorPid}/task/${supervisorPid}/children`, 'utf8');
    const pid = Number(children.trim().split(/\s+/)[0]);
    return pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The kernel's peak resident memory (VmHWM) of the service process, in bytes; 0 where /proc does
 * not say (not Linux, or the process is gone). Exact, and free for the service: a scrape of its
 * /metrics costs it CPU the benchmark is measuring.
 */
function kernelPeakRss(servicePid: number | undefined): number {
  try {
    const status = readFileSync(`/proc/${servicePid}/status`, 'utf8');
    return Number(/^VmHWM:\s+(\d+) kB$/m.exec(status)?.[1] ?? 0) * 1024;
  } catch {
    return 0;
  }
}

/**
 * A built service as its image runs it (`node --import` the telemetry, then `dist/main.js`), with
 * the given heap settings, logging warnings only, on a free port; resolved once it is ready.
 */
export async function startBenchedService(options: BenchedServiceOptions): Promise<BenchedService> {
  const port = await freePort();
  const baseUrl = `http://127.0.0.1:${port}`;
  const child = new ManagedProcess({
    name: options.label,
    command: process.execPath,
    args: [
      ...cpuProfileFlags(options.cpuProfileDir, options.label),
      '--import',
      TELEMETRY_REGISTER,
      join(REPO, 'services', options.service, 'dist', 'main.js'),
    ],
    env: {
      ...(options.service === 'user-service' ? userServiceHashingEnv() : {}),
      ...process.env,
      PORT: String(port),
      LOG_LEVEL: 'warn',
      NODE_OPTIONS: options.nodeOptions,
      OTEL_SDK_DISABLED: String(!options.tracing),
      OTEL_EXPORTER_OTLP_ENDPOINT: options.servers.otlpEndpoint,
      OTEL_SERVICE_NAME: options.service,
      ...options.env,
    },
    logFile: join(options.servers.dir, `${options.label}.log`),
  });
  try {
    await waitUntil(options.label, async () => (await fetch(`${baseUrl}/readyz`)).ok);
  } catch (error) {
    await child.stop();
    throw error;
  }
  const servicePid = servicePidOf(child.pid);
  const peak = { rssBytes: 0, heapUsedBytes: 0 };
  const record = (sample: { rssBytes: number; heapUsedBytes: number }) => {
    peak.rssBytes = Math.max(peak.rssBytes, sample.rssBytes, kernelPeakRss(servicePid));
    peak.heapUsedBytes = Math.max(peak.heapUsedBytes, sample.heapUsedBytes);
  };
  const sampler = setInterval(() => {
    sampleMemory(baseUrl)
      .then(record)
      .catch(() => undefined);
  }, 1000);
  return {
    baseUrl,
    pid: servicePid,
    peak: () => ({ ...peak, rssBytes: Math.max(peak.rssBytes, kernelPeakRss(servicePid)) }),
    cpuSeconds: () => processCpuSeconds(servicePid),
    async stop() {
      clearInterval(sampler);
      record(await sampleMemory(baseUrl).catch(() => peak));
      await child.stop();
    },
  };
}

/** The options every service benchmark takes besides its own, for `parseArgs`. */
export const SERVICE_BENCH_OPTIONS = {
  /** A file: the figures as JSON, for `npm run bench`'s table. */
  summary: { type: 'string' },
  /** The service's NODE_OPTIONS instead of its chart's. */
  'node-options': { type: 'string' },
  /** A folder: the service writes V8 CPU profiles there as it stops. */
  'cpu-prof': { type: 'string' },
} as const;

/**
 * The `NODE_OPTIONS` a service's chart gives its containers (`nodeOptions` in
 * charts/<service>/values.yaml: the heap sized to the memory limit), so a benchmark measures the
 * service as it is deployed.
 */
export async function chartNodeOptions(
  service: 'user-service' | 'messaging-service',
): Promise<string> {
  const values = parse(await readFile(join(REPO, 'charts', service, 'values.yaml'), 'utf8')) as {
    nodeOptions?: unknown;
  };
  if (typeof values.nodeOptions !== 'string') {
    throw new Error(`charts/${service}/values.yaml has no nodeOptions string`);
  }
  return values.nodeOptions;
}
