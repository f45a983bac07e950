import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ManagedProcess } from './managed-process.js';
import { freePort, StopWaiting, waitUntil } from './ports.js';

export interface NatsServerOptions {
  /** The nats-server binary (see `ensureGoTool`). */
  binary: string;
  /** Holds the config, JetStream storage and log; kept across restarts. */
  dir: string;
  /** Client port; a free one by default. */
  port?: number;
  /** Monitoring (HTTP) port; a free one by default. */
  monitorPort?: number;
  host?: string;
  /** Joins a JetStream cluster: this node's name and route port, and every node's route port. */
  cluster?: NatsClusterOptions;
  /** Clients must log in as one of these (`authorization { users }`); anyone may connect without. */
  users?: NatsUser[];
  /** Clients must present a user JWT (a `.creds` file) issued under this operator's accounts. */
  operator?: NatsOperatorTrust;
  /** Clients must use TLS; with `verifyClients`, also present a certificate signed by `caFile`. */
  tls?: { certFile: string; keyFile: string; caFile: string; verifyClients?: boolean };
}

export interface NatsUser {
  user: string;
  password: string;
  /** What the user may publish and subscribe to; everything when absent. */
  permissions?: { publish: { allow: readonly string[] }; subscribe: { allow: readonly string[] } };
}

/** JWT ("decentralized") authentication with accounts preloaded in memory (`resolver: MEMORY`). */
export interface NatsOperatorTrust {
  operatorJwt: string;
  systemAccount: string;
  /** Account JWTs by account public key; the system account's included. */
  accountJwts: Record<string, string>;
}

export interface NatsClusterOptions {
  name: string;
  serverName: string;
  routePort: number;
  /** Route ports of all nodes (this one's included: nats-server ignores a route to itself). */
  routePorts: number[];
}

/**
 * A real nats-server with JetStream on file storage. `stop()` and `start()` keep the port and the
 * storage, so tests can take the broker away and bring it back with its streams intact.
 */
export class NatsServer {
  readonly port: number;
  readonly monitorPort: number;
  readonly host: string;
  readonly #options: NatsServerOptions;
  #process: ManagedProcess | undefined;

  private constructor(options: NatsServerOptions, port: number, monitorPort: number) {
    this.#options = options;
    this.port = port;
    this.monitorPort = monitorPort;
    this.host = options.host ?? '127.0.0.1';
  }

  static async start(options: NatsServerOptions): Promise<NatsServer> {
    const server = new NatsServer(
      options,
      options.port ?? (await freePort()),
      options.monitorPort ?? (await freePort()),
    );
    await server.start();
    return server;
  }

  get url(): string {
    return `nats://${this.host}:${this.port}`;
  }

  get monitorUrl(): string {
    return `http://${this.host}:${this.monitorPort}`;
  }

  /** Where the server writes its log (connections, permission violations, …). */
  get logFile(): string {
    return join(this.#options.dir, 'nats-server.log');
  }

  get running(): boolean {
    return this.#process?.running ?? false;
  }

  async start(): Promise<void> {
    if (this.running) return;
    const { dir } = this.#options;
    await mkdir(join(dir, 'jetstream'), { recursive: true });
    const configFile = join(dir, 'nats-server.conf');
    const cluster = this.#options.cluster;
    // sync_interval: always makes every acknowledged write durable (Jepsen 2025, NATS 2.12).
    await writeFile(
      configFile,
      [
        `host: ${JSON.stringify(this.host)}`,
        `port: ${this.port}`,
        `http: ${JSON.stringify(`${this.host}:${this.monitorPort}`)}`,
        ...(cluster ? [`server_name: ${JSON.stringify(cluster.serverName)}`] : []),
        ...(this.#options.users
          ? [
              'authorization {',
              // nats-server's config format accepts JSON for these values.
              `  users: ${JSON.stringify(this.#options.users)}`,
              '}',
            ]
          : []),
        ...(this.#options.operator ? operatorLines(this.#options.operator) : []),
        ...(this.#options.tls
          ? [
              'tls {',
              `  cert_file: ${JSON.stringify(this.#options.tls.certFile)}`,
              `  key_file: ${JSON.stringify(this.#options.tls.keyFile)}`,
              `  ca_file: ${JSON.stringify(this.#options.tls.caFile)}`,
              `  verify: ${this.#options.tls.verifyClients ?? false}`,
              '}',
            ]
          : []),
        'jetstream {',
        `  store_dir: ${JSON.stringify(join(dir, 'jetstream'))}`,
        '  sync_interval: always',
        '}',
        ...(cluster
          ? [
              'cluster {',
              `  name: ${JSON.stringify(cluster.name)}`,
              `  listen: ${JSON.stringify(`${this.host}:${cluster.routePort}`)}`,
              `  routes: [${cluster.routePorts.map((port) => JSON.stringify(`nats-route://${this.host}:${port}`)).join(', ')}]`,
              '}',
            ]
          : []),
        '',
      ].join('\n'),
    );
    const process = new ManagedProcess({
      name: 'nats-server',
      command: this.#options.binary,
      args: ['-c', configFile],
      logFile: this.logFile,
    });
    this.#process = process;
    await waitUntil(`nats-server on port ${this.port} (log: ${process.logFile})`, async () => {
      if (!process.running)
        throw new StopWaiting(`nats-server exited:\n${await process.finalLogTail()}`);
      // Only that JetStream runs: a cluster's first node has no meta leader until others join.
      const response = await fetch(`${this.monitorUrl}/healthz?js-enabled-only=true`);
      return response.ok;
    });
  }

  async stop(): Promise<void> {
    await this.#process?.stop();
  }

  /** Kills the server with SIGKILL (storage survives, as after a crash). */
  async kill(): Promise<void> {
    await this.#process?.kill();
  }
}

function operatorLines({ operatorJwt, systemAccount, accountJwts }: NatsOperatorTrust): string[] {
  return [
    `operator: ${JSON.stringify(operatorJwt)}`,
    `system_account: ${JSON.stringify(systemAccount)}`,
    'resolver: MEMORY',
    'resolver_preload: {',
    ...Object.entries(accountJwts).map(([account, jwt]) => `  ${account}: ${JSON.stringify(jwt)}`),
    '}',
  ];
}
