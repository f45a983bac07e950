import { randomUUID } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
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
import { type ManagedProcess, waitUntil } from '@signup-flow/local-stack';
import { createLogger } from '@signup-flow/service-runtime';
import {
  createUsersStream as createSharedUsersStream,
  createTestDatabase,
  onTestFileEnd,
  readStream,
  SmtpSink,
  serve,
  startNatsServer,
  waitForConsumersSettled,
} from '@signup-flow/testing';
import knex, { type Knex } from 'knex';
import { loadSettings } from '../src/config.js';
import type { Delivery } from '../src/data/delivery-ledger.js';
import { DeliveryLedger } from '../src/data/delivery-ledger.js';
import { WELCOME_EMAIL_CONSUMER } from '../src/messaging/jetstream.js';
import { type MessagingService, startMessagingService } from '../src/service.js';

export const MAIN_JS = fileURLToPath(new URL('../dist/main.js', import.meta.url));
/** The built DLQ CLI (`npm run dlq`). */
export const DLQ_CLI = fileURLToPath(new URL('../dist/cli/dlq.js', import.meta.url));

/** Short enough for tests to watch retries happen; the real default is in config.ts. */
export const TEST_BACKOFF_MS = '1000,2000,2000,2000,2000';

/** Real NATS (with USERS created as the user-service would), a fresh database and an SMTP sink. */
export interface Stack {
  natsUrl: string;
  nats: Awaited<ReturnType<typeof startNatsServer>>;
  databaseUrl: string;
  sink: SmtpSink;
  connection: NatsConnection;
  js: JetStreamClient;
  jsm: JetStreamManager;
  db: Knex;
  ledger: DeliveryLedger;
  logDir: string;
}

export interface StackOptions {
  /** Create USERS as the user-service would. @default true */
  usersStream?: boolean;
}

/** The USERS stream as the user-service creates it, with a 2 s duplicate window for the tests. */
export function createUsersStream(jsm: JetStreamManager): Promise<void> {
  return createSharedUsersStream(jsm, 2_000);
}

export async function startStack(options: StackOptions = {}): Promise<Stack> {
  const nats = await startNatsServer();
  const databaseUrl = await createTestDatabase('messaging');
  const sink = await SmtpSink.start();
  const connection = await connect({ servers: nats.url, maxReconnectAttempts: -1 });
  const jsm = await jetstreamManager(connection);
  if (options.usersStream ?? true) await createUsersStream(jsm);
  const db = knex({ client: 'pg', connection: databaseUrl, pool: { min: 0, max: 2 } });
  const logDir = await mkdtemp(join(tmpdir(), 'messaging-service-test-'));
  onTestFileEnd(async () => {
    await connection.close();
    await db.destroy();
    await sink.stop();
  });
  return {
    natsUrl: nats.url,
    nats,
    databaseUrl,
    sink,
    connection,
    js: jetstream(connection),
    jsm,
    db,
    ledger: new DeliveryLedger(db),
    logDir,
  };
}

/** The contract's environment for one messaging-service instance against `stack`. */
export function serviceEnv(
  stack: Stack,
  overrides: Record<string, string> = {},
): Record<string, string> {
  return {
    PORT: '0',
    DATABASE_URL: stack.databaseUrl,
    NATS_URL: stack.natsUrl,
    SMTP_URL: stack.sink.url,
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

let instances = 0;

/** Runs the service in this process (the component-test way). */
export async function startInProcess(
  stack: Stack,
  overrides: Record<string, string> = {},
): Promise<MessagingService & { logFile: string }> {
  const env = serviceEnv(stack, overrides);
  const settings = loadSettings(env);
  const logFile = join(stack.logDir, `in-process-${++instances}.log`);
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

export interface ServiceProcess {
  process: ManagedProcess;
  port: number;
  logFile: string;
}

/** Runs the built service as a real child process, as `npm run serve:messaging-service` does. */
export async function startProcess(
  stack: Stack,
  overrides: Record<string, string> = {},
  /** `consuming` waits until the consumer pulls; `listening`, only until HTTP answers. */
  readiness: 'consuming' | 'listening' = 'consuming',
): Promise<ServiceProcess> {
  const served = await serve('messaging-service', serviceEnv(stack, overrides), stack.logDir, {
    async ready(baseUrl) {
      const response = await fetch(`${baseUrl}/readyz`);
      const body = (await response.json()) as { dependencies?: { consumer?: string } };
      return readiness === 'listening' || (response.ok && body.dependencies?.consumer === 'up');
    },
  });
  return { process: served.process, port: served.port, logFile: served.process.logFile };
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

/** Publishes as the user-service does: CloudEvents body, `Nats-Msg-Id` = event id. */
export async function publishEvent(stack: Stack, event: UserCreatedEvent): Promise<void> {
  await publishRaw(stack, encodeEvent(event), event.id);
}

export async function publishRaw(stack: Stack, body: Uint8Array, msgId?: string): Promise<void> {
  const headers = createHeaders();
  headers.set(HEADERS.contentType, CLOUDEVENTS_CONTENT_TYPE);
  const ack = await stack.js.publish(SUBJECTS.userCreated, body, {
    headers,
    ...(msgId ? { msgID: msgId } : {}),
  });
  if (ack.duplicate) throw new Error(`publish of ${msgId} was dropped as a duplicate`);
}

export async function waitForEmails(
  stack: Stack,
  count: number,
  timeoutMs = 30_000,
): Promise<void> {
  await waitUntil(
    `${count} emails (have ${stack.sink.received.length})`,
    async () => stack.sink.received.length >= count,
    timeoutMs,
  );
}

export function deadLetters(stack: Stack): Promise<StoredMsg[]> {
  return readStream(stack.jsm, STREAMS.deadLetters);
}

export async function waitForDeadLetters(stack: Stack, count: number): Promise<StoredMsg[]> {
  let letters: StoredMsg[] = [];
  await waitUntil(`${count} dead letters`, async () => {
    letters = await deadLetters(stack);
    return letters.length >= count;
  });
  return letters;
}

export async function ledgerEntry(stack: Stack, eventId: string): Promise<Delivery | undefined> {
  return stack.ledger.find(eventId);
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

/** Waits until the ledger records every event as sent, which is after its email was accepted. */
export async function waitUntilSent(
  stack: Stack,
  eventIds: string[],
  timeoutMs = 120_000,
): Promise<void> {
  await waitUntil(
    `all ${eventIds.length} events recorded as sent`,
    async () => {
      const [row] = await stack
        .db('deliveries')
        .whereIn('event_id', eventIds)
        .andWhere({ status: 'sent' })
        .count<Array<{ count: string }>>({ count: '*' });
      return Number(row?.count) === eventIds.length;
    },
    timeoutMs,
    200,
  );
}

/** Waits until the consumer has nothing left to deliver and nothing unacknowledged. */
export function waitUntilConsumerIdle(stack: Stack): Promise<void> {
  return waitForConsumersSettled(stack.jsm, { consumer: WELCOME_EMAIL_CONSUMER });
}
