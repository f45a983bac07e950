import type { Knex } from 'knex';
import { deleteUserById } from '../data/users-repository.js';
import { UserNotFoundError } from './errors.js';

/**
 * Deletes the account. Its UserCreated event stays in the outbox and the stream: it records what
 * happened, and the welcome email it caused has been sent (or is on its way).
 */
export async function deleteUser(db: Knex, id: string): Promise<void> {
  if (!(await deleteUserById(db, id))) throw new UserNotFoundError(`no user ${id}`);
}
