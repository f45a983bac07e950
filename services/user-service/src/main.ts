/** The user-service's composition root: the only place that reads configuration and wires parts. */
import { randomBytes } from 'node:crypto';
import { createNatsTracing } from '@signup-flow/instrumentation-nats';
import { natsSettingsFromEnv, openNatsLink } from '@signup-flow/nats';
import { createDatabase, isReachable, migrateDatabase } from '@signup-flow/postgres';
import {
  ConfigError,
  createLogger,
  createMetricsRegistry,
  exitOnSignal,
  loadConfig,
  startHttpServer,
} from '@signup-flow/service-runtime';
import { shutdownTelemetry } from '@signup-flow/telemetry';
import { createApp } from './app.js';
import { configSchema } from './config.js';
import { createLoginThrottle } from './data/login-throttle.js';
import { MIGRATIONS } from './data/migrations.js';
import { createPasswordHasher } from './domain/password-hasher.js';
import { createTokenIssuer } from './domain/token-issuer.js';
import { createTokenVerifier } from './domain/token-verifier.js';
import { createOutboxMetrics } from './outbox/metrics.js';
import { provisionUsersStream } from './outbox/provision-stream.js';
import { OutboxRelay } from './outbox/relay.js';

const SERVICE = 'user-service';

async function main(): Promise<void> {
  const config = loadConfig(configSchema);
  const logger = createLogger({ service: SERVICE, level: config.LOG_LEVEL });

  const db = createDatabase({
    url: config.DATABASE_URL,
    poolMax: config.DB_POOL_MAX,
    applicationName: SERVICE,
  });
  if (config.DB_MIGRATE) {
    const applied = await migrateDatabase(config.DATABASE_URL, SERVICE, MIGRATIONS);
    logger.info({ applied }, 'database migrations applied');
  }

  let jwtSecret = config.JWT_SECRET;
  if (!jwtSecret) {
    jwtSecret = randomBytes(32).toString('base64url');
    logger.warn('JWT_SECRET is not set: using a random key, so tokens die with this process');
  }

  const registry = createMetricsRegistry();
  const nats = await openNatsLink({
    settings: natsSettingsFromEnv(config),
    name: SERVICE,
    logger,
  });
  const provisioning = new AbortController();
  let provisioningRuns = false;
  const provisionStream = () => {
    if (provisioningRuns) return;
    provisioningRuns = true;
    void provisionUsersStream(
      nats,
      {
        replicas: config.USERS_STREAM_REPLICAS,
        maxAgeMs: config.USERS_STREAM_MAX_AGE_SECONDS * 1000,
        duplicateWindowMs: config.USERS_STREAM_DUPLICATE_WINDOW_SECONDS * 1000,
      },
      logger,
      provisioning.signal,
    ).finally(() => {
      provisioningRuns = false;
    });
  };
  if (config.NATS_PROVISION) provisionStream();

  const relay = new OutboxRelay({
    db,
    databaseUrl: config.DATABASE_URL,
    nats,
    tracing: createNatsTracing(),
    logger,
    metrics: createOutboxMetrics(registry, db),
    batchSize: config.OUTBOX_BATCH_SIZE,
    pollIntervalMs: config.OUTBOX_POLL_INTERVAL_MS,
    publishTimeoutMs: config.OUTBOX_PUBLISH_TIMEOUT_MS,
    retryMaxDelayMs: config.OUTBOX_RETRY_MAX_DELAY_MS,
    retentionSeconds: config.OUTBOX_RETENTION_SECONDS,
    onStreamMissing: () => {
      if (config.NATS_PROVISION) {
        logger.warn('the USERS stream is missing: recreating it; events wait in the outbox');
        provisionStream();
      } else {
        logger.error(
          'the USERS stream is missing and NATS_PROVISION=false: events wait in the outbox until someone creates it',
        );
      }
    },
  });
  relay.start();

  let draining = false;
  const app = createApp({
    db,
    hasher: await createPasswordHasher(),
    issueToken: createTokenIssuer({
      secret: jwtSecret,
      keyId: config.JWT_KEY_ID,
      issuer: config.JWT_ISSUER,
      audience: config.JWT_AUDIENCE,
      ttlSeconds: config.JWT_TTL_SECONDS,
    }),
    verifyToken: createTokenVerifier({
      secrets: [jwtSecret, ...(config.JWT_SECRET_PREVIOUS ? [config.JWT_SECRET_PREVIOUS] : [])],
      issuer: config.JWT_ISSUER,
      audience: config.JWT_AUDIENCE,
    }),
    loginThrottle: createLoginThrottle(db, {
      perAccount: config.LOGIN_MAX_FAILURES_PER_ACCOUNT,
      perClient: config.LOGIN_MAX_FAILURES_PER_CLIENT,
      windowSeconds: config.LOGIN_FAILURE_WINDOW_SECONDS,
    }),
    trustProxy: config.TRUST_PROXY,
    eventSource: `/${SERVICE}`,
    logger,
    registry,
    isDraining: () => draining,
    dependencies: [
      { name: 'postgres', critical: true, check: () => isReachable(db) },
      // Signup works without NATS (the outbox holds events), so NATS is reported, not required.
      { name: 'nats', critical: false, check: () => nats.isConnected() },
    ],
  });
  const server = await startHttpServer(app, config.PORT, config.HOST);
  logger.info({ port: server.port }, 'user-service ready');

  exitOnSignal(
    async () => {
      draining = true;
      provisioning.abort();
      await server.close(config.SHUTDOWN_TIMEOUT_MS / 2);
      await relay.stop();
      await nats.close();
      await db.destroy();
      await shutdownTelemetry();
    },
    { logger, timeoutMs: config.SHUTDOWN_TIMEOUT_MS },
  );
}

main().catch((error: unknown) => {
  if (error instanceof ConfigError) {
    process.stderr.write(`${SERVICE}: ${error.message}\n`);
  } else {
    process.stderr.write(
      `${SERVICE}: failed to start: ${error instanceof Error ? error.message : error}\n`,
    );
  }
  process.exit(1);
});
