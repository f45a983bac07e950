import { context, type SpanContext, TraceFlags, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import Koa, { type Middleware } from 'koa';
import { Counter, Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningHttpServer, startHttpServer } from './http-server.js';
import { METRIC_PREFIX, prefersOpenMetrics, requestMetrics, snapshotGauges } from './metrics.js';
import { operationalEndpoints } from './operational-endpoints.js';

/** What Prometheus 2.42 (the Debian package the tests run) sends when it scrapes. */
const PROMETHEUS_2_ACCEPT =
  'application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1';
/** What Prometheus 3 sends: its `escaping` parameter is why negotiation ignores parameters. */
const PROMETHEUS_3_ACCEPT =
  'application/openmetrics-text;version=1.0.0;escaping=allow-utf-8;q=0.6,application/openmetrics-text;version=0.0.1;q=0.5,text/plain;version=1.0.0;escaping=allow-utf-8;q=0.4,text/plain;version=0.0.4;q=0.3,*/*;q=0.2';
const OPENMETRICS_CONTENT_TYPE = 'application/openmetrics-text; version=1.0.0; charset=utf-8';
const CLASSIC_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

describe('prefersOpenMetrics', () => {
  it.each([
    ['Prometheus 2', PROMETHEUS_2_ACCEPT],
    ['Prometheus 3', PROMETHEUS_3_ACCEPT],
    ['OpenMetrics only', 'application/openmetrics-text'],
    ['OpenMetrics above text', 'text/plain;q=0.5, application/openmetrics-text;q=0.9'],
  ])('when the scraper is %s, then OpenMetrics is served', (_scraper, accept) => {
    expect(prefersOpenMetrics(accept)).toBe(true);
  });

  it.each([
    ['no Accept header', undefined],
    ['anything', '*/*'],
    ['the classic format', 'text/plain; version=0.0.4'],
    ['OpenMetrics refused', 'application/openmetrics-text;q=0, */*'],
    ['a tie', 'application/openmetrics-text;q=0.5, text/plain;q=0.5'],
    ['text above OpenMetrics', 'application/openmetrics-text;q=0.2, text/plain'],
  ])('when the request asks for %s, then the classic format is served', (_what, accept) => {
    expect(prefersOpenMetrics(accept)).toBe(false);
  });
});

describe('GET /metrics', () => {
  const sampledSpan: SpanContext = {
    traceId: '0af7651916cd43dd8448eb211c80319c',
    spanId: 'b7ad6b7169203331',
    traceFlags: TraceFlags.SAMPLED,
  };
  const unsampledSpan: SpanContext = {
    traceId: '1bf7651916cd43dd8448eb211c80319d',
    spanId: 'c8ad6b7169203332',
    traceFlags: TraceFlags.NONE,
  };
  const contextManager = new AsyncLocalStorageContextManager();
  let server: RunningHttpServer;
  let baseUrl: string;
  let registry: Registry;
  let events: Counter;

  /** Runs the rest of the request inside the span named by the `x-test-span` header, if any. */
  const withTestSpan: Middleware = (ctx, next) => {
    const spans: Record<string, SpanContext> = { sampled: sampledSpan, unsampled: unsampledSpan };
    const span = spans[ctx.get('x-test-span')];
    return span
      ? context.with(trace.setSpan(context.active(), trace.wrapSpanContext(span)), next)
      : next();
  };

  beforeAll(async () => {
    context.setGlobalContextManager(contextManager.enable());
    registry = new Registry();
    events = new Counter({
      name: `${METRIC_PREFIX}test_events_total`,
      help: 'Events counted by this test.',
      registers: [registry],
    });
    const app = new Koa();
    app.use(withTestSpan);
    app.use(requestMetrics(registry));
    app.use(operationalEndpoints({ registry, dependencies: [], isDraining: () => false }));
    server = await startHttpServer(app, 0, '127.0.0.1');
    baseUrl = `http://127.0.0.1:${server.port}`;
  });
  afterAll(async () => {
    await server.close(1000);
    context.disable();
  });

  const scrape = (accept?: string) =>
    fetch(`${baseUrl}/metrics`, accept ? { headers: { accept } } : {});

  it('when Prometheus scrapes, then it gets OpenMetrics with the traced request as exemplar', async () => {
    await fetch(`${baseUrl}/healthz`, { headers: { 'x-test-span': 'sampled' } });

    const response = await scrape(PROMETHEUS_2_ACCEPT);

    expect(response.headers.get('content-type')).toBe(OPENMETRICS_CONTENT_TYPE);
    expect(response.headers.get('vary')).toMatch(/accept/i);
    const body = await response.text();
    expect(body.endsWith('# EOF\n')).toBe(true);
    const exemplified = body
      .split('\n')
      .filter((line) =>
        line.startsWith(`${METRIC_PREFIX}http_server_request_duration_seconds_bucket{`),
      )
      .filter((line) => line.includes('route="unmatched"') && line.includes(' # {'));
    expect(exemplified).toHaveLength(1);
    expect(exemplified[0]).toMatch(
      new RegExp(`# \\{trace_id="${sampledSpan.traceId}",span_id="${sampledSpan.spanId}"\\} `),
    );
  });

  it('when a request runs in an unsampled trace, then it leaves no exemplar', async () => {
    await fetch(`${baseUrl}/v1/untraced`, { headers: { 'x-test-span': 'unsampled' } });

    const body = await (await scrape('application/openmetrics-text')).text();

    expect(body).not.toContain(unsampledSpan.traceId);
    expect(body).toContain('status_code="404"');
  });

  it('when a client asks for no particular format, then it gets the classic text without exemplars', async () => {
    await fetch(`${baseUrl}/healthz`, { headers: { 'x-test-span': 'sampled' } });

    const response = await scrape();

    expect(response.headers.get('content-type')).toBe(CLASSIC_CONTENT_TYPE);
    const body = await response.text();
    expect(body).toContain(`${METRIC_PREFIX}http_server_request_duration_seconds_bucket{`);
    expect(body).not.toContain('trace_id');
    expect(body).not.toContain('# EOF');
  });

  it('when OpenMetrics was served, then the classic format still names counters with _total', async () => {
    events.inc();
    const openMetrics = await (await scrape(PROMETHEUS_2_ACCEPT)).text();
    // OpenMetrics names the family without the suffix and its sample with it.
    expect(openMetrics).toContain(`# TYPE ${METRIC_PREFIX}test_events counter\n`);
    expect(openMetrics).toMatch(new RegExp(`^${METRIC_PREFIX}test_events_total 1$`, 'm'));

    const classic = await (await scrape('text/plain')).text();

    expect(classic).toContain(`# TYPE ${METRIC_PREFIX}test_events_total counter\n`);
    expect(classic).toMatch(new RegExp(`^${METRIC_PREFIX}test_events_total 1$`, 'm'));
    expect(classic).not.toContain('_total_total');
  });
});

describe('snapshotGauges', () => {
  /** Gauges `first` and `second` over a source that counts its reads and fails on demand. */
  function gaugesOverCountingSource(holdMs?: number) {
    const registry = new Registry();
    const source = { reads: 0, failing: false };
    snapshotGauges(
      registry,
      async () => {
        source.reads++;
        if (source.failing) throw new Error('the source is down');
        return { reads: source.reads };
      },
      [
        { name: 'first', help: 'The read count.', value: (snapshot) => snapshot.reads },
        { name: 'second', help: 'Ten times it.', value: (snapshot) => snapshot.reads * 10 },
      ],
      holdMs,
    );
    return { registry, source };
  }

  it('when the gauges are scraped, then one read serves them all, and the next scrape reads again', async () => {
    const { registry, source } = gaugesOverCountingSource();

    const firstScrape = await registry.metrics();
    const secondScrape = await registry.metrics();

    expect(firstScrape).toMatch(/^first 1$/m);
    expect(firstScrape).toMatch(/^second 10$/m);
    expect(secondScrape).toMatch(/^first 2$/m);
    expect(secondScrape).toMatch(/^second 20$/m);
    expect(source.reads).toBe(2);
  });

  it('when the read fails, then the gauges keep their last values and the scrape still answers', async () => {
    const { registry, source } = gaugesOverCountingSource();
    await registry.metrics();
    source.failing = true;

    const scrape = await registry.metrics();

    expect(scrape).toMatch(/^first 1$/m);
    expect(scrape).toMatch(/^second 10$/m);
  });

  it('when a hold is given, then a finished read also serves the scrapes within it', async () => {
    const { registry, source } = gaugesOverCountingSource(60_000);

    await registry.metrics();
    const heldScrape = await registry.metrics();

    expect(heldScrape).toMatch(/^first 1$/m);
    expect(source.reads).toBe(1);
  });
});
