/**
 * The user-service's composition root: wires the database, NATS, the outbox relay and the HTTP
 * server from settings. `main.ts` calls it once; the component tests call it in-process.
 */
import { randomBytes } from 'node:crypto';
import { createNatsTracing } from '@signup-flow/instrumentation-nats';
import { openNatsLink } from '@signup-flow/nats';
import { createDatabase, isReachable, migrateDatabase } from '@signup-flow/postgres';
import {
  createMetricsRegistry,
  type Logger,
  type RunningHttpServer,
  type StartedService,
  startHttpServer,
} from '@signup-flow/service-runtime';
import { createApp } from './app.js';
import type { Settings } from './config.js';
import { createLoginThrottle } from './data/login-throttle.js';
import { MIGRATIONS } from './data/migrations.js';
import { createUserStore } from './data/user-store.js';
import { createPasswordHasher } from './domain/password-hasher.js';
import { createTokenIssuer } from './domain/token-issuer.js';
import { createTokenVerifier } from './domain/token-verifier.js';
import { provisionUsersStream } from './messaging/jetstream.js';
import { createOutboxMetrics } from './outbox/metrics.js';
import { OutboxNotifyListener } from './outbox/notify-listener.js';
import { OutboxPruner } from './outbox/pruner.js';
import { OutboxRelay } from './outbox/relay.js';

export const SERVICE_NAME = 'user-service';

export interface UserService extends StartedService {
  http: RunningHttpServer;
}

export async function startUserService(settings: Settings, logger: Logger): Promise<UserService> {
  const db = createDatabase({
    url: settings.databaseUrl,
    poolMax: settings.dbPoolMax,
    applicationName: SERVICE_NAME,
  });
  if (settings.migrateOnStart) {
    const applied = await migrateDatabase(settings.databaseUrl, SERVICE_NAME, MIGRATIONS);
    logger.info({ applied }, applied.length ? 'database migrated' : 'database schema up to date');
  }

  let jwtSecret = settings.jwt.secret;
  if (!jwtSecret) {
    jwtSecret = randomBytes(32).toString('base64url');
    logger.warn('JWT_SECRET is not set: using a random key, so tokens die with this process');
  }

  const registry = createMetricsRegistry();
  const nats = await openNatsLink({ settings: settings.nats, name: SERVICE_NAME, logger });
  const provisioning = new AbortController();
  let provisioningRuns = false;
  const provisionStream = () => {
    if (provisioningRuns) return;
    provisioningRuns = true;
    void provisionUsersStream(nats, settings.usersStream, logger, provisioning.signal).finally(
      () => {
        provisioningRuns = false;
      },
    );
  };
  if (settings.provisionNats) provisionStream();

  const { retentionSeconds, ...relaySettings } = settings.outbox;
  const relay = new OutboxRelay({
    db,
    nats,
    tracing: createNatsTracing(),
    logger,
    metrics: createOutboxMetrics(registry, db),
    ...relaySettings,
    onStreamMissing: () => {
      if (settings.provisionNats) {
        logger.warn('the USERS stream is missing: recreating it; events wait in the outbox');
        provisionStream();
      } else {
        logger.error(
          'the USERS stream is missing and NATS_PROVISION=false: events wait in the outbox until someone creates it',
        );
      }
    },
  });
  const listener = new OutboxNotifyListener({
    databaseUrl: settings.databaseUrl,
    logger,
    onNotify: () => relay.wake(),
  });
  const pruner = new OutboxPruner({ db, retentionSeconds, logger });
  relay.start();
  listener.start();
  pruner.start();

  let draining = false;
  const app = createApp({
    users: createUserStore(db, relay),
    hasher: await createPasswordHasher(settings.passwordHashConcurrency),
    issueToken: createTokenIssuer({ ...settings.jwt, secret: jwtSecret }),
    verifyToken: createTokenVerifier({
      secrets: [jwtSecret, ...(settings.jwt.previousSecret ? [settings.jwt.previousSecret] : [])],
      issuer: settings.jwt.issuer,
      audience: settings.jwt.audience,
    }),
    loginThrottle: createLoginThrottle(db, settings.loginThrottle),
    trustProxy: settings.trustProxy,
    eventSource: `/${SERVICE_NAME}`,
    logger,
    registry,
    isDraining: () => draining,
    dependencies: [
      { name: 'postgres', critical: true, check: () => isReachable(db) },
      // Signup works without NATS (the outbox holds events), so NATS is reported, not required.
      { name: 'nats', critical: false, check: () => nats.isConnected() },
    ],
  });
  const http = await startHttpServer(app, settings.port, settings.host);
  logger.info({ port: http.port }, 'user-service ready');

  return {
    http,
    async stop(graceMs) {
      draining = true;
      provisioning.abort();
      await http.close(graceMs);
      await listener.stop();
      await relay.stop();
      await pruner.stop();
      await nats.close();
      await db.destroy();
    },
  };
}
