import { type JetStreamClient, jetstream } from '@nats-io/jetstream';
import { headers as natsHeaders } from '@nats-io/nats-core';
import { CLOUDEVENTS_CONTENT_TYPE, HEADERS, STREAMS } from '@signup-flow/events';
import { type NatsTracing, restoreTraceContext } from '@signup-flow/instrumentation-nats';
import { isNoStreamForSubject, type NatsLink } from '@signup-flow/nats';
import type { Logger } from '@signup-flow/service-runtime';
import type { Knex } from 'knex';
import {
  type ClaimedEvent,
  claimUnpublished,
  markPublished,
  recordFailedAttempt,
} from '../data/outbox-repository.js';
import type { OutboxMetrics } from './metrics.js';
import { WakeSignal } from './wake-signal.js';

export interface OutboxRelayOptions {
  db: Knex;
  nats: NatsLink;
  /** Publishes in a `publish users.created` span that continues the signup request's trace. */
  tracing: NatsTracing;
  logger: Logger;
  metrics: OutboxMetrics;
  batchSize: number;
  /** Fallback when a wake is missed (e.g. while the LISTEN connection reconnects). */
  pollIntervalMs: number;
  /** How long to wait for each PubAck. */
  publishTimeoutMs: number;
  /** Cap of the exponential back-off while NATS or PostgreSQL fail. */
  retryMaxDelayMs: number;
  /**
   * Called when a publish found no stream for its subject (someone deleted USERS): the events
   * stay in the outbox, and this may recreate the stream.
   */
  onStreamMissing: () => void;
}

const FIRST_RETRY_DELAY_MS = 100;

function describe(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}

/**
 * Moves events from the outbox table to JetStream: claims a batch (`FOR UPDATE SKIP LOCKED`, so
 * replicas share the work), publishes each with `Nats-Msg-Id` = event id, and marks a row
 * published only after its PubAck, in the same transaction. A crash between publish and mark
 * republishes the event, which JetStream drops as a duplicate within the stream's duplicate window.
 */
export class OutboxRelay {
  readonly #options: OutboxRelayOptions;
  readonly #wake = new WakeSignal();
  #stopping = false;
  readonly #stopped = Promise.withResolvers<undefined>();
  #loop: Promise<void> | undefined;

  constructor(options: OutboxRelayOptions) {
    this.#options = options;
  }

  start(): void {
    this.#loop ??= this.#run();
  }

  /** Looks for unpublished events now instead of at the next poll (a NOTIFY said one is there). */
  wake(): void {
    this.#wake.wake();
  }

  /** Lets the batch in progress finish, then stops. */
  async stop(): Promise<void> {
    this.#stopping = true;
    this.#stopped.resolve(undefined);
    this.#wake.wake();
    await this.#loop;
  }

  async #run(): Promise<void> {
    const { logger, nats } = this.#options;
    const connection = await Promise.race([nats.connected(), this.#stopped.promise]);
    if (!connection) return;
    const client = jetstream(connection);
    let failures = 0;
    while (!this.#stopping) {
      try {
        const relayed = await this.#relayBatch(client);
        if (failures > 0) logger.info({ failures }, 'outbox relay recovered');
        failures = 0;
        if (relayed === this.#options.batchSize) continue;
        await this.#wake.sleep(this.#options.pollIntervalMs);
      } catch (error) {
        failures += 1;
        if (isNoStreamForSubject(error instanceof Error && error.cause ? error.cause : error)) {
          this.#options.onStreamMissing();
        }
        const delay = this.#retryDelay(failures);
        logger.warn({ err: error, failures, retryInMs: delay }, 'outbox relay failed, backing off');
        await this.#wake.sleep(delay);
      }
    }
  }

  #retryDelay(failures: number): number {
    const exponential = FIRST_RETRY_DELAY_MS * 2 ** Math.min(failures - 1, 20);
    const capped = Math.min(this.#options.retryMaxDelayMs, exponential);
    return Math.round(capped / 2 + (Math.random() * capped) / 2);
  }

  /** Relays one batch; returns how many events were published. Throws if any publish failed. */
  async #relayBatch(client: JetStreamClient): Promise<number> {
    const { db, metrics } = this.#options;
    const batch = await db.transaction(async (trx) => {
      const claimed = await claimUnpublished(trx, this.#options.batchSize);
      // One event per aggregate in a batch (see claimUnpublished), so publishing them all at
      // once cannot reorder a user's events.
      const outcomes = await Promise.allSettled(
        claimed.map((event) => this.#publish(client, event)),
      );
      const publishedIds: string[] = [];
      const failedIds: string[] = [];
      let failure: unknown;
      outcomes.forEach((outcome, index) => {
        const id = claimed[index]?.id;
        if (id === undefined) return;
        if (outcome.status === 'fulfilled') {
          publishedIds.push(id);
        } else {
          failedIds.push(id);
          failure ??= outcome.reason;
        }
      });
      await markPublished(trx, publishedIds);
      if (failedIds.length > 0) await recordFailedAttempt(trx, failedIds, describe(failure));
      return {
        claimed: claimed.length,
        published: publishedIds.length,
        failed: failedIds.length,
        failure,
      };
    });
    if (batch.failed > 0) {
      metrics.publishFailures.inc(batch.failed);
      throw new Error(`${batch.failed} of ${batch.claimed} events not published`, {
        cause: batch.failure,
      });
    }
    return batch.published;
  }

  async #publish(client: JetStreamClient, event: ClaimedEvent): Promise<void> {
    const headers = natsHeaders();
    headers.set(HEADERS.contentType, CLOUDEVENTS_CONTENT_TYPE);
    const stopTimer = this.#options.metrics.publishDuration.startTimer();
    await this.#options.tracing.publish(client, event.subject, JSON.stringify(event.payload), {
      msgID: event.eventId,
      headers,
      timeout: this.#options.publishTimeoutMs,
      expect: { streamName: STREAMS.users },
      parentContext: restoreTraceContext(event.traceContext),
    });
    stopTimer();
    this.#options.metrics.published.inc();
  }
}
