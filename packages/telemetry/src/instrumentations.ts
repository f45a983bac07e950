import type { IncomingMessage } from 'node:http';
import { getNodeAutoInstrumentations } from '@opentelemetry/auto-instrumentations-node';
import type { Instrumentation } from '@opentelemetry/instrumentation';
import { KoaLayerType } from '@opentelemetry/instrumentation-koa';

/** Probe and scrape paths: a span per kubelet probe or Prometheus scrape is noise, not signal. */
export const UNTRACED_PATHS: ReadonlySet<string> = new Set(['/healthz', '/readyz', '/metrics']);

function isUntracedRequest(request: IncomingMessage): boolean {
  const path = (request.url ?? '').split('?', 1)[0] ?? '';
  return UNTRACED_PATHS.has(path);
}

/**
 * The auto-instrumentations. On, by the package's default: http, koa and pg (and the rest, which
 * stay inert unless their module is loaded). Off: fs, dns and net, which wrap every file read,
 * lookup and socket; pino, because `@signup-flow/service-runtime`'s logger adds
 * `trace_id`/`span_id` itself and logs are not exported over OTLP; and knex, whose span per query
 * only wraps the pg span of the same query (pg's carries the SQL, and sees `BEGIN`/`COMMIT`, which
 * knex's does not). Koa records its router layer (the route, with `http.route`), not one span per
 * middleware: six spans a request that only said "this middleware ran". pg records a span only
 * inside a trace: a query with no request or message behind it (the outbox relay's idle polls,
 * the pruning, the gauges read at scrape, migrations) would otherwise be a root trace of its own,
 * three a second at idle; and no span for taking a pooled connection, which is instant unless the
 * pool is exhausted (that shows as the query span's own wait). The on ones leave `enabled` unset,
 * so `OTEL_NODE_DISABLED_INSTRUMENTATIONS` still rules.
 */
export function serviceInstrumentations(): Instrumentation[] {
  return getNodeAutoInstrumentations({
    '@opentelemetry/instrumentation-fs': { enabled: false },
    '@opentelemetry/instrumentation-dns': { enabled: false },
    '@opentelemetry/instrumentation-net': { enabled: false },
    '@opentelemetry/instrumentation-pino': { enabled: false },
    '@opentelemetry/instrumentation-knex': { enabled: false },
    '@opentelemetry/instrumentation-http': { ignoreIncomingRequestHook: isUntracedRequest },
    '@opentelemetry/instrumentation-koa': { ignoreLayersType: [KoaLayerType.MIDDLEWARE] },
    '@opentelemetry/instrumentation-pg': { requireParentSpan: true, ignoreConnectSpans: true },
  });
}
