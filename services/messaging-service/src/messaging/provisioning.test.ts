import { AckPolicy } from '@nats-io/jetstream';
import { nanos } from '@nats-io/nats-core';
import { describe, expect, it } from 'vitest';
import { WELCOME_EMAIL_CONSUMER, welcomeEmailConsumerConfig } from './provisioning.js';

describe('welcome-email consumer configuration', () => {
  it('when built from a backoff schedule, then MaxDeliver equals its length and the filter is users.created', () => {
    const config = welcomeEmailConsumerConfig({
      retryBackoffMs: [1000, 5000, 30000],
      maxAckPending: 32,
    });

    expect(config).toMatchObject({
      durable_name: WELCOME_EMAIL_CONSUMER,
      filter_subject: 'users.created',
      ack_policy: AckPolicy.Explicit,
      backoff: [nanos(1000), nanos(5000), nanos(30000)],
      max_deliver: 3,
      max_ack_pending: 32,
    });
  });
});
