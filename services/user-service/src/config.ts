import { checkNatsTlsPair, natsEnvShape } from '@signup-flow/nats';
import { env } from '@signup-flow/service-runtime';
import { z } from 'zod';

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
