import { type JetStreamManager, jetstream, jetstreamManager } from '@nats-io/jetstream';
import type { Subscription } from '@nats-io/nats-core';
import { STREAMS } from '@signup-flow/events';
import { createNatsTracing } from '@signup-flow/instrumentation-nats';
import { type NatsSettings, openNatsLink } from '@signup-flow/nats';
import { createDatabase, isReachable, migrateToLatest } from '@signup-flow/postgres';
import {
  createMetricsRegistry,
  createServiceApp,
  type Logger,
  type RunningHttpServer,
  startHttpServer,
} from '@signup-flow/service-runtime';
import type { Settings } from './config.js';
import { DeliveryLedger } from './data/delivery-ledger.js';
import { MIGRATIONS } from './data/migrations.js';
import { createSmtpMailer } from './mail/smtp-mailer.js';
import { ConsumeLoop } from './messaging/consume-loop.js';
import { DeadLetterPublisher } from './messaging/dead-letters.js';
import { watchMaxDeliveries } from './messaging/max-deliveries-watch.js';
import {
  provisionMessaging,
  WELCOME_EMAIL_CONSUMER,
  waitForWelcomeEmailConsumer,
} from './messaging/provisioning.js';
import { createUserCreatedHandler } from './messaging/user-created-handler.js';
import { MessagingMetrics } from './metrics.js';

export const SERVICE_NAME = 'messaging-service';

export interface MessagingService {
  http: RunningHttpServer;
  /** Resolves once the consumer is pulling (after USERS exists); rejects if set-up failed. */
  consuming: Promise<void>;
  /** Stops pulling, finishes or naks in-flight messages within `graceMs`, closes everything. */
  stop(graceMs: number): Promise<void>;
}

/**
 * Wires the database, NATS, SMTP, consumer and HTTP server from settings. `main.ts` calls it once;
 * component tests call it in-process.
 */
export async function startMessagingService(
  settings: Settings,
  nats: NatsSettings,
  logger: Logger,
): Promise<MessagingService> {
  const db = createDatabase({
    url: settings.databaseUrl,
    poolMax: settings.sendConcurrency + 2,
    applicationName: SERVICE_NAME,
  });
  if (settings.migrateOnStart) {
    const applied = await migrateToLatest(db, MIGRATIONS);
    logger.info({ applied }, applied.length ? 'database migrated' : 'database schema up to date');
  }

  const registry = createMetricsRegistry();
  const link = await openNatsLink({ settings: nats, name: SERVICE_NAME, logger });
  const mailer = createSmtpMailer({
    url: settings.smtpUrl,
    from: settings.mailFrom,
    timeoutMs: settings.smtpTimeoutMs,
    poolSize: settings.smtpPoolSize,
  });

  let draining = false;
  const shutdown = new AbortController();

  // Set once the consumer is pulling: readiness reports it, and scrapes before it report no backlog.
  let manager: JetStreamManager | undefined;
  const metrics = new MessagingMetrics(registry, async () => {
    if (!manager || !link.isConnected()) return undefined;
    const [consumer, deadLetters] = await Promise.all([
      manager.consumers.info(STREAMS.users, WELCOME_EMAIL_CONSUMER),
      manager.streams.info(STREAMS.deadLetters),
    ]);
    return {
      numPending: consumer.num_pending,
      numAckPending: consumer.num_ack_pending,
      deadLetters: deadLetters.state.messages,
    };
  });

  const app = createServiceApp({
    logger,
    registry,
    isDraining: () => draining,
    dependencies: [
      { name: 'nats', critical: true, check: () => link.isConnected() },
      { name: 'postgres', critical: true, check: () => isReachable(db) },
      { name: 'consumer', critical: false, check: () => manager !== undefined },
    ],
  });
  const http = await startHttpServer(app, settings.port);
  logger.info({ port: http.port }, 'messaging-service listening');

  // A claim must outlive the slowest send: connect, greeting and each reply get the SMTP timeout.
  const claimLeaseMs = settings.smtpTimeoutMs * 4 + 5_000;
  let loop: ConsumeLoop | undefined;
  let exhaustedWatch: Subscription | undefined;

  async function startConsuming(): Promise<void> {
    const connection = await link.connected();
    const jsm = await jetstreamManager(connection);
    if (settings.provisionNats) {
      await provisionMessaging({
        manager: jsm,
        consumer: {
          retryBackoffMs: settings.retryBackoffMs,
          maxAckPending: settings.maxAckPending,
        },
        dlq: { replicas: settings.dlqReplicas, maxAgeMs: settings.dlqMaxAgeMs },
        logger,
        signal: shutdown.signal,
      });
    } else {
      await waitForWelcomeEmailConsumer({ manager: jsm, logger, signal: shutdown.signal });
    }
    shutdown.signal.throwIfAborted();
    const js = jetstream(connection);
    const ledger = new DeliveryLedger(db);
    const deadLetters = new DeadLetterPublisher(js, WELCOME_EMAIL_CONSUMER);
    exhaustedWatch = watchMaxDeliveries({
      connection,
      manager: jsm,
      stream: STREAMS.users,
      consumer: WELCOME_EMAIL_CONSUMER,
      ledger,
      deadLetters,
      metrics,
      logger,
    });
    const tracing = createNatsTracing();
    const handleUserCreated = createUserCreatedHandler({
      ledger,
      mailer,
      claimLeaseMs,
      deadLetters,
      metrics,
      logger,
      retryBackoffMs: settings.retryBackoffMs,
      maxEventBytes: settings.maxEventBytes,
    });
    loop = new ConsumeLoop({
      getConsumer: () => js.consumers.get(STREAMS.users, WELCOME_EMAIL_CONSUMER),
      handle: (message) =>
        tracing.process(message, (traced) => handleUserCreated(traced), {
          consumerGroupName: WELCOME_EMAIL_CONSUMER,
        }),
      metrics,
      logger,
      concurrency: settings.sendConcurrency,
      // Well inside the shortest ack wait, which is the first backoff entry.
      workingEveryMs: Math.max(100, Math.floor(Math.min(...settings.retryBackoffMs) / 3)),
    });
    loop.start();
    manager = jsm;
    logger.info(
      { consumer: WELCOME_EMAIL_CONSUMER, concurrency: settings.sendConcurrency },
      'consuming UserCreated events',
    );
  }

  const consuming = startConsuming();

  return {
    http,
    consuming,
    async stop(graceMs) {
      draining = true;
      shutdown.abort();
      await consuming.catch(() => undefined);
      await loop?.stop(graceMs);
      exhaustedWatch?.unsubscribe();
      // Sends cut short fail fast once the pool closes; give their handlers a moment to release
      // the ledger claim, so the next replica need not wait for it to run out.
      mailer.close();
      await loop?.settled(2_000);
      await link.close();
      await http.close(1_000);
      await db.destroy();
    },
  };
}
