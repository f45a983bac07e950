import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { DLQ_REASONS } from './messaging/dead-letters.js';
import { MessagingMetrics } from './metrics.js';

describe('MessagingMetrics', () => {
  it('when the service starts, then every DLQ reason has its dead-letter series at 0', async () => {
    const registry = new Registry();
    new MessagingMetrics(registry, async () => undefined);

    const exposition = await registry.metrics();

    for (const reason of Object.values(DLQ_REASONS)) {
      expect(exposition).toContain(`signupflow_dead_letters_total{reason="${reason}"} 0\n`);
    }
  });

  it('when a welcome email is accepted, then its signup→email latency is observed', async () => {
    const registry = new Registry();
    const metrics = new MessagingMetrics(registry, async () => undefined);

    metrics.recordSignupToEmail(0.3);
    metrics.recordSignupToEmail(-1);

    const exposition = await registry.metrics();
    expect(exposition).toContain('signupflow_signup_to_email_latency_seconds_count 2\n');
    expect(exposition).toContain(
      'signupflow_signup_to_email_latency_seconds_bucket{le="0.05"} 1\n',
    );
    expect(exposition).toContain('signupflow_signup_to_email_latency_seconds_bucket{le="0.5"} 2\n');
  });
});
