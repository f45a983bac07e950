import { headers } from '@nats-io/nats-core';
import {
  context,
  propagation,
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  trace,
} from '@opentelemetry/api';
import { describe, expect, it } from 'vitest';
import { createNatsTracing } from './instrumentation.js';
import {
  ATTR_ERROR_TYPE,
  ATTR_MESSAGING_CONSUMER_GROUP_NAME,
  ATTR_MESSAGING_DESTINATION_NAME,
  ATTR_MESSAGING_MESSAGE_BODY_SIZE,
  ATTR_MESSAGING_MESSAGE_ID,
  ATTR_MESSAGING_NATS_MESSAGE_DELIVERY_COUNT,
  ATTR_MESSAGING_NATS_MESSAGE_ENQUEUED_TIME,
  ATTR_MESSAGING_NATS_MESSAGE_QUEUE_DURATION,
  ATTR_MESSAGING_NATS_MESSAGE_STREAM_SEQUENCE,
  ATTR_MESSAGING_NATS_NAK_DELAY,
  ATTR_MESSAGING_NATS_STREAM_NAME,
  ATTR_MESSAGING_NATS_TERM_REASON,
  ATTR_MESSAGING_OPERATION_NAME,
  ATTR_MESSAGING_OPERATION_TYPE,
  ATTR_MESSAGING_SYSTEM,
  ATTR_MESSAGING_SYSTEM_NAME,
  MESSAGING_OPERATION_TYPE_VALUE_PROCESS,
  MESSAGING_OPERATION_TYPE_VALUE_SETTLE,
  MESSAGING_SYSTEM_VALUE_NATS,
  NATS_OPERATION_NAME,
} from './semconv.js';
import { useInMemoryTracing } from './testing/in-memory-tracing.js';
import { startTestJetStream } from './testing/jetstream.js';

const tracing = useInMemoryTracing();
const nats = await startTestJetStream();
const { publish, process } = createNatsTracing();

