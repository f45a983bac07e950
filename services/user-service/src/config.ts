import { availableParallelism } from 'node:os';
import {
  checkNatsTlsPair,
  type NatsSettings,
  natsEnvShape,
  natsSettingsFromEnv,
} from '@signup-flow/nats';
import { env, loadConfig } from '@signup-flow/service-runtime';
import { z } from 'zod';
import type { LoginThrottleLimits } from './domain/login-throttle.js';
import type { UsersStreamOptions } from './messaging/jetstream.js';

const HOUR = 3600;

/**
 * Every environment variable the user-service reads, with its default and a description that is
 * its meaning in the README's configuration table (src/config.test.ts checks the table against it).
 */
export const configSchema = z
  .object({
    PORT: env.port(8080).describe('HTTP port (API, health, metrics)'),
    HOST: env.host().describe('bind address (`npm start` sets `127.0.0.1`)'),
    LOG_LEVEL: env.logLevel().describe('`debug`, `info`, `warn`, `error`'),
    DATABASE_URL: env.postgresUrl().describe("`postgres://…` of the service's own database"),
    DB_POOL_MAX: env.positiveInt(10).describe('connection pool size'),
    DB_MIGRATE: env.boolean(true).describe('apply pending migrations at start'),
    ...natsEnvShape,
    NATS_PROVISION: env.boolean(true).describe('create or update the `USERS` stream at start'),
    USERS_STREAM_REPLICAS: z.coerce
      .number()
      .int()
      .min(1)
      .max(5)
      .default(1)
      .describe('3 on a production cluster'),
    USERS_STREAM_MAX_AGE_SECONDS: env
      .positiveInt(7 * 24 * HOUR)
      .describe('how long events are kept'),
    USERS_STREAM_DUPLICATE_WINDOW_SECONDS: env
      .positiveInt(HOUR)
      .describe('JetStream de-duplication window'),
    OUTBOX_BATCH_SIZE: z.coerce
      .number()
      .int()
      .min(1)
      .max(1000)
      .default(100)
      .describe('events claimed per relay transaction, and the most hand-offs in flight'),
    OUTBOX_POLL_INTERVAL_MS: env
      .positiveInt(1000)
      .describe('fallback poll when no notification arrives'),
    OUTBOX_PUBLISH_TIMEOUT_MS: env.positiveInt(5000).describe('wait for each PubAck'),
    OUTBOX_RETRY_MAX_DELAY_MS: env.positiveInt(30_000).describe("cap of the relay's back-off"),
    OUTBOX_RETENTION_SECONDS: env
      .positiveInt(7 * 24 * HOUR)
      .describe('published events are deleted after this'),
    JWT_SECRET: z
      .string()
      .min(32, 'must be at least 32 characters')
      .optional()
      .describe('HMAC key, at least 32 characters; set it in production'),
    JWT_SECRET_PREVIOUS: z
      .string()
      .min(32, 'must be at least 32 characters')
      .optional()
      .describe('the key before `JWT_SECRET`, still accepted while a key is rotated'),
    JWT_KEY_ID: z.string().min(1).default('user-service-1').describe("the tokens' `kid`"),
    JWT_ISSUER: z
      .string()
      .min(1)
      .default('user-service')
      .describe("the tokens' `iss`, required when verifying"),
    JWT_AUDIENCE: z
      .string()
      .min(1)
      .default('signup-flow')
      .describe("the tokens' `aud`, required when verifying"),
    JWT_TTL_SECONDS: env.positiveInt(HOUR).describe('token lifetime'),
    LOGIN_MAX_FAILURES_PER_ACCOUNT: env
      .positiveInt(5)
      .describe('failed logins for one account within the window; then `429` until it ends'),
    LOGIN_MAX_FAILURES_PER_CLIENT: env
      .positiveInt(100)
      .describe('failed logins from one client address within the window, any accounts'),
    LOGIN_FAILURE_WINDOW_SECONDS: env
      .positiveInt(900)
      .describe("the throttle's window, from the first failure"),
    PASSWORD_HASH_CONCURRENCY: env
      .positiveInt(availableParallelism())
      .describe(
        "argon2id hashes handed to libuv's pool at once (default: the CPUs this process may use); more wait their turn. Each holds 19 MiB while a pool thread computes it: with UV_THREADPOOL_SIZE at the CPUs, one more than that keeps a hash queued, so a thread that finishes one starts the next without waiting for the event loop (the chart sets both from the CPU limit)",
      ),
    TRUST_PROXY: env
      .boolean(false)
      .describe(
        'take the client address from `X-Forwarded-For` (only behind a proxy that sets it)',
      ),
    SHUTDOWN_TIMEOUT_MS: env.positiveInt(25_000).describe('bound on graceful shutdown'),
  })
  .superRefine(checkNatsTlsPair);

