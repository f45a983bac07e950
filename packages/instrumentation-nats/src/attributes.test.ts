import type { DeliveryInfo } from '@nats-io/jetstream';
import { describe, expect, it } from 'vitest';
import { messagingAttributes, spanName } from './attributes.js';
import {
  ATTR_MESSAGING_NATS_MESSAGE_ENQUEUED_TIME,
  ATTR_MESSAGING_NATS_MESSAGE_QUEUE_DURATION,
  ATTR_MESSAGING_OPERATION_TYPE,
  MESSAGING_OPERATION_TYPE_VALUE_SETTLE,
} from './semconv.js';

const delivery: DeliveryInfo = {
  domain: '',
  stream: 'USERS',
  consumer: 'messaging-service',
  deliveryCount: 1,
  streamSequence: 7,
  deliverySequence: 7,
  timestampNanos: 1_700_000_000_000 * 1e6,
  pending: 0,
  redelivered: false,
};

/** The attributes of processing `delivery` that started at this time, in epoch milliseconds. */
const processingStartedAt = (startedAtMs: number) =>
  messagingAttributes('process', { subject: 'users.created', delivery, startedAtMs });

describe('messagingAttributes', () => {
  it('when processing starts 2.5 s after the message was stored, then the queue duration is 2.5 s', () => {
    const attributes = processingStartedAt(1_700_000_002_500);

    expect(attributes[ATTR_MESSAGING_NATS_MESSAGE_ENQUEUED_TIME]).toBe(1_700_000_000);
    expect(attributes[ATTR_MESSAGING_NATS_MESSAGE_QUEUE_DURATION]).toBeCloseTo(2.5, 3);
  });

  it('when the consumer clock is behind the server, then the queue duration is 0, not negative', () => {
    const attributes = processingStartedAt(1_699_999_999_000);

    expect(attributes[ATTR_MESSAGING_NATS_MESSAGE_QUEUE_DURATION]).toBe(0);
  });

  it('when a message is settled, then the operation type is settle and the span is named for it', () => {
    expect(messagingAttributes('nak', { subject: 'users.created' })).toMatchObject({
      [ATTR_MESSAGING_OPERATION_TYPE]: MESSAGING_OPERATION_TYPE_VALUE_SETTLE,
    });
    expect(spanName('nak', 'users.created')).toBe('nak users.created');
  });
});
