import { AckPolicy } from '@nats-io/jetstream';
import { nanos } from '@nats-io/nats-core';
import { describe, expect, it } from 'vitest';
import { WELCOME_EMAIL_CONSUMER, welcomeEmailConsumerConfig } from './jetstream.js';

describe('welcome-email consumer configuration', () => {
  it('when built, then the server never gives up on a message (no MaxDeliver, no BackOff) and the filter is users.created', () => {
    const config = welcomeEmailConsumerConfig({ ackWaitMs: 30_000, maxAckPending: 32 });

    expect(config).toMatchObject({
      durable_name: WELCOME_EMAIL_CONSUMER,
      filter_subject: 'users.created',
      ack_policy: AckPolicy.Explicit,
      ack_wait: nanos(30_000),
      backoff: [],
      max_deliver: -1,
      max_ack_pending: 32,
    });
  });
});
