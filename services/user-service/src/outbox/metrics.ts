import { METRIC_PREFIX, snapshotGauges } from '@signup-flow/service-runtime';
import type { Knex } from 'knex';
import { Counter, Histogram, type Registry } from 'prom-client';
import { readBacklog } from '../data/outbox-repository.js';

export interface OutboxMetrics {
  published: Counter<'mode'>;
  publishFailures: Counter;
  publishDuration: Histogram;
}

/** Outbox metrics; the backlog gauges are read from the database at scrape time. */
export function createOutboxMetrics(registry: Registry, db: Knex): OutboxMetrics {
  snapshotGauges(registry, () => readBacklog(db), [
    {
      name: `${METRIC_PREFIX}outbox_pending_events`,
      help: 'Events written to the outbox and not yet acknowledged by JetStream.',
      value: (backlog) => backlog.pending,
    },
    {
      name: `${METRIC_PREFIX}outbox_oldest_pending_age_seconds`,
      help: 'Age of the oldest event not yet acknowledged by JetStream (0 when none).',
      value: (backlog) => backlog.oldestPendingAgeSeconds,
    },
  ]);
  return {
    published: new Counter({
      name: `${METRIC_PREFIX}outbox_published_events_total`,
      help: 'Events published to JetStream and acknowledged, by their writer at once (mode="hand_off") or by a relay\'s claim (mode="relay").',
      labelNames: ['mode'],
      registers: [registry],
    }),
    publishFailures: new Counter({
      name: `${METRIC_PREFIX}outbox_publish_failures_total`,
      help: 'Publish attempts that got no PubAck (the event stays in the outbox and is retried).',
      registers: [registry],
    }),
    publishDuration: new Histogram({
      name: `${METRIC_PREFIX}outbox_publish_duration_seconds`,
      help: 'Time from publish to PubAck.',
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5],
      registers: [registry],
    }),
  };
}
