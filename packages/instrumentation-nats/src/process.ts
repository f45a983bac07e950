import type { JsMsg } from '@nats-io/jetstream';
import {
  type Context,
  context,
  isSpanContextValid,
  type Link,
  propagation,
  type Span,
  SpanKind,
  type Tracer,
  trace,
} from '@opentelemetry/api';
import { type MessageFacts, messagingAttributes, spanName } from './attributes.js';
import { natsHeadersGetter } from './propagator.js';
import { NATS_MSG_ID_HEADER, NATS_OPERATION_NAME } from './semconv.js';
import { recordFailure, runHookSafely } from './span-outcome.js';
import type { MessageHandler, ProcessHook, ProcessOptions } from './types.js';

function factsOf(message: JsMsg, options: ProcessOptions): MessageFacts {
  return {
    subject: message.subject,
    messageId: message.headers?.get(NATS_MSG_ID_HEADER) || undefined,
    bodySize: message.data.byteLength,
    consumerGroupName: options.consumerGroupName ?? message.info.consumer,
    delivery: message.info,
    startedAtMs: Date.now(),
  };
}

/**
 * The producer's context from the message headers, on top of the active one: with no valid
 * `traceparent` the active context is returned unchanged (a new root when there is none).
 */
function creationContext(message: JsMsg): { parent: Context; links: Link[] } {
  const active = context.active();
  const parent = propagation.extract(active, message.headers, natsHeadersGetter);
  const extracted = trace.getSpanContext(parent);
  const fromMessage =
    extracted !== undefined &&
    extracted.isRemote === true &&
    isSpanContextValid(extracted) &&
    extracted !== trace.getSpanContext(active);
  return { parent, links: fromMessage ? [{ context: extracted }] : [] };
}

type SettleOperation =
  | typeof NATS_OPERATION_NAME.ack
  | typeof NATS_OPERATION_NAME.nak
  | typeof NATS_OPERATION_NAME.term;

/**
 * The message as the handler sees it: `ack`, `nak` and `term` each record a short `settle` CLIENT
 * span, child of the process span. Only the first settlement is recorded, as JetStream only
 * honours the first; everything else is the original message's.
 */
function withTracedSettlement(
  message: JsMsg,
  tracer: Tracer,
  processContext: Context,
  { subject, messageId, consumerGroupName }: MessageFacts,
): JsMsg {
  // Delivery details and queue time belong to the process span, not to each settlement.
  const facts: MessageFacts = { subject, messageId, consumerGroupName };
  let settled = false;
  const settle = (
    operation: SettleOperation,
    settleAction: () => void,
    outcome: Pick<MessageFacts, 'nakDelayMs' | 'termReason'> = {},
  ) => {
    if (settled) return settleAction();
    settled = true;
    const span = tracer.startSpan(
      spanName(operation, facts.subject),
      {
        kind: SpanKind.CLIENT,
        attributes: messagingAttributes(operation, { ...facts, ...outcome }),
      },
      processContext,
    );
    try {
      settleAction();
    } catch (error) {
      recordFailure(span, error);
      throw error;
    } finally {
      span.end();
    }
  };
  const ack = () => settle(NATS_OPERATION_NAME.ack, () => message.ack());
  const nak = (millis?: number) =>
    settle(NATS_OPERATION_NAME.nak, () => message.nak(millis), { nakDelayMs: millis });
  const term = (reason?: string) =>
    settle(NATS_OPERATION_NAME.term, () => message.term(reason), { termReason: reason });
  const overrides: Partial<Record<keyof JsMsg, unknown>> = { ack, nak, term };
  return new Proxy(message, {
    get(target, property) {
      if (typeof property === 'string' && Object.hasOwn(overrides, property)) {
        return overrides[property as keyof JsMsg];
      }
      const value: unknown = Reflect.get(target, property, target);
      // JsMsgImpl's methods use private state: call them on the real message.
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}

/**
 * Runs `handler` inside a `process <subject>` CONSUMER span whose parent is the producer's context
 * from the message headers and which also links to it. Handler errors are recorded and rethrown.
 */
export async function processTraced<T>(
  tracer: Tracer,
  processHook: ProcessHook | undefined,
  message: JsMsg,
  handler: MessageHandler<T>,
  options: ProcessOptions = {},
): Promise<T> {
  const operation = NATS_OPERATION_NAME.process;
  const facts = factsOf(message, options);
  const { parent, links } = creationContext(message);
  const span: Span = tracer.startSpan(
    spanName(operation, facts.subject),
    { kind: SpanKind.CONSUMER, attributes: messagingAttributes(operation, facts), links },
    parent,
  );
  const processContext = trace.setSpan(parent, span);
  runHookSafely('processHook', processHook, span, message);
  try {
    const traced = withTracedSettlement(message, tracer, processContext, facts);
    return await context.with(processContext, () => handler(traced, span));
  } catch (error) {
    recordFailure(span, error);
    throw error;
  } finally {
    span.end();
  }
}
