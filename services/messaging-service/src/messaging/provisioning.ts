import {
  AckPolicy,
  type Consumer,
  type ConsumerConfig,
  type ConsumerInfo,
  DeliverPolicy,
  type JetStreamClient,
  type JetStreamManager,
} from '@nats-io/jetstream';
import { nanos } from '@nats-io/nats-core';
import { CONSUMERS, STREAMS, SUBJECTS } from '@signup-flow/events';
import { ensureStream } from '@signup-flow/nats';
import type { Logger } from '@signup-flow/service-runtime';
import { type DlqStreamOptions, dlqStreamConfig } from './dead-letters.js';

/** The durable all replicas share; JetStream splits its messages between them. */
export const WELCOME_EMAIL_CONSUMER = CONSUMERS.welcomeEmail;

export interface WelcomeEmailConsumerOptions {
  /** How long a delivered message may go without ack, nak or `working()` before redelivery. */
  ackWaitMs: number;
  /** Unacknowledged messages allowed across all replicas. */
  maxAckPending: number;
}

/**
 * No MaxDeliver and no BackOff: the server never gives up on a message (the attempt budget lives
 * in the delivery ledger, where a crash cannot lose it, README "Retries"), and every retry delay
 * is the handler's explicit `nak(delay)`, which a BackOff list would distort.
 */
export function welcomeEmailConsumerConfig(options: WelcomeEmailConsumerOptions): ConsumerConfig {
  return {
    durable_name: WELCOME_EMAIL_CONSUMER,
    description: 'Sends one welcome email per UserCreated event.',
    filter_subject: SUBJECTS.userCreated,
    deliver_policy: DeliverPolicy.All,
    ack_policy: AckPolicy.Explicit,
    ack_wait: nanos(options.ackWaitMs),
    backoff: [] as number[],
    max_deliver: -1,
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

export interface WelcomeEmailConsumerBindingOptions {
  js: JetStreamClient;
  /** NATS_PROVISION: recreate what is missing, or only report it. */
  provision: ProvisionOptions | undefined;
  logger: Logger;
}

/**
 * The consumer as the consume loop sees it: looked up on every new pull, and, with provisioning
 * on, recreated (with the DLQ stream) when someone deleted it while the service runs. The
 * ledger makes the recreated consumer's redeliveries harmless: sent emails are acked unsent.
 */
export class WelcomeEmailConsumerBinding {
  readonly #options: WelcomeEmailConsumerBindingOptions;
  #missing: string | undefined;
  #healing: Promise<void> | undefined;

  constructor(options: WelcomeEmailConsumerBindingOptions) {
    this.#options = options;
  }

  /** What is missing right now (for `/readyz` and the log), or undefined when all is there. */
  get missing(): string | undefined {
    return this.#missing;
  }

  async get(): Promise<Consumer> {
    const { js, provision, logger } = this.#options;
    try {
      const consumer = await js.consumers.get(STREAMS.users, WELCOME_EMAIL_CONSUMER);
      this.#missing = undefined;
      return consumer;
    } catch (error) {
      if (!isNotFound(error)) throw error;
      this.#missing =
        error instanceof Error && error.name === 'StreamNotFoundError'
          ? `stream ${STREAMS.users}`
          : `consumer ${WELCOME_EMAIL_CONSUMER} on ${STREAMS.users}`;
      if (!provision) {
        logger.error(
          { missing: this.#missing },
          `${this.#missing} is missing and NATS_PROVISION=false: not consuming until someone creates it`,
        );
        throw error;
      }
      logger.warn({ missing: this.#missing }, `${this.#missing} is missing: recreating it`);
      await this.heal();
      const consumer = await js.consumers.get(STREAMS.users, WELCOME_EMAIL_CONSUMER);
      this.#missing = undefined;
      return consumer;
    }
  }

  /** Recreates the DLQ stream and the consumer (no-op with provisioning off); one run at a time. */
  heal(): Promise<void> {
    const provision = this.#options.provision;
    if (!provision) return Promise.resolve();
    this.#healing ??= provisionMessaging(provision).finally(() => {
      this.#healing = undefined;
    });
    return this.#healing;
  }
}
