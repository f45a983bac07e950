import type { Middleware } from 'koa';
import { collectDefaultMetrics, Histogram, Registry } from 'prom-client';

/** Every application metric starts with this, so dashboards can tell ours from the platform's. */
export const METRIC_PREFIX = 'signupflow_';

/** A registry with Node's default metrics; one per service, created in its composition root. */
export function createMetricsRegistry(): Registry {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  return registry;
}

/** Seconds, bucketed for an API whose answers take milliseconds and, with argon2, tens of them. */
const HTTP_DURATION_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/**
 * Records `signupflow_http_server_request_duration_seconds{method,route,status_code}`.
 * `route` is the matched route template (never the raw path, which would be unbounded).
 */
export function requestMetrics(registry: Registry): Middleware {
  const histogram = new Histogram({
    name: `${METRIC_PREFIX}http_server_request_duration_seconds`,
    help: 'Duration of HTTP requests handled by this service.',
    labelNames: ['method', 'route', 'status_code'] as const,
    buckets: HTTP_DURATION_BUCKETS,
    registers: [registry],
  });
  return async (ctx, next) => {
    const stop = histogram.startTimer();
    try {
      await next();
    } finally {
      const route = (ctx as { _matchedRoute?: string | RegExp })._matchedRoute;
      stop({
        method: ctx.method,
        route: typeof route === 'string' ? route : 'unmatched',
        status_code: String(ctx.status),
      });
    }
  };
}
