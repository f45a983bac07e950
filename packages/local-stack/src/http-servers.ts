import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ManagedProcess } from './managed-process.js';
import { freePort, StopWaiting, waitUntil } from './ports.js';

export interface StartedServer {
  process: ManagedProcess;
  stop(): Promise<void>;
}

interface ServerSpec {
  name: string;
  command: string;
  args: string[];
  dir: string;
  /** A URL that answers 2xx once the server is ready. */
  readyUrl: string;
  env?: NodeJS.ProcessEnv;
}

async function startServer(spec: ServerSpec): Promise<StartedServer> {
  const process_ = new ManagedProcess({
    name: spec.name,
    command: spec.command,
    args: spec.args,
    logFile: join(spec.dir, `${spec.name}.log`),
    ...(spec.env ? { env: spec.env } : {}),
  });
  try {
    await waitUntil(
      `${spec.name} (log: ${process_.logFile})`,
      async () => {
        if (!process_.running)
          throw new StopWaiting(`${spec.name} exited:\n${await process_.finalLogTail()}`);
        return (await fetch(spec.readyUrl)).ok;
      },
      60_000,
      100,
    );
  } catch (error) {
    await process_.stop();
    throw error;
  }
  return { process: process_, stop: () => process_.stop() };
}

export interface MailpitOptions {
  binary: string;
  dir: string;
  smtpPort: number;
  httpPort: number;
}

/** Mailpit: an SMTP server that keeps every message, with a web inbox and an HTTP API. */
export function startMailpit(options: MailpitOptions): Promise<StartedServer> {
  return startServer({
    name: 'mailpit',
    command: options.binary,
    args: [
      '--smtp',
      `127.0.0.1:${options.smtpPort}`,
      '--listen',
      `127.0.0.1:${options.httpPort}`,
      '--database',
      join(options.dir, 'mailpit.db'),
      '--disable-version-check',
      '--smtp-auth-accept-any',
      '--smtp-auth-allow-insecure',
    ],
    dir: options.dir,
    readyUrl: `http://127.0.0.1:${options.httpPort}/readyz`,
  });
}

export interface JaegerOptions {
  binary: string;
  dir: string;
  /** UI and query API (`/api/v3/traces`). */
  queryPort: number;
  /** The query API over gRPC (its HTTP API is served through it). */
  queryGrpcPort: number;
  otlpHttpPort: number;
  otlpGrpcPort: number;
  /** Jaeger's own health endpoint. */
  healthPort: number;
}

/** Jaeger v2 with in-memory storage and an OTLP receiver. */
export async function startJaeger(options: JaegerOptions): Promise<StartedServer> {
  const config = join(options.dir, 'jaeger.yaml');
  await writeFile(
    config,
    `service:
  extensions: [jaeger_storage, jaeger_query, healthcheckv2]
  pipelines:
    traces:
      receivers: [otlp]
      processors: [batch]
      exporters: [jaeger_storage_exporter]
  telemetry:
    metrics:
      level: none
    traces:
      level: none
    logs:
      level: warn
extensions:
  healthcheckv2:
    use_v2: true
    http:
      endpoint: 127.0.0.1:${options.healthPort}
  jaeger_query:
    # On by default in Jaeger v2: its own query spans, over OTLP to localhost:4317 (or what the
    # standard variables name), and a stop that waits up to 10 s to flush them.
    enable_tracing: false
    storage:
      traces: memstore
    http:
      endpoint: 127.0.0.1:${options.queryPort}
    grpc:
      endpoint: 127.0.0.1:${options.queryGrpcPort}
  jaeger_storage:
    backends:
      memstore:
        memory:
          max_traces: 100000
receivers:
  otlp:
    protocols:
      grpc:
        endpoint: 127.0.0.1:${options.otlpGrpcPort}
      http:
        endpoint: 127.0.0.1:${options.otlpHttpPort}
processors:
  batch:
    timeout: 200ms
exporters:
  jaeger_storage_exporter:
    trace_storage: memstore
`,
  );
  return startServer({
    name: 'jaeger',
    command: options.binary,
    args: ['--config', config],
    dir: options.dir,
    readyUrl: `http://127.0.0.1:${options.healthPort}/status`,
  });
}

export interface PrometheusOptions {
  binary: string;
  dir: string;
  port: number;
  /** `job name → host:port` scraped at `/metrics`. */
  targets: Record<string, string>;
  scrapeIntervalSeconds?: number;
  /** Rule files to load. */
  ruleFiles?: string[];
  /** Labels every scraped series gets (e.g. the `namespace` the rules select). */
  targetLabels?: Record<string, string>;
}

/** Prometheus scraping the given targets, with its data in `dir`. */
export async function startPrometheus(options: PrometheusOptions): Promise<StartedServer> {
  const interval = `${options.scrapeIntervalSeconds ?? 5}s`;
  const config = join(options.dir, 'prometheus.yml');
  const labels = options.targetLabels
    ? `\n        labels: ${JSON.stringify(options.targetLabels)}`
    : '';
  const jobs = Object.entries(options.targets).map(
    ([job, target]) =>
      `  - job_name: ${JSON.stringify(job)}\n    static_configs:\n      - targets: [${JSON.stringify(target)}]${labels}`,
  );
  await writeFile(
    config,
    [
      'global:',
      `  scrape_interval: ${interval}`,
      `  evaluation_interval: ${interval}`,
      ...(options.ruleFiles?.length
        ? ['rule_files:', ...options.ruleFiles.map((file) => `  - ${JSON.stringify(file)}`)]
        : []),
      'scrape_configs:',
      ...jobs,
      '',
    ].join('\n'),
  );
  return startServer({
    name: 'prometheus',
    command: options.binary,
    args: [
      `--config.file=${config}`,
      `--storage.tsdb.path=${join(options.dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${options.port}`,
      '--enable-feature=exemplar-storage',
    ],
    dir: options.dir,
    readyUrl: `http://127.0.0.1:${options.port}/-/ready`,
  });
}

export interface JaegerOnFreePorts extends StartedServer {
  /** UI and query API, e.g. `${queryUrl}/api/v3/traces/{id}`. */
  queryUrl: string;
  /** For `OTEL_EXPORTER_OTLP_ENDPOINT`. */
  otlpHttpEndpoint: string;
}

/** A throw-away Jaeger (tests, benchmarks) on free loopback ports. */
export async function startJaegerOnFreePorts(
  binary: string,
  dir: string,
): Promise<JaegerOnFreePorts> {
  const [queryPort, queryGrpcPort, otlpHttpPort, otlpGrpcPort, healthPort] = await Promise.all(
    Array.from({ length: 5 }, () => freePort()),
  );
  const server = await startJaeger({
    binary,
    dir,
    queryPort: queryPort as number,
    queryGrpcPort: queryGrpcPort as number,
    otlpHttpPort: otlpHttpPort as number,
    otlpGrpcPort: otlpGrpcPort as number,
    healthPort: healthPort as number,
  });
  return {
    ...server,
    queryUrl: `http://127.0.0.1:${queryPort}`,
    otlpHttpEndpoint: `http://127.0.0.1:${otlpHttpPort}`,
  };
}
