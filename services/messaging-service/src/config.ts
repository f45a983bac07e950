import {
  checkNatsTlsPair,
  type NatsSettings,
  natsEnvShape,
  natsSettingsFromEnv,
} from '@signup-flow/nats';
import { env, loadConfig } from '@signup-flow/service-runtime';
import { z } from 'zod';
import { RFC5321_DATA_TERMINATION_TIMEOUT_MS } from './mail/smtp-mailer.js';

export const DEFAULT_SMTP_URL = 'smtp://127.0.0.1:1025';
export const DEFAULT_MAIL_FROM = 'signup-flow <no-reply@localhost>';

/** Waits after each failed attempt, in milliseconds; its length is the attempt budget. */
const backoffSchedule = z
  .string()
  .default('1000,5000,30000,120000,600000')
  .transform((value) => value.split(',').map((entry) => Number(entry.trim())))
  .pipe(
    z
      .array(z.number().int().positive('each entry must be a positive number of milliseconds'))
      .min(2, 'must list at least two delays'),
  );

/**
 * Every setting of the messaging-service, keyed by its environment variable. Parsed once at start
 * ({@link loadSettings}). Each key's description is its meaning in the README's configuration
 * table (src/config.test.ts checks the table against this schema).
 */
export const configSchema = z
  .object({
    PORT: env.port(8081).describe('HTTP port of `/healthz`, `/readyz`, `/metrics`'),
    HOST: env.host().describe('bind address (`npm start` sets `127.0.0.1`)'),
    DATABASE_URL: env
      .postgresUrl()
      .describe("`postgres://…` of the messaging-service's own database (the ledger)"),
    SMTP_URL: z
      .string()
      .refine(
        (value) => URL.canParse(value) && /^smtps?:$/.test(new URL(value).protocol),
        // Never echo the value: it may carry the SMTP password.
        'must be an smtp:// or smtps:// URL',
      )
      .optional()
      .describe(
        '`smtp://[user:pass@]host:port` (STARTTLS when the server offers it) or `smtps://…` (implicit TLS)',
      ),
    MAIL_FROM: z.string().min(3).optional().describe('sender of the welcome email'),
    LOG_LEVEL: env.logLevel().describe('`debug`, `info`, `warn`, `error`'),
    DB_MIGRATE: env.boolean(true).describe('apply pending migrations at start'),
    NATS_PROVISION: env
      .boolean(true)
      .describe('create or update the `DLQ` stream and the consumer at start'),
    SEND_CONCURRENCY: env
      .positiveInt(16)
      .describe(
        'messages one replica processes at once; it pulls only as many as it has free slots',
      ),
    CONSUMER_MAX_ACK_PENDING: z.coerce
      .number()
      .int()
      .positive()
      .optional()
      .describe(
        "the consumer's MaxAckPending, shared by **all** replicas: set it to replicas × `SEND_CONCURRENCY` (every replica writes the same value)",
      ),
    RETRY_BACKOFF_MS: backoffSchedule.describe(
      'the attempt budget: its length is how many attempts a message may fail; entry _n_ is the wait after the _n_-th failed attempt (Retries)',
    ),
    SMTP_TIMEOUT_MS: env
      .positiveInt(30_000)
      .describe(
        'connecting to the SMTP server, and its greeting, must each come within this; else the server counts as unavailable',
      ),
    SMTP_REPLY_TIMEOUT_MS: env
      .positiveInt(RFC5321_DATA_TERMINATION_TIMEOUT_MS)
      .describe(
        'the longest wait for any one SMTP reply; RFC 5321 §4.5.3.2.6 lets a server take 10 minutes to answer the end of DATA',
      ),
    CLAIM_LEASE_MS: env
      .positiveInt(30_000)
      .describe(
        "a delivery claim's lease; renewed every third of it while the send runs, and the send is stopped if it cannot be renewed",
      ),
    CONSUMER_ACK_WAIT_MS: env
      .positiveInt(30_000)
      .describe(
        "the consumer's AckWait: a message held this long without ack, nak or `working()` (its replica died) is delivered again",
      ),
    MESSAGE_DEADLINE_MS: z.coerce
      .number()
      .int()
      .positive()
      .optional()
      .describe(
        'the longest one message may be processed; past it the send is stopped and the attempt counts as failed',
      ),
    SMTP_POOL_SIZE: z.coerce
      .number()
      .int()
      .positive()
      .optional()
      .describe('pooled SMTP connections per replica'),
    MAX_EVENT_BYTES: env
      .positiveInt(64 * 1024)
      .describe('larger message bodies go straight to the DLQ (`too-large`)'),
    DLQ_REPLICAS: env
      .positiveInt(1)
      .describe('replicas of the `DLQ` stream (3 on a production cluster)'),
    DLQ_MAX_AGE_DAYS: env.positiveInt(30).describe('how long dead letters are kept'),
    SHUTDOWN_TIMEOUT_MS: env
      .positiveInt(30_000)
      .describe('hard bound of a graceful shutdown; in-flight sends get this minus 5 s'),
  })
  .extend(natsEnvShape)
  .superRefine(checkNatsTlsPair);

