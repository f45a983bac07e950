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
      try {
        await db.transaction(async (trx) => {
          await insertUser(trx, user);
          await appendEvent(trx, {
            eventId: event.id,
            aggregateId: user.id,
            subject: SUBJECTS.userCreated,
            payload: event,
            // The relay publishes later, in this request's trace.
            traceContext: captureTraceContext(),
          });
        });
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
