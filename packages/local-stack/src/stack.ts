import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { NATS_PERMISSIONS } from '@signup-flow/nats';
import pg from 'pg';
import { renderChartAlertRules } from './alert-rules.js';
import { userServiceHashingEnv } from './hashing-env.js';
import { type StartedServer, startJaeger, startMailpit, startPrometheus } from './http-servers.js';
import { ManagedProcess } from './managed-process.js';
import { NatsServer } from './nats-server.js';
import { isPortOpen, StopWaiting, waitUntil } from './ports.js';
import { PostgresServer } from './postgres-server.js';
import { ensureGoTool, GO_TOOLS } from './tools.js';

const run = promisify(execFile);
const REPO = fileURLToPath(new URL('../../../', import.meta.url));
/** What the charts' alert rules select as `namespace`, given to every series scraped locally. */
const LOCAL_NAMESPACE = 'local';
const TELEMETRY_REGISTER = new URL('../../telemetry/dist/register.js', import.meta.url).href;

/** Ports of the local stack; each can be overridden by the environment variable named in PORT_VARIABLES. */
export interface StackPorts {
  userService: number;
  messagingService: number;
  inbox: number;
  smtp: number;
  jaeger: number;
  jaegerGrpc: number;
  otlpHttp: number;
  otlpGrpc: number;
  jaegerHealth: number;
  prometheus: number;
  postgres: number;
  nats: number;
  natsMonitor: number;
}

export const PORT_VARIABLES: Record<keyof StackPorts, [variable: string, fallback: number]> = {
  userService: ['USER_SERVICE_PORT', 8080],
  messagingService: ['MESSAGING_SERVICE_PORT', 8081],
  inbox: ['INBOX_PORT', 8025],
  smtp: ['SMTP_PORT', 1025],
  jaeger: ['JAEGER_PORT', 16686],
  jaegerGrpc: ['JAEGER_GRPC_PORT', 16685],
  otlpHttp: ['OTLP_HTTP_PORT', 4318],
  otlpGrpc: ['OTLP_GRPC_PORT', 4317],
  jaegerHealth: ['JAEGER_HEALTH_PORT', 13133],
  prometheus: ['PROMETHEUS_PORT', 9090],
  postgres: ['POSTGRES_PORT', 55432],
  nats: ['NATS_PORT', 4222],
  natsMonitor: ['NATS_MONITOR_PORT', 8222],
};

export function stackPorts(env: NodeJS.ProcessEnv): StackPorts {
  const ports = {} as StackPorts;
  for (const [key, [variable, fallback]] of Object.entries(PORT_VARIABLES)) {
    const value = env[variable];
    const port = value === undefined ? fallback : Number(value);
    if (!Number.isInteger(port) || port < 1 || port > 65535) {
      throw new Error(`${variable} must be a port number, not ${JSON.stringify(value)}`);
    }
    ports[key as keyof StackPorts] = port;
  }
  return ports;
}

export interface StackOptions {
  /** Holds every server's state and logs; kept across restarts. */
  stateDir: string;
  ports: StackPorts;
  /** Use this PostgreSQL server (superuser URL) instead of starting one. */
  databaseUrl?: string;
  progress: (line: string) => void;
  /** Called when a part exits on its own after it was ready. */
  onCrash: (name: string, logFile: string) => void;
}

export interface StackUrls {
  api: string;
  inbox: string;
  jaeger: string;
  prometheus?: string;
  userServiceMetrics: string;
  messagingServiceMetrics: string;
  postgres: string;
  nats: string;
}

interface Stoppable {
  name: string;
  stop(): Promise<void>;
  /** Whether it still runs (a part stopped before its turn means the order was not kept). */
  running(): boolean;
  /** The process behind the part, watched for crashes once it is ready. */
  process?: ManagedProcess;
}

async function findOnPath(binary: string): Promise<string | undefined> {
  try {
    const { stdout } = await run('sh', ['-c', `command -v ${binary}`]);
    return stdout.trim() || undefined;
  } catch {
    return undefined;
  }
}

async function ensureDatabase(adminUrl: string, name: string): Promise<string> {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    const { rowCount } = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    if (!rowCount) await client.query(`CREATE DATABASE ${name}`);
  } finally {
    await client.end();
  }
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return url.toString();
}

/** A secret that survives restarts of the stack (tokens stay valid), made on first start. */
async function persistentSecret(file: string): Promise<string> {
  if (existsSync(file)) return (await readFile(file, 'utf8')).trim();
  const secret = randomBytes(32).toString('base64url');
  await writeFile(file, `${secret}\n`, { mode: 0o600 });
  return secret;
}

/**
 * The whole system on loopback: PostgreSQL, nats-server, Mailpit, Jaeger, Prometheus (when
 * installed) and both services, started in dependency order and stopped in reverse.
 */
