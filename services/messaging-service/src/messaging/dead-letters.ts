import type { JetStreamClient, JsMsg } from '@nats-io/jetstream';
import { headers as createHeaders, type MsgHdrs } from '@nats-io/nats-core';
import { DECODE_FAILURES, HEADERS, SUBJECTS } from '@signup-flow/events';

/** Why a message is in the DLQ (the `Dlq-Reason` header and the dead-letter metric's label). */
export const DLQ_REASONS = {
  ...DECODE_FAILURES,
  tooLarge: 'too-large',
  smtpRejected: 'smtp-rejected',
  maxDeliveries: 'max-deliveries',
} as const;

export type DlqReason = (typeof DLQ_REASONS)[keyof typeof DLQ_REASONS];

/** Headers added to a dead letter; the original headers are kept beside them (README "DLQ"). */
export const DLQ_HEADERS = {
  reason: 'Dlq-Reason',
  detail: 'Dlq-Detail',
  attempts: 'Dlq-Attempts',
  firstFailure: 'Dlq-First-Failure',
  lastFailure: 'Dlq-Last-Failure',
  originalStream: 'Dlq-Original-Stream',
  originalSubject: 'Dlq-Original-Subject',
  originalSequence: 'Dlq-Original-Sequence',
  originalMsgId: 'Dlq-Original-Msg-Id',
  consumer: 'Dlq-Consumer',
} as const;

/**
 * Marks a message republished by `dlq replay`, naming the dead letter it came from; only such a
 * message may reopen a delivery the ledger recorded as failed.
 */
export const REPLAYED_FROM_HEADER = 'Replayed-From-Dlq';

/** Dead letters of `users.created` are published on `dlq.users.created`. */
export function deadLetterSubject(originalSubject: string): string {
  return `${SUBJECTS.deadLetterPrefix}.${originalSubject}`;
}

export interface DeadLetter {
  reason: DlqReason;
  /** One line; never an email address. */
  detail: string;
  attempts: number;
  firstFailure: Date;
  lastFailure: Date;
}

/** The message being dead-lettered, whether it was delivered to us or read back from its stream. */
export interface OriginalMessage {
  stream: string;
  streamSequence: number;
  subject: string;
  data: Uint8Array;
  headers: MsgHdrs | undefined;
}

export function originalOf(message: JsMsg): OriginalMessage {
  return {
    stream: message.info.stream,
    streamSequence: message.info.streamSequence,
    subject: message.subject,
    data: message.data,
    headers: message.headers,
  };
}

/** Server-set and de-duplication headers belong to the original publish, not to its copy. */
function isTransportHeader(name: string): boolean {
  return /^nats-/i.test(name);
}

export function deadLetterHeaders(
  message: OriginalMessage,
  letter: DeadLetter,
  consumer: string,
): MsgHdrs {
  const copy = createHeaders();
  for (const name of message.headers?.keys() ?? []) {
    if (isTransportHeader(name)) continue;
    for (const value of message.headers?.values(name) ?? []) copy.append(name, value);
  }
  const originalMsgId = message.headers?.get(HEADERS.messageId);
  if (originalMsgId) copy.set(DLQ_HEADERS.originalMsgId, originalMsgId);
  copy.set(DLQ_HEADERS.reason, letter.reason);
  copy.set(DLQ_HEADERS.detail, letter.detail.replace(/[\r\n]+/g, ' ').slice(0, 500));
  copy.set(DLQ_HEADERS.attempts, String(letter.attempts));
  copy.set(DLQ_HEADERS.firstFailure, letter.firstFailure.toISOString());
  copy.set(DLQ_HEADERS.lastFailure, letter.lastFailure.toISOString());
  copy.set(DLQ_HEADERS.originalStream, message.stream);
  copy.set(DLQ_HEADERS.originalSubject, message.subject);
  copy.set(DLQ_HEADERS.originalSequence, String(message.streamSequence));
  copy.set(DLQ_HEADERS.consumer, consumer);
  return copy;
}

/** Publishes dead letters and waits for the DLQ stream to store them. */
export class DeadLetterPublisher {
  readonly #js: JetStreamClient;
  readonly #consumer: string;

  constructor(js: JetStreamClient, consumer: string) {
    this.#js = js;
    this.#consumer = consumer;
  }

  /**
   * Idempotent per original message: the DLQ stream drops a second copy within its window.
   * Resolves false when this was such a copy.
   */
  async publish(message: OriginalMessage, letter: DeadLetter): Promise<boolean> {
    const ack = await this.#js.publish(deadLetterSubject(message.subject), message.data, {
      headers: deadLetterHeaders(message, letter, this.#consumer),
      msgID: `${message.stream}-${message.streamSequence}`,
    });
    return !ack.duplicate;
  }
}
