import type { JetStreamClient, JsMsg, PubAck } from '@nats-io/jetstream';
import type { Payload } from '@nats-io/nats-core';
import { trace } from '@opentelemetry/api';
import { processTraced } from './process.js';
import { publishTraced } from './publish.js';
import type {
  MessageHandler,
  NatsInstrumentationConfig,
  ProcessOptions,
  TracedPublishOptions,
} from './types.js';

/** The instrumentation scope spans are reported under. */
export const INSTRUMENTATION_SCOPE_NAME = '@signup-flow/instrumentation-nats';
export const INSTRUMENTATION_SCOPE_VERSION = '0.1.0';

/** Traced JetStream publishing and processing; see {@link createNatsTracing}. */
export interface NatsTracing {
  /**
   * `js.publish(subject, payload, options)` inside a `publish <subject>` PRODUCER span, trace
   * context injected into the headers. `options.parentContext` sets the span's parent.
   */
  publish(
    js: JetStreamClient,
    subject: string,
    payload?: Payload,
    options?: TracedPublishOptions,
  ): Promise<PubAck>;
  /**
   * `handler(message)` inside a `process <subject>` CONSUMER span, child of (and linked to) the
   * producer's context; settlements recorded; errors recorded and rethrown.
   */
  process<T>(message: JsMsg, handler: MessageHandler<T>, options?: ProcessOptions): Promise<T>;
}

/**
 * Explicit tracing for the NATS JetStream client: nats.js v3 is ESM-only, and wrapping calls is
 * simpler to read, type and test than patching the module.
 */
export function createNatsTracing(config: NatsInstrumentationConfig = {}): NatsTracing {
  const tracer = (config.tracerProvider ?? trace.getTracerProvider()).getTracer(
    INSTRUMENTATION_SCOPE_NAME,
    INSTRUMENTATION_SCOPE_VERSION,
  );
  return {
    publish: (js, subject, payload, options) =>
      publishTraced(tracer, config.publishHook, js, subject, payload, options),
    process: (message, handler, options) =>
      processTraced(tracer, config.processHook, message, handler, options),
  };
}
