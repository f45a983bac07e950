import {
  exemplarHistogram,
  METRIC_PREFIX,
  snapshotGauges,
  traceExemplarLabels,
} from '@signup-flow/service-runtime';
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { DLQ_REASONS } from './messaging/dead-letters.js';
import type { Settlement } from './messaging/settlement.js';

/** Delays between signup and email reach minutes only when retries happen. */
const LATENCY_BUCKETS = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 900, 3600];
const PROCESSING_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

export interface ConsumerBacklog {
  /** Messages in the stream the consumer has not delivered yet. */
  numPending: number;
  /** Messages delivered and not yet acknowledged. */
  numAckPending: number;
  /** Messages held in the DLQ stream right now. */
  deadLetters: number;
}

/** The messaging-service's own metrics; see README "Metrics". */
export class MessagingMetrics {
  readonly #consumed: Counter<'outcome'>;
  readonly #processing: Histogram<'outcome'>;
  readonly #redeliveries: Counter;
  readonly #deadLetters: Counter<'reason'>;
  readonly #signupToEmail: Histogram;
  readonly #dependencyUp: Gauge<'dependency'>;

  constructor(registry: Registry, readBacklog: () => Promise<ConsumerBacklog | undefined>) {
    this.#consumed = new Counter({
      name: `${METRIC_PREFIX}messages_consumed_total`,
      help: 'UserCreated messages processed, by how each was settled.',
      labelNames: ['outcome'] as const,
      registers: [registry],
    });
    this.#processing = new Histogram({
      name: `${METRIC_PREFIX}message_processing_duration_seconds`,
      help: 'Time from taking a message to settling it, by outcome.',
      labelNames: ['outcome'] as const,
      buckets: PROCESSING_BUCKETS,
      registers: [registry],
    });
    this.#redeliveries = new Counter({
      name: `${METRIC_PREFIX}message_redeliveries_total`,
      help: 'Messages received with a delivery count above one.',
      registers: [registry],
    });
    this.#deadLetters = new Counter({
      name: `${METRIC_PREFIX}dead_letters_total`,
      help: 'Messages published to the DLQ stream, by reason.',
      labelNames: ['reason'] as const,
      registers: [registry],
    });
    // Every reason's series exists at 0 from the start: `increase()` (the DLQ alert) cannot see a
    // first dead letter in a series that appears directly at 1.
    for (const reason of Object.values(DLQ_REASONS)) this.#deadLetters.inc({ reason }, 0);
    this.#signupToEmail = exemplarHistogram(registry, {
      name: `${METRIC_PREFIX}signup_to_email_latency_seconds`,
      help: 'From the UserCreated event time to the SMTP server accepting the welcome email.',
      buckets: LATENCY_BUCKETS,
    });
    this.#dependencyUp = new Gauge({
      name: `${METRIC_PREFIX}dependency_up`,
      help: 'Whether a dependency every message needs answers (1) or the consumer is paused waiting for it (0).',
      labelNames: ['dependency'] as const,
      registers: [registry],
    });
    // One pair of info requests serves all three gauges of a scrape.
    snapshotGauges(
      registry,
      readBacklog,
      [
        {
          name: `${METRIC_PREFIX}consumer_pending_messages`,
          help: 'Messages on users.created the welcome-email consumer has not received yet (num_pending).',
          value: (backlog) => backlog.numPending,
        },
        {
          name: `${METRIC_PREFIX}consumer_ack_pending_messages`,
          help: 'Messages delivered to the welcome-email consumer and not yet acknowledged (num_ack_pending).',
          value: (backlog) => backlog.numAckPending,
        },
        {
          name: `${METRIC_PREFIX}dlq_messages`,
          help: 'Messages held in the DLQ stream, waiting to be inspected, replayed or purged.',
          value: (backlog) => backlog.deadLetters,
        },
      ],
      500,
    );
  }

  recordSettled(settlement: Settlement, durationSeconds: number): void {
    this.#consumed.inc({ outcome: settlement.outcome });
    this.#processing.observe({ outcome: settlement.outcome }, durationSeconds);
  }

  /** Starts every dependency's series at 1 (up), so an alert sees the first outage. */
  trackDependencies(names: string[]): void {
    for (const dependency of names) this.#dependencyUp.set({ dependency }, 1);
  }

  recordDependency(dependency: string, up: boolean): void {
    this.#dependencyUp.set({ dependency }, up ? 1 : 0);
  }

  recordRedelivery(): void {
    this.#redeliveries.inc();
  }

  recordDeadLetter(reason: string): void {
    this.#deadLetters.inc({ reason });
  }

  /**
   * Called in the message's process span: it continues the signup's trace, so the exemplar leads
   * from a slow bucket to the whole signup → email trace.
   */
  recordSignupToEmail(seconds: number): void {
    this.#signupToEmail.observe({
      value: Math.max(0, seconds),
      exemplarLabels: traceExemplarLabels(),
    });
  }
}
