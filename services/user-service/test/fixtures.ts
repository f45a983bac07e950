import { Writable } from 'node:stream';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { STREAMS } from '@signup-flow/events';
import { createNatsTracing } from '@signup-flow/instrumentation-nats';
import { type NatsServer, waitUntil } from '@signup-flow/local-stack';
import { type NatsLink, openNatsLink } from '@signup-flow/nats';
import { createDatabase, migrateToLatest } from '@signup-flow/postgres';
import {
  createLogger,
  createMetricsRegistry,
  type RunningHttpServer,
} from '@signup-flow/service-runtime';
import {
  createTestDatabase,
  createUsersStream,
  onTestFileEnd,
  readStream,
  type ServedService,
  serve,
  signUp,
  startNatsServer,
} from '@signup-flow/testing';
import type { Knex } from 'knex';
import { afterEach, beforeAll, beforeEach, expect } from 'vitest';
import { loadSettings } from '../src/config.js';
import { MIGRATIONS } from '../src/data/migrations.js';
import type { LoginThrottleLimits } from '../src/domain/login-throttle.js';
import { createOutboxMetrics, type OutboxMetrics } from '../src/outbox/metrics.js';
import { OutboxNotifyListener } from '../src/outbox/notify-listener.js';
import { OutboxPruner } from '../src/outbox/pruner.js';
import { OutboxRelay } from '../src/outbox/relay.js';
import { startUserService } from '../src/service.js';

export const TEST_JWT_SECRET = 'a-test-only-secret-of-at-least-32-characters';
/** The key before TEST_JWT_SECRET, still accepted as during a rotation. */
export const TEST_JWT_SECRET_PREVIOUS = 'the-previous-test-secret-of-32-characters-or-more';

/** A logger that keeps its lines, so tests can assert what was (not) logged. */
export function capturingLogger() {
  const lines: string[] = [];
  const destination = new Writable({
    write(chunk, _encoding, callback) {
      lines.push(...String(chunk).split('\n').filter(Boolean));
      callback();
    },
  });
  return { logger: createLogger({ service: 'user-service', level: 'debug', destination }), lines };
}

export interface MigratedDatabase {
  url: string;
  db: Knex;
}

export async function migratedDatabase(): Promise<MigratedDatabase> {
  const url = await createTestDatabase('user_service');
  const db = createDatabase({ url, poolMax: 30, applicationName: 'user-service test' });
  await migrateToLatest(db, MIGRATIONS);
  onTestFileEnd(() => db.destroy());
  return { url, db };
}

export interface InProcessService {
  baseUrl: string;
  server: RunningHttpServer;
  logLines: string[];
  /** Stops it as SIGTERM does: in-flight requests and publishes finish first. */
  stop(): Promise<void>;
}

export interface ApiOptions {
  /** The nats-server it publishes to; none by default, so the outbox keeps every event. */
  natsUrl?: string;
  /** The login throttle's limits; the production defaults unless given. */
  loginThrottle?: Partial<LoginThrottleLimits>;
  trustProxy?: boolean;
}

/**
 * The user-service in this process, wired by its own composition root (`service.ts`) from the
 * same environment variables a deployment sets, on a free port. Unless given `natsUrl`, NATS
 * points nowhere, so its relay never publishes: these tests see the outbox as the API left it
 * (relays are started apart).
 */
export async function startApi(
  databaseUrl: string,
  options: ApiOptions = {},
): Promise<InProcessService> {
  const { logger, lines } = capturingLogger();
  const limits = options.loginThrottle ?? {};
  const environment: Record<string, string> = {
    PORT: '0',
    HOST: '127.0.0.1',
    DATABASE_URL: databaseUrl,
    DB_MIGRATE: 'false',
    NATS_URL: options.natsUrl ?? 'nats://127.0.0.1:1',
    NATS_PROVISION: 'false',
    JWT_SECRET: TEST_JWT_SECRET,
    JWT_SECRET_PREVIOUS: TEST_JWT_SECRET_PREVIOUS,
    JWT_KEY_ID: 'test-key',
    JWT_TTL_SECONDS: '600',
    TRUST_PROXY: String(options.trustProxy ?? false),
    ...(limits.perAccount ? { LOGIN_MAX_FAILURES_PER_ACCOUNT: String(limits.perAccount) } : {}),
    ...(limits.perClient ? { LOGIN_MAX_FAILURES_PER_CLIENT: String(limits.perClient) } : {}),
    ...(limits.windowSeconds ? { LOGIN_FAILURE_WINDOW_SECONDS: String(limits.windowSeconds) } : {}),
  };
  const service = await startUserService(loadSettings(environment), logger);
  let stopped: Promise<void> | undefined;
  const stop = () => {
    stopped ??= service.stop(1000);
    return stopped;
  };
  onTestFileEnd(stop);
  return {
    baseUrl: `http://127.0.0.1:${service.http.port}`,
    server: service.http,
    logLines: lines,
    stop,
  };
}

export interface RelayOptions {
  /** The fallback poll; set it far beyond a test's deadline to see NOTIFY wake the relay. @default 200 */
  pollIntervalMs?: number;
  /** @default 1000 */
  publishTimeoutMs?: number;
  /** Called when a publish finds no stream for its subject (the service reprovisions USERS). */
  onStreamMissing?: () => void;
  /** Between pruning rounds (the first runs at start). @default 60000 */
  pruneIntervalMs?: number;
}

