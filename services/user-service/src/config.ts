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

/** Every environment variable the user-service reads, with its default. See the README's table. */
export const configSchema = z
  .object({
    PORT: env.port(8080),
    HOST: env.host(),
    LOG_LEVEL: env.logLevel(),
    DATABASE_URL: env.postgresUrl(),
    DB_POOL_MAX: env.positiveInt(10),
    DB_MIGRATE: env.boolean(true),
    ...natsEnvShape,
    NATS_PROVISION: env.boolean(true),
    USERS_STREAM_REPLICAS: z.coerce.number().int().min(1).max(5).default(1),
    USERS_STREAM_MAX_AGE_SECONDS: env.positiveInt(7 * 24 * HOUR),
    USERS_STREAM_DUPLICATE_WINDOW_SECONDS: env.positiveInt(HOUR),
    OUTBOX_BATCH_SIZE: z.coerce.number().int().min(1).max(1000).default(100),
    OUTBOX_POLL_INTERVAL_MS: env.positiveInt(1000),
    OUTBOX_PUBLISH_TIMEOUT_MS: env.positiveInt(5000),
    OUTBOX_RETRY_MAX_DELAY_MS: env.positiveInt(30_000),
    OUTBOX_RETENTION_SECONDS: env.positiveInt(7 * 24 * HOUR),
    JWT_SECRET: z.string().min(32, 'must be at least 32 characters').optional(),
    JWT_SECRET_PREVIOUS: z.string().min(32, 'must be at least 32 characters').optional(),
    JWT_KEY_ID: z.string().min(1).default('user-service-1'),
    JWT_ISSUER: z.string().min(1).default('user-service'),
    JWT_AUDIENCE: z.string().min(1).default('signup-flow'),
    JWT_TTL_SECONDS: env.positiveInt(HOUR),
    LOGIN_MAX_FAILURES_PER_ACCOUNT: env.positiveInt(5),
    LOGIN_MAX_FAILURES_PER_CLIENT: env.positiveInt(100),
    LOGIN_FAILURE_WINDOW_SECONDS: env.positiveInt(900),
    TRUST_PROXY: env.boolean(false),
    SHUTDOWN_TIMEOUT_MS: env.positiveInt(25_000),
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
    trustProxy: config.TRUST_PROXY,
    shutdownTimeoutMs: config.SHUTDOWN_TIMEOUT_MS,
  };
}

/** The environment, validated and turned into {@link Settings}; throws ConfigError. */
export function loadSettings(environment: NodeJS.ProcessEnv = process.env): Settings {
  return settingsFromConfig(loadConfig(configSchema, environment));
}
