import { isSpanContextValid, TraceFlags, trace } from '@opentelemetry/api';
import type { Middleware } from 'koa';
import {
  Counter,
  collectDefaultMetrics,
  Gauge,
  Histogram,
  type HistogramConfiguration,
  type OpenMetricsContentType,
  type PrometheusContentType,
  Registry,
  Summary,
} from 'prom-client';

/** Every application metric starts with this, so dashboards can tell ours from the platform's. */
export const METRIC_PREFIX = 'signupflow_';

/**
 * prom-client's default gauges that break Prometheus naming (`_total` is for counters;
 * `promtool check metrics` fails on them). Nothing is lost without them: the same numbers are the
 * sums of `nodejs_active_handles`, `nodejs_active_requests` and `nodejs_active_resources` by type.
 */
const MISNAMED_DEFAULT_METRICS = [
  'nodejs_active_handles_total',
  'nodejs_active_requests_total',
  'nodejs_active_resources_total',
] as const;

/** A registry with Node's default metrics; one per service, created in its composition root. */
export function createMetricsRegistry(): Registry {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  for (const name of MISNAMED_DEFAULT_METRICS) registry.removeSingleMetric(name);
  return registry;
}

/**
 * Exemplar labels pointing at a trace (`trace_id`, `span_id`: the names Grafana looks for). A record
 * rather than an interface because prom-client types exemplar labels as the metric's own labels.
 */
export type TraceExemplarLabels = Readonly<Record<string, string>>;

/**
 * The active span's ids as exemplar labels, or none when there is no span or it is not sampled:
 * an exemplar is only worth its space if the trace it names was recorded.
 */
export function traceExemplarLabels(): TraceExemplarLabels {
  const spanContext = trace.getActiveSpan()?.spanContext();
  if (
    !spanContext ||
    !isSpanContextValid(spanContext) ||
    (spanContext.traceFlags & TraceFlags.SAMPLED) === 0
  ) {
    return {};
  }
  return { trace_id: spanContext.traceId, span_id: spanContext.spanId };
}

/**
 * A histogram that keeps an exemplar per bucket: pass `exemplarLabels: traceExemplarLabels()` to
 * `observe`. prom-client refuses such a metric on a registry of the classic format (which cannot
 * print exemplars); our registries serve both formats through `exposeMetrics`, whose classic
 * rendering leaves exemplars out, so the histogram is registered after it is built.
 */
export function exemplarHistogram<T extends string>(
  registry: Registry,
  config: Omit<HistogramConfiguration<T>, 'registers' | 'enableExemplars'>,
): Histogram<T> {
  const histogram = new Histogram<T>({ ...config, enableExemplars: true, registers: [] });
  registry.registerMetric(histogram);
  return histogram;
}

export interface SnapshotGauge<T> {
  name: string;
  help: string;
  /** The gauge's value in a snapshot. */
  value: (snapshot: T) => number;
}

/**
 * Gauges set at scrape time from one snapshot of what they measure (a query, a request). The
 * gauges of one scrape are collected together, so they share one read; a finished read also
 * serves the scrapes of the next `holdMs`. While reading fails the gauges keep their last value:
 * `/metrics` must still answer.
 */
export function snapshotGauges<T>(
  registry: Registry,
  read: () => Promise<T | undefined>,
  gauges: SnapshotGauge<T>[],
  holdMs = 0,
): void {
  let snapshot: Promise<T | undefined> | undefined;
  const forget = () => {
    snapshot = undefined;
  };
  const current = () => {
    snapshot ??= read()
      .catch(() => undefined)
      .finally(() => {
        if (holdMs > 0) setTimeout(forget, holdMs).unref();
        else forget();
      });
    return snapshot;
  };
  for (const { name, help, value } of gauges) {
    new Gauge({
      name,
      help,
      registers: [registry],
      async collect() {
        const taken = await current();
        if (taken !== undefined) this.set(value(taken));
      },
    });
  }
}

const OPENMETRICS_MEDIA_TYPE = 'application/openmetrics-text';

/** The quality (`q`) the `Accept` header gives each media range it lists. */
function acceptedMediaRanges(accept: string): { range: string; quality: number }[] {
  return accept.split(',').map((entry) => {
    const [range = '', ...parameters] = entry.split(';').map((part) => part.trim().toLowerCase());
    const q = parameters.find((parameter) => parameter.startsWith('q='));
    const quality = q === undefined ? 1 : Number(q.slice(2));
    return { range, quality: Number.isFinite(quality) ? quality : 0 };
  });
}

