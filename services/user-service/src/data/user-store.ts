import { SUBJECTS } from '@signup-flow/events';
import { captureTraceContext } from '@signup-flow/instrumentation-nats';
import type { Knex } from 'knex';
import { EmailTakenError } from '../domain/errors.js';
import type { UserStore } from '../domain/user-store.js';
import { appendEvent } from './outbox-repository.js';
import {
  deleteUserById,
  findUserByEmail,
  findUserById,
  insertUser,
  isDuplicateEmail,
} from './users-repository.js';

/** The users table and the outbox, in PostgreSQL. */
export function createUserStore(db: Knex): UserStore {
  return {
    async addWithEvent(user, event) {
      const userInsert = insertUser(db, user).toSQL();
      const eventInsert = appendEvent(db, {
        eventId: event.id,
        aggregateId: user.id,
        subject: SUBJECTS.userCreated,
        payload: event,
        // The relay publishes later, in this request's trace.
        traceContext: captureTraceContext(),
      }).toSQL();
      try {
        // One statement, so one round trip and atomic by itself: PostgreSQL runs a data-modifying
        // WITH exactly once, and a duplicate email fails the whole statement, event included.
        // A BEGIN/INSERT/INSERT/COMMIT transaction did the same in four.
        await db.raw(`WITH new_user AS (${userInsert.sql}) ${eventInsert.sql}`, [
          ...userInsert.bindings,
          ...eventInsert.bindings,
        ]);
      } catch (error) {
        if (isDuplicateEmail(error)) {
          throw new EmailTakenError('email already registered', { cause: error });
        }
        throw error;
      }
    },
    findById: (id) => findUserById(db, id),
    findByEmail: (email) => findUserByEmail(db, email),
    deleteById: (id) => deleteUserById(db, id),
  };
}