export class LocalStack {
  readonly #started: Stoppable[] = [];
  readonly #options: StackOptions;
  #stopping = false;
  urls: StackUrls | undefined;

  constructor(options: StackOptions) {
    this.#options = options;
  }

  async #step<T extends Stoppable | undefined>(what: string, start: () => Promise<T>): Promise<T> {
    const began = Date.now();
    this.#options.progress(`▸ ${what}…`);
    const started = await start();
    if (started) {
      this.#started.push(started);
      const watched = started.process;
      void watched?.exited().then(() => {
        if (!this.#stopping) this.#options.onCrash(started.name, watched.logFile);
      });
    }
    this.#options.progress(`  ${what}: ready in ${((Date.now() - began) / 1000).toFixed(1)} s`);
    return started;
  }

  /** A {@link #step} for a server that keeps its state in its own folder of the state directory. */
  #serverStep(
    what: string,
    name: string,
    folder: string,
    start: (dir: string) => Promise<StartedServer>,
  ): Promise<Stoppable> {
    return this.#step(what, async () => {
      const dir = join(this.#options.stateDir, folder);
      await mkdir(dir, { recursive: true });
      const server = await start(dir);
      return { name, ...server, running: () => server.process.running };
    });
  }

  async start(): Promise<StackUrls> {
    const { stateDir, ports, progress } = this.#options;
    await mkdir(join(stateDir, 'logs'), { recursive: true });

    const busy = [];
    for (const [key, port] of Object.entries(ports)) {
      if (key === 'postgres' && this.#options.databaseUrl) continue;
      if (key === 'prometheus' && !(await findOnPath('prometheus'))) continue;
      if (await isPortOpen(port))
        busy.push(`${port} (${PORT_VARIABLES[key as keyof StackPorts][0]})`);
    }
    if (busy.length > 0) {
      throw new Error(
        `these ports are already in use: ${busy.join(', ')}. Stop what uses them, or move the stack with the variables named.`,
      );
    }

    progress('▸ tools (pinned; built into .tools/ on first use)…');
    const prometheusBinary = await findOnPath('prometheus');
    const [natsBinary, mailpitBinary, jaegerBinary, helmBinary] = await Promise.all([
      ensureGoTool(GO_TOOLS.natsServer, progress),
      ensureGoTool(GO_TOOLS.mailpit, progress),
      ensureGoTool(GO_TOOLS.jaeger, progress),
      // Only to render the charts' alert rules for Prometheus.
      prometheusBinary ? ensureGoTool(GO_TOOLS.helm, progress) : undefined,
    ]);

    let adminUrl = this.#options.databaseUrl;
    if (!adminUrl) {
      const postgres = await this.#step('PostgreSQL', async () => {
        const server = await PostgresServer.start({
          dir: join(stateDir, 'postgres'),
          port: ports.postgres,
        });
        return {
          name: 'PostgreSQL',
          server,
          stop: () => server.stop(),
          running: () => server.running,
        };
      });
      adminUrl = postgres.server.url();
    }
    const usersDb = await ensureDatabase(adminUrl, 'signup_users');
    const messagingDb = await ensureDatabase(adminUrl, 'signup_messaging');

    // Each service logs in as its own user with only the permissions it needs, as on a cluster
    // (k8s/nats/values.yaml); `admin` may do anything, for people and the DLQ tool.
    const natsPasswords = {
      'user-service': await persistentSecret(join(stateDir, 'nats-user-service-password')),
      'messaging-service': await persistentSecret(
        join(stateDir, 'nats-messaging-service-password'),
      ),
      admin: await persistentSecret(join(stateDir, 'nats-admin-password')),
    };
    const nats = await this.#step('NATS JetStream', async () => {
      const server = await NatsServer.start({
        binary: natsBinary,
        dir: join(stateDir, 'nats'),
        port: ports.nats,
        monitorPort: ports.natsMonitor,
        users: [
          ...Object.entries(NATS_PERMISSIONS).map(([user, permissions]) => ({
            user,
            password: natsPasswords[user as keyof typeof NATS_PERMISSIONS],
            permissions,
          })),
          { user: 'admin', password: natsPasswords.admin },
        ],
      });
      return { name: 'NATS', server, stop: () => server.stop(), running: () => server.running };
    });

    await this.#serverStep('Mailpit (SMTP and web inbox)', 'Mailpit', 'mailpit', (dir) =>
      startMailpit({ binary: mailpitBinary, dir, smtpPort: ports.smtp, httpPort: ports.inbox }),
    );

    await this.#serverStep('Jaeger', 'Jaeger', 'jaeger', (dir) =>
      startJaeger({
        binary: jaegerBinary,
        dir,
        queryPort: ports.jaeger,
        queryGrpcPort: ports.jaegerGrpc,
        otlpHttpPort: ports.otlpHttp,
        otlpGrpcPort: ports.otlpGrpc,
        healthPort: ports.jaegerHealth,
      }),
    );

    if (prometheusBinary) {
      await this.#serverStep('Prometheus', 'Prometheus', 'prometheus', async (dir) =>
        startPrometheus({
          binary: prometheusBinary,
          dir,
          port: ports.prometheus,
          ruleFiles: await renderChartAlertRules({
            helm: helmBinary as string,
            dir: join(dir, 'rules'),
            charts: ['user-service', 'messaging-service'],
            namespace: LOCAL_NAMESPACE,
          }),
          targetLabels: { namespace: LOCAL_NAMESPACE },
          targets: {
            'user-service': `127.0.0.1:${ports.userService}`,
            'messaging-service': `127.0.0.1:${ports.messagingService}`,
          },
        }),
      );
    } else {
      progress('  Prometheus: not installed, skipped (Debian/Ubuntu: apt-get install prometheus)');
    }

    const common = {
      ...process.env,
      NATS_URL: nats.server.url,
      LOG_LEVEL: process.env.LOG_LEVEL ?? 'info',
      OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${ports.otlpHttp}`,
      OTEL_RESOURCE_ATTRIBUTES: 'deployment.environment.name=local',
    };
    const jwtSecret = await persistentSecret(join(stateDir, 'jwt-secret'));
    await this.#step('user-service', () =>
      this.#startService('user-service', ports.userService, {
        ...userServiceHashingEnv(),
        ...common,
        NATS_USER: 'user-service',
        NATS_PASSWORD: natsPasswords['user-service'],
        DATABASE_URL: usersDb,
        JWT_SECRET: jwtSecret,
        OTEL_SERVICE_NAME: 'user-service',
      }),
    );
    await this.#step('messaging-service', () =>
      this.#startService('messaging-service', ports.messagingService, {
        ...common,
        NATS_USER: 'messaging-service',
        NATS_PASSWORD: natsPasswords['messaging-service'],
        DATABASE_URL: messagingDb,
        SMTP_URL: `smtp://127.0.0.1:${ports.smtp}`,
        MAIL_FROM: 'signup-flow <welcome@signup-flow.local>',
        OTEL_SERVICE_NAME: 'messaging-service',
      }),
    );

    this.urls = {
      api: `http://127.0.0.1:${ports.userService}`,
      inbox: `http://127.0.0.1:${ports.inbox}`,
      jaeger: `http://127.0.0.1:${ports.jaeger}`,
      ...(prometheusBinary ? { prometheus: `http://127.0.0.1:${ports.prometheus}` } : {}),
      userServiceMetrics: `http://127.0.0.1:${ports.userService}/metrics`,
      messagingServiceMetrics: `http://127.0.0.1:${ports.messagingService}/metrics`,
      postgres: adminUrl,
      nats: nats.server.url,
    };
    return this.urls;
  }

  async #startService(name: string, port: number, env: NodeJS.ProcessEnv): Promise<Stoppable> {
    const main = join(REPO, 'services', name, 'dist', 'main.js');
    const service = new ManagedProcess({
      name,
      command: process.execPath,
      // As `npm run serve:*` does: telemetry first, so its hooks patch the modules the service loads.
      args: ['--enable-source-maps', '--import', TELEMETRY_REGISTER, main],
      env: { ...env, HOST: '127.0.0.1', PORT: String(port) },
      logFile: join(this.#options.stateDir, 'logs', `${name}.log`),
    });
    try {
      await waitUntil(
        `${name} (log: ${service.logFile})`,
        async () => {
          if (!service.running)
            throw new StopWaiting(`${name} exited:\n${await service.finalLogTail()}`);
          return (await fetch(`http://127.0.0.1:${port}/readyz`)).ok;
        },
        60_000,
        100,
      );
    } catch (error) {
      await service.stop();
      throw error;
    }
    return { name, stop: () => service.stop(), process: service, running: () => service.running };
  }

  /** Stops everything that started, in reverse order. */
  async stop(): Promise<void> {
    this.#stopping = true;
    for (const part of this.#started.splice(0).reverse()) {
      if (!part.running()) {
        this.#options.progress(`  ${part.name} had already exited`);
        continue;
      }
      const began = Date.now();
      await part.stop().then(
        () =>
          this.#options.progress(
            `  ${part.name} stopped (${((Date.now() - began) / 1000).toFixed(1)} s)`,
          ),
        (error: unknown) => this.#options.progress(`  could not stop ${part.name}: ${error}`),
      );
    }
  }
}
