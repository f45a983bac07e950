import type { Consumer, JetStreamClient, JetStreamManager } from '@nats-io/jetstream';
import { STREAMS } from '@signup-flow/events';
import {
  ensureConsumer,
  ensureStream,
  isJetStreamApiError,
  isJetStreamUnavailable,
  isNotFound,
  JETSTREAM_API_CODES,
} from '@signup-flow/nats';
import type { Logger } from '@signup-flow/service-runtime';
import {
  type DlqStreamOptions,
  dlqStreamConfig,
  WELCOME_EMAIL_CONSUMER,
  type WelcomeEmailConsumerOptions,
  welcomeEmailConsumerConfig,
} from './jetstream.js';

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

/**
 * Runs `step` until it succeeds, again after every error `retryable` names a reason for (logged
 * with it); any other error ends the wait. Only a shutdown stops it otherwise.
 */
async function retrying<T>(
  options: WaitOptions,
  step: () => Promise<T>,
  retryable: (error: unknown) => string | undefined,
): Promise<T> {
  const retryEveryMs = options.retryEveryMs ?? 2000;
  for (let attempt = 1; ; attempt++) {
    options.signal?.throwIfAborted();
    try {
      return await step();
    } catch (error) {
      const waiting = retryable(error);
      if (waiting === undefined) throw error;
      const reason = error instanceof Error ? error.message : String(error);
      options.logger.warn({ attempt, retryInMs: retryEveryMs, reason }, waiting);
    }
    await new Promise((resolve) => setTimeout(resolve, retryEveryMs));
  }
}

// A lost node or a leader election makes JetStream's API time out for a few seconds; ending the
// process for it would stop the welcome emails until something restarted it.
const UNANSWERED = 'JetStream did not answer (a node lost or a leader election?): trying again';

function whenUnanswered(error: unknown): string | undefined {
  return isJetStreamUnavailable(error) ? UNANSWERED : undefined;
}

/** Retries `lookup` until what it looks up exists, logging `waiting` on every miss. */
function waitUntilExists(
  options: WaitOptions,
  lookup: () => Promise<unknown>,
  waiting: string,
): Promise<unknown> {
  return retrying(options, lookup, (error) =>
    isNotFound(error) ? waiting : whenUnanswered(error),
  );
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
  await retrying(
    options,
    () => ensureStream(options.manager, dlqStreamConfig(options.dlq)),
    whenUnanswered,
  );
  await retrying(
    options,
    () =>
      ensureConsumer(options.manager, STREAMS.users, welcomeEmailConsumerConfig(options.consumer)),
    whenUnanswered,
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
      this.#missing = isJetStreamApiError(error, JETSTREAM_API_CODES.StreamNotFound)
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
