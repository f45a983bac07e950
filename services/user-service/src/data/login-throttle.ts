import { createHash } from 'node:crypto';
import type { Knex } from 'knex';

export interface LoginThrottleLimits {
  /** Failed logins for one account within the window before it is refused for the rest of it. */
  perAccount: number;
  /** Failed logins from one client address within the window (any accounts). */
  perClient: number;
  windowSeconds: number;
}

/** Who is trying: the account asked for and the client's address. */
export interface LoginAttempt {
  email: string;
  clientAddress: string;
}

/**
 * Counts failed logins in PostgreSQL, so every replica sees the same counts, in fixed windows that
 * start at the first failure. An account over its limit is refused until its window ends, whoever
 * asks; a client over its limit is refused for every account. Other accounts and clients go on.
 * An attempt counts as a failure from the moment it is admitted (so concurrent guesses cannot all
 * slip under the limit) until it succeeds.
 */
export interface LoginThrottle {
  /** Counts the attempt; returns the seconds to wait when it is over a limit, else 0. */
  admit(attempt: LoginAttempt): Promise<number>;
  /** The attempt was right: it stops counting, and the account's earlier failures are forgotten. */
  succeeded(attempt: LoginAttempt): Promise<void>;
}

const TABLE = 'login_failures';
/** Expired windows removed per admitted attempt: bounded work, and the table stays small. */
const PRUNE_BATCH = 100;

function hashed(kind: 'account' | 'client', value: string): string {
  return `${kind}:${createHash('sha256').update(value).digest('base64url')}`;
}

function keysOf(attempt: LoginAttempt) {
  return {
    account: hashed('account', attempt.email.toLowerCase()),
    client: hashed('client', attempt.clientAddress),
  };
}

export function createLoginThrottle(db: Knex, limits: LoginThrottleLimits): LoginThrottle {
  const window = limits.windowSeconds;
  return {
    async admit(attempt) {
      const keys = keysOf(attempt);
      // One statement for both counts: concurrent attempts on any replica all count.
      const { rows } = await db.raw<{
        rows: Array<{ key: string; failures: number; retry_after: number }>;
      }>(
        `INSERT INTO ${TABLE} AS counted (key, failures, window_started_at)
           VALUES (?, 1, now()), (?, 1, now())
         ON CONFLICT (key) DO UPDATE SET
           failures = CASE WHEN counted.window_started_at > now() - make_interval(secs => ?)
                           THEN counted.failures + 1 ELSE 1 END,
           window_started_at = CASE WHEN counted.window_started_at > now() - make_interval(secs => ?)
                                    THEN counted.window_started_at ELSE now() END
         RETURNING key, failures,
           ceil(extract(epoch FROM window_started_at + make_interval(secs => ?) - now()))::int
             AS retry_after`,
        [keys.account, keys.client, window, window, window],
      );
      await db.raw(
        `DELETE FROM ${TABLE} WHERE key IN (
           SELECT key FROM ${TABLE} WHERE window_started_at < now() - make_interval(secs => ?) LIMIT ?
         )`,
        [window, PRUNE_BATCH],
      );
      let retryAfter = 0;
      for (const row of rows) {
        const limit = row.key === keys.account ? limits.perAccount : limits.perClient;
        if (row.failures > limit) retryAfter = Math.max(retryAfter, row.retry_after, 1);
      }
      return retryAfter;
    },

    async succeeded(attempt) {
      const keys = keysOf(attempt);
      await db(TABLE).where('key', keys.account).delete();
      await db(TABLE)
        .where('key', keys.client)
        .andWhere('failures', '>', 0)
        .decrement('failures', 1);
    },
  };
}
