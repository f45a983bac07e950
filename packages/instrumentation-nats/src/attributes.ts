import type { DeliveryInfo, PubAck } from '@nats-io/jetstream';
import type { Attributes } from '@opentelemetry/api';
import {
  ATTR_MESSAGING_CONSUMER_GROUP_NAME,
  ATTR_MESSAGING_DESTINATION_NAME,
  ATTR_MESSAGING_MESSAGE_BODY_SIZE,
  ATTR_MESSAGING_MESSAGE_ID,
  ATTR_MESSAGING_NATS_MESSAGE_DELIVERY_COUNT,
  ATTR_MESSAGING_NATS_MESSAGE_DUPLICATE,
  ATTR_MESSAGING_NATS_MESSAGE_ENQUEUED_TIME,
  ATTR_MESSAGING_NATS_MESSAGE_QUEUE_DURATION,
  ATTR_MESSAGING_NATS_MESSAGE_STREAM_SEQUENCE,
  ATTR_MESSAGING_NATS_NAK_DELAY,
  ATTR_MESSAGING_NATS_STREAM_NAME,
  ATTR_MESSAGING_NATS_TERM_REASON,
  ATTR_MESSAGING_OPERATION_NAME,
  ATTR_MESSAGING_OPERATION_TYPE,
  ATTR_MESSAGING_SYSTEM,
  ATTR_MESSAGING_SYSTEM_NAME,
  MESSAGING_OPERATION_TYPE_VALUE_PROCESS,
  MESSAGING_OPERATION_TYPE_VALUE_SEND,
  MESSAGING_OPERATION_TYPE_VALUE_SETTLE,
  MESSAGING_SYSTEM_VALUE_NATS,
  type NatsOperationName,
} from './semconv.js';

const OPERATION_TYPE: Record<NatsOperationName, string> = {
  publish: MESSAGING_OPERATION_TYPE_VALUE_SEND,
  process: MESSAGING_OPERATION_TYPE_VALUE_PROCESS,
  ack: MESSAGING_OPERATION_TYPE_VALUE_SETTLE,
  nak: MESSAGING_OPERATION_TYPE_VALUE_SETTLE,
  term: MESSAGING_OPERATION_TYPE_VALUE_SETTLE,
};

/** What is known about a message when a span about it starts. Never its body or its headers. */
export interface MessageFacts {
  subject: string;
  messageId?: string | undefined;
  bodySize?: number | undefined;
  consumerGroupName?: string | undefined;
  /** Present for consumed messages. */
  delivery?: DeliveryInfo | undefined;
  /** When processing started, in epoch milliseconds; needed with `delivery` for the queue time. */
  startedAtMs?: number | undefined;
  /** The redelivery delay a `nak` asked for. */
  nakDelayMs?: number | undefined;
  /** The reason a `term` gave. */
  termReason?: string | undefined;
}

/** `{messaging.operation.name} {messaging.destination.name}`, as the conventions name spans. */
export function spanName(operation: NatsOperationName, subject: string): string {
  return `${operation} ${subject}`;
}

/** Every attribute of every span this package starts, built in this one place. */
export function messagingAttributes(operation: NatsOperationName, facts: MessageFacts): Attributes {
  const attributes: Attributes = {
    [ATTR_MESSAGING_SYSTEM]: MESSAGING_SYSTEM_VALUE_NATS,
    [ATTR_MESSAGING_SYSTEM_NAME]: MESSAGING_SYSTEM_VALUE_NATS,
    [ATTR_MESSAGING_DESTINATION_NAME]: facts.subject,
    [ATTR_MESSAGING_OPERATION_TYPE]: OPERATION_TYPE[operation],
    [ATTR_MESSAGING_OPERATION_NAME]: operation,
  };
  if (facts.messageId) attributes[ATTR_MESSAGING_MESSAGE_ID] = facts.messageId;
  if (facts.bodySize !== undefined) attributes[ATTR_MESSAGING_MESSAGE_BODY_SIZE] = facts.bodySize;
  if (facts.consumerGroupName) {
    attributes[ATTR_MESSAGING_CONSUMER_GROUP_NAME] = facts.consumerGroupName;
  }
  if (facts.nakDelayMs !== undefined) attributes[ATTR_MESSAGING_NATS_NAK_DELAY] = facts.nakDelayMs;
  if (facts.termReason !== undefined)
    attributes[ATTR_MESSAGING_NATS_TERM_REASON] = facts.termReason;
  const { delivery } = facts;
  if (delivery) {
    attributes[ATTR_MESSAGING_NATS_STREAM_NAME] = delivery.stream;
    attributes[ATTR_MESSAGING_NATS_MESSAGE_STREAM_SEQUENCE] = delivery.streamSequence;
    attributes[ATTR_MESSAGING_NATS_MESSAGE_DELIVERY_COUNT] = delivery.deliveryCount;
    // Nanoseconds since the epoch exceed 2^53; the lost precision is far below a millisecond.
    const enqueuedAtMs = delivery.timestampNanos / 1e6;
    if (Number.isFinite(enqueuedAtMs) && enqueuedAtMs > 0) {
      attributes[ATTR_MESSAGING_NATS_MESSAGE_ENQUEUED_TIME] = enqueuedAtMs / 1000;
      if (facts.startedAtMs !== undefined) {
        attributes[ATTR_MESSAGING_NATS_MESSAGE_QUEUE_DURATION] =
          Math.max(0, facts.startedAtMs - enqueuedAtMs) / 1000;
      }
    }
  }
  return attributes;
}

/** What the stream answered to a publish. */
export function pubAckAttributes(ack: PubAck): Attributes {
  return {
    [ATTR_MESSAGING_NATS_STREAM_NAME]: ack.stream,
    [ATTR_MESSAGING_NATS_MESSAGE_STREAM_SEQUENCE]: ack.seq,
    [ATTR_MESSAGING_NATS_MESSAGE_DUPLICATE]: ack.duplicate,
  };
}
