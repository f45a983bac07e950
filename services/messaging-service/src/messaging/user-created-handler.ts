import type { JsMsg } from '@nats-io/jetstream';
import { decodeEvent } from '@signup-flow/events';
import type { Logger } from '@signup-flow/service-runtime';
import { safeOneLine } from '@signup-flow/service-runtime';
import type { DeliveryLedger } from '../data/delivery-ledger.js';
import {
  type SendWelcomeEmailDeps,
  sendWelcomeEmail,
  type WelcomeEmailResult,
} from '../domain/send-welcome-email.js';
import type { MessagingMetrics } from '../metrics.js';
import {
  type DeadLetter,
  type DeadLetterPublisher,
  DLQ_REASONS,
  type DlqReason,
  originalOf,
  REPLAYED_FROM_HEADER,
} from './dead-letters.js';
import type { DependencyGate } from './dependency-gate.js';
import { OUTCOMES, type Settlement } from './settlement.js';

export interface UserCreatedHandlerDeps extends Omit<SendWelcomeEmailDeps, 'attemptBudget'> {
  ledger: SendWelcomeEmailDeps['ledger'] & Pick<DeliveryLedger, 'markDeadLettered'>;
  deadLetters: Pick<DeadLetterPublisher, 'publish'>;
  /** Closed while the mail server, or the ledger's database, cannot be reached. */
  gates: { smtp: DependencyGate; postgres: DependencyGate };
  /** Told when the DLQ stream refused a dead letter, so it can be recreated. */
  onDeadLetterFailure: (error: unknown) => void;
  metrics: MessagingMetrics;
  logger: Logger;
  /** Its length is the attempt budget; entry n is the wait after the n-th failed attempt. */
  retryBackoffMs: number[];
  /** Bodies above this go straight to the DLQ. */
  maxEventBytes: number;
}

/**
 * Processes one message and settles it; see {@link createUserCreatedHandler}. `signal` aborts with
 * a `ProcessingStopped` reason at shutdown or at the message's deadline.
 */
export type DeliveryHandler = (message: JsMsg, signal: AbortSignal) => Promise<Settlement>;

/** A message held back by an unavailable dependency comes back this soon once it answers. */
export const DEPENDENCY_RETRY_MS = 1000;

function oneLine(error: unknown): string {
  return safeOneLine(error instanceof Error ? error.message : String(error));
}

/**
 * The UserCreated handler: one call processes one message and settles it (ack, nak with delay,
 * or DLQ + term) on every path. A message ends only as an email or a dead letter: it is
 * terminated only after the DLQ stream stored it, and the consumer has no MaxDeliver, so a
 * message whose fate cannot be recorded is simply delivered again. Tracing wraps it whole.
 */
export function createUserCreatedHandler(deps: UserCreatedHandlerDeps): DeliveryHandler {
  const attemptBudget = deps.retryBackoffMs.length;
  const delayAfter = (failedAttempts: number) =>
    deps.retryBackoffMs[Math.min(failedAttempts, attemptBudget) - 1] ?? DEPENDENCY_RETRY_MS;

  function waitForDependency(message: JsMsg, dependency: string, reason: string): Settlement {
    message.nak(DEPENDENCY_RETRY_MS);
    deps.logger.debug(
      { streamSequence: message.info.streamSequence, dependency, reason },
      'message held back: a dependency is unavailable',
    );
    return { outcome: OUTCOMES.waitingForDependency, dependency, delayMs: DEPENDENCY_RETRY_MS };
  }

  /** The only place a message goes to the DLQ. */
  async function deadLetter(
    message: JsMsg,
    letter: DeadLetter,
    eventId?: string,
  ): Promise<Settlement> {
    let stored: boolean;
    try {
      stored = await deps.deadLetters.publish(originalOf(message), letter);
    } catch (error) {
      deps.onDeadLetterFailure(error);
      deps.logger.warn(
        { err: oneLine(error), streamSequence: message.info.streamSequence },
        'the DLQ did not store a dead letter; the message is kept and tried again',
      );
      return waitForDependency(message, 'dlq', oneLine(error));
    }
    // Best effort: the row only saves a redelivery's DLQ publish, which the DLQ de-duplicates.
    if (eventId) await deps.ledger.markDeadLettered(eventId).catch(() => undefined);
    message.term(letter.reason);
    // A copy means this message was dead-lettered before (and redelivered before its term).
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

  async function settle(
    message: JsMsg,
    eventId: string,
    result: WelcomeEmailResult,
  ): Promise<Settlement> {
    switch (result.kind) {
      case 'sent':
        if (result.overlapped) {
          deps.logger.error(
            { streamSequence: message.info.streamSequence },
            'email accepted after its claim was taken over: two sends overlapped',
          );
        }
        message.ack();
        return { outcome: OUTCOMES.sent };
      case 'already-sent':
        message.ack();
        return { outcome: OUTCOMES.alreadySent };
      case 'claimed-elsewhere': {
        const delayMs = Math.max(result.retryInMs, 1000);
        message.nak(delayMs);
        return { outcome: OUTCOMES.deferred, delayMs };
      }
      case 'will-retry': {
        const delayMs = delayAfter(result.failedAttempts);
        message.nak(delayMs);
        deps.logger.info(
          {
            streamSequence: message.info.streamSequence,
            failedAttempts: result.failedAttempts,
            delayMs,
            reason: result.reason,
          },
          'welcome email not sent; will retry',
        );
        return { outcome: OUTCOMES.retried, delayMs, reason: result.reason };
      }
      case 'server-unavailable':
        deps.gates.smtp.reportDown(result.reason);
        return waitForDependency(message, deps.gates.smtp.name, result.reason);
      case 'interrupted':
        message.nak();
        return { outcome: OUTCOMES.interrupted };
      case 'dead-letter': {
        const { delivery } = result;
        if (delivery.deadLetteredAt) {
          // The DLQ holds this event already (a re-publish, or a redelivery before our term).
          message.term('already dead-lettered');
          return { outcome: OUTCOMES.deadLettered, reason: 'already-dead-lettered' };
        }
        const now = new Date();
        return deadLetter(
          message,
          {
            reason: result.permanent ? DLQ_REASONS.smtpRejected : DLQ_REASONS.maxDeliveries,
            detail: safeOneLine(delivery.lastError ?? 'no detail recorded'),
            attempts: delivery.failedAttempts,
            firstFailure: delivery.firstFailedAt ?? now,
            lastFailure: delivery.lastFailedAt ?? now,
          },
          eventId,
        );
      }
    }
  }

  return async function handleUserCreated(message, signal) {
    if (message.info.deliveryCount > 1) deps.metrics.recordRedelivery();
    if (message.data.byteLength > deps.maxEventBytes) {
      return deadLetter(
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
      return deadLetter(message, letterFailingNow(message, decoded.reason, decoded.detail));
    }
    let result: WelcomeEmailResult;
    try {
      result = await sendWelcomeEmail(
        { ...deps, attemptBudget },
        {
          event: decoded.event,
          replay: message.headers?.has(REPLAYED_FROM_HEADER) ?? false,
          signal,
        },
      );
    } catch (error) {
      // The ledger is unreachable: nothing was decided and nothing is spent; try again later.
      deps.gates.postgres.reportDown(oneLine(error));
      return waitForDependency(message, deps.gates.postgres.name, oneLine(error));
    }
    if (result.kind === 'sent') {
      deps.metrics.recordSignupToEmail(
        (result.acceptedAt.getTime() - Date.parse(decoded.event.time)) / 1000,
      );
    }
    return settle(message, decoded.event.id, result);
  };
}
