import { headers } from '@nats-io/nats-core';
import { propagation, ROOT_CONTEXT, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import { describe, expect, it } from 'vitest';
import { createNatsTracing } from './instrumentation.js';
import {
  ATTR_ERROR_TYPE,
  ATTR_MESSAGING_DESTINATION_NAME,
  ATTR_MESSAGING_MESSAGE_BODY_SIZE,
  ATTR_MESSAGING_MESSAGE_ID,
  ATTR_MESSAGING_NATS_MESSAGE_DUPLICATE,
  ATTR_MESSAGING_NATS_MESSAGE_STREAM_SEQUENCE,
  ATTR_MESSAGING_NATS_STREAM_NAME,
  ATTR_MESSAGING_OPERATION_NAME,
  ATTR_MESSAGING_OPERATION_TYPE,
  ATTR_MESSAGING_SYSTEM,
  ATTR_MESSAGING_SYSTEM_NAME,
  MESSAGING_OPERATION_TYPE_VALUE_SEND,
  MESSAGING_SYSTEM_VALUE_NATS,
  NATS_MSG_ID_HEADER,
  NATS_OPERATION_NAME,
} from './semconv.js';
import { captureTraceContext, restoreTraceContext } from './stored-context.js';
import { useInMemoryTracing } from './testing/in-memory-tracing.js';
import { startTestJetStream } from './testing/jetstream.js';

const tracing = useInMemoryTracing();
const nats = await startTestJetStream();
const { publish } = createNatsTracing();

describe('publish', () => {
  it('when a message is published, then a PRODUCER span describes it and its context travels in the headers', async () => {
    const topic = await nats.topic();

    const ack = await publish(nats.js, topic.subject, '{"hello":"wörld"}', { msgID: 'event-1' });

    const span = tracing.span(`${NATS_OPERATION_NAME.publish} ${topic.subject}`);
    expect(span.kind).toBe(SpanKind.PRODUCER);
    expect(span.attributes).toEqual({
      [ATTR_MESSAGING_SYSTEM]: MESSAGING_SYSTEM_VALUE_NATS,
      [ATTR_MESSAGING_SYSTEM_NAME]: MESSAGING_SYSTEM_VALUE_NATS,
      [ATTR_MESSAGING_DESTINATION_NAME]: topic.subject,
      [ATTR_MESSAGING_OPERATION_TYPE]: MESSAGING_OPERATION_TYPE_VALUE_SEND,
      [ATTR_MESSAGING_OPERATION_NAME]: NATS_OPERATION_NAME.publish,
      [ATTR_MESSAGING_MESSAGE_ID]: 'event-1',
      [ATTR_MESSAGING_MESSAGE_BODY_SIZE]: 18,
      [ATTR_MESSAGING_NATS_STREAM_NAME]: nats.stream,
      [ATTR_MESSAGING_NATS_MESSAGE_STREAM_SEQUENCE]: ack.seq,
      [ATTR_MESSAGING_NATS_MESSAGE_DUPLICATE]: false,
    });
    const received = await topic.next();
    const { traceId, spanId } = span.spanContext();
    expect(received.headers?.get('traceparent')).toBe(`00-${traceId}-${spanId}-01`);
    expect(received.headers?.get(NATS_MSG_ID_HEADER)).toBe('event-1');
    received.ack();
  });

  it('when a stored trace context is given as parent, then the publish span continues that trace with its baggage', async () => {
    const topic = await nats.topic();
    const request = tracing.tracer.startSpan('POST /v1/users');
    const requestContext = propagation.setBaggage(
      trace.setSpan(ROOT_CONTEXT, request),
      propagation.createBaggage({ 'signup.channel': { value: 'web' } }),
    );
    const storedWithOutboxRow = captureTraceContext(requestContext);
    request.end();

    await publish(nats.js, topic.subject, 'later', {
      parentContext: restoreTraceContext(storedWithOutboxRow),
    });

    const span = tracing.span(`publish ${topic.subject}`);
    expect(span.spanContext().traceId).toBe(request.spanContext().traceId);
    expect(span.parentSpanContext?.spanId).toBe(request.spanContext().spanId);
    const received = await topic.next();
    expect(received.headers?.get('baggage')).toBe('signup.channel=web');
    received.ack();
  });

  it('when headers are given, then they are sent along with the trace context', async () => {
    const topic = await nats.topic();
    const own = headers();
    own.set('Content-Type', 'application/cloudevents+json');

    await publish(nats.js, topic.subject, 'x', { headers: own });

    const received = await topic.next();
    expect(received.headers?.get('Content-Type')).toBe('application/cloudevents+json');
    expect(received.headers?.get('traceparent')).toMatch(/^00-/);
    received.ack();
  });

  it('when the same msgID is published twice, then the second span records the duplicate', async () => {
    const topic = await nats.topic();

    await publish(nats.js, topic.subject, 'once', { msgID: 'same' });
    const second = await publish(nats.js, topic.subject, 'once', { msgID: 'same' });

    expect(second.duplicate).toBe(true);
    const duplicateFlags = tracing
      .spans()
      .map((span) => span.attributes[ATTR_MESSAGING_NATS_MESSAGE_DUPLICATE]);
    expect(duplicateFlags).toEqual([false, true]);
  });

  it('when no stream takes the subject, then the error is rethrown and the span records it', async () => {
    const subject = 'nowhere.to.go';

    await expect(publish(nats.js, subject, 'lost', { timeout: 5_000 })).rejects.toThrow();

    const span = tracing.span(`publish ${subject}`);
    expect(span.status.code).toBe(SpanStatusCode.ERROR);
    expect(span.attributes[ATTR_ERROR_TYPE]).toEqual(expect.any(String));
    expect(span.events.map((event) => event.name)).toContain('exception');
    expect(span.ended).toBe(true);
  });

  it('when a publish hook throws, then the message is still published', async () => {
    const topic = await nats.topic();
    const faulty = createNatsTracing({
      publishHook: () => {
        throw new Error('hook bug');
      },
    });

    const ack = await faulty.publish(nats.js, topic.subject, 'x');

    expect(ack.seq).toBeGreaterThan(0);
    expect(tracing.span(`publish ${topic.subject}`).status.code).toBe(SpanStatusCode.UNSET);
  });
});
