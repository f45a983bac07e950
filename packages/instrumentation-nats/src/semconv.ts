/*
 * Semantic-convention names used by this package.
 *
 * Stable names are imported from `@opentelemetry/semantic-conventions`. Messaging attributes are all
 * in "development" status; the package's guidance is to copy incubating constants rather than
 * import `@opentelemetry/semantic-conventions/incubating`, whose exports may change in any minor
 * release. They are copied below with their JSDoc, from @opentelemetry/semantic-conventions 1.45.0.
 *
 * The `messaging.nats.*` names at the end are this package's own: the conventions define no NATS
 * namespace yet. They follow the shape of the system-specific names the conventions do define
 * (`messaging.kafka.offset`, `messaging.rabbitmq.message.delivery_tag`, …).
 */

export { ATTR_ERROR_TYPE, ERROR_TYPE_VALUE_OTHER } from '@opentelemetry/semantic-conventions';

/**
 * Deprecated, use `messaging.system.name` instead.
 *
 * @note The actual messaging system may differ from the one known by the client.
 * For example, when using Kafka client libraries to communicate with Azure Event Hubs, the `messaging.system`
 * is set to `kafka` based on the instrumentation's best knowledge.
 *
 * @experimental This attribute is experimental and is subject to breaking changes in minor releases of `@opentelemetry/semantic-conventions`.
 *
 * @deprecated Replaced by `messaging.system.name`.
 */
export const ATTR_MESSAGING_SYSTEM = 'messaging.system' as const;

/**
 * The messaging system as identified by the client instrumentation.
 *
 * @note The actual messaging system may differ from the one known by the client. For example, when using Kafka client libraries to communicate with Azure Event Hubs, the `messaging.system.name` is set to `kafka` based on the instrumentation's best knowledge.
 *
 * @experimental This attribute is experimental and is subject to breaking changes in minor releases of `@opentelemetry/semantic-conventions`.
 */
export const ATTR_MESSAGING_SYSTEM_NAME = 'messaging.system.name' as const;

/**
 * The message destination name
 *
 * @example MyQueue
 * @example MyTopic
 *
 * @note **SHOULD** uniquely identify a specific queue, topic or other entity within the broker. If
 * the broker doesn't have such notion, it **SHOULD** uniquely identify the broker.
 *
 * @experimental This attribute is experimental and is subject to breaking changes in minor releases of `@opentelemetry/semantic-conventions`.
 */
export const ATTR_MESSAGING_DESTINATION_NAME = 'messaging.destination.name' as const;

/**
 * A string identifying the type of the messaging operation.
 *
 * @note If a custom value is used, it **MUST** be of low cardinality.
 * @experimental This attribute is experimental and is subject to breaking changes in minor releases of `@opentelemetry/semantic-conventions`.
 */
export const ATTR_MESSAGING_OPERATION_TYPE = 'messaging.operation.type' as const;

/**
 * The system-specific name of the messaging operation.
 *
 * @example ack
 * @example nack
 * @example send
 *
 * @experimental This attribute is experimental and is subject to breaking changes in minor releases of `@opentelemetry/semantic-conventions`.
 */
export const ATTR_MESSAGING_OPERATION_NAME = 'messaging.operation.name' as const;

/**
 * A value used by the messaging system as an identifier for the message, represented as a string.
 *
 * @example "452a7c7c7c7048c2f887f61572b18fc2"
 *
 * @experimental This attribute is experimental and is subject to breaking changes in minor releases of `@opentelemetry/semantic-conventions`.
 */
export const ATTR_MESSAGING_MESSAGE_ID = 'messaging.message.id' as const;

/**
 * The name of the consumer group with which a consumer is associated.
 *
 * @example my-group
 * @example indexer
 *
 * @note Semantic conventions for individual messaging systems **SHOULD** document whether `messaging.consumer.group.name` is applicable and what it means in the context of that system.
 *
 * @experimental This attribute is experimental and is subject to breaking changes in minor releases of `@opentelemetry/semantic-conventions`.
 */
export const ATTR_MESSAGING_CONSUMER_GROUP_NAME = 'messaging.consumer.group.name' as const;

/**
 * The size of the message body in bytes.
 *
 * @example 1439
 *
 * @note This can refer to both the compressed or uncompressed body size. If both sizes are known, the uncompressed
 * body size should be used.
 *
 * @experimental This attribute is experimental and is subject to breaking changes in minor releases of `@opentelemetry/semantic-conventions`.
 */
