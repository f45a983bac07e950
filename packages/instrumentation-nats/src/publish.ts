import type { JetStreamClient, PubAck } from '@nats-io/jetstream';
import { headers as createHeaders, type Payload } from '@nats-io/nats-core';
import { context, propagation, SpanKind, type Tracer, trace } from '@opentelemetry/api';
import { messagingAttributes, pubAckAttributes, spanName } from './attributes.js';
import { natsHeadersSetter } from './propagator.js';
import { NATS_OPERATION_NAME } from './semconv.js';
import { recordFailure, runHookSafely } from './span-outcome.js';
import type { PublishHook, TracedPublishOptions } from './types.js';

const encoder = new TextEncoder();

function bodySize(payload: Payload | undefined): number {
  if (payload === undefined) return 0;
  return typeof payload === 'string' ? encoder.encode(payload).byteLength : payload.byteLength;
}

/**
 * Publishes to JetStream inside a `publish <subject>` PRODUCER span, with the span's context
 * (and the parent context's baggage) injected into the message headers.
 */
export async function publishTraced(
  tracer: Tracer,
  publishHook: PublishHook | undefined,
  js: JetStreamClient,
  subject: string,
  payload?: Payload,
  options: TracedPublishOptions = {},
): Promise<PubAck> {
  const { parentContext = context.active(), ...publishOptions } = options;
  const operation = NATS_OPERATION_NAME.publish;
  const span = tracer.startSpan(
    spanName(operation, subject),
    {
      kind: SpanKind.PRODUCER,
      attributes: messagingAttributes(operation, {
        subject,
        messageId: publishOptions.msgID,
        bodySize: bodySize(payload),
      }),
    },
    parentContext,
  );
  const spanContext = trace.setSpan(parentContext, span);
  const headers = publishOptions.headers ?? createHeaders();
  propagation.inject(spanContext, headers, natsHeadersSetter);
  runHookSafely('publishHook', publishHook, span, { subject, headers });
  try {
    const ack = await context.with(spanContext, () =>
      js.publish(subject, payload, { ...publishOptions, headers }),
    );
    span.setAttributes(pubAckAttributes(ack));
    return ack;
  } catch (error) {
    recordFailure(span, error);
    throw error;
  } finally {
    span.end();
  }
}
