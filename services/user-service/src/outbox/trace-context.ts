import { context, propagation } from '@opentelemetry/api';
import type { TraceContext } from '../data/outbox-repository.js';

/**
 * The active trace context as W3C headers, to store with an outbox row. Empty when tracing is off.
 */
export function captureTraceContext(): TraceContext {
  const carrier: TraceContext = {};
  propagation.inject(context.active(), carrier);
  return carrier;
}
