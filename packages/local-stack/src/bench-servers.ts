import { chmod, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { type JaegerOnFreePorts, startJaegerOnFreePorts } from './http-servers.js';
import { NatsServer } from './nats-server.js';
import { PostgresServer } from './postgres-server.js';
import { ensureGoTool, GO_TOOLS } from './tools.js';

const REPO = fileURLToPath(new URL('../../../', import.meta.url));

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
 * exits, one a thread (with tracing on, the ESM loader's thread writes its own; the main thread's
 * is the largest). Open one in Chrome DevTools or speedscope as a flame graph. None without `dir`.
 */
export function cpuProfileFlags(dir: string | undefined, name: string): string[] {
  return dir ? ['--cpu-prof', `--cpu-prof-dir=${join(dir, name)}`] : [];
}

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

/** The options every service benchmark takes besides its own, for `parseArgs`. */
export const SERVICE_BENCH_OPTIONS = {
  /** A file: the figures as JSON, for `npm run bench`'s table. */
  summary: { type: 'string' },
  /** The service's NODE_OPTIONS instead of its chart's. */
  'node-options': { type: 'string' },
  /** A folder: the service writes V8 CPU profiles there as it stops ({@link cpuProfileFlags}). */
  'cpu-prof': { type: 'string' },
} as const;