export type Config = z.infer<typeof configSchema>;

/** The settings the code works with, derived once from the environment. */
export interface Settings {
  port: number;
  /** Bind address; every interface when unset. */
  host?: string;
  logLevel: Config['LOG_LEVEL'];
  databaseUrl: string;
  dbPoolMax: number;
  migrateOnStart: boolean;
  nats: NatsSettings;
  provisionNats: boolean;
  usersStream: UsersStreamOptions;
  outbox: {
    batchSize: number;
    pollIntervalMs: number;
    publishTimeoutMs: number;
    retryMaxDelayMs: number;
    retentionSeconds: number;
  };
  jwt: {
    /** Signing key. Unset: a random one, so tokens die with the process (`service.ts` warns). */
    secret?: string;
    /** The key before it, still accepted during a rotation. */
    previousSecret?: string;
    keyId: string;
    issuer: string;
    audience: string;
    ttlSeconds: number;
  };
  loginThrottle: LoginThrottleLimits;
  passwordHashConcurrency: number;
  trustProxy: boolean;
  shutdownTimeoutMs: number;
}

export function settingsFromConfig(config: Config): Settings {
  return {
    port: config.PORT,
    ...(config.HOST ? { host: config.HOST } : {}),
    logLevel: config.LOG_LEVEL,
    databaseUrl: config.DATABASE_URL,
    dbPoolMax: config.DB_POOL_MAX,
    migrateOnStart: config.DB_MIGRATE,
    nats: natsSettingsFromEnv(config),
    provisionNats: config.NATS_PROVISION,
    usersStream: {
      replicas: config.USERS_STREAM_REPLICAS,
      maxAgeMs: config.USERS_STREAM_MAX_AGE_SECONDS * 1000,
      duplicateWindowMs: config.USERS_STREAM_DUPLICATE_WINDOW_SECONDS * 1000,
    },
    outbox: {
      batchSize: config.OUTBOX_BATCH_SIZE,
      pollIntervalMs: config.OUTBOX_POLL_INTERVAL_MS,
      publishTimeoutMs: config.OUTBOX_PUBLISH_TIMEOUT_MS,
      retryMaxDelayMs: config.OUTBOX_RETRY_MAX_DELAY_MS,
      retentionSeconds: config.OUTBOX_RETENTION_SECONDS,
    },
    jwt: {
      ...(config.JWT_SECRET ? { secret: config.JWT_SECRET } : {}),
      ...(config.JWT_SECRET_PREVIOUS ? { previousSecret: config.JWT_SECRET_PREVIOUS } : {}),
      keyId: config.JWT_KEY_ID,
      issuer: config.JWT_ISSUER,
      audience: config.JWT_AUDIENCE,
      ttlSeconds: config.JWT_TTL_SECONDS,
    },
    loginThrottle: {
      perAccount: config.LOGIN_MAX_FAILURES_PER_ACCOUNT,
      perClient: config.LOGIN_MAX_FAILURES_PER_CLIENT,
      windowSeconds: config.LOGIN_FAILURE_WINDOW_SECONDS,
    },
    passwordHashConcurrency: config.PASSWORD_HASH_CONCURRENCY,
    trustProxy: config.TRUST_PROXY,
    shutdownTimeoutMs: config.SHUTDOWN_TIMEOUT_MS,
  };
}

/** The environment, validated and turned into {@link Settings}; throws ConfigError. */
export function loadSettings(environment: NodeJS.ProcessEnv = process.env): Settings {
  return settingsFromConfig(loadConfig(configSchema, environment));
}
