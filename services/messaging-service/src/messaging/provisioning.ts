import {
  AckPolicy,
  type ConsumerConfig,
  type ConsumerInfo,
  DeliverPolicy,
  type JetStreamManager,
} from '@nats-io/jetstream';
import { nanos } from '@nats-io/nats-core';
import { STREAMS, SUBJECTS } from '@signup-flow/events';
import { ensureStream } from '@signup-flow/nats';
import type { Logger } from '@signup-flow/service-runtime';
import { type DlqStreamOptions, dlqStreamConfig } from './dead-letters.js';

/** The durable all replicas share; JetStream splits its messages between them. */
export const WELCOME_EMAIL_CONSUMER = 'messaging-service-welcome-email';

export interface WelcomeEmailConsumerOptions {
  /** Delays between attempts; its length is MaxDeliver (see README "Retries"). */
  retryBackoffMs: number[];
  /** Unacknowledged messages allowed across all replicas. */
  maxAckPending: number;
}

export function welcomeEmailConsumerConfig(options: WelcomeEmailConsumerOptions): ConsumerConfig {
  return {
    durable_name: WELCOME_EMAIL_CONSUMER,
    description: 'Sends one welcome email per UserCreated event.',
    filter_subject: SUBJECTS.userCreated,
    deliver_policy: DeliverPolicy.All,
    ack_policy: AckPolicy.Explicit,
    // The server takes the first entry as the first delivery's ack wait.
    ack_wait: nanos(options.retryBackoffMs[0] ?? 30_000),
    backoff: options.retryBackoffMs.map((ms) => nanos(ms)),
    max_deliver: options.retryBackoffMs.length,
    max_ack_pending: options.maxAckPending,
  } as ConsumerConfig;
}

function isNotFound(error: unknown): boolean {
  return error instanceof Error && /NotFound/.test(error.name);
}

/** Creates the durable consumer, or updates it to `config` if it exists; safe from every replica. */
export async function ensureConsumer(
  manager: JetStreamManager,
  stream: string,
  config: ConsumerConfig,
): Promise<ConsumerInfo> {
  const name = config.durable_name ?? '';
  try {
    await manager.consumers.info(stream, name);
  } catch (error) {
    if (!isNotFound(error)) throw error;
    try {
      return await manager.consumers.add(stream, config);
    } catch (addError) {
      if (!/already (exists|in use)/i.test(String(addError))) throw addError;
    }
  }
  return manager.consumers.update(stream, name, config);
}

export interface WaitOptions {
  manager: JetStreamManager;
  logger: Logger;
  /** Between looks. @default 2000 */
  retryEveryMs?: number;
  /** Stops the wait (shutdown). */
  signal?: AbortSignal;
}

export interface ProvisionOptions extends WaitOptions {
  consumer: WelcomeEmailConsumerOptions;
  dlq: DlqStreamOptions;
}

/** Retries `lookup` until what it looks up exists, logging `waiting` on every miss. */
async function waitUntilExists(
  options: WaitOptions,
  lookup: () => Promise<unknown>,
  waiting: string,
): Promise<void> {
  const retryEveryMs = options.retryEveryMs ?? 2000;
  for (let attempt = 1; ; attempt++) {
    options.signal?.throwIfAborted();
    try {
      await lookup();
      return;
    } catch (error) {
      if (!isNotFound(error)) throw error;
      options.logger.warn({ attempt, retryInMs: retryEveryMs }, waiting);
    }
    await new Promise((resolve) => setTimeout(resolve, retryEveryMs));
  }
}

/**
 * Waits until the user-service has created USERS (the messaging-service never creates or changes
 * it), then creates or updates the DLQ stream and the welcome-email consumer.
 */
export async function provisionMessaging(options: ProvisionOptions): Promise<void> {
  await waitUntilExists(
    options,
    () => options.manager.streams.info(STREAMS.users),
    'waiting for the USERS stream, which the user-service creates',
  );
  await ensureStream(options.manager, dlqStreamConfig(options.dlq));
  await ensureConsumer(
    options.manager,
    STREAMS.users,
    welcomeEmailConsumerConfig(options.consumer),
  );
  options.logger.info(
    { stream: STREAMS.users, consumer: WELCOME_EMAIL_CONSUMER, dlq: STREAMS.deadLetters },
    'JetStream consumer and DLQ stream ready',
  );
}

/** With NATS_PROVISION=false: waits until whoever provisions has created the consumer. */
export async function waitForWelcomeEmailConsumer(options: WaitOptions): Promise<void> {
  await waitUntilExists(
    options,
    () => options.manager.consumers.info(STREAMS.users, WELCOME_EMAIL_CONSUMER),
    `waiting for the consumer ${WELCOME_EMAIL_CONSUMER} on USERS (NATS_PROVISION=false)`,
  );
}
