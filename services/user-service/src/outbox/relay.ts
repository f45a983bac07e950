import { type JetStreamClient, jetstream } from '@nats-io/jetstream';
import { headers as natsHeaders } from '@nats-io/nats-core';
import { context, ROOT_CONTEXT } from '@opentelemetry/api';
import { CLOUDEVENTS_CONTENT_TYPE, HEADERS, STREAMS } from '@signup-flow/events';
import { type NatsTracing, restoreTraceContext } from '@signup-flow/instrumentation-nats';
import { isNoStreamForSubject, type NatsLink } from '@signup-flow/nats';
import type { Logger } from '@signup-flow/service-runtime';
import type { Knex } from 'knex';
import {
  type Acknowledged,
  type ClaimedEvent,
  claimUnpublished,
  markAcknowledged,
  markPublished,
  type OutboxHandOff,
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
  /** Events claimed per transaction; also the most hand-offs in flight at once. */
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
/**
 * How long handed-off events wait to be marked published together: one UPDATE for all of them.
 * It delays nothing a user sees: the PubAck has come, and its time is what is recorded.
 */
const MARK_LINGER_MS = 50;
/** A hand-off's lease, in publish timeouts: time for the PubAck, the mark, and a slow database. */
const LEASE_IN_PUBLISH_TIMEOUTS = 3;

/** Who published an event: its writer at once (`hand_off`), or a relay's claim (`relay`). */
type PublishMode = 'hand_off' | 'relay';

function describe(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}

/**
 * Moves events from the outbox table to JetStream: claims a batch (`FOR UPDATE SKIP LOCKED`, so
 * replicas share the work), publishes each with `Nats-Msg-Id` = event id, and marks a row
 * published only after its PubAck, in the same transaction. A crash between publish and mark
 * republishes the event, which JetStream drops as a duplicate within the stream's duplicate window.
 *
 * While it is connected and not failing, it also takes hand-offs: events its own process has just
 * written with a lease, published at once without a claim, and marked published in batches after
 * their PubAcks. One that fails loses its lease and goes the claim's way; one whose writer died
 * is claimed by any relay once its lease ends.
 */
export class OutboxRelay implements OutboxHandOff {
  readonly #options: OutboxRelayOptions;
  readonly #wake = new WakeSignal();
  #stopping = false;
  readonly #stopped = Promise.withResolvers<undefined>();
  #loop: Promise<void> | undefined;
  #client: JetStreamClient | undefined;
  #failures = 0;
  readonly #handOffs = new Set<Promise<void>>();
  #acknowledged: Acknowledged[] = [];
  #markTimer: NodeJS.Timeout | undefined;
  #marking: Promise<void> = Promise.resolve();

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

  /** Lets the batch and the hand-offs in progress finish, marks what was acknowledged, stops. */
  async stop(): Promise<void> {
    this.#stopping = true;
    this.#stopped.resolve(undefined);
    this.#wake.wake();
    await this.#loop;
    await Promise.all(this.#handOffs);
    this.#markAcknowledged();
    await this.#marking;
  }

  leaseSeconds(): number | undefined {
    const { nats, batchSize, publishTimeoutMs } = this.#options;
    const ready =
      !this.#stopping &&
      this.#client !== undefined &&
      this.#failures === 0 &&
      this.#handOffs.size < batchSize &&
      nats.isConnected();
    return ready ? (LEASE_IN_PUBLISH_TIMEOUTS * publishTimeoutMs) / 1000 : undefined;
  }

  publish(event: ClaimedEvent): void {
    const client = this.#client;
    // Never thrown at the writer: its transaction has committed, the event must go some way.
    const published = client
      ? this.#publish(client, event, 'hand_off')
      : Promise.reject(new Error('a hand-off reached the outbox relay before it connected'));
    const handOff = published
      .then(
        () => this.#acknowledge({ id: event.id, at: new Date() }),
        (error: unknown) => this.#handOffFailed(event, error),
      )
      .finally(() => this.#handOffs.delete(handOff));
    this.#handOffs.add(handOff);
  }

  #acknowledge(acknowledged: Acknowledged): void {
    this.#acknowledged.push(acknowledged);
    if (this.#acknowledged.length >= this.#options.batchSize) this.#markAcknowledged();
    else this.#markTimer ??= setTimeout(() => this.#markAcknowledged(), MARK_LINGER_MS);
  }

  #markAcknowledged(): void {
    clearTimeout(this.#markTimer);
    this.#markTimer = undefined;
    const batch = this.#acknowledged;
    if (batch.length === 0) return;
    this.#acknowledged = [];
    this.#marking = this.#marking
      // Outside the trace of whichever signup started the batch: the UPDATE serves them all.
      .then(() => context.with(ROOT_CONTEXT, () => markAcknowledged(this.#options.db, batch)))
      .catch((error: unknown) => {
        // Their leases run out and a relay publishes them again: JetStream drops the duplicates.
        this.#options.logger.warn(
          { err: error, events: batch.length },
          'cannot mark handed-off events published; a relay republishes them',
        );
      });
  }

  async #handOffFailed(event: ClaimedEvent, error: unknown): Promise<void> {
    const { logger, metrics, db } = this.#options;
    metrics.publishFailures.inc();
    // Until the relay's own loop publishes again, new events go the claim's way.
    this.#failures = Math.max(this.#failures, 1);
    logger.warn({ err: error }, 'publishing a handed-off event failed; the relay retries it');
    try {
      await recordFailedAttempt(db, [event.id], describe(error));
    } catch (recordError) {
      logger.warn({ err: recordError }, 'cannot end the lease of a failed hand-off; it expires');
    }
    this.#wake.wake();
  }

  async #run(): Promise<void> {
    const { logger, nats } = this.#options;
    const connection = await Promise.race([nats.connected(), this.#stopped.promise]);
    if (!connection) return;
    const client = jetstream(connection);
    this.#client = client;
    while (!this.#stopping) {
      try {
        const relayed = await this.#relayBatch(client);
        if (this.#failures > 0) logger.info({ failures: this.#failures }, 'outbox relay recovered');
        this.#failures = 0;
        if (relayed === this.#options.batchSize) continue;
        await this.#wake.sleep(this.#options.pollIntervalMs);
      } catch (error) {
        this.#failures += 1;
        if (isNoStreamForSubject(error instanceof Error && error.cause ? error.cause : error)) {
          this.#options.onStreamMissing();
        }
        const delay = this.#retryDelay(this.#failures);
        logger.warn(
          { err: error, failures: this.#failures, retryInMs: delay },
          'outbox relay failed, backing off',
        );
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
        claimed.map((event) => this.#publish(client, event, 'relay')),
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

  async #publish(client: JetStreamClient, event: ClaimedEvent, mode: PublishMode): Promise<void> {
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
    this.#options.metrics.published.inc({ mode });
  }
}
