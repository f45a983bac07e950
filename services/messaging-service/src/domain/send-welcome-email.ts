import { setTimeout as sleep } from 'node:timers/promises';
import type { UserCreatedEvent } from '@signup-flow/events';
import type { Claim, Delivery, DeliveryLedger } from '../data/delivery-ledger.js';
import { type Mailer, SEND_FAILURES } from '../mail/smtp-mailer.js';
import { renderWelcomeEmail } from '../mail/welcome-email.js';
import { holdLease, LEASE_LOSSES, LeaseLostError } from './claim-lease.js';

/** What the use case needs of the ledger. */
export type WelcomeEmailLedger = Pick<
  DeliveryLedger,
  'claim' | 'renew' | 'markSent' | 'release' | 'recordFailure'
>;

export interface SendWelcomeEmailDeps {
  ledger: WelcomeEmailLedger;
  mailer: Mailer;
  /** A claim's lease; renewed while its send runs. */
  claimLeaseMs: number;
  /** Attempts a message may fail before it is dead-lettered (RETRY_BACKOFF_MS's length). */
  attemptBudget: number;
}

/** Why the consumer stopped a message's processing from outside. */
export const STOP_CAUSES = {
  /** The service is shutting down: hand the message to another replica. */
  shutdown: 'shutdown',
  /** The message outlived its processing deadline. */
  deadline: 'deadline',
} as const;

export type StopCause = (typeof STOP_CAUSES)[keyof typeof STOP_CAUSES];

/** The reason an outside signal carries when it stops a message. */
export class ProcessingStopped extends Error {
  override readonly name = 'ProcessingStopped';
  readonly stopCause: StopCause;

  constructor(stopCause: StopCause) {
    super(`processing stopped: ${stopCause}`);
    this.stopCause = stopCause;
  }
}

/** The ledger could not confirm the claim: treated like any unreachable ledger. */
export class LedgerUnavailableError extends Error {
  override readonly name = 'LedgerUnavailableError';
}

export interface SendWelcomeEmailRequest {
  event: UserCreatedEvent;
  /** The message is a DLQ replay: a failed delivery may be tried again. */
  replay: boolean;
  /** Stops the send with a {@link ProcessingStopped} reason. */
  signal: AbortSignal;
}

export type WelcomeEmailResult =
  | { kind: 'sent'; acceptedAt: Date; overlapped: boolean }
  | { kind: 'already-sent' }
  | { kind: 'claimed-elsewhere'; retryInMs: number }
  /** One attempt spent; `failedAttempts` of the budget are gone. */
  | { kind: 'will-retry'; reason: string; failedAttempts: number }
  /** The ledger says `failed`: the message belongs in the DLQ (maybe it is there already). */
  | { kind: 'dead-letter'; permanent: boolean; delivery: Delivery }
  /** The mail server could not take any message; the claim was released, nothing spent. */
  | { kind: 'server-unavailable'; reason: string }
  /** Shutdown stopped the send; the claim was released for another replica. */
  | { kind: 'interrupted' };

/**
 * The Message-ID of the welcome email for an event. A duplicate from the windows the ledger
 * cannot close (see README) carries the same Message-ID as the first copy.
 */
export function welcomeMessageId(eventId: string): string {
  return `<${eventId}@signup-flow>`;
}

/**
 * Writes `sent`, retrying while the ledger is unreachable (a PostgreSQL restart or failover) for
 * as long as the message may still be processed: giving up here is what would send a second copy.
 */
async function recordSent(
  ledger: WelcomeEmailLedger,
  claim: Claim,
  signal: AbortSignal,
): Promise<{ held: boolean }> {
  for (let delayMs = 100; ; delayMs = Math.min(delayMs * 2, 2_000)) {
    try {
      return await ledger.markSent(claim);
    } catch (error) {
      if (signal.aborted) throw error;
      await sleep(delayMs, undefined, { signal }).catch(() => undefined);
    }
  }
}

function isPermanentFailure(delivery: Delivery, budget: number): boolean {
  return delivery.failedAttempts < budget;
}

/**
 * Sends the welcome email for a UserCreated event at most once, as the ledger records it.
 * Ledger failures propagate: nothing is decided, the message is tried again later.
 */
export async function sendWelcomeEmail(
  deps: SendWelcomeEmailDeps,
  request: SendWelcomeEmailRequest,
): Promise<WelcomeEmailResult> {
  const { event } = request;
  const messageId = welcomeMessageId(event.id);
  const claimed = await deps.ledger.claim({
    eventId: event.id,
    userId: event.data.userId,
    messageId,
    leaseMs: deps.claimLeaseMs,
    reopenFailed: request.replay,
  });
  switch (claimed.kind) {
    case 'already-sent':
      return claimed;
    case 'claimed-elsewhere':
      return { kind: 'claimed-elsewhere', retryInMs: claimed.claimExpiresInMs };
    case 'dead-lettered':
      return {
        kind: 'dead-letter',
        permanent: isPermanentFailure(claimed.delivery, deps.attemptBudget),
        delivery: claimed.delivery,
      };
    case 'claimed':
      break;
  }
  const { claim } = claimed;

  const lease = holdLease(deps.ledger, claim, deps.claimLeaseMs);
  const signal = AbortSignal.any([request.signal, lease.signal]);
  let result: Awaited<ReturnType<Mailer['send']>>;
  try {
    result = await deps.mailer.send(
      { to: event.data.email, messageId, ...renderWelcomeEmail({ name: event.data.name }) },
      signal,
    );
  } finally {
    lease.release();
  }

  if (result.ok) {
    // Nothing may come between the SMTP acceptance and this write: it is the duplicate window.
    const acceptedAt = new Date();
    const { held } = await recordSent(deps.ledger, claim, request.signal);
    return { kind: 'sent', acceptedAt, overlapped: !held };
  }

  let failure = result.failure;
  if (failure === SEND_FAILURES.aborted) {
    const why: unknown = signal.reason;
    if (why instanceof LeaseLostError) {
      if (why.loss === LEASE_LOSSES.takenOver) {
        return { kind: 'claimed-elsewhere', retryInMs: deps.claimLeaseMs };
      }
      throw new LedgerUnavailableError('the ledger did not confirm the claim in time', {
        cause: why,
      });
    }
    if (why instanceof ProcessingStopped && why.stopCause === STOP_CAUSES.shutdown) {
      await deps.ledger.release(claim);
      return { kind: 'interrupted' };
    }
    // Past its deadline the send may have reached the server: it costs an attempt.
    failure = SEND_FAILURES.messageTransient;
  }
  if (failure === SEND_FAILURES.serverUnavailable) {
    await deps.ledger.release(claim);
    return { kind: 'server-unavailable', reason: result.reason };
  }

  const delivery = await deps.ledger.recordFailure(claim, {
    error: result.reason,
    permanent: failure === SEND_FAILURES.permanent,
    budget: deps.attemptBudget,
  });
  // The claim was taken over while we sent: the report is stale and changed nothing.
  if (!delivery) return { kind: 'claimed-elsewhere', retryInMs: deps.claimLeaseMs };
  if (delivery.status === 'failed') {
    return {
      kind: 'dead-letter',
      permanent: failure === SEND_FAILURES.permanent,
      delivery,
    };
  }
  return { kind: 'will-retry', reason: result.reason, failedAttempts: delivery.failedAttempts };
}
