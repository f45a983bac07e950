import { type JetStreamManager, jetstream, jetstreamManager } from '@nats-io/jetstream';
import { STREAMS } from '@signup-flow/events';
import { createNatsTracing } from '@signup-flow/instrumentation-nats';
import { isNoStreamForSubject, openNatsLink } from '@signup-flow/nats';
import { createDatabase, isReachable, migrateDatabase } from '@signup-flow/postgres';
import {
  createMetricsRegistry,
  createServiceApp,
  type Logger,
  type RunningHttpServer,
  type StartedService,
  startHttpServer,
} from '@signup-flow/service-runtime';
import { asyncApiEndpoint } from './asyncapi.js';
import type { Settings } from './config.js';
import { DeliveryLedger } from './data/delivery-ledger.js';
import { MIGRATIONS } from './data/migrations.js';
import { createSmtpMailer } from './mail/smtp-mailer.js';
import { ConsumeLoop } from './messaging/consume-loop.js';
import { DeadLetterPublisher } from './messaging/dead-letters.js';
import { DependencyGate } from './messaging/dependency-gate.js';
import { WELCOME_EMAIL_CONSUMER } from './messaging/jetstream.js';
import {
  type ProvisionOptions,
  provisionMessaging,
  WelcomeEmailConsumerBinding,
  waitForWelcomeEmailConsumer,
} from './messaging/provisioning.js';
import { createUserCreatedHandler } from './messaging/user-created-handler.js';
import { MessagingMetrics } from './metrics.js';

export const SERVICE_NAME = 'messaging-service';

const NEVER = new Promise<never>(() => {});

export interface MessagingService extends StartedService {
  http: RunningHttpServer;
  /** Resolves once the consumer is pulling (after USERS exists); rejects if set-up failed. */
  consuming: Promise<void>;
}

/**
 * Wires the database, NATS, SMTP, consumer and HTTP server from settings. `main.ts` calls it once;
 * component tests call it in-process.
 */
