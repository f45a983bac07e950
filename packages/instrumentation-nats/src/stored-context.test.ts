import { propagation, ROOT_CONTEXT, trace } from '@opentelemetry/api';
import { describe, expect, it } from 'vitest';
import { captureTraceContext, restoreTraceContext } from './stored-context.js';
import { useInMemoryTracing } from './testing/in-memory-tracing.js';

const tracing = useInMemoryTracing();

describe('captureTraceContext / restoreTraceContext', () => {
  it('when a context is captured and restored, then it carries the same span and baggage', () => {
    const span = tracing.tracer.startSpan('POST /v1/users');
    const baggage = propagation.createBaggage({ tenant: { value: 'acme' } });
    const original = propagation.setBaggage(trace.setSpan(ROOT_CONTEXT, span), baggage);

    const stored = JSON.parse(JSON.stringify(captureTraceContext(original))) as Record<
      string,
      string
    >;
    const restored = restoreTraceContext(stored);
    span.end();

    expect(stored.traceparent).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
    expect(trace.getSpanContext(restored)).toMatchObject({
      traceId: span.spanContext().traceId,
      spanId: span.spanContext().spanId,
      isRemote: true,
    });
    expect(propagation.getBaggage(restored)?.getEntry('tenant')?.value).toBe('acme');
  });

  it('when nothing or garbage was stored, then the root context is restored', () => {
    expect(trace.getSpanContext(restoreTraceContext(null))).toBeUndefined();
    expect(trace.getSpanContext(restoreTraceContext({ traceparent: 'garbage' }))).toBeUndefined();
  });
});