export interface RelayHandle {
  relay: OutboxRelay;
  /** The relay's own counters: what it published and what failed, whatever the stream dropped. */
  metrics: OutboxMetrics;
  link: NatsLink;
  stop(): Promise<void>;
}

/** An outbox relay in this process, publishing to `natsUrl`. */
export async function startRelay(
  database: MigratedDatabase,
  natsUrl: string,
  options: RelayOptions = {},
): Promise<RelayHandle> {
  const { logger } = capturingLogger();
  const link = await openNatsLink({
    settings: { servers: [natsUrl] },
    name: 'user-service test relay',
    logger,
    reconnectTimeWaitMs: 100,
  });
  const metrics = createOutboxMetrics(createMetricsRegistry(), database.db);
  const relay = new OutboxRelay({
    db: database.db,
    nats: link,
    tracing: createNatsTracing(),
    logger,
    metrics,
    batchSize: 20,
    pollIntervalMs: options.pollIntervalMs ?? 200,
    publishTimeoutMs: options.publishTimeoutMs ?? 1000,
    retryMaxDelayMs: 500,
    onStreamMissing: options.onStreamMissing ?? (() => undefined),
  });
  // Wired as service.ts wires them.
  const listener = new OutboxNotifyListener({
    databaseUrl: database.url,
    logger,
    onNotify: () => relay.wake(),
  });
  const pruner = new OutboxPruner({
    db: database.db,
    retentionSeconds: 3600,
    logger,
    intervalMs: options.pruneIntervalMs ?? 60_000,
  });
  relay.start();
  listener.start();
  pruner.start();
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    await listener.stop();
    await relay.stop();
    await pruner.stop();
    await link.close();
  };
  onTestFileEnd(stop);
  return { relay, metrics, link, stop };
}

export interface StreamMessage {
  subject: string;
  headers: Record<string, string>;
  body: unknown;
}

/** Every message currently in the USERS stream, in order. */
export async function readUsersStream(natsUrl: string): Promise<StreamMessage[]> {
  return (await readStream(natsUrl, STREAMS.users)).map((message) => {
    const headers: Record<string, string> = {};
    for (const [key, values] of message.header ?? []) headers[key] = values[0] ?? '';
    return { subject: message.subject, headers, body: message.json() };
  });
}

/** Waits until the USERS stream holds at least `count` messages. */
export async function waitForStreamCount(
  natsUrl: string,
  count: number,
  timeoutMs = 30_000,
): Promise<void> {
  await waitUntil(
    `${count} messages in USERS`,
    async () => {
      const connection = await connect({ servers: natsUrl });
      try {
        const info = await (await jetstreamManager(connection)).streams.info(STREAMS.users);
        return info.state.messages >= count;
      } finally {
        await connection.close();
      }
    },
    timeoutMs,
    100,
  );
}

export interface SignupBody {
  email?: unknown;
  password?: unknown;
  name?: unknown;
  [extra: string]: unknown;
}

export function signUpRequest(baseUrl: string, body: SignupBody): Promise<Response> {
  return fetch(`${baseUrl}/v1/users`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
}

/** The built user-service as a real process, started the way `npm run serve:user-service` does. */
export function spawnUserService(
  env: Record<string, string>,
  logDir: string,
): Promise<ServedService> {
  return serve('user-service', { JWT_SECRET: TEST_JWT_SECRET, LOG_LEVEL: 'info', ...env }, logDir);
}

let signups = 0;

/**
 * What the outbox tests stand on: a nats-server of the file's own with USERS as the service
 * creates it, and for each test a fresh database with the API on it (no relay: each test starts
 * its own, stopped after it).
 */
export class OutboxTestbed {
  nats!: NatsServer;
  database!: MigratedDatabase;
  api!: InProcessService;
  readonly #relays: RelayHandle[] = [];

  /** The testbed of the enclosing `describe`, set up and torn down by its hooks. */
  static use(): OutboxTestbed {
    const testbed = new OutboxTestbed();
    beforeAll(async () => {
      testbed.nats = await startNatsServer();
      await createUsersStream(testbed.nats.url);
    });
    beforeEach(async () => {
      testbed.database = await migratedDatabase();
      testbed.api = await startApi(testbed.database.url);
    });
    afterEach(async () => {
      for (const relay of testbed.#relays.splice(0)) await relay.stop();
      await testbed.api.stop();
    });
    return testbed;
  }

  /**
   * Replaces this test's API by one connected to the nats-server, so that it publishes the events
   * it writes itself (the hand-off).
   */
  async connectApi(): Promise<InProcessService> {
    await this.api.stop();
    this.api = await startApi(this.database.url, { natsUrl: this.nats.url });
    return this.api;
  }

  /** A relay on this test's database, publishing to the nats-server unless told otherwise. */
  async startRelay(options: RelayOptions = {}, natsUrl = this.nats.url): Promise<RelayHandle> {
    const relay = await startRelay(this.database, natsUrl, options);
    this.#relays.push(relay);
    return relay;
  }

  /** Signs `count` users up at once through this test's API (each must get 201); their ids. */
  async signUpMany(count: number, tag: string): Promise<string[]> {
    const responses = await Promise.all(
      Array.from({ length: count }, () =>
        signUp(this.api.baseUrl, `${tag}-${++signups}@example.com`, `User ${signups}`),
      ),
    );
    expect(responses.map((response) => response.status)).toEqual(Array(count).fill(201));
    return Promise.all(
      responses.map(async (response) => ((await response.json()) as { id: string }).id),
    );
  }
}
