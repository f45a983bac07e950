import { type Context, context, propagation, ROOT_CONTEXT } from '@opentelemetry/api';

/**
 * The propagation fields (`traceparent`, `tracestate`, `baggage`) of a context, as a plain object
 * to store with work that runs later, e.g. an outbox row written in the HTTP request.
 */
export function captureTraceContext(from: Context = context.active()): Record<string, string> {
  const carrier: Record<string, string> = {};
  propagation.inject(from, carrier);
  return carrier;
}

/**
 * The context captured by {@link captureTraceContext}, to pass as `parentContext` when the stored
 * work is finally published. Anything unreadable gives the root context: a new trace, not an error.
 */
export function restoreTraceContext(
  carrier: Readonly<Record<string, string>> | null | undefined,
): Context {
  return carrier ? propagation.extract(ROOT_CONTEXT, carrier) : ROOT_CONTEXT;
}