export async function startMessagingService(
  settings: Settings,
  logger: Logger,
): Promise<MessagingService> {
  for (const variable of settings.defaulted) {
    logger.warn(
      { variable, value: variable === 'SMTP_URL' ? settings.smtpUrl : settings.mailFrom },
      `${variable} is not set; using the local development default`,
    );
  }
  if (settings.migrateOnStart) {
    const applied = await migrateDatabase(settings.databaseUrl, SERVICE_NAME, MIGRATIONS);
    logger.info({ applied }, applied.length ? 'database migrated' : 'database schema up to date');
  }
  const db = createDatabase({
    url: settings.databaseUrl,
    poolMax: settings.sendConcurrency + 2,
    applicationName: SERVICE_NAME,
  });

  const registry = createMetricsRegistry();
  const link = await openNatsLink({ settings: settings.nats, name: SERVICE_NAME, logger });
  const mailer = createSmtpMailer({
    url: settings.smtpUrl,
    from: settings.mailFrom,
    connectTimeoutMs: settings.smtpConnectTimeoutMs,
    replyTimeoutMs: settings.smtpReplyTimeoutMs,
    poolSize: settings.smtpPoolSize,
  });

  let draining = false;
  const shutdown = new AbortController();

  // Set once the consumer is pulling: readiness reports it, and scrapes before it report no backlog.
  let manager: JetStreamManager | undefined;
  let binding: WelcomeEmailConsumerBinding | undefined;
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

  const gate = (name: string, probe: () => Promise<unknown>) =>
    new DependencyGate({
      name,
      probe,
      logger,
      onChange: (up) => metrics.recordDependency(name, up),
    });
  const gates = {
    smtp: gate('smtp', () => mailer.probe()),
    postgres: gate('postgres', () => isReachable(db)),
  };
  metrics.trackDependencies(Object.keys(gates));

  const app = createServiceApp({
    logger,
    registry,
    isDraining: () => draining,
    dependencies: [
      { name: 'nats', critical: true, check: () => link.isConnected() },
      { name: 'postgres', critical: true, check: () => isReachable(db) },
      // Reported, not required: the service waits for the mail server with nothing lost.
      { name: 'smtp', critical: false, check: () => gates.smtp.isUp },
      {
        name: 'consumer',
        // With provisioning on, a missing consumer is recreated; with it off, someone must act.
        critical: !settings.provisionNats,
        check: () => binding !== undefined && binding.missing === undefined,
      },
    ],
  });
  app.use(asyncApiEndpoint);
  const http = await startHttpServer(app, settings.port, settings.host);
  logger.info({ port: http.port }, 'messaging-service listening');

  let loop: ConsumeLoop | undefined;

  async function startConsuming(): Promise<void> {
    const connection = await link.connected();
    // No API check here: it is one more request that a leader election times out, and the
    // provisioning's first lookup checks the same, retrying until JetStream answers.
    const jsm = await jetstreamManager(connection, { checkAPI: false });
    const provision: ProvisionOptions | undefined = settings.provisionNats
      ? {
          manager: jsm,
          consumer: { ackWaitMs: settings.ackWaitMs, maxAckPending: settings.maxAckPending },
          dlq: { replicas: settings.dlqReplicas, maxAgeMs: settings.dlqMaxAgeMs },
          logger,
          signal: shutdown.signal,
        }
      : undefined;
    if (provision) {
      await provisionMessaging(provision);
    } else {
      await waitForWelcomeEmailConsumer({ manager: jsm, logger, signal: shutdown.signal });
    }
    shutdown.signal.throwIfAborted();
    const js = jetstream(connection);
    const consumerBinding = new WelcomeEmailConsumerBinding({
      js,
      provision,
      logger,
    });
    const tracing = createNatsTracing();
    const handleUserCreated = createUserCreatedHandler({
      ledger: new DeliveryLedger(db),
      mailer,
      claimLeaseMs: settings.claimLeaseMs,
      deadLetters: new DeadLetterPublisher(js, WELCOME_EMAIL_CONSUMER),
      gates,
      onDeadLetterFailure: (error) => {
        if (isNoStreamForSubject(error)) void consumerBinding.heal().catch(() => undefined);
      },
      metrics,
      logger,
      retryBackoffMs: settings.retryBackoffMs,
      maxEventBytes: settings.maxEventBytes,
    });
    loop = new ConsumeLoop({
      getConsumer: () => consumerBinding.get(),
      handle: (message, signal) =>
        tracing.process(message, (traced) => handleUserCreated(traced, signal), {
          consumerGroupName: WELCOME_EMAIL_CONSUMER,
        }),
      gates: [gates.postgres, gates.smtp],
      metrics,
      logger,
      concurrency: settings.sendConcurrency,
      // Three keep-alives per ack wait.
      workingEveryMs: Math.max(100, Math.floor(settings.ackWaitMs / 3)),
      messageDeadlineMs: settings.messageDeadlineMs,
    });
    loop.start();
    manager = jsm;
    binding = consumerBinding;
    logger.info(
      { consumer: WELCOME_EMAIL_CONSUMER, concurrency: settings.sendConcurrency },
      'consuming UserCreated events',
    );
  }

  const consuming = startConsuming();

  return {
    http,
    consuming,
    // Set-up that fails after start (not a stop's abort) ends the process.
    failure: consuming.then(
      () => NEVER,
      (error: unknown) => (error instanceof Error && error.name === 'AbortError' ? NEVER : error),
    ),
    async stop(graceMs) {
      draining = true;
      shutdown.abort();
      await consuming.catch(() => undefined);
      // Stopped sends release their claims and nak inside the loop's stop.
      await loop?.stop(graceMs);
      gates.smtp.close();
      gates.postgres.close();
      mailer.close();
      await link.close();
      await http.close(1_000);
      await db.destroy();
    },
  };
}
