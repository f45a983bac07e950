import { randomUUID } from 'node:crypto';
import type { Knex } from 'knex';

/** See README "Delivery ledger" for the life of a row. */
export const DELIVERY_STATUSES = {
  /** Claimed by one holder (its `claim_token`), which may be talking to the SMTP server now. */
  sending: 'sending',
  /** Not being sent: waiting for the message's next delivery. */
  retrying: 'retrying',
  /** The SMTP server accepted the email. Final. */
  sent: 'sent',
  /** Refused for good or out of attempts: the message belongs in the DLQ. Only a replay reopens it. */
  failed: 'failed',
} as const;

export type DeliveryStatus = (typeof DELIVERY_STATUSES)[keyof typeof DELIVERY_STATUSES];

export interface Delivery {
  eventId: string;
  userId: string;
  status: DeliveryStatus;
  /** Sends started (claims won). */
  attempts: number;
  /** Attempts the message itself failed: the budget RETRY_BACKOFF_MS bounds. */
  failedAttempts: number;
  messageId: string;
  firstFailedAt: Date | null;
  lastFailedAt: Date | null;
  lastError: string | null;
  sentAt: Date | null;
  /** Set once the DLQ stream stored the message. */
  deadLetteredAt: Date | null;
}

/** The right to send one event's email, held until released, completed or its lease runs out. */
export interface Claim {
  eventId: string;
  /** Fences the claim: only the holder of this token can complete, renew or release it. */
  token: string;
  attempts: number;
  failedAttempts: number;
}

export type ClaimResult =
  | { kind: 'claimed'; claim: Claim }
  | { kind: 'already-sent' }
  /** Another holder's lease is live; try again once it may have run out. */
  | { kind: 'claimed-elsewhere'; claimExpiresInMs: number }
  /** The decision to dead-letter was recorded before; the DLQ may not hold the message yet. */
  | { kind: 'dead-lettered'; delivery: Delivery };

export interface ClaimRequest {
  eventId: string;
  userId: string;
  messageId: string;
  /** How long the claim keeps others away unless renewed. */
  leaseMs: number;
  /** A DLQ replay: a `failed` row may be claimed again, with a fresh budget. */
  reopenFailed: boolean;
}

export interface FailureReport {
  error: string;
  /** A permanent refusal fails the delivery at once, whatever is left of the budget. */
  permanent: boolean;
  /** Failed attempts allowed; the one that reaches it fails the delivery. */
  budget: number;
}

interface DeliveryRow {
  event_id: string;
  user_id: string;
  status: DeliveryStatus;
  attempts: number;
  failed_attempts: number;
  message_id: string;
  first_failed_at: Date | null;
  last_failed_at: Date | null;
  last_error: string | null;
  sent_at: Date | null;
  dead_lettered_at: Date | null;
}

function toDelivery(row: DeliveryRow): Delivery {
  return {
    eventId: row.event_id,
    userId: row.user_id,
    status: row.status,
    attempts: row.attempts,
    failedAttempts: row.failed_attempts,
    messageId: row.message_id,
    firstFailedAt: row.first_failed_at,
    lastFailedAt: row.last_failed_at,
    lastError: row.last_error,
    sentAt: row.sent_at,
    deadLetteredAt: row.dead_lettered_at,
  };
}

/**
 * The delivery ledger in the messaging-service's own database: one row per event id. Every
 * write after the claim names the claim's token, so a holder whose lease ran out (and was taken
 * over) changes nothing; the one exception is the SMTP server's acceptance, a fact whoever
 * reports it (see {@link DeliveryLedger.markSent}).
 */
export class DeliveryLedger {
  readonly #db: Knex;

  constructor(db: Knex) {
    this.#db = db;
  }

  /**
   * Claims the right to send the email for an event, in one statement so two consumers racing
   * for the same event cannot both win: a new event, one waiting for its next attempt, one whose
   * lease ran out (its holder died) or, on a replay, a failed one.
   */
  async claim(request: ClaimRequest): Promise<ClaimResult> {
    const token = randomUUID();
    const claimed = await this.#db.raw<{
      rows: Array<Pick<DeliveryRow, 'attempts' | 'failed_attempts'>>;
    }>(
      `INSERT INTO deliveries (event_id, user_id, status, attempts, message_id, claimed_until, claim_token)
       VALUES (:eventId, :userId, 'sending', 1, :messageId,
               now() + make_interval(secs => :leaseSeconds), :token)
       ON CONFLICT (event_id) DO UPDATE
         SET status = 'sending',
             attempts = deliveries.attempts + 1,
             claimed_until = excluded.claimed_until,
             claim_token = excluded.claim_token,
             failed_attempts = CASE WHEN deliveries.status = 'failed' THEN 0
                                    ELSE deliveries.failed_attempts END,
             dead_lettered_at = CASE WHEN deliveries.status = 'failed' THEN NULL
                                     ELSE deliveries.dead_lettered_at END,
             updated_at = now()
         WHERE deliveries.status = 'retrying'
            OR (deliveries.status = 'sending' AND deliveries.claimed_until < now())
            OR (deliveries.status = 'failed' AND :reopenFailed)
       RETURNING attempts, failed_attempts`,
      { ...request, token, leaseSeconds: request.leaseMs / 1000 },
    );
    const won = claimed.rows[0];
    if (won) {
      return {
        kind: 'claimed',
        claim: {
          eventId: request.eventId,
          token,
          attempts: won.attempts,
          failedAttempts: won.failed_attempts,
        },
      };
    }

