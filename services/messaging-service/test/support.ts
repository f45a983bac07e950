import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import {
  type JetStreamClient,
  type JetStreamManager,
  jetstream,
  jetstreamManager,
  type StoredMsg,
} from '@nats-io/jetstream';
import { headers as createHeaders, type NatsConnection } from '@nats-io/nats-core';
import { connect } from '@nats-io/transport-node';
import {
  CLOUDEVENTS_CONTENT_TYPE,
  createUserCreatedEvent,
  encodeEvent,
  HEADERS,
  STREAMS,
  SUBJECTS,
  type UserCreatedEvent,
} from '@signup-flow/events';
import { type ManagedProcess, type NatsServer, waitUntil } from '@signup-flow/local-stack';
import { createLogger } from '@signup-flow/service-runtime';
import {
  createTestDatabase,
  createUsersStream,
  onTestFileEnd,
  readStream,
  SmtpSink,
  serve,
  startNatsServer,
  waitForConsumersSettled,
} from '@signup-flow/testing';
import knex, { type Knex } from 'knex';
import { loadSettings } from '../src/config.js';
import { type Delivery, DeliveryLedger } from '../src/data/delivery-ledger.js';
import { WELCOME_EMAIL_CONSUMER } from '../src/messaging/jetstream.js';
import { type MessagingService, startMessagingService } from '../src/service.js';

export const MAIN_JS = fileURLToPath(new URL('../dist/main.js', import.meta.url));
/** The built DLQ CLI (`npm run dlq`). */
const DLQ_CLI = fileURLToPath(new URL('../dist/cli/dlq.js', import.meta.url));

/** Short enough for tests to watch retries happen; the real default is in config.ts. */
const TEST_BACKOFF_MS = '1000,2000,2000,2000,2000';

const run = promisify(execFile);

export interface StackOptions {
  /** Create USERS as the user-service would. @default true */
  usersStream?: boolean;
}

type InProcessService = MessagingService & { logFile: string };

export interface ServiceProcess {
  process: ManagedProcess;
  port: number;
  logFile: string;
}

let instances = 0;

/**
 * Real NATS (with USERS created as the user-service would), a fresh database and an SMTP sink,
 * and what the tests do with them: run the service against them, publish as the user-service
 * does, and watch the ledger, the consumer and the DLQ.
 */
export class Stack {
  readonly nats: NatsServer;
  readonly natsUrl: string;
  readonly databaseUrl: string;
  readonly sink: SmtpSink;
  readonly js: JetStreamClient;
  readonly jsm: JetStreamManager;
  readonly logDir: string;
  readonly #db: Knex;
  readonly #ledger: DeliveryLedger;

  private constructor(parts: {
    nats: NatsServer;
    databaseUrl: string;
    sink: SmtpSink;
    connection: NatsConnection;
    jsm: JetStreamManager;
    db: Knex;
    logDir: string;
  }) {
    this.nats = parts.nats;
    this.natsUrl = parts.nats.url;
    this.databaseUrl = parts.databaseUrl;
    this.sink = parts.sink;
    this.js = jetstream(parts.connection);
    this.jsm = parts.jsm;
    this.logDir = parts.logDir;
    this.#db = parts.db;
    this.#ledger = new DeliveryLedger(parts.db);
  }

  static async start(options: StackOptions = {}): Promise<Stack> {
    const nats = await startNatsServer();
    const databaseUrl = await createTestDatabase('messaging');
    const sink = await SmtpSink.start();
    const connection = await connect({ servers: nats.url, maxReconnectAttempts: -1 });
    const jsm = await jetstreamManager(connection);
    const db = knex({ client: 'pg', connection: databaseUrl, pool: { min: 0, max: 2 } });
    const logDir = await mkdtemp(join(tmpdir(), 'messaging-service-test-'));
    onTestFileEnd(async () => {
      await connection.close();
      await db.destroy();
      await sink.stop();
    });
    const stack = new Stack({ nats, databaseUrl, sink, connection, jsm, db, logDir });
    if (options.usersStream ?? true) await stack.createUsersStream();
    return stack;
  }

  /** The USERS stream as the user-service creates it, with a 2 s duplicate window for the tests. */
  createUsersStream(): Promise<void> {
    return createUsersStream(this.jsm, 2_000);
  }

