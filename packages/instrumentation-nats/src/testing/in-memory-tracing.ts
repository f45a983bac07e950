import { context, propagation, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import {
  CompositePropagator,
  W3CBaggagePropagator,
  W3CTraceContextPropagator,
} from '@opentelemetry/core';
import {
  InMemorySpanExporter,
  type ReadableSpan,
  SimpleSpanProcessor,
  TracerProvider,
} from '@opentelemetry/sdk-trace';
import { beforeEach } from 'vitest';

/**
 * Spans finished during a test, in memory and emptied before each test. The propagator and the
 * context manager are installed globally, as the telemetry bootstrap does in the services.
 */
export function useInMemoryTracing() {
  const exporter = new InMemorySpanExporter();
  const tracerProvider = new TracerProvider({
    spanProcessors: [new SimpleSpanProcessor({ exporter })],
  });
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  propagation.setGlobalPropagator(
    new CompositePropagator({
      propagators: [new W3CTraceContextPropagator(), new W3CBaggagePropagator()],
    }),
  );
  trace.setGlobalTracerProvider(tracerProvider);
  beforeEach(() => exporter.reset());

  return {
    tracerProvider,
    tracer: tracerProvider.getTracer('test'),
    spans: (): ReadableSpan[] => exporter.getFinishedSpans(),
    /** The one finished span with this name; fails the test if there are none or several. */
    span(name: string): ReadableSpan {
      const matching = exporter.getFinishedSpans().filter((span) => span.name === name);
      if (matching.length !== 1) {
        const names = exporter.getFinishedSpans().map((span) => span.name);
        throw new Error(
          `expected one span named "${name}", found ${matching.length} in [${names}]`,
        );
      }
      return matching[0] as ReadableSpan;
    },
  };
}
