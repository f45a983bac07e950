import { createHash } from 'node:crypto';
import type { Knex } from 'knex';
import type { LoginAttempt, LoginThrottle, LoginThrottleLimits } from '../domain/login-throttle.js';

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
