import { freePort } from '@signup-flow/local-stack';
import { createDatabase } from '@signup-flow/postgres';
import { createMetricsRegistry } from '@signup-flow/service-runtime';
import { afterAll, describe, expect, it } from 'vitest';
import { createOutboxMetrics } from './metrics.js';

describe('outbox metrics', () => {
  const closed = freePort().then((port) =>
    createDatabase({
      url: `postgres://nobody:nothing@127.0.0.1:${port}/none`,
      poolMax: 2,
      applicationName: 'metrics test',
    }),
  );
  afterAll(async () => (await closed).destroy());

  it('when PostgreSQL is unreachable, then /metrics still renders everything else', async () => {
    const registry = createMetricsRegistry();
    const metrics = createOutboxMetrics(registry, await closed);
    metrics.published.inc({ mode: 'relay' }, 3);

    const text = await registry.metrics();

    expect(text).toContain('signupflow_outbox_published_events_total{mode="relay"} 3');
    expect(text).toContain('# TYPE signupflow_outbox_pending_events gauge');
    expect(text).toContain('process_resident_memory_bytes');
  });
});
