/**
 * The messaging-service's JetStream definitions: the DLQ stream it owns and the welcome-email
 * consumer it reads USERS with. The messaging-service chart's NACK objects are checked against
 * this module (test/k8s/nack.test.ts).
 */
import {
  AckPolicy,
  type ConsumerConfig,
  DeliverPolicy,
  DiscardPolicy,
  RetentionPolicy,
  StorageType,
  type StreamConfig,
} from '@nats-io/jetstream';
import { nanos } from '@nats-io/nats-core';
import { CONSUMERS, STREAMS, SUBJECTS } from '@signup-flow/events';

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

export interface DlqStreamOptions {
  replicas: number;
  maxAgeMs: number;
}

/** The `DLQ` stream, owned by the messaging-service. */
export function dlqStreamConfig(options: DlqStreamOptions): StreamConfig {
  return {
    name: STREAMS.deadLetters,
    description: 'Messages the messaging-service could not process (dlq.<original subject>).',
    subjects: [`${SUBJECTS.deadLetterPrefix}.>`],
    storage: StorageType.File,
    num_replicas: options.replicas,
    retention: RetentionPolicy.Limits,
    discard: DiscardPolicy.Old,
    max_age: nanos(options.maxAgeMs),
    // A dead letter published twice (crash before the original was terminated) is stored once.
    duplicate_window: nanos(10 * 60 * 1000),
    allow_direct: true,
  } as StreamConfig;
}
