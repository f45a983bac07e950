import type { Knex } from 'knex';

/** See README "Delivery ledger" for the life of a row. */
export const DELIVERY_STATUSES = {
  /** Claimed by one consumer, which may be talking to the SMTP server right now. */
  sending: 'sending',
  /** A transient failure released the claim; the message was nak'd for a later attempt. */
  retrying: 'retrying',
  /** The SMTP server accepted the email. Final. */
  sent: 'sent',
  /** Permanently refused or out of attempts; the message is in the DLQ. A replay may retry it. */
  failed: 'failed',
} as const;

export type DeliveryStatus = (typeof DELIVERY_STATUSES)[keyof typeof DELIVERY_STATUSES];

export interface Delivery {
  eventId: string;
  userId: string;
  status: DeliveryStatus;
  attempts: number;
  messageId: string;
  firstFailedAt: Date | null;
  lastFailedAt: Date | null;
  lastError: string | null;
  sentAt: Date | null;
}

export type ClaimResult =
  | { kind: 'claimed'; attempts: number }
  | { kind: 'already-sent' }
  /** Another consumer holds an unexpired claim; try again once it has run out. */
  | { kind: 'claimed-elsewhere'; claimExpiresInMs: number };

export interface ClaimRequest {
  eventId: string;
  userId: string;
  messageId: string;
  /** How long the claim keeps others away; longer than the slowest possible send. */
  leaseMs: number;
}

interface DeliveryRow {
  event_id: string;
  user_id: string;
  status: DeliveryStatus;
  attempts: number;
  message_id: string;
  first_failed_at: Date | null;
  last_failed_at: Date | null;
  last_error: string | null;
  sent_at: Date | null;
}

function toDelivery(row: DeliveryRow): Delivery {
  return {
    eventId: row.event_id,
    userId: row.user_id,
    status: row.status,
    attempts: row.attempts,
    messageId: row.message_id,
    firstFailedAt: row.first_failed_at,
    lastFailedAt: row.last_failed_at,
    lastError: row.last_error,
    sentAt: row.sent_at,
  };
}

/** The delivery ledger in the messaging-service's own database: one row per event id. */
export class DeliveryLedger {
  readonly #db: Knex;

  constructor(db: Knex) {
    this.#db = db;
  }

  /**
   * Claims the right to send the email for an event, in one statement so two consumers racing
   * for the same event cannot both win: a new event, one waiting for a retry, one that failed
   * (a DLQ replay) or one whose claim ran out (its sender crashed) can be claimed.
   */
  async claim(request: ClaimRequest): Promise<ClaimResult> {
    const claimed = await this.#db.raw<{ rows: Array<{ attempts: number }> }>(
      `INSERT INTO deliveries (event_id, user_id, status, attempts, message_id, claimed_until)
       VALUES (:eventId, :userId, 'sending', 1, :messageId,
               now() + make_interval(secs => :leaseSeconds))
       ON CONFLICT (event_id) DO UPDATE
         SET status = 'sending',
             attempts = deliveries.attempts + 1,
             claimed_until = excluded.claimed_until,
             updated_at = now()
         WHERE deliveries.status IN ('retrying', 'failed')
            OR (deliveries.status = 'sending' AND deliveries.claimed_until < now())
       RETURNING attempts`,
      { ...request, leaseSeconds: request.leaseMs / 1000 },
    );
    const won = claimed.rows[0];
    if (won) return { kind: 'claimed', attempts: won.attempts };

    const current = await this.#db.raw<{
      rows: Array<{ status: DeliveryStatus; expires_in_ms: number | null }>;
    }>(
      `SELECT status,
              (extract(epoch FROM (claimed_until - now())) * 1000)::float8 AS expires_in_ms
         FROM deliveries WHERE event_id = :eventId`,
      { eventId: request.eventId },
    );
    const row = current.rows[0];
    if (row?.status === DELIVERY_STATUSES.sent) return { kind: 'already-sent' };
    // The row changed between the two statements: it is someone else's now, or soon claimable.
    return { kind: 'claimed-elsewhere', claimExpiresInMs: Math.max(0, row?.expires_in_ms ?? 0) };
  }

  /** Records the SMTP server's acceptance. Runs straight after it: see README "duplicate window". */
  async markSent(eventId: string): Promise<void> {
    await this.#db('deliveries').where({ event_id: eventId }).update({
      status: DELIVERY_STATUSES.sent,
      sent_at: this.#db.fn.now(),
      claimed_until: null,
      updated_at: this.#db.fn.now(),
    });
  }

  /** Releases the claim after a transient failure, so the next delivery may try again. */
  async markRetrying(eventId: string, error: string): Promise<Delivery> {
    return this.#recordFailure(eventId, DELIVERY_STATUSES.retrying, error);
  }

  /** Records a final failure; the caller dead-letters the message. */
  async markFailed(eventId: string, error: string): Promise<Delivery> {
    return this.#recordFailure(eventId, DELIVERY_STATUSES.failed, error);
  }

  async find(eventId: string): Promise<Delivery | undefined> {
    const row = await this.#db<DeliveryRow>('deliveries').where({ event_id: eventId }).first();
    return row ? toDelivery(row) : undefined;
  }

  async #recordFailure(eventId: string, status: DeliveryStatus, error: string): Promise<Delivery> {
    const updated = await this.#db.raw<{ rows: DeliveryRow[] }>(
      `UPDATE deliveries
          SET status = :status, claimed_until = NULL,
              first_failed_at = coalesce(first_failed_at, now()), last_failed_at = now(),
              last_error = :error, updated_at = now()
        WHERE event_id = :eventId AND status <> :sent
        RETURNING *`,
      { eventId, status, error, sent: DELIVERY_STATUSES.sent },
    );
    // `sent` is final: a late failure report (an expired claim, a racing watcher) must not reopen
    // a delivered email to a second send.
    const row =
      updated.rows[0] ??
      (await this.#db<DeliveryRow>('deliveries').where({ event_id: eventId }).first());
    if (!row) throw new Error(`no delivery recorded for event ${eventId}`);
    return toDelivery(row);
  }
}
