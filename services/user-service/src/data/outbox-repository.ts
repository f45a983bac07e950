import type { Knex } from 'knex';

/** The W3C trace context headers (`traceparent`, `tracestate`, `baggage`) of the writing request. */
export type TraceContext = Record<string, string>;

export interface NewOutboxEvent {
  eventId: string;
  /** Events of one aggregate (one user) are published in the order they were written. */
  aggregateId: string;
  subject: string;
  payload: object;
  traceContext: TraceContext;
}

export interface ClaimedEvent {
  id: string;
  eventId: string;
  subject: string;
  payload: object;
  traceContext: TraceContext;
  createdAt: Date;
}

export interface OutboxRow {
  id: string;
  event_id: string;
  aggregate_id: string;
  subject: string;
  payload: object;
  trace_context: TraceContext;
  created_at: Date;
  published_at: Date | null;
  claimed_until: Date | null;
  attempts: number;
  last_error: string | null;
}

/**
 * What a writer needs to publish a new event itself, at once, instead of leaving it to a relay's
 * claim: implemented by the outbox relay of the writer's own process.
 */
export interface OutboxHandOff {
  /**
   * How long a new event's lease lasts, in seconds, if it can be published now; undefined when it
   * cannot (NATS unreachable, failing or busy), and the event is left to the relays.
   */
  leaseSeconds(): number | undefined;
  /** Publishes an event just committed with a lease; returns at once. */
  publish(event: ClaimedEvent): void;
}

/**
 * The insert of a new event, to run alone or inside a larger statement; it returns the row's id.
 * With `leaseSeconds`, no relay claims the row before the lease ends: its writer publishes it.
 */
export function appendEvent(
  db: Knex,
  event: NewOutboxEvent,
  leaseSeconds?: number,
): Knex.QueryBuilder {
  return db<OutboxRow>('outbox')
    .insert({
      event_id: event.eventId,
      aggregate_id: event.aggregateId,
      subject: event.subject,
      payload: event.payload,
      trace_context: event.traceContext,
      ...(leaseSeconds === undefined
        ? {}
        : {
            claimed_until: db.raw('now() + make_interval(secs => ?)', [
              leaseSeconds,
            ]) as unknown as Date,
          }),
    })
    .returning(['id', 'created_at']);
}

/**
 * Locks up to `limit` unpublished events for this transaction. Rows locked by another relay or
 * leased to their writer are skipped, and so is any event whose aggregate has an earlier one still
 * unpublished: that keeps each aggregate's events in order even with several relays.
 */
export async function claimUnpublished(
  trx: Knex.Transaction,
  limit: number,
): Promise<ClaimedEvent[]> {
  const { rows } = await trx.raw<{ rows: OutboxRow[] }>(
    `SELECT id, event_id, subject, payload, trace_context, created_at
       FROM outbox candidate
      WHERE published_at IS NULL
        AND (claimed_until IS NULL OR claimed_until < now())
        AND NOT EXISTS (
              SELECT 1 FROM outbox earlier
               WHERE earlier.aggregate_id = candidate.aggregate_id
                 AND earlier.published_at IS NULL
                 AND earlier.id < candidate.id)
      ORDER BY id
      LIMIT ?
        FOR UPDATE SKIP LOCKED`,
    [limit],
  );
  return rows.map(toClaimedEvent);
}

/** An outbox row as the relay publishes it. */
export function toClaimedEvent(row: OutboxRow): ClaimedEvent {
  return {
    id: row.id,
    eventId: row.event_id,
    subject: row.subject,
    payload: row.payload,
    traceContext: row.trace_context,
    createdAt: row.created_at,
  };
}

export async function markPublished(trx: Knex.Transaction, ids: string[]): Promise<void> {
  if (ids.length === 0) return;
  await trx<OutboxRow>('outbox')
    .whereIn('id', ids)
    // clock_timestamp(), not now(): the time of the PubAck, not of the transaction's start.
    .update({ published_at: trx.raw('clock_timestamp()') as unknown as Date })
    .increment('attempts', 1);
}

export interface Acknowledged {
  id: string;
  /** When JetStream acknowledged it, by this process's clock. */
  at: Date;
}

/** Marks handed-off events published, each at the time of its own PubAck, in one statement. */
export async function markAcknowledged(db: Knex, acknowledged: Acknowledged[]): Promise<void> {
  if (acknowledged.length === 0) return;
  await db.raw(
    `UPDATE outbox
        SET published_at = acked.at, attempts = attempts + 1, claimed_until = NULL
       FROM unnest(?::bigint[], ?::timestamptz[]) AS acked(id, at)
      WHERE outbox.id = acked.id AND outbox.published_at IS NULL`,
    [acknowledged.map((event) => event.id), acknowledged.map((event) => event.at.toISOString())],
  );
}

/** Counts a failed attempt on each row, with why, and ends any lease: a relay retries them. */
export async function recordFailedAttempt(db: Knex, ids: string[], error: string): Promise<void> {
  if (ids.length === 0) return;
  await db<OutboxRow>('outbox')
    .whereIn('id', ids)
    .update({ last_error: error.slice(0, 1000), claimed_until: null })
    .increment('attempts', 1);
}

export interface OutboxBacklog {
  pending: number;
  /** Age of the oldest unpublished event; 0 when there is none. */
  oldestPendingAgeSeconds: number;
}

export async function readBacklog(db: Knex): Promise<OutboxBacklog> {
  const { rows } = await db.raw<{ rows: Array<{ pending: string; oldest_age: number | null }> }>(
    `SELECT count(*) AS pending,
            extract(epoch FROM now() - min(created_at))::float8 AS oldest_age
       FROM outbox WHERE published_at IS NULL`,
  );
  const row = rows[0];
  return {
    pending: Number(row?.pending ?? 0),
    oldestPendingAgeSeconds: Math.max(0, row?.oldest_age ?? 0),
  };
}

/** Deletes up to `limit` events published more than `retentionSeconds` ago; returns how many. */
export async function prunePublished(
  db: Knex,
  retentionSeconds: number,
  limit: number,
): Promise<number> {
  const { rowCount } = await db.raw<{ rowCount: number }>(
    `DELETE FROM outbox WHERE id IN (
       SELECT id FROM outbox
        WHERE published_at < now() - make_interval(secs => ?)
        LIMIT ?)`,
    [retentionSeconds, limit],
  );
  return rowCount;
}
