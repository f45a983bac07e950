import type { UserCreatedEvent } from '@signup-flow/events';
import type { DeliveryLedger } from '../data/delivery-ledger.js';
import type { Mailer } from '../mail/smtp-mailer.js';
import { renderWelcomeEmail } from '../mail/welcome-email.js';

/** What the use case needs of the ledger. */
export type WelcomeEmailLedger = Pick<
  DeliveryLedger,
  'claim' | 'markSent' | 'markRetrying' | 'markFailed'
>;

export interface SendWelcomeEmailDeps {
  ledger: WelcomeEmailLedger;
  mailer: Mailer;
  /** How long a claim keeps other consumers from sending the same email. */
  claimLeaseMs: number;
}

export interface SendWelcomeEmailRequest {
  event: UserCreatedEvent;
  /** No delivery follows this one: a transient failure is final. */
  finalAttempt: boolean;
}

export type WelcomeEmailResult =
  | { kind: 'sent'; acceptedAt: Date }
  | { kind: 'already-sent' }
  | { kind: 'claimed-elsewhere'; retryInMs: number }
  | { kind: 'will-retry'; reason: string }
  | {
      kind: 'failed';
      /** True when the SMTP server refused for good; false when attempts ran out. */
      permanent: boolean;
      reason: string;
      attempts: number;
      firstFailedAt: Date;
      lastFailedAt: Date;
    };

/**
 * The Message-ID of the welcome email for an event. A duplicate from the one window the ledger
 * cannot close (see README) carries the same Message-ID as the first copy.
 */
export function welcomeMessageId(eventId: string): string {
  return `<${eventId}@signup-flow>`;
}

/** Sends the welcome email for a UserCreated event at most once, as the ledger records it. */
export async function sendWelcomeEmail(
  deps: SendWelcomeEmailDeps,
  request: SendWelcomeEmailRequest,
): Promise<WelcomeEmailResult> {
  const { event } = request;
  const messageId = welcomeMessageId(event.id);
  const claim = await deps.ledger.claim({
    eventId: event.id,
    userId: event.data.userId,
    messageId,
    leaseMs: deps.claimLeaseMs,
  });
  if (claim.kind === 'already-sent') return claim;
  if (claim.kind === 'claimed-elsewhere') {
    return { kind: 'claimed-elsewhere', retryInMs: claim.claimExpiresInMs };
  }

  const result = await deps.mailer.send({
    to: event.data.email,
    messageId,
    ...renderWelcomeEmail({ name: event.data.name }),
  });
  if (result.ok) {
    // Nothing may come between the SMTP acceptance and this write: it is the duplicate window.
    await deps.ledger.markSent(event.id);
    return { kind: 'sent', acceptedAt: new Date() };
  }

  if (!result.permanent && !request.finalAttempt) {
    await deps.ledger.markRetrying(event.id, result.reason);
    return { kind: 'will-retry', reason: result.reason };
  }
  const delivery = await deps.ledger.markFailed(event.id, result.reason);
  return {
    kind: 'failed',
    permanent: result.permanent,
    reason: result.reason,
    attempts: delivery.attempts,
    firstFailedAt: delivery.firstFailedAt ?? new Date(),
    lastFailedAt: delivery.lastFailedAt ?? new Date(),
  };
}