/**
 * True when the scraper asks for OpenMetrics more than for anything the classic format satisfies.
 * Only media types count, not their parameters: Prometheus 3 adds `escaping=…` to its `Accept`,
 * which a strict parameter match (koa's `ctx.accepts`) would never match, so Prometheus would
 * silently lose exemplars. The classic format wins ties and wildcards: it is the contract's format,
 * and what `curl` gets.
 */
export function prefersOpenMetrics(accept: string | undefined): boolean {
  if (!accept) return false;
  let openMetrics = 0;
  let classic = 0;
  for (const { range, quality } of acceptedMediaRanges(accept)) {
    if (range === OPENMETRICS_MEDIA_TYPE) openMetrics = Math.max(openMetrics, quality);
    else if (range === 'text/plain' || range === 'text/*' || range === '*/*') {
      classic = Math.max(classic, quality);
    }
  }
  return openMetrics > 0 && openMetrics > classic;
}

export interface MetricsExposition {
  contentType: string;
  body: string;
}

/**
 * prom-client renders OpenMetrics by renaming each counter in place (`Registry#metrics()` strips
 * `_total` from the registered counter's name: prometheus/client_js#829), after which the same
 * counter comes out without `_total` in the classic format. So OpenMetrics is rendered by a
 * throwaway registry in which each counter is stood in for by an object inheriting everything
 * from it (values, help, collect) except its own name: the renaming lands on the stand-in.
 */
function renderOpenMetrics(registry: Registry): Promise<string> {
  const openMetrics = new Registry<OpenMetricsContentType>();
  openMetrics.setContentType(Registry.OPENMETRICS_CONTENT_TYPE);
  for (const metric of registry.getMetricsAsArray()) {
    if (metric instanceof Counter) {
      const standIn: Counter = Object.create(metric);
      Object.defineProperty(standIn, 'name', { value: metric.name, writable: true });
      openMetrics.registerMetric(standIn);
    } else if (
      metric instanceof Gauge ||
      metric instanceof Histogram ||
      metric instanceof Summary
    ) {
      openMetrics.registerMetric(metric);
    } else {
      throw new TypeError(`metric ${metric.name} is of a kind OpenMetrics rendering does not know`);
    }
  }
  return openMetrics.metrics();
}

/**
 * What `GET /metrics` answers for this `Accept` header: OpenMetrics, which carries exemplars,
 * when the scraper prefers it (Prometheus does), else the classic text format (without them).
 */
export async function exposeMetrics(
  registry: Registry<PrometheusContentType>,
  accept: string | undefined,
): Promise<MetricsExposition> {
  if (prefersOpenMetrics(accept)) {
    return {
      contentType: Registry.OPENMETRICS_CONTENT_TYPE,
      body: await renderOpenMetrics(registry),
    };
  }
  return { contentType: registry.contentType, body: await registry.metrics() };
}

/** Seconds, bucketed for an API whose answers take milliseconds and, with argon2, tens of them. */
const HTTP_DURATION_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/**
 * Records `signupflow_http_server_request_duration_seconds{method,route,status_code}`, with the
 * request's trace as exemplar. `route` is the matched route template (never the raw path, which
 * would be unbounded).
 */
export function requestMetrics(registry: Registry): Middleware {
  const histogram = exemplarHistogram(registry, {
    name: `${METRIC_PREFIX}http_server_request_duration_seconds`,
    help: 'Duration of HTTP requests handled by this service.',
    labelNames: ['method', 'route', 'status_code'] as const,
    buckets: HTTP_DURATION_BUCKETS,
  });
  return async function requestMetrics(ctx, next) {
    const started = performance.now();
    try {
      await next();
    } finally {
      const route = (ctx as { _matchedRoute?: string | RegExp })._matchedRoute;
      histogram.observe({
        labels: {
          method: ctx.method,
          route: typeof route === 'string' ? route : 'unmatched',
          status_code: String(ctx.status),
        },
        value: (performance.now() - started) / 1000,
        exemplarLabels: traceExemplarLabels(),
      });
    }
  };
}