    const current = await this.#db.raw<{
      rows: Array<DeliveryRow & { expires_in_ms: number | null }>;
    }>(
      `SELECT *, (extract(epoch FROM (claimed_until - now())) * 1000)::float8 AS expires_in_ms
         FROM deliveries WHERE event_id = :eventId`,
      { eventId: request.eventId },
    );
    const row = current.rows[0];
    if (row?.status === DELIVERY_STATUSES.sent) return { kind: 'already-sent' };
    if (row?.status === DELIVERY_STATUSES.failed) {
      return { kind: 'dead-lettered', delivery: toDelivery(row) };
    }
    // The row changed between the two statements: it is someone else's now, or soon claimable.
    return { kind: 'claimed-elsewhere', claimExpiresInMs: Math.max(0, row?.expires_in_ms ?? 0) };
  }

  /** Extends a live claim; false when it is no longer this holder's (the send must stop). */
  async renew(claim: Claim, leaseMs: number): Promise<boolean> {
    const renewed = await this.#db('deliveries')
      .where({
        event_id: claim.eventId,
        claim_token: claim.token,
        status: DELIVERY_STATUSES.sending,
      })
      .update({
        claimed_until: this.#db.raw('now() + make_interval(secs => ?)', [leaseMs / 1000]),
        updated_at: this.#db.fn.now(),
      });
    return renewed === 1;
  }

  /**
   * Records the SMTP server's acceptance; runs straight after it (README "duplicate window").
   * Not fenced: a `250` is a fact whoever heard it, and recording it stops any later send.
   * Resolves whether the caller still held the claim (false means two sends overlapped).
   */
  async markSent(claim: Claim): Promise<{ held: boolean }> {
    // The sub-select reads the row as it was before this update: who held the claim then.
    const updated = await this.#db.raw<{ rows: Array<{ held: boolean }> }>(
      `UPDATE deliveries
          SET status = 'sent', sent_at = now(), claimed_until = NULL, claim_token = NULL,
              updated_at = now()
         FROM (SELECT event_id, claim_token AS holder FROM deliveries WHERE event_id = :eventId) before
        WHERE deliveries.event_id = before.event_id AND deliveries.status <> 'sent'
       RETURNING coalesce(before.holder = :token, false) AS held`,
      { eventId: claim.eventId, token: claim.token },
    );
    return { held: updated.rows[0]?.held ?? false };
  }

  /**
   * Gives the claim back without spending an attempt (the mail server was unreachable, or the
   * service is shutting down), so the next delivery, on any replica, can claim it at once.
   */
  async release(claim: Claim): Promise<boolean> {
    const released = await this.#db('deliveries')
      .where({
        event_id: claim.eventId,
        claim_token: claim.token,
        status: DELIVERY_STATUSES.sending,
      })
      .update({
        status: DELIVERY_STATUSES.retrying,
        claimed_until: null,
        claim_token: null,
        updated_at: this.#db.fn.now(),
      });
    return released === 1;
  }

  /**
   * Spends one attempt of the budget and releases the claim: the delivery waits for a retry, or
   * is `failed` when the refusal was permanent or this was the last attempt. Resolves undefined
   * when the claim was no longer this holder's: a stale report changes nothing.
   */
  async recordFailure(claim: Claim, report: FailureReport): Promise<Delivery | undefined> {
    const updated = await this.#db.raw<{ rows: DeliveryRow[] }>(
      `UPDATE deliveries
          SET failed_attempts = failed_attempts + 1,
              status = (CASE WHEN :permanent OR failed_attempts + 1 >= :budget
                             THEN 'failed' ELSE 'retrying' END)::delivery_status,
              claimed_until = NULL, claim_token = NULL,
              first_failed_at = coalesce(first_failed_at, now()), last_failed_at = now(),
              last_error = :error, updated_at = now()
        WHERE event_id = :eventId AND claim_token = :token AND status = 'sending'
        RETURNING *`,
      {
        eventId: claim.eventId,
        token: claim.token,
        error: report.error,
        permanent: report.permanent,
        budget: report.budget,
      },
    );
    const row = updated.rows[0];
    return row ? toDelivery(row) : undefined;
  }

  /** Notes that the DLQ stream stored the message, so a redelivery only terminates it. */
  async markDeadLettered(eventId: string): Promise<void> {
    await this.#db('deliveries')
      .where({ event_id: eventId, status: DELIVERY_STATUSES.failed })
      .update({ dead_lettered_at: this.#db.fn.now(), updated_at: this.#db.fn.now() });
  }

  async find(eventId: string): Promise<Delivery | undefined> {
    const row = await this.#db<DeliveryRow>('deliveries').where({ event_id: eventId }).first();
    return row ? toDelivery(row) : undefined;
  }
}