  /** The contract's environment for one messaging-service instance against this stack. */
  #serviceEnv(overrides: Record<string, string> = {}): Record<string, string> {
    return {
      PORT: '0',
      DATABASE_URL: this.databaseUrl,
      NATS_URL: this.natsUrl,
      SMTP_URL: this.sink.url,
      MAIL_FROM: 'Signup Flow <welcome@signup-flow.test>',
      LOG_LEVEL: 'debug',
      RETRY_BACKOFF_MS: TEST_BACKOFF_MS,
      SMTP_TIMEOUT_MS: '2000',
      // Short enough that a crashed holder's claim runs out within a test; renewed every third.
      CLAIM_LEASE_MS: '5000',
      CONSUMER_ACK_WAIT_MS: '3000',
      SHUTDOWN_TIMEOUT_MS: '10000',
      ...overrides,
    };
  }

  /** Runs the service in this process (the component-test way). */
  async startInProcess(overrides: Record<string, string> = {}): Promise<InProcessService> {
    const settings = loadSettings(this.#serviceEnv(overrides));
    const logFile = join(this.logDir, `in-process-${++instances}.log`);
    const logger = createLogger({
      service: 'messaging-service',
      level: 'debug',
      destination: createWriteStream(logFile),
    });
    const service = await startMessagingService(settings, logger);
    await service.consuming;
    let stopped = false;
    onTestFileEnd(async () => {
      if (!stopped) await service.stop(1_000);
    });
    const stop = service.stop.bind(service);
    return {
      ...service,
      logFile,
      async stop(graceMs) {
        stopped = true;
        await stop(graceMs);
      },
    };
  }

  /** Runs the built service as a real child process, as `npm run serve:messaging-service` does. */
  async startProcess(
    overrides: Record<string, string> = {},
    /** `consuming` waits until the consumer pulls; `listening`, only until HTTP answers. */
    readiness: 'consuming' | 'listening' = 'consuming',
  ): Promise<ServiceProcess> {
    const served = await serve('messaging-service', this.#serviceEnv(overrides), this.logDir, {
      async ready(baseUrl) {
        const response = await fetch(`${baseUrl}/readyz`);
        const body = (await response.json()) as { dependencies?: { consumer?: string } };
        return readiness === 'listening' || (response.ok && body.dependencies?.consumer === 'up');
      },
    });
    return { process: served.process, port: served.port, logFile: served.process.logFile };
  }

  /** Publishes as the user-service does: CloudEvents body, `Nats-Msg-Id` = event id. */
  async publish(event: UserCreatedEvent): Promise<void> {
    await this.publishRaw(encodeEvent(event), event.id);
  }

  publishRaw(body: Uint8Array, msgId?: string): Promise<void> {
    return publishUserCreated(this.js, body, msgId);
  }

  /** Publishes the event and waits until the ledger records its email as sent. */
  async publishAndWaitUntilSent(event = newUserCreatedEvent()): Promise<UserCreatedEvent> {
    await this.publish(event);
    await this.waitUntilSent([event.id]);
    return event;
  }

  /** Waits until the ledger records every event as sent, which is after its email was accepted. */
  async waitUntilSent(eventIds: string[], timeoutMs = 120_000): Promise<void> {
    await waitUntil(
      `all ${eventIds.length} events recorded as sent`,
      async () => {
        const [row] = await this.#db('deliveries')
          .whereIn('event_id', eventIds)
          .andWhere({ status: 'sent' })
          .count<Array<{ count: string }>>({ count: '*' });
        return Number(row?.count) === eventIds.length;
      },
      timeoutMs,
      200,
    );
  }

  /** What the ledger records of the event's email, if anything yet. */
  delivery(eventId: string): Promise<Delivery | undefined> {
    return this.#ledger.find(eventId);
  }

  deadLetters(): Promise<StoredMsg[]> {
    return readStream(this.jsm, STREAMS.deadLetters);
  }

  async waitForDeadLetters(count: number): Promise<StoredMsg[]> {
    let letters: StoredMsg[] = [];
    await waitUntil(`${count} dead letters`, async () => {
      letters = await this.deadLetters();
      return letters.length >= count;
    });
    return letters;
  }

  /** Waits until the consumer has nothing left to deliver and nothing unacknowledged. */
  waitUntilConsumerIdle(): Promise<void> {
    return waitForConsumersSettled(this.jsm, { consumer: WELCOME_EMAIL_CONSUMER });
  }

  /** Runs the built DLQ CLI (`npm run dlq -- …`) against this stack's NATS. */
  dlq(...args: string[]): Promise<{ stdout: string; stderr: string }> {
    return run(process.execPath, [DLQ_CLI, ...args], {
      env: { ...process.env, NATS_URL: this.natsUrl },
    });
  }
}

/** Publishes to any JetStream as the user-service does: CloudEvents body, `Nats-Msg-Id`. */
export async function publishUserCreated(
  js: JetStreamClient,
  body: Uint8Array,
  msgId?: string,
): Promise<void> {
  const headers = createHeaders();
  headers.set(HEADERS.contentType, CLOUDEVENTS_CONTENT_TYPE);
  const ack = await js.publish(SUBJECTS.userCreated, body, {
    headers,
    ...(msgId ? { msgID: msgId } : {}),
  });
  if (ack.duplicate) throw new Error(`publish of ${msgId} was dropped as a duplicate`);
}

let users = 0;

export function newUserCreatedEvent(name = `Ada Lovelace ${++users}`): UserCreatedEvent {
  const userId = randomUUID();
  return createUserCreatedEvent({
    source: '/user-service',
    data: {
      userId,
      email: `user-${userId.slice(0, 8)}@example.test`,
      name,
      createdAt: new Date().toISOString(),
    },
  });
}

/** Reads a metric's value from `/metrics` (the sum over all its series matching `labels`). */
export async function metricValue(port: number, name: string, labels = ''): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  return text
    .split('\n')
    .filter(
      (line) => line.startsWith(`${name}${labels ? `{${labels}}` : ''}`) && !line.startsWith('#'),
    )
    .filter((line) => labels || line.startsWith(`${name} `) || line.startsWith(`${name}{`))
    .reduce((sum, line) => sum + Number(line.split(' ').at(-1)), 0);
}