describe('process', () => {
  it('when a traced message is processed, then the CONSUMER span is the publish span’s child and links to it', async () => {
    const topic = await nats.topic();
    const ack = await publish(nats.js, topic.subject, 'payload', { msgID: 'event-7' });
    const message = await topic.next();

    const result = await process(message, (traced, span) => {
      traced.ack();
      return span.spanContext().spanId;
    });

    const producer = tracing.span(`${NATS_OPERATION_NAME.publish} ${topic.subject}`);
    const consumer = tracing.span(`${NATS_OPERATION_NAME.process} ${topic.subject}`);
    expect(result).toBe(consumer.spanContext().spanId);
    expect(consumer.kind).toBe(SpanKind.CONSUMER);
    expect(consumer.spanContext().traceId).toBe(producer.spanContext().traceId);
    expect(consumer.parentSpanContext?.spanId).toBe(producer.spanContext().spanId);
    expect(consumer.links.map((link) => link.context.spanId)).toEqual([
      producer.spanContext().spanId,
    ]);
    expect(consumer.attributes).toMatchObject({
      [ATTR_MESSAGING_SYSTEM]: MESSAGING_SYSTEM_VALUE_NATS,
      [ATTR_MESSAGING_SYSTEM_NAME]: MESSAGING_SYSTEM_VALUE_NATS,
      [ATTR_MESSAGING_DESTINATION_NAME]: topic.subject,
      [ATTR_MESSAGING_OPERATION_TYPE]: MESSAGING_OPERATION_TYPE_VALUE_PROCESS,
      [ATTR_MESSAGING_OPERATION_NAME]: NATS_OPERATION_NAME.process,
      [ATTR_MESSAGING_MESSAGE_ID]: 'event-7',
      [ATTR_MESSAGING_MESSAGE_BODY_SIZE]: 7,
      [ATTR_MESSAGING_CONSUMER_GROUP_NAME]: topic.durable,
      [ATTR_MESSAGING_NATS_STREAM_NAME]: nats.stream,
      [ATTR_MESSAGING_NATS_MESSAGE_STREAM_SEQUENCE]: ack.seq,
      [ATTR_MESSAGING_NATS_MESSAGE_DELIVERY_COUNT]: 1,
    });
    expect(consumer.attributes[ATTR_MESSAGING_NATS_MESSAGE_ENQUEUED_TIME]).toBeCloseTo(
      message.info.timestampNanos / 1e9,
      3,
    );
    expect(consumer.attributes[ATTR_MESSAGING_NATS_MESSAGE_QUEUE_DURATION]).toBeGreaterThanOrEqual(
      0,
    );
  });

  it('when the handler acks, then a settle CLIENT span records it under the process span and the message reads as before', async () => {
    const topic = await nats.topic();
    await publish(nats.js, topic.subject, 'payload');

    const body = await process(await topic.next(), (traced) => {
      traced.ack();
      return traced.string();
    });

    expect(body).toBe('payload');
    const consumer = tracing.span(`process ${topic.subject}`);
    const settle = tracing.span(`${NATS_OPERATION_NAME.ack} ${topic.subject}`);
    expect(settle.kind).toBe(SpanKind.CLIENT);
    expect(settle.parentSpanContext?.spanId).toBe(consumer.spanContext().spanId);
    expect(settle.attributes).toMatchObject({
      [ATTR_MESSAGING_OPERATION_TYPE]: MESSAGING_OPERATION_TYPE_VALUE_SETTLE,
      [ATTR_MESSAGING_OPERATION_NAME]: NATS_OPERATION_NAME.ack,
      [ATTR_MESSAGING_CONSUMER_GROUP_NAME]: topic.durable,
    });
  });

  it('when the handler naks with a delay, then the nak is recorded and the redelivery counts 2', async () => {
    const topic = await nats.topic();
    await publish(nats.js, topic.subject, 'payload');

    await process(await topic.next(), (traced) => traced.nak(10));
    await process(await topic.next(), (traced) => traced.ack());

    const nak = tracing.span(`${NATS_OPERATION_NAME.nak} ${topic.subject}`);
    expect(nak.attributes).toMatchObject({
      [ATTR_MESSAGING_OPERATION_TYPE]: MESSAGING_OPERATION_TYPE_VALUE_SETTLE,
      [ATTR_MESSAGING_OPERATION_NAME]: NATS_OPERATION_NAME.nak,
      [ATTR_MESSAGING_NATS_NAK_DELAY]: 10,
    });
    const deliveries = tracing
      .spans()
      .filter((span) => span.name === `process ${topic.subject}`)
      .map((span) => span.attributes[ATTR_MESSAGING_NATS_MESSAGE_DELIVERY_COUNT]);
    expect(deliveries).toEqual([1, 2]);
  });

  it('when the handler terms with a reason, then the term and its reason are recorded once', async () => {
    const topic = await nats.topic();
    await publish(nats.js, topic.subject, 'payload');

    await process(await topic.next(), (traced) => {
      traced.term('not a UserCreated event');
      traced.ack(); // ignored by JetStream after a term, so not recorded either
    });

    const term = tracing.span(`${NATS_OPERATION_NAME.term} ${topic.subject}`);
    expect(term.attributes).toMatchObject({
      [ATTR_MESSAGING_OPERATION_NAME]: NATS_OPERATION_NAME.term,
      [ATTR_MESSAGING_NATS_TERM_REASON]: 'not a UserCreated event',
    });
    expect(tracing.spans().map((span) => span.name)).not.toContain(`ack ${topic.subject}`);
  });

  it('when a message has no traceparent, then processing starts a new root span without links', async () => {
    const topic = await nats.topic();
    await nats.js.publish(topic.subject, 'untraced');

    await process(await topic.next(), (traced) => traced.ack());

    const consumer = tracing.span(`process ${topic.subject}`);
    expect(consumer.parentSpanContext).toBeUndefined();
    expect(consumer.links).toEqual([]);
    expect(consumer.status.code).toBe(SpanStatusCode.UNSET);
  });

  it('when a message has a malformed traceparent, then processing starts a new root span', async () => {
    const topic = await nats.topic();
    const malformed = headers();
    malformed.set('traceparent', '00-not-a-trace-context');
    malformed.set('tracestate', '===');
    await nats.js.publish(topic.subject, 'garbled', { headers: malformed });

    await process(await topic.next(), (traced) => traced.ack());

    const consumer = tracing.span(`process ${topic.subject}`);
    expect(consumer.parentSpanContext).toBeUndefined();
    expect(consumer.links).toEqual([]);
  });

  it('when the handler throws, then the span records the error, ends, and the error reaches the caller', async () => {
    const topic = await nats.topic();
    await publish(nats.js, topic.subject, 'payload');
    class MailRejectedError extends Error {
      override name = 'MailRejectedError';
    }
    const message = await topic.next();

    await expect(
      process(message, () => {
        throw new MailRejectedError('550 <ada@example.com> rejected');
      }),
    ).rejects.toBeInstanceOf(MailRejectedError);

    const consumer = tracing.span(`process ${topic.subject}`);
    expect(consumer.ended).toBe(true);
    expect(consumer.status.code).toBe(SpanStatusCode.ERROR);
    expect(consumer.attributes[ATTR_ERROR_TYPE]).toBe('MailRejectedError');
    expect(JSON.stringify(consumer.events)).not.toContain('ada@example.com');
    message.term();
  });

  it('when the producer set baggage, then the handler sees it in the active context', async () => {
    const topic = await nats.topic();
    const withBaggage = propagation.setBaggage(
      ROOT_CONTEXT,
      propagation.createBaggage({ 'signup.channel': { value: 'web' } }),
    );
    await publish(nats.js, topic.subject, 'payload', { parentContext: withBaggage });

    const seen = await process(await topic.next(), (traced) => {
      traced.ack();
      return {
        baggage: propagation.getBaggage(context.active())?.getEntry('signup.channel')?.value,
        activeSpan: trace.getActiveSpan()?.spanContext().spanId,
      };
    });

    expect(seen).toEqual({
      baggage: 'web',
      activeSpan: tracing.span(`process ${topic.subject}`).spanContext().spanId,
    });
  });

  it('when a process hook throws or rejects, then the handler still runs', async () => {
    const topic = await nats.topic();
    await publish(nats.js, topic.subject, 'payload');
    const faulty = createNatsTracing({
      processHook: async () => {
        throw new Error('hook bug');
      },
    });

    const outcome = await faulty.process(await topic.next(), (traced) => {
      traced.ack();
      return 'handled';
    });

    expect(outcome).toBe('handled');
  });
});
