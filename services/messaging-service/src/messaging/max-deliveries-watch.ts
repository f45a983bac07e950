import type { JetStreamManager } from '@nats-io/jetstream';
import type { NatsConnection, Subscription } from '@nats-io/nats-core';
import { decodeEvent } from '@signup-flow/events';
import type { Logger } from '@signup-flow/service-runtime';
import { z } from 'zod';
import { DELIVERY_STATUSES, type DeliveryLedger } from '../data/delivery-ledger.js';
import type { MessagingMetrics } from '../metrics.js';
import { type DeadLetterPublisher, DLQ_REASONS } from './dead-letters.js';

/** The part of JetStream's `io.nats.jetstream.advisory.v1.max_deliver` advisory we use. */
const maxDeliveriesAdvisorySchema = z.object({
  stream: z.string(),
  consumer: z.string(),
  stream_seq: z.number().int().positive(),
  deliveries: z.number().int().positive(),
});

export function maxDeliveriesSubject(stream: string, consumer: string): string {
  return `$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.${stream}.${consumer}`;
}

export interface MaxDeliveriesWatchDeps {
  connection: NatsConnection;
  manager: JetStreamManager;
  stream: string;
  consumer: string;
  ledger: DeliveryLedger;
  deadLetters: DeadLetterPublisher;
  metrics: MessagingMetrics;
  logger: Logger;
}

/**
 * The handler dead-letters a message itself when its last delivery fails. When that last delivery
 * is never settled (the replica died holding it, or the ledger was unreachable), JetStream stops
 * delivering it and announces so; this watch reads the message back from its stream and
 * dead-letters it, unless the ledger says the email went out. Every replica watches; the DLQ's
 * de-duplication keeps one copy.
 */
export function watchMaxDeliveries(deps: MaxDeliveriesWatchDeps): Subscription {
  const subscription = deps.connection.subscribe(maxDeliveriesSubject(deps.stream, deps.consumer));
  void (async () => {
    for await (const advisory of subscription) {
      try {
        const parsed = maxDeliveriesAdvisorySchema.safeParse(advisory.json());
        if (!parsed.success) {
          deps.logger.warn({ subject: advisory.subject }, 'ignoring a malformed advisory');
          continue;
        }
        await deadLetterExhausted(deps, parsed.data.stream_seq, parsed.data.deliveries);
      } catch (error) {
        deps.logger.error({ err: error }, 'cannot dead-letter a message out of deliveries');
      }
    }
  })();
  return subscription;
}

async function deadLetterExhausted(
  deps: MaxDeliveriesWatchDeps,
  streamSequence: number,
  deliveries: number,
): Promise<void> {
  const original = await deps.manager.streams.getMessage(deps.stream, { seq: streamSequence });
  if (!original) return; // aged out of the stream
  const decoded = decodeEvent(original.data);
  const now = new Date();
  let firstFailure = now;
  let detail = 'last delivery was never settled (consumer crashed or could not reach its ledger)';
  if (decoded.ok) {
    const delivery = await deps.ledger.find(decoded.event.id);
    if (delivery?.status === DELIVERY_STATUSES.sent) return;
    if (delivery) {
      const failed = await deps.ledger.markFailed(decoded.event.id, detail);
      firstFailure = failed.firstFailedAt ?? now;
      if (delivery.lastError) detail = `${detail}; last error: ${delivery.lastError}`;
    }
  }
  const stored = await deps.deadLetters.publish(
    {
      stream: deps.stream,
      streamSequence,
      subject: original.subject,
      data: original.data,
      headers: original.header,
    },
    {
      reason: DLQ_REASONS.maxDeliveries,
      detail,
      attempts: deliveries,
      firstFailure,
      lastFailure: now,
    },
  );
  if (!stored) return; // another replica got there first
  deps.metrics.recordDeadLetter(DLQ_REASONS.maxDeliveries);
  deps.logger.warn(
    { streamSequence, deliveries, reason: DLQ_REASONS.maxDeliveries },
    'message out of deliveries dead-lettered',
  );
}
