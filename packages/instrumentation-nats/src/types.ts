import type { JetStreamPublishOptions, JsMsg } from '@nats-io/jetstream';
import type { MsgHdrs } from '@nats-io/nats-core';
import type { Context, Span, TracerProvider } from '@opentelemetry/api';

/** What a {@link PublishHook} sees of the message being published. Never the body. */
export interface PublishInfo {
  subject: string;
  /** The headers that will be sent, trace context already injected. */
  headers: MsgHdrs;
}

/**
 * Called after the `publish` span starts and before the message is sent, e.g. to add an
 * application attribute. Errors it throws are logged through the OpenTelemetry diagnostic logger
 * and otherwise ignored.
 */
export type PublishHook = (span: Span, info: PublishInfo) => void;

/**
 * Called after the `process` span starts and before the handler runs. Must not read
 * `message.data` into attributes (personal data). Errors it throws are logged and ignored.
 */
export type ProcessHook = (span: Span, message: JsMsg) => void;

export interface NatsInstrumentationConfig {
  /**
   * Where spans go.
   * @default the global tracer provider (`trace.getTracerProvider()`)
   */
  tracerProvider?: TracerProvider;
  publishHook?: PublishHook;
  processHook?: ProcessHook;
}

/** The nats.js publish options, plus the trace context the publish continues. */
export interface TracedPublishOptions extends Partial<JetStreamPublishOptions> {
  /**
   * The context the `publish` span is a child of. Pass the context captured when the event was
   * created (e.g. stored with an outbox row) so the publish continues that trace; see
   * `contextFromCarrier`.
   * @default the active context
   */
  parentContext?: Context;
}

export interface ProcessOptions {
  /**
   * `messaging.consumer.group.name`: the durable consumer sharing the work.
   * @default `message.info.consumer`, the name of the consumer that delivered the message
   */
  consumerGroupName?: string;
}

/**
 * Processes one message. The `message` it receives records `ack`, `nak` and `term` as `settle`
 * spans; the handler must settle it on every path, as without the instrumentation.
 */
export type MessageHandler<T> = (message: JsMsg, span: Span) => Promise<T> | T;
