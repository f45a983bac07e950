import type { JsMsg } from '@nats-io/jetstream';
import { decodeEvent } from '@signup-flow/events';
import type { Logger } from '@signup-flow/service-runtime';
import {
  type SendWelcomeEmailDeps,
  sendWelcomeEmail,
  type WelcomeEmailResult,
} from '../domain/send-welcome-email.js';
import type { MessagingMetrics } from '../metrics.js';
import { safeOneLine } from '../privacy.js';
import {
  type DeadLetter,
  type DeadLetterPublisher,
  DLQ_REASONS,
  type DlqReason,
  originalOf,
} from './dead-letters.js';
import { OUTCOMES, type Settlement } from './settlement.js';

export interface UserCreatedHandlerDeps extends SendWelcomeEmailDeps {
  deadLetters: Pick<DeadLetterPublisher, 'publish'>;
  metrics: MessagingMetrics;
  logger: Logger;
  /** Same list as the consumer's BackOff: the nak delay after delivery n is entry n-1. */
  retryBackoffMs: number[];
  /** Bodies above this go straight to the DLQ. */
  maxEventBytes: number;
}

/** Processes one message and settles it with JetStream; see {@link createUserCreatedHandler}. */
export type MessageHandler = (message: JsMsg) => Promise<Settlement>;

function oneLine(error: unknown): string {
  return safeOneLine(error instanceof Error ? error.message : String(error));
}

/**
 * The UserCreated handler: one call processes one message, settles it (ack, nak with delay, or
 * DLQ + term) on every path, and returns how. Tracing wraps this function as a whole.
 */
export function createUserCreatedHandler(deps: UserCreatedHandlerDeps): MessageHandler {
  const maxDeliver = deps.retryBackoffMs.length;
  const delayAfter = (deliveryCount: number) =>
    deps.retryBackoffMs[Math.min(deliveryCount, maxDeliver) - 1] ?? 1000;

  async function deadLetter(message: JsMsg, letter: DeadLetter): Promise<Settlement> {
    const stored = await deps.deadLetters.publish(originalOf(message), letter);
    message.term(letter.reason);
    // A copy means this message was dead-lettered before (and redelivered after a crash).
    if (stored) deps.metrics.recordDeadLetter(letter.reason);
    deps.logger.warn(
      {
        streamSequence: message.info.streamSequence,
        reason: letter.reason,
        detail: letter.detail,
        attempts: letter.attempts,
      },
      'message dead-lettered',
    );
    return { outcome: OUTCOMES.deadLettered, reason: letter.reason };
  }

  const letterFailingNow = (message: JsMsg, reason: DlqReason, detail: string): DeadLetter => {
    const now = new Date();
    return {
      reason,
      detail: safeOneLine(detail),
      attempts: message.info.deliveryCount,
      firstFailure: now,
      lastFailure: now,
    };
  };

  async function settle(message: JsMsg, result: WelcomeEmailResult): Promise<Settlement> {
    const deliveryCount = message.info.deliveryCount;
    switch (result.kind) {
      case 'sent':
      case 'already-sent':
        message.ack();
        return { outcome: result.kind === 'sent' ? OUTCOMES.sent : OUTCOMES.alreadySent };
      case 'claimed-elsewhere':
        if (deliveryCount >= maxDeliver) {
          // No delivery follows; if the claim holder succeeds, a replay of this letter is a no-op.
          return deadLetter(
            message,
            letterFailingNow(
              message,
              DLQ_REASONS.maxDeliveries,
              'still claimed by another consumer',
            ),
          );
        }
        message.nak(Math.max(result.retryInMs, 1000));
        return { outcome: OUTCOMES.deferred, delayMs: Math.max(result.retryInMs, 1000) };
      case 'will-retry': {
        const delayMs = delayAfter(deliveryCount);
        message.nak(delayMs);
        deps.logger.info(
          {
            streamSequence: message.info.streamSequence,
            deliveryCount,
            delayMs,
            reason: result.reason,
          },
          'welcome email not sent; will retry',
        );
        return { outcome: OUTCOMES.retried, delayMs, reason: result.reason };
      }
      case 'failed':
        return deadLetter(message, {
          reason: result.permanent ? DLQ_REASONS.smtpRejected : DLQ_REASONS.maxDeliveries,
          detail: result.reason,
          attempts: deliveryCount,
          firstFailure: result.firstFailedAt,
          lastFailure: result.lastFailedAt,
        });
    }
  }

  return async function handleUserCreated(message) {
    const deliveryCount = message.info.deliveryCount;
    if (deliveryCount > 1) deps.metrics.recordRedelivery();
    try {
      if (message.data.byteLength > deps.maxEventBytes) {
        return await deadLetter(
          message,
          letterFailingNow(
            message,
            DLQ_REASONS.tooLarge,
            `body of ${message.data.byteLength} bytes exceeds ${deps.maxEventBytes}`,
          ),
        );
      }
      const decoded = decodeEvent(message.data);
      if (!decoded.ok) {
        return await deadLetter(message, letterFailingNow(message, decoded.reason, decoded.detail));
      }
      const result = await sendWelcomeEmail(deps, {
        event: decoded.event,
        finalAttempt: deliveryCount >= maxDeliver,
      });
      if (result.kind === 'sent') {
        deps.metrics.recordSignupToEmail(
          (result.acceptedAt.getTime() - Date.parse(decoded.event.time)) / 1000,
        );
      }
      return await settle(message, result);
    } catch (error) {
      // The ledger or the DLQ is unreachable: nothing was decided, so try again later.
      const delayMs = delayAfter(deliveryCount);
      deps.logger.error(
        {
          err: oneLine(error),
          streamSequence: message.info.streamSequence,
          deliveryCount,
          delayMs,
        },
        deliveryCount >= maxDeliver
          ? 'message could not be processed on its last delivery; it needs a manual look'
          : 'message could not be processed; will retry',
      );
      message.nak(delayMs);
      return { outcome: OUTCOMES.retried, delayMs, reason: oneLine(error) };
    }
  };
}
