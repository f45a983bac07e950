import { SUBJECTS } from '@signup-flow/events';
import { captureTraceContext } from '@signup-flow/instrumentation-nats';
import type { Knex } from 'knex';
import { EmailTakenError } from '../domain/errors.js';
import type { UserStore } from '../domain/user-store.js';
import { appendEvent, type OutboxHandOff } from './outbox-repository.js';
import {
  deleteUserById,
  findUserByEmail,
  findUserById,
  insertUser,
  isDuplicateEmail,
} from './users-repository.js';

/**
 * The users table and the outbox, in PostgreSQL. A new user's event is handed off to `handOff`
 * (published at once, after the commit) whenever it can take it; otherwise a relay claims it.
 * Being the user's first event, no earlier one of the same user can be waiting to go first.
 */
export function createUserStore(db: Knex, handOff: OutboxHandOff): UserStore {
  return {
    async addWithEvent(user, event) {
      const leaseSeconds = handOff.leaseSeconds();
      const outboxEvent = {
        eventId: event.id,
        aggregateId: user.id,
        subject: SUBJECTS.userCreated,
        payload: event,
        // Published after the commit (at once, or later by a relay), in this request's trace.
        traceContext: captureTraceContext(),
      };
      const userInsert = insertUser(db, user).toSQL();
      const eventInsert = appendEvent(db, outboxEvent, leaseSeconds).toSQL();
      let written: { id: string; created_at: Date } | undefined;
      try {
        // One statement, so one round trip and atomic by itself: PostgreSQL runs a data-modifying
        // WITH exactly once, and a duplicate email fails the whole statement, event included.
        // A BEGIN/INSERT/INSERT/COMMIT transaction did the same in four.
        const { rows } = await db.raw<{ rows: Array<{ id: string; created_at: Date }> }>(
          `WITH new_user AS (${userInsert.sql}) ${eventInsert.sql}`,
          [...userInsert.bindings, ...eventInsert.bindings],
        );
        written = rows[0];
      } catch (error) {
        if (isDuplicateEmail(error)) {
          throw new EmailTakenError('email already registered', { cause: error });
        }
        throw error;
      }
      if (leaseSeconds !== undefined && written) {
        handOff.publish({ ...outboxEvent, id: written.id, createdAt: written.created_at });
      }
    },
    findById: (id) => findUserById(db, id),
    findByEmail: (email) => findUserByEmail(db, email),
    deleteById: (id) => deleteUserById(db, id),
  };
}