export const ATTR_MESSAGING_MESSAGE_BODY_SIZE = 'messaging.message.body.size' as const;

/**
 * Enum value "send" for attribute {@link ATTR_MESSAGING_OPERATION_TYPE}.
 *
 * One or more messages are provided for sending to an intermediary. If a single message is sent, the context of the "Send" span can be used as the creation context and no "Create" span needs to be created.
 *
 * @experimental This enum value is experimental and is subject to breaking changes in minor releases of `@opentelemetry/semantic-conventions`.
 */
export const MESSAGING_OPERATION_TYPE_VALUE_SEND = 'send' as const;

/**
 * Enum value "process" for attribute {@link ATTR_MESSAGING_OPERATION_TYPE}.
 *
 * One or more messages are processed by a consumer.
 *
 * @experimental This enum value is experimental and is subject to breaking changes in minor releases of `@opentelemetry/semantic-conventions`.
 */
export const MESSAGING_OPERATION_TYPE_VALUE_PROCESS = 'process' as const;

/**
 * Enum value "settle" for attribute {@link ATTR_MESSAGING_OPERATION_TYPE}.
 *
 * One or more messages are settled.
 *
 * @experimental This enum value is experimental and is subject to breaking changes in minor releases of `@opentelemetry/semantic-conventions`.
 */
export const MESSAGING_OPERATION_TYPE_VALUE_SETTLE = 'settle' as const;

// ---- This package's own names (no NATS namespace exists in the conventions yet) ----

/** Value of `messaging.system` and `messaging.system.name` for NATS. */
export const MESSAGING_SYSTEM_VALUE_NATS = 'nats' as const;

/**
 * The system-specific operation names (`messaging.operation.name`), also the first word of each
 * span name: the nats.js method that was called.
 */
export const NATS_OPERATION_NAME = {
  publish: 'publish',
  process: 'process',
  ack: 'ack',
  nak: 'nak',
  term: 'term',
} as const;
export type NatsOperationName = (typeof NATS_OPERATION_NAME)[keyof typeof NATS_OPERATION_NAME];

/** The JetStream stream that stored the message (from the PubAck or the delivery info). */
export const ATTR_MESSAGING_NATS_STREAM_NAME = 'messaging.nats.stream.name' as const;

/** The message's sequence number in its stream (from the PubAck or the delivery info). */
export const ATTR_MESSAGING_NATS_MESSAGE_STREAM_SEQUENCE =
  'messaging.nats.message.stream_sequence' as const;

/** How many times JetStream has delivered this message to this consumer; 1 on first delivery. */
export const ATTR_MESSAGING_NATS_MESSAGE_DELIVERY_COUNT =
  'messaging.nats.message.delivery_count' as const;

/** True when the stream dropped the publish as a duplicate `Nats-Msg-Id` (from the PubAck). */
export const ATTR_MESSAGING_NATS_MESSAGE_DUPLICATE = 'messaging.nats.message.duplicate' as const;

/**
 * When JetStream stored the message, in UTC epoch seconds (with fraction). Modelled on
 * `azure.servicebus.message.enqueued_time`.
 */
export const ATTR_MESSAGING_NATS_MESSAGE_ENQUEUED_TIME =
  'messaging.nats.message.enqueued_time' as const;

/**
 * Seconds between the message being stored and its processing starting: the time it spent
 * waiting in the stream, redeliveries included. Computed with the consumer's clock, so it carries
 * any clock skew between the consumer and the NATS server.
 */
export const ATTR_MESSAGING_NATS_MESSAGE_QUEUE_DURATION =
  'messaging.nats.message.queue_duration' as const;

/** Milliseconds the application asked JetStream to wait before redelivering a `nak`ed message. */
export const ATTR_MESSAGING_NATS_NAK_DELAY = 'messaging.nats.nak.delay_ms' as const;

/** The reason the application gave for `term`inating a message. */
export const ATTR_MESSAGING_NATS_TERM_REASON = 'messaging.nats.term.reason' as const;

/** The header JetStream uses for de-duplication; its value is the message id. */
export const NATS_MSG_ID_HEADER = 'Nats-Msg-Id' as const;
