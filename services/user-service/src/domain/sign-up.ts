import { createUserCreatedEvent, SUBJECTS } from '@signup-flow/events';
import { captureTraceContext } from '@signup-flow/instrumentation-nats';
import type { Knex } from 'knex';
import { v7 as uuidv7 } from 'uuid';
import { appendEvent } from '../data/outbox-repository.js';
import { insertUser, isDuplicateEmail } from '../data/users-repository.js';
import { EmailTakenError } from './errors.js';
import type { PasswordHasher } from './password-hasher.js';
import type { NewUser, User } from './user.js';

export interface SignUpDeps {
  db: Knex;
  hasher: PasswordHasher;
  /** CloudEvents `source` of the events this service writes. */
  eventSource: string;
}

/**
 * Stores the user and its UserCreated event in one transaction, so the event exists exactly when
 * the user does. Publishing is the outbox relay's job; signup never waits for NATS.
 */
export async function signUp(deps: SignUpDeps, request: NewUser): Promise<User> {
  const passwordHash = await deps.hasher.hash(request.password);
  const user: User = {
    id: uuidv7(),
    email: request.email,
    name: request.name,
    createdAt: new Date().toISOString(),
  };
  const event = createUserCreatedEvent({
    source: deps.eventSource,
    data: { userId: user.id, email: user.email, name: user.name, createdAt: user.createdAt },
  });
  try {
    await deps.db.transaction(async (trx) => {
      await insertUser(trx, { ...user, passwordHash });
      await appendEvent(trx, {
        eventId: event.id,
        aggregateId: user.id,
        subject: SUBJECTS.userCreated,
        payload: event,
        traceContext: captureTraceContext(),
      });
    });
  } catch (error) {
    if (isDuplicateEmail(error))
      throw new EmailTakenError('email already registered', { cause: error });
    throw error;
  }
  return user;
}