export type Config = z.infer<typeof configSchema>;

/** The settings the code works with, with derived defaults filled in. */
export interface Settings {
  port: number;
  /** Bind address; every interface when unset. */
  host?: string;
  databaseUrl: string;
  nats: NatsSettings;
  smtpUrl: string;
  mailFrom: string;
  logLevel: Config['LOG_LEVEL'];
  migrateOnStart: boolean;
  provisionNats: boolean;
  sendConcurrency: number;
  /** Shared by all replicas: room for this many in-flight messages in the whole deployment. */
  maxAckPending: number;
  /** Its length is the attempt budget; entry n is the wait after the n-th failed attempt. */
  retryBackoffMs: number[];
  /** Connecting to the SMTP server, and its greeting, each within this. */
  smtpConnectTimeoutMs: number;
  /** Any one SMTP reply, the end of DATA's included, within this. */
  smtpReplyTimeoutMs: number;
  /** A delivery claim's lease, renewed while its send runs. */
  claimLeaseMs: number;
  ackWaitMs: number;
  /** The longest a message may be processed, its whole send included. */
  messageDeadlineMs: number;
  smtpPoolSize: number;
  maxEventBytes: number;
  dlqReplicas: number;
  dlqMaxAgeMs: number;
  shutdownTimeoutMs: number;
  /** Variables left at a default a deployment should set; `service.ts` warns about each. */
  defaulted: string[];
}

const DAY_MS = 24 * 60 * 60 * 1000;

export function settingsFromConfig(config: Config): Settings {
  const defaulted = [
    ...(config.SMTP_URL === undefined ? ['SMTP_URL'] : []),
    ...(config.MAIL_FROM === undefined ? ['MAIL_FROM'] : []),
  ];
  return {
    port: config.PORT,
    ...(config.HOST ? { host: config.HOST } : {}),
    databaseUrl: config.DATABASE_URL,
    nats: natsSettingsFromEnv(config),
    smtpUrl: config.SMTP_URL ?? DEFAULT_SMTP_URL,
    mailFrom: config.MAIL_FROM ?? DEFAULT_MAIL_FROM,
    logLevel: config.LOG_LEVEL,
    migrateOnStart: config.DB_MIGRATE,
    provisionNats: config.NATS_PROVISION,
    sendConcurrency: config.SEND_CONCURRENCY,
    // Four replicas' worth by default: every replica writes the same consumer config.
    maxAckPending: config.CONSUMER_MAX_ACK_PENDING ?? config.SEND_CONCURRENCY * 4,
    retryBackoffMs: config.RETRY_BACKOFF_MS,
    smtpConnectTimeoutMs: config.SMTP_TIMEOUT_MS,
    smtpReplyTimeoutMs: config.SMTP_REPLY_TIMEOUT_MS,
    claimLeaseMs: config.CLAIM_LEASE_MS,
    ackWaitMs: config.CONSUMER_ACK_WAIT_MS,
    // Room for connecting, the greeting and the slowest reply, and a minute for the rest.
    messageDeadlineMs:
      config.MESSAGE_DEADLINE_MS ??
      2 * config.SMTP_TIMEOUT_MS + config.SMTP_REPLY_TIMEOUT_MS + 60_000,
    smtpPoolSize: config.SMTP_POOL_SIZE ?? Math.min(config.SEND_CONCURRENCY, 10),
    maxEventBytes: config.MAX_EVENT_BYTES,
    dlqReplicas: config.DLQ_REPLICAS,
    dlqMaxAgeMs: config.DLQ_MAX_AGE_DAYS * DAY_MS,
    shutdownTimeoutMs: config.SHUTDOWN_TIMEOUT_MS,
    defaulted,
  };
}

/** The environment, validated and turned into {@link Settings}; throws ConfigError. */
export function loadSettings(environment: NodeJS.ProcessEnv = process.env): Settings {
  return settingsFromConfig(loadConfig(configSchema, environment));
}
